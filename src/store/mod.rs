//! Storage: one interface, one implementation per engine.
//!
//! Every workspace-scoped method takes the workspace first, so tenant scoping
//! lives in the signature rather than in each caller's memory.

mod campaigns;
mod counts;
mod dnc;
pub mod events;
mod exec;
pub mod idempotency;
pub mod jobs;
mod leads;
pub mod postgres;
pub mod sessions;
mod sql;
pub mod sqlite;
mod storage;
mod storage_impl;
pub mod webhooks;
mod workspaces;

pub use campaigns::SKIP_IF_IN_OTHER_CAMPAIGN;
pub use storage::Storage;

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::domain::campaign::{CampaignLeadStatus, CampaignStatus, Transition};
use crate::domain::email::Email;
use crate::domain::event::EventType;
use crate::domain::filter::LeadFilter;
use crate::domain::id::ObjectId;
use crate::domain::key::ApiKey;
use crate::domain::lead::{Contact, LeadFields};
use jobs::JobRow;
use webhooks::{Attempt, Claimed, DeliveryRow, EndpointNext, Next, WebhookChange, WebhookRow};

pub type Store = Arc<dyn Storage>;

/// Opens the store a database URL names and brings its schema up to date.
/// `max_connections` bounds the PostgreSQL pool, and SQLite's pool of read
/// connections.
pub async fn connect(url: &str, max_connections: usize) -> anyhow::Result<Store> {
    connect_with(
        url,
        max_connections,
        DEFAULT_STATEMENT_TIMEOUT,
        sqlite::WRITE_QUEUE,
    )
    .await
}

