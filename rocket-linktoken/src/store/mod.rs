//! The ledger: use counts, revocations and the audit log, in the application's database.
//!
//! Every write goes through one writer per ledger ([`writer`]), which commits whatever is
//! waiting in one transaction: the spends of concurrent requests, the settlements of finished
//! responses, and the rows of attempts that spent nothing. What is decided, and in which order,
//! is written once here ([`decide`], [`writer`]); each SQL dialect only says how
//! ([`Dialect`]). Reads go straight to the application's pool.
//!
//! SQL shared by the dialects is written once, in `$N` style (see [`sql`]); MySQL reads it
//! through [`Statements`], which rewrites the parameters as `?` and swaps in its own text for
//! the few statements where it must differ.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use rocket::http::Status;

use crate::{Claims, Error};

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
mod writer;

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!(
    "rocket-linktoken needs a database: enable the `sqlite`, `postgres` or `mysql` feature"
);

/// A connection pool the ledger can live in: the `Pool` of the application's
/// `#[derive(Database)]` type. Implemented for `sqlx::SqlitePool` (feature `sqlite`),
/// `sqlx::PgPool` (feature `postgres`) and `sqlx::MySqlPool` (feature `mysql`: MySQL 8.0.4 or
/// later, MariaDB 10.6 or later).
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
    #[cfg(feature = "mysql")]
    Mysql(rocket_db_pools::sqlx::MySqlPool),
}

#[cfg(feature = "sqlite")]
impl sealed::Sealed for rocket_db_pools::sqlx::SqlitePool {}

#[cfg(feature = "sqlite")]
impl LedgerPool for rocket_db_pools::sqlx::SqlitePool {
    fn ledger(&self) -> Ledger {
        Ledger::new(Backend::Sqlite(self.clone()))
    }
}

#[cfg(feature = "postgres")]
impl sealed::Sealed for rocket_db_pools::sqlx::PgPool {}

#[cfg(feature = "postgres")]
impl LedgerPool for rocket_db_pools::sqlx::PgPool {
    fn ledger(&self) -> Ledger {
        Ledger::new(Backend::Postgres(self.clone()))
    }
}

#[cfg(feature = "mysql")]
impl sealed::Sealed for rocket_db_pools::sqlx::MySqlPool {}

#[cfg(feature = "mysql")]
impl LedgerPool for rocket_db_pools::sqlx::MySqlPool {
    fn ledger(&self) -> Ledger {
        Ledger::new(Backend::Mysql(self.clone()))
    }
}

/// How a dialect's database reads the statements written once for every dialect ([`sql`],
/// and any other module written by its convention): as they are, or rewritten.
pub(crate) trait Statements {
    /// The text this pool's database runs for `common`.
    fn text(common: &'static str) -> &'static str {
        common
    }
}

#[cfg(feature = "sqlite")]
impl Statements for rocket_db_pools::sqlx::SqlitePool {}

#[cfg(feature = "postgres")]
impl Statements for rocket_db_pools::sqlx::PgPool {}

#[cfg(feature = "mysql")]
impl Statements for rocket_db_pools::sqlx::MySqlPool {
    fn text(common: &'static str) -> &'static str {
        mysql::text(common)
    }
}

impl Backend {
    /// Creates the library's tables if they are missing.
    async fn migrate(&self) -> Result<(), Error> {
        match self {
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(pool) => sqlite::migrate(pool).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres(pool) => postgres::migrate(pool).await,
            #[cfg(feature = "mysql")]
            Backend::Mysql(pool) => mysql::migrate(pool).await,
        }
    }
}

/// Whether a database error says a table is missing: the database was recreated empty, or
/// the library's tables were dropped, while the server ran.
fn missing_table(error: &Error) -> bool {
    let Error::Database(e) = error else {
        return false;
    };
    let Some(e) = e.as_database_error() else {
        return false;
    };
    // PostgreSQL's `undefined_table`, MySQL's `ER_NO_SUCH_TABLE`; SQLite says it in words only.
    matches!(e.code().as_deref(), Some("42P01" | "42S02"))
        || e.message().starts_with("no such table")
}

/// Whether an error says the connection is gone, rather than anything about the statements
/// sent on it: closed sockets, PostgreSQL's connection and shutdown errors, and MySQL's
/// connection errors and killed sessions.
fn connection_lost(error: &Error) -> bool {
    use rocket_db_pools::sqlx::Error as Sqlx;
    let Error::Database(e) = error else {
        return false;
    };
    match &**e {
        Sqlx::Io(_) | Sqlx::Protocol(_) | Sqlx::WorkerCrashed => true,
        Sqlx::Database(e) => e.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P") || code == "70100"
        }),
        _ => false,
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
            #[cfg(feature = "mysql")]
            Backend::Mysql(pool) => mysql::$function(pool, $($arg),*).await,
        }
    };
}

mod browse;

pub use browse::{DailyBy, DailyCount, LinkFilter, LinkSummary, UserRevocation};

