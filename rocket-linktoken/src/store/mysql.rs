//! The ledger on MySQL (8.0.4 or later) and MariaDB (10.6 or later): several application
//! servers sharing one database.
//!
//! A batch's rows travel as one JSON array parameter, read with `JSON_TABLE`, so each statement
//! has one text whatever the batch size and stays prepared. MySQL prepares one statement at a
//! time and neither it nor MariaDB has `UPDATE ... RETURNING`, so where PostgreSQL sends one
//! statement a step sends a few, skipping those it has no rows for.
//!
//! Exactly once across servers: before a batch reads the links it spends, its connection takes
//! a named lock (`GET_LOCK`) per link, in sorted order so two batches never wait for each other
//! in a cycle, and releases them after the commit. Between a batch's read and its write no
//! other server changes those links' counts. Row locks (`SELECT ... FOR UPDATE`) would not do:
//! a link never used has no row to lock yet. The writer's connections read committed rows
//! (`READ COMMITTED`), so each statement sees what the batches before it committed, not a
//! snapshot taken when its transaction began.
//!
//! Identifiers are compared byte for byte: every text column has the binary collation
//! `utf8mb4_bin`, since link ids are base64url, where `a` and `A` differ.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use rocket_db_pools::sqlx::{self, Executor as _, MySqlConnection, MySqlPool, Row as _};

use super::{
    common_statements, end_statement, inserted_ids, json_rows, link_hash, link_now, lock_keys, sql,
    Dialect, LinkNow, Record, Settlement, SpendRequest, TokenGrant, HOLDER_SILENCE_MS,
};
use crate::Error;

/// 2: uses name their holder while in flight (`linktoken_uses.holder`, `linktoken_holders`).
const SCHEMA_VERSION: i64 = 2;

/// Indexes are declared with their tables: MySQL has no `CREATE INDEX IF NOT EXISTS`. Texts
/// longer than an index allows (`sub`, `scope`) are indexed by their first characters.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS linktoken_schema (version BIGINT NOT NULL PRIMARY KEY)
    ENGINE = InnoDB",
    "CREATE TABLE IF NOT EXISTS linktoken_tokens (
        jti VARCHAR(255) NOT NULL PRIMARY KEY,
        sub TEXT,
        scope TEXT,
        aud TEXT,
        max_uses BIGINT,
        uses BIGINT NOT NULL DEFAULT 0,
        first_used_at BIGINT,
        last_used_at BIGINT,
        expires_at BIGINT,
        revoked_at BIGINT,
        INDEX linktoken_tokens_by_sub (sub(191), scope(191))
    ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
    "CREATE TABLE IF NOT EXISTS linktoken_uses (
        id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        jti VARCHAR(255) NOT NULL,
        sub TEXT NOT NULL,
        scope TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        client_ip TEXT,
        user_agent TEXT,
        status INT,
        outcome VARCHAR(64) NOT NULL,
        used_at BIGINT NOT NULL,
        holder VARCHAR(64),
        INDEX linktoken_uses_by_jti (jti),
        INDEX linktoken_uses_by_time (used_at)
    ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
    "CREATE TABLE IF NOT EXISTS linktoken_revocations (
        id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
        sub TEXT NOT NULL,
        scope TEXT,
        issued_before BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        INDEX linktoken_revocations_by_sub (sub(191))
    ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
    "CREATE TABLE IF NOT EXISTS linktoken_holders (
        holder VARCHAR(64) NOT NULL PRIMARY KEY,
        alive_at BIGINT NOT NULL
    ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin",
];

/// A named lock's name: the server's named locks are shared by all its databases, so the name
/// says which database it is for. `SHA1` keeps it within the 64 characters a name may have.
macro_rules! lock_name {
    ($what:expr) => {
        concat!("SHA1(CONCAT('linktoken/', DATABASE(), '/', ", $what, "))")
    };
}

/// Longest a connection waits for a named lock, in seconds, before its batch fails.
const LOCK_WAIT_SECONDS: u32 = 30;

