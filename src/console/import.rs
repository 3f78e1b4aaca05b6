//! Importing a CSV file: the form (with the column mapping the server
//! detects, shown and changeable by `import.js`), the import as a job (the
//! API's asynchronous import), its progress, and then its counts and
//! failed rows, with a download of them.

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::page::{
    Failure, Shell, grouped, job_ended, job_progress, object_id, open_campaigns, script,
};
use super::session::Signed;
use crate::domain::import::{Field, MAX_REQUEST_BYTES, detect_delimiter};
use crate::domain::lead::TEXT_FIELDS;
use crate::error::ApiError;
use crate::routes::import::{Imported, import_from};
use crate::routes::schema::ImportResult;
use crate::state::AppState;
use crate::store::jobs::{IMPORT_LEADS, JobRow};

/// The mapping script, compiled in.
const SCRIPT: &str = include_str!("import.js");

pub fn router() -> Router<AppState> {
    Router::new()
        // The upload may be as large as the API's asynchronous import.
        .route(
            "/app/import",
            get(page)
                .post(upload)
                .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES)),
        )
        .route("/app/import/columns", post(columns))
        .route("/app/import/{id}", get(progress))
        .route("/app/import/{id}/failed.csv", get(failed_csv))
        .route("/app/assets/import.js", get(|| async { script(SCRIPT) }))
}

async fn page(State(state): State<AppState>, signed: Signed) -> Result<Response, Failure> {
    form_page(&state, &signed, None, StatusCode::OK).await
}

async fn form_page(
    state: &AppState,
    signed: &Signed,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, Failure> {
    let campaigns = open_campaigns(state, signed.ws).await?;
    let body = html! {
        h1 { "Import leads from a CSV file" }
        p { "UTF-8, the first line naming the columns; up to 1,000,000 rows and 500 MiB. Common headers (Email, First Name, Company, …) are recognised; after choosing the file you can change where each column goes." }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form #import-form method="post" action="/app/import" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(signed.session.row.csrf);
            input type="hidden" name="mapping" value="";
            div.field {
                label for="file" { "CSV file" }
                input #file type="file" name="file" accept=".csv,text/csv" required;
            }
            div #mapping-area aria-live="polite" {}
            div.field {
                label for="campaignId" { "Also add the leads to a campaign" }
                select #campaignId name="campaignId" {
                    option value="" { "no campaign" }
                    @for c in &campaigns { option value=(c.id().to_string()) { (c.name) } }
                }
            }
            div.field {
                label for="tag" { "Tag every lead (optional)" }
                input #tag name="tag" maxlength="64";
            }
            div.field {
                label for="skipDuplicates" { "Leads that exist already" }
                select #skipDuplicates name="skipDuplicates" {
                    option value="true" { "leave them as they are" }
                    option value="false" { "update them with the file's values" }
                }
            }
            button type="submit" { "Import" }
        }
        script src="/app/assets/import.js" defer {}
    };
    Ok((
        status,
        Shell::new("Import", &signed.session, Some("Import"), body),
    )
        .into_response())
}

/// The file's header line, for [`columns`].
#[derive(Deserialize)]
struct Header {
    header: String,
}

