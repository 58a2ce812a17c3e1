//! What the library measures, through the [`metrics`](https://docs.rs/metrics) facade: the
//! application installs the recorder (a Prometheus exporter, StatsD, ...) and so picks where
//! the numbers go. Without one, each measurement is an atomic load and nothing else.
//!
//! | name | type | labels | meaning |
//! |---|---|---|---|
//! | [`ATTEMPTS`] | counter | `scope`, `outcome` | requests a link-protected route judged, counted once the response is sent: `spent`, `returned` (spent, then given back by an error response), `preview` (checked without spending) or `refused` |
//! | [`SPENDS`] | counter | | uses the ledger spent |
//! | [`GIVE_BACKS`] | counter | | spent uses given back because the response was an error (status 400 or more) |
//! | [`REFUSALS`] | counter | `scope`, `reason` | refused requests, by the refusal's [`Error::code`](crate::Error::code) |
//! | [`SPEND_SECONDS`] | histogram | | how long the ledger took to answer a spend, seconds |
//! | [`LEDGER_BATCH_SIZE`] | histogram | | what each of the ledger's transactions wrote: spends, settlements, and rows of attempts that spent nothing (refusals, previews) |
//!
//! No label carries text from a request: `scope` is the one in the route's `#[expiring_link]`
//! (never the token's), `outcome` and `reason` come from fixed lists. Labels are made once per
//! scope and kept, so counting allocates nothing per request.

use std::cell::RefCell;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ::metrics::{Key, Label, Level, Metadata, Unit};

use crate::store::Outcome;

/// Counter `linktoken_attempts_total{scope, outcome}`: requests a link-protected route judged.
///
/// ```
/// assert_eq!(rocket_linktoken::metrics::ATTEMPTS, "linktoken_attempts_total");
/// ```
pub const ATTEMPTS: &str = "linktoken_attempts_total";

/// Counter `linktoken_spends_total`: uses the ledger spent.
///
/// ```
/// assert_eq!(rocket_linktoken::metrics::SPENDS, "linktoken_spends_total");
/// ```
pub const SPENDS: &str = "linktoken_spends_total";

/// Counter `linktoken_give_backs_total`: spent uses given back by an error response.
///
/// ```
/// assert_eq!(rocket_linktoken::metrics::GIVE_BACKS, "linktoken_give_backs_total");
/// ```
pub const GIVE_BACKS: &str = "linktoken_give_backs_total";

/// Counter `linktoken_refusals_total{scope, reason}`: refused requests by reason.
///
/// ```
/// assert_eq!(rocket_linktoken::metrics::REFUSALS, "linktoken_refusals_total");
/// ```
pub const REFUSALS: &str = "linktoken_refusals_total";

/// Histogram `linktoken_spend_seconds`: how long the ledger took to answer each spend.
///
/// ```
/// assert_eq!(rocket_linktoken::metrics::SPEND_SECONDS, "linktoken_spend_seconds");
/// ```
pub const SPEND_SECONDS: &str = "linktoken_spend_seconds";

/// Histogram `linktoken_ledger_batch_size`: what each of the ledger's transactions wrote.
///
/// ```
/// assert_eq!(rocket_linktoken::metrics::LEDGER_BATCH_SIZE, "linktoken_ledger_batch_size");
/// ```
pub const LEDGER_BATCH_SIZE: &str = "linktoken_ledger_batch_size";

/// Bucket bounds for [`SPEND_SECONDS`], for exporters that need them (a spend takes tens of
/// microseconds on an idle server, milliseconds under load, up to 3 s while it waits for uses
/// in flight).
///
/// ```
/// let bounds = rocket_linktoken::metrics::SPEND_SECONDS_BUCKETS;
/// assert!(bounds.windows(2).all(|pair| pair[0] < pair[1]));
/// ```
pub const SPEND_SECONDS_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 3.0,
];