pub(super) async fn migrate(pool: &MySqlPool) -> Result<(), Error> {
    let mut conn = pool.acquire().await?;
    // Servers starting together on a new database: one at a time, as DDL cannot be rolled back.
    let locked: Option<i64> =
        sqlx::query_scalar(concat!("SELECT GET_LOCK(", lock_name!("'schema'"), ", 60)"))
            .fetch_one(&mut *conn)
            .await?;
    if locked != Some(1) {
        return Err(failure("another server kept the schema lock for a minute"));
    }
    let created = create_tables(&mut conn).await;
    let released = sqlx::query(concat!("DO RELEASE_LOCK(", lock_name!("'schema'"), ")"))
        .execute(&mut *conn)
        .await;
    if created.is_err() || released.is_err() {
        // Closing the session releases its locks, whatever state it is in.
        drop(conn.detach());
    }
    created?;
    released?;
    Ok(())
}

async fn create_tables(conn: &mut MySqlConnection) -> Result<(), Error> {
    // Every statement is `IF NOT EXISTS`, so all of them run: a table dropped while the
    // server ran comes back.
    for statement in SCHEMA {
        sqlx::query(statement).execute(&mut *conn).await?;
    }
    // A version 1 table lacks the holder column; MySQL has no `ADD COLUMN IF NOT EXISTS`.
    let has_holder: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = DATABASE()
           AND table_name = 'linktoken_uses' AND column_name = 'holder'",
    )
    .fetch_one(&mut *conn)
    .await?;
    if has_holder == 0 {
        sqlx::query("ALTER TABLE linktoken_uses ADD COLUMN holder VARCHAR(64)")
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("INSERT IGNORE INTO linktoken_schema (version) VALUES (?)")
        .bind(SCHEMA_VERSION)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

common_statements!(MySqlPool);
super::browse::browse_statements!(MySqlPool);

/// The statements of `store::sql` whose shared text MySQL cannot run as it is, each with its
/// own: the same parameters, bound in the same order.
const OWN_TEXT: &[(&str, &str)] = &[
    (sql::STATE, STATE),
    (sql::REVOKE, REVOKE),
    (sql::REPORT_BY_DAY, REPORT_BY_DAY),
    (sql::REPORT_BY_SCOPE, REPORT_BY_SCOPE),
    (sql::REPORT_BY_OUTCOME, REPORT_BY_OUTCOME),
    (sql::REPORT_BY_STATUS, REPORT_BY_STATUS),
    (sql::PRUNE_USES, PRUNE_USES),
    (sql::PRUNE_EXPIRED, PRUNE_EXPIRED),
];

/// `sql::STATE`: its parameters come in the order they are bound (user, scope, issued, link);
/// a link without a row is neither revoked by id nor used up.
const STATE: &str = "SELECT
    (t.revoked_at IS NOT NULL
     OR EXISTS (SELECT 1 FROM linktoken_revocations r
                WHERE r.sub = ? AND (r.scope IS NULL OR r.scope = ?) AND r.issued_before >= ?))
        AS revoked,
    COALESCE(t.uses >= t.max_uses, FALSE) AS used_up
    FROM (SELECT 1) AS one LEFT JOIN linktoken_tokens AS t ON t.jti = ?";

/// `sql::REVOKE`: an upsert in MySQL's words.
const REVOKE: &str = "INSERT INTO linktoken_tokens (jti, uses, revoked_at) VALUES (?, 0, ?)
    ON DUPLICATE KEY UPDATE revoked_at = COALESCE(revoked_at, VALUES(revoked_at))";

/// `sql::REPORT_BY_*`: each filter's parameter once (an absent one compares a column with
/// itself), the key cast to `CHAR`, days by integer division (`DIV`). A group's key is read as
/// `min(key)`, its only value, which `ONLY_FULL_GROUP_BY` accepts whatever the expression.
macro_rules! report {
    ($key:literal) => {
        concat!(
            "SELECT CAST(min(",
            $key,
            ") AS CHAR) AS grp, count(*) AS n FROM linktoken_uses
             WHERE scope = COALESCE(?, scope) AND used_at >= COALESCE(?, used_at)
               AND used_at < COALESCE(?, used_at + 1)
             GROUP BY ",
            $key,
            " ORDER BY min(",
            $key,
            ") IS NULL, min(",
            $key,
            ")"
        )
    };
}
const REPORT_BY_DAY: &str = report!("used_at DIV 86400");
const REPORT_BY_SCOPE: &str = report!("scope");
const REPORT_BY_OUTCOME: &str = report!("outcome");
const REPORT_BY_STATUS: &str = report!("status");

/// `sql::PRUNE_USES`: MySQL takes no `LIMIT` in an `IN` subquery, and deletes in order itself.
const PRUNE_USES: &str = "DELETE FROM linktoken_uses WHERE used_at < ? ORDER BY id LIMIT ?";

/// `sql::PRUNE_EXPIRED`, as `PRUNE_USES`.
const PRUNE_EXPIRED: &str = "DELETE FROM linktoken_tokens WHERE expires_at < ? LIMIT ?";

/// The text MySQL runs for a statement written once for every dialect: its own version if it
/// has one ([`OWN_TEXT`]), else the shared text with `?` for each `$N`, rewritten once.
pub(super) fn text(common: &'static str) -> &'static str {
    if let Some((_, own)) = OWN_TEXT.iter().find(|(shared, _)| *shared == common) {
        return own;
    }
    static REWRITTEN: LazyLock<RwLock<HashMap<&'static str, &'static str>>> =
        LazyLock::new(RwLock::default);
    let known = REWRITTEN
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(common)
        .copied();
    if let Some(rewritten) = known {
        return rewritten;
    }
    debug_assert_eq!(
        convention_broken(common),
        None,
        "a statement shared with MySQL breaks the convention of `store::sql`: {common}"
    );
    let mut cache = REWRITTEN.write().unwrap_or_else(PoisonError::into_inner);
    // Leaked once per statement text: the texts are the library's constants, a fixed set.
    cache
        .entry(common)
        .or_insert_with(|| Box::leak(positional(common).into_boxed_str()))
}

/// Each `$N` outside quotes as `?`.
fn positional(common: &str) -> String {
    let mut text = String::with_capacity(common.len());
    let mut quoted = false;
    let mut chars = common.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c == '$' && !quoted && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            text.push('?');
        } else {
            text.push(c);
        }
    }
    text
}

