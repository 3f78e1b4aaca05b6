//! Leads: the Lead object, its input, filters, bulk and delete requests.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::Filters;
use crate::domain::filter::{LeadFilter, MAX_LEAD_IDS};
use crate::domain::format_time;
use crate::domain::json::{Flag, FromJson, Ids, Text, given, present};
use crate::domain::lead::{FieldError, parse_tag};
use crate::routes::leads::MAX_BULK;
use crate::store::{LeadRow, WorkspaceRef};

/// A lead.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Lead {
    #[serde(rename = "_id")]
    #[schema(example = "6b09806c0000000000000001")]
    pub id: String,
    pub workspace_id: String,
    #[schema(example = "jane@example.com")]
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    pub job_title: Option<String>,
    pub phone: Option<String>,
    pub linkedin_url: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
    pub tags: Vec<String>,
    /// Strings, numbers, booleans or nulls by name.
    #[schema(value_type = Object)]
    pub custom_fields: Map<String, Value>,
    pub email_verified: bool,
    /// valid, risky, catch_all, invalid, unknown, or null.
    pub email_verification_result: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl Lead {
    pub fn new(ws: WorkspaceRef, lead: &LeadRow) -> Self {
        let c = lead.contact.clone();
        Lead {
            id: lead.id().to_string(),
            workspace_id: ws.id().to_string(),
            email: lead.email.clone(),
            first_name: c.first_name,
            last_name: c.last_name,
            company_name: c.company_name,
            job_title: c.job_title,
            phone: c.phone,
            linkedin_url: c.linkedin_url,
            city: c.city,
            state: c.state,
            country: c.country,
            tags: lead.tags.clone(),
            custom_fields: lead.custom_fields.clone(),
            email_verified: lead.email_verification_result.is_some(),
            email_verification_result: lead.email_verification_result.clone(),
            created_at: format_time(lead.created_at),
            updated_at: format_time(lead.updated_at),
        }
    }
}

/// `POST /v1/leads/bulk`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkResult {
    pub imported: u64,
    pub updated: u64,
    /// Existing leads left as they were, and repeats of an email.
    pub skipped: u64,
    pub failed: u64,
    pub imported_lead_ids: Vec<String>,
    pub errors: Vec<BulkError>,
}

#[derive(Serialize, ToSchema)]
pub struct BulkError {
    /// Position in `leads`.
    pub index: u64,
    /// The entry's `email` as sent.
    pub email: Value,
    pub error: String,
}

pub use crate::domain::lead::LeadInput;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkRequest {
    /// Each entry is checked on its own: a bad one is reported by index
    /// and the rest proceed.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Vec<LeadInput>, required = true, min_items = 1)]
    pub leads: Option<Entries<MAX_BULK>>,
    /// true (default): existing leads are left as they are; false: updated.
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<bool>)]
    pub skip_duplicates: Option<Flag>,
    /// Added to every lead of the request.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub tag: Option<Tag>,
}

impl BulkRequest {
    /// The entries, as given.
    pub fn leads(&mut self) -> Result<Vec<Value>, FieldError> {
        self.leads
            .take()
            .map(|e| e.0)
            .ok_or_else(|| FieldError::new("leads", Entries::<MAX_BULK>::NOT_AN_ARRAY))
    }
}

/// The lead objects of a batch, 1 to `MAX`, each left as given so that a
/// bad one is reported by its index while the rest proceed.
pub struct Entries<const MAX: usize>(pub Vec<Value>);

impl<const MAX: usize> Entries<MAX> {
    const NOT_AN_ARRAY: &str = "must be an array of lead objects";
}

impl<const MAX: usize> FromJson for Entries<MAX> {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        match v {
            Value::Array(items) if !items.is_empty() && items.len() <= MAX => Ok(Entries(items)),
            Value::Array(items) => Err(FieldError::new(
                "",
                format!("must hold 1 to {MAX} leads (got {})", items.len()),
            )),
            _ => Err(FieldError::new("", Self::NOT_AN_ARRAY)),
        }
    }
}

