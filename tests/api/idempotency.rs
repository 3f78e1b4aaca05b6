//! `Idempotency-Key`: replay byte for byte, 409 for another body, one
//! execution for concurrent requests, keys per credential.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, leads, spawn_app, spawn_app_with};

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

/// A workspace made by the test user through the API; its ID.
async fn new_workspace(app: &TestApp, name: &str) -> String {
    app.call_as(
        &app.user_key,
        Method::POST,
        "/v1/workspaces",
        Some(json!({ "name": name })),
    )
    .await
    .assert_ok(201)["_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn one_key_in_two_workspaces_runs_in_each() {
    let app = spawn_app().await;
    let other = new_workspace(&app, "Second").await;
    let body = json!({"name": "Same request"});
    let (a, in_a) = send_as(
        &app,
        &app.user_key,
        Some(&app.workspace_id),
        Method::POST,
        "/v1/campaigns",
        "scoped-1",
        &body,
    )
    .await;
    let (b, in_b) = send_as(
        &app,
        &app.user_key,
        Some(&other),
        Method::POST,
        "/v1/campaigns",
        "scoped-1",
        &body,
    )
    .await;
    assert_eq!((a, b), (201, 201));
    assert_eq!(in_a["data"]["workspaceId"], json!(app.workspace_id));
    assert_eq!(in_b["data"]["workspaceId"], json!(other));
    assert_ne!(in_a["data"]["_id"], in_b["data"]["_id"]);
    // Within one workspace the key still replays.
    let (again, replay) = send_as(
        &app,
        &app.user_key,
        Some(&other),
        Method::POST,
        "/v1/campaigns",
        "scoped-1",
        &body,
    )
    .await;
    assert_eq!(again, 201);
    assert_eq!(replay["data"]["_id"], in_b["data"]["_id"]);
}

#[tokio::test]
async fn an_answer_with_a_key_is_never_kept_and_a_retry_is_told_it_succeeded() {
    let app = spawn_app().await;
    let ws = new_workspace(&app, "Keys").await;
    for path in [
        format!("/v1/workspaces/{ws}/api-key"),
        format!("/v1/workspaces/{ws}/api-key/rotate"),
    ] {
        let idem = format!("secret-{path}");
        let first = send(&app, &app.user_key, Method::POST, &path, &idem, &json!({})).await;
        assert!(first.0 == 200 || first.0 == 201, "{first:?}");
        let made: Value = serde_json::from_str(&first.2).unwrap();
        let key = made["data"]["apiKey"].as_str().unwrap().to_owned();
        assert!(key.starts_with("sk_"));
        let retry = send(&app, &app.user_key, Method::POST, &path, &idem, &json!({})).await;
        assert_eq!(retry.0, 409, "{retry:?}");
        assert!(retry.2.contains("shown only once"), "{}", retry.2);
        assert!(!retry.2.contains(&key), "a retry got the key back");
    }
}

/// Sends with `key` (a platform key in `workspace` when given) and an
/// Idempotency-Key; returns the status and the body.
async fn send_as(
    app: &TestApp,
    key: &str,
    workspace: Option<&str>,
    method: Method,
    path: &str,
    idem: &str,
    body: &Value,
) -> (u16, Value) {
    let mut req = app
        .client
        .request(method, format!("{}{path}", app.base))
        .header("X-Api-Key", key)
        .header("Idempotency-Key", idem)
        .json(body);
    if let Some(ws) = workspace {
        req = req.header("X-Workspace-Id", ws);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn a_server_error_is_not_kept_and_the_retry_runs() {
    let app = spawn_app_with(|c| c.test_routes = true).await;
    let path = "/v1/__test/fails-once/server-error";
    let first = send_as(&app, &app.key, None, Method::POST, path, "k1", &json!({})).await;
    assert_eq!(first.0, 500, "{first:?}");
    // Not a replay of the 500: the request runs again, and that answer is kept.
    let second = send_as(&app, &app.key, None, Method::POST, path, "k1", &json!({})).await;
    assert_eq!(
        second,
        (200, json!({"success": true, "data": {"calls": 2}}))
    );
    let third = send(&app, &app.key, Method::POST, path, "k1", &json!({})).await;
    assert_eq!(third.1.as_deref(), Some("true"));
    assert!(third.2.contains("\"calls\":2"), "{}", third.2);
}

#[tokio::test]
async fn a_rate_limited_request_is_not_kept_and_runs_once_allowed() {
    let one = std::num::NonZeroU32::new(1).unwrap();
    let app = spawn_app_with(|c| c.rate_limit = Some((one, one))).await;
    app.get("/v1/leads").await.assert_ok(200);
    let body = json!({"name": "Later"});
    let first = send_as(
        &app,
        &app.key,
        None,
        Method::POST,
        "/v1/campaigns",
        "k",
        &body,
    )
    .await;
    assert_eq!(first.0, 429, "{first:?}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let second = send_as(
        &app,
        &app.key,
        None,
        Method::POST,
        "/v1/campaigns",
        "k",
        &body,
    )
    .await;
    assert_eq!(second.0, 201, "{second:?}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(app.all("/v1/campaigns").await.len(), 1);
}

/// An over-limit request is answered before its body is read: a client
/// that announces 16 MB and sends none of it gets its 429 at once.
#[tokio::test]
async fn an_over_limit_request_is_refused_before_its_body_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let one = std::num::NonZeroU32::new(1).unwrap();
    let app = spawn_app_with(|c| c.rate_limit = Some((one, one))).await;
    app.get("/v1/leads").await.assert_ok(200);
    let addr = app.base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/leads/bulk HTTP/1.1\r\nHost: {addr}\r\nX-Api-Key: {}\r\n\
         Idempotency-Key: big\r\nContent-Type: application/json\r\n\
         Content-Length: 16000000\r\n\r\n",
        app.key
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), socket.read(&mut answer))
        .await
        .expect("the server waited for the body before refusing")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.contains("RATE_LIMITED"), "{answer}");
}

