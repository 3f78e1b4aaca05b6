//! The event log (`GET /v1/events`): one event per change, written in the
//! change's own transaction, read in commit order without gaps.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, csv_form, leads, spawn_app};

/// The types of the events, in order.
fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// The events after `after`, all of them.
async fn since(app: &TestApp, after: &str) -> (Vec<Value>, String) {
    app.events_after(after, "", 100).await
}

#[tokio::test]
async fn every_change_is_one_event_in_the_order_it_committed() {
    let app = spawn_app().await;
    let (events, start) = since(&app, "0").await;
    assert!(
        events.is_empty(),
        "a new workspace has no events: {events:?}"
    );
    assert_eq!(start, "0");

    let lead = app.create_lead(json!({"email": "ann@example.com"})).await;
    let ann = lead["_id"].as_str().unwrap().to_owned();
    app.patch(&format!("/v1/leads/{ann}"), json!({"firstName": "Ann"}))
        .await
        .assert_ok(200);
    let bulk = app.create_leads(leads("bulk", 3)).await;
    let c = app.create_campaign("Launch").await;
    let r = app
        .add(
            &c,
            json!({"leads": [{"leadId": ann}, {"email": "new@example.com"}, {"leadId": bulk[0]}]}),
        )
        .await;
    assert_eq!(r.assert_ok(200)["added"], json!(3));
    app.post(&format!("/v1/campaigns/{c}/start"), json!({}))
        .await
        .assert_ok(200);
    let members = app.all(&format!("/v1/campaigns/{c}/leads")).await;
    let member = members[0]["_id"].as_str().unwrap();
    app.patch(
        &format!("/v1/campaigns/{c}/leads/{member}"),
        json!({"status": "paused"}),
    )
    .await
    .assert_ok(200);
    app.post(
        &format!("/v1/campaigns/{c}/leads/action"),
        json!({"action": "resume", "selectAll": true}),
    )
    .await
    .assert_ok(200);
    app.post(
        "/v1/dnc",
        json!({"entries": [{"type": "email", "value": "ann@example.com"}]}),
    )
    .await
    .assert_ok(200);
    let r = app
        .import(csv_form(
            "email\nfile1@example.com\nfile2@example.com\nbulk0@example.com\nnot-an-email\n",
            &[("campaignId", c.as_str())],
        ))
        .await;
    assert_eq!(r.assert_ok(200)["imported"], json!(2));
    app.call(
        Method::DELETE,
        "/v1/leads",
        Some(json!({"deleteAll": true, "filters": {"search": "file"}})),
    )
    .await
    .assert_ok(200);
    app.delete(&format!("/v1/leads/{}", bulk[2]))
        .await
        .assert_ok(200);

    let events = app.events().await;
    assert_eq!(
        types(&events),
        vec![
            "lead.created",
            "lead.updated",
            "lead.created",
            "campaign.created",
            "lead.created",
            "campaign.leads_added",
            "campaign.status_changed",
            "campaign_lead.status_changed",
            "campaign_lead.status_changed",
            "campaign_lead.status_changed",
            "dnc.added",
            "campaign_lead.status_changed",
            "lead.created",
            "campaign.leads_added",
            "import.completed",
            "lead.deleted",
            "lead.deleted",
        ]
    );
    // Numbered 1, 2, 3 … with unique IDs.
    let seqs: Vec<i64> = events
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=events.len() as i64).collect::<Vec<_>>());
    let ids: BTreeSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), events.len());
    assert!(
        events[0]["id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("evt_{}_", app.workspace_id))
    );
    for e in &events {
        assert!(e["createdAt"].as_str().unwrap().ends_with('Z'), "{e}");
    }

    let d = |i: usize| &events[i]["data"];
    assert_eq!(d(0), &json!({"count": 1, "leadIds": [ann]}));
    assert_eq!(d(1), &json!({"count": 1, "leadIds": [ann]}));
    assert_eq!(d(2), &json!({"count": 3, "leadIds": bulk}));
    assert_eq!(
        d(3),
        &json!({"campaignId": c, "name": "Launch", "status": "draft"})
    );
    // The add's entry by email created a lead: its own event, first.
    assert_eq!(d(4)["count"], json!(1));
    let created = d(4)["leadIds"][0].as_str().unwrap();
    // The add: its counts, and the leads it made members, in request order.
    assert_eq!(d(5)["campaignId"], json!(c));
    assert_eq!(d(5)["mode"], json!("leads"));
    assert_eq!(d(5)["added"], json!(3));
    assert_eq!(d(5)["created"], json!(1));
    // (In membership order: the request's on SQLite, key order on
    // PostgreSQL.)
    let added: BTreeSet<&str> = d(5)["leadIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(added.len(), 3);
    assert!(added.contains(ann.as_str()) && added.contains(bulk[0].as_str()));
    assert!(added.contains(created));
    assert_eq!(
        d(6),
        &json!({"campaignId": c, "from": "draft", "to": "active"})
    );
    assert_eq!(
        d(7),
        &json!({"campaignId": c, "count": 3, "status": "active", "from": "pending"})
    );
    assert_eq!(
        d(8),
        &json!({"campaignId": c, "count": 1, "status": "paused", "from": "active", "campaignLeadIds": [member]})
    );
    assert_eq!(
        d(9),
        &json!({"campaignId": c, "count": 1, "status": "active", "from": "paused"})
    );
    assert_eq!(d(10)["added"], json!(1));
    assert_eq!(d(10)["stopped"], json!(1));
    assert_eq!(
        d(10)["entries"],
        json!([{"type": "email", "value": "ann@example.com"}])
    );
    assert_eq!(
        d(11),
        &json!({"count": 1, "status": "unsubscribed", "reason": "dnc"})
    );
    assert_eq!(d(12)["count"], json!(2));
    assert_eq!(d(13)["mode"], json!("import"));
    assert_eq!(d(13)["added"], json!(2), "bulk0 is a member already");
    assert_eq!(d(14)["imported"], json!(2));
    assert_eq!(d(14)["skipped"], json!(1));
    assert_eq!(d(14)["campaignId"], json!(c));
    assert_eq!(d(14)["campaign"]["added"], json!(2));
    // The bulk delete names the leads it deleted; the single one its lead.
    assert_eq!(d(15)["count"], json!(2));
    assert_eq!(d(15)["leadIds"], d(12)["leadIds"]);
    assert_eq!(d(16), &json!({"count": 1, "leadIds": [bulk[2]]}));

    // A reader that resumes from a cursor sees only what came after it.
    let (later, cursor) = since(&app, "15").await;
    assert_eq!(types(&later), vec!["lead.deleted", "lead.deleted"]);
    assert_eq!(cursor, "17");
    let (none, same) = since(&app, &cursor).await;
    assert!(none.is_empty());
    assert_eq!(same, cursor, "an empty page keeps the cursor");
}

#[tokio::test]
async fn refused_failed_and_dry_run_requests_record_nothing() {
    let app = spawn_app().await;
    let ids = app.create_leads(leads("x", 4)).await;
    let c = app.create_campaign("C").await;
    let before = app.events().await.len();
    assert_eq!(before, 2);

    // Dry runs of every add mode and of a move, and explained ones.
    for body in [
        json!({"leads": [{"leadId": ids[0]}], "dryRun": true}),
        json!({"selectAll": true, "dryRun": true, "explain": true}),
        json!({"filters": {"search": "x"}, "dryRun": true}),
    ] {
        app.add(&c, body).await.assert_ok(200);
    }
    let other = app.create_campaign("Other").await;
    app.add(&c, json!({"selectAll": true})).await.assert_ok(200);
    let mark = app.events().await.len();
    app.post(
        &format!("/v1/campaigns/{c}/leads/move"),
        json!({"toCampaignId": other, "selectAll": true, "dryRun": true}),
    )
    .await
    .assert_ok(200);
    // Refused input, missing things, wrong states: nothing changed.
    app.add(&c, json!({"leads": []}))
        .await
        .assert_error(400, "VALIDATION_ERROR");
    app.post("/v1/leads", json!({"email": "x0@example.com"}))
        .await
        .assert_error(409, "CONFLICT");
    app.post(&format!("/v1/campaigns/{c}/pause"), json!({}))
        .await
        .assert_error(409, "CONFLICT");
    app.delete("/v1/leads/665d4e5f6a7b8c9d0e1f2a3b")
        .await
        .assert_error(404, "NOT_FOUND");
    // A change that changes nothing tells nothing.
    app.add(&c, json!({"selectAll": true})).await.assert_ok(200);
    app.call(
        Method::DELETE,
        "/v1/leads",
        Some(json!({"deleteAll": true, "filters": {"search": "nobody"}})),
    )
    .await
    .assert_ok(200);

    let events = app.events().await;
    assert_eq!(events.len(), mark, "{:?}", types(&events[mark..]));
    assert_eq!(
        types(&events[before..]),
        vec!["campaign.created", "campaign.leads_added"]
    );
    assert_eq!(events[mark - 1]["data"]["mode"], json!("all"));
    assert_eq!(events[mark - 1]["data"]["matched"], json!(4));
}

#[tokio::test]
async fn a_large_add_is_one_event_listing_the_first_5000_leads() {
    let app = spawn_app().await;
    let mut all = app.create_leads(leads("a", 5000)).await;
    all.extend(app.create_leads(leads("b", 1000)).await);
    let c = app.create_campaign("Big").await;
    let r = app.add(&c, json!({"selectAll": true})).await;
    assert_eq!(r.assert_ok(200)["added"], json!(6000));
    let events = app.events().await;
    assert_eq!(
        types(&events),
        vec![
            "lead.created",
            "lead.created",
            "campaign.created",
            "campaign.leads_added"
        ]
    );
    assert_eq!(events[0]["data"]["leadIds"].as_array().unwrap().len(), 5000);
    let added = &events[3]["data"];
    assert_eq!(added["added"], json!(6000));
    assert_eq!(added["mode"], json!("all"));
    let listed: BTreeSet<&str> = added["leadIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 5000, "5,000 distinct leads");
    let every: BTreeSet<&str> = all.iter().map(String::as_str).collect();
    assert!(listed.is_subset(&every));

    // A move lists what it moved, and says from where.
    let to = app.create_campaign("To").await;
    let r = app
        .post(
            &format!("/v1/campaigns/{c}/leads/move"),
            json!({"toCampaignId": to, "leadIds": [all[0], all[5999]], "copy": true}),
        )
        .await;
    assert_eq!(r.assert_ok(200)["copied"], json!(2));
    let last = app.events().await.pop().unwrap();
    assert_eq!(last["type"], json!("campaign.leads_added"));
    assert_eq!(last["data"]["mode"], json!("copy"));
    assert_eq!(last["data"]["campaignId"], json!(to));
    assert_eq!(last["data"]["fromCampaignId"], json!(c));
    let moved: BTreeSet<&str> = last["data"]["leadIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(moved, BTreeSet::from([all[0].as_str(), all[5999].as_str()]));
}

#[tokio::test]
async fn the_feed_pages_filters_checks_its_input_and_keeps_to_its_workspace() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.create_lead(json!({"email": format!("p{i}@example.com")}))
            .await;
    }
    let c = app.create_campaign("C").await;
    app.add(&c, json!({"selectAll": true})).await.assert_ok(200);

    let (paged, cursor) = app.events_after("0", "", 2).await;
    assert_eq!(paged.len(), 7);
    assert_eq!(cursor, "7");
    let r = app.get("/v1/events?limit=2").await;
    assert_eq!(
        r.body["pagination"],
        json!({"limit": 2, "hasMore": true, "nextCursor": "2"})
    );

    let (only, _) = app
        .events_after("0", "&types=campaign.created,%20campaign.leads_added", 100)
        .await;
    assert_eq!(
        types(&only),
        vec!["campaign.created", "campaign.leads_added"]
    );
    let r = app.get("/v1/events?types=campaign.created&after=6").await;
    assert!(r.assert_ok(200).as_array().unwrap().is_empty());
    assert_eq!(r.body["pagination"]["nextCursor"], json!("6"));

    for bad in [
        "after=-1",
        "after=abc",
        "after=1.5",
        "limit=0",
        "limit=1001",
        "limit=x",
        "types=lead.created,lead.exploded",
    ] {
        let r = app.get(&format!("/v1/events?{bad}")).await;
        r.assert_error(400, "VALIDATION_ERROR");
        let field = bad.split('=').next().unwrap();
        assert!(r.message().contains(field), "{bad}: {}", r.message());
    }

    // Another workspace has its own numbering and sees none of these.
    let (_, key) = app.other_workspace().await;
    let r = app.call_as(&key, Method::GET, "/v1/events", None).await;
    assert!(r.assert_ok(200).as_array().unwrap().is_empty());
    app.call_as(
        &key,
        Method::POST,
        "/v1/leads",
        Some(json!({"email": "p0@example.com"})),
    )
    .await
    .assert_ok(201);
    let r = app.call_as(&key, Method::GET, "/v1/events", None).await;
    let theirs = r.assert_ok(200).as_array().unwrap().clone();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0]["sequence"], json!(1));
    assert_eq!(app.events().await.len(), 7);
}

