//! The do-not-contact list.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::email::{Domain, Email};
use crate::domain::id::ObjectId;
use crate::domain::json::{FromJson, Ids, given};
use crate::domain::lead::FieldError;

use crate::domain::format_time;
use crate::store::{DncKind, DncRow};

/// A do-not-contact entry.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DncEntry {
    #[serde(rename = "_id")]
    pub id: String,
    /// email or domain.
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl DncEntry {
    pub fn new(d: &DncRow) -> Self {
        DncEntry {
            id: ObjectId::new(d.key, d.created_at).to_string(),
            kind: d.kind.to_string(),
            value: d.value.clone(),
            created_at: format_time(d.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DncAddResult {
    pub added: u64,
    /// Entries already on the list, or repeated in the request.
    pub skipped: u64,
    /// Memberships the entries stopped: the matching leads' `pending`,
    /// `active` and `paused` memberships, in every campaign, became
    /// `unsubscribed`.
    pub stopped: u64,
}

/// At most this many entries per request.
pub const MAX_DNC_ENTRIES: usize = 10_000;

#[derive(Deserialize, ToSchema)]
pub struct DncAddRequest {
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Vec<DncInput>, required = true, min_items = 1)]
    pub entries: Option<DncEntries>,
}

impl DncAddRequest {
    pub fn entries(self) -> Result<Vec<(DncKind, String)>, FieldError> {
        let entries = self.entries.ok_or_else(|| DncEntries::refusal(""))?;
        Ok(entries.0.into_iter().map(|e| (e.kind, e.value)).collect())
    }
}

/// The entries of a request, each parsed.
pub struct DncEntries(pub Vec<DncInput>);

impl DncEntries {
    fn refusal(field: &str) -> FieldError {
        let field = if field.is_empty() { "entries" } else { field };
        FieldError::new(
            field,
            format!("must be an array of 1 to {MAX_DNC_ENTRIES} {{type, value}} objects"),
        )
    }
}

impl FromJson for DncEntries {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        match v {
            Value::Array(items) if !items.is_empty() && items.len() <= MAX_DNC_ENTRIES => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    DncInput::from_json(item)
                        .map_err(|e| FieldError::new(format!("[{i}]{}", e.field), e.message))
                })
                .collect::<Result<_, _>>()
                .map(DncEntries),
            _ => Err(FieldError {
                field: String::new(),
                ..Self::refusal("")
            }),
        }
    }
}

/// One entry: an email address (stored lower-cased) or a domain.
#[derive(ToSchema)]
pub struct DncInput {
    /// email or domain.
    #[schema(rename = "type", value_type = String)]
    pub kind: DncKind,
    pub value: String,
}

impl FromJson for DncInput {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        let kind = v.get("type").and_then(Value::as_str);
        let value = v.get("value").and_then(Value::as_str);
        let (kind, value) = match (kind, value) {
            (Some("email"), Some(s)) => Email::parse(s)
                .map(|e| (DncKind::Email, e.key()))
                .ok_or_else(|| FieldError::new(".value", "must be a valid email address"))?,
            (Some("domain"), Some(s)) => Domain::parse(s.trim_start_matches('@'))
                .map(|d| (DncKind::Domain, d.as_str().to_owned()))
                .ok_or_else(|| FieldError::new(".value", "must be a domain such as example.com"))?,
            (Some("email" | "domain"), None) => {
                return Err(FieldError::new(".value", "is required"));
            }
            _ => return Err(FieldError::new(".type", "must be email or domain")),
        };
        Ok(DncInput { kind, value })
    }
}

#[derive(Deserialize, ToSchema)]
pub struct DncDeleteRequest {
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Vec<String>, required = true)]
    pub ids: Option<Ids<MAX_DNC_ENTRIES>>,
}

impl DncDeleteRequest {
    pub fn ids(self) -> Result<Vec<ObjectId>, FieldError> {
        self.ids
            .map(|ids| ids.0)
            .ok_or_else(|| FieldError::new("ids", "is required: an array of entry IDs"))
    }
}
