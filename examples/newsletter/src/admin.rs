//! The library's admin pages at `/admin`, for whoever knows the admin password: HTTP Basic
//! authentication (any user name) against `admin_password` in the configuration.
//!
//! `Rocket.toml` has a development password under the debug profile only. A release build
//! without `admin_password` (e.g. `ROCKET_ADMIN_PASSWORD=...`) mounts no admin pages, and says
//! so in its log as it starts.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::http::{Header, Status};
use rocket::request::{self, FromRequest};
use rocket::{catch, catchers, Build, Request, Responder, Rocket};
use sha2::{Digest, Sha256};

/// The configured admin password, if any: the pages are mounted only with one.
pub struct AdminPassword(Option<String>);

impl AdminPassword {
    /// Whether there is a password, so the admin pages are mounted.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }
}

/// Someone who sent the admin password. Without it, or with a wrong one, the request is
/// answered `401` with a Basic challenge, so a browser asks for the password.
pub struct Admin;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Admin {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Admin, ()> {
        let Some(AdminPassword(Some(expected))) = request.rocket().state::<AdminPassword>() else {
            return request::Outcome::Error((Status::NotFound, ()));
        };
        let sent = request
            .headers()
            .get_one("Authorization")
            .and_then(|value| value.split_once(' '))
            // The scheme's name is case-insensitive (RFC 9110, section 11.1).
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .and_then(|(_, encoded)| STANDARD.decode(encoded.trim()).ok())
            .and_then(|decoded| String::from_utf8(decoded).ok());
        let password = sent
            .as_deref()
            .and_then(|credentials| credentials.split_once(':'))
            .map(|(_, password)| password);
        match password {
            Some(password) if same(password.as_bytes(), expected.as_bytes()) => {
                request::Outcome::Success(Admin)
            }
            _ => request::Outcome::Error((Status::Unauthorized, ())),
        }
    }
}

/// Compares the two passwords' SHA-256 digests, every byte whatever the first difference, so
/// the time taken says neither how much of a guess was right nor how long the password is.
fn same(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter().zip(&b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// The challenge that makes a browser ask for the password.
#[derive(Responder)]
#[response(status = 401)]
struct Challenge(&'static str, Header<'static>);

#[catch(401)]
fn unauthorized() -> Challenge {
    Challenge(
        "The admin pages need the admin password.",
        Header::new(
            "WWW-Authenticate",
            "Basic realm=\"newsletter admin\", charset=\"UTF-8\"",
        ),
    )
}

/// Mounts the admin pages at `/admin` if `admin_password` is configured; otherwise leaves
/// them out, and logs why at ignite.
pub(crate) fn mount(rocket: Rocket<Build>, figment: &Figment) -> Rocket<Build> {
    match figment.extract_inner::<String>("admin_password") {
        Ok(password) if !password.is_empty() => rocket
            .manage(AdminPassword(Some(password)))
            .mount("/admin", rocket_linktoken::admin::routes::<Admin>())
            .register("/admin", catchers![unauthorized]),
        _ => rocket.manage(AdminPassword(None)).attach(AdHoc::on_ignite(
            "admin pages",
            |rocket| async {
                rocket::warn!(
                    "newsletter: /admin is not mounted: no `admin_password` is configured \
                     (set ROCKET_ADMIN_PASSWORD to mount it)"
                );
                rocket
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn passwords_match_only_whole() {
        assert!(same(b"secret", b"secret"));
        assert!(!same(b"secret", b"secreT"));
        assert!(!same(b"secret", b"secret!"));
        assert!(!same(b"", b"x"));
    }
}
