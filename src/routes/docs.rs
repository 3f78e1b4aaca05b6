//! The OpenAPI document and the interactive docs page.
//!
//! Paths come from the handlers' `#[utoipa::path]` attributes, collected by
//! the router itself (`utoipa_axum::routes!`), so a route cannot exist
//! without its documentation. What every operation shares is added here:
//! the two ways to send a key, `X-Workspace-Id`, and the error envelope for
//! each error status. `/docs` is Swagger UI with every asset compiled into
//! the binary (no CDN), so it works offline.

use axum::Router;
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, RefOr, Required, ResponseBuilder, Type};
use utoipa_swagger_ui::{Config, SwaggerUi};

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
    components(schemas(crate::error::ErrorEnvelope)),
    tags(
        (name = "Campaign leads", description = "Adding leads to campaigns, and their membership"),
        (name = "Leads"),
        (name = "Campaigns"),
        (name = "Do not contact"),
        (name = "Account and workspaces", description = "Platform key only"),
        (name = "Health")
    )
)]
pub struct ApiDoc;

/// Adds what every operation shares to the collected document.
pub fn finish(doc: &mut utoipa::openapi::OpenApi) {
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

/// `GET /openapi.json` and the page at `/docs`.
pub fn router(doc: utoipa::openapi::OpenApi) -> Router<AppState> {
    let config = Config::new(["/openapi.json"])
        .try_it_out_enabled(true)
        .persist_authorization(true)
        .display_request_duration(true)
        .doc_expansion("list");
    SwaggerUi::new("/docs")
        .url("/openapi.json", doc)
        .config(config)
        .into()
}
