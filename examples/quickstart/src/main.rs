//! The quick start: one-time unsubscribe links to a Rocket route, on SQLite.

use rocket::fairing::{self, AdHoc};
use rocket::form::Form;
use rocket::{get, launch, post, routes, Build, FromForm, Request, Rocket, State};
use rocket_db_pools::{sqlx, Database};
use rocket_linktoken::{expiring_link, route_link, BoxError, Issuer, LinkUser, TokenUser};

#[derive(Database)]
#[database("quickstart")]
struct Db(sqlx::SqlitePool);

/// The application's own user type; links name it by id (the token's `sub`).
struct Subscriber {
    email: String,
}

#[rocket::async_trait]
impl LinkUser for Subscriber {
    async fn load(id: &str, request: &Request<'_>) -> Result<Option<Self>, BoxError> {
        let Some(db) = Db::fetch(request.rocket()) else {
            return Err("no database".into());
        };
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let email: Option<String> =
            sqlx::query_scalar("SELECT email FROM subscribers WHERE id = $1")
                .bind(id)
                .fetch_optional(&**db)
                .await?;
        Ok(email.map(|email| Subscriber { email }))
    }
}

/// Scanners fetch every link in an email: the GET spends nothing and asks.
#[expiring_link(scope = "unsubscribe", preview)]
#[get("/unsubscribe/<list>")]
fn confirm(list: i64, user: TokenUser<Subscriber>) -> String {
    // A real page renders a form: <form method="post" action="{user.url()}">
    format!(
        "Stop sending list {list} to {}? Post confirm=yes to {}",
        user.email,
        user.url()
    )
}

#[derive(FromForm)]
struct Confirm<'r> {
    confirm: Option<&'r str>,
}

/// The POST spends the one use; an error response (4xx/5xx) gives it back.
#[expiring_link(scope = "unsubscribe", max_uses = 1)]
#[post("/unsubscribe/<list>", data = "<form>")]
fn unsubscribe(
    list: i64,
    user: TokenUser<Subscriber>,
    form: Form<Confirm<'_>>,
) -> Result<String, rocket::http::Status> {
    match form.confirm {
        Some("yes") => Ok(format!("{} is off list {list}", user.email)),
        _ => Err(rocket::http::Status::BadRequest),
    }
}

/// Issuing is signing only: no database, no I/O. (A real site issues links where it writes
/// its emails, not on a public route.) `route_link!` takes the scope and the cap from the
/// route's `#[expiring_link]` and the target from Rocket's `uri!`, so they never drift apart.
#[get("/link/<id>")]
fn make_link(id: i64, issuer: &State<Issuer>) -> Result<String, rocket_linktoken::Error> {
    let link = issuer.issue(&route_link!(unsubscribe(list = 1), user = id.to_string()))?;
    Ok(link.url) // https://news.example.com/unsubscribe/1?rt=eyJ...
}

/// The application's own table, with one subscriber to send links to.
async fn create_subscribers(rocket: Rocket<Build>) -> fairing::Result {
    let Some(db) = Db::fetch(&rocket) else {
        return Err(rocket);
    };
    let created = sqlx::query(
        "CREATE TABLE IF NOT EXISTS subscribers (id INTEGER PRIMARY KEY, email TEXT NOT NULL);
         INSERT OR IGNORE INTO subscribers (id, email) VALUES (1, 'alice@example.com')",
    )
    .execute(&**db)
    .await;
    match created {
        Ok(_) => Ok(rocket),
        Err(e) => {
            rocket::error!("creating the subscribers table: {e}");
            Err(rocket)
        }
    }
}

/// The site: the database, its table, the links' fairing and the routes.
#[launch]
pub(crate) fn rocket() -> Rocket<Build> {
    rocket::build()
        .attach(Db::init())
        .attach(AdHoc::try_on_ignite("subscribers", create_subscribers))
        .attach(rocket_linktoken::fairing::<Db>()) // after the database it keeps its ledger in
        .mount("/", routes![confirm, unsubscribe, make_link])
}
