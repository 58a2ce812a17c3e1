//! A small newsletter site: every email it would send carries rocket-linktoken links.
//!
//! - `GET /health`: plain `ok`.
//! - `GET /style.css`: the site's stylesheet; errors that are not refused links (404, 415,
//!   422, 500, and a form that does not confirm) get the site's own pages.
//! - `GET /`: the subscribers, each with the links their next email would carry, and the
//!   RFC 8058 one-click unsubscribe headers of each list's next email (once `linktoken.base_url`
//!   is an https address; until then, the sentence saying why there are none).
//! - `GET /unsubscribe/<list>`: previews the link (spends nothing) and asks for confirmation,
//!   so that mail scanners fetching the link do not unsubscribe anybody.
//! - `POST /unsubscribe/<list>`: spends the one-time link, from the confirmation form
//!   (`confirm=yes`) or from a mail client's RFC 8058 one-click (`List-Unsubscribe=One-Click`).
//! - `GET /preferences`: a link that works five times.
//! - `GET /metrics`: the library's metrics in Prometheus' text format (see [`rocket_with`]).
//! - `/admin`: the library's admin pages, behind HTTP Basic with `admin_password` (see
//!   [`admin`]).
//!
//! Links are bound to the subscriber's email address ([`Subscriber`]'s
//! `LinkUser::fingerprint`): changing it voids the links sent before.
//!
//! The data lives in the database `newsletter`: SQLite by default, PostgreSQL when
//! `databases.newsletter.url` says `postgres://`, MySQL or MariaDB when it says `mysql://`.

pub mod admin;
mod data;
mod prometheus;
mod routes;

use rocket::figment::providers::{Env, Format, Toml};
use rocket::figment::{Figment, Profile};
use rocket::{Build, Rocket};
use rocket_db_pools::Database;

pub use data::{MySqlDb, Newsletter, NewsletterPool, PgDb, SqliteDb, Subscriber, Subscription};

/// The example's configuration: Rocket's usual sources, with `Rocket.toml` read from this
/// crate's directory (unless `ROCKET_CONFIG` names another file), so that `cargo run -p
/// newsletter` finds it from anywhere in the workspace.
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

/// The application, configured by [`figment`].
pub fn rocket() -> Rocket<Build> {
    rocket_with(figment())
}

/// The application, with the given configuration. The database URL's scheme picks the pool:
/// `postgres://` (or `postgresql://`) for PostgreSQL, `mysql://` (or `mariadb://`) for MySQL,
/// anything else for SQLite. The first site
/// built in a process installs the Prometheus recorder that `GET /metrics` renders.
pub fn rocket_with(figment: Figment) -> Rocket<Build> {
    let url: String = figment
        .extract_inner("databases.newsletter.url")
        .unwrap_or_default();
    let metrics = prometheus::recorder();
    let rocket = admin::mount(rocket::custom(figment.clone()), &figment)
        .mount("/", routes::routes())
        .mount("/", rocket::routes![prometheus::metrics])
        .attach(prometheus::upkeep(metrics.clone()))
        .manage(metrics)
        .register("/", routes::catchers())
        .attach(routes::templates());
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        rocket
            .attach(PgDb::init())
            .attach(rocket_linktoken::fairing::<PgDb>())
            .attach(data::fairing::<PgDb>())
    } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
        rocket
            .attach(MySqlDb::init())
            .attach(rocket_linktoken::fairing::<MySqlDb>())
            .attach(data::fairing::<MySqlDb>())
    } else {
        rocket
            .attach(SqliteDb::init())
            .attach(rocket_linktoken::fairing::<SqliteDb>())
            .attach(data::fairing::<SqliteDb>())
    }
}
