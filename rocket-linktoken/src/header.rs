//! The JOSE header (RFC 7515, section 4): written once per signing key, read once per token.

use std::borrow::Cow;
use std::fmt;

use base64_simd::URL_SAFE_NO_PAD;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::json::{self, Member};
use crate::Error;

/// The one algorithm links are signed with (RFC 7518, section 3.2).
const ALGORITHM: &str = "HS256";

/// The header segment of every link the key `kid` signs, base64url-encoded. `typ` comes
/// before `alg` as in the links this library has always made, so they stay byte-for-byte the
/// same (`tests/vectors/rust-links.json`).
pub(crate) fn encoded(kid: Option<&str>) -> String {
    // `Value`'s `Display` writes the id as a JSON string, escapes included.
    let kid = kid.map_or_else(String::new, |kid| format!(r#","kid":{}"#, Value::from(kid)));
    URL_SAFE_NO_PAD.encode_to_string(format!(r#"{{"typ":"JWT","alg":"{ALGORITHM}"{kid}}}"#))
}

/// The JSON type a header parameter must have (RFC 7515, section 4.1; RFC 7797, section 3).
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Strings,
    Object,
    Bool,
}

/// The header parameters this library looks at, each with its type. A parameter of the wrong
/// type makes the header malformed (400), like a claim of the wrong type.
const PARAMS: [(&str, Kind); 12] = [
    ("alg", Kind::Text),
    ("kid", Kind::Text),
    ("typ", Kind::Text),
    ("cty", Kind::Text),
    // From here on, parameters this library does not honour. Each would change which key
    // checks the signature (a key or certificate by value or by reference: RFC 8725, section
    // 3.10) or what the payload means (`b64`: RFC 7797; `crit`: extensions the token says a
    // verifier must understand). Ignoring one would let a token rest on something that was
    // never checked, so a token carrying one is refused (403), as one signed with another
    // algorithm is.
    ("crit", Kind::Strings),
    ("jku", Kind::Text),
    ("jwk", Kind::Object),
    ("x5u", Kind::Text),
    ("x5c", Kind::Strings),
    ("x5t", Kind::Text),
    ("x5t#S256", Kind::Text),
    ("b64", Kind::Bool),
];
const ALG: usize = 0;
const KID: usize = 1;
const FIRST_REFUSED: usize = 4;

/// The parameters of [`PARAMS`] as they arrived, in its order; one given twice is an error.
#[derive(Default)]
struct Fields<'a> {
    params: [Option<Param<'a>>; PARAMS.len()],
}

/// A header parameter's value, kept only as far as its type: text (borrowed from the header
/// when it has no escapes), an array of strings, an object, a boolean, or anything else
/// (`null` included).
enum Param<'a> {
    Text(Cow<'a, str>),
    Strings,
    Object,
    Bool,
    Other,
}

impl Param<'_> {
    fn is(&self, kind: Kind) -> bool {
        matches!(
            (self, kind),
            (Param::Text(_), Kind::Text)
                | (Param::Strings, Kind::Strings)
                | (Param::Object, Kind::Object)
                | (Param::Bool, Kind::Bool)
        )
    }
}

/// Checks a token's header (the JSON, already base64url-decoded) and gives the key id it
/// names, if any.
pub(crate) fn read(json: &[u8]) -> Result<Option<Cow<'_, str>>, Error> {
    let fields = match Fields::read_flat(json) {
        Some(fields) => fields,
        None => serde_json::from_slice(json).map_err(|_| Error::Malformed)?,
    };
    fields.check()
}

impl<'a> Fields<'a> {
    /// The header rules, on parameters as they arrived; the key id named, if any.
    fn check(mut self) -> Result<Option<Cow<'a, str>>, Error> {
        let typed = PARAMS
            .iter()
            .zip(&self.params)
            .all(|((_, kind), param)| param.as_ref().map_or(true, |param| param.is(*kind)));
        if !typed {
            return Err(Error::Malformed);
        }
        match &self.params[ALG] {
            Some(Param::Text(alg)) if alg == ALGORITHM => {}
            Some(_) => return Err(Error::UnsupportedAlgorithm),
            None => return Err(Error::Malformed),
        }
        if self.params[FIRST_REFUSED..].iter().any(Option::is_some) {
            return Err(Error::CriticalHeader);
        }
        match self.params[KID].take() {
            Some(Param::Text(kid)) => Ok(Some(kid)),
            _ => Ok(None),
        }
    }
}

