#![deny(warnings)]

use rocket::{get, post, Request};
use rocket_linktoken::{expiring_link, BoxError, LinkUser, TokenUser};

pub struct Member;

#[rocket::async_trait]
impl LinkUser for Member {
    async fn load(_: &str, _: &Request<'_>) -> Result<Option<Self>, BoxError> {
        Ok(Some(Member))
    }
}

#[expiring_link(scope = "unsubscribe", max_uses = 1)]
#[post("/unsubscribe/<handler>")]
async fn unsubscribe(handler: i64, user: TokenUser<Member>) -> String {
    format!("{handler} {}", user.claims().sub())
}

#[expiring_link(scope = "unsubscribe", preview)]
#[get("/unsubscribe/<list>")]
fn confirm(list: i64, user: rocket_linktoken::TokenUser<Member>) -> String {
    format!("{list} {}", user.url())
}

#[expiring_link(max_uses = 5, scope = "preferences:v2")]
#[rocket::get("/preferences")]
pub fn preferences(_user: TokenUser<Member>) {}

/// Its own copy of `n`, changed in the body.
#[expiring_link(scope = "count")]
#[get("/count/<n>")]
fn count(mut n: i64, _user: TokenUser<Member>) -> String {
    n += 1;
    n.to_string()
}

mod account {
    use super::*;

    /// Mounted from the crate root, as its visibility says.
    #[expiring_link(scope = "account")]
    #[get("/account")]
    pub(super) fn account(_user: TokenUser<Member>) -> &'static str {
        greeting()
    }

    /// Names `super`, which a module of the attribute's own would change: it keeps it.
    #[expiring_link(scope = "account")]
    #[get("/account/lists")]
    pub(crate) fn lists(_user: TokenUser<super::Member>) -> &'static str {
        greeting()
    }

    fn greeting() -> &'static str {
        "hello"
    }
}

fn main() {
    /// Declared in a function: its module sees the items of the function's module.
    #[expiring_link(scope = "local")]
    #[get("/local")]
    fn local(_user: TokenUser<Member>) {}

    let _ = rocket::build().mount(
        "/",
        rocket::routes![
            unsubscribe,
            confirm,
            preferences,
            account::account,
            account::lists,
            count,
            local
        ],
    );
    let _ = rocket::uri!(account::account);
}
