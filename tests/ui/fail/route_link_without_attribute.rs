use rocket::get;
use rocket_linktoken::route_link;

#[get("/plain/<n>")]
fn plain(n: u32) -> String {
    n.to_string()
}

fn main() {
    let _ = route_link!(plain(n = 1), user = "7");
    let _ = rocket::build().mount("/", rocket::routes![plain]);
}
