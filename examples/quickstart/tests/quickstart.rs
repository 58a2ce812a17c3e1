//! The README's quick start is this package, shown whole: it builds, and a link it issues
//! works as README says (asked on GET, spent once on POST).

use rocket::http::{ContentType, Status};
use rocket::local::blocking::Client;

#[allow(dead_code)]
#[path = "../src/main.rs"]
mod quickstart;

const README: &str = include_str!("../../../README.md");

/// The body of the fenced block of `lang` whose first line is `first`, in README's quick start.
fn readme_block(lang: &str, first: &str) -> String {
    let start = README
        .find("## Quick start")
        .expect("README has a quick start");
    let section = &README[start..];
    let fence = format!("```{lang}\n{first}");
    let open = section
        .find(&fence)
        .unwrap_or_else(|| panic!("no {fence:?} block"));
    let body = &section[open + format!("```{lang}\n").len()..];
    let close = body.find("\n```").expect("the block ends");
    format!("{}\n", &body[..close])
}

#[test]
fn readme_shows_the_quick_start_exactly() {
    assert_eq!(
        readme_block("rust,ignore", "//! The quick start"),
        include_str!("../src/main.rs")
    );
    let rocket_toml = readme_block("toml", "# Rocket.toml");
    assert_eq!(
        rocket_toml.strip_prefix("# Rocket.toml\n"),
        Some(include_str!("../Rocket.toml"))
    );
}

#[test]
fn a_link_from_the_quick_start_asks_then_unsubscribes_once() {
    let file = std::env::temp_dir().join(format!("quickstart-{}.sqlite", std::process::id()));
    let figment = rocket::Config::figment().merge((
        "databases.quickstart.url",
        format!("sqlite://{}?mode=rwc", file.display()),
    ));
    let client = Client::tracked(quickstart::rocket().configure(figment)).unwrap();

    let link = client.get("/link/1").dispatch().into_string().unwrap();
    let path = link
        .strip_prefix("https://news.example.com")
        .expect("base_url makes the link absolute");

    let asked = client.get(path).dispatch();
    assert_eq!(asked.status(), Status::Ok);
    assert!(asked
        .into_string()
        .unwrap()
        .starts_with("Stop sending list 1 to alice@example.com?"));

    let post = |form: &str| {
        client
            .post(path)
            .header(ContentType::Form)
            .body(form)
            .dispatch()
    };
    assert_eq!(
        post("confirm=no").status(),
        Status::BadRequest,
        "and the use is given back"
    );
    let done = post("confirm=yes");
    assert_eq!(done.status(), Status::Ok);
    assert_eq!(
        done.into_string().unwrap(),
        "alice@example.com is off list 1"
    );
    assert_eq!(
        post("confirm=yes").status(),
        Status::Gone,
        "a one-time link"
    );
    drop(client);
    let _ = std::fs::remove_file(&file);
}
