//! How long the fuzzing properties run: a few hundred cases each under `cargo test`, or for
//! `LINKTOKEN_FUZZ_SECS` seconds each in the long mode.
//!
//! This file is the only copy. `rocket-linktoken-macros/src/fuzzing.rs` is a symbolic link to
//! it, as `scope.rs` is, so both crates' properties run the same way.

use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, TestCaseResult, TestRunner};

/// Cases per property in the short mode: a second or two in a debug build, so that
/// `cargo test --workspace` (CI) runs every property on every change.
const SHORT_CASES: u32 = 2048;

/// Cases one runner is given in the long mode between looks at the clock; each round draws
/// a fresh random seed.
const ROUND_CASES: u32 = 4096;

/// Checks `property` on values of `strategy`, as many times as the mode says.
///
/// A failing case is shrunk and its seed saved under the crate's `proptest-regressions/`
/// (proptest's default), where every later run, short or long, replays it first.
pub(crate) fn check<S: Strategy>(
    name: &str,
    source_file: &'static str,
    strategy: S,
    property: impl Fn(S::Value) -> TestCaseResult,
) {
    let budget = std::env::var("LINKTOKEN_FUZZ_SECS").ok().map(|secs| {
        let secs = secs
            .parse()
            .expect("LINKTOKEN_FUZZ_SECS is a whole number of seconds");
        Duration::from_secs(secs)
    });
    let cases = if budget.is_some() {
        ROUND_CASES
    } else {
        SHORT_CASES
    };
    let started = Instant::now();
    let mut done = 0u64;
    loop {
        let mut runner = TestRunner::new(Config {
            cases,
            source_file: Some(source_file),
            ..Config::default()
        });
        if let Err(failure) = runner.run(&strategy, &property) {
            panic!("{name}: {failure}");
        }
        done += u64::from(cases);
        if budget.map_or(true, |budget| started.elapsed() >= budget) {
            break;
        }
    }
    if budget.is_some() {
        eprintln!(
            "fuzz {name}: {done} cases in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
}
