//! Leads: create, read, update, delete, list with filters and pagination,
//! bulk; each field limit (docs/API.md, "Field limits").

use serde_json::{Value, json};

use reqwest::Method;

use crate::helpers::{leads, spawn_app};

#[tokio::test]
async fn creating_a_lead_returns_it_normalised_with_201() {
    let app = spawn_app().await;
    let lead = app
        .create_lead(json!({"email": "  Jane.Doe@Example.COM", "firstName": "Jane", "country": "gb",
                            "tags": ["a", "b", "a"], "customFields": {"plan": "pro", "seats": 3, "trial": false, "x": null},
                            "emailVerificationResult": "catch_all"}))
        .await;
    assert_eq!(lead["email"], json!("Jane.Doe@example.com"));
    assert_eq!(lead["country"], json!("GB"));
    assert_eq!(lead["tags"], json!(["a", "b"]));
    assert_eq!(
        lead["customFields"],
        json!({"plan": "pro", "seats": 3, "trial": false, "x": null})
    );
    assert_eq!(lead["emailVerified"], json!(true));
    assert_eq!(lead["workspaceId"], json!(app.workspace_id));
    let id = lead["_id"].as_str().unwrap();
    assert!(
        id.len() == 24
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    let created = lead["createdAt"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 24, "{created}");
    assert_eq!(app.get(&format!("/v1/leads/{id}")).await.data(), &lead);
}

#[tokio::test]
async fn an_email_taken_in_any_casing_conflicts() {
    let app = spawn_app().await;
    app.create_lead(json!({"email": "taken@example.com"})).await;
    app.post("/v1/leads", json!({"email": "TAKEN@example.com"}))
        .await
        .assert_error(409, "CONFLICT");
    assert_eq!(app.lead_total().await, 1);
}

#[tokio::test]
async fn every_field_limit_is_enforced_on_create() {
    let app = spawn_app().await;
    let s257 = "x".repeat(257);
    let too_many_fields: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!(1))).collect();
    let cases = [
        (json!({}), "email"),
        (json!({"email": "not-an-email"}), "email"),
        (json!({"email": "a@localhost"}), "email"),
        (
            json!({"email": format!("{}@{}.{}.{}.com", "a".repeat(64), "b".repeat(63), "b".repeat(63), "c".repeat(58))}),
            "email",
        ),
        (json!({"email": "a@b.co", "firstName": s257}), "firstName"),
        (json!({"email": "a@b.co", "lastName": s257}), "lastName"),
        (
            json!({"email": "a@b.co", "companyName": s257}),
            "companyName",
        ),
        (json!({"email": "a@b.co", "jobTitle": s257}), "jobTitle"),
        (json!({"email": "a@b.co", "phone": s257}), "phone"),
        (
            json!({"email": "a@b.co", "linkedinUrl": s257}),
            "linkedinUrl",
        ),
        (json!({"email": "a@b.co", "city": s257}), "city"),
        (json!({"email": "a@b.co", "state": s257}), "state"),
        (json!({"email": "a@b.co", "country": "XX"}), "country"),
        (
            json!({"email": "a@b.co", "tags": (0..51).map(|i| i.to_string()).collect::<Vec<_>>()}),
            "tags",
        ),
        (json!({"email": "a@b.co", "tags": ["t".repeat(65)]}), "tags"),
        (
            json!({"email": "a@b.co", "customFields": too_many_fields}),
            "customFields",
        ),
        (
            json!({"email": "a@b.co", "customFields": {"k".repeat(65): 1}}),
            "customFields",
        ),
        (
            json!({"email": "a@b.co", "customFields": {"k": "v".repeat(1025)}}),
            "customFields.k",
        ),
        (
            json!({"email": "a@b.co", "emailVerificationResult": "maybe"}),
            "emailVerificationResult",
        ),
    ];
    for (body, field) in cases {
        let r = app.post("/v1/leads", body.clone()).await;
        r.assert_error(400, "VALIDATION_ERROR");
        assert_eq!(
            r.body["error"]["details"][0]["field"],
            json!(field),
            "{body}"
        );
    }
    // The limits themselves are allowed.
    let at_limit = json!({"email": format!("{}@{}.{}.{}.com", "a".repeat(64), "b".repeat(63), "b".repeat(63), "c".repeat(57)), "firstName": "x".repeat(256),
        "tags": (0..50).map(|i| format!("{i}{}", "t".repeat(60))).collect::<Vec<_>>(),
        "customFields": {"k".repeat(64): "v".repeat(1024)}});
    app.post("/v1/leads", at_limit).await.assert_ok(201);
    assert_eq!(app.lead_total().await, 1);
}

