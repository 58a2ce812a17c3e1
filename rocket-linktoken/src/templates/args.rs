//! The arguments of `link`, read the same way whatever the engine: every engine hands them
//! over by name as JSON-like values, and gets back a URL or an error saying which one is wrong.

use chrono::TimeDelta;
use serde_json::Value;

use super::Links;
use crate::{Error, LinkSpec};

/// Every argument `link` takes, in the order its documentation gives them.
const ARGUMENTS: &str = "user, scope, target or route (and the route's parameters), ttl, \
                         max_uses, data and fingerprint";

/// Issues the link a template's `link` call asks for and returns its URL.
///
/// Unknown arguments are refused rather than ignored: a misspelt `max_use=1` would otherwise
/// make a link of the default number of uses without anyone noticing.
pub(super) fn issue<'a>(
    links: &Links,
    args: impl IntoIterator<Item = (&'a str, &'a Value)>,
) -> Result<String, Error> {
    let spec = spec(links, args)?;
    Ok(links.issuer.issue(&spec)?.url)
}

/// The message an engine's render error carries for a failed `link` call.
pub(super) fn message(e: &Error) -> String {
    format!("the template helper `link` failed: {e}")
}

#[derive(Default)]
struct Args<'a> {
    user: Option<&'a Value>,
    scope: Option<&'a Value>,
    target: Option<&'a Value>,
    route: Option<&'a Value>,
    ttl: Option<&'a Value>,
    max_uses: Option<&'a Value>,
    data: Option<&'a Value>,
    fingerprint: Option<&'a Value>,
    /// Any other argument: a parameter of `route`, or a mistake.
    other: Vec<(&'a str, &'a Value)>,
}

fn spec<'a>(
    links: &Links,
    args: impl IntoIterator<Item = (&'a str, &'a Value)>,
) -> Result<LinkSpec, Error> {
    let mut found = Args::default();
    for (name, value) in args {
        let slot = match name {
            "user" => &mut found.user,
            "scope" => &mut found.scope,
            "target" => &mut found.target,
            "route" => &mut found.route,
            "ttl" => &mut found.ttl,
            "max_uses" => &mut found.max_uses,
            "data" => &mut found.data,
            "fingerprint" => &mut found.fingerprint,
            other => {
                found.other.push((other, value));
                continue;
            }
        };
        *slot = Some(value);
    }
    let user = text_or_integer(required("user", found.user)?)
        .ok_or_else(|| wrong_type("user", "a string or an integer", found.user))?;
    let text = |name: &str, value: Option<&Value>| match required(name, value)? {
        Value::String(s) => Ok(s.clone()),
        _ => Err(wrong_type(name, "a string", value)),
    };
    let mut spec = match found.route {
        Some(_) => {
            if let Some(name) = [("scope", found.scope), ("target", found.target)]
                .into_iter()
                .find_map(|(name, value)| value.map(|_| name))
            {
                return Err(invalid(format!(
                    "`{name}` comes from the route: give either `route` or `scope` and `target`"
                )));
            }
            let name = text("route", found.route)?;
            links.route(&name)?.spec(user, &found.other)?
        }
        None => {
            if let Some((other, _)) = found.other.first() {
                return Err(invalid(format!(
                    "it takes no argument `{other}` (its arguments are {ARGUMENTS})"
                )));
            }
            LinkSpec::new(
                user,
                text("scope", found.scope)?,
                text("target", found.target)?,
            )
        }
    };
    if let Some(value) = found.max_uses {
        let uses = value
            .as_u64()
            .ok_or_else(|| wrong_type("max_uses", "a positive integer", Some(value)))?;
        let uses = u32::try_from(uses).map_err(|_| invalid("`max_uses` is too large"))?;
        spec = spec.max_uses(uses);
    }
    if let Some(value) = found.ttl {
        let ttl = value
            .as_u64()
            .ok_or_else(|| wrong_type("ttl", "a positive integer (seconds)", Some(value)))?;
        let ttl = i64::try_from(ttl)
            .ok()
            .and_then(TimeDelta::try_seconds)
            .ok_or_else(|| invalid("`ttl` is too large"))?;
        spec = spec.ttl(ttl);
    }
    if let Some(value) = found.data {
        if !value.is_object() {
            return Err(wrong_type("data", "an object", Some(value)));
        }
        spec = spec.data(value.clone());
    }
    match found.fingerprint {
        None | Some(Value::Null) => {}
        Some(value) => {
            let fingerprint = text_or_integer(value).ok_or_else(|| {
                wrong_type(
                    "fingerprint",
                    "a string, an integer, or null for none",
                    Some(value),
                )
            })?;
            spec = spec.fingerprint(fingerprint);
        }
    }
    Ok(spec)
}

fn required<'a>(name: &str, value: Option<&'a Value>) -> Result<&'a Value, Error> {
    value.ok_or_else(|| invalid(format!("the argument `{name}` is missing")))
}

