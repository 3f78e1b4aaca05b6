//! Rate limits per workspace and per user, and the request timeout.

use std::num::NonZeroU32;
use std::time::Duration;

use crate::helpers::spawn_app_with;

/// Platform routes (workspaces, members, keys) spend the user's bucket,
/// not a workspace's: a user creating workspaces in a loop is stopped, and
/// a workspace's own requests are not.
#[tokio::test]
async fn platform_routes_are_limited_per_user() {
    let app = spawn_app_with(|c| {
        c.rate_limit = Some((NonZeroU32::new(1).unwrap(), NonZeroU32::new(2).unwrap()));
    })
    .await;
    let create = || {
        app.call_as(
            &app.user_key,
            reqwest::Method::POST,
            "/v1/workspaces",
            Some(serde_json::json!({"name": "Loop"})),
        )
    };
    create().await.assert_ok(201);
    let r = create().await;
    r.assert_ok(201);
    assert_eq!(r.headers["ratelimit-remaining"], "0");
    let r = create().await;
    r.assert_error(429, "RATE_LIMITED");
    assert!(r.headers.contains_key("retry-after"));
    app.get("/v1/leads").await.assert_ok(200);
    let account = app
        .call_as(&app.user_key, reqwest::Method::GET, "/v1/account", None)
        .await;
    account.assert_error(429, "RATE_LIMITED");
}

#[tokio::test]
async fn a_workspace_over_its_limit_gets_429_with_retry_after_and_others_do_not() {
    let app = spawn_app_with(|c| {
        c.rate_limit = Some((NonZeroU32::new(1).unwrap(), NonZeroU32::new(3).unwrap()));
    })
    .await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let r = app.get("/v1/leads").await;
        r.assert_ok(200);
        assert_eq!(r.headers["ratelimit-limit"], "1");
        assert!(r.headers.get("retry-after").is_none());
        remaining.push(
            r.headers["ratelimit-remaining"]
                .to_str()
                .unwrap()
                .parse::<u32>()
                .unwrap(),
        );
    }
    assert_eq!(remaining, [2, 1, 0]);
    let r = app.get("/v1/leads").await;
    r.assert_error(429, "RATE_LIMITED");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(r.headers["ratelimit-remaining"], "0");
    assert!(r.headers.contains_key("ratelimit-reset"));

    // Another workspace has its own bucket.
    let (_, other) = app.other_workspace().await;
    let r = app
        .call_as(&other, reqwest::Method::GET, "/v1/leads", None)
        .await;
    r.assert_ok(200);
    // Health is not a workspace request.
    let r = app
        .send(reqwest::Method::GET, "/v1/health", &[], None)
        .await;
    assert_eq!(r.status, 200);
    assert!(r.headers.get("ratelimit-limit").is_none());

    // The bucket refills at the rate.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.get("/v1/leads").await.assert_ok(200);
}

/// Through the router production serves (`Config::test_routes` adds a
/// route that sleeps inside the same layers as the API), with the timeout
/// set low: without the timeout layer of `startup::app` the slow request
/// takes its full five seconds and succeeds.
#[tokio::test]
async fn a_request_over_the_timeout_gets_a_clean_503() {
    let app = spawn_app_with(|c| {
        c.test_routes = true;
        c.request_timeout = Duration::from_millis(100);
    })
    .await;
    let started = std::time::Instant::now();
    let r = app
        .send(reqwest::Method::GET, "/__test/sleep/5000", &[], None)
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "stopped at the timeout"
    );
    r.assert_error(503, "UNAVAILABLE");
    assert!(
        r.message().contains("did not finish within"),
        "{}",
        r.message()
    );
    assert!(r.headers.contains_key("x-request-id"));
    let r = app
        .send(reqwest::Method::GET, "/__test/sleep/0", &[], None)
        .await;
    assert_eq!(r.status, 200);
    // The API's own routes are under the same timeout, and a quick one passes.
    app.get("/v1/leads").await.assert_ok(200);
}

