//! `POST /v1/leads/import/csv`: a spreadsheet export in, leads out.
//!
//! The file is parsed as it arrives: each row becomes a lead object (the
//! shape `POST /v1/leads` takes) and goes through the same validation, so
//! only the validated leads are held, never the raw upload. When the
//! `file` part comes before `mapping`, the file is spooled to a temporary
//! file first, since rows cannot be read without knowing their columns.
//! Nothing is written until the whole form has been read; then one store
//! call imports the leads (and adds them to the campaign) in one
//! transaction.
//!
//! With `async=true` the file (up to [`MAX_ASYNC_ROWS`] rows) is always
//! spooled, then read into the import job's staged rows a batch at a time;
//! the job is queued once the whole file has been read (a refused file
//! leaves nothing behind), and imports the rows in chunks.

mod lines;

use std::collections::HashSet;
use std::io::SeekFrom;

use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use bytes::Bytes;
use csv_async::{AsyncReaderBuilder, ByteRecord};
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::StreamReader;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::leads::entry_message;
use super::{ApiResult, ok, schema};
use crate::domain::email::Email;
use crate::domain::id::ObjectId;
use crate::domain::import::{
    MAX_ASYNC_FILE_BYTES, MAX_ASYNC_ROWS, MAX_FILE_BYTES, MAX_REQUEST_BYTES, MAX_ROWS, Mapping,
    delimiter_name, detect_delimiter, parse_mapping,
};
use crate::domain::lead::{FieldError, LeadFields, parse_tag};
use crate::error::ApiError;
use crate::extract::Tenant;
use crate::state::AppState;
use crate::store::AddOptions;
use crate::store::jobs::{IMPORT_LEADS, StagedRow};
use lines::Lines;

/// The longest header line read ahead for its separator.
const MAX_HEADER_LINE: u64 = 1024 * 1024;
/// Most columns a file may have.
pub const MAX_COLUMNS: usize = 1_000;
/// Most refused rows an answer lists (`failed` counts them all).
pub const MAX_ROW_ERRORS: usize = 1_000;
/// The largest text part (`mapping`, `tag`, …).
const MAX_TEXT_PART: usize = 256 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_csv))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
}

type Given = Vec<(String, Option<String>)>;

/// The form, part by part.
#[derive(Default)]
struct Form {
    mapping: Option<Given>,
    tag: Option<String>,
    campaign: Option<ObjectId>,
    skip_duplicates: Option<bool>,
    skip_if_in_other_campaign: Option<bool>,
    run_async: Option<bool>,
    file: Option<Upload>,
}

impl Form {
    /// A text part of the form, checked.
    fn set(&mut self, name: &str, text: &str, force_async: bool) -> Result<(), ApiError> {
        match name {
            "async" => self.run_async = Some(form_flag(name, text)? || force_async),
            "mapping" => {
                let given = parse_mapping(text).map_err(|m| mapping_error(&m))?;
                self.mapping = Some(given);
            }
            "tag" => {
                let tag = parse_tag(&Value::from(text.trim()))
                    .map_err(|m| ApiError::field(FieldError::new("tag", m)))?;
                self.tag = Some(tag);
            }
            "campaignId" => {
                self.campaign = Some(ObjectId::parse(text.trim()).ok_or_else(|| {
                    ApiError::field(FieldError::new(
                        "campaignId",
                        "must be an ID of 24 hex characters",
                    ))
                })?);
            }
            "skipDuplicates" => self.skip_duplicates = Some(form_flag(name, text)?),
            "skipIfInOtherCampaign" => {
                self.skip_if_in_other_campaign = Some(form_flag(name, text)?);
            }
            other => {
                return Err(ApiError::validation(format!(
                    "Unknown form part '{other}' (expected file, mapping, tag, campaignId, skipDuplicates, skipIfInOtherCampaign, async)"
                )));
            }
        }
        Ok(())
    }
}

