//! The newsletter's own data: subscribers, lists and subscriptions, on SQLite, PostgreSQL or
//! MySQL.
//!
//! The SQL is the subset the databases speak, so each query is written once and run on
//! whichever pool the configuration chose. Two things differ: MySQL binds `?` where the others
//! bind `$1`, `$2`... (each query names each of its parameters once, in order, so [`Newsletter::sql`]
//! rewrites them), and it skips seed rows already there with `INSERT IGNORE` rather than
//! `ON CONFLICT DO NOTHING`.

use std::borrow::Cow;

use rocket::fairing::AdHoc;
use rocket::Request;
use rocket_db_pools::{sqlx, Database};
use rocket_linktoken::{BoxError, LinkUser};
use serde::Serialize;

/// The newsletter database on SQLite (the default).
#[derive(Database)]
#[database("newsletter")]
pub struct SqliteDb(sqlx::SqlitePool);

/// The newsletter database on PostgreSQL.
#[derive(Database)]
#[database("newsletter")]
pub struct PgDb(sqlx::PgPool);

/// The newsletter database on MySQL or MariaDB.
#[derive(Database)]
#[database("newsletter")]
pub struct MySqlDb(sqlx::MySqlPool);

/// The newsletter's data, on whichever database was configured. Managed state.
#[derive(Clone)]
pub enum Newsletter {
    /// On SQLite.
    Sqlite(sqlx::SqlitePool),
    /// On PostgreSQL.
    Postgres(sqlx::PgPool),
    /// On MySQL.
    Mysql(sqlx::MySqlPool),
}

/// Runs one sqlx expression on the pool, whatever its database.
macro_rules! on_pool {
    ($data:expr, $pool:ident => $body:expr) => {
        match $data {
            Newsletter::Sqlite($pool) => $body,
            Newsletter::Postgres($pool) => $body,
            Newsletter::Mysql($pool) => $body,
        }
    };
}

/// A pool the newsletter's data can live in.
pub trait NewsletterPool {
    /// The data on this pool.
    fn newsletter(&self) -> Newsletter;
}

impl NewsletterPool for sqlx::SqlitePool {
    fn newsletter(&self) -> Newsletter {
        Newsletter::Sqlite(self.clone())
    }
}

impl NewsletterPool for sqlx::PgPool {
    fn newsletter(&self) -> Newsletter {
        Newsletter::Postgres(self.clone())
    }
}

impl NewsletterPool for sqlx::MySqlPool {
    fn newsletter(&self) -> Newsletter {
        Newsletter::Mysql(self.clone())
    }
}

/// Creates and seeds the tables in `D` at ignite, then manages [`Newsletter`].
pub(crate) fn fairing<D>() -> AdHoc
where
    D: Database,
    D::Pool: NewsletterPool,
{
    AdHoc::try_on_ignite("newsletter data", |rocket| async move {
        let Some(db) = D::fetch(&rocket) else {
            return Err(rocket);
        };
        let data = db.newsletter();
        match data.prepare().await {
            Ok(()) => Ok(rocket.manage(data)),
            Err(e) => {
                rocket::error!("newsletter: preparing the database failed: {e}");
                Err(rocket)
            }
        }
    })
}

