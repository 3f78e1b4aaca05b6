//! The OpenAPI document and the interactive docs page.
//!
//! Paths come from the handlers' `#[utoipa::path]` attributes, collected by
//! the router itself (`utoipa_axum::routes!`), so a route cannot exist
//! without its documentation. What every operation shares is added here:
//! the two ways to send a key, `X-Workspace-Id`, and the error envelope for
//! each error status. `/docs` is Swagger UI with every asset compiled into
//! the binary (no CDN), so it works offline.

mod rules;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ArrayItems, KnownFormat, SchemaFormat};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, Ref, RefOr, Required, ResponseBuilder, Schema, Type,
};
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::campaign_leads::MAX_EXPLICIT;
use super::leads::MAX_BULK;
use super::schema::MAX_DNC_ENTRIES;
use crate::domain::email::MAX_LEN as MAX_EMAIL;
use crate::domain::filter::MAX_LEAD_IDS;
use crate::domain::json::MAX_NAME;
use crate::domain::lead::{MAX_STRING, MAX_TAGS, TEXT_FIELDS, VERIFICATION_RESULTS};
use crate::error::ErrorCode;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "leadflow",
        description = "Leads and campaigns over the SendKit v1 REST API. Send a workspace key \
                       (`sk_…`) as `X-Api-Key` or `Authorization: Bearer`; a platform key \
                       (`sk_user_…`) also needs `X-Workspace-Id` on workspace endpoints. \
                       Every answer is `{\"success\": true, \"data\": …}` or \
                       `{\"success\": false, \"error\": {\"code\", \"message\"}}`.",
        license(name = "MIT OR Apache-2.0")
    ),
    servers((url = "/", description = "The server this document comes from (paths start with /v1)")),
    components(schemas(crate::error::ErrorEnvelope)),
    tags(
        (name = "Campaign leads", description = "Adding leads to campaigns, and their membership"),
        (name = "Leads"),
        (name = "Campaigns"),
        (name = "Do not contact"),
        (name = "Jobs", description = "Work run in the background, in chunks"),
        (name = "Events", description = "What changed, in commit order: the event log and its webhooks"),
        (name = "Account and workspaces", description = "Platform key only"),
        (name = "Health")
    )
)]
pub struct ApiDoc;

/// An ID as the API writes it: the form the server accepts.
const ID_PATTERN: &str = "^[0-9a-f]{24}$";

/// A limit the parsers enforce, as the document states it.
#[derive(Clone, Copy, Debug)]
enum Limit {
    MaxLength(usize),
    MaxItems(usize),
    /// A string that is an ID, or an array of them.
    Id,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// A string with something other than white space.
    NotBlank,
    /// An email address.
    Email,
}

/// Every limit of a request body, from the same constants the parsers
/// use: (schema, property, limit).
fn limits() -> Vec<(&'static str, &'static str, Limit)> {
    use Limit::*;
    let mut out = vec![
        ("CampaignInput", "name", MaxLength(MAX_NAME)),
        ("WorkspaceInput", "name", MaxLength(MAX_NAME)),
        ("DncAddRequest", "entries", MaxItems(MAX_DNC_ENTRIES)),
        ("DncDeleteRequest", "ids", MaxItems(MAX_DNC_ENTRIES)),
        ("DncDeleteRequest", "ids", Id),
        ("BulkRequest", "leads", MaxItems(MAX_BULK)),
        ("AddLeadsRequest", "leads", MaxItems(MAX_EXPLICIT)),
        ("LeadInput", "email", MaxLength(MAX_EMAIL)),
        ("LeadInput", "email", Email),
        ("MemberInput", "email", Email),
        ("MemberInput", "role", OneOf(&["owner", "member"])),
        ("CampaignInput", "name", NotBlank),
        ("WorkspaceInput", "name", NotBlank),
        ("CampaignLeadUpdate", "status", OneOf(&["active", "paused"])),
        (
            "LeadActionRequest",
            "action",
            OneOf(&["pause", "resume", "remove"]),
        ),
        ("DncInput", "type", OneOf(&["email", "domain"])),
        (
            "LeadInput",
            "emailVerificationResult",
            OneOf(&VERIFICATION_RESULTS),
        ),
        ("LeadInput", "tags", MaxItems(MAX_TAGS)),
    ];
    for (name, _) in TEXT_FIELDS {
        if name != "country" {
            out.push(("LeadInput", name, MaxLength(MAX_STRING)));
        }
    }
    // (`Filters` and `AddLeadEntry` are written whole by `rules`.)
    for schema in [
        "AddLeadsRequest",
        "DeleteLeadsRequest",
        "LeadActionRequest",
        "MoveLeadsRequest",
    ] {
        for field in ["leadIds", "excludeIds"] {
            if schema == "AddLeadsRequest" && field == "leadIds" {
                continue;
            }
            out.push((schema, field, MaxItems(MAX_LEAD_IDS)));
            out.push((schema, field, Id));
        }
    }
    out
}

/// Writes `limit` into a property's schema; false when the schema is not
/// of a kind the limit fits.
fn apply(schema: &mut Schema, limit: Limit) -> bool {
    match (schema, limit) {
        (Schema::Object(o), Limit::MaxLength(n)) => o.max_length = Some(n),
        (Schema::Object(o), Limit::Id) => o.pattern = Some(ID_PATTERN.into()),
        (Schema::Object(o), Limit::OneOf(values)) => {
            o.enum_values = Some(values.iter().map(|v| (*v).into()).collect());
        }
        (Schema::Object(o), Limit::NotBlank) => o.pattern = Some(r"\S".into()),
        (Schema::Object(o), Limit::Email) => {
            o.format = Some(SchemaFormat::KnownFormat(KnownFormat::Email));
        }
        (Schema::Array(a), Limit::MaxItems(n)) => a.max_items = Some(n),
        (Schema::Array(a), Limit::Id) => match &mut a.items {
            ArrayItems::RefOrSchema(item) => match item.as_mut() {
                RefOr::T(item) => return apply(item, Limit::Id),
                RefOr::Ref(_) => return false,
            },
            _ => return false,
        },
        (Schema::OneOf(one), limit) => {
            return one.items.iter_mut().any(|s| match s {
                RefOr::T(s) => apply(s, limit),
                RefOr::Ref(_) => false,
            });
        }
        _ => return false,
    }
    true
}

