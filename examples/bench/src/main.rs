//! Serves the benchmark routes: `cargo run -p bench`, or the release binary with
//! `ROCKET_PROFILE=release ROCKET_LINKTOKEN={secret="..."}` (see `run.sh`). It logs through
//! `RedactingLogger`, as the newsletter example does and as README asks of applications, so the
//! forged scenario's two warnings per request are written the way an application writes them.

#[rocket::launch]
fn rocket() -> _ {
    let figment = bench::figment();
    rocket_linktoken::RedactingLogger::from_figment(&figment)
        .install()
        .expect("no logger is installed before this one");
    bench::rocket_with(figment)
}
