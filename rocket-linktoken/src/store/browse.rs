//! Reads for browsing the ledger (the admin pages, or an application's own): attempts per day,
//! recent refusals, links filtered and paged, a user's revocations.
//!
//! The SQL is written once for every dialect, so that a dialect which binds `?` rather than
//! `$N` can run it through a plain rewrite: each `$N` appears once, in ascending order; an
//! optional filter is `column = COALESCE($N, column)`; days are integer arithmetic.

use chrono::{DateTime, NaiveDate, Utc};

#[cfg(feature = "mysql")]
use super::mysql;
#[cfg(feature = "postgres")]
use super::postgres;
#[cfg(feature = "sqlite")]
use super::sqlite;
use super::{time, Backend, Ledger};
use crate::{Error, UseRecord};

/// Seconds in a UTC day: what a day bucket is.
const DAY: i64 = 86_400;

/// Which links [`Ledger::links`] lists: all of them, unless narrowed.
///
/// ```
/// use rocket_linktoken::LinkFilter;
///
/// let refused_unsubscribes = LinkFilter {
///     scope: Some("unsubscribe".into()),
///     outcome: Some("used_up".into()),
///     ..LinkFilter::default()
/// };
/// # let _ = refused_unsubscribes;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkFilter {
    /// Only links of this scope.
    pub scope: Option<String>,
    /// Only links of this recipient.
    pub user: Option<String>,
    /// Only links with at least one attempt of this outcome: `spent`, `returned`, `preview`,
    /// or a refusal's code.
    pub outcome: Option<String>,
}

/// One link as [`Ledger::links`] lists it: its attempts summed up, with its ledger row's
/// count if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSummary {
    /// The link id.
    pub jti: String,
    /// The recipient.
    pub sub: String,
    /// The link's scope.
    pub scope: String,
    /// Attempts recorded with it, refused ones included.
    pub attempts: i64,
    /// When the latest attempt arrived.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// Uses spent and kept (0 when it has no ledger row: every attempt was refused or a
    /// preview).
    pub uses: i64,
    /// The cap on uses that applied at the last use.
    pub max_uses: Option<i64>,
    /// When it was revoked by id, if it was (a revocation of its user is a
    /// [`UserRevocation`]).
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Attempts of one UTC day with one key (a scope or an outcome): a point of
/// [`Ledger::daily_uses`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyCount {
    /// The day.
    pub day: NaiveDate,
    /// The scope or outcome.
    pub key: String,
    /// Attempts that day.
    pub count: i64,
}

/// How [`Ledger::daily_uses`] splits each day's attempts.
///
/// ```
/// use rocket_linktoken::DailyBy;
///
/// assert_ne!(DailyBy::Scope, DailyBy::Outcome);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DailyBy {
    /// By the link's scope.
    Scope,
    /// By the attempt's outcome.
    Outcome,
}

/// A revocation of every link of a user issued before a time (in one scope, or all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRevocation {
    /// The user.
    pub sub: String,
    /// Only this scope's links; `None`: every scope.
    pub scope: Option<String>,
    /// Links issued before this time (and within the leeway after it) are revoked.
    pub issued_before: Option<DateTime<Utc>>,
    /// When the revocation was made.
    pub created_at: Option<DateTime<Utc>>,
}