/// Lists in filters, search texts and what a lead holds after a merge are
/// bounded, each refusal naming its field; a long URI gets 414 in the
/// envelope.
#[tokio::test]
async fn lists_searches_merges_and_uris_are_bounded() {
    use serde_json::json;
    let app = crate::helpers::spawn_app().await;
    let campaign = app.create_campaign("Bounded").await;
    let many: Vec<String> = (0..251).map(|i| format!("t{i}")).collect();
    let r = app.add(&campaign, json!({"filters": {"tags": many}})).await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.message().contains("filters.tags"), "{}", r.message());
    assert!(r.message().contains("250"), "{}", r.message());
    let r = app
        .get(&format!("/v1/leads?country={}", vec!["US"; 251].join(",")))
        .await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.message().contains("country"), "{}", r.message());
    let r = app
        .get(&format!("/v1/campaigns?search={}", "n".repeat(257)))
        .await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.message().contains("search"), "{}", r.message());

    // Fifty custom fields, then one more by another PATCH: refused, and
    // the lead keeps its fifty.
    let fields: serde_json::Map<String, serde_json::Value> =
        (0..50).map(|i| (format!("f{i}"), json!(i))).collect();
    let lead = app
        .create_lead(json!({"email": "full@example.com", "customFields": fields}))
        .await;
    let id = lead["_id"].as_str().unwrap().to_owned();
    let r = app
        .patch(
            &format!("/v1/leads/{id}"),
            json!({"customFields": {"one_more": 1}}),
        )
        .await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.message().starts_with("customFields"), "{}", r.message());
    let got = app.get(&format!("/v1/leads/{id}")).await;
    assert_eq!(got.data()["customFields"].as_object().unwrap().len(), 50);
    // Fifty tags, and a bulk update that adds a fifty-first: refused whole.
    let tags: Vec<String> = (0..50).map(|i| format!("tag{i}")).collect();
    app.patch(&format!("/v1/leads/{id}"), json!({"tags": tags}))
        .await
        .assert_ok(200);
    let r = app
        .post(
            "/v1/leads/bulk",
            json!({"leads": [{"email": "full@example.com"}, {"email": "new@example.com"}],
                   "skipDuplicates": false, "tag": "one-more"}),
        )
        .await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.message().starts_with("tags"), "{}", r.message());
    assert_eq!(
        app.lead_total().await,
        1,
        "nothing of the refused bulk is kept"
    );

    let r = app
        .get(&format!("/v1/leads?search={}", "x".repeat(9 * 1024)))
        .await;
    r.assert_error(414, "URI_TOO_LONG");
}

/// A statement past the time limit is stopped: the request gets 503, its
/// transaction writes nothing (the lead it created first is gone), and the
/// connection serves the next request as if nothing happened.
#[tokio::test]
async fn a_statement_past_the_time_limit_is_stopped_and_writes_nothing() {
    let app = spawn_app_with(|c| {
        c.test_routes = true;
        c.statement_timeout = Duration::from_millis(300);
    })
    .await;
    let r = app.post("/v1/__test/overrun", serde_json::json!({})).await;
    r.assert_error(503, "UNAVAILABLE");
    // The statement's limit, not the request's (which says "did not finish").
    assert!(r.message().contains("statement"), "{}", r.message());
    assert_eq!(app.lead_total().await, 0);
    for i in 0..3 {
        app.create_lead(serde_json::json!({"email": format!("after{i}@example.com")}))
            .await;
    }
    assert_eq!(app.lead_total().await, 3);
    app.get("/v1/leads?search=after").await.assert_ok(200);
}

/// While the database is busy with a long write, writes beyond what may
/// wait are refused at once: 503 with `Retry-After`, nothing written. Every
/// write is either created (201) or refused that way, and the leads are
/// exactly the created ones. (SQLite queues writes for its one writer and
/// refuses past `write_queue`; PostgreSQL's pool takes these ten.)
#[tokio::test]
async fn writes_beyond_the_queue_are_refused_at_once_with_retry_after() {
    let app = std::sync::Arc::new(
        spawn_app_with(|c| {
            c.test_routes = true;
            c.statement_timeout = Duration::from_millis(1500);
            c.write_queue = 2;
        })
        .await,
    );
    let busy = {
        let app = app.clone();
        tokio::spawn(async move { app.post("/v1/__test/overrun", serde_json::json!({})).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let writes: Vec<_> = (0..10)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                app.post(
                    "/v1/leads",
                    serde_json::json!({"email": format!("q{i}@example.com")}),
                )
                .await
            })
        })
        .collect();
    let mut created = 0;
    let mut refused = 0;
    for w in writes {
        let r = w.await.unwrap();
        match r.status.as_u16() {
            201 => created += 1,
            503 => {
                assert!(r.message().contains("too many writes"), "{}", r.message());
                assert_eq!(r.headers["retry-after"], "1");
                refused += 1;
            }
            other => panic!("{other}: {}", r.body),
        }
    }
    busy.await.unwrap().assert_error(503, "UNAVAILABLE");
    assert_eq!(created + refused, 10);
    if !app.database_url.starts_with("postgres") {
        assert!(refused >= 1, "a queue of 2 took 10 writes");
    }
    assert_eq!(app.lead_total().await, created);
}

/// A write whose request timed out while it waited is not made later: the
/// 503 ("may or may not have taken effect") resolves to "did not".
#[tokio::test]
async fn a_write_whose_request_timed_out_while_waiting_is_not_made() {
    let app = std::sync::Arc::new(
        spawn_app_with(|c| {
            c.test_routes = true;
            c.statement_timeout = Duration::from_millis(2000);
            c.request_timeout = Duration::from_millis(500);
        })
        .await,
    );
    let busy = {
        let app = app.clone();
        tokio::spawn(async move { app.post("/v1/__test/overrun", serde_json::json!({})).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let late = app
        .post(
            "/v1/leads",
            serde_json::json!({"email": "late@example.com"}),
        )
        .await;
    let _ = busy.await.unwrap();
    if late.status.as_u16() == 503 {
        // Wait until the writer is past where the job was queued.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(
            app.lead_total().await,
            0,
            "a timed-out write was made after its 503"
        );
    } else {
        // PostgreSQL's pool ran it beside the long write.
        late.assert_ok(201);
        assert_eq!(app.lead_total().await, 1);
    }
}
