//! The campaigns pages: the list with each campaign's status and a bar of
//! its leads by status, creating one, and a campaign's page with its state
//! actions and its members (a status filter; pause, resume or remove on
//! the ticked members or on every member the filter shows).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde_json::json;

use super::page::{Failure, Shell, day, form_value, form_values, grouped, object_id, pairs, query};
use super::session::{Posted, Signed};
use crate::domain::campaign::{CampaignLeadStatus, CampaignStatus, Transition};
use crate::domain::id::ObjectId;
use crate::error::ApiError;
use crate::routes::schema::{CampaignInput, PageQuery};
use crate::state::AppState;
use crate::store::{CampaignRow, LeadAction, MemberSelection, PageRequest};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/campaigns", get(list).post(create))
        .route("/app/campaigns/{id}", get(show))
        .route("/app/campaigns/{id}/state", post(change_state))
        .route("/app/campaigns/{id}/members", post(act))
}

/// A bar of a campaign's leads by status, with the counts as its text.
pub fn bar(c: &CampaignRow) -> Markup {
    let total: i64 = CampaignLeadStatus::ALL
        .iter()
        .map(|s| c.lead_counts.of(*s))
        .sum();
    let parts: Vec<(CampaignLeadStatus, i64)> = CampaignLeadStatus::ALL
        .iter()
        .map(|s| (*s, c.lead_counts.of(*s)))
        .filter(|(_, n)| *n > 0)
        .collect();
    let words: Vec<String> = parts
        .iter()
        .map(|(s, n)| format!("{} {}", grouped(*n), s.as_str()))
        .collect();
    let label = if total == 0 {
        "no leads".to_owned()
    } else {
        words.join(", ")
    };
    let mut x = 0.0;
    let rects: Vec<(&str, f64, f64)> = parts
        .iter()
        .map(|(s, n)| {
            let w = *n as f64 * 100.0 / total as f64;
            x += w;
            (s.as_str(), x - w, w)
        })
        .collect();
    html! {
        div.bar {
            svg width="160" height="10" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label=(label) {
                rect.empty x="0" y="0" width="100" height="10" {}
                @for (s, x, w) in &rects {
                    rect class=(format!("s-{s}")) x=(format!("{x:.3}")) y="0" width=(format!("{w:.3}")) height="10" {}
                }
            }
            span.muted { (grouped(total)) " · " (label) }
        }
    }
}

async fn list(State(state): State<AppState>, signed: Signed) -> Result<Response, Failure> {
    let page = state
        .store
        .list_campaigns(
            signed.ws,
            &[],
            None,
            PageRequest {
                limit: 100,
                cursor: None,
            },
        )
        .await?;
    let body = html! {
        h1 { "Campaigns" }
        form.inline-form method="post" action="/app/campaigns" {
            input type="hidden" name="csrf" value=(signed.session.row.csrf);
            label for="name" { "New campaign" }
            input #name name="name" required maxlength="200";
            button type="submit" { "Create" }
        }
        p.total { strong { (grouped(page.total)) } " campaigns" }
        @if !page.items.is_empty() {
            table {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Status" } th scope="col" { "Leads by status" } th scope="col" { "Created" } } }
                tbody {
                    @for c in &page.items {
                        tr {
                            td { a href=(format!("/app/campaigns/{}", c.id())) { (c.name) } }
                            td { span class=(format!("status s-{}", c.status.as_str())) { (c.status.as_str()) } }
                            td { (bar(c)) }
                            td { (day(c.created_at)) }
                        }
                    }
                }
            }
            @if page.has_more { p.muted { "The newest 100 are shown." } }
        }
    };
    Ok(Shell::new("Campaigns", &signed.session, Some("Campaigns"), body).into_response())
}

async fn create(
    State(state): State<AppState>,
    Posted { signed, form }: Posted,
) -> Result<Response, Failure> {
    let input: CampaignInput =
        serde_json::from_value(json!({"name": form_value(&form, "name").trim()}))
            .map_err(|e| ApiError::validation(e.to_string()))?;
    let fields = input.into_fields(true)?;
    let c = state.store.create_campaign(signed.ws, fields).await?;
    Ok(Redirect::to(&format!("/app/campaigns/{}", c.id())).into_response())
}

/// The state actions a campaign in `status` can take.
fn actions(status: CampaignStatus) -> Vec<Transition> {
    [
        Transition::Start,
        Transition::Pause,
        Transition::Resume,
        Transition::Complete,
        Transition::Archive,
    ]
    .into_iter()
    .filter(|t| t.apply(status).is_some() && !(status == CampaignStatus::Archived))
    .collect()
}