/// The statements of this module, compiled for one dialect's pool, as `common_statements!`:
/// each text goes through the pool's `Statements::text`, so MySQL runs them rewritten.
macro_rules! browse_statements {
    ($pool:ty) => {
        pub(super) async fn daily_uses(
            pool: &$pool,
            statement: &'static str,
            since: i64,
        ) -> Result<Vec<(i64, String, i64)>, $crate::Error> {
            use rocket_db_pools::sqlx::Row as _;
            let rows =
                rocket_db_pools::sqlx::query(<$pool as $crate::store::Statements>::text(statement))
                    .bind(since)
                    .fetch_all(pool)
                    .await?;
            rows.iter()
                .map(|row| {
                    Ok((
                        row.try_get("bucket")?,
                        row.try_get("grp")?,
                        row.try_get("n")?,
                    ))
                })
                .collect()
        }

        pub(super) async fn refusals(
            pool: &$pool,
            since: i64,
        ) -> Result<Vec<(String, i64)>, $crate::Error> {
            use rocket_db_pools::sqlx::Row as _;
            let rows = rocket_db_pools::sqlx::query(<$pool as $crate::store::Statements>::text(
                $crate::store::browse::sql::REFUSALS,
            ))
            .bind(since)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| Ok((row.try_get("grp")?, row.try_get("n")?)))
                .collect()
        }

        pub(super) async fn links(
            pool: &$pool,
            filter: &$crate::LinkFilter,
            limit: i64,
            offset: i64,
        ) -> Result<Vec<$crate::LinkSummary>, $crate::Error> {
            use rocket_db_pools::sqlx::Row as _;
            let rows = rocket_db_pools::sqlx::query(<$pool as $crate::store::Statements>::text(
                $crate::store::browse::sql::LINKS,
            ))
            .bind(filter.scope.as_deref())
            .bind(filter.user.as_deref())
            .bind(filter.outcome.as_deref())
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    let at = |column: &str| -> Result<_, $crate::Error> {
                        Ok(row
                            .try_get::<Option<i64>, _>(column)?
                            .and_then($crate::store::time))
                    };
                    Ok($crate::LinkSummary {
                        jti: row.try_get("jti")?,
                        sub: row.try_get("sub")?,
                        scope: row.try_get("scope")?,
                        attempts: row.try_get("attempts")?,
                        last_attempt_at: at("last_at")?,
                        uses: row.try_get::<Option<i64>, _>("uses")?.unwrap_or(0),
                        max_uses: row.try_get("max_uses")?,
                        revoked_at: at("revoked_at")?,
                    })
                })
                .collect()
        }

        pub(super) async fn attempts(
            pool: &$pool,
            jti: &str,
            limit: i64,
            offset: i64,
        ) -> Result<Vec<$crate::UseRecord>, $crate::Error> {
            let rows = rocket_db_pools::sqlx::query(<$pool as $crate::store::Statements>::text(
                $crate::store::browse::sql::ATTEMPTS,
            ))
            .bind(jti)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| $crate::store::use_record(row))
                .collect()
        }

        pub(super) async fn user_revocations(
            pool: &$pool,
            sub: &str,
        ) -> Result<Vec<$crate::UserRevocation>, $crate::Error> {
            use rocket_db_pools::sqlx::Row as _;
            let rows = rocket_db_pools::sqlx::query(<$pool as $crate::store::Statements>::text(
                $crate::store::browse::sql::USER_REVOCATIONS,
            ))
            .bind(sub)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    let at = |column: &str| -> Result<_, $crate::Error> {
                        Ok($crate::store::time(row.try_get::<i64, _>(column)?))
                    };
                    Ok($crate::UserRevocation {
                        sub: row.try_get("sub")?,
                        scope: row.try_get("scope")?,
                        issued_before: at("issued_before")?,
                        created_at: at("created_at")?,
                    })
                })
                .collect()
        }
    };
}
pub(super) use browse_statements;

/// The SQL of this module: numbered parameters, each once and in order, no dialect function.
pub(super) mod sql {
    /// Attempts since `$1` per UTC day (unix seconds at midnight) and scope.
    pub(crate) const DAILY_BY_SCOPE: &str =
        "SELECT used_at - used_at % 86400 AS bucket, scope AS grp, count(*) AS n
         FROM linktoken_uses WHERE used_at >= $1
         GROUP BY used_at - used_at % 86400, scope ORDER BY bucket, grp";

    /// Attempts since `$1` per UTC day and outcome.
    pub(crate) const DAILY_BY_OUTCOME: &str =
        "SELECT used_at - used_at % 86400 AS bucket, outcome AS grp, count(*) AS n
         FROM linktoken_uses WHERE used_at >= $1
         GROUP BY used_at - used_at % 86400, outcome ORDER BY bucket, grp";

    /// Refused attempts since `$1` per refusal code, the most frequent first.
    pub(crate) const REFUSALS: &str = "SELECT outcome AS grp, count(*) AS n
         FROM linktoken_uses
         WHERE used_at >= $1 AND outcome NOT IN ('spent', 'returned', 'preview')
         GROUP BY outcome ORDER BY n DESC, grp";

    /// Links with an attempt of scope `$1`, user `$2` and (any of its attempts) outcome `$3`,
    /// each optional; the link with the latest attempt first (the later row first within a
    /// second), `$4` of them after `$5`.
    pub(crate) const LINKS: &str = "SELECT g.jti, g.sub, g.scope, g.attempts, g.last_at,
            t.uses, t.max_uses, t.revoked_at
         FROM (SELECT jti, min(sub) AS sub, min(scope) AS scope, count(*) AS attempts,
                      max(used_at) AS last_at, max(id) AS last_id
               FROM linktoken_uses
               WHERE scope = COALESCE($1, scope) AND sub = COALESCE($2, sub)
               GROUP BY jti
               HAVING max(CASE WHEN outcome = COALESCE($3, outcome) THEN 1 ELSE 0 END) = 1) g
         LEFT JOIN linktoken_tokens t ON t.jti = g.jti
         ORDER BY g.last_at DESC, g.last_id DESC
         LIMIT $4 OFFSET $5";

