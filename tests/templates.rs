//! The template helper in every engine: a link to a route, named by its handler, rendered
//! into an HTML page and into a text email, read back as a browser or a mail reader would,
//! then opened over HTTP.

use std::path::PathBuf;

use rocket::{get, routes, Build, Rocket};
use rocket_db_pools::Database;
use rocket_dyn_templates::{context, Template};
use rocket_linktoken::{expiring_link, TokenUser};

use linktoken_tests::app::{Member, SqliteDb};
use linktoken_tests::{Backend, Server, TestDb, SECRET};

/// Where the rendered links point: the test server is reached by its socket address instead.
const BASE_URL: &str = "https://news.example.com";

#[expiring_link(scope = "welcome", max_uses = 1)]
#[get("/welcome?<list>")]
fn welcome(list: u32, user: TokenUser<Member>) -> String {
    format!("welcome {} to list {list}", user.0)
}

#[expiring_link(scope = "archive", max_uses = 1)]
#[get("/issue/<issue>/<path..>?<lang>")]
fn archive(issue: u32, path: PathBuf, lang: Option<&str>, user: TokenUser<Member>) -> String {
    format!("issue {issue} {} {lang:?} for {}", path.display(), user.0)
}

/// Renders the template `name` for member 2, with a link to list 7's welcome page (or to
/// issue 3 of the archive).
#[get("/render/<name>")]
fn render(name: &str) -> Template {
    Template::render(
        name.to_owned(),
        context! {
            member: 2, list: 7, target: "/welcome?list=7",
            issue: 3, path: "caf\u{e9} au lait/x&y", lang: "fr",
        },
    )
}

fn figment(db: &TestDb) -> rocket::figment::Figment {
    rocket::Config::figment()
        .merge(("port", 0))
        .merge(("address", "127.0.0.1"))
        .merge(("log_level", "off"))
        .merge(("cli_colors", false))
        .merge((
            "template_dir",
            concat!(env!("CARGO_MANIFEST_DIR"), "/templates"),
        ))
        .merge(("linktoken.secret", SECRET))
        .merge(("linktoken.base_url", BASE_URL))
        .merge(("databases.app.url", &db.url))
}

fn app(db: &TestDb) -> Rocket<Build> {
    rocket::custom(figment(db))
        .mount("/", routes![welcome, render])
        .mount("/archive", routes![archive])
        .attach(SqliteDb::init())
        .attach(rocket_linktoken::fairing::<SqliteDb>())
        .attach(
            rocket_linktoken::templates::fairing()
                .route::<welcome>()
                .route::<archive>(),
        )
}

fn server() -> Server {
    let db = TestDb::create(Backend::Sqlite).expect("SQLite is always available");
    let rocket = app(&db);
    Server::launch(rocket, Some(db))
}

/// Text as a browser reads it from an attribute: character references replaced.
fn unescape_attribute(escaped: &str) -> String {
    let mut out = String::new();
    let mut rest = escaped;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(';').expect("a character reference ends with `;`");
        let name = &rest[1..end];
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = match name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16),
                    None => name.strip_prefix('#').expect("a numeric reference").parse(),
                };
                char::from_u32(code.expect("a number")).expect("a character")
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The `href` of the page's welcome link, as written in the HTML.
fn href(html: &str) -> &str {
    let (_, after) = html
        .split_once(r#"<a class="welcome" href=""#)
        .expect("the page has the welcome link");
    after.split('"').next().unwrap_or_default()
}

/// The email's line that is a link.
fn link_line(text: &str) -> &str {
    text.lines()
        .find(|line| line.starts_with("https://"))
        .expect("the email has a link on a line of its own")
}

/// Opens `url` on the test server: the first time it welcomes member 2, then it is used up.
fn opens_once(server: &Server, url: &str) {
    let path = url
        .strip_prefix(BASE_URL)
        .unwrap_or_else(|| panic!("{url} is on {BASE_URL}"));
    assert!(path.starts_with("/welcome?list=7&rt=ey"), "{path}");
    let first = server.get(path);
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body, "welcome 2 to list 7");
    assert_eq!(server.get(path).status, 410);
}