impl<'a> Fields<'a> {
    /// Reads the header with the fast reader; `None` leaves it to serde_json (`json.rs`).
    fn read_flat(json: &'a [u8]) -> Option<Fields<'a>> {
        let mut fields = Fields::default();
        json::read_object(json, |name, value| {
            let Some(slot) = fields.slot(name) else {
                return Some(());
            };
            if slot.is_some() {
                // Repeated: serde_json's error is the answer.
                return None;
            }
            *slot = Some(match value {
                Member::Text(text) => Param::Text(Cow::Borrowed(text)),
                Member::Unsigned(_) => Param::Other,
                Member::Json(value) => serde_json::from_str(value).ok()?,
            });
            Some(())
        })?;
        Some(fields)
    }

    /// Where a parameter of [`PARAMS`] goes; `None` for any other.
    fn slot(&mut self, name: &str) -> Option<&mut Option<Param<'a>>> {
        let index = PARAMS.iter().position(|(param, _)| *param == name)?;
        Some(&mut self.params[index])
    }
}

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Only an object is a header; `deserialize_map` refuses a positional array.
        d.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
        let mut fields = Fields::default();
        while let Some(name) = map.next_key::<Param<'de>>()? {
            let slot = match &name {
                Param::Text(name) => fields.slot(name),
                _ => None,
            };
            let Some(slot) = slot else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if slot.is_some() {
                return Err(de::Error::custom("a header parameter is repeated"));
            }
            *slot = Some(map.next_value()?);
        }
        Ok(fields)
    }
}

impl<'de> Deserialize<'de> for Param<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ParamVisitor)
    }
}

struct ParamVisitor;

