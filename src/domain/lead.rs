//! Lead fields: parsing and validating what callers send, once, at the edge.

use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::country::CountryCode;
use super::email::Email;
use super::json::{Raw, given};

pub const MAX_STRING: usize = 256;
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_LEN: usize = 64;
pub const MAX_CUSTOM_FIELDS: usize = 50;
pub const MAX_CUSTOM_KEY: usize = 64;
pub const MAX_CUSTOM_VALUE: usize = 1024;

pub const VERIFICATION_RESULTS: [&str; 5] = ["valid", "risky", "catch_all", "invalid", "unknown"];

/// The plain text fields of a lead: (JSON name, column name).
pub const TEXT_FIELDS: [(&str, &str); 9] = [
    ("firstName", "first_name"),
    ("lastName", "last_name"),
    ("companyName", "company_name"),
    ("jobTitle", "job_title"),
    ("phone", "phone"),
    ("linkedinUrl", "linkedin_url"),
    ("city", "city"),
    ("state", "state"),
    ("country", "country"),
];

/// The plain text fields of a lead, by name; `T` is what each holds
/// (`Option<String>` when stored, `Option<Option<String>>` when given).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Contact<T> {
    pub first_name: T,
    pub last_name: T,
    pub company_name: T,
    pub job_title: T,
    pub phone: T,
    pub linkedin_url: T,
    pub city: T,
    pub state: T,
    pub country: T,
}

impl<T> Contact<T> {
    /// Each field with its column name, in the order of [`TEXT_FIELDS`].
    pub fn columns(&self) -> [(&'static str, &T); 9] {
        [
            ("first_name", &self.first_name),
            ("last_name", &self.last_name),
            ("company_name", &self.company_name),
            ("job_title", &self.job_title),
            ("phone", &self.phone),
            ("linkedin_url", &self.linkedin_url),
            ("city", &self.city),
            ("state", &self.state),
            ("country", &self.country),
        ]
    }

    /// Each field by its JSON name, to fill in.
    pub fn by_json_name_mut(&mut self) -> [(&'static str, &mut T); 9] {
        [
            ("firstName", &mut self.first_name),
            ("lastName", &mut self.last_name),
            ("companyName", &mut self.company_name),
            ("jobTitle", &mut self.job_title),
            ("phone", &mut self.phone),
            ("linkedinUrl", &mut self.linkedin_url),
            ("city", &mut self.city),
            ("state", &mut self.state),
            ("country", &mut self.country),
        ]
    }
}

impl Contact<Option<String>> {
    /// Sets every field that `given` names (to a value or to null).
    pub fn apply(&mut self, given: &Contact<Option<Option<String>>>) {
        let given = given.columns();
        for ((_, slot), (_, v)) in self.by_json_name_mut().into_iter().zip(given) {
            if let Some(v) = v {
                *slot = v.clone();
            }
        }
    }
}

/// A field that broke a rule: which one and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The fields a caller set. `None` means "not given"; `Some(None)` means
/// "given as null" (clear it). Text values are already validated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LeadFields {
    pub email: Option<Email>,
    pub contact: Contact<Option<Option<String>>>,
    pub tags: Option<Vec<String>>,
    pub custom_fields: Option<Map<String, Value>>,
    pub email_verification_result: Option<Option<String>>,
}

/// Why a lead object could not be accepted.
#[derive(Clone, Debug, PartialEq)]
pub enum LeadError {
    NotAnObject,
    MissingEmail,
    InvalidEmail,
    Field(FieldError),
}

impl LeadError {
    pub fn into_field_error(self) -> FieldError {
        match self {
            LeadError::NotAnObject => FieldError::new("", "must be a JSON object"),
            LeadError::MissingEmail => FieldError::new("email", "is required"),
            LeadError::InvalidEmail => FieldError::new(
                "email",
                "must be a valid address with a dotted domain, at most 254 characters",
            ),
            LeadError::Field(f) => f,
        }
    }
}

/// A lead as a request gives it: every field as sent (absent is `None`,
/// null is kept), to be checked by [`LeadFields::parse`] in a fixed order
/// (the email first: an add-leads entry with a bad email is
/// `INVALID_EMAIL` whatever else is wrong with it). Unknown fields are
/// ignored; on update, an empty or null text field clears it and
/// `customFields` merge by key.
#[derive(Deserialize, ToSchema)]
#[schema(
    description = "A lead's fields. Unknown fields are ignored; on update, an empty or \
                        null text field clears it, `customFields` merge by key, and `email` \
                        may only repeat the lead's own."
)]
#[serde(rename_all = "camelCase")]
pub struct LeadInput {
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Raw>,
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<String>)]
    pub first_name: Option<Raw>,
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<String>)]
    pub last_name: Option<Raw>,
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<String>)]
    pub company_name: Option<Raw>,
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<String>)]
    pub job_title: Option<Raw>,
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Raw>,
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<String>)]
    pub linkedin_url: Option<Raw>,
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<String>)]
    pub city: Option<Raw>,
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<String>)]
    pub state: Option<Raw>,
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<String>)]
    pub country: Option<Raw>,
    /// At most 50 tags of 1 to 64 characters.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<Vec<String>>)]
    pub tags: Option<Raw>,
    /// At most 50 fields; values are strings (≤ 1,024), numbers, booleans or null.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Raw>,
    /// valid, risky, catch_all, invalid, unknown, or null.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<String>)]
    pub email_verification_result: Option<Raw>,
}

