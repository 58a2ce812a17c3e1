//! The newsletter example as a process of its own, for tests that run several servers on one
//! database and kill some of them. Configured by the environment (`ROCKET_PORT`, ...).

#[rocket::launch]
fn rocket() -> _ {
    newsletter::rocket()
}
