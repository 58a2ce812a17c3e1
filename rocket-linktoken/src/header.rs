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

/// The header fields this library reads, as they arrived; a field given twice is an error.
#[derive(Default)]
struct Fields<'a> {
    alg: Option<Param<'a>>,
    kid: Option<Param<'a>>,
    crit: Option<Param<'a>>,
}

/// A header field's value: text (borrowed from the header when it has no escapes), `null`, or
/// anything else.
enum Param<'a> {
    Text(Cow<'a, str>),
    Null,
    Other,
}

/// Checks a token's header (the JSON, already base64url-decoded) and gives the key id it
/// names, if any.
pub(crate) fn read(json: &[u8]) -> Result<Option<Cow<'_, str>>, Error> {
    let fields = match Fields::read_flat(json) {
        Some(fields) => fields,
        None => serde_json::from_slice(json).map_err(|_| Error::Malformed)?,
    };
    match fields.alg {
        Some(Param::Text(alg)) if alg == ALGORITHM => {}
        Some(Param::Text(_)) => return Err(Error::UnsupportedAlgorithm),
        _ => return Err(Error::Malformed),
    }
    if !matches!(fields.crit, None | Some(Param::Null)) {
        return Err(Error::CriticalHeader);
    }
    match fields.kid {
        None | Some(Param::Null) => Ok(None),
        Some(Param::Text(kid)) => Ok(Some(kid)),
        Some(Param::Other) => Err(Error::Malformed),
    }
}

impl<'a> Fields<'a> {
    /// Reads the header with the fast reader; `None` leaves it to serde_json (`json.rs`).
    fn read_flat(json: &'a [u8]) -> Option<Fields<'a>> {
        let mut fields = Fields::default();
        json::read_object(json, |name, value| {
            let Some((slot, _)) = fields.slot(name) else {
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

    /// Where a field this library reads goes, and its name; `None` for other fields.
    fn slot(&mut self, name: &str) -> Option<(&mut Option<Param<'a>>, &'static str)> {
        match name {
            "alg" => Some((&mut self.alg, "alg")),
            "kid" => Some((&mut self.kid, "kid")),
            "crit" => Some((&mut self.crit, "crit")),
            _ => None,
        }
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
            let Some((slot, field)) = slot else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if slot.is_some() {
                return Err(de::Error::duplicate_field(field));
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

    fn visit_unit<E: de::Error>(self) -> Result<Param<'de>, E> {
        Ok(Param::Null)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Param<'de>, E> {
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
        while seq.next_element::<Value>()?.is_some() {}
        Ok(Param::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Param<'de>, A::Error> {
        while map.next_entry::<Value, Value>()?.is_some() {}
        Ok(Param::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_written_header_reads_back() {
        for kid in [None, Some("2026-11"), Some("a\"b")] {
            let json = URL_SAFE_NO_PAD.decode_to_vec(encoded(kid)).unwrap();
            assert_eq!(read(&json).unwrap().as_deref(), kid);
        }
    }
}
