//! A fast reader for the flat JSON objects a token carries: its header and its claims.
//!
//! Nearly every member of those objects is a plain string or a small integer, and reading them
//! through serde_json's general machinery costs more than the token's HMAC. This reader takes
//! those members itself and hands every other value, and any text it does not fully
//! understand, to serde_json: it either gives what serde_json would, or gives up (`None`), and
//! the caller then reads the whole object with serde_json, whose answer stands.

use serde::de::IgnoredAny;

/// One member's value, as this reader sees it.
#[derive(Debug, PartialEq)]
pub(crate) enum Member<'a> {
    /// A string without escapes.
    Text(&'a str),
    /// A non-negative integer written without sign, fraction or exponent, that fits a `u64`.
    Unsigned(u64),
    /// Any other JSON value, exactly as written (serde_json has read it whole).
    Json(&'a str),
}

/// Reads a JSON object (RFC 8259) member by member, in order, calling `member` with each name
/// and value; `member` returns `None` to give up. `None` when the text is not a JSON object, or
/// when a name has escapes.
pub(crate) fn read_object<'a>(
    json: &'a [u8],
    mut member: impl FnMut(&'a str, Member<'a>) -> Option<()>,
) -> Option<()> {
    // Checked once here, so every slice taken below is text.
    let text = std::str::from_utf8(json).ok()?;
    let mut reader = Reader { text, at: 0 };
    reader.expect(b'{')?;
    if reader.peek() == Some(b'}') {
        reader.at += 1;
        return reader.finish();
    }
    loop {
        if reader.peek() != Some(b'"') {
            return None;
        }
        let name = reader.plain_string()?;
        reader.expect(b':')?;
        member(name, reader.value()?)?;
        match reader.peek()? {
            b',' => reader.at += 1,
            b'}' => {
                reader.at += 1;
                return reader.finish();
            }
            _ => return None,
        }
    }
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    /// The next byte after whitespace, which is skipped.
    fn peek(&mut self) -> Option<u8> {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(self.at) {
            self.at += 1;
        }
        bytes.get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Only whitespace may follow the object.
    fn finish(&mut self) -> Option<()> {
        self.peek().is_none().then_some(())
    }

    /// The string starting at the current quote, if it has no escapes.
    fn plain_string(&mut self) -> Option<&'a str> {
        let start = self.at + 1;
        let len = self.text.as_bytes()[start..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if self.text.as_bytes()[start + len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        self.text.get(start..start + len)
    }

    fn value(&mut self) -> Option<Member<'a>> {
        let start = self.at;
        match self.peek()? {
            b'"' => {
                if let Some(text) = self.plain_string() {
                    return Some(Member::Text(text));
                }
                self.at = start;
            }
            b'1'..=b'9' => {
                if let Some(n) = self.unsigned() {
                    return Some(Member::Unsigned(n));
                }
                self.at = start;
            }
            _ => {}
        }
        self.json()
    }

    /// Digits not followed by a fraction, an exponent or another digit, that fit a `u64`.
    fn unsigned(&mut self) -> Option<u64> {
        let bytes = self.text.as_bytes();
        let mut n: u64 = 0;
        while let Some(&digit @ b'0'..=b'9') = bytes.get(self.at) {
            n = n.checked_mul(10)?.checked_add(u64::from(digit - b'0'))?;
            self.at += 1;
        }
        match bytes.get(self.at) {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(n),
        }
    }

    /// Any JSON value, measured by serde_json.
    fn json(&mut self) -> Option<Member<'a>> {
        let rest = self.text.get(self.at..)?;
        let mut values = serde_json::Deserializer::from_str(rest).into_iter::<IgnoredAny>();
        values.next()?.ok()?;
        let end = self.at + values.byte_offset();
        let value = self.text.get(self.at..end)?;
        self.at = end;
        Some(Member::Json(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(json: &str) -> Option<Vec<(&str, Member<'_>)>> {
        let mut members = Vec::new();
        read_object(json.as_bytes(), |name, value| {
            members.push((name, value));
            Some(())
        })?;
        Some(members)
    }

    #[test]
    fn plain_strings_and_integers_are_read_here() {
        assert_eq!(
            members(r#" { "a" : "x" , "b":0,"c":18446744073709551615 } "#),
            Some(vec![
                ("a", Member::Text("x")),
                ("b", Member::Json("0")),
                ("c", Member::Unsigned(u64::MAX)),
            ])
        );
        assert_eq!(members("{}"), Some(vec![]));
    }

    #[test]
    fn other_values_are_measured_by_serde_json() {
        assert_eq!(
            members(
                r#"{"a":"x\"y","b":-1,"c":1.5,"d":1e3,"e":[1,{"f":"}"}],"g":null,"h":18446744073709551616}"#
            ),
            Some(vec![
                ("a", Member::Json(r#""x\"y""#)),
                ("b", Member::Json("-1")),
                ("c", Member::Json("1.5")),
                ("d", Member::Json("1e3")),
                ("e", Member::Json(r#"[1,{"f":"}"}]"#)),
                ("g", Member::Json("null")),
                ("h", Member::Json("18446744073709551616")),
            ])
        );
    }

    #[test]
    fn text_that_is_not_a_flat_json_object_is_left_to_serde_json() {
        for json in [
            "",
            "[1]",
            r#"{"a":1"#,
            r#"{"a":1,}"#,
            r#"{"a":01}"#,
            r#"{"a" 1}"#,
            r#"{"a":1} x"#,
            r#"{"\u0061":1}"#,
            "{\"a\":\"\t\"}",
            r#"{"a":tru}"#,
        ] {
            assert_eq!(members(json), None, "{json}");
        }
        assert_eq!(read_object(b"{\"a\":\"\xff\"}", |_, _| Some(())), None);
    }
}
