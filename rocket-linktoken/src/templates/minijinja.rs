//! `link` as a MiniJinja global function, with keyword arguments.

use rocket_dyn_templates::minijinja::value::{Kwargs, Value};
use rocket_dyn_templates::minijinja::{Environment, Error, ErrorKind};

use super::{args, Links};
use crate::Issuer;

/// Registers the `link` function in a MiniJinja environment, for applications that set
/// MiniJinja up themselves.
///
/// ```
/// use rocket_dyn_templates::minijinja::Environment;
/// use rocket_linktoken::Issuer;
///
/// let figment = rocket::Config::figment()
///     .merge(("linktoken.secret", "an-example-secret-of-32-bytes-or-more"));
/// let mut env = Environment::new();
/// rocket_linktoken::templates::register_minijinja(&mut env, Issuer::from_figment(&figment)?);
/// let text = env
///     .render_str(r#"{{ link(user=7, scope="preferences", target="/preferences") }}"#, ())
///     .unwrap();
/// assert!(text.starts_with("/preferences?rt=ey"));
/// # Ok::<(), rocket_linktoken::Error>(())
/// ```
pub fn register_minijinja(env: &mut Environment<'_>, issuer: Issuer) {
    install(env, Links::new(issuer));
}

pub(super) fn install(env: &mut Environment<'_>, links: Links) {
    env.add_function("link", move |kwargs: Kwargs| link(&links, &kwargs));
}

fn link(links: &Links, kwargs: &Kwargs) -> Result<String, Error> {
    let mut named = Vec::new();
    for name in kwargs.args() {
        let value: Value = kwargs.get(name)?;
        let value = serde_json::to_value(&value).map_err(|e| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("the template helper `link` cannot read `{name}`: {e}"),
            )
        })?;
        named.push((name, value));
    }
    args::issue(links, named.iter().map(|(k, v)| (*k, v)))
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, args::message(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::figment::Figment;
    use rocket_dyn_templates::minijinja::context;

    fn env() -> Environment<'static> {
        let figment =
            Figment::new().merge(("linktoken.secret", "0123456789abcdef0123456789abcdef"));
        let mut env = Environment::new();
        register_minijinja(&mut env, Issuer::from_figment(&figment).unwrap());
        env
    }

    #[test]
    fn html_templates_escape_the_link_and_text_templates_do_not() {
        let mut env = env();
        let template = r#"{{ link(user=user.id, scope="s", target=target, ttl=60) }}"#;
        env.add_template("email.html", template).unwrap();
        env.add_template("email.txt", template).unwrap();
        let context = context! { user => context! { id => 7 }, target => "/a?b=c" };
        let html = env
            .get_template("email.html")
            .unwrap()
            .render(&context)
            .unwrap();
        assert!(html.starts_with("&#x2f;a?b=c&amp;rt=ey"), "{html}");
        let text = env
            .get_template("email.txt")
            .unwrap()
            .render(&context)
            .unwrap();
        assert!(text.starts_with("/a?b=c&rt=ey"), "{text}");
    }

    #[test]
    fn bad_arguments_are_render_errors_that_say_why() {
        let render = |t: &str| {
            env()
                .render_str(t, ())
                .expect_err("the render fails")
                .to_string()
        };
        let missing = render(r#"{{ link(scope="s", target="/a") }}"#);
        assert!(
            missing.contains("the template helper `link` failed: A link could not be made: the argument `user` is missing."),
            "{missing}"
        );
        let undefined = render(r#"{{ link(user=nobody, scope="s", target="/a") }}"#);
        assert!(
            undefined.contains("`user` must be a string or an integer, not null"),
            "{undefined}"
        );
        let target = render(r#"{{ link(user=1, scope="s", target="a") }}"#);
        assert!(target.contains("the target `a`"), "{target}");
        let positional = render(r#"{{ link(1, "s", "/a") }}"#);
        assert!(positional.contains("too many arguments"), "{positional}");
    }
}
