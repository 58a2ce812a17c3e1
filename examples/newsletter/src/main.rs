//! Serves the newsletter example: `cargo run -p newsletter`, then open http://127.0.0.1:8000/.

#[rocket::launch]
fn rocket() -> _ {
    newsletter::rocket()
}
