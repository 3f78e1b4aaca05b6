//! The event log: what changed in the workspace, in commit order, for
//! integrations that poll instead of receiving webhooks.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiResult, schema};
use crate::error::ApiError;
use crate::extract::{Query, Tenant};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[utoipa::path(
    get, path = "/events", tag = "Events", operation_id = "listEvents", summary = "Read the event log",
    description = "The workspace's events after a cursor, oldest first, in the order their changes committed: a reader that passes each page's `nextCursor` as the next `after` sees every event exactly once, with no gaps. Events are kept 30 days (`--event-retention-days`).",
    params(schema::EventQuery),
    responses((status = 200, description = "A page of events", body = schema::EventPage))
)]
async fn list(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Query(query): Query<schema::EventQuery>,
) -> ApiResult {
    let (after, types, limit) = query.parse().map_err(ApiError::field)?;
    // What has committed is numbered before it is read.
    state.store.number_events(ws).await?;
    let (rows, has_more) = state.store.list_events(ws, after, types, limit).await?;
    let next_cursor = rows.last().map_or(after, |e| e.seq).to_string();
    Ok(axum::response::IntoResponse::into_response(Json(
        schema::EventPage {
            success: true,
            data: rows.iter().map(schema::Event::new).collect(),
            pagination: schema::EventPagination {
                limit: limit as u64,
                has_more,
                next_cursor,
            },
        },
    )))
}
