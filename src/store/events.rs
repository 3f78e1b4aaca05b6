//! The event log, for both engines: a transactional outbox. A write that
//! changes something worth telling records its events in its own
//! transaction, as its last statements ([`record`]), so an event exists
//! exactly when its change committed.
//!
//! Each workspace numbers its events 1, 2, 3 … with its row of
//! `event_counters`, incremented by [`record`]. On PostgreSQL the row stays
//! locked until the commit, so the workspace's next writer takes the next
//! number only once this one's events are visible: numbers follow commit
//! order, with no gaps, and a reader that asks for the events after the
//! last number it saw misses none (a sequence would not do: its numbers
//! follow the order transactions take them, not the order they commit).
//! SQLite has one writer, which gives the same. Recording last keeps the
//! lock's hold short (the events' inserts and the commit) and means a
//! transaction holding it waits for no other lock.

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

/// Records the events of the calling transaction: the last statements of
/// every write that makes any (see the module's notes).
pub async fn record(e: &impl Exec, ws: WorkspaceRef, events: Vec<Event>) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let n = events.len() as i64;
    let last = e
        .query_i64(&e.sql(
            r"insert into event_counters (workspace_id, last) values (?1, ?2)
             on conflict (workspace_id) do update set last = event_counters.last + excluded.last
             returning last",
            vec![ws.key.into(), n.into()],
        ))
        .await?;
    let now = now_ms();
    for (seq, event) in (last - n + 1..).zip(events) {
        e.execute(&e.sql(
            "insert into events (workspace_id, seq, type, data, created_at) values (?1, ?2, ?3, ?4, ?5)",
            vec![
                ws.key.into(),
                seq.into(),
                event.kind.as_str().into(),
                event.data.into(),
                now.into(),
            ],
        ))
        .await?;
    }
    Ok(())
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
pub async fn prune(e: &impl Exec, before: i64) -> Result<u64> {
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
