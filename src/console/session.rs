//! Console sessions: the cookie, its token's hash in the store, and the
//! CSRF tokens forms carry.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

use super::page::Failure;
use crate::domain::key::ApiKey;
use crate::domain::now_ms;
use crate::rate_limit::Bucket;
use crate::state::AppState;
use crate::store::WorkspaceRef;
use crate::store::sessions::SessionRow;

/// The session cookie.
const COOKIE: &str = "leadflow_session";
/// The sign-in form's cookie (its CSRF token, before there is a session).
const SIGN_IN_COOKIE: &str = "leadflow_sign_in";
/// How long a session lasts.
pub const LIFETIME_SECS: i64 = 12 * 3600;

/// 256 random bits, as hex.
fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether two tokens are equal, in time that does not depend on where
/// they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A cookie for the console's paths: `HttpOnly`, `SameSite=Strict`,
/// `Secure` when the server speaks TLS.
fn cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/app; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("a cookie of hex and fixed text")
}

/// The value of a request cookie.
fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// A CSRF token for the sign-in form, and the cookie that binds it to
/// this browser (a form posted from elsewhere has neither).
pub fn sign_in_token(state: &AppState) -> (String, HeaderValue) {
    let token = random_token();
    let c = cookie(state, SIGN_IN_COOKIE, &token, 3600);
    (token, c)
}

/// The sign-in form's token must match its cookie.
pub fn check_sign_in_token(headers: &HeaderMap, given: &str) -> Result<(), Failure> {
    match read_cookie(headers, SIGN_IN_COOKIE) {
        Some(expected) if same(expected, given) => Ok(()),
        _ => Err(Failure::forbidden(
            "This form has expired or was not sent from this site; reload the page and try again",
        )),
    }
}

/// Starts a session for `key` (already authenticated); its cookie.
pub async fn start(state: &AppState, key: &ApiKey) -> Result<HeaderValue, Failure> {
    let token = random_token();
    let now = now_ms();
    state
        .store
        .create_session(
            hash(&token),
            key.hash(),
            random_token(),
            now,
            now + LIFETIME_SECS * 1000,
        )
        .await?;
    Ok(cookie(state, COOKIE, &token, LIFETIME_SECS))
}

/// The cookie that ends a session in the browser.
pub fn cleared(state: &AppState) -> HeaderValue {
    cookie(state, COOKIE, "", 0)
}

/// A signed-in browser, with or without a workspace chosen.
pub struct Session {
    pub token_hash: Vec<u8>,
    pub row: SessionRow,
}

impl Session {
    pub fn check_csrf(&self, given: &str) -> Result<(), Failure> {
        if same(&self.row.csrf, given) {
            Ok(())
        } else {
            Err(Failure::forbidden(
                "This form was not sent from this site's page (its token is missing or wrong)",
            ))
        }
    }

    pub async fn end(&self, state: &AppState) -> Result<(), Failure> {
        state
            .store
            .end_session(self.token_hash.clone(), now_ms())
            .await?;
        Ok(())
    }
}

/// Not signed in: to the sign-in page.
pub struct SignInFirst;

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        Redirect::to("/app/sign-in").into_response()
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = SignInFirst;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, SignInFirst> {
        let token = read_cookie(&parts.headers, COOKIE).ok_or(SignInFirst)?;
        let token_hash = hash(token);
        let row = state
            .store
            .find_session(token_hash.clone(), now_ms())
            .await
            .ok()
            .flatten()
            .ok_or(SignInFirst)?;
        Ok(Session { token_hash, row })
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for Session {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            <Session as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .ok(),
        )
    }
}

/// A signed-in browser acting in a workspace, charged to the workspace's
/// rate limit as an API request is.
pub struct Signed {
    pub session: Session,
    pub ws: WorkspaceRef,
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = <Session as FromRequestParts<AppState>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some(ws) = session.row.workspace else {
            return Err(Redirect::to("/app/workspaces").into_response());
        };
        if let Some(limits) = &state.limits {
            let decision = limits.check(Bucket::Workspace(ws.key));
            if !decision.allowed {
                return Err(Failure::rate_limited(decision.retry_after_secs).into_response());
            }
        }
        Ok(Signed { session, ws })
    }
}

/// A form posted by a signed-in browser acting in a workspace, its CSRF
/// token checked (403 when it is missing or wrong): what every
/// state-changing console handler takes.
pub struct Posted {
    pub signed: Signed,
    pub form: Vec<(String, String)>,
}

impl axum::extract::FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let signed =
            <Signed as FromRequestParts<AppState>>::from_request_parts(&mut parts, state).await?;
        let req = axum::extract::Request::from_parts(parts, body);
        let axum::extract::Form(form) =
            axum::extract::Form::<Vec<(String, String)>>::from_request(req, state)
                .await
                .map_err(IntoResponse::into_response)?;
        signed
            .session
            .check_csrf(super::page::form_value(&form, "csrf"))
            .map_err(IntoResponse::into_response)?;
        Ok(Posted { signed, form })
    }
}
