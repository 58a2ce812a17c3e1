//! The admin pages' HTML, written by hand like the refusal pages: no template engine, every
//! value from the ledger escaped (paths and user agents are whatever a client sent).

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::catcher::escape as e;
use crate::{LinkFilter, LinkSummary, TokenRecord, UseRecord, UserRevocation};

/// The pages' look: the refusal pages' colours, tables that scroll sideways in a narrow window.
pub(crate) const STYLE: &str = "body{margin:0;background:#f3f4f7;color:#1d2330;\
    font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,Arial,sans-serif}\
    nav{background:#1d2330;padding:.6rem 1rem}nav a{color:#fff;margin-right:1rem}\
    main{max-width:70rem;margin:1rem auto;padding:1rem 1.25rem;background:#fff;\
    border:1px solid #dde1e8;border-radius:10px}\
    h1{font-size:1.3rem;margin:0 0 .8rem}h2{font-size:1.05rem;margin:1.2rem 0 .5rem}\
    .scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.9rem}\
    th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e6e9ef;\
    vertical-align:top;overflow-wrap:anywhere}\
    figure{margin:0}svg{max-width:100%;height:auto;display:block}\
    form.inline{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:.5rem 0}\
    label{display:flex;flex-direction:column;font-size:.85rem}input,select,button{font:inherit}\
    button{padding:.3rem .8rem}.notice{background:#e8f5ec;border:1px solid #9fd3ae;\
    padding:.5rem .8rem;border-radius:6px}.problem{background:#fdecec;border:1px solid #f1a7a7;\
    padding:.5rem .8rem;border-radius:6px}.muted{color:#5b6473}code{overflow-wrap:anywhere}\
    @media(max-width:40rem){main{margin:0;border-radius:0;border-width:0 0 1px}}";

/// Links per page of a list.
pub(crate) const PAGE_SIZE: u32 = 25;

/// Attempts a link's page shows at once.
pub(crate) const ATTEMPTS_PAGE_SIZE: u32 = 100;

/// `value` for a URL's query: everything but RFC 3986's unreserved characters escaped.
pub(crate) fn q(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

fn at(time: Option<DateTime<Utc>>) -> String {
    time.map_or_else(String::new, |t| {
        t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    })
}

/// A whole page: `title`, the navigation to the pages under `base`, and `body`.
pub(crate) fn page(base: &str, title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · links</title><style>{STYLE}</style></head>\n<body>\n\
         <nav><a href=\"{home}\">Overview</a><a href=\"{base}/links\">Links</a></nav>\n\
         <main>\n<h1>{title}</h1>\n{body}</main>\n</body>\n</html>\n",
        title = e(title),
        base = e(base),
        home = if base.is_empty() {
            Cow::Borrowed("/")
        } else {
            e(base)
        },
    )
}

/// What a notice tells: something done, or a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    Done,
    Problem,
}

/// A sentence in a box: what a form did, or why it did nothing.
pub(crate) fn notice(tone: Tone, text: &str) -> String {
    let class = match tone {
        Tone::Done => "notice",
        Tone::Problem => "problem",
    };
    format!("<p class=\"{class}\" role=\"status\">{}</p>\n", e(text))
}

/// The overview: the charts, each with a table of its totals, and the day's refusals.
pub(crate) struct Overview<'a> {
    pub(crate) days: u32,
    pub(crate) by_scope: Chart<'a>,
    pub(crate) by_outcome: Chart<'a>,
    pub(crate) refusals: &'a [(String, i64)],
}

/// One chart: its SVG (or why there is none) and its lines.
pub(crate) struct Chart<'a> {
    pub(crate) svg: Result<String, String>,
    pub(crate) lines: &'a [(String, Vec<i64>)],
}

