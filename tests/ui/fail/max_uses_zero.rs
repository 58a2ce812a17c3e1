use rocket::{get, Request};
use rocket_linktoken::{expiring_link, BoxError, LinkUser, TokenUser};

struct Member;

#[rocket::async_trait]
impl LinkUser for Member {
    async fn load(_: &str, _: &Request<'_>) -> Result<Option<Self>, BoxError> {
        Ok(Some(Member))
    }
}

#[expiring_link(scope = "a", max_uses = 0)]
#[get("/a")]
fn a(_user: TokenUser<Member>) {}
fn main() {}
