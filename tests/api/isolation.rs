//! No endpoint ever shows or touches one workspace's data from another.

use reqwest::Method;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn another_workspace_sees_nothing_and_changes_nothing() {
    let app = spawn_app().await;
    let lead = app
        .create_lead(json!({"email": "mine@example.com", "tags": ["t"]}))
        .await;
    let lead_id = lead["_id"].as_str().unwrap().to_owned();
    let campaign = app.create_campaign("Mine").await;
    app.add(&campaign, json!({"selectAll": true}))
        .await
        .assert_ok(200);
    app.post(
        "/v1/dnc",
        json!({"entries": [{"type": "domain", "value": "mine.com"}]}),
    )
    .await
    .assert_ok(200);
    let dnc_id = app.all("/v1/dnc").await[0]["_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let member = app.all(&format!("/v1/campaigns/{campaign}/leads")).await[0]["_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (_, theirs) = app.other_workspace().await;
    let k = theirs.as_str();
    let their_campaign = app
        .call_as(
            k,
            Method::POST,
            "/v1/campaigns",
            Some(json!({"name": "Theirs"})),
        )
        .await
        .data()["_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let not_found: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, format!("/v1/leads/{lead_id}"), None),
        (
            Method::PATCH,
            format!("/v1/leads/{lead_id}"),
            Some(json!({"firstName": "Hacked"})),
        ),
        (Method::DELETE, format!("/v1/leads/{lead_id}"), None),
        (Method::GET, format!("/v1/campaigns/{campaign}"), None),
        (
            Method::PATCH,
            format!("/v1/campaigns/{campaign}"),
            Some(json!({"name": "Hacked"})),
        ),
        (Method::DELETE, format!("/v1/campaigns/{campaign}"), None),
        (Method::GET, format!("/v1/campaigns/{campaign}/leads"), None),
        (
            Method::POST,
            format!("/v1/campaigns/{campaign}/leads"),
            Some(json!({"selectAll": true})),
        ),
        (
            Method::POST,
            format!("/v1/campaigns/{campaign}/start"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/v1/campaigns/{campaign}/pause"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/v1/campaigns/{campaign}/resume"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/v1/campaigns/{campaign}/complete"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/v1/campaigns/{campaign}/archive"),
            Some(json!({})),
        ),
        (
            Method::PATCH,
            format!("/v1/campaigns/{campaign}/leads/{member}"),
            Some(json!({"status": "paused"})),
        ),
        (
            Method::POST,
            format!("/v1/campaigns/{campaign}/leads/action"),
            Some(json!({"action": "remove", "leadIds": [member]})),
        ),
    ];
    for (method, path, body) in not_found {
        app.call_as(k, method.clone(), &path, body)
            .await
            .assert_error(404, "NOT_FOUND");
    }
    for list in [
        "/v1/leads",
        "/v1/campaigns?search=Mine",
        "/v1/dnc",
        &format!("/v1/leads?leadIds={lead_id}"),
    ] {
        let r = app.call_as(k, Method::GET, list, None).await;
        assert_eq!(r.assert_ok(200), &json!([]), "{list}");
        assert_eq!(r.body["pagination"]["total"], json!(0));
    }
    let all_campaigns = app.all_as(k, "/v1/campaigns").await;
    assert_eq!(all_campaigns.len(), 1);

    // Their add-leads cannot reach my leads, by ID, by filter or by select-all.
    let r = app
        .call_as(
            k,
            Method::POST,
            &format!("/v1/campaigns/{their_campaign}/leads"),
            Some(json!({"leads": [{"leadId": lead_id}]})),
        )
        .await;
    assert_eq!(
        r.assert_ok(200)["errors"][0]["code"],
        json!("LEAD_NOT_FOUND")
    );
    for body in [
        json!({"selectAll": true}),
        json!({"filters": {"leadIds": [lead_id]}}),
        json!({"filters": {"tags": ["t"]}}),
    ] {
        let r = app
            .call_as(
                k,
                Method::POST,
                &format!("/v1/campaigns/{their_campaign}/leads"),
                Some(body),
            )
            .await;
        assert_eq!(r.assert_ok(200)["matched"], json!(0));
    }
    // The same email is a different lead there, and my DNC list does not apply.
    let r = app
        .call_as(
            k,
            Method::POST,
            &format!("/v1/campaigns/{their_campaign}/leads"),
            Some(json!({"leads": [{"email": "mine@example.com"}]})),
        )
        .await;
    assert_eq!(
        (r.data()["created"].clone(), r.data()["blocked"].clone()),
        (json!(1), json!(0))
    );
    let r = app
        .call_as(k, Method::DELETE, "/v1/dnc", Some(json!({"ids": [dnc_id]})))
        .await;
    assert_eq!(r.assert_ok(200)["deletedCount"], json!(0));

    // Mine is untouched.
    let mine = app.get(&format!("/v1/leads/{lead_id}")).await;
    assert_eq!(mine.data(), &lead);
    assert_eq!(app.campaign_lead_total(&campaign).await, 1);
    assert_eq!(
        app.get(&format!("/v1/campaigns/{campaign}")).await.data()["name"],
        json!("Mine")
    );
    assert_eq!(app.all("/v1/dnc").await.len(), 1);
    assert_eq!(app.lead_total().await, 1);
}
