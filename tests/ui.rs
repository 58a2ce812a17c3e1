//! Compile-time checks of `#[expiring_link]`: what compiles, and the error for each misuse.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
