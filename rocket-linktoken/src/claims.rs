//! The token's claims: the wire format other languages mint and read.

use std::fmt;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
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

/// The listed claims as they arrived, before their types are checked: a listed claim given
/// twice is an error here, rather than the last one silently winning.
#[derive(Default)]
struct Raw {
    jti: Option<Loose>,
    sub: Option<Loose>,
    scope: Option<Loose>,
    aud: Option<Loose>,
    iat: Option<Loose>,
    exp: Option<Loose>,
    nbf: Option<Loose>,
    max: Option<Loose>,
    data: Option<Loose>,
}

/// A claim's JSON value, kept only in the forms some claim accepts. An explicit `null` is
/// `Other`, refused like any other wrong type rather than read as "absent".
enum Loose {
    Text(String),
    /// serde_json gives non-negative integers as `u64` and negative ones as `i64`.
    Unsigned(u64),
    Negative(i64),
    Object(Map<String, Value>),
    Other,
}

/// The listed claims, and every other name.
enum Name {
    Jti,
    Sub,
    Scope,
    Aud,
    Iat,
    Exp,
    Nbf,
    Max,
    Data,
    Unlisted,
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Only an object is a claims set; `deserialize_map` refuses a positional array.
        d.deserialize_map(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut raw = Raw::default();
        while let Some(name) = map.next_key::<Name>()? {
            let (slot, claim) = match name {
                Name::Jti => (&mut raw.jti, "jti"),
                Name::Sub => (&mut raw.sub, "sub"),
                Name::Scope => (&mut raw.scope, "scope"),
                Name::Aud => (&mut raw.aud, "aud"),
                Name::Iat => (&mut raw.iat, "iat"),
                Name::Exp => (&mut raw.exp, "exp"),
                Name::Nbf => (&mut raw.nbf, "nbf"),
                Name::Max => (&mut raw.max, "max"),
                Name::Data => (&mut raw.data, "data"),
                Name::Unlisted => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if slot.is_some() {
                return Err(de::Error::duplicate_field(claim));
            }
            *slot = Some(map.next_value()?);
        }
        Ok(raw)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_identifier(NameVisitor)
    }
}

struct NameVisitor;

impl Visitor<'_> for NameVisitor {
    type Value = Name;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a claim name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Name, E> {
        Ok(match name {
            "jti" => Name::Jti,
            "sub" => Name::Sub,
            "scope" => Name::Scope,
            "aud" => Name::Aud,
            "iat" => Name::Iat,
            "exp" => Name::Exp,
            "nbf" => Name::Nbf,
            "max" => Name::Max,
            "data" => Name::Data,
            _ => Name::Unlisted,
        })
    }
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Loose, E> {
        Ok(Loose::Text(text.to_owned()))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Loose, E> {
        Ok(Loose::Text(text))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Loose, E> {
        Ok(Loose::Unsigned(n))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Loose, E> {
        Ok(u64::try_from(n).map_or(Loose::Negative(n), Loose::Unsigned))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Loose, E> {
        Ok(Loose::Other)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Loose, E> {
        Ok(Loose::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Loose, E> {
        Ok(Loose::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
        // Read as values, not skipped: text that is not JSON stays malformed wherever it is.
        while seq.next_element::<Value>()?.is_some() {}
        Ok(Loose::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Loose, A::Error> {
        Map::deserialize(MapAccessDeserializer::new(map)).map(Loose::Object)
    }
}

impl Claims {
    /// Parses and type-checks a token payload (the JSON, already base64url-decoded).
    pub fn from_json(json: &[u8]) -> Result<Claims, Error> {
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
                Some(Loose::Object(map)) => map,
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
            if has_control(text) {
                return Err(Error::InvalidClaim(claim));
            }
        }
        // Characters are never more than bytes: only a long jti needs counting.
        if self.jti.is_empty()
            || (self.jti.len() > MAX_JTI_LEN && self.jti.chars().count() > MAX_JTI_LEN)
        {
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

/// Whether `text` has a control character (Unicode's `Cc`: C0, DEL and C1).
fn has_control(text: &str) -> bool {
    // C1 controls are not ASCII: ASCII text needs only a byte scan.
    if text.is_ascii() {
        text.bytes().any(|b| b.is_ascii_control())
    } else {
        text.chars().any(char::is_control)
    }
}

fn string(value: Option<Loose>, claim: &'static str) -> Result<String, Error> {
    match value {
        Some(Loose::Text(s)) => Ok(s),
        _ => Err(Error::InvalidClaim(claim)),
    }
}

fn integer(value: Option<Loose>, claim: &'static str) -> Result<i64, Error> {
    // Floats are `Other`, and integers beyond i64 do not convert: both are refused.
    match value {
        Some(Loose::Negative(n)) => Ok(n),
        Some(Loose::Unsigned(n)) => i64::try_from(n).map_err(|_| Error::InvalidClaim(claim)),
        _ => Err(Error::InvalidClaim(claim)),
    }
}

fn max_uses(value: Loose) -> Result<u32, Error> {
    match value {
        Loose::Unsigned(n) => u32::try_from(n).ok().filter(|&n| n >= 1),
        _ => None,
    }
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
