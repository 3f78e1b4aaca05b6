//! Settings: the workspace's key (created or rotated, shown once) and its
//! members, for the workspace's owners signed in with their platform key,
//! as the API's workspace endpoints allow.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use maud::html;
use serde_json::json;

use super::page::{Failure, Shell, form_value};
use super::session::{Posted, Signed};
use crate::domain::workspace::Role;
use crate::error::ApiError;
use crate::routes::schema::MemberInput;
use crate::state::AppState;
use crate::store::{Access, Principal, UserRow};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/settings", axum::routing::get(show))
        .route("/app/settings/key", post(key))
        .route("/app/settings/members", post(add_member))
        .route("/app/settings/members/remove", post(remove_member))
}

/// The signed-in user when it owns the workspace; else why not.
async fn owner(state: &AppState, signed: &Signed) -> Result<Result<i64, &'static str>, Failure> {
    let Principal::User { user_key } = signed.session.row.principal else {
        return Ok(Err(
            "Keys and members are managed with a platform key: sign in with yours to manage them.",
        ));
    };
    Ok(
        match state
            .store
            .workspace_access(user_key, signed.ws.id())
            .await?
        {
            Access::Member(_, Role::Owner) => Ok(user_key),
            _ => Err("Only the workspace's owners manage its key and members."),
        },
    )
}

/// The owner, or 403.
async fn must_own(state: &AppState, signed: &Signed) -> Result<i64, Failure> {
    owner(state, signed).await?.map_err(Failure::forbidden)
}

async fn show(State(state): State<AppState>, signed: Signed) -> Result<Response, Failure> {
    let csrf = &signed.session.row.csrf;
    let body = match owner(&state, &signed).await? {
        Err(why) => html! { h1 { "Settings" } p { (why) } },
        Ok(_) => {
            let members = state.store.workspace_members(signed.ws).await?;
            html! {
                h1 { "Settings" }
                h2 { "Workspace key" }
                p { "The key an integration uses for this workspace (" code { "sk_…" } "). A new key is shown once; rotating it stops the old one at once." }
                div.actions {
                    @for (action, label) in [("create", "Create the key"), ("rotate", "Rotate the key")] {
                        form.inline method="post" action="/app/settings/key" {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="action" value=(action);
                            button type="submit" { (label) }
                        }
                    }
                }
                h2 { "Members" }
                (members_table(csrf, &members))
                form.inline-form method="post" action="/app/settings/members" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="email" { "Email of a user" }
                    input #email type="email" name="email" required;
                    label for="role" { "Role" }
                    select #role name="role" {
                        option value="member" { "member" }
                        option value="owner" { "owner" }
                    }
                    button type="submit" { "Add or change" }
                }
            }
        }
    };
    Ok(Shell::new("Settings", &signed.session, Some("Settings"), body).into_response())
}

fn members_table(csrf: &str, members: &[(UserRow, Role)]) -> maud::Markup {
    html! {
        table {
            thead { tr { th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { span.visually-hidden { "Remove" } } } }
            tbody {
                @for (u, role) in members {
                    tr {
                        td { (u.email) }
                        td { (role.as_str()) }
                        td {
                            form.inline method="post" action="/app/settings/members/remove" {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="hidden" name="email" value=(u.email);
                                button.link type="submit" aria-label=(format!("Remove {}", u.email)) { "Remove" }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn key(
    State(state): State<AppState>,
    Posted { signed, form }: Posted,
) -> Result<Response, Failure> {
    must_own(&state, &signed).await?;
    let key = match form_value(&form, "action") {
        "create" => state.store.create_workspace_key(signed.ws).await?,
        "rotate" => state.store.rotate_workspace_key(signed.ws).await?,
        _ => return Err(ApiError::validation("Unknown action").into()),
    };
    let body = html! {
        h1 { "The workspace key" }
        p { "Copy it now: it is shown this once and cannot be read again." }
        p { code.secret { (key.expose()) } }
        p { a href="/app/settings" { "Back to the settings" } }
    };
    Ok(Shell::new("Workspace key", &signed.session, Some("Settings"), body).into_response())
}

/// The member a form names (an existing user, by email).
async fn member_of(
    state: &AppState,
    form: &[(String, String)],
) -> Result<(UserRow, Option<Role>), Failure> {
    let input: MemberInput = serde_json::from_value(json!({
        "email": form_value(form, "email").trim(),
        "role": Some(form_value(form, "role")).filter(|r| !r.is_empty()),
    }))
    .map_err(|e| ApiError::validation(e.to_string()))?;
    let email = input.email().map_err(ApiError::field)?;
    let user = state
        .store
        .find_user(email)
        .await?
        .ok_or_else(|| Failure::not_found(format!("No user with email {email}")))?;
    Ok((user, input.role))
}

async fn add_member(
    State(state): State<AppState>,
    Posted { signed, form }: Posted,
) -> Result<Response, Failure> {
    must_own(&state, &signed).await?;
    let (user, role) = member_of(&state, &form).await?;
    state
        .store
        .set_member(signed.ws, user.key, role.unwrap_or(Role::Member))
        .await?;
    Ok(Redirect::to("/app/settings").into_response())
}

async fn remove_member(
    State(state): State<AppState>,
    Posted { signed, form }: Posted,
) -> Result<Response, Failure> {
    must_own(&state, &signed).await?;
    let (user, _) = member_of(&state, &form).await?;
    state.store.remove_member(signed.ws, user.key).await?;
    Ok(Redirect::to("/app/settings").into_response())
}
