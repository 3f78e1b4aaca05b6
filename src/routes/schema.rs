//! The shapes of the API for the OpenAPI document (`/openapi.json`).
//!
//! The resource types (`Lead`, `Campaign`, `CampaignLead`, `DncEntry`,
//! `Workspace`) are what the handlers serialize, so the document cannot
//! drift from the responses. Request bodies are parsed by hand for exact
//! error messages; their types here describe what those parsers accept,
//! and the contract test (schemathesis against the document) holds the two
//! together.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::domain::format_time;
use crate::domain::id::ObjectId;
use crate::store::{CampaignLeadRow, CampaignRow, DncRow, LeadRow, WorkspaceRef};

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

/// The failure envelope every error uses.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// Always `false`.
    pub success: bool,
    pub error: ErrorBody,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// A sentence for people; never carries internals.
    pub message: String,
    /// For validation errors: which fields and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<FieldDetail>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    ValidationError,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    InternalError,
    Unavailable,
}

#[derive(Serialize, ToSchema)]
pub struct FieldDetail {
    pub field: String,
    pub message: String,
}

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

/// A campaign.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Campaign {
    #[serde(rename = "_id")]
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    /// draft, active, paused, completed or archived.
    #[schema(example = "draft")]
    pub status: String,
    /// The steps of the sequence, stored and returned as given.
    #[schema(value_type = Vec<Value>)]
    pub sequence: Value,
    #[schema(value_type = Object)]
    pub sending_schedule: Value,
    #[schema(value_type = Object)]
    pub settings: Value,
    pub lead_counts: LeadCounts,
    #[schema(format = DateTime)]
    pub started_at: Option<String>,
    #[schema(format = DateTime)]
    pub completed_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl Campaign {
    pub fn new(ws: WorkspaceRef, c: &CampaignRow) -> Self {
        let [
            pending,
            active,
            paused,
            completed,
            bounced,
            unsubscribed,
            replied,
        ] = c.lead_counts.by_status;
        let lead_counts = LeadCounts {
            total: c.lead_counts.by_status.iter().sum(),
            pending,
            active,
            paused,
            completed,
            bounced,
            unsubscribed,
            replied,
        };
        Campaign {
            id: ObjectId::new(c.key, c.created_at).to_string(),
            workspace_id: ws.id().to_string(),
            name: c.name.clone(),
            status: c.status.as_str().to_owned(),
            sequence: c.sequence.clone(),
            sending_schedule: c.schedule.clone(),
            settings: c.settings.clone(),
            lead_counts,
            started_at: c.started_at.map(format_time),
            completed_at: c.completed_at.map(format_time),
            created_at: format_time(c.created_at),
            updated_at: format_time(c.updated_at),
        }
    }
}

/// A campaign's memberships by status (`CampaignLeadStatus::ALL`'s order).
#[derive(Serialize, ToSchema)]
pub struct LeadCounts {
    pub total: i64,
    pub pending: i64,
    pub active: i64,
    pub paused: i64,
    pub completed: i64,
    pub bounced: i64,
    pub unsubscribed: i64,
    pub replied: i64,
}

/// A lead's membership of a campaign.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignLead {
    #[serde(rename = "_id")]
    pub id: String,
    pub campaign_id: String,
    pub lead_id: String,
    /// pending, active, paused, completed, bounced, unsubscribed or replied.
    pub status: String,
    #[schema(format = DateTime)]
    pub added_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub lead: LeadSummary,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadSummary {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
}

impl CampaignLead {
    pub fn new(cl: &CampaignLeadRow) -> Self {
        CampaignLead {
            id: ObjectId::new(cl.key, cl.added_at).to_string(),
            campaign_id: cl.campaign.to_string(),
            lead_id: cl.lead.to_string(),
            status: cl.status.as_str().to_owned(),
            added_at: format_time(cl.added_at),
            updated_at: format_time(cl.updated_at),
            lead: LeadSummary {
                email: cl.email.clone(),
                first_name: cl.first_name.clone(),
                last_name: cl.last_name.clone(),
                company_name: cl.company_name.clone(),
            },
        }
    }
}

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

/// A workspace, with the caller's role in it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    /// owner or member.
    pub role: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// The user a platform key belongs to.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    #[serde(rename = "_id")]
    pub id: String,
    pub email: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub workspaces: Vec<Workspace>,
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

/// `POST /v1/leads/import/csv`: the bulk counts over the file's rows.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportResult {
    /// Data rows read (rows whose cells are all empty are not rows):
    /// imported + updated + skipped + failed.
    pub rows: u64,
    pub imported: u64,
    pub updated: u64,
    pub skipped: u64,
    pub failed: u64,
    pub imported_lead_ids: Vec<String>,
    pub errors: Vec<ImportRowError>,
    /// With `campaignId`: how the file's leads were added to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<ImportCampaign>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportRowError {
    /// The line of the file the row starts on (the header is line 1).
    pub line: u64,
    pub email: Option<String>,
    pub error: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportCampaign {
    pub campaign_id: String,
    pub added: u64,
    pub skipped: u64,
    pub blocked: u64,
}

