//! Webhooks, for both engines: the endpoints, and the queue of each event's
//! delivery to each endpoint.
//!
//! Deliveries are made from the event log, not by the writes: the
//! dispatcher follows each enabled endpoint's `cursor` through its
//! workspace's events (gap-free, in commit order, see `events`) and queues
//! one delivery per matching event, moving the cursor in the same
//! transaction. Senders claim due deliveries for a while (`lease_until`),
//! so a sender that dies lets its claims go and another sends them again
//! (at least once). On PostgreSQL both steps lock with `for update skip
//! locked`: several servers share the work, and in the normal case none
//! sends what another is sending.

use serde_json::Value;

use super::exec::{self, Exec, Row, Total};
use super::sql::Dialect;
use super::{Page, PageRequest, Result, StoreError, WorkspaceRef, events};
use crate::domain::event::EventType;
use crate::domain::id::ObjectId;
use crate::domain::now_ms;

pub const NOT_FOUND: StoreError = StoreError::NotFound("Webhook not found");
const DELIVERY_NOT_FOUND: StoreError = StoreError::NotFound("Delivery not found");

/// A delivery's `event_seq` when it carries a test message.
pub const TEST_SEQ: i64 = 0;
/// A test message's type.
pub const TEST_TYPE: &str = "webhook.test";

/// An endpoint.
#[derive(Clone, Debug)]
pub struct WebhookRow {
    pub key: i64,
    pub url: String,
    /// Event types it receives; empty: every type.
    pub events: Vec<String>,
    pub enabled: bool,
    pub secret: String,
    pub failing_since: Option<i64>,
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl WebhookRow {
    pub fn id(&self) -> ObjectId {
        ObjectId::new(self.key, self.created_at)
    }
}

const WEBHOOK_COLUMNS: &str =
    "id, url, events, enabled, secret, failing_since, disabled_reason, created_at, updated_at";

fn webhook(mut r: Row) -> Result<WebhookRow> {
    Ok(WebhookRow {
        key: r.i64(0)?,
        url: r.text(1)?,
        events: r.text_list(2)?,
        enabled: r.bool(3)?,
        secret: r.text(4)?,
        failing_since: r.opt_i64(5)?,
        disabled_reason: r.opt_text(6)?,
        created_at: r.i64(7)?,
        updated_at: r.i64(8)?,
    })
}

/// What a create or an update sets; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub events: Option<Vec<EventType>>,
    pub enabled: Option<bool>,
    pub secret: Option<String>,
}

fn type_names(types: &[EventType]) -> Vec<String> {
    types.iter().map(|t| t.as_str().to_owned()).collect()
}

