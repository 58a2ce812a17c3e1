//! The library's metrics, read from a real recorder while a real server answers real requests:
//! exact counts for spends, give-backs and refusals, the spend's time, and the ledger's batches.
//!
//! A process has one recorder, installed here by the first test; the tests take turns, and each
//! reads only what was counted during its turn.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use linktoken_tests::app::{app, Gate};
use linktoken_tests::{backend_tests, claims, mint, now, Backend, Request, Server, TestDb, SECRET};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::MetricKind;
use rocket::figment::Figment;
use rocket_linktoken::LinkSpec;

/// The process's recorder, installed once.
fn snapshotter() -> &'static Snapshotter {
    static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder
            .install()
            .expect("no other recorder is installed in this test binary");
        snapshotter
    })
}

/// One test at a time: what is counted during a turn is that test's.
fn turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A metric's name and labels, as `name{key=value,...}` with the labels in order.
type Series = String;

/// What was counted since the last reading (a reading empties the recorder).
#[derive(Debug, Default)]
struct Counted {
    counters: BTreeMap<Series, u64>,
    histograms: BTreeMap<Series, Vec<f64>>,
    /// Every label's value, whatever the metric.
    label_values: Vec<String>,
}

impl Counted {
    fn read() -> Counted {
        let mut counted = Counted::default();
        for (key, _unit, _description, value) in snapshotter().snapshot().into_vec() {
            let (kind, key) = key.into_parts();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            counted
                .label_values
                .extend(key.labels().map(|l| l.value().to_string()));
            let series = format!("{}{{{}}}", key.name(), labels.join(","));
            match (kind, value) {
                (MetricKind::Counter, DebugValue::Counter(n)) => {
                    *counted.counters.entry(series).or_default() += n;
                }
                (MetricKind::Histogram, DebugValue::Histogram(values)) => counted
                    .histograms
                    .entry(series)
                    .or_default()
                    .extend(values.into_iter().map(|v| v.into_inner())),
                other => panic!("the library records no {other:?}"),
            }
        }
        counted
    }

    fn histogram(&self, series: &str) -> &[f64] {
        self.histograms.get(series).map_or(&[], Vec::as_slice)
    }

    /// The counters that counted anything, by series.
    fn nonzero(&self) -> Vec<(&str, u64)> {
        self.counters
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(series, n)| (series.as_str(), *n))
            .collect()
    }
}

/// The test application on a fresh database, and a clean reading to start from.
fn start(backend: Backend) -> Option<Server> {
    let db = TestDb::create(backend)?;
    let (gate, _entered) = Gate::new();
    let server = Server::launch(app(backend, &db, gate, Figment::new()), Some(db));
    Counted::read();
    Some(server)
}

/// Stops the server gracefully (every settlement and row written), then reads what it counted.
fn stop_and_read(server: Server) -> Counted {
    server.stop();
    Counted::read()
}

fn link(server: &Server, scope: &str, target: &str) -> String {
    server
        .issuer
        .issue(&LinkSpec::new("1", scope, target))
        .expect("the link is issued")
        .url
}

fn get(server: &Server, target: &str) -> u16 {
    server.send(&Request::new("GET", target)).status
}

