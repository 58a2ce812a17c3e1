//! The ledger on SQLite: the embedded default.
//!
//! A batch's rows travel as JSON array parameters read with `json_each`, so each statement
//! has one text whatever the batch size and stays prepared. One call runs several statements
//! (each call is a hand-off to the connection's thread), and leaves out those the batch has
//! no rows for. The writer's transaction begins
//! `IMMEDIATE`: it holds the write lock from its first statement, so what it reads is what it
//! updates, even with other processes writing the same file.

use rocket_db_pools::sqlx::{self, SqliteConnection, SqlitePool};

use super::{
    common_statements, end_statement, inserted_ids, json_rows, link_now, Dialect, LinkNow, Record,
    Settlement, SpendRequest, TokenGrant, HOLDER_SILENCE_MS,
};
use crate::Error;

/// 2: uses name their holder while in flight (`linktoken_uses.holder`, `linktoken_holders`).
/// 3: `linktoken_uses` is indexed by link only over the uses in flight
/// (`linktoken_uses_in_flight`); the index over every row, `linktoken_uses_by_jti`, is dropped.
const SCHEMA_VERSION: i64 = 3;

/// The index versions 1 and 2 kept over every use by link. Link ids are random, so each use
/// wrote a random leaf of it: on SQLite, whose log takes whole pages, about one of the 1.6 pages
/// a spend over many links wrote (README, "SQLite settings").
const DROP_INDEX_OVER_EVERY_USE: &str = "DROP INDEX IF EXISTS linktoken_uses_by_jti";
/// The version that dropped it.
const WITHOUT_INDEX_OVER_EVERY_USE: i64 = 3;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS linktoken_tokens (
        jti TEXT PRIMARY KEY NOT NULL,
        sub TEXT,
        scope TEXT,
        aud TEXT,
        max_uses INTEGER,
        uses INTEGER NOT NULL DEFAULT 0,
        first_used_at INTEGER,
        last_used_at INTEGER,
        expires_at INTEGER,
        revoked_at INTEGER
    )",
    "CREATE INDEX IF NOT EXISTS linktoken_tokens_by_sub ON linktoken_tokens (sub, scope)",
    "CREATE TABLE IF NOT EXISTS linktoken_uses (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        jti TEXT NOT NULL,
        sub TEXT NOT NULL,
        scope TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        client_ip TEXT,
        user_agent TEXT,
        status INTEGER,
        outcome TEXT NOT NULL,
        used_at INTEGER NOT NULL,
        holder TEXT
    )",
    // What the check for uses in flight reads: a spend adds its key, its settlement removes
    // it, so the index holds the uses in flight (and those of killed processes, until pruned),
    // a few pages however many uses the table holds.
    "CREATE INDEX IF NOT EXISTS linktoken_uses_in_flight ON linktoken_uses (jti)
        WHERE status IS NULL",
    "CREATE INDEX IF NOT EXISTS linktoken_uses_by_time ON linktoken_uses (used_at)",
    "CREATE TABLE IF NOT EXISTS linktoken_revocations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sub TEXT NOT NULL,
        scope TEXT,
        issued_before INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS linktoken_revocations_by_sub ON linktoken_revocations (sub)",
    "CREATE TABLE IF NOT EXISTS linktoken_holders (
        holder TEXT PRIMARY KEY NOT NULL,
        alive_at INTEGER NOT NULL
    )",
];

pub(super) async fn migrate(pool: &SqlitePool) -> Result<(), Error> {
    let mut conn = pool.acquire().await?;
    // Servers starting together on a new file: each takes the write lock before reading the
    // version, since SQLite refuses (rather than waits for) a read lock's upgrade.
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    let result = create_tables(&mut conn).await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    sqlx::query(end).execute(&mut *conn).await?;
    result
}