impl LeadInput {
    /// A field by its JSON name, as given.
    fn get(&self, name: &str) -> Option<&Value> {
        let field = match name {
            "email" => &self.email,
            "firstName" => &self.first_name,
            "lastName" => &self.last_name,
            "companyName" => &self.company_name,
            "jobTitle" => &self.job_title,
            "phone" => &self.phone,
            "linkedinUrl" => &self.linkedin_url,
            "city" => &self.city,
            "state" => &self.state,
            "country" => &self.country,
            "tags" => &self.tags,
            "customFields" => &self.custom_fields,
            "emailVerificationResult" => &self.email_verification_result,
            _ => &None,
        };
        field.as_ref().map(|r| &r.0)
    }
}

impl LeadFields {
    /// Parses a lead object (an entry of a batch, read where it lies).
    /// `email` is parsed when present; whether it is required is the
    /// caller's business.
    pub fn parse(value: &Value) -> Result<Self, LeadError> {
        let obj = value.as_object().ok_or(LeadError::NotAnObject)?;
        Self::check_fields(|name| obj.get(name))
    }

    /// The fields of a lead body parsed into its documented type.
    pub fn check(input: LeadInput) -> Result<Self, LeadError> {
        Self::check_fields(|name| input.get(name))
    }

    /// Checks the fields `get` finds by JSON name, in a fixed order: the
    /// email first (an add-leads entry with a bad email is `INVALID_EMAIL`
    /// whatever else is wrong with it).
    fn check_fields<'a>(get: impl Fn(&str) -> Option<&'a Value>) -> Result<Self, LeadError> {
        let mut out = LeadFields::default();
        match get("email") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                out.email = Some(Email::parse(s).ok_or(LeadError::InvalidEmail)?);
            }
            Some(_) => return Err(LeadError::InvalidEmail),
        }
        for (name, slot) in out.contact.by_json_name_mut() {
            *slot = parse_text(get(name), name).map_err(LeadError::Field)?;
        }
        if let Some(Some(c)) = &out.contact.country {
            let code = CountryCode::parse(c).ok_or_else(|| {
                LeadError::Field(FieldError::new(
                    "country",
                    "must be an ISO 3166-1 alpha-2 code such as US or DE",
                ))
            })?;
            out.contact.country = Some(Some(code.into_string()));
        }
        out.tags = match get("tags") {
            None => None,
            Some(v) => Some(parse_tags(v, "tags").map_err(LeadError::Field)?),
        };
        out.custom_fields = match get("customFields") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_custom_fields(v).map_err(LeadError::Field)?),
        };
        out.email_verification_result = match get("emailVerificationResult") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) if VERIFICATION_RESULTS.contains(&s.as_str()) => {
                Some(Some(s.clone()))
            }
            Some(_) => {
                return Err(LeadError::Field(FieldError::new(
                    "emailVerificationResult",
                    "must be one of valid, risky, catch_all, invalid, unknown, or null",
                )));
            }
        };
        Ok(out)
    }

    /// Parses a lead that must carry an email (create, bulk, import).
    pub fn parse_new(value: &Value) -> Result<(Email, Self), LeadError> {
        Self::parse(value)?.with_email()
    }

    /// The email, which a new lead must have, taken out of the fields.
    pub fn with_email(mut self) -> Result<(Email, Self), LeadError> {
        let email = self.email.take().ok_or(LeadError::MissingEmail)?;
        Ok((email, self))
    }
}

fn parse_text(v: Option<&Value>, name: &str) -> Result<Option<Option<String>>, FieldError> {
    match v {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if s.chars().count() > MAX_STRING => Err(FieldError::new(
            name,
            format!("must be at most {MAX_STRING} characters"),
        )),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(_) => Err(FieldError::new(name, "must be a string or null")),
    }
}

