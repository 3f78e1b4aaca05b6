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