impl<'de> Visitor<'de> for ParamVisitor {
    type Value = Param<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Param<'de>, E> {
        Ok(Param::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Param<'de>, E> {
        Ok(Param::Text(Cow::Owned(text.to_owned())))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Param<'de>, E> {
        Ok(Param::Bool)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Param<'de>, E> {
        Ok(Param::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Param<'de>, E> {
        Ok(Param::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Param<'de>, E> {
        Ok(Param::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Param<'de>, E> {
        Ok(Param::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Param<'de>, A::Error> {
        // Read as values, not skipped: text that is not JSON stays malformed wherever it is.
        let mut strings = true;
        while let Some(element) = seq.next_element::<Value>()? {
            strings &= element.is_string();
        }
        Ok(if strings {
            Param::Strings
        } else {
            Param::Other
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Param<'de>, A::Error> {
        while map.next_entry::<Value, Value>()?.is_some() {}
        Ok(Param::Object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decoded(kid: Option<&str>) -> String {
        String::from_utf8(URL_SAFE_NO_PAD.decode_to_vec(encoded(kid)).unwrap()).unwrap()
    }

    #[test]
    fn the_written_header_names_the_signing_key() {
        assert_eq!(decoded(None), r#"{"typ":"JWT","alg":"HS256"}"#);
        assert_eq!(
            decoded(Some("2026-11")),
            r#"{"typ":"JWT","alg":"HS256","kid":"2026-11"}"#
        );
        assert_eq!(
            decoded(Some("a\"b")),
            r#"{"typ":"JWT","alg":"HS256","kid":"a\"b"}"#
        );
    }

    fn status(header: &str) -> Result<Option<String>, &'static str> {
        read(header.as_bytes())
            .map(|kid| kid.map(String::from))
            .map_err(|e| e.code())
    }

    #[test]
    fn parameters_of_the_wrong_type_are_malformed() {
        for header in [
            r#"{"alg":"HS256","kid":null}"#,
            r#"{"alg":"HS256","kid":7}"#,
            r#"{"alg":"HS256","crit":null}"#,
            r#"{"alg":"HS256","crit":"exp"}"#,
            r#"{"alg":"HS256","crit":[1]}"#,
            r#"{"alg":"HS256","typ":null}"#,
            r#"{"alg":"HS256","cty":["JWT"]}"#,
            r#"{"alg":"HS256","jku":null}"#,
            r#"{"alg":"HS256","jwk":"key"}"#,
            r#"{"alg":"HS256","x5c":{}}"#,
            r#"{"alg":"HS256","x5t#S256":1}"#,
            r#"{"alg":"HS256","b64":"false"}"#,
            r#"{"alg":null}"#,
            r#"{"alg":["HS256"]}"#,
            r#"{"typ":"JWT"}"#,
        ] {
            assert_eq!(status(header), Err("malformed"), "{header}");
        }
    }

    #[test]
    fn parameters_that_change_the_key_or_the_payload_are_refused() {
        for header in [
            r#"{"alg":"HS256","crit":["exp"]}"#,
            r#"{"alg":"HS256","crit":[]}"#,
            r#"{"alg":"HS256","jku":"https://evil.example/keys"}"#,
            r#"{"alg":"HS256","jwk":{"kty":"oct","k":"c2VjcmV0"}}"#,
            r#"{"alg":"HS256","x5u":"https://evil.example/cert"}"#,
            r#"{"alg":"HS256","x5c":["MIIB"]}"#,
            r#"{"alg":"HS256","x5t":"thumb"}"#,
            r#"{"alg":"HS256","x5t#S256":"thumb"}"#,
            r#"{"alg":"HS256","b64":false}"#,
            r#"{"alg":"HS256","b64":true}"#,
            r#"{"alg":"HS256","jku":"https:\/\/evil.example\/keys"}"#,
        ] {
            assert_eq!(status(header), Err("critical_header"), "{header}");
        }
    }

    #[test]
    fn known_parameters_of_the_right_type_and_unknown_ones_pass() {
        assert_eq!(
            status(r#"{"alg":"HS256","typ":"JWT","cty":"x","kid":"k","zip":null,"x5t#S1":1}"#),
            Ok(Some("k".into()))
        );
        assert_eq!(
            status(r#"{"alg":"HS512","kid":"k"}"#),
            Err("unsupported_algorithm")
        );
        assert_eq!(
            status(r#"{"alg":"HS256","kid":"a","kid":"a"}"#),
            Err("malformed")
        );
    }

    proptest! {
        #[test]
        fn the_fast_reader_agrees_with_serde_json(
            members in prop::collection::vec((
                prop_oneof![Just("alg"), Just("kid"), Just("typ"), Just("crit"), Just("b64"), Just("x5t#S256"), Just("zip")],
                prop_oneof![
                    Just(Value::from("HS256")),
                    Just(Value::Null),
                    any::<bool>().prop_map(Value::from),
                    any::<u64>().prop_map(Value::from),
                    any::<i64>().prop_map(Value::from),
                    ".{0,6}".prop_map(Value::from),
                    prop::collection::vec(".{0,3}".prop_map(Value::from), 0..3).prop_map(Value::from),
                ],
            ), 0..6),
        ) {
            // Written by hand, so that names may repeat.
            let json = format!(
                "{{{}}}",
                members
                    .iter()
                    .map(|(name, value)| format!("{}:{value}", Value::from(*name)))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let slow = serde_json::from_slice::<Fields<'_>>(json.as_bytes())
                .map_err(|_| Error::Malformed)
                .and_then(Fields::check)
                .map_err(|e| e.code());
            let fast = read(json.as_bytes()).map_err(|e| e.code());
            prop_assert_eq!(fast, slow, "{}", json);
        }
    }

    #[test]
    fn a_written_header_reads_back() {
        for kid in [None, Some("2026-11"), Some("a\"b")] {
            let json = URL_SAFE_NO_PAD.decode_to_vec(encoded(kid)).unwrap();
            assert_eq!(read(&json).unwrap().as_deref(), kid);
        }
    }
}
