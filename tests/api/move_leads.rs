//! `POST /v1/campaigns/{id}/leads/move` (issue 16, item 5) and explained
//! dry runs of adds and moves (item 6).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::helpers::{TestApp, leads, spawn_app};

fn count(v: &Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} missing in {v}"))
}

async fn total(app: &TestApp, campaign: &str) -> Value {
    app.get(&format!("/v1/campaigns/{campaign}")).await.data()["leadCounts"].clone()
}

fn emails(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|e| format!("{e}@example.com")).collect()
}

/// Leads m0 … m5 (IDs in order), all in `source` (m1 paused there); m2
/// in `target` already; m3 then put on the do-not-contact list (its
/// membership of `source` became unsubscribed, and the list keeps it out
/// of `target`).
async fn scene(app: &TestApp) -> (String, String, Vec<String>) {
    let ids = app.create_leads(leads("m", 6)).await;
    let (source, target) = (
        app.create_campaign("Source").await,
        app.create_campaign("Target").await,
    );
    let all: Vec<Value> = ids.iter().map(|id| json!({"leadId": id})).collect();
    let d = app.add(&source, json!({"leads": all})).await;
    assert_eq!(count(d.assert_ok(200), "added"), 6);
    app.add(&target, json!({"leads": [{"leadId": ids[2]}]}))
        .await
        .assert_ok(200);
    let m1 = app
        .all(&format!("/v1/campaigns/{source}/leads"))
        .await
        .into_iter()
        .find(|cl| cl["lead"]["email"] == json!("m1@example.com"))
        .unwrap();
    app.patch(
        &format!(
            "/v1/campaigns/{source}/leads/{}",
            m1["_id"].as_str().unwrap()
        ),
        json!({"status": "paused"}),
    )
    .await
    .assert_ok(200);
    app.post(
        "/v1/dnc",
        json!({"entries": [{"type": "email", "value": "m3@example.com"}]}),
    )
    .await
    .assert_ok(200);
    (source, target, ids)
}

async fn move_(app: &TestApp, source: &str, body: Value) -> crate::helpers::Resp {
    app.post(&format!("/v1/campaigns/{source}/leads/move"), body)
        .await
}

#[tokio::test]
async fn select_all_moves_what_the_target_takes_and_a_dry_run_says_so_first() {
    let app = spawn_app().await;
    let (source, target, ids) = scene(&app).await;
    let body = json!({"toCampaignId": target, "selectAll": true});
    let mut dry = body.clone();
    dry["dryRun"] = json!(true);
    dry["explain"] = json!(true);
    let preview = move_(&app, &source, dry).await.assert_ok(200).clone();
    assert_eq!(preview["dryRun"], json!(true));
    assert_eq!(
        preview["explain"],
        json!({
            "alreadyInCampaign": {"count": 1, "examples": [{"leadId": ids[2]}]},
            "blocked": {"count": 1, "examples": [{"leadId": ids[3]}]},
        })
    );
    // The dry run kept nothing.
    assert_eq!(app.members(&source).await.len(), 6);
    assert_eq!(app.members(&target).await.len(), 1);

    let d = move_(&app, &source, body).await.assert_ok(200).clone();
    for d in [&preview, &d] {
        assert_eq!(
            (
                count(d, "moved"),
                count(d, "skipped"),
                count(d, "alreadyInCampaign"),
                count(d, "blocked"),
                count(d, "matched")
            ),
            (4, 2, 1, 1, 6),
            "{d}"
        );
        assert!(d.get("copied").is_none());
    }
    assert!(d.get("explain").is_none() && d.get("dryRun").is_none());
    // The skipped stay where they were; the moved start over as pending
    // (the target is a draft), m1's pause included.
    assert_eq!(
        app.members(&source).await,
        BTreeMap::from([
            ("m2@example.com".to_owned(), "pending".to_owned()),
            ("m3@example.com".to_owned(), "unsubscribed".to_owned()),
        ])
    );
    let moved = app.members(&target).await;
    assert_eq!(
        moved.keys().cloned().collect::<BTreeSet<_>>(),
        emails(&["m0", "m1", "m2", "m4", "m5"])
    );
    assert!(moved.values().all(|s| s == "pending"), "{moved:?}");
    // The kept counts moved with them.
    assert_eq!(total(&app, &source).await["total"], json!(2));
    assert_eq!(total(&app, &source).await["paused"], json!(0));
    assert_eq!(total(&app, &target).await["total"], json!(5));
    assert_eq!(total(&app, &target).await["pending"], json!(5));
}

