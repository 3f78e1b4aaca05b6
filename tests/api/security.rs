//! Security checks: keys never reach the logs, every log line of a request
//! carries its ID, hostile bodies are refused without changing anything,
//! and `/metrics` counts what happened.

use std::collections::HashSet;
use std::process::Stdio;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Resp, Server, spawn_app};

async fn call(base: &str, method: Method, path: &str, key: &str, body: Option<Value>) -> Resp {
    let client = leadflow::client::http_client();
    let mut req = client
        .request(method, format!("{base}{path}"))
        .header("X-Api-Key", key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    Resp::read(req.send().await.unwrap()).await
}

fn request_id(headers: &reqwest::header::HeaderMap) -> String {
    headers["x-request-id"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn keys_never_appear_in_the_logs_and_every_request_line_has_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::helpers::fresh_database_url(dir.path()).await;
    let log_path = dir.path().join("server.log");
    let mut server = Server::start(
        &db,
        &["--log", "debug", "--log-format", "json"],
        Stdio::piped(),
        std::fs::File::create(&log_path).unwrap().into(),
    );
    let base = server.url("");
    let client = leadflow::client::http_client();
    // The X-Request-Id of every answer the server gave, to account for
    // every line it logged inside a request.
    let mut answered: HashSet<String> = server.wait_healthy().await.into_iter().collect();
    // The bootstrap keys are printed on stdout, once; never logged. They
    // were printed before the server started serving.
    let mut stdout = server.child.stdout.take().unwrap();
    let mut printed = vec![0u8; 4096];
    let n = std::io::Read::read(&mut stdout, &mut printed).unwrap();
    let printed = String::from_utf8_lossy(&printed[..n]).into_owned();
    let words: Vec<&str> = printed.split_whitespace().collect();
    let user_key = words
        .iter()
        .find(|w| w.starts_with("sk_user_"))
        .unwrap()
        .to_string();
    let ws_key = words
        .iter()
        .find(|w| w.starts_with("sk_") && !w.starts_with("sk_user_") && w.len() > 60)
        .unwrap()
        .to_string();

    let mut keys = vec![user_key.clone(), ws_key.clone()];
    let mut request_ids = Vec::new();
    let r = call(
        &base,
        Method::POST,
        "/v1/leads",
        &ws_key,
        Some(json!({"email": "log@example.com"})),
    )
    .await;
    assert_eq!(r.status, 201);
    request_ids.push(request_id(&r.headers));
    let bearer = client
        .get(format!("{base}/v1/leads"))
        .header("Authorization", format!("Bearer {ws_key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    answered.insert(request_id(bearer.headers()));
    let ws = call(
        &base,
        Method::POST,
        "/v1/workspaces",
        &user_key,
        Some(json!({"name": "Logged"})),
    )
    .await;
    answered.insert(request_id(&ws.headers));
    let ws_id = ws.data()["_id"].as_str().unwrap().to_owned();
    let made = call(
        &base,
        Method::POST,
        &format!("/v1/workspaces/{ws_id}/api-key"),
        &user_key,
        None,
    )
    .await;
    answered.insert(request_id(&made.headers));
    keys.push(made.data()["apiKey"].as_str().unwrap().to_owned());
    let rotated = call(
        &base,
        Method::POST,
        &format!("/v1/workspaces/{ws_id}/api-key/rotate"),
        &user_key,
        None,
    )
    .await;
    answered.insert(request_id(&rotated.headers));
    keys.push(rotated.data()["apiKey"].as_str().unwrap().to_owned());
    let wrong = "sk_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    keys.push(wrong.to_owned());
    let r = call(&base, Method::GET, "/v1/leads", wrong, None).await;
    assert_eq!(r.status, 401);
    request_ids.push(request_id(&r.headers));
    // A failing request logs more.
    let r = call(
        &base,
        Method::POST,
        "/v1/leads",
        &ws_key,
        Some(json!({"email": "bad"})),
    )
    .await;
    request_ids.push(request_id(&r.headers));
    // The caller's own ID is the one logged.
    let traced = client
        .get(format!("{base}/v1/campaigns"))
        .header("X-Api-Key", &ws_key)
        .header("X-Request-Id", "caller-trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(request_id(traced.headers()), "caller-trace-42");
    request_ids.push("caller-trace-42".to_owned());
    answered.extend(request_ids.iter().cloned());

    let status = server.stop();
    assert!(status.success());

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.lines().count() > 10, "{log}");
    for key in &keys {
        assert!(!log.contains(key.as_str()), "a key reached the log");
        assert!(!log.contains(&key[8..40]), "part of a key reached the log");
    }
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    for id in &request_ids {
        let of_request: Vec<&Value> = lines
            .iter()
            .filter(|l| l["request_id"] == json!(id))
            .collect();
        assert!(
            of_request.iter().any(|l| l["message"] == json!("response")),
            "no response line for {id}"
        );
    }
    // Every line logged inside a request names it, at the top level of the
    // line (`jq .request_id`).
    for l in &lines {
        if l["span"] == json!("request") {
            assert!(l["request_id"].is_string(), "{l}");
        }
    }
    // ...and names the right one: there are such lines, one at least for
    // each request the server answered, and each carries the X-Request-Id
    // that its client got back (a line in a span without the ID, or with
    // an ID of its own, fails here).
    let inside: Vec<&Value> = lines.iter().filter(|l| l.get("span").is_some()).collect();
    assert!(
        inside.len() >= answered.len(),
        "{} lines inside requests, {} requests: {log}",
        inside.len(),
        answered.len()
    );
    for l in &inside {
        let id = l["request_id"]
            .as_str()
            .unwrap_or_else(|| panic!("a line inside a request without its ID: {l}"));
        assert!(
            answered.contains(id),
            "a line names {id:?}, which no client got back: {l}"
        );
    }
    for id in &answered {
        assert!(
            inside
                .iter()
                .any(|l| l["request_id"] == json!(id) && l["message"] == json!("response")),
            "the request {id} left no line in the log"
        );
    }
}

#[tokio::test]
async fn hostile_bodies_get_400_or_413_and_change_nothing() {
    let app = spawn_app().await;
    let c = app.create_campaign("C").await;
    let raw = |path: &str, body: Vec<u8>| {
        let app = &app;
        let path = path.to_owned();
        async move {
            Resp::read(
                app.client
                    .post(format!("{}{path}", app.base))
                    .header("X-Api-Key", &app.key)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    raw("/v1/leads", nested.into_bytes())
        .await
        .assert_error(400, "VALIDATION_ERROR");
    let deep_object = format!(
        "{{\"email\": \"deep@example.com\", \"customFields\": {}1{}}}",
        "{\"a\":".repeat(200),
        "}".repeat(200)
    );
    raw("/v1/leads", deep_object.into_bytes())
        .await
        .assert_error(400, "VALIDATION_ERROR");
    raw(
        "/v1/leads",
        b"{\"email\": \"\xff\xfe@example.com\"}".to_vec(),
    )
    .await
    .assert_error(400, "VALIDATION_ERROR");
    let huge = vec![b' '; 17 * 1024 * 1024];
    raw("/v1/leads", huge)
        .await
        .assert_error(413, "PAYLOAD_TOO_LARGE");
    let many_ids: Vec<String> = (0..50_001).map(|i| format!("{i:024x}")).collect();
    app.add(&c, json!({"filters": {"leadIds": many_ids}}))
        .await
        .assert_error(400, "VALIDATION_ERROR");
    let many_leads: Vec<Value> = (0..5_001)
        .map(|i| json!({"email": format!("m{i}@example.com")}))
        .collect();
    app.add(&c, json!({"leads": many_leads}))
        .await
        .assert_error(400, "VALIDATION_ERROR");
    app.post(
        "/v1/leads",
        json!({"email": "long@example.com", "firstName": "x".repeat(100_000)}),
    )
    .await
    .assert_error(400, "VALIDATION_ERROR");
    assert_eq!(app.lead_total().await, 0);
    assert_eq!(app.campaign_lead_total(&c).await, 0);
}

/// The value of a counter line (`name{labels} value`) in `/metrics`.
fn metric(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name_and_labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn metrics_count_requests_and_leads_in_prometheus_format() {
    let app = spawn_app().await;
    let scrape = || async {
        let r = app
            .client
            .get(format!("{}/metrics", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()[reqwest::header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        r.text().await.unwrap()
    };
    let c = app.create_campaign("Metered").await;
    let before = scrape().await;
    app.add(&c, json!({"leads": crate::helpers::leads("metric", 7)}))
        .await
        .assert_ok(200);
    app.get("/v1/leads/000000000000000000000000").await;
    let after = scrape().await;
    // The counters are per process (other tests add to them too): at least ours.
    assert!(
        metric(&after, "leadflow_leads_created_total")
            - metric(&before, "leadflow_leads_created_total")
            >= 7.0,
        "{after}"
    );
    assert!(
        metric(&after, "leadflow_leads_added_total")
            - metric(&before, "leadflow_leads_added_total")
            >= 7.0
    );
    let add = r#"http_requests_total{route="/v1/campaigns/{id}/leads",method="POST",status="200"}"#;
    assert!(metric(&after, add) >= 1.0, "{after}");
    let missing = r#"http_requests_total{route="/v1/leads/{id}",method="GET",status="404"}"#;
    assert!(metric(&after, missing) >= 1.0, "{after}");
    assert!(after.contains("http_request_duration_seconds_bucket{"));
    assert!(after.contains("leadflow_db_pool_connections{state=\"in_use\"}"));
    assert!(metric(&after, "leadflow_db_pool_max_connections") >= 1.0);
    // Route templates, never concrete IDs.
    assert!(!after.contains(&c));
}
