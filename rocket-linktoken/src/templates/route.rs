//! Routes named from templates: a mounted route with `#[expiring_link]`, its URI filled in
//! with the parameters a template gives, as `route_link!` fills it in with `uri!` in Rust.

use rocket::{Build, Rocket};
use serde_json::Value;

use crate::route::LinkRoute;
use crate::{Error, LinkSpec};

/// The arguments of the templates' `link`: a route cannot take a parameter of these names
/// from a template.
pub(crate) const HELPER_ARGUMENTS: [&str; 8] = [
    "user",
    "route",
    "scope",
    "target",
    "ttl",
    "max_uses",
    "data",
    "fingerprint",
];

/// A mounted route with `#[expiring_link]` as templates name it: its policy, and its URI with
/// the parameters a template fills in.
#[derive(Debug, Clone)]
pub(crate) struct RouteLink {
    name: String,
    scope: &'static str,
    cap: Option<u32>,
    path: Vec<Piece>,
    query: Vec<Piece>,
}

/// A segment of a route's path, or a field of its query.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    /// Written as it is: a static segment, or a static `name=value` field.
    Static(String),
    /// `<name>`: one value.
    One(String),
    /// `<name..>`: the rest of the path, or the query's other fields.
    Rest(String),
}

impl Piece {
    fn parse(text: &str) -> Piece {
        match text.strip_prefix('<').and_then(|t| t.strip_suffix('>')) {
            Some(name) => match name.strip_suffix("..") {
                Some(name) => Piece::Rest(name.to_owned()),
                None => Piece::One(name.to_owned()),
            },
            None => Piece::Static(text.to_owned()),
        }
    }

    fn parameter(&self) -> Option<&str> {
        match self {
            Piece::Static(_) => None,
            Piece::One(name) | Piece::Rest(name) => Some(name),
        }
    }
}

impl RouteLink {
    /// Route `R` where `rocket` mounts it, or why a template cannot name it: it must be
    /// mounted exactly once, and its parameters named apart from `link`'s own arguments.
    pub(crate) fn mounted<R: LinkRoute>(rocket: &Rocket<Build>) -> Result<RouteLink, String> {
        let route = R::route();
        let name = route.name.as_deref().unwrap_or_default().to_owned();
        let mut mounts = rocket.routes().filter(|mounted| {
            mounted.name == route.name
                && mounted.method == route.method
                && mounted.uri.unmounted_origin == route.uri.unmounted_origin
        });
        let origin = match (mounts.next(), mounts.next()) {
            (Some(only), None) => &only.uri.origin,
            (None, _) => return Err(format!("the route `{name}` is not mounted")),
            (Some(_), Some(_)) => {
                return Err(format!(
                    "the route `{name}` is mounted more than once, so a link to it is ambiguous"
                ))
            }
        };
        let path = origin.path().as_str();
        let path: Vec<Piece> = path
            .split('/')
            .skip(1)
            .filter(|s| !s.is_empty())
            .map(Piece::parse)
            .collect();
        let query: Vec<Piece> = match origin.query() {
            Some(query) => query
                .as_str()
                .split('&')
                .filter(|f| !f.is_empty())
                .map(Piece::parse)
                .collect(),
            None => Vec::new(),
        };
        for parameter in path.iter().chain(&query).filter_map(Piece::parameter) {
            if parameter == "_" {
                return Err(format!(
                    "the route `{name}` has an unnamed parameter (`<_>`), which no template can fill in"
                ));
            }
            if HELPER_ARGUMENTS.contains(&parameter) {
                return Err(format!(
                    "the route `{name}` has a parameter `{parameter}`, a name the template helper `link` keeps for its own argument"
                ));
            }
        }
        Ok(RouteLink {
            name,
            scope: R::SCOPE,
            cap: R::MAX_USES.filter(|_| !R::PREVIEW),
            path,
            query,
        })
    }

