//! The newsletter's routes.

use rocket::form::{Form, FromForm};
use rocket::http::{ContentType, Status};
use rocket::response::status::Custom;
use rocket::{catch, catchers, get, post, routes, Catcher, Route, State};
use rocket_dyn_templates::{context, Template};
use rocket_linktoken::templates::TemplateLinks;
use rocket_linktoken::{expiring_link, route_link, Issuer, LinkUser, TokenUser};
use serde::Serialize;

use crate::admin::AdminPassword;
use crate::data::{Newsletter, Subscriber, Subscription};

pub(crate) fn routes() -> Vec<Route> {
    routes![
        health,
        style,
        index,
        confirm_unsubscribe,
        unsubscribe,
        preferences
    ]
}

/// The site's pages for errors that are not refused links (those get the library's pages).
/// The templates, able to name the routes the index page makes links to.
pub(crate) fn templates() -> TemplateLinks {
    rocket_linktoken::templates::fairing()
        .route::<confirm_unsubscribe>()
        .route::<preferences>()
}

pub(crate) fn catchers() -> Vec<Catcher> {
    catchers![
        not_found,
        unsupported_media_type,
        unprocessable,
        server_error
    ]
}

/// The site's own page for an error status: a title and a sentence a reader understands.
fn error_page(status: Status) -> Custom<Template> {
    let (title, message) = match status.code {
        400 => (
            "Nothing was changed",
            "The form did not say to unsubscribe. Open the link in your email again and press the button there.",
        ),
        404 => ("Page not found", "There is no such page here."),
        415 | 422 => (
            "The form could not be read",
            "This address takes the confirmation form only. Open the link in your email again and press the button there.",
        ),
        _ => (
            "Something went wrong",
            "Nothing was changed. Please try again in a moment.",
        ),
    };
    let status_line = format!("{} {}", status.code, status.reason_lossy());
    Custom(
        status,
        Template::render("error", context! { title, message, status: status_line }),
    )
}

#[catch(404)]
fn not_found() -> Custom<Template> {
    error_page(Status::NotFound)
}

/// A POST without the form (no body, or another content type).
#[catch(415)]
fn unsupported_media_type() -> Custom<Template> {
    error_page(Status::UnsupportedMediaType)
}

#[catch(422)]
fn unprocessable() -> Custom<Template> {
    error_page(Status::UnprocessableEntity)
}

#[catch(500)]
fn server_error() -> Custom<Template> {
    error_page(Status::InternalServerError)
}

/// The site's stylesheet, served by the site itself (no CDN).
#[get("/style.css")]
fn style() -> (ContentType, &'static str) {
    (ContentType::CSS, include_str!("../static/style.css"))
}

/// A database failure, answered with 500 (and the link's use given back).
fn failed(e: rocket_db_pools::sqlx::Error) -> Status {
    rocket::error!("newsletter: {e}");
    Status::InternalServerError
}

#[get("/health")]
fn health() -> &'static str {
    "ok"
}

#[derive(Serialize)]
struct Row {
    subscriber: Subscriber,
    /// What the subscriber's links are bound to.
    fingerprint: Option<String>,
    subscriptions: Vec<Subscription>,
    /// The one-click unsubscribe headers of the next email of each list still received.
    emails: Vec<EmailHeaders>,
}

