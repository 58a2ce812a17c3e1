//! `link` as a Handlebars helper, with hash arguments.

use rocket_dyn_templates::handlebars::{
    Context, Handlebars, Helper, HelperDef, JsonValue, RenderContext, RenderError,
    RenderErrorReason, ScopedJson,
};

use super::{args, Links};
use crate::Issuer;

/// Registers the `link` helper in a Handlebars registry, for applications that set Handlebars
/// up themselves.
///
/// Handlebars escapes what `{{...}}` writes for HTML, whatever the template: write
/// `{{{link ...}}}` in a text template.
///
/// ```
/// use rocket_dyn_templates::handlebars::Handlebars;
/// use rocket_linktoken::Issuer;
///
/// let figment = rocket::Config::figment()
///     .merge(("linktoken.secret", "an-example-secret-of-32-bytes-or-more"));
/// let mut handlebars = Handlebars::new();
/// rocket_linktoken::templates::register_handlebars(&mut handlebars, Issuer::from_figment(&figment)?);
/// let text = handlebars
///     .render_template(r#"{{{link user=7 scope="preferences" target="/preferences"}}}"#, &())
///     .unwrap();
/// assert!(text.starts_with("/preferences?rt=ey"));
/// # Ok::<(), rocket_linktoken::Error>(())
/// ```
pub fn register_handlebars(handlebars: &mut Handlebars<'_>, issuer: Issuer) {
    install(handlebars, Links::new(issuer));
}

pub(super) fn install(handlebars: &mut Handlebars<'_>, links: Links) {
    handlebars.register_helper("link", Box::new(LinkHelper { links }));
}

struct LinkHelper {
    links: Links,
}

impl HelperDef for LinkHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        helper: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, RenderError> {
        if !helper.params().is_empty() {
            return Err(RenderErrorReason::Other(
                "the template helper `link` takes named arguments only, as in \
                 {{link user=subscriber.id scope=\"unsubscribe\" target=\"/unsubscribe/1\"}}"
                    .into(),
            )
            .into());
        }
        let named = helper.hash().iter().map(|(k, v)| (*k, v.value()));
        match args::issue(&self.links, named) {
            Ok(url) => Ok(ScopedJson::Derived(JsonValue::String(url))),
            Err(e) => Err(RenderErrorReason::Other(args::message(&e)).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::figment::Figment;
    use serde_json::json;

    fn handlebars() -> Handlebars<'static> {
        let figment =
            Figment::new().merge(("linktoken.secret", "0123456789abcdef0123456789abcdef"));
        let mut handlebars = Handlebars::new();
        register_handlebars(&mut handlebars, Issuer::from_figment(&figment).unwrap());
        handlebars
    }

    #[test]
    fn double_braces_escape_the_link_and_triple_braces_do_not() {
        let context = json!({ "user": { "id": 7 }, "target": "/a?b=c" });
        let escaped = handlebars()
            .render_template(
                r#"{{link user=user.id scope="s" target=target max_uses=2}}"#,
                &context,
            )
            .unwrap();
        assert!(
            escaped.starts_with("/a?b&#x3D;c&amp;rt&#x3D;ey"),
            "{escaped}"
        );
        let raw = handlebars()
            .render_template(
                r#"{{{link user=user.id scope="s" target=target}}}"#,
                &context,
            )
            .unwrap();
        assert!(raw.starts_with("/a?b=c&rt=ey"), "{raw}");
    }

    #[test]
    fn bad_arguments_are_render_errors_that_say_why() {
        let render = |t: &str| {
            handlebars()
                .render_template(t, &json!({}))
                .expect_err("the render fails")
                .to_string()
        };
        let missing = render(r#"{{link scope="s" target="/a"}}"#);
        assert!(
            missing.contains("the template helper `link` failed: A link could not be made: the argument `user` is missing."),
            "{missing}"
        );
        let undefined = render(r#"{{link user=nobody.id scope="s" target="/a"}}"#);
        assert!(
            undefined.contains("`user` must be a string or an integer, not null"),
            "{undefined}"
        );
        let target = render(r#"{{link user=1 scope="s" target="a"}}"#);
        assert!(target.contains("the target `a`"), "{target}");
        let positional = render(r#"{{link 1 "s" "/a"}}"#);
        assert!(
            positional.contains("takes named arguments only"),
            "{positional}"
        );
    }
}
