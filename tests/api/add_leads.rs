//! `POST /v1/campaigns/{id}/leads`: every rule and error
//! (docs/API.md, "Adding leads to a campaign").

use serde_json::{Value, json};

use crate::helpers::{TestApp, leads, spawn_app};

fn count(v: &Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} missing in {v}"))
}

/// Asserts mode 1's invariant and returns the data.
#[track_caller]
fn explicit_ok(r: &crate::helpers::Resp, entries: usize) -> Value {
    let d = r.assert_ok(200).clone();
    let errors = d["errors"].as_array().unwrap().len() as u64;
    assert_eq!(
        count(&d, "added") + count(&d, "skipped"),
        entries as u64,
        "every entry added or skipped: {d}"
    );
    assert_eq!(
        count(&d, "alreadyInCampaign")
            + count(&d, "blocked")
            + count(&d, "inOtherCampaign")
            + errors,
        count(&d, "skipped"),
        "each skipped entry has one reason: {d}"
    );
    d
}

async fn campaign_statuses(app: &TestApp, campaign: &str) -> Vec<(String, String)> {
    app.all(&format!("/v1/campaigns/{campaign}/leads"))
        .await
        .iter()
        .map(|cl| {
            (
                cl["lead"]["email"].as_str().unwrap().to_owned(),
                cl["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_seed_example_adds_two_new_leads_and_reports_the_unknown_id() {
    let app = spawn_app().await;
    let c = app.create_campaign("Seed").await;
    let body = json!({"leads": [
        {"email": "john@acme.com", "firstName": "John", "lastName": "Doe", "companyName": "Acme Corp"},
        {"email": "jane@example.com", "firstName": "Jane"},
        {"leadId": "665d4e5f6a7b8c9d0e1f2a3b"}
    ]});
    // The seed sends the key in both headers.
    let auth = format!("Bearer {}", app.key);
    let r = app
        .send(
            reqwest::Method::POST,
            &format!("/v1/campaigns/{c}/leads"),
            &[("X-Api-Key", &app.key), ("Authorization", &auth)],
            Some(&body),
        )
        .await;
    let d = explicit_ok(&r, 3);
    // The seed page's own answer: two added, one skipped (the error).
    assert_eq!(
        (
            count(&d, "added"),
            count(&d, "skipped"),
            count(&d, "created")
        ),
        (2, 1, 2)
    );
    assert_eq!(
        d["errors"],
        json!([{"index": 2, "entry": {"leadId": "665d4e5f6a7b8c9d0e1f2a3b"}, "code": "LEAD_NOT_FOUND", "message": "Lead not found"}])
    );
    let john = app.get("/v1/leads?search=john").await;
    assert_eq!(john.data()[0]["companyName"], json!("Acme Corp"));
}

#[tokio::test]
async fn a_request_without_a_mode_is_rejected_with_the_documented_message() {
    let app = spawn_app().await;
    let c = app.create_campaign("C").await;
    for body in [
        json!({}),
        json!({"selectAll": false}),
        json!({"leads": null, "dryRun": true}),
    ] {
        let r = app.add(&c, body).await;
        r.assert_error(400, "VALIDATION_ERROR");
        assert_eq!(
            r.message(),
            "Provide leads array, filters, or selectAll: true"
        );
    }
}

#[tokio::test]
async fn malformed_requests_are_rejected_naming_the_rule_and_change_nothing() {
    let app = spawn_app().await;
    let c = app.create_campaign("C").await;
    let ids = app.create_leads(leads("x", 2)).await;
    let too_many: Vec<Value> = leads("many", 5_001);
    let cases = [
        (
            json!({"leads": [{"email": "a@b.co"}], "selectAll": true}),
            "only one",
        ),
        (
            json!({"leads": [{"email": "a@b.co"}], "filters": {"tags": ["x"]}}),
            "only one",
        ),
        (
            json!({"filters": {"tags": ["x"]}, "selectAll": true}),
            "only one",
        ),
        (json!({"leads": []}), "leads must not be empty"),
        (json!({"leads": too_many}), "at most 5,000"),
        (
            json!({"leads": {"email": "a@b.co"}}),
            "leads must be an array",
        ),
        (json!({"filters": {}}), "at least one criterion"),
        (json!({"filters": {"colour": "red"}}), "filters.colour"),
        (json!({"filters": {"country": ["XX"]}}), "filters.country"),
        (
            json!({"leads": [{"email": "a@b.co"}], "excludeIds": [ids[0]]}),
            "excludeIds",
        ),
        (
            json!({"selectAll": true, "excludeIds": ["not-an-id"]}),
            "excludeIds[0]",
        ),
        (json!({"selectAll": true, "excludeIds": "x"}), "excludeIds"),
        (
            json!({"selectAll": true, "excludeIds": vec![ids[0].clone(); 50_001]}),
            "at most 50000",
        ),
        (json!({"selectAll": "yes"}), "selectAll"),
        (json!({"selectAll": true, "dryRun": "no"}), "dryRun"),
        (json!([1, 2]), "JSON object"),
    ];
    for (body, needle) in cases {
        let r = app.add(&c, body.clone()).await;
        r.assert_error(400, "VALIDATION_ERROR");
        assert!(r.message().contains(needle), "{body} -> {}", r.message());
    }
    assert_eq!(app.lead_total().await, 2);
    assert_eq!(app.campaign_lead_total(&c).await, 0);
}

#[tokio::test]
async fn an_unknown_or_foreign_campaign_is_not_found_and_an_archived_one_conflicts() {
    let app = spawn_app().await;
    let body = json!({"leads": [{"email": "a@b.co"}]});
    for id in ["665d4e5f6a7b8c9d0e1f2a3b", "nope"] {
        let r = app.add(id, body.clone()).await;
        r.assert_error(404, "NOT_FOUND");
        assert_eq!(r.message(), "Campaign not found");
    }
    let (_, other_key) = app.other_workspace().await;
    let theirs = app
        .call_as(
            &other_key,
            reqwest::Method::POST,
            "/v1/campaigns",
            Some(json!({"name": "Theirs"})),
        )
        .await;
    let theirs = theirs.data()["_id"].as_str().unwrap().to_owned();
    let r = app.add(&theirs, body.clone()).await;
    r.assert_error(404, "NOT_FOUND");
    assert_eq!(r.message(), "Campaign not found");

    let c = app.create_campaign("Old").await;
    app.post(&format!("/v1/campaigns/{c}/archive"), json!({}))
        .await
        .assert_ok(200);
    app.add(&c, body.clone())
        .await
        .assert_error(409, "CONFLICT");
    app.add(&c, json!({"selectAll": true}))
        .await
        .assert_error(409, "CONFLICT");
    assert_eq!(
        app.lead_total().await,
        0,
        "a rejected request creates no lead"
    );
}

#[tokio::test]
async fn emails_find_existing_leads_case_insensitively_and_leave_them_unchanged() {
    let app = spawn_app().await;
    let c = app.create_campaign("C").await;
    let lead = app
        .create_lead(json!({"email": "Mixed.Case@Example.com", "firstName": "Original"}))
        .await;
    let r = app
        .add(&c, json!({"leads": [{"email": "mixed.case@EXAMPLE.COM", "firstName": "Changed", "country": "US"}]}))
        .await;
    let d = explicit_ok(&r, 1);
    assert_eq!((count(&d, "added"), count(&d, "created")), (1, 0));
    let now = app
        .get(&format!("/v1/leads/{}", lead["_id"].as_str().unwrap()))
        .await;
    assert_eq!(now.data()["firstName"], json!("Original"));
    assert_eq!(now.data()["country"], json!(null));
    assert_eq!(now.data()["email"], json!("Mixed.Case@example.com"));
    assert_eq!(app.lead_total().await, 1);
}

#[tokio::test]
async fn new_emails_create_leads_with_the_entry_fields() {
    let app = spawn_app().await;
    let c = app.create_campaign("C").await;
    let r = app
        .add(
            &c,
            json!({"leads": [{"email": " New@Example.COM ", "firstName": "Ann", "country": "de",
                                    "tags": ["vip"], "customFields": {"score": 7}}]}),
        )
        .await;
    let d = explicit_ok(&r, 1);
    assert_eq!(count(&d, "created"), 1);
    let lead = &app.get("/v1/leads").await.data()[0].clone();
    assert_eq!(lead["email"], json!("New@example.com"));
    assert_eq!(lead["country"], json!("DE"));
    assert_eq!(lead["tags"], json!(["vip"]));
    assert_eq!(lead["customFields"], json!({"score": 7}));
}

#[tokio::test]
async fn the_first_occurrence_of_a_lead_wins_and_repeats_are_skipped() {
    let app = spawn_app().await;
    let c = app.create_campaign("C").await;
    let existing = app
        .create_leads(vec![json!({"email": "known@example.com"})])
        .await;
    let r = app
        .add(
            &c,
            json!({"leads": [
                {"email": "dup@example.com", "firstName": "First"},
                {"email": "DUP@example.com", "firstName": "Second"},
                {"leadId": existing[0]},
                {"email": "known@example.com"},
                {"leadId": existing[0], "email": "ignored@example.com"}
            ]}),
        )
        .await;
    let d = explicit_ok(&r, 5);
    assert_eq!(
        (
            count(&d, "added"),
            count(&d, "skipped"),
            count(&d, "created")
        ),
        (2, 3, 1)
    );
    let dup = app.get("/v1/leads?search=dup").await;
    assert_eq!(dup.data().as_array().unwrap().len(), 1);
    assert_eq!(dup.data()[0]["firstName"], json!("First"));
    assert_eq!(
        app.get("/v1/leads?search=ignored").await.data(),
        &json!([]),
        "email is ignored with leadId"
    );
    assert_eq!(app.campaign_lead_total(&c).await, 2);
}

#[tokio::test]
async fn a_lead_already_in_the_campaign_is_skipped_and_keeps_its_status() {
    let app = spawn_app().await;
    let c = app.create_campaign("C").await;
    let r = app
        .add(&c, json!({"leads": [{"email": "a@example.com"}]}))
        .await;
    explicit_ok(&r, 1);
    app.post(&format!("/v1/campaigns/{c}/start"), json!({}))
        .await
        .assert_ok(200);
    app.post(&format!("/v1/campaigns/{c}/pause"), json!({}))
        .await
        .assert_ok(200);
    // Paused campaign: the existing lead is active; new ones would be pending.
    let r = app
        .add(
            &c,
            json!({"leads": [{"email": "a@example.com"}, {"email": "b@example.com"}]}),
        )
        .await;
    let d = explicit_ok(&r, 2);
    assert_eq!((count(&d, "added"), count(&d, "skipped")), (1, 1));
    let mut statuses = campaign_statuses(&app, &c).await;
    statuses.sort();
    assert_eq!(
        statuses,
        vec![
            ("a@example.com".into(), "active".into()),
            ("b@example.com".into(), "pending".into())
        ]
    );
    let again = app.add(&c, json!({"selectAll": true})).await;
    let d = again.assert_ok(200);
    assert_eq!(
        (
            count(d, "matched"),
            count(d, "added"),
            count(d, "skipped"),
            count(d, "alreadyInCampaign")
        ),
        (2, 0, 2, 2)
    );
}

#[tokio::test]
async fn leads_join_an_active_campaign_as_active_and_others_as_pending() {
    let app = spawn_app().await;
    let draft = app.create_campaign("Draft").await;
    let active = app.create_campaign("Active").await;
    app.post(&format!("/v1/campaigns/{active}/start"), json!({}))
        .await
        .assert_ok(200);
    for c in [&draft, &active] {
        explicit_ok(
            &app.add(c, json!({"leads": [{"email": "a@example.com"}]}))
                .await,
            1,
        );
    }
    assert_eq!(campaign_statuses(&app, &draft).await[0].1, "pending");
    assert_eq!(campaign_statuses(&app, &active).await[0].1, "active");
}

#[tokio::test]
async fn do_not_contact_emails_and_domains_are_skipped_and_counted_as_blocked() {
    let app = spawn_app().await;
    let c = app.create_campaign("C").await;
    app.post(
        "/v1/dnc",
        json!({"entries": [{"type": "email", "value": "Stop@Example.com"}, {"type": "domain", "value": "blocked.io"}]}),
    )
    .await
    .assert_ok(200);
    let r = app
        .add(
            &c,
            json!({"leads": [
                {"email": "stop@example.com"}, {"email": "anyone@BLOCKED.io"}, {"email": "fine@example.com"}
            ]}),
        )
        .await;
    let d = explicit_ok(&r, 3);
    assert_eq!(
        (
            count(&d, "added"),
            count(&d, "skipped"),
            count(&d, "blocked")
        ),
        (1, 2, 2)
    );
    assert_eq!(count(&d, "created"), 3, "blocked leads are still created");
    // Select-all sees the same list.
    let r = app.add(&c, json!({"selectAll": true})).await;
    let d = r.assert_ok(200);
    assert_eq!(
        (count(d, "matched"), count(d, "added"), count(d, "blocked")),
        (3, 0, 2)
    );
    assert_eq!(app.campaign_lead_total(&c).await, 1);
    // A member the list blocks later is already in the campaign, not
    // blocked: `blocked` counts only leads the list kept out.
    app.post(
        "/v1/dnc",
        json!({"entries": [{"type": "email", "value": "fine@example.com"}]}),
    )
    .await
    .assert_ok(200);
    let r = app
        .add(
            &c,
            json!({"leads": [{"email": "fine@example.com"}, {"email": "stop@example.com"}]}),
        )
        .await;
    let d = explicit_ok(&r, 2);
    assert_eq!((count(&d, "added"), count(&d, "blocked")), (0, 1), "{d}");
}

#[tokio::test]
async fn each_kind_of_bad_entry_gets_its_code_and_the_rest_proceed() {
    let app = spawn_app().await;
    let c = app.create_campaign("C").await;
    let (_, other_key) = app.other_workspace().await;
    let foreign = app
        .call_as(
            &other_key,
            reqwest::Method::POST,
            "/v1/leads",
            Some(json!({"email": "theirs@example.com"})),
        )
        .await;
    let foreign_id = foreign.data()["_id"].as_str().unwrap().to_owned();
    let r = app
        .add(
            &c,
            json!({"leads": [
                {"email": "good@example.com"},
                {"firstName": "No identifier"},
                {"email": "invalid@"},
                {"leadId": "not-an-id"},
                {"leadId": foreign_id},
                {"email": "bad-country@example.com", "country": "XX"},
                "just a string",
                {"email": "long@example.com", "firstName": "x".repeat(257)},
                {"email": 42}
            ]}),
        )
        .await;
    let d = explicit_ok(&r, 9);
    assert_eq!((count(&d, "added"), count(&d, "created")), (1, 1));
    let codes: Vec<(u64, String)> = d["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            (1, "MISSING_IDENTIFIER".into()),
            (2, "INVALID_EMAIL".into()),
            (3, "LEAD_NOT_FOUND".into()),
            (4, "LEAD_NOT_FOUND".into()),
            (5, "INVALID_FIELD".into()),
            (6, "INVALID_ENTRY".into()),
            (7, "INVALID_FIELD".into()),
            (8, "INVALID_EMAIL".into()),
        ]
    );
    let errors = d["errors"].as_array().unwrap();
    assert_eq!(
        errors[0]["message"],
        json!("Either leadId or email is required")
    );
    assert_eq!(
        errors[1]["message"],
        json!("Either leadId or email is required")
    );
    assert_eq!(errors[1]["entry"], json!({"email": "invalid@"}));
    assert_eq!(errors[2]["message"], json!("Lead not found"));
    assert!(
        errors[4]["message"].as_str().unwrap().contains("country"),
        "{}",
        errors[4]
    );
    assert!(
        errors[6]["message"].as_str().unwrap().contains("firstName"),
        "{}",
        errors[6]
    );
    assert_eq!(errors[5]["message"], json!("Entry must be an object"));
    assert_eq!(app.lead_total().await, 1);
}

#[tokio::test]
async fn a_dry_run_counts_exactly_like_the_real_call_and_writes_nothing() {
    let app = spawn_app().await;
    let c = app.create_campaign("C").await;
    let ids = app.create_leads(leads("old", 3)).await;
    explicit_ok(
        &app.add(&c, json!({"leads": [{"leadId": ids[0]}]})).await,
        1,
    );
    app.post(
        "/v1/dnc",
        json!({"entries": [{"type": "email", "value": "new1@example.com"}]}),
    )
    .await
    .assert_ok(200);
    let mut body = json!({"leads": [
        {"leadId": ids[0]}, {"leadId": ids[1]}, {"email": "new0@example.com"},
        {"email": "new1@example.com"}, {"email": "new0@example.com"}, {"email": "bad@"}
    ]});
    let before = (app.lead_total().await, app.campaign_lead_total(&c).await);
    body["dryRun"] = json!(true);
    let dry = explicit_ok(&app.add(&c, body.clone()).await, 6);
    assert_eq!(dry["dryRun"], json!(true));
    assert_eq!(
        (app.lead_total().await, app.campaign_lead_total(&c).await),
        before
    );
    body["dryRun"] = json!(false);
    let real = explicit_ok(&app.add(&c, body).await, 6);
    for field in ["added", "skipped", "created", "blocked", "errors"] {
        assert_eq!(dry[field], real[field], "{field}: dry {dry} real {real}");
    }
    assert_eq!(app.lead_total().await, before.0 + 2);

    let dry = app
        .add(&c, json!({"selectAll": true, "dryRun": true}))
        .await
        .assert_ok(200)
        .clone();
    let total = app.campaign_lead_total(&c).await;
    let real = app
        .add(&c, json!({"selectAll": true}))
        .await
        .assert_ok(200)
        .clone();
    for field in ["added", "skipped", "matched", "blocked"] {
        assert_eq!(dry[field], real[field], "{field}");
    }
    assert_eq!(
        app.campaign_lead_total(&c).await,
        total + count(&real, "added") as i64
    );
}

/// A selection's dry run is counted by reading alone (on SQLite, off the
/// writer): members already in, leads blocked by an email or a domain
/// entry, exclusions and the filter each count as the insert then does.
#[tokio::test]
async fn a_selections_dry_run_counts_members_blocks_and_exclusions_like_the_real_call() {
    let app = spawn_app().await;
    let mut batch = leads("in", 6);
    batch.extend((0..4).map(|i| json!({"email": format!("x{i}@blocked.test")})));
    for v in &mut batch {
        v["tags"] = json!(["t"]);
    }
    batch.push(json!({"email": "untagged@example.com"}));
    let ids = app.create_leads(batch).await;
    let selections = [
        (
            json!({"filters": {"tags": ["t"]}, "excludeIds": [ids[2]]}),
            (9, 3, 4),
        ),
        (
            json!({"selectAll": true, "excludeIds": [ids[2]]}),
            (10, 4, 4),
        ),
    ];
    // In each campaign two leads are members already (one of them also
    // blocked): of the rest, one is excluded, one blocked by email and
    // three by domain, and one is outside the filter.
    let mut campaigns = Vec::new();
    for _ in &selections {
        let c = app.create_campaign("C").await;
        explicit_ok(
            &app.add(
                &c,
                json!({"leads": [{"leadId": ids[0]}, {"leadId": ids[6]}]}),
            )
            .await,
            2,
        );
        campaigns.push(c);
    }
    app.post(
        "/v1/dnc",
        json!({"entries": [{"type": "email", "value": "in1@example.com"},
                           {"type": "domain", "value": "blocked.test"}]}),
    )
    .await
    .assert_ok(200);
    for ((selection, want), c) in selections.into_iter().zip(campaigns) {
        let mut body = selection.clone();
        body["dryRun"] = json!(true);
        let dry = app.add(&c, body).await.assert_ok(200).clone();
        let got = (
            count(&dry, "matched"),
            count(&dry, "added"),
            count(&dry, "blocked"),
        );
        assert_eq!(got, want, "{selection}: {dry}");
        assert_eq!(
            app.campaign_lead_total(&c).await,
            2,
            "a dry run writes nothing"
        );
        let real = app.add(&c, selection.clone()).await.assert_ok(200).clone();
        for field in ["matched", "added", "skipped", "blocked"] {
            assert_eq!(dry[field], real[field], "{field}: {selection}");
        }
        assert_eq!(
            app.campaign_lead_total(&c).await,
            2 + count(&real, "added") as i64
        );
    }
}

#[tokio::test]
async fn filters_select_matching_leads_inside_the_database() {
    let app = spawn_app().await;
    let c = app.create_campaign("C").await;
    app.create_leads(vec![
        json!({"email": "a@us.com", "country": "US", "tags": ["vip"], "emailVerificationResult": "valid"}),
        json!({"email": "b@us.com", "country": "US", "tags": ["cold"]}),
        json!({"email": "c@de.com", "country": "DE", "tags": ["vip"], "companyName": "Acme GmbH"}),
        json!({"email": "d@us.com", "country": "US", "tags": ["vip", "cold"], "emailVerificationResult": "invalid"}),
    ])
    .await;
    let r = app
        .add(&c, json!({"filters": {"tags": ["vip"], "country": "us"}}))
        .await;
    let d = r.assert_ok(200);
    assert_eq!(
        (count(d, "matched"), count(d, "added"), count(d, "skipped")),
        (2, 2, 0)
    );
    let mut emails: Vec<String> = campaign_statuses(&app, &c)
        .await
        .into_iter()
        .map(|(e, _)| e)
        .collect();
    emails.sort();
    assert_eq!(emails, vec!["a@us.com", "d@us.com"]);

    let cases = [
        (json!({"search": "ACME"}), 1),
        (json!({"emailStatus": ["unverified"]}), 2),
        (json!({"emailStatus": ["valid", "invalid"]}), 2),
        (json!({"emailVerified": true}), 2),
        (json!({"country": ["DE", "us"]}), 4),
        (json!({"createdAfter": "2000-01-01T00:00:00Z"}), 4),
        (json!({"createdBefore": "2000-01-01T00:00:00Z"}), 0),
    ];
    for (filters, matched) in cases {
        let other = app.create_campaign("Other").await;
        let r = app
            .add(&other, json!({"filters": filters.clone(), "dryRun": true}))
            .await;
        assert_eq!(count(r.assert_ok(200), "matched"), matched, "{filters}");
    }
}

#[tokio::test]
async fn select_all_adds_every_lead_except_the_excluded_ones() {
    let app = spawn_app().await;
    let c = app.create_campaign("C").await;
    let ids = app.create_leads(leads("all", 30)).await;
    let r = app
        .add(
            &c,
            json!({"selectAll": true, "excludeIds": [ids[3], ids[7], "665d4e5f6a7b8c9d0e1f2a3b"]}),
        )
        .await;
    let d = r.assert_ok(200);
    assert_eq!(
        (
            count(d, "matched"),
            count(d, "added"),
            count(d, "skipped"),
            count(d, "blocked")
        ),
        (28, 28, 0, 0)
    );
    let members: Vec<String> = app
        .all(&format!("/v1/campaigns/{c}/leads"))
        .await
        .iter()
        .map(|cl| cl["leadId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(members.len(), 28);
    assert!(!members.contains(&ids[3]) && !members.contains(&ids[7]));
    // Filters combine with exclusions and leadIds.
    let other = app.create_campaign("Other").await;
    let r = app
        .add(
            &other,
            json!({"filters": {"leadIds": [ids[0], ids[1], ids[2]]}, "excludeIds": [ids[1]]}),
        )
        .await;
    assert_eq!(count(r.assert_ok(200), "added"), 2);
}

#[tokio::test]
async fn five_thousand_entries_are_accepted_in_one_request() {
    let app = spawn_app().await;
    let c = app.create_campaign("Big").await;
    let r = app.add(&c, json!({"leads": leads("big", 5_000)})).await;
    let d = explicit_ok(&r, 5_000);
    assert_eq!((count(&d, "added"), count(&d, "created")), (5_000, 5_000));
    let r = app.add(&c, json!({"leads": leads("big", 5_000)})).await;
    let d = explicit_ok(&r, 5_000);
    assert_eq!(
        (
            count(&d, "added"),
            count(&d, "skipped"),
            count(&d, "created")
        ),
        (0, 5_000, 0)
    );
    assert_eq!(app.lead_total().await, 5_000);
}
