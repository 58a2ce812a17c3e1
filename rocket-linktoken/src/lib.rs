#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod catcher;
mod claims;
mod config;
mod error;
mod fairing;
mod guard;
mod keys;
mod link;
mod runtime;
mod store;
mod target;
#[cfg(feature = "tera")]
pub mod templates;
mod verify;

pub use claims::{Claims, MAX_JTI_LEN};
pub use config::Config;
pub use error::Error;
pub use fairing::{fairing, LinkTokens};
pub use guard::{BoxError, LinkUser, NoPolicy, TokenUser};
pub use keys::{KeyRing, MIN_SECRET_LEN};
pub use link::{Issuer, Link, LinkSpec};
pub use runtime::refusal;
pub use store::{Ledger, LedgerPool, TokenRecord, UseRecord};
pub use verify::{Expected, Verifier, MAX_TOKEN_LEN};

/// Protects a route with a link: `#[expiring_link(scope = "...", max_uses = N)]` or
/// `#[expiring_link(scope = "...", preview)]`, placed above Rocket's route attribute on a
/// handler that takes a [`TokenUser`].
pub use rocket_linktoken_macros::expiring_link;

/// Support for the code `#[expiring_link]` generates. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::guard::Policy;
}
