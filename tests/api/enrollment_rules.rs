//! Enrollment rules (issue 16): `skipIfInOtherCampaign` on every add
//! mode and the CSV import, the campaign setting that makes it the
//! default, the reasons every answer gives, and two racing requests.

use serde_json::{Value, json};

use crate::helpers::{TestApp, csv_form, leads, spawn_app};

fn count(v: &Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} missing in {v}"))
}

/// The reasons of an answer: (alreadyInCampaign, blocked, inOtherCampaign).
fn reasons(d: &Value) -> (u64, u64, u64) {
    (
        count(d, "alreadyInCampaign"),
        count(d, "blocked"),
        count(d, "inOtherCampaign"),
    )
}

/// A workspace of six leads, a@ … f@example.com (IDs in that order), and
/// two campaigns, `target` and `other` (both drafts, so memberships are
/// pending): a is pending in `other`; b was in `other` and was removed; c
/// is paused in `other`; d is in no campaign; e is on the do-not-contact
/// list and pending in `other`; f is in `target` already and pending in
/// `other`. Returns (target, other, lead IDs).
async fn scene(app: &TestApp) -> (String, String, Vec<String>) {
    let ids = app
        .create_leads(
            ["a", "b", "c", "d", "e", "f"]
                .iter()
                .map(|n| json!({"email": format!("{n}@example.com")}))
                .collect(),
        )
        .await;
    let target = app.create_campaign("Target").await;
    let other = app.create_campaign("Other").await;
    let by_id = |i: usize| json!({"leadId": ids[i]});
    let r = app
        .add(
            &other,
            json!({"leads": [by_id(0), by_id(1), by_id(2), by_id(4), by_id(5)]}),
        )
        .await;
    assert_eq!(count(r.assert_ok(200), "added"), 5);
    // b leaves `other` (removed: not a member anywhere any more); c is
    // paused there.
    let listed = app.all(&format!("/v1/campaigns/{other}/leads")).await;
    let member = |email: &str| {
        listed
            .iter()
            .find(|cl| cl["lead"]["email"] == json!(email))
            .unwrap()["_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    app.post(
        &format!("/v1/campaigns/{other}/leads/action"),
        json!({"action": "remove", "leadIds": [member("b@example.com")]}),
    )
    .await
    .assert_ok(200);
    app.patch(
        &format!("/v1/campaigns/{other}/leads/{}", member("c@example.com")),
        json!({"status": "paused"}),
    )
    .await
    .assert_ok(200);
    app.post(
        "/v1/dnc",
        json!({"entries": [{"type": "email", "value": "e@example.com"}]}),
    )
    .await
    .assert_ok(200);
    app.add(&target, json!({"leads": [by_id(5)]}))
        .await
        .assert_ok(200);
    (target, other, ids)
}

#[tokio::test]
async fn explicit_adds_skip_leads_in_other_campaigns_with_one_reason_each() {
    let app = spawn_app().await;
    let (target, _, ids) = scene(&app).await;
    let mut entries: Vec<Value> = ids.iter().map(|id| json!({"leadId": id})).collect();
    entries.push(json!({"email": "not an email"}));
    entries.push(json!({"email": "g@example.com"}));
    let body = json!({"leads": entries, "skipIfInOtherCampaign": true});

    // The dry run answers exactly what the real call then does.
    let mut dry = body.clone();
    dry["dryRun"] = json!(true);
    let preview = app.add(&target, dry).await.assert_ok(200).clone();
    let d = app.add(&target, body).await.assert_ok(200).clone();
    for d in [&preview, &d] {
        // b, d and the new g join; a and c are elsewhere, e blocked (it is
        // elsewhere too: blocked comes first), f here already (and
        // elsewhere: already comes first), one error.
        assert_eq!(
            (count(d, "added"), count(d, "skipped"), count(d, "created")),
            (3, 5, 1),
            "{d}"
        );
        assert_eq!(reasons(d), (1, 1, 2), "{d}");
        assert_eq!(d["errors"].as_array().unwrap().len(), 1);
    }
    let mut emails: Vec<String> = app.members(&target).await.into_keys().collect();
    emails.sort();
    assert_eq!(
        emails,
        [
            "b@example.com",
            "d@example.com",
            "f@example.com",
            "g@example.com"
        ]
    );
}

#[tokio::test]
async fn without_the_option_leads_in_other_campaigns_are_added() {
    let app = spawn_app().await;
    let (target, _, ids) = scene(&app).await;
    let entries: Vec<Value> = ids.iter().map(|id| json!({"leadId": id})).collect();
    // Absent: the campaign's setting, itself absent (false).
    let d = app
        .add(&target, json!({"leads": entries}))
        .await
        .assert_ok(200)
        .clone();
    assert_eq!(count(&d, "added"), 4, "{d}");
    assert_eq!(reasons(&d), (1, 1, 0), "{d}");
    assert!(app.members(&target).await.contains_key("c@example.com"));
    // Given false.
    let fresh = app.create_campaign("Fresh").await;
    let d = app
        .add(
            &fresh,
            json!({"leads": entries, "skipIfInOtherCampaign": false}),
        )
        .await
        .assert_ok(200)
        .clone();
    assert_eq!(count(&d, "added"), 5, "{d}");
    assert_eq!(reasons(&d), (0, 1, 0), "{d}");
}

#[tokio::test]
async fn the_campaign_setting_is_the_default_and_the_request_overrides_it() {
    let app = spawn_app().await;
    let (target, other, ids) = scene(&app).await;
    let r = app
        .patch(
            &format!("/v1/campaigns/{target}"),
            json!({"settings": {"skipIfInOtherCampaign": true, "kept": 1}}),
        )
        .await;
    assert_eq!(
        r.assert_ok(200)["settings"],
        json!({"skipIfInOtherCampaign": true, "kept": 1})
    );
    let a = json!({"leads": [{"leadId": ids[0]}]});
    let d = app.add(&target, a.clone()).await.assert_ok(200).clone();
    assert_eq!((count(&d, "added"), count(&d, "inOtherCampaign")), (0, 1));
    let mut overridden = a;
    overridden["skipIfInOtherCampaign"] = json!(false);
    let d = app.add(&target, overridden).await.assert_ok(200).clone();
    assert_eq!((count(&d, "added"), count(&d, "inOtherCampaign")), (1, 0));
    // a is now in both. `other`'s setting is off; a request to it with
    // the option skips a (a member already: that reason comes first) and
    // adds d, in no campaign.
    let d = app
        .add(
            &other,
            json!({"leads": [{"leadId": ids[0]}, {"leadId": ids[3]}], "skipIfInOtherCampaign": true}),
        )
        .await
        .assert_ok(200)
        .clone();
    assert_eq!(count(&d, "added"), 1);
    assert_eq!(reasons(&d), (1, 0, 0));
    // d is in `other` now, so the target skips it by its setting.
    let d = app
        .add(&target, json!({"leads": [{"leadId": ids[3]}]}))
        .await
        .assert_ok(200)
        .clone();
    assert_eq!(reasons(&d), (0, 0, 1));
}

#[tokio::test]
async fn the_setting_must_be_a_boolean_and_a_refusal_changes_nothing() {
    let app = spawn_app().await;
    let c = app.create_campaign("C").await;
    for settings in [
        json!({"skipIfInOtherCampaign": "yes"}),
        json!({"skipIfInOtherCampaign": 1}),
    ] {
        let r = app
            .patch(&format!("/v1/campaigns/{c}"), json!({"settings": settings}))
            .await;
        r.assert_error(400, "VALIDATION_ERROR");
        assert!(
            r.message().contains("settings.skipIfInOtherCampaign"),
            "{}",
            r.body
        );
        let r = app
            .post("/v1/campaigns", json!({"name": "D", "settings": settings}))
            .await;
        r.assert_error(400, "VALIDATION_ERROR");
    }
    assert_eq!(
        app.get(&format!("/v1/campaigns/{c}")).await.data()["settings"],
        json!({})
    );
    assert_eq!(app.all("/v1/campaigns").await.len(), 1);
    // And the request's own flag is true or false.
    let r = app
        .add(
            &c,
            json!({"selectAll": true, "skipIfInOtherCampaign": "yes"}),
        )
        .await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.message().contains("skipIfInOtherCampaign"), "{}", r.body);
}

