//! Making links from templates: a `link(...)` function for Tera (feature `tera`).

use std::collections::HashMap;

use chrono::TimeDelta;
use rocket::fairing::{AdHoc, Fairing};
use rocket_dyn_templates::tera::{self, Tera, Value};
use rocket_dyn_templates::{Engines, Template};

use crate::{Issuer, LinkSpec};

/// `Template::fairing()` with the `link` function registered in Tera.
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
/// In a template:
///
/// ```text
/// <a href="{{ link(user=subscriber.id, scope="unsubscribe", target="/unsubscribe/1") }}">Unsubscribe</a>
/// ```
///
/// Arguments: `user` (string or integer), `scope`, `target` (required); `max_uses`, `ttl` (in
/// seconds) and `data` (an object) are optional. It returns the URL (absolute when `base_url`
/// is set). Tera escapes it like any other value, which browsers undo in attributes.
pub fn fairing() -> impl Fairing {
    custom(|_| {})
}

/// Like [`fairing`], with the application's own engine customisation, as
/// `Template::custom` takes it.
///
/// ```no_run
/// #[rocket::launch]
/// fn rocket() -> _ {
///     rocket::build().attach(rocket_linktoken::templates::custom(|engines| {
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
                register_tera(&mut engines.tera, issuer.clone());
                customize(engines);
            }))),
            Err(e) => {
                rocket::error!("{e}");
                Err(rocket)
            }
        }
    })
}

/// Registers the `link` function in a Tera instance, for applications that set Tera up
/// themselves.
///
/// ```
/// use rocket_dyn_templates::tera::{Context, Tera};
/// use rocket_linktoken::Issuer;
///
/// let figment = rocket::Config::figment()
///     .merge(("linktoken.secret", "an-example-secret-of-32-bytes-or-more"));
/// let mut tera = Tera::default();
/// rocket_linktoken::templates::register_tera(&mut tera, Issuer::from_figment(&figment)?);
/// let html = tera
///     .render_str(r#"<a href="{{ link(user=7, scope="preferences", target="/preferences") }}">"#, &Context::new())
///     .unwrap();
/// assert!(html.starts_with("<a href=\"/preferences?rt=ey"));
/// # Ok::<(), rocket_linktoken::Error>(())
/// ```
pub fn register_tera(tera: &mut Tera, issuer: Issuer) {
    tera.register_function("link", LinkFunction { issuer });
}

struct LinkFunction {
    issuer: Issuer,
}

impl tera::Function for LinkFunction {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let user = match args.get("user") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
            _ => return Err("link(): `user` must be a string or an integer".into()),
        };
        let text = |name: &str| match args.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(tera::Error::msg(format!(
                "link(): `{name}` must be a string"
            ))),
        };
        let number = |name: &str| match args.get(name) {
            None => Ok(None),
            Some(value) => value.as_u64().map(Some).ok_or_else(|| {
                tera::Error::msg(format!("link(): `{name}` must be a positive integer"))
            }),
        };
        let mut spec = LinkSpec::new(user, text("scope")?, text("target")?);
        if let Some(uses) = number("max_uses")? {
            let uses = u32::try_from(uses)
                .map_err(|_| tera::Error::msg("link(): `max_uses` is too large"))?;
            spec = spec.max_uses(uses);
        }
        if let Some(ttl) = number("ttl")? {
            let ttl = i64::try_from(ttl)
                .ok()
                .and_then(TimeDelta::try_seconds)
                .ok_or_else(|| tera::Error::msg("link(): `ttl` is too large"))?;
            spec = spec.ttl(ttl);
        }
        if let Some(data) = args.get("data") {
            spec = spec.data(data.clone());
        }
        let link = self
            .issuer
            .issue(&spec)
            .map_err(|e| tera::Error::msg(format!("link(): {e}")))?;
        Ok(Value::String(link.url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::figment::Figment;

    fn tera() -> Tera {
        let figment =
            Figment::new().merge(("linktoken.secret", "0123456789abcdef0123456789abcdef"));
        let mut tera = Tera::default();
        register_tera(&mut tera, Issuer::from_figment(&figment).unwrap());
        tera
    }

    #[test]
    fn a_template_makes_a_link() {
        let out = tera()
            .render_str(
                r#"{{ link(user=7, scope="s", target="/a/b") | safe }}"#,
                &tera::Context::new(),
            )
            .unwrap();
        assert!(out.starts_with("/a/b?rt=ey"), "{out}");
    }

    #[test]
    fn bad_arguments_are_template_errors() {
        let render = |t: &str| tera().render_str(t, &tera::Context::new());
        assert!(render(r#"{{ link(scope="s", target="/a") }}"#).is_err());
        assert!(render(r#"{{ link(user=1, scope="s", target="a") }}"#).is_err());
        assert!(render(r#"{{ link(user=1, scope="s", target="/a", max_uses=-1) }}"#).is_err());
        for ttl in [u64::MAX, i64::MAX as u64, 9_223_372_036_854_776] {
            let template = format!(r#"{{{{ link(user=1, scope="s", target="/a", ttl={ttl}) }}}}"#);
            assert!(render(&template).is_err(), "ttl={ttl}");
        }
    }
}