#[tokio::test]
async fn copy_by_lead_ids_keeps_statuses_and_leaves_the_source_as_it_was() {
    let app = spawn_app().await;
    let (source, target, ids) = scene(&app).await;
    app.post(&format!("/v1/campaigns/{target}/start"), json!({}))
        .await
        .assert_ok(200);
    let before = app.members(&source).await;
    let d = move_(
        &app,
        &source,
        json!({"toCampaignId": target, "leadIds": [ids[1], ids[2], ids[4]], "copy": true, "status": "keep"}),
    )
    .await;
    let d = d.assert_ok(200);
    assert_eq!(
        (
            count(d, "copied"),
            count(d, "skipped"),
            count(d, "alreadyInCampaign"),
            count(d, "matched")
        ),
        (2, 1, 1, 3),
        "{d}"
    );
    assert!(d.get("moved").is_none());
    assert_eq!(app.members(&source).await, before);
    let t = app.members(&target).await;
    assert_eq!(t["m1@example.com"], "paused");
    assert_eq!(t["m4@example.com"], "pending");
    assert_eq!(total(&app, &target).await["paused"], json!(1));
    // reset into an active campaign: active. A lead of the workspace that
    // is not a member of the source matches nothing.
    let other = app
        .create_lead(json!({"email": "outsider@example.com"}))
        .await;
    let d = move_(
        &app,
        &source,
        json!({"toCampaignId": target, "leadIds": [ids[5], other["_id"]]}),
    )
    .await;
    let d = d.assert_ok(200);
    assert_eq!((count(d, "moved"), count(d, "matched")), (1, 1), "{d}");
    assert_eq!(app.members(&target).await["m5@example.com"], "active");
    assert!(!app.members(&source).await.contains_key("m5@example.com"));
}

#[tokio::test]
async fn filters_and_exclusions_choose_the_members_to_move() {
    let app = spawn_app().await;
    let (source, target, ids) = scene(&app).await;
    let d = move_(
        &app,
        &source,
        json!({"toCampaignId": target, "selectAll": true, "filters": {"search": "m"},
               "excludeIds": [ids[0], ids[1]]}),
    )
    .await;
    let d = d.assert_ok(200);
    // m2 … m5 matched: m2 already there, m3 blocked.
    assert_eq!((count(d, "moved"), count(d, "matched")), (2, 4), "{d}");
    assert_eq!(
        app.members(&target)
            .await
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>(),
        emails(&["m2", "m4", "m5"])
    );
}

#[tokio::test]
async fn bad_moves_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let (source, target, ids) = scene(&app).await;
    let archived = app.create_campaign("Archived").await;
    app.post(&format!("/v1/campaigns/{archived}/archive"), json!({}))
        .await
        .assert_ok(200);
    let missing = "665d4e5f6a7b8c9d0e1f2a3b";
    let one = json!([ids[0]]);
    for (from, body, status, says) in [
        (&source, json!({"leadIds": one}), 400, "toCampaignId"),
        (
            &source,
            json!({"toCampaignId": "nope", "leadIds": one}),
            400,
            "toCampaignId",
        ),
        (
            &source,
            json!({"toCampaignId": source, "leadIds": one}),
            400,
            "toCampaignId",
        ),
        (&source, json!({"toCampaignId": target}), 400, "leadIds"),
        (
            &source,
            json!({"toCampaignId": target, "leadIds": one, "selectAll": true}),
            400,
            "leadIds",
        ),
        (
            &source,
            json!({"toCampaignId": target, "leadIds": one, "status": "fresh"}),
            400,
            "status",
        ),
        (
            &source,
            json!({"toCampaignId": target, "leadIds": one, "copy": "yes"}),
            400,
            "copy",
        ),
        (
            &source,
            json!({"toCampaignId": target, "leadIds": one, "explain": true}),
            400,
            "explain",
        ),
        (
            &source,
            json!({"toCampaignId": missing, "leadIds": one}),
            404,
            "Target campaign not found",
        ),
        (
            &missing.to_owned(),
            json!({"toCampaignId": target, "leadIds": one}),
            404,
            "Campaign not found",
        ),
        (
            &source,
            json!({"toCampaignId": archived, "leadIds": one}),
            409,
            "archived",
        ),
        (
            &archived,
            json!({"toCampaignId": target, "leadIds": one}),
            409,
            "archived",
        ),
    ] {
        let r = move_(&app, from, body.clone()).await;
        assert_eq!(r.status.as_u16(), status, "{body}: {}", r.body);
        assert!(r.message().contains(says), "{body}: {}", r.body);
    }
    assert_eq!(app.members(&source).await.len(), 6);
    assert_eq!(app.members(&target).await.len(), 1);
}

