//! `GET /v1/health`: 200 while the database answers, 503 otherwise.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::json;

use super::{ApiResult, ok};
use crate::error::ApiError;
use crate::startup::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

async fn health(State(state): State<AppState>) -> ApiResult {
    state
        .store
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(anyhow::Error::new(e)))?;
    ok(json!({"status": "ok", "database": "ok", "version": env!("CARGO_PKG_VERSION")}))
}
