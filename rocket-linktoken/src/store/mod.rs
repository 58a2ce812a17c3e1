//! The ledger: use counts, revocations and the audit log, in the application's database.
//!
//! One file per SQL dialect; this file only dispatches. Every backend keeps the same promise:
//! a use is spent by one atomic step that also writes its audit row, so a spent use always has
//! its row even if the process dies right after.

use chrono::{DateTime, Utc};
use rocket::http::Status;

use crate::{Claims, Error};

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("rocket-linktoken needs a database: enable the `sqlite` or `postgres` feature");

/// A connection pool the ledger can live in: the `Pool` of the application's
/// `#[derive(Database)]` type. Implemented for `sqlx::SqlitePool` (feature `sqlite`) and
/// `sqlx::PgPool` (feature `postgres`).
pub trait LedgerPool: sealed::Sealed {
    #[doc(hidden)]
    fn ledger(&self) -> Ledger;
}

mod sealed {
    pub trait Sealed {}
}

#[derive(Debug, Clone)]
enum Backend {
    #[cfg(feature = "sqlite")]
    Sqlite(rocket_db_pools::sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(rocket_db_pools::sqlx::PgPool),
}

#[cfg(feature = "sqlite")]
impl sealed::Sealed for rocket_db_pools::sqlx::SqlitePool {}

#[cfg(feature = "sqlite")]
impl LedgerPool for rocket_db_pools::sqlx::SqlitePool {
    fn ledger(&self) -> Ledger {
        Ledger {
            backend: Backend::Sqlite(self.clone()),
            skew: 0,
        }
    }
}

#[cfg(feature = "postgres")]
impl sealed::Sealed for rocket_db_pools::sqlx::PgPool {}

#[cfg(feature = "postgres")]
impl LedgerPool for rocket_db_pools::sqlx::PgPool {
    fn ledger(&self) -> Ledger {
        Ledger {
            backend: Backend::Postgres(self.clone()),
            skew: 0,
        }
    }
}

/// Runs the same function of whichever backend module this ledger uses.
macro_rules! dispatch {
    ($self:ident . $function:ident ( $($arg:expr),* )) => {
        match &$self.backend {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(pool) => sqlite::$function(pool, $($arg),*).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => postgres::$function(pool, $($arg),*).await,
        }
    };
}

/// The request a use is recorded for.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestMeta {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) client_ip: Option<String>,
    pub(crate) user_agent: Option<String>,
}

/// A use spent and not yet settled by its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spent {
    pub(crate) use_id: i64,
    pub(crate) uses: i64,
}

/// What the ledger says of a link, read without changing it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LinkState {
    /// Revoked by id, or by a revocation of its user.
    pub(crate) revoked: bool,
    /// Every use its last cap allowed is spent.
    pub(crate) used_up: bool,
}

/// How one attempt with a genuine token ended, as written to `linktoken_uses.outcome`.
pub(crate) mod outcome {
    /// A use was spent and the response succeeded.
    pub(crate) const SPENT: &str = "spent";
    /// A use was spent, then given back because the response was an error.
    pub(crate) const RETURNED: &str = "returned";
    /// Validated without spending: a preview route, or a HEAD request.
    pub(crate) const PREVIEW: &str = "preview";
}

/// The link ledger in the application's database: use counts, revocations, the audit log.
///
/// Available as managed state (`&State<Ledger>`) once the fairing has ignited.
///
/// ```no_run
/// use chrono::Utc;
/// use rocket::State;
/// use rocket_linktoken::Ledger;
///
/// #[rocket::post("/account/sign-out-everywhere/<user>")]
/// async fn revoke_all(user: &str, ledger: &State<Ledger>) -> Result<&'static str, rocket_linktoken::Error> {
///     ledger.revoke_user(user, None, Utc::now()).await?;
///     Ok("every link sent to you so far is now dead")
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Ledger {
    backend: Backend,
    /// Clock skew tolerated between the server that issued a link and the one that revoked
    /// its user: a revocation covers links whose `iat` is up to this much after it.
    skew: i64,
}

