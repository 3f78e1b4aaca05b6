//! The workspace's do-not-contact list: addresses and whole domains that
//! add-leads skips (and counts as `blocked`).

use axum::extract::{DefaultBodyLimit, Request, State};
use csv_async::{AsyncReaderBuilder, StringRecord};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::import::{broken_form_of, check_file_type, multipart_form, not_csv, too_large_of};
use super::{ApiResult, ok, page, schema};
use crate::domain::json::FromJson;
use crate::domain::lead::FieldError;
use crate::error::ApiError;
use crate::extract::{Body, Query, Tenant};
use crate::state::AppState;
use crate::store::{DncKind, DncRow};

/// The largest do-not-contact file: 10,000 of the longest addresses fit.
pub const MAX_DNC_FILE_BYTES: usize = 4 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add, remove))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(import))
                .layer(DefaultBodyLimit::max(MAX_DNC_FILE_BYTES + 64 * 1024)),
        )
}

fn render(d: &DncRow) -> Value {
    serde_json::to_value(schema::DncEntry::new(d)).unwrap_or_default()
}

#[utoipa::path(
    get, path = "/dnc", tag = "Do not contact", operation_id = "listDnc", summary = "List the do-not-contact list",
    params(schema::PageQuery),
    responses((status = 200, description = "A page of entries", body = schema::ListEnvelope<schema::DncEntry>))
)]
async fn list(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Query(paging): Query<schema::PageQuery>,
) -> ApiResult {
    let req = paging.page();
    let _turn = state.turns.take(ws).await;
    let result = state.store.list_dnc(ws, req).await?;
    page(result, req.limit, DncRow::id, render)
}

#[utoipa::path(
    post, path = "/dnc", tag = "Do not contact", operation_id = "addDnc", summary = "Add emails or domains",
    request_body = schema::DncAddRequest,
    responses((status = 200, description = "Counts", body = schema::Envelope<schema::DncAddResult>))
)]
async fn add(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Body(input): Body<schema::DncAddRequest>,
) -> ApiResult {
    let entries = input.entries()?;
    let (added, skipped, stopped) = state.store.add_dnc(ws, entries).await?;
    ok(schema::DncAddResult {
        added,
        skipped,
        stopped,
    })
}

#[utoipa::path(
    delete, path = "/dnc", tag = "Do not contact", operation_id = "deleteDnc", summary = "Delete entries by ID",
    request_body = schema::DncDeleteRequest,
    responses((status = 200, description = "How many were deleted", body = schema::Envelope<schema::DeletedCount>))
)]
async fn remove(
    State(state): State<AppState>,
    Tenant(ws): Tenant,
    Body(input): Body<schema::DncDeleteRequest>,
) -> ApiResult {
    let ids = input.ids()?;
    let deleted = state.store.delete_dnc(ws, ids).await?;
    ok(schema::DeletedCount {
        deleted_count: deleted,
    })
}

#[utoipa::path(
    post, path = "/dnc/import", tag = "Do not contact", operation_id = "importDnc", summary = "Add emails or domains from a CSV file",
    description = "A CSV file with one column of emails or domains (a first line that is neither, such as `email`, is a header), at most 10,000 values and 4 MiB, as the `file` part of a multipart form. The same rules and answer as `POST /v1/dnc`: a value that is neither an email address nor a domain, or a row with more than one value, is a 400 naming its line, and nothing is added.",
    request_body(content = schema::DncImportForm, content_type = "multipart/form-data"),
    responses((status = 200, description = "Counts", body = schema::Envelope<schema::DncAddResult>))
)]
async fn import(State(state): State<AppState>, Tenant(ws): Tenant, request: Request) -> ApiResult {
    let mut multipart = multipart_form(request).await?;
    let mut file = None;
    while let Some(mut field) = multipart.next_field().await.map_err(broken)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name != "file" {
            return Err(ApiError::validation(format!(
                "Unknown form part '{name}' (expected file)"
            )));
        }
        if file.is_some() {
            return Err(ApiError::validation(
                "The form part 'file' is given more than once",
            ));
        }
        check_file_type(&field)?;
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(broken)? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_DNC_FILE_BYTES {
                return Err(too_large());
            }
        }
        file = Some(bytes);
    }
    let file = file.ok_or_else(|| {
        ApiError::field(FieldError::new(
            "file",
            "is required: send the CSV as a multipart part named file",
        ))
    })?;
    let entries = read_dnc_csv(&file).await?;
    let (added, skipped, stopped) = state.store.add_dnc(ws, entries).await?;
    ok(schema::DncAddResult {
        added,
        skipped,
        stopped,
    })
}