pub(crate) fn overview(base: &str, o: &Overview<'_>) -> String {
    let mut body = String::new();
    for (heading, filter, chart) in [
        ("Attempts per day by scope", "scope", &o.by_scope),
        ("Attempts per day by outcome", "outcome", &o.by_outcome),
    ] {
        let _ = write!(
            body,
            "<h2>{heading}, last {days} days</h2>\n<figure class=\"chart\" data-by=\"{filter}\">",
            days = o.days
        );
        match &chart.svg {
            Ok(svg) => body.push_str(svg),
            Err(why) => body.push_str(&notice(Tone::Problem, &format!("No chart: {why}"))),
        }
        body.push_str("</figure>\n<div class=\"scroll\"><table>\n");
        let _ = writeln!(body, "<tr><th>{filter}</th><th>attempts</th></tr>");
        for (key, counts) in chart.lines {
            let _ = writeln!(
                body,
                "<tr><td><a href=\"{base}/links?{filter}={}\">{}</a></td><td>{}</td></tr>",
                e(&q(key)),
                e(key),
                counts.iter().sum::<i64>(),
                base = e(base),
            );
        }
        if chart.lines.is_empty() {
            body.push_str("<tr><td colspan=\"2\" class=\"muted\">No attempts.</td></tr>\n");
        }
        body.push_str("</table></div>\n");
    }
    body.push_str("<h2>Refusals in the last 24 hours</h2>\n<div class=\"scroll\"><table id=\"refusals\">\n<tr><th>reason</th><th>attempts</th></tr>\n");
    for (code, count) in o.refusals {
        let _ = writeln!(
            body,
            "<tr><td><a href=\"{base}/links?outcome={}\">{}</a></td><td>{count}</td></tr>",
            e(&q(code)),
            e(code),
            base = e(base),
        );
    }
    if o.refusals.is_empty() {
        body.push_str("<tr><td colspan=\"2\" class=\"muted\">None.</td></tr>\n");
    }
    body.push_str("</table></div>\n");
    page(base, "Links overview", &body)
}

/// The page a list of links is on, which its links to the pages before and after go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListOn {
    /// `/links`, with the filter in the query.
    Links,
    /// `/user`, the filter being the user.
    User,
}

/// The filter form of the links list, and the links' table.
pub(crate) struct List<'a> {
    pub(crate) on: ListOn,
    pub(crate) filter: &'a LinkFilter,
    pub(crate) links: &'a [LinkSummary],
    /// 1-based.
    pub(crate) page: u64,
    pub(crate) has_next: bool,
}

pub(crate) fn links(base: &str, list: &List<'_>) -> String {
    let f = list.filter;
    let field = |name: &str, value: &Option<String>| {
        format!(
            "<label>{name}<input name=\"{name}\" value=\"{}\"></label>",
            e(value.as_deref().unwrap_or_default())
        )
    };
    let body = format!(
        "<form class=\"inline\" method=\"get\" action=\"{b}/links\">{}{}{}\
         <button type=\"submit\">Filter</button></form>\n{}",
        field("scope", &f.scope),
        field("user", &f.user),
        field("outcome", &f.outcome),
        link_table(base, list),
        b = e(base),
    );
    page(base, "Links", &body)
}

/// The table of `list`, newest first, with the links to the pages before and after.
pub(crate) fn link_table(base: &str, list: &List<'_>) -> String {
    let b = e(base);
    let mut out = String::from(
        "<div class=\"scroll\"><table id=\"links\">\n<tr><th>link</th><th>user</th><th>scope</th>\
         <th>attempts</th><th>uses</th><th>last attempt</th><th>revoked</th></tr>\n",
    );
    for link in list.links {
        let cap = link
            .max_uses
            .map_or_else(String::new, |m| format!(" of {m}"));
        let _ = writeln!(
            out,
            "<tr class=\"link\"><td><a href=\"{b}/link?id={}\"><code>{}</code></a></td>\
             <td><a href=\"{b}/user?id={}\">{}</a></td><td>{}</td><td>{}</td><td>{}{cap}</td>\
             <td>{}</td><td>{}</td></tr>",
            e(&q(&link.jti)),
            e(&link.jti),
            e(&q(&link.sub)),
            e(&link.sub),
            e(&link.scope),
            link.attempts,
            link.uses,
            at(link.last_attempt_at),
            at(link.revoked_at),
        );
    }
    if list.links.is_empty() {
        out.push_str("<tr><td colspan=\"7\" class=\"muted\">No links.</td></tr>\n");
    }
    out.push_str("</table></div>\n");
    let f = list.filter;
    let mut query = String::new();
    for (name, value) in [
        ("scope", &f.scope),
        ("user", &f.user),
        ("outcome", &f.outcome),
    ] {
        if let Some(value) = value {
            let _ = write!(query, "{name}={}&", q(value));
        }
    }
    let target = |page: u64| match (list.on, &f.user) {
        (ListOn::User, Some(user)) => format!("{b}/user?id={}&amp;page={page}", e(&q(user))),
        _ => format!("{b}/links?{}page={page}", e(&query)),
    };
    pager(&mut out, list.page, list.has_next, target);
    out
}

