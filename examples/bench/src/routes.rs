//! The routes: `/plain/<n>` and `/guarded/<n>` answer the same body; only the attribute differs.

use rocket::{get, routes, Request, Route};
use rocket_linktoken::{expiring_link, BoxError, LinkUser, TokenUser};

/// Whoever a link names: any id is accepted without a query, so a guarded request's database
/// work is the library's alone.
///
/// ```
/// use rocket_linktoken::TokenUser;
///
/// fn greet(user: TokenUser<bench::Visitor>) -> String {
///     format!("hello {}", user.id())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Visitor {
    id: String,
}

impl Visitor {
    /// The id the link named (its `sub`).
    pub fn id(&self) -> &str {
        &self.id
    }
}

#[rocket::async_trait]
impl LinkUser for Visitor {
    async fn load(id: &str, _request: &Request<'_>) -> Result<Option<Self>, BoxError> {
        Ok(Some(Visitor { id: id.to_string() }))
    }
}

pub(crate) fn routes() -> Vec<Route> {
    routes![health, plain, guarded]
}

#[get("/health")]
fn health() -> &'static str {
    "ok"
}

#[get("/plain/<n>")]
fn plain(n: u64) -> String {
    format!("ok {n}\n")
}

// The scope is `crate::SCOPE`; the attribute takes a literal.
#[expiring_link(scope = "bench", max_uses = 1000000000)]
#[get("/guarded/<n>")]
fn guarded(n: u64, _user: TokenUser<Visitor>) -> String {
    format!("ok {n}\n")
}
