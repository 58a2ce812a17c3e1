use rocket::{get, post, Request};
use rocket_linktoken::{expiring_link, BoxError, LinkUser, TokenUser};

struct Member;

#[rocket::async_trait]
impl LinkUser for Member {
    async fn load(_: &str, _: &Request<'_>) -> Result<Option<Self>, BoxError> {
        Ok(Some(Member))
    }
}

#[expiring_link(scope = "unsubscribe", max_uses = 1)]
#[post("/unsubscribe/<list>")]
async fn unsubscribe(list: i64, user: TokenUser<Member>) -> String {
    format!("{list} {}", user.claims().sub())
}

#[expiring_link(scope = "unsubscribe", preview)]
#[get("/unsubscribe/<list>")]
fn confirm(list: i64, user: rocket_linktoken::TokenUser<Member>) -> String {
    format!("{list} {}", user.url())
}

#[expiring_link(max_uses = 5, scope = "preferences:v2")]
#[rocket::get("/preferences")]
pub fn preferences(_user: TokenUser<Member>) {}

fn main() {
    let _ = rocket::build().mount("/", rocket::routes![unsubscribe, confirm, preferences]);
}