async fn create_tables(conn: &mut SqliteConnection) -> Result<(), Error> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS linktoken_schema (version INTEGER PRIMARY KEY NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    let version: Option<i64> = sqlx::query_scalar(super::sql::SCHEMA_VERSION)
        .fetch_one(&mut *conn)
        .await?;
    if version.unwrap_or(0) < WITHOUT_INDEX_OVER_EVERY_USE {
        // Only on the way up: an index an application later creates under this name is its own.
        sqlx::query(DROP_INDEX_OVER_EVERY_USE)
            .execute(&mut *conn)
            .await?;
    }
    // Every statement is `IF NOT EXISTS`, so all of them run: a table dropped while the
    // server ran comes back.
    for statement in SCHEMA {
        sqlx::query(statement).execute(&mut *conn).await?;
    }
    // A version 1 table lacks the holder column; SQLite has no `ADD COLUMN IF NOT EXISTS`.
    let has_holder: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info('linktoken_uses') WHERE name = 'holder')",
    )
    .fetch_one(&mut *conn)
    .await?;
    if !has_holder {
        sqlx::query("ALTER TABLE linktoken_uses ADD COLUMN holder TEXT")
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("INSERT OR IGNORE INTO linktoken_schema (version) VALUES ($1)")
        .bind(SCHEMA_VERSION)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Opens the writer's connection with the pool's options, and keeps its statement journals in
/// memory: past 64 KiB SQLite spills a statement journal to a temporary file, created and
/// deleted per batch. While uses were indexed by link over every row, batches over many links
/// did so (README, "SQLite settings"); they no longer do at the benchmark's batch sizes, and
/// with this setting a larger batch cannot either. Durability is the pool's own: a statement
/// journal only undoes a failed statement inside the open transaction.
pub(super) async fn open(pool: &SqlitePool) -> Result<SqliteConnection, Error> {
    use sqlx::ConnectOptions as _;
    let mut conn = pool.connect_options().connect().await?;
    sqlx::query("PRAGMA temp_store = MEMORY")
        .execute(&mut conn)
        .await?;
    Ok(conn)
}

common_statements!(SqlitePool);
super::browse::browse_statements!(SqlitePool);

/// Gives back the uses of settlements (`$1`: `[use id, status, outcome]`) with an error status,
/// counting only rows whose status is still empty, so a settlement written twice gives nothing
/// back twice. Runs before `settle!`, which fills those statuses.
macro_rules! give_back {
    () => {
        "UPDATE linktoken_tokens
    SET uses = max(uses - (SELECT count(*) FROM json_each($1) AS s
        JOIN linktoken_uses AS u ON u.id = json_extract(s.value, '$[0]')
        WHERE u.status IS NULL AND json_extract(s.value, '$[1]') >= 400
          AND u.jti = linktoken_tokens.jti), 0)
    WHERE jti IN (SELECT u.jti FROM json_each($1) AS s
        JOIN linktoken_uses AS u ON u.id = json_extract(s.value, '$[0]')
        WHERE u.status IS NULL AND json_extract(s.value, '$[1]') >= 400);"
    };
}

/// Writes the statuses of settlements (`$1`) whose rows have none yet.
macro_rules! settle {
    () => {
        "UPDATE linktoken_uses
    SET status = json_extract(s.value, '$[1]'), outcome = json_extract(s.value, '$[2]')
    FROM json_each($1) AS s
    WHERE linktoken_uses.id = json_extract(s.value, '$[0]') AND linktoken_uses.status IS NULL;"
    };
}

/// Writes the rows of attempts that spent nothing (`$2`).
macro_rules! record {
    () => {
        "INSERT INTO linktoken_uses
        (jti, sub, scope, method, path, client_ip, user_agent, status, outcome, used_at)
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
        json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),
        json_extract(value, '$[6]'), json_extract(value, '$[7]'), json_extract(value, '$[8]'),
        json_extract(value, '$[9]')
    FROM json_each($2) ORDER BY key;"
    };
}

/// Reads each spend's link (`$3`: `[jti, sub, scope, issued]`), in the spends' order.
macro_rules! read {
    () => {
        "SELECT COALESCE(t.uses, 0) AS uses,
        (t.revoked_at IS NOT NULL OR EXISTS (SELECT 1 FROM linktoken_revocations r
            WHERE r.sub = json_extract(s.value, '$[1]')
              AND (r.scope IS NULL OR r.scope = json_extract(s.value, '$[2]'))
              AND r.issued_before >= json_extract(s.value, '$[3]'))) AS revoked
    FROM json_each($3) AS s
    LEFT JOIN linktoken_tokens AS t ON t.jti = json_extract(s.value, '$[0]')
    ORDER BY s.key"
    };
}

