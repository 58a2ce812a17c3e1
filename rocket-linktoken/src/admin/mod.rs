//! Admin pages for the ledger (feature `admin`): attempts per day as charts, the day's
//! refusals, links filtered and paged, a link's every attempt, a user's links, and forms that
//! revoke a link or every link of a user.
//!
//! The library has no users of its own, so the application says who is an admin: the pages
//! take its request guard `G`, and answer only when `G` succeeds. When it fails, its status is
//! the answer (a `401` with a `WWW-Authenticate` challenge, a `403`...); when it forwards, the
//! request goes on to the application's next route.
//!
//! ```no_run
//! use rocket::http::Status;
//! use rocket::request::{self, FromRequest, Request};
//!
//! /// Whoever is on the server's own machine (an application would ask its own sessions).
//! struct Admin;
//!
//! #[rocket::async_trait]
//! impl<'r> FromRequest<'r> for Admin {
//!     type Error = ();
//!
//!     async fn from_request(request: &'r Request<'_>) -> request::Outcome<Admin, ()> {
//!         match request.remote() {
//!             Some(peer) if peer.ip().is_loopback() => request::Outcome::Success(Admin),
//!             _ => request::Outcome::Error((Status::Forbidden, ())),
//!         }
//!     }
//! }
//!
//! # use rocket_db_pools::{sqlx, Database};
//! # #[derive(Database)]
//! # #[database("app")]
//! # struct Db(sqlx::SqlitePool);
//! #[rocket::launch]
//! fn rocket() -> _ {
//!     rocket::build()
//!         .attach(Db::init())
//!         .attach(rocket_linktoken::fairing::<Db>())
//!         .mount("/admin/links", rocket_linktoken::admin::routes::<Admin>())
//! }
//! ```
//!
//! The pages are HTML written on the server with a small inline stylesheet and no script,
//! sent with a `Content-Security-Policy` that allows nothing else: no script, no image, no
//! frame around them, forms posted to this site only. Every value read from the ledger is
//! escaped. The forms that revoke carry a token bound to the browser: the pages set a random
//! cookie (`linktoken_admin`, `SameSite=Lax`, `HttpOnly`, on the pages' path), and each
//! form's hidden `csrf` field is the HMAC of that cookie with the key that signs links; a post
//! whose field does not match the cookie changes nothing and is answered `403`.

mod chart;
mod pages;

use std::io::Cursor;
use std::marker::PhantomData;
use std::sync::LazyLock;

use base64_simd::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{NaiveTime, TimeDelta, Utc};
use rocket::data::{Data, ToByteUnit};
use rocket::form::{Form, FromForm};
use rocket::http::{ContentType, Cookie, Method, RawStr, SameSite, Status};
use rocket::request::{FromRequest, Outcome as GuardOutcome};
use rocket::response::{self, Responder, Response};
use rocket::route::{Handler, Outcome, Route};
use rocket::Request;
use sha2::{Digest, Sha256};

use self::pages::{
    LinkPage, List, ListOn, Overview, Tone, UserPage, ATTEMPTS_PAGE_SIZE, PAGE_SIZE,
};
use crate::fairing::Configured;
use crate::{DailyBy, Error, Ledger, LinkFilter};

