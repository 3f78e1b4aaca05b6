//! The embedded engine: SQLite in WAL mode through rusqlite.
//!
//! Writes go through one connection owned by a writer thread, so they never
//! contend for SQLite's lock. The thread commits in groups: it takes every
//! write waiting for it, runs each in its own savepoint (a failing or dry-run
//! request rolls back alone), commits once, and only then answers them. Each
//! request is still all or nothing, and none is answered before its commit.
//! Reads use a small pool and see the last commit.
//!
//! The work itself is the shared store's (`store::leads`, …) run through
//! [`Conn`]; what is SQLite's own is here: the writer, binding parameters
//! (lists as JSON for `json_each`), multi-row inserts, and temporary tables
//! for selections.

use std::collections::HashMap;

use futures_util::FutureExt;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, TransactionBehavior};
use serde_json::Value;

use super::exec::{self, Cell, Enrollment, Exec, Migration, Row, Tally, selection_sql, tally};
use super::sql::{Dialect, Param, Sql};
use super::storage_impl::storage_impl;
use super::*;

pub mod search;
mod writer;

pub use writer::WRITE_QUEUE;
use writer::{Job, Queued, in_savepoint, limit_statements, unlimit_statements, writer_loop};

const MIGRATIONS: &[Migration] = &[
    (1, "init", include_str!("migrations/0001_init.sql")),
    (
        2,
        "idempotency",
        include_str!("migrations/0002_idempotency.sql"),
    ),
    (3, "reads", include_str!("migrations/0003_reads.sql")),
    (
        4,
        "search_queue",
        include_str!("migrations/0004_search_queue.sql"),
    ),
    (5, "ai_tag", include_str!("migrations/0005_ai_tag.sql")),
    (
        6,
        "open_memberships",
        include_str!("migrations/0006_open_memberships.sql"),
    ),
    (7, "events", include_str!("migrations/0007_events.sql")),
    (8, "webhooks", include_str!("migrations/0008_webhooks.sql")),
    (9, "jobs", include_str!("migrations/0009_jobs.sql")),
    (
        10,
        "import_rows",
        include_str!("migrations/0010_import_rows.sql"),
    ),
    (
        11,
        "console_sessions",
        include_str!("migrations/0011_console_sessions.sql"),
    ),
];

/// The writer's settings. Temporary storage starts as SQLite's default, a
/// file cached in memory up to a bound; the writer keeps the savepoint
/// journals of groups of small requests in memory (`writer.rs`,
/// `journal_in_memory`, with why a large request's may not be).
const PRAGMAS: &str = r"pragma journal_mode = wal; pragma synchronous = normal;
    pragma busy_timeout = 10000; pragma foreign_keys = off; pragma cache_size = -32768;";

pub struct SqliteStore {
    writer: std::sync::mpsc::SyncSender<Queued>,
    readers: r2d2::Pool<SqliteConnectionManager>,
    migrations_applied: u64,
    statement_timeout: std::time::Duration,
}

