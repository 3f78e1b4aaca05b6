//! Storage: one interface, one implementation per engine.
//!
//! Every workspace-scoped method takes the workspace first, so tenant scoping
//! lives in the signature rather than in each caller's memory.

pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::domain::campaign::{CampaignLeadStatus, CampaignStatus, Transition};
use crate::domain::email::Email;
use crate::domain::filter::LeadFilter;
use crate::domain::id::ObjectId;
use crate::domain::key::ApiKey;
use crate::domain::lead::LeadFields;

pub type Store = Arc<dyn Storage>;

/// Opens the store a database URL names and brings its schema up to date.
/// `max_connections` bounds the PostgreSQL pool.
pub async fn connect(url: &str, max_connections: usize) -> anyhow::Result<Store> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let store = sqlite::SqliteStore::open(path).await?;
        return Ok(Arc::new(store));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = postgres::PgStore::open(url, max_connections.max(1)).await?;
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
    #[error("database unavailable")]
    Unavailable(#[source] anyhow::Error),
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

/// A member's role in a workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Owner,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Role::Owner),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

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
    /// In the order of `domain::lead::TEXT_FIELDS`.
    pub text: [Option<String>; 9],
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
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SelectionOutcome {
    pub matched: u64,
    pub added: u64,
    pub blocked: u64,
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
    All {
        filter: Option<LeadFilter>,
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

#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Answers when the database does.
    async fn ping(&self) -> Result<()>;
    /// The connection pool's use (SQLite: the read connections).
    fn pool_status(&self) -> PoolStatus;

    // Users, workspaces and keys.
    async fn has_users(&self) -> Result<bool>;
    async fn create_user(&self, email: &Email) -> Result<(UserRow, ApiKey)>;
    async fn find_user(&self, email: &Email) -> Result<Option<UserRow>>;
    async fn create_workspace(
        &self,
        name: &str,
        owner: Option<i64>,
    ) -> Result<(WorkspaceRow, ApiKey)>;
    async fn authenticate(&self, key: &ApiKey) -> Result<Option<Principal>>;
    /// The workspace `id` when `user_key` is one of its members.
    async fn member_workspace(&self, user_key: i64, id: ObjectId) -> Result<Option<WorkspaceRef>>;
    async fn get_user(&self, user_key: i64) -> Result<UserRow>;
    /// The user's workspaces with the user's role in each, newest first.
    async fn user_workspaces(&self, user_key: i64) -> Result<Vec<(WorkspaceRow, Role)>>;
    /// What `user_key` may see of workspace `id`.
    async fn workspace_access(&self, user_key: i64, id: ObjectId) -> Result<Access>;
    /// A workspace owned by `owner`, without an API key.
    async fn add_workspace(&self, name: &str, owner: i64) -> Result<WorkspaceRow>;
    async fn rename_workspace(&self, ws: WorkspaceRef, name: &str) -> Result<WorkspaceRow>;
    /// Removes the workspace with all its data, members and keys.
    async fn delete_workspace(&self, ws: WorkspaceRef) -> Result<()>;
    /// Adds the user as a member, or changes its role.
    async fn set_member(&self, ws: WorkspaceRef, user_key: i64, role: Role) -> Result<()>;
    /// Removes a member; the last owner cannot be removed (409).
    async fn remove_member(&self, ws: WorkspaceRef, user_key: i64) -> Result<()>;
    /// A new workspace key; 409 when the workspace already has one.
    async fn create_workspace_key(&self, ws: WorkspaceRef) -> Result<ApiKey>;
    /// Revokes the workspace's key; 404 when it has none.
    async fn revoke_workspace_key(&self, ws: WorkspaceRef) -> Result<()>;
    /// Revokes the current key (if any) and makes a new one, atomically.
    async fn rotate_workspace_key(&self, ws: WorkspaceRef) -> Result<ApiKey>;

    // Leads.
    async fn create_lead(
        &self,
        ws: WorkspaceRef,
        email: &Email,
        fields: &LeadFields,
    ) -> Result<LeadRow>;
    async fn list_leads(
        &self,
        ws: WorkspaceRef,
        filter: &LeadFilter,
        page: PageRequest,
    ) -> Result<Page<LeadRow>>;
    async fn get_lead(&self, ws: WorkspaceRef, id: ObjectId) -> Result<LeadRow>;
    async fn update_lead(
        &self,
        ws: WorkspaceRef,
        id: ObjectId,
        fields: &LeadFields,
    ) -> Result<LeadRow>;
    async fn delete_lead(&self, ws: WorkspaceRef, id: ObjectId) -> Result<()>;
    /// Deletes the selected leads and their campaign memberships; returns
    /// how many leads were deleted.
    async fn delete_leads(&self, ws: WorkspaceRef, selection: Selection) -> Result<u64>;
    /// Creates leads by email; existing ones are skipped or, when
    /// `skip_duplicates` is false, updated with the given fields. Emails are
    /// distinct (the caller keeps the first occurrence).
    async fn bulk_upsert(
        &self,
        ws: WorkspaceRef,
        leads: Vec<(Email, LeadFields)>,
        skip_duplicates: bool,
        tag: Option<String>,
    ) -> Result<BulkOutcome>;
    /// A CSV import: [`Storage::bulk_upsert`] and, with a campaign, adding
    /// every lead of the file to it by the §5 rules, in one transaction.
    async fn import_leads(
        &self,
        ws: WorkspaceRef,
        leads: Vec<(Email, LeadFields)>,
        skip_duplicates: bool,
        tag: Option<String>,
        campaign: Option<ObjectId>,
    ) -> Result<ImportOutcome>;

    // Campaigns.
    async fn create_campaign(
        &self,
        ws: WorkspaceRef,
        fields: CampaignFields,
    ) -> Result<CampaignRow>;
    async fn list_campaigns(
        &self,
        ws: WorkspaceRef,
        statuses: &[CampaignStatus],
        search: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<CampaignRow>>;
    async fn get_campaign(&self, ws: WorkspaceRef, id: ObjectId) -> Result<CampaignRow>;
    async fn update_campaign(
        &self,
        ws: WorkspaceRef,
        id: ObjectId,
        fields: CampaignFields,
    ) -> Result<CampaignRow>;
    async fn delete_campaign(&self, ws: WorkspaceRef, id: ObjectId) -> Result<()>;
    async fn transition_campaign(
        &self,
        ws: WorkspaceRef,
        id: ObjectId,
        t: Transition,
    ) -> Result<CampaignRow>;

    // Campaign leads.
    async fn list_campaign_leads(
        &self,
        ws: WorkspaceRef,
        campaign: ObjectId,
        status: Option<CampaignLeadStatus>,
        page: PageRequest,
    ) -> Result<Page<CampaignLeadRow>>;
    /// Adds the entries in one transaction; with `dry_run` nothing is kept.
    async fn add_leads_explicit(
        &self,
        ws: WorkspaceRef,
        campaign: ObjectId,
        entries: Vec<AddEntry>,
        dry_run: bool,
    ) -> Result<ExplicitOutcome>;
    async fn add_leads_selection(
        &self,
        ws: WorkspaceRef,
        campaign: ObjectId,
        selection: Selection,
        dry_run: bool,
    ) -> Result<SelectionOutcome>;

    /// Sets one membership's status (`active` or `paused`).
    async fn set_campaign_lead_status(
        &self,
        ws: WorkspaceRef,
        campaign: ObjectId,
        id: ObjectId,
        status: CampaignLeadStatus,
    ) -> Result<CampaignLeadRow>;
    /// Pauses, resumes or removes the selected memberships in one
    /// statement; returns how many changed.
    async fn campaign_lead_action(
        &self,
        ws: WorkspaceRef,
        campaign: ObjectId,
        action: LeadAction,
        selection: MemberSelection,
    ) -> Result<u64>;

    // Idempotency keys.
    /// Claims the key for a request, atomically: a key older than
    /// `expired_before`, or still running since before `stale_before` (its
    /// request died), is forgotten first.
    async fn idempotency_begin(
        &self,
        key: &IdempotencyKey,
        now: i64,
        expired_before: i64,
        stale_before: i64,
    ) -> Result<IdempotencyState>;
    /// Keeps the answer of the request that claimed the key.
    async fn idempotency_finish(
        &self,
        key: &IdempotencyKey,
        response: StoredResponse,
    ) -> Result<()>;
    /// Releases a claimed key whose request failed, so a retry runs again.
    async fn idempotency_release(&self, key: &IdempotencyKey) -> Result<()>;

    // Do-not-contact list.
    async fn list_dnc(&self, ws: WorkspaceRef, page: PageRequest) -> Result<Page<DncRow>>;
    /// Returns (added, skipped).
    async fn add_dnc(
        &self,
        ws: WorkspaceRef,
        entries: Vec<(DncKind, String)>,
    ) -> Result<(u64, u64)>;
    async fn delete_dnc(&self, ws: WorkspaceRef, ids: Vec<ObjectId>) -> Result<u64>;
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
            text: Default::default(),
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
        for (slot, given) in self.text.iter_mut().zip(&f.text) {
            if let Some(v) = given {
                *slot = v.clone();
            }
        }
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

    /// The lead as one JSON object, the row format of the engines' batch
    /// statements (`json_each` on SQLite, `jsonb_to_recordset` on
    /// PostgreSQL).
    pub fn batch_json(&self) -> Value {
        serde_json::json!({
            "id": self.key,
            "email": self.email,
            "key": self.email_key(),
            "f": self.text,
            "tags": self.tags,
            "cf": self.custom_fields,
            "evr": self.email_verification_result,
        })
    }
}

/// The engine-neutral half of an explicit add-leads request: what to look
/// up, what to create, and the order of the result.
pub struct ExplicitPlan {
    /// Storage keys of the leads named by ID.
    pub named: Vec<i64>,
    /// One new lead per distinct email (the first occurrence supplies its
    /// fields); the engine creates those whose email is new.
    pub by_email: Vec<LeadRow>,
}

impl ExplicitPlan {
    pub fn new(entries: &[AddEntry], now: i64) -> Self {
        let mut named = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut by_email = Vec::new();
        for e in entries {
            match e {
                AddEntry::Existing(id) => named.push(id.key),
                AddEntry::ByEmail { email, fields } => {
                    if seen.insert(email.key()) {
                        by_email.push(LeadRow::new(email, fields, now));
                    }
                }
            }
        }
        Self { named, by_email }
    }

    pub fn email_keys(&self) -> Vec<String> {
        self.by_email.iter().map(LeadRow::email_key).collect()
    }

    /// The lead keys in request order, the first occurrence of a lead
    /// winning, and the positions of `Existing` entries that name no lead
    /// (`found`: key → creation time of the named leads that exist;
    /// `emails`: email key → key of every lead named by email).
    pub fn order(
        entries: &[AddEntry],
        found: &std::collections::HashMap<i64, i64>,
        emails: &std::collections::HashMap<String, i64>,
    ) -> Result<(Vec<i64>, Vec<usize>)> {
        let mut seen = std::collections::HashSet::new();
        let mut keys = Vec::with_capacity(entries.len());
        let mut not_found = Vec::new();
        for (pos, e) in entries.iter().enumerate() {
            let key = match e {
                AddEntry::Existing(id) => match found.get(&id.key) {
                    Some(created_at) if id.matches(id.key, *created_at) => id.key,
                    _ => {
                        not_found.push(pos);
                        continue;
                    }
                },
                AddEntry::ByEmail { email, .. } => *emails.get(&email.key()).ok_or_else(|| {
                    StoreError::Internal(anyhow::anyhow!("a lead vanished mid-request"))
                })?,
            };
            if seen.insert(key) {
                keys.push(key);
            }
        }
        Ok((keys, not_found))
    }
}
