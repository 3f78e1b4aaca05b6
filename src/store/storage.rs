//! The storage interface, and its methods written once for both engines.
//!
//! Each engine implements [`Storage`] by invoking `storage_impl!`
//! (`storage_impl.rs`) with its own `run!` macro, which says how a shared
//! function runs there: `one`
//! (a read of one statement, no transaction), `read` (a consistent read),
//! `write(keep)` (a transaction, committed when `keep`, rolled back
//! otherwise: explicit dry runs), `preview` (a dry run that only reads: on
//! SQLite a read, on PostgreSQL a transaction rolled back, for its locks). The shared functions in `workspaces`, `leads`,
//! `campaigns`, `dnc` and `idempotency` do the work.

use async_trait::async_trait;

use super::*;
use crate::domain::campaign::{CampaignLeadStatus, CampaignStatus, Transition};
use crate::domain::email::Email;
use crate::domain::filter::LeadFilter;
use crate::domain::id::ObjectId;
use crate::domain::key::ApiKey;
use crate::domain::lead::LeadFields;

#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Answers when the database does.
    async fn ping(&self) -> Result<()>;
    /// The connection pool's use (SQLite: the read connections).
    fn pool_status(&self) -> PoolStatus;
    /// How many migrations opening the store applied (0: none was pending).
    fn migrations_applied(&self) -> u64;
    /// Tests only: creates a lead, then overruns the statement time limit.
    #[doc(hidden)]
    async fn create_then_overrun(&self, ws: WorkspaceRef, email: &Email) -> Result<()>;

    // Users, workspaces and keys.
    async fn has_users(&self) -> Result<bool>;
    /// Every user, oldest first (for the administrator).
    async fn list_users(&self) -> Result<Vec<UserRow>>;
    /// Every workspace with its owners' emails, oldest first (for the
    /// administrator).
    async fn list_all_workspaces(&self) -> Result<Vec<(WorkspaceRow, Vec<String>)>>;
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

    // The web console's sessions.
    /// Starts a session for the key whose hash is `key_hash`.
    async fn create_session(
        &self,
        token_hash: Vec<u8>,
        key_hash: Vec<u8>,
        csrf: String,
        now: i64,
        expires_at: i64,
    ) -> Result<()>;
    /// The live session of a token (its key still standing).
    async fn find_session(
        &self,
        token_hash: Vec<u8>,
        now: i64,
    ) -> Result<Option<sessions::SessionRow>>;
    /// The workspace a platform key's session acts in.
    async fn choose_session_workspace(&self, token_hash: Vec<u8>, ws: WorkspaceRef) -> Result<()>;
    /// Ends a session (and every expired one).
    async fn end_session(&self, token_hash: Vec<u8>, now: i64) -> Result<()>;
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
    /// The workspace's members and their roles, owners first.
    async fn workspace_members(&self, ws: WorkspaceRef) -> Result<Vec<(UserRow, Role)>>;
    /// Removes a member; the last owner cannot be removed (409).
    async fn remove_member(&self, ws: WorkspaceRef, user_key: i64) -> Result<()>;
    /// A new workspace key; 409 when the workspace already has one.
    async fn create_workspace_key(&self, ws: WorkspaceRef) -> Result<ApiKey>;
    /// Revokes the workspace's key; 404 when it has none.
    async fn revoke_workspace_key(&self, ws: WorkspaceRef) -> Result<()>;
    /// Revokes the current key (if any) and makes a new one, atomically.
    async fn rotate_workspace_key(&self, ws: WorkspaceRef) -> Result<ApiKey>;
    /// Revokes the user's platform keys and makes a new one.
    async fn rotate_user_key(&self, user_key: i64) -> Result<ApiKey>;

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
    /// The campaigns the lead is in, newest membership first.
    async fn list_lead_campaigns(
        &self,
        ws: WorkspaceRef,
        id: ObjectId,
        page: PageRequest,
    ) -> Result<Page<LeadCampaignRow>>;
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
        rules: AddOptions,
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
        ai_tag: Option<String>,
        page: PageRequest,
    ) -> Result<Page<CampaignLeadRow>>;
    /// Adds the entries in one transaction; with `dry_run` nothing is kept.
    async fn add_leads_explicit(
        &self,
        ws: WorkspaceRef,
        campaign: ObjectId,
        entries: Vec<AddEntry>,
        rules: AddOptions,
        dry_run: bool,
    ) -> Result<ExplicitOutcome>;
    async fn add_leads_selection(
        &self,
        ws: WorkspaceRef,
        campaign: ObjectId,
        selection: Selection,
        rules: AddOptions,
        dry_run: bool,
    ) -> Result<SelectionOutcome>;

    /// Moves (or copies) members of a campaign to another, in one
    /// transaction; with `dry_run` nothing is kept.
    async fn move_campaign_leads(
        &self,
        ws: WorkspaceRef,
        campaign: ObjectId,
        m: Move,
        dry_run: bool,
    ) -> Result<MoveOutcome>;
    /// Changes one membership's status (`active` or `paused`), AI tag, or
    /// both.
    async fn update_campaign_lead(
        &self,
        ws: WorkspaceRef,
        campaign: ObjectId,
        id: ObjectId,
        change: MemberChange,
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
    /// Releases a claimed key whose request failed, so a retry runs again
    /// (unless a write of it committed).
    async fn idempotency_release(&self, key: &IdempotencyKey) -> Result<()>;
    /// After a timed-out request's write can no longer run: keeps `lost`
    /// if it committed, releases the key otherwise.
    async fn idempotency_settle(&self, key: &IdempotencyKey, lost: StoredResponse) -> Result<()>;

    // Do-not-contact list.
    async fn list_dnc(&self, ws: WorkspaceRef, page: PageRequest) -> Result<Page<DncRow>>;
    /// Returns (added, skipped, stopped): stopped counts the memberships
    /// of matching leads that became `unsubscribed`.
    async fn add_dnc(
        &self,
        ws: WorkspaceRef,
        entries: Vec<(DncKind, String)>,
    ) -> Result<(u64, u64, u64)>;
    async fn delete_dnc(&self, ws: WorkspaceRef, ids: Vec<ObjectId>) -> Result<u64>;

    // Events.
    /// The workspace's events numbered after `after`, of `types` (all when
    /// empty), in commit order: at most `limit`, and whether more follow.
    async fn list_events(
        &self,
        ws: WorkspaceRef,
        after: i64,
        types: Vec<EventType>,
        limit: usize,
    ) -> Result<(Vec<events::EventRow>, bool)>;
    /// Numbers the workspace's committed events not numbered yet (a write
    /// only when there are some); returns how many.
    async fn number_events(&self, ws: WorkspaceRef) -> Result<u64>;
    /// Workspaces with events not numbered yet.
    async fn unnumbered_events(&self) -> Result<Vec<WorkspaceRef>>;
    /// Removes every workspace's events recorded before `before` (ms),
    /// and the finished deliveries made before then.
    async fn prune_events(&self, before: i64) -> Result<u64>;

    // Webhooks.
    async fn create_webhook(&self, ws: WorkspaceRef, c: WebhookChange) -> Result<WebhookRow>;
    async fn list_webhooks(&self, ws: WorkspaceRef, page: PageRequest) -> Result<Page<WebhookRow>>;
    async fn get_webhook(&self, ws: WorkspaceRef, id: ObjectId) -> Result<WebhookRow>;
    async fn update_webhook(
        &self,
        ws: WorkspaceRef,
        id: ObjectId,
        c: WebhookChange,
    ) -> Result<WebhookRow>;
    /// Removes the endpoint and its deliveries.
    async fn delete_webhook(&self, ws: WorkspaceRef, id: ObjectId) -> Result<()>;
    async fn list_webhook_deliveries(
        &self,
        ws: WorkspaceRef,
        id: ObjectId,
        page: PageRequest,
    ) -> Result<Page<DeliveryRow>>;
    async fn resend_webhook_delivery(
        &self,
        ws: WorkspaceRef,
        id: ObjectId,
        delivery: ObjectId,
    ) -> Result<DeliveryRow>;
    async fn record_webhook_test(
        &self,
        ws: WorkspaceRef,
        id: ObjectId,
        attempt: Attempt,
    ) -> Result<DeliveryRow>;
    /// Enabled endpoints with events past their cursor.
    async fn webhooks_behind(&self) -> Result<Vec<(WorkspaceRef, i64)>>;
    /// Queues an endpoint's deliveries of up to `limit` new events.
    async fn dispatch_webhook(&self, ws: WorkspaceRef, webhook: i64, limit: usize) -> Result<u64>;
    /// Workspaces with deliveries due at `now`.
    async fn deliveries_due(&self, now: i64) -> Result<Vec<WorkspaceRef>>;
    /// Claims up to `limit` due deliveries of a workspace until `lease_until`.
    async fn claim_deliveries(
        &self,
        ws: WorkspaceRef,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> Result<Vec<Claimed>>;
    // Jobs.
    /// Queues a job (an add's campaign is checked first: 404, 409).
    async fn create_job(
        &self,
        ws: WorkspaceRef,
        kind: &str,
        params: serde_json::Value,
    ) -> Result<JobRow>;
    async fn get_job(&self, ws: WorkspaceRef, id: ObjectId) -> Result<JobRow>;
    async fn list_jobs(&self, ws: WorkspaceRef, page: PageRequest) -> Result<Page<JobRow>>;
    async fn cancel_job(&self, ws: WorkspaceRef, id: ObjectId) -> Result<JobRow>;
    /// Workspaces with jobs waiting for a runner.
    async fn jobs_waiting(&self, now: i64) -> Result<Vec<WorkspaceRef>>;
    /// Claims a workspace's oldest waiting job, within its limit.
    async fn claim_job(
        &self,
        ws: WorkspaceRef,
        now: i64,
        lease_until: i64,
        per_workspace: usize,
    ) -> Result<Option<JobRow>>;
    /// Does a job's next chunk, in one transaction.
    async fn job_step(
        &self,
        ws: WorkspaceRef,
        id: ObjectId,
        chunk: usize,
        lease_until: i64,
    ) -> Result<jobs::Step>;
    async fn fail_job(&self, ws: WorkspaceRef, id: ObjectId, error: &str) -> Result<()>;
    /// Stores a batch of an import's rows while its file is read (an
    /// email seen before in the file is left out); returns how many were
    /// stored.
    async fn stage_import(
        &self,
        ws: WorkspaceRef,
        id: ObjectId,
        rows: Vec<jobs::StagedRow>,
    ) -> Result<u64>;
    /// The import's file has been read: it is queued, `parsed` added to
    /// its params.
    async fn queue_import(
        &self,
        ws: WorkspaceRef,
        id: ObjectId,
        parsed: serde_json::Value,
    ) -> Result<JobRow>;
    /// Removes an import whose file was refused, with its rows.
    async fn drop_upload(&self, ws: WorkspaceRef, id: ObjectId) -> Result<()>;

    /// Records an attempt of a claimed delivery.
    async fn finish_delivery(
        &self,
        c: Claimed,
        attempt: Attempt,
        next: Next,
        endpoint: EndpointNext,
    ) -> Result<()>;
}