/// The admin pages, for the application to mount where it likes, each answering only when
/// the application's guard `G` succeeds (see the [module](self) for an example):
///
/// - `GET /`: attempts per day over the last 30 days, by scope and by outcome, as charts with
///   their totals; the refusals of the last 24 hours by reason.
/// - `GET /links?scope=&user=&outcome=&page=`: the links with a recorded attempt, the latest
///   first, 25 a page, filtered by scope, user, or an outcome any of their attempts had.
/// - `GET /link?id=&page=`: a link's ledger row, its attempts, the latest first, 100 a page
///   (time, method, path, client IP, user agent, status, outcome), and a form revoking it. On
///   SQLite it reads `linktoken_uses` back from its latest row.
/// - `GET /user?id=&page=`: a user's revocations, their links, and a form revoking every link
///   of theirs issued so far (in one scope, or all).
/// - `POST /revoke` and `POST /revoke-user`: those forms; the page answering says what was
///   done.
///
/// The pages need the rocket-linktoken fairing attached.
///
/// ```
/// # struct Admin;
/// # #[rocket::async_trait]
/// # impl<'r> rocket::request::FromRequest<'r> for Admin {
/// #     type Error = ();
/// #     async fn from_request(_: &'r rocket::Request<'_>) -> rocket::request::Outcome<Admin, ()> {
/// #         rocket::request::Outcome::Forward(rocket::http::Status::NotFound)
/// #     }
/// # }
/// let routes = rocket_linktoken::admin::routes::<Admin>();
/// assert_eq!(routes.len(), 6);
/// ```
pub fn routes<G>() -> Vec<Route>
where
    G: for<'r> FromRequest<'r> + 'static,
{
    [
        (Method::Get, "/", Page::Overview),
        (Method::Get, "/links", Page::Links),
        (Method::Get, "/link", Page::Link),
        (Method::Get, "/user", Page::User),
        (Method::Post, "/revoke", Page::Revoke),
        (Method::Post, "/revoke-user", Page::RevokeUser),
    ]
    .into_iter()
    .map(|(method, path, page)| {
        let mut route = Route::new(
            method,
            path,
            AdminPage::<G> {
                page,
                guard: PhantomData,
            },
        );
        route.name = Some(format!("rocket-linktoken admin {path}").into());
        route
    })
    .collect()
}

/// Which page a route answers with.
#[derive(Debug, Clone, Copy)]
enum Page {
    Overview,
    Links,
    Link,
    User,
    Revoke,
    RevokeUser,
}

/// One admin route's handler: the application's guard `G`, then the page.
struct AdminPage<G> {
    page: Page,
    guard: PhantomData<fn() -> G>,
}

impl<G> Clone for AdminPage<G> {
    fn clone(&self) -> Self {
        AdminPage {
            page: self.page,
            guard: PhantomData,
        }
    }
}

#[rocket::async_trait]
impl<G> Handler for AdminPage<G>
where
    G: for<'r> FromRequest<'r> + 'static,
{
    async fn handle<'r>(&self, request: &'r Request<'_>, data: Data<'r>) -> Outcome<'r> {
        match request.guard::<G>().await {
            GuardOutcome::Success(_) => {}
            GuardOutcome::Error((status, _)) => return Outcome::Error(status),
            GuardOutcome::Forward(status) => return Outcome::Forward((data, status)),
        }
        Outcome::from(request, answer(self.page, request, data).await)
    }
}

/// Days the overview's charts cover, today included.
const CHART_DAYS: u32 = 30;

/// The cookie whose value the forms' tokens are bound to.
const SESSION_COOKIE: &str = "linktoken_admin";

/// Largest form body read.
const FORM_LIMIT: u64 = 8 * 1024;

/// A page and its status.
struct Html {
    status: Status,
    body: String,
}

/// Allows the pages' own stylesheet (by its hash) and nothing else: no script, image or
/// frame; forms post to this site only.
static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = STANDARD.encode_to_string(Sha256::digest(pages::STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    )
});

impl<'r> Responder<'r, 'static> for Html {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Response::build()
            .status(self.status)
            .header(ContentType::HTML)
            .raw_header("Content-Security-Policy", CONTENT_SECURITY_POLICY.as_str())
            .raw_header("Cache-Control", "no-store")
            .raw_header("Referrer-Policy", "no-referrer")
            .raw_header("X-Content-Type-Options", "nosniff")
            .sized_body(self.body.len(), Cursor::new(self.body))
            .ok()
    }
}

/// What one request to the pages has to work with.
struct Context<'a> {
    ledger: &'a Ledger,
    /// The path the pages are mounted at, without a trailing slash.
    base: String,
    /// The token the forms on this page carry.
    form_token: String,
}

