//! The workspace's do-not-contact list: addresses and whole domains that
//! add-leads skips (and counts as `blocked`).

use axum::extract::State;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiResult, object, ok, page, schema};
use crate::domain::email::{Domain, Email};
use crate::domain::filter::parse_ids;
use crate::domain::id::ObjectId;
use crate::domain::lead::FieldError;
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryPairs, Tenant};
use crate::state::AppState;
use crate::store::{DncKind, DncRow};

const MAX_ENTRIES: usize = 10_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, add, remove))
}

fn render(d: &DncRow) -> Value {
    serde_json::to_value(schema::DncEntry::new(d)).unwrap_or_default()
}

#[utoipa::path(
    get, path = "/dnc", tag = "Do not contact", operation_id = "listDnc", summary = "List the do-not-contact list",
    params(schema::PageQuery),
    responses((status = 200, description = "A page of entries", body = schema::ListEnvelope<schema::DncEntry>))
)]
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

#[utoipa::path(
    post, path = "/dnc", tag = "Do not contact", operation_id = "addDnc", summary = "Add emails or domains",
    request_body = schema::DncAddRequest,
    responses((status = 200, description = "Counts", body = schema::Envelope<schema::DncAddResult>))
)]
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
    ok(schema::DncAddResult { added, skipped })
}

#[utoipa::path(
    delete, path = "/dnc", tag = "Do not contact", operation_id = "deleteDnc", summary = "Delete entries by ID",
    request_body = schema::DncDeleteRequest,
    responses((status = 200, description = "How many were deleted", body = schema::Envelope<schema::DeletedCount>))
)]
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
    ok(schema::DeletedCount {
        deleted_count: deleted,
    })
}