    /// The handler's name, as Rocket names the route.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The [`LinkSpec`] of a link to this route with these parameters, as `route_link!`
    /// makes it with `uri!`.
    pub(crate) fn spec<'a>(
        &self,
        user: String,
        parameters: &[(&'a str, &'a Value)],
    ) -> Result<LinkSpec, Error> {
        let spec = LinkSpec::new(user, self.scope, self.target(parameters)?);
        Ok(match self.cap {
            Some(cap) => spec.max_uses(cap),
            None => spec,
        })
    }

    fn target(&self, parameters: &[(&str, &Value)]) -> Result<String, Error> {
        let known: Vec<&str> = self
            .path
            .iter()
            .chain(&self.query)
            .filter_map(Piece::parameter)
            .collect();
        if let Some((unknown, _)) = parameters.iter().find(|(name, _)| !known.contains(name)) {
            let takes = match known.as_slice() {
                [] => "none".to_owned(),
                known => known
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            return Err(self.invalid(format!(
                "has no parameter `{unknown}` (its parameters: {takes})"
            )));
        }
        let given = |name: &str| {
            parameters
                .iter()
                .find(|(given, _)| *given == name)
                .map(|(_, value)| *value)
                .filter(|value| !value.is_null())
        };
        let mut target = String::new();
        for piece in &self.path {
            match piece {
                Piece::Static(segment) => {
                    target.push('/');
                    target.push_str(segment);
                }
                Piece::One(name) => {
                    let value = given(name)
                        .ok_or_else(|| self.invalid(format!("needs the parameter `{name}`")))?;
                    let text = self.scalar(name, value)?;
                    if text.is_empty() {
                        return Err(self.invalid(format!("needs a non-empty `{name}`")));
                    }
                    target.push('/');
                    push_segment(&mut target, &text);
                }
                Piece::Rest(name) => {
                    let value = given(name)
                        .ok_or_else(|| self.invalid(format!("needs the parameter `{name}`")))?;
                    for segment in self
                        .scalar(name, value)?
                        .split('/')
                        .filter(|s| !s.is_empty())
                    {
                        target.push('/');
                        push_segment(&mut target, segment);
                    }
                }
            }
        }
        if target.is_empty() {
            target.push('/');
        }
        let mut fields = Vec::new();
        for piece in &self.query {
            match piece {
                Piece::Static(field) => fields.push(field.clone()),
                Piece::One(name) => {
                    if let Some(value) = given(name) {
                        fields.push(field(name, &self.scalar(name, value)?));
                    }
                }
                Piece::Rest(name) => match given(name) {
                    None => {}
                    Some(Value::Object(members)) => {
                        for (key, value) in members.iter().filter(|(_, v)| !v.is_null()) {
                            fields.push(field(key, &self.scalar(name, value)?));
                        }
                    }
                    Some(_) => {
                        return Err(self.invalid(format!("takes `{name}` as an object of fields")))
                    }
                },
            }
        }
        if !fields.is_empty() {
            target.push('?');
            target.push_str(&fields.join("&"));
        }
        Ok(target)
    }

    /// A parameter's value as URI text: a string as it is, a number or a boolean as written.
    fn scalar(&self, name: &str, value: &Value) -> Result<String, Error> {
        match value {
            Value::String(text) => Ok(text.clone()),
            Value::Number(number) => Ok(number.to_string()),
            Value::Bool(flag) => Ok(flag.to_string()),
            _ => Err(self.invalid(format!("takes `{name}` as a string, a number or a boolean"))),
        }
    }

    fn invalid(&self, why: String) -> Error {
        Error::InvalidLink(format!("the route `{}` {why}", self.name))
    }
}

/// `name=value`, each percent-encoded.
fn field(name: &str, value: &str) -> String {
    let mut field = String::new();
    percent_encode(&mut field, name);
    field.push('=');
    percent_encode(&mut field, value);
    field
}

/// One path segment. `.` and `..` are encoded too: written as they are, a browser would
/// resolve them and open another path.
fn push_segment(target: &mut String, segment: &str) {
    match segment {
        "." => target.push_str("%2E"),
        ".." => target.push_str("%2E%2E"),
        _ => percent_encode(target, segment),
    }
}