impl Context<'_> {
    fn page(&self, status: Status, body: String) -> Html {
        Html { status, body }
    }

    fn message(&self, status: Status, title: &str, tone: Tone, text: &str) -> Html {
        self.page(
            status,
            pages::page(&self.base, title, &pages::notice(tone, text)),
        )
    }
}

async fn answer<'r>(page: Page, request: &'r Request<'_>, data: Data<'r>) -> Html {
    let rocket = request.rocket();
    let (Some(ledger), Some(configured)) = (rocket.state::<Ledger>(), rocket.state::<Configured>())
    else {
        rocket::error!("rocket-linktoken: the admin pages need the rocket-linktoken fairing");
        let body = pages::page(
            "",
            "Not available",
            &pages::notice(
                Tone::Problem,
                "The link ledger is not set up on this server.",
            ),
        );
        return Html {
            status: Status::InternalServerError,
            body,
        };
    };
    let base = request
        .route()
        .map(|route| route.uri.base().trim_end_matches('/').to_string())
        .unwrap_or_default();
    let session = session(request, &base);
    let context = Context {
        ledger,
        form_token: configured.verifier.keys.form_token(&session),
        base,
    };
    let answered = match page {
        Page::Overview => overview(&context).await,
        Page::Links => links(&context, request).await,
        Page::Link => match text(request, "id") {
            Some(jti) => link(&context, &jti, page_number(request), String::new()).await,
            None => Ok(context.message(Status::NotFound, "Link", Tone::Problem, "No link named.")),
        },
        Page::User => match text(request, "id") {
            Some(user) => user_page(&context, request, &user, String::new()).await,
            None => Ok(context.message(Status::NotFound, "User", Tone::Problem, "No user named.")),
        },
        Page::Revoke => revoke(&context, &session, &configured.verifier.keys, data).await,
        Page::RevokeUser => {
            revoke_user(&context, request, &session, &configured.verifier.keys, data).await
        }
    };
    answered.unwrap_or_else(|e| {
        rocket::error!("rocket-linktoken: an admin page could not read the ledger: {e}");
        context.message(
            Status::InternalServerError,
            "The ledger could not be read",
            Tone::Problem,
            &format!("Nothing was changed. {e}"),
        )
    })
}

/// The browser's session value from its cookie, or a new random one, set on the response.
fn session(request: &Request<'_>, base: &str) -> String {
    if let Some(cookie) = request.cookies().get(SESSION_COOKIE) {
        if cookie.value().len() == 43 {
            return cookie.value().to_string();
        }
    }
    let mut bytes = [0u8; 32];
    if getrandom::fill(&mut bytes).is_err() {
        // Without randomness a session would be guessable: leave the browser without one, so
        // its posts fail the check.
        rocket::error!("rocket-linktoken: no randomness for the admin session cookie");
        return String::new();
    }
    let value = URL_SAFE_NO_PAD.encode_to_string(bytes);
    let path = if base.is_empty() { "/" } else { base };
    request.cookies().add(
        Cookie::build((SESSION_COOKIE, value.clone()))
            .path(path.to_string())
            .http_only(true)
            // Lax, not Strict: an admin following a link to these pages from an email or a chat
            // arrives with the cookie, rather than getting a new one that would void the forms
            // of the admin's other tabs. Cross-site posts still arrive without it, and the
            // forms' token is the check either way.
            .same_site(SameSite::Lax),
    );
    value
}

/// A query parameter, when present and not empty.
fn text(request: &Request<'_>, name: &str) -> Option<String> {
    request
        .query_value::<String>(name)
        .and_then(Result::ok)
        .filter(|value| !value.is_empty())
}

/// The `page` query parameter: 1 when absent or no page number.
fn page_number(request: &Request<'_>) -> u64 {
    request
        .query_value::<u64>("page")
        .and_then(Result::ok)
        .filter(|&page| page >= 1)
        .unwrap_or(1)
}