/// `give_back!`, `settle!`, `record!` and `read!` as one call sharing the parameters, leaving
/// out what the batch has nothing for: most batches settle only successes (nothing to give
/// back) and record no refusal, and each part left out is a pass over the batch saved.
fn settle_then_read_sql(settlements: &[Settlement], records: &[Record]) -> &'static str {
    let give_back = settlements.iter().any(Settlement::gives_back);
    match (give_back, !settlements.is_empty(), !records.is_empty()) {
        (true, _, false) => concat!(give_back!(), settle!(), read!()),
        (true, _, true) => concat!(give_back!(), settle!(), record!(), read!()),
        (false, true, false) => concat!(settle!(), read!()),
        (false, true, true) => concat!(settle!(), record!(), read!()),
        (false, false, false) => read!(),
        (false, false, true) => concat!(record!(), read!()),
    }
}

/// Adds granted uses (`$1`), then inserts the spent uses' rows in order (`$2`), returning their
/// ids: `AUTOINCREMENT` gives them rising ids. The `WHERE true` tells SQLite's parser that
/// `ON CONFLICT` belongs to the upsert, not to a join. A link's first use writes what it names
/// (its id's claims never change); later ones touch no indexed column, so no index is rewritten.
const GRANT: &str = "INSERT INTO linktoken_tokens
        (jti, sub, scope, aud, max_uses, uses, first_used_at, last_used_at, expires_at)
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
        json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),
        json_extract(value, '$[6]'), json_extract(value, '$[6]'), json_extract(value, '$[7]')
    FROM json_each($1) WHERE true
    ON CONFLICT (jti) DO UPDATE SET
        uses = linktoken_tokens.uses + excluded.uses, max_uses = excluded.max_uses,
        last_used_at = excluded.last_used_at;

    INSERT INTO linktoken_uses
        (jti, sub, scope, method, path, client_ip, user_agent, status, outcome, used_at, holder)
    SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
        json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),
        json_extract(value, '$[6]'), NULL, 'spent', json_extract(value, '$[7]'), $3
    FROM json_each($2) ORDER BY key
    RETURNING id";

/// The database's clock, in unix milliseconds.
macro_rules! now_ms {
    () => {
        "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
    };
}

