//! The do-not-contact list.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn entries_are_added_once_listed_and_deleted() {
    let app = spawn_app().await;
    let r = app
        .post("/v1/dnc", json!({"entries": [
            {"type": "email", "value": "No@Example.com"}, {"type": "domain", "value": "@Spam.IO"},
            {"type": "email", "value": "no@example.com"}
        ]}))
        .await;
    assert_eq!(r.assert_ok(200), &json!({"added": 2, "skipped": 1}));
    let r = app
        .post(
            "/v1/dnc",
            json!({"entries": [{"type": "domain", "value": "spam.io"}]}),
        )
        .await;
    assert_eq!(r.assert_ok(200), &json!({"added": 0, "skipped": 1}));
    let list = app.all("/v1/dnc").await;
    let values: Vec<_> = list
        .iter()
        .map(|e| (e["type"].clone(), e["value"].clone()))
        .collect();
    assert_eq!(
        values,
        vec![
            (json!("domain"), json!("spam.io")),
            (json!("email"), json!("no@example.com"))
        ]
    );
    let id = list[0]["_id"].as_str().unwrap();
    let r = app
        .call(
            reqwest::Method::DELETE,
            "/v1/dnc",
            Some(json!({"ids": [id, "665d4e5f6a7b8c9d0e1f2a3b"]})),
        )
        .await;
    assert_eq!(r.assert_ok(200), &json!({"deletedCount": 1}));
    assert_eq!(app.all("/v1/dnc").await.len(), 1);
}

#[tokio::test]
async fn bad_entries_are_rejected_and_nothing_is_added() {
    let app = spawn_app().await;
    let too_many: Vec<_> = (0..10_001)
        .map(|i| json!({"type": "email", "value": format!("a{i}@b.co")}))
        .collect();
    for body in [
        json!({}),
        json!({"entries": []}),
        json!({"entries": too_many}),
        json!({"entries": [{"type": "email", "value": "ok@example.com"}, {"type": "email", "value": "nope"}]}),
        json!({"entries": [{"type": "domain", "value": "localhost"}]}),
        json!({"entries": [{"type": "phone", "value": "123"}]}),
        json!({"entries": [{"type": "email"}]}),
    ] {
        app.post("/v1/dnc", body.clone())
            .await
            .assert_error(400, "VALIDATION_ERROR");
    }
    assert_eq!(app.all("/v1/dnc").await.len(), 0);
    app.call(
        reqwest::Method::DELETE,
        "/v1/dnc",
        Some(json!({"ids": ["x"]})),
    )
    .await
    .assert_error(400, "VALIDATION_ERROR");
}