/// The statements whose SQL is written once for every backend, compiled for each dialect's
/// pool (sqlx types its queries by database, so a generic function would need a bound per bound
/// value). Each text goes through the pool's [`Statements::text`], so MySQL gets `?`
/// parameters, or its own version of a statement.
macro_rules! common_statements {
    ($pool:ty) => {
        pub(super) async fn state(
            pool: &$pool,
            claims: &$crate::Claims,
            issued: i64,
        ) -> Result<$crate::store::LinkState, $crate::Error> {
            use rocket_db_pools::sqlx::Row as _;
            let row = rocket_db_pools::sqlx::query(<$pool as $crate::store::Statements>::text(
                $crate::store::sql::STATE,
            ))
            .bind(&claims.sub)
            .bind(&claims.scope)
            .bind(issued)
            .bind(&claims.jti)
            .fetch_one(pool)
            .await?;
            Ok($crate::store::LinkState {
                revoked: row.try_get("revoked")?,
                used_up: row.try_get("used_up")?,
            })
        }

        pub(super) async fn revoke(pool: &$pool, jti: &str, now: i64) -> Result<(), $crate::Error> {
            rocket_db_pools::sqlx::query(<$pool as $crate::store::Statements>::text(
                $crate::store::sql::REVOKE,
            ))
            .bind(jti)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(())
        }

        pub(super) async fn revoke_user(
            pool: &$pool,
            sub: &str,
            scope: Option<&str>,
            before: i64,
            now: i64,
        ) -> Result<(), $crate::Error> {
            rocket_db_pools::sqlx::query(<$pool as $crate::store::Statements>::text(
                $crate::store::sql::REVOKE_USER,
            ))
            .bind(sub)
            .bind(scope)
            .bind(before)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(())
        }

        pub(super) async fn token(
            pool: &$pool,
            jti: &str,
        ) -> Result<Option<$crate::TokenRecord>, $crate::Error> {
            let row = rocket_db_pools::sqlx::query(<$pool as $crate::store::Statements>::text(
                $crate::store::sql::TOKEN,
            ))
            .bind(jti)
            .fetch_optional(pool)
            .await?;
            row.as_ref()
                .map(|row| $crate::store::token_record(row))
                .transpose()
        }

        pub(super) async fn schema_version(pool: &$pool) -> Result<Option<i64>, $crate::Error> {
            let version: Result<Option<i64>, _> = rocket_db_pools::sqlx::query_scalar(
                <$pool as $crate::store::Statements>::text($crate::store::sql::SCHEMA_VERSION),
            )
            .fetch_one(pool)
            .await;
            match version.map_err($crate::Error::from) {
                Err(e) if $crate::store::missing_table(&e) => Ok(None),
                version => version,
            }
        }

        pub(super) async fn report(
            pool: &$pool,
            filter: &$crate::store::ReportFilter,
            by: $crate::store::ReportBy,
        ) -> Result<Vec<(Option<String>, i64)>, $crate::Error> {
            use rocket_db_pools::sqlx::Row as _;
            let rows =
                rocket_db_pools::sqlx::query(<$pool as $crate::store::Statements>::text(by.sql()))
                    .bind(filter.scope.as_deref())
                    .bind(filter.since.map(|t| t.timestamp()))
                    .bind(filter.until.map(|t| t.timestamp()))
                    .fetch_all(pool)
                    .await?;
            rows.iter()
                .map(|row| Ok((row.try_get("grp")?, row.try_get("n")?)))
                .collect()
        }

        /// Runs one batch of a prune (`sql::PRUNE_USES` or `sql::PRUNE_EXPIRED`).
        pub(super) async fn prune(
            pool: &$pool,
            statement: &'static str,
            before: i64,
            batch: i64,
        ) -> Result<u64, $crate::Error> {
            let done =
                rocket_db_pools::sqlx::query(<$pool as $crate::store::Statements>::text(statement))
                    .bind(before)
                    .bind(batch)
                    .execute(pool)
                    .await?;
            Ok(done.rows_affected())
        }

        pub(super) async fn uses(
            pool: &$pool,
            jti: &str,
        ) -> Result<Vec<$crate::UseRecord>, $crate::Error> {
            let rows = rocket_db_pools::sqlx::query(<$pool as $crate::store::Statements>::text(
                $crate::store::sql::USES,
            ))
            .bind(jti)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| $crate::store::use_record(row))
                .collect()
        }
    };
}
use common_statements;

/// SQL written once for every dialect. SQLite and PostgreSQL run it as it is; MySQL binds `?`
/// rather than `$N`, so its ledger rewrites each statement once ([`Statements`]), which is
/// exact only for statements written by this convention:
///
/// - each `$N` appears exactly once, and they appear in ascending order (`$1`, `$2`, ...): a
///   `?` is bound by its position;
/// - no `CAST(... AS TEXT)` (MySQL casts to `CHAR`), no `/` between integers (MySQL's `/` is
///   decimal division): a day's bucket is `used_at - used_at % 86400`;
/// - no `ON CONFLICT`, `RETURNING`, `LIMIT` in a subquery, or other syntax MySQL lacks.
///
/// A statement that breaks it has its own MySQL text in `store/mysql.rs` (`OWN_TEXT`).
/// Another module of shared statements (`store/browse.rs`) follows the same convention, and its
/// macro passes each text through `<$pool as Statements>::text` as `common_statements!` does:
/// its MySQL half is then one invocation in `mysql.rs`.
mod sql {
    /// Whether a link is revoked (by id, or by a revocation of its user `$1` in scope `$2`
    /// covering links issued at `$3`) or used up; `$4` is its id.
    pub(super) const STATE: &str = "SELECT
        (EXISTS (SELECT 1 FROM linktoken_tokens WHERE jti = $4 AND revoked_at IS NOT NULL)
         OR EXISTS (SELECT 1 FROM linktoken_revocations r
                    WHERE r.sub = $1 AND (r.scope IS NULL OR r.scope = $2)
                      AND r.issued_before >= $3)) AS revoked,
        EXISTS (SELECT 1 FROM linktoken_tokens WHERE jti = $4 AND uses >= max_uses) AS used_up";

