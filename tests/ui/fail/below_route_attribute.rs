use rocket::{get, Request};
use rocket_linktoken::{expiring_link, BoxError, LinkUser, TokenUser};

struct Member;

#[rocket::async_trait]
impl LinkUser for Member {
    async fn load(_: &str, _: &Request<'_>) -> Result<Option<Self>, BoxError> {
        Ok(Some(Member))
    }
}

#[get("/a")]
#[expiring_link(scope = "a")]
fn a(_user: TokenUser<Member>) {}
fn main() {}
