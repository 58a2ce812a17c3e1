//! The `#[expiring_link]` attribute of [rocket-linktoken].
//!
//! Depend on `rocket-linktoken` rather than on this crate: it re-exports the attribute
//! together with the `TokenUser` guard and the runtime support the expansion relies on,
//! and keeps the two crates' versions in step.
//!
//! Put `#[expiring_link]` above a Rocket route attribute. The route must take one
//! `TokenUser<YourUser>` parameter; the attribute binds that guard to a policy (the
//! link's scope, how often it may be used, whether this route only previews it), which
//! the guard in `rocket-linktoken` enforces. It leaves the guard as written, so that
//! Rocket's log names it so: the signature Rocket reads goes into a module of its own, where
//! `TokenUser` is bound to the route's policy and the rest is the handler's module; the body
//! stays where it was written. So the types the signature names must be nameable from the
//! handler's module, not local to a function body.
//!
//! ```ignore
//! use rocket::{get, post};
//! use rocket_linktoken::{expiring_link, TokenUser};
//!
//! // Spends the link: it works once.
//! #[expiring_link(scope = "unsubscribe", max_uses = 1)]
//! #[post("/unsubscribe/<list>")]
//! async fn unsubscribe(list: i64, user: TokenUser<Subscriber>) -> &'static str {
//!     "You are unsubscribed."
//! }
//!
//! // Checks the same link without spending it, e.g. for a confirmation page.
//! #[expiring_link(scope = "unsubscribe", preview)]
//! #[get("/unsubscribe/<list>")]
//! async fn confirm_page(list: i64, user: TokenUser<Subscriber>) -> &'static str {
//!     "Press the button to unsubscribe."
//! }
//! ```
//!
//! Arguments, in any order:
//!
//! - `scope = "..."` (required): ASCII letters, digits and `_ - . : /`.
//! - `max_uses = N` (optional): how many times the link may be used, at least 1.
//! - `preview` (optional): check the link without spending it; excludes `max_uses`.
//!
//! [rocket-linktoken]: https://docs.rs/rocket-linktoken

mod args;
mod errors;
mod expand;
#[cfg(test)]
mod fuzzing;
mod handler;
mod scope;

use proc_macro::TokenStream;

/// Binds a Rocket route's `TokenUser` guard to a link scope and use policy.
///
/// Place it above the route attribute; see the [crate documentation](crate) for the
/// arguments and an example.
#[proc_macro_attribute]
pub fn expiring_link(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expiring_link(args.into(), item.into()).into()
}