/// Bucket bounds for [`LEDGER_BATCH_SIZE`] (a batch holds at most 512 spends and 4096 rows).
///
/// ```
/// let bounds = rocket_linktoken::metrics::LEDGER_BATCH_SIZE_BUCKETS;
/// assert!(bounds.windows(2).all(|pair| pair[0] < pair[1]));
/// ```
pub const LEDGER_BATCH_SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4608.0,
];

/// Gives the installed recorder each metric's unit and meaning (Prometheus' `# HELP`). The
/// fairing calls it at ignite; call it again if the recorder is installed after that.
///
/// ```
/// rocket_linktoken::metrics::describe();
/// ```
pub fn describe() {
    ::metrics::describe_counter!(
        ATTEMPTS,
        Unit::Count,
        "Requests a link-protected route judged, by the route's scope and outcome"
    );
    ::metrics::describe_counter!(SPENDS, Unit::Count, "Uses of links spent");
    ::metrics::describe_counter!(
        GIVE_BACKS,
        Unit::Count,
        "Spent uses given back because the response was an error"
    );
    ::metrics::describe_counter!(
        REFUSALS,
        Unit::Count,
        "Refused link requests, by the route's scope and the refusal's reason"
    );
    ::metrics::describe_histogram!(
        SPEND_SECONDS,
        Unit::Seconds,
        "Time the ledger took to answer a spend"
    );
    ::metrics::describe_histogram!(
        LEDGER_BATCH_SIZE,
        Unit::Count,
        "Spends, settlements and rows written in one ledger transaction"
    );
}

/// The `outcome` label's values, in [`ScopeKeys::attempts`]' order.
const OUTCOMES: [&str; 4] = ["spent", "returned", "preview", "refused"];