fn wrong_type(name: &str, expected: &str, found: Option<&Value>) -> Error {
    let found = match found {
        None | Some(Value::Null) => "null",
        Some(Value::Bool(_)) => "a boolean",
        Some(Value::Number(n)) if n.is_f64() => "a floating-point number",
        Some(Value::Number(n)) if n.as_i64().is_some_and(|n| n < 0) => "a negative number",
        Some(Value::Number(_)) => "a number",
        Some(Value::String(_)) => "a string",
        Some(Value::Array(_)) => "an array",
        Some(Value::Object(_)) => "an object",
    };
    invalid(format!("`{name}` must be {expected}, not {found}"))
}

fn invalid(why: impl Into<String>) -> Error {
    Error::InvalidLink(why.into())
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
    use crate::Issuer;
    use serde_json::json;

    fn issuer() -> Issuer {
        let figment = rocket::figment::Figment::new()
            .merge(("linktoken.secret", "0123456789abcdef0123456789abcdef"));
        Issuer::from_figment(&figment).unwrap()
    }

    fn call(args: Value) -> Result<String, Error> {
        let Value::Object(args) = args else {
            panic!("arguments are an object")
        };
        issue(
            &Links::new(issuer()),
            args.iter().map(|(k, v)| (k.as_str(), v)),
        )
    }

    fn refusal(args: Value) -> String {
        match call(args) {
            Err(Error::InvalidLink(why)) => why,
            other => panic!("not refused as an invalid link: {other:?}"),
        }
    }

    #[test]
    fn all_arguments_make_one_link() {
        let url = call(json!({
            "user": 7, "scope": "s", "target": "/a?b=c", "ttl": 60, "max_uses": 2,
            "data": {"k": 1}, "fingerprint": "ada@example.com"
        }))
        .unwrap();
        assert!(url.starts_with("/a?b=c&rt=ey"), "{url}");
        let string_user = call(json!({"user": "u-1", "scope": "s", "target": "/a"})).unwrap();
        assert!(string_user.starts_with("/a?rt=ey"), "{string_user}");
    }

    #[test]
    fn each_bad_argument_is_named_in_its_refusal() {
        let cases = [
            (
                json!({"scope": "s", "target": "/a"}),
                "the argument `user` is missing",
            ),
            (
                json!({"user": 1.5, "scope": "s", "target": "/a"}),
                "`user` must be a string or an integer, not a floating-point number",
            ),
            (
                json!({"user": 1, "target": "/a"}),
                "the argument `scope` is missing",
            ),
            (
                json!({"user": 1, "scope": "s", "target": ["/a"]}),
                "`target` must be a string, not an array",
            ),
            (
                json!({"user": 1, "scope": "s", "target": "/a", "max_uses": -1}),
                "`max_uses` must be a positive integer, not a negative number",
            ),
            (
                json!({"user": 1, "scope": "s", "target": "/a", "max_uses": 4_294_967_296_u64}),
                "`max_uses` is too large",
            ),
            (
                json!({"user": 1, "scope": "s", "target": "/a", "ttl": "1h"}),
                "`ttl` must be a positive integer (seconds), not a string",
            ),
            (
                json!({"user": 1, "scope": "s", "target": "/a", "data": [1]}),
                "`data` must be an object, not an array",
            ),
            (
                json!({"user": 1, "scope": "s", "target": "/a", "fingerprint": true}),
                "`fingerprint` must be a string, an integer, or null for none, not a boolean",
            ),
            (
                json!({"user": 1, "scope": "s", "target": "/a", "max_use": 1}),
                "it takes no argument `max_use` (its arguments are user, scope, target or route \
                 (and the route's parameters), ttl, max_uses, data and fingerprint)",
            ),
            (
                json!({"user": 1, "route": "welcome", "target": "/a"}),
                "`target` comes from the route: give either `route` or `scope` and `target`",
            ),
            (
                json!({"user": 1, "route": 7}),
                "`route` must be a string, not a number",
            ),
            (
                json!({"user": 1, "route": "welcome"}),
                "no route `welcome` was given to `templates::fairing().route::<...>()` \
                 (routes given: none)",
            ),
        ];
        for (args, expected) in cases {
            assert_eq!(refusal(args.clone()), expected, "{args}");
        }
    }

    #[test]
    fn a_link_the_issuer_refuses_is_refused_with_its_reason() {
        let why = refusal(json!({"user": 1, "scope": "s", "target": "no-slash"}));
        assert!(why.starts_with("the target `no-slash`"), "{why}");
        for ttl in [u64::MAX, i64::MAX as u64, 9_223_372_036_854_776] {
            let args = json!({"user": 1, "scope": "s", "target": "/a", "ttl": ttl});
            assert!(call(args).is_err(), "ttl={ttl}");
        }
    }

    #[test]
    fn the_message_names_the_helper_and_the_reason() {
        let e = Error::InvalidLink("the argument `user` is missing".into());
        assert_eq!(
            message(&e),
            "the template helper `link` failed: A link could not be made: the argument `user` is missing."
        );
    }
}