/// Forgets the holders (other than `$1`) silent for a day, and writes `$1`'s beat.
const BEAT: &str = concat!(
    "DELETE FROM linktoken_holders WHERE holder <> $1 AND alive_at < ",
    now_ms!(),
    " - 86400000;
    INSERT INTO linktoken_holders (holder, alive_at) VALUES ($1, ",
    now_ms!(),
    ") ON CONFLICT (holder) DO UPDATE SET alive_at = excluded.alive_at"
);

/// The links among `$1` (a JSON array) with an unsettled use whose holder beat within `$2`
/// milliseconds.
const IN_FLIGHT: &str = concat!(
    "SELECT DISTINCT u.jti FROM json_each($1) AS l
    JOIN linktoken_uses AS u ON u.jti = l.value
    JOIN linktoken_holders AS h ON h.holder = u.holder
    WHERE u.status IS NULL AND h.alive_at >= ",
    now_ms!(),
    " - $2"
);

#[rocket::async_trait]
impl Dialect for SqliteConnection {
    async fn begin(&mut self, _links: &[&str]) -> Result<(), Error> {
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *self).await?;
        Ok(())
    }

    async fn settle_then_read(
        &mut self,
        settlements: &[Settlement],
        records: &[Record],
        spends: &[SpendRequest],
    ) -> Result<Vec<LinkNow>, Error> {
        let sql = settle_then_read_sql(settlements, records);
        let settlements = json_rows::settlements(settlements)?;
        let records = json_rows::records(records)?;
        let spends = json_rows::spends(spends)?;
        // sqlx 0.7 on SQLite: drive a statement with rows to completion (fetch_all), or the
        // writes before it may not run.
        let states = sqlx::query(sql)
            .bind(settlements)
            .bind(records)
            .bind(spends)
            .fetch_all(&mut *self)
            .await?;
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
        let rows = sqlx::query(GRANT)
            .bind(tokens)
            .bind(uses)
            .bind(holder)
            .fetch_all(&mut *self)
            .await?;
        inserted_ids(&rows)
    }

    async fn beat(&mut self, holder: &str) -> Result<(), Error> {
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
        sqlx::query(end_statement(commit))
            .execute(&mut *self)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Outcome;

    async fn temp_store(conn: &mut SqliteConnection) -> i64 {
        sqlx::query_scalar("PRAGMA temp_store")
            .fetch_one(conn)
            .await
            .unwrap()
    }

    #[test]
    fn a_batch_runs_only_the_parts_it_has_rows_for() {
        let settled = |status| Settlement {
            jti: "l".into(),
            use_id: 1,
            status,
        };
        let parts = |settlements: &[Settlement], records: &[Record]| {
            let sql = settle_then_read_sql(settlements, records);
            [
                sql.contains("UPDATE linktoken_tokens"),
                sql.contains("UPDATE linktoken_uses"),
                sql.contains("INSERT INTO linktoken_uses"),
                sql.contains("SELECT COALESCE"),
            ]
        };
        assert_eq!(parts(&[], &[]), [false, false, false, true]);
        assert_eq!(parts(&[settled(200)], &[]), [false, true, false, true]);
        assert_eq!(
            parts(&[settled(200), settled(500)], &[]),
            [true, true, false, true]
        );
        let record = Record {
            jti: "l".into(),
            sub: "u".into(),
            scope: "s".into(),
            meta: Default::default(),
            status: 410,
            outcome: Outcome::Refused("used_up"),
            at: 0,
        };
        assert_eq!(
            parts(&[], std::slice::from_ref(&record)),
            [false, false, true, true]
        );
        assert_eq!(parts(&[settled(404)], &[record]), [true, true, true, true]);
    }

    /// One connection: each connection to `sqlite::memory:` opens a database of its own.
    async fn memory_pool() -> SqlitePool {
        sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap()
    }

    async fn indexes_of_uses(pool: &SqlitePool) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT name FROM sqlite_master
            WHERE type = 'index' AND tbl_name = 'linktoken_uses' ORDER BY name",
        )
        .fetch_all(pool)
        .await
        .unwrap()
    }

    async fn has_index_over_every_use(pool: &SqlitePool) -> bool {
        indexes_of_uses(pool)
            .await
            .iter()
            .any(|name| name == "linktoken_uses_by_jti")
    }

    #[rocket::async_test]
    async fn uses_are_indexed_by_link_only_while_in_flight() {
        let pool = memory_pool().await;
        migrate(&pool).await.unwrap();
        assert_eq!(
            indexes_of_uses(&pool).await,
            ["linktoken_uses_by_time", "linktoken_uses_in_flight"]
        );
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {IN_FLIGHT}"))
                .bind(r#"["a"]"#)
                .bind(HOLDER_SILENCE_MS)
                .fetch_all(&pool)
                .await
                .unwrap();
        assert!(
            plan.iter()
                .any(|(.., step)| step.contains("USING INDEX linktoken_uses_in_flight")),
            "{plan:?}"
        );
    }

    #[rocket::async_test]
    async fn the_index_over_every_use_goes_once_on_the_way_to_version_3() {
        let pool = memory_pool().await;
        migrate(&pool).await.unwrap();
        // A version 2 ledger: its index over every use, and no version 3 yet.
        sqlx::query("CREATE INDEX linktoken_uses_by_jti ON linktoken_uses (jti)")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("UPDATE linktoken_schema SET version = 2")
            .execute(&pool)
            .await
            .unwrap();
        migrate(&pool).await.unwrap();
        assert!(!has_index_over_every_use(&pool).await);
        assert_eq!(schema_version(&pool).await.unwrap(), Some(SCHEMA_VERSION));
        // Created again by the application, it is the application's: it stays.
        sqlx::query("CREATE INDEX linktoken_uses_by_jti ON linktoken_uses (jti)")
            .execute(&pool)
            .await
            .unwrap();
        migrate(&pool).await.unwrap();
        assert!(has_index_over_every_use(&pool).await);
    }

    #[rocket::async_test]
    async fn only_the_writers_connection_keeps_statement_journals_in_memory() {
        let pool = SqlitePool::connect("sqlite::memory:").await.unwrap();
        // 2 is MEMORY; 0, SQLite's default, follows the build (a file here).
        assert_eq!(temp_store(&mut open(&pool).await.unwrap()).await, 2);
        assert_eq!(temp_store(&mut pool.acquire().await.unwrap()).await, 0);
    }
}
