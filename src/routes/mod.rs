//! HTTP routes, one module per resource, merged here so every route can be
//! read at a glance.

mod campaign_leads;
mod campaigns;
mod dnc;
mod health;
mod leads;
mod workspaces;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::domain::id::ObjectId;
use crate::error::ApiError;
use crate::startup::AppState;
use crate::store::Page;

pub fn router() -> Router<AppState> {
    let v1 = Router::new()
        .merge(health::router())
        .merge(leads::router())
        .merge(campaigns::router())
        .merge(campaign_leads::router())
        .merge(dnc::router())
        .merge(workspaces::router());
    Router::new()
        .nest("/v1", v1)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("No such route".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

pub type ApiResult = Result<Response, ApiError>;

/// 200 with the success envelope.
pub fn ok(data: Value) -> ApiResult {
    Ok(Json(json!({"success": true, "data": data})).into_response())
}

/// 201 with the success envelope.
pub fn created(data: Value) -> ApiResult {
    Ok((
        StatusCode::CREATED,
        Json(json!({"success": true, "data": data})),
    )
        .into_response())
}

/// 200 with a page of items and its pagination block.
pub fn page<T>(
    page: Page<T>,
    limit: usize,
    id: impl Fn(&T) -> ObjectId,
    render: impl Fn(&T) -> Value,
) -> ApiResult {
    let next = if page.has_more {
        page.items.last().map(|last| id(last).to_string())
    } else {
        None
    };
    let data: Vec<Value> = page.items.iter().map(render).collect();
    Ok(Json(json!({
        "success": true,
        "data": data,
        "pagination": {"limit": limit, "total": page.total, "hasMore": page.has_more, "nextCursor": next},
    }))
    .into_response())
}

/// `{"_id", "deleted": true}`.
pub fn deleted(id: ObjectId) -> ApiResult {
    ok(json!({"_id": id, "deleted": true}))
}

/// The body as a JSON object, or 400.
pub fn object(body: &Value) -> Result<&serde_json::Map<String, Value>, ApiError> {
    body.as_object()
        .ok_or_else(|| ApiError::validation("Body must be a JSON object"))
}

/// An optional boolean field: absent or null is `default`.
pub fn bool_field(
    obj: &serde_json::Map<String, Value>,
    name: &str,
    default: bool,
) -> Result<bool, ApiError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::field(crate::domain::lead::FieldError::new(
            name,
            "must be true or false",
        ))),
    }
}