enum Upload {
    /// Parsed while it arrived (the mapping was known, and that the
    /// import is synchronous).
    Parsed(Rows),
    /// Spooled (with its size), to be read once the form is known.
    Spooled(tokio::fs::File, usize),
}

/// The rows of a file: valid leads (first occurrence of each email),
/// repeats, and the rows that could not be imported.
#[derive(Default)]
pub(crate) struct Rows {
    /// The separator the file was read with.
    pub delimiter: u8,
    pub count: usize,
    pub leads: Vec<(Email, LeadFields)>,
    pub repeats: u64,
    /// Rows refused, all of them.
    pub failed: u64,
    /// The first [`MAX_ROW_ERRORS`] of them, with their lines.
    pub errors: Vec<schema::ImportRowError>,
}

impl Rows {
    fn fail(&mut self, line: u64, email: Option<&str>, message: &str) {
        self.failed += 1;
        if self.errors.len() < MAX_ROW_ERRORS {
            self.errors.push(row_error(line, email, message));
        }
    }
}

#[utoipa::path(
    post, path = "/leads/import/csv", tag = "Leads", operation_id = "importLeadsCsv", summary = "Import leads from a CSV file",
    description = "Up to 50,000 rows and 50 MiB. A bad row is reported with its line number and the rest proceed; a file that is not CSV, a mapping to an unknown field or column, or no email column is a 400 and nothing is written. With `campaignId` every lead of the file is added to the campaign by the add-leads rules, in the same transaction.\n\nWith `async=true`, up to 1,000,000 rows and 500 MiB: the file is read and checked first (the same 400s, nothing written), then the answer is 202 with a job (`GET /v1/jobs/{id}`) that imports the rows in chunks; its `data` is this answer, with `importedLeadIds` listing the first 5,000.",
    request_body(content = schema::ImportForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Counts", body = schema::Envelope<schema::ImportResult>),
        (status = 202, description = "With `async=true`: the import job, queued", body = schema::Envelope<schema::JobAccepted>, headers(("Location" = String, description = "The job: /v1/jobs/{id}")))
    )
)]
async fn import_csv(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    request: Request,
) -> ApiResult {
    let multipart = multipart_form(request).await?;
    match import_from(&state, ws, multipart, false, false).await? {
        Imported::Done(result) => ok(result),
        Imported::Queued(job) => super::jobs::accepted(&job),
    }
}

/// What an import did: imported the file, or queued it as a job.
pub(crate) enum Imported {
    Done(schema::ImportResult),
    Queued(crate::store::jobs::JobRow),
}

