//! Webhooks: their endpoints, and deliveries to a real receiver signed as
//! the Standard Webhooks specification says, retried, disabled by a 410,
//! resent.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Got {
    pub path: String,
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Value,
    pub raw: Vec<u8>,
}

/// An HTTP server that records what it is sent and answers the statuses
/// queued in `answers` (200 once they run out).
#[derive(Clone)]
pub struct Receiver {
    pub got: Arc<Mutex<Vec<Got>>>,
    pub answers: Arc<Mutex<VecDeque<u16>>>,
    pub base: String,
}

impl Receiver {
    pub async fn start() -> Self {
        let got: Arc<Mutex<Vec<Got>>> = Default::default();
        let answers: Arc<Mutex<VecDeque<u16>>> = Default::default();
        let (g, a) = (got.clone(), answers.clone());
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: axum::body::Bytes| {
                let (g, a) = (g.clone(), a.clone());
                async move {
                    let header = |n: &str| {
                        headers
                            .get(n)
                            .map(|v| v.to_str().unwrap().to_owned())
                            .unwrap_or_default()
                    };
                    g.lock().unwrap().push(Got {
                        path: uri.path().to_owned(),
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp"),
                        signature: header("webhook-signature"),
                        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                        raw: body.to_vec(),
                    });
                    let status = a.lock().unwrap().pop_front().unwrap_or(200);
                    let mut answer = axum::response::Response::new(axum::body::Body::from("ok"));
                    *answer.status_mut() = StatusCode::from_u16(status).unwrap();
                    if (300..400).contains(&status) {
                        answer
                            .headers_mut()
                            .insert("location", "/redirected".parse().unwrap());
                    }
                    answer
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { got, answers, base }
    }

    pub fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    pub fn answer(&self, statuses: &[u16]) {
        self.answers.lock().unwrap().extend(statuses);
    }
}

/// Whether `got` is signed with `secret` as the specification says
/// (computed here with the `hmac` crate, not with leadflow's code).
pub fn signed_by(got: &Got, secret: &str) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", got.id, got.timestamp).as_bytes());
    mac.update(&got.raw);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    got.signature
        .split(' ')
        .any(|s| s == format!("v1,{expected}"))
}

/// A server that delivers to private addresses, quickly, with three
/// retries 100 ms apart.
async fn delivering_app() -> TestApp {
    spawn_app_with(|c| {
        c.webhooks.allow_private = true;
        c.webhooks.poll = Duration::from_millis(50);
        c.webhooks.retries = vec![Duration::from_millis(100); 3];
    })
    .await
}

/// Waits (10 s at most) until `done` holds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..400 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Creates a webhook; returns its ID and secret.
async fn hook(app: &TestApp, body: Value) -> (String, String) {
    let r = app.post("/v1/webhooks", body).await;
    let d = r.assert_ok(201);
    (
        d["_id"].as_str().unwrap().to_owned(),
        d["secret"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn webhooks_are_created_read_changed_and_deleted() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/v1/webhooks",
            json!({"url": "https://hooks.example.com/leadflow"}),
        )
        .await;
    let created = r.assert_ok(201).clone();
    let id = created["_id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 30,
        "{secret}"
    );
    assert_eq!(created["url"], json!("https://hooks.example.com/leadflow"));
    assert_eq!(created["events"], Value::Null, "every type");
    assert_eq!(created["enabled"], json!(true));
    assert_eq!(created["disabledReason"], Value::Null);

    // The secret is shown once: not by reads or lists.
    let read = app.get(&format!("/v1/webhooks/{id}")).await;
    assert!(read.assert_ok(200).get("secret").is_none());
    let listed = app.all("/v1/webhooks").await;
    assert_eq!(listed.len(), 1);
    assert!(listed[0].get("secret").is_none());
    assert!(!serde_json::to_string(&listed).unwrap().contains(&secret));

    let r = app
        .patch(
            &format!("/v1/webhooks/{id}"),
            json!({"events": ["lead.created", "dnc.added", "lead.created"], "enabled": false}),
        )
        .await;
    let d = r.assert_ok(200);
    assert_eq!(d["events"], json!(["lead.created", "dnc.added"]));
    assert_eq!(d["enabled"], json!(false));
    assert_eq!(d["url"], json!("https://hooks.example.com/leadflow"));
    let r = app
        .patch(&format!("/v1/webhooks/{id}"), json!({"events": null}))
        .await;
    assert_eq!(r.assert_ok(200)["events"], Value::Null);

    let r = app
        .post(&format!("/v1/webhooks/{id}/rotate-secret"), json!({}))
        .await;
    let rotated = r.assert_ok(200)["secret"].as_str().unwrap().to_owned();
    assert!(rotated.starts_with("whsec_"));
    assert_ne!(rotated, secret);

    // Another workspace cannot see or touch it.
    let (_, other) = app.other_workspace().await;
    for (method, path) in [
        (Method::GET, format!("/v1/webhooks/{id}")),
        (Method::DELETE, format!("/v1/webhooks/{id}")),
        (Method::POST, format!("/v1/webhooks/{id}/test")),
        (Method::GET, format!("/v1/webhooks/{id}/deliveries")),
    ] {
        app.call_as(&other, method, &path, None)
            .await
            .assert_error(404, "NOT_FOUND");
    }

    let r = app.delete(&format!("/v1/webhooks/{id}")).await;
    assert_eq!(r.assert_ok(200), &json!({"_id": id, "deleted": true}));
    app.get(&format!("/v1/webhooks/{id}"))
        .await
        .assert_error(404, "NOT_FOUND");
    app.get("/v1/webhooks/not-an-id")
        .await
        .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn bad_webhooks_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    for (body, field) in [
        (json!({}), "url"),
        (json!({"url": "ftp://example.com/x"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (json!({"url": 7}), "url"),
        (json!({"url": "http://127.0.0.1:8080/hook"}), "url"),
        (json!({"url": "http://10.0.0.5/hook"}), "url"),
        (json!({"url": "http://169.254.169.254/latest"}), "url"),
        (json!({"url": "http://localhost/hook"}), "url"),
        (json!({"url": "http://[::1]/hook"}), "url"),
        (
            json!({"url": format!("https://e.com/{}", "a".repeat(2000))}),
            "url",
        ),
        (json!({"url": "https://e.com/", "events": []}), "events"),
        (
            json!({"url": "https://e.com/", "events": ["lead.exploded"]}),
            "events",
        ),
        (
            json!({"url": "https://e.com/", "events": "lead.created"}),
            "events",
        ),
        (
            json!({"url": "https://e.com/", "enabled": "yes"}),
            "enabled",
        ),
    ] {
        let r = app.post("/v1/webhooks", body.clone()).await;
        r.assert_error(400, "VALIDATION_ERROR");
        assert!(r.message().starts_with(field), "{body}: {}", r.message());
    }
    assert!(app.all("/v1/webhooks").await.is_empty());
    let (id, _) = hook(&app, json!({"url": "https://e.com/"})).await;
    app.patch(
        &format!("/v1/webhooks/{id}"),
        json!({"url": "http://192.168.1.1/"}),
    )
    .await
    .assert_error(400, "VALIDATION_ERROR");
    let r = app.get(&format!("/v1/webhooks/{id}")).await;
    assert_eq!(r.assert_ok(200)["url"], json!("https://e.com/"));
}

#[tokio::test]
async fn every_event_is_delivered_signed_with_its_id_and_payload() {
    let app = delivering_app().await;
    let receiver = Receiver::start().await;
    app.create_lead(json!({"email": "before@example.com"}))
        .await;
    let (id, secret) = hook(&app, json!({"url": format!("{}/in", receiver.base)})).await;
    let (_, only) = hook(
        &app,
        json!({"url": format!("{}/campaigns", receiver.base), "events": ["campaign.created"]}),
    )
    .await;
    app.create_lead(json!({"email": "a@example.com"})).await;
    let c = app.create_campaign("C").await;
    app.add(&c, json!({"selectAll": true})).await.assert_ok(200);
    until("four deliveries", || receiver.got().len() == 4).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = receiver.got();
    assert_eq!(got.len(), 4, "nothing more: {got:?}");

    let events = app.events().await;
    // The first endpoint gets the events recorded after it was made, in
    // order; the second only the type it asked for.
    let to_all: Vec<&Got> = got.iter().filter(|g| g.path == "/in").collect();
    assert_eq!(to_all.len(), 3);
    let mut ids: Vec<&str> = to_all.iter().map(|g| g.id.as_str()).collect();
    ids.sort_by_key(|id| id.rsplit('_').next().unwrap().parse::<i64>().unwrap());
    let expected: Vec<&str> = events[1..]
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, expected);
    for g in &to_all {
        assert!(signed_by(g, &secret), "{g:?}");
        let event = events.iter().find(|e| e["id"] == json!(g.id)).unwrap();
        assert_eq!(g.body["id"], event["id"]);
        assert_eq!(g.body["type"], event["type"]);
        assert_eq!(g.body["sequence"], event["sequence"]);
        assert_eq!(g.body["data"], event["data"]);
        assert_eq!(g.body["timestamp"], event["createdAt"]);
        let ts: i64 = g.timestamp.parse().unwrap();
        assert!((leadflow::domain::now_ms() / 1000 - ts).abs() < 60);
    }
    let campaigns: Vec<&Got> = got.iter().filter(|g| g.path == "/campaigns").collect();
    assert_eq!(campaigns.len(), 1);
    assert_eq!(campaigns[0].body["type"], json!("campaign.created"));
    assert!(
        !signed_by(campaigns[0], &secret),
        "each endpoint has its own secret"
    );

    // The deliveries are listed, newest first, with their answers.
    let deliveries = app.all(&format!("/v1/webhooks/{id}/deliveries")).await;
    assert_eq!(deliveries.len(), 3);
    for d in &deliveries {
        assert_eq!(d["status"], json!("succeeded"), "{d}");
        assert_eq!(d["attempts"], json!(1));
        assert_eq!(d["responseCode"], json!(200));
        assert!(d["durationMs"].as_i64().unwrap() >= 0);
        assert_eq!(d["nextAttemptAt"], Value::Null);
        assert_eq!(d["webhookId"], json!(id));
    }
    assert_eq!(deliveries[0]["eventType"], json!("campaign.leads_added"));
    assert_eq!(deliveries[2]["eventId"], events[1]["id"]);
    assert_eq!(deliveries[2]["sequence"], events[1]["sequence"]);
    let _ = only;
}

#[tokio::test]
async fn failures_are_retried_then_given_up_and_a_delivery_can_be_resent() {
    let app = delivering_app().await;
    let receiver = Receiver::start().await;
    let (id, secret) = hook(&app, json!({"url": receiver.base})).await;
    // 500, then a redirect (not followed), then 200.
    receiver.answer(&[500, 302]);
    app.create_lead(json!({"email": "a@example.com"})).await;
    until("three attempts", || receiver.got().len() == 3).await;
    let got = receiver.got();
    assert!(
        got.iter().all(|g| g.path == "/"),
        "the redirect is not followed"
    );
    assert!(
        got.iter().all(|g| g.id == got[0].id),
        "one message: one webhook-id"
    );
    assert!(got.iter().all(|g| signed_by(g, &secret)));
    let url = format!("/v1/webhooks/{id}/deliveries");
    until_delivery(&app, &url, "succeeded").await;
    let d = &app.all(&url).await[0];
    assert_eq!(d["attempts"], json!(3));
    assert_eq!(d["responseCode"], json!(200));
    let hooked = app.get(&format!("/v1/webhooks/{id}")).await;
    assert_eq!(hooked.assert_ok(200)["failingSince"], Value::Null);

    // Every attempt fails: four attempts (one and three retries), then
    // the delivery has failed; the endpoint is failing since the first.
    receiver.answer(&[500, 503, 500, 500]);
    app.create_lead(json!({"email": "b@example.com"})).await;
    until_delivery(&app, &url, "failed").await;
    assert_eq!(receiver.got().len(), 3 + 4);
    let failed = app.all(&url).await[0].clone();
    assert_eq!(failed["attempts"], json!(4));
    assert_eq!(failed["responseCode"], json!(500));
    assert_eq!(failed["error"], json!("answered 500"));
    assert_eq!(failed["nextAttemptAt"], Value::Null);
    let hooked = app.get(&format!("/v1/webhooks/{id}")).await;
    assert!(hooked.assert_ok(200)["failingSince"].is_string());
    assert_eq!(hooked.data()["enabled"], json!(true));

    // Sent again on request: it arrives, with the same webhook-id.
    let fid = failed["_id"].as_str().unwrap();
    let r = app.post(&format!("{url}/{fid}/resend"), json!({})).await;
    assert_eq!(r.assert_ok(200)["status"], json!("pending"));
    until("the resent delivery", || receiver.got().len() == 8).await;
    assert_eq!(receiver.got()[7].id, receiver.got()[6].id);
    until_delivery(&app, &url, "succeeded").await;
    app.post(&format!("{url}/665d4e5f6a7b8c9d0e1f2a3b/resend"), json!({}))
        .await
        .assert_error(404, "NOT_FOUND");
}

/// Waits until the newest delivery of a webhook has this status.
async fn until_delivery(app: &TestApp, url: &str, status: &str) {
    for _ in 0..400 {
        let all = app.all(url).await;
        if all.first().is_some_and(|d| d["status"] == json!(status)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no delivery became {status}: {:?}", app.all(url).await);
}

#[tokio::test]
async fn a_410_disables_the_endpoint_until_it_is_enabled_again() {
    let app = delivering_app().await;
    let receiver = Receiver::start().await;
    let (id, _) = hook(&app, json!({"url": receiver.base})).await;
    receiver.answer(&[410]);
    app.create_lead(json!({"email": "a@example.com"})).await;
    let url = format!("/v1/webhooks/{id}/deliveries");
    until_delivery(&app, &url, "failed").await;
    let d = app.get(&format!("/v1/webhooks/{id}")).await;
    let d = d.assert_ok(200);
    assert_eq!(d["enabled"], json!(false));
    assert_eq!(d["disabledReason"], json!("the endpoint answered 410 Gone"));
    assert_eq!(
        app.all(&url).await[0]["attempts"],
        json!(1),
        "410 is not retried"
    );

    // While disabled, nothing is sent.
    app.create_lead(json!({"email": "b@example.com"})).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.got().len(), 1);

    // Enabled again: it gets what happens from then on.
    let r = app
        .patch(&format!("/v1/webhooks/{id}"), json!({"enabled": true}))
        .await;
    assert_eq!(r.assert_ok(200)["disabledReason"], Value::Null);
    app.create_lead(json!({"email": "c@example.com"})).await;
    until("the delivery after re-enabling", || {
        receiver.got().len() == 2
    })
    .await;
    assert_eq!(receiver.got()[1].body["type"], json!("lead.created"));
    assert_eq!(
        receiver.got()[1].body["sequence"],
        json!(3),
        "the event made while disabled is not sent"
    );
}

#[tokio::test]
async fn a_test_message_is_sent_at_once_and_kept_with_the_deliveries() {
    let app = delivering_app().await;
    let receiver = Receiver::start().await;
    let (id, secret) = hook(&app, json!({"url": receiver.base})).await;
    let r = app
        .post(&format!("/v1/webhooks/{id}/test"), json!({}))
        .await;
    let d = r.assert_ok(200).clone();
    assert_eq!(d["status"], json!("succeeded"));
    assert_eq!(d["eventType"], json!("webhook.test"));
    assert_eq!(d["eventId"], Value::Null);
    assert_eq!(d["responseCode"], json!(200));
    let got = receiver.got();
    assert_eq!(got.len(), 1);
    assert!(signed_by(&got[0], &secret));
    assert_eq!(got[0].body["type"], json!("webhook.test"));
    assert_eq!(got[0].body["data"]["webhookId"], json!(id));

    receiver.answer(&[500]);
    let r = app
        .post(&format!("/v1/webhooks/{id}/test"), json!({}))
        .await;
    let failed = r.assert_ok(200).clone();
    assert_eq!(failed["status"], json!("failed"));
    assert_eq!(failed["responseCode"], json!(500));
    let listed = app.all(&format!("/v1/webhooks/{id}/deliveries")).await;
    assert_eq!(listed.len(), 2);
    let fid = failed["_id"].as_str().unwrap();
    app.post(
        &format!("/v1/webhooks/{id}/deliveries/{fid}/resend"),
        json!({}),
    )
    .await
    .assert_error(409, "CONFLICT");

    // Nobody listening: the test says why.
    let closed = format!("http://127.0.0.1:{}/", crate::helpers::free_port());
    app.patch(&format!("/v1/webhooks/{id}"), json!({"url": closed}))
        .await
        .assert_ok(200);
    let r = app
        .post(&format!("/v1/webhooks/{id}/test"), json!({}))
        .await;
    let d = r.assert_ok(200);
    assert_eq!(d["status"], json!("failed"));
    assert_eq!(d["responseCode"], Value::Null);
    assert!(d["error"].as_str().unwrap().len() > 5, "{d}");
}

/// A Python with the Standard Webhooks reference library (from PyPI), in a
/// virtual environment under the target directory, made on first use.
fn standardwebhooks_python() -> std::path::PathBuf {
    let venv = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("standardwebhooks");
    let python = venv.join("bin/python");
    if !python.exists() {
        let made = std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 runs");
        assert!(made.success(), "python3 -m venv");
        let pip = std::process::Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "standardwebhooks==1.3.0",
            ])
            .status()
            .expect("pip runs");
        assert!(pip.success(), "pip install standardwebhooks");
    }
    python
}

/// The example receiver (examples/webhook_receiver.py), verifying with
/// the reference library, on `port`, logging to `log`.
fn python_receiver(port: u16, secret: &str, log: &std::path::Path) -> std::process::Child {
    std::process::Command::new(standardwebhooks_python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/webhook_receiver.py"
        ))
        .arg(port.to_string())
        .arg(log)
        .env("WEBHOOK_SECRET", secret)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start the receiver")
}

/// What the receiver logged: (verified webhook IDs, invalid deliveries).
fn received(log: &std::path::Path) -> (Vec<String>, usize) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut ids = Vec::new();
    let mut invalid = 0;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v.get("invalid").is_some() {
            invalid += 1;
        } else {
            ids.push(v["webhookId"].as_str().unwrap().to_owned());
        }
    }
    (ids, invalid)
}

