//! The seam between the shared store and an engine: run a statement, read
//! its rows, and the few set-based strategies that truly differ.
//!
//! The shared modules (`workspaces`, `leads`, `campaigns`, `dnc`,
//! `idempotency`) are written once against [`Exec`]. PostgreSQL's
//! implementation awaits the network; SQLite's runs on the calling thread and
//! its futures are always ready, so the writer thread can drive them without
//! a runtime (see `sqlite::ready`).

use std::collections::HashMap;

use serde_json::Value;

use super::sql::{Dialect, Param, Sql};
use super::{
    LeadRow, Page, PageRequest, Result, Selection, SelectionOutcome, StoreError, WorkspaceRef,
};
use crate::domain::campaign::CampaignLeadStatus;
use crate::domain::id::ObjectId;

/// One value of a result row, as the engine returned it.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    Json(Value),
    TextList(Vec<String>),
    Bool(bool),
}

/// A result row; its getters take each value out by position.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row(pub Vec<Cell>);

fn mismatch(i: usize, want: &str, got: &Cell) -> StoreError {
    StoreError::Internal(anyhow::anyhow!(
        "column {i}: expected {want}, found {got:?}"
    ))
}

impl Row {
    fn take(&mut self, i: usize) -> Result<Cell> {
        self.0
            .get_mut(i)
            .map(|c| std::mem::replace(c, Cell::Null))
            .ok_or_else(|| StoreError::Internal(anyhow::anyhow!("no column {i}")))
    }

    pub fn opt_i64(&mut self, i: usize) -> Result<Option<i64>> {
        match self.take(i)? {
            Cell::Null => Ok(None),
            Cell::Int(v) => Ok(Some(v)),
            Cell::Bool(b) => Ok(Some(i64::from(b))),
            other => Err(mismatch(i, "an integer", &other)),
        }
    }

    pub fn i64(&mut self, i: usize) -> Result<i64> {
        self.opt_i64(i)?
            .ok_or_else(|| StoreError::Internal(anyhow::anyhow!("column {i} is null")))
    }

    pub fn bool(&mut self, i: usize) -> Result<bool> {
        Ok(self.i64(i)? != 0)
    }

    pub fn opt_text(&mut self, i: usize) -> Result<Option<String>> {
        match self.take(i)? {
            Cell::Null => Ok(None),
            Cell::Text(s) => Ok(Some(s)),
            other => Err(mismatch(i, "text", &other)),
        }
    }

    pub fn text(&mut self, i: usize) -> Result<String> {
        self.opt_text(i)?
            .ok_or_else(|| StoreError::Internal(anyhow::anyhow!("column {i} is null")))
    }

    pub fn opt_bytes(&mut self, i: usize) -> Result<Option<Vec<u8>>> {
        match self.take(i)? {
            Cell::Null => Ok(None),
            Cell::Bytes(b) => Ok(Some(b)),
            other => Err(mismatch(i, "bytes", &other)),
        }
    }

    /// A JSON column: `jsonb` on PostgreSQL, JSON text on SQLite.
    pub fn json(&mut self, i: usize) -> Result<Value> {
        match self.take(i)? {
            Cell::Json(v) => Ok(v),
            Cell::Text(s) => Ok(serde_json::from_str(&s).unwrap_or(Value::Null)),
            Cell::Null => Ok(Value::Null),
            other => Err(mismatch(i, "JSON", &other)),
        }
    }

    /// A list of text: `text[]` on PostgreSQL, a JSON array on SQLite.
    pub fn text_list(&mut self, i: usize) -> Result<Vec<String>> {
        match self.take(i)? {
            Cell::TextList(v) => Ok(v),
            Cell::Text(s) => Ok(serde_json::from_str(&s).unwrap_or_default()),
            Cell::Null => Ok(Vec::new()),
            other => Err(mismatch(i, "a list of text", &other)),
        }
    }
}

/// A number of memberships of one campaign (key) in one status.
pub type Tally = (i64, String, i64);

