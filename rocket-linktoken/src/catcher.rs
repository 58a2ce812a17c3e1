//! The refusal pages: a readable sentence for 400, 403, 410 and 503, as HTML or as JSON.

use rocket::catcher::{BoxFuture, Catcher};
use rocket::http::Status;
use rocket::response::content::{RawHtml, RawJson};
use rocket::response::Responder;
use rocket::{Build, Request, Rocket};

use crate::context::refusal;

/// The statuses a refused link answers with.
const STATUSES: [u16; 4] = [400, 403, 410, 503];

/// Registers the refusal page for each of 400, 403, 410 and 503 that the application has no root
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

fn page<'r>(status: Status, request: &'r Request<'_>) -> BoxFuture<'r> {
    let message = match refusal(request) {
        Some(error) => (error.code(), error.to_string()),
        None => ("http", status.reason_lossy().to_string()),
    };
    let wants_json = request
        .accept()
        .is_some_and(|accept| accept.preferred().media_type().is_json());
    Box::pin(async move {
        let (code, message) = message;
        let response = if wants_json {
            let body =
                serde_json::json!({ "status": status.code, "error": code, "message": message });
            RawJson(body.to_string()).respond_to(request)
        } else {
            RawHtml(html(status, &message)).respond_to(request)
        };
        response.map(|mut r| {
            r.set_status(status);
            r
        })
    })
}

fn html(status: Status, message: &str) -> String {
    let title = escape(status.reason_lossy());
    let message = escape(message);
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{code} {title}</title></head>\n<body>\n<h1>{title}</h1>\n<p>{message}</p>\n\
         </body>\n</html>\n",
        code = status.code,
    )
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
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
    out
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
}