/// The receiver is down for a while, then up; leadflow is killed with -9
/// twice, once while deliveries are in flight: in the end every event has
/// reached the receiver, with a signature the Standard Webhooks reference
/// library verifies. Duplicates are allowed (at least once), and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_event_is_lost_to_a_receiver_outage_or_a_kill_9() {
    use crate::helpers::{Server, free_port};
    use std::process::Stdio;

    let python = standardwebhooks_python();
    assert!(python.exists());
    let dir = tempfile::tempdir().unwrap();
    let db = crate::helpers::fresh_database_url(dir.path()).await;
    let key = crate::helpers::cli_workspace_key(&db, "Hooks");
    let flags = [
        "--allow-private-webhooks",
        "--webhook-retries",
        "200ms,300ms,500ms,500ms,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s",
        "--webhook-lease-secs",
        "2",
    ];
    let start = || Server::start(&db, &flags, Stdio::null(), Stdio::null());
    let client = leadflow::client::http_client();
    let post = |server: &Server, path: &str, body: Value| {
        client
            .post(server.url(path))
            .header("x-api-key", &key)
            .json(&body)
            .send()
    };

    let receiver_port = free_port();
    let mut server = start();
    server.wait_healthy().await;
    let r = post(
        &server,
        "/v1/webhooks",
        json!({"url": format!("http://127.0.0.1:{receiver_port}/in")}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let secret = r.json::<Value>().await.unwrap()["data"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    // The receiver is down: every attempt fails; then leadflow dies.
    for i in 0..15 {
        let r = post(
            &server,
            "/v1/leads",
            json!({"email": format!("down{i}@example.com")}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 201);
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    // Back up, with more events, still nobody receiving; then the
    // receiver starts, and leadflow is killed while it delivers.
    let mut server = start();
    server.wait_healthy().await;
    for i in 0..15 {
        post(
            &server,
            "/v1/leads",
            json!({"email": format!("later{i}@example.com")}),
        )
        .await
        .unwrap();
    }
    let log = dir.path().join("received.jsonl");
    let mut receiver = python_receiver(receiver_port, &secret, &log);
    for _ in 0..400 {
        if !received(&log).0.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let at_kill = received(&log).0.len();

    // A third server finishes the work (after the dead one's claims
    // lapse), with a last few events.
    let server = start();
    server.wait_healthy().await;
    for i in 0..5 {
        post(
            &server,
            "/v1/leads",
            json!({"email": format!("last{i}@example.com")}),
        )
        .await
        .unwrap();
    }
    let events: Vec<String> = {
        let r = client
            .get(server.url("/v1/events?limit=1000"))
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap();
        let page: Value = r.json().await.unwrap();
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(events.len(), 35);
    let mut missing = events.len();
    for _ in 0..600 {
        let (ids, _) = received(&log);
        missing = events.iter().filter(|e| !ids.contains(e)).count();
        if missing == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (ids, invalid) = received(&log);
    receiver.kill().unwrap();
    receiver.wait().unwrap();
    assert_eq!(missing, 0, "events never received: {ids:?}");
    assert_eq!(invalid, 0, "every signature verified");
    assert!(
        ids.iter().all(|id| events.contains(id)),
        "nothing but the events"
    );
    let duplicates = ids.len() - events.len();
    println!(
        "{} events, {} deliveries received ({duplicates} duplicates; {at_kill} before the second kill)",
        events.len(),
        ids.len()
    );
}

/// How a [`raw_receiver`] answers, once it has read a request's head.
#[derive(Clone, Copy)]
enum Answer {
    /// 200, then a body that never ends.
    Endless,
    /// Nothing, ever (the connection stays open).
    Silent,
}

/// A receiver written on a bare socket, for answers no well-behaved
/// server gives; returns its base URL.
async fn raw_receiver(answer: Answer) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                match answer {
                    Answer::Endless => {
                        let start = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
                        if socket.write_all(start.as_bytes()).await.is_err() {
                            return;
                        }
                        let chunk = format!("4000\r\n{}\r\n", "x".repeat(0x4000));
                        while socket.write_all(chunk.as_bytes()).await.is_ok() {}
                    }
                    Answer::Silent => {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                }
            });
        }
    });
    base
}

/// An answer is read up to 64 KiB and no further: an endless one makes a
/// delivery at once (read to its end, it would have run into the 10 s
/// timeout). An endpoint that never answers fails the attempt after 10 s.
#[tokio::test]
async fn an_answer_is_read_up_to_64_kib_and_an_attempt_gives_up_after_10_s() {
    let app = delivering_app().await;
    let endless = raw_receiver(Answer::Endless).await;
    let (id, _) = hook(&app, json!({"url": endless})).await;
    let r = app
        .post(&format!("/v1/webhooks/{id}/test"), json!({}))
        .await;
    let d = r.assert_ok(200).clone();
    assert_eq!(d["status"], json!("succeeded"), "{d}");
    assert_eq!(d["responseCode"], json!(200));
    // Read to its end, the answer would have lasted until the timeout.
    assert!(d["durationMs"].as_i64().unwrap() < 10_000, "{d}");

    let silent = raw_receiver(Answer::Silent).await;
    app.patch(&format!("/v1/webhooks/{id}"), json!({"url": silent}))
        .await
        .assert_ok(200);
    let r = app
        .post(&format!("/v1/webhooks/{id}/test"), json!({}))
        .await;
    let d = r.assert_ok(200).clone();
    assert_eq!(d["status"], json!("failed"), "{d}");
    assert_eq!(d["responseCode"], Value::Null);
    assert!(d["error"].as_str().unwrap().contains("timed out"), "{d}");
    let took = d["durationMs"].as_i64().unwrap();
    assert!((10_000..20_000).contains(&took), "the 10 s timeout: {d}");
}

/// A name is checked when a delivery resolves it, not only when the
/// webhook is saved: this machine's own name resolves to one of its own
/// (loopback or private) addresses, so nothing is sent to it.
#[tokio::test]
async fn a_name_that_resolves_to_a_private_address_gets_no_delivery() {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), 80))
        .await
        .unwrap()
        .collect();
    assert!(
        !addrs.is_empty()
            && addrs
                .iter()
                .all(|a| !leadflow::domain::webhook::is_public(a.ip())),
        "this test needs a host name that resolves to the machine's own addresses: {host} → {addrs:?}"
    );
    let receiver = Receiver::start().await;
    let port = receiver.base.rsplit(':').next().unwrap().to_owned();
    let app = spawn_app().await;
    let url = format!("http://{host}:{port}/in");
    let (id, _) = hook(&app, json!({"url": url})).await;
    let r = app
        .post(&format!("/v1/webhooks/{id}/test"), json!({}))
        .await;
    let d = r.assert_ok(200).clone();
    assert_eq!(d["status"], json!("failed"), "{d}");
    let error = d["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("{host} resolves to")) && error.contains("not a public address"),
        "{error}"
    );
    assert!(receiver.got().is_empty());
}