/// Reads the rest of an import form and imports the file. The console
/// asks for a job always (`force_async`) and sends its blank fields as
/// empty parts (`blank_is_absent`), as a browser does.
pub(crate) async fn import_from(
    state: &AppState,
    ws: crate::store::WorkspaceRef,
    mut multipart: Multipart,
    force_async: bool,
    blank_is_absent: bool,
) -> Result<Imported, ApiError> {
    let mut form = Form {
        run_async: force_async.then_some(true),
        ..Form::default()
    };
    let mut seen = HashSet::new();
    while let Some(field) = multipart.next_field().await.map_err(broken_form)? {
        let name = field.name().unwrap_or_default().to_owned();
        if !seen.insert(name.clone()) {
            return Err(ApiError::validation(format!(
                "The form part '{name}' is given more than once"
            )));
        }
        if name == "file" {
            check_file_type(&field)?;
            form.file = Some(match (&form.mapping, form.run_async) {
                (Some(given), Some(false)) => {
                    let reader = StreamReader::new(checked(field, MAX_FILE_BYTES));
                    Upload::Parsed(read_csv(reader, Some(given)).await?)
                }
                _ => {
                    let (file, size) = spool(field).await?;
                    Upload::Spooled(file, size)
                }
            });
            continue;
        }
        let text = text_part(field, &name).await?;
        if blank_is_absent && text.trim().is_empty() {
            continue;
        }
        form.set(&name, &text, force_async)?;
    }

    let rows = match form.file.take() {
        None => {
            return Err(ApiError::field(FieldError::new(
                "file",
                "is required: send the CSV as a multipart part named file",
            )));
        }
        Some(Upload::Parsed(rows)) => rows,
        Some(Upload::Spooled(file, _)) if form.run_async == Some(true) => {
            return import_async(state, ws, form, file)
                .await
                .map(Imported::Queued);
        }
        Some(Upload::Spooled(_, size)) if size > MAX_FILE_BYTES => {
            return Err(too_large_of(MAX_FILE_BYTES));
        }
        Some(Upload::Spooled(mut file, _)) => {
            file.seek(SeekFrom::Start(0)).await.map_err(spool_error)?;
            read_csv(file, form.mapping.as_deref()).await?
        }
    };

    let outcome = state
        .store
        .import_leads(
            ws,
            rows.leads,
            form.skip_duplicates.unwrap_or(true),
            form.tag,
            form.campaign,
            AddOptions {
                skip_if_in_other_campaign: form.skip_if_in_other_campaign,
                explain: false,
            },
        )
        .await?;
    let bulk = outcome.bulk;
    crate::metrics::leads_created(bulk.imported.len() as u64);
    if let Some(added) = &outcome.campaign {
        crate::metrics::leads_added(added.added);
    }
    let leads = bulk.imported.len() as u64 + bulk.updated + bulk.skipped;
    let campaign = form.campaign.zip(outcome.campaign).map(|(id, added)| {
        schema::ImportCampaign::of(
            id.to_string(),
            leads,
            added.added,
            added.blocked,
            added.in_other,
        )
    });
    Ok(Imported::Done(schema::ImportResult {
        rows: rows.count as u64,
        imported: bulk.imported.len() as u64,
        updated: bulk.updated,
        skipped: bulk.skipped + rows.repeats,
        failed: rows.failed,
        imported_lead_ids: bulk.imported.iter().map(ObjectId::to_string).collect(),
        errors: rows.errors,
        delimiter: delimiter_name(rows.delimiter),
        campaign,
    }))
}

/// `async=true`: the spooled file is read into a queued import job's
/// rows; 202 with the job. A file refused while it is read removes the job
/// and what was staged.
async fn import_async(
    state: &AppState,
    ws: crate::store::WorkspaceRef,
    form: Form,
    mut file: tokio::fs::File,
) -> Result<crate::store::jobs::JobRow, ApiError> {
    let params = serde_json::json!({
        "campaignId": form.campaign.map(|c| c.to_string()),
        "tag": form.tag,
        "skipDuplicates": form.skip_duplicates.unwrap_or(true),
        "skipIfInOtherCampaign": form.skip_if_in_other_campaign,
    });
    let job = state.store.create_job(ws, IMPORT_LEADS, params).await?;
    let mut stage = Stage {
        state,
        ws,
        job: job.id(),
        batch: Vec::new(),
        valid: 0,
        staged: 0,
    };
    let read = async {
        file.seek(SeekFrom::Start(0)).await.map_err(spool_error)?;
        let rows = read_rows(file, form.mapping.as_deref(), MAX_ASYNC_ROWS, &mut stage).await?;
        stage.flush().await?;
        Ok::<_, ApiError>(rows)
    }
    .await;
    let rows = match read {
        Ok(rows) => rows,
        Err(e) => {
            if let Err(d) = state.store.drop_upload(ws, job.id()).await {
                tracing::warn!(job = %job.id(), error = %d, "could not remove a refused upload");
            }
            return Err(e);
        }
    };
    let parsed = serde_json::json!({
        "rows": rows.count,
        "repeats": stage.valid - stage.staged,
        "failed": rows.failed,
        "errors": rows.errors,
        "delimiter": delimiter_name(rows.delimiter),
    });
    Ok(state.store.queue_import(ws, job.id(), parsed).await?)
}

