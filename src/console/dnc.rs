//! The do-not-contact list: its entries (newest first, paged), adding
//! emails or domains one per line, and removing ticked entries.

use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use serde_json::{Value, json};

use super::page::{Failure, Shell, day, form_value, form_values, grouped, pairs, query};
use super::session::{Posted, Signed};
use crate::domain::id::ObjectId;
use crate::error::ApiError;
use crate::routes::schema::{DncAddRequest, PageQuery};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/dnc", get(list).post(add))
        .route("/app/dnc/remove", post(remove))
}

async fn list(
    State(state): State<AppState>,
    signed: Signed,
    uri: Uri,
) -> Result<Response, Failure> {
    let given = pairs(&uri);
    let paging = query::<PageQuery>(&given)?.page();
    let page = state.store.list_dnc(signed.ws, paging).await?;
    let csrf = &signed.session.row.csrf;
    let next = page
        .has_more
        .then(|| page.items.last().map(|e| e.id().to_string()))
        .flatten();
    let body = html! {
        h1 { "Do-not-contact list" }
        p { "Leads on this list are never added to a campaign; adding an entry stops their memberships." }
        form method="post" action="/app/dnc" {
            input type="hidden" name="csrf" value=(csrf);
            label for="entries" { "Emails or domains, one per line" }
            textarea #entries name="entries" rows="4" required {}
            button type="submit" { "Add" }
        }
        p.total { strong { (grouped(page.total)) } " entries" }
        @if !page.items.is_empty() {
            form method="post" action="/app/dnc/remove" {
                input type="hidden" name="csrf" value=(csrf);
                table {
                    thead { tr { th scope="col" { span.visually-hidden { "Select" } } th scope="col" { "Entry" } th scope="col" { "Type" } th scope="col" { "Added" } } }
                    tbody {
                        @for e in &page.items {
                            tr {
                                td { input type="checkbox" name="entry" value=(e.id().to_string()) aria-label=(format!("Select {}", e.value)); }
                                td { (e.value) }
                                td { (e.kind) }
                                td { (day(e.created_at)) }
                            }
                        }
                    }
                }
                button type="submit" { "Remove ticked" }
            }
        }
        nav.pager aria-label="Pages" {
            @if paging.cursor.is_some() { a href="/app/dnc" { "First page" } }
            @if let Some(c) = next { a href=(format!("/app/dnc?cursor={c}")) rel="next" { "Next page" } }
        }
    };
    Ok(Shell::new(
        "Do-not-contact",
        &signed.session,
        Some("Do-not-contact"),
        body,
    )
    .into_response())
}

async fn add(
    State(state): State<AppState>,
    Posted { signed, form }: Posted,
) -> Result<Response, Failure> {
    // Each line an entry: an email when it has an @, else a domain; the
    // API's request type checks them.
    let entries: Vec<Value> = form_value(&form, "entries")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let kind = if l.contains('@') { "email" } else { "domain" };
            json!({"type": kind, "value": l})
        })
        .collect();
    let request: DncAddRequest = serde_json::from_value(json!({ "entries": entries }))
        .map_err(|e| ApiError::validation(e.to_string()))?;
    let entries = request.entries().map_err(ApiError::field)?;
    state.store.add_dnc(signed.ws, entries).await?;
    Ok(Redirect::to("/app/dnc").into_response())
}

async fn remove(
    State(state): State<AppState>,
    Posted { signed, form }: Posted,
) -> Result<Response, Failure> {
    let ids: Vec<ObjectId> = form_values(&form, "entry")
        .filter_map(ObjectId::parse)
        .collect();
    if ids.is_empty() {
        return Err(ApiError::validation("Tick at least one entry").into());
    }
    state.store.delete_dnc(signed.ws, ids).await?;
    Ok(Redirect::to("/app/dnc").into_response())
}
