//! The shapes of the API for the OpenAPI document (`/openapi.json`), one
//! module per resource.
//!
//! The resource types (`Lead`, `Campaign`, `CampaignLead`, `DncEntry`,
//! `Workspace`) are what the handlers serialize, so the document cannot
//! drift from the responses. The error envelope is `crate::error`'s.

use crate::domain::json::{Cursor, Limit, given};
use crate::store::PageRequest;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

mod campaign_leads;
mod campaigns;
mod dnc;
mod events;
mod import;
mod jobs;
mod leads;
mod webhooks;
mod workspaces;

pub use campaign_leads::*;
pub use campaigns::*;
pub use dnc::*;
pub use events::*;
pub use import::*;
pub use jobs::*;
pub use leads::*;
pub use webhooks::*;
pub use workspaces::*;

/// Names of the shapes the server reads by hand, for the types that hold
/// them; `routes::docs::rules` writes their schemas into the document.
macro_rules! written_by_rules {
    ($($(#[$doc:meta])* $name:ident),*) => {$(
        $(#[$doc])*
        pub enum $name {}
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new().into()
            }
        }
        impl ToSchema for $name {}
    )*};
}

written_by_rules!(
    /// Lead criteria (`domain::filter::LeadFilter::from_json`).
    Filters,
    /// One entry of add-leads mode 1 (`campaign_leads::parse_entry`).
    AddLeadEntry,
    /// The CSV import form (`routes::import`).
    ImportForm,
    /// The do-not-contact CSV form (`routes::dnc::import`).
    DncImportForm
);

/// The success envelope.
#[derive(Serialize, ToSchema)]
pub struct Envelope<T> {
    /// Always `true`.
    pub success: bool,
    pub data: T,
}

/// The success envelope of a list.
#[derive(Serialize, ToSchema)]
pub struct ListEnvelope<T> {
    /// Always `true`.
    pub success: bool,
    pub data: Vec<T>,
    pub pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub limit: u64,
    /// Items matching the query, over all pages.
    pub total: u64,
    pub has_more: bool,
    /// The `_id` to pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// `GET /v1/health`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub database: String,
    pub version: String,
}

/// A delete's answer.
#[derive(Serialize, ToSchema)]
pub struct Deleted {
    #[serde(rename = "_id")]
    pub id: String,
    pub deleted: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletedCount {
    pub deleted_count: u64,
}

// ---- Results of batch operations -----------------------------------------

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 100 (default 25).
    #[serde(default, deserialize_with = "given")]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<Limit>,
    /// The `_id` of the previous page's last item (`nextCursor`).
    #[serde(default, deserialize_with = "given")]
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor>,
}

impl PageQuery {
    pub fn page(&self) -> PageRequest {
        PageRequest {
            limit: self.limit.map_or(Limit::DEFAULT, |l| l.0),
            cursor: self.cursor.and_then(|c| c.0),
        }
    }
}
