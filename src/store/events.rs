//! The event log, for both engines: a transactional outbox. A write that
//! changes something worth telling records its events in its own
//! transaction ([`record`]), so an event exists exactly when its change
//! committed.
//!
//! Events are written unnumbered; [`number`] gives them their workspace's
//! next numbers afterwards, a round at a time under the workspace's
//! `event_counters` row: the committed events not numbered yet, in the
//! order they were written. A number is handed out only once every lower
//! one is committed and visible, so a reader that asks for the events after
//! the last number it saw misses none (numbers taken from a sequence as
//! the rows are written would not do on PostgreSQL: a later number can
//! commit first). Writers never wait for each other to number their events;
//! the feed and the webhook worker number what is pending before they read.
//! (SQLite, whose writes are one at a time, numbers them as it writes them:
//! its counter row is never waited for.)
//! Changes that touch the same rows commit one after the other and their
//! events are written in that order; changes that raced without touching
//! each other's rows may be numbered in either order.

use serde_json::{Value, json};

use super::exec::Exec;
use super::{Result, WorkspaceRef};
use crate::domain::event::EventType;
use crate::domain::id::ObjectId;
use crate::domain::now_ms;

/// At most this many IDs are listed in one event (the count says how many
/// there were).
pub const MAX_EVENT_IDS: usize = 5_000;

/// An event to record: its type and its `data`.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub kind: EventType,
    pub data: Value,
}

impl Event {
    pub fn new(kind: EventType, data: Value) -> Self {
        Event { kind, data }
    }

    /// `{count, leadIds}`: the first [`MAX_EVENT_IDS`] of the leads.
    pub fn leads(kind: EventType, count: u64, ids: impl IntoIterator<Item = ObjectId>) -> Self {
        Event::new(kind, json!({"count": count, "leadIds": id_list(ids)}))
    }
}

/// The first [`MAX_EVENT_IDS`] IDs, as strings.
pub fn id_list(ids: impl IntoIterator<Item = ObjectId>) -> Vec<String> {
    ids.into_iter()
        .take(MAX_EVENT_IDS)
        .map(|id| id.to_string())
        .collect()
}

/// A recorded event.
#[derive(Clone, Debug)]
pub struct EventRow {
    pub workspace: WorkspaceRef,
    pub seq: i64,
    pub kind: String,
    pub data: Value,
    pub created_at: i64,
}

/// Records the events of the calling transaction, in one statement (see
/// the module's notes): unnumbered on PostgreSQL; on SQLite, whose writes
/// are one at a time, numbered at once (the counter row is only ever
/// waited for by the one writer).
pub async fn record(e: &impl Exec, ws: WorkspaceRef, events: Vec<Event>) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let first = match e.dialect() {
        super::sql::Dialect::Sqlite => {
            let n = events.len() as i64;
            let last = e
                .query_i64(&e.sql(
                    r"insert into event_counters (workspace_id, last) values (?1, ?2)
                     on conflict (workspace_id) do update set last = event_counters.last + excluded.last
                     returning last",
                    vec![ws.key.into(), n.into()],
                ))
                .await?;
            Some(last - n + 1)
        }
        super::sql::Dialect::Postgres => None,
    };
    let now = now_ms();
    let mut sql = e.sql(
        "insert into events (workspace_id, seq, type, data, created_at) values ",
        vec![],
    );
    let (w, at) = (sql.param(ws.key), sql.param(now));
    let mut rows = Vec::with_capacity(events.len());
    for (i, event) in events.into_iter().enumerate() {
        let seq = match first {
            Some(first) => sql.param(first + i as i64),
            None => "null".to_owned(),
        };
        let kind = sql.param(event.kind.as_str());
        let data = sql.param(event.data);
        rows.push(format!("({w}, {seq}, {kind}, {data}, {at})"));
    }
    sql.push(&rows.join(", "));
    e.execute(&sql).await?;
    Ok(())
}

/// At most this many events are numbered in one transaction.
const NUMBER_BATCH: usize = 10_000;

/// Whether the workspace has committed events not numbered yet.
pub async fn unnumbered(e: &impl Exec, ws: WorkspaceRef) -> Result<bool> {
    e.query_one(&e.sql(
        "select exists (select 1 from events where workspace_id = ?1 and seq is null)",
        vec![ws.key.into()],
    ))
    .await?
    .bool(0)
}

/// Workspaces with committed events not numbered yet.
pub async fn unnumbered_workspaces(e: &impl Exec) -> Result<Vec<WorkspaceRef>> {
    super::exec::workspaces_in(
        e,
        "select workspace_id from events where seq is null",
        vec![],
    )
    .await
}