#[tokio::test]
async fn filter_and_select_all_adds_skip_leads_in_other_campaigns() {
    let app = spawn_app().await;
    let (target, _, _) = scene(&app).await;
    for (body, matched) in [
        (json!({"filters": {"search": "@example.com"}}), 6),
        (json!({"selectAll": true}), 6),
    ] {
        let mut body = body;
        body["skipIfInOtherCampaign"] = json!(true);
        let mut dry = body.clone();
        dry["dryRun"] = json!(true);
        let preview = app.add(&target, dry).await.assert_ok(200).clone();
        let d = app.add(&target, body).await.assert_ok(200).clone();
        assert_eq!(count(&d, "matched"), matched);
        assert_eq!(
            count(&d, "alreadyInCampaign") + count(&d, "blocked") + count(&d, "inOtherCampaign"),
            count(&d, "skipped"),
            "{d}"
        );
        assert_eq!(preview["added"], d["added"], "{preview} vs {d}");
        assert_eq!(reasons(&preview), reasons(&d), "{preview} vs {d}");
        // Remove what was added, so the second mode sees the same scene.
        app.post(
            &format!("/v1/campaigns/{target}/leads/action"),
            json!({"action": "remove", "selectAll": true, "filters": {"search": "b@"}}),
        )
        .await
        .assert_ok(200);
        app.post(
            &format!("/v1/campaigns/{target}/leads/action"),
            json!({"action": "remove", "selectAll": true, "filters": {"search": "d@"}}),
        )
        .await
        .assert_ok(200);
        // b and d added; f here already; e blocked; a and c elsewhere.
        assert_eq!(count(&d, "added"), 2, "{d}");
        assert_eq!(reasons(&d), (1, 1, 2), "{d}");
    }
}