/// Tags: an array of at most 50 distinct non-empty strings of at most 64
/// characters. Repeats are dropped, order is kept.
pub fn parse_tags(v: &Value, field: &str) -> Result<Vec<String>, FieldError> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => return Err(FieldError::new(field, "must be an array of strings")),
    };
    let mut tags: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let tag = parse_tag(item).map_err(|m| FieldError::new(field, m))?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(FieldError::new(
            field,
            format!("must hold at most {MAX_TAGS} tags"),
        ));
    }
    Ok(tags)
}

pub fn parse_tag(item: &Value) -> Result<String, String> {
    match item {
        Value::String(s) if !s.is_empty() && s.chars().count() <= MAX_TAG_LEN => Ok(s.clone()),
        Value::String(_) => Err(format!("each tag must be 1 to {MAX_TAG_LEN} characters")),
        _ => Err("each tag must be a string".into()),
    }
}

fn parse_custom_fields(v: &Value) -> Result<Map<String, Value>, FieldError> {
    let obj = v
        .as_object()
        .ok_or_else(|| FieldError::new("customFields", "must be an object"))?;
    if obj.len() > MAX_CUSTOM_FIELDS {
        return Err(FieldError::new(
            "customFields",
            format!("must hold at most {MAX_CUSTOM_FIELDS} fields"),
        ));
    }
    for (k, val) in obj {
        let field = format!("customFields.{k}");
        if k.is_empty() || k.chars().count() > MAX_CUSTOM_KEY {
            return Err(FieldError::new(
                "customFields",
                format!("keys must be 1 to {MAX_CUSTOM_KEY} characters"),
            ));
        }
        match val {
            Value::String(s) if s.chars().count() > MAX_CUSTOM_VALUE => {
                return Err(FieldError::new(
                    field,
                    format!("must be at most {MAX_CUSTOM_VALUE} characters"),
                ));
            }
            Value::Array(_) | Value::Object(_) => {
                return Err(FieldError::new(
                    field,
                    "must be a string, number, boolean or null",
                ));
            }
            _ => {}
        }
    }
    Ok(obj.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_full_lead_parses() {
        let (email, f) = LeadFields::parse_new(&json!({
            "email": "Jane@Example.COM", "firstName": "Jane", "country": "de",
            "tags": ["a", "b", "a"], "customFields": {"score": 3, "vip": true, "note": null},
            "emailVerificationResult": "valid", "unknownField": 1
        }))
        .unwrap();
        assert_eq!(email.as_str(), "Jane@example.com");
        assert_eq!(f.contact.first_name, Some(Some("Jane".to_string())));
        assert_eq!(f.contact.country, Some(Some("DE".to_string())));
        assert_eq!(
            f.tags.as_deref(),
            Some(&["a".to_string(), "b".to_string()][..])
        );
        assert_eq!(f.custom_fields.as_ref().unwrap().len(), 3);
    }

    #[test]
    fn each_limit_is_enforced() {
        let long = "x".repeat(257);
        let cases = [
            (json!({"email": "a@b.co", "firstName": long}), "firstName"),
            (json!({"email": "a@b.co", "country": "XX"}), "country"),
            (json!({"email": "a@b.co", "tags": [""]}), "tags"),
            (
                json!({"email": "a@b.co", "tags": (0..51).map(|i| i.to_string()).collect::<Vec<_>>()}),
                "tags",
            ),
            (json!({"email": "a@b.co", "tags": ["y".repeat(65)]}), "tags"),
            (
                json!({"email": "a@b.co", "customFields": {"k": "v".repeat(1025)}}),
                "customFields.k",
            ),
            (
                json!({"email": "a@b.co", "customFields": {"k": {"nested": 1}}}),
                "customFields.k",
            ),
            (
                json!({"email": "a@b.co", "customFields": (0..51).map(|i| (i.to_string(), json!(1))).collect::<Map<_, _>>()}),
                "customFields",
            ),
            (
                json!({"email": "a@b.co", "emailVerificationResult": "great"}),
                "emailVerificationResult",
            ),
            (json!({"email": "a@b.co", "phone": 5}), "phone"),
        ];
        for (input, field) in cases {
            match LeadFields::parse(&input) {
                Err(LeadError::Field(f)) => assert_eq!(f.field, field, "{input}"),
                other => panic!("{input} gave {other:?}"),
            }
        }
    }

    #[test]
    fn email_problems_are_told_apart() {
        assert_eq!(
            LeadFields::parse_new(&json!({"firstName": "x"})),
            Err(LeadError::MissingEmail)
        );
        assert_eq!(
            LeadFields::parse_new(&json!({"email": "invalid@"})),
            Err(LeadError::InvalidEmail)
        );
        assert_eq!(LeadFields::parse(&json!([1])), Err(LeadError::NotAnObject));
    }
}