/// Two moves in opposite directions at once: neither deadlocks, and every
/// lead ends in exactly one of the two campaigns.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn opposite_moves_at_once_both_finish() {
    let app = spawn_app().await;
    let (a, b) = (
        app.create_campaign("A").await,
        app.create_campaign("B").await,
    );
    app.add(&a, json!({"leads": leads("a", 200)}))
        .await
        .assert_ok(200);
    app.add(&b, json!({"leads": leads("b", 200)}))
        .await
        .assert_ok(200);
    for _ in 0..3 {
        let (ra, rb) = tokio::join!(
            move_(&app, &a, json!({"toCampaignId": b, "selectAll": true})),
            move_(&app, &b, json!({"toCampaignId": a, "selectAll": true})),
        );
        ra.assert_ok(200);
        rb.assert_ok(200);
        let (ma, mb) = (app.members(&a).await, app.members(&b).await);
        assert_eq!(ma.len() + mb.len(), 400);
        assert!(ma.keys().all(|e| !mb.contains_key(e)));
        assert_eq!(total(&app, &a).await["total"], json!(ma.len()));
        assert_eq!(total(&app, &b).await["total"], json!(mb.len()));
    }
}

#[tokio::test]
async fn explained_add_dry_runs_name_examples_of_every_reason() {
    let app = spawn_app().await;
    let (source, target, ids) = scene(&app).await;
    // In `target`: m2. On the list: m3. In `source` (another campaign):
    // all six.
    let entries = json!([{"leadId": ids[0]}, {"leadId": ids[2]}, {"leadId": ids[3]},
                         {"leadId": ids[0]}, {"email": "fresh@example.com"}, {"leadId": "nope"}]);
    let body =
        json!({"leads": entries, "skipIfInOtherCampaign": true, "dryRun": true, "explain": true});
    let d = app.add(&target, body).await.assert_ok(200).clone();
    // m0 is in `source`, m2 in target, m3 blocked, the repeat of m0
    // already counts as in the campaign, fresh is added, one error.
    assert_eq!(
        (
            count(&d, "added"),
            count(&d, "alreadyInCampaign"),
            count(&d, "blocked"),
            count(&d, "inOtherCampaign")
        ),
        (1, 2, 1, 1),
        "{d}"
    );
    let mut already = vec![ids[0].clone(), ids[2].clone()];
    already.sort();
    let explain = &d["explain"];
    let listed = |reason: &str| -> Vec<String> {
        explain[reason]["examples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["leadId"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut got = listed("alreadyInCampaign");
    got.sort();
    assert_eq!(got, already, "{explain}");
    assert_eq!(explain["alreadyInCampaign"]["count"], json!(2));
    assert_eq!(listed("blocked"), [ids[3].clone()]);
    assert_eq!(
        explain["inOtherCampaign"],
        json!({"count": 1, "examples": [{"leadId": ids[0], "campaignId": source}]})
    );
    // Nothing was kept; and explain needs a dry run.
    assert_eq!(app.members(&target).await.len(), 1);
    let r = app
        .add(&target, json!({"selectAll": true, "explain": true}))
        .await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.message().contains("explain"), "{}", r.body);
    assert_eq!(app.members(&target).await.len(), 1);

    // Modes 2 and 3: the same reasons, counts exactly as the real call's.
    for body in [
        json!({"selectAll": true, "skipIfInOtherCampaign": true}),
        json!({"filters": {"search": "m"}, "skipIfInOtherCampaign": true}),
    ] {
        let mut dry = body.clone();
        dry["dryRun"] = json!(true);
        dry["explain"] = json!(true);
        let d = app.add(&target, dry).await.assert_ok(200).clone();
        let explain = &d["explain"];
        for (reason, field) in [
            ("alreadyInCampaign", "alreadyInCampaign"),
            ("blocked", "blocked"),
            ("inOtherCampaign", "inOtherCampaign"),
        ] {
            assert_eq!(explain[reason]["count"], d[field], "{d}");
            assert_eq!(
                explain[reason]["examples"].as_array().unwrap().len() as u64,
                count(&d, field),
                "{d}"
            );
        }
        assert_eq!(listed("blocked"), [ids[3].clone()]);
        assert!(
            explain["inOtherCampaign"]["examples"]
                .as_array()
                .unwrap()
                .iter()
                .all(|x| x["campaignId"] == json!(source))
        );
    }
}

#[tokio::test]
async fn an_explanation_names_at_most_100_leads_of_a_reason_and_counts_them_all() {
    let app = spawn_app().await;
    let c = app.create_campaign("Full").await;
    app.add(&c, json!({"leads": leads("x", 150)}))
        .await
        .assert_ok(200);
    let d = app
        .add(
            &c,
            json!({"selectAll": true, "dryRun": true, "explain": true}),
        )
        .await;
    let d = d.assert_ok(200);
    let already = &d["explain"]["alreadyInCampaign"];
    assert_eq!(already["count"], json!(150));
    let examples: Vec<&str> = already["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["leadId"].as_str().unwrap())
        .collect();
    assert_eq!(examples.len(), 100);
    let distinct: BTreeSet<&&str> = examples.iter().collect();
    assert_eq!(distinct.len(), 100);
    // No list, no rule: those reasons are counted zero, with no examples.
    assert_eq!(d["explain"]["blocked"], json!({"count": 0, "examples": []}));
    assert_eq!(
        d["explain"]["inOtherCampaign"],
        json!({"count": 0, "examples": []})
    );
}
