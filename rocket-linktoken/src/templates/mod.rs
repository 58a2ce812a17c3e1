//! Making links from templates: one `link` helper for every `rocket_dyn_templates` engine
//! enabled (features `tera`, `handlebars`, `minijinja`), with the same name and arguments.
//!
//! Arguments: `user` (string or integer), and `route` (a route named through
//! [`TemplateLinks::route`], with its parameters as further arguments) or `scope` and `target`
//! (required); `max_uses`, `ttl` (in seconds), `data` (an object) and `fingerprint` (the
//! user's [`LinkUser::fingerprint`](crate::LinkUser::fingerprint): a string, an integer, or
//! null for none, see [`LinkSpec::fingerprint`](crate::LinkSpec::fingerprint)) are optional.
//! Any other argument is refused. It returns the URL (absolute when `base_url` is set). A
//! missing or mistyped argument, or a link that cannot be issued, fails the render with a
//! message naming the argument; it never panics.
//!
//! | engine | call | HTML template | text template (an email) |
//! |---|---|---|---|
//! | Tera | `{{ link(user=subscriber.id, route="unsubscribe", list=1) }}` | `*.html.tera`: escaped | `*.txt.tera`: not escaped |
//! | Handlebars | `{{link user=subscriber.id route="unsubscribe" list=1}}` | `{{link ...}}`: escaped | write `{{{link ...}}}`: Handlebars escapes every `{{...}}`, whatever the file |
//! | MiniJinja | `{{ link(user=subscriber.id, route="unsubscribe", list=1) }}` | `*.html.j2`: escaped | `*.txt.j2`: not escaped |
//!
//! Tera and MiniJinja escape by the file's extension (`.html`, `.htm`, `.xml`); what they
//! escape in an attribute (`&amp;`, `&#x2F;`, `&#x3D;`...) the browser undoes, so the link
//! works as issued. In a text template the URL is written as it is.

mod args;
#[cfg(feature = "handlebars")]
mod handlebars;
#[cfg(feature = "minijinja")]
mod minijinja;
mod route;
#[cfg(feature = "tera")]
mod tera;

use std::sync::Arc;

use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::{Build, Rocket};
use rocket_dyn_templates::{Engines, Template};

use self::route::RouteLink;
use crate::route::LinkRoute;
use crate::{Error, Issuer};

#[cfg(feature = "handlebars")]
pub use self::handlebars::register_handlebars;
#[cfg(feature = "minijinja")]
pub use self::minijinja::register_minijinja;
#[cfg(feature = "tera")]
pub use self::tera::register_tera;

/// `Template::fairing()` with `link` registered in every enabled engine.
///
/// Attach it instead of `Template::fairing()`. It reads the same `[linktoken]` configuration as
/// the main fairing, and refuses launch the same way without a usable secret.
///
/// ```no_run
/// #[rocket::launch]
/// fn rocket() -> _ {
///     rocket::build().attach(rocket_linktoken::templates::fairing())
/// }
/// ```
///
/// In a Tera template, with the scope and target given by hand (name routes with
/// [`TemplateLinks::route`] to link to them by name):
///
/// ```text
/// <a href="{{ link(user=subscriber.id, scope="unsubscribe", target="/unsubscribe/1") }}">Unsubscribe</a>
/// ```
pub fn fairing() -> TemplateLinks {
    custom(|_| {})
}

/// Like [`fairing()`], with the application's own engine customisation, as
/// `Template::custom` takes it. It runs after `link` is registered.
///
/// ```no_run
/// #[rocket::launch]
/// fn rocket() -> _ {
///     rocket::build().attach(rocket_linktoken::templates::custom(|engines| {
///         # #[cfg(feature = "tera")]
///         engines.tera.autoescape_on(vec![".html.tera"]);
///     }))
/// }
/// ```
pub fn custom<F>(customize: F) -> TemplateLinks
where
    F: Fn(&mut Engines) + Send + Sync + 'static,
{
    TemplateLinks {
        customize: Arc::new(customize),
        routes: Vec::new(),
    }
}

/// The fairing [`fairing()`] and [`custom`] make: Rocket's templates with `link` registered,
/// and the routes templates may name.
///
/// Name a route with `#[expiring_link]` through [`route`](TemplateLinks::route), and a
/// template makes a link to it as `route_link!` does in Rust, its scope, cap and path taken
/// from the route: `link(user=subscriber.id, route="unsubscribe", list=1)`.
pub struct TemplateLinks {
    customize: Arc<dyn Fn(&mut Engines) + Send + Sync>,
    routes: Vec<FindRoute>,
}