    pub(super) const REVOKE: &str =
        "INSERT INTO linktoken_tokens (jti, uses, revoked_at) VALUES ($1, 0, $2)
         ON CONFLICT (jti) DO UPDATE SET
            revoked_at = COALESCE(linktoken_tokens.revoked_at, excluded.revoked_at)";

    pub(super) const REVOKE_USER: &str =
        "INSERT INTO linktoken_revocations (sub, scope, issued_before, created_at)
         VALUES ($1, $2, $3, $4)";

    pub(super) const TOKEN: &str = "SELECT jti, sub, scope, aud, max_uses, uses, first_used_at,
            last_used_at, expires_at, revoked_at
         FROM linktoken_tokens WHERE jti = $1";

    pub(super) const USES: &str = "SELECT id, jti, sub, scope, method, path, client_ip,
            user_agent, status, outcome, used_at
         FROM linktoken_uses WHERE jti = $1 ORDER BY id";

    /// The version of the tables; fails with a missing table when the library never made them.
    pub(super) const SCHEMA_VERSION: &str = "SELECT max(version) FROM linktoken_schema";

    /// Counts attempts of scope `$1` from `$2` (included) to `$3` (excluded), each optional,
    /// grouped by `$key` read as text; groups in the key's order, the empty key last (where
    /// the dialects disagree by default).
    macro_rules! report {
        ($key:literal) => {
            concat!(
                "SELECT CAST(",
                $key,
                " AS TEXT) AS grp, count(*) AS n FROM linktoken_uses
                 WHERE ($1 IS NULL OR scope = $1) AND ($2 IS NULL OR used_at >= $2)
                   AND ($3 IS NULL OR used_at < $3)
                 GROUP BY ",
                $key,
                " ORDER BY ",
                $key,
                " IS NULL, ",
                $key
            )
        };
    }
    /// Days count from the unix epoch: integer division on both dialects.
    pub(super) const REPORT_BY_DAY: &str = report!("used_at / 86400");
    pub(super) const REPORT_BY_SCOPE: &str = report!("scope");
    pub(super) const REPORT_BY_OUTCOME: &str = report!("outcome");
    pub(super) const REPORT_BY_STATUS: &str = report!("status");

    /// Deletes at most `$2` attempts that arrived before `$1`, oldest first.
    pub(super) const PRUNE_USES: &str = "DELETE FROM linktoken_uses WHERE id IN
        (SELECT id FROM linktoken_uses WHERE used_at < $1 ORDER BY id LIMIT $2)";

    /// Deletes at most `$2` rows of links that expired before `$1`. Rows of links revoked by
    /// id before any use have no expiry and stay.
    pub(super) const PRUNE_EXPIRED: &str = "DELETE FROM linktoken_tokens WHERE jti IN
        (SELECT jti FROM linktoken_tokens WHERE expires_at < $1 LIMIT $2)";
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

/// How one attempt with a genuine token ended: the `outcome` column of `linktoken_uses`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A use was spent and the response succeeded (or has not been sent yet).
    Spent,
    /// A use was spent, then given back because the response was an error.
    Returned,
    /// Validated without spending: a preview route, or a HEAD request.
    Preview,
    /// Refused: the refusal's [`Error::code`].
    Refused(&'static str),
}

impl Outcome {
    /// The outcome of a spent use once its response status is known.
    pub(crate) fn settled(status: Status) -> Outcome {
        if status.code >= 400 {
            Outcome::Returned
        } else {
            Outcome::Spent
        }
    }

    /// The column's text.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Spent => "spent",
            Outcome::Returned => "returned",
            Outcome::Preview => "preview",
            Outcome::Refused(code) => code,
        }
    }
}

impl From<&Error> for Outcome {
    fn from(e: &Error) -> Outcome {
        Outcome::Refused(e.code())
    }
}

/// How long a holder may go without a beat before its unsettled uses count as spent for good
/// (its process is gone): a few of the writer's beats, which it sends every 500 ms while it
/// has uses in flight.
pub(crate) const HOLDER_SILENCE_MS: i64 = 2_000;

/// Longest a spend refused only because the link's last uses are in flight waits for them to
/// be settled (or for their holder to fall silent) before it is answered `InFlight`.
const IN_FLIGHT_WAIT: std::time::Duration = std::time::Duration::from_millis(3_000);

/// A spend the writer decides: one use of a genuine link, on a route with this cap.
#[derive(Debug, Clone)]
pub(crate) struct SpendRequest {
    pub(crate) claims: Claims,
    /// The `iat` user revocations are compared with (see [`Ledger::issued`]).
    pub(crate) issued: i64,
    pub(crate) cap: i64,
    pub(crate) meta: Arc<RequestMeta>,
    pub(crate) now: i64,
}

/// A spent use's response status, for its row; an error status gives the use back.
#[derive(Debug, Clone)]
pub(crate) struct Settlement {
    pub(crate) jti: String,
    pub(crate) use_id: i64,
    pub(crate) status: u16,
}

impl Settlement {
    /// Whether the response failed, which gives the use back ([`Outcome::settled`]'s rule,
    /// which the dialects' SQL says again in its own words).
    pub(crate) fn gives_back(&self) -> bool {
        Outcome::settled(Status::new(self.status)) == Outcome::Returned
    }
}