/// Where a file's valid rows go as they are read.
pub(crate) trait Sink: Send {
    /// A row that became a lead: its fields, and the lead object it was.
    fn lead(
        &mut self,
        email: Email,
        fields: LeadFields,
        lead: Value,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// The synchronous import's sink: the first row of each email, in memory.
#[derive(Default)]
struct Collect {
    seen: HashSet<String>,
    leads: Vec<(Email, LeadFields)>,
    repeats: u64,
}

impl Sink for Collect {
    async fn lead(&mut self, email: Email, fields: LeadFields, _: Value) -> Result<(), ApiError> {
        if self.seen.insert(email.key()) {
            self.leads.push((email, fields));
        } else {
            self.repeats += 1;
        }
        Ok(())
    }
}

/// Rows staged per statement.
const STAGE_BATCH: usize = 2_000;

/// The asynchronous import's sink: rows staged in the job's table a batch
/// at a time (the database keeps the first row of each email).
struct Stage<'a> {
    state: &'a AppState,
    ws: crate::store::WorkspaceRef,
    job: ObjectId,
    batch: Vec<StagedRow>,
    /// Valid rows read, and how many of them were stored.
    valid: u64,
    staged: u64,
}

impl Stage<'_> {
    async fn flush(&mut self) -> Result<(), ApiError> {
        let batch = std::mem::take(&mut self.batch);
        self.staged += self
            .state
            .store
            .stage_import(self.ws, self.job, batch)
            .await?;
        Ok(())
    }
}

impl Sink for Stage<'_> {
    async fn lead(&mut self, email: Email, _: LeadFields, lead: Value) -> Result<(), ApiError> {
        self.valid += 1;
        self.batch.push(StagedRow {
            row: self.valid as i64,
            email_key: email.key(),
            lead,
        });
        if self.batch.len() >= STAGE_BATCH {
            self.flush().await?;
        }
        Ok(())
    }
}

/// The request's multipart form: 415 when it is not one, with a CSV in a
/// part named `file`.
pub(crate) async fn multipart_form(request: Request) -> Result<Multipart, ApiError> {
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if !is_multipart {
        return Err(ApiError::UnsupportedMediaType(
            "Content-Type must be multipart/form-data, with the CSV in a part named file".into(),
        ));
    }
    Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::validation(format!("Invalid multipart body: {}", e.body_text())))
}

/// A form part that is a flag: true or false (or 1 or 0).
fn form_flag(name: &str, text: &str) -> Result<bool, ApiError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(ApiError::field(FieldError::new(
            name,
            "must be true or false",
        ))),
    }
}

/// A CSV part's declared type must be one a CSV file is sent with.
pub(crate) fn check_file_type(field: &Field<'_>) -> Result<(), ApiError> {
    let Some(ct) = field.content_type() else {
        return Ok(());
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let csv_like = mime.starts_with("text/")
        || matches!(
            mime.as_str(),
            "application/csv"
                | "application/x-csv"
                | "application/vnd.ms-excel"
                | "application/octet-stream"
                | ""
        );
    if csv_like {
        Ok(())
    } else {
        Err(not_csv(&format!(
            "it was sent as {mime}; export the sheet as CSV (comma-separated, UTF-8)"
        )))
    }
}

pub(crate) fn not_csv(why: &str) -> ApiError {
    ApiError::field(FieldError::new("file", format!("is not a CSV file: {why}")))
}

fn mapping_error(message: &str) -> ApiError {
    ApiError::Validation {
        message: message.to_owned(),
        details: vec![FieldError::new("mapping", message)],
    }
}

fn broken_form(e: MultipartError) -> ApiError {
    broken_form_of(e, MAX_ASYNC_FILE_BYTES)
}

/// A form that could not be read, for a file of at most `max` bytes.
pub(crate) fn broken_form_of(e: MultipartError, max: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large_of(max)
    } else {
        ApiError::validation(format!("Invalid multipart body: {}", e.body_text()))
    }
}

/// A file over `max` bytes (a whole number of MiB).
pub(crate) fn too_large_of(max: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "The file is larger than {} MiB",
        max / (1024 * 1024)
    ))
}