#[tokio::test]
async fn the_csv_import_skips_leads_in_other_campaigns_when_asked() {
    let app = spawn_app().await;
    let (target, _, _) = scene(&app).await;
    let csv = "email\na@example.com\nb@example.com\nc@example.com\nnew@example.com\n";
    let r = app
        .import(csv_form(
            csv,
            &[("campaignId", &target), ("skipIfInOtherCampaign", "true")],
        ))
        .await;
    let d = r.assert_ok(200);
    assert_eq!(
        d["campaign"],
        json!({"campaignId": target, "added": 2, "skipped": 2, "blocked": 0,
               "alreadyInCampaign": 0, "inOtherCampaign": 2})
    );
    let r = app
        .import(csv_form(
            csv,
            &[("campaignId", &target), ("skipIfInOtherCampaign", "maybe")],
        ))
        .await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.message().contains("skipIfInOtherCampaign"), "{}", r.body);
    let m = app.members(&target).await;
    assert!(m.contains_key("b@example.com") && m.contains_key("new@example.com"));
    assert!(!m.contains_key("a@example.com") && !m.contains_key("c@example.com"));
}

/// Two requests add the same leads to two campaigns at once, both with
/// the option: every lead ends in exactly one of them, and the answers'
/// counts say so. Rounds: both explicit, both select-all, both by
/// filters, and mixed (no do-not-contact list here).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_adds_to_two_campaigns_leave_each_lead_in_one() {
    let app = spawn_app().await;
    let ids = app.create_leads(leads("race", 300)).await;
    let explicit = json!({"leads": ids.iter().rev().map(|id| json!({"leadId": id})).collect::<Vec<_>>(),
                          "skipIfInOtherCampaign": true});
    let all = json!({"selectAll": true, "skipIfInOtherCampaign": true});
    let filtered = json!({"filters": {"search": "race"}, "skipIfInOtherCampaign": true});
    for (round, (bx, by)) in [
        (explicit.clone(), explicit.clone()),
        (all.clone(), all.clone()),
        (explicit.clone(), all),
        (filtered.clone(), filtered.clone()),
        (filtered, explicit),
    ]
    .into_iter()
    .enumerate()
    {
        let (x, y) = (
            app.create_campaign(&format!("X{round}")).await,
            app.create_campaign(&format!("Y{round}")).await,
        );
        let (rx, ry) = tokio::join!(app.add(&x, bx), app.add(&y, by));
        let (dx, dy) = (rx.assert_ok(200).clone(), ry.assert_ok(200).clone());
        let (mx, my) = (app.members(&x).await, app.members(&y).await);
        assert_eq!(mx.len() + my.len(), 300, "round {round}: {dx} {dy}");
        assert!(mx.keys().all(|e| !my.contains_key(e)), "round {round}");
        assert_eq!(count(&dx, "added") + count(&dy, "added"), 300);
        assert_eq!(
            count(&dx, "inOtherCampaign") + count(&dy, "inOtherCampaign"),
            300,
            "round {round}: {dx} {dy}"
        );
        // Free the leads for the next round: removed memberships do not
        // count.
        for c in [&x, &y] {
            app.post(
                &format!("/v1/campaigns/{c}/leads/action"),
                json!({"action": "remove", "selectAll": true}),
            )
            .await
            .assert_ok(200);
        }
    }
}

