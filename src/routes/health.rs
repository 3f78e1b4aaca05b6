//! `GET /v1/health`: 200 while the database answers, 503 otherwise.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiResult, ok, schema};
use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health))
}

#[utoipa::path(
    get, path = "/health", tag = "Health", operation_id = "health", summary = "Health check",
    description = "No key needed. 200 while the database answers, 503 otherwise.",
    security(()),
    responses((status = 200, description = "Healthy", body = schema::Envelope<schema::Health>))
)]
async fn health(State(state): State<AppState>) -> ApiResult {
    state
        .store
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(anyhow::Error::new(e)))?;
    ok(schema::Health {
        status: "ok".into(),
        database: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}