/// The line under a paged table: its page number, between links to the newer and the older
/// pages where there are some; `target` is a page's (escaped) address.
fn pager(out: &mut String, page: u64, has_next: bool, target: impl Fn(u64) -> String) {
    out.push_str("<p class=\"pages\">");
    if page > 1 {
        let _ = write!(
            out,
            "<a rel=\"prev\" href=\"{}\">Newer</a> ",
            target(page - 1)
        );
    }
    let _ = write!(out, "page {page}");
    if has_next {
        let _ = write!(
            out,
            " <a rel=\"next\" href=\"{}\">Older</a>",
            target(page + 1)
        );
    }
    out.push_str("</p>\n");
}

/// A link's page: its ledger row, its attempts a page at a time (the latest first), and the
/// form revoking it.
pub(crate) struct LinkPage<'a> {
    pub(crate) jti: &'a str,
    pub(crate) token: Option<&'a TokenRecord>,
    /// This page's attempts.
    pub(crate) uses: &'a [UseRecord],
    /// 1-based.
    pub(crate) page: u64,
    pub(crate) has_next: bool,
    pub(crate) form_token: &'a str,
}

pub(crate) fn link(base: &str, p: &LinkPage<'_>, notice_html: &str) -> String {
    let b = e(base);
    let mut body = String::from(notice_html);
    let _ = writeln!(body, "<p>Link <code>{}</code></p>", e(p.jti));
    let user = p
        .token
        .and_then(|t| t.sub.as_deref())
        .or_else(|| p.uses.first().map(|u| u.sub.as_str()));
    if let Some(user) = user {
        let _ = writeln!(
            body,
            "<p>User <a href=\"{b}/user?id={}\">{}</a></p>",
            e(&q(user)),
            e(user)
        );
    }
    body.push_str("<h2>Ledger row</h2>\n");
    match p.token {
        Some(t) => {
            let cap = t.max_uses.map_or_else(String::new, |m| m.to_string());
            let _ = writeln!(
                body,
                "<div class=\"scroll\"><table id=\"ledger\">\
                 <tr><th>scope</th><td>{}</td></tr><tr><th>target</th><td>{}</td></tr>\
                 <tr><th>uses</th><td>{}</td></tr><tr><th>cap</th><td>{cap}</td></tr>\
                 <tr><th>first use</th><td>{}</td></tr><tr><th>last use</th><td>{}</td></tr>\
                 <tr><th>expires</th><td>{}</td></tr><tr><th>revoked</th><td>{}</td></tr>\
                 </table></div>",
                e(t.scope.as_deref().unwrap_or_default()),
                e(t.aud.as_deref().unwrap_or_default()),
                t.uses,
                at(t.first_used_at),
                at(t.last_used_at),
                at(t.expires_at),
                at(t.revoked_at),
            );
        }
        None => body.push_str(
            "<p class=\"muted\">None: the link has spent no use and is not revoked by id.</p>\n",
        ),
    }
    if p.token.and_then(|t| t.revoked_at).is_none() {
        let _ = writeln!(
            body,
            "<form class=\"inline\" method=\"post\" action=\"{b}/revoke\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <input type=\"hidden\" name=\"link\" value=\"{}\">\
             <button type=\"submit\">Revoke this link</button></form>",
            e(p.form_token),
            e(p.jti),
        );
    }
    body.push_str(
        "<h2>Attempts, the latest first</h2>\n<div class=\"scroll\"><table id=\"attempts\">\n<tr><th>time</th>\
         <th>method</th><th>path</th><th>client IP</th><th>user agent</th><th>status</th>\
         <th>outcome</th></tr>\n",
    );
    for u in p.uses {
        let _ = writeln!(
            body,
            "<tr class=\"attempt\"><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            at(Some(u.used_at)),
            e(&u.method),
            e(&u.path),
            e(u.client_ip.as_deref().unwrap_or_default()),
            e(u.user_agent.as_deref().unwrap_or_default()),
            u.status.map_or_else(String::new, |s| s.to_string()),
            e(&u.outcome),
        );
    }
    if p.uses.is_empty() {
        body.push_str("<tr><td colspan=\"7\" class=\"muted\">No attempts.</td></tr>\n");
    }
    body.push_str("</table></div>\n");
    pager(&mut body, p.page, p.has_next, |page| {
        format!("{b}/link?id={}&amp;page={page}", e(&q(p.jti)))
    });
    page(base, "Link", &body)
}