async fn overview(context: &Context<'_>) -> Result<Html, Error> {
    let today = Utc::now().date_naive();
    let first = today - TimeDelta::days(i64::from(CHART_DAYS) - 1);
    let since = first.and_time(NaiveTime::MIN).and_utc();
    let by_scope = context.ledger.daily_uses(since, DailyBy::Scope).await?;
    let by_outcome = context.ledger.daily_uses(since, DailyBy::Outcome).await?;
    let refusals = context
        .ledger
        .refusals(Utc::now() - TimeDelta::hours(24))
        .await?;
    let scope_lines = chart::series(&by_scope, first, CHART_DAYS);
    let outcome_lines = chart::series(&by_outcome, first, CHART_DAYS);
    let chart = |title: &str, lines| pages::Chart {
        svg: chart::svg(title, lines, first, CHART_DAYS),
        lines,
    };
    let overview = Overview {
        days: CHART_DAYS,
        by_scope: chart("by scope", &scope_lines),
        by_outcome: chart("by outcome", &outcome_lines),
        refusals: &refusals,
    };
    Ok(context.page(Status::Ok, pages::overview(&context.base, &overview)))
}

/// One page of the links `filter` selects: the links, and whether there are more.
async fn list_page(
    ledger: &Ledger,
    filter: &LinkFilter,
    page: u64,
) -> Result<(Vec<crate::LinkSummary>, bool), Error> {
    let offset = (page - 1).saturating_mul(u64::from(PAGE_SIZE));
    let mut links = ledger.links(filter, PAGE_SIZE + 1, offset).await?;
    let has_next = links.len() > PAGE_SIZE as usize;
    links.truncate(PAGE_SIZE as usize);
    Ok((links, has_next))
}

async fn links(context: &Context<'_>, request: &Request<'_>) -> Result<Html, Error> {
    let filter = LinkFilter {
        scope: text(request, "scope"),
        user: text(request, "user"),
        outcome: text(request, "outcome"),
    };
    let page = page_number(request);
    let (links, has_next) = list_page(context.ledger, &filter, page).await?;
    let list = List {
        on: ListOn::Links,
        filter: &filter,
        links: &links,
        page,
        has_next,
    };
    Ok(context.page(Status::Ok, pages::links(&context.base, &list)))
}

async fn link(
    context: &Context<'_>,
    jti: &str,
    page: u64,
    notice_html: String,
) -> Result<Html, Error> {
    let token = context.ledger.token(jti).await?;
    let offset = (page - 1).saturating_mul(u64::from(ATTEMPTS_PAGE_SIZE));
    let mut uses = context
        .ledger
        .attempts(jti, ATTEMPTS_PAGE_SIZE + 1, offset)
        .await?;
    let has_next = uses.len() > ATTEMPTS_PAGE_SIZE as usize;
    uses.truncate(ATTEMPTS_PAGE_SIZE as usize);
    let status = if token.is_none() && uses.is_empty() && page == 1 {
        Status::NotFound
    } else {
        Status::Ok
    };
    let page = LinkPage {
        jti,
        token: token.as_ref(),
        uses: &uses,
        page,
        has_next,
        form_token: &context.form_token,
    };
    Ok(context.page(status, pages::link(&context.base, &page, &notice_html)))
}

async fn user_page(
    context: &Context<'_>,
    request: &Request<'_>,
    user: &str,
    notice_html: String,
) -> Result<Html, Error> {
    let filter = LinkFilter {
        user: Some(user.to_string()),
        ..LinkFilter::default()
    };
    let page = page_number(request);
    let (links, has_next) = list_page(context.ledger, &filter, page).await?;
    let revocations = context.ledger.user_revocations(user).await?;
    let page = UserPage {
        user,
        revocations: &revocations,
        list: List {
            on: ListOn::User,
            filter: &filter,
            links: &links,
            page,
            has_next,
        },
        form_token: &context.form_token,
    };
    Ok(context.page(Status::Ok, pages::user(&context.base, &page, &notice_html)))
}

