//! `Idempotency-Key`: replay byte for byte, 409 for another body, one
//! execution for concurrent requests, keys per credential.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, leads, spawn_app};

/// Sends `body` to `path` with an Idempotency-Key; returns status, the
/// replay header and the raw body.
async fn send(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    idem: &str,
    body: &Value,
) -> (u16, Option<String>, String) {
    let res = app
        .client
        .request(method, format!("{}{path}", app.base))
        .header("X-Api-Key", key)
        .header("Idempotency-Key", idem)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let replayed = res
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, replayed, res.text().await.unwrap())
}

#[tokio::test]
async fn a_retried_request_is_replayed_byte_for_byte_and_runs_once() {
    let app = spawn_app().await;
    let body = json!({"email": "once@example.com", "firstName": "Once"});
    let first = send(&app, &app.key, Method::POST, "/v1/leads", "k-1", &body).await;
    assert_eq!((first.0, first.1.as_deref()), (201, None));
    let again = send(&app, &app.key, Method::POST, "/v1/leads", "k-1", &body).await;
    assert_eq!(again.0, 201, "{}", again.2);
    assert_eq!(again.1.as_deref(), Some("true"));
    assert_eq!(again.2, first.2, "the very same bytes");
    assert_eq!(app.lead_total().await, 1);

    // Without the key the retry is a new request: the email is taken.
    let plain = app.post("/v1/leads", body.clone()).await;
    plain.assert_error(409, "CONFLICT");

    // A 4xx answer is kept too: the same key keeps answering it.
    let bad = json!({"email": "nope"});
    let a = send(&app, &app.key, Method::POST, "/v1/leads", "k-2", &bad).await;
    let b = send(&app, &app.key, Method::POST, "/v1/leads", "k-2", &bad).await;
    assert_eq!((a.0, b.0), (400, 400));
    assert_eq!(b.1.as_deref(), Some("true"));
}

#[tokio::test]
async fn the_same_key_with_another_request_is_a_conflict_and_changes_nothing() {
    let app = spawn_app().await;
    let c = app.create_campaign("C").await;
    let path = format!("/v1/campaigns/{c}/leads");
    let first = send(
        &app,
        &app.key,
        Method::POST,
        &path,
        "batch-7",
        &json!({"leads": leads("a", 3)}),
    )
    .await;
    assert_eq!(first.0, 200);
    let other = send(
        &app,
        &app.key,
        Method::POST,
        &path,
        "batch-7",
        &json!({"leads": leads("b", 3)}),
    )
    .await;
    assert_eq!(other.0, 409, "{}", other.2);
    let err: Value = serde_json::from_str(&other.2).unwrap();
    assert_eq!(err["error"]["code"], json!("CONFLICT"));
    assert_eq!(app.lead_total().await, 3);
    // Another path with the same key and body is another request too.
    let elsewhere = send(
        &app,
        &app.key,
        Method::DELETE,
        "/v1/leads",
        "batch-7",
        &json!({}),
    )
    .await;
    assert_eq!(elsewhere.0, 409);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_execute_once() {
    let app = spawn_app().await;
    let c = app.create_campaign("C").await;
    let path = format!("/v1/campaigns/{c}/leads");
    let body = json!({"leads": leads("race", 500)});
    let answers = futures::future::join_all(
        (0..8).map(|_| send(&app, &app.key, Method::POST, &path, "race-key", &body)),
    )
    .await;
    let executed: Vec<_> = answers.iter().filter(|a| a.1.is_none()).collect();
    assert_eq!(executed.len(), 1, "exactly one ran");
    for a in &answers {
        assert_eq!(a.0, 200);
        assert_eq!(a.2, answers[0].2, "every caller sees the one answer");
    }
    let data: Value = serde_json::from_str(&answers[0].2).unwrap();
    assert_eq!(data["data"]["created"], json!(500));
    assert_eq!(app.lead_total().await, 500);
    assert_eq!(app.campaign_lead_total(&c).await, 500);
}

#[tokio::test]
async fn keys_belong_to_one_credential() {
    let app = spawn_app().await;
    let (_, other) = app.other_workspace().await;
    let body = json!({"name": "Same key"});
    let mine = send(
        &app,
        &app.key,
        Method::POST,
        "/v1/campaigns",
        "shared",
        &body,
    )
    .await;
    let theirs = send(&app, &other, Method::POST, "/v1/campaigns", "shared", &body).await;
    assert_eq!((mine.0, theirs.0), (201, 201));
    assert_eq!(
        theirs.1, None,
        "not a replay of another credential's answer"
    );
    assert_ne!(mine.2, theirs.2);
    // Unauthenticated requests keep nothing.
    let r = send(
        &app,
        "sk_nope",
        Method::POST,
        "/v1/campaigns",
        "shared",
        &body,
    )
    .await;
    assert_eq!(r.0, 401);
    // A key that is too long is a clear 400.
    let long = "k".repeat(256);
    let r = send(&app, &app.key, Method::POST, "/v1/campaigns", &long, &body).await;
    assert_eq!(r.0, 400, "{}", r.2);
}

#[tokio::test]
async fn a_csv_import_with_a_key_is_replayed_and_another_file_is_a_conflict() {
    let app = spawn_app().await;
    let send_csv = |csv: &'static str| {
        let app = &app;
        async move {
            let res = app
                .client
                .post(format!("{}/v1/leads/import/csv", app.base))
                .header("X-Api-Key", &app.key)
                .header("Idempotency-Key", "import-1")
                .multipart(crate::helpers::csv_form(csv, &[("tag", "once")]))
                .send()
                .await
                .unwrap();
            let replayed = res.headers().contains_key("idempotent-replayed");
            (res.status().as_u16(), replayed, res.text().await.unwrap())
        }
    };
    let csv = "email\nx1@example.com\nx2@example.com\n";
    let first = send_csv(csv).await;
    assert_eq!((first.0, first.1), (200, false), "{}", first.2);
    let again = send_csv(csv).await;
    assert_eq!((again.0, again.1), (200, true));
    assert_eq!(again.2, first.2);
    assert_eq!(app.lead_total().await, 2);
    let other = send_csv("email\nx3@example.com\n").await;
    assert_eq!(other.0, 409, "{}", other.2);
    assert_eq!(app.lead_total().await, 2);
}