/// Where each column of a header line goes by default (the fields the
/// import recognises), and every field a column can go to.
async fn columns(signed: Signed, headers: HeaderMap, Json(h): Json<Header>) -> Response {
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Err(f) = signed.session.check_csrf(token) {
        return f.into_response();
    }
    let line = h.header.lines().next().unwrap_or("");
    let delimiter = detect_delimiter(line.as_bytes());
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .from_reader(line.as_bytes());
    let names: Vec<String> = reader
        .records()
        .next()
        .and_then(Result::ok)
        .map(|r| {
            r.iter()
                .map(|c| c.trim_start_matches('\u{feff}').trim().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let columns: Vec<Value> = names
        .iter()
        .map(|n| json!({"name": n, "field": Field::guess(n).map(|f| f.name())}))
        .collect();
    let mut fields = vec!["email".to_owned()];
    fields.extend(TEXT_FIELDS.iter().map(|(f, _)| (*f).to_owned()));
    fields.extend(["tags".to_owned(), "emailVerificationResult".to_owned()]);
    Json(json!({"columns": columns, "fields": fields})).into_response()
}

async fn upload(
    State(state): State<AppState>,
    signed: Signed,
    request: Request,
) -> Result<Response, Failure> {
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::validation(format!("Invalid form: {}", e.body_text())))?;
    // The token comes first (it is the form's first field).
    let first = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::validation(format!("Invalid form: {}", e.body_text())))?;
    let token = match first {
        Some(f) if f.name() == Some("csrf") => f.text().await.unwrap_or_default(),
        _ => String::new(),
    };
    signed.session.check_csrf(&token)?;
    match import_from(&state, signed.ws, multipart, true, true).await {
        Ok(Imported::Queued(job)) => {
            Ok(Redirect::to(&format!("/app/import/{}", job.id())).into_response())
        }
        Ok(Imported::Done(_)) => Ok(Redirect::to("/app/leads").into_response()),
        Err(e) if !e.code().status().is_server_error() => {
            let status = e.code().status();
            form_page(&state, &signed, Some(&e.to_string()), status).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The import job `id` of the workspace.
async fn import_job(state: &AppState, signed: &Signed, id: &str) -> Result<JobRow, Failure> {
    let id = object_id(id, "Import")?;
    let job = state.store.get_job(signed.ws, id).await?;
    if job.kind != IMPORT_LEADS {
        return Err(Failure::not_found("Import not found"));
    }
    Ok(job)
}

async fn progress(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let job = import_job(&state, &signed, &id).await?;
    let body = html! {
        h1 { "Import" }
        @match job.status.as_str() {
            "queued" | "running" => { (job_progress(&job, &signed.session.row.csrf, "Importing", "rows", "Rows imported")) }
            "succeeded" => { (counts(&job)) }
            status => {
                p.error role="alert" { (job_ended("The import", status, job.error.as_deref())) }
                p { (grouped(job.done)) " rows were imported before it stopped." }
            }
        }
        p { a href="/app/import" { "Import another file" } " · " a href="/app/leads" { "The leads" } }
    };
    Ok(Shell::new("Import", &signed.session, Some("Import"), body)
        .following(&job)
        .into_response())
}

/// A finished import's counts and failed rows.
fn counts(job: &JobRow) -> Markup {
    let r = ImportResult::of_job(job.imported());
    html! {
        ul.counts {
            li { strong { (grouped(r.rows as i64)) } " rows read" }
            li { strong { (grouped(r.imported as i64)) } " leads created" }
            li { strong { (grouped(r.updated as i64)) } " updated" }
            li { strong { (grouped(r.skipped as i64)) } " skipped (existing, or repeated in the file)" }
            li { strong { (grouped(r.failed as i64)) } " rows failed" }
            @if let Some(c) = &r.campaign {
                li { strong { (grouped(c.added as i64)) } " added to the campaign, " (grouped(c.skipped as i64)) " not (already in it, or on the do-not-contact list)" }
            }
        }
        @if !r.errors.is_empty() {
            h2 { "Failed rows" }
            p { a href=(format!("/app/import/{}/failed.csv", job.id())) download { "Download the failed rows (CSV)" }
                @if r.failed > r.errors.len() as u64 { " · the first " (r.errors.len()) " are listed" } }
            table {
                thead { tr { th scope="col" { "Line" } th scope="col" { "Email" } th scope="col" { "Why" } } }
                tbody {
                    @for e in &r.errors {
                        tr { td { (e.line) } td { (e.email.as_deref().unwrap_or("")) } td { (e.error) } }
                    }
                }
            }
        }
    }
}

async fn failed_csv(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let job = import_job(&state, &signed, &id).await?;
    let r = ImportResult::of_job(job.imported());
    let mut w = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| Failure::from(ApiError::Internal(e.into()));
    w.write_record(["line", "email", "error"]).map_err(io)?;
    for e in &r.errors {
        // A cell a spreadsheet would read as a formula is quoted as text.
        let safe = |s: &str| {
            if s.starts_with(['=', '+', '-', '@']) {
                format!("'{s}")
            } else {
                s.to_owned()
            }
        };
        w.write_record([
            e.line.to_string(),
            safe(e.email.as_deref().unwrap_or("")),
            safe(&e.error),
        ])
        .map_err(io)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Failure::from(ApiError::Internal(anyhow::anyhow!("{e}"))))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"failed-rows-{}.csv\"", job.id()),
            ),
        ],
        bytes,
    )
        .into_response())
}
