//! The token's claims: the wire format other languages mint and read.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::Error;

/// Longest accepted `jti`, in characters.
pub const MAX_JTI_LEN: usize = 64;

/// What a link token says, checked for shape: every claim of the right JSON type and range.
///
/// The claims are those of DESIGN.md's token table. Claims not listed there are ignored, so
/// other minters may add their own; listed claims of the wrong type are refused, never coerced.
///
/// ```
/// use rocket_linktoken::Claims;
///
/// let json = br#"{"jti":"j1","sub":"42","scope":"unsubscribe","aud":"/unsubscribe/7",
///                 "iat":1795999940,"exp":1796003600,"max":3,"data":{"list":7}}"#;
/// let claims = Claims::from_json(json)?;
/// assert_eq!(claims.sub(), "42");
/// assert_eq!(claims.max_uses(), Some(3));
/// assert_eq!(claims.data()["list"], 7);
/// assert!(Claims::from_json(br#"{"sub":42}"#).is_err());
/// # Ok::<(), rocket_linktoken::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claims {
    pub(crate) jti: String,
    pub(crate) sub: String,
    pub(crate) scope: String,
    pub(crate) aud: String,
    pub(crate) iat: i64,
    pub(crate) exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max: Option<u32>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub(crate) data: Map<String, Value>,
}

/// The listed claims as they arrived, before their types are checked. Deriving `Deserialize`
/// here (rather than reading a `serde_json::Map`) makes a repeated claim an error instead of
/// letting the last one silently win.
#[derive(Deserialize)]
struct Raw {
    #[serde(default, deserialize_with = "present")]
    jti: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    sub: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    scope: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    aud: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    iat: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    exp: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    nbf: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    max: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    data: Option<Value>,
}

/// Keeps an explicit `null` as `Some(Value::Null)`, so that it is refused like any other
/// wrong type instead of reading as "absent".
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl Claims {
    /// Parses and type-checks a token payload (the JSON, already base64url-decoded).
    pub fn from_json(json: &[u8]) -> Result<Claims, Error> {
        // A derived struct also accepts a JSON array, positionally: only objects are claims.
        if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(Error::Malformed);
        }
        let raw: Raw = serde_json::from_slice(json).map_err(|_| Error::Malformed)?;
        let claims = Claims {
            jti: string(raw.jti, "jti")?,
            sub: string(raw.sub, "sub")?,
            scope: string(raw.scope, "scope")?,
            aud: string(raw.aud, "aud")?,
            iat: integer(raw.iat, "iat")?,
            exp: integer(raw.exp, "exp")?,
            nbf: raw.nbf.map(|v| integer(Some(v), "nbf")).transpose()?,
            max: raw.max.map(max_uses).transpose()?,
            data: match raw.data {
                None => Map::new(),
                Some(Value::Object(map)) => map,
                Some(_) => return Err(Error::InvalidClaim("data")),
            },
        };
        claims.check()?;
        Ok(claims)
    }

    /// Range checks shared by parsing and issuing.
    pub(crate) fn check(&self) -> Result<(), Error> {
        // Control characters have no place in ids, and PostgreSQL refuses NUL in text.
        let texts = [
            ("jti", &self.jti),
            ("sub", &self.sub),
            ("scope", &self.scope),
            ("aud", &self.aud),
        ];
        for (claim, text) in texts {
            if text.chars().any(char::is_control) {
                return Err(Error::InvalidClaim(claim));
            }
        }
        if self.jti.is_empty() || self.jti.chars().count() > MAX_JTI_LEN {
            return Err(Error::InvalidClaim("jti"));
        }
        if self.sub.is_empty() {
            return Err(Error::InvalidClaim("sub"));
        }
        if self.scope.is_empty() {
            return Err(Error::InvalidClaim("scope"));
        }
        if !self.aud.starts_with('/') {
            return Err(Error::InvalidClaim("aud"));
        }
        Ok(())
    }

    /// The link's unique id.
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// The recipient: the application's user id.
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// What the link is for.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The target the link opens: origin-form path and query, without the token parameter.
    pub fn aud(&self) -> &str {
        &self.aud
    }

    /// Issued at, unix seconds.
    pub fn issued_at(&self) -> i64 {
        self.iat
    }

    /// Expiry, unix seconds.
    pub fn expires_at(&self) -> i64 {
        self.exp
    }

    /// Not valid before, unix seconds, if set.
    pub fn not_before(&self) -> Option<i64> {
        self.nbf
    }

    /// The uses the token allows, if it limits them (the route's cap applies as well).
    pub fn max_uses(&self) -> Option<u32> {
        self.max
    }

    /// The application data carried by the link (empty when there is none). Anyone holding the
    /// link can read it.
    pub fn data(&self) -> &Map<String, Value> {
        &self.data
    }
}

