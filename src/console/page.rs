//! The console's page frame and its error pages.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::session::Session;
use axum::http::Uri;
use serde::de::DeserializeOwned;

use crate::domain::format_time;
use crate::error::ApiError;
use crate::store::Principal;

/// A whole page: the frame (title, navigation, sign-out) around `body`.
pub struct Shell {
    title: String,
    nav: Option<Markup>,
    body: Markup,
    refresh: Option<u32>,
}

impl Shell {
    /// A page of a signed-in browser; `current` is the navigation entry it
    /// belongs to.
    pub fn new(title: &str, s: &Session, current: Option<&str>, body: Markup) -> Self {
        let platform = matches!(s.row.principal, Principal::User { .. });
        let nav = html! {
            nav aria-label="Main" {
                a.brand href="/app" { "leadflow" }
                @for (href, label) in [("/app/leads", "Leads"), ("/app/campaigns", "Campaigns"), ("/app/import", "Import"), ("/app/dnc", "Do-not-contact"), ("/app/settings", "Settings")] {
                    @if current == Some(label) {
                        a href=(href) aria-current="page" { (label) }
                    } @else {
                        a href=(href) { (label) }
                    }
                }
                span.spacer {}
                @if platform {
                    a href="/app/workspaces" { "Switch workspace" }
                }
                form.inline method="post" action="/app/sign-out" {
                    input type="hidden" name="csrf" value=(s.row.csrf);
                    button.link type="submit" { "Sign out" }
                }
            }
        };
        Self::frame(title, Some(nav), body)
    }

    /// A page with no navigation (signing in, errors).
    pub fn bare(title: &str, body: Markup) -> Self {
        Self::frame(title, None, body)
    }

    fn frame(title: &str, nav: Option<Markup>, body: Markup) -> Self {
        Shell {
            title: title.to_owned(),
            nav,
            body,
            refresh: None,
        }
    }

    /// The page reloads itself every `secs` (a job's progress), with no
    /// script.
    pub fn refreshing(mut self, secs: u32) -> Self {
        self.refresh = Some(secs);
        self
    }

    /// The page of `job`: it reloads every second while the job is queued
    /// or running.
    pub fn following(self, job: &crate::store::jobs::JobRow) -> Self {
        if job_running(job) {
            self.refreshing(1)
        } else {
            self
        }
    }

    fn render(self) -> Markup {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    @if let Some(secs) = self.refresh { meta http-equiv="refresh" content=(secs); }
                    title { (self.title) " · leadflow" }
                    link rel="stylesheet" href="/app/assets/app.css";
                    link rel="icon" href="data:,";
                }
                body {
                    @if let Some(nav) = self.nav { header { (nav) } }
                    main { (self.body) }
                }
            }
        }
    }
}

impl IntoResponse for Shell {
    fn into_response(self) -> Response {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            self.render().into_string(),
        )
            .into_response()
    }
}

/// A request the console refuses or cannot serve, as a page.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

impl Failure {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        Failure {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many requests for this workspace; try again in {retry_after} s"),
            )
        }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        let status = e.code().status();
        let message = if status.is_server_error() {
            tracing::error!(error = %e, "console request failed");
            "Something went wrong on the server; try again".to_owned()
        } else {
            e.to_string()
        };
        Self::new(status, message)
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error").to_owned();
        let body = html! {
            h1 { (title) }
            p.error role="alert" { (self.message) }
            p { a href="/app" { "Back to the console" } }
        };
        let mut res = (self.status, Shell::bare(&title, body)).into_response();
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

// ---- Shared by the pages ----------------------------------------------------

/// Whether `job` is still to finish (queued or running).
fn job_running(job: &crate::store::jobs::JobRow) -> bool {
    matches!(job.status.as_str(), "queued" | "running")
}

/// A queued or running job's progress: "`doing`: done of total `unit`.",
/// a bar labelled `label`, that the page follows the job, and a button
/// that stops it (the API's cancel: what it has done stays).
pub fn job_progress(
    job: &crate::store::jobs::JobRow,
    csrf: &str,
    doing: &str,
    unit: &str,
    label: &str,
) -> Markup {
    let total = job.total.unwrap_or(0);
    html! {
        p { (doing) ": " (grouped(job.done)) " of " (grouped(total)) " " (unit) "." }
        progress value=(job.done) max=(total.max(1)) aria-label=(label) { (job.done) " of " (total) }
        p.muted { "This page follows it; you can leave it and come back." }
        form method="post" action=(format!("/app/jobs/{}/cancel", job.id())) {
            input type="hidden" name="csrf" value=(csrf);
            button.danger type="submit" { "Stop" }
            " What is done by then stays done."
        }
    }
}

/// Why a job did not succeed: "`what` was stopped." or "`what` failed:
/// `error`".
pub fn job_ended(what: &str, status: &str, error: Option<&str>) -> String {
    match (status, error) {
        ("cancelled", _) => format!("{what} was stopped."),
        (status, Some(e)) => format!("{what} {status}: {e}"),
        (status, None) => format!("{what} {status}."),
    }
}

/// The console's page of a job: its import's or its add's.
pub fn job_path(job: &crate::store::jobs::JobRow) -> String {
    match job.kind.as_str() {
        crate::store::jobs::IMPORT_LEADS => format!("/app/import/{}", job.id()),
        crate::store::jobs::ADD_LEADS => format!("/app/leads/add/{}", job.id()),
        _ => "/app".to_owned(),
    }
}

/// One of the console's scripts (compiled in), as the browser loads it.
pub fn script(source: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        source,
    )
        .into_response()
}

/// The query string without its empty fields (what a search form sends
/// for the filters left blank), as a type the API's handlers read.
pub fn query<T: DeserializeOwned>(pairs: &[(String, String)]) -> Result<T, ApiError> {
    let kept: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k.as_str(), v.trim()))
        .collect();
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish();
    let uri: Uri = format!("/?{encoded}")
        .parse()
        .map_err(|_| ApiError::validation("Invalid query string"))?;
    axum::extract::Query::<T>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::validation(e.body_text()))
}

/// The request's query string as pairs.
pub fn pairs(uri: &Uri) -> Vec<(String, String)> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// `1234567` as `1,234,567`.
pub fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// The day of a time, `2026-12-05`.
pub fn day(ms: i64) -> String {
    format_time(ms).chars().take(10).collect()
}

/// A form field's value ("" when absent).
pub fn form_value<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Every value of a repeated form field (ticked boxes).
pub fn form_values<'a>(
    form: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    form.iter()
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The ID in a console path, or a 404 naming `what`.
pub fn object_id(id: &str, what: &str) -> Result<crate::domain::id::ObjectId, Failure> {
    crate::domain::id::ObjectId::parse(id)
        .ok_or_else(|| Failure::not_found(format!("{what} not found")))
}

/// The campaigns leads can be added to (not archived), newest first, for
/// the forms that offer them.
pub async fn open_campaigns(
    state: &crate::state::AppState,
    ws: crate::store::WorkspaceRef,
) -> Result<Vec<crate::store::CampaignRow>, ApiError> {
    use crate::domain::campaign::CampaignStatus;
    let open = [
        CampaignStatus::Draft,
        CampaignStatus::Active,
        CampaignStatus::Paused,
        CampaignStatus::Completed,
    ];
    let all = crate::store::PageRequest {
        limit: 100,
        cursor: None,
    };
    Ok(state
        .store
        .list_campaigns(ws, &open, None, all)
        .await?
        .items)
}