/// One row of `linktoken_tokens`: a link that has been used or revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The link id.
    pub jti: String,
    /// The recipient (absent when the link was revoked by id before any use).
    pub sub: Option<String>,
    /// The link's scope.
    pub scope: Option<String>,
    /// The link's target.
    pub aud: Option<String>,
    /// The cap on uses that applied at the last use.
    pub max_uses: Option<i64>,
    /// Uses spent and kept.
    pub uses: i64,
    /// First use.
    pub first_used_at: Option<DateTime<Utc>>,
    /// Latest use.
    pub last_used_at: Option<DateTime<Utc>>,
    /// The link's expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One row of `linktoken_uses`: an attempt with a genuine token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseRecord {
    /// Row id, in order of arrival.
    pub id: i64,
    /// The link id.
    pub jti: String,
    /// The recipient.
    pub sub: String,
    /// The link's scope.
    pub scope: String,
    /// The request method as the client sent it (`HEAD` stays `HEAD`).
    pub method: String,
    /// The request target without the token.
    pub path: String,
    /// The client address (the socket's, or the trusted proxy header's).
    pub client_ip: Option<String>,
    /// The user agent, truncated.
    pub user_agent: Option<String>,
    /// The HTTP status sent; `None` if the process stopped before responding.
    pub status: Option<u16>,
    /// `spent`, `returned`, `preview`, or the refusal's [`Error::code`].
    pub outcome: String,
    /// When the attempt arrived.
    pub used_at: DateTime<Utc>,
}

impl Ledger {
    /// The same ledger, tolerating `leeway` seconds of clock skew in user revocations.
    pub(crate) fn with_skew(mut self, leeway: u32) -> Ledger {
        self.skew = i64::from(leeway);
        self
    }

    /// The `iat` a user revocation is compared with: as early as the issuing server's clock
    /// may have been ahead.
    fn issued(&self, claims: &Claims) -> i64 {
        claims.iat.saturating_sub(self.skew)
    }

    /// Creates the library's tables if they are missing. Idempotent; run by the fairing at
    /// ignite.
    pub async fn migrate(&self) -> Result<(), Error> {
        dispatch!(self.migrate())
    }

    /// Spends one use of a genuine link, atomically with writing its audit row (status unknown
    /// until [`Ledger::settle`]). `UsedUp` or `Revoked` when no use is left.
    pub(crate) async fn spend(
        &self,
        claims: &Claims,
        cap: u32,
        request: &RequestMeta,
        now: i64,
    ) -> Result<Spent, Error> {
        match dispatch!(self.spend(claims, self.issued(claims), cap, request, now))? {
            Some(spent) => Ok(spent),
            // A concurrent request may have given its use back since: still none for this one.
            None => Err(self.check(claims).await.err().unwrap_or(Error::UsedUp)),
        }
    }

    /// Whether a genuine link still has a use left, without spending it (previews, HEAD).
    pub(crate) async fn check(&self, claims: &Claims) -> Result<(), Error> {
        match dispatch!(self.state(claims, self.issued(claims)))? {
            LinkState { revoked: true, .. } => Err(Error::Revoked),
            LinkState { used_up: true, .. } => Err(Error::UsedUp),
            _ => Ok(()),
        }
    }

    /// Records the response status of a spent use, giving the use back if the status is an
    /// error.
    pub(crate) async fn settle(
        &self,
        jti: &str,
        spent: Spent,
        status: Status,
    ) -> Result<(), Error> {
        dispatch!(self.settle(jti, spent.use_id, status.code))
    }

    /// Records an attempt that spent nothing: a preview, or a refused genuine token.
    pub(crate) async fn record(
        &self,
        claims: &Claims,
        request: &RequestMeta,
        status: Status,
        outcome: &str,
        now: i64,
    ) -> Result<(), Error> {
        dispatch!(self.record(claims, request, status.code, outcome, now))
    }

    /// Revokes one link by id: it answers 410 from now on, even if it was never used.
    ///
    /// ```no_run
    /// # async fn f(ledger: &rocket_linktoken::Ledger, link: rocket_linktoken::Link) -> Result<(), rocket_linktoken::Error> {
    /// ledger.revoke(&link.jti).await?;
    /// assert!(ledger.token(&link.jti).await?.is_some_and(|t| t.revoked_at.is_some()));
    /// # Ok(()) }
    /// ```
    pub async fn revoke(&self, jti: &str) -> Result<(), Error> {
        let now = Utc::now().timestamp();
        dispatch!(self.revoke(jti, now))
    }