fn string(value: Option<Value>, claim: &'static str) -> Result<String, Error> {
    match value {
        Some(Value::String(s)) => Ok(s),
        _ => Err(Error::InvalidClaim(claim)),
    }
}

fn integer(value: Option<Value>, claim: &'static str) -> Result<i64, Error> {
    // `as_i64` is `None` for floats and for integers beyond i64: both are refused.
    value
        .as_ref()
        .and_then(Value::as_i64)
        .ok_or(Error::InvalidClaim(claim))
}

fn max_uses(value: Value) -> Result<u32, Error> {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n >= 1)
        .ok_or(Error::InvalidClaim("max"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Claims, Error> {
        Claims::from_json(json.as_bytes())
    }

    const BASE: &str = r#""jti":"a","sub":"1","scope":"s","aud":"/x","iat":1,"exp":2"#;

    fn with(extra: &str) -> Result<Claims, Error> {
        parse(&format!("{{{BASE}{extra}}}"))
    }

    fn refused_claim(result: Result<Claims, Error>) -> Option<&'static str> {
        match result {
            Err(Error::InvalidClaim(claim)) => Some(claim),
            _ => None,
        }
    }

    #[test]
    fn minimal_claims_parse_and_unknown_claims_are_ignored() {
        let claims = with(r#","iss":"someone","extra":[1]"#).unwrap();
        assert_eq!(
            (claims.jti(), claims.expires_at(), claims.max_uses()),
            ("a", 2, None)
        );
        assert!(claims.data().is_empty());
    }

    #[test]
    fn wrong_types_are_refused_never_coerced() {
        assert_eq!(refused_claim(parse(r#"{"jti":"a","sub":1}"#)), Some("sub"));
        let exp_string = r#"{"jti":"a","sub":"1","scope":"s","aud":"/x","iat":1,"exp":"2"}"#;
        assert_eq!(refused_claim(parse(exp_string)), Some("exp"));
        assert_eq!(refused_claim(with(r#","nbf":1.5"#)), Some("nbf"));
        assert_eq!(refused_claim(with(r#","nbf":null"#)), Some("nbf"));
        assert_eq!(refused_claim(with(r#","max":"3""#)), Some("max"));
        assert_eq!(refused_claim(with(r#","data":[1]"#)), Some("data"));
    }

    #[test]
    fn timestamps_beyond_i64_are_refused() {
        let big =
            r#"{"jti":"a","sub":"1","scope":"s","aud":"/x","iat":1,"exp":9223372036854775808}"#;
        assert_eq!(refused_claim(parse(big)), Some("exp"));
        let huge = r#"{"jti":"a","sub":"1","scope":"s","aud":"/x","iat":1e400,"exp":2}"#;
        assert!(parse(huge).is_err());
    }

    #[test]
    fn max_must_be_at_least_one_and_fit_u32() {
        assert_eq!(refused_claim(with(r#","max":0"#)), Some("max"));
        assert_eq!(refused_claim(with(r#","max":-1"#)), Some("max"));
        assert_eq!(refused_claim(with(r#","max":4294967296"#)), Some("max"));
        assert_eq!(
            with(r#","max":4294967295"#).unwrap().max_uses(),
            Some(u32::MAX)
        );
    }

    #[test]
    fn jti_length_and_presence_are_checked() {
        let long = "j".repeat(65);
        let json =
            format!(r#"{{"jti":"{long}","sub":"1","scope":"s","aud":"/x","iat":1,"exp":2}}"#);
        assert_eq!(refused_claim(parse(&json)), Some("jti"));
        assert_eq!(refused_claim(parse(r#"{"sub":"1"}"#)), Some("jti"));
    }

    #[test]
    fn control_characters_are_refused() {
        let nul = r#"{"jti":"a","sub":"1\u0000","scope":"s","aud":"/x","iat":1,"exp":2}"#;
        assert_eq!(refused_claim(parse(nul)), Some("sub"));
        let newline = r#"{"jti":"a\n","sub":"1","scope":"s","aud":"/x","iat":1,"exp":2}"#;
        assert_eq!(refused_claim(parse(newline)), Some("jti"));
    }

    #[test]
    fn non_objects_and_repeated_claims_are_malformed() {
        assert!(matches!(parse("[1,2,3]"), Err(Error::Malformed)));
        assert!(matches!(parse("not json"), Err(Error::Malformed)));
        assert!(matches!(with(r#","sub":"2""#), Err(Error::Malformed)));
    }
}