/// The result of a shared store function run on a SQLite connection. Its
/// statements run as they are called, so the future is ready at once.
fn ready<T>(work: impl Future<Output = Result<T>>) -> Result<T> {
    work.now_or_never().unwrap_or_else(|| {
        Err(StoreError::Internal(anyhow::anyhow!(
            "a SQLite statement waited"
        )))
    })
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
            rusqlite::Error::SqliteFailure(f, _)
                if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
            {
                StoreError::Duplicate(e.into())
            }
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::OperationInterrupted =>
            {
                StoreError::StatementTimeout
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

impl SqliteStore {
    /// Opens (creating if needed) the database file and migrates it; at
    /// most `readers` read connections are open at once.
    pub async fn open(
        path: &str,
        readers: usize,
        statement_timeout: std::time::Duration,
        write_queue: usize,
    ) -> anyhow::Result<Self> {
        let path = path.split('?').next().unwrap_or_default().to_owned();
        anyhow::ensure!(!path.is_empty(), "the SQLite URL names no file");
        tokio::task::spawn_blocking(move || {
            let mut conn = Connection::open(&path)?;
            conn.execute_batch(PRAGMAS)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let migrations_applied = ready(exec::migrate(&Conn(&tx), MIGRATIONS))?;
            // Leads another program wrote (the notes are its to clear).
            search::catch_up(&tx)?;
            tx.commit()?;
            let manager = SqliteConnectionManager::file(&path)
                .with_init(|c| c.execute_batch("pragma busy_timeout = 10000; pragma query_only = 1; pragma cache_size = -4096;"));
            let readers = r2d2::Pool::builder()
                .max_size(u32::try_from(readers).unwrap_or(u32::MAX))
                .min_idle(Some(2.min(readers as u32)))
                .build(manager)?;
            let (writer, jobs) = std::sync::mpsc::sync_channel(write_queue.max(1));
            std::thread::Builder::new()
                .name("sqlite-writer".into())
                .spawn(move || writer_loop(conn, jobs))?;
            Ok(Self {
                writer,
                readers,
                migrations_applied,
                statement_timeout,
            })
        })
        .await?
    }

    /// Runs `f` on the writer thread in its own savepoint; its writes are
    /// kept unless `keep` is false (a dry run). Answers after the commit.
    async fn write<T, F>(&self, keep: bool, small: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let limit = self.statement_timeout;
        // The request's Idempotency-Key claim is marked in the same savepoint
        // as its writes, so that they commit together.
        let claim = super::idempotency::current_claim().filter(|_| keep);
        let f = move |c: &Connection| {
            let out = f(c)?;
            if let Some(claim) = &claim {
                ready(super::idempotency::mark_committed(&Conn(c), claim))?;
            }
            Ok(out)
        };
        let job: Job = Box::new(move |conn: &Connection| {
            if tx.is_closed() {
                // Its request is gone (timed out, or the client left): the
                // write is not made, so its 503 ("may or may not have taken
                // effect") resolves to "did not".
                return Box::new(|_| {});
            }
            limit_statements(conn, limit);
            let out = in_savepoint(conn, keep, f);
            unlimit_statements(conn);
            Box::new(move |committed: std::result::Result<(), String>| {
                let out = match (out, committed) {
                    // Nothing of it was written: a retry may succeed.
                    (Ok(_), Err(e)) => Err(StoreError::Unavailable(anyhow::anyhow!(
                        "the write was not committed: {e}"
                    ))),
                    (out, _) => out,
                };
                let _ = tx.send(out);
            })
        });
        let queued = Queued {
            dry_run: !keep,
            small,
            job,
        };
        self.writer.try_send(queued).map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(_) => StoreError::Busy,
            std::sync::mpsc::TrySendError::Disconnected(_) => {
                StoreError::Unavailable(anyhow::anyhow!("the SQLite writer has stopped"))
            }
        })?;
        rx.await.map_err(|_| {
            StoreError::Internal(anyhow::anyhow!("the SQLite writer dropped a request"))
        })?
    }

    /// Runs `f` on a pooled read connection; `snapshot` wraps it in a read
    /// transaction, so that several statements see one state.
    async fn read<T, F>(&self, snapshot: bool, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let pool = self.readers.clone();
        let limit = self.statement_timeout;
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            limit_statements(&conn, limit);
            let out = if snapshot {
                let tx = conn.transaction()?;
                f(&tx)
            } else {
                f(&conn)
            };
            unlimit_statements(&conn);
            out
        })
        .await
        .map_err(|e| StoreError::Internal(e.into()))?
    }
}