/// The row of an attempt that spent nothing: a preview, or a refused genuine token.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) jti: String,
    pub(crate) sub: String,
    pub(crate) scope: String,
    pub(crate) meta: Arc<RequestMeta>,
    pub(crate) status: u16,
    pub(crate) outcome: Outcome,
    pub(crate) at: i64,
}

/// What a batch's transaction reads of each spend's link before deciding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LinkNow {
    /// Uses spent and kept so far (0 for a link never used).
    pub(crate) uses: i64,
    /// Revoked by id, or by a revocation of its user covering this spend's link.
    pub(crate) revoked: bool,
}

/// Decides a batch of spends together, in arrival order: each spend of a link gets a use while
/// its own route's cap is above the uses granted so far (`min(asked, left)` for the link), and
/// none once the link is revoked. `states[i]` is what the database says of `spends[i]`'s link.
/// A granted spend is `Ok(uses)`, the link's count with it included.
pub(crate) fn decide(spends: &[SpendRequest], states: &[LinkNow]) -> Vec<Result<i64, Error>> {
    let mut counted: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    spends
        .iter()
        .zip(states)
        .map(|(spend, state)| {
            if state.revoked {
                return Err(Error::Revoked);
            }
            let uses = counted.entry(&spend.claims.jti).or_insert(state.uses);
            if *uses < spend.cap {
                *uses += 1;
                Ok(*uses)
            } else {
                Err(Error::UsedUp)
            }
        })
        .collect()
}

/// One link's change in a batch: `added` uses, with the claims and cap of its last spend.
#[derive(Debug)]
pub(crate) struct TokenGrant<'a> {
    pub(crate) claims: &'a Claims,
    pub(crate) cap: i64,
    pub(crate) added: i64,
    pub(crate) now: i64,
}

/// The per-link changes of the granted spends, in order of each link's first spend.
pub(crate) fn token_grants<'a>(granted: &[&'a SpendRequest]) -> Vec<TokenGrant<'a>> {
    let mut grants: Vec<TokenGrant<'a>> = Vec::new();
    for spend in granted {
        match grants.iter_mut().find(|g| g.claims.jti == spend.claims.jti) {
            Some(grant) => {
                grant.added += 1;
                grant.cap = spend.cap;
                grant.now = grant.now.max(spend.now);
            }
            None => grants.push(TokenGrant {
                claims: &spend.claims,
                cap: spend.cap,
                added: 1,
                now: spend.now,
            }),
        }
    }
    grants
}

/// One SQL dialect's part of a batch. The writer calls these in order inside one transaction
/// on its own connection; every method sees the writes of the ones before. Each is one round
/// trip to the database (a few on MySQL, which prepares one statement at a time), whatever the
/// batch's size.
#[rocket::async_trait]
pub(crate) trait Dialect: Send {
    /// Begins the transaction, holding off every other writer of these links (sorted ids)
    /// until it ends, on this server and on any other sharing the database.
    async fn begin(&mut self, links: &[&str]) -> Result<(), Error>;
    /// Writes the statuses of spent uses whose rows have none yet (giving back the uses of
    /// those with an error status) and the rows of attempts that spent nothing, then reads
    /// what the database says of each spend's link, in the spends' order. A settlement
    /// already written is left alone, so writing one twice gives nothing back twice.
    async fn settle_then_read(
        &mut self,
        settlements: &[Settlement],
        records: &[Record],
        spends: &[SpendRequest],
    ) -> Result<Vec<LinkNow>, Error>;
    /// Adds the granted uses to the links' rows and inserts each granted spend's row (status
    /// unknown, held by `holder`), returning the new rows' ids in the order of `spent`.
    async fn grant(
        &mut self,
        tokens: &[TokenGrant<'_>],
        spent: &[&SpendRequest],
        holder: &str,
    ) -> Result<Vec<i64>, Error>;
    /// Says that `holder` (this process) is alive, by the database's clock, and forgets
    /// holders silent for a day.
    async fn beat(&mut self, holder: &str) -> Result<(), Error>;
    /// The links among `links` with a use in flight: spent, not yet settled, by a holder
    /// whose last beat is at most [`HOLDER_SILENCE_MS`] old by the database's clock.
    async fn in_flight(&mut self, links: &[&str]) -> Result<Vec<String>, Error>;
    /// Commits (`true`) or rolls back the transaction.
    async fn end(&mut self, commit: bool) -> Result<(), Error>;
}

/// The link ledger in the application's database: use counts, revocations, the audit log.
///
/// Available as managed state (`&State<Ledger>`) once the fairing has ignited. Its reads see
/// every write this ledger was handed before them: a use settled by a response just sent is
/// read with its status.
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
    /// Started by the first write, on the runtime that asks for it.
    writer: Arc<OnceLock<writer::Writer>>,
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
    /// The HTTP status sent; `None` until the response's settlement is written, and for good
    /// if the process stopped before responding.
    pub status: Option<u16>,
    /// `spent`, `returned`, `preview`, or the refusal's [`Error::code`].
    pub outcome: String,
    /// When the attempt arrived.
    pub used_at: DateTime<Utc>,
}