#[tokio::test]
async fn patch_merges_custom_fields_and_replaces_the_rest() {
    let app = spawn_app().await;
    let lead = app
        .create_lead(
            json!({"email": "p@example.com", "firstName": "A", "lastName": "B",
                            "tags": ["old"], "customFields": {"keep": 1, "change": "x"}}),
        )
        .await;
    let path = format!("/v1/leads/{}", lead["_id"].as_str().unwrap());
    let r = app
        .patch(&path, json!({"firstName": "Z", "lastName": null, "tags": ["new"], "customFields": {"change": "y", "add": true}}))
        .await;
    let d = r.assert_ok(200);
    assert_eq!(d["firstName"], json!("Z"));
    assert_eq!(d["lastName"], json!(null));
    assert_eq!(d["tags"], json!(["new"]));
    assert_eq!(
        d["customFields"],
        json!({"keep": 1, "change": "y", "add": true})
    );
    assert_eq!(app.get(&path).await.data(), d);
    // The email cannot change; the same email (any casing) is fine.
    app.patch(&path, json!({"email": "other@example.com"}))
        .await
        .assert_error(400, "VALIDATION_ERROR");
    app.patch(&path, json!({"email": "P@EXAMPLE.com"}))
        .await
        .assert_ok(200);
    app.patch(&path, json!({"country": "ZZ"}))
        .await
        .assert_error(400, "VALIDATION_ERROR");
    assert_eq!(app.get(&path).await.data()["country"], json!(null));
}