/// Sums rows of (campaign key, status) into tallies.
pub fn tally(rows: impl IntoIterator<Item = (i64, String)>) -> Vec<Tally> {
    let mut sums: std::collections::BTreeMap<(i64, String), i64> = Default::default();
    for key in rows {
        *sums.entry(key).or_default() += 1;
    }
    sums.into_iter().map(|((c, s), n)| (c, s, n)).collect()
}

/// Where selected leads go: a campaign, as members of this status.
#[derive(Clone, Copy, Debug)]
pub struct Enrollment {
    pub campaign_key: i64,
    pub status: CampaignLeadStatus,
    pub now: i64,
    /// Skip leads with a `pending`, `active` or `paused` membership in
    /// another campaign of the workspace (`skipIfInOtherCampaign`).
    pub skip_other: bool,
    /// The campaign's highest membership key when it was opened: the
    /// memberships made since come after it (keys only grow).
    pub last_member: i64,
}

/// One connection (or transaction) of an engine.
#[allow(async_fn_in_trait)]
pub trait Exec {
    fn dialect(&self) -> Dialect;

    /// Runs a statement; returns how many rows it changed.
    async fn execute(&self, sql: &Sql) -> Result<u64>;
    /// Runs an `insert` and answers how many rows it inserted, exactly:
    /// Citus may carry out an `insert … select … on conflict do nothing`
    /// through the coordinator, and the command's count is then the rows
    /// offered, not those inserted (PostgreSQL counts what `returning`
    /// gives back instead).
    async fn insert_count(&self, sql: &Sql) -> Result<u64>;
    async fn query(&self, sql: &Sql) -> Result<Vec<Row>>;
    /// Runs statements without parameters or results (DDL).
    async fn batch(&self, text: &str) -> Result<()>;

    /// Inserts the leads whose email is new to the workspace, in as few
    /// statements as the engine allows. Returns the keys of the created
    /// leads by email key.
    async fn insert_leads(
        &self,
        ws: WorkspaceRef,
        rows: &[LeadRow],
        now: i64,
    ) -> Result<HashMap<String, i64>>;
    /// Writes back every field of stored leads, in one statement.
    async fn update_leads(&self, ws: WorkspaceRef, rows: &[LeadRow], now: i64) -> Result<()>;
    /// Adds the leads matching `selection` to a campaign (`dnc`: the
    /// workspace has do-not-contact entries to honour).
    async fn enroll_selection(
        &self,
        ws: WorkspaceRef,
        to: Enrollment,
        selection: &Selection,
        dnc: bool,
    ) -> Result<SelectionOutcome>;
    /// Deletes the leads matching `selection` with their memberships;
    /// answers how many leads, and the memberships removed by (campaign
    /// key, status).
    async fn delete_selection(
        &self,
        ws: WorkspaceRef,
        selection: &Selection,
    ) -> Result<(u64, Vec<Tally>)>;
    /// Runs a `delete from campaign_leads …` and answers the memberships
    /// it removed by (campaign key, status).
    async fn delete_members(&self, sql: &Sql) -> Result<Vec<Tally>>;

    /// A statement with `?N` placeholders, in this engine's dialect.
    fn sql(&self, text: &str, params: Vec<Param>) -> Sql {
        Sql::with(self.dialect(), text, params)
    }

    async fn query_opt(&self, sql: &Sql) -> Result<Option<Row>> {
        Ok(self.query(sql).await?.into_iter().next())
    }

    async fn query_one(&self, sql: &Sql) -> Result<Row> {
        self.query_opt(sql)
            .await?
            .ok_or_else(|| StoreError::Internal(anyhow::anyhow!("a statement returned no row")))
    }

    /// The first column of the one row a statement returns, as an integer.
    async fn query_i64(&self, sql: &Sql) -> Result<i64> {
        self.query_one(sql).await?.i64(0)
    }
}