/// Which attempts [`Ledger::report`] counts: all of them, unless narrowed.
///
/// ```
/// use chrono::{TimeDelta, Utc};
/// use rocket_linktoken::ReportFilter;
///
/// let last_week = ReportFilter {
///     scope: Some("unsubscribe".into()),
///     since: Some(Utc::now() - TimeDelta::days(7)),
///     until: None,
/// };
/// # let _ = last_week;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFilter {
    /// Only attempts with links of this scope.
    pub scope: Option<String>,
    /// Only attempts that arrived at this time or later.
    pub since: Option<DateTime<Utc>>,
    /// Only attempts that arrived before this time.
    pub until: Option<DateTime<Utc>>,
}

/// How [`Ledger::report`] groups the attempts it counts.
///
/// ```
/// use rocket_linktoken::ReportBy;
///
/// assert_eq!(ReportBy::Outcome.name(), "outcome");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportBy {
    /// The UTC day the attempt arrived, `YYYY-MM-DD`.
    Day,
    /// The link's scope.
    Scope,
    /// The `outcome` column: `spent`, `returned`, `preview`, or a refusal's code.
    Outcome,
    /// The HTTP status sent; no key for attempts whose status is not written (yet).
    Status,
}

impl ReportBy {
    /// The grouping's name, lower case: the column heading of a report.
    pub fn name(self) -> &'static str {
        match self {
            ReportBy::Day => "day",
            ReportBy::Scope => "scope",
            ReportBy::Outcome => "outcome",
            ReportBy::Status => "status",
        }
    }

    fn sql(self) -> &'static str {
        match self {
            ReportBy::Day => sql::REPORT_BY_DAY,
            ReportBy::Scope => sql::REPORT_BY_SCOPE,
            ReportBy::Outcome => sql::REPORT_BY_OUTCOME,
            ReportBy::Status => sql::REPORT_BY_STATUS,
        }
    }
}

/// One group of a [`Ledger::report`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// The group: a day (`2026-11-30`), a scope, an outcome, or a status (`200`); `None` for
    /// attempts whose status is not written.
    pub key: Option<String>,
    /// Attempts in the group.
    pub count: i64,
}

impl Ledger {
    fn new(backend: Backend) -> Ledger {
        Ledger {
            backend,
            skew: 0,
            writer: Arc::new(OnceLock::new()),
        }
    }

    /// The same ledger, tolerating `leeway` seconds of clock skew in user revocations, as the
    /// fairing's ledger does with the configured `leeway`: a revocation covers links whose
    /// `iat` is up to `leeway` seconds after it.
    ///
    /// ```no_run
    /// # fn f(ledger: rocket_linktoken::Ledger) {
    /// let ledger = ledger.with_skew(5);
    /// # let _ = ledger; }
    /// ```
    pub fn with_skew(mut self, leeway: u32) -> Ledger {
        self.skew = i64::from(leeway);
        self
    }

    /// The `iat` a user revocation is compared with: as early as the issuing server's clock
    /// may have been ahead.
    fn issued(&self, claims: &Claims) -> i64 {
        claims.iat.saturating_sub(self.skew)
    }

    fn writer(&self) -> &writer::Writer {
        self.writer
            .get_or_init(|| writer::Writer::start(self.backend.clone()))
    }

    /// Creates the library's tables if they are missing. Idempotent; run by the fairing at
    /// ignite.
    pub async fn migrate(&self) -> Result<(), Error> {
        self.backend.migrate().await
    }

