//! Request targets: the origin-form path and query a link is bound to, and the token
//! parameter lifted out of it. Issuing and requests go through the same functions, so a link's
//! `aud` is exactly what its requests will be compared against.

use std::borrow::Cow;
use std::sync::Arc;

/// Query parameters that mailers and analytics append to links, ignored by default when a
/// request's target is compared with a link's: a `*` at the end matches any rest of the name.
pub(crate) const TRACKING_PARAMS: [&str; 7] = [
    "utm_*", "fbclid", "gclid", "mc_cid", "mc_eid", "_hsenc", "_hsmi",
];

/// The query parameters left out when a request's target is compared with a link's.
#[derive(Debug, Clone)]
pub(crate) struct IgnoredParams {
    patterns: Arc<[String]>,
}

impl IgnoredParams {
    pub(crate) fn new<S: Into<String>>(patterns: impl IntoIterator<Item = S>) -> Self {
        IgnoredParams {
            patterns: patterns.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether the query parameter `name` (still percent-encoded) is ignored.
    fn matches(&self, name: &str) -> bool {
        let name = decode(name);
        self.patterns
            .iter()
            .any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => *name == **pattern,
            })
    }

    /// Whether `request` opens the link target `aud`: the same path, and the same query
    /// parameters in the same order once ignored ones are left out of both.
    pub(crate) fn same_target(&self, aud: &str, request: &str) -> bool {
        if aud == request {
            return true;
        }
        let (aud_path, aud_query) = aud.split_once('?').unwrap_or((aud, ""));
        let (path, query) = request.split_once('?').unwrap_or((request, ""));
        aud_path == path && self.kept(aud_query).eq(self.kept(query))
    }

    /// The parameters of `query` that are not ignored, in order.
    fn kept<'a>(&'a self, query: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        query.split('&').filter(move |segment| {
            let name = segment.split_once('=').map_or(*segment, |(name, _)| name);
            !segment.is_empty() && !self.matches(name)
        })
    }
}

/// The token as a request carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenParam {
    Absent,
    One(String),
    Repeated,
}

/// Splits the token parameter `param` off a request's path and query: the token, and the
/// target without it (other parameters keep their order; empty ones are dropped).
pub(crate) fn lift(path: &str, query: Option<&str>, param: &str) -> (TokenParam, String) {
    let mut token = TokenParam::Absent;
    let mut rest = Vec::new();
    for segment in query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
        let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
        if decode(name) == param {
            token = match token {
                TokenParam::Absent => TokenParam::One(decode(value).into_owned()),
                _ => TokenParam::Repeated,
            };
        } else {
            rest.push(segment);
        }
    }
    let target = if rest.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", rest.join("&"))
    };
    (token, target)
}

/// The target with the token appended as its last query parameter: the link's URL in origin
/// form.
pub(crate) fn with_token(target: &str, param: &str, token: &str) -> String {
    url("", target, param, token)
}

/// `base` followed by the target with the token appended: a link's URL, built in one
/// allocation.
pub(crate) fn url(base: &str, target: &str, param: &str, token: &str) -> String {
    let separator = if target.contains('?') { '&' } else { '?' };
    let mut url =
        String::with_capacity(base.len() + target.len() + 1 + param.len() + 1 + token.len());
    for part in [base, target] {
        url.push_str(part);
    }
    url.push(separator);
    for part in [param, "=", token] {
        url.push_str(part);
    }
    url
}

/// Checks a target for a new link and gives it in the form [`lift`] gives requests: an
/// origin-form path (RFC 3986 characters, valid percent escapes), an optional query without
/// the token parameter, no fragment.
pub(crate) fn normalize<'a>(target: &'a str, param: &str) -> Result<Cow<'a, str>, &'static str> {
    if !target.starts_with('/') {
        return Err("is not an origin-form path like `/a/b?c=d`");
    }
    // `//host/path` is a valid path, but a browser reads it as another host.
    if target.starts_with("//") {
        return Err("would be read as a host name");
    }
    if !is_uri_text(target) {
        return Err("has characters a URL cannot carry unescaped");
    }
    // A path alone is already in the form requests are compared in.
    let Some((path, query)) = target.split_once('?') else {
        return Ok(Cow::Borrowed(target));
    };
    match lift(path, Some(query), param) {
        (TokenParam::Absent, target) => Ok(Cow::Owned(target)),
        _ => Err("already has the token parameter"),
    }
}

/// RFC 3986 path and query characters, with every `%` starting a valid escape.
fn is_uri_text(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| match b {
        b'%' => bytes
            .get(i + 1..i + 3)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)),
        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => true,
        _ => b"-._~!$&'()*+,;=:@/?".contains(&b),
    })
}

