//! `/openapi.json`, `leadflow openapi` and the `/docs` page.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// Every endpoint of the API (docs/API.md).
const ENDPOINTS: &[(&str, &str)] = &[
    ("get", "/v1/health"),
    ("get", "/v1/account"),
    ("get", "/v1/workspaces"),
    ("post", "/v1/workspaces"),
    ("get", "/v1/workspaces/{id}"),
    ("patch", "/v1/workspaces/{id}"),
    ("delete", "/v1/workspaces/{id}"),
    ("post", "/v1/workspaces/{id}/members"),
    ("delete", "/v1/workspaces/{id}/members"),
    ("post", "/v1/workspaces/{id}/api-key"),
    ("delete", "/v1/workspaces/{id}/api-key"),
    ("post", "/v1/workspaces/{id}/api-key/rotate"),
    ("post", "/v1/account/api-key/rotate"),
    ("get", "/v1/leads"),
    ("post", "/v1/leads"),
    ("delete", "/v1/leads"),
    ("get", "/v1/leads/{id}"),
    ("patch", "/v1/leads/{id}"),
    ("delete", "/v1/leads/{id}"),
    ("get", "/v1/leads/{id}/campaigns"),
    ("post", "/v1/leads/bulk"),
    ("post", "/v1/leads/import/csv"),
    ("get", "/v1/campaigns"),
    ("post", "/v1/campaigns"),
    ("get", "/v1/campaigns/{id}"),
    ("patch", "/v1/campaigns/{id}"),
    ("delete", "/v1/campaigns/{id}"),
    ("post", "/v1/campaigns/{id}/start"),
    ("post", "/v1/campaigns/{id}/pause"),
    ("post", "/v1/campaigns/{id}/resume"),
    ("post", "/v1/campaigns/{id}/complete"),
    ("post", "/v1/campaigns/{id}/archive"),
    ("get", "/v1/campaigns/{id}/leads"),
    ("post", "/v1/campaigns/{id}/leads"),
    ("patch", "/v1/campaigns/{id}/leads/{campaign_lead_id}"),
    ("post", "/v1/campaigns/{id}/leads/action"),
    ("post", "/v1/campaigns/{id}/leads/move"),
    ("get", "/v1/dnc"),
    ("post", "/v1/dnc"),
    ("delete", "/v1/dnc"),
    ("post", "/v1/dnc/import"),
    ("get", "/v1/events"),
    ("get", "/v1/jobs"),
    ("get", "/v1/jobs/{id}"),
    ("delete", "/v1/jobs/{id}"),
    ("get", "/v1/webhooks"),
    ("post", "/v1/webhooks"),
    ("get", "/v1/webhooks/{id}"),
    ("patch", "/v1/webhooks/{id}"),
    ("delete", "/v1/webhooks/{id}"),
    ("post", "/v1/webhooks/{id}/rotate-secret"),
    ("post", "/v1/webhooks/{id}/test"),
    ("get", "/v1/webhooks/{id}/deliveries"),
    ("post", "/v1/webhooks/{id}/deliveries/{delivery_id}/resend"),
];

async fn document(app: &TestApp) -> Value {
    let r = app
        .send(reqwest::Method::GET, "/openapi.json", &[], None)
        .await;
    assert_eq!(r.status, 200);
    r.body
}

/// Follows a `$ref` to its component schema.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

#[tokio::test]
async fn the_document_covers_every_endpoint_with_auth_and_errors() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], json!("3.1.0"));
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        schemes["apiKey"],
        json!({"type": "apiKey", "in": "header", "name": "X-Api-Key",
               "description": "A workspace key (sk_…) or a platform key (sk_user_…)"})
    );
    assert_eq!(schemes["bearer"]["scheme"], json!("bearer"));

    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        operations += item.as_object().unwrap().len();
        for (method, op) in item.as_object().unwrap() {
            assert!(op["operationId"].is_string(), "{method} {path}");
            let responses = op["responses"].as_object().unwrap();
            let errors = if path == "/v1/health" {
                &["503"][..]
            } else {
                &["400", "401", "403", "404", "409", "500", "503"][..]
            };
            for code in errors {
                assert_eq!(
                    responses[*code]["content"]["application/json"]["schema"]["$ref"],
                    json!("#/components/schemas/ErrorEnvelope"),
                    "{method} {path} {code}"
                );
            }
            let names: Vec<&str> = op["parameters"]
                .as_array()
                .map(|p| p.iter().filter_map(|p| p["name"].as_str()).collect())
                .unwrap_or_default();
            let in_workspace = !path.starts_with("/v1/health")
                && !path.starts_with("/v1/account")
                && !path.starts_with("/v1/workspaces");
            assert_eq!(
                names.contains(&"X-Workspace-Id"),
                in_workspace,
                "{method} {path}"
            );
        }
    }
    for (method, path) in ENDPOINTS {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is missing"
        );
    }
    assert_eq!(operations, ENDPOINTS.len(), "no undocumented extras");
    assert_eq!(doc["paths"]["/v1/health"]["get"]["security"], json!([{}]));
    let codes = &doc["components"]["schemas"]["ErrorCode"]["enum"];
    for code in [
        "VALIDATION_ERROR",
        "NOT_FOUND",
        "RATE_LIMITED",
        "UNAVAILABLE",
    ] {
        assert!(codes.as_array().unwrap().contains(&json!(code)));
    }
}

