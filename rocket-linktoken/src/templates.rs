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
/// seconds), `data` (an object) and `fingerprint` (the user's
/// [`LinkUser::fingerprint`](crate::LinkUser::fingerprint): a string, an integer, or null
/// for none, see [`LinkSpec::fingerprint`]) are optional. It returns the URL (absolute when
/// `base_url` is set). Tera escapes it like any other value, which browsers undo in attributes.
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
        let user = args
            .get("user")
            .and_then(text_or_integer)
            .ok_or("link(): `user` must be a string or an integer")?;
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
        match args.get("fingerprint") {
            None | Some(Value::Null) => {}
            Some(value) => {
                let fingerprint = text_or_integer(value).ok_or(
                    "link(): `fingerprint` must be a string, an integer, or null for none",
                )?;
                spec = spec.fingerprint(fingerprint);
            }
        }
        let link = self
            .issuer
            .issue(&spec)
            .map_err(|e| tera::Error::msg(format!("link(): {e}")))?;
        Ok(Value::String(link.url))
    }
}

/// A string as it is, or an integer in decimal: ids and fingerprints as templates have them.
fn text_or_integer(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
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
    fn a_template_binds_a_link_to_a_fingerprint() {
        let figment =
            Figment::new().merge(("linktoken.secret", "0123456789abcdef0123456789abcdef"));
        let verifier = crate::Verifier::from_figment(&figment).unwrap();
        let claims = |template: &str, context: &tera::Context| {
            let url = tera().render_str(template, context).unwrap();
            let token = url.split_once("rt=").unwrap().1.to_string();
            verifier.authenticate(&token).unwrap()
        };
        let mut context = tera::Context::new();
        context.insert("email", "ada@example.com");
        context.insert("revision", &7);
        context.insert("none", &None::<String>);
        let bound = r#"{{ link(user=7, scope="s", target="/a", fingerprint=email) | safe }}"#;
        let bound = claims(bound, &context);
        assert!(verifier
            .check_fingerprint(&bound, Some("ada@example.com"))
            .is_ok());
        assert!(verifier
            .check_fingerprint(&bound, Some("bob@example.com"))
            .is_err());
        let counter = r#"{{ link(user=7, scope="s", target="/a", fingerprint=revision) | safe }}"#;
        let counter = claims(counter, &context);
        assert!(verifier.check_fingerprint(&counter, Some("7")).is_ok());
        let unbound = r#"{{ link(user=7, scope="s", target="/a", fingerprint=none) | safe }}"#;
        assert_eq!(claims(unbound, &context).fingerprint_hash(), None);
    }

    #[test]
    fn bad_arguments_are_template_errors() {
        let render = |t: &str| tera().render_str(t, &tera::Context::new());
        assert!(render(r#"{{ link(scope="s", target="/a") }}"#).is_err());
        assert!(render(r#"{{ link(user=1, scope="s", target="a") }}"#).is_err());
        assert!(render(r#"{{ link(user=1, scope="s", target="/a", max_uses=-1) }}"#).is_err());
        assert!(render(r#"{{ link(user=1, scope="s", target="/a", fingerprint=[1]) }}"#).is_err());
        for ttl in [u64::MAX, i64::MAX as u64, 9_223_372_036_854_776] {
            let template = format!(r#"{{{{ link(user=1, scope="s", target="/a", ttl={ttl}) }}}}"#);
            assert!(render(&template).is_err(), "ttl={ttl}");
        }
    }
}
