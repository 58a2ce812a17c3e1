#![deny(warnings)]

use rocket::{get, post, Request};
use rocket_linktoken::{expiring_link, route_link, BoxError, LinkUser, TokenUser};

struct Member;

#[rocket::async_trait]
impl LinkUser for Member {
    async fn load(_: &str, _: &Request<'_>) -> Result<Option<Self>, BoxError> {
        Ok(Some(Member))
    }
}

mod pages {
    use super::*;

    #[expiring_link(scope = "unsubscribe", max_uses = 1)]
    #[post("/unsubscribe/<list>")]
    pub fn unsubscribe(list: i64, _user: TokenUser<Member>) -> String {
        list.to_string()
    }
}

#[expiring_link(scope = "preferences")]
#[get("/preferences?<tab>")]
fn preferences(tab: Option<&str>, _user: TokenUser<Member>) -> String {
    tab.unwrap_or_default().to_owned()
}

fn main() {
    let _ = route_link!(pages::unsubscribe(list = 3), user = "7").max_uses(1);
    let _ = route_link!(preferences(tab = Some("lists")), user = String::from("7"));
    let _ = rocket::build().mount("/", rocket::routes![pages::unsubscribe, preferences]);
}
