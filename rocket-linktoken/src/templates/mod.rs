//! Making links from templates: one `link` helper for every `rocket_dyn_templates` engine
//! enabled (features `tera`, `handlebars`, `minijinja`), with the same name and arguments.
//!
//! Arguments: `user` (string or integer), `scope`, `target` (required); `max_uses`, `ttl` (in
//! seconds), `data` (an object) and `fingerprint` (the user's
//! [`LinkUser::fingerprint`](crate::LinkUser::fingerprint): a string, an integer, or null
//! for none, see [`LinkSpec::fingerprint`](crate::LinkSpec::fingerprint)) are optional. Any
//! other argument is refused. It returns the URL (absolute when `base_url` is set). A missing
//! or mistyped argument, or a link that cannot be issued, fails the render with a message
//! naming the argument; it never panics.
//!
//! | engine | call | HTML template | text template (an email) |
//! |---|---|---|---|
//! | Tera | `{{ link(user=subscriber.id, scope="unsubscribe", target="/unsubscribe/1") }}` | `*.html.tera`: escaped | `*.txt.tera`: not escaped |
//! | Handlebars | `{{link user=subscriber.id scope="unsubscribe" target="/unsubscribe/1"}}` | `{{link ...}}`: escaped | write `{{{link ...}}}`: Handlebars escapes every `{{...}}`, whatever the file |
//! | MiniJinja | `{{ link(user=subscriber.id, scope="unsubscribe", target="/unsubscribe/1") }}` | `*.html.j2`: escaped | `*.txt.j2`: not escaped |
//!
//! Tera and MiniJinja escape by the file's extension (`.html`, `.htm`, `.xml`); what they
//! escape in an attribute (`&amp;`, `&#x2F;`, `&#x3D;`...) the browser undoes, so the link
//! works as issued. In a text template the URL is written as it is.

mod args;
#[cfg(feature = "handlebars")]
mod handlebars;
#[cfg(feature = "minijinja")]
mod minijinja;
#[cfg(feature = "tera")]
mod tera;

use rocket::fairing::{AdHoc, Fairing};
use rocket_dyn_templates::{Engines, Template};

use crate::Issuer;

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
/// In a Tera template:
///
/// ```text
/// <a href="{{ link(user=subscriber.id, scope="unsubscribe", target="/unsubscribe/1") }}">Unsubscribe</a>
/// ```
pub fn fairing() -> impl Fairing {
    custom(|_| {})
}

/// Like [`fairing`], with the application's own engine customisation, as
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
pub fn custom<F>(customize: F) -> impl Fairing
where
    F: Fn(&mut Engines) + Send + Sync + 'static,
{
    AdHoc::try_on_ignite("rocket-linktoken templates", |rocket| async move {
        match Issuer::from_figment(rocket.figment()) {
            Ok(issuer) => Ok(rocket.attach(Template::custom(move |engines| {
                register(engines, &issuer);
                customize(engines);
            }))),
            Err(e) => {
                rocket::error!("{e}");
                Err(rocket)
            }
        }
    })
}

fn register(engines: &mut Engines, issuer: &Issuer) {
    #[cfg(feature = "tera")]
    register_tera(&mut engines.tera, issuer.clone());
    #[cfg(feature = "handlebars")]
    register_handlebars(&mut engines.handlebars, issuer.clone());
    #[cfg(feature = "minijinja")]
    register_minijinja(&mut engines.minijinja, issuer.clone());
}
