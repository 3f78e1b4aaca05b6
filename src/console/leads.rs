//! The leads pages: the table with the API's filters, totals and cursor
//! paging, and a lead's page with its fields and campaigns.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::{Markup, html};
use serde::de::DeserializeOwned;

use super::page::{Failure, Shell};
use super::session::Signed;
use crate::domain::format_time;
use crate::domain::id::ObjectId;
use crate::error::ApiError;
use crate::routes::schema::{LeadQuery, PageQuery};
use crate::state::AppState;
use crate::store::{LeadRow, PageRequest};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/leads", get(list))
        .route("/app/leads/{id}", get(show))
}

/// The filter fields of the search form, as the API names them, with
/// their labels and hints.
const FILTERS: [(&str, &str, &str); 5] = [
    ("search", "Search", "email, name or company"),
    ("tags", "Tags", "any of, e.g. vip,q4"),
    ("country", "Country", "e.g. DE"),
    ("createdAfter", "Created after", "e.g. 2026-01-31"),
    ("createdBefore", "Created before", "e.g. 2026-12-31"),
];

/// The query string without its empty fields (what a search form sends
/// for the filters left blank), as a type the API's handlers read.
fn query<T: DeserializeOwned>(pairs: &[(String, String)]) -> Result<T, ApiError> {
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
fn pairs(uri: &Uri) -> Vec<(String, String)> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

async fn list(
    State(state): State<AppState>,
    signed: Signed,
    uri: Uri,
) -> Result<Response, Failure> {
    let ws = signed.ws;
    let given = pairs(&uri);
    let value = |name: &str| {
        given
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    };
    let read = async {
        let filter = query::<LeadQuery>(&given)?
            .filter()
            .map_err(ApiError::field)?;
        let paging = query::<PageQuery>(&given)?.page();
        let _turn = state.turns.take(ws).await;
        let page = state.store.list_leads(ws, &filter, paging).await?;
        Ok::<_, ApiError>((paging, page))
    };
    let (table, status) = match read.await {
        Ok((paging, page)) => (leads_table(&given, paging, &page), None),
        Err(e) if !e.code().status().is_server_error() => {
            (html! {}, Some(Failure::from(e).message().to_owned()))
        }
        Err(e) => return Err(e.into()),
    };
    let body = html! {
        h1 { "Leads" }
        form.filters method="get" action="/app/leads" role="search" {
            @for (name, label, hint) in FILTERS {
                div.field {
                    label for=(name) { (label) }
                    input id=(name) name=(name) value=(value(name)) placeholder=(hint);
                }
            }
            div.field {
                label for="emailStatus" { "Verification" }
                select #emailStatus name="emailStatus" {
                    @for (v, label) in [("", "any"), ("valid", "valid"), ("invalid", "invalid"),
                        ("risky", "risky"), ("unknown", "unknown"), ("unverified", "not verified")] {
                        option value=(v) selected[value("emailStatus") == v] { (label) }
                    }
                }
            }
            button type="submit" { "Search" }
            " "
            a href="/app/leads" { "Clear" }
        }
        @if let Some(message) = &status {
            p.error role="alert" { (message) }
        }
        (table)
    };
    let refused = status.is_some();
    let code = if refused {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    Ok((
        code,
        Shell::new("Leads", &signed.session, Some("Leads"), body),
    )
        .into_response())
}

/// The table of a page of leads, its total and the link to the next page
/// (the same filters, from this page's last lead).
fn leads_table(
    given: &[(String, String)],
    paging: PageRequest,
    page: &crate::store::Page<LeadRow>,
) -> Markup {
    let next = page.has_more.then(|| {
        let last = page
            .items
            .last()
            .map(|l| l.id().to_string())
            .unwrap_or_default();
        let kept = given
            .iter()
            .filter(|(k, v)| k != "cursor" && !v.trim().is_empty())
            .map(|(k, v)| (k.as_str(), v.as_str()));
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(kept)
            .append_pair("cursor", &last)
            .finish()
    });
    let total = page.total;
    html! {
        p.total { strong { (grouped(total)) } @if total == 1 { " lead" } @else { " leads" }
            @if paging.cursor.is_some() { " (a later page)" } }
        @if page.items.is_empty() {
            p.muted { "No lead matches." }
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Email" } th scope="col" { "Name" } th scope="col" { "Company" }
                    th scope="col" { "Country" } th scope="col" { "Tags" } th scope="col" { "Created" }
                } }
                tbody {
                    @for l in &page.items {
                        tr {
                            td { a href=(format!("/app/leads/{}", l.id())) { (l.email) } }
                            td { (name(l)) }
                            td { (l.contact.company_name.as_deref().unwrap_or("")) }
                            td { (l.contact.country.as_deref().unwrap_or("")) }
                            td { (l.tags.join(", ")) }
                            td { time datetime=(format_time(l.created_at)) { (day(l.created_at)) } }
                        }
                    }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if paging.cursor.is_some() {
                a href=(first_page(given)) { "First page" }
            }
            @if let Some(q) = next {
                a href=(format!("/app/leads?{q}")) rel="next" { "Next page" }
            }
        }
    }
}