backend_tests! {
    fn a_spent_use_is_counted_with_the_time_its_spend_took(backend) {
        let _turn = turn();
        let Some(server) = start(backend) else { return };
        let url = link(&server, "default", "/default");
        assert_eq!(get(&server, &url), 200);
        let counted = stop_and_read(server);

        assert_eq!(
            counted.nonzero(),
            [
                ("linktoken_attempts_total{scope=default,outcome=spent}", 1),
                ("linktoken_spends_total{}", 1),
            ]
        );
        let took = counted.histogram("linktoken_spend_seconds{}");
        assert_eq!(took.len(), 1, "one spend, one measure: {took:?}");
        assert!(took[0] > 0.0 && took[0] < 60.0, "{took:?}");
    }

    fn an_error_response_gives_the_use_back_and_counts_it(backend) {
        let _turn = turn();
        let Some(server) = start(backend) else { return };
        // `boom` answers 500: the use it spent is given back.
        let url = link(&server, "boom", "/boom");
        assert_eq!(get(&server, &url), 500);
        let counted = stop_and_read(server);

        assert_eq!(
            counted.nonzero(),
            [
                ("linktoken_attempts_total{scope=boom,outcome=returned}", 1),
                ("linktoken_give_backs_total{}", 1),
                ("linktoken_spends_total{}", 1),
            ]
        );
        assert_eq!(counted.histogram("linktoken_spend_seconds{}").len(), 1);
    }

    fn a_forged_link_is_counted_as_refused_for_its_bad_signature(backend) {
        let _turn = turn();
        let Some(server) = start(backend) else { return };
        let payload = claims("forged", "1", "default", "/default", now(), now() + 600, "");
        let token = mint(
            "HS256",
            r#"{"alg":"HS256","typ":"JWT"}"#,
            payload,
            "not-the-secret-of-this-site-0123456789abcdef",
        );
        assert_eq!(get(&server, &format!("/default?rt={token}")), 403);
        let counted = stop_and_read(server);

        assert_eq!(
            counted.nonzero(),
            [
                ("linktoken_attempts_total{scope=default,outcome=refused}", 1),
                ("linktoken_refusals_total{scope=default,reason=bad_signature}", 1),
            ]
        );
        assert!(counted.histogram("linktoken_spend_seconds{}").is_empty());
        // A forged link writes nothing: no batch.
        assert!(counted.histogram("linktoken_ledger_batch_size{}").is_empty());
    }

    fn labels_carry_the_routes_scope_never_the_tokens(backend) {
        let _turn = turn();
        let Some(server) = start(backend) else { return };
        // Genuine links whose claims say whatever their maker chose, one of them used up, and
        // a token that is no token at all.
        let chosen = "chosen-by-the-link-maker";
        let wrong_scope = link(&server, chosen, "/default");
        let elsewhere = link(&server, "default", &format!("/default/{chosen}"));
        let (_, elsewhere) = elsewhere.split_once("?rt=").expect("the link carries its token");
        let once = mint(
            "HS256",
            r#"{"alg":"HS256","typ":"JWT"}"#,
            claims(chosen, "1", "default", "/default", now(), now() + 600, r#","max":1"#),
            SECRET,
        );
        assert_eq!(get(&server, &wrong_scope), 403);
        assert_eq!(get(&server, &format!("/default?rt={elsewhere}")), 403);
        assert_eq!(get(&server, &format!("/default?rt={once}")), 200);
        assert_eq!(get(&server, &format!("/default?rt={once}")), 410);
        assert_eq!(get(&server, &format!("/default?rt={chosen}")), 400);
        let counted = stop_and_read(server);

        assert_eq!(
            counted.nonzero(),
            [
                ("linktoken_attempts_total{scope=default,outcome=refused}", 4),
                ("linktoken_attempts_total{scope=default,outcome=spent}", 1),
                ("linktoken_refusals_total{scope=default,reason=malformed}", 1),
                ("linktoken_refusals_total{scope=default,reason=used_up}", 1),
                ("linktoken_refusals_total{scope=default,reason=wrong_scope}", 1),
                ("linktoken_refusals_total{scope=default,reason=wrong_target}", 1),
                ("linktoken_spends_total{}", 1),
            ]
        );
        assert!(
            counted.label_values.iter().all(|value| !value.contains(chosen)),
            "{:?}",
            counted.label_values
        );
    }

    fn a_request_without_a_link_and_a_preview_are_counted(backend) {
        let _turn = turn();
        let Some(server) = start(backend) else { return };
        let preview = link(&server, "default", "/default/preview");
        assert_eq!(get(&server, "/default"), 403);
        assert_eq!(get(&server, &preview), 200);
        let counted = stop_and_read(server);

        assert_eq!(
            counted.nonzero(),
            [
                ("linktoken_attempts_total{scope=default,outcome=preview}", 1),
                ("linktoken_attempts_total{scope=default,outcome=refused}", 1),
                ("linktoken_refusals_total{scope=default,reason=missing_token}", 1),
            ]
        );
    }

    fn ledger_batches_add_up_to_every_spend_settlement_and_row(backend) {
        let _turn = turn();
        let Some(server) = start(backend) else { return };
        // Two spends and their settlements, the row of a refused genuine link, and the row of
        // a preview: six things to write, in at least two transactions (each spend waits for
        // its own, and the second is asked for after the first was answered).
        assert_eq!(get(&server, &link(&server, "default", "/default")), 200);
        assert_eq!(get(&server, &link(&server, "boom", "/boom")), 500);
        assert_eq!(get(&server, &link(&server, "elsewhere", "/default")), 403);
        assert_eq!(get(&server, &link(&server, "default", "/default/preview")), 200);
        let counted = stop_and_read(server);

        let batches = counted.histogram("linktoken_ledger_batch_size{}");
        assert!(batches.len() >= 2, "{batches:?}");
        assert!(batches.iter().all(|size| *size >= 1.0), "{batches:?}");
        assert_eq!(batches.iter().sum::<f64>(), 6.0, "{batches:?}");
        assert_eq!(counted.histogram("linktoken_spend_seconds{}").len(), 2);
    }
}
