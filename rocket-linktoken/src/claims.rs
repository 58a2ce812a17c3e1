//! The token's claims: the wire format other languages mint and read.

use std::fmt;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::json::{self, Member};
use crate::{keys, Error};

/// Longest accepted `jti`, in characters.
pub const MAX_JTI_LEN: usize = 64;

/// What a link token says, checked for shape: every claim of the right JSON type and range.
///
/// The claims are those of the README's "The token". Claims not listed there are ignored, so
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fp: Option<String>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub(crate) data: Map<String, Value>,
}

/// What a genuine token names of its link, for the row of an attempt with it: the columns
/// `jti`, `sub` and `scope` of `linktoken_uses`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinkIds {
    pub(crate) jti: String,
    pub(crate) sub: String,
    pub(crate) scope: String,
}

impl LinkIds {
    /// The ids of claims that were accepted.
    pub(crate) fn of(claims: &Claims) -> LinkIds {
        LinkIds {
            jti: claims.jti.clone(),
            sub: claims.sub.clone(),
            scope: claims.scope.clone(),
        }
    }

    /// What a signed payload whose claims were refused still says of its link. `None` when it
    /// is no claims object (not JSON, or a listed claim given twice: which one would it be?)
    /// or its `jti` is no link id (a string of 1 to 64 characters without control
    /// characters): rows are found by their link's id, and PostgreSQL refuses NUL in text.
    /// `sub` and `scope` are empty unless they are strings without control characters.
    pub(crate) fn read(json: &[u8]) -> Option<LinkIds> {
        let raw = Raw::read(json).ok()?;
        let text = |value: Option<Loose>| match value {
            Some(Loose::Text(text)) if !has_control(&text) => Some(text),
            _ => None,
        };
        Some(LinkIds {
            jti: text(raw.jti).filter(|jti| jti_fits(jti))?,
            sub: text(raw.sub).unwrap_or_default(),
            scope: text(raw.scope).unwrap_or_default(),
        })
    }
}

/// The claims of a link being issued, borrowed from what the issuer was given: writing them
/// needs no copies.
pub(crate) struct NewClaims<'a> {
    pub(crate) jti: &'a str,
    pub(crate) sub: &'a str,
    pub(crate) scope: &'a str,
    pub(crate) aud: &'a str,
    pub(crate) iat: i64,
    pub(crate) exp: i64,
    pub(crate) nbf: Option<i64>,
    pub(crate) max: Option<u32>,
    pub(crate) fp: Option<&'a str>,
    pub(crate) data: Option<&'a Map<String, Value>>,
}

