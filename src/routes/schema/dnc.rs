//! The do-not-contact list.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::format_time;
use crate::domain::id::ObjectId;
use crate::store::DncRow;

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
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct DncAddRequest {
    #[schema(min_items = 1, max_items = 10000)]
    pub entries: Vec<DncInput>,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct DncInput {
    /// email or domain.
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct DncDeleteRequest {
    #[schema(min_items = 1)]
    pub ids: Vec<String>,
}
