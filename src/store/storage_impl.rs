//! [`Storage`]'s methods, written once for both engines: `storage_impl!`
//! generates an engine's whole `impl Storage`, each method running a shared
//! store function through the engine's own `run!`.

/// Implements [`Storage`] for an engine: its own items (`ping`,
/// `pool_status`) and every other method through its `run!` macro.
/// Arguments the engine may need to move to another thread are made owned
/// first. (The whole impl is generated here so that `async_trait` sees
/// every method.)
macro_rules! storage_impl {
    ($store:ty, $run:ident, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl Storage for $store {
        $($own)*

        async fn create_then_overrun(&self, ws: WorkspaceRef, email: &Email) -> Result<()> {
            let email = email.clone();
            $run!(self, write(true), |e| leads::create_then_overrun(e, ws, &email))
        }

        async fn has_users(&self) -> Result<bool> {
            $run!(self, one, |e| workspaces::has_users(e))
        }

        async fn list_users(&self) -> Result<Vec<UserRow>> {
            $run!(self, read, |e| workspaces::list_users(e))
        }

        async fn list_all_workspaces(&self) -> Result<Vec<(WorkspaceRow, Vec<String>)>> {
            $run!(self, read, |e| workspaces::list_all_workspaces(e))
        }

        async fn create_user(&self, email: &Email) -> Result<(UserRow, ApiKey)> {
            let email = email.clone();
            $run!(self, write(true), |e| workspaces::create_user(e, &email))
        }

        async fn find_user(&self, email: &Email) -> Result<Option<UserRow>> {
            let email = email.clone();
            $run!(self, one, |e| workspaces::find_user(e, &email))
        }

        async fn create_workspace(
            &self,
            name: &str,
            owner: Option<i64>,
        ) -> Result<(WorkspaceRow, ApiKey)> {
            let name = name.to_owned();
            $run!(self, write(true), |e| workspaces::create_workspace(e, &name, owner))
        }

        async fn authenticate(&self, key: &ApiKey) -> Result<Option<Principal>> {
            let key = key.clone();
            $run!(self, one, |e| workspaces::authenticate(e, &key))
        }

        async fn create_session(
            &self,
            token_hash: Vec<u8>,
            key_hash: Vec<u8>,
            csrf: String,
            now: i64,
            expires_at: i64,
        ) -> Result<()> {
            $run!(self, write(true, small: true), |e| sessions::create(
                e,
                token_hash,
                key_hash,
                &csrf,
                now,
                expires_at
            ))
        }

        async fn find_session(
            &self,
            token_hash: Vec<u8>,
            now: i64,
        ) -> Result<Option<sessions::SessionRow>> {
            $run!(self, one, |e| sessions::find(e, token_hash, now))
        }

        async fn choose_session_workspace(
            &self,
            token_hash: Vec<u8>,
            ws: WorkspaceRef,
        ) -> Result<()> {
            $run!(self, write(true, small: true), |e| sessions::choose_workspace(e, token_hash, ws))
        }

        async fn end_session(&self, token_hash: Vec<u8>, now: i64) -> Result<()> {
            $run!(self, write(true, small: true), |e| sessions::end(e, token_hash, now))
        }

        async fn workspace_members(&self, ws: WorkspaceRef) -> Result<Vec<(UserRow, Role)>> {
            $run!(self, one, |e| workspaces::members(e, ws))
        }

        async fn member_workspace(
            &self,
            user_key: i64,
            id: ObjectId,
        ) -> Result<Option<WorkspaceRef>> {
            $run!(self, one, |e| workspaces::member_workspace(e, user_key, id))
        }

        async fn get_user(&self, user_key: i64) -> Result<UserRow> {
            $run!(self, one, |e| workspaces::get_user(e, user_key))
        }

        async fn user_workspaces(&self, user_key: i64) -> Result<Vec<(WorkspaceRow, Role)>> {
            $run!(self, one, |e| workspaces::user_workspaces(e, user_key))
        }

        async fn workspace_access(&self, user_key: i64, id: ObjectId) -> Result<Access> {
            $run!(self, one, |e| workspaces::workspace_access(e, user_key, id))
        }

        async fn add_workspace(&self, name: &str, owner: i64) -> Result<WorkspaceRow> {
            let name = name.to_owned();
            $run!(self, write(true), |e| workspaces::insert_workspace(e, &name, Some(owner)))
        }

        async fn rename_workspace(&self, ws: WorkspaceRef, name: &str) -> Result<WorkspaceRow> {
            let name = name.to_owned();
            $run!(self, write(true), |e| workspaces::rename_workspace(e, ws, &name))
        }

        async fn delete_workspace(&self, ws: WorkspaceRef) -> Result<()> {
            $run!(self, write(true), |e| workspaces::delete_workspace(e, ws))
        }

        async fn set_member(&self, ws: WorkspaceRef, user_key: i64, role: Role) -> Result<()> {
            $run!(self, write(true), |e| workspaces::set_member(e, ws, user_key, role))
        }

        async fn remove_member(&self, ws: WorkspaceRef, user_key: i64) -> Result<()> {
            $run!(self, write(true), |e| workspaces::remove_member(e, ws, user_key))
        }

        async fn create_workspace_key(&self, ws: WorkspaceRef) -> Result<ApiKey> {
            $run!(self, write(true), |e| workspaces::create_workspace_key(e, ws))
        }

        async fn revoke_workspace_key(&self, ws: WorkspaceRef) -> Result<()> {
            $run!(self, write(true), |e| workspaces::revoke_workspace_key(e, ws))
        }

        async fn rotate_user_key(&self, user_key: i64) -> Result<ApiKey> {
            $run!(self, write(true), |e| workspaces::rotate_user_key(e, user_key))
        }

        async fn rotate_workspace_key(&self, ws: WorkspaceRef) -> Result<ApiKey> {
            $run!(self, write(true), |e| workspaces::rotate_workspace_key(e, ws))
        }

        async fn create_lead(
            &self,
            ws: WorkspaceRef,
            email: &Email,
            fields: &LeadFields,
        ) -> Result<LeadRow> {
            let (email, fields) = (email.clone(), fields.clone());
            $run!(self, write(true, small: true), |e| leads::create(e, ws, &email, &fields))
        }

        async fn list_leads(
            &self,
            ws: WorkspaceRef,
            filter: &LeadFilter,
            page: PageRequest,
        ) -> Result<Page<LeadRow>> {
            let filter = filter.clone();
            $run!(self, read, |e| leads::list(e, ws, &filter, page))
        }

        async fn get_lead(&self, ws: WorkspaceRef, id: ObjectId) -> Result<LeadRow> {
            $run!(self, one, |e| leads::get(e, ws, id))
        }

        async fn list_lead_campaigns(
            &self,
            ws: WorkspaceRef,
            id: ObjectId,
            page: PageRequest,
        ) -> Result<Page<LeadCampaignRow>> {
            $run!(self, read, |e| leads::campaigns(e, ws, id, page))
        }

        async fn update_lead(
            &self,
            ws: WorkspaceRef,
            id: ObjectId,
            fields: &LeadFields,
        ) -> Result<LeadRow> {
            let fields = fields.clone();
            $run!(self, write(true, small: true), |e| leads::update(e, ws, id, &fields))
        }

        async fn delete_lead(&self, ws: WorkspaceRef, id: ObjectId) -> Result<()> {
            $run!(self, write(true, small: true), |e| leads::delete(e, ws, id))
        }

        async fn delete_leads(&self, ws: WorkspaceRef, selection: Selection) -> Result<u64> {
            $run!(self, write(true), |e| leads::delete_many(e, ws, &selection))
        }

        async fn bulk_upsert(
            &self,
            ws: WorkspaceRef,
            leads: Vec<(Email, LeadFields)>,
            skip_duplicates: bool,
            tag: Option<String>,
        ) -> Result<BulkOutcome> {
            $run!(self, write(true, small: leads.len() <= crate::store::storage_impl::SMALL_WRITE), |e| leads::bulk_upsert(
                e,
                ws,
                leads,
                skip_duplicates,
                tag.as_deref()
            ))
        }

        async fn import_leads(
            &self,
            ws: WorkspaceRef,
            leads: Vec<(Email, LeadFields)>,
            skip_duplicates: bool,
            tag: Option<String>,
            campaign: Option<ObjectId>,
            rules: AddOptions,
        ) -> Result<ImportOutcome> {
            $run!(self, write(true), |e| campaigns::import(
                e,
                ws,
                leads,
                skip_duplicates,
                tag.as_deref(),
                campaign,
                rules
            ))
        }

        async fn create_campaign(
            &self,
            ws: WorkspaceRef,
            fields: CampaignFields,
        ) -> Result<CampaignRow> {
            $run!(self, write(true, small: true), |e| campaigns::create(e, ws, fields))
        }

        async fn list_campaigns(
            &self,
            ws: WorkspaceRef,
            statuses: &[CampaignStatus],
            search: Option<&str>,
            page: PageRequest,
        ) -> Result<Page<CampaignRow>> {
            let (statuses, search) = (statuses.to_vec(), search.map(str::to_owned));
            $run!(self, read, |e| campaigns::list(
                e,
                ws,
                &statuses,
                search.as_deref(),
                page
            ))
        }

        async fn get_campaign(&self, ws: WorkspaceRef, id: ObjectId) -> Result<CampaignRow> {
            $run!(self, read, |e| campaigns::get(e, ws, id))
        }

        async fn update_campaign(
            &self,
            ws: WorkspaceRef,
            id: ObjectId,
            fields: CampaignFields,
        ) -> Result<CampaignRow> {
            $run!(self, write(true, small: true), |e| campaigns::update(e, ws, id, fields))
        }

        async fn delete_campaign(&self, ws: WorkspaceRef, id: ObjectId) -> Result<()> {
            $run!(self, write(true), |e| campaigns::delete(e, ws, id))
        }

        async fn transition_campaign(
            &self,
            ws: WorkspaceRef,
            id: ObjectId,
            t: Transition,
        ) -> Result<CampaignRow> {
            $run!(self, write(true, small: true), |e| campaigns::transition(e, ws, id, t))
        }

        async fn list_campaign_leads(
            &self,
            ws: WorkspaceRef,
            campaign: ObjectId,
            status: Option<CampaignLeadStatus>,
            ai_tag: Option<String>,
            page: PageRequest,
        ) -> Result<Page<CampaignLeadRow>> {
            $run!(self, read, |e| campaigns::list_leads(
                e,
                ws,
                campaign,
                status,
                ai_tag.as_deref(),
                page
            ))
        }

        async fn add_leads_explicit(
            &self,
            ws: WorkspaceRef,
            campaign: ObjectId,
            entries: Vec<AddEntry>,
            rules: AddOptions,
            dry_run: bool,
        ) -> Result<ExplicitOutcome> {
            $run!(self, write(!dry_run, small: entries.len() <= crate::store::storage_impl::SMALL_WRITE), |e| campaigns::add_explicit(
                e, ws, campaign, entries, rules, dry_run
            ))
        }

        async fn add_leads_selection(
            &self,
            ws: WorkspaceRef,
            campaign: ObjectId,
            selection: Selection,
            rules: AddOptions,
            dry_run: bool,
        ) -> Result<SelectionOutcome> {
            if dry_run {
                $run!(self, preview, |e| campaigns::preview_selection(
                    e, ws, campaign, &selection, rules
                ))
            } else {
                $run!(self, write(true), |e| campaigns::add_selection(
                    e, ws, campaign, &selection, rules
                ))
            }
        }

        async fn move_campaign_leads(
            &self,
            ws: WorkspaceRef,
            campaign: ObjectId,
            m: Move,
            dry_run: bool,
        ) -> Result<MoveOutcome> {
            $run!(self, write(!dry_run), |e| campaigns::move_leads(e, ws, campaign, &m, dry_run))
        }

        async fn update_campaign_lead(
            &self,
            ws: WorkspaceRef,
            campaign: ObjectId,
            id: ObjectId,
            change: MemberChange,
        ) -> Result<CampaignLeadRow> {
            $run!(self, write(true, small: true), |e| campaigns::update_member(
                e, ws, campaign, id, change
            ))
        }

        async fn campaign_lead_action(
            &self,
            ws: WorkspaceRef,
            campaign: ObjectId,
            action: LeadAction,
            selection: MemberSelection,
        ) -> Result<u64> {
            $run!(self, write(true), |e| campaigns::lead_action(
                e, ws, campaign, action, &selection
            ))
        }

        async fn idempotency_begin(
            &self,
            key: &IdempotencyKey,
            now: i64,
            expired_before: i64,
            stale_before: i64,
        ) -> Result<IdempotencyState> {
            let key = key.clone();
            $run!(self, write(true, small: true), |e| idempotency::begin(
                e,
                &key,
                now,
                expired_before,
                stale_before
            ))
        }

        async fn idempotency_finish(
            &self,
            key: &IdempotencyKey,
            response: StoredResponse,
        ) -> Result<()> {
            let key = key.clone();
            $run!(self, write(true, small: true), |e| idempotency::finish(e, &key, &response))
        }

        async fn idempotency_release(&self, key: &IdempotencyKey) -> Result<()> {
            let key = key.clone();
            $run!(self, write(true, small: true), |e| idempotency::release(e, &key))
        }

        async fn idempotency_settle(
            &self,
            key: &IdempotencyKey,
            lost: StoredResponse,
        ) -> Result<()> {
            let key = key.clone();
            $run!(self, write(true, small: true), |e| idempotency::settle(e, &key, &lost))
        }

        async fn list_dnc(&self, ws: WorkspaceRef, page: PageRequest) -> Result<Page<DncRow>> {
            $run!(self, read, |e| dnc::list(e, ws, page))
        }

        async fn add_dnc(
            &self,
            ws: WorkspaceRef,
            entries: Vec<(DncKind, String)>,
        ) -> Result<(u64, u64, u64)> {
            // Not small: an entry may stop a domain's leads in every campaign.
            $run!(self, write(true), |e| dnc::add(e, ws, &entries))
        }

        async fn delete_dnc(&self, ws: WorkspaceRef, ids: Vec<ObjectId>) -> Result<u64> {
            $run!(self, write(true), |e| dnc::delete(e, ws, &ids))
        }

        async fn list_events(
            &self,
            ws: WorkspaceRef,
            after: i64,
            types: Vec<EventType>,
            limit: usize,
        ) -> Result<(Vec<events::EventRow>, bool)> {
            $run!(self, one, |e| events::list(e, ws, after, &types, limit))
        }

        async fn number_events(&self, ws: WorkspaceRef) -> Result<u64> {
            if !$run!(self, one, |e| events::unnumbered(e, ws))? {
                return Ok(0);
            }
            $run!(self, write(true, small: true), |e| events::number_all(e, ws))
        }

        async fn unnumbered_events(&self) -> Result<Vec<WorkspaceRef>> {
            $run!(self, one, |e| events::unnumbered_workspaces(e))
        }

        async fn prune_events(&self, before: i64) -> Result<u64> {
            $run!(self, write(true), |e| events::prune(e, before))
        }

        async fn create_webhook(&self, ws: WorkspaceRef, c: WebhookChange) -> Result<WebhookRow> {
            $run!(self, write(true, small: true), |e| webhooks::create(e, ws, c))
        }

        async fn list_webhooks(
            &self,
            ws: WorkspaceRef,
            page: PageRequest,
        ) -> Result<Page<WebhookRow>> {
            $run!(self, read, |e| webhooks::list(e, ws, page))
        }

        async fn get_webhook(&self, ws: WorkspaceRef, id: ObjectId) -> Result<WebhookRow> {
            $run!(self, one, |e| webhooks::get(e, ws, id))
        }

        async fn update_webhook(
            &self,
            ws: WorkspaceRef,
            id: ObjectId,
            c: WebhookChange,
        ) -> Result<WebhookRow> {
            $run!(self, write(true, small: true), |e| webhooks::update(e, ws, id, c))
        }

        async fn delete_webhook(&self, ws: WorkspaceRef, id: ObjectId) -> Result<()> {
            $run!(self, write(true), |e| webhooks::delete(e, ws, id))
        }

        async fn list_webhook_deliveries(
            &self,
            ws: WorkspaceRef,
            id: ObjectId,
            page: PageRequest,
        ) -> Result<Page<DeliveryRow>> {
            $run!(self, read, |e| webhooks::list_deliveries(e, ws, id, page))
        }

        async fn resend_webhook_delivery(
            &self,
            ws: WorkspaceRef,
            id: ObjectId,
            delivery: ObjectId,
        ) -> Result<DeliveryRow> {
            $run!(self, write(true, small: true), |e| webhooks::resend(e, ws, id, delivery))
        }

        async fn record_webhook_test(
            &self,
            ws: WorkspaceRef,
            id: ObjectId,
            attempt: Attempt,
        ) -> Result<DeliveryRow> {
            $run!(self, write(true, small: true), |e| webhooks::record_test(e, ws, id, &attempt))
        }

        async fn webhooks_behind(&self) -> Result<Vec<(WorkspaceRef, i64)>> {
            $run!(self, one, |e| webhooks::behind(e))
        }

        async fn dispatch_webhook(
            &self,
            ws: WorkspaceRef,
            webhook: i64,
            limit: usize,
        ) -> Result<u64> {
            $run!(self, write(true), |e| webhooks::dispatch(e, ws, webhook, limit))
        }

        async fn deliveries_due(&self, now: i64) -> Result<Vec<WorkspaceRef>> {
            $run!(self, one, |e| webhooks::due(e, now))
        }

        async fn claim_deliveries(
            &self,
            ws: WorkspaceRef,
            now: i64,
            lease_until: i64,
            limit: usize,
        ) -> Result<Vec<Claimed>> {
            $run!(self, write(true, small: true), |e| webhooks::claim(e, ws, now, lease_until, limit))
        }

        async fn create_job(
            &self,
            ws: WorkspaceRef,
            kind: &str,
            params: serde_json::Value,
        ) -> Result<JobRow> {
            let kind = kind.to_owned();
            $run!(self, write(true, small: true), |e| jobs::create(e, ws, &kind, params))
        }

        async fn get_job(&self, ws: WorkspaceRef, id: ObjectId) -> Result<JobRow> {
            $run!(self, one, |e| jobs::get(e, ws, id))
        }

        async fn list_jobs(&self, ws: WorkspaceRef, page: PageRequest) -> Result<Page<JobRow>> {
            $run!(self, read, |e| jobs::list(e, ws, page))
        }

        async fn cancel_job(&self, ws: WorkspaceRef, id: ObjectId) -> Result<JobRow> {
            $run!(self, write(true, small: true), |e| jobs::cancel(e, ws, id))
        }

        async fn jobs_waiting(&self, now: i64) -> Result<Vec<WorkspaceRef>> {
            $run!(self, one, |e| jobs::waiting(e, now))
        }

        async fn claim_job(
            &self,
            ws: WorkspaceRef,
            now: i64,
            lease_until: i64,
            per_workspace: usize,
        ) -> Result<Option<JobRow>> {
            $run!(self, write(true), |e| jobs::claim(e, ws, now, lease_until, per_workspace))
        }

        async fn job_step(
            &self,
            ws: WorkspaceRef,
            id: ObjectId,
            chunk: usize,
            lease_until: i64,
        ) -> Result<jobs::Step> {
            $run!(self, write(true), |e| jobs::step(e, ws, id, chunk, lease_until))
        }

        async fn stage_import(
            &self,
            ws: WorkspaceRef,
            id: ObjectId,
            rows: Vec<jobs::StagedRow>,
        ) -> Result<u64> {
            $run!(self, write(true), |e| jobs::stage(e, ws, id.key, &rows))
        }

        async fn queue_import(
            &self,
            ws: WorkspaceRef,
            id: ObjectId,
            parsed: serde_json::Value,
        ) -> Result<JobRow> {
            $run!(self, write(true, small: true), |e| jobs::queue_import(e, ws, id, parsed))
        }

        async fn drop_upload(&self, ws: WorkspaceRef, id: ObjectId) -> Result<()> {
            $run!(self, write(true), |e| jobs::drop_upload(e, ws, id))
        }

        async fn fail_job(&self, ws: WorkspaceRef, id: ObjectId, error: &str) -> Result<()> {
            let error = error.to_owned();
            $run!(self, write(true, small: true), |e| jobs::fail(e, ws, id, &error))
        }

        async fn finish_delivery(
            &self,
            c: Claimed,
            attempt: Attempt,
            next: Next,
            endpoint: EndpointNext,
        ) -> Result<()> {
            $run!(self, write(true, small: true), |e| webhooks::finish(e, &c, &attempt, next, endpoint))
        }
        }
    };
}

pub(crate) use storage_impl;

/// Entries up to which a write is small: it changes a few pages per entry,
/// and its engine may keep its undo journal in memory (SQLite's writer,
/// `journal_in_memory`). Writes marked `small: true` change one row or a
/// handful; the others (selections, imports, deletions of many) may touch
/// every page of an index.
pub const SMALL_WRITE: usize = 100;
