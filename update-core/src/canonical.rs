//! OLPC canonical JSON, the byte form that TUF signatures cover.
//!
//! Signatures are always checked over the canonical form of the `signed` object *as
//! received* (a [`serde_json::Value`]), never over a re-serialised typed struct, so fields
//! this version does not know about are still covered by the signature.

use serde::Serialize;

use crate::Error;

/// Canonical JSON bytes of any serialisable value.
///
/// Fails on values canonical JSON cannot express (floating-point numbers).
pub fn to_canonical_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut out, olpc_cjson::CanonicalFormatter::new());
    value
        .serialize(&mut serializer)
        .map_err(|e| Error::CanonicalJson(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        let value = json!({"b": 1, "a": [true, null, "x"], "c": {"z": 0, "y": -3}});
        let bytes = to_canonical_bytes(&value).unwrap();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"a":[true,null,"x"],"b":1,"c":{"y":-3,"z":0}}"#
        );
    }

    #[test]
    fn escapes_only_quote_and_backslash() {
        // OLPC canonical JSON leaves control characters and non-ASCII as raw bytes.
        let value = json!({"s": "a\"b\\c\nd\u{e9}"});
        let bytes = to_canonical_bytes(&value).unwrap();
        assert_eq!(bytes, "{\"s\":\"a\\\"b\\\\c\nd\u{e9}\"}".as_bytes());
    }

    #[test]
    fn refuses_floats() {
        assert!(to_canonical_bytes(&json!({"f": 1.5})).is_err());
    }

    #[test]
    fn is_independent_of_input_key_order() {
        let a: serde_json::Value = serde_json::from_str(r#"{"x":1,"y":{"q":2,"p":3}}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{"y":{"p":3,"q":2},"x":1}"#).unwrap();
        assert_eq!(
            to_canonical_bytes(&a).unwrap(),
            to_canonical_bytes(&b).unwrap()
        );
    }
}