impl NewClaims<'_> {
    /// The checks a token read back will get.
    pub(crate) fn check(&self) -> Result<(), Error> {
        check_texts(self.jti, self.sub, self.scope, self.aud)
    }

    /// The claims as compact JSON, byte for byte what serde_json writes for [`Claims`]
    /// (tested): written by hand because serde_json's general machinery cost a third of
    /// issuing a link.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        let mut integer = itoa::Buffer::new();
        for (prefix, text) in [
            (&br#"{"jti":"#[..], self.jti),
            (br#","sub":"#, self.sub),
            (br#","scope":"#, self.scope),
            (br#","aud":"#, self.aud),
        ] {
            out.extend_from_slice(prefix);
            write_string(out, text)?;
        }
        out.extend_from_slice(br#","iat":"#);
        out.extend_from_slice(integer.format(self.iat).as_bytes());
        out.extend_from_slice(br#","exp":"#);
        out.extend_from_slice(integer.format(self.exp).as_bytes());
        if let Some(nbf) = self.nbf {
            out.extend_from_slice(br#","nbf":"#);
            out.extend_from_slice(integer.format(nbf).as_bytes());
        }
        if let Some(max) = self.max {
            out.extend_from_slice(br#","max":"#);
            out.extend_from_slice(integer.format(max).as_bytes());
        }
        if let Some(fp) = self.fp {
            out.extend_from_slice(br#","fp":"#);
            write_string(out, fp)?;
        }
        if let Some(data) = self.data.filter(|data| !data.is_empty()) {
            out.extend_from_slice(br#","data":"#);
            serde_json::to_writer(&mut *out, data)?;
        }
        out.push(b'}');
        Ok(())
    }
}

/// A JSON string; serde_json writes the ones that need escapes.
fn write_string(out: &mut Vec<u8>, text: &str) -> Result<(), serde_json::Error> {
    if text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        return serde_json::to_writer(&mut *out, text);
    }
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
    Ok(())
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
    fp: Option<Loose>,
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
    Fp,
    Data,
    Unlisted,
}

impl Raw {
    /// Reads the listed claims of a payload, whatever their types.
    fn read(json: &[u8]) -> Result<Raw, Error> {
        match Raw::read_flat(json) {
            Some(raw) => Ok(raw),
            None => serde_json::from_slice(json).map_err(|_| Error::Malformed),
        }
    }

    /// Reads the claims with the fast reader; `None` leaves them to serde_json (`json.rs`).
    fn read_flat(json: &[u8]) -> Option<Raw> {
        let mut raw = Raw::default();
        json::read_object(json, |name, value| {
            let Some((slot, _)) = raw.slot(Name::of(name)) else {
                return Some(());
            };
            if slot.is_some() {
                // Repeated: serde_json's error is the answer.
                return None;
            }
            *slot = Some(match value {
                Member::Text(text) => Loose::Text(text.to_owned()),
                Member::Unsigned(n) => Loose::Unsigned(n),
                Member::Json(value) => serde_json::from_str(value).ok()?,
            });
            Some(())
        })?;
        Some(raw)
    }

    /// Where a listed claim goes, and its name; `None` for unlisted claims.
    fn slot(&mut self, name: Name) -> Option<(&mut Option<Loose>, &'static str)> {
        Some(match name {
            Name::Jti => (&mut self.jti, "jti"),
            Name::Sub => (&mut self.sub, "sub"),
            Name::Scope => (&mut self.scope, "scope"),
            Name::Aud => (&mut self.aud, "aud"),
            Name::Iat => (&mut self.iat, "iat"),
            Name::Exp => (&mut self.exp, "exp"),
            Name::Nbf => (&mut self.nbf, "nbf"),
            Name::Max => (&mut self.max, "max"),
            Name::Fp => (&mut self.fp, "fp"),
            Name::Data => (&mut self.data, "data"),
            Name::Unlisted => return None,
        })
    }
}

impl Name {
    fn of(name: &str) -> Name {
        match name {
            "jti" => Name::Jti,
            "sub" => Name::Sub,
            "scope" => Name::Scope,
            "aud" => Name::Aud,
            "iat" => Name::Iat,
            "exp" => Name::Exp,
            "nbf" => Name::Nbf,
            "max" => Name::Max,
            "fp" => Name::Fp,
            "data" => Name::Data,
            _ => Name::Unlisted,
        }
    }
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
            let Some((slot, claim)) = raw.slot(name) else {
                map.next_value::<IgnoredAny>()?;
                continue;
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
        Ok(Name::of(name))
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
        Claims::from_raw(Raw::read(json)?)
    }

    fn from_raw(raw: Raw) -> Result<Claims, Error> {
        let claims = Claims {
            jti: string(raw.jti, "jti")?,
            sub: string(raw.sub, "sub")?,
            scope: string(raw.scope, "scope")?,
            aud: string(raw.aud, "aud")?,
            iat: integer(raw.iat, "iat")?,
            exp: integer(raw.exp, "exp")?,
            nbf: raw.nbf.map(|v| integer(Some(v), "nbf")).transpose()?,
            max: raw.max.map(max_uses).transpose()?,
            fp: raw.fp.map(fingerprint).transpose()?,
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
        check_texts(&self.jti, &self.sub, &self.scope, &self.aud)
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

    /// The keyed hash of its user's fingerprint the link is bound to (`fp`), if it is bound to
    /// one: see [`LinkSpec::fingerprint`](crate::LinkSpec::fingerprint).
    pub fn fingerprint_hash(&self) -> Option<&str> {
        self.fp.as_deref()
    }

    /// The application data carried by the link (empty when there is none). Anyone holding the
    /// link can read it.
    pub fn data(&self) -> &Map<String, Value> {
        &self.data
    }
}

/// The checks on a token's text claims, for links read and links made.
fn check_texts(jti: &str, sub: &str, scope: &str, aud: &str) -> Result<(), Error> {
    // Control characters have no place in ids, and PostgreSQL refuses NUL in text.
    for (claim, text) in [("jti", jti), ("sub", sub), ("scope", scope), ("aud", aud)] {
        if has_control(text) {
            return Err(Error::InvalidClaim(claim));
        }
    }
    if !jti_fits(jti) {
        return Err(Error::InvalidClaim("jti"));
    }
    if sub.is_empty() {
        return Err(Error::InvalidClaim("sub"));
    }
    if scope.is_empty() {
        return Err(Error::InvalidClaim("scope"));
    }
    if !aud.starts_with('/') {
        return Err(Error::InvalidClaim("aud"));
    }
    Ok(())
}

/// Whether a `jti` has 1 to [`MAX_JTI_LEN`] characters.
fn jti_fits(jti: &str) -> bool {
    // Characters are never more than bytes: only a long jti needs counting.
    !jti.is_empty() && (jti.len() <= MAX_JTI_LEN || jti.chars().count() <= MAX_JTI_LEN)
}

/// Whether `text` has a control character (Unicode's `Cc`: C0, DEL and C1).
fn has_control(text: &str) -> bool {
    // C1 controls are U+0080 to U+009F, whose UTF-8 starts with 0xC2: text without C0, DEL
    // or that byte needs no decoding.
    text.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2) && text.chars().any(char::is_control)
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

/// An `fp` claim: the base64url of a 16-byte hash, as issuing writes it.
fn fingerprint(value: Loose) -> Result<String, Error> {
    match value {
        Loose::Text(fp) if keys::fingerprint_hash(&fp).is_some() => Ok(fp),
        _ => Err(Error::InvalidClaim("fp")),
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
    use proptest::prelude::*;

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
        assert_eq!(refused_claim(with(r#","fp":7"#)), Some("fp"));
        assert_eq!(refused_claim(with(r#","fp":null"#)), Some("fp"));
    }

    #[test]
    fn a_fingerprint_hash_is_16_bytes_of_base64url() {
        let hash = with(r#","fp":"AAAAAAAAAAAAAAAAAAAAAA""#).unwrap();
        assert_eq!(hash.fingerprint_hash(), Some("AAAAAAAAAAAAAAAAAAAAAA"));
        assert_eq!(with("").unwrap().fingerprint_hash(), None);
        for fp in [
            "",
            "ada@example.com",
            "AAAAAAAAAAAAAAAAAAAAAA==",
            "AAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(
                refused_claim(with(&format!(r#","fp":"{fp}""#))),
                Some("fp"),
                "{fp}"
            );
        }
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
    fn refused_claims_keep_the_ids_a_row_can_hold() {
        let ids =
            |json: &str| LinkIds::read(json.as_bytes()).map(|ids| (ids.jti, ids.sub, ids.scope));
        let all = |jti: &str, sub: &str, scope: &str| Some((jti.into(), sub.into(), scope.into()));
        assert_eq!(
            ids(r#"{"jti":"a","sub":"1","scope":"s","exp":2.5,"max":0}"#),
            all("a", "1", "s")
        );
        assert_eq!(
            ids(r#"{"jti":"a","sub":42,"scope":"s\u0000"}"#),
            all("a", "", "")
        );
        let long = format!(r#"{{"jti":"{}","sub":"1"}}"#, "j".repeat(65));
        for unreadable in [
            r#"{"sub":"1","scope":"s"}"#,
            r#"{"jti":7,"sub":"1"}"#,
            r#"{"jti":"","sub":"1"}"#,
            r#"{"jti":"a\n","sub":"1"}"#,
            &long,
            r#"{"jti":"a","jti":"b","sub":"1"}"#,
            "[1]",
            "not json",
        ] {
            assert_eq!(ids(unreadable), None, "{unreadable}");
        }
    }

    #[test]
    fn control_characters_are_found_wherever_they_are() {
        for c in (0..0x300)
            .filter_map(char::from_u32)
            .chain(['\u{2028}', '\u{fffd}'])
        {
            let text = format!("a{c}\u{e9}");
            assert_eq!(has_control(&text), c.is_control(), "{:?}", c);
        }
    }

    /// Arbitrary JSON objects with the listed claims' names among others.
    fn objects() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,8}".prop_map(Value::from),
        ];
        let value = leaf.prop_recursive(2, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                prop::collection::btree_map(".{0,3}", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        let name = prop_oneof![
            Just("jti"),
            Just("sub"),
            Just("scope"),
            Just("aud"),
            Just("iat"),
            Just("exp"),
            Just("nbf"),
            Just("max"),
            Just("fp"),
            Just("data"),
            Just("x"),
            Just("\"\u{e9}"),
        ];
        prop::collection::btree_map(name.prop_map(String::from), value, 0..10)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    proptest! {
        #[test]
        fn the_fast_reader_agrees_with_serde_json(object in objects(), pretty in any::<bool>()) {
            let json = if pretty {
                serde_json::to_string_pretty(&object).unwrap()
            } else {
                object.to_string()
            };
            let slow = serde_json::from_slice(json.as_bytes())
                .map_err(|_| Error::Malformed)
                .and_then(Claims::from_raw);
            if let Some(raw) = Raw::read_flat(json.as_bytes()) {
                prop_assert_eq!(format!("{:?}", Claims::from_raw(raw)), format!("{slow:?}"));
            }
            prop_assert_eq!(format!("{:?}", Claims::from_json(json.as_bytes())), format!("{slow:?}"));
        }
    }

    #[test]
    fn new_claims_are_written_as_serde_json_writes_claims() {
        let data = serde_json::json!({ "list": 7, "why": "a \"quoted\" reason" });
        let data = data.as_object().unwrap();
        for (text, nbf, max, fp, data) in [
            ("plain", None, None, None, None),
            (
                "caf\u{e9} \"q\" \\ \u{7f}",
                Some(-5),
                Some(u32::MAX),
                Some("AAAAAAAAAAAAAAAAAAAAAA"),
                Some(data),
            ),
            (
                "a\tb",
                Some(i64::MAX),
                Some(1),
                Some("a\"b"),
                Some(&Map::new()),
            ),
        ] {
            let new = NewClaims {
                jti: text,
                sub: text,
                scope: text,
                aud: text,
                iat: i64::MIN,
                exp: 0,
                nbf,
                max,
                fp,
                data,
            };
            let claims = Claims {
                jti: text.into(),
                sub: text.into(),
                scope: text.into(),
                aud: text.into(),
                iat: i64::MIN,
                exp: 0,
                nbf,
                max,
                fp: fp.map(String::from),
                data: data.cloned().unwrap_or_default(),
            };
            let mut written = Vec::new();
            new.write_json(&mut written).unwrap();
            assert_eq!(
                String::from_utf8(written).unwrap(),
                serde_json::to_string(&claims).unwrap()
            );
        }
    }

    #[test]
    fn non_objects_and_repeated_claims_are_malformed() {
        assert!(matches!(parse("[1,2,3]"), Err(Error::Malformed)));
        assert!(matches!(parse("not json"), Err(Error::Malformed)));
        assert!(matches!(with(r#","sub":"2""#), Err(Error::Malformed)));
    }
}