/// Finds a route named for templates where the application mounts it.
type FindRoute = fn(&Rocket<Build>) -> Result<RouteLink, String>;

impl TemplateLinks {
    /// Lets templates name route `R`, by its handler's name, as `link`'s `route` argument.
    ///
    /// At launch the route must be mounted, exactly once (its mount point is part of the
    /// link), and have no parameter named like one of `link`'s own arguments (`user`, `route`,
    /// `scope`, `target`, `ttl`, `max_uses`, `data`, `fingerprint`); otherwise launch is
    /// refused, with the reason.
    ///
    /// ```no_run
    /// use rocket::{post, routes, Build, Request, Rocket};
    /// use rocket_linktoken::{expiring_link, BoxError, LinkUser, TokenUser};
    ///
    /// # struct Subscriber;
    /// # #[rocket::async_trait]
    /// # impl LinkUser for Subscriber {
    /// #     async fn load(_: &str, _: &Request<'_>) -> Result<Option<Self>, BoxError> { Ok(None) }
    /// # }
    /// #[expiring_link(scope = "unsubscribe", max_uses = 1)]
    /// #[post("/unsubscribe/<list>")]
    /// fn unsubscribe(list: i64, user: TokenUser<Subscriber>) {}
    ///
    /// fn rocket() -> Rocket<Build> {
    ///     rocket::build()
    ///         .mount("/", routes![unsubscribe])
    ///         .attach(rocket_linktoken::templates::fairing().route::<unsubscribe>())
    /// }
    /// # fn main() {}
    /// ```
    ///
    /// Then, in a Tera template, `{{ link(user=subscriber.id, route="unsubscribe", list=1) }}`.
    #[must_use]
    pub fn route<R: LinkRoute>(mut self) -> Self {
        self.routes.push(RouteLink::mounted::<R>);
        self
    }
}

#[rocket::async_trait]
impl Fairing for TemplateLinks {
    fn info(&self) -> Info {
        Info {
            name: "rocket-linktoken templates",
            kind: Kind::Ignite,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        let links = match Links::of(&rocket, &self.routes) {
            Ok(links) => links,
            Err(why) => {
                rocket::error!("{why}");
                return Err(rocket);
            }
        };
        let customize = Arc::clone(&self.customize);
        Ok(rocket.attach(Template::custom(move |engines| {
            register(engines, &links);
            customize(engines);
        })))
    }
}

/// What `link` makes links with: the issuer, and the routes templates may name.
#[derive(Clone)]
struct Links {
    issuer: Issuer,
    routes: Arc<[RouteLink]>,
}

impl Links {
    fn of(rocket: &Rocket<Build>, routes: &[FindRoute]) -> Result<Links, String> {
        let issuer = Issuer::from_figment(rocket.figment()).map_err(|e| e.to_string())?;
        let routes: Vec<RouteLink> = routes
            .iter()
            .map(|mounted| mounted(rocket))
            .collect::<Result<_, _>>()
            .map_err(|why| format!("templates cannot name a route: {why}"))?;
        for (i, route) in routes.iter().enumerate() {
            if routes[..i].iter().any(|other| other.name() == route.name()) {
                return Err(format!(
                    "templates cannot name a route: two routes given to `templates::fairing()` \
                     are named `{}`",
                    route.name()
                ));
            }
        }
        Ok(Links {
            issuer,
            routes: routes.into(),
        })
    }

    /// Links without routes, for an engine the application sets up itself.
    fn new(issuer: Issuer) -> Links {
        Links {
            issuer,
            routes: Arc::new([]),
        }
    }

    fn route(&self, name: &str) -> Result<&RouteLink, Error> {
        self.routes
            .iter()
            .find(|route| route.name() == name)
            .ok_or_else(|| {
                let named: Vec<String> = self
                    .routes
                    .iter()
                    .map(|r| format!("`{}`", r.name()))
                    .collect();
                let named = match named.as_slice() {
                    [] => "none".to_owned(),
                    named => named.join(", "),
                };
                Error::InvalidLink(format!(
                    "no route `{name}` was given to `templates::fairing().route::<...>()` \
                     (routes given: {named})"
                ))
            })
    }
}

fn register(engines: &mut Engines, links: &Links) {
    #[cfg(feature = "tera")]
    tera::install(&mut engines.tera, links.clone());
    #[cfg(feature = "handlebars")]
    handlebars::install(&mut engines.handlebars, links.clone());
    #[cfg(feature = "minijinja")]
    minijinja::install(&mut engines.minijinja, links.clone());
}
