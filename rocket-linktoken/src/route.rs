//! Links derived from routes: the scope and cap come from the route's own `#[expiring_link]`
//! and the target from Rocket's `uri!` (in Rust) or from the mounted route's URI (in
//! templates), with the route named once, so the three cannot drift apart.

use rocket::http::uri::Origin;
use rocket::Route;

use crate::guard::Policy;
use crate::LinkSpec;

/// A route a link can be issued for: one with `#[expiring_link]`, which implements this for
/// the struct Rocket's route attribute declares under the handler's name.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a route with `#[expiring_link]`: no link can be issued for it",
    label = "this route has no #[expiring_link] policy",
    note = "write `#[expiring_link(scope = \"...\")]` above the route attribute of `{Self}`"
)]
pub trait LinkRoute: Policy {
    /// Rocket's route for the handler, as `routes!` makes it (not yet mounted).
    fn route() -> Route;
}

/// The [`LinkSpec`] of a link to a route with `#[expiring_link]`: its scope and, unless it
/// previews, its cap (`max_uses`, or none to take the configured default) from the route's
/// attribute; its target from Rocket's `uri!` with the same route and arguments. Further
/// settings (`ttl`, `data`, `fingerprint`...) chain on the spec as usual.
///
/// ```
/// use rocket::{post, routes, Request};
/// use rocket_linktoken::{expiring_link, route_link, BoxError, Issuer, LinkUser, TokenUser};
///
/// struct Subscriber;
///
/// #[rocket::async_trait]
/// impl LinkUser for Subscriber {
///     async fn load(_: &str, _: &Request<'_>) -> Result<Option<Self>, BoxError> {
///         Ok(Some(Subscriber))
///     }
/// }
///
/// #[expiring_link(scope = "unsubscribe", max_uses = 1)]
/// #[post("/unsubscribe/<list>")]
/// fn unsubscribe(list: i64, user: TokenUser<Subscriber>) -> &'static str {
///     "unsubscribed"
/// }
///
/// # fn main() -> Result<(), rocket_linktoken::Error> {
/// let figment = rocket::figment::Figment::new()
///     .merge(("linktoken.secret", "a-development-secret-of-at-least-32-bytes"));
/// let issuer = Issuer::from_figment(&figment)?;
/// let link = issuer.issue(&route_link!(unsubscribe(list = 7), user = "42"))?;
/// assert!(link.url.starts_with("/unsubscribe/7?rt="));
/// # let _ = routes![unsubscribe];
/// # Ok(())
/// # }
/// ```
///
/// A route without the attribute is a compile error, and so are arguments that do not fit the
/// route's URI (Rocket's `uri!` checks them).
#[macro_export]
macro_rules! route_link {
    ($($route:ident)::+ ( $($params:tt)* ), user = $user:expr $(,)?) => {
        $crate::__private::route_spec::<$($route)::+>(
            $user,
            $crate::__private::rocket::uri!($($route)::+($($params)*)),
        )
    };
}

/// What [`route_link!`] expands to.
pub fn route_spec<R: LinkRoute>(user: impl Into<String>, target: Origin<'_>) -> LinkSpec {
    let spec = LinkSpec::new(user, R::SCOPE, target.to_string());
    match R::MAX_USES {
        Some(cap) if !R::PREVIEW => spec.max_uses(cap),
        _ => spec,
    }
}
