//! `link` as a Tera function.

use std::collections::HashMap;

use rocket_dyn_templates::tera::{self, Tera, Value};

use super::{args, Links};
use crate::Issuer;

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
    install(tera, Links::new(issuer));
}

pub(super) fn install(tera: &mut Tera, links: Links) {
    tera.register_function("link", LinkFunction { links });
}

struct LinkFunction {
    links: Links,
}

impl tera::Function for LinkFunction {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        args::issue(&self.links, args.iter().map(|(k, v)| (k.as_str(), v)))
            .map(Value::String)
            .map_err(|e| tera::Error::msg(args::message(&e)))
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
    fn bad_arguments_are_render_errors_that_say_why() {
        let render = |t: &str| {
            let e = tera()
                .render_str(t, &tera::Context::new())
                .expect_err("the render fails");
            // Tera puts the function's message in the error's source.
            let mut messages = Vec::new();
            let mut error: Option<&dyn std::error::Error> = Some(&e);
            while let Some(e) = error {
                messages.push(e.to_string());
                error = e.source();
            }
            messages.join(" / ")
        };
        let missing = render(r#"{{ link(scope="s", target="/a") }}"#);
        assert!(
            missing.contains("the template helper `link` failed: A link could not be made: the argument `user` is missing."),
            "{missing}"
        );
        let target = render(r#"{{ link(user=1, scope="s", target="a") }}"#);
        assert!(target.contains("the target `a`"), "{target}");
        let uses = render(r#"{{ link(user=1, scope="s", target="/a", max_uses=-1) }}"#);
        assert!(
            uses.contains("`max_uses` must be a positive integer"),
            "{uses}"
        );
    }
}
