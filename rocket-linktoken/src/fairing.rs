//! The fairing: configuration and tables at ignite, the token lifted out of the URL before
//! routing, and every use settled with its response status.

use std::marker::PhantomData;

use rocket::config::LogLevel;
use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::http::uri::Origin;
use rocket::http::{Header, Method};
use rocket::{Build, Data, Orbit, Request, Response, Rocket};
use rocket_db_pools::Database;

use crate::config::Config;
use crate::context::LinkContext;
use crate::store::LedgerPool;
use crate::target::{lift, TokenParam};
use crate::{catcher, redact, Error, Issuer, Ledger, Verifier};

/// The configured parts, managed by the fairing at ignite for the guards and itself.
pub(crate) struct Configured {
    pub(crate) config: Config,
    pub(crate) verifier: Verifier,
    pub(crate) ledger: Ledger,
}

/// The rocket-linktoken fairing for the application's database `D`.
///
/// Attach it after `D::init()`. At ignite it reads `[linktoken]` (refusing to launch, naming
/// the setting, when there is no usable secret), creates the ledger tables in `D`, registers
/// the refusal pages for 400/403/410 unless the application has its own catchers there, and
/// manages [`Issuer`](crate::Issuer) and [`Ledger`]. On each request it lifts the token out of
/// the URL (so Rocket's request log never shows it), and on each response it records the
/// status of every use, counts every attempt (see [`metrics`](crate::metrics)), and adds
/// `Referrer-Policy: no-referrer` and `Cache-Control: no-store` to responses to requests that
/// carried a token.
///
/// ```no_run
/// use rocket_db_pools::{sqlx, Database};
///
/// #[derive(Database)]
/// #[database("newsletter")]
/// struct Db(sqlx::SqlitePool);
///
/// #[rocket::launch]
/// fn rocket() -> _ {
///     rocket::build()
///         .attach(Db::init())
///         .attach(rocket_linktoken::fairing::<Db>())
/// }
/// ```
pub fn fairing<D>() -> LinkTokens<D>
where
    D: Database,
    D::Pool: LedgerPool,
{
    LinkTokens {
        database: PhantomData,
    }
}

/// The fairing returned by [`fairing()`]; see there.
pub struct LinkTokens<D> {
    database: PhantomData<fn() -> D>,
}