/// The `where` conditions on leads (aliased `l`) that a selection names,
/// workspace first.
pub fn selection_sql(dialect: Dialect, ws: WorkspaceRef, selection: &Selection) -> Sql {
    let mut sql = Sql::new(dialect);
    let w = sql.param(ws.key);
    // Leads named by ID are found by key. SQLite, which has no statistics
    // here, takes the workspace's equality for a few rows and would walk
    // an index of the whole workspace that covers the other tests (its
    // emails, for the do-not-contact test: 116 ms at 1M leads for 25 IDs);
    // `+` keeps that index out of its choice (0.2 ms).
    let by_key = dialect == Dialect::Sqlite
        && selection
            .filter
            .as_ref()
            .is_some_and(|f| f.lead_ids.is_some());
    let plus = if by_key { "+" } else { "" };
    sql.push(&format!("{plus}l.workspace_id = {w}"));
    if let Some(f) = &selection.filter {
        sql.lead_filter(f, &w);
    }
    if !selection.exclude.is_empty() {
        let c = sql.id_in(("leads", "l"), "created_at", &selection.exclude, true);
        sql.push(&format!(" and {c}"));
    }
    if let Some((lo, hi)) = selection.keys {
        let (lo, hi) = (sql.param(lo), sql.param(hi));
        sql.push(&format!(" and l.id > {lo} and l.id <= {hi}"));
    }
    sql
}

/// The workspaces whose keys `keys` (a subquery, with `params`) names: the
/// background workers' "which workspaces have work" questions.
pub async fn workspaces_in(
    e: &impl Exec,
    keys: &str,
    params: Vec<Param>,
) -> Result<Vec<WorkspaceRef>> {
    e.query(&e.sql(
        &format!("select s.id, s.created_at from workspaces s where s.id in ({keys})"),
        params,
    ))
    .await?
    .into_iter()
    .map(|mut r| {
        Ok(WorkspaceRef {
            key: r.i64(0)?,
            created_at: r.i64(1)?,
        })
    })
    .collect()
}

/// How a list's `total` is found.
pub enum Total<'a> {
    /// Counted over this `from` on the page's conditions.
    Count(&'a str),
    /// Already known (kept as the rows change).
    Known(i64),
}

/// Runs a page of rows on the conditions `sql.text`, newest first, after
/// the cursor when there is one, and finds their total: known already, or
/// counted on the same conditions, except when the first page holds every
/// match (no cursor, nothing more): then its length is the total, and the
/// count is not made (the one-statement answer to a search that finds a
/// few leads).
pub async fn page<T>(
    e: &impl Exec,
    sql: Sql,
    select: &str,
    total: Total<'_>,
    order_key: &str,
    page: PageRequest,
    mut map: impl FnMut(Row) -> Result<T>,
) -> Result<Page<T>> {
    let mut rows = sql.clone();
    if let Some(cursor) = page.cursor {
        let p = rows.param(cursor.key);
        rows.push(&format!(" and {order_key} < {p}"));
    }
    let limit = rows.param(page.limit as i64 + 1);
    rows.text = format!(
        "{select} where {} order by {order_key} desc limit {limit}",
        rows.text
    );
    let mut items = e
        .query(&rows)
        .await?
        .into_iter()
        .map(&mut map)
        .collect::<Result<Vec<T>>>()?;
    let has_more = items.len() > page.limit;
    items.truncate(page.limit);
    let total = match total {
        Total::Known(n) => n,
        Total::Count(_) if page.cursor.is_none() && !has_more => items.len() as i64,
        Total::Count(from) => {
            let count = Sql {
                text: format!("select count(*) from {from} where {}", sql.text),
                ..sql
            };
            e.query_i64(&count).await?
        }
    };
    Ok(Page {
        items,
        total,
        has_more,
    })
}

/// A stored row with a public ID: its creation time makes the ID's time
/// half.
pub trait Created {
    fn created_at(&self) -> i64;
}

/// The row that `id` names in workspace `ws`: `select` reads a table
/// aliased `alias` (the ID's time half must match the row's creation time);
/// `lock` takes the row's lock where the engine has row locks.
pub async fn find_by_id<T: Created>(
    e: &impl Exec,
    select: &str,
    alias: &str,
    ws: WorkspaceRef,
    id: ObjectId,
    lock: bool,
    map: impl FnOnce(Row) -> Result<T>,
) -> Result<Option<T>> {
    let lock = if lock { e.dialect().for_update() } else { "" };
    let sql = e.sql(
        &format!("{select} where {alias}.workspace_id = ?1 and {alias}.id = ?2{lock}"),
        vec![ws.key.into(), id.key.into()],
    );
    let Some(row) = e.query_opt(&sql).await? else {
        return Ok(None);
    };
    let row = map(row)?;
    Ok(id.matches(id.key, row.created_at()).then_some(row))
}