/// A claim whose request never answered (its server died) is taken over
/// once it is older than the stale limit: the retry runs.
#[tokio::test]
async fn an_abandoned_claim_is_taken_over() {
    let app = spawn_app().await;
    let body = json!({"name": "Abandoned"});
    // Claimed ten minutes ago by a request that never finished.
    let claim = campaign_claim(&app, "abandoned", &body);
    claim_at(&app, &claim, leadflow::domain::now_ms() - 10 * 60 * 1000).await;
    let retry = retry_campaign(&app, "abandoned", &body).await;
    assert_eq!(retry.0, 201, "{retry:?}");
    assert_eq!(app.all("/v1/campaigns").await.len(), 1);
}

/// A kept answer is replayed only to a caller who may still make the
/// request: a member removed from the workspace gets 403, not the answer.
#[tokio::test]
async fn a_replay_needs_the_membership_and_role_the_request_needs() {
    let app = spawn_app().await;
    let email = leadflow::domain::email::Email::parse("second@example.com").unwrap();
    let (_, second) = app.store.create_user(&email).await.unwrap();
    let second = second.expose().to_owned();
    let ws = app.workspace_id.clone();
    let members = format!("/v1/workspaces/{ws}/members");
    let add = json!({"email": "second@example.com", "role": "owner"});
    app.call_as(&app.user_key, Method::POST, &members, Some(add))
        .await
        .assert_ok(200);

    let campaign = json!({"name": "By the second owner"});
    let made = send_as(
        &app,
        &second,
        Some(&ws),
        Method::POST,
        "/v1/campaigns",
        "c",
        &campaign,
    )
    .await;
    assert_eq!(made.0, 201, "{made:?}");
    let rename = format!("/v1/workspaces/{ws}");
    let renamed = send_as(
        &app,
        &second,
        None,
        Method::PATCH,
        &rename,
        "r",
        &json!({"name": "N"}),
    )
    .await;
    assert_eq!(renamed.0, 200, "{renamed:?}");
    let key_path = format!("/v1/workspaces/{ws}/api-key");
    let revoked = send_as(
        &app,
        &second,
        None,
        Method::DELETE,
        &key_path,
        "x",
        &json!({}),
    )
    .await;
    assert_eq!(revoked.0, 200, "{revoked:?}");
    // Still a member, no longer an owner: the rename replays (a member may
    // rename), the key revocation (an owner's) does not.
    let demote = json!({"email": "second@example.com", "role": "member"});
    app.call_as(&app.user_key, Method::POST, &members, Some(demote))
        .await
        .assert_ok(200);
    let again = send_as(
        &app,
        &second,
        None,
        Method::PATCH,
        &rename,
        "r",
        &json!({"name": "N"}),
    )
    .await;
    assert_eq!(again.0, 200, "{again:?}");
    let again = send_as(
        &app,
        &second,
        None,
        Method::DELETE,
        &key_path,
        "x",
        &json!({}),
    )
    .await;
    assert_eq!(again.0, 403, "{again:?}");
    // Removed: neither answer is given back.
    let remove = json!({"email": "second@example.com"});
    app.call_as(&app.user_key, Method::DELETE, &members, Some(remove))
        .await
        .assert_ok(200);
    let replay = send_as(
        &app,
        &second,
        Some(&ws),
        Method::POST,
        "/v1/campaigns",
        "c",
        &campaign,
    )
    .await;
    assert_eq!(replay.0, 403, "{replay:?}");
    assert!(
        !replay.1.to_string().contains("By the second owner"),
        "{replay:?}"
    );
    let replay = send_as(
        &app,
        &second,
        None,
        Method::PATCH,
        &rename,
        "r",
        &json!({"name": "N"}),
    )
    .await;
    assert_eq!(replay.0, 403, "{replay:?}");
}

