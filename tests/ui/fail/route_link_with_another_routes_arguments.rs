use rocket::{post, Request};
use rocket_linktoken::{expiring_link, route_link, BoxError, LinkUser, TokenUser};

struct Member;

#[rocket::async_trait]
impl LinkUser for Member {
    async fn load(_: &str, _: &Request<'_>) -> Result<Option<Self>, BoxError> {
        Ok(Some(Member))
    }
}

#[expiring_link(scope = "unsubscribe", max_uses = 1)]
#[post("/unsubscribe/<list>")]
fn unsubscribe(list: i64, _user: TokenUser<Member>) -> String {
    list.to_string()
}

fn main() {
    // The arguments of a route `/orders/<order>/<item>`: the route named is the one checked.
    let _ = route_link!(unsubscribe(order = 1, item = 2), user = "7");
    let _ = rocket::build().mount("/", rocket::routes![unsubscribe]);
}