fn literal(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// A new endpoint: it receives the events recorded from now on.
pub async fn create(e: &impl Exec, ws: WorkspaceRef, c: WebhookChange) -> Result<WebhookRow> {
    let now = now_ms();
    // Events committed before this one are numbered first, so that the
    // endpoint gets those recorded after it, and no earlier one.
    events::number_all(e, ws).await?;
    let cursor = events::last(e, ws).await?;
    let enabled = literal(c.enabled.unwrap_or(true));
    let key = e
        .query_i64(&e.sql(
            &format!(
                r"insert into webhooks (workspace_id, url, events, enabled, secret, cursor, created_at, updated_at)
                 values (?1, ?2, ?3, {enabled}, ?4, ?5, ?6, ?6) returning id"
            ),
            vec![
                ws.key.into(),
                c.url.unwrap_or_default().into(),
                type_names(&c.events.unwrap_or_default()).into(),
                c.secret.unwrap_or_default().into(),
                cursor.into(),
                now.into(),
            ],
        ))
        .await?;
    get(e, ws, ObjectId::new(key, now)).await
}

pub async fn list(e: &impl Exec, ws: WorkspaceRef, page: PageRequest) -> Result<Page<WebhookRow>> {
    exec::page(
        e,
        e.sql("workspace_id = ?1", vec![ws.key.into()]),
        &format!("select {WEBHOOK_COLUMNS} from webhooks"),
        Total::Count("webhooks"),
        "id",
        page,
        webhook,
    )
    .await
}

pub async fn get(e: &impl Exec, ws: WorkspaceRef, id: ObjectId) -> Result<WebhookRow> {
    find(e, ws, id, false).await
}

async fn find(e: &impl Exec, ws: WorkspaceRef, id: ObjectId, lock: bool) -> Result<WebhookRow> {
    let lock = if lock { e.dialect().for_update() } else { "" };
    let row = e
        .query_opt(&e.sql(
            &format!(
                "select {WEBHOOK_COLUMNS} from webhooks where workspace_id = ?1 and id = ?2{lock}"
            ),
            vec![ws.key.into(), id.key.into()],
        ))
        .await?
        .map(webhook)
        .transpose()?
        .filter(|w| id.matches(w.key, w.created_at))
        .ok_or(NOT_FOUND)?;
    Ok(row)
}

/// Changes what `c` gives. Enabling a disabled endpoint clears why it was
/// disabled, and it receives the events recorded from then on.
pub async fn update(
    e: &impl Exec,
    ws: WorkspaceRef,
    id: ObjectId,
    c: WebhookChange,
) -> Result<WebhookRow> {
    let current = find(e, ws, id, true).await?;
    let now = now_ms();
    let mut sql = e.sql(
        "update webhooks set updated_at = ?3",
        vec![ws.key.into(), current.key.into(), now.into()],
    );
    if let Some(url) = c.url {
        let p = sql.param(url);
        sql.push(&format!(", url = {p}"));
    }
    if let Some(types) = c.events {
        let p = sql.param(type_names(&types));
        sql.push(&format!(", events = {p}"));
    }
    if let Some(secret) = c.secret {
        let p = sql.param(secret);
        sql.push(&format!(", secret = {p}"));
    }
    match c.enabled {
        Some(true) if !current.enabled => {
            events::number_all(e, ws).await?;
            let last = sql.param(events::last(e, ws).await?);
            sql.push(&format!(
                ", enabled = true, disabled_reason = null, failing_since = null, cursor = {last}"
            ));
        }
        Some(true) => {}
        Some(false) => {
            sql.push(", enabled = false");
        }
        _ => {}
    }
    sql.push(" where workspace_id = ?1 and id = ?2");
    e.execute(&sql).await?;
    get(e, ws, id).await
}

pub async fn delete(e: &impl Exec, ws: WorkspaceRef, id: ObjectId) -> Result<()> {
    let w = find(e, ws, id, true).await?;
    for table in ["webhook_deliveries", "webhooks"] {
        let column = if table == "webhooks" {
            "id"
        } else {
            "webhook_id"
        };
        e.execute(&e.sql(
            &format!("delete from {table} where workspace_id = ?1 and {column} = ?2"),
            vec![ws.key.into(), w.key.into()],
        ))
        .await?;
    }
    Ok(())
}

/// A delivery of one event (or test message) to one endpoint.
#[derive(Clone, Debug)]
pub struct DeliveryRow {
    pub key: i64,
    pub webhook: ObjectId,
    pub event_seq: i64,
    pub event_type: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub response_code: Option<i64>,
    pub duration_ms: Option<i64>,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const DELIVERY_COLUMNS: &str = "id, event_seq, event_type, status, attempts, next_attempt_at, response_code, duration_ms, error, created_at, updated_at";

fn delivery(webhook: ObjectId) -> impl Fn(Row) -> Result<DeliveryRow> {
    move |mut r| {
        Ok(DeliveryRow {
            key: r.i64(0)?,
            webhook,
            event_seq: r.i64(1)?,
            event_type: r.text(2)?,
            status: r.text(3)?,
            attempts: r.i64(4)?,
            next_attempt_at: r.opt_i64(5)?,
            response_code: r.opt_i64(6)?,
            duration_ms: r.opt_i64(7)?,
            error: r.opt_text(8)?,
            created_at: r.i64(9)?,
            updated_at: r.i64(10)?,
        })
    }
}

/// An endpoint's deliveries, newest first.
pub async fn list_deliveries(
    e: &impl Exec,
    ws: WorkspaceRef,
    id: ObjectId,
    page: PageRequest,
) -> Result<Page<DeliveryRow>> {
    let w = get(e, ws, id).await?;
    exec::page(
        e,
        e.sql(
            "workspace_id = ?1 and webhook_id = ?2",
            vec![ws.key.into(), w.key.into()],
        ),
        &format!("select {DELIVERY_COLUMNS} from webhook_deliveries"),
        Total::Count("webhook_deliveries"),
        "id",
        page,
        delivery(id),
    )
    .await
}

async fn find_delivery(
    e: &impl Exec,
    ws: WorkspaceRef,
    webhook: &WebhookRow,
    id: ObjectId,
) -> Result<DeliveryRow> {
    e.query_opt(&e.sql(
        &format!(
            "select {DELIVERY_COLUMNS} from webhook_deliveries where workspace_id = ?1 and webhook_id = ?2 and id = ?3"
        ),
        vec![ws.key.into(), webhook.key.into(), id.key.into()],
    ))
    .await?
    .map(delivery(webhook.id()))
    .transpose()?
    .filter(|d| id.matches(d.key, d.created_at))
    .ok_or(DELIVERY_NOT_FOUND)
}

/// Sends a delivery again as soon as a sender is free, with a fresh
/// series of retries. A test message is not sent again (409).
pub async fn resend(
    e: &impl Exec,
    ws: WorkspaceRef,
    id: ObjectId,
    delivery_id: ObjectId,
) -> Result<DeliveryRow> {
    let w = get(e, ws, id).await?;
    let d = find_delivery(e, ws, &w, delivery_id).await?;
    if d.event_seq == TEST_SEQ {
        return Err(StoreError::Conflict(
            "A test message is not sent again; send a new one with POST /v1/webhooks/{id}/test"
                .into(),
        ));
    }
    let now = now_ms();
    e.execute(&e.sql(
        r"update webhook_deliveries set status = 'pending', attempts = 0, next_attempt_at = ?3,
         lease_until = null, updated_at = ?3 where workspace_id = ?1 and id = ?2",
        vec![ws.key.into(), d.key.into(), now.into()],
    ))
    .await?;
    find_delivery(e, ws, &w, delivery_id).await
}

/// What one attempt to send a delivery found.
#[derive(Clone, Debug, Default)]
pub struct Attempt {
    /// The answer's HTTP status, when there was one.
    pub response_code: Option<i64>,
    pub duration_ms: i64,
    /// Why it failed, when it did without an answer (or the answer's
    /// status).
    pub error: Option<String>,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        matches!(self.response_code, Some(200..=299))
    }

    /// 410 Gone: the receiver asks for no more deliveries.
    pub fn gone(&self) -> bool {
        self.response_code == Some(410)
    }
}

/// Records a test message's one attempt as a delivery of its own.
pub async fn record_test(
    e: &impl Exec,
    ws: WorkspaceRef,
    id: ObjectId,
    attempt: &Attempt,
) -> Result<DeliveryRow> {
    let w = get(e, ws, id).await?;
    let now = now_ms();
    let status = if attempt.succeeded() {
        "succeeded"
    } else {
        "failed"
    };
    let key = e
        .query_i64(&e.sql(
            r"insert into webhook_deliveries (workspace_id, webhook_id, event_seq, event_type, status, attempts,
               response_code, duration_ms, error, created_at, updated_at)
             values (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8, ?9, ?9) returning id",
            vec![
                ws.key.into(),
                w.key.into(),
                TEST_SEQ.into(),
                TEST_TYPE.into(),
                status.into(),
                attempt.response_code.map_or(super::sql::Param::Null, Into::into),
                attempt.duration_ms.into(),
                attempt.error.clone().into(),
                now.into(),
            ],
        ))
        .await?;
    find_delivery(e, ws, &w, ObjectId::new(key, now)).await
}