/// How a shared store function runs on SQLite (see `storage_methods!`).
macro_rules! run {
    ($s:expr, one, |$e:ident| $work:expr) => {
        $s.read(false, move |c| {
            ready(async move {
                let $e = &Conn(c);
                $work.await
            })
        })
        .await
    };
    // A dry run that only reads runs on a read connection, off the writer.
    ($s:expr, preview, |$e:ident| $work:expr) => {
        run!($s, read, |$e| $work)
    };
    ($s:expr, read, |$e:ident| $work:expr) => {
        $s.read(true, move |c| {
            ready(async move {
                let $e = &Conn(c);
                $work.await
            })
        })
        .await
    };
    ($s:expr, write($keep:expr), |$e:ident| $work:expr) => {
        run!($s, write($keep, small: false), |$e| $work)
    };
    ($s:expr, write($keep:expr, small: $small:expr), |$e:ident| $work:expr) => {
        $s.write($keep, $small, move |c| {
            ready(async move {
                let $e = &Conn(c);
                $work.await
            })
        })
        .await
    };
}

storage_impl!(SqliteStore, run, {
    fn migrations_applied(&self) -> u64 {
        self.migrations_applied
    }

    fn pool_status(&self) -> PoolStatus {
        let state = self.readers.state();
        PoolStatus {
            in_use: u64::from(state.connections - state.idle_connections),
            idle: u64::from(state.idle_connections),
            max: u64::from(self.readers.max_size()),
        }
    }

    async fn ping(&self) -> Result<()> {
        self.read(false, |c| {
            c.query_row("select 1", [], |r| r.get::<_, i64>(0))?;
            Ok(())
        })
        .await
    }
});

/// Lists travel to `json_each` as JSON text.
fn json_text<T: serde::Serialize>(v: &T) -> ToSqlOutput<'static> {
    ToSqlOutput::Owned(SqlValue::Text(
        serde_json::to_string(v).unwrap_or_else(|_| "null".into()),
    ))
}

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Null => ToSqlOutput::Owned(SqlValue::Null),
            Param::Int(v) => ToSqlOutput::Owned(SqlValue::Integer(*v)),
            Param::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Param::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Param::Json(v) => json_text(v),
            Param::IntList(v) => json_text(v),
            Param::TextList(v) => json_text(v),
            Param::OptTextList(v) => json_text(v),
        })
    }
}

/// One SQLite connection (or transaction), for the shared store.
pub struct Conn<'c>(&'c Connection);

impl Conn<'_> {
    fn rows(&self, sql: &Sql) -> Result<Vec<Row>> {
        self.before(sql)?;
        let mut stmt = self.0.prepare_cached(&sql.text)?;
        let width = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(sql.params.iter()))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut cells = Vec::with_capacity(width);
            for i in 0..width {
                cells.push(match r.get_ref(i)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(v) => Cell::Int(v),
                    ValueRef::Real(v) => Cell::Float(v),
                    ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Cell::Bytes(b.to_vec()),
                });
            }
            out.push(Row(cells));
        }
        Ok(out)
    }

    /// What a statement needs first: a search sees the leads written
    /// before it in the same transaction.
    fn before(&self, sql: &Sql) -> Result<()> {
        if search::reads_index(&sql.text) {
            search::catch_up(self.0)?;
        }
        Ok(())
    }

    fn run(&self, sql: &Sql) -> Result<u64> {
        self.before(sql)?;
        Ok(self
            .0
            .prepare_cached(&sql.text)?
            .execute(rusqlite::params_from_iter(sql.params.iter()))? as u64)
    }

    /// Fills the temporary table `lf_selected` with the keys of the leads
    /// `selection` names; returns how many. Evaluating a filter once and
    /// reading its result twice is cheaper than evaluating it twice.
    fn select_into_temp(&self, ws: WorkspaceRef, selection: &Selection) -> Result<u64> {
        self.0.execute_batch(
            "create temp table if not exists lf_selected (id integer primary key); delete from temp.lf_selected;",
        )?;
        let mut sql = selection_sql(Dialect::Sqlite, ws, selection);
        sql.text = format!(
            "insert into temp.lf_selected (id) select l.id from leads l where {}",
            sql.text
        );
        self.run(&sql)
    }
}

/// Rows per multi-row `VALUES` statement: 17 parameters each stays well
/// under SQLite's 32,766-parameter limit.
const ROWS_PER_INSERT: usize = 1_000;

