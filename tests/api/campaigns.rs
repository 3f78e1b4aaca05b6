//! Campaigns: CRUD, lead counts and the state machine (docs/API.md, "Campaigns").

use serde_json::json;

use crate::helpers::{leads, spawn_app};

#[tokio::test]
async fn a_new_campaign_is_a_draft_with_what_was_given() {
    let app = spawn_app().await;
    let r = app
        .post("/v1/campaigns", json!({"name": "  Launch  ", "sequence": [{"step": 1, "subject": "Hi"}],
                                      "schedule": {"timezone": "UTC"}, "settings": {"stopOnReply": true}}))
        .await;
    let c = r.assert_ok(201);
    assert_eq!(c["name"], json!("Launch"));
    assert_eq!(c["status"], json!("draft"));
    assert_eq!(c["sequence"], json!([{"step": 1, "subject": "Hi"}]));
    assert_eq!(c["sendingSchedule"], json!({"timezone": "UTC"}));
    assert_eq!(c["settings"], json!({"stopOnReply": true}));
    assert_eq!(c["leadCounts"]["total"], json!(0));
    assert_eq!(c["startedAt"], json!(null));
    let got = app
        .get(&format!("/v1/campaigns/{}", c["_id"].as_str().unwrap()))
        .await;
    assert_eq!(got.data(), c);
}

/// PostgreSQL's jsonb writes numbers out in full (the largest double as 309
/// digits); what it gives back must read as the number that was stored. A
/// 500 on PostgreSQL found by the contract test.
#[tokio::test]
async fn the_extremes_of_json_numbers_are_kept() {
    let app = spawn_app().await;
    let numbers = json!([f64::MIN, f64::MAX, 5e-324, -1.1125369292536007e-308, 1e300]);
    let r = app
        .post(
            "/v1/campaigns",
            json!({"name": "Numbers", "sequence": numbers, "settings": {"n": f64::MAX}}),
        )
        .await;
    let c = r.assert_ok(201);
    assert_eq!(c["sequence"], numbers);
    let got = app
        .get(&format!("/v1/campaigns/{}", c["_id"].as_str().unwrap()))
        .await;
    assert_eq!(got.data()["sequence"], numbers);
    assert_eq!(got.data()["settings"]["n"], json!(f64::MAX));
    let r = app
        .post(
            "/v1/leads",
            json!({"email": "n@example.com", "customFields": {"n": f64::MIN}}),
        )
        .await;
    let lead = r.assert_ok(201);
    let got = app
        .get(&format!("/v1/leads/{}", lead["_id"].as_str().unwrap()))
        .await;
    assert_eq!(got.data()["customFields"]["n"], json!(f64::MIN));
}

#[tokio::test]
async fn campaign_fields_are_validated() {
    let app = spawn_app().await;
    let big = "x".repeat(65 * 1024);
    for body in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "x".repeat(201)}),
        json!({"name": 5}),
        json!({"name": "ok", "sequence": {}}),
        json!({"name": "ok", "schedule": []}),
        json!({"name": "ok", "settings": "x"}),
        json!({"name": "ok", "settings": {"big": big}}),
    ] {
        app.post("/v1/campaigns", body.clone())
            .await
            .assert_error(400, "VALIDATION_ERROR");
    }
    app.post("/v1/campaigns", json!({"name": "x".repeat(200)}))
        .await
        .assert_ok(201);
}

#[tokio::test]
async fn patch_changes_fields_but_never_the_status() {
    let app = spawn_app().await;
    let id = app.create_campaign("Before").await;
    let path = format!("/v1/campaigns/{id}");
    let r = app
        .patch(&path, json!({"name": "After", "settings": {"a": 1}}))
        .await;
    let c = r.assert_ok(200);
    assert_eq!(
        (
            c["name"].clone(),
            c["settings"].clone(),
            c["sequence"].clone()
        ),
        (json!("After"), json!({"a": 1}), json!([]))
    );
    app.patch(&path, json!({"status": "active"}))
        .await
        .assert_error(400, "VALIDATION_ERROR");
    app.patch(&path, json!({"name": ""}))
        .await
        .assert_error(400, "VALIDATION_ERROR");
    assert_eq!(app.get(&path).await.data()["status"], json!("draft"));
}