fn spool_error(e: std::io::Error) -> ApiError {
    ApiError::Internal(anyhow::Error::new(e).context("spooling an upload"))
}

/// Why reading the file stopped; carried through `io::Error` from the
/// byte stream to the CSV reader and back.
#[derive(Debug, thiserror::Error)]
enum Stop {
    #[error("too large")]
    TooLarge(usize),
    #[error("binary")]
    Binary,
    #[error("{0}")]
    Broken(String),
}

impl From<&Stop> for ApiError {
    fn from(s: &Stop) -> Self {
        match s {
            Stop::TooLarge(max) => too_large_of(*max),
            Stop::Binary => not_csv("it holds NUL bytes, so it is binary, not text"),
            Stop::Broken(m) => ApiError::validation(format!("Invalid multipart body: {m}")),
        }
    }
}

/// The file part's bytes, checked as they pass: at most `max`, and no NUL
/// byte (spreadsheets, archives and images have them; CSV text never
/// does).
fn checked<'a>(
    field: Field<'a>,
    max: usize,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin + 'a {
    let mut total = 0usize;
    field.map(move |chunk| {
        let stop = |s: Stop| Err(std::io::Error::other(s));
        match chunk {
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => stop(Stop::TooLarge(max)),
            Err(e) => stop(Stop::Broken(e.body_text())),
            Ok(bytes) => {
                total += bytes.len();
                if total > max {
                    stop(Stop::TooLarge(max))
                } else if bytes.contains(&0) {
                    stop(Stop::Binary)
                } else {
                    Ok(bytes)
                }
            }
        }
    })
}

/// Turns an I/O error of the checked stream back into its API error.
fn stream_error(e: &std::io::Error) -> ApiError {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<Stop>()) {
        Some(stop) => stop.into(),
        None => ApiError::validation(format!("Could not read the file: {e}")),
    }
}

/// Writes the file part (at most the asynchronous import's limit) to an
/// anonymous temporary file; returns it and its size.
async fn spool(field: Field<'_>) -> Result<(tokio::fs::File, usize), ApiError> {
    let file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(spool_error)?;
    let mut file = tokio::fs::File::from_std(file);
    let mut stream = checked(field, MAX_ASYNC_FILE_BYTES);
    let mut size = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| stream_error(&e))?;
        size += chunk.len();
        file.write_all(&chunk).await.map_err(spool_error)?;
    }
    file.flush().await.map_err(spool_error)?;
    Ok((file, size))
}

/// A text part, at most [`MAX_TEXT_PART`] bytes.
async fn text_part(mut field: Field<'_>, name: &str) -> Result<String, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(broken_form)? {
        buf.extend_from_slice(&chunk);
        if buf.len() > MAX_TEXT_PART {
            return Err(ApiError::field(FieldError::new(
                name,
                format!("must be at most {} KiB", MAX_TEXT_PART / 1024),
            )));
        }
    }
    String::from_utf8(buf)
        .ok()
        .filter(|s| !s.contains('\0'))
        .ok_or_else(|| ApiError::field(FieldError::new(name, "must be UTF-8 text without NUL")))
}

/// Reads the CSV of a synchronous import (see [`read_rows`]): its valid
/// leads, the first row of each email, in memory.
pub(crate) async fn read_csv<R>(
    reader: R,
    given: Option<&[(String, Option<String>)]>,
) -> Result<Rows, ApiError>
where
    R: AsyncRead + Send + Unpin,
{
    let mut collect = Collect::default();
    let mut rows = read_rows(reader, given, MAX_ROWS, &mut collect).await?;
    rows.leads = collect.leads;
    rows.repeats = collect.repeats;
    Ok(rows)
}

