//! The embedded engine: SQLite in WAL mode through rusqlite.
//!
//! Writes go through one connection owned by a writer thread, so they never
//! contend for SQLite's lock. The thread commits in groups: it takes every
//! write waiting for it, runs each in its own savepoint (a failing or dry-run
//! request rolls back alone), commits once, and only then answers them. Each
//! request is still all or nothing, and none is answered before its commit.
//! Reads use a small pool and see the last commit.

mod campaigns;
mod idempotency;
mod leads;
mod sql;
mod workspaces;

use async_trait::async_trait;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::*;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("migrations/0001_init.sql")),
    (
        2,
        "idempotency",
        include_str!("migrations/0002_idempotency.sql"),
    ),
];

const PRAGMAS: &str = "pragma journal_mode = wal; pragma synchronous = normal; \
    pragma busy_timeout = 10000; pragma foreign_keys = off; pragma cache_size = -32768; \
    pragma temp_store = memory;";

pub struct SqliteStore {
    writer: std::sync::mpsc::Sender<Job>,
    readers: r2d2::Pool<SqliteConnectionManager>,
}

/// What the writer thread does for one request: run it inside the open
/// transaction, then, once the group's commit is known, answer it.
type Job = Box<dyn FnOnce(&Connection) -> Answer + Send>;
type Answer = Box<dyn FnOnce(std::result::Result<(), String>) + Send>;

/// Most requests committed together.
const GROUP: usize = 128;

fn writer_loop(conn: Connection, jobs: std::sync::mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        // Without an outer transaction (BEGIN failed: another process holds
        // the lock past the busy timeout) each savepoint is its own
        // transaction, which is still correct, only slower.
        let grouped = conn.execute_batch("begin immediate").is_ok();
        let answers: Vec<Answer> = group.into_iter().map(|job| job(&conn)).collect();
        let committed = if grouped {
            conn.execute_batch("commit").map_err(|e| {
                let _ = conn.execute_batch("rollback");
                e.to_string()
            })
        } else {
            Ok(())
        };
        for answer in answers {
            answer(committed.clone());
        }
    }
}

/// Runs `f` in a savepoint; keeps its writes when `keep` and it succeeded.
fn in_savepoint<T>(
    conn: &Connection,
    keep: bool,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    conn.execute_batch("savepoint request")?;
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)))
        .unwrap_or_else(|_| Err(StoreError::Internal(anyhow::anyhow!("a write panicked"))));
    match out {
        Ok(v) if keep => {
            conn.execute_batch("release request")?;
            Ok(v)
        }
        out => {
            conn.execute_batch("rollback to request; release request")?;
            out
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::DatabaseBusy
                ) =>
            {
                StoreError::Unavailable(e.into())
            }
            e => StoreError::Internal(e.into()),
        }
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        StoreError::Unavailable(e.into())
    }
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and migrates it.
    pub async fn open(path: &str) -> anyhow::Result<Self> {
        let path = path.split('?').next().unwrap_or_default().to_owned();
        anyhow::ensure!(!path.is_empty(), "the SQLite URL names no file");
        tokio::task::spawn_blocking(move || {
            let mut conn = Connection::open(&path)?;
            conn.execute_batch(PRAGMAS)?;
            migrate(&mut conn)?;
            let manager = SqliteConnectionManager::file(&path)
                .with_init(|c| c.execute_batch("pragma busy_timeout = 10000; pragma query_only = 1; pragma cache_size = -4096;"));
            let readers = r2d2::Pool::builder().max_size(16).min_idle(Some(2)).build(manager)?;
            let (writer, jobs) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("sqlite-writer".into())
                .spawn(move || writer_loop(conn, jobs))?;
            Ok(Self { writer, readers })
        })
        .await?
    }

    /// Runs `f` on the writer thread in its own savepoint; its writes are
    /// kept unless `keep` is false (a dry run). Answers after the commit.
    async fn write<T, F>(&self, keep: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn: &Connection| {
            let out = in_savepoint(conn, keep, f);
            Box::new(move |committed: std::result::Result<(), String>| {
                let out = match (out, committed) {
                    (Ok(_), Err(e)) => {
                        Err(StoreError::Internal(anyhow::anyhow!("commit failed: {e}")))
                    }
                    (out, _) => out,
                };
                let _ = tx.send(out);
            })
        });
        self.writer.send(job).map_err(|_| {
            StoreError::Unavailable(anyhow::anyhow!("the SQLite writer has stopped"))
        })?;
        rx.await.map_err(|_| {
            StoreError::Internal(anyhow::anyhow!("the SQLite writer dropped a request"))
        })?
    }

    /// Runs a single-statement read on a pooled connection.
    async fn read_one<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || f(&*pool.get()?))
            .await
            .map_err(|e| StoreError::Internal(e.into()))?
    }

    /// Runs `f` in a read transaction: one consistent snapshot.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            let tx = conn.transaction()?;
            f(&tx)
        })
        .await
        .map_err(|e| StoreError::Internal(e.into()))?
    }
}

fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    conn.execute_batch(
        "create table if not exists schema_migrations (
            version integer primary key, name text not null, applied_at integer not null)",
    )?;
    for (version, name, sql) in MIGRATIONS {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done: Option<i64> = tx
            .query_row(
                "select version from schema_migrations where version = ?1",
                [version],
                |r| r.get(0),
            )
            .optional()?;
        if done.is_none() {
            tx.execute_batch(sql)?;
            tx.execute(
                "insert into schema_migrations (version, name, applied_at) values (?1, ?2, ?3)",
                rusqlite::params![version, name, crate::domain::now_ms()],
            )?;
            tracing::info!(version, name, "applied migration");
        }
        tx.commit()?;
    }
    Ok(())
}

/// The storage key of the row of `table` that `id` names in workspace `ws`.
fn find_key(conn: &Connection, table: &str, ws: WorkspaceRef, id: ObjectId) -> Result<Option<i64>> {
    let created: Option<i64> = conn
        .query_row(
            &format!("select created_at from {table} where id = ?1 and workspace_id = ?2"),
            [id.key, ws.key],
            |r| r.get(0),
        )
        .optional()?;
    Ok(created.filter(|c| id.matches(id.key, *c)).map(|_| id.key))
}

/// Runs a count query and a page query built on the same conditions.
fn page<T>(
    conn: &Connection,
    mut sql: Sql,
    select: &str,
    count_from: &str,
    order_key: &str,
    page: PageRequest,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Page<T>> {
    let total: i64 = conn.query_row(
        &format!("select count(*) from {count_from} where {}", sql.text),
        sql.params(),
        |r| r.get(0),
    )?;
    if let Some(cursor) = page.cursor {
        let p = sql.param(cursor.key);
        sql.push(&format!(" and {order_key} < {p}"));
    }
    let limit = sql.param(page.limit as i64 + 1);
    let text = format!(
        "{select} where {} order by {order_key} desc limit {limit}",
        sql.text
    );
    let mut stmt = conn.prepare(&text)?;
    let mut items = stmt
        .query_map(sql.params(), map)?
        .collect::<rusqlite::Result<Vec<T>>>()?;
    let has_more = items.len() > page.limit;
    items.truncate(page.limit);
    Ok(Page {
        items,
        total,
        has_more,
    })
}

use sql::Sql;
pub use sql::like_pattern;

#[async_trait]
impl Storage for SqliteStore {
    fn pool_status(&self) -> PoolStatus {
        let state = self.readers.state();
        PoolStatus {
            in_use: u64::from(state.connections - state.idle_connections),
            idle: u64::from(state.idle_connections),
            max: u64::from(self.readers.max_size()),
        }
    }

    async fn ping(&self) -> Result<()> {
        self.read_one(|c| {
            Ok(c.query_row("select 1", [], |r| r.get::<_, i64>(0))
                .map(|_| ())?)
        })
        .await
    }

    async fn has_users(&self) -> Result<bool> {
        self.read(|c| Ok(c.query_row("select exists (select 1 from users)", [], |r| r.get(0))?))
            .await
    }

    async fn create_user(&self, email: &Email) -> Result<(UserRow, ApiKey)> {
        let email = email.clone();
        self.write(true, move |tx| workspaces::create_user(tx, &email))
            .await
    }

    async fn find_user(&self, email: &Email) -> Result<Option<UserRow>> {
        let key = email.key();
        self.read(move |c| workspaces::find_user(c, &key)).await
    }

    async fn create_workspace(
        &self,
        name: &str,
        owner: Option<i64>,
    ) -> Result<(WorkspaceRow, ApiKey)> {
        let name = name.to_owned();
        self.write(true, move |tx| {
            workspaces::create_workspace(tx, &name, owner)
        })
        .await
    }

    async fn authenticate(&self, key: &ApiKey) -> Result<Option<Principal>> {
        let hash = key.hash();
        self.read_one(move |c| workspaces::authenticate(c, &hash))
            .await
    }

    async fn member_workspace(&self, user_key: i64, id: ObjectId) -> Result<Option<WorkspaceRef>> {
        self.read_one(move |c| workspaces::member_workspace(c, user_key, id))
            .await
    }

    async fn get_user(&self, user_key: i64) -> Result<UserRow> {
        self.read_one(move |c| workspaces::get_user(c, user_key))
            .await
    }

    async fn user_workspaces(&self, user_key: i64) -> Result<Vec<(WorkspaceRow, Role)>> {
        self.read_one(move |c| workspaces::user_workspaces(c, user_key))
            .await
    }

    async fn workspace_access(&self, user_key: i64, id: ObjectId) -> Result<Access> {
        self.read_one(move |c| workspaces::workspace_access(c, user_key, id))
            .await
    }

    async fn add_workspace(&self, name: &str, owner: i64) -> Result<WorkspaceRow> {
        let name = name.to_owned();
        self.write(true, move |c| {
            workspaces::insert_workspace(c, &name, Some(owner))
        })
        .await
    }

    async fn rename_workspace(&self, ws: WorkspaceRef, name: &str) -> Result<WorkspaceRow> {
        let name = name.to_owned();
        self.write(true, move |c| workspaces::rename_workspace(c, ws, &name))
            .await
    }

    async fn delete_workspace(&self, ws: WorkspaceRef) -> Result<()> {
        self.write(true, move |c| workspaces::delete_workspace(c, ws))
            .await
    }

    async fn set_member(&self, ws: WorkspaceRef, user_key: i64, role: Role) -> Result<()> {
        self.write(true, move |c| workspaces::set_member(c, ws, user_key, role))
            .await
    }

    async fn remove_member(&self, ws: WorkspaceRef, user_key: i64) -> Result<()> {
        self.write(true, move |c| workspaces::remove_member(c, ws, user_key))
            .await
    }

    async fn create_workspace_key(&self, ws: WorkspaceRef) -> Result<ApiKey> {
        self.write(true, move |c| workspaces::create_workspace_key(c, ws))
            .await
    }

    async fn revoke_workspace_key(&self, ws: WorkspaceRef) -> Result<()> {
        self.write(true, move |c| workspaces::revoke_workspace_key(c, ws))
            .await
    }

    async fn rotate_workspace_key(&self, ws: WorkspaceRef) -> Result<ApiKey> {
        self.write(true, move |c| workspaces::rotate_workspace_key(c, ws))
            .await
    }

    async fn create_lead(
        &self,
        ws: WorkspaceRef,
        email: &Email,
        fields: &LeadFields,
    ) -> Result<LeadRow> {
        let (email, fields) = (email.clone(), fields.clone());
        self.write(true, move |tx| leads::create(tx, ws, &email, &fields))
            .await
    }

    async fn list_leads(
        &self,
        ws: WorkspaceRef,
        filter: &LeadFilter,
        page: PageRequest,
    ) -> Result<Page<LeadRow>> {
        let filter = filter.clone();
        self.read(move |c| leads::list(c, ws, &filter, page)).await
    }

    async fn get_lead(&self, ws: WorkspaceRef, id: ObjectId) -> Result<LeadRow> {
        self.read(move |c| leads::get(c, ws, id)).await
    }

    async fn update_lead(
        &self,
        ws: WorkspaceRef,
        id: ObjectId,
        fields: &LeadFields,
    ) -> Result<LeadRow> {
        let fields = fields.clone();
        self.write(true, move |tx| leads::update(tx, ws, id, &fields))
            .await
    }

    async fn delete_lead(&self, ws: WorkspaceRef, id: ObjectId) -> Result<()> {
        self.write(true, move |tx| leads::delete(tx, ws, id)).await
    }

    async fn delete_leads(&self, ws: WorkspaceRef, selection: Selection) -> Result<u64> {
        self.write(true, move |c| leads::delete_many(c, ws, &selection))
            .await
    }

    async fn bulk_upsert(
        &self,
        ws: WorkspaceRef,
        input: Vec<(Email, LeadFields)>,
        skip_duplicates: bool,
        tag: Option<String>,
    ) -> Result<BulkOutcome> {
        self.write(true, move |tx| {
            leads::bulk_upsert(tx, ws, input, skip_duplicates, tag.as_deref())
        })
        .await
    }

    async fn import_leads(
        &self,
        ws: WorkspaceRef,
        input: Vec<(Email, LeadFields)>,
        skip_duplicates: bool,
        tag: Option<String>,
        campaign: Option<ObjectId>,
    ) -> Result<ImportOutcome> {
        self.write(true, move |tx| {
            if let Some(id) = campaign {
                // A missing or archived campaign fails before any work.
                campaigns::open_campaign(tx, ws, id)?;
            }
            let entries = campaign.map(|_| email_entries(&input));
            let bulk = leads::bulk_upsert(tx, ws, input, skip_duplicates, tag.as_deref())?;
            let campaign = match (campaign, entries) {
                (Some(id), Some(entries)) => Some(campaigns::add_explicit(tx, ws, id, entries)?),
                _ => None,
            };
            Ok(ImportOutcome { bulk, campaign })
        })
        .await
    }

    async fn create_campaign(
        &self,
        ws: WorkspaceRef,
        fields: CampaignFields,
    ) -> Result<CampaignRow> {
        self.write(true, move |tx| campaigns::create(tx, ws, fields))
            .await
    }

    async fn list_campaigns(
        &self,
        ws: WorkspaceRef,
        statuses: &[CampaignStatus],
        search: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<CampaignRow>> {
        let (statuses, search) = (statuses.to_vec(), search.map(str::to_owned));
        self.read(move |c| campaigns::list(c, ws, &statuses, search.as_deref(), page))
            .await
    }

    async fn get_campaign(&self, ws: WorkspaceRef, id: ObjectId) -> Result<CampaignRow> {
        self.read(move |c| campaigns::get(c, ws, id)).await
    }

    async fn update_campaign(
        &self,
        ws: WorkspaceRef,
        id: ObjectId,
        fields: CampaignFields,
    ) -> Result<CampaignRow> {
        self.write(true, move |tx| campaigns::update(tx, ws, id, fields))
            .await
    }

    async fn delete_campaign(&self, ws: WorkspaceRef, id: ObjectId) -> Result<()> {
        self.write(true, move |tx| campaigns::delete(tx, ws, id))
            .await
    }

    async fn transition_campaign(
        &self,
        ws: WorkspaceRef,
        id: ObjectId,
        t: Transition,
    ) -> Result<CampaignRow> {
        self.write(true, move |tx| campaigns::transition(tx, ws, id, t))
            .await
    }

    async fn list_campaign_leads(
        &self,
        ws: WorkspaceRef,
        campaign: ObjectId,
        status: Option<CampaignLeadStatus>,
        page: PageRequest,
    ) -> Result<Page<CampaignLeadRow>> {
        self.read(move |c| campaigns::list_leads(c, ws, campaign, status, page))
            .await
    }

    async fn add_leads_explicit(
        &self,
        ws: WorkspaceRef,
        campaign: ObjectId,
        entries: Vec<AddEntry>,
        dry_run: bool,
    ) -> Result<ExplicitOutcome> {
        self.write(!dry_run, move |tx| {
            campaigns::add_explicit(tx, ws, campaign, entries)
        })
        .await
    }

    async fn add_leads_selection(
        &self,
        ws: WorkspaceRef,
        campaign: ObjectId,
        selection: Selection,
        dry_run: bool,
    ) -> Result<SelectionOutcome> {
        self.write(!dry_run, move |tx| {
            campaigns::add_selection(tx, ws, campaign, &selection)
        })
        .await
    }

    async fn set_campaign_lead_status(
        &self,
        ws: WorkspaceRef,
        campaign: ObjectId,
        id: ObjectId,
        status: CampaignLeadStatus,
    ) -> Result<CampaignLeadRow> {
        self.write(true, move |c| {
            campaigns::set_lead_status(c, ws, campaign, id, status)
        })
        .await
    }

    async fn campaign_lead_action(
        &self,
        ws: WorkspaceRef,
        campaign: ObjectId,
        action: LeadAction,
        selection: MemberSelection,
    ) -> Result<u64> {
        self.write(true, move |c| {
            campaigns::lead_action(c, ws, campaign, action, &selection)
        })
        .await
    }

    async fn idempotency_begin(
        &self,
        key: &IdempotencyKey,
        now: i64,
        expired_before: i64,
        stale_before: i64,
    ) -> Result<IdempotencyState> {
        let key = key.clone();
        self.write(true, move |c| {
            idempotency::begin(c, &key, now, expired_before, stale_before)
        })
        .await
    }

    async fn idempotency_finish(
        &self,
        key: &IdempotencyKey,
        response: StoredResponse,
    ) -> Result<()> {
        let key = key.clone();
        self.write(true, move |c| idempotency::finish(c, &key, &response))
            .await
    }

    async fn idempotency_release(&self, key: &IdempotencyKey) -> Result<()> {
        let key = key.clone();
        self.write(true, move |c| idempotency::release(c, &key))
            .await
    }

    async fn list_dnc(&self, ws: WorkspaceRef, page: PageRequest) -> Result<Page<DncRow>> {
        self.read(move |c| workspaces::list_dnc(c, ws, page)).await
    }

    async fn add_dnc(
        &self,
        ws: WorkspaceRef,
        entries: Vec<(DncKind, String)>,
    ) -> Result<(u64, u64)> {
        self.write(true, move |tx| workspaces::add_dnc(tx, ws, &entries))
            .await
    }

    async fn delete_dnc(&self, ws: WorkspaceRef, ids: Vec<ObjectId>) -> Result<u64> {
        self.write(true, move |tx| workspaces::delete_dnc(tx, ws, &ids))
            .await
    }
}