// ---- The dispatcher and the senders ---------------------------------------

/// Enabled endpoints whose workspace has events past their cursor.
pub async fn behind(e: &impl Exec) -> Result<Vec<(WorkspaceRef, i64)>> {
    e.query(&e.sql(
        r"select w.workspace_id, s.created_at, w.id from webhooks w
         join event_counters c on c.workspace_id = w.workspace_id
         join workspaces s on s.id = w.workspace_id
         where w.enabled and c.last > w.cursor",
        vec![],
    ))
    .await?
    .into_iter()
    .map(|mut r| {
        let ws = WorkspaceRef {
            key: r.i64(0)?,
            created_at: r.i64(1)?,
        };
        Ok((ws, r.i64(2)?))
    })
    .collect()
}

/// Queues the deliveries of up to `limit` events past the endpoint's
/// cursor (those of the types it receives) and moves its cursor past them,
/// in the caller's transaction; 0 when another dispatcher has it.
pub async fn dispatch(
    e: &impl Exec,
    ws: WorkspaceRef,
    webhook_key: i64,
    limit: usize,
) -> Result<u64> {
    let skip = match e.dialect() {
        Dialect::Sqlite => "",
        Dialect::Postgres => " for update skip locked",
    };
    let Some(mut w) = e
        .query_opt(&e.sql(
            &format!(
                "select cursor, events from webhooks where workspace_id = ?1 and id = ?2 and enabled{skip}"
            ),
            vec![ws.key.into(), webhook_key.into()],
        ))
        .await?
    else {
        return Ok(0);
    };
    let cursor = w.i64(0)?;
    let wanted: Vec<EventType> = w
        .text_list(1)?
        .iter()
        .filter_map(|t| EventType::parse(t))
        .collect();
    // The cursor moves past every event read, sent or not.
    let (all, _) = events::list(e, ws, cursor, &[], limit).await?;
    let Some(last) = all.last().map(|ev| ev.seq) else {
        return Ok(0);
    };
    let now = now_ms();
    let mut queued = 0;
    for ev in all.iter().filter(|ev| {
        wanted.is_empty() || EventType::parse(&ev.kind).is_some_and(|t| wanted.contains(&t))
    }) {
        e.execute(&e.sql(
            r"insert into webhook_deliveries (workspace_id, webhook_id, event_seq, event_type, status, attempts,
               next_attempt_at, created_at, updated_at)
             values (?1, ?2, ?3, ?4, 'pending', 0, ?5, ?5, ?5)",
            vec![
                ws.key.into(),
                webhook_key.into(),
                ev.seq.into(),
                ev.kind.as_str().into(),
                now.into(),
            ],
        ))
        .await?;
        queued += 1;
    }
    e.execute(&e.sql(
        "update webhooks set cursor = ?3 where workspace_id = ?1 and id = ?2",
        vec![ws.key.into(), webhook_key.into(), last.into()],
    ))
    .await?;
    Ok(queued)
}