/// A user's page: their revocations, the form revoking their links, and their links.
pub(crate) struct UserPage<'a> {
    pub(crate) user: &'a str,
    pub(crate) revocations: &'a [UserRevocation],
    pub(crate) list: List<'a>,
    pub(crate) form_token: &'a str,
}

pub(crate) fn user(base: &str, p: &UserPage<'_>, notice_html: &str) -> String {
    let b = e(base);
    let mut body = String::from(notice_html);
    let _ = writeln!(body, "<p>User <code>{}</code></p>", e(p.user));
    let _ = writeln!(
        body,
        "<form class=\"inline\" method=\"post\" action=\"{b}/revoke-user\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"hidden\" name=\"user\" value=\"{}\">\
         <label>scope (empty: every scope)<input name=\"scope\"></label>\
         <button type=\"submit\">Revoke every link issued so far</button></form>",
        e(p.form_token),
        e(p.user),
    );
    body.push_str(
        "<h2>Revocations</h2>\n<div class=\"scroll\"><table id=\"revocations\">\n\
         <tr><th>scope</th><th>links issued before</th><th>made</th></tr>\n",
    );
    for r in p.revocations {
        let _ = writeln!(
            body,
            "<tr class=\"revocation\"><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.scope.as_deref().map_or(Cow::Borrowed("every scope"), e),
            at(r.issued_before),
            at(r.created_at),
        );
    }
    if p.revocations.is_empty() {
        body.push_str("<tr><td colspan=\"3\" class=\"muted\">None.</td></tr>\n");
    }
    body.push_str("</table></div>\n<h2>Links</h2>\n");
    body.push_str(&link_table(base, &p.list));
    page(base, "User", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_escape_everything_but_unreserved_characters() {
        assert_eq!(q("a b&c=d/é~x"), "a%20b%26c%3Dd%2F%C3%A9~x");
    }

    #[test]
    fn pages_escape_what_clients_sent() {
        let attempt = UseRecord {
            id: 1,
            jti: "j<1>".into(),
            sub: "u\"1".into(),
            scope: "s".into(),
            method: "GET".into(),
            path: "/x?<script>".into(),
            client_ip: None,
            user_agent: Some("<script>alert(1)</script>".into()),
            status: Some(200),
            outcome: "spent".into(),
            used_at: DateTime::from_timestamp(0, 0).unwrap(),
        };
        let html = link(
            "/admin",
            &LinkPage {
                jti: "j<1>",
                token: None,
                uses: &[attempt],
                page: 2,
                has_next: true,
                form_token: "t",
            },
            "",
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("/admin/user?id=u%221"), "{html}");
        assert!(html.contains("value=\"j&lt;1&gt;\""), "{html}");
        // The pages of attempts name the link as a query value, escaped for the attribute.
        assert!(
            html.contains("href=\"/admin/link?id=j%3C1%3E&amp;page=1\">Newer"),
            "{html}"
        );
        assert!(
            html.contains("href=\"/admin/link?id=j%3C1%3E&amp;page=3\">Older"),
            "{html}"
        );
    }
}
