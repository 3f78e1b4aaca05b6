//! Authentication: keys, headers, workspaces.

use reqwest::Method;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn requests_without_a_valid_key_are_unauthorized() {
    let app = spawn_app().await;
    let bearer_other = format!("Bearer {}", app.user_key);
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("X-Api-Key", "sk_0000")],
        vec![("Authorization", "Bearer sk_nope")],
        vec![("Authorization", "Basic dXNlcjpwYXNz")],
        vec![("X-Api-Key", "")],
        // Two different keys in one request.
        vec![("X-Api-Key", &app.key), ("Authorization", &bearer_other)],
    ];
    for headers in cases {
        let r = app.send(Method::GET, "/v1/leads", &headers, None).await;
        r.assert_error(401, "UNAUTHORIZED");
    }
}

#[tokio::test]
async fn a_workspace_key_works_in_either_header_or_both() {
    let app = spawn_app().await;
    let bearer = format!("Bearer {}", app.key);
    for headers in [
        vec![("X-Api-Key", app.key.as_str())],
        vec![("Authorization", bearer.as_str())],
        vec![
            ("X-Api-Key", app.key.as_str()),
            ("Authorization", bearer.as_str()),
        ],
        vec![
            ("X-Api-Key", app.key.as_str()),
            ("X-Workspace-Id", app.workspace_id.as_str()),
        ],
    ] {
        let r = app.send(Method::GET, "/v1/leads", &headers, None).await;
        r.assert_ok(200);
    }
}

#[tokio::test]
async fn a_workspace_key_naming_another_workspace_is_forbidden() {
    let app = spawn_app().await;
    let (other_id, _) = app.other_workspace().await;
    let r = app
        .send(
            Method::GET,
            "/v1/leads",
            &[("X-Api-Key", &app.key), ("X-Workspace-Id", &other_id)],
            None,
        )
        .await;
    r.assert_error(403, "FORBIDDEN");
}

#[tokio::test]
async fn a_platform_key_needs_the_workspace_header_and_membership() {
    let app = spawn_app().await;
    let key = app.user_key.as_str();
    let r = app
        .send(Method::GET, "/v1/leads", &[("X-Api-Key", key)], None)
        .await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.message().contains("X-Workspace-Id"));

    let r = app
        .send(
            Method::GET,
            "/v1/leads",
            &[("X-Api-Key", key), ("X-Workspace-Id", "bogus")],
            None,
        )
        .await;
    r.assert_error(400, "VALIDATION_ERROR");

    let (other_id, _) = app.other_workspace().await;
    let r = app
        .send(
            Method::GET,
            "/v1/leads",
            &[("X-Api-Key", key), ("X-Workspace-Id", &other_id)],
            None,
        )
        .await;
    r.assert_error(403, "FORBIDDEN");

    // A member acts in the workspace exactly as its workspace key would.
    let headers = [
        ("Authorization", format!("Bearer {key}")),
        ("X-Workspace-Id", app.workspace_id.clone()),
    ];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = app
        .send(
            Method::POST,
            "/v1/leads",
            &headers,
            Some(&json!({"email": "p@example.com"})),
        )
        .await;
    assert_eq!(r.assert_ok(201)["workspaceId"], json!(app.workspace_id));
    let seen = app.get("/v1/leads").await;
    assert_eq!(seen.data()[0]["email"], json!("p@example.com"));
}

#[tokio::test]
async fn keys_are_stored_only_as_hashes() {
    let app = spawn_app().await;
    let stored = app.raw_key_storage().await;
    assert!(stored.len() > 100, "the storage was read");
    for key in [&app.key, &app.user_key] {
        let secret = &key.as_bytes()[key.len() - 40..];
        assert!(
            !stored.windows(secret.len()).any(|w| w == secret),
            "a key is stored in clear"
        );
    }
}

#[tokio::test]
async fn health_needs_no_key() {
    let app = spawn_app().await;
    let r = app.send(Method::GET, "/v1/health", &[], None).await;
    assert_eq!(r.assert_ok(200)["status"], json!("ok"));
}
