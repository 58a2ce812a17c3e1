//! What the fairing and the guards share: the configured parts at ignite, and per request the
//! token lifted from the URL and every guard's verdict, settled once the response is known.

use std::sync::Mutex;

use rocket::http::Method;
use rocket::Request;

use crate::config::Config;
use crate::store::{outcome, RequestMeta, Spent};
use crate::target::TokenParam;
use crate::{Claims, Error, Ledger, Verifier};

/// The configured parts, managed by the fairing at ignite.
pub(crate) struct Runtime {
    pub(crate) config: Config,
    pub(crate) verifier: Verifier,
    pub(crate) ledger: Ledger,
}

/// What the fairing learned of a request before routing, and what guards did with it.
pub(crate) struct LinkContext {
    pub(crate) token: TokenParam,
    /// The method as sent: Rocket retries `HEAD` as `GET` before guards run.
    pub(crate) method: Method,
    pub(crate) meta: RequestMeta,
    pub(crate) attempts: Mutex<Vec<Attempt>>,
    pub(crate) refusal: Mutex<Option<Error>>,
}

/// One guard's verdict on a genuine token, settled by the fairing once the status is known.
pub(crate) struct Attempt {
    pub(crate) claims: Claims,
    pub(crate) result: Result<Option<Spent>, Error>,
    pub(crate) at: i64,
}

/// The refusal a link-protected route answered with, if any: for an application's own
/// catchers, which replace the library's pages.
///
/// ```
/// use rocket::{catch, Request};
///
/// #[catch(410)]
/// fn gone(request: &Request<'_>) -> String {
///     match rocket_linktoken::refusal(request) {
///         Some(error) => format!("Sorry: {error}"),
///         None => "Gone.".into(),
///     }
/// }
/// ```
pub fn refusal(request: &Request<'_>) -> Option<Error> {
    let context = request.local_cache(|| None::<LinkContext>).as_ref()?;
    context.refusal.lock().ok()?.clone()
}

impl LinkContext {
    /// Keeps a guard's verdict for the fairing to settle.
    pub(crate) fn push(&self, attempt: Attempt) {
        if let Ok(mut attempts) = self.attempts.lock() {
            attempts.push(attempt);
        }
    }

    /// The use this request already spent of link `jti`, if any.
    pub(crate) fn spent(&self, jti: &str) -> Option<Spent> {
        let attempts = self.attempts.lock().ok()?;
        attempts
            .iter()
            .find(|a| a.claims.jti == jti)
            .and_then(|a| a.result.as_ref().ok().copied().flatten())
    }
}

impl Attempt {
    /// The `outcome` column for this attempt, when it spent nothing.
    pub(crate) fn unspent_outcome(&self) -> &'static str {
        match &self.result {
            Ok(_) => outcome::PREVIEW,
            Err(e) => e.code(),
        }
    }
}