/// How a shared statement breaks the convention that makes [`positional`] exact, if it does.
fn convention_broken(common: &str) -> Option<String> {
    let mut expected = 1;
    let mut quoted = false;
    let mut rest = common;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        if c == '\'' {
            quoted = !quoted;
        }
        if c == '/' && !quoted {
            return Some("`/`, decimal division on MySQL".to_owned());
        }
        if c != '$' || quoted {
            continue;
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if let Ok(n) = rest[..digits].parse::<u32>() {
            if n != expected {
                return Some(format!("${n} where ${expected} was due"));
            }
            expected += 1;
        }
    }
    let upper = common.to_ascii_uppercase();
    ["AS TEXT", "ON CONFLICT", "RETURNING", "::"]
        .into_iter()
        .find(|syntax| upper.contains(syntax))
        .map(|syntax| format!("`{syntax}`"))
}

/// The writer's own connection, opened with the pool's options, reading committed rows.
pub(super) async fn open(pool: &MySqlPool) -> Result<MySqlConnection, Error> {
    use rocket_db_pools::sqlx::ConnectOptions as _;
    let mut conn = pool.connect_options().connect().await?;
    conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .await?;
    Ok(conn)
}

/// A JSON batch's text column, compared byte for byte. `TEXT`, as a value too long for its
/// column would be read as `NULL`, not refused.
macro_rules! text_column {
    ($name:literal, $path:literal) => {
        concat!(
            $name,
            " TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '",
            $path,
            "'"
        )
    };
}

