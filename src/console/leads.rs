//! The leads pages: the table with the API's filters, totals and cursor
//! paging, and a lead's page with its fields and campaigns; adding leads
//! to a campaign from the table (the dialog with the dry run's counts, then
//! the add, or the job that makes it and its page).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};

use super::page::{
    Failure, Shell, day, form_value, form_values, grouped, job_ended, job_progress, object_id,
    open_campaigns, pairs, query, script,
};
use super::session::{Posted, Signed};
use crate::domain::filter::LeadFilter;
use crate::domain::format_time;
use crate::domain::id::ObjectId;
use crate::domain::lead::{LeadFields, LeadInput};
use crate::error::ApiError;
use crate::routes::schema::AddSelectionResult;
use crate::routes::schema::{LeadQuery, PageQuery};
use crate::state::AppState;
use crate::store::{AddOptions, CampaignRow, LeadRow, PageRequest, Selection, jobs};
use serde_json::Value;

/// Fetches the add dialog's counts (see [`add`]).
const ADD_SCRIPT: &str = include_str!("add.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/leads", get(list))
        .route("/app/leads/new", get(new_lead).post(create))
        .route("/app/leads/add", post(add))
        .route("/app/leads/add/{id}", get(add_progress))
        .route("/app/assets/add.js", get(|| async { script(ADD_SCRIPT) }))
        .route("/app/leads/{id}", get(show))
        .route("/app/leads/{id}/edit", get(edit).post(update))
        .route("/app/leads/{id}/delete", get(confirm_delete).post(delete))
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
        let campaigns = open_campaigns(&state, ws).await?;
        Ok::<_, ApiError>((paging, page, campaigns))
    };
    let (table, status) = match read.await {
        Ok((paging, page, campaigns)) => {
            let add = AddForm {
                csrf: &signed.session.row.csrf,
                campaigns: &campaigns,
            };
            (leads_table(&given, paging, &page, add), None)
        }
        Err(e) if !e.code().status().is_server_error() => {
            (html! {}, Some(Failure::from(e).message().to_owned()))
        }
        Err(e) => return Err(e.into()),
    };
    let body = html! {
        h1 { "Leads" }
        p { a.button href="/app/leads/new" { "New lead" } }
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
/// The table is also the add-to-campaign form: its rows' boxes (ticked),
/// the rows shown, the search's filters and the open campaigns.
struct AddForm<'a> {
    csrf: &'a str,
    campaigns: &'a [crate::store::CampaignRow],
}

