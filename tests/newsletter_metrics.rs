//! The newsletter's `GET /metrics`: the library's counters and histograms in Prometheus' text
//! format, counting a link followed from the index page.
//!
//! The process has one recorder, installed by the first site built; the tests take turns and
//! compare the page before and after their own requests.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use linktoken_tests::{anchor_hrefs, backend_tests, Server};

fn turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The page's samples: `name{label="value",...}` (labels sorted) to value.
fn samples(page: &str) -> BTreeMap<String, f64> {
    page.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
            let value: f64 = value.parse().expect("a sample's value is a number");
            let series = match series.split_once('{') {
                Some((name, labels)) => {
                    let mut labels: Vec<&str> = labels.trim_end_matches('}').split(',').collect();
                    labels.sort_unstable();
                    format!("{name}{{{}}}", labels.join(","))
                }
                None => series.to_string(),
            };
            (series, value)
        })
        .collect()
}

fn scrape(server: &Server) -> (String, BTreeMap<String, f64>) {
    let response = server.get("/metrics");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; version=0.0.4")
    );
    let samples = samples(&response.body);
    (response.body, samples)
}

/// The first preferences link on the index page, as a reader would follow it.
fn preferences_link(server: &Server) -> String {
    let index = server.get("/");
    assert_eq!(index.status, 200);
    anchor_hrefs(&index.body)
        .into_iter()
        .find(|href| href.starts_with("/preferences?"))
        .expect("the index links to the preferences")
}

backend_tests! {
    fn a_followed_link_shows_on_the_metrics_page(backend) {
        let _turn = turn();
        let Some(server) = Server::newsletter(backend) else { return };
        let (_, before) = scrape(&server);
        let link = preferences_link(&server);
        assert_eq!(server.get(&link).status, 200);
        // The same link with one character of its signature changed.
        let signature = link.rfind('.').expect("the token has a signature") + 5;
        let changed = if &link[signature..=signature] == "A" { "B" } else { "A" };
        let forged = format!("{}{changed}{}", &link[..signature], &link[signature + 1..]);
        assert_eq!(server.get(&forged).status, 403);
        let (page, after) = scrape(&server);

        let grew = |series: &str| {
            after.get(series).copied().unwrap_or(0.0) - before.get(series).copied().unwrap_or(0.0)
        };
        assert_eq!(
            grew(r#"linktoken_attempts_total{outcome="spent",scope="preferences"}"#),
            1.0,
            "{page}"
        );
        assert_eq!(
            grew(r#"linktoken_attempts_total{outcome="refused",scope="preferences"}"#),
            1.0,
            "{page}"
        );
        assert_eq!(
            grew(r#"linktoken_refusals_total{reason="bad_signature",scope="preferences"}"#),
            1.0,
            "{page}"
        );
        assert_eq!(grew("linktoken_spends_total"), 1.0, "{page}");
        assert_eq!(grew("linktoken_spend_seconds_count"), 1.0, "{page}");
        assert_eq!(grew(r#"linktoken_spend_seconds_bucket{le="+Inf"}"#), 1.0, "{page}");
        assert!(page.contains("# TYPE linktoken_attempts_total counter"), "{page}");
        assert!(page.contains("# TYPE linktoken_spend_seconds histogram"), "{page}");
        assert!(page.contains("# HELP linktoken_refusals_total "), "{page}");
    }
}
