//! The application's database, as its configuration names it, and the ledger in it.

use std::time::Duration;

use rocket::figment::Figment;
use rocket_db_pools::sqlx;
use rocket_linktoken::{Ledger, LedgerPool};

use crate::Failure;

/// Connects to the database configured under `databases`: `name`, or the only one there is.
pub(crate) async fn connect(figment: &Figment, name: Option<&str>) -> Result<Ledger, Failure> {
    let name = match name {
        Some(name) => name.to_string(),
        None => only_database(figment)?,
    };
    let config: rocket_db_pools::Config = figment
        .focus(&format!("databases.{name}"))
        .join(("max_connections", 1))
        .join(("connect_timeout", 5))
        .extract()
        .map_err(|e| {
            Failure::Failed(format!(
                "no usable database `{name}` under `databases`: {e}"
            ))
        })?;
    let timeout = Duration::from_secs(config.connect_timeout);
    let url = config.url.as_str();
    let ledger = match url.split_once(':').map(|(scheme, _)| scheme) {
        #[cfg(feature = "sqlite")]
        Some("sqlite") => open::<sqlx::Sqlite>(url, timeout).await,
        #[cfg(feature = "postgres")]
        Some("postgres" | "postgresql") => open::<sqlx::Postgres>(url, timeout).await,
        #[cfg(feature = "mysql")]
        Some("mysql" | "mariadb") => open::<sqlx::MySql>(url, timeout).await,
        _ => {
            return Err(Failure::Failed(format!(
                "the database `{name}` is not one this linktoken can open (built for: {})",
                BACKENDS.join(", ")
            )))
        }
    };
    ledger.map_err(|e| Failure::Failed(format!("cannot reach the database `{name}`: {e}")))
}

/// A pool of one connection to `url`, and the ledger in it.
async fn open<DB>(url: &str, timeout: Duration) -> Result<Ledger, sqlx::Error>
where
    DB: sqlx::Database,
    sqlx::Pool<DB>: LedgerPool,
{
    let pool = sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(1)
        .acquire_timeout(timeout)
        .connect(url)
        .await?;
    Ok(pool.ledger())
}

/// The URL schemes this build opens.
const BACKENDS: &[&str] = &[
    #[cfg(feature = "sqlite")]
    "sqlite:",
    #[cfg(feature = "postgres")]
    "postgres:",
    #[cfg(feature = "mysql")]
    "mysql:",
];

fn only_database(figment: &Figment) -> Result<String, Failure> {
    let names: Vec<String> = figment
        .find_value("databases")
        .ok()
        .and_then(|value| value.into_dict())
        .map(|databases| databases.into_keys().collect())
        .unwrap_or_default();
    match names.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(Failure::Failed(
            "no database is configured under `databases` (Rocket.toml, or ROCKET_DATABASES)".into(),
        )),
        several => Err(Failure::Usage(format!(
            "several databases are configured ({}): choose one with --database NAME",
            several.join(", ")
        ))),
    }
}

/// Fails unless the library's tables are in the database: commands that only read or delete
/// say so rather than create them.
pub(crate) async fn require_tables(ledger: &Ledger) -> Result<(), Failure> {
    match ledger.schema_version().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(Failure::Failed(
            "the database has no linktoken tables: the application creates them when it launches (so does `linktoken revoke`)".into(),
        )),
        Err(e) => Err(database_failed(&e)),
    }
}

/// The one line for a failed database statement.
pub(crate) fn database_failed(error: &rocket_linktoken::Error) -> Failure {
    match std::error::Error::source(error) {
        Some(source) => Failure::Failed(format!("the database failed: {source}")),
        None => Failure::Failed(error.to_string()),
    }
}
