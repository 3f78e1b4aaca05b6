//! Background jobs: follow them, list them, cancel them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiResult, ok, page, schema};
use crate::extract::{Query, Tenant, path_id};
use crate::state::AppState;
use crate::store::jobs::JobRow;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(read, cancel))
}

/// 202 with the job's ID and its `Location`.
pub fn accepted(job: &JobRow) -> ApiResult {
    let id = job.id().to_string();
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/v1/jobs/{id}"))],
        Json(schema::Envelope {
            success: true,
            data: schema::JobAccepted {
                job_id: id,
                status: job.status.clone(),
            },
        }),
    )
        .into_response())
}

#[utoipa::path(
    get, path = "/jobs", tag = "Jobs", operation_id = "listJobs", summary = "List jobs",
    params(schema::PageQuery),
    responses((status = 200, description = "A page of jobs, newest first", body = schema::ListEnvelope<schema::Job>))
)]
async fn list(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Query(paging): Query<schema::PageQuery>,
) -> ApiResult {
    let req = paging.page();
    let result = state.store.list_jobs(ws, req).await?;
    page(result, req.limit, |j| j.id(), schema::Job::new)
}

#[utoipa::path(
    get, path = "/jobs/{id}", tag = "Jobs", operation_id = "getJob", summary = "Get a job",
    description = "Its status (queued, running, succeeded, failed, cancelled), its progress and, once it has succeeded, the answer of the synchronous call.",
    params(("id" = String, Path, description = "Job ID (24 hex characters)")),
    responses((status = 200, description = "The job", body = schema::Envelope<schema::Job>))
)]
async fn read(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
) -> ApiResult {
    let job = state.store.get_job(ws, path_id(&id, "Job")?).await?;
    ok(schema::Job::new(&job))
}

#[utoipa::path(
    delete, path = "/jobs/{id}", tag = "Jobs", operation_id = "cancelJob", summary = "Cancel a job",
    description = "A queued job never starts; a running one stops after the chunk it is doing (what whole chunks did stays). 409 once it has finished.",
    params(("id" = String, Path, description = "Job ID (24 hex characters)")),
    responses((status = 200, description = "The job, cancelled", body = schema::Envelope<schema::Job>))
)]
async fn cancel(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Path(id): Path<String>,
) -> ApiResult {
    let job = state.store.cancel_job(ws, path_id(&id, "Job")?).await?;
    ok(schema::Job::new(&job))
}