/// Longest a statement may run by default (`--statement-timeout-secs`).
pub const DEFAULT_STATEMENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// [`connect`], with statements stopped once they run past
/// `statement_timeout` (their transaction then writes nothing) and, on
/// SQLite, at most `write_queue` writes waiting for the writer.
pub async fn connect_with(
    url: &str,
    max_connections: usize,
    statement_timeout: std::time::Duration,
    write_queue: usize,
) -> anyhow::Result<Store> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let store =
            sqlite::SqliteStore::open(path, max_connections.max(1), statement_timeout, write_queue)
                .await?;
        return Ok(Arc::new(store));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = postgres::PgStore::open(url, max_connections.max(1), statement_timeout).await?;
        return Ok(Arc::new(store));
    }
    anyhow::bail!("unsupported database URL: use sqlite://PATH or postgres://USER:PASSWORD@HOST/DB")
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// A rule on what a row may hold, broken only once it is merged with
    /// what is stored (a 400 naming the field).
    #[error("{}: {}", .0.field, .0.message)]
    Invalid(crate::domain::lead::FieldError),
    /// A uniqueness rule of the schema was broken; the shared code turns
    /// the expected ones into conflicts with their own message.
    #[error("duplicate row")]
    Duplicate(#[source] anyhow::Error),
    #[error("database unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Too many writes are waiting; this one was not queued (retry soon).
    #[error("too many writes are waiting")]
    Busy,
    /// A statement ran past the time limit and was stopped; its
    /// transaction wrote nothing.
    #[error("a statement ran past the time limit")]
    StatementTimeout,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A workspace: its storage key and its creation time (which make its `_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkspaceRef {
    pub key: i64,
    pub created_at: i64,
}

impl WorkspaceRef {
    pub fn id(&self) -> ObjectId {
        ObjectId::new(self.key, self.created_at)
    }
}

pub use crate::domain::workspace::Role;

/// What a user may see of a workspace.
#[derive(Clone, Debug)]
pub enum Access {
    NotFound,
    /// It exists, and the user is not a member.
    NotMember,
    Member(WorkspaceRow, Role),
}

/// Who a key belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    User { user_key: i64 },
    Workspace(WorkspaceRef),
}

#[derive(Clone, Debug)]
pub struct UserRow {
    pub key: i64,
    pub email: String,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct WorkspaceRow {
    pub workspace: WorkspaceRef,
    pub name: String,
    pub updated_at: i64,
}

#[derive(Clone, Debug)]
pub struct LeadRow {
    pub key: i64,
    pub email: String,
    pub contact: Contact<Option<String>>,
    pub tags: Vec<String>,
    pub custom_fields: Map<String, Value>,
    pub email_verification_result: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, Default)]
pub struct LeadCounts {
    /// In the order of `CampaignLeadStatus::ALL`.
    pub by_status: [i64; 7],
}

impl LeadCounts {
    fn slot(status: CampaignLeadStatus) -> usize {
        CampaignLeadStatus::ALL
            .iter()
            .position(|s| *s == status)
            .unwrap_or_default()
    }

    /// Members in `status`.
    pub fn of(&self, status: CampaignLeadStatus) -> i64 {
        self.by_status[Self::slot(status)]
    }

    pub fn set(&mut self, status: CampaignLeadStatus, n: i64) {
        self.by_status[Self::slot(status)] = n;
    }
}

#[derive(Clone, Debug)]
pub struct CampaignRow {
    pub key: i64,
    pub name: String,
    pub status: CampaignStatus,
    pub sequence: Value,
    pub schedule: Value,
    pub settings: Value,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub lead_counts: LeadCounts,
}

/// What a caller may set on a campaign; `None` leaves a field alone.
#[derive(Clone, Debug, Default)]
pub struct CampaignFields {
    pub name: Option<String>,
    pub sequence: Option<Value>,
    pub schedule: Option<Value>,
    pub settings: Option<Value>,
}

#[derive(Clone, Debug)]
pub struct CampaignLeadRow {
    pub key: i64,
    pub campaign: ObjectId,
    pub lead: ObjectId,
    pub status: CampaignLeadStatus,
    pub added_at: i64,
    pub updated_at: i64,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    pub ai_tag: Option<String>,
}

/// What `PATCH /v1/campaigns/{id}/leads/{campaignLeadId}` changes; `None`
/// leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberChange {
    /// `active` or `paused`.
    pub status: Option<CampaignLeadStatus>,
    /// `Some(None)` clears the tag.
    pub ai_tag: Option<Option<String>>,
}

/// One campaign a lead is in: the membership and its campaign's name and
/// state.
#[derive(Clone, Debug)]
pub struct LeadCampaignRow {
    pub key: i64,
    pub campaign: ObjectId,
    pub campaign_name: String,
    pub campaign_status: CampaignStatus,
    pub status: CampaignLeadStatus,
    pub added_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DncKind {
    Email,
    Domain,
}

impl DncKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DncKind::Email => "email",
            DncKind::Domain => "domain",
        }
    }
}

#[derive(Clone, Debug)]
pub struct DncRow {
    pub key: i64,
    pub kind: String,
    pub value: String,
    pub created_at: i64,
}

impl DncRow {
    pub fn id(&self) -> ObjectId {
        ObjectId::new(self.key, self.created_at)
    }
}

impl CampaignRow {
    pub fn id(&self) -> ObjectId {
        ObjectId::new(self.key, self.created_at)
    }
}

/// A page request: newest first, after `cursor` when given.
#[derive(Clone, Copy, Debug)]
pub struct PageRequest {
    pub limit: usize,
    pub cursor: Option<ObjectId>,
}

#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub has_more: bool,
}

/// One valid entry of an explicit add-leads request.
#[derive(Clone, Debug)]
pub enum AddEntry {
    Existing(ObjectId),
    ByEmail {
        email: Email,
        fields: Box<LeadFields>,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExplicitOutcome {
    pub added: u64,
    pub created: u64,
    pub blocked: u64,
    /// Leads new to the campaign, not blocked, skipped for a membership in
    /// another campaign.
    pub in_other: u64,
    /// With `explain`: example leads of each reason.
    pub examples: Option<Examples>,
    /// Positions (in the entries given) of `Existing` entries that name no
    /// lead of the workspace.
    pub not_found: Vec<usize>,
}

/// Filter or select-all: which leads, less which exclusions.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// `None` selects every lead of the workspace.
    pub filter: Option<LeadFilter>,
    pub exclude: Vec<ObjectId>,
    /// Only the leads with `lo < key <= hi`: a job's chunk.
    pub keys: Option<(i64, i64)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SelectionOutcome {
    pub matched: u64,
    pub added: u64,
    pub blocked: u64,
    /// Leads new to the campaign, not blocked, skipped for a membership in
    /// another campaign.
    pub in_other: u64,
    /// With `explain`: example leads of each reason.
    pub examples: Option<Examples>,
}

/// What an add request may ask besides its leads: a rule (`None` takes the
/// campaign's setting) and an explained dry run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddOptions {
    /// `skipIfInOtherCampaign`; the campaign's
    /// `settings.skipIfInOtherCampaign` when `None` (itself `false` when
    /// absent).
    pub skip_if_in_other_campaign: Option<bool>,
    /// `explain` (with a dry run): name example leads of each reason.
    pub explain: bool,
}

/// Most example leads an explained dry run names per reason.
pub const MAX_EXAMPLES: usize = 100;

/// Example leads of each reason a dry run with `explain` skips them for,
/// at most [`MAX_EXAMPLES`] each, in key order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Examples {
    pub already_in_campaign: Vec<ObjectId>,
    pub blocked: Vec<ObjectId>,
    /// Each lead with one other campaign it is pending, active or paused
    /// in.
    pub in_other_campaign: Vec<(ObjectId, ObjectId)>,
}

/// Which of a campaign's members a move takes.
#[derive(Clone, Debug)]
pub enum MoveLeads {
    /// By lead ID.
    Ids(Vec<ObjectId>),
    /// Every member whose lead matches, less the excluded leads.
    All(Box<Selection>),
}

/// `POST /v1/campaigns/{id}/leads/move`.
#[derive(Clone, Debug)]
pub struct Move {
    pub to: ObjectId,
    pub leads: MoveLeads,
    /// Copy: the memberships stay in the source too.
    pub copy: bool,
    /// Keep each membership's status; otherwise it starts over as a new
    /// member of the target (`pending`, or `active` in an active campaign).
    pub keep_status: bool,
    pub explain: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MoveOutcome {
    /// Members of the source the move selected.
    pub matched: u64,
    /// Moved (or copied) into the target.
    pub moved: u64,
    /// Not members of the target, kept out by its do-not-contact list.
    pub blocked: u64,
    pub examples: Option<Examples>,
}

/// What `POST /campaigns/{id}/leads/action` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeadAction {
    /// Active or pending memberships become paused.
    Pause,
    /// Paused memberships become active (pending while the campaign is not
    /// active).
    Resume,
    Remove,
}

impl LeadAction {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pause" => Some(Self::Pause),
            "resume" => Some(Self::Resume),
            "remove" => Some(Self::Remove),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Remove => "remove",
        }
    }
}

/// Which memberships an action applies to; IDs are campaign-lead `_id`s.
#[derive(Clone, Debug)]
pub enum MemberSelection {
    Ids(Vec<ObjectId>),
    /// Every member whose lead `filter` matches and whose membership has
    /// `status` (when given), less `exclude`.
    All {
        filter: Option<LeadFilter>,
        status: Option<CampaignLeadStatus>,
        exclude: Vec<ObjectId>,
    },
}

#[derive(Clone, Debug, Default)]
pub struct BulkOutcome {
    pub imported: Vec<ObjectId>,
    pub updated: u64,
    pub skipped: u64,
}

/// A CSV import's result: the bulk upsert's, and the campaign add's when a
/// campaign was given.
#[derive(Clone, Debug, Default)]
pub struct ImportOutcome {
    pub bulk: BulkOutcome,
    pub campaign: Option<ExplicitOutcome>,
}

/// Add-leads entries naming each lead by email with no fields: the leads
/// of an import, which exist by the time they are added.
pub fn email_entries(input: &[(Email, LeadFields)]) -> Vec<AddEntry> {
    input
        .iter()
        .map(|(email, _)| AddEntry::ByEmail {
            email: email.clone(),
            fields: Box::default(),
        })
        .collect()
}

/// An answer kept for an Idempotency-Key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// Where an Idempotency-Key stands when a request arrives with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyState {
    /// New: this request runs, and its answer is to be kept.
    Started,
    /// Another request with this key is running.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
    /// The key's answer, to replay.
    Done(StoredResponse),
    /// The key's request committed, but its answer was lost (the process
    /// died before keeping it): it must not run again.
    Lost,
}

/// A stored key: fingerprint, status, content type, body.
pub type IdempotencyRow = (String, Option<u16>, Option<String>, Option<Vec<u8>>);

impl IdempotencyState {
    /// What a stored key says about a request with `fingerprint`.
    pub fn from_row(row: Option<IdempotencyRow>, fingerprint: &str) -> Self {
        match row {
            // Released between the claim and the read: wait and claim again.
            None => Self::InProgress,
            Some((fp, ..)) if fp != fingerprint => Self::Mismatch,
            Some((_, None, ..)) => Self::InProgress,
            Some((_, Some(status), content_type, body)) => Self::Done(StoredResponse {
                status,
                content_type: content_type.unwrap_or_default(),
                body: body.unwrap_or_default(),
            }),
        }
    }
}

/// One Idempotency-Key of one credential.
#[derive(Clone, Debug)]
pub struct IdempotencyKey {
    /// SHA-256 of the API key.
    pub credential: Vec<u8>,
    pub key: String,
    /// SHA-256 (hex) of method, path, query and body.
    pub fingerprint: String,
}

/// How the connection pool is used right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStatus {
    pub in_use: u64,
    pub idle: u64,
    pub max: u64,
}

/// Creates the first user and workspace of an empty database. Returns their
/// keys, to be shown once, or `None` when the database already has users.
pub async fn bootstrap(store: &Store) -> Result<Option<Bootstrap>> {
    if store.has_users().await? {
        return Ok(None);
    }
    let email = Email::parse("owner@leadflow.local").expect("a valid address");
    let (user, user_key) = match store.create_user(&email).await {
        Ok(created) => created,
        // Another server on the same database bootstrapped it first.
        Err(StoreError::Conflict(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let (workspace, workspace_key) = store
        .create_workspace("Default workspace", Some(user.key))
        .await?;
    Ok(Some(Bootstrap {
        user,
        user_key,
        workspace,
        workspace_key,
    }))
}

pub struct Bootstrap {
    pub user: UserRow,
    pub user_key: ApiKey,
    pub workspace: WorkspaceRow,
    pub workspace_key: ApiKey,
}

impl LeadRow {
    /// A lead not yet stored, made from the fields a caller gave.
    pub fn new(email: &Email, fields: &LeadFields, now: i64) -> Self {
        let mut row = LeadRow {
            key: 0,
            email: email.to_string(),
            contact: Contact::default(),
            tags: Vec::new(),
            custom_fields: Map::new(),
            email_verification_result: None,
            created_at: now,
            updated_at: now,
        };
        row.apply(fields);
        row
    }

    /// Applies an update: given fields replace the stored ones, custom
    /// fields merge key by key. The email never changes.
    pub fn apply(&mut self, f: &LeadFields) {
        self.contact.apply(&f.contact);
        if let Some(tags) = &f.tags {
            self.tags = tags.clone();
        }
        if let Some(cf) = &f.custom_fields {
            for (k, v) in cf {
                self.custom_fields.insert(k.clone(), v.clone());
            }
        }
        if let Some(evr) = &f.email_verification_result {
            self.email_verification_result = evr.clone();
        }
    }

    /// What a lead may hold once an update is merged into it (each request
    /// is checked alone; merging can pass the limits).
    pub fn check_limits(&self) -> Result<()> {
        use crate::domain::lead::{FieldError, MAX_CUSTOM_FIELDS, MAX_TAGS};
        let over = |field: &str, n: usize, max: usize, what: &str| {
            StoreError::Invalid(FieldError::new(
                field,
                format!(
                    "would leave {} with {n} {what}; a lead holds at most {max}",
                    self.email
                ),
            ))
        };
        if self.tags.len() > MAX_TAGS {
            return Err(over("tags", self.tags.len(), MAX_TAGS, "tags"));
        }
        if self.custom_fields.len() > MAX_CUSTOM_FIELDS {
            return Err(over(
                "customFields",
                self.custom_fields.len(),
                MAX_CUSTOM_FIELDS,
                "custom fields",
            ));
        }
        Ok(())
    }

    /// Adds a tag unless the lead has it already.
    pub fn add_tag(&mut self, tag: Option<&str>) {
        if let Some(tag) = tag
            && !self.tags.iter().any(|t| t == tag)
        {
            self.tags.push(tag.to_owned());
        }
    }

    pub fn email_key(&self) -> String {
        self.email.to_lowercase()
    }

    pub fn id(&self) -> ObjectId {
        ObjectId::new(self.key, self.created_at)
    }
}