#[tokio::test]
async fn the_add_leads_operation_describes_its_modes_and_carries_the_seed_example() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let op = &doc["paths"]["/v1/campaigns/{id}/leads"]["post"];
    assert_eq!(op["summary"], json!("Add leads to campaign"));
    let text = op["description"].as_str().unwrap();
    for needle in [
        "Mode 1",
        "Mode 2",
        "Mode 3",
        "5,000",
        "excludeIds",
        "dryRun",
        "selectAll",
    ] {
        assert!(text.contains(needle), "{needle}");
    }
    let body = &op["requestBody"]["content"]["application/json"];
    assert_eq!(
        body["examples"]["explicit"]["value"],
        json!({"leads": [
            {"email": "john@acme.com", "firstName": "John", "lastName": "Doe", "companyName": "Acme Corp"},
            {"email": "jane@example.com", "firstName": "Jane"},
            {"leadId": "665d4e5f6a7b8c9d0e1f2a3b"}
        ]})
    );
    let request = resolve(&doc, &body["schema"]);
    assert_eq!(request["properties"]["leads"]["maxItems"], json!(5000));
    for field in ["filters", "selectAll", "excludeIds", "dryRun"] {
        assert!(request["properties"][field].is_object(), "{field}");
    }
    // Both response shapes.
    let ok = resolve(
        &doc,
        &op["responses"]["200"]["content"]["application/json"]["schema"],
    );
    let result = resolve(&doc, &ok["properties"]["data"]);
    let shapes: Vec<&Value> = result["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| resolve(&doc, s))
        .collect();
    assert!(shapes[0]["properties"]["errors"].is_object());
    assert!(shapes[1]["properties"]["matched"].is_object());
}

#[tokio::test]
async fn leadflow_openapi_prints_the_served_document() {
    let app = spawn_app().await;
    let served = document(&app).await;
    let out = tokio::process::Command::from(crate::helpers::leadflow(&["openapi"], None))
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, served);
}

#[tokio::test]
async fn the_docs_page_and_every_asset_come_from_the_server() {
    let app = spawn_app().await;
    let page = app.send(reqwest::Method::GET, "/docs/", &[], None).await;
    assert_eq!(page.status, 200);
    let html = page.body.as_str().unwrap().to_owned();
    assert!(html.contains("swagger-ui"));
    assert!(html.contains("<title>leadflow API</title>"), "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    let assets: Vec<String> = html
        .split(['"', '\''])
        .filter(|s| s.ends_with(".js") || s.ends_with(".css"))
        .map(|s| s.trim_start_matches("./").to_owned())
        .collect();
    assert!(assets.len() >= 4, "{assets:?}");
    for asset in &assets {
        let res = app
            .client
            .get(format!("{}/docs/{asset}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{asset}");
        let text = res.text().await.unwrap();
        assert!(text.len() > 100, "{asset}");
        if asset == "swagger-initializer.js" {
            assert!(text.contains("/openapi.json"), "{text}");
            // No validator badge from an outside host, whatever the page's host name.
            assert!(
                text.contains(r#""validatorUrl": "none""#)
                    || text.contains(r#""validatorUrl":"none""#),
                "{text}"
            );
            assert!(!text.contains("https://"), "{text}");
        }
    }
}

#[tokio::test]
async fn the_document_names_its_server_and_sendkits_example() {
    let app = spawn_app().await;
    let doc = app.get("/openapi.json").await.body;
    assert_eq!(doc["servers"][0]["url"], "/");
    let add = &doc["paths"]["/v1/campaigns/{id}/leads"]["post"]["requestBody"]["content"]["application/json"]
        ["examples"]["explicit"];
    assert_eq!(
        add["summary"],
        "Mode 1: explicit leads (SendKit's documented example)"
    );
}
