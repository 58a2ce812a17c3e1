//! Rocket's guides declare `#[macro_use] extern crate rocket;`, which puts Rocket's `info!` and
//! friends in every module; a module may import another macro of the same name over it. The
//! handler's body means what its module means, and a deprecated handler warns only where used.
#![deny(deprecated, unused)]

#[macro_use]
extern crate rocket;

use rocket::Request;
use rocket_linktoken::{expiring_link, BoxError, LinkUser, TokenUser};

pub struct Member;

#[rocket::async_trait]
impl LinkUser for Member {
    async fn load(_: &str, _: &Request<'_>) -> Result<Option<Self>, BoxError> {
        Ok(Some(Member))
    }
}

mod pages {
    use super::*;

    /// Stands over the `info!` of `#[macro_use]` in this module.
    macro_rules! loud {
        ($($message:tt)*) => {
            format!($($message)*).to_uppercase()
        };
    }
    pub(crate) use loud as info;

    #[expiring_link(scope = "pages")]
    #[get("/page")]
    pub(crate) fn page(_user: TokenUser<Member>) -> String {
        info!("page")
    }

    #[expiring_link(scope = "pages")]
    #[post("/page")]
    #[deprecated = "POST is going"]
    pub(crate) fn old_page(_user: TokenUser<Member>) -> String {
        info!("old page")
    }
}

fn main() {
    #[allow(deprecated)]
    let old = routes![pages::old_page];
    let _ = rocket::build()
        .mount("/", routes![pages::page])
        .mount("/", old);
}