#[derive(FromForm)]
struct RevokeForm {
    csrf: Option<String>,
    link: String,
}

#[derive(FromForm)]
struct RevokeUserForm {
    csrf: Option<String>,
    user: String,
    scope: Option<String>,
}

/// Reads a posted form; `None` when the body is too long or no such form.
async fn form<T>(data: Data<'_>) -> Option<T>
where
    T: for<'f> FromForm<'f> + Send + 'static,
{
    let body = data.open(FORM_LIMIT.bytes()).into_string().await.ok()?;
    if !body.is_complete() {
        return None;
    }
    Form::<T>::parse_encoded(RawStr::new(body.as_str())).ok()
}

/// Whether a form's `csrf` field is the token of this browser's session.
fn genuine(session: &str, keys: &crate::KeyRing, csrf: Option<&str>) -> bool {
    match csrf {
        Some(csrf) => !session.is_empty() && keys.form_token_matches(session, csrf),
        None => false,
    }
}

/// A posted form that can be read, carries this browser's token and names what it acts on;
/// otherwise the page saying why nothing was changed. `parts` gives the form's `csrf` field
/// and the link or user it names.
async fn checked<T>(
    context: &Context<'_>,
    session: &str,
    keys: &crate::KeyRing,
    data: Data<'_>,
    parts: impl Fn(&T) -> (Option<&str>, &str),
) -> Result<T, Html>
where
    T: for<'f> FromForm<'f> + Send + 'static,
{
    let Some(form) = form::<T>(data).await else {
        return Err(unreadable(context));
    };
    let (csrf, subject) = parts(&form);
    if !genuine(session, keys, csrf) {
        return Err(forged(context));
    }
    if subject.is_empty() {
        return Err(unreadable(context));
    }
    Ok(form)
}

/// The answer to a post whose token is missing or not this browser's.
fn forged(context: &Context<'_>) -> Html {
    context.message(
        Status::Forbidden,
        "Nothing was revoked",
        Tone::Problem,
        "The form's token does not match this browser's session, so nothing was changed. \
         Open the page again and submit its form.",
    )
}

fn unreadable(context: &Context<'_>) -> Html {
    context.message(
        Status::BadRequest,
        "Nothing was revoked",
        Tone::Problem,
        "The form could not be read, so nothing was changed.",
    )
}

async fn revoke(
    context: &Context<'_>,
    session: &str,
    keys: &crate::KeyRing,
    data: Data<'_>,
) -> Result<Html, Error> {
    let form: RevokeForm = match checked(context, session, keys, data, |form: &RevokeForm| {
        (form.csrf.as_deref(), form.link.as_str())
    })
    .await
    {
        Ok(form) => form,
        Err(refused) => return Ok(refused),
    };
    context.ledger.revoke(&form.link).await?;
    let notice = pages::notice(
        Tone::Done,
        &format!("Link {} is revoked: it is refused from now on.", form.link),
    );
    link(context, &form.link, 1, notice).await
}

async fn revoke_user(
    context: &Context<'_>,
    request: &Request<'_>,
    session: &str,
    keys: &crate::KeyRing,
    data: Data<'_>,
) -> Result<Html, Error> {
    let form: RevokeUserForm =
        match checked(context, session, keys, data, |form: &RevokeUserForm| {
            (form.csrf.as_deref(), form.user.as_str())
        })
        .await
        {
            Ok(form) => form,
            Err(refused) => return Ok(refused),
        };
    let scope = form.scope.as_deref().filter(|scope| !scope.is_empty());
    context
        .ledger
        .revoke_user(&form.user, scope, Utc::now())
        .await?;
    let which = match scope {
        Some(scope) => format!("in scope {scope}"),
        None => "in every scope".to_string(),
    };
    let notice = pages::notice(
        Tone::Done,
        &format!(
            "Every link of user {} {which} issued until now is revoked.",
            form.user
        ),
    );
    user_page(context, request, &form.user, notice).await
}
