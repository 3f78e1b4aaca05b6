//! PostgreSQL through tokio-postgres, with a bounded deadpool pool.
//!
//! Batches travel as one array or JSON parameter, so each request is a few
//! set-based statements. When the database is unreachable the pool fails
//! fast and requests get 503; new connections are made as soon as it is
//! back.

mod campaigns;
mod idempotency;
mod leads;
mod sql;
mod tls;
mod workspaces;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;

use super::*;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("migrations/0001_init.sql")),
    (
        2,
        "idempotency",
        include_str!("migrations/0002_idempotency.sql"),
    ),
];

/// The advisory lock that serialises migrations between processes.
const MIGRATION_LOCK: i64 = 0x6c65_6164_666c_6f77; // "leadflow"

pub struct PgStore {
    pool: Pool,
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        let io = e.code().is_none()
            && std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        let shutting_down = matches!(e.code(), Some(c) if *c == SqlState::ADMIN_SHUTDOWN || *c == SqlState::CANNOT_CONNECT_NOW);
        if e.is_closed() || io || shutting_down {
            StoreError::Unavailable(e.into())
        } else {
            StoreError::Internal(e.into())
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StoreError::Unavailable(e.into())
    }
}

pub fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

impl PgStore {
    /// Connects, checks the database answers, and migrates it.
    pub async fn open(url: &str, max_connections: usize) -> anyhow::Result<Self> {
        let tls_url = tls::split(url);
        let mut config = tokio_postgres::Config::from_str(&tls_url.url)
            .map_err(|e| anyhow::anyhow!("invalid PostgreSQL URL: {e}"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        let manager = Manager::from_config(
            config,
            tls::connector(&tls_url)?,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let timeout = Some(Duration::from_secs(5));
        let pool = Pool::builder(manager)
            .max_size(max_connections)
            .wait_timeout(timeout)
            .create_timeout(timeout)
            .recycle_timeout(timeout)
            .runtime(Runtime::Tokio1)
            .build()?;
        let store = Self { pool };
        let mut client =
            store.pool.get().await.map_err(|e| {
                anyhow::anyhow!("cannot connect to PostgreSQL: {}", error_chain(&e))
            })?;
        migrate(&mut client).await?;
        Ok(store)
    }
}

/// An error and its causes on one line ("TLS handshake: invalid peer
/// certificate: UnknownIssuer" says more than its first part).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

async fn migrate(client: &mut deadpool_postgres::Object) -> anyhow::Result<()> {
    let tx = client.transaction().await?;
    // Two processes starting at once: the second waits here, then finds the
    // migrations applied.
    tx.execute("select pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "create table if not exists schema_migrations (
            version bigint primary key, name text not null, applied_at bigint not null)",
    )
    .await?;
    for (version, name, sql) in MIGRATIONS {
        let done = tx
            .query_opt(
                "select 1 from schema_migrations where version = $1",
                &[version],
            )
            .await?
            .is_some();
        if !done {
            tx.batch_execute(sql).await?;
            tx.execute(
                "insert into schema_migrations (version, name, applied_at) values ($1, $2, $3)",
                &[version, name, &crate::domain::now_ms()],
            )
            .await?;
            tracing::info!(version, name, "applied migration");
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Runs `$body` in a transaction on a pooled connection named `$tx`; commits
/// when `$keep` is true, rolls back otherwise (dry runs).
macro_rules! in_tx {
    ($store:expr, $keep:expr, |$tx:ident| $body:expr) => {{
        let mut client = $store.pool.get().await?;
        let $tx = client.transaction().await?;
        let out = $body;
        if $keep {
            $tx.commit().await?;
        } else {
            $tx.rollback().await?;
        }
        Ok(out)
    }};
}

#[async_trait]
impl Storage for PgStore {
    fn pool_status(&self) -> PoolStatus {
        let status = self.pool.status();
        PoolStatus {
            in_use: status.size.saturating_sub(status.available) as u64,
            idle: status.available as u64,
            max: status.max_size as u64,
        }
    }

    async fn ping(&self) -> Result<()> {
        let client = self.pool.get().await?;
        client.query_one("select 1", &[]).await?;
        Ok(())
    }

    async fn has_users(&self) -> Result<bool> {
        let client = self.pool.get().await?;
        Ok(client
            .query_one("select exists (select 1 from users)", &[])
            .await?
            .get(0))
    }

    async fn create_user(&self, email: &Email) -> Result<(UserRow, ApiKey)> {
        in_tx!(self, true, |tx| workspaces::create_user(&tx, email).await?)
    }

    async fn find_user(&self, email: &Email) -> Result<Option<UserRow>> {
        let client = self.pool.get().await?;
        workspaces::find_user(&client, &email.key()).await
    }

    async fn create_workspace(
        &self,
        name: &str,
        owner: Option<i64>,
    ) -> Result<(WorkspaceRow, ApiKey)> {
        in_tx!(self, true, |tx| workspaces::create_workspace(
            &tx, name, owner
        )
        .await?)
    }

    async fn authenticate(&self, key: &ApiKey) -> Result<Option<Principal>> {
        let client = self.pool.get().await?;
        workspaces::authenticate(&client, &key.hash()).await
    }

    async fn member_workspace(&self, user_key: i64, id: ObjectId) -> Result<Option<WorkspaceRef>> {
        let client = self.pool.get().await?;
        workspaces::member_workspace(&client, user_key, id).await
    }

    async fn get_user(&self, user_key: i64) -> Result<UserRow> {
        let client = self.pool.get().await?;
        workspaces::get_user(&client, user_key).await
    }

    async fn user_workspaces(&self, user_key: i64) -> Result<Vec<(WorkspaceRow, Role)>> {
        let client = self.pool.get().await?;
        workspaces::user_workspaces(&client, user_key).await
    }

    async fn workspace_access(&self, user_key: i64, id: ObjectId) -> Result<Access> {
        let client = self.pool.get().await?;
        workspaces::workspace_access(&client, user_key, id).await
    }

    async fn add_workspace(&self, name: &str, owner: i64) -> Result<WorkspaceRow> {
        in_tx!(self, true, |tx| workspaces::insert_workspace(
            &tx,
            name,
            Some(owner)
        )
        .await?)
    }

    async fn rename_workspace(&self, ws: WorkspaceRef, name: &str) -> Result<WorkspaceRow> {
        in_tx!(self, true, |tx| workspaces::rename_workspace(&tx, ws, name)
            .await?)
    }

    async fn delete_workspace(&self, ws: WorkspaceRef) -> Result<()> {
        in_tx!(self, true, |tx| workspaces::delete_workspace(&tx, ws)
            .await?)
    }

    async fn set_member(&self, ws: WorkspaceRef, user_key: i64, role: Role) -> Result<()> {
        in_tx!(self, true, |tx| workspaces::set_member(
            &tx, ws, user_key, role
        )
        .await?)
    }

    async fn remove_member(&self, ws: WorkspaceRef, user_key: i64) -> Result<()> {
        in_tx!(self, true, |tx| workspaces::remove_member(
            &tx, ws, user_key
        )
        .await?)
    }

    async fn create_workspace_key(&self, ws: WorkspaceRef) -> Result<ApiKey> {
        in_tx!(self, true, |tx| workspaces::create_workspace_key(&tx, ws)
            .await?)
    }

    async fn revoke_workspace_key(&self, ws: WorkspaceRef) -> Result<()> {
        in_tx!(self, true, |tx| workspaces::revoke_workspace_key(&tx, ws)
            .await?)
    }

    async fn rotate_workspace_key(&self, ws: WorkspaceRef) -> Result<ApiKey> {
        in_tx!(self, true, |tx| workspaces::rotate_workspace_key(&tx, ws)
            .await?)
    }

    async fn create_lead(
        &self,
        ws: WorkspaceRef,
        email: &Email,
        fields: &LeadFields,
    ) -> Result<LeadRow> {
        in_tx!(self, true, |tx| leads::create(&tx, ws, email, fields)
            .await?)
    }

    async fn list_leads(
        &self,
        ws: WorkspaceRef,
        filter: &LeadFilter,
        page: PageRequest,
    ) -> Result<Page<LeadRow>> {
        in_tx!(self, true, |tx| leads::list(&tx, ws, filter, page).await?)
    }

    async fn get_lead(&self, ws: WorkspaceRef, id: ObjectId) -> Result<LeadRow> {
        let client = self.pool.get().await?;
        leads::get(&client, ws, id).await
    }

    async fn update_lead(
        &self,
        ws: WorkspaceRef,
        id: ObjectId,
        fields: &LeadFields,
    ) -> Result<LeadRow> {
        in_tx!(self, true, |tx| leads::update(&tx, ws, id, fields).await?)
    }

    async fn delete_lead(&self, ws: WorkspaceRef, id: ObjectId) -> Result<()> {
        in_tx!(self, true, |tx| leads::delete(&tx, ws, id).await?)
    }

    async fn delete_leads(&self, ws: WorkspaceRef, selection: Selection) -> Result<u64> {
        in_tx!(self, true, |tx| leads::delete_many(&tx, ws, &selection)
            .await?)
    }

    async fn bulk_upsert(
        &self,
        ws: WorkspaceRef,
        input: Vec<(Email, LeadFields)>,
        skip_duplicates: bool,
        tag: Option<String>,
    ) -> Result<BulkOutcome> {
        in_tx!(self, true, |tx| leads::bulk_upsert(
            &tx,
            ws,
            input,
            skip_duplicates,
            tag.as_deref()
        )
        .await?)
    }

    async fn import_leads(
        &self,
        ws: WorkspaceRef,
        input: Vec<(Email, LeadFields)>,
        skip_duplicates: bool,
        tag: Option<String>,
        campaign: Option<ObjectId>,
    ) -> Result<ImportOutcome> {
        in_tx!(self, true, |tx| {
            if let Some(id) = campaign {
                // A missing or archived campaign fails before any work.
                campaigns::open_campaign(&tx, ws, id).await?;
            }
            let entries = campaign.map(|_| email_entries(&input));
            let bulk = leads::bulk_upsert(&tx, ws, input, skip_duplicates, tag.as_deref()).await?;
            let campaign = match (campaign, entries) {
                (Some(id), Some(entries)) => {
                    Some(campaigns::add_explicit(&tx, ws, id, entries).await?)
                }
                _ => None,
            };
            ImportOutcome { bulk, campaign }
        })
    }

    async fn create_campaign(
        &self,
        ws: WorkspaceRef,
        fields: CampaignFields,
    ) -> Result<CampaignRow> {
        in_tx!(self, true, |tx| campaigns::create(&tx, ws, fields).await?)
    }

    async fn list_campaigns(
        &self,
        ws: WorkspaceRef,
        statuses: &[CampaignStatus],
        search: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<CampaignRow>> {
        in_tx!(self, true, |tx| campaigns::list(
            &tx, ws, statuses, search, page
        )
        .await?)
    }

    async fn get_campaign(&self, ws: WorkspaceRef, id: ObjectId) -> Result<CampaignRow> {
        let client = self.pool.get().await?;
        campaigns::get(&client, ws, id).await
    }

    async fn update_campaign(
        &self,
        ws: WorkspaceRef,
        id: ObjectId,
        fields: CampaignFields,
    ) -> Result<CampaignRow> {
        in_tx!(self, true, |tx| campaigns::update(&tx, ws, id, fields)
            .await?)
    }

    async fn delete_campaign(&self, ws: WorkspaceRef, id: ObjectId) -> Result<()> {
        in_tx!(self, true, |tx| campaigns::delete(&tx, ws, id).await?)
    }

    async fn transition_campaign(
        &self,
        ws: WorkspaceRef,
        id: ObjectId,
        t: Transition,
    ) -> Result<CampaignRow> {
        in_tx!(self, true, |tx| campaigns::transition(&tx, ws, id, t)
            .await?)
    }

    async fn list_campaign_leads(
        &self,
        ws: WorkspaceRef,
        campaign: ObjectId,
        status: Option<CampaignLeadStatus>,
        page: PageRequest,
    ) -> Result<Page<CampaignLeadRow>> {
        in_tx!(self, true, |tx| campaigns::list_leads(
            &tx, ws, campaign, status, page
        )
        .await?)
    }

    async fn add_leads_explicit(
        &self,
        ws: WorkspaceRef,
        campaign: ObjectId,
        entries: Vec<AddEntry>,
        dry_run: bool,
    ) -> Result<ExplicitOutcome> {
        in_tx!(self, !dry_run, |tx| campaigns::add_explicit(
            &tx, ws, campaign, entries
        )
        .await?)
    }

    async fn add_leads_selection(
        &self,
        ws: WorkspaceRef,
        campaign: ObjectId,
        selection: Selection,
        dry_run: bool,
    ) -> Result<SelectionOutcome> {
        in_tx!(self, !dry_run, |tx| campaigns::add_selection(
            &tx, ws, campaign, &selection
        )
        .await?)
    }

    async fn set_campaign_lead_status(
        &self,
        ws: WorkspaceRef,
        campaign: ObjectId,
        id: ObjectId,
        status: CampaignLeadStatus,
    ) -> Result<CampaignLeadRow> {
        in_tx!(self, true, |tx| campaigns::set_lead_status(
            &tx, ws, campaign, id, status
        )
        .await?)
    }

    async fn campaign_lead_action(
        &self,
        ws: WorkspaceRef,
        campaign: ObjectId,
        action: LeadAction,
        selection: MemberSelection,
    ) -> Result<u64> {
        in_tx!(self, true, |tx| campaigns::lead_action(
            &tx, ws, campaign, action, &selection
        )
        .await?)
    }

    async fn idempotency_begin(
        &self,
        key: &IdempotencyKey,
        now: i64,
        expired_before: i64,
        stale_before: i64,
    ) -> Result<IdempotencyState> {
        in_tx!(self, true, |tx| idempotency::begin(
            &tx,
            key,
            now,
            expired_before,
            stale_before
        )
        .await?)
    }

    async fn idempotency_finish(
        &self,
        key: &IdempotencyKey,
        response: StoredResponse,
    ) -> Result<()> {
        let client = self.pool.get().await?;
        idempotency::finish(&client, key, &response).await
    }

    async fn idempotency_release(&self, key: &IdempotencyKey) -> Result<()> {
        let client = self.pool.get().await?;
        idempotency::release(&client, key).await
    }

    async fn list_dnc(&self, ws: WorkspaceRef, page: PageRequest) -> Result<Page<DncRow>> {
        in_tx!(self, true, |tx| workspaces::list_dnc(&tx, ws, page).await?)
    }

    async fn add_dnc(
        &self,
        ws: WorkspaceRef,
        entries: Vec<(DncKind, String)>,
    ) -> Result<(u64, u64)> {
        in_tx!(self, true, |tx| workspaces::add_dnc(&tx, ws, &entries)
            .await?)
    }

    async fn delete_dnc(&self, ws: WorkspaceRef, ids: Vec<ObjectId>) -> Result<u64> {
        in_tx!(self, true, |tx| workspaces::delete_dnc(&tx, ws, &ids)
            .await?)
    }
}

/// Runs a count query and a page query built on the same conditions.
async fn page<T>(
    client: &impl deadpool_postgres::GenericClient,
    mut sql: sql::Sql,
    select: &str,
    count_from: &str,
    order_key: &str,
    page: PageRequest,
    map: impl Fn(&tokio_postgres::Row) -> T,
) -> Result<Page<T>> {
    let total: i64 = client
        .query_one(
            &format!("select count(*) from {count_from} where {}", sql.text),
            &sql.params(),
        )
        .await?
        .get(0);
    if let Some(cursor) = page.cursor {
        let p = sql.param(cursor.key);
        sql.push(&format!(" and {order_key} < {p}"));
    }
    let limit = sql.param(page.limit as i64 + 1);
    let text = format!(
        "{select} where {} order by {order_key} desc limit {limit}",
        sql.text
    );
    let rows = client.query(&text, &sql.params()).await?;
    let mut items: Vec<T> = rows.iter().map(map).collect();
    let has_more = items.len() > page.limit;
    items.truncate(page.limit);
    Ok(Page {
        items,
        total,
        has_more,
    })
}

/// The storage key of the row of `table` that `id` names in workspace `ws`.
async fn find_key(
    client: &impl deadpool_postgres::GenericClient,
    table: &str,
    ws: WorkspaceRef,
    id: ObjectId,
) -> Result<Option<i64>> {
    let row = client
        .query_opt(
            &format!("select created_at from {table} where workspace_id = $1 and id = $2"),
            &[&ws.key, &id.key],
        )
        .await?;
    Ok(row
        .map(|r| r.get::<_, i64>(0))
        .filter(|c| id.matches(id.key, *c))
        .map(|_| id.key))
}