    /// Spends one use of a genuine link, in the writer's next batch, together with writing its
    /// audit row (status unknown until [`Ledger::settle`]). `UsedUp` or `Revoked` when no use
    /// is left; a failed batch fails its spends closed.
    ///
    /// When the only uses left are held by requests still being answered, which may give them
    /// back, the spend waits for their settlements and asks again, for up to [`IN_FLIGHT_WAIT`];
    /// then it is `InFlight` (409, try again), never `UsedUp` for a link that may yet have a
    /// use.
    pub(crate) async fn spend(
        &self,
        claims: &Claims,
        cap: u32,
        meta: &Arc<RequestMeta>,
        now: i64,
    ) -> Result<Spent, Error> {
        let request = SpendRequest {
            claims: claims.clone(),
            issued: self.issued(claims),
            cap: i64::from(cap),
            meta: Arc::clone(meta),
            now,
        };
        let deadline = rocket::tokio::time::Instant::now() + IN_FLIGHT_WAIT;
        let mut pause = std::time::Duration::from_millis(5);
        loop {
            match self.writer().spend(request.clone()).await {
                Err(Error::InFlight) if rocket::tokio::time::Instant::now() + pause < deadline => {
                    rocket::tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_millis(200));
                }
                answer => return answer,
            }
        }
    }

    /// Whether a genuine link still has a use left, without spending it (as previews and
    /// `HEAD` requests are checked): [`Error::Revoked`] when it, or its user, was revoked;
    /// [`Error::UsedUp`] when every use its last cap allowed is spent.
    ///
    /// ```no_run
    /// # async fn f(ledger: &rocket_linktoken::Ledger, verifier: &rocket_linktoken::Verifier, token: &str) -> Result<(), rocket_linktoken::Error> {
    /// let claims = verifier.authenticate(token)?;
    /// match ledger.check(&claims).await {
    ///     Ok(()) => println!("{} has a use left", claims.jti()),
    ///     Err(why) => println!("{} is refused: {}", claims.jti(), why.code()),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn check(&self, claims: &Claims) -> Result<(), Error> {
        match dispatch!(self.state(claims, self.issued(claims)))? {
            LinkState { revoked: true, .. } => Err(Error::Revoked),
            LinkState { used_up: true, .. } => Err(Error::UsedUp),
            _ => Ok(()),
        }
    }

    /// Hands the response status of a spent use to the writer, which records it (giving the
    /// use back if the status is an error) in a later batch, retrying until it is written.
    pub(crate) fn settle(&self, jti: &str, spent: Spent, status: Status) {
        self.writer().settle(Settlement {
            jti: jti.to_owned(),
            use_id: spent.use_id,
            status: status.code,
        });
    }

    /// Hands the row of an attempt that spent nothing to the writer.
    pub(crate) fn record(&self, record: Record) {
        self.writer().record(record);
    }

    /// Waits until everything handed to the writer so far has been written, or its writing
    /// has failed and awaits a retry. Returns whether nothing is left waiting.
    pub(crate) async fn flush(&self) -> bool {
        match self.writer.get() {
            Some(writer) => writer.flush().await,
            None => true,
        }
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
        self.flush().await;
        dispatch!(self.token(jti))
    }

    /// Every recorded attempt with a link, oldest first.
    ///
    /// On SQLite this reads all of `linktoken_uses`, which is indexed by link only over the
    /// uses in flight (README, "SQLite settings").
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
        self.flush().await;
        dispatch!(self.uses(jti))
    }

    /// The version of the library's tables in this database, `None` when they were never
    /// created there: a check for tools that read a database without creating anything. Each
    /// backend counts its own versions (README, "The tables").
    ///
    /// ```no_run
    /// # async fn f(ledger: &rocket_linktoken::Ledger) -> Result<(), rocket_linktoken::Error> {
    /// if ledger.schema_version().await?.is_none() {
    ///     println!("the application has not run on this database yet");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn schema_version(&self) -> Result<Option<i64>, Error> {
        dispatch!(self.schema_version())
    }

    /// Counts the attempts of `linktoken_uses` that `filter` selects, in groups, in the
    /// groups' order (days and statuses in numeric order, the attempts without a status last).
    ///
    /// ```no_run
    /// # async fn f(ledger: &rocket_linktoken::Ledger) -> Result<(), rocket_linktoken::Error> {
    /// use rocket_linktoken::{ReportBy, ReportFilter};
    ///
    /// for row in ledger.report(&ReportFilter::default(), ReportBy::Outcome).await? {
    ///     println!("{:?}: {}", row.key, row.count);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn report(
        &self,
        filter: &ReportFilter,
        by: ReportBy,
    ) -> Result<Vec<ReportRow>, Error> {
        self.flush().await;
        let groups = dispatch!(self.report(filter, by))?;
        Ok(groups
            .into_iter()
            .map(|(key, count)| ReportRow {
                key: match by {
                    ReportBy::Day => key.map(|day| day_name(&day)),
                    _ => key,
                },
                count,
            })
            .collect())
    }

    /// Deletes the attempts that arrived before `before` from `linktoken_uses`, `batch` rows
    /// per statement (oldest first) so no statement holds the table for long, calling
    /// `progress` with the running total after each batch. Returns how many rows went.
    ///
    /// The audit log only: a link's use count lives in `linktoken_tokens` and is unchanged.
    ///
    /// ```no_run
    /// # async fn f(ledger: &rocket_linktoken::Ledger) -> Result<(), rocket_linktoken::Error> {
    /// use chrono::{TimeDelta, Utc};
    ///
    /// let cutoff = Utc::now() - TimeDelta::days(90);
    /// let deleted = ledger.prune_uses(cutoff, 1000, |so_far| eprintln!("{so_far}...")).await?;
    /// println!("{deleted} attempts deleted");
    /// # Ok(()) }
    /// ```
    pub async fn prune_uses(
        &self,
        before: DateTime<Utc>,
        batch: u32,
        progress: impl FnMut(u64),
    ) -> Result<u64, Error> {
        self.prune(sql::PRUNE_USES, before, batch, progress).await
    }

    /// Deletes the `linktoken_tokens` rows of links that expired before `before`, `batch`
    /// rows per statement, calling `progress` with the running total after each batch.
    /// Returns how many rows went.
    ///
    /// An expired link is refused whatever its row says, so its row is no longer needed once
    /// `before` is at least `leeway` seconds in the past. Rows of links revoked by id before
    /// any use carry no expiry and stay; the links' attempts in `linktoken_uses` stay too.
    ///
    /// ```no_run
    /// # async fn f(ledger: &rocket_linktoken::Ledger) -> Result<(), rocket_linktoken::Error> {
    /// use chrono::{TimeDelta, Utc};
    ///
    /// let deleted = ledger.prune_expired(Utc::now() - TimeDelta::minutes(5), 1000, |_| ()).await?;
    /// println!("{deleted} expired links forgotten");
    /// # Ok(()) }
    /// ```
    pub async fn prune_expired(
        &self,
        before: DateTime<Utc>,
        batch: u32,
        progress: impl FnMut(u64),
    ) -> Result<u64, Error> {
        self.prune(sql::PRUNE_EXPIRED, before, batch, progress)
            .await
    }

    /// Runs a prune `statement` (`$1`: the cutoff, `$2`: rows per batch) until a batch deletes
    /// nothing, calling `progress` with the running total after each; returns the total.
    async fn prune(
        &self,
        statement: &'static str,
        before: DateTime<Utc>,
        batch: u32,
        mut progress: impl FnMut(u64),
    ) -> Result<u64, Error> {
        self.flush().await;
        let (before, batch) = (before.timestamp(), i64::from(batch.max(1)));
        let mut total = 0;
        loop {
            let deleted = dispatch!(self.prune(statement, before, batch))?;
            if deleted == 0 {
                return Ok(total);
            }
            total += deleted;
            progress(total);
        }
    }
}

