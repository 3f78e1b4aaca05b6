//! Citus (`scripts/with-citus`): migrating distributes the schema by
//! workspace, again and again without harm, and every request of a
//! workspace runs on that workspace's shard. On plain PostgreSQL the same
//! migration distributes nothing.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, csv_form, leads, pg_connect, spawn_app, spawn_app_with};

fn on_citus() -> bool {
    std::env::var_os("LEADFLOW_TEST_CITUS").is_some()
}

/// How Citus holds each of leadflow's tables: `h` distributed (by the
/// column named), `n` a reference table; with their co-location group.
async fn placement(db: &str) -> Vec<(String, String, Option<String>, i32)> {
    let pg = pg_connect(db).await;
    pg.query(
        r"select c.relname::text, p.partmethod::text,
           case when p.partmethod = 'h' then a.attname::text end, p.colocationid
         from pg_dist_partition p join pg_class c on c.oid = p.logicalrelid
         left join pg_attribute a on a.attrelid = p.logicalrelid and a.attnum = (
           select (regexp_match(p.partkey, ':varattno (\d+)'))[1]::int)
         where c.relnamespace = current_schema()::regnamespace order by 1",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

#[tokio::test]
async fn migrating_distributes_the_schema_by_workspace_once_and_later_ddl_still_works() {
    let app = spawn_app().await;
    let db = app.database_url.clone();
    if !on_citus() {
        // Plain PostgreSQL: no Citus catalog, nothing distributed.
        let pg = pg_connect(&db).await;
        let citus: bool = pg
            .query_one(
                "select exists (select 1 from pg_extension where extname = 'citus')",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(!citus);
        return;
    }
    let first = placement(&db).await;
    let by_name = |name: &str| {
        first
            .iter()
            .find(|t| t.0 == name)
            .unwrap_or_else(|| panic!("{name} is not distributed: {first:?}"))
            .clone()
    };
    for table in [
        "users",
        "workspaces",
        "api_keys",
        "idempotency_keys",
        "console_sessions",
    ] {
        assert_eq!(by_name(table).1, "n", "{table} is a reference table");
    }
    let group = by_name("leads").3;
    for table in [
        "leads",
        "campaigns",
        "campaign_leads",
        "dnc_entries",
        "workspace_members",
        "campaign_counts",
        "lead_totals",
        "event_counters",
        "events",
        "webhooks",
        "webhook_deliveries",
        "jobs",
        "import_rows",
    ] {
        let t = by_name(table);
        assert_eq!(
            (t.1.as_str(), t.2.as_deref(), t.3),
            ("h", Some("workspace_id"), group),
            "{table} is distributed by workspace_id, co-located with leads"
        );
    }
    assert_eq!(first.len(), 18, "{first:?}");

    // Migrating again (a second server starting) changes nothing.
    let mut again = leadflow::config::Config::new(
        "127.0.0.1:0",
        leadflow::config::DatabaseUrl::new(db.clone()),
    );
    again.db_max_connections = 2;
    let second = leadflow::startup::Application::build(&again).await.unwrap();
    assert_eq!(second.store().migrations_applied(), 0);
    assert_eq!(placement(&db).await, first);

    // What later migrations do works on the distributed tables (a
    // statement at a time, as leadflow runs them).
    let pg = pg_connect(&db).await;
    for statement in [
        "alter table leads add column lead_score integer not null default 0",
        "create index leads_score on leads (workspace_id, lead_score)",
        "alter table campaign_leads add column step integer",
    ] {
        pg.batch_execute(statement).await.unwrap();
    }
    app.create_leads(leads("later", 3)).await;
    assert_eq!(app.lead_total().await, 3);
}

/// A workspace's requests, every kind the API has, with Citus told to
/// refuse any statement that would run on more than one shard: each one is
/// routed whole to the workspace's shard.
#[tokio::test]
async fn every_workspace_request_runs_on_one_shard() {
    let app = spawn_app_with(|config| {
        if on_citus() {
            let url = config.database_url.expose().replacen(
                "options=",
                "options=-ccitus.multi_task_query_log_level%3Derror%20",
                1,
            );
            config.database_url = leadflow::config::DatabaseUrl::new(url);
        }
    })
    .await;
    workload(&app).await;
}

/// Exercises every workspace route, checking each answer's counts.
async fn workload(app: &TestApp) {
    let c = app.create_campaign("C").await;
    let ids = app.create_leads(leads("w", 20)).await;
    // A selection add with no do-not-contact list (its own statement).
    let first = app.create_campaign("First").await;
    let d = app
        .add(&first, json!({"filters": {"search": "w"}}))
        .await
        .assert_ok(200)
        .clone();
    assert_eq!(
        (d["matched"].as_u64(), d["added"].as_u64()),
        (Some(20), Some(20)),
        "{d}"
    );
    // The other-campaign rule without a do-not-contact list: every lead
    // is pending in `first`, so nothing joins.
    for body in [
        json!({"leads": [{"leadId": ids[0]}], "skipIfInOtherCampaign": true}),
        json!({"selectAll": true, "skipIfInOtherCampaign": true, "dryRun": true}),
        json!({"selectAll": true, "skipIfInOtherCampaign": true}),
    ] {
        let r = app.add(&c, body).await;
        let d = r.assert_ok(200);
        assert_eq!(
            (d["added"].as_u64(), d["inOtherCampaign"].as_u64()),
            (Some(0), d["skipped"].as_u64()),
            "{d}"
        );
    }
    app.post(
        "/v1/dnc",
        json!({"entries": [{"type": "email", "value": "w1@example.com"},
                           {"type": "domain", "value": "blocked.test"}]}),
    )
    .await
    .assert_ok(200);
    // The three add modes, their dry runs, and the seed page's example.
    let r = app
        .add(
            &c,
            json!({"leads": [{"leadId": ids[0]}, {"email": "new@example.com", "firstName": "N"},
                             {"email": "x@blocked.test"}, {"leadId": "665d4e5f6a7b8c9d0e1f2a3b"}]}),
        )
        .await;
    let d = r.assert_ok(200);
    assert_eq!(
        (d["added"].as_u64(), d["blocked"].as_u64()),
        (Some(2), Some(1)),
        "{d}"
    );
    for body in [
        json!({"selectAll": true, "excludeIds": [ids[2]], "dryRun": true}),
        json!({"filters": {"search": "w1", "emailStatus": ["unverified"]}, "dryRun": true}),
        json!({"leads": [{"leadId": ids[3]}], "dryRun": true}),
    ] {
        app.add(&c, body).await.assert_ok(200);
    }
    let d = app
        .add(&c, json!({"filters": {"search": "w1"}}))
        .await
        .assert_ok(200)
        .clone();
    assert_eq!(d["blocked"].as_u64(), Some(1), "{d}");
    let d = app
        .add(&c, json!({"selectAll": true, "excludeIds": [ids[2]]}))
        .await
        .assert_ok(200)
        .clone();
    assert_eq!(
        d["added"].as_u64().unwrap() + d["skipped"].as_u64().unwrap(),
        d["matched"].as_u64().unwrap()
    );
    // The rule with the list: each mode and its dry run.
    let third = app.create_campaign("Third").await;
    for body in [
        json!({"leads": [{"leadId": ids[5]}, {"email": "x@blocked.test"}], "dryRun": true}),
        json!({"leads": [{"leadId": ids[5]}, {"email": "x@blocked.test"}]}),
        json!({"filters": {"search": "w"}, "dryRun": true}),
        json!({"filters": {"search": "w"}}),
        json!({"selectAll": true, "dryRun": true}),
        json!({"selectAll": true}),
    ] {
        let mut body = body;
        body["skipIfInOtherCampaign"] = json!(true);
        let r = app.add(&third, body).await;
        let d = r.assert_ok(200);
        assert_eq!(d["added"].as_u64(), Some(0), "{d}");
        assert!(d["inOtherCampaign"].as_u64().unwrap() >= 1, "{d}");
        assert!(d["blocked"].as_u64().unwrap() >= 1, "{d}");
    }
    // Explained dry runs of the three modes.
    for body in [
        json!({"leads": [{"leadId": ids[5]}, {"leadId": ids[5]}, {"email": "x@blocked.test"}]}),
        json!({"filters": {"search": "w"}}),
        json!({"selectAll": true}),
    ] {
        let mut body = body;
        body["skipIfInOtherCampaign"] = json!(true);
        body["dryRun"] = json!(true);
        body["explain"] = json!(true);
        let r = app.add(&third, body).await;
        let d = r.assert_ok(200);
        let other = &d["explain"]["inOtherCampaign"];
        assert_eq!(other["count"], d["inOtherCampaign"], "{d}");
        assert!(other["examples"][0]["campaignId"].is_string(), "{d}");
    }
    // Moves and copies: by lead ID and select-all, explained dry runs.
    let fourth = app.create_campaign("Fourth").await;
    for body in [
        json!({"toCampaignId": fourth, "leadIds": [ids[6], ids[7]], "dryRun": true, "explain": true}),
        json!({"toCampaignId": fourth, "leadIds": [ids[6], ids[7]], "copy": true, "status": "keep"}),
        json!({"toCampaignId": fourth, "selectAll": true, "filters": {"search": "w1"}, "dryRun": true, "explain": true}),
        json!({"toCampaignId": fourth, "selectAll": true}),
    ] {
        let r = app
            .post(&format!("/v1/campaigns/{first}/leads/move"), body)
            .await;
        let d = r.assert_ok(200);
        assert_eq!(
            d["matched"].as_u64(),
            Some(
                d["moved"].as_u64().or(d["copied"].as_u64()).unwrap()
                    + d["skipped"].as_u64().unwrap()
            ),
            "{d}"
        );
    }
    // Left behind: w1 (blocked), w6 and w7 (copied before, so already in
    // the target).
    assert_eq!(app.campaign_lead_total(&first).await, 3);
    // Reads: lists with filters, search and cursors, campaigns and counts.
    assert_eq!(app.all("/v1/leads?limit=7").await.len(), 22);
    app.get("/v1/leads?search=w1&tags=x&country=US&emailVerified=false")
        .await
        .assert_ok(200);
    app.get(&format!("/v1/leads/{}", ids[4]))
        .await
        .assert_ok(200);
    app.get(&format!("/v1/campaigns/{c}")).await.assert_ok(200);
    app.get("/v1/campaigns?status=draft&search=C")
        .await
        .assert_ok(200);
    assert_eq!(
        app.campaign_lead_total(&c).await,
        app.all(&format!("/v1/campaigns/{c}/leads?status=pending"))
            .await
            .len() as i64
    );
    app.get("/v1/dnc").await.assert_ok(200);
    // Writes: a lead, campaign states and member actions, imports, deletes.
    app.patch(&format!("/v1/leads/{}", ids[4]), json!({"tags": ["t"]}))
        .await
        .assert_ok(200);
    for step in ["start", "pause", "resume"] {
        app.post(&format!("/v1/campaigns/{c}/{step}"), json!({}))
            .await
            .assert_ok(200);
    }
    let members = app.all(&format!("/v1/campaigns/{c}/leads")).await;
    let member = members[0]["_id"].as_str().unwrap();
    app.post(
        &format!("/v1/campaigns/{c}/leads/action"),
        json!({"action": "pause", "leadIds": [member]}),
    )
    .await
    .assert_ok(200);
    app.post(
        &format!("/v1/campaigns/{c}/leads/action"),
        json!({"action": "resume", "selectAll": true, "filters": {"search": "w"}}),
    )
    .await
    .assert_ok(200);
    let r = app
        .import(csv_form(
            "email,first_name\nimp1@example.com,A\nimp2@example.com,B\n",
            &[("campaignId", &c)],
        ))
        .await;
    r.assert_ok(200);
    app.delete(&format!("/v1/leads/{}", ids[5]))
        .await
        .assert_ok(200);
    for body in [
        json!({"leadIds": [ids[6]]}),
        json!({"deleteAll": true, "filters": {"search": "w1"}}),
    ] {
        app.call(Method::DELETE, "/v1/leads", Some(body))
            .await
            .assert_ok(200);
    }
    let dnc = app.all("/v1/dnc").await;
    app.call(
        Method::DELETE,
        "/v1/dnc",
        Some(json!({"ids": [dnc[0]["_id"]]})),
    )
    .await
    .assert_ok(200);
    app.delete(&format!("/v1/campaigns/{c}"))
        .await
        .assert_ok(200);
}
