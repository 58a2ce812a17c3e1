//! The refusal pages: a readable sentence for 400, 403, 409, 410 and 503, as HTML or as JSON.

use std::borrow::Cow;
use std::io::Cursor;
use std::sync::{Arc, RwLock};

use rocket::catcher::{BoxFuture, Catcher};
use rocket::http::{ContentType, Status};
use rocket::{Build, Request, Response, Rocket};
use serde::Serialize;

use crate::context::refusal;

/// The statuses a refused link answers with.
const STATUSES: [u16; 5] = [400, 403, 409, 410, 503];

/// Registers the refusal page for each of 400, 403, 409, 410 and 503 that the application has no root
/// catcher for (neither for the status nor a default one): an application's own catchers
/// always win.
pub(crate) fn register_missing(rocket: Rocket<Build>) -> Rocket<Build> {
    let taken = |code: u16| {
        rocket
            .catchers()
            .any(|c| c.base.path().as_str() == "/" && c.code.map_or(true, |c| c == code))
    };
    let missing: Vec<Catcher> = STATUSES
        .into_iter()
        .filter(|&code| !taken(code))
        .map(|code| Catcher::new(code, page))
        .collect();
    rocket.register("/", missing)
}

/// The JSON refusal: `{"status":410,"error":"used_up","message":"..."}`.
#[derive(Serialize)]
struct JsonPage<'a> {
    status: u16,
    error: &'a str,
    message: &'a str,
}

fn page<'r>(status: Status, request: &'r Request<'_>) -> BoxFuture<'r> {
    let (code, message, kept) = match refusal(request) {
        Some(error) => (error.code(), error.to_string(), error.reads_the_same()),
        None => ("http", status.reason_lossy().to_string(), true),
    };
    let json = request
        .accept()
        .is_some_and(|accept| accept.preferred().media_type().is_json());
    let content_type = if json {
        ContentType::JSON
    } else {
        ContentType::HTML
    };
    let body = PAGES.get(status, json, code, &message, kept);
    let response = Response::build()
        .status(status)
        .header(content_type)
        .sized_body(body.len(), Cursor::new(body))
        .finalize();
    Box::pin(async move { Ok(response) })
}

/// The pages written so far. A refusal's page depends only on its status, its form and its
/// sentence, and refusals are the cheap answer to hostile traffic, so each page is written
/// once and served from here after. The sentences are a fixed set, a few dozen pages in all,
/// but for errors carrying an application's text (`Error::reads_the_same`), whose pages are
/// written each time, as is every page past [`Pages::KEPT`].
static PAGES: Pages = Pages(RwLock::new(Vec::new()));

struct Pages(RwLock<Vec<Page>>);

struct Page {
    status: u16,
    json: bool,
    code: &'static str,
    message: String,
    body: Arc<[u8]>,
}

impl Pages {
    const KEPT: usize = 128;

    /// The page, kept for later requests if `keep` says it may be.
    fn get(
        &self,
        status: Status,
        json: bool,
        code: &'static str,
        message: &str,
        keep: bool,
    ) -> Arc<[u8]> {
        let is = |page: &&Page| {
            page.status == status.code
                && page.json == json
                && page.code == code
                && page.message == message
        };
        // A lock poisoned by a panic elsewhere only costs the cache: the page is written anew.
        if let Some(page) = self
            .0
            .read()
            .ok()
            .and_then(|pages| pages.iter().find(is).map(|p| p.body.clone()))
        {
            return page;
        }
        let body: Arc<[u8]> = if json {
            let page = JsonPage {
                status: status.code,
                error: code,
                message,
            };
            serde_json::to_vec(&page).unwrap_or_default().into()
        } else {
            html(status, message).into_bytes().into()
        };
        if !keep {
            return body;
        }
        if let Ok(mut pages) = self.0.write() {
            if pages.len() < Pages::KEPT && !pages.iter().any(|page| is(&page)) {
                pages.push(Page {
                    status: status.code,
                    json,
                    code,
                    message: message.to_string(),
                    body: body.clone(),
                });
            }
        }
        body
    }
}

