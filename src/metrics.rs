//! `GET /metrics` in Prometheus's text format: requests by route, method
//! and status, request latency histograms, leads created and added to
//! campaigns, and database connection pool use.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process's recorder, installed on first use.
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                &LATENCY_BUCKETS,
            )
            .expect("valid buckets")
            .install_recorder()
            .expect("the only metrics recorder of the process")
    })
}

/// Makes sure the recorder exists before the first request counts.
pub fn init() {
    handle();
}

/// Counts every request by its route template (not its concrete path, so
/// IDs never multiply the series), method and status, and times it.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!("http_request_duration_seconds", "route" => route.clone(), "method" => method.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("http_requests_total", "route" => route, "method" => method, "status" => status)
        .increment(1);
    response
}

/// Leads created (by create, bulk, import or add-leads by email).
pub fn leads_created(n: u64) {
    metrics::counter!("leadflow_leads_created_total").increment(n);
}

/// Leads added to campaigns (by add-leads or an import with a campaign).
pub fn leads_added(n: u64) {
    metrics::counter!("leadflow_leads_added_total").increment(n);
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> Response {
    let pool = state.store.pool_status();
    metrics::gauge!("leadflow_db_pool_connections", "state" => "in_use").set(pool.in_use as f64);
    metrics::gauge!("leadflow_db_pool_connections", "state" => "idle").set(pool.idle as f64);
    metrics::gauge!("leadflow_db_pool_max_connections").set(pool.max as f64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle().render(),
    )
        .into_response()
}
