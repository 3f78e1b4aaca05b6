//! HTTP routes, one module per resource, merged here so every route can be
//! read at a glance.

pub(crate) mod campaign_leads;
mod campaigns;
mod dnc;
mod docs;
mod health;
pub(crate) mod import;
mod leads;
pub mod schema;
mod workspaces;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::domain::id::ObjectId;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Page;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Every route of the API, with the OpenAPI document collected from the
/// handlers' annotations.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let v1 = OpenApiRouter::new()
        .merge(health::router())
        .merge(leads::router())
        .merge(import::router())
        .merge(campaigns::router())
        .merge(campaign_leads::router())
        .merge(dnc::router())
        .merge(workspaces::router());
    let (router, mut doc) = OpenApiRouter::with_openapi(docs::ApiDoc::openapi())
        .nest("/v1", v1)
        .split_for_parts();
    docs::finish(&mut doc);
    (router, doc)
}

/// The OpenAPI 3.1 document, as `/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

pub fn router() -> Router<AppState> {
    let (router, doc) = api();
    router
        .merge(docs::router(doc))
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
pub fn ok(data: impl serde::Serialize) -> ApiResult {
    Ok(Json(schema::Envelope {
        success: true,
        data,
    })
    .into_response())
}

/// 201 with the success envelope.
pub fn created(data: impl serde::Serialize) -> ApiResult {
    Ok((
        StatusCode::CREATED,
        Json(schema::Envelope {
            success: true,
            data,
        }),
    )
        .into_response())
}

/// 200 with a page of items and its pagination block.
pub fn page<T, R: serde::Serialize>(
    page: Page<T>,
    limit: usize,
    id: impl Fn(&T) -> ObjectId,
    render: impl Fn(&T) -> R,
) -> ApiResult {
    let next_cursor = if page.has_more {
        page.items.last().map(|last| id(last).to_string())
    } else {
        None
    };
    Ok(Json(schema::ListEnvelope {
        success: true,
        data: page.items.iter().map(render).collect(),
        pagination: schema::Pagination {
            limit: limit as u64,
            total: page.total as u64,
            has_more: page.has_more,
            next_cursor,
        },
    })
    .into_response())
}

/// `{"_id", "deleted": true}`.
pub fn deleted(id: ObjectId) -> ApiResult {
    ok(schema::Deleted {
        id: id.to_string(),
        deleted: true,
    })
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

/// A bulk operation's target: IDs, or everything (optionally narrowed by
/// lead filters, less exclusions).
pub enum Target {
    Ids(Vec<ObjectId>),
    All {
        filter: Option<crate::domain::filter::LeadFilter>,
        exclude: Vec<ObjectId>,
    },
}

/// Parses `ids_field` (a non-empty ID list) or `all_field: true` with
/// optional `filters` (at least one criterion) and `excludeIds`; exactly one
/// of the two.
pub fn parse_target(
    obj: &serde_json::Map<String, Value>,
    ids_field: &str,
    all_field: &str,
) -> Result<Target, ApiError> {
    use crate::domain::filter::{LeadFilter, MAX_LEAD_IDS, parse_ids};
    use crate::domain::lead::FieldError;
    let ids = obj.get(ids_field).filter(|v| !v.is_null());
    let all = bool_field(obj, all_field, false)?;
    let filters = obj.get("filters").filter(|v| !v.is_null());
    let exclude = obj.get("excludeIds").filter(|v| !v.is_null());
    match (ids, all) {
        (Some(_), true) => Err(ApiError::validation(format!(
            "Provide {ids_field} or {all_field}: true, not both"
        ))),
        (None, false) => Err(ApiError::validation(format!(
            "Provide {ids_field} or {all_field}: true"
        ))),
        (Some(ids), false) => {
            if filters.is_some() || exclude.is_some() {
                return Err(ApiError::validation(format!(
                    "filters and excludeIds go with {all_field}: true"
                )));
            }
            let ids = parse_ids(ids, ids_field, MAX_LEAD_IDS)?;
            if ids.is_empty() {
                return Err(ApiError::field(FieldError::new(
                    ids_field,
                    "must not be empty",
                )));
            }
            Ok(Target::Ids(ids))
        }
        (None, true) => {
            let filter = match filters {
                Some(f) => {
                    let f = LeadFilter::from_json(f, "filters")?;
                    if f.is_empty() {
                        return Err(ApiError::field(FieldError::new(
                            "filters",
                            "must hold at least one criterion",
                        )));
                    }
                    Some(f)
                }
                None => None,
            };
            let exclude = exclude
                .map(|e| parse_ids(e, "excludeIds", MAX_LEAD_IDS))
                .transpose()?
                .unwrap_or_default();
            Ok(Target::All { filter, exclude })
        }
    }
}