/// Reads the CSV: the header, then each row into a lead, given to `sink`.
/// A bad row is recorded with its line number and the rest go on; a bad
/// header, a bad mapping or more than `max_rows` rows fail the whole file.
async fn read_rows<R, S>(
    reader: R,
    given: Option<&[(String, Option<String>)]>,
    max_rows: usize,
    sink: &mut S,
) -> Result<Rows, ApiError>
where
    R: AsyncRead + Send + Unpin,
    S: Sink,
{
    let csv_error = |e: csv_async::Error| match e.kind() {
        csv_async::ErrorKind::Io(io) => stream_error(io),
        _ => not_csv(&e.to_string()),
    };
    // The header line says which separator the file uses; it is read
    // ahead, then put back in front of the rest.
    let mut rest = tokio::io::BufReader::new(reader);
    let mut first = Vec::new();
    (&mut rest)
        .take(MAX_HEADER_LINE)
        .read_until(b'\n', &mut first)
        .await
        .map_err(|e| stream_error(&e))?;
    let delimiter = detect_delimiter(&first);
    let reader = std::io::Cursor::new(first).chain(rest);
    let mut reader = AsyncReaderBuilder::new()
        .flexible(true)
        .delimiter(delimiter)
        .create_reader(Lines::new(reader));
    let raw = reader.byte_headers().await.map_err(csv_error)?.clone();
    if raw.len() > MAX_COLUMNS {
        return Err(not_csv(&format!(
            "its first line names {} columns; at most {MAX_COLUMNS} are read",
            raw.len()
        )));
    }
    let mut header = Vec::with_capacity(raw.len());
    for (i, cell) in raw.iter().enumerate() {
        // Spreadsheet programs start UTF-8 files with a byte order mark.
        let cell = if i == 0 {
            cell.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(cell)
        } else {
            cell
        };
        let name =
            std::str::from_utf8(cell).map_err(|_| not_csv("its first line is not UTF-8 text"))?;
        header.push(name.trim().to_owned());
    }
    if header.iter().all(String::is_empty) {
        return Err(not_csv(
            "it is empty; its first line must name the columns, e.g. email,firstName",
        ));
    }
    // A given mapping adds to what the header says, as `--map` does: named
    // columns go where it says (null skips one), the others are recognised.
    let mapping = Mapping::resolve(&header, given, true).map_err(|m| mapping_error(&m))?;

    let mut rows = Rows {
        delimiter,
        ..Rows::default()
    };
    let mut record = ByteRecord::new();
    while reader
        .read_byte_record(&mut record)
        .await
        .map_err(csv_error)?
    {
        let from = record.position().map_or(0, |p| p.byte());
        let line = reader.get_mut().line_from(from);
        // Rows of empty cells are what spreadsheets leave below the data.
        if record.iter().all(|c| c.trim_ascii().is_empty()) {
            continue;
        }
        // Every row counts toward the cap, good or bad.
        rows.count += 1;
        if rows.count > max_rows {
            let hint = if max_rows < MAX_ASYNC_ROWS {
                format!(", or send it with async=true (up to {MAX_ASYNC_ROWS} rows)")
            } else {
                String::new()
            };
            return Err(ApiError::field(FieldError::new(
                "file",
                format!("has more than {max_rows} rows; split it into several files{hint}"),
            )));
        }
        let Ok(cells) = record
            .iter()
            .map(std::str::from_utf8)
            .collect::<Result<Vec<&str>, _>>()
        else {
            rows.fail(
                line,
                None,
                "Row is not valid UTF-8 text; save the file as UTF-8",
            );
            continue;
        };
        if cells.len() != header.len() {
            rows.fail(
                line,
                mapping.email(&cells),
                &format!(
                    "Row has {} cells but the header has {} columns",
                    cells.len(),
                    header.len()
                ),
            );
            continue;
        }
        let lead = mapping.lead(&cells);
        match LeadFields::parse_new(&lead) {
            Ok((email, fields)) => sink.lead(email, fields, lead).await?,
            Err(e) => rows.fail(line, mapping.email(&cells), &entry_message(e)),
        }
    }
    Ok(rows)
}

fn row_error(line: u64, email: Option<&str>, message: &str) -> schema::ImportRowError {
    schema::ImportRowError {
        line,
        email: email.filter(|e| !e.is_empty()).map(str::to_owned),
        error: message.to_owned(),
    }
}