/// The claim a request with `idem` and `body` on POST /v1/campaigns makes
/// with the workspace key.
fn campaign_claim(app: &TestApp, idem: &str, body: &Value) -> leadflow::store::IdempotencyKey {
    use leadflow::domain::key::ApiKey;
    use leadflow::idempotency::{fingerprint, scope};
    leadflow::store::IdempotencyKey {
        credential: scope(&ApiKey::from_header(&app.key), None),
        key: idem.into(),
        fingerprint: fingerprint(
            &Method::POST,
            "/v1/campaigns",
            &serde_json::to_vec(body).unwrap(),
        ),
    }
}

/// Claims `claim` as a request arriving at `at` (milliseconds) would.
async fn claim_at(app: &TestApp, claim: &leadflow::store::IdempotencyKey, at: i64) {
    let begun = app
        .store
        .idempotency_begin(claim, at, at - 86_400_000, at - 300_000)
        .await
        .unwrap();
    assert!(matches!(begun, leadflow::store::IdempotencyState::Started));
}

/// POST /v1/campaigns again with the workspace key and `idem`.
async fn retry_campaign(app: &TestApp, idem: &str, body: &Value) -> (u16, Value) {
    send_as(
        app,
        &app.key,
        None,
        Method::POST,
        "/v1/campaigns",
        idem,
        body,
    )
    .await
}

/// The workspace of the test app's workspace key.
async fn workspace_of(app: &TestApp) -> leadflow::store::WorkspaceRef {
    let key = leadflow::domain::key::ApiKey::from_header(&app.key);
    match app.store.authenticate(&key).await {
        Ok(Some(leadflow::store::Principal::Workspace(ws))) => ws,
        other => panic!("{other:?}"),
    }
}

/// Creates a campaign through the store under `claim`, as the request
/// holding it would: the write marks the claim committed.
async fn write_under(app: &TestApp, claim: &leadflow::store::IdempotencyKey, name: &str) {
    let fields = leadflow::store::CampaignFields {
        name: Some(name.into()),
        ..Default::default()
    };
    let ws = workspace_of(app).await;
    leadflow::store::idempotency::CURRENT
        .scope(claim.clone(), app.store.create_campaign(ws, fields))
        .await
        .unwrap();
}

/// The kept answer is written with the request's writes: a request whose
/// write committed but whose server died before keeping the answer is
/// never run again. Its retry, once the claim has lapsed, is told the
/// request was carried out and its answer lost.
#[tokio::test]
async fn a_request_that_committed_is_never_run_again_even_when_its_answer_was_lost() {
    let app = spawn_app_with(|c| c.idempotency_stale = std::time::Duration::from_millis(200)).await;
    let body = json!({"name": "Committed"});
    let claim = campaign_claim(&app, "lost", &body);
    claim_at(&app, &claim, leadflow::domain::now_ms()).await;
    // The request's write, under its claim: it commits, and then the server
    // "dies" (no answer is kept).
    write_under(&app, &claim, "Committed").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let retry = retry_campaign(&app, "lost", &body).await;
    assert_eq!(retry.0, 409, "{retry:?}");
    assert!(retry.1.to_string().contains("answer was lost"), "{retry:?}");
    assert_eq!(app.all("/v1/campaigns").await.len(), 1, "it ran again");

    // A claim whose request never committed lapses, and the retry runs.
    let body = json!({"name": "Never committed"});
    let claim = campaign_claim(&app, "uncommitted", &body);
    claim_at(&app, &claim, leadflow::domain::now_ms()).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let retry = retry_campaign(&app, "uncommitted", &body).await;
    assert_eq!(retry.0, 201, "{retry:?}");
    assert_eq!(app.all("/v1/campaigns").await.len(), 2);
}

/// After a request timed out, its key is settled once its write can no
/// longer run: kept as "carried out" if the write committed, released for
/// the retry to run if it did not. Either way the request runs once.
#[tokio::test]
async fn a_timed_out_request_is_settled_by_what_its_write_did() {
    let app = spawn_app().await;
    let lost = leadflow::store::StoredResponse {
        status: 409,
        content_type: "application/json".into(),
        body: br#"{"success":false,"error":{"code":"CONFLICT","message":"carried out"}}"#.to_vec(),
    };
    for (idem, commits) in [("committed", true), ("rolled-back", false)] {
        let body = json!({"name": idem});
        let claim = campaign_claim(&app, idem, &body);
        claim_at(&app, &claim, leadflow::domain::now_ms()).await;
        if commits {
            write_under(&app, &claim, idem).await;
        }
        app.store
            .idempotency_settle(&claim, lost.clone())
            .await
            .unwrap();
        let retry = send(&app, &app.key, Method::POST, "/v1/campaigns", idem, &body).await;
        if commits {
            assert_eq!(retry.0, 409, "{retry:?}");
            assert_eq!(retry.1.as_deref(), Some("true"));
            assert!(retry.2.contains("carried out"), "{retry:?}");
        } else {
            assert_eq!(retry.0, 201, "{retry:?}");
        }
    }
    assert_eq!(app.all("/v1/campaigns").await.len(), 2, "each ran once");
}
