//! What issuing and verifying a link cost, next to the floor: HMAC-SHA256 over the same signing
//! input, computed with the `hmac` and `sha2` crates in the same run.
//!
//! `cargo bench -p rocket-linktoken --bench tokens` measures all four and then prints each
//! median with its ratio to the floor. The floor sets up the HMAC key on every call, as a
//! plain `Hmac::new_from_slice(...).chain_update(...).finalize()` does; the second floor starts
//! from the key's precomputed state instead, which is the least any verifier holding the key
//! can do.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::Criterion;
use hmac::{Hmac, KeyInit, Mac};
use rocket::figment::Figment;
use rocket_linktoken::{Expected, Issuer, LinkSpec, Verifier};
use sha2::Sha256;

const SECRET: &str = "benchmark-secret-0123456789abcdef-0123456789";
const GROUP: &str = "tokens";
const FLOOR: &str = "hmac_floor";
const MEASURED: [&str; 4] = [FLOOR, "hmac_precomputed_key", "issue", "verify"];

fn tokens(c: &mut Criterion) {
    let figment = Figment::new().merge(("linktoken.secret", SECRET));
    let issuer = Issuer::from_figment(&figment).expect("the benchmark's configuration is valid");
    let verifier =
        Verifier::from_figment(&figment).expect("the benchmark's configuration is valid");
    // The link a mailer would send: a user id, a scope, a target and a random jti.
    let spec = LinkSpec::new("42", "unsubscribe", "/unsubscribe/7");
    let token = issuer.issue(&spec).expect("the link is issued").token;
    let expected = Expected {
        scope: "unsubscribe",
        target: "/unsubscribe/7",
    };
    let now = chrono::Utc::now().timestamp();
    verifier
        .verify(&token, &expected, now)
        .expect("the benchmark's link verifies");
    let (signing_input, _) = token.rsplit_once('.').expect("a JWS has three segments");
    let keyed = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("HMAC takes any key");

    let mut group = c.benchmark_group(GROUP);
    group.bench_function(FLOOR, |b| {
        b.iter(|| {
            Hmac::<Sha256>::new_from_slice(black_box(SECRET.as_bytes()))
                .expect("HMAC takes any key")
                .chain_update(black_box(signing_input))
                .finalize()
        })
    });
    group.bench_function("hmac_precomputed_key", |b| {
        b.iter(|| {
            black_box(&keyed)
                .clone()
                .chain_update(black_box(signing_input))
                .finalize()
        })
    });
    group.bench_function("issue", |b| b.iter(|| issuer.issue(black_box(&spec))));
    group.bench_function("verify", |b| {
        b.iter(|| verifier.verify(black_box(&token), black_box(&expected), now))
    });
    group.finish();
}

/// Where criterion keeps its estimates, found the way criterion finds it.
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    // The benchmark runs as target/<profile>/deps/tokens-<hash>.
    let exe = std::env::current_exe().unwrap_or_default();
    exe.ancestors()
        .nth(3)
        .map_or_else(|| "target/criterion".into(), |t| t.join("criterion"))
}

/// This run's median of one benchmark, in nanoseconds per operation.
fn median_ns(name: &str) -> Option<f64> {
    let path = criterion_home()
        .join(GROUP)
        .join(name)
        .join("new")
        .join("estimates.json");
    let estimates: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    tokens(&mut criterion);
    criterion.final_summary();

    let Some(floor) = median_ns(FLOOR) else {
        println!("no median for {FLOOR}: run the whole benchmark to get the ratios");
        return;
    };
    println!("\n{:<22} {:>12} {:>10}", "median", "ns/op", "/ floor");
    for name in MEASURED {
        if let Some(ns) = median_ns(name) {
            println!("{name:<22} {ns:>12.1} {:>9.2}x", ns / floor);
        }
    }
}
