//! The web console at `/app`: server-rendered pages (maud) over the same
//! store and domain rules as the API, for the people who run campaigns
//! without writing API clients.
//!
//! Signing in takes an API key once and turns it into a session: a random
//! token in an `HttpOnly`, `SameSite=Strict` cookie (`Secure` under TLS)
//! whose hash the database keeps with the key's hash, so revoking or
//! rotating the key ends the session. The key itself is never stored nor
//! rendered. Every state-changing form carries the session's CSRF token
//! (the sign-in form a cookie-bound one), every page is sent with a
//! Content-Security-Policy that allows no inline script, and every value
//! from the database is rendered as text. Requests are charged to the
//! workspace's rate limit as the API's are.

mod campaigns;
mod dnc;
mod import;
mod leads;
mod page;
mod session;
mod settings;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use serde::Deserialize;

use crate::domain::key::ApiKey;
use crate::state::AppState;
use crate::store::Principal;
use page::{Failure, Shell};
use session::{Posted, Session};

/// The console's style sheet, compiled in.
const STYLE: &str = include_str!("app.css");

/// The policy every console page is sent with: nothing from elsewhere,
/// no inline script or style, no framing, forms only to this server.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/app") }))
        .route("/app", get(home))
        .route("/app/", get(home))
        .route("/app/sign-in", get(sign_in_page).post(sign_in))
        .route("/app/sign-out", post(sign_out))
        .route("/app/workspaces", get(workspaces).post(choose_workspace))
        .route("/app/assets/app.css", get(style))
        .route("/app/jobs/{id}/cancel", post(cancel_job))
        .merge(leads::router())
        .merge(campaigns::router())
        .merge(dnc::router())
        .merge(import::router())
        .merge(settings::router())
        .layer(axum::middleware::from_fn(headers))
}

/// The security headers of every console answer.
async fn headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

/// `/app`: the leads, or signing in.
async fn home(session: Option<Session>) -> Redirect {
    match session {
        Some(s) if s.row.workspace.is_some() => Redirect::to("/app/leads"),
        Some(_) => Redirect::to("/app/workspaces"),
        None => Redirect::to("/app/sign-in"),
    }
}

async fn sign_in_page(State(state): State<AppState>) -> Response {
    let (csrf, cookie) = session::sign_in_token(&state);
    sign_in_form(&csrf, None, StatusCode::OK, cookie)
}

fn sign_in_form(
    csrf: &str,
    error: Option<&str>,
    status: StatusCode,
    cookie: HeaderValue,
) -> Response {
    let body = html! {
        h1 { "Sign in" }
        p { "Paste an API key: a workspace key (" code { "sk_…" } ") or your platform key ("
            code { "sk_user_…" } ", then choose a workspace). The key is not kept in the browser." }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form method="post" action="/app/sign-in" {
            input type="hidden" name="csrf" value=(csrf);
            label for="key" { "API key" }
            input #key type="password" name="key" autocomplete="off" required;
            button type="submit" { "Sign in" }
        }
    };
    let mut res = (status, Shell::bare("Sign in", body)).into_response();
    res.headers_mut().append(header::SET_COOKIE, cookie);
    res
}

#[derive(Deserialize)]
struct SignIn {
    #[serde(default)]
    key: String,
    #[serde(default)]
    csrf: String,
}

async fn sign_in(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Form(form): Form<SignIn>,
) -> Result<Response, Failure> {
    session::check_sign_in_token(&headers, &form.csrf)?;
    let key = ApiKey::from_header(form.key.trim());
    let principal = state.store.authenticate(&key).await?;
    let Some(principal) = principal else {
        let (csrf, cookie) = session::sign_in_token(&state);
        return Ok(sign_in_form(
            &csrf,
            Some("That key is not valid, or it has been revoked."),
            StatusCode::UNAUTHORIZED,
            cookie,
        ));
    };
    let cookie = session::start(&state, &key).await?;
    let to = match principal {
        Principal::Workspace(_) => "/app/leads",
        Principal::User { .. } => "/app/workspaces",
    };
    let mut res = Redirect::to(to).into_response();
    res.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(res)
}

/// A form's CSRF token: absent is wrong, a 403 like any other.
#[derive(Deserialize)]
struct Csrf {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(
    State(state): State<AppState>,
    s: Session,
    Form(form): Form<Csrf>,
) -> Result<Response, Failure> {
    s.check_csrf(&form.csrf)?;
    s.end(&state).await?;
    let mut res = Redirect::to("/app/sign-in").into_response();
    res.headers_mut()
        .append(header::SET_COOKIE, session::cleared(&state));
    Ok(res)
}

/// A platform key's workspaces, to choose one.
async fn workspaces(State(state): State<AppState>, s: Session) -> Result<Response, Failure> {
    let Principal::User { user_key } = s.row.principal else {
        return Ok(Redirect::to("/app/leads").into_response());
    };
    let list = state.store.user_workspaces(user_key).await?;
    let body = html! {
        h1 { "Choose a workspace" }
        @if list.is_empty() {
            p { "You are not a member of any workspace yet." }
        }
        ul.choices {
            @for (w, role) in &list {
                li {
                    form method="post" action="/app/workspaces" {
                        input type="hidden" name="csrf" value=(s.row.csrf);
                        input type="hidden" name="workspace" value=(w.workspace.id().to_string());
                        button type="submit" { (w.name) }
                        " "
                        span.muted { (format!("{role:?}").to_lowercase()) }
                    }
                }
            }
        }
    };
    Ok(Shell::new("Workspaces", &s, None, body).into_response())
}

#[derive(Deserialize)]
struct Choose {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    workspace: String,
}

async fn choose_workspace(
    State(state): State<AppState>,
    s: Session,
    Form(form): Form<Choose>,
) -> Result<Response, Failure> {
    s.check_csrf(&form.csrf)?;
    let Principal::User { user_key } = s.row.principal else {
        return Err(Failure::forbidden("A workspace key has its own workspace"));
    };
    let id = crate::domain::id::ObjectId::parse(form.workspace.trim())
        .ok_or_else(|| Failure::not_found("No such workspace"))?;
    let ws = state
        .store
        .member_workspace(user_key, id)
        .await?
        .ok_or_else(|| Failure::not_found("No such workspace"))?;
    state
        .store
        .choose_session_workspace(s.token_hash.clone(), ws)
        .await?;
    Ok(Redirect::to("/app/leads").into_response())
}

/// Stops a job (an import, an add) from its page, and goes back to it.
async fn cancel_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Posted { signed, .. }: Posted,
) -> Result<Response, Failure> {
    let id = page::object_id(&id, "Job")?;
    let job = state.store.cancel_job(signed.ws, id).await?;
    Ok(Redirect::to(&page::job_path(&job)).into_response())
}