    /// The attempts with link `$1`, the latest first, `$2` of them after `$3`.
    pub(crate) const ATTEMPTS: &str = "SELECT id, jti, sub, scope, method, path, client_ip,
            user_agent, status, outcome, used_at
         FROM linktoken_uses WHERE jti = $1 ORDER BY id DESC LIMIT $2 OFFSET $3";

    /// The revocations of user `$1`, the latest first.
    pub(crate) const USER_REVOCATIONS: &str =
        "SELECT sub, scope, issued_before, created_at FROM linktoken_revocations
         WHERE sub = $1 ORDER BY id DESC";
}

impl Ledger {
    /// Attempts per UTC day from `since` on, split by scope or by outcome: one
    /// [`DailyCount`] per day and key that has any, in day order, then key order.
    ///
    /// ```no_run
    /// # async fn f(ledger: &rocket_linktoken::Ledger) -> Result<(), rocket_linktoken::Error> {
    /// use chrono::{TimeDelta, Utc};
    /// use rocket_linktoken::DailyBy;
    ///
    /// for point in ledger.daily_uses(Utc::now() - TimeDelta::days(30), DailyBy::Scope).await? {
    ///     println!("{} {}: {}", point.day, point.key, point.count);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn daily_uses(
        &self,
        since: DateTime<Utc>,
        by: DailyBy,
    ) -> Result<Vec<DailyCount>, Error> {
        self.flush().await;
        let statement = match by {
            DailyBy::Scope => sql::DAILY_BY_SCOPE,
            DailyBy::Outcome => sql::DAILY_BY_OUTCOME,
        };
        let rows = dispatch!(self.daily_uses(statement, since.timestamp()))?;
        Ok(rows
            .into_iter()
            .filter_map(|(day, key, count)| {
                let day = time(day.div_euclid(DAY) * DAY)?.date_naive();
                Some(DailyCount { day, key, count })
            })
            .collect())
    }

    /// Refused attempts from `since` on, per refusal code (an [`Error::code`]), the most
    /// frequent first.
    ///
    /// ```no_run
    /// # async fn f(ledger: &rocket_linktoken::Ledger) -> Result<(), rocket_linktoken::Error> {
    /// use chrono::{TimeDelta, Utc};
    ///
    /// for (code, count) in ledger.refusals(Utc::now() - TimeDelta::hours(24)).await? {
    ///     println!("{code}: {count}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn refusals(&self, since: DateTime<Utc>) -> Result<Vec<(String, i64)>, Error> {
        self.flush().await;
        dispatch!(self.refusals(since.timestamp()))
    }

    /// The links `filter` selects among those with a recorded attempt, the one with the latest
    /// attempt first: at most `limit` of them, after skipping `offset`.
    ///
    /// ```no_run
    /// # async fn f(ledger: &rocket_linktoken::Ledger) -> Result<(), rocket_linktoken::Error> {
    /// use rocket_linktoken::LinkFilter;
    ///
    /// let filter = LinkFilter { user: Some("42".into()), ..LinkFilter::default() };
    /// for link in ledger.links(&filter, 50, 0).await? {
    ///     println!("{} ({}): {} attempts, {} uses", link.jti, link.scope, link.attempts, link.uses);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn links(
        &self,
        filter: &LinkFilter,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<LinkSummary>, Error> {
        self.flush().await;
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        dispatch!(self.links(filter, i64::from(limit), offset))
    }

    /// The attempts with link `jti`, the latest first: at most `limit` of them, after skipping
    /// `offset` ([`Ledger::uses`] reads them all, the first first). On SQLite this reads
    /// `linktoken_uses` from its latest row back until it has them (README, "SQLite
    /// settings").
    ///
    /// ```no_run
    /// # async fn f(ledger: &rocket_linktoken::Ledger) -> Result<(), rocket_linktoken::Error> {
    /// for attempt in ledger.attempts("zg8mVw3Qx1uY0aK2pLr9Tw", 20, 0).await? {
    ///     println!("{} {} {}", attempt.used_at, attempt.path, attempt.outcome);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn attempts(
        &self,
        jti: &str,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<UseRecord>, Error> {
        self.flush().await;
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        dispatch!(self.attempts(jti, i64::from(limit), offset))
    }

    /// The revocations of every link of `user` ([`Ledger::revoke_user`]), the latest first.
    ///
    /// ```no_run
    /// # async fn f(ledger: &rocket_linktoken::Ledger) -> Result<(), rocket_linktoken::Error> {
    /// for revocation in ledger.user_revocations("42").await? {
    ///     println!("{:?} before {:?}", revocation.scope, revocation.issued_before);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn user_revocations(&self, user: &str) -> Result<Vec<UserRevocation>, Error> {
        dispatch!(self.user_revocations(user))
    }
}