const TABLES: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS subscribers (
        id BIGINT PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS lists (id BIGINT PRIMARY KEY, name TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS subscriptions (
        subscriber_id BIGINT NOT NULL, list_id BIGINT NOT NULL, active BOOLEAN NOT NULL,
        PRIMARY KEY (subscriber_id, list_id))",
];

/// The seed rows, each statement after its `INSERT`: rows already there are kept as they are.
const SEEDS: &[&str] = &[
    "INTO subscribers (id, email, name) VALUES
        (1, 'ada@example.com', 'Ada'), (2, 'grace@example.com', 'Grace'),
        (3, 'edsger@example.com', 'Edsger')",
    "INTO lists (id, name) VALUES (1, 'Weekly digest'), (2, 'Release announcements')",
    "INTO subscriptions (subscriber_id, list_id, active)
     SELECT s.id, l.id, TRUE FROM subscribers s, lists l WHERE s.id <= 3",
];

/// A seed statement that keeps the rows already there.
fn seed(data: &Newsletter, seed: &str) -> String {
    match data {
        Newsletter::Mysql(_) => format!("INSERT IGNORE {seed}"),
        _ => format!("INSERT {seed} ON CONFLICT DO NOTHING"),
    }
}

/// A subscriber, as links name them (`sub` is the id).
#[derive(Debug, Clone, Serialize)]
pub struct Subscriber {
    /// The id links carry.
    pub id: i64,
    /// Where the newsletter goes.
    pub email: String,
    /// How the newsletter greets them.
    pub name: String,
}

/// One list a subscriber is (or was) on.
#[derive(Debug, Clone, Serialize)]
pub struct Subscription {
    /// The list's id.
    pub list_id: i64,
    /// The list's name.
    pub list_name: String,
    /// Whether the subscriber still receives it.
    pub active: bool,
}

impl From<(i64, String, String)> for Subscriber {
    fn from((id, email, name): (i64, String, String)) -> Self {
        Subscriber { id, email, name }
    }
}

impl Newsletter {
    /// A query as this database binds its parameters: `$1`, `$2`... become `?` on MySQL,
    /// which binds by position (each query names each parameter once, in order).
    fn sql(&self, query: &'static str) -> Cow<'static, str> {
        let Newsletter::Mysql(_) = self else {
            return Cow::Borrowed(query);
        };
        let mut positional = String::with_capacity(query.len());
        let mut rest = query;
        while let Some(at) = rest.find('$') {
            positional.push_str(&rest[..at]);
            let digits = rest[at + 1..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            positional.push_str(if digits > 0 { "?" } else { "$" });
            rest = &rest[at + 1 + digits..];
        }
        positional.push_str(rest);
        Cow::Owned(positional)
    }

    /// Creates the tables if missing and seeds subscribers 1..3 and lists 1..2 once.
    pub async fn prepare(&self) -> Result<(), sqlx::Error> {
        match self {
            Newsletter::Sqlite(pool) => {
                // WAL lets pages be read while a link is being spent.
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(pool)
                    .await?;
                for statement in TABLES {
                    sqlx::query(statement).execute(pool).await?;
                }
                for statement in SEEDS {
                    sqlx::query(&seed(self, statement)).execute(pool).await?;
                }
            }
            Newsletter::Postgres(pool) => {
                // Servers starting together on a new database take turns creating tables.
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock(hashtext('newsletter_schema'))")
                    .execute(&mut *tx)
                    .await?;
                for statement in TABLES {
                    sqlx::query(statement).execute(&mut *tx).await?;
                }
                for statement in SEEDS {
                    sqlx::query(&seed(self, statement))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }
            Newsletter::Mysql(pool) => {
                // MySQL lets servers starting together create the same table; seeding twice
                // inserts nothing twice.
                for statement in TABLES {
                    sqlx::query(statement).execute(pool).await?;
                }
                for statement in SEEDS {
                    sqlx::query(&seed(self, statement)).execute(pool).await?;
                }
            }
        }
        Ok(())
    }

    /// Every subscriber, by id.
    pub async fn subscribers(&self) -> Result<Vec<Subscriber>, sqlx::Error> {
        let query = "SELECT id, email, name FROM subscribers ORDER BY id";
        let rows: Vec<(i64, String, String)> =
            on_pool!(self, pool => sqlx::query_as(&self.sql(query)).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(Subscriber::from).collect())
    }

    /// The subscriber with this id.
    pub async fn subscriber(&self, id: i64) -> Result<Option<Subscriber>, sqlx::Error> {
        let query = "SELECT id, email, name FROM subscribers WHERE id = $1";
        let row: Option<(i64, String, String)> = on_pool!(self, pool =>
            sqlx::query_as(&self.sql(query)).bind(id).fetch_optional(pool).await)?;
        Ok(row.map(Subscriber::from))
    }

    /// The subscriber's lists, by list id.
    pub async fn subscriptions(&self, subscriber: i64) -> Result<Vec<Subscription>, sqlx::Error> {
        let query = "SELECT l.id AS list_id, l.name AS list_name, s.active
            FROM subscriptions s JOIN lists l ON l.id = s.list_id
            WHERE s.subscriber_id = $1 ORDER BY l.id";
        let rows: Vec<(i64, String, bool)> = on_pool!(self, pool =>
            sqlx::query_as(&self.sql(query)).bind(subscriber).fetch_all(pool).await)?;
        let subscription = |(list_id, list_name, active)| Subscription {
            list_id,
            list_name,
            active,
        };
        Ok(rows.into_iter().map(subscription).collect())
    }

    /// Stops sending `list` to `subscriber`. False if they were never on it.
    pub async fn unsubscribe(&self, subscriber: i64, list: i64) -> Result<bool, sqlx::Error> {
        let query = "UPDATE subscriptions SET active = FALSE
            WHERE subscriber_id = $1 AND list_id = $2";
        let done = on_pool!(self, pool => sqlx::query(&self.sql(query)).bind(subscriber).bind(list)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }
}

#[rocket::async_trait]
impl LinkUser for Subscriber {
    async fn load(id: &str, request: &Request<'_>) -> Result<Option<Self>, BoxError> {
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let data = request
            .rocket()
            .state::<Newsletter>()
            .ok_or("newsletter data is not managed")?;
        Ok(data.subscriber(id).await?)
    }

    /// Links are bound to the address they were sent to: changing it voids them.
    fn fingerprint(&self) -> Option<String> {
        Some(self.email.clone())
    }
}
