//! Errors: every failure in the envelope, request IDs everywhere.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn malformed_json_is_a_validation_error_that_says_where() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(format!("{}/v1/leads", app.base))
        .header("X-Api-Key", &app.key)
        .header("Content-Type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], json!("VALIDATION_ERROR"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 1"),
        "{body}"
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_is_unsupported() {
    let app = spawn_app().await;
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut req = app
            .client
            .post(format!("{}/v1/leads", app.base))
            .header("X-Api-Key", &app.key)
            .body("{\"email\": \"a@b.co\"}");
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 415);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], json!("UNSUPPORTED_MEDIA_TYPE"));
    }
    assert_eq!(app.lead_total().await, 0);
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_use_the_envelope() {
    let app = spawn_app().await;
    app.get("/v1/nothing-here")
        .await
        .assert_error(404, "NOT_FOUND");
    app.get("/elsewhere").await.assert_error(404, "NOT_FOUND");
    app.call(Method::PUT, "/v1/leads", None)
        .await
        .assert_error(405, "METHOD_NOT_ALLOWED");
    app.call(Method::DELETE, "/v1/campaigns", None)
        .await
        .assert_error(405, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn a_body_over_sixteen_mebibytes_is_too_large() {
    let app = spawn_app().await;
    let big = format!(
        "{{\"email\": \"a@b.co\", \"firstName\": \"{}\"}}",
        "x".repeat(17 * 1024 * 1024)
    );
    let res = app
        .client
        .post(format!("{}/v1/leads", app.base))
        .header("X-Api-Key", &app.key)
        .header("Content-Type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], json!("PAYLOAD_TOO_LARGE"));
    assert_eq!(app.lead_total().await, 0);
}

#[tokio::test]
async fn wrong_types_are_validation_errors_with_details() {
    let app = spawn_app().await;
    let r = app
        .post("/v1/leads", json!({"email": "a@b.co", "tags": "vip"}))
        .await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(r.body["error"]["details"][0]["field"], json!("tags"));
    let r = app
        .post(
            "/v1/leads",
            json!({"email": "a@b.co", "unknownField": {"x": 1}}),
        )
        .await;
    r.assert_ok(201);
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_echoes_the_callers() {
    let app = spawn_app().await;
    for r in [
        app.get("/v1/leads").await,
        app.get("/v1/nowhere").await,
        app.send(Method::GET, "/v1/health", &[], None).await,
    ] {
        let id = r
            .headers
            .get("x-request-id")
            .expect("x-request-id")
            .to_str()
            .unwrap();
        assert!(!id.is_empty());
    }
    let r = app
        .send(
            Method::GET,
            "/v1/leads",
            &[("X-Api-Key", &app.key), ("X-Request-Id", "trace-me-123")],
            None,
        )
        .await;
    assert_eq!(r.headers["x-request-id"], "trace-me-123");
}

/// Through the router production serves (`Config::test_routes` adds a
/// route that panics inside the same layers as the API): without the
/// panic-catching layer of `startup::app` the connection just drops.
#[tokio::test]
async fn a_panic_becomes_a_500_in_the_envelope_without_internals() {
    let app = spawn_app_with(|c| c.test_routes = true).await;
    let res = app
        .client
        .get(format!("{}/__test/panic", app.base))
        .send()
        .await
        .expect("the server answers a panicking handler");
    assert_eq!(res.status(), 500);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["success"], json!(false));
    assert_eq!(body["error"]["code"], json!("INTERNAL_ERROR"));
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&id) && !message.contains("secret"),
        "{message}"
    );
    // The server goes on serving.
    app.get("/v1/leads").await.assert_ok(200);
}

/// The routes of `Config::test_routes` are not there otherwise.
#[tokio::test]
async fn the_test_routes_exist_only_when_a_test_turns_them_on() {
    let app = spawn_app().await;
    app.get("/__test/panic")
        .await
        .assert_error(404, "NOT_FOUND");
    app.get("/__test/sleep/0")
        .await
        .assert_error(404, "NOT_FOUND");
}

/// Found by the contract test: PostgreSQL cannot store NUL, so a search or
/// a field with one was a 500 there. Now it is a 400 on both engines.
#[tokio::test]
async fn nul_characters_in_json_strings_or_query_parameters_are_rejected() {
    let app = crate::helpers::spawn_app().await;
    let r = app.get("/v1/leads?search=%00%C3%AE").await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.message().contains("NUL"), "{}", r.message());
    for body in [
        serde_json::json!({"email": "nul@example.com", "firstName": "a\u{0}b"}),
        serde_json::json!({"email": "nul@example.com", "customFields": {"k\u{0}": 1}}),
    ] {
        let r = app.post("/v1/leads", body).await;
        r.assert_error(400, "VALIDATION_ERROR");
    }
    // An escaped backslash followed by u0000 is plain text, not a NUL.
    let lead = app
        .create_lead(serde_json::json!({"email": "text@example.com", "firstName": "\\u0000"}))
        .await;
    assert_eq!(lead["firstName"], serde_json::json!("\\u0000"));
    assert_eq!(app.lead_total().await, 1);
}