async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, Failure> {
    let ws = signed.ws;
    let id = object_id(&id, "Campaign")?;
    let c = state.store.get_campaign(ws, id).await?;
    let given = pairs(&uri);
    let status = CampaignLeadStatus::parse(form_value(&given, "status"));
    let paging = query::<PageQuery>(&given)?.page();
    let members = {
        let _turn = state.turns.take(ws).await;
        state
            .store
            .list_campaign_leads(ws, id, status, None, paging)
            .await?
    };
    let csrf = &signed.session.row.csrf;
    // What the last member action did (the redirect after it says).
    let did = LeadAction::parse(form_value(&given, "did")).map(|a| {
        let n: u64 = form_value(&given, "changed").parse().unwrap_or(0);
        let verb = match a {
            LeadAction::Pause => "paused",
            LeadAction::Resume => "resumed",
            LeadAction::Remove => "removed",
        };
        match n {
            1 => format!("1 member {verb}."),
            n => format!("{} members {verb}.", grouped(n as i64)),
        }
    });
    let next = members.has_more.then(|| {
        let last = members.items.last().map_or(String::new(), |m| {
            ObjectId::new(m.key, m.added_at).to_string()
        });
        match status {
            Some(s) => format!("?status={}&cursor={last}", s.as_str()),
            None => format!("?cursor={last}"),
        }
    });
    let body = html! {
        p { a href="/app/campaigns" { "← Campaigns" } }
        h1 { (c.name) " " span class=(format!("status s-{}", c.status.as_str())) { (c.status.as_str()) } }
        (bar(&c))
        div.actions {
            @for t in actions(c.status) {
                form.inline method="post" action=(format!("/app/campaigns/{id}/state")) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="action" value=(t.name());
                    button type="submit" { (capitalised(t.name())) }
                }
            }
        }
        h2 { "Members" }
        @if let Some(did) = did {
            p.notice role="status" { (did) }
        }
        form.filters method="get" action=(format!("/app/campaigns/{id}")) {
            div.field {
                label for="status" { "Status" }
                select #status name="status" {
                    option value="" selected[status.is_none()] { "any" }
                    @for s in CampaignLeadStatus::ALL {
                        option value=(s.as_str()) selected[status == Some(s)] { (s.as_str()) }
                    }
                }
            }
            button type="submit" { "Show" }
        }
        p.total { strong { (grouped(members.total)) } " members"
            @if let Some(s) = status { " " (s.as_str()) } }
        form method="post" action=(format!("/app/campaigns/{id}/members")) {
            input type="hidden" name="csrf" value=(csrf);
            @if let Some(s) = status { input type="hidden" name="status" value=(s.as_str()); }
            @if !members.items.is_empty() {
                table {
                    thead { tr { th scope="col" { span.visually-hidden { "Select" } } th scope="col" { "Email" } th scope="col" { "Name" }
                        th scope="col" { "Company" } th scope="col" { "Status" } th scope="col" { "Added" } } }
                    tbody {
                        @for m in &members.items {
                            @let cl = ObjectId::new(m.key, m.added_at).to_string();
                            tr {
                                td { input type="checkbox" name="member" value=(cl) aria-label=(format!("Select {}", m.email)); }
                                td { a href=(format!("/app/leads/{}", m.lead)) { (m.email) } }
                                td { ([m.first_name.as_deref(), m.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ")) }
                                td { (m.company_name.as_deref().unwrap_or("")) }
                                td { (m.status.as_str()) }
                                td { (day(m.added_at)) }
                            }
                        }
                    }
                }
                div.actions {
                    label for="do" { "With the ticked members" }
                    select #do name="action" {
                        option value="pause" { "pause" }
                        option value="resume" { "resume" }
                        option value="remove" { "remove" }
                    }
                    button type="submit" name="scope" value="selected" { "Apply to ticked" }
                    button type="submit" name="scope" value="all" {
                        @let which = status.map_or(String::new(), |s| format!("{} ", s.as_str()));
                        @if members.total == 1 { "Apply to the 1 " (which) "member" }
                        @else { "Apply to all " (grouped(members.total)) " " (which) "members" }
                    }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if paging.cursor.is_some() { a href=(format!("/app/campaigns/{id}")) { "First page" } }
            @if let Some(q) = next { a href=(format!("/app/campaigns/{id}{q}")) rel="next" { "Next page" } }
        }
    };
    Ok(Shell::new(&c.name, &signed.session, Some("Campaigns"), body).into_response())
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

async fn change_state(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { signed, form }: Posted,
) -> Result<Response, Failure> {
    let id = object_id(&id, "Campaign")?;
    let t = match form_value(&form, "action") {
        "start" => Transition::Start,
        "pause" => Transition::Pause,
        "resume" => Transition::Resume,
        "complete" => Transition::Complete,
        "archive" => Transition::Archive,
        _ => return Err(ApiError::validation("Unknown action").into()),
    };
    state.store.transition_campaign(signed.ws, id, t).await?;
    Ok(Redirect::to(&format!("/app/campaigns/{id}")).into_response())
}

async fn act(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { signed, form }: Posted,
) -> Result<Response, Failure> {
    let id = object_id(&id, "Campaign")?;
    let action = LeadAction::parse(form_value(&form, "action"))
        .ok_or_else(|| ApiError::validation("Unknown action"))?;
    // The status filter of the page the form was on.
    let status = match form_value(&form, "status") {
        "" => None,
        s => Some(
            CampaignLeadStatus::parse(s)
                .ok_or_else(|| ApiError::validation("Unknown member status"))?,
        ),
    };
    let selection = match form_value(&form, "scope") {
        // Every member the page's filter shows.
        "all" => MemberSelection::All {
            filter: None,
            status,
            exclude: Vec::new(),
        },
        _ => {
            let ids: Vec<ObjectId> = form_values(&form, "member")
                .filter_map(ObjectId::parse)
                .collect();
            if ids.is_empty() {
                return Err(ApiError::validation("Tick at least one member").into());
            }
            MemberSelection::Ids(ids)
        }
    };
    let changed = {
        let _turn = state.turns.take(signed.ws).await;
        state
            .store
            .campaign_lead_action(signed.ws, id, action, selection)
            .await?
    };
    // Back to the list the user acted on, saying how many changed.
    let status = status.map_or(String::new(), |s| format!("&status={}", s.as_str()));
    Ok(Redirect::to(&format!(
        "/app/campaigns/{id}?did={}&changed={changed}{status}",
        action.as_str()
    ))
    .into_response())
}
