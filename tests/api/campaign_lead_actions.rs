//! Changing memberships: one campaign lead's status, and bulk actions.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, leads, spawn_app};

/// A campaign with `n` leads (every third tagged `vip`); returns its ID and
/// its memberships (newest first).
async fn campaign_with(app: &TestApp, n: usize) -> (String, Vec<Value>) {
    let c = app.create_campaign("Members").await;
    let mut batch = leads("m", n);
    for (i, l) in batch.iter_mut().enumerate() {
        if i % 3 == 0 {
            l["tags"] = json!(["vip"]);
        }
    }
    app.create_leads(batch).await;
    app.add(&c, json!({"selectAll": true})).await.assert_ok(200);
    let members = app.all(&format!("/v1/campaigns/{c}/leads")).await;
    (c, members)
}

fn statuses(members: &[Value]) -> Vec<String> {
    members
        .iter()
        .map(|m| m["status"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn one_campaign_lead_can_be_paused_and_made_active() {
    let app = spawn_app().await;
    let (c, members) = campaign_with(&app, 2).await;
    let id = members[0]["_id"].as_str().unwrap();
    let path = format!("/v1/campaigns/{c}/leads/{id}");
    let r = app.patch(&path, json!({"status": "paused"})).await;
    assert_eq!(r.assert_ok(200)["status"], json!("paused"));
    assert_eq!(r.data()["_id"], json!(id));
    assert_eq!(
        app.all(&format!("/v1/campaigns/{c}/leads?status=paused"))
            .await
            .len(),
        1
    );
    assert_eq!(
        app.patch(&path, json!({"status": "active"}))
            .await
            .assert_ok(200)["status"],
        json!("active")
    );
    app.patch(&path, json!({"status": "replied"}))
        .await
        .assert_error(400, "VALIDATION_ERROR");
    app.patch(
        &format!("/v1/campaigns/{c}/leads/665d4e5f6a7b8c9d0e1f2a3b"),
        json!({"status": "paused"}),
    )
    .await
    .assert_error(404, "NOT_FOUND");
    let other = app.create_campaign("Other").await;
    app.patch(
        &format!("/v1/campaigns/{other}/leads/{id}"),
        json!({"status": "paused"}),
    )
    .await
    .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn actions_pause_resume_and_remove_and_count_what_changed() {
    let app = spawn_app().await;
    let (c, members) = campaign_with(&app, 9).await;
    app.post(&format!("/v1/campaigns/{c}/start"), json!({}))
        .await
        .assert_ok(200);
    let action = format!("/v1/campaigns/{c}/leads/action");
    let ids: Vec<&str> = members
        .iter()
        .take(4)
        .map(|m| m["_id"].as_str().unwrap())
        .collect();

    let r = app
        .post(&action, json!({"action": "pause", "leadIds": ids}))
        .await;
    assert_eq!(
        r.assert_ok(200),
        &json!({"action": "pause", "modifiedCount": 4})
    );
    let r = app
        .post(&action, json!({"action": "pause", "leadIds": ids}))
        .await;
    assert_eq!(
        r.assert_ok(200)["modifiedCount"],
        json!(0),
        "nothing changes twice"
    );
    assert_eq!(
        statuses(&app.all(&format!("/v1/campaigns/{c}/leads")).await)
            .iter()
            .filter(|s| *s == "paused")
            .count(),
        4
    );

    let r = app
        .post(
            &action,
            json!({"action": "resume", "selectAll": true, "excludeIds": [ids[0]]}),
        )
        .await;
    assert_eq!(r.assert_ok(200)["modifiedCount"], json!(3));
    assert_eq!(
        app.all(&format!("/v1/campaigns/{c}/leads?status=paused"))
            .await
            .len(),
        1
    );

    // Remove the vip leads (3 of 9) but one.
    let vip: Vec<String> = app
        .all(&format!("/v1/campaigns/{c}/leads"))
        .await
        .into_iter()
        .filter(|m| {
            let email = m["lead"]["email"].as_str().unwrap();
            email
                .trim_start_matches('m')
                .split('@')
                .next()
                .unwrap()
                .parse::<usize>()
                .unwrap()
                % 3
                == 0
        })
        .map(|m| m["_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(vip.len(), 3);
    let r = app
        .post(&action, json!({"action": "remove", "selectAll": true, "filters": {"tags": ["vip"]}, "excludeIds": [vip[0]]}))
        .await;
    assert_eq!(r.assert_ok(200)["modifiedCount"], json!(2));
    assert_eq!(app.campaign_lead_total(&c).await, 7);
    assert_eq!(
        app.lead_total().await,
        9,
        "removing memberships never removes leads"
    );
    let counts = app.get(&format!("/v1/campaigns/{c}")).await.data()["leadCounts"].clone();
    assert_eq!(counts["total"], json!(7));
}

#[tokio::test]
async fn resuming_in_a_campaign_that_is_not_active_makes_leads_pending() {
    let app = spawn_app().await;
    let (c, members) = campaign_with(&app, 2).await;
    let action = format!("/v1/campaigns/{c}/leads/action");
    let ids: Vec<&str> = members.iter().map(|m| m["_id"].as_str().unwrap()).collect();
    app.post(&action, json!({"action": "pause", "leadIds": ids}))
        .await
        .assert_ok(200);
    app.post(&action, json!({"action": "resume", "leadIds": ids}))
        .await
        .assert_ok(200);
    assert_eq!(
        statuses(&app.all(&format!("/v1/campaigns/{c}/leads")).await),
        ["pending", "pending"]
    );
}

#[tokio::test]
async fn bad_action_requests_are_rejected_and_change_nothing() {
    let app = spawn_app().await;
    let (c, members) = campaign_with(&app, 3).await;
    let id = members[0]["_id"].as_str().unwrap();
    let action = format!("/v1/campaigns/{c}/leads/action");
    for body in [
        json!({"leadIds": [id]}),
        json!({"action": "archive", "leadIds": [id]}),
        json!({"action": "remove"}),
        json!({"action": "remove", "leadIds": [id], "selectAll": true}),
        json!({"action": "remove", "leadIds": [id], "excludeIds": [id]}),
        json!({"action": "remove", "leadIds": []}),
        json!({"action": "remove", "leadIds": ["nope"]}),
        json!({"action": "remove", "selectAll": true, "filters": {"colour": "red"}}),
        json!({"action": "remove", "selectAll": true, "filters": {}}),
    ] {
        app.post(&action, body.clone())
            .await
            .assert_error(400, "VALIDATION_ERROR");
    }
    assert_eq!(app.campaign_lead_total(&c).await, 3);
    app.post(
        "/v1/campaigns/665d4e5f6a7b8c9d0e1f2a3b/leads/action",
        json!({"action": "remove", "selectAll": true}),
    )
    .await
    .assert_error(404, "NOT_FOUND");
    let (_, theirs) = app.other_workspace().await;
    app.call_as(
        &theirs,
        Method::POST,
        &action,
        Some(json!({"action": "remove", "selectAll": true})),
    )
    .await
    .assert_error(404, "NOT_FOUND");
    app.call_as(
        &theirs,
        Method::PATCH,
        &format!("/v1/campaigns/{c}/leads/{id}"),
        Some(json!({"status": "paused"})),
    )
    .await
    .assert_error(404, "NOT_FOUND");
    assert_eq!(app.campaign_lead_total(&c).await, 3);
}
