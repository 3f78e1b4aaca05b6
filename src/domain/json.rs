//! Request fields parsed by serde with the API's own messages.
//!
//! A request body is a struct that derives `Deserialize` (and `ToSchema`
//! for the document); each of its fields is a type that implements
//! [`FromJson`] and is read with `#[serde(default, deserialize_with =
//! "given")]`: absent is `None`, anything given (null included) goes to
//! the type's parser, whose refusal names the field and says why. The body
//! extractor (`extract::Body`) turns a refusal into a 400 naming the field
//! by its path, exactly as a hand-written parser would.

use serde::de::{Deserialize, Deserializer, Error as _};
use serde_json::{Map, Value};

use super::filter::parse_ids;
use super::id::ObjectId;
use super::lead::FieldError;

/// A field's parser. A refusal's `field` is relative to the field: empty
/// for the field itself, `[2]` or `.value` for a part of it.
pub trait FromJson: Sized {
    fn from_json(v: Value) -> Result<Self, FieldError>;
}

/// Marks a refusal inside serde's error text, so that the extractor can
/// tell the field's own words from serde's.
const MARK: char = '\u{1}';

/// `deserialize_with` for an optional field: `None` when absent (with
/// `#[serde(default)]`), the parsed value when given.
pub fn given<'de, D: Deserializer<'de>, T: FromJson>(d: D) -> Result<Option<T>, D::Error> {
    let v = Value::deserialize(d)?;
    T::from_json(v)
        .map(Some)
        .map_err(|e| D::Error::custom(format!("{MARK}{}{MARK}{}", e.field, e.message)))
}

/// `deserialize_with` for an optional field where null means absent.
pub fn present<'de, D: Deserializer<'de>, T: FromJson>(d: D) -> Result<Option<T>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        v => T::from_json(v)
            .map(Some)
            .map_err(|e| D::Error::custom(format!("{MARK}{}{MARK}{}", e.field, e.message))),
    }
}

/// A field's refusal from an error's text, with the field's `path`
/// prepended; `None` for serde's own errors.
pub fn refusal(path: &str, text: &str) -> Option<FieldError> {
    let rest = text.strip_prefix(MARK)?;
    let (suffix, message) = rest.split_once(MARK)?;
    let field = if path == "." {
        suffix.trim_start_matches('.').to_owned()
    } else {
        format!("{path}{suffix}")
    };
    Some(FieldError::new(field, message))
}

/// `true` or `false`; null counts as not given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flag(pub Option<bool>);

impl Flag {
    pub fn or(self, default: bool) -> bool {
        self.0.unwrap_or(default)
    }
}

impl FromJson for Flag {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        match v {
            Value::Null => Ok(Flag(None)),
            Value::Bool(b) => Ok(Flag(Some(b))),
            _ => Err(FieldError::new("", "must be true or false")),
        }
    }
}

/// Whether a flag is set, `default` when it is absent or null.
pub fn flag(f: Option<Flag>, default: bool) -> bool {
    f.unwrap_or_default().or(default)
}

/// At most this many characters in a name (workspaces, campaigns).
pub const MAX_NAME: usize = 200;

/// A name: 1 to [`MAX_NAME`] characters once trimmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(pub String);

impl Name {
    pub fn required() -> FieldError {
        FieldError::new(
            "name",
            format!("is required: a string of 1 to {MAX_NAME} characters"),
        )
    }
}

impl FromJson for Name {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        match v {
            Value::String(s) if !s.trim().is_empty() && s.trim().chars().count() <= MAX_NAME => {
                Ok(Name(s.trim().to_owned()))
            }
            _ => Err(FieldError {
                field: String::new(),
                ..Self::required()
            }),
        }
    }
}

/// Any JSON array.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonArray(pub Value);

impl FromJson for JsonArray {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        match v {
            Value::Array(_) => Ok(JsonArray(v)),
            _ => Err(FieldError::new("", "must be an array")),
        }
    }
}

/// Any JSON object.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonObject(pub Map<String, Value>);

impl FromJson for JsonObject {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        match v {
            Value::Object(m) => Ok(JsonObject(m)),
            _ => Err(FieldError::new("", "must be an object")),
        }
    }
}

/// A list of at most `MAX` IDs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ids<const MAX: usize>(pub Vec<ObjectId>);

impl<const MAX: usize> FromJson for Ids<MAX> {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        parse_ids(&v, "", MAX).map(Ids)
    }
}

/// `limit`: items per page, 1 to 100.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit(pub usize);

impl Limit {
    pub const DEFAULT: usize = 25;
    pub const MAX: usize = 100;
}

impl FromJson for Limit {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        v.as_str()
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|n| (1..=Self::MAX).contains(n))
            .map(Limit)
            .ok_or_else(|| FieldError::new("", "must be a whole number from 1 to 100"))
    }
}

/// `cursor`: the ID a page starts after; empty is none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor(pub Option<ObjectId>);

impl FromJson for Cursor {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        match v.as_str() {
            Some("") => Ok(Cursor(None)),
            Some(s) => ObjectId::parse(s)
                .map(|id| Cursor(Some(id)))
                .ok_or_else(|| FieldError::new("", "must be an ID of 24 hex characters")),
            None => Err(FieldError::new("", "must be an ID of 24 hex characters")),
        }
    }
}

/// Text as given (a query parameter, or a field checked later as a whole).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text(pub String);

impl FromJson for Text {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        match v {
            Value::String(s) => Ok(Text(s)),
            _ => Err(FieldError::new("", "must be text")),
        }
    }
}

/// Any JSON value, left for a parser that needs the whole of it (lead
/// fields, filters, per-entry errors).
#[derive(Clone, Debug, PartialEq)]
pub struct Raw(pub Value);

impl FromJson for Raw {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        Ok(Raw(v))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "given")]
        name: Option<Name>,
        #[serde(default, deserialize_with = "given")]
        ids: Option<Ids<2>>,
        #[serde(default, deserialize_with = "given")]
        on: Option<Flag>,
    }

    fn parse(v: Value) -> Result<Body, FieldError> {
        serde_path_to_error::deserialize(v).map_err(|e| {
            let path = e.path().to_string();
            refusal(&path, &e.into_inner().to_string()).expect("a field's refusal")
        })
    }

    #[test]
    fn refusals_name_the_field_and_its_part() {
        let e = parse(json!({"ids": ["6b0980000000000000000001", 5]}))
            .err()
            .unwrap();
        assert_eq!(e.field, "ids[1]");
        assert_eq!(e.message, "must be an ID of 24 hex characters");
        let e = parse(json!({"ids": ["a", "b", "c"]})).err().unwrap();
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("ids", "must hold at most 2 IDs")
        );
        let e = parse(json!({"name": "  "})).err().unwrap();
        assert_eq!(
            e,
            FieldError::new("name", "is required: a string of 1 to 200 characters")
        );
        let e = parse(json!({"on": "yes"})).err().unwrap();
        assert_eq!(e, FieldError::new("on", "must be true or false"));
    }

    #[test]
    fn absent_and_null_are_told_apart() {
        let b = parse(json!({"on": null})).unwrap();
        assert!(b.name.is_none() && b.ids.is_none());
        assert!(flag(b.on, true));
        assert!(parse(json!({"name": null})).is_err());
        let b = parse(json!({"name": " Q3 ", "on": false})).unwrap();
        assert_eq!(b.name, Some(Name("Q3".into())));
        assert!(!flag(b.on, true));
    }
}