/// Percent-decodes a query component (`+` is a space, as in forms). Invalid escapes stay as
/// they are; invalid UTF-8 becomes U+FFFD, which no token or parameter name contains.
fn decode(text: &str) -> Cow<'_, str> {
    // A token is hundreds of bytes, and most carry neither.
    if memchr::memchr2(b'%', b'+', text.as_bytes()).is_none() {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes[i] {
            b'%' => bytes
                .get(i + 1..i + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok()),
            _ => None,
        };
        match (
            bytes[i],
            escaped.and_then(|hex| u8::from_str_radix(hex, 16).ok()),
        ) {
            (_, Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (byte, None) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lifted(uri: &str) -> (TokenParam, String) {
        let (path, query) = match uri.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (uri, None),
        };
        lift(path, query, "rt")
    }

    #[test]
    fn the_token_is_lifted_and_the_rest_kept_in_order() {
        assert_eq!(
            lifted("/a?rt=t.o.k"),
            (TokenParam::One("t.o.k".into()), "/a".into())
        );
        assert_eq!(
            lifted("/a?x=1&rt=tok&y=2"),
            (TokenParam::One("tok".into()), "/a?x=1&y=2".into())
        );
        assert_eq!(
            lifted("/a?x=1&&y=2"),
            (TokenParam::Absent, "/a?x=1&y=2".into())
        );
        assert_eq!(lifted("/a"), (TokenParam::Absent, "/a".into()));
        assert_eq!(
            lifted("/a?rt="),
            (TokenParam::One(String::new()), "/a".into())
        );
        assert_eq!(
            lifted("/a?rt=%65y"),
            (TokenParam::One("ey".into()), "/a".into())
        );
    }

    #[test]
    fn a_repeated_token_is_noticed_even_when_encoded() {
        assert_eq!(lifted("/a?rt=1&rt=2").0, TokenParam::Repeated);
        assert_eq!(lifted("/a?rt=1&%72t=2").0, TokenParam::Repeated);
    }

    #[test]
    fn issued_targets_are_what_requests_will_be_compared_with() {
        for (target, expected) in [
            ("/a/b", "/a/b"),
            ("/a?", "/a"),
            ("/a?x=1&&y=2", "/a?x=1&y=2"),
            ("/caf%C3%A9?q=%20", "/caf%C3%A9?q=%20"),
        ] {
            let normalized = normalize(target, "rt").unwrap();
            assert_eq!(normalized, expected);
            let (path, query) = match normalized.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (&*normalized, None),
            };
            assert_eq!(
                lift(path, query, "rt").1,
                expected,
                "a request for {target} matches"
            );
        }
    }

    #[test]
    fn tracking_parameters_are_ignored_and_others_are_not() {
        let ignored = IgnoredParams::new(TRACKING_PARAMS);
        for (aud, request) in [
            ("/a", "/a?utm_source=news&utm_medium=email"),
            ("/a?x=1", "/a?x=1&fbclid=abc"),
            (
                "/a?x=1&y=2",
                "/a?gclid=1&x=1&mc_cid=2&mc_eid=3&y=2&_hsenc=4&_hsmi=5",
            ),
            ("/a?utm_campaign=nov", "/a"),
            ("/a", "/a?utm%5Fsource=news"),
            ("/a", "/a?utm_"),
        ] {
            assert!(ignored.same_target(aud, request), "{aud} vs {request}");
        }
        for (aud, request) in [
            ("/a", "/b?utm_source=news"),
            ("/a?x=1", "/a?x=2"),
            ("/a?x=1", "/a?x=1&y=2"),
            ("/a?x=1&y=2", "/a?y=2&x=1"),
            ("/a", "/a?utm=1"),
            ("/a", "/a?fbclid2=1"),
            ("/a", "/a?list=2&utm_source=news"),
        ] {
            assert!(!ignored.same_target(aud, request), "{aud} vs {request}");
        }
        let exact = IgnoredParams::new(Vec::<String>::new());
        assert!(!exact.same_target("/a", "/a?utm_source=news"));
        assert!(exact.same_target("/a?x=1", "/a?x=1"));
    }

    #[test]
    fn bad_targets_are_refused() {
        for target in [
            "a/b",
            "//evil.example/x",
            "/a?rt=x",
            "/a?r%74=x",
            "/a b",
            "/a#f",
            "/a%zz",
            "/a\"",
            "https://x/a",
        ] {
            assert!(normalize(target, "rt").is_err(), "{target} was accepted");
        }
    }
}
