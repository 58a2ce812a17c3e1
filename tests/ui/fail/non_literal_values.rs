use rocket::{get, Request};
use rocket_linktoken::{expiring_link, BoxError, LinkUser, TokenUser};

struct Member;

#[rocket::async_trait]
impl LinkUser for Member {
    async fn load(_: &str, _: &Request<'_>) -> Result<Option<Self>, BoxError> {
        Ok(Some(Member))
    }
}

const SCOPE: &str = "a";

#[expiring_link(scope = SCOPE, max_uses = 1 + 1)]
#[get("/a")]
fn a(_user: TokenUser<Member>) {}
fn main() {}
