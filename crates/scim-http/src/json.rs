//! Decoding request bodies: JSON as RFC 8259 parsers disagree least on. An object that names
//! the same key twice is refused, since parsers differ on which value wins (first or last), and
//! a proxy that reads the first could approve what this server would store as the second.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use scim_protocol::ScimError;

/// Parses a request body. Nesting deeper than serde_json's 128 levels, invalid UTF-8 and
/// duplicate keys are all `invalidSyntax`.
pub(crate) fn decode(bytes: &[u8]) -> Result<Value, ScimError> {
    serde_json::from_slice::<Checked>(bytes)
        .and_then(|_| serde_json::from_slice::<Value>(bytes))
        .map_err(|e| ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")))
}

/// A JSON value walked only to check it holds no duplicate keys.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckVisitor)
    }
}

struct CheckVisitor;

impl<'de> Visitor<'de> for CheckVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.insert(key.clone()) {
                return Err(de::Error::custom(format!("the key \"{key}\" appears twice in one object")));
            }
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    /// Duplicate keys are refused at any depth; the same key in sibling objects is fine.
    #[test]
    fn duplicate_keys() {
        for bad in [r#"{"a":1,"a":2}"#, r#"{"x":{"userName":"a","userName":"b"}}"#, r#"[{"a":1},{"b":1,"b":1}]"#] {
            let e = decode(bad.as_bytes()).unwrap_err();
            assert_eq!(e.scim_type(), Some("invalidSyntax"), "{bad}");
            assert!(e.to_string().contains("appears twice"), "{e}");
        }
        assert!(decode(br#"[{"a":1},{"a":2}]"#).is_ok());
        assert!(decode(br#"{"a":{"a":{"a":1}}}"#).is_ok());
    }

    /// Too deep, not UTF-8, trailing garbage: all invalidSyntax, never a panic.
    #[test]
    fn malformed() {
        let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
        for bad in [deep.as_bytes(), b"{\"a\":\"\xff\"}", b"{} {}", b"{\"a\":1e999}"] {
            assert_eq!(decode(bad).unwrap_err().scim_type(), Some("invalidSyntax"));
        }
    }
}
