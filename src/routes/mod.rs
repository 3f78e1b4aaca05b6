//! HTTP routes, one module per resource, merged here so every route can be
//! read at a glance.

pub(crate) mod campaign_leads;
mod campaigns;
pub(crate) mod dnc;
mod docs;
mod events;
mod health;
pub(crate) mod import;
pub(crate) mod jobs;
mod leads;
pub mod schema;
mod webhooks;
mod workspaces;

pub(crate) use workspaces::may_replay;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::domain::filter::{LeadFilter, MAX_LEAD_IDS};
use crate::domain::id::ObjectId;
use crate::domain::json::{Flag, Ids, flag};
use crate::domain::lead::FieldError;
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
        .merge(events::router())
        .merge(webhooks::router())
        .merge(jobs::router())
        .merge(workspaces::router());
    let (router, doc) = OpenApiRouter::with_openapi(docs::ApiDoc::openapi())
        .nest("/v1", v1)
        .split_for_parts();
    (router, doc)
}

/// The OpenAPI 3.1 document, as `/openapi.json` serves it.
pub fn openapi() -> serde_json::Value {
    docs::document(api().1)
}

pub fn router() -> Router<AppState> {
    let (router, doc) = api();
    router
        .merge(docs::router(docs::document(doc)))
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

/// A bulk operation's target: IDs, or everything (optionally narrowed by
/// lead filters, less exclusions).
pub enum Target {
    Ids(Vec<ObjectId>),
    All {
        filter: Option<LeadFilter>,
        exclude: Vec<ObjectId>,
    },
}

/// A bulk operation's target as a request gives it: `ids` under the name
/// `ids_field`, or `all: true` under `all_field` with optional `filters` (at
/// least one criterion) and `excludeIds`; exactly one of the two.
pub struct TargetInput<'a> {
    pub ids_field: &'a str,
    pub ids: Option<Ids<MAX_LEAD_IDS>>,
    pub all_field: &'a str,
    pub all: Option<Flag>,
    pub filters: Option<LeadFilter>,
    pub exclude: Option<Ids<MAX_LEAD_IDS>>,
}

impl TargetInput<'_> {
    pub fn target(self) -> Result<Target, ApiError> {
        let (ids_field, all_field) = (self.ids_field, self.all_field);
        match (self.ids, flag(self.all, false)) {
            (Some(_), true) => Err(ApiError::validation(format!(
                "Provide {ids_field} or {all_field}: true, not both"
            ))),
            (None, false) => Err(ApiError::validation(format!(
                "Provide {ids_field} or {all_field}: true"
            ))),
            (Some(ids), false) => {
                if self.filters.is_some() || self.exclude.is_some() {
                    return Err(ApiError::validation(format!(
                        "filters and excludeIds go with {all_field}: true"
                    )));
                }
                if ids.0.is_empty() {
                    return Err(ApiError::field(FieldError::new(
                        ids_field,
                        "must not be empty",
                    )));
                }
                Ok(Target::Ids(ids.0))
            }
            (None, true) => {
                if self.filters.as_ref().is_some_and(LeadFilter::is_empty) {
                    return Err(ApiError::field(FieldError::new(
                        "filters",
                        "must hold at least one criterion",
                    )));
                }
                Ok(Target::All {
                    filter: self.filters,
                    exclude: self.exclude.map(|e| e.0).unwrap_or_default(),
                })
            }
        }
    }
}