/// Everything but RFC 3986's unreserved characters, percent-encoded.
fn percent_encode(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xF)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use rocket::http::Method;
    use rocket::route::{BoxFuture, Outcome};
    use rocket::{Data, Request};
    use serde_json::json;

    use rocket::Route;

    use super::*;
    use crate::guard::Policy;

    fn nothing<'r>(request: &'r Request<'_>, _: Data<'r>) -> BoxFuture<'r> {
        Outcome::from(request, ()).pin()
    }

    fn route(name: &'static str, uri: &str) -> Route {
        let mut route = Route::new(Method::Get, uri, nothing);
        route.name = Some(name.into());
        route
    }

    /// `/issue/<issue>/<path..>?<lang>&fmt=1`, one use.
    struct Archive;

    impl Policy for Archive {
        const SCOPE: &'static str = "archive";
        const MAX_USES: Option<u32> = Some(1);
        const PREVIEW: bool = false;
    }

    impl LinkRoute for Archive {
        fn route() -> Route {
            route("archive", "/issue/<issue>/<path..>?<lang>&fmt=1")
        }
    }

    /// `/confirm/<user>`, a preview with a parameter named like `link`'s own argument.
    struct Confirm;

    impl Policy for Confirm {
        const SCOPE: &'static str = "confirm";
        const MAX_USES: Option<u32> = Some(3);
        const PREVIEW: bool = true;
    }

    impl LinkRoute for Confirm {
        fn route() -> Route {
            route("confirm", "/confirm/<user>")
        }
    }

    fn archive() -> RouteLink {
        let rocket = rocket::build().mount("/news", vec![Archive::route()]);
        RouteLink::mounted::<Archive>(&rocket).unwrap()
    }

    fn target(parameters: Value) -> Result<String, String> {
        let Value::Object(parameters) = parameters else {
            panic!("parameters are an object")
        };
        let parameters: Vec<(&str, &Value)> =
            parameters.iter().map(|(k, v)| (k.as_str(), v)).collect();
        archive().target(&parameters).map_err(|e| match e {
            Error::InvalidLink(why) => why,
            other => panic!("not an invalid link: {other:?}"),
        })
    }

    #[test]
    fn every_parameter_is_filled_in_under_the_mount_point() {
        assert_eq!(
            target(json!({"issue": 3, "path": "caf\u{e9} au/lait&more", "lang": "fr"})),
            Ok("/news/issue/3/caf%C3%A9%20au/lait%26more?lang=fr&fmt=1".to_owned())
        );
        assert_eq!(
            target(json!({"issue": "3", "path": "a", "lang": null})),
            Ok("/news/issue/3/a?fmt=1".to_owned())
        );
        assert_eq!(
            target(json!({"issue": true, "path": "", "lang": "a=b&c"})),
            Ok("/news/issue/true?lang=a%3Db%26c&fmt=1".to_owned())
        );
    }

    #[test]
    fn dot_segments_are_encoded_so_no_browser_resolves_them() {
        assert_eq!(
            target(json!({"issue": "..", "path": "./x/../y"})),
            Ok("/news/issue/%2E%2E/%2E/x/%2E%2E/y?fmt=1".to_owned())
        );
    }

    #[test]
    fn a_missing_unknown_or_unwritable_parameter_is_refused_by_name() {
        let cases = [
            (json!({"path": "a"}), "the route `archive` needs the parameter `issue`"),
            (
                json!({"issue": "", "path": "a"}),
                "the route `archive` needs a non-empty `issue`",
            ),
            (
                json!({"issue": 1, "path": "a", "page": 2}),
                "the route `archive` has no parameter `page` (its parameters: `issue`, `path`, `lang`)",
            ),
            (
                json!({"issue": [1], "path": "a"}),
                "the route `archive` takes `issue` as a string, a number or a boolean",
            ),
        ];
        for (parameters, expected) in cases {
            assert_eq!(
                target(parameters.clone()),
                Err(expected.to_owned()),
                "{parameters}"
            );
        }
    }

    #[test]
    fn the_spec_carries_the_route_s_scope_and_cap() {
        let spec = archive()
            .spec("7".into(), &[("issue", &json!(1)), ("path", &json!("a"))])
            .unwrap();
        let expected = LinkSpec::new("7", "archive", "/news/issue/1/a?fmt=1").max_uses(1);
        assert_eq!(format!("{spec:?}"), format!("{expected:?}"));
    }

    #[test]
    fn a_route_templates_cannot_name_is_refused_with_the_reason() {
        let rocket = rocket::build();
        assert_eq!(
            RouteLink::mounted::<Archive>(&rocket).unwrap_err(),
            "the route `archive` is not mounted"
        );
        let rocket = rocket::build()
            .mount("/", vec![Archive::route()])
            .mount("/old", vec![Archive::route()]);
        assert_eq!(
            RouteLink::mounted::<Archive>(&rocket).unwrap_err(),
            "the route `archive` is mounted more than once, so a link to it is ambiguous"
        );
        let rocket = rocket::build().mount("/", vec![Confirm::route()]);
        assert_eq!(
            RouteLink::mounted::<Confirm>(&rocket).unwrap_err(),
            "the route `confirm` has a parameter `user`, a name the template helper `link` \
             keeps for its own argument"
        );
    }
}