/// A day counted from the unix epoch as `YYYY-MM-DD`; the count itself if it is no day.
fn day_name(days: &str) -> String {
    days.parse::<i64>()
        .ok()
        .and_then(|days| days.checked_mul(86_400))
        .and_then(time)
        .map_or_else(
            || days.to_string(),
            |day| day.format("%Y-%m-%d").to_string(),
        )
}

/// Unix seconds to a time, for the public records.
fn time(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

/// Longest user agent kept, in characters.
pub(crate) const USER_AGENT_MAX: usize = 256;

/// Reads a link's state from a batch's read, by column name.
fn link_now<R>(row: &R) -> Result<LinkNow, Error>
where
    R: rocket_db_pools::sqlx::Row,
    for<'c> &'c str: rocket_db_pools::sqlx::ColumnIndex<R>,
    for<'r> i64:
        rocket_db_pools::sqlx::Decode<'r, R::Database> + rocket_db_pools::sqlx::Type<R::Database>,
    for<'r> bool:
        rocket_db_pools::sqlx::Decode<'r, R::Database> + rocket_db_pools::sqlx::Type<R::Database>,
{
    Ok(LinkNow {
        uses: row.try_get("uses")?,
        revoked: row.try_get("revoked")?,
    })
}

/// The `id`s of rows a batch inserted, in the order they were inserted: ids rise with each row,
/// while `RETURNING` promises no order.
fn inserted_ids<R>(rows: &[R]) -> Result<Vec<i64>, Error>
where
    R: rocket_db_pools::sqlx::Row,
    for<'c> &'c str: rocket_db_pools::sqlx::ColumnIndex<R>,
    for<'r> i64:
        rocket_db_pools::sqlx::Decode<'r, R::Database> + rocket_db_pools::sqlx::Type<R::Database>,
{
    let mut ids = rows
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<Vec<i64>, _>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// A batch's rows as SQLite's `json_each` and MySQL's `JSON_TABLE` read them: one JSON array
/// of arrays, written straight from borrowed fields (a tuple serialises as an array). Each
/// function here fixes one row's members and their order, which the dialects' SQL names by
/// position.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
mod json_rows {
    use std::sync::Arc;

    use super::{Outcome, Record, Settlement, SpendRequest, TokenGrant};
    use crate::Error;

    /// `[use id, status, outcome]`.
    pub(super) fn settlements(settlements: &[Settlement]) -> Result<String, Error> {
        rows(settlements, |s| {
            let outcome = Outcome::settled(rocket::http::Status::new(s.status));
            (s.use_id, s.status, outcome.as_str())
        })
    }

    /// `[jti, sub, scope, method, path, client ip, user agent, status, outcome, at]`.
    pub(super) fn records(records: &[Record]) -> Result<String, Error> {
        rows(records, |r| {
            (
                r.jti.as_str(),
                r.sub.as_str(),
                r.scope.as_str(),
                r.meta.method.as_str(),
                r.meta.path.as_str(),
                r.meta.client_ip.as_deref(),
                r.meta.user_agent.as_deref(),
                r.status,
                r.outcome.as_str(),
                r.at,
            )
        })
    }

    /// `[jti, sub, scope, issued]`.
    pub(super) fn spends(spends: &[SpendRequest]) -> Result<String, Error> {
        rows(spends, |s| {
            (
                s.claims.jti.as_str(),
                s.claims.sub.as_str(),
                s.claims.scope.as_str(),
                s.issued,
            )
        })
    }

    /// `[jti, sub, scope, aud, cap, added, now, exp]`.
    pub(super) fn tokens(tokens: &[TokenGrant<'_>]) -> Result<String, Error> {
        rows(tokens, |g| {
            (
                g.claims.jti.as_str(),
                g.claims.sub.as_str(),
                g.claims.scope.as_str(),
                g.claims.aud.as_str(),
                g.cap,
                g.added,
                g.now,
                g.claims.exp,
            )
        })
    }

    /// `[jti, sub, scope, method, path, client ip, user agent, at]`: the rows of spent uses.
    pub(super) fn uses(spent: &[&SpendRequest]) -> Result<String, Error> {
        rows(spent, |s| {
            (
                s.claims.jti.as_str(),
                s.claims.sub.as_str(),
                s.claims.scope.as_str(),
                s.meta.method.as_str(),
                s.meta.path.as_str(),
                s.meta.client_ip.as_deref(),
                s.meta.user_agent.as_deref(),
                s.now,
            )
        })
    }

    /// Link ids, an array of strings.
    pub(super) fn links(links: &[&str]) -> Result<String, Error> {
        rows(links, |link| *link)
    }

    fn rows<'a, T, R: serde::Serialize>(
        items: &'a [T],
        row: impl Fn(&'a T) -> R,
    ) -> Result<String, Error> {
        let rows: Vec<R> = items.iter().map(row).collect();
        serde_json::to_string(&rows).map_err(|e| {
            Error::Database(Arc::new(rocket_db_pools::sqlx::Error::Protocol(
                e.to_string(),
            )))
        })
    }
}

/// A link id's 64-bit FNV-1a hash: what its lock is named by, the same on every server. Two
/// links sharing a hash only wait for each other.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn link_hash(link: &str) -> u64 {
    link.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The lock keys of a batch's links, each once, in the order every server takes them (so two
/// batches never wait for each other).
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn lock_keys<K: Ord>(links: &[&str], key: impl Fn(&str) -> K) -> Vec<K> {
    let mut keys: Vec<K> = links.iter().map(|link| key(link)).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The statement that ends a batch's transaction.
fn end_statement(commit: bool) -> &'static str {
    if commit {
        "COMMIT"
    } else {
        "ROLLBACK"
    }
}

/// Reads a `linktoken_tokens` row by column name.
fn token_record<R>(row: &R) -> Result<TokenRecord, Error>
where
    R: rocket_db_pools::sqlx::Row,
    for<'c> &'c str: rocket_db_pools::sqlx::ColumnIndex<R>,
    for<'r> String:
        rocket_db_pools::sqlx::Decode<'r, R::Database> + rocket_db_pools::sqlx::Type<R::Database>,
    for<'r> i64:
        rocket_db_pools::sqlx::Decode<'r, R::Database> + rocket_db_pools::sqlx::Type<R::Database>,
{
    let at = |column: &str| -> Result<Option<DateTime<Utc>>, Error> {
        Ok(row.try_get::<Option<i64>, _>(column)?.and_then(time))
    };
    Ok(TokenRecord {
        jti: row.try_get("jti")?,
        sub: row.try_get("sub")?,
        scope: row.try_get("scope")?,
        aud: row.try_get("aud")?,
        max_uses: row.try_get("max_uses")?,
        uses: row.try_get("uses")?,
        first_used_at: at("first_used_at")?,
        last_used_at: at("last_used_at")?,
        expires_at: at("expires_at")?,
        revoked_at: at("revoked_at")?,
    })
}

/// Reads a `linktoken_uses` row by column name.
fn use_record<R>(row: &R) -> Result<UseRecord, Error>
where
    R: rocket_db_pools::sqlx::Row,
    for<'c> &'c str: rocket_db_pools::sqlx::ColumnIndex<R>,
    for<'r> String:
        rocket_db_pools::sqlx::Decode<'r, R::Database> + rocket_db_pools::sqlx::Type<R::Database>,
    for<'r> i64:
        rocket_db_pools::sqlx::Decode<'r, R::Database> + rocket_db_pools::sqlx::Type<R::Database>,
    for<'r> i32:
        rocket_db_pools::sqlx::Decode<'r, R::Database> + rocket_db_pools::sqlx::Type<R::Database>,
{
    let status: Option<i32> = row.try_get("status")?;
    Ok(UseRecord {
        id: row.try_get("id")?,
        jti: row.try_get("jti")?,
        sub: row.try_get("sub")?,
        scope: row.try_get("scope")?,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        client_ip: row.try_get("client_ip")?,
        user_agent: row.try_get("user_agent")?,
        status: status.and_then(|s| u16::try_from(s).ok()),
        outcome: row.try_get("outcome")?,
        used_at: time(row.try_get("used_at")?).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spend(jti: &str, cap: i64) -> SpendRequest {
        let json =
            format!(r#"{{"jti":"{jti}","sub":"1","scope":"s","aud":"/","iat":1000,"exp":2000}}"#);
        SpendRequest {
            claims: Claims::from_json(json.as_bytes()).unwrap(),
            issued: 1000,
            cap,
            meta: Arc::default(),
            now: 1500,
        }
    }

    fn codes(decisions: Vec<Result<i64, Error>>) -> Vec<Result<i64, &'static str>> {
        decisions
            .into_iter()
            .map(|d| d.map_err(|e| e.code()))
            .collect()
    }

    #[test]
    fn spends_of_one_link_in_a_batch_get_what_is_left_in_arrival_order() {
        let spends = [spend("a", 3), spend("a", 3), spend("b", 1), spend("a", 3)];
        let states = [
            LinkNow {
                uses: 1,
                revoked: false,
            },
            LinkNow {
                uses: 1,
                revoked: false,
            },
            LinkNow::default(),
            LinkNow {
                uses: 1,
                revoked: false,
            },
        ];
        assert_eq!(
            codes(decide(&spends, &states)),
            [Ok(2), Ok(3), Ok(1), Err("used_up")]
        );
    }

    #[test]
    fn each_spend_is_held_to_its_own_routes_cap() {
        // One link used on two routes: the lower cap refuses once the count reaches it.
        let spends = [spend("a", 5), spend("a", 1), spend("a", 5)];
        let states = [LinkNow::default(); 3];
        assert_eq!(
            codes(decide(&spends, &states)),
            [Ok(1), Err("used_up"), Ok(2)]
        );
    }

    #[test]
    fn a_revoked_link_gets_nothing() {
        let spends = [spend("a", 5)];
        let states = [LinkNow {
            uses: 0,
            revoked: true,
        }];
        assert_eq!(codes(decide(&spends, &states)), [Err("revoked")]);
    }

    #[test]
    fn grants_are_summed_per_link() {
        let spends = [spend("a", 3), spend("b", 1), spend("a", 4)];
        let granted: Vec<&SpendRequest> = spends.iter().collect();
        let grants = token_grants(&granted);
        let summary: Vec<(&str, i64, i64)> = grants
            .iter()
            .map(|g| (g.claims.jti.as_str(), g.added, g.cap))
            .collect();
        assert_eq!(summary, [("a", 2, 4), ("b", 1, 1)]);
    }
}