fn page_link_opens_once(engine: &str) {
    let server = server();
    let page = server.get(&format!("/render/page-{engine}"));
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let escaped = href(&page.body);
    assert!(
        escaped.contains("&amp;rt"),
        "{engine} escapes `&`: {escaped}"
    );
    opens_once(&server, &unescape_attribute(escaped));
}

fn email_link_opens_once(engine: &str) {
    let server = server();
    let email = server.get(&format!("/render/email-{engine}"));
    assert_eq!(email.status, 200, "{}", email.body);
    assert_eq!(
        email.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let line = link_line(&email.body);
    assert!(!line.contains("&amp;") && !line.contains("&#"), "{line}");
    opens_once(&server, line);
}

#[test]
fn a_tera_page_link_read_as_a_browser_reads_it_opens_its_route_once() {
    page_link_opens_once("tera");
}

#[test]
fn a_tera_email_link_is_written_unescaped_and_opens_its_route_once() {
    email_link_opens_once("tera");
}

#[test]
fn a_handlebars_page_link_read_as_a_browser_reads_it_opens_its_route_once() {
    page_link_opens_once("handlebars");
}

#[test]
fn a_handlebars_email_link_in_triple_braces_is_unescaped_and_opens_its_route_once() {
    email_link_opens_once("handlebars");
}

#[test]
fn a_minijinja_page_link_read_as_a_browser_reads_it_opens_its_route_once() {
    page_link_opens_once("minijinja");
}

#[test]
fn a_minijinja_email_link_is_written_unescaped_and_opens_its_route_once() {
    email_link_opens_once("minijinja");
}

#[test]
fn a_link_by_scope_and_target_opens_its_route_once() {
    let server = server();
    let email = server.get("/render/by-hand-tera");
    assert_eq!(email.status, 200, "{}", email.body);
    opens_once(&server, link_line(&email.body));
}

#[test]
fn a_route_link_has_the_mount_point_and_every_parameter_encoded() {
    let server = server();
    let email = server.get("/render/archive-tera");
    assert_eq!(email.status, 200, "{}", email.body);
    let path = link_line(&email.body).strip_prefix(BASE_URL).unwrap();
    assert!(
        path.starts_with("/archive/issue/3/caf%C3%A9%20au%20lait/x%26y?lang=fr&rt=ey"),
        "{path}"
    );
    let first = server.get(path);
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(
        first.body,
        "issue 3 caf\u{e9} au lait/x&y Some(\"fr\") for 2"
    );
    assert_eq!(server.get(path).status, 410);
}

#[test]
fn a_parameter_the_route_does_not_have_fails_the_render() {
    let server = server();
    let email = server.get("/render/unknown-parameter-tera");
    assert_eq!(email.status, 500, "{}", email.body);
}

#[test]
fn naming_a_route_that_is_not_mounted_refuses_launch() {
    let db = TestDb::create(Backend::Sqlite).expect("SQLite is always available");
    let unmounted = rocket::custom(figment(&db))
        .mount("/", routes![welcome])
        .attach(rocket_linktoken::templates::fairing().route::<archive>());
    let mounted_twice = app(&db).mount("/again", routes![archive]);
    let runtime = rocket::tokio::runtime::Runtime::new().unwrap();
    for rocket in [unmounted, mounted_twice] {
        let error = runtime
            .block_on(rocket.ignite())
            .expect_err("launch must be refused");
        let rocket::error::ErrorKind::FailedFairings(failed) = error.kind() else {
            panic!("refused for another reason: {error}");
        };
        let failed: Vec<&str> = failed.iter().map(|info| info.name).collect();
        assert_eq!(failed, ["rocket-linktoken templates"]);
    }
}

#[test]
fn a_link_that_cannot_be_made_fails_the_render_with_500_in_every_engine() {
    let server = server();
    for engine in ["tera", "handlebars", "minijinja"] {
        let page = server.get(&format!("/render/broken-{engine}"));
        assert_eq!(page.status, 500, "{engine}: {}", page.body);
        assert!(!page.body.contains("never rendered"), "{engine}");
    }
    assert_eq!(server.get("/render/page-tera").status, 200);
}

#[test]
fn the_unescaping_reads_references_as_a_browser_does() {
    assert_eq!(
        unescape_attribute("https:&#x2F;&#X2f;a?b&#x3D;c&amp;d&#61;&quot;&lt;&gt;&apos;"),
        "https://a?b=c&d=\"<>'"
    );
}
