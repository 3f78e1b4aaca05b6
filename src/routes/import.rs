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
    MAX_FILE_BYTES, MAX_REQUEST_BYTES, MAX_ROWS, Mapping, delimiter_name, detect_delimiter,
    parse_mapping,
};
use crate::domain::lead::{FieldError, LeadFields, parse_tag};
use crate::error::ApiError;
use crate::extract::Tenant;
use crate::state::AppState;
use crate::store::AddOptions;
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
    file: Option<Upload>,
}

enum Upload {
    /// Parsed while it arrived (the mapping was known).
    Parsed(Rows),
    /// Spooled, to be parsed once the mapping is known.
    Spooled(tokio::fs::File),
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
    description = "Up to 50,000 rows and 50 MiB. A bad row is reported with its line number and the rest proceed; a file that is not CSV, a mapping to an unknown field or column, or no email column is a 400 and nothing is written. With `campaignId` every lead of the file is added to the campaign by the add-leads rules, in the same transaction.",
    request_body(content = schema::ImportForm, content_type = "multipart/form-data"),
    responses((status = 200, description = "Counts", body = schema::Envelope<schema::ImportResult>))
)]
async fn import_csv(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    request: Request,
) -> ApiResult {
    let mut multipart = multipart_form(request).await?;
    let mut form = Form::default();
    let mut seen = HashSet::new();
    while let Some(field) = multipart.next_field().await.map_err(broken_form)? {
        let name = field.name().unwrap_or_default().to_owned();
        if !seen.insert(name.clone()) {
            return Err(ApiError::validation(format!(
                "The form part '{name}' is given more than once"
            )));
        }
        match name.as_str() {
            "file" => {
                check_file_type(&field)?;
                form.file = Some(match &form.mapping {
                    Some(given) => {
                        let reader = StreamReader::new(checked(field));
                        Upload::Parsed(read_csv(reader, Some(given)).await?)
                    }
                    None => Upload::Spooled(spool(field).await?),
                });
            }
            "mapping" => {
                let text = text_part(field, &name).await?;
                let given = parse_mapping(&text).map_err(|m| mapping_error(&m))?;
                form.mapping = Some(given);
            }
            "tag" => {
                let text = text_part(field, &name).await?;
                let tag = parse_tag(&Value::from(text.trim()))
                    .map_err(|m| ApiError::field(FieldError::new("tag", m)))?;
                form.tag = Some(tag);
            }
            "campaignId" => {
                let text = text_part(field, &name).await?;
                form.campaign = Some(ObjectId::parse(text.trim()).ok_or_else(|| {
                    ApiError::field(FieldError::new(
                        "campaignId",
                        "must be an ID of 24 hex characters",
                    ))
                })?);
            }
            "skipDuplicates" => {
                let text = text_part(field, &name).await?;
                form.skip_duplicates = Some(form_flag(&name, &text)?);
            }
            "skipIfInOtherCampaign" => {
                let text = text_part(field, &name).await?;
                form.skip_if_in_other_campaign = Some(form_flag(&name, &text)?);
            }
            other => {
                return Err(ApiError::validation(format!(
                    "Unknown form part '{other}' (expected file, mapping, tag, campaignId, skipDuplicates, skipIfInOtherCampaign)"
                )));
            }
        }
    }

    let rows = match form.file {
        None => {
            return Err(ApiError::field(FieldError::new(
                "file",
                "is required: send the CSV as a multipart part named file",
            )));
        }
        Some(Upload::Parsed(rows)) => rows,
        Some(Upload::Spooled(mut file)) => {
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
    let campaign = form
        .campaign
        .zip(outcome.campaign)
        .map(|(id, added)| schema::ImportCampaign {
            campaign_id: id.to_string(),
            added: added.added,
            skipped: leads - added.added,
            blocked: added.blocked,
            in_other_campaign: added.in_other,
            already_in_campaign: leads - added.added - added.blocked - added.in_other,
        });
    ok(schema::ImportResult {
        rows: rows.count as u64,
        imported: bulk.imported.len() as u64,
        updated: bulk.updated,
        skipped: bulk.skipped + rows.repeats,
        failed: rows.failed,
        imported_lead_ids: bulk.imported.iter().map(ObjectId::to_string).collect(),
        errors: rows.errors,
        delimiter: delimiter_name(rows.delimiter),
        campaign,
    })
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
    broken_form_of(e, MAX_FILE_BYTES)
}

/// A form that could not be read, for a file of at most `max` bytes.
pub(crate) fn broken_form_of(e: MultipartError, max: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large_of(max)
    } else {
        ApiError::validation(format!("Invalid multipart body: {}", e.body_text()))
    }
}

fn too_large() -> ApiError {
    too_large_of(MAX_FILE_BYTES)
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
    TooLarge,
    #[error("binary")]
    Binary,
    #[error("{0}")]
    Broken(String),
}

impl From<&Stop> for ApiError {
    fn from(s: &Stop) -> Self {
        match s {
            Stop::TooLarge => too_large(),
            Stop::Binary => not_csv("it holds NUL bytes, so it is binary, not text"),
            Stop::Broken(m) => ApiError::validation(format!("Invalid multipart body: {m}")),
        }
    }
}

/// The file part's bytes, checked as they pass: at most the file limit,
/// and no NUL byte (spreadsheets, archives and images have them; CSV text
/// never does).
fn checked<'a>(
    field: Field<'a>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin + 'a {
    let mut total = 0usize;
    field.map(move |chunk| {
        let stop = |s: Stop| Err(std::io::Error::other(s));
        match chunk {
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => stop(Stop::TooLarge),
            Err(e) => stop(Stop::Broken(e.body_text())),
            Ok(bytes) => {
                total += bytes.len();
                if total > MAX_FILE_BYTES {
                    stop(Stop::TooLarge)
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

/// Writes the file part to an anonymous temporary file.
async fn spool(field: Field<'_>) -> Result<tokio::fs::File, ApiError> {
    let file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(spool_error)?;
    let mut file = tokio::fs::File::from_std(file);
    let mut stream = checked(field);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| stream_error(&e))?;
        file.write_all(&chunk).await.map_err(spool_error)?;
    }
    file.flush().await.map_err(spool_error)?;
    Ok(file)
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

/// Reads the CSV: the header, then each row into a lead. A bad row is
/// recorded with its line number and the rest go on; a bad header, a bad
/// mapping or too many rows fail the whole file.
pub(crate) async fn read_csv<R>(
    reader: R,
    given: Option<&[(String, Option<String>)]>,
) -> Result<Rows, ApiError>
where
    R: AsyncRead + Send + Unpin,
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
    let mut seen = HashSet::new();
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
        if rows.count > MAX_ROWS {
            return Err(ApiError::field(FieldError::new(
                "file",
                format!("has more than {MAX_ROWS} rows; split it into several files"),
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
        match LeadFields::parse_new(&mapping.lead(&cells)) {
            Ok((email, fields)) => {
                if seen.insert(email.key()) {
                    rows.leads.push((email, fields));
                } else {
                    rows.repeats += 1;
                }
            }
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