/// The storage key of the row of `table` that `id` names in workspace `ws`.
pub async fn find_key(
    e: &impl Exec,
    table: &str,
    ws: WorkspaceRef,
    id: ObjectId,
) -> Result<Option<i64>> {
    let sql = e.sql(
        &format!("select created_at from {table} where workspace_id = ?1 and id = ?2"),
        vec![ws.key.into(), id.key.into()],
    );
    Ok(match e.query_opt(&sql).await? {
        Some(mut r) => Some(r.i64(0)?)
            .filter(|c| id.matches(id.key, *c))
            .map(|_| id.key),
        None => None,
    })
}

/// A schema migration: its version, name and SQL.
pub type Migration = (i64, &'static str, &'static str);

/// Applies the migrations not applied yet, in order, recording each. The
/// caller runs this in one transaction (and, on PostgreSQL, under a lock
/// that serialises concurrent starts).
/// A migration's statements, one by one: each ends with `;` at the end of
/// a line (the convention of the migration files). They are sent apart
/// because Citus refuses several DDL statements in one query string once
/// the tables are distributed.
pub fn statements(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            if rest.trim().is_empty() {
                return None;
            }
            let end = rest
                .match_indices(";\n")
                .map(|(i, _)| i + 1)
                .next()
                .unwrap_or(rest.len());
            let (statement, after) = rest.split_at(end);
            rest = after;
            let code = statement
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .any(|l| !l.trim().is_empty() && l.trim() != ";");
            if code {
                return Some(statement.trim());
            }
        }
    })
}

pub async fn migrate(e: &impl Exec, migrations: &[Migration]) -> Result<u64> {
    e.batch(
        "create table if not exists schema_migrations (
            version bigint primary key, name text not null, applied_at bigint not null)",
    )
    .await?;
    let mut applied = 0;
    for (version, name, text) in migrations {
        let done = e
            .query_opt(&e.sql(
                "select 1 from schema_migrations where version = ?1",
                vec![(*version).into()],
            ))
            .await?
            .is_some();
        if !done {
            for statement in statements(text) {
                e.batch(statement).await?;
            }
            e.execute(&e.sql(
                "insert into schema_migrations (version, name, applied_at) values (?1, ?2, ?3)",
                vec![
                    (*version).into(),
                    (*name).into(),
                    crate::domain::now_ms().into(),
                ],
            ))
            .await?;
            tracing::info!(version, name, "applied migration");
            applied += 1;
        }
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::statements;

    #[test]
    fn a_migration_is_cut_into_its_statements_at_line_ending_semicolons() {
        let text = "-- a comment; with a semicolon\ncreate table a (x text default 'a;b');\n\
                    create index a_x on a (x);\n\n-- trailing comment\n";
        let got: Vec<&str> = statements(text).collect();
        assert_eq!(
            got,
            [
                "-- a comment; with a semicolon\ncreate table a (x text default 'a;b');",
                "create index a_x on a (x);"
            ]
        );
        assert_eq!(statements("select 1").collect::<Vec<_>>(), ["select 1"]);
        // Every shipped migration: each statement ends with its `;`.
        for text in [
            include_str!("postgres/migrations/0001_init.sql"),
            include_str!("postgres/migrations/0002_idempotency.sql"),
            include_str!("postgres/migrations/0003_reads.sql"),
            include_str!("sqlite/migrations/0001_init.sql"),
            include_str!("sqlite/migrations/0002_idempotency.sql"),
            include_str!("sqlite/migrations/0003_reads.sql"),
        ] {
            let all: Vec<&str> = statements(text).collect();
            let ends = text.lines().filter(|l| l.trim_end().ends_with(';')).count();
            assert_eq!(all.len(), ends);
            assert!(all.iter().all(|s| s.ends_with(';')), "{all:?}");
        }
    }
}
