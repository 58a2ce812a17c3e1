//! `GET /metrics`: what the library counts, in Prometheus' text format, for a Prometheus server
//! to scrape. The exporter has no HTTP listener of its own: the site serves the page.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use rocket::fairing::{AdHoc, Fairing};
use rocket::http::ContentType;
use rocket::{get, State};
use rocket_linktoken::metrics::{
    LEDGER_BATCH_SIZE, LEDGER_BATCH_SIZE_BUCKETS, SPEND_SECONDS, SPEND_SECONDS_BUCKETS,
};

/// Prometheus' text format, version 0.0.4.
fn prometheus_text() -> ContentType {
    ContentType::new("text", "plain").with_params(("version", "0.0.4"))
}

#[get("/metrics")]
pub(crate) fn metrics(handle: &State<PrometheusHandle>) -> (ContentType, String) {
    (prometheus_text(), handle.render())
}

/// The process's Prometheus recorder, installed by the first site built in it (a process has
/// one recorder; tests build many sites in one). Histograms get the library's bucket bounds,
/// so they are exported as histograms rather than summaries.
pub(crate) fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(SPEND_SECONDS.into()), SPEND_SECONDS_BUCKETS)
                .and_then(|builder| {
                    builder.set_buckets_for_metric(
                        Matcher::Full(LEDGER_BATCH_SIZE.into()),
                        LEDGER_BATCH_SIZE_BUCKETS,
                    )
                })
                .unwrap_or_else(|e| {
                    rocket::warn!("metrics: the histograms' buckets are refused ({e})");
                    PrometheusBuilder::new()
                })
                .build_recorder();
            let handle = recorder.handle();
            if let Err(e) = ::metrics::set_global_recorder(recorder) {
                rocket::warn!("metrics: another recorder is installed, /metrics stays empty ({e})");
            }
            handle
        })
        .clone()
}

/// How often histogram samples are folded into their buckets between scrapes, so that a site
/// nobody scrapes does not keep every sample.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Folds histogram samples into buckets every [`UPKEEP_EVERY`] until the site shuts down.
pub(crate) fn upkeep(handle: PrometheusHandle) -> impl Fairing {
    AdHoc::on_liftoff("metrics upkeep", move |rocket| {
        let shutdown = rocket.shutdown();
        Box::pin(async move {
            rocket::tokio::spawn(async move {
                let mut every = rocket::tokio::time::interval(UPKEEP_EVERY);
                rocket::tokio::pin!(shutdown);
                loop {
                    rocket::tokio::select! {
                        _ = every.tick() => handle.run_upkeep(),
                        () = &mut shutdown => return,
                    }
                }
            });
        })
    })
}