/// The refusal page's look: a card on a quiet ground, readable in a narrow window. Inline, so
/// the page needs nothing else from the site.
const STYLE: &str = "body{margin:0;background:#f3f4f7;color:#1d2330;\
    font:16px/1.55 system-ui,-apple-system,\"Segoe UI\",Roboto,Arial,sans-serif}\
    main{max-width:32rem;margin:12vh auto;padding:1.75rem 1.5rem;background:#fff;\
    border:1px solid #dde1e8;border-radius:12px}\
    h1{font-size:1.35rem;margin:0 0 .6rem}p{margin:0 0 .8rem}.code{color:#5b6473;font-size:.9rem}\
    @media(max-width:36rem){main{margin:0;border-radius:0;border-width:0 0 1px}}";

fn html(status: Status, message: &str) -> String {
    let title = escape(status.reason_lossy());
    let message = escape(message);
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{code} {title}</title><style>{STYLE}</style></head>\n<body>\n<main>\n\
         <h1>{title}</h1>\n<p>{message}</p>\n<p class=\"code\">{code} {title}</p>\n</main>\n\
         </body>\n</html>\n",
        code = status.code,
    )
}

pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    // The sentences are fixed text: most pages have nothing to escape.
    if !text
        .bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\''))
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_their_text() {
        let page = html(Status::Gone, "a <b> & \"c\"");
        assert!(
            page.contains("<p>a &lt;b&gt; &amp; &quot;c&quot;</p>"),
            "{page}"
        );
        assert!(page.contains("<title>410 Gone</title>"));
    }

    #[test]
    fn a_page_is_written_once_and_served_after() {
        let pages = Pages(RwLock::new(Vec::new()));
        let message = "This link has already been used.";
        let first = pages.get(Status::Gone, false, "used_up", message, true);
        let again = pages.get(Status::Gone, false, "used_up", message, true);
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(&*first, html(Status::Gone, message).as_bytes());

        let json = pages.get(Status::Gone, true, "used_up", message, true);
        assert_eq!(
            &*json,
            br#"{"status":410,"error":"used_up","message":"This link has already been used."}"#
        );
        let other = pages.get(Status::Gone, false, "used_up", "Another sentence.", true);
        assert!(std::str::from_utf8(&other)
            .unwrap()
            .contains("<p>Another sentence.</p>"));
        assert_eq!(pages.0.read().unwrap().len(), 3);
    }

    #[test]
    fn pages_past_the_limit_are_written_each_time() {
        let pages = Pages(RwLock::new(Vec::new()));
        let get =
            |message: &str| pages.get(Status::BadRequest, false, "invalid_claim", message, true);
        for n in 0..Pages::KEPT + 10 {
            get(&format!("claim {n}"));
        }
        assert_eq!(pages.0.read().unwrap().len(), Pages::KEPT);
        let (first, again) = (get("claim 130"), get("claim 130"));
        assert!(!Arc::ptr_eq(&first, &again));
        assert_eq!(first, again);
    }

    #[test]
    fn pages_with_an_applications_text_are_written_each_time() {
        let pages = Pages(RwLock::new(Vec::new()));
        let message = "The link's user could not be loaded: timeout.";
        let get = || {
            pages.get(
                Status::InternalServerError,
                false,
                "user_load",
                message,
                false,
            )
        };
        let (first, again) = (get(), get());
        assert!(!Arc::ptr_eq(&first, &again));
        assert!(pages.0.read().unwrap().is_empty());
        assert!(!crate::Error::Config("a caller's text".into()).reads_the_same());
        assert!(crate::Error::InvalidClaim("exp").reads_the_same());
    }

    #[test]
    fn json_pages_read_as_the_readme_shows() {
        let page = JsonPage {
            status: 410,
            error: "used_up",
            message: "This link has already been used.",
        };
        assert_eq!(
            serde_json::to_string(&page).unwrap(),
            r#"{"status":410,"error":"used_up","message":"This link has already been used."}"#
        );
    }
}
