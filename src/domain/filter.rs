//! Lead filters (docs/API.md, "Lead filters"): one parser for the JSON body form (`filters`) and
//! the query-string form of `GET /v1/leads`.

use chrono::DateTime;
use serde_json::{Map, Value};

use super::country::CountryCode;
use super::id::ObjectId;
use super::lead::{FieldError, VERIFICATION_RESULTS, parse_tag};

pub const MAX_LEAD_IDS: usize = 50_000;
/// Longest `search` text, in characters.
pub const MAX_SEARCH: usize = 256;
/// Most values of one list criterion (`tags`, `emailStatus`, `country`).
pub const MAX_VALUES: usize = 250;
/// Longest `email` criterion, in characters (the longest address).
pub const MAX_EMAIL: usize = super::email::MAX_LEN;
pub const CRITERIA: [&str; 11] = [
    "email",
    "hasCompany",
    "hasPhone",
    "tags",
    "search",
    "emailStatus",
    "emailVerified",
    "country",
    "leadIds",
    "createdAfter",
    "createdBefore",
];

/// Criteria that combine with AND. `None` is "not given".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LeadFilter {
    /// The lead with this address: trimmed and lower-cased, compared with
    /// the lead's lower-cased email (so exact, whatever the casing).
    pub email: Option<String>,
    /// Leads with (`true`) or without (`false`) a company name.
    pub has_company: Option<bool>,
    /// Leads with (`true`) or without (`false`) a phone number.
    pub has_phone: Option<bool>,
    /// Leads with any of these tags.
    pub tags: Option<Vec<String>>,
    /// Lower-cased substring of email, first name, last name or company.
    pub search: Option<String>,
    /// Verification results; `unverified` stands for null.
    pub email_status: Option<Vec<String>>,
    pub email_verified: Option<bool>,
    pub country: Option<Vec<String>>,
    pub lead_ids: Option<Vec<ObjectId>>,
    /// Milliseconds since the epoch, exclusive.
    pub created_after: Option<i64>,
    pub created_before: Option<i64>,
}

impl LeadFilter {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Parses the body form. Unknown criteria are an error: a typo must not
    /// silently widen a selection.
    pub fn from_json(value: &Value, prefix: &str) -> Result<Self, FieldError> {
        let obj = value
            .as_object()
            .ok_or_else(|| FieldError::new(prefix, "must be an object"))?;
        if let Some(k) = obj.keys().find(|k| !CRITERIA.contains(&k.as_str())) {
            return Err(FieldError::new(
                format!("{prefix}.{k}"),
                format!("is not a filter criterion (use {})", CRITERIA.join(", ")),
            ));
        }
        Self::from_map(obj, prefix)
    }