/// The RFC 8058 headers of one list's next email to one subscriber, or why it can have none.
#[derive(Serialize)]
struct EmailHeaders {
    list_id: i64,
    list_name: String,
    /// `(name, value)` of each header.
    headers: Vec<(&'static str, String)>,
    refused: Option<String>,
}

impl EmailHeaders {
    /// Issues the email's unsubscribe link, bound to the address it goes to, as the link in its
    /// body is. The example reads no mailbox, so the headers offer no `mailto:`.
    fn next(issuer: &Issuer, subscriber: &Subscriber, list: &Subscription) -> Self {
        let user = subscriber.id.to_string();
        let spec = route_link!(unsubscribe(list = list.list_id), user = user)
            .fingerprint(subscriber.email.clone());
        let headers = issuer
            .issue(&spec)
            .and_then(|link| link.unsubscribe_headers(None));
        let (headers, refused) = match headers {
            Ok(headers) => {
                let pairs = headers.iter().map(|(n, v)| (n, v.to_string())).collect();
                (pairs, None)
            }
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        EmailHeaders {
            list_id: list.list_id,
            list_name: list.list_name.clone(),
            headers,
            refused,
        }
    }
}

/// What each subscriber's next email would link to, made by the template's `link` helper, and
/// the one-click unsubscribe headers it would carry.
#[get("/")]
async fn index(
    data: &State<Newsletter>,
    issuer: &State<Issuer>,
    admin: &State<AdminPassword>,
) -> Result<Template, Status> {
    let mut rows = Vec::new();
    for subscriber in data.subscribers().await.map_err(failed)? {
        let subscriptions = data.subscriptions(subscriber.id).await.map_err(failed)?;
        let emails = subscriptions
            .iter()
            .filter(|s| s.active)
            .map(|list| EmailHeaders::next(issuer, &subscriber, list))
            .collect();
        rows.push(Row {
            fingerprint: subscriber.fingerprint(),
            subscriber,
            subscriptions,
            emails,
        });
    }
    let admin = admin.is_set();
    Ok(Template::render("index", context! { rows, admin }))
}

/// The list's name, or 404.
async fn list_name(
    data: &Newsletter,
    subscriber: &Subscriber,
    list: i64,
) -> Result<String, Status> {
    let subscriptions = data.subscriptions(subscriber.id).await.map_err(failed)?;
    subscriptions
        .into_iter()
        .find(|s| s.list_id == list)
        .map(|s| s.list_name)
        .ok_or(Status::NotFound)
}

/// Link scanners fetch every link in an email: this page spends nothing, and asks.
#[expiring_link(scope = "unsubscribe", preview)]
#[get("/unsubscribe/<list>")]
async fn confirm_unsubscribe(
    list: i64,
    user: TokenUser<Subscriber>,
    data: &State<Newsletter>,
) -> Result<Template, Status> {
    let list_name = list_name(data, &user, list).await?;
    Ok(Template::render(
        "confirm",
        context! { subscriber: user.user(), list_name, action: user.url() },
    ))
}

/// The confirmation form's `confirm=yes`, or RFC 8058's `List-Unsubscribe=One-Click`.
#[derive(FromForm)]
struct Unsubscribe<'r> {
    confirm: Option<&'r str>,
    #[field(name = "List-Unsubscribe")]
    one_click: Option<&'r str>,
}

#[expiring_link(scope = "unsubscribe", max_uses = 1)]
#[post("/unsubscribe/<list>", data = "<form>")]
async fn unsubscribe(
    list: i64,
    user: TokenUser<Subscriber>,
    form: Form<Unsubscribe<'_>>,
    data: &State<Newsletter>,
) -> Result<Template, Custom<Template>> {
    let asked = form.confirm == Some("yes") || form.one_click == Some("One-Click");
    if !asked {
        // The use is given back: an error response never spends a link.
        return Err(error_page(Status::BadRequest));
    }
    let list_name = list_name(data, &user, list).await.map_err(error_page)?;
    data.unsubscribe(user.id, list)
        .await
        .map_err(|e| error_page(failed(e)))?;
    Ok(Template::render(
        "unsubscribed",
        context! { subscriber: user.user(), list_name },
    ))
}

#[expiring_link(scope = "preferences", max_uses = 5)]
#[get("/preferences")]
async fn preferences(
    user: TokenUser<Subscriber>,
    data: &State<Newsletter>,
) -> Result<Template, Status> {
    let subscriptions = data.subscriptions(user.id).await.map_err(failed)?;
    Ok(Template::render(
        "preferences",
        context! { subscriber: user.user(), subscriptions, uses: user.uses() },
    ))
}