#[tokio::test]
async fn deleting_a_lead_removes_it_and_its_campaign_memberships() {
    let app = spawn_app().await;
    let c = app.create_campaign("C").await;
    let ids = app.create_leads(leads("d", 2)).await;
    app.add(&c, json!({"selectAll": true})).await.assert_ok(200);
    let path = format!("/v1/leads/{}", ids[0]);
    let r = app.delete(&path).await;
    assert_eq!(r.assert_ok(200), &json!({"_id": ids[0], "deleted": true}));
    app.get(&path).await.assert_error(404, "NOT_FOUND");
    app.delete(&path).await.assert_error(404, "NOT_FOUND");
    assert_eq!(app.campaign_lead_total(&c).await, 1);
    app.get("/v1/leads/zzz")
        .await
        .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn an_id_with_a_forged_timestamp_names_nothing() {
    let app = spawn_app().await;
    let id = app.create_leads(leads("f", 1)).await.remove(0);
    let forged = format!("00000000{}", &id[8..]);
    app.get(&format!("/v1/leads/{forged}"))
        .await
        .assert_error(404, "NOT_FOUND");
    app.get(&format!("/v1/leads/{}", id.to_uppercase()))
        .await
        .assert_ok(200);
    // Nor in a list of IDs: a filter's `leadIds`, a membership action's
    // `leadIds` (each engine checks the time half of every ID it is given).
    let c = app.create_campaign("Forged").await;
    for (ids, matched) in [(json!([forged]), 0), (json!([id, forged]), 1)] {
        let r = app
            .add(&c, json!({"filters": {"leadIds": ids}, "dryRun": true}))
            .await;
        assert_eq!(r.assert_ok(200)["matched"], json!(matched), "{ids}");
    }
    app.add(&c, json!({"leads": [{"leadId": id}]}))
        .await
        .assert_ok(200);
    let member = app.all(&format!("/v1/campaigns/{c}/leads")).await[0]["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let forged_member = format!("00000000{}", &member[8..]);
    for (ids, modified) in [(json!([forged_member]), 0), (json!([member]), 1)] {
        let r = app
            .post(
                &format!("/v1/campaigns/{c}/leads/action"),
                json!({"action": "pause", "leadIds": ids}),
            )
            .await;
        assert_eq!(r.assert_ok(200)["modifiedCount"], json!(modified), "{ids}");
    }
}

#[tokio::test]
async fn pagination_walks_the_whole_list_newest_first_without_repeats_or_gaps() {
    let app = spawn_app().await;
    let mut ids = app.create_leads(leads("page", 237)).await;
    for size in [1, 7, 25, 100] {
        let mut seen = Vec::new();
        let mut cursor = String::new();
        loop {
            let r = app
                .get(&format!("/v1/leads?limit={size}&cursor={cursor}"))
                .await;
            let items = r.assert_ok(200).as_array().unwrap().clone();
            assert!(items.len() <= size);
            assert_eq!(r.body["pagination"]["total"], json!(237));
            assert_eq!(r.body["pagination"]["limit"], json!(size));
            seen.extend(items.iter().map(|l| l["_id"].as_str().unwrap().to_owned()));
            match r.body["pagination"]["nextCursor"].as_str() {
                Some(c) => {
                    assert_eq!(r.body["pagination"]["hasMore"], json!(true));
                    cursor = c.to_owned();
                }
                None => {
                    assert_eq!(r.body["pagination"]["hasMore"], json!(false));
                    break;
                }
            }
        }
        let mut sorted = seen.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(seen, sorted, "newest first");
        ids.sort_by(|a, b| b.cmp(a));
        assert_eq!(seen, ids, "page size {size}");
    }
    for bad in ["limit=0", "limit=101", "limit=x", "cursor=nope"] {
        app.get(&format!("/v1/leads?{bad}"))
            .await
            .assert_error(400, "VALIDATION_ERROR");
    }
}

#[tokio::test]
async fn the_list_filters_combine_with_and() {
    let app = spawn_app().await;
    app.create_leads(vec![
        json!({"email": "ann@acme.com", "firstName": "Ann", "country": "US", "tags": ["vip"], "emailVerificationResult": "valid"}),
        json!({"email": "bob@beta.com", "lastName": "Acmeson", "country": "DE", "tags": ["cold"]}),
        json!({"email": "cy@gamma.com", "companyName": "ACME Corp", "country": "US", "tags": ["vip", "cold"], "emailVerificationResult": "risky"}),
        json!({"email": "dee@delta.com", "country": "FR", "phone": "+33 1 23 45 67 89"}),
    ])
    .await;
    let emails = |v: Vec<Value>| {
        let mut e: Vec<String> = v
            .iter()
            .map(|l| l["email"].as_str().unwrap().to_owned())
            .collect();
        e.sort();
        e
    };
    let cases: [(&str, &[&str]); 15] = [
        ("hasCompany=true", &["cy@gamma.com"]),
        (
            "hasCompany=false",
            &["ann@acme.com", "bob@beta.com", "dee@delta.com"],
        ),
        ("hasPhone=true", &["dee@delta.com"]),
        (
            "hasPhone=false&hasCompany=true&country=us",
            &["cy@gamma.com"],
        ),
        ("tags=vip", &["ann@acme.com", "cy@gamma.com"]),
        (
            "tags=cold,vip",
            &["ann@acme.com", "bob@beta.com", "cy@gamma.com"],
        ),
        (
            "search=acme",
            &["ann@acme.com", "bob@beta.com", "cy@gamma.com"],
        ),
        ("search=ANN", &["ann@acme.com"]),
        ("emailStatus=unverified", &["bob@beta.com", "dee@delta.com"]),
        ("emailStatus=valid,risky", &["ann@acme.com", "cy@gamma.com"]),
        ("emailVerified=false", &["bob@beta.com", "dee@delta.com"]),
        ("country=us", &["ann@acme.com", "cy@gamma.com"]),
        ("country=us,fr&tags=vip", &["ann@acme.com", "cy@gamma.com"]),
        ("createdBefore=2000-01-01T00:00:00Z", &[]),
        (
            "createdAfter=2000-01-01T00:00:00Z&search=delta",
            &["dee@delta.com"],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(
            emails(app.all(&format!("/v1/leads?{query}")).await),
            expected,
            "{query}"
        );
    }
    let first = app.all("/v1/leads?search=ann").await[0]["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        emails(app.all(&format!("/v1/leads?leadIds={first}")).await),
        ["ann@acme.com"]
    );
    for bad in [
        "country=XX",
        "emailStatus=nice",
        "emailVerified=maybe",
        "hasCompany=yes",
        "hasPhone=1",
        "createdAfter=yesterday",
        "leadIds=abc",
    ] {
        app.get(&format!("/v1/leads?{bad}"))
            .await
            .assert_error(400, "VALIDATION_ERROR");
    }
    // The same criteria in a body's filters.
    let c = app.create_campaign("With a phone").await;
    let r = app
        .add(
            &c,
            json!({"filters": {"hasPhone": true, "hasCompany": false}}),
        )
        .await;
    assert_eq!(r.assert_ok(200)["matched"], json!(1));
    app.add(&c, json!({"filters": {"hasPhone": "yes"}}))
        .await
        .assert_error(400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn a_lead_is_found_by_its_whole_email_in_any_casing() {
    let app = spawn_app().await;
    app.create_leads(vec![
        json!({"email": "Ann@Acme.com", "country": "US"}),
        json!({"email": "annie@acme.com", "country": "DE"}),
    ])
    .await;
    let found = |query: &'static str| {
        let app = &app;
        async move {
            let r = app.get(&format!("/v1/leads?{query}")).await;
            let emails: Vec<String> = r
                .data()
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["email"].as_str().unwrap().to_owned())
                .collect();
            (emails, r.body["pagination"]["total"].clone())
        }
    };
    assert_eq!(
        found("email=ANN@ACME.COM").await,
        (vec!["Ann@acme.com".to_owned()], json!(1))
    );
    assert_eq!(
        found("email=%20ann@acme.com%20").await.1,
        json!(1),
        "trimmed"
    );
    assert_eq!(
        found("email=ann").await,
        (vec![], json!(0)),
        "not a substring"
    );
    assert_eq!(
        found("email=ann@acme.com&country=DE").await.1,
        json!(0),
        "and the other criteria"
    );
    app.get("/v1/leads?email=")
        .await
        .assert_error(400, "VALIDATION_ERROR");
    // The same criterion in a body's filters.
    let c = app.create_campaign("By address").await;
    let r = app
        .add(&c, json!({"filters": {"email": "ANNIE@acme.com"}}))
        .await;
    let d = r.assert_ok(200);
    assert_eq!(
        (d["matched"].clone(), d["added"].clone()),
        (json!(1), json!(1))
    );
    // Another workspace's lead of the same address is not found.
    let (_, other) = app.other_workspace().await;
    let r = app
        .call_as(&other, Method::GET, "/v1/leads?email=ann@acme.com", None)
        .await;
    assert_eq!(r.body["pagination"]["total"], json!(0), "{}", r.body);
}

#[tokio::test]
async fn a_leads_campaigns_list_every_membership_with_its_campaign_newest_first() {
    let app = spawn_app().await;
    let ids = app
        .create_leads(vec![
            json!({"email": "ann@acme.com"}),
            json!({"email": "bob@acme.com"}),
        ])
        .await;
    let (ann, bob) = (&ids[0], &ids[1]);
    let first = app.create_campaign("First").await;
    let second = app.create_campaign("Second").await;
    let third = app.create_campaign("Third").await;
    for c in [&first, &second, &third] {
        app.add(c, json!({"leads": [{"leadId": ann}]}))
            .await
            .assert_ok(200);
    }
    app.add(&first, json!({"leads": [{"leadId": bob}]}))
        .await
        .assert_ok(200);
    app.post(&format!("/v1/campaigns/{second}/start"), json!({}))
        .await
        .assert_ok(200);
    let members = app.all(&format!("/v1/campaigns/{second}/leads")).await;
    let membership = members[0]["_id"].as_str().unwrap().to_owned();

    let r = app.get(&format!("/v1/leads/{ann}/campaigns?limit=2")).await;
    assert_eq!(r.body["pagination"]["total"], json!(3), "{}", r.body);
    let all = app.all(&format!("/v1/leads/{ann}/campaigns")).await;
    let seen: Vec<(&str, &str, &str, &str)> = all
        .iter()
        .map(|m| {
            (
                m["campaignId"].as_str().unwrap(),
                m["campaign"]["name"].as_str().unwrap(),
                m["campaign"]["status"].as_str().unwrap(),
                m["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (third.as_str(), "Third", "draft", "pending"),
            (second.as_str(), "Second", "active", "active"),
            (first.as_str(), "First", "draft", "pending"),
        ]
    );
    assert_eq!(all[1]["campaignLeadId"], json!(membership));
    assert!(all.iter().all(|m| m["addedAt"].is_string()));

    // Only the lead's own memberships, only in its workspace.
    assert_eq!(
        app.all(&format!("/v1/leads/{bob}/campaigns")).await.len(),
        1
    );
    let (_, other) = app.other_workspace().await;
    app.call_as(
        &other,
        Method::GET,
        &format!("/v1/leads/{ann}/campaigns"),
        None,
    )
    .await
    .assert_error(404, "NOT_FOUND");
    app.get("/v1/leads/665d4e5f6a7b8c9d0e1f2a3b/campaigns")
        .await
        .assert_error(404, "NOT_FOUND");
    // A deleted campaign's membership goes with it.
    app.delete(&format!("/v1/campaigns/{third}")).await;
    assert_eq!(
        app.all(&format!("/v1/leads/{ann}/campaigns")).await.len(),
        2
    );
}

#[tokio::test]
async fn bulk_creates_skips_and_reports_each_entry() {
    let app = spawn_app().await;
    app.create_lead(json!({"email": "exists@example.com", "firstName": "Old", "tags": ["keep"]}))
        .await;
    let r = app
        .post(
            "/v1/leads/bulk",
            json!({"tag": "import-1", "leads": [
                {"email": "new1@example.com"}, {"email": "EXISTS@example.com", "firstName": "New"},
                {"email": "bad"}, {"email": "new1@example.com"}, {"email": "new2@example.com", "country": "XX"},
                {"email": "new3@example.com", "tags": ["t"]}
            ]}),
        )
        .await;
    let d = r.assert_ok(200);
    assert_eq!(
        (
            d["imported"].clone(),
            d["updated"].clone(),
            d["skipped"].clone(),
            d["failed"].clone()
        ),
        (json!(2), json!(0), json!(2), json!(2)),
        "{d}"
    );
    assert_eq!(d["importedLeadIds"].as_array().unwrap().len(), 2);
    let errors = d["errors"].as_array().unwrap();
    assert_eq!(
        (errors[0]["index"].clone(), errors[0]["email"].clone()),
        (json!(2), json!("bad"))
    );
    assert_eq!(errors[1]["index"], json!(4));
    assert!(errors[1]["error"].as_str().unwrap().contains("country"));
    let new3 = &app.get("/v1/leads?search=new3").await.data()[0].clone();
    assert_eq!(new3["tags"], json!(["t", "import-1"]));
    let old = &app.get("/v1/leads?search=exists").await.data()[0].clone();
    assert_eq!(
        (old["firstName"].clone(), old["tags"].clone()),
        (json!("Old"), json!(["keep"]))
    );

    // skipDuplicates: false updates the existing lead and adds the tag.
    let r = app
        .post("/v1/leads/bulk", json!({"skipDuplicates": false, "tag": "again",
                                       "leads": [{"email": "exists@example.com", "firstName": "New", "customFields": {"a": 1}}]}))
        .await;
    let d = r.assert_ok(200);
    assert_eq!(
        (d["imported"].clone(), d["updated"].clone()),
        (json!(0), json!(1))
    );
    let old = &app.get("/v1/leads?search=exists").await.data()[0].clone();
    assert_eq!(
        (old["firstName"].clone(), old["tags"].clone()),
        (json!("New"), json!(["keep", "again"]))
    );
    assert_eq!(app.lead_total().await, 3);

    for bad in [
        json!({"leads": []}),
        json!({"leads": leads("b", 5_001)}),
        json!({"leads": "x"}),
        json!({"leads": [{"email": "a@b.co"}], "skipDuplicates": "no"}),
    ] {
        app.post("/v1/leads/bulk", bad)
            .await
            .assert_error(400, "VALIDATION_ERROR");
    }
    assert_eq!(app.lead_total().await, 3);
}

#[tokio::test]
async fn tags_and_fields_with_special_characters_round_trip() {
    let app = spawn_app().await;
    let tags = json!(["a b", "q\"uote", "back\\slash", "{x,y}", "NULL", "ünï"]);
    let custom = json!({"note": "it's \"quoted\"", "n": 1.5, "flag": true, "none": null});
    let c = app.create_campaign("C").await;
    let r = app
        .add(&c, json!({"leads": [{"email": "odd@example.com", "tags": tags, "customFields": custom, "city": "O'Neill"}]}))
        .await;
    assert_eq!(r.assert_ok(200)["created"], json!(1));
    let lead = app.get("/v1/leads?search=odd").await.data()[0].clone();
    assert_eq!(lead["tags"], tags);
    assert_eq!(lead["customFields"], custom);
    assert_eq!(lead["city"], json!("O'Neill"));
    let by_tag = app.all("/v1/leads?tags=q\"uote").await;
    assert_eq!(by_tag.len(), 1);
}

#[tokio::test]
async fn deleting_leads_by_id_removes_them_and_their_memberships() {
    let app = spawn_app().await;
    let c = app.create_campaign("C").await;
    let ids = app.create_leads(leads("del", 4)).await;
    app.add(&c, json!({"selectAll": true})).await.assert_ok(200);
    let body = json!({"leadIds": [ids[0], ids[1], "665d4e5f6a7b8c9d0e1f2a3b"]});
    let r = app
        .call(reqwest::Method::DELETE, "/v1/leads", Some(body))
        .await;
    assert_eq!(r.assert_ok(200), &json!({"deletedCount": 2}));
    assert_eq!(app.lead_total().await, 2);
    assert_eq!(app.campaign_lead_total(&c).await, 2);
    app.get(&format!("/v1/leads/{}", ids[0]))
        .await
        .assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn delete_all_honours_filters_and_exclusions_and_stays_in_its_workspace() {
    let app = spawn_app().await;
    let c = app.create_campaign("C").await;
    let mut batch = leads("all", 6);
    for l in batch.iter_mut().take(4) {
        l["country"] = json!("DE");
    }
    let ids = app.create_leads(batch).await;
    app.add(&c, json!({"selectAll": true})).await.assert_ok(200);
    let (_, theirs) = app.other_workspace().await;
    let r = app
        .call_as(
            &theirs,
            reqwest::Method::DELETE,
            "/v1/leads",
            Some(json!({"deleteAll": true})),
        )
        .await;
    assert_eq!(r.assert_ok(200)["deletedCount"], json!(0));
    let r = app
        .call_as(
            &theirs,
            reqwest::Method::DELETE,
            "/v1/leads",
            Some(json!({"leadIds": [ids[0]]})),
        )
        .await;
    assert_eq!(r.assert_ok(200)["deletedCount"], json!(0));

    let body = json!({"deleteAll": true, "filters": {"country": "DE"}, "excludeIds": [ids[0]]});
    let r = app
        .call(reqwest::Method::DELETE, "/v1/leads", Some(body))
        .await;
    assert_eq!(r.assert_ok(200)["deletedCount"], json!(3));
    assert_eq!(app.lead_total().await, 3);
    assert_eq!(app.campaign_lead_total(&c).await, 3);

    let r = app
        .call(
            reqwest::Method::DELETE,
            "/v1/leads",
            Some(json!({"deleteAll": true})),
        )
        .await;
    assert_eq!(r.assert_ok(200)["deletedCount"], json!(3));
    assert_eq!(app.lead_total().await, 0);
    assert_eq!(app.campaign_lead_total(&c).await, 0);
    app.get(&format!("/v1/campaigns/{c}")).await.assert_ok(200);
}

#[tokio::test]
async fn bad_delete_requests_are_rejected_and_delete_nothing() {
    let app = spawn_app().await;
    let ids = app.create_leads(leads("keep", 2)).await;
    for body in [
        json!({}),
        json!({"deleteAll": false}),
        json!({"leadIds": [ids[0]], "deleteAll": true}),
        json!({"leadIds": [ids[0]], "excludeIds": [ids[1]]}),
        json!({"leadIds": []}),
        json!({"leadIds": ["bad"]}),
        json!({"deleteAll": true, "filters": {}}),
        json!({"deleteAll": true, "filters": {"tag": "x"}}),
        json!({"deleteAll": true, "excludeIds": ["bad"]}),
        json!({"deleteAll": "yes"}),
    ] {
        app.call(reqwest::Method::DELETE, "/v1/leads", Some(body.clone()))
            .await
            .assert_error(400, "VALIDATION_ERROR");
    }
    assert_eq!(app.lead_total().await, 2);
}