    /// The body form, which [`LeadFilter::from_json`] reads back as this
    /// filter (a background job keeps its selection so).
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        let mut put = |k: &str, v: Value| {
            obj.insert(k.to_owned(), v);
        };
        if let Some(v) = &self.email {
            put("email", v.clone().into());
        }
        if let Some(v) = self.has_company {
            put("hasCompany", v.into());
        }
        if let Some(v) = self.has_phone {
            put("hasPhone", v.into());
        }
        if let Some(v) = &self.tags {
            put("tags", v.clone().into());
        }
        if let Some(v) = &self.search {
            put("search", v.clone().into());
        }
        if let Some(v) = &self.email_status {
            put("emailStatus", v.clone().into());
        }
        if let Some(v) = self.email_verified {
            put("emailVerified", v.into());
        }
        if let Some(v) = &self.country {
            put("country", v.clone().into());
        }
        if let Some(v) = &self.lead_ids {
            put(
                "leadIds",
                v.iter().map(ToString::to_string).collect::<Vec<_>>().into(),
            );
        }
        if let Some(v) = self.created_after {
            put("createdAfter", super::format_time(v).into());
        }
        if let Some(v) = self.created_before {
            put("createdBefore", super::format_time(v).into());
        }
        Value::Object(obj)
    }

    /// Parses the JSON form of a request field, for `domain::json`: the
    /// field names in a refusal are relative to the field (`.tags`).
    pub fn from_field(value: &Value) -> Result<Self, FieldError> {
        Self::from_json(value, "")
    }

    /// Parses the query form: lists are comma-separated; other parameters
    /// (limit, cursor, …) are left to the caller.
    pub fn from_query(pairs: &[(String, String)]) -> Result<Self, FieldError> {
        let mut obj = Map::new();
        for (k, v) in pairs {
            let value = match k.as_str() {
                "tags" | "emailStatus" | "country" | "leadIds" => Value::Array(
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.to_owned()))
                        .collect(),
                ),
                "emailVerified" | "hasCompany" | "hasPhone" => match v.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => return Err(FieldError::new(k, "must be true or false")),
                },
                "email" | "search" | "createdAfter" | "createdBefore" => Value::String(v.clone()),
                _ => continue,
            };
            obj.insert(k.clone(), value);
        }
        Self::from_map(&obj, "")
    }

    fn from_map(obj: &Map<String, Value>, prefix: &str) -> Result<Self, FieldError> {
        let name = |k: &str| {
            if prefix.is_empty() {
                k.to_owned()
            } else {
                format!("{prefix}.{k}")
            }
        };
        let mut f = LeadFilter::default();
        if let Some(v) = obj.get("email") {
            match v {
                Value::String(s) if !s.is_empty() && s.chars().count() <= MAX_EMAIL => {
                    f.email = Some(s.trim().to_lowercase());
                }
                _ => {
                    return Err(FieldError::new(
                        name("email"),
                        format!("must be a string of 1 to {MAX_EMAIL} characters"),
                    ));
                }
            }
        }
        if let Some(v) = obj.get("tags") {
            let tags = string_list(v, &name("tags"))?;
            for t in &tags {
                parse_tag(&Value::String(t.clone()))
                    .map_err(|m| FieldError::new(name("tags"), m))?;
            }
            f.tags = Some(tags);
        }
        if let Some(v) = obj.get("search") {
            match v {
                Value::String(s) if !s.trim().is_empty() && s.chars().count() <= MAX_SEARCH => {
                    f.search = Some(s.trim().to_lowercase());
                }
                _ => {
                    return Err(FieldError::new(
                        name("search"),
                        format!("must be a string of 1 to {MAX_SEARCH} characters"),
                    ));
                }
            }
        }
        if let Some(v) = obj.get("emailStatus") {
            let list = string_list(v, &name("emailStatus"))?;
            if let Some(bad) = list
                .iter()
                .find(|s| *s != "unverified" && !VERIFICATION_RESULTS.contains(&s.as_str()))
            {
                return Err(FieldError::new(
                    name("emailStatus"),
                    format!(
                        "'{bad}' is not one of valid, risky, catch_all, invalid, unknown, unverified"
                    ),
                ));
            }
            f.email_status = Some(list);
        }
        let flag = |key: &str| -> Result<Option<bool>, FieldError> {
            obj.get(key)
                .map(|v| {
                    v.as_bool()
                        .ok_or_else(|| FieldError::new(name(key), "must be true or false"))
                })
                .transpose()
        };
        f.email_verified = flag("emailVerified")?;
        f.has_company = flag("hasCompany")?;
        f.has_phone = flag("hasPhone")?;
        if let Some(v) = obj.get("country") {
            let list = string_list(v, &name("country"))?;
            let codes = list
                .iter()
                .map(|c| {
                    CountryCode::parse(c)
                        .map(CountryCode::into_string)
                        .ok_or_else(|| {
                            FieldError::new(
                                name("country"),
                                format!("'{c}' is not an ISO 3166-1 alpha-2 code"),
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            f.country = Some(codes);
        }
        if let Some(v) = obj.get("leadIds") {
            f.lead_ids = Some(parse_ids(v, &name("leadIds"), MAX_LEAD_IDS)?);
        }
        if let Some(v) = obj.get("createdAfter") {
            f.created_after = Some(parse_time(v, &name("createdAfter"))?);
        }
        if let Some(v) = obj.get("createdBefore") {
            f.created_before = Some(parse_time(v, &name("createdBefore"))?);
        }
        Ok(f)
    }
}

/// A non-empty list of strings; a single string counts as a list of one.
fn string_list(v: &Value, field: &str) -> Result<Vec<String>, FieldError> {
    let list: Vec<String> = match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| FieldError::new(field, "must be an array of strings"))?,
        _ => return Err(FieldError::new(field, "must be an array of strings")),
    };
    if list.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if list.len() > MAX_VALUES {
        return Err(FieldError::new(
            field,
            format!("must hold at most {MAX_VALUES} values (got {})", list.len()),
        ));
    }
    Ok(list)
}

/// A list of object IDs, each 24 hex characters, at most `max` of them.
impl super::json::FromJson for LeadFilter {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        LeadFilter::from_field(&v)
    }
}

pub fn parse_ids(v: &Value, field: &str, max: usize) -> Result<Vec<ObjectId>, FieldError> {
    let items = v
        .as_array()
        .ok_or_else(|| FieldError::new(field, "must be an array of IDs"))?;
    if items.len() > max {
        return Err(FieldError::new(
            field,
            format!("must hold at most {max} IDs"),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_str().and_then(ObjectId::parse).ok_or_else(|| {
                FieldError::new(
                    format!("{field}[{i}]"),
                    "must be an ID of 24 hex characters",
                )
            })
        })
        .collect()
}

fn parse_time(v: &Value, field: &str) -> Result<i64, FieldError> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| {
            FieldError::new(
                field,
                "must be an RFC 3339 timestamp such as 2026-11-26T10:15:30Z",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_filter_reads_back_from_its_json() {
        let f = LeadFilter::from_json(
            &json!({"email": "A@B.co", "hasCompany": true, "hasPhone": false, "tags": ["vip", "q4"],
                    "search": "Acme", "emailStatus": ["valid", "unverified"], "emailVerified": false,
                    "country": ["de", "US"], "leadIds": ["665d4e5f6a7b8c9d0e1f2a3b"],
                    "createdAfter": "2026-11-26T10:15:30.250Z", "createdBefore": "2026-12-01T00:00:00Z"}),
            "filters",
        )
        .unwrap();
        assert!(f.email.is_some() && f.created_before.is_some() && f.lead_ids.is_some());
        assert_eq!(LeadFilter::from_json(&f.to_json(), "filters").unwrap(), f);
        assert_eq!(LeadFilter::default().to_json(), json!({}));
    }

    #[test]
    fn the_body_form_parses_every_criterion() {
        let f = LeadFilter::from_json(
            &json!({"tags": ["vip"], "search": " ACME ", "emailStatus": ["valid", "unverified"],
                    "emailVerified": true, "country": "us", "leadIds": ["665d4e5f6a7b8c9d0e1f2a3b"],
                    "createdAfter": "2026-01-01T00:00:00Z", "createdBefore": "2026-12-31T00:00:00.500Z"}),
            "filters",
        )
        .unwrap();
        assert_eq!(f.search.as_deref(), Some("acme"));
        assert_eq!(f.country, Some(vec!["US".to_string()]));
        assert_eq!(f.lead_ids.as_ref().map(Vec::len), Some(1));
        assert_eq!(f.created_after, Some(1_767_225_600_000));
        assert!(!f.is_empty());
        assert!(
            LeadFilter::from_json(&json!({}), "filters")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn bad_criteria_name_the_field() {
        let cases = [
            (json!({"tag": "x"}), "filters.tag"),
            (json!({"country": ["XX"]}), "filters.country"),
            (json!({"tags": []}), "filters.tags"),
            (json!({"emailStatus": ["great"]}), "filters.emailStatus"),
            (json!({"leadIds": ["nope"]}), "filters.leadIds[0]"),
            (json!({"createdAfter": "yesterday"}), "filters.createdAfter"),
            (json!({"emailVerified": "yes"}), "filters.emailVerified"),
        ];
        for (input, field) in cases {
            assert_eq!(
                LeadFilter::from_json(&input, "filters").unwrap_err().field,
                field,
                "{input}"
            );
        }
    }

    #[test]
    fn the_query_form_splits_lists_on_commas() {
        let pairs = vec![
            ("tags".to_string(), "a,b".to_string()),
            ("country".to_string(), "us,de".to_string()),
            ("emailVerified".to_string(), "false".to_string()),
            ("limit".to_string(), "10".to_string()),
        ];
        let f = LeadFilter::from_query(&pairs).unwrap();
        assert_eq!(f.tags, Some(vec!["a".into(), "b".into()]));
        assert_eq!(f.country, Some(vec!["US".into(), "DE".into()]));
        assert_eq!(f.email_verified, Some(false));
    }
}
