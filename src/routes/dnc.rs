//! The workspace's do-not-contact list: addresses and whole domains that
//! add-leads skips (and counts as `blocked`).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use super::{ApiResult, object, ok, page};
use crate::domain::email::{Domain, Email};
use crate::domain::filter::parse_ids;
use crate::domain::format_time;
use crate::domain::id::ObjectId;
use crate::domain::lead::FieldError;
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryPairs, Tenant};
use crate::startup::AppState;
use crate::store::{DncKind, DncRow};

const MAX_ENTRIES: usize = 10_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/dnc", get(list).post(add).delete(remove))
}

fn render(d: &DncRow) -> Value {
    json!({
        "_id": ObjectId::new(d.key, d.created_at),
        "type": d.kind,
        "value": d.value,
        "createdAt": format_time(d.created_at),
    })
}

async fn list(State(state): State<AppState>, Tenant(ws): Tenant, query: QueryPairs) -> ApiResult {
    let req = query.page()?;
    let result = state.store.list_dnc(ws, req).await?;
    page(
        result,
        req.limit,
        |d| ObjectId::new(d.key, d.created_at),
        render,
    )
}

/// One entry: an email address (stored lower-cased) or a domain.
fn parse_entry(index: usize, v: &Value) -> Result<(DncKind, String), FieldError> {
    let field = format!("entries[{index}]");
    let kind = v.get("type").and_then(Value::as_str);
    let value = v.get("value").and_then(Value::as_str);
    match (kind, value) {
        (Some("email"), Some(s)) => Email::parse(s)
            .map(|e| (DncKind::Email, e.key()))
            .ok_or_else(|| {
                FieldError::new(format!("{field}.value"), "must be a valid email address")
            }),
        (Some("domain"), Some(s)) => Domain::parse(s.trim_start_matches('@'))
            .map(|d| (DncKind::Domain, d.as_str().to_owned()))
            .ok_or_else(|| {
                FieldError::new(
                    format!("{field}.value"),
                    "must be a domain such as example.com",
                )
            }),
        (Some("email" | "domain"), None) => {
            Err(FieldError::new(format!("{field}.value"), "is required"))
        }
        _ => Err(FieldError::new(
            format!("{field}.type"),
            "must be email or domain",
        )),
    }
}

async fn add(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let obj = object(&body)?;
    let items = obj
        .get("entries")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty() && a.len() <= MAX_ENTRIES)
        .ok_or_else(|| {
            ApiError::field(FieldError::new(
                "entries",
                format!("must be an array of 1 to {MAX_ENTRIES} {{type, value}} objects"),
            ))
        })?;
    let entries = items
        .iter()
        .enumerate()
        .map(|(i, v)| parse_entry(i, v))
        .collect::<Result<Vec<_>, _>>()?;
    let (added, skipped) = state.store.add_dnc(ws, entries).await?;
    ok(json!({"added": added, "skipped": skipped}))
}

async fn remove(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let obj = object(&body)?;
    let ids = obj.get("ids").ok_or_else(|| {
        ApiError::field(FieldError::new("ids", "is required: an array of entry IDs"))
    })?;
    let ids = parse_ids(ids, "ids", MAX_ENTRIES)?;
    let deleted = state.store.delete_dnc(ws, ids).await?;
    ok(json!({"deletedCount": deleted}))
}
