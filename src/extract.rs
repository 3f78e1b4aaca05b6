//! Extractors whose failures come back in the API's envelope: JSON bodies,
//! query strings, paths and the authenticated workspace.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::access::Access;
use crate::domain::id::ObjectId;
use crate::domain::key::ApiKey;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::WorkspaceRef;

/// The bytes of a JSON body: `application/json` required, the size
/// limit, and no NUL character.
async fn json_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        });
    if !is_json {
        return Err(ApiError::UnsupportedMediaType(
            "Content-Type must be application/json".into(),
        ));
    }
    let bytes = Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge("Request body is larger than the limit".into())
        } else {
            ApiError::validation(format!("Could not read the request body: {e}"))
        }
    })?;
    if has_escaped_nul(&bytes) {
        return Err(ApiError::validation(
            "Strings must not contain NUL characters (\\u0000)",
        ));
    }
    Ok(bytes)
}

/// Deserializes a JSON object into a request type, with the path of what
/// failed; its fields refuse in their own words.
fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let starts_object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if !starts_object {
        // Not an object (a struct would take an array by position): say
        // so, unless it is not JSON at all.
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Err(e) => ApiError::validation(format!("Malformed JSON: {e}")),
                Ok(_) => ApiError::validation("Body must be a JSON object"),
            },
        );
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::validation(format!("Malformed JSON: {inner}"));
        }
        // serde_json ends its messages with where in the text they arose.
        let text = inner.to_string();
        let position = format!(" at line {} column {}", inner.line(), inner.column());
        let text = text.strip_suffix(&position).unwrap_or(&text);
        if let Some(field) = crate::domain::json::refusal(&path, text) {
            return ApiError::field(field);
        }
        if path == "." {
            ApiError::validation(format!("Invalid body: {inner}"))
        } else {
            ApiError::validation(format!("Invalid value at {path}: {inner}"))
        }
    })
}

/// A JSON object body parsed into a request type whose fields are
/// [`FromJson`](crate::domain::json::FromJson) types: a refusal is a 400
/// naming the field by its path (`entries[2].value`), in the same words
/// as the field's parser.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = json_bytes(req, state).await?;
        from_json(&bytes).map(Body)
    }
}

/// Whether a JSON text holds the escape `\u0000` (a NUL character, which
/// no stored text may contain; PostgreSQL cannot store it). Raw control
/// characters in strings are already invalid JSON.
fn has_escaped_nul(json: &[u8]) -> bool {
    let mut backslashes = 0usize;
    for (i, &b) in json.iter().enumerate() {
        if b == b'\\' {
            backslashes += 1;
            continue;
        }
        if backslashes % 2 == 1
            && b == b'u'
            && json
                .get(i + 1..i + 5)
                .is_some_and(|hex| hex.iter().all(|&h| h == b'0'))
        {
            return true;
        }
        backslashes = 0;
    }
    false
}

/// The query string as ordered pairs.
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(pairs) =
            axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
                .map_err(|e| ApiError::validation(format!("Invalid query string: {e}")))?;
        if pairs
            .iter()
            .any(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(ApiError::validation(
                "Query parameters must not contain NUL characters",
            ));
        }
        Ok(QueryPairs(pairs))
    }
}

/// A query string parsed into a documented type whose fields are
/// [`FromJson`](crate::domain::json::FromJson) types reading text: a
/// refusal is a 400 naming the parameter. A parameter given twice counts
/// once, the first time.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let QueryPairs(pairs) = QueryPairs::from_request_parts(parts, state).await?;
        let mut obj = serde_json::Map::new();
        for (k, v) in pairs {
            obj.entry(k).or_insert(serde_json::Value::String(v));
        }
        serde_path_to_error::deserialize(serde_json::Value::Object(obj))
            .map(Query)
            .map_err(|e| {
                let path = e.path().to_string();
                let text = e.into_inner().to_string();
                match crate::domain::json::refusal(&path, &text) {
                    Some(field) => ApiError::field(field),
                    None => ApiError::validation(format!("Invalid query string: {text}")),
                }
            })
    }
}

/// A path ID; anything that is not one names nothing (404).
pub fn path_id(raw: &str, what: &str) -> Result<ObjectId, ApiError> {
    ObjectId::parse(raw).ok_or_else(|| ApiError::NotFound(format!("{what} not found")))
}

/// The API key of a request: `X-Api-Key` or `Authorization: Bearer`, the
/// same key if both are sent.
pub fn request_key(headers: &HeaderMap) -> Result<ApiKey, ApiError> {
    let unauthorized = |m: &str| ApiError::Unauthorized(m.to_owned());
    let api_key = match headers.get("x-api-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| unauthorized("Invalid API key"))?
                .trim(),
        ),
    };
    let bearer = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let v = v
                .to_str()
                .map_err(|_| unauthorized("Invalid API key"))?
                .trim();
            let (scheme, token) = v.split_once(' ').unwrap_or((v, ""));
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(unauthorized("Authorization must be: Bearer <API key>"));
            }
            Some(token.trim())
        }
    };
    let key = match (api_key, bearer) {
        (Some(a), Some(b)) if a != b => {
            return Err(unauthorized(
                "X-Api-Key and Authorization carry different keys",
            ));
        }
        (Some(k), _) | (None, Some(k)) => k,
        (None, None) => {
            return Err(unauthorized(
                "Missing API key: send X-Api-Key or Authorization: Bearer",
            ));
        }
    };
    if key.is_empty() {
        return Err(unauthorized(
            "Missing API key: send X-Api-Key or Authorization: Bearer",
        ));
    }
    Ok(ApiKey::from_header(key))
}

/// The workspace a request acts in, authenticated (docs/API.md,
/// "Authentication and workspaces").
#[derive(Clone, Copy, Debug)]
pub struct Tenant(pub WorkspaceRef);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    /// What `access` decided: it authenticated the key, resolved the
    /// workspace and charged its rate limit before this handler was chosen.
    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        match parts.extensions.get::<Access>() {
            Some(Access::Workspace(ws)) => Ok(Tenant(*ws)),
            _ => Err(ApiError::Internal(anyhow::anyhow!(
                "a workspace route without the access layer"
            ))),
        }
    }
}

/// A request made with a platform key (`sk_user_…`): the user's key.
/// Workspace keys get 403 here.
#[derive(Clone, Copy, Debug)]
pub struct Platform(pub i64);

impl FromRequestParts<AppState> for Platform {
    type Rejection = ApiError;

    /// What `access` decided (a platform key, 403 for a workspace key).
    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        match parts.extensions.get::<Access>() {
            Some(Access::User(user)) => Ok(Platform(*user)),
            _ => Err(ApiError::Internal(anyhow::anyhow!(
                "a platform route without the access layer"
            ))),
        }
    }
}