/// Add leads, mode 1 (a `leads` array).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddExplicitResult {
    pub added: u64,
    /// Entries not added: already in the campaign, repeats, blocked, errors.
    pub skipped: u64,
    /// Leads created because their email was new.
    pub created: u64,
    /// Leads on the do-not-contact list (counted in `skipped` too).
    pub blocked: u64,
    pub errors: Vec<AddEntryError>,
    /// Present (true) on a dry run: nothing was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// An entry of `leads` that could not be used.
#[derive(Serialize, ToSchema)]
pub struct AddEntryError {
    pub index: u64,
    pub entry: Value,
    /// INVALID_ENTRY, MISSING_IDENTIFIER, INVALID_EMAIL, INVALID_FIELD or LEAD_NOT_FOUND.
    pub code: String,
    pub message: String,
}

/// Add leads, modes 2 and 3 (`filters`, `selectAll`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddSelectionResult {
    pub added: u64,
    pub skipped: u64,
    /// Leads the selection matched: added + skipped.
    pub matched: u64,
    pub blocked: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}

/// Either result of the add-leads endpoint.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum AddLeadsResult {
    Explicit(AddExplicitResult),
    Selection(AddSelectionResult),
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionResult {
    /// pause, resume or remove.
    pub action: String,
    /// Memberships whose status changed, or that were removed.
    pub modified_count: u64,
}

