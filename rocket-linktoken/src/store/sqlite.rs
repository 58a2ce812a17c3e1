//! The ledger on SQLite: the embedded default.
//!
//! SQLite has no data-modifying CTEs, so a spend is one upsert and one audit insert inside a
//! transaction. The upsert writes first, so the transaction holds the write lock from its first
//! statement and concurrent spends queue on the busy timeout instead of deadlocking.

use rocket_db_pools::sqlx::{self, Row, SqliteConnection, SqlitePool};

use super::{token_record, use_record, LinkState, RequestMeta, Spent, TokenRecord, UseRecord};
use crate::{Claims, Error};

const SCHEMA_VERSION: i64 = 1;

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
        used_at INTEGER NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS linktoken_uses_by_jti ON linktoken_uses (jti)",
    "CREATE INDEX IF NOT EXISTS linktoken_uses_by_time ON linktoken_uses (used_at)",
    "CREATE TABLE IF NOT EXISTS linktoken_revocations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sub TEXT NOT NULL,
        scope TEXT,
        issued_before INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS linktoken_revocations_by_sub ON linktoken_revocations (sub)",
];

/// True when a revocation of the user (`?1` sub, `?2` scope) covers a link issued at `?3`.
const USER_REVOKED: &str = "EXISTS (SELECT 1 FROM linktoken_revocations r
    WHERE r.sub = ?1 AND (r.scope IS NULL OR r.scope = ?2) AND r.issued_before >= ?3)";

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
    let current: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM linktoken_schema")
        .fetch_one(&mut *conn)
        .await?;
    if current.unwrap_or(0) < SCHEMA_VERSION {
        for statement in SCHEMA {
            sqlx::query(statement).execute(&mut *conn).await?;
        }
        sqlx::query("INSERT OR IGNORE INTO linktoken_schema (version) VALUES (?1)")
            .bind(SCHEMA_VERSION)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub(super) async fn spend(
    pool: &SqlitePool,
    claims: &Claims,
    issued: i64,
    cap: u32,
    request: &RequestMeta,
    now: i64,
) -> Result<Option<Spent>, Error> {
    let mut tx = pool.begin().await?;
    // The upsert is the spend: it inserts the first use, or adds one to a row that is neither
    // revoked nor used up. No row back means no use was left.
    let spend = format!(
        "INSERT INTO linktoken_tokens
            (jti, sub, scope, aud, max_uses, uses, first_used_at, last_used_at, expires_at)
         SELECT ?4, ?1, ?2, ?5, ?6, 1, ?7, ?7, ?8 WHERE NOT {USER_REVOKED}
         ON CONFLICT (jti) DO UPDATE SET
            uses = linktoken_tokens.uses + 1,
            sub = excluded.sub, scope = excluded.scope, aud = excluded.aud,
            max_uses = excluded.max_uses, expires_at = excluded.expires_at,
            first_used_at = COALESCE(linktoken_tokens.first_used_at, excluded.first_used_at),
            last_used_at = excluded.last_used_at
         WHERE linktoken_tokens.revoked_at IS NULL AND linktoken_tokens.uses < excluded.max_uses
         RETURNING uses"
    );
    // sqlx 0.7 on SQLite: drive RETURNING to completion (fetch_all), or the write may not run.
    let rows = sqlx::query(&spend)
        .bind(&claims.sub)
        .bind(&claims.scope)
        .bind(issued)
        .bind(&claims.jti)
        .bind(&claims.aud)
        .bind(i64::from(cap))
        .bind(now)
        .bind(claims.exp)
        .fetch_all(&mut *tx)
        .await?;
    let Some(row) = rows.first() else {
        tx.rollback().await?;
        return Ok(None);
    };
    let uses: i64 = row.try_get(0)?;
    let ids = sqlx::query(
        "INSERT INTO linktoken_uses
            (jti, sub, scope, method, path, client_ip, user_agent, status, outcome, used_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, ?9)
         RETURNING id",
    )
    .bind(&claims.jti)
    .bind(&claims.sub)
    .bind(&claims.scope)
    .bind(&request.method)
    .bind(&request.path)
    .bind(&request.client_ip)
    .bind(&request.user_agent)
    .bind(super::outcome::SPENT)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let use_id: i64 = match ids.first() {
        Some(row) => row.try_get(0)?,
        None => {
            return Err(Error::Database(std::sync::Arc::new(
                sqlx::Error::RowNotFound,
            )))
        }
    };
    tx.commit().await?;
    Ok(Some(Spent { use_id, uses }))
}

pub(super) async fn state(
    pool: &SqlitePool,
    claims: &Claims,
    issued: i64,
) -> Result<LinkState, Error> {
    let query = format!(
        "SELECT
            EXISTS (SELECT 1 FROM linktoken_tokens WHERE jti = ?4 AND revoked_at IS NOT NULL)
                OR {USER_REVOKED},
            EXISTS (SELECT 1 FROM linktoken_tokens WHERE jti = ?4 AND uses >= max_uses)"
    );
    let row = sqlx::query(&query)
        .bind(&claims.sub)
        .bind(&claims.scope)
        .bind(issued)
        .bind(&claims.jti)
        .fetch_one(pool)
        .await?;
    Ok(LinkState {
        revoked: row.try_get(0)?,
        used_up: row.try_get(1)?,
    })
}

pub(super) async fn settle(
    pool: &SqlitePool,
    jti: &str,
    use_id: i64,
    status: u16,
) -> Result<(), Error> {
    let record = "UPDATE linktoken_uses SET status = ?1, outcome = ?2 WHERE id = ?3";
    if status < 400 {
        sqlx::query(record)
            .bind(i64::from(status))
            .bind(super::outcome::SPENT)
            .bind(use_id)
            .execute(pool)
            .await?;
        return Ok(());
    }
    // A failed response gives its use back, together with saying so in its row.
    let mut tx = pool.begin().await?;
    sqlx::query(record)
        .bind(i64::from(status))
        .bind(super::outcome::RETURNED)
        .bind(use_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE linktoken_tokens SET uses = uses - 1 WHERE jti = ?1 AND uses > 0")
        .bind(jti)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn record(
    pool: &SqlitePool,
    claims: &Claims,
    request: &RequestMeta,
    status: u16,
    outcome: &str,
    now: i64,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO linktoken_uses
            (jti, sub, scope, method, path, client_ip, user_agent, status, outcome, used_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .bind(&claims.jti)
    .bind(&claims.sub)
    .bind(&claims.scope)
    .bind(&request.method)
    .bind(&request.path)
    .bind(&request.client_ip)
    .bind(&request.user_agent)
    .bind(i64::from(status))
    .bind(outcome)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn revoke(pool: &SqlitePool, jti: &str, now: i64) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO linktoken_tokens (jti, uses, revoked_at) VALUES (?1, 0, ?2)
         ON CONFLICT (jti) DO UPDATE SET
            revoked_at = COALESCE(linktoken_tokens.revoked_at, excluded.revoked_at)",
    )
    .bind(jti)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn revoke_user(
    pool: &SqlitePool,
    sub: &str,
    scope: Option<&str>,
    before: i64,
    now: i64,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO linktoken_revocations (sub, scope, issued_before, created_at)
         VALUES (?1, ?2, ?3, ?4)",
    )
    .bind(sub)
    .bind(scope)
    .bind(before)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn token(pool: &SqlitePool, jti: &str) -> Result<Option<TokenRecord>, Error> {
    let row = sqlx::query(
        "SELECT jti, sub, scope, aud, max_uses, uses, first_used_at, last_used_at, expires_at,
                revoked_at
         FROM linktoken_tokens WHERE jti = ?1",
    )
    .bind(jti)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(token_record).transpose()
}

pub(super) async fn uses(pool: &SqlitePool, jti: &str) -> Result<Vec<UseRecord>, Error> {
    let rows = sqlx::query(
        "SELECT id, jti, sub, scope, method, path, client_ip, user_agent, status, outcome, used_at
         FROM linktoken_uses WHERE jti = ?1 ORDER BY id",
    )
    .bind(jti)
    .fetch_all(pool)
    .await?;
    rows.iter().map(use_record).collect()
}