/// Writes every limit of [`limits`] into the document; returns the ones
/// that found no place (a renamed field), which the tests refuse.
fn write_limits(doc: &mut utoipa::openapi::OpenApi) -> Vec<String> {
    let Some(components) = doc.components.as_mut() else {
        return vec!["no components".into()];
    };
    let mut missed = Vec::new();
    for (schema, property, limit) in limits() {
        let in_object =
            |o: &mut utoipa::openapi::schema::Object| match o.properties.get_mut(property) {
                Some(RefOr::T(p)) => apply(p, limit),
                _ => false,
            };
        let applied = match components.schemas.get_mut(schema) {
            Some(RefOr::T(Schema::Object(o))) => in_object(o),
            // An enum of objects (an add-leads entry): each that has it.
            Some(RefOr::T(Schema::OneOf(one))) => one
                .items
                .iter_mut()
                .filter_map(|item| match item {
                    RefOr::T(Schema::Object(o)) => Some(in_object(o)),
                    _ => None,
                })
                .fold(false, |any, applied| any | applied),
            _ => false,
        };
        if !applied {
            missed.push(format!("{schema}.{property}: {limit:?}"));
        }
    }
    missed
}

/// Adds what every operation shares to the collected document.
pub fn finish(doc: &mut utoipa::openapi::OpenApi) {
    let missed = write_limits(doc);
    debug_assert!(missed.is_empty(), "limits without a place: {missed:?}");
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "apiKey",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-Api-Key",
            "A workspace key (sk_…) or a platform key (sk_user_…)",
        ))),
    );
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("The same key as a bearer token"))
                .build(),
        ),
    );
    doc.security = Some(vec![
        SecurityRequirement::new("apiKey", Vec::<String>::new()),
        SecurityRequirement::new("bearer", Vec::<String>::new()),
    ]);

    for (path, item) in doc.paths.paths.iter_mut() {
        let in_workspace = !["/v1/health", "/v1/account", "/v1/workspaces"]
            .iter()
            .any(|p| path.starts_with(p));
        let writes = [
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in writes.into_iter().flatten() {
            op.parameters
                .get_or_insert_with(Vec::new)
                .push(RefOr::T(idempotency_header()));
        }
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            if in_workspace {
                op.parameters
                    .get_or_insert_with(Vec::new)
                    .push(RefOr::T(workspace_header()));
            }
            for p in op.parameters.iter_mut().flatten() {
                let RefOr::T(p) = p else { continue };
                let is_path = p.parameter_in == ParameterIn::Path;
                let is_cursor = p.parameter_in == ParameterIn::Query && p.name == "cursor";
                if let Some(RefOr::T(schema)) = p.schema.as_mut() {
                    if is_path {
                        apply(schema, Limit::Id);
                    } else if is_cursor && let Schema::Object(o) = schema {
                        // An ID, or empty for the first page.
                        o.pattern = Some("^([0-9a-f]{24})?$".into());
                    }
                }
            }
            add_errors(op, path == "/v1/health");
        }
    }
}

fn workspace_header() -> Parameter {
    ParameterBuilder::new()
        .name("X-Workspace-Id")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "The workspace to act in: required with a platform key, optional (and must match) with a workspace key",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[0-9a-fA-F]{24}$")),
        ))
        .build()
}

fn idempotency_header() -> Parameter {
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Retry safely: the first answer for this key is kept 24 hours and replayed \
             (Idempotent-Replayed: true); the same key with another request is a 409",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some("^[\\x21-\\x7e]+$")),
        ))
        .build()
}

/// Error statuses every operation may answer, and when (a wrong method is
/// answered by the router, never by an operation).
fn add_errors(op: &mut Operation, health: bool) {
    for code in ErrorCode::ALL {
        if code == ErrorCode::MethodNotAllowed || (health && code != ErrorCode::Unavailable) {
            continue;
        }
        let description = format!("{}: {}", code.name(), code.meaning());
        let response = ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
                    .build(),
            )
            .build();
        op.responses
            .responses
            .entry(code.status().as_u16().to_string())
            .or_insert(RefOr::T(response));
    }
}

/// The document as served: what the annotations collect, finished, with
/// the [`rules`] written in.
pub fn document(mut doc: utoipa::openapi::OpenApi) -> Value {
    finish(&mut doc);
    let mut json = serde_json::to_value(doc).expect("the document serializes");
    rules::write(&mut json);
    json
}

/// `GET /openapi.json` and the page at `/docs`.
pub fn router(doc: Value) -> Router<AppState> {
    let doc = Arc::new(doc);
    // No validator: Swagger UI would otherwise load a badge from an outside
    // host whenever the page is opened by any name but localhost.
    let config = Config::new(["/openapi.json"])
        .validator_url("none")
        .try_it_out_enabled(true)
        .persist_authorization(true)
        .display_request_duration(true)
        .doc_expansion("list");
    Router::new()
        .route("/openapi.json", get(move || async move { Json(doc) }))
        .merge(SwaggerUi::new("/docs").config(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_finds_its_place_in_the_document() {
        let mut doc = super::super::api().1;
        assert_eq!(write_limits(&mut doc), Vec::<String>::new());
    }
}