/// Every refusal's [`Error::code`](crate::Error::code): the `reason` label's values.
const REASONS: [&str; 23] = [
    "malformed",
    "too_long",
    "invalid_claim",
    "duplicate_token",
    "missing_token",
    "unsupported_algorithm",
    "unknown_key",
    "critical_header",
    "bad_signature",
    "wrong_scope",
    "lifetime_too_long",
    "wrong_target",
    "unknown_user",
    "not_yet_valid",
    "expired",
    "used_up",
    "in_flight",
    "revoked",
    "invalidated",
    "invalid_link",
    "config",
    "user_load",
    "database",
];

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Counts one attempt on a route of `scope` (the route's own, from its attribute).
pub(crate) fn attempt(scope: &'static str, outcome: Outcome) {
    let keys = ScopeKeys::of(scope);
    let index = match outcome {
        Outcome::Spent => 0,
        Outcome::Returned => 1,
        Outcome::Preview => 2,
        Outcome::Refused(_) => 3,
    };
    increment(&keys.attempts[index]);
    match outcome {
        Outcome::Returned => ::metrics::counter!(GIVE_BACKS).increment(1),
        Outcome::Refused(reason) => match REASONS.iter().position(|known| *known == reason) {
            Some(index) => increment(&keys.refusals[index]),
            // A code missing from the list still counts, with labels made for the occasion.
            None => {
                ::metrics::counter!(REFUSALS, "scope" => scope, "reason" => reason).increment(1)
            }
        },
        Outcome::Spent | Outcome::Preview => {}
    }
}

/// Measures one answer of the ledger to a spend, counting the use if it was spent.
pub(crate) fn spend(took: Duration, spent: bool) {
    ::metrics::histogram!(SPEND_SECONDS).record(took.as_secs_f64());
    if spent {
        ::metrics::counter!(SPENDS).increment(1);
    }
}

/// Measures one transaction of the ledger's writer.
pub(crate) fn ledger_batch(size: usize) {
    // Exact up to 2^53, far past any batch.
    #[allow(clippy::cast_precision_loss)]
    ::metrics::histogram!(LEDGER_BATCH_SIZE).record(size as f64);
}

fn increment(key: &Key) {
    ::metrics::with_recorder(|recorder| recorder.register_counter(key, &METADATA).increment(1));
}

/// The keys of one scope's counters, made once per process and scope and never freed: scopes
/// come from the routes' attributes, so there are as many as the application has.
struct ScopeKeys {
    scope: &'static str,
    attempts: [Key; OUTCOMES.len()],
    refusals: [Key; REASONS.len()],
}

impl ScopeKeys {
    /// The keys of `scope`: each thread keeps the ones it used, so finding them takes no lock.
    fn of(scope: &'static str) -> &'static ScopeKeys {
        thread_local! {
            static USED: RefCell<Vec<&'static ScopeKeys>> = const { RefCell::new(Vec::new()) };
        }
        USED.try_with(|used| {
            if let Some(keys) = used.borrow().iter().find(|keys| keys.scope == scope) {
                return *keys;
            }
            let keys = ScopeKeys::made(scope);
            used.borrow_mut().push(keys);
            keys
        })
        .unwrap_or_else(|_| ScopeKeys::made(scope))
    }

    /// The keys of `scope`, made by the first thread that asks.
    fn made(scope: &'static str) -> &'static ScopeKeys {
        static MADE: Mutex<Vec<&'static ScopeKeys>> = Mutex::new(Vec::new());
        let mut made = MADE.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(keys) = made.iter().find(|keys| keys.scope == scope) {
            return keys;
        }
        let label = |name: &'static str, value: &'static str| {
            [
                Label::from_static_parts("scope", scope),
                Label::from_static_parts(name, value),
            ]
        };
        let attempts: &'static [[Label; 2]; OUTCOMES.len()] =
            Box::leak(Box::new(OUTCOMES.map(|outcome| label("outcome", outcome))));
        let refusals: &'static [[Label; 2]; REASONS.len()] =
            Box::leak(Box::new(REASONS.map(|reason| label("reason", reason))));
        let keys: &'static ScopeKeys = Box::leak(Box::new(ScopeKeys {
            scope,
            attempts: std::array::from_fn(|i| Key::from_static_labels(ATTEMPTS, &attempts[i])),
            refusals: std::array::from_fn(|i| Key::from_static_labels(REFUSALS, &refusals[i])),
        }));
        made.push(keys);
        keys
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::Error;

    #[test]
    fn every_refusal_has_its_reason_in_the_list() {
        let every = [
            Error::Malformed,
            Error::TooLong,
            Error::InvalidClaim("exp"),
            Error::DuplicateToken,
            Error::MissingToken,
            Error::UnsupportedAlgorithm,
            Error::UnknownKey,
            Error::CriticalHeader,
            Error::BadSignature,
            Error::WrongScope,
            Error::LifetimeTooLong,
            Error::WrongTarget,
            Error::UnknownUser,
            Error::NotYetValid,
            Error::Expired,
            Error::UsedUp,
            Error::InFlight,
            Error::Revoked,
            Error::Invalidated,
            Error::InvalidLink(String::new()),
            Error::Config(String::new()),
            Error::UserLoad(Arc::new(std::fmt::Error)),
            Error::Database(Arc::new(rocket_db_pools::sqlx::Error::PoolClosed)),
        ];
        let codes: Vec<&str> = every.iter().map(Error::code).collect();
        assert_eq!(codes, REASONS);
    }

    #[test]
    fn a_scope_has_one_set_of_keys_for_every_thread() {
        let here = ScopeKeys::of("metrics-test");
        let there = std::thread::spawn(|| ScopeKeys::of("metrics-test"))
            .join()
            .unwrap();
        assert!(std::ptr::eq(here, there));
        assert!(std::ptr::eq(ScopeKeys::of("metrics-test"), here));
        assert!(!std::ptr::eq(ScopeKeys::of("metrics-other"), here));
        let labels: Vec<(&str, &str)> = here.refusals[8]
            .labels()
            .map(|l| (l.key(), l.value()))
            .collect();
        assert_eq!(
            labels,
            [("scope", "metrics-test"), ("reason", "bad_signature")]
        );
    }
}