/// An endpoint whose every delivery has failed for 5 days is disabled by
/// the next failure (the first failure's time is set back 5 days).
#[tokio::test]
async fn an_endpoint_failing_for_5_days_is_disabled() {
    let app = spawn_app_with(|c| {
        c.webhooks.allow_private = true;
        c.webhooks.poll = Duration::from_millis(50);
        c.webhooks.retries = vec![Duration::from_millis(300); 50];
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.answer(&[500; 50]);
    let (id, _) = hook(&app, json!({"url": receiver.base})).await;
    app.create_lead(json!({"email": "a@example.com"})).await;
    let hook_url = format!("/v1/webhooks/{id}");
    for _ in 0..400 {
        if app.get(&hook_url).await.assert_ok(200)["failingSince"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let failing = app.get(&hook_url).await.assert_ok(200).clone();
    assert!(failing["failingSince"].is_string(), "{failing}");
    assert_eq!(failing["enabled"], json!(true), "failing, not yet disabled");

    let key = leadflow::domain::id::ObjectId::parse(&id).unwrap().key;
    let five_days_ago = leadflow::domain::now_ms() - 5 * 24 * 3600 * 1000 - 60_000;
    app.query_db(
        &format!("update webhooks set failing_since = {five_days_ago} where id = $1"),
        key,
    )
    .await;
    let mut disabled = Value::Null;
    for _ in 0..400 {
        disabled = app.get(&hook_url).await.assert_ok(200).clone();
        if disabled["enabled"] == json!(false) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(disabled["enabled"], json!(false), "{disabled}");
    assert_eq!(
        disabled["disabledReason"],
        json!("every delivery failed for 5 days")
    );
    // Disabled: no more attempts.
    let attempts = receiver.got().len();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.got().len(), attempts);
}
