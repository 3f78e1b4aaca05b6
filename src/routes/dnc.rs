//! The workspace's do-not-contact list: addresses and whole domains that
//! add-leads skips (and counts as `blocked`).

use axum::extract::State;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiResult, ok, page, schema};
use crate::domain::id::ObjectId;
use crate::extract::{Body, Query, Tenant};
use crate::state::AppState;
use crate::store::DncRow;

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
async fn list(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Query(paging): Query<schema::PageQuery>,
) -> ApiResult {
    let req = paging.page();
    let _turn = state.turns.take(ws).await;
    let result = state.store.list_dnc(ws, req).await?;
    page(
        result,
        req.limit,
        |d| ObjectId::new(d.key, d.created_at),
        render,
    )
}

#[utoipa::path(
    post, path = "/dnc", tag = "Do not contact", operation_id = "addDnc", summary = "Add emails or domains",
    request_body = schema::DncAddRequest,
    responses((status = 200, description = "Counts", body = schema::Envelope<schema::DncAddResult>))
)]
async fn add(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Body(input): Body<schema::DncAddRequest>,
) -> ApiResult {
    let entries = input.entries()?;
    let (added, skipped, stopped) = state.store.add_dnc(ws, entries).await?;
    ok(schema::DncAddResult {
        added,
        skipped,
        stopped,
    })
}

#[utoipa::path(
    delete, path = "/dnc", tag = "Do not contact", operation_id = "deleteDnc", summary = "Delete entries by ID",
    request_body = schema::DncDeleteRequest,
    responses((status = 200, description = "How many were deleted", body = schema::Envelope<schema::DeletedCount>))
)]
async fn remove(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Body(input): Body<schema::DncDeleteRequest>,
) -> ApiResult {
    let ids = input.ids()?;
    let deleted = state.store.delete_dnc(ws, ids).await?;
    ok(schema::DeletedCount {
        deleted_count: deleted,
    })
}