/// Workspaces with deliveries due at `now` that no sender holds.
pub async fn due(e: &impl Exec, now: i64) -> Result<Vec<WorkspaceRef>> {
    exec::workspaces_in(
        e,
        r"select d.workspace_id from webhook_deliveries d
         where d.status = 'pending' and d.next_attempt_at <= ?1
           and (d.lease_until is null or d.lease_until <= ?1)",
        vec![now.into()],
    )
    .await
}

/// A claimed delivery, with what sending it needs.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub workspace: WorkspaceRef,
    pub key: i64,
    pub webhook_key: i64,
    pub attempts: i64,
    pub url: String,
    pub secret: String,
    pub failing_since: Option<i64>,
    /// The event; `None` when it is no longer kept.
    pub event: Option<events::EventRow>,
}

/// Claims up to `limit` of the workspace's due deliveries to enabled
/// endpoints until `lease_until`, oldest due first.
pub async fn claim(
    e: &impl Exec,
    ws: WorkspaceRef,
    now: i64,
    lease_until: i64,
    limit: usize,
) -> Result<Vec<Claimed>> {
    let skip = match e.dialect() {
        Dialect::Sqlite => "",
        Dialect::Postgres => " for update skip locked",
    };
    let claimed = e
        .query(&e.sql(
            &format!(
                r"update webhook_deliveries set lease_until = ?3
                 where workspace_id = ?1 and id in (
                   select d.id from webhook_deliveries d
                   where d.workspace_id = ?1 and d.status = 'pending' and d.next_attempt_at <= ?2
                     and (d.lease_until is null or d.lease_until <= ?2)
                     and d.webhook_id in (select w.id from webhooks w where w.workspace_id = ?1 and w.enabled)
                   order by d.next_attempt_at, d.id limit ?4{skip})
                 returning id"
            ),
            vec![
                ws.key.into(),
                now.into(),
                lease_until.into(),
                (limit as i64).into(),
            ],
        ))
        .await?;
    let keys: Vec<i64> = claimed
        .into_iter()
        .map(|mut r| r.i64(0))
        .collect::<Result<_>>()?;
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = e.sql(
        r"select d.id, d.webhook_id, d.attempts, w.url, w.secret, w.failing_since,
           ev.seq, ev.type, ev.data, ev.created_at
         from webhook_deliveries d
         join webhooks w on w.workspace_id = d.workspace_id and w.id = d.webhook_id
         left join events ev on ev.workspace_id = d.workspace_id and ev.seq = d.event_seq
         where d.workspace_id = ?1 and ",
        vec![ws.key.into()],
    );
    let c = sql.in_list("d.id", keys, false);
    sql.push(&c);
    sql.push(" order by d.next_attempt_at, d.id");
    e.query(&sql)
        .await?
        .into_iter()
        .map(|mut r| {
            let key = r.i64(0)?;
            let webhook_key = r.i64(1)?;
            let attempts = r.i64(2)?;
            let url = r.text(3)?;
            let secret = r.text(4)?;
            let failing_since = r.opt_i64(5)?;
            let event = match r.opt_i64(6)? {
                Some(seq) => Some(events::EventRow {
                    workspace: ws,
                    seq,
                    kind: r.text(7)?,
                    data: r.json(8)?,
                    created_at: r.i64(9)?,
                }),
                None => None,
            };
            Ok(Claimed {
                workspace: ws,
                key,
                webhook_key,
                attempts,
                url,
                secret,
                failing_since,
                event,
            })
        })
        .collect()
}