#[tokio::test]
async fn old_events_are_pruned_and_numbering_goes_on() {
    let app = spawn_app().await;
    app.create_lead(json!({"email": "a@example.com"})).await;
    app.create_lead(json!({"email": "b@example.com"})).await;
    assert_eq!(app.events().await.len(), 2, "read, so numbered 1 and 2");
    let removed = app
        .store
        .prune_events(leadflow::domain::now_ms() + 1)
        .await
        .unwrap();
    assert_eq!(removed, 2);
    assert!(app.events().await.is_empty());
    app.create_lead(json!({"email": "c@example.com"})).await;
    let events = app.events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["sequence"], json!(3), "numbers are never reused");
    // Pruning keeps what is newer than the cutoff.
    assert_eq!(app.store.prune_events(0).await.unwrap(), 0);
    assert_eq!(app.events().await.len(), 1);
}

/// Writers race while a reader follows the feed a few events at a time:
/// the reader sees every event once, numbered without a gap, and nothing
/// it saw is ever followed by an event numbered lower (on PostgreSQL a
/// sequence's numbers would not give this: they are taken in start order,
/// and a later number can commit first).
#[tokio::test]
async fn a_reader_following_the_cursor_during_concurrent_writes_misses_nothing() {
    let app = spawn_app().await;
    let app = std::sync::Arc::new(app);
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let app = app.clone();
            tokio::spawn(async move {
                for i in 0..15 {
                    let r = app
                        .post(
                            "/v1/leads",
                            json!({"email": format!("w{w}-{i}@example.com")}),
                        )
                        .await;
                    r.assert_ok(201);
                }
            })
        })
        .collect();
    let reader = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut cursor = "0".to_owned();
            while seen.len() < 120 {
                let r = app.get(&format!("/v1/events?after={cursor}&limit=3")).await;
                for e in r.assert_ok(200).as_array().unwrap() {
                    seen.push(e["sequence"].as_i64().unwrap());
                }
                cursor = r.body["pagination"]["nextCursor"]
                    .as_str()
                    .unwrap()
                    .to_owned();
            }
            seen
        })
    };
    for w in writers {
        w.await.unwrap();
    }
    let seen = reader.await.unwrap();
    assert_eq!(seen, (1..=120).collect::<Vec<i64>>());
    let emails: BTreeSet<String> = app
        .events()
        .await
        .iter()
        .map(|e| e["data"]["leadIds"][0].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(emails.len(), 120, "one event per lead created");
}