/// Numbers the workspace's committed events not numbered yet (up to
/// [`NUMBER_BATCH`]), in the order they were written, after its last
/// number; returns how many. The counter row is locked first, so rounds of
/// one workspace take turns and each starts after the last one's numbers.
pub async fn number(e: &impl Exec, ws: WorkspaceRef) -> Result<u64> {
    e.execute(&e.sql(
        "insert into event_counters (workspace_id, last) values (?1, 0) on conflict (workspace_id) do nothing",
        vec![ws.key.into()],
    ))
    .await?;
    let lock = e.dialect().for_update();
    let last = e
        .query_i64(&e.sql(
            &format!("select last from event_counters where workspace_id = ?1{lock}"),
            vec![ws.key.into()],
        ))
        .await?;
    let ids: Vec<i64> = e
        .query(&e.sql(
            "select id from events where workspace_id = ?1 and seq is null order by id limit ?2",
            vec![ws.key.into(), (NUMBER_BATCH as i64).into()],
        ))
        .await?
        .into_iter()
        .map(|mut r| r.i64(0))
        .collect::<Result<_>>()?;
    if ids.is_empty() {
        return Ok(0);
    }
    let n = ids.len() as i64;
    // Positions count from 0 on SQLite (`json_each`'s keys), from 1 on
    // PostgreSQL (`with ordinality`).
    let first = match e.dialect() {
        super::sql::Dialect::Sqlite => last + 1,
        super::sql::Dialect::Postgres => last,
    };
    let mut sql = e.sql("", vec![ws.key.into(), first.into()]);
    let rows = sql.int_rows(ids, "j");
    sql.push(&format!(
        "update events set seq = ?2 + j.pos from {rows} where events.workspace_id = ?1 and events.id = j.id"
    ));
    e.execute(&sql).await?;
    e.execute(&e.sql(
        "update event_counters set last = ?2 where workspace_id = ?1",
        vec![ws.key.into(), (last + n).into()],
    ))
    .await?;
    Ok(n as u64)
}

/// The workspace's events numbered after `after`, of `types` (all when
/// empty), in order: at most `limit`, and whether more follow.
pub async fn list(
    e: &impl Exec,
    ws: WorkspaceRef,
    after: i64,
    types: &[EventType],
    limit: usize,
) -> Result<(Vec<EventRow>, bool)> {
    let mut sql = e.sql(
        "select seq, type, data, created_at from events where workspace_id = ?1 and seq > ?2",
        vec![ws.key.into(), after.into()],
    );
    // (Unnumbered events, `seq` null, are not listed: `seq > ?2` is not
    // true of them.)
    if !types.is_empty() {
        let names: Vec<String> = types.iter().map(|t| t.as_str().to_owned()).collect();
        let c = sql.in_list("type", names, false);
        sql.push(&format!(" and {c}"));
    }
    let l = sql.param(limit as i64 + 1);
    sql.push(&format!(" order by seq limit {l}"));
    let mut rows = Vec::with_capacity(limit + 1);
    for mut r in e.query(&sql).await? {
        rows.push(EventRow {
            workspace: ws,
            seq: r.i64(0)?,
            kind: r.text(1)?,
            data: r.json(2)?,
            created_at: r.i64(3)?,
        });
    }
    let more = rows.len() > limit;
    rows.truncate(limit);
    Ok((rows, more))
}

/// Numbers every committed event of the workspace not numbered yet.
pub async fn number_all(e: &impl Exec, ws: WorkspaceRef) -> Result<u64> {
    let mut total = 0;
    loop {
        let n = number(e, ws).await?;
        total += n;
        if n < NUMBER_BATCH as u64 {
            return Ok(total);
        }
    }
}

/// The last number the workspace gave an event (0 before its first).
pub async fn last(e: &impl Exec, ws: WorkspaceRef) -> Result<i64> {
    Ok(e.query_opt(&e.sql(
        "select last from event_counters where workspace_id = ?1",
        vec![ws.key.into()],
    ))
    .await?
    .map(|mut r| r.i64(0))
    .transpose()?
    .unwrap_or(0))
}

/// Removes every workspace's events older than `before`, and the webhook
/// deliveries made before then that are finished; returns how many events.
/// Imports' uploads abandoned for a day go too, and the console's expired
/// sessions.
pub async fn prune(e: &impl Exec, before: i64) -> Result<u64> {
    let now = crate::domain::now_ms();
    super::jobs::prune_uploads(e, now).await?;
    super::sessions::prune(e, now).await?;
    e.execute(&e.sql(
        "delete from webhook_deliveries where created_at < ?1 and status <> 'pending'",
        vec![before.into()],
    ))
    .await?;
    e.execute(&e.sql(
        "delete from events where created_at < ?1",
        vec![before.into()],
    ))
    .await
}