    /// Revokes every link of `user` (only those of `scope`, if given) issued before `before`.
    ///
    /// A revocation never misses a link issued just before it: `iat` counts whole seconds, and
    /// the issuing server's clock may run ahead of this one's, so links whose `iat` is up to
    /// `leeway` seconds after `before` (same second included) are revoked too. Links issued
    /// later keep working.
    pub async fn revoke_user(
        &self,
        user: &str,
        scope: Option<&str>,
        before: DateTime<Utc>,
    ) -> Result<(), Error> {
        let now = Utc::now().timestamp();
        dispatch!(self.revoke_user(user, scope, before.timestamp(), now))
    }

    /// The ledger row of a link, if it has been used or revoked.
    pub async fn token(&self, jti: &str) -> Result<Option<TokenRecord>, Error> {
        dispatch!(self.token(jti))
    }

    /// Every recorded attempt with a link, oldest first.
    ///
    /// ```no_run
    /// # async fn f(ledger: &rocket_linktoken::Ledger, jti: &str) -> Result<(), rocket_linktoken::Error> {
    /// for attempt in ledger.uses(jti).await? {
    ///     println!("{} {} from {:?}: {:?} {}", attempt.used_at, attempt.method, attempt.client_ip,
    ///              attempt.status, attempt.outcome);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn uses(&self, jti: &str) -> Result<Vec<UseRecord>, Error> {
        dispatch!(self.uses(jti))
    }
}

/// Unix seconds to a time, for the public records.
fn time(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

/// Longest user agent kept, in characters.
pub(crate) const USER_AGENT_MAX: usize = 256;

/// Reads a `linktoken_tokens` row in the column order both backends select.
fn token_record<R>(row: &R) -> Result<TokenRecord, Error>
where
    R: rocket_db_pools::sqlx::Row,
    usize: rocket_db_pools::sqlx::ColumnIndex<R>,
    for<'r> String:
        rocket_db_pools::sqlx::Decode<'r, R::Database> + rocket_db_pools::sqlx::Type<R::Database>,
    for<'r> i64:
        rocket_db_pools::sqlx::Decode<'r, R::Database> + rocket_db_pools::sqlx::Type<R::Database>,
{
    let at = |i: usize| -> Result<Option<DateTime<Utc>>, Error> {
        Ok(row.try_get::<Option<i64>, _>(i)?.and_then(time))
    };
    Ok(TokenRecord {
        jti: row.try_get(0)?,
        sub: row.try_get(1)?,
        scope: row.try_get(2)?,
        aud: row.try_get(3)?,
        max_uses: row.try_get(4)?,
        uses: row.try_get(5)?,
        first_used_at: at(6)?,
        last_used_at: at(7)?,
        expires_at: at(8)?,
        revoked_at: at(9)?,
    })
}

/// Reads a `linktoken_uses` row in the column order both backends select.
fn use_record<R>(row: &R) -> Result<UseRecord, Error>
where
    R: rocket_db_pools::sqlx::Row,
    usize: rocket_db_pools::sqlx::ColumnIndex<R>,
    for<'r> String:
        rocket_db_pools::sqlx::Decode<'r, R::Database> + rocket_db_pools::sqlx::Type<R::Database>,
    for<'r> i64:
        rocket_db_pools::sqlx::Decode<'r, R::Database> + rocket_db_pools::sqlx::Type<R::Database>,
{
    let status: Option<i64> = row.try_get(8)?;
    Ok(UseRecord {
        id: row.try_get(0)?,
        jti: row.try_get(1)?,
        sub: row.try_get(2)?,
        scope: row.try_get(3)?,
        method: row.try_get(4)?,
        path: row.try_get(5)?,
        client_ip: row.try_get(6)?,
        user_agent: row.try_get(7)?,
        status: status.and_then(|s| u16::try_from(s).ok()),
        outcome: row.try_get(9)?,
        used_at: time(row.try_get(10)?).unwrap_or_default(),
    })
}
