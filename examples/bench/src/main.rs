//! Serves the benchmark routes: `cargo run -p bench`, or the release binary with
//! `ROCKET_PROFILE=release ROCKET_LINKTOKEN={secret="..."}` (see `run.sh`).

#[rocket::launch]
fn rocket() -> _ {
    bench::rocket()
}