/// The first page of the same search.
fn first_page(given: &[(String, String)]) -> String {
    let kept = given
        .iter()
        .filter(|(k, v)| k != "cursor" && !v.trim().is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()));
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish();
    format!("/app/leads?{q}")
}

fn name(l: &LeadRow) -> String {
    [&l.contact.first_name, &l.contact.last_name]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `1234567` as `1,234,567`.
fn grouped(n: i64) -> String {
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
fn day(ms: i64) -> String {
    format_time(ms).chars().take(10).collect()
}

async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let ws = signed.ws;
    let id = ObjectId::parse(&id).ok_or_else(|| Failure::not_found("Lead not found"))?;
    let lead = state.store.get_lead(ws, id).await?;
    let campaigns = state
        .store
        .list_lead_campaigns(
            ws,
            id,
            PageRequest {
                limit: 100,
                cursor: None,
            },
        )
        .await?;
    let body = html! {
        p { a href="/app/leads" { "← Leads" } }
        h1 { (lead.email) }
        dl.fields {
            @for (field, value) in lead.contact.columns() {
                @if let Some(v) = value {
                    dt { (label(field)) } dd { (v) }
                }
            }
            dt { "Verification" } dd { (lead.email_verification_result.as_deref().unwrap_or("not verified")) }
            dt { "Tags" } dd { @if lead.tags.is_empty() { span.muted { "none" } } @else { (lead.tags.join(", ")) } }
            dt { "Created" } dd { (format_time(lead.created_at)) }
            dt { "Updated" } dd { (format_time(lead.updated_at)) }
        }
        h2 { "Custom fields" }
        @if lead.custom_fields.is_empty() {
            p.muted { "none" }
        } @else {
            dl.fields {
                @for (k, v) in &lead.custom_fields {
                    dt { (k) } dd { (v.as_str().map_or_else(|| v.to_string(), str::to_owned)) }
                }
            }
        }
        h2 { "Campaigns" }
        @if campaigns.items.is_empty() {
            p.muted { "In no campaign." }
        } @else {
            table {
                thead { tr { th scope="col" { "Campaign" } th scope="col" { "Campaign status" }
                    th scope="col" { "Lead's status" } th scope="col" { "Added" } } }
                tbody {
                    @for c in &campaigns.items {
                        tr {
                            td { (c.campaign_name) }
                            td { (c.campaign_status.as_str()) }
                            td { (c.status.as_str()) }
                            td { (day(c.added_at)) }
                        }
                    }
                }
            }
            @if campaigns.has_more { p.muted { "and more (the first 100 shown)" } }
        }
    };
    Ok(Shell::new(&lead.email, &signed.session, Some("Leads"), body).into_response())
}

/// A lead field's API name as a label: `companyName` → `Company name`.
fn label(field: &str) -> String {
    let mut out = String::new();
    for (i, c) in field.chars().enumerate() {
        if i == 0 {
            out.extend(c.to_uppercase());
        } else if c.is_uppercase() {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