/// What becomes of a delivery after an attempt.
#[derive(Clone, Debug)]
pub enum Next {
    Succeeded,
    /// Tried again at this time.
    Retry(i64),
    /// No more attempts.
    Failed,
}

/// What becomes of the endpoint after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointNext {
    /// As it was (the attempt says nothing about the endpoint).
    Unchanged,
    Healthy,
    Failing,
    Disable(String),
}

/// Records an attempt of a claimed delivery, and what it means for the
/// delivery and its endpoint, in the caller's transaction.
pub async fn finish(
    e: &impl Exec,
    c: &Claimed,
    attempt: &Attempt,
    next: Next,
    endpoint: EndpointNext,
) -> Result<()> {
    let now = now_ms();
    let (status, at) = match next {
        Next::Succeeded => ("succeeded", None),
        Next::Retry(at) => ("pending", Some(at)),
        Next::Failed => ("failed", None),
    };
    e.execute(&e.sql(
        r"update webhook_deliveries set status = ?3, attempts = attempts + 1, next_attempt_at = ?4,
           lease_until = null, response_code = ?5, duration_ms = ?6, error = ?7, updated_at = ?8
         where workspace_id = ?1 and id = ?2",
        vec![
            c.workspace.key.into(),
            c.key.into(),
            status.into(),
            at.map_or(super::sql::Param::Null, Into::into),
            attempt.response_code.map_or(super::sql::Param::Null, Into::into),
            attempt.duration_ms.into(),
            attempt.error.clone().into(),
            now.into(),
        ],
    ))
    .await?;
    let set = match endpoint {
        EndpointNext::Unchanged => return Ok(()),
        EndpointNext::Healthy => "failing_since = null".to_owned(),
        EndpointNext::Failing => "failing_since = coalesce(failing_since, ?3)".to_owned(),
        EndpointNext::Disable(_) => {
            "enabled = false, disabled_reason = ?4, failing_since = coalesce(failing_since, ?3)"
                .to_owned()
        }
    };
    let mut params = vec![c.workspace.key.into(), c.webhook_key.into(), now.into()];
    if let EndpointNext::Disable(reason) = endpoint {
        params.push(reason.into());
    }
    e.execute(&e.sql(
        &format!("update webhooks set {set}, updated_at = ?3 where workspace_id = ?1 and id = ?2"),
        params,
    ))
    .await?;
    Ok(())
}

/// A JSON value's text, for the payload of a delivery.
pub fn payload(event: &events::EventRow, id: String, timestamp: String) -> Value {
    serde_json::json!({
        "id": id,
        "type": event.kind,
        "timestamp": timestamp,
        "sequence": event.seq,
        "data": event.data,
    })
}
