//! The newsletter example as a process of its own, for tests that run several servers on one
//! database, kill some of them, or read their logs. Configured by the environment
//! (`ROCKET_PORT`, `ROCKET_LOG_LEVEL`, ...); logs through the redacting logger, as the example
//! does.

use rocket_linktoken::RedactingLogger;

#[rocket::launch]
fn rocket() -> _ {
    let figment = newsletter::figment();
    RedactingLogger::from_figment(&figment)
        .install()
        .expect("no logger is installed before this one");
    newsletter::rocket_with(figment)
}