#[derive(Serialize, ToSchema)]
pub struct DncAddResult {
    pub added: u64,
    /// Entries already on the list, or repeated in the request.
    pub skipped: u64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub workspace_id: String,
    pub user_id: String,
    pub email: String,
    pub role: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberRemoved {
    pub workspace_id: String,
    pub user_id: String,
    pub removed: bool,
}

/// A workspace key, shown this once.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceKey {
    pub workspace_id: String,
    #[schema(example = "sk_...")]
    pub api_key: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyRevoked {
    pub workspace_id: String,
    pub revoked: bool,
}

// ---- Request bodies (what the handlers' parsers accept) -------------------

/// A lead's fields. Unknown fields are ignored; on update, an empty or
/// null text field clears it and `customFields` merge by key.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct LeadInput {
    /// Required on create; on update it may only repeat the lead's own.
    #[schema(example = "jane@example.com", max_length = 254)]
    pub email: Option<String>,
    #[schema(max_length = 256)]
    pub first_name: Option<String>,
    #[schema(max_length = 256)]
    pub last_name: Option<String>,
    #[schema(max_length = 256)]
    pub company_name: Option<String>,
    #[schema(max_length = 256)]
    pub job_title: Option<String>,
    #[schema(max_length = 256)]
    pub phone: Option<String>,
    #[schema(max_length = 256)]
    pub linkedin_url: Option<String>,
    #[schema(max_length = 256)]
    pub city: Option<String>,
    #[schema(max_length = 256)]
    pub state: Option<String>,
    /// ISO 3166-1 alpha-2, any case.
    #[schema(example = "US", min_length = 2, max_length = 2)]
    pub country: Option<String>,
    /// At most 50 tags of 1 to 64 characters.
    #[schema(max_items = 50)]
    pub tags: Option<Vec<String>>,
    /// At most 50 fields; values are strings (≤ 1,024), numbers, booleans or null.
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Map<String, Value>>,
    pub email_verification_result: Option<VerificationResult>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum VerificationResult {
    Valid,
    Risky,
    CatchAll,
    Invalid,
    Unknown,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct BulkRequest {
    #[schema(min_items = 1, max_items = 5000)]
    pub leads: Vec<LeadInput>,
    /// true (default): existing leads are left as they are; false: updated.
    pub skip_duplicates: Option<bool>,
    /// Added to every lead of the request.
    pub tag: Option<String>,
}

/// Lead criteria; a lead must match all given. Unknown criteria are
/// rejected.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Filters {
    /// Leads with any of these tags.
    pub tags: Option<Vec<String>>,
    /// Case-insensitive substring of email, firstName, lastName or companyName.
    pub search: Option<String>,
    /// emailVerificationResult in this list; `unverified` matches none.
    pub email_status: Option<Vec<String>>,
    pub email_verified: Option<bool>,
    /// One code or a list.
    #[schema(value_type = Option<Vec<String>>)]
    pub country: Option<Value>,
    #[schema(max_items = 50000)]
    pub lead_ids: Option<Vec<String>>,
    #[schema(format = DateTime)]
    pub created_after: Option<String>,
    #[schema(format = DateTime)]
    pub created_before: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct DeleteLeadsRequest {
    /// Delete these leads; or
    #[schema(max_items = 50000)]
    pub lead_ids: Option<Vec<String>>,
    /// delete all leads (narrowed by `filters`, less `excludeIds`).
    pub delete_all: Option<bool>,
    pub filters: Option<Filters>,
    #[schema(max_items = 50000)]
    pub exclude_ids: Option<Vec<String>>,
}

/// One entry of mode 1: an existing lead by `leadId`, or a lead by
/// `email` (found case-insensitively or created with the given fields).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum AddLeadEntry {
    ById {
        #[serde(rename = "leadId")]
        lead_id: String,
    },
    ByEmail(Box<LeadInput>),
}

/// Give exactly one mode: `leads` (1 to 5,000 entries), `filters`, or
/// `selectAll: true` (optionally with `filters`); `excludeIds` goes with
/// modes 2 and 3. `dryRun` answers with the exact counts and writes nothing.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct AddLeadsRequest {
    #[schema(min_items = 1, max_items = 5000)]
    pub leads: Option<Vec<AddLeadEntry>>,
    pub filters: Option<Filters>,
    pub select_all: Option<bool>,
    /// Leads never added (modes 2 and 3).
    #[schema(max_items = 50000)]
    pub exclude_ids: Option<Vec<String>>,
    pub dry_run: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CampaignInput {
    /// Required on create.
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// Any array; stored and returned as given (with `schedule` and
    /// `settings`, at most 64 KiB).
    #[schema(value_type = Option<Vec<Value>>)]
    pub sequence: Option<Value>,
    /// Any object, returned as `sendingSchedule` (which is accepted here too).
    #[schema(value_type = Option<Object>)]
    pub schedule: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct CampaignLeadStatusInput {
    /// active or paused.
    pub status: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct LeadActionRequest {
    /// pause, resume or remove.
    pub action: String,
    /// Campaign-lead `_id`s; or
    #[schema(max_items = 50000)]
    pub lead_ids: Option<Vec<String>>,
    /// every membership (narrowed by `filters` on the leads, less `excludeIds`).
    pub select_all: Option<bool>,
    pub filters: Option<Filters>,
    #[schema(max_items = 50000)]
    pub exclude_ids: Option<Vec<String>>,
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

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct WorkspaceInput {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct MemberInput {
    /// An existing user's email.
    pub email: String,
    /// owner or member (default member); ignored on removal.
    pub role: Option<String>,
}

/// The CSV import form.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ImportForm {
    /// The CSV file: UTF-8, first line naming the columns, ≤ 50,000 rows, ≤ 50 MiB.
    #[schema(value_type = String, format = Binary, content_media_type = "text/csv")]
    pub file: Vec<u8>,
    /// JSON: CSV column → lead field (`email`, `firstName`, …, `tags`,
    /// `customFields.NAME`, or null to ignore the column). Without it,
    /// common headers are recognised.
    #[schema(example = r#"{"Work Email": "email", "Notes": "customFields.notes"}"#)]
    pub mapping: Option<String>,
    pub tag: Option<String>,
    /// Also add every lead of the file to this campaign.
    pub campaign_id: Option<String>,
    /// "true" (default) or "false" (update existing leads).
    pub skip_duplicates: Option<String>,
}

// ---- Query strings --------------------------------------------------------

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageQuery {
    /// Items per page, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `_id` of the previous page's last item (`nextCursor`).
    pub cursor: Option<String>,
}

/// Lead filters (SPEC §6); lists are comma-separated. With [`PageQuery`].
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct LeadQuery {
    /// Leads with any of these tags, e.g. `vip,q4`.
    pub tags: Option<String>,
    /// Case-insensitive substring of email, firstName, lastName or companyName.
    pub search: Option<String>,
    /// Verification results, e.g. `valid,unverified`.
    pub email_status: Option<String>,
    pub email_verified: Option<bool>,
    /// Country codes, e.g. `US,DE`.
    pub country: Option<String>,
    /// Lead IDs, comma-separated.
    pub lead_ids: Option<String>,
    /// Created after this instant (RFC 3339, exclusive).
    #[param(format = DateTime)]
    pub created_after: Option<String>,
    /// Created before this instant (RFC 3339, exclusive).
    #[param(format = DateTime)]
    pub created_before: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CampaignQuery {
    /// Statuses, comma-separated: draft, active, paused, completed, archived.
    pub status: Option<String>,
    /// Case-insensitive substring of the name.
    pub search: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CampaignLeadQuery {
    /// pending, active, paused, completed, bounced, unsubscribed or replied.
    pub status: Option<String>,
}
