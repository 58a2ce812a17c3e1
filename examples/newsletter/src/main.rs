//! Serves the newsletter example: `cargo run -p newsletter`, then open http://127.0.0.1:8000/.

use rocket_linktoken::RedactingLogger;

#[rocket::launch]
fn rocket() -> _ {
    let figment = newsletter::figment();
    // Before Rocket is built, so that Rocket's own logger is never installed: the lines Rocket
    // writes before the fairing runs (every raw request at `debug`) have their tokens blanked.
    RedactingLogger::from_figment(&figment)
        .install()
        .expect("no logger is installed before this one");
    newsletter::rocket_with(figment)
}