#[tokio::test]
async fn the_state_machine_allows_only_the_documented_moves() {
    let app = spawn_app().await;
    let id = app.create_campaign("Flow").await;
    let step = |action: &'static str| {
        let app = &app;
        let id = id.clone();
        async move {
            app.post(&format!("/v1/campaigns/{id}/{action}"), json!({}))
                .await
        }
    };
    step("pause").await.assert_error(409, "CONFLICT");
    step("resume").await.assert_error(409, "CONFLICT");
    step("complete").await.assert_error(409, "CONFLICT");
    let started = step("start").await;
    assert_eq!(started.assert_ok(200)["status"], json!("active"));
    assert!(started.data()["startedAt"].is_string());
    step("start").await.assert_error(409, "CONFLICT");
    assert_eq!(
        step("pause").await.assert_ok(200)["status"],
        json!("paused")
    );
    step("pause").await.assert_error(409, "CONFLICT");
    assert_eq!(
        step("resume").await.assert_ok(200)["status"],
        json!("active")
    );
    let done = step("complete").await;
    assert_eq!(done.assert_ok(200)["status"], json!("completed"));
    assert!(done.data()["completedAt"].is_string());
    step("resume").await.assert_error(409, "CONFLICT");
    step("start").await.assert_error(409, "CONFLICT");
    assert_eq!(
        step("archive").await.assert_ok(200)["status"],
        json!("archived")
    );
    assert_eq!(
        step("archive").await.assert_ok(200)["status"],
        json!("archived")
    );
    step("start").await.assert_error(409, "CONFLICT");
    app.post("/v1/campaigns/665d4e5f6a7b8c9d0e1f2a3b/start", json!({}))
        .await
        .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn starting_a_campaign_activates_its_pending_leads_and_counts_follow() {
    let app = spawn_app().await;
    let id = app.create_campaign("Counts").await;
    app.create_leads(leads("c", 5)).await;
    app.add(&id, json!({"selectAll": true}))
        .await
        .assert_ok(200);
    let c = app.get(&format!("/v1/campaigns/{id}")).await;
    assert_eq!(c.data()["leadCounts"]["pending"], json!(5));
    assert_eq!(c.data()["leadCounts"]["total"], json!(5));
    let started = app
        .post(&format!("/v1/campaigns/{id}/start"), json!({}))
        .await;
    let counts = &started.assert_ok(200)["leadCounts"];
    assert_eq!(
        (
            counts["pending"].clone(),
            counts["active"].clone(),
            counts["total"].clone()
        ),
        (json!(0), json!(5), json!(5))
    );
    let statuses: Vec<_> = app
        .all(&format!("/v1/campaigns/{id}/leads?status=active"))
        .await;
    assert_eq!(statuses.len(), 5);
    assert_eq!(
        app.all(&format!("/v1/campaigns/{id}/leads?status=pending"))
            .await
            .len(),
        0
    );
    app.get(&format!("/v1/campaigns/{id}/leads?status=nope"))
        .await
        .assert_error(400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn deleting_a_campaign_removes_its_memberships_but_never_the_leads() {
    let app = spawn_app().await;
    let id = app.create_campaign("Gone").await;
    app.create_leads(leads("g", 3)).await;
    app.add(&id, json!({"selectAll": true}))
        .await
        .assert_ok(200);
    let r = app.delete(&format!("/v1/campaigns/{id}")).await;
    assert_eq!(r.assert_ok(200), &json!({"_id": id, "deleted": true}));
    app.get(&format!("/v1/campaigns/{id}"))
        .await
        .assert_error(404, "NOT_FOUND");
    app.get(&format!("/v1/campaigns/{id}/leads"))
        .await
        .assert_error(404, "NOT_FOUND");
    assert_eq!(app.lead_total().await, 3);
}

#[tokio::test]
async fn the_campaign_list_filters_by_status_and_name() {
    let app = spawn_app().await;
    let a = app.create_campaign("Spring launch").await;
    app.create_campaign("Autumn push").await;
    app.create_campaign("spring follow-up").await;
    app.post(&format!("/v1/campaigns/{a}/start"), json!({}))
        .await
        .assert_ok(200);
    let names = |items: Vec<serde_json::Value>| {
        items
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(app.all("/v1/campaigns").await),
        ["spring follow-up", "Autumn push", "Spring launch"]
    );
    assert_eq!(
        names(app.all("/v1/campaigns?status=active").await),
        ["Spring launch"]
    );
    assert_eq!(
        names(
            app.all("/v1/campaigns?status=draft,active&search=SPRING")
                .await
        ),
        ["spring follow-up", "Spring launch"]
    );
    app.get("/v1/campaigns?status=running")
        .await
        .assert_error(400, "VALIDATION_ERROR");
}
