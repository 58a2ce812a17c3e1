//! A small application for behaviours the newsletter has no route for: a handler that holds
//! the request open, a handler that fails, a route that takes the configured default cap.

use std::sync::Arc;

use rocket::figment::Figment;
use rocket::form::Form;
use rocket::http::Status;
use rocket::request::{self, FromRequest};
use rocket::{get, post, routes, Build, FromForm, Request, Rocket, Route, State};
use rocket_db_pools::{sqlx, Database};
use rocket_linktoken::{expiring_link, BoxError, LinkUser, TokenUser};

use crate::{Backend, TestDb, SECRET};

/// The test application's database on SQLite.
#[derive(Database)]
#[database("app")]
pub struct SqliteDb(sqlx::SqlitePool);

/// The test application's database on PostgreSQL.
#[derive(Database)]
#[database("app")]
pub struct PgDb(sqlx::PgPool);

/// The test application's database on MySQL.
#[derive(Database)]
#[database("app")]
pub struct MySqlDb(sqlx::MySqlPool);

/// Users 1, 2 and 3 exist; nobody else does.
pub struct Member(pub u32);

#[rocket::async_trait]
impl LinkUser for Member {
    async fn load(id: &str, _: &Request<'_>) -> Result<Option<Self>, BoxError> {
        Ok(id
            .parse()
            .ok()
            .filter(|id| (1..=3).contains(id))
            .map(Member))
    }
}

/// Lets a test hold a request inside its handler: the handler says it entered, then waits to
/// be released.
pub struct Gate {
    entered: std::sync::Mutex<std::sync::mpsc::Sender<()>>,
    release: tokio::sync::Semaphore,
}

impl Gate {
    /// A gate, and the receiver that hears each request enter it.
    pub fn new() -> (Arc<Gate>, std::sync::mpsc::Receiver<()>) {
        let (tx, rx) = std::sync::mpsc::channel();
        let gate = Gate {
            entered: std::sync::Mutex::new(tx),
            release: tokio::sync::Semaphore::new(0),
        };
        (Arc::new(gate), rx)
    }

    /// Lets one waiting request go on.
    pub fn release(&self) {
        self.release.add_permits(1);
    }
}

#[expiring_link(scope = "slow", max_uses = 1)]
#[get("/slow")]
async fn slow(user: TokenUser<Member>, gate: &State<Arc<Gate>>) -> String {
    if let Ok(entered) = gate.entered.lock() {
        let _ = entered.send(());
    }
    if let Ok(permit) = gate.release.acquire().await {
        permit.forget();
    }
    format!("slow for {}", user.0)
}

/// Like `slow`, then fails: its use is given back.
#[expiring_link(scope = "slow", max_uses = 1)]
#[get("/slow/fail")]
async fn slow_fail(_user: TokenUser<Member>, gate: &State<Arc<Gate>>) -> Status {
    if let Ok(entered) = gate.entered.lock() {
        let _ = entered.send(());
    }
    if let Ok(permit) = gate.release.acquire().await {
        permit.forget();
    }
    Status::BadRequest
}

#[expiring_link(scope = "boom", max_uses = 1)]
#[get("/boom")]
fn boom(_user: TokenUser<Member>) -> Status {
    Status::InternalServerError
}

#[expiring_link(scope = "default")]
#[get("/default")]
fn default_cap(user: TokenUser<Member>) -> String {
    format!("{} of default", user.uses().unwrap_or(0))
}

#[expiring_link(scope = "default", preview)]
#[get("/default/preview")]
fn default_preview(user: TokenUser<Member>) -> String {
    format!("preview for {}", user.0)
}

/// A guard that always forwards: the route it is on never runs.
pub struct Forward;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Forward {
    type Error = ();

    async fn from_request(_: &'r Request<'_>) -> request::Outcome<Self, ()> {
        request::Outcome::Forward(Status::NotFound)
    }
}

/// Spends the link, then forwards to `forwarded_to`.
#[expiring_link(scope = "forward", max_uses = 1)]
#[get("/forward", rank = 1)]
fn forwards(_user: TokenUser<Member>, _forward: Forward) -> &'static str {
    "never"
}

#[expiring_link(scope = "forward", max_uses = 1)]
#[get("/forward", rank = 2)]
fn forwarded_to(user: TokenUser<Member>) -> String {
    format!("use {} of 1", user.uses().unwrap_or(0))
}

/// A form field, so that a body of another type makes the form guard forward.
#[derive(FromForm)]
pub struct Item {
    name: String,
}

/// Looks at an item with a `view` link; a body that is not a form forwards to the next route.
#[expiring_link(scope = "view", max_uses = 5)]
#[post("/item", data = "<item>")]
fn view_item(user: TokenUser<Member>, item: Form<Item>) -> String {
    format!("{} viewed {}", user.0, item.name)
}

/// Deletes an item with a `delete` link, at most once: same path, the body as plain text.
#[expiring_link(scope = "delete", max_uses = 1)]
#[post("/item", data = "<body>", rank = 2)]
fn delete_item(user: TokenUser<Member>, body: String) -> String {
    format!("{} deleted {body}", user.0)
}

/// Reads a note with a link of five uses; a body that is not a form forwards.
#[expiring_link(scope = "note", max_uses = 5)]
#[post("/note", data = "<item>")]
fn read_note(user: TokenUser<Member>, item: Form<Item>) -> String {
    format!("{} read {}", user.0, item.name)
}

/// Archives a note with the same link, on its first use only.
#[expiring_link(scope = "note", max_uses = 1)]
#[post("/note", data = "<body>", rank = 2)]
fn archive_note(user: TokenUser<Member>, body: String) -> String {
    format!("{} archived {body}", user.0)
}

/// The test application's routes.
pub fn routes() -> Vec<Route> {
    routes![
        slow,
        slow_fail,
        boom,
        default_cap,
        default_preview,
        forwards,
        forwarded_to,
        view_item,
        delete_item,
        read_note,
        archive_note
    ]
}

/// The test application on a fresh database, with `extra` configuration merged last.
pub fn app(backend: Backend, db: &TestDb, gate: Arc<Gate>, extra: Figment) -> Rocket<Build> {
    let figment = rocket::Config::figment()
        .merge(("port", 0))
        .merge(("address", "127.0.0.1"))
        .merge(("log_level", "off"))
        .merge(("cli_colors", false))
        .merge(("linktoken.secret", SECRET))
        .merge(("linktoken.default_max_uses", 3))
        .merge(("databases.app.url", &db.url))
        .merge(extra);
    let rocket = rocket::custom(figment).mount("/", routes()).manage(gate);
    match backend {
        Backend::Sqlite => rocket
            .attach(SqliteDb::init())
            .attach(rocket_linktoken::fairing::<SqliteDb>()),
        Backend::Postgres => rocket
            .attach(PgDb::init())
            .attach(rocket_linktoken::fairing::<PgDb>()),
        Backend::Mysql => rocket
            .attach(MySqlDb::init())
            .attach(rocket_linktoken::fairing::<MySqlDb>()),
    }
}