fn too_large() -> ApiError {
    too_large_of(MAX_DNC_FILE_BYTES)
}

fn broken(e: axum::extract::multipart::MultipartError) -> ApiError {
    broken_form_of(e, MAX_DNC_FILE_BYTES)
}

/// A refusal of the file, naming its line.
fn bad_line(line: u64, message: impl std::fmt::Display) -> ApiError {
    ApiError::field(FieldError::new("file", format!("line {line}: {message}")))
}

/// The entries of a do-not-contact file: one value per row, an email
/// address (it has a local part before an `@`) or a domain (`@` in front
/// allowed), checked as `POST /v1/dnc` checks them. Blank rows are left
/// out; a first row that is neither is a header. Any other bad row, more
/// than [`schema::MAX_DNC_ENTRIES`] values, or none, refuses the file.
pub(crate) async fn read_dnc_csv(bytes: &[u8]) -> Result<Vec<(DncKind, String)>, ApiError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = AsyncReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .create_reader(bytes);
    let mut record = StringRecord::new();
    let mut entries = Vec::new();
    let mut first = true;
    loop {
        let more = reader.read_record(&mut record).await.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            match e.kind() {
                csv_async::ErrorKind::Utf8 { .. } => bad_line(line, "is not UTF-8 text"),
                _ => not_csv(&e.to_string()),
            }
        })?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        let mut values = record.iter().map(str::trim).filter(|c| !c.is_empty());
        let Some(value) = values.next() else {
            continue;
        };
        if values.next().is_some() {
            return Err(bad_line(
                line,
                "holds more than one value; the file must have one column of emails or domains",
            ));
        }
        let kind = if value.find('@').is_some_and(|at| at > 0) {
            "email"
        } else {
            "domain"
        };
        match schema::DncInput::from_json(json!({"type": kind, "value": value})) {
            Ok(entry) => entries.push((entry.kind, entry.value)),
            // A header names the column.
            Err(_) if first => {}
            Err(_) => {
                return Err(bad_line(
                    line,
                    format!("'{value}' is neither an email address nor a domain"),
                ));
            }
        }
        first = false;
        if entries.len() > schema::MAX_DNC_ENTRIES {
            return Err(ApiError::field(FieldError::new(
                "file",
                format!(
                    "holds more than {} values; split it",
                    schema::MAX_DNC_ENTRIES
                ),
            )));
        }
    }
    if entries.is_empty() {
        return Err(ApiError::field(FieldError::new(
            "file",
            "holds no email address or domain",
        )));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::read_dnc_csv;
    use crate::store::DncKind;

    async fn read(text: &str) -> Result<Vec<(DncKind, String)>, String> {
        read_dnc_csv(text.as_bytes())
            .await
            .map_err(|e| format!("{e:?}"))
    }

    #[tokio::test]
    async fn values_are_emails_or_domains_after_an_optional_header() {
        let got = read("\u{feff}Email\r\n Ann@Example.com \n\n\"@spam.io\"\nmail.example.org,\n")
            .await
            .unwrap();
        assert_eq!(
            got,
            vec![
                (DncKind::Email, "ann@example.com".to_owned()),
                (DncKind::Domain, "spam.io".to_owned()),
                (DncKind::Domain, "mail.example.org".to_owned()),
            ]
        );
        // No header: the first line is a value.
        assert_eq!(read("a@b.io\n").await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_bad_row_names_its_line_and_refuses_the_file() {
        let e = read("email\na@b.io\nnot a value\n").await.unwrap_err();
        assert!(e.contains("line 3") && e.contains("not a value"), "{e}");
        let e = read("a@b.io,c@d.io\n").await.unwrap_err();
        assert!(e.contains("line 1") && e.contains("one column"), "{e}");
        let e = read("email\n\n").await.unwrap_err();
        assert!(e.contains("no email address or domain"), "{e}");
        let many: String = (0..10_001).map(|i| format!("l{i}@x.io\n")).collect();
        let e = read(&many).await.unwrap_err();
        assert!(e.contains("more than 10000"), "{e}");
        assert_eq!(
            read(&many[..many.len() - "l10000@x.io\n".len()])
                .await
                .unwrap()
                .len(),
            10_000
        );
    }
}