const INSERT_COLUMNS: &str = r"workspace_id, email, email_key, first_name, last_name, company_name,
    job_title, phone, linkedin_url, city, state, country, tags, custom_fields,
    email_verification_result, created_at, updated_at";

impl Exec for Conn<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn execute(&self, sql: &Sql) -> Result<u64> {
        self.run(sql)
    }

    async fn insert_count(&self, sql: &Sql) -> Result<u64> {
        self.run(sql)
    }

    async fn query(&self, sql: &Sql) -> Result<Vec<Row>> {
        self.rows(sql)
    }

    async fn batch(&self, text: &str) -> Result<()> {
        Ok(self.0.execute_batch(text)?)
    }

    /// One multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING` per 1,000
    /// leads, with bound parameters (parsing JSON inside SQLite cost more
    /// than the insert itself).
    async fn insert_leads(
        &self,
        ws: WorkspaceRef,
        rows: &[LeadRow],
        now: i64,
    ) -> Result<HashMap<String, i64>> {
        let mut created = HashMap::new();
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let one = format!("({})", vec!["?"; 17].join(", "));
            let values = vec![one.as_str(); chunk.len()].join(", ");
            let mut stmt = self.0.prepare_cached(&format!(
                r"insert into leads ({INSERT_COLUMNS}) values {values}
                 on conflict (workspace_id, email_key) do nothing returning email_key, id"
            ))?;
            let mut params: Vec<SqlValue> = Vec::with_capacity(chunk.len() * 17);
            let text = |t: &Option<String>| t.clone().map_or(SqlValue::Null, SqlValue::Text);
            for row in chunk {
                params.push(ws.key.into());
                params.push(row.email.clone().into());
                params.push(row.email_key().into());
                params.extend(row.contact.columns().map(|(_, t)| text(t)));
                params.push(Value::from(row.tags.clone()).to_string().into());
                params.push(Value::Object(row.custom_fields.clone()).to_string().into());
                params.push(text(&row.email_verification_result));
                params.push(now.into());
                params.push(now.into());
            }
            let mut inserted = stmt.query(rusqlite::params_from_iter(params))?;
            while let Some(r) = inserted.next()? {
                created.insert(r.get(0)?, r.get(1)?);
            }
        }
        Ok(created)
    }

    /// One `update … from json_each` for the whole batch.
    async fn update_leads(&self, ws: WorkspaceRef, rows: &[LeadRow], now: i64) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let set: Vec<String> = rows[0]
            .contact
            .columns()
            .iter()
            .map(|(c, _)| format!("{c} = j.value ->> '{c}'"))
            .collect();
        let sql = Sql::with(
            Dialect::Sqlite,
            &format!(
                r"update leads set {}, tags = j.value ->> 'tags', custom_fields = j.value ->> 'cf',
                 email_verification_result = j.value ->> 'evr', updated_at = ?2
                 from json_each(?3) j where leads.workspace_id = ?1 and leads.id = j.value ->> 'id'",
                set.join(", ")
            ),
            vec![
                ws.key.into(),
                now.into(),
                Value::Array(rows.iter().map(LeadRow::batch_json).collect()).into(),
            ],
        );
        self.run(&sql)?;
        Ok(())
    }

    async fn enroll_selection(
        &self,
        ws: WorkspaceRef,
        to: Enrollment,
        selection: &Selection,
        dnc: bool,
    ) -> Result<SelectionOutcome> {
        // `from` supplies the selected leads, `id` is their key in it, and
        // `cond` the conditions on them; the rules' tests need the leads
        // themselves (aliased `l`).
        let tested = dnc || to.skip_other;
        let (from, id, cond, matched) = if selection.filter.is_some() {
            let matched = self.select_into_temp(ws, selection)?;
            let cond = Sql::with(Dialect::Sqlite, "true", vec![]);
            if tested {
                // `cross join`: the selection is the outer loop (SQLite keeps
                // that order), never a scan of every lead probing it.
                let from = "temp.lf_selected s cross join leads l on l.id = s.id";
                (from, "l.id", cond, matched)
            } else {
                ("temp.lf_selected s", "s.id", cond, matched)
            }
        } else {
            // Select-all: counting on the workspace index is cheaper than a
            // copy.
            let cond = selection_sql(Dialect::Sqlite, ws, selection);
            let count = Sql {
                text: format!("select count(*) from leads l where {}", cond.text),
                ..cond.clone()
            };
            let matched = self.query_i64(&count).await? as u64;
            ("leads l", "l.id", cond, matched)
        };
        let mut outcome = SelectionOutcome {
            matched,
            ..Default::default()
        };
        // (SQLite's tests need no workspace placeholder: see
        // `Dialect::dnc_lookups`.)
        let sqlite = Dialect::Sqlite;
        if dnc {
            // The blocked leads new to the campaign: the list's test for
            // every lead, the membership's only for those it holds.
            let mut counting = cond.clone();
            let ck = counting.param(to.campaign_key);
            counting.text = format!(
                "select count(*) from {from} where {} and {} and {}",
                cond.text,
                sqlite.on_dnc(""),
                Dialect::not_member(&ck)
            );
            outcome.blocked = self.query_i64(&counting).await? as u64;
        }
        // The members already selected, counted from the campaign's side
        // (a new campaign has few): with them, the leads in other campaigns
        // are what the insert leaves over, and the other-campaign test runs
        // once per lead, in the insert.
        let already = if to.skip_other {
            let mut sql = cond.clone();
            let ck = sql.param(to.campaign_key);
            sql.text = if selection.filter.is_some() {
                format!(
                    "select count(*) from campaign_leads t cross join temp.lf_selected s on s.id = t.lead_id
                     where t.campaign_id = {ck}"
                )
            } else {
                format!(
                    "select count(*) from campaign_leads t cross join leads l on l.id = t.lead_id
                     where t.campaign_id = {ck} and {}",
                    cond.text
                )
            };
            self.query_i64(&sql).await? as u64
        } else {
            0
        };
        let mut insert = cond.clone();
        let ck = insert.param(to.campaign_key);
        let mut leave_out = String::new();
        if dnc {
            leave_out.push_str(&format!(" and {}", sqlite.not_on_dnc("")));
        }
        if to.skip_other {
            leave_out.push_str(&format!(" and not {}", sqlite.in_other_campaign("", &ck)));
        }
        let w = insert.param(ws.key);
        let st = insert.param(to.status.as_str());
        let at = insert.param(to.now);
        insert.text = format!(
            r"insert into campaign_leads (workspace_id, campaign_id, lead_id, status, added_at, updated_at)
             select {w}, {ck}, {id}, {st}, {at}, {at} from {from} where {}{leave_out} order by {id}
             on conflict (campaign_id, lead_id) do nothing",
            cond.text
        );
        outcome.added = self.run(&insert)?;
        if to.skip_other {
            // One writer: nothing else changed the campaign meanwhile.
            outcome.in_other = matched.saturating_sub(already + outcome.blocked + outcome.added);
        }
        Ok(outcome)
    }

    async fn delete_selection(
        &self,
        ws: WorkspaceRef,
        selection: &Selection,
    ) -> Result<(u64, Vec<Tally>)> {
        self.select_into_temp(ws, selection)?;
        let members = self
            .delete_members(&Sql::with(
                Dialect::Sqlite,
                "delete from campaign_leads where lead_id in (select id from temp.lf_selected)",
                vec![],
            ))
            .await?;
        let gone = self.run(&Sql::with(
            Dialect::Sqlite,
            "delete from leads where id in (select id from temp.lf_selected)",
            vec![],
        ))?;
        Ok((gone, members))
    }

    async fn delete_members(&self, sql: &Sql) -> Result<Vec<Tally>> {
        let returning = Sql {
            text: format!("{} returning campaign_id, status", sql.text),
            ..sql.clone()
        };
        let rows = self.rows(&returning)?;
        let keys = rows
            .into_iter()
            .map(|mut r| Ok((r.i64(0)?, r.text(1)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(tally(keys))
    }
}
