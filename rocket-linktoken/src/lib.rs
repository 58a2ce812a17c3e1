#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

#[cfg(feature = "admin")]
pub mod admin;
mod catcher;
mod claims;
mod config;
mod context;
mod error;
mod fairing;
#[cfg(test)]
mod fuzzing;
mod guard;
mod header;
mod json;
mod keys;
mod link;
pub mod metrics;
mod redact;
mod route;
mod scope;
mod store;
mod target;
#[cfg(any(feature = "tera", feature = "handlebars", feature = "minijinja"))]
pub mod templates;
mod unsubscribe;
mod verify;

pub use claims::{Claims, MAX_JTI_LEN};
pub use config::Config;
pub use context::refusal;
pub use error::Error;
pub use fairing::{fairing, LinkTokens};
pub use guard::{BoxError, LinkUser, NoPolicy, TokenUser};
pub use keys::{KeyRing, MIN_SECRET_LEN};
pub use link::{Issuer, Link, LinkSpec};
pub use redact::RedactingLogger;
pub use store::{DailyBy, DailyCount, LinkFilter, LinkSummary, UserRevocation};
pub use store::{Ledger, LedgerPool, ReportBy, ReportFilter, ReportRow, TokenRecord, UseRecord};
pub use unsubscribe::UnsubscribeHeaders;
pub use verify::{Expected, Verifier, MAX_TOKEN_LEN};

/// Protects a route with a link: `#[expiring_link(scope = "...", max_uses = N)]` or
/// `#[expiring_link(scope = "...", preview)]`, placed above Rocket's route attribute on a
/// handler that takes a [`TokenUser`].
///
/// `scope` is required (ASCII letters, digits and `_ - . : /`); `max_uses` defaults to the
/// configured `default_max_uses`; `preview` checks the link without spending it and takes no
/// `max_uses`. Mistakes are compile errors on the offending token.
///
/// ```
/// # use rocket::Request;
/// # use rocket_linktoken::{BoxError, LinkUser};
/// # struct Subscriber;
/// # #[rocket::async_trait]
/// # impl LinkUser for Subscriber {
/// #     async fn load(_: &str, _: &Request<'_>) -> Result<Option<Self>, BoxError> { Ok(Some(Subscriber)) }
/// # }
/// use rocket::{get, post, routes};
/// use rocket_linktoken::{expiring_link, TokenUser};
///
/// #[expiring_link(scope = "confirm", preview)]
/// #[get("/confirm/<order>")]
/// fn ask(order: u32, user: TokenUser<Subscriber>) -> String {
///     format!("Confirm order {order}? <form method=post action={}>", user.url())
/// }
///
/// #[expiring_link(scope = "confirm", max_uses = 1)]
/// #[post("/confirm/<order>")]
/// fn confirm(order: u32, user: TokenUser<Subscriber>) -> String {
///     format!("Order {order} confirmed, use {:?}", user.uses())
/// }
///
/// # fn main() {
/// let _routes = routes![ask, confirm];
/// # }
/// ```
pub use rocket_linktoken_macros::expiring_link;

/// Support for the code `#[expiring_link]` generates. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::guard::Policy;
    pub use crate::route::{route_spec, LinkRoute};
    pub use rocket;
}