/// A tag to add to every lead of a request.
pub struct Tag(pub String);

impl FromJson for Tag {
    fn from_json(v: Value) -> Result<Self, FieldError> {
        parse_tag(&v).map(Tag).map_err(|m| FieldError::new("", m))
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteLeadsRequest {
    /// Delete these leads; or
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub lead_ids: Option<Ids<MAX_LEAD_IDS>>,
    /// delete all leads (narrowed by `filters`, less `excludeIds`).
    #[serde(default, deserialize_with = "given")]
    #[schema(value_type = Option<bool>)]
    pub delete_all: Option<Flag>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Filters>)]
    pub filters: Option<LeadFilter>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub exclude_ids: Option<Ids<MAX_LEAD_IDS>>,
    /// With `deleteAll`: run as a background job, in chunks of their own
    /// transactions, and answer 202 with its `jobId` at once. A delete by
    /// `leadIds` answers at once whatever it says.
    #[serde(default, rename = "async", deserialize_with = "given")]
    #[schema(value_type = Option<bool>)]
    pub run_async: Option<Flag>,
}

/// Lead filters (docs/API.md, "Lead filters"); lists are comma-separated. With [`PageQuery`].
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct LeadQuery {
    /// The lead with this email address (case-insensitive, exact).
    #[serde(default, deserialize_with = "given")]
    #[param(value_type = Option<String>)]
    pub email: Option<Text>,
    /// Leads with any of these tags, e.g. `vip,q4`.
    #[serde(default, deserialize_with = "given")]
    #[param(value_type = Option<String>)]
    pub tags: Option<Text>,
    /// Case-insensitive substring of email, firstName, lastName or companyName.
    #[serde(default, deserialize_with = "given")]
    #[param(value_type = Option<String>)]
    pub search: Option<Text>,
    /// Verification results, e.g. `valid,unverified`.
    #[serde(default, deserialize_with = "given")]
    #[param(value_type = Option<String>)]
    pub email_status: Option<Text>,
    #[serde(default, deserialize_with = "given")]
    #[param(value_type = Option<bool>)]
    pub email_verified: Option<Text>,
    /// Leads with (`true`) or without (`false`) a company name.
    #[serde(default, deserialize_with = "given")]
    #[param(value_type = Option<bool>)]
    pub has_company: Option<Text>,
    /// Leads with (`true`) or without (`false`) a phone number.
    #[serde(default, deserialize_with = "given")]
    #[param(value_type = Option<bool>)]
    pub has_phone: Option<Text>,
    /// Country codes, e.g. `US,DE`.
    #[serde(default, deserialize_with = "given")]
    #[param(value_type = Option<String>)]
    pub country: Option<Text>,
    /// Lead IDs, comma-separated.
    #[serde(default, deserialize_with = "given")]
    #[param(value_type = Option<String>)]
    pub lead_ids: Option<Text>,
    /// Created after this instant (RFC 3339, exclusive).
    #[serde(default, deserialize_with = "given")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub created_after: Option<Text>,
    /// Created before this instant (RFC 3339, exclusive).
    #[serde(default, deserialize_with = "given")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub created_before: Option<Text>,
}

impl LeadQuery {
    /// The filter these parameters make (`LeadFilter::from_query` reads
    /// their text: lists comma-separated, booleans and times checked).
    pub fn filter(self) -> Result<LeadFilter, FieldError> {
        let given = [
            ("email", self.email),
            ("tags", self.tags),
            ("search", self.search),
            ("emailStatus", self.email_status),
            ("emailVerified", self.email_verified),
            ("hasCompany", self.has_company),
            ("hasPhone", self.has_phone),
            ("country", self.country),
            ("leadIds", self.lead_ids),
            ("createdAfter", self.created_after),
            ("createdBefore", self.created_before),
        ];
        let pairs: Vec<(String, String)> = given
            .into_iter()
            .filter_map(|(k, v)| v.map(|t| (k.to_owned(), t.0)))
            .collect();
        LeadFilter::from_query(&pairs)
    }
}
