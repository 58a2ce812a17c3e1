//! What `RedactingLogger` costs a line to search for tokens: every line Rocket logs is
//! searched, and most hold none.
//!
//! `cargo bench -p rocket-linktoken --bench logger` measures Rocket's two warnings for a
//! refused link, its request line at `normal` (the fairing has lifted the token by then), and a
//! line Rocket writes before any fairing runs, token included.

use std::hint::black_box;

use criterion::Criterion;
use rocket::figment::Figment;
use rocket_linktoken::RedactingLogger;

/// Shaped like a link the library issues (its header and claims, a made-up signature), for
/// the line that holds one: the logger blanks the shape, it checks no signature.
const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.\
    eyJqdGkiOiJFN3NJbEZFTkhVQkNycFhMMi1GLVB3Iiwic3ViIjoiMCIsInNjb3BlIjoiYmVuY2giLCJhdWQiOiIvZ3Vh\
    cmRlZC8wIiwiaWF0IjoxNzk2MTQyNTQ2LCJleHAiOjE3OTY3NDczNDZ9.\
    c2lnbmF0dXJlLW9mLXRoaXJ0eS10d28tYnl0ZXMtMDAwMDA";

fn logger(c: &mut Criterion) {
    let logger = RedactingLogger::from_figment(&Figment::new());
    let with_token = format!("Received malformed request: PROPFIND /guarded/0?rt={TOKEN}");
    let lines = [
        (
            "guard_failed",
            "Request guard `TokenUser < Visitor >` failed: BadSignature.",
        ),
        ("catcher", "Responding with registered 403 catcher."),
        ("request_line", "GET /unsubscribe/7?list=2 text/html:"),
        ("with_token", with_token.as_str()),
    ];
    let mut group = c.benchmark_group("logger");
    for (name, line) in lines {
        group.bench_function(name, |b| b.iter(|| logger.redact(black_box(line))));
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    logger(&mut criterion);
    criterion.final_summary();
}