#[tokio::test]
async fn a_campaign_leads_ai_tag_is_set_cleared_listed_and_checked() {
    let app = spawn_app().await;
    let c = app.create_campaign("Tags").await;
    app.add(&c, json!({"leads": leads("t", 3)}))
        .await
        .assert_ok(200);
    let listed = app.all(&format!("/v1/campaigns/{c}/leads")).await;
    assert!(listed.iter().all(|m| m["aiTag"] == Value::Null));
    let ids: Vec<String> = listed
        .iter()
        .map(|m| m["_id"].as_str().unwrap().to_owned())
        .collect();
    let path = |i: usize| format!("/v1/campaigns/{c}/leads/{}", ids[i]);

    let d = app.patch(&path(0), json!({"aiTag": "  interested "})).await;
    let d = d.assert_ok(200);
    assert_eq!(
        (d["aiTag"].clone(), d["status"].clone()),
        (json!("interested"), json!("pending"))
    );
    let d = app
        .patch(&path(1), json!({"aiTag": "interested", "status": "paused"}))
        .await;
    let d = d.assert_ok(200);
    assert_eq!(
        (d["aiTag"].clone(), d["status"].clone()),
        (json!("interested"), json!("paused"))
    );
    let long = "é".repeat(101);
    for (body, field) in [
        (json!({"aiTag": long}), "aiTag"),
        (json!({"aiTag": 5}), "aiTag"),
        (json!({"aiTag": "ok", "status": "completed"}), "status"),
        (json!({}), "aiTag"),
    ] {
        let r = app.patch(&path(2), body.clone()).await;
        r.assert_error(400, "VALIDATION_ERROR");
        assert!(r.message().contains(field), "{body}: {}", r.body);
    }
    // The refusals changed nothing; 100 characters are fine.
    let r = app.get(&format!("/v1/campaigns/{c}/leads?aiTag=ok")).await;
    assert_eq!(r.data().as_array().unwrap().len(), 0);
    let d = app.patch(&path(2), json!({"aiTag": "é".repeat(100)})).await;
    assert_eq!(d.assert_ok(200)["aiTag"], json!("é".repeat(100)));

    let tagged = |q: &'static str| {
        let app = &app;
        let c = c.clone();
        async move {
            let r = app.get(&format!("/v1/campaigns/{c}/leads?{q}")).await;
            let data = r.assert_ok(200).clone();
            (
                data.as_array().unwrap().len(),
                r.body["pagination"]["total"].clone(),
            )
        }
    };
    assert_eq!(tagged("aiTag=interested").await, (2, json!(2)));
    assert_eq!(
        tagged("aiTag=interested&status=paused").await,
        (1, json!(1))
    );
    assert_eq!(tagged("aiTag=Interested").await, (0, json!(0)));
    assert_eq!(tagged("aiTag=").await, (3, json!(3)));
    // Null and an empty string clear it.
    for clear in [json!(null), json!("")] {
        app.patch(&path(0), json!({"aiTag": "x"}))
            .await
            .assert_ok(200);
        let d = app.patch(&path(0), json!({"aiTag": clear})).await;
        assert_eq!(d.assert_ok(200)["aiTag"], Value::Null);
    }
    assert_eq!(tagged("aiTag=interested").await, (1, json!(1)));
    let r = app
        .get(&format!(
            "/v1/campaigns/{c}/leads?aiTag={}",
            "a".repeat(101)
        ))
        .await;
    r.assert_error(400, "VALIDATION_ERROR");
}