#[rocket::async_trait]
impl<D> Fairing for LinkTokens<D>
where
    D: Database,
    D::Pool: LedgerPool,
{
    fn info(&self) -> Info {
        Info {
            name: "rocket-linktoken",
            kind: Kind::Ignite | Kind::Request | Kind::Response | Kind::Shutdown,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        let debug = rocket
            .figment()
            .extract_inner::<LogLevel>("log_level")
            .is_ok_and(|l| l == LogLevel::Debug);
        if debug && !redact::installed() {
            // Rocket logs each raw request at this level before any fairing can lift the token.
            rocket::warn!(
                "rocket-linktoken: log_level is `debug`, so Rocket logs link tokens whole"
            );
            rocket::warn_!(
                "install `rocket_linktoken::RedactingLogger` before building Rocket, \
                 or serve real links at `normal` or `critical`"
            );
        }
        // The application installs its recorder before building Rocket, if it has one.
        crate::metrics::describe();
        match ignite::<D>(&rocket).await {
            Ok((configured, issuer)) => {
                let ledger = configured.ledger.clone();
                Ok(catcher::register_missing(rocket)
                    .manage(issuer)
                    .manage(ledger)
                    .manage(configured))
            }
            Err(e) => {
                rocket::error!("{e}");
                Err(rocket)
            }
        }
    }

    async fn on_request(&self, request: &mut Request<'_>, data: &mut Data<'_>) {
        // Most requests carry no query, so no token: they get no context, and cost nothing.
        let Some(query) = request.uri().query() else {
            return;
        };
        let Some(configured) = request.rocket().state::<Configured>() else {
            return;
        };
        let path = request.uri().path();
        let (token, target) = lift(
            path.as_str(),
            Some(query.as_str()),
            configured.config.query_param(),
        );
        if token == TokenParam::Absent {
            return;
        }
        // Routing and Rocket's request log see the URL without the token from here on.
        request.set_uri(without_token(&target));
        let method = method_on_the_wire(request, data).await;
        request.local_cache(|| Some(LinkContext::new(token, method, target)));
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let Some(context) = request.local_cache(|| None::<LinkContext>) else {
            return;
        };
        // A request without a token has a context only if a guard refused it: that refusal
        // is counted, and the response is left as it is.
        if *context.token() != TokenParam::Absent {
            with_link_headers(context, response);
        }
        if let Some(configured) = request.rocket().state::<Configured>() {
            context.settle(&configured.ledger, response.status());
        }
    }

    async fn on_shutdown(&self, rocket: &Rocket<Orbit>) {
        let Some(configured) = rocket.state::<Configured>() else {
            return;
        };
        // Every response has been sent: write what they settled before the process ends.
        for attempt in 1..=SHUTDOWN_FLUSHES {
            if configured.ledger.flush().await {
                return;
            }
            rocket::tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
        }
        rocket::error!(
            "rocket-linktoken: the ledger could not write every settlement before shutdown"
        );
    }
}

/// The headers of every response to a request that carried a token, and the refusal's
/// `Retry-After`.
fn with_link_headers(context: &LinkContext, response: &mut Response<'_>) {
    response.set_header(Header::new("Referrer-Policy", "no-referrer"));
    response.set_header(Header::new("Cache-Control", "no-store"));
    // Only when the response is the refusal: a route that took over after it answers for
    // itself.
    if let Some(refusal) = context.refusal() {
        if let Some(seconds) = refusal.retry_after() {
            if response.status() == refusal.status() && !response.headers().contains("Retry-After")
            {
                response.set_header(Header::new("Retry-After", seconds.to_string()));
            }
        }
    }
}

/// Tries to write the last settlements at shutdown, a little further apart each time.
const SHUTDOWN_FLUSHES: u64 = 5;

async fn ignite<D>(rocket: &Rocket<Build>) -> Result<(Configured, Issuer), Error>
where
    D: Database,
    D::Pool: LedgerPool,
{
    let config = Config::from_figment(rocket.figment())?;
    let Some(database) = D::fetch(rocket) else {
        return Err(Error::Config(format!(
            "the database `{}` is not attached: attach `{}::init()` before the rocket-linktoken fairing",
            D::NAME,
            std::any::type_name::<D>(),
        )));
    };
    let ledger = database.ledger().with_skew(config.leeway());
    ledger.migrate().await?;
    let verifier = config.verifier()?;
    let issuer = config.issuer()?;
    Ok((
        Configured {
            config,
            verifier,
            ledger,
        },
        issuer,
    ))
}

/// The method the client sent. Before any fairing runs, Rocket reads a leading `_method` field
/// of a POSTed form as the request's method (HTML forms only GET and POST); the row records
/// the POST, and a HEAD's preview is for a real HEAD only.
async fn method_on_the_wire(request: &Request<'_>, data: &mut Data<'_>) -> Method {
    let method = request.method();
    if method == Method::Post || !request.content_type().is_some_and(|ct| ct.is_form()) {
        return method;
    }
    let peeked = data.peek("_method=delete".len()).await;
    let overridden = std::str::from_utf8(peeked)
        .ok()
        .and_then(|form| rocket::form::Form::values(form).next())
        .is_some_and(|field| field.name == "_method" && field.value.parse() == Ok(method));
    if overridden {
        Method::Post
    } else {
        method
    }
}

/// The request's URI without the token, for routing and Rocket's log. A URI the server took
/// off the wire may not parse again (raw non-ASCII bytes in it): such bytes are
/// percent-encoded, and if even that fails, only the path is kept. The token never stays.
fn without_token(rest: &str) -> Origin<'static> {
    Origin::parse_owned(rest.to_owned())
        .or_else(|_| Origin::parse_owned(percent_encode_raw(rest)))
        .or_else(|_| {
            let path = rest.split('?').next().unwrap_or("/");
            Origin::parse_owned(percent_encode_raw(path))
        })
        .unwrap_or(Origin::ROOT)
}

/// Percent-encodes every byte that may not stand raw in a URI.
fn percent_encode_raw(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_graphic()
            && !matches!(
                byte,
                b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
            )
        {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uri_that_does_not_parse_again_loses_the_token_all_the_same() {
        assert_eq!(
            without_token("/preferences?a=1").to_string(),
            "/preferences?a=1"
        );
        assert_eq!(
            without_token("/preferences?utm=\u{e9}&x=1").to_string(),
            "/preferences?utm=%C3%A9&x=1"
        );
        assert_eq!(without_token("/caf\u{e9}").to_string(), "/caf%C3%A9");
    }
}
