//! What one request carries from the fairing to the guards and back: the token lifted from its
//! URL, the request as its rows record it, and every guard's verdict, settled once the response
//! status is known.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use rocket::http::{Method, Status};
use rocket::Request;

use crate::claims::LinkIds;
use crate::store::{Outcome, Record, RequestMeta, Spent, USER_AGENT_MAX};
use crate::target::TokenParam;
use crate::{metrics, Error, Ledger};

/// What the fairing learned of a request before routing, and what guards did with it.
pub(crate) struct LinkContext {
    token: TokenParam,
    /// The method as sent: Rocket retries `HEAD` as `GET` before guards run.
    method: Method,
    /// The request's target without the token: what the token's `aud` is compared with.
    target: String,
    /// The request as its rows record it, made once a token's signature holds: a forged
    /// token costs no copies of the request.
    meta: OnceLock<Arc<RequestMeta>>,
    verdicts: Mutex<Vec<Verdict>>,
}

/// One guard's verdict on the request's token.
pub(crate) struct Verdict {
    /// The scope of the guard's route, from its attribute: what the verdict is counted under.
    route: &'static str,
    /// What the token names of its link, once the signature held: a verdict without it is
    /// never recorded.
    link: Option<LinkIds>,
    /// The use spent (none for a preview or HEAD), or the refusal.
    result: Result<Option<Spent>, Error>,
    at: i64,
}

impl Verdict {
    /// A refusal before the signature held: nothing about the token is believed.
    pub(crate) fn unsigned(route: &'static str, error: Error, at: i64) -> Verdict {
        Verdict {
            route,
            link: None,
            result: Err(error),
            at,
        }
    }

    /// The verdict on a genuine token (its signature held, whether or not its claims did).
    pub(crate) fn signed(
        route: &'static str,
        link: LinkIds,
        result: Result<Option<Spent>, Error>,
        at: i64,
    ) -> Verdict {
        Verdict {
            route,
            link: Some(link),
            result,
            at,
        }
    }
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
    request
        .local_cache(|| None::<LinkContext>)
        .as_ref()?
        .refusal()
}

impl LinkContext {
    pub(crate) fn new(token: TokenParam, method: Method, target: String) -> LinkContext {
        LinkContext {
            token,
            method,
            target,
            meta: OnceLock::new(),
            verdicts: Mutex::new(Vec::new()),
        }
    }

    /// The context of a request that carries no token: the fairing keeps none for it.
    pub(crate) fn without_token(method: Method) -> LinkContext {
        LinkContext::new(TokenParam::Absent, method, String::new())
    }

    pub(crate) fn token(&self) -> &TokenParam {
        &self.token
    }

    /// The method on the wire (`HEAD` stays `HEAD`).
    pub(crate) fn method(&self) -> Method {
        self.method
    }

    /// The request's target without the token.
    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    /// The request as its rows record it.
    pub(crate) fn meta(
        &self,
        request: &Request<'_>,
        client_ip_header: Option<&str>,
    ) -> &Arc<RequestMeta> {
        self.meta.get_or_init(|| {
            Arc::new(RequestMeta {
                method: self.method.as_str().to_owned(),
                path: self.target.clone(),
                client_ip: client_ip(request, client_ip_header),
                user_agent: request
                    .headers()
                    .get_one("User-Agent")
                    .map(|ua| ua.chars().take(USER_AGENT_MAX).collect()),
            })
        })
    }

    /// A poisoned lock only means a guard panicked while holding it: the verdicts written
    /// before are still true, and the settlement must not be skipped.
    fn verdicts(&self) -> MutexGuard<'_, Vec<Verdict>> {
        self.verdicts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps a guard's verdict for the settlement.
    pub(crate) fn push(&self, verdict: Verdict) {
        self.verdicts().push(verdict);
    }

    /// The use an earlier route of this request spent of link `jti`, if any.
    pub(crate) fn spent(&self, jti: &str) -> Option<Spent> {
        self.verdicts()
            .iter()
            .find_map(|v| match (&v.link, &v.result) {
                (Some(link), Ok(Some(spent))) if link.jti == jti => Some(*spent),
                _ => None,
            })
    }

    /// The latest refusal of this request.
    pub(crate) fn refusal(&self) -> Option<Error> {
        self.verdicts()
            .iter()
            .rev()
            .find_map(|v| v.result.as_ref().err().cloned())
    }

    /// Counts every verdict, and hands every verdict on a genuine token to the ledger's writer
    /// with the response status: a spent use is settled (given back if the status is an
    /// error), anything else gets its row. The response does not wait for either.
    pub(crate) fn settle(&self, ledger: &Ledger, status: Status) {
        let verdicts = std::mem::take(&mut *self.verdicts());
        for verdict in verdicts {
            let outcome = match &verdict.result {
                Ok(Some(_)) => Outcome::settled(status),
                Ok(None) => Outcome::Preview,
                Err(e) => Outcome::from(e),
            };
            metrics::attempt(verdict.route, outcome);
            // A verdict on a genuine token was given after the guard made the request's meta.
            let (Some(link), Some(meta)) = (verdict.link, self.meta.get()) else {
                continue;
            };
            if let Ok(Some(spent)) = verdict.result {
                ledger.settle(&link.jti, spent, status);
                continue;
            }
            ledger.record(Record {
                jti: link.jti,
                sub: link.sub,
                scope: link.scope,
                meta: Arc::clone(meta),
                status: status.code,
                outcome,
                at: verdict.at,
            });
        }
    }
}

/// The client's address: the socket peer, unless the operator named a header that a trusted
/// proxy sets. A header anybody can send is never believed by default.
fn client_ip(request: &Request<'_>, header: Option<&str>) -> Option<String> {
    if let Some(name) = header {
        // With X-Forwarded-For, the proxy appends the address it saw: the last entry.
        let forwarded = request.headers().get(name).last();
        if let Some(ip) = forwarded.and_then(|v| v.rsplit(',').next()).map(str::trim) {
            if ip.parse::<std::net::IpAddr>().is_ok() {
                return Some(ip.to_string());
            }
        }
    }
    request.remote().map(|addr| addr.ip().to_string())
}