fn leads_table(
    given: &[(String, String)],
    paging: PageRequest,
    page: &crate::store::Page<LeadRow>,
    add: AddForm<'_>,
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
            form #add-leads method="post" action="/app/leads/add" {
            input type="hidden" name="csrf" value=(add.csrf);
            @for name in FILTER_NAMES {
                @let v = form_value(given, name);
                @if !v.trim().is_empty() { input type="hidden" name=(name) value=(v); }
            }
            table {
                thead { tr {
                    th scope="col" { span.visually-hidden { "Select" } }
                    th scope="col" { "Email" } th scope="col" { "Name" } th scope="col" { "Company" }
                    th scope="col" { "Country" } th scope="col" { "Tags" } th scope="col" { "Created" }
                } }
                tbody {
                    @for l in &page.items {
                        tr {
                            td {
                                input type="hidden" name="shown" value=(l.id().to_string());
                                input type="checkbox" name="lead" value=(l.id().to_string()) checked aria-label=(format!("Select {}", l.email));
                            }
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
            div.actions {
                label for="campaign" { "Add to campaign" }
                select #campaign name="campaign" required {
                    @for c in add.campaigns {
                        option value=(c.id().to_string()) { (c.name) }
                    }
                }
                button type="submit" name="scope" value="selected" { "Add the ticked leads" }
                button type="submit" name="scope" value="all" { "Add all " (grouped(total)) " matching, less the unticked" }
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

async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let ws = signed.ws;
    let id = object_id(&id, "Lead")?;
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
        p.actions {
            a href=(format!("/app/leads/{id}/edit")) { "Edit" }
            " · "
            a href=(format!("/app/leads/{id}/delete")) { "Delete" }
        }
        dl.fields {
            @for ((_, label), (_, value)) in LABELS.iter().zip(lead.contact.columns()) {
                @if let Some(v) = value {
                    dt { (label) } dd { (v) }
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

/// The lead's text fields: API name and label, in the order of
/// [`TEXT_FIELDS`](crate::domain::lead::TEXT_FIELDS).
const LABELS: [(&str, &str); 9] = [
    ("firstName", "First name"),
    ("lastName", "Last name"),
    ("companyName", "Company"),
    ("jobTitle", "Job title"),
    ("phone", "Phone"),
    ("linkedinUrl", "LinkedIn URL"),
    ("city", "City"),
    ("state", "State"),
    ("country", "Country"),
];

// ---- Create, edit, delete ---------------------------------------------------

/// The lead form: email (on create only), the text fields and tags, with
/// `values` filled in and `error` above it.
fn lead_form(
    action: &str,
    csrf: &str,
    values: &[(String, String)],
    with_email: bool,
    error: Option<&str>,
) -> Markup {
    html! {
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form.lead-form method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            @if with_email {
                label for="email" { "Email" }
                input #email type="email" name="email" required value=(form_value(values, "email"));
            }
            @for (name, label) in LABELS {
                label for=(name) { (label) }
                input id=(name) name=(name) value=(form_value(values, name));
            }
            label for="tags" { "Tags (comma-separated)" }
            input #tags name="tags" value=(form_value(values, "tags"));
            button type="submit" { "Save" }
        }
    }
}

/// The lead object a lead form stands for, as the API takes it: blank
/// fields left out on create and cleared on edit.
fn lead_input(form: &[(String, String)], create: bool) -> Result<LeadInput, ApiError> {
    let mut lead = serde_json::Map::new();
    if create {
        lead.insert("email".into(), form_value(form, "email").trim().into());
    }
    for (name, _) in LABELS {
        let v = form_value(form, name).trim();
        if !v.is_empty() {
            lead.insert(name.into(), v.into());
        } else if !create {
            lead.insert(name.into(), Value::Null);
        }
    }
    let tags: Vec<&str> = form_value(form, "tags")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    if !tags.is_empty() || !create {
        lead.insert("tags".into(), tags.into());
    }
    serde_json::from_value(Value::Object(lead)).map_err(|e| ApiError::validation(e.to_string()))
}

fn field_error(e: crate::domain::lead::LeadError) -> ApiError {
    ApiError::field(e.into_field_error())
}

async fn new_lead(signed: Signed) -> Response {
    let body = html! {
        p { a href="/app/leads" { "← Leads" } }
        h1 { "New lead" }
        (lead_form("/app/leads/new", &signed.session.row.csrf, &[], true, None))
    };
    Shell::new("New lead", &signed.session, Some("Leads"), body).into_response()
}

/// A form refused: the form again, with the API's words, and 400.
fn refused(signed: &Signed, title: &str, form: Markup) -> Response {
    let body = html! { h1 { (title) } (form) };
    (
        StatusCode::BAD_REQUEST,
        Shell::new(title, &signed.session, Some("Leads"), body),
    )
        .into_response()
}

async fn create(
    State(state): State<AppState>,
    Posted { signed, form }: Posted,
) -> Result<Response, Failure> {
    let checked = lead_input(&form, true).and_then(|input| {
        LeadFields::check(input)
            .and_then(LeadFields::with_email)
            .map_err(field_error)
    });
    let (email, fields) = match checked {
        Ok(v) => v,
        Err(e) => {
            let message = e.to_string();
            let csrf = &signed.session.row.csrf;
            let again = lead_form("/app/leads/new", csrf, &form, true, Some(&message));
            return Ok(refused(&signed, "New lead", again));
        }
    };
    let lead = state.store.create_lead(signed.ws, &email, &fields).await?;
    crate::metrics::leads_created(1);
    Ok(Redirect::to(&format!("/app/leads/{}", lead.id())).into_response())
}

/// The lead's current values, as its form shows them.
fn values_of(lead: &LeadRow) -> Vec<(String, String)> {
    let mut values: Vec<(String, String)> = LABELS
        .iter()
        .zip(lead.contact.columns())
        .map(|((name, _), (_, v))| ((*name).to_owned(), v.clone().unwrap_or_default()))
        .collect();
    values.push(("tags".into(), lead.tags.join(", ")));
    values
}

async fn edit(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let id = object_id(&id, "Lead")?;
    let lead = state.store.get_lead(signed.ws, id).await?;
    let action = format!("/app/leads/{id}/edit");
    let body = html! {
        p { a href=(format!("/app/leads/{id}")) { "← " (lead.email) } }
        h1 { "Edit " (lead.email) }
        (lead_form(&action, &signed.session.row.csrf, &values_of(&lead), false, None))
    };
    Ok(Shell::new("Edit lead", &signed.session, Some("Leads"), body).into_response())
}

async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { signed, form }: Posted,
) -> Result<Response, Failure> {
    let id = object_id(&id, "Lead")?;
    let checked =
        lead_input(&form, false).and_then(|input| LeadFields::check(input).map_err(field_error));
    let fields = match checked {
        Ok(f) => f,
        Err(e) => {
            let message = e.to_string();
            let action = format!("/app/leads/{id}/edit");
            let csrf = &signed.session.row.csrf;
            let again = lead_form(&action, csrf, &form, false, Some(&message));
            return Ok(refused(&signed, "Edit lead", again));
        }
    };
    state.store.update_lead(signed.ws, id, &fields).await?;
    Ok(Redirect::to(&format!("/app/leads/{id}")).into_response())
}

async fn confirm_delete(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let id = object_id(&id, "Lead")?;
    let lead = state.store.get_lead(signed.ws, id).await?;
    let body = html! {
        h1 { "Delete " (lead.email) "?" }
        p { "The lead and its campaign memberships are deleted. This cannot be undone." }
        form method="post" action=(format!("/app/leads/{id}/delete")) {
            input type="hidden" name="csrf" value=(signed.session.row.csrf);
            button.danger type="submit" { "Delete the lead" }
            " "
            a href=(format!("/app/leads/{id}")) { "Cancel" }
        }
    };
    Ok(Shell::new("Delete lead", &signed.session, Some("Leads"), body).into_response())
}

async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { signed, .. }: Posted,
) -> Result<Response, Failure> {
    let id = object_id(&id, "Lead")?;
    state.store.delete_lead(signed.ws, id).await?;
    Ok(Redirect::to("/app/leads").into_response())
}

// ---- Adding leads to a campaign ------------------------------------------------

/// The filter fields a leads form carries along.
const FILTER_NAMES: [&str; 6] = [
    "search",
    "tags",
    "country",
    "createdAfter",
    "createdBefore",
    "emailStatus",
];

/// What the add form asks for: the campaign, and the selection (the ticked
/// leads, or everything the filter matches less the unticked ones shown).
fn selection_of(form: &[(String, String)]) -> Result<(ObjectId, Selection, bool), ApiError> {
    let campaign = ObjectId::parse(form_value(form, "campaign").trim())
        .ok_or_else(|| ApiError::validation("Choose a campaign"))?;
    let ticked: Vec<ObjectId> = form_values(form, "lead")
        .filter_map(ObjectId::parse)
        .collect();
    let all = form_value(form, "scope") == "all";
    let selection = if all {
        let filters: Vec<(String, String)> = form
            .iter()
            .filter(|(k, _)| FILTER_NAMES.contains(&k.as_str()))
            .cloned()
            .collect();
        let filter = query::<LeadQuery>(&filters)?
            .filter()
            .map_err(ApiError::field)?;
        let exclude = form_values(form, "shown")
            .filter_map(ObjectId::parse)
            .filter(|id| !ticked.contains(id))
            .collect();
        Selection {
            filter: Some(filter),
            exclude,
            keys: None,
        }
    } else {
        if ticked.is_empty() {
            return Err(ApiError::validation("Tick at least one lead"));
        }
        Selection {
            filter: Some(LeadFilter {
                lead_ids: Some(ticked),
                ..LeadFilter::default()
            }),
            exclude: Vec::new(),
            keys: None,
        }
    };
    Ok((campaign, selection, all))
}

/// The add: first a dry run whose counts the user confirms, then the add
/// (for everything a filter matches, a job, followed on its own page).
async fn add(
    State(state): State<AppState>,
    Posted { signed, form }: Posted,
) -> Result<Response, Failure> {
    let ws = signed.ws;
    let (campaign, selection, all) = selection_of(&form)?;
    let c = state.store.get_campaign(ws, campaign).await?;
    if form_value(&form, "confirm") == "yes" {
        return confirmed(&state, &signed, &c, selection, all).await;
    }
    // The ticked leads (a page at most) are counted at once. Everything a
    // filter matches may take a second or more to count on a million
    // leads, so the dialog comes first and counts when asked (`count=now`):
    // add.js asks at once and puts the counts in place; without the script
    // its "Count" button does.
    let counts = if !all || form_value(&form, "count") == "now" {
        let outcome = {
            let _turn = state.turns.take(ws).await;
            state
                .store
                .add_leads_selection(ws, campaign, selection, AddOptions::default(), true)
                .await?
        };
        Some(AddSelectionResult::of(&outcome))
    } else {
        None
    };
    let carried = || {
        form.iter()
            .filter(|(k, _)| k != "confirm" && k != "count")
            .map(|(k, v)| html! { input type="hidden" name=(k) value=(v); })
            .collect::<Vec<_>>()
    };
    let body = html! {
        h1 #add-title {
            @match &counts {
                Some(r) => { "Add " (grouped(r.matched as i64)) " leads to " (c.name) "?" }
                None => { "Add the leads the filter matches to " (c.name) "?" }
            }
        }
        p.muted { @if all { "Everything the filter matches, less the leads unticked." } @else { "The ticked leads." } " Nothing has been written yet." }
        div #add-counts aria-live="polite" {
            @match &counts {
                Some(r) => { (add_counts(r, false)) }
                None => {
                    form #count-form method="post" action="/app/leads/add" {
                        @for i in carried() { (i) }
                        input type="hidden" name="count" value="now";
                        p.muted { "Count what the add would do before confirming it." }
                        button type="submit" { "Count" }
                    }
                }
            }
        }
        form method="post" action="/app/leads/add" {
            @for i in carried() { (i) }
            input type="hidden" name="confirm" value="yes";
            button #add-confirm type="submit" disabled[counts.is_none()] {
                @match &counts {
                    Some(r) => { "Confirm: add " (grouped(r.added as i64)) }
                    None => { "Confirm" }
                }
            }
            " "
            a href="/app/leads" { "Cancel" }
        }
        @if counts.is_none() { script src="/app/assets/add.js" defer {} }
    };
    Ok(Shell::new("Add leads", &signed.session, Some("Leads"), body).into_response())
}

/// What an add did, or (`done` false) would do.
fn add_counts(r: &AddSelectionResult, done: bool) -> Markup {
    html! {
        ul.counts data-added=(grouped(r.added as i64)) {
            li { strong { (grouped(r.added as i64)) } @if done { " added" } @else { " will be added" } }
            li { strong { (grouped(r.already_in_campaign as i64)) } " already in the campaign" }
            li { strong { (grouped(r.blocked as i64)) } " on the do-not-contact list" }
            @if r.in_other_campaign > 0 {
                li { strong { (grouped(r.in_other_campaign as i64)) } " in another campaign" }
            }
        }
    }
}

/// The confirmed add: the ticked leads at once; everything a filter
/// matches as the API's asynchronous add (a job of chunks, as
/// `"async": true` makes), whose page follows it.
async fn confirmed(
    state: &AppState,
    signed: &Signed,
    c: &CampaignRow,
    selection: Selection,
    all: bool,
) -> Result<Response, Failure> {
    let ws = signed.ws;
    let campaign = c.id();
    if all {
        let params = jobs::add_params(campaign, &selection, None);
        let job = state.store.create_job(ws, jobs::ADD_LEADS, params).await?;
        return Ok(Redirect::to(&format!("/app/leads/add/{}", job.id())).into_response());
    }
    let outcome = {
        let _turn = state.turns.take(ws).await;
        state
            .store
            .add_leads_selection(ws, campaign, selection, AddOptions::default(), false)
            .await?
    };
    crate::metrics::leads_added(outcome.added);
    let body = html! {
        h1 { "Added to " (c.name) }
        (add_counts(&AddSelectionResult::of(&outcome), true))
        p { a href=(format!("/app/campaigns/{campaign}")) { "Open the campaign" } " · " a href="/app/leads" { "Back to the leads" } }
    };
    Ok(Shell::new("Add leads", &signed.session, Some("Leads"), body).into_response())
}

/// An add job's progress, then what it did.
async fn add_progress(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let ws = signed.ws;
    let id = object_id(&id, "Job")?;
    let job = state.store.get_job(ws, id).await?;
    if job.kind != jobs::ADD_LEADS {
        return Err(Failure::not_found("Job not found"));
    }
    let campaign = job.params["campaignId"]
        .as_str()
        .and_then(ObjectId::parse)
        .ok_or_else(|| Failure::not_found("Job not found"))?;
    // The campaign's name, if it is still there.
    let name = match state.store.get_campaign(ws, campaign).await {
        Ok(c) => c.name,
        Err(_) => "the campaign".to_owned(),
    };
    let body = html! {
        h1 { "Adding leads to " (name) }
        @match job.status.as_str() {
            "queued" | "running" => { (job_progress(&job, &signed.session.row.csrf, "Adding", "leads looked at", "Leads looked at")) }
            "succeeded" => { (add_counts(&AddSelectionResult::of(&job.outcome()), true)) }
            status => {
                p.error role="alert" { (job_ended("The add", status, job.error.as_deref())) }
                p { "What it added before it stopped:" }
                (add_counts(&AddSelectionResult::of(&job.outcome()), true))
            }
        }
        p { a href=(format!("/app/campaigns/{campaign}")) { "Open the campaign" } " · " a href="/app/leads" { "Back to the leads" } }
    };
    Ok(
        Shell::new("Add leads", &signed.session, Some("Leads"), body)
            .following(&job)
            .into_response(),
    )
}