/// Gives back the uses of settled rows (`[use id, status, outcome]`) whose status is still
/// empty and is an error: before the statuses are written, so a settlement written twice gives
/// nothing back twice.
const GIVE_BACK: &str = "UPDATE linktoken_tokens AS t
    JOIN (SELECT u.jti, count(*) AS n
          FROM JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT PATH '$[0]', status INT PATH '$[1]')) AS s
          JOIN linktoken_uses AS u ON u.id = s.id
          WHERE u.status IS NULL AND s.status >= 400
          GROUP BY u.jti) AS g ON g.jti = t.jti
    SET t.uses = GREATEST(t.uses - g.n, 0)";

/// Writes the statuses and outcomes of settled rows whose status is still empty.
const SETTLE: &str = concat!(
    "UPDATE linktoken_uses AS u
    JOIN JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT PATH '$[0]', status INT PATH '$[1]', ",
    text_column!("outcome", "$[2]"),
    ")) AS s ON u.id = s.id
    SET u.status = s.status, u.outcome = s.outcome
    WHERE u.status IS NULL"
);

/// Inserts the rows of attempts that spent nothing, in order.
const RECORD: &str = concat!(
    "INSERT INTO linktoken_uses
        (jti, sub, scope, method, path, client_ip, user_agent, status, outcome, used_at)
    SELECT r.jti, r.sub, r.scope, r.method, r.path, r.client_ip, r.user_agent, r.status,
        r.outcome, r.used_at
    FROM JSON_TABLE(?, '$[*]' COLUMNS (i FOR ORDINALITY, ",
    text_column!("jti", "$[0]"),
    ", sub TEXT PATH '$[1]', scope TEXT PATH '$[2]', method TEXT PATH '$[3]',
        path TEXT PATH '$[4]', client_ip TEXT PATH '$[5]', user_agent TEXT PATH '$[6]',
        status INT PATH '$[7]', ",
    text_column!("outcome", "$[8]"),
    ", used_at BIGINT PATH '$[9]')) AS r
    ORDER BY r.i"
);

/// Reads each spend's link (`[jti, sub, scope, issued]`), in the spends' order.
const READ: &str = concat!(
    "SELECT COALESCE(t.uses, 0) AS uses,
        (t.revoked_at IS NOT NULL OR EXISTS (SELECT 1 FROM linktoken_revocations AS r
            WHERE r.sub = s.sub AND (r.scope IS NULL OR r.scope = s.scope)
              AND r.issued_before >= s.issued)) AS revoked
    FROM JSON_TABLE(?, '$[*]' COLUMNS (i FOR ORDINALITY, ",
    text_column!("jti", "$[0]"),
    ", ",
    text_column!("sub", "$[1]"),
    ", ",
    text_column!("scope", "$[2]"),
    ", issued BIGINT PATH '$[3]')) AS s
    LEFT JOIN linktoken_tokens AS t ON t.jti = s.jti
    ORDER BY s.i"
);

/// Adds granted uses. A link's first use writes what it names (its id's claims never change);
/// later ones touch no indexed column.
const GRANT: &str = concat!(
    "INSERT INTO linktoken_tokens
        (jti, sub, scope, aud, max_uses, uses, first_used_at, last_used_at, expires_at)
    SELECT g.jti, g.sub, g.scope, g.aud, g.cap, g.added, g.at, g.at, g.exp
    FROM JSON_TABLE(?, '$[*]' COLUMNS (",
    text_column!("jti", "$[0]"),
    ", sub TEXT PATH '$[1]', scope TEXT PATH '$[2]', aud TEXT PATH '$[3]',
        cap BIGINT PATH '$[4]', added BIGINT PATH '$[5]', at BIGINT PATH '$[6]',
        exp BIGINT PATH '$[7]')) AS g
    ON DUPLICATE KEY UPDATE uses = linktoken_tokens.uses + VALUES(uses),
        max_uses = VALUES(max_uses), last_used_at = VALUES(last_used_at)"
);

/// Inserts the spent uses' rows in order, held by `?` (the first parameter).
const SPEND: &str = concat!(
    "INSERT INTO linktoken_uses
        (jti, sub, scope, method, path, client_ip, user_agent, status, outcome, used_at, holder)
    SELECT u.jti, u.sub, u.scope, u.method, u.path, u.client_ip, u.user_agent, NULL, 'spent',
        u.at, ?
    FROM JSON_TABLE(?, '$[*]' COLUMNS (i FOR ORDINALITY, ",
    text_column!("jti", "$[0]"),
    ", sub TEXT PATH '$[1]', scope TEXT PATH '$[2]', method TEXT PATH '$[3]',
        path TEXT PATH '$[4]', client_ip TEXT PATH '$[5]', user_agent TEXT PATH '$[6]',
        at BIGINT PATH '$[7]')) AS u
    ORDER BY u.i"
);

/// The ids of the rows `SPEND` just inserted: from the first (`?`), held by this writer (`?`),
/// unsettled, of the batch's links (`?`). No other row matches: the links are locked by this
/// batch, so nobody else spends them meanwhile.
const SPENT_IDS: &str = concat!(
    "SELECT u.id FROM linktoken_uses AS u
    WHERE u.id >= ? AND u.holder = ? AND u.status IS NULL AND u.outcome = 'spent'
      AND u.jti IN (SELECT l.jti FROM JSON_TABLE(?, '$[*]' COLUMNS (",
    text_column!("jti", "$"),
    ")) AS l)
    ORDER BY u.id"
);

/// The database's clock, in unix milliseconds, whatever the session's time zone.
macro_rules! now_ms {
    () => {
        "(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) DIV 1000)"
    };
}

/// Forgets the holders (other than `?`) silent for a day.
const FORGET_HOLDERS: &str = concat!(
    "DELETE FROM linktoken_holders WHERE holder <> ? AND alive_at < ",
    now_ms!(),
    " - 86400000"
);

/// Writes holder `?`'s beat.
const BEAT: &str = concat!(
    "INSERT INTO linktoken_holders (holder, alive_at) VALUES (?, ",
    now_ms!(),
    ") ON DUPLICATE KEY UPDATE alive_at = VALUES(alive_at)"
);

/// The links among `?` (a JSON array) with an unsettled use whose holder beat within `?`
/// milliseconds.
const IN_FLIGHT: &str = concat!(
    "SELECT DISTINCT u.jti FROM JSON_TABLE(?, '$[*]' COLUMNS (",
    text_column!("jti", "$"),
    ")) AS l
    JOIN linktoken_uses AS u ON u.jti = l.jti
    JOIN linktoken_holders AS h ON h.holder = u.holder
    WHERE u.status IS NULL AND h.alive_at >= ",
    now_ms!(),
    " - ?"
);

/// A link's named lock key: its id's hash, in hex.
fn lock_key(link: &str) -> String {
    format!("{:016x}", link_hash(link))
}

fn failure(what: &str) -> Error {
    Error::Database(Arc::new(sqlx::Error::Protocol(what.to_owned())))
}

/// A batch that could not take its links' locks within [`LOCK_WAIT_SECONDS`]. The database
/// answered, so the connection is sound: told apart from a lost connection, the batch is
/// refused (503) rather than waited for again on a new one.
#[derive(Debug)]
struct LockWait;

impl LockWait {
    const MESSAGE: &'static str = "another server held a link of this batch past the lock wait";

    fn error() -> Error {
        Error::Database(Arc::new(sqlx::Error::Database(Box::new(LockWait))))
    }
}

impl std::fmt::Display for LockWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(LockWait::MESSAGE)
    }
}

impl std::error::Error for LockWait {}

impl sqlx::error::DatabaseError for LockWait {
    fn message(&self) -> &str {
        LockWait::MESSAGE
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        sqlx::error::ErrorKind::Other
    }
}

#[rocket::async_trait]
impl Dialect for MySqlConnection {
    async fn begin(&mut self, links: &[&str]) -> Result<(), Error> {
        // One round trip: the keys are hex, written into the text, so the locks and `START
        // TRANSACTION` travel together (a prepared statement holds one statement only). `AND`
        // stops at the first lock not taken.
        let keys = lock_keys(links, lock_key);
        if keys.is_empty() {
            sqlx::Executor::execute(&mut *self, "START TRANSACTION").await?;
            return Ok(());
        }
        let locks: Vec<String> = keys
            .iter()
            .map(|key| {
                format!(
                    concat!("GET_LOCK(", lock_name!("'{}'"), ", {}) = 1"),
                    key, LOCK_WAIT_SECONDS
                )
            })
            .collect();
        let begin = format!(
            "SELECT {} AS locked; START TRANSACTION",
            locks.join(" AND ")
        );
        let rows = sqlx::Executor::fetch_all(&mut *self, begin.as_str()).await?;
        let locked: Option<i64> = match rows.first() {
            Some(row) => row.try_get("locked")?,
            None => None,
        };
        if locked != Some(1) {
            // The connection is dropped after a failure, which releases what it holds.
            return Err(LockWait::error());
        }
        Ok(())
    }

    async fn settle_then_read(
        &mut self,
        settlements: &[Settlement],
        records: &[Record],
        spends: &[SpendRequest],
    ) -> Result<Vec<LinkNow>, Error> {
        if !settlements.is_empty() {
            let gives_back = settlements.iter().any(Settlement::gives_back);
            let settlements = json_rows::settlements(settlements)?;
            // Most batches settle only successes: no round trip for what they do not give back.
            if gives_back {
                sqlx::query(GIVE_BACK)
                    .bind(&settlements)
                    .execute(&mut *self)
                    .await?;
            }
            sqlx::query(SETTLE)
                .bind(&settlements)
                .execute(&mut *self)
                .await?;
        }
        if !records.is_empty() {
            let records = json_rows::records(records)?;
            sqlx::query(RECORD)
                .bind(records)
                .execute(&mut *self)
                .await?;
        }
        if spends.is_empty() {
            return Ok(Vec::new());
        }
        let spends = json_rows::spends(spends)?;
        let states = sqlx::query(READ).bind(spends).fetch_all(&mut *self).await?;
        states.iter().map(link_now).collect()
    }

    async fn grant(
        &mut self,
        tokens: &[TokenGrant<'_>],
        spent: &[&SpendRequest],
        holder: &str,
    ) -> Result<Vec<i64>, Error> {
        let tokens = json_rows::tokens(tokens)?;
        let uses = json_rows::uses(spent)?;
        let mut links: Vec<&str> = spent.iter().map(|s| s.claims.jti.as_str()).collect();
        links.sort_unstable();
        links.dedup();
        sqlx::query(GRANT).bind(tokens).execute(&mut *self).await?;
        let inserted = sqlx::query(SPEND)
            .bind(holder)
            .bind(uses)
            .execute(&mut *self)
            .await?;
        // The first id the insert generated; the others follow it, not always one apart.
        let first = i64::try_from(inserted.last_insert_id())
            .map_err(|_| failure("the ledger's row ids ran past i64"))?;
        let rows = sqlx::query(SPENT_IDS)
            .bind(first)
            .bind(holder)
            .bind(json_rows::links(&links)?)
            .fetch_all(&mut *self)
            .await?;
        inserted_ids(&rows)
    }

    async fn beat(&mut self, holder: &str) -> Result<(), Error> {
        sqlx::query(FORGET_HOLDERS)
            .bind(holder)
            .execute(&mut *self)
            .await?;
        sqlx::query(BEAT).bind(holder).execute(&mut *self).await?;
        Ok(())
    }

    async fn in_flight(&mut self, links: &[&str]) -> Result<Vec<String>, Error> {
        Ok(sqlx::query_scalar(IN_FLIGHT)
            .bind(json_rows::links(links)?)
            .bind(HOLDER_SILENCE_MS)
            .fetch_all(&mut *self)
            .await?)
    }

    async fn end(&mut self, commit: bool) -> Result<(), Error> {
        // The named locks are the session's, not the transaction's: released once it ends.
        let end = format!("{}; DO RELEASE_ALL_LOCKS()", end_statement(commit));
        sqlx::Executor::execute(&mut *self, end.as_str()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_wait_is_not_a_lost_connection() {
        let error = LockWait::error();
        assert!(!super::super::connection_lost(&error));
        assert!(!super::super::missing_table(&error));
        let Error::Database(cause) = &error else {
            panic!("{error:?} is not a database error");
        };
        assert!(cause.to_string().contains(LockWait::MESSAGE), "{cause}");
    }

    /// Every statement of `store::sql`, by name.
    const SHARED: &[(&str, &str)] = &[
        ("STATE", sql::STATE),
        ("REVOKE", sql::REVOKE),
        ("REVOKE_USER", sql::REVOKE_USER),
        ("TOKEN", sql::TOKEN),
        ("USES", sql::USES),
        ("SCHEMA_VERSION", sql::SCHEMA_VERSION),
        ("REPORT_BY_DAY", sql::REPORT_BY_DAY),
        ("REPORT_BY_SCOPE", sql::REPORT_BY_SCOPE),
        ("REPORT_BY_OUTCOME", sql::REPORT_BY_OUTCOME),
        ("REPORT_BY_STATUS", sql::REPORT_BY_STATUS),
        ("PRUNE_USES", sql::PRUNE_USES),
        ("PRUNE_EXPIRED", sql::PRUNE_EXPIRED),
    ];

    fn distinct_parameters(common: &str) -> usize {
        let mut numbers: Vec<&str> = common
            .split('$')
            .skip(1)
            .map(|rest| &rest[..rest.bytes().take_while(u8::is_ascii_digit).count()])
            .filter(|digits| !digits.is_empty())
            .collect();
        numbers.sort_unstable();
        numbers.dedup();
        numbers.len()
    }

    #[test]
    fn every_shared_statement_follows_the_convention_or_has_its_own_text() {
        for (name, common) in SHARED {
            let own = OWN_TEXT.iter().any(|(shared, _)| shared == common);
            assert!(
                own || convention_broken(common).is_none(),
                "{name}: {:?}",
                convention_broken(common)
            );
            assert!(!text(common).contains('$'), "{name}");
            assert_eq!(
                text(common).matches('?').count(),
                distinct_parameters(common),
                "{name} binds as many values on MySQL as elsewhere"
            );
        }
    }

    #[test]
    fn the_statements_that_break_it_are_found() {
        assert_eq!(
            convention_broken(sql::STATE).as_deref(),
            Some("$4 where $1 was due")
        );
        assert!(convention_broken(sql::REPORT_BY_SCOPE).is_some());
        assert_eq!(
            convention_broken("SELECT used_at / 86400 FROM linktoken_uses").as_deref(),
            Some("`/`, decimal division on MySQL")
        );
        assert_eq!(
            convention_broken("SELECT x FROM t WHERE a = $1 AND b = $1"),
            Some("$1 where $2 was due".to_owned())
        );
        assert_eq!(
            convention_broken("SELECT used_at - used_at % 86400 FROM t WHERE path = '/a/$1'"),
            None
        );
        assert!(convention_broken(sql::REVOKE).is_some());
        assert_eq!(convention_broken(sql::TOKEN), None);
    }

    #[test]
    fn numbered_parameters_become_positional_outside_quotes() {
        assert_eq!(
            positional("SELECT '$1', a FROM t WHERE b = $1 AND c < $2 LIMIT $10"),
            "SELECT '$1', a FROM t WHERE b = ? AND c < ? LIMIT ?"
        );
        assert_eq!(
            positional("SELECT used_at - used_at % 86400 FROM linktoken_uses WHERE jti = $1"),
            "SELECT used_at - used_at % 86400 FROM linktoken_uses WHERE jti = ?"
        );
    }

    #[test]
    fn a_statement_is_rewritten_once() {
        assert!(std::ptr::eq(text(sql::TOKEN), text(sql::TOKEN)));
        assert_eq!(text(sql::STATE), STATE);
    }

    #[test]
    fn lock_keys_are_hex_of_a_fixed_width() {
        assert_eq!(lock_key("a").len(), 16);
        assert_ne!(lock_key("a"), lock_key("A"));
        assert!(lock_key("x-Y_z").bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
