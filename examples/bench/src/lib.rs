//! The benchmark server: two routes that differ only by `#[expiring_link]`, so the difference
//! between their figures is what the library costs a request.
//!
//! - `GET /health`: plain `ok`.
//! - `GET /plain/<n>`: `ok <n>`, unprotected.
//! - `GET /guarded/<n>`: `ok <n>`, behind a link of scope `bench` allowing 10^9 uses, so a
//!   link is never used up during a run. Its user type accepts any id without a query: the
//!   only database work is the library's own.
//!
//! Links for it come from [`links`] (the `bench-links` binary prints them). The ledger lives in
//! the database `bench`: SQLite by default, PostgreSQL when `databases.bench.url` says
//! `postgres://`. `run.sh` beside this crate runs the whole HTTP benchmark.

mod links;
mod routes;

use rocket::fairing::AdHoc;
use rocket::figment::providers::{Env, Format, Toml};
use rocket::figment::{Figment, Profile};
use rocket::{Build, Rocket};
use rocket_db_pools::{sqlx, Database};

pub use links::{links, Kind};
pub use routes::Visitor;

/// The scope of the guarded route's links.
pub const SCOPE: &str = "bench";

/// The bench database on SQLite (the default).
#[derive(Database)]
#[database("bench")]
pub struct SqliteDb(sqlx::SqlitePool);

/// The bench database on PostgreSQL.
#[derive(Database)]
#[database("bench")]
pub struct PgDb(sqlx::PgPool);

/// The server's configuration: Rocket's usual sources, with `Rocket.toml` read from this crate's
/// directory (unless `ROCKET_CONFIG` names another file), so that the server and `bench-links`
/// find it wherever they are started.
///
/// ```
/// let figment = bench::figment();
/// assert!(figment.contains("databases.bench.url"));
/// ```
pub fn figment() -> Figment {
    let file = Env::var_or(
        "ROCKET_CONFIG",
        concat!(env!("CARGO_MANIFEST_DIR"), "/Rocket.toml"),
    );
    Figment::from(rocket::Config::default())
        .merge(Toml::file(file).nested())
        .merge(Env::prefixed("ROCKET_").ignore(&["PROFILE"]).global())
        .select(Profile::from_env_or(
            "ROCKET_PROFILE",
            rocket::Config::DEFAULT_PROFILE,
        ))
}

/// The server, configured by [`figment`].
///
/// ```no_run
/// #[rocket::launch]
/// fn rocket() -> _ {
///     bench::rocket()
/// }
/// ```
pub fn rocket() -> Rocket<Build> {
    rocket_with(figment())
}

/// The server, with the given configuration. The database URL's scheme picks the pool:
/// `postgres://` (or `postgresql://`) for PostgreSQL, anything else for SQLite, whose file is
/// switched to WAL at ignite.
///
/// ```no_run
/// let figment = bench::figment().merge(("databases.bench.url", "postgres://127.0.0.1/bench"));
/// let _rocket = bench::rocket_with(figment);
/// ```
pub fn rocket_with(figment: Figment) -> Rocket<Build> {
    let url: String = figment
        .extract_inner("databases.bench.url")
        .unwrap_or_default();
    let rocket = rocket::custom(figment).mount("/", routes::routes());
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        rocket
            .attach(PgDb::init())
            .attach(rocket_linktoken::fairing::<PgDb>())
    } else {
        rocket
            .attach(SqliteDb::init())
            .attach(wal())
            .attach(rocket_linktoken::fairing::<SqliteDb>())
    }
}

/// Switches the SQLite file to WAL (a setting of the file, so once is enough), as the newsletter
/// example does: reads then never wait for a spend's write.
fn wal() -> AdHoc {
    AdHoc::try_on_ignite("bench: SQLite WAL", |rocket| async move {
        let Some(db) = SqliteDb::fetch(&rocket) else {
            return Err(rocket);
        };
        match sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&**db)
            .await
        {
            Ok(_) => Ok(rocket),
            Err(e) => {
                rocket::error!("bench: switching the SQLite file to WAL failed: {e}");
                Err(rocket)
            }
        }
    })
}
