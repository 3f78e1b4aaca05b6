//! Background jobs: `"async": true` on a filter or select-all add, `GET
//! /v1/jobs/{id}`, `GET /v1/jobs`, `DELETE /v1/jobs/{id}`; chunks of one
//! transaction each, resumed after a crash with exact counts.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, csv_form, leads, spawn_app_with};

/// A server whose jobs go in chunks of `chunk` leads, with `pause` after
/// each, one running per workspace at most when `one_at_a_time`.
async fn job_app(chunk: usize, pause_ms: u64, one_at_a_time: bool) -> TestApp {
    spawn_app_with(|c| {
        c.jobs.chunk = chunk;
        c.jobs.poll = Duration::from_millis(20);
        c.jobs.pause = Duration::from_millis(pause_ms);
        if one_at_a_time {
            c.jobs.per_workspace = 1;
        }
    })
    .await
}

/// Starts an async add; returns the job's ID after checking the 202.
async fn start(app: &TestApp, campaign: &str, body: Value) -> String {
    accepted(app.add(campaign, body).await)
}

/// The job of a 202, after checking its status and `Location`.
fn accepted(r: crate::helpers::Resp) -> String {
    let data = r.assert_ok(202).clone();
    let id = data["jobId"].as_str().unwrap().to_owned();
    assert_eq!(data["status"], json!("queued"));
    assert_eq!(
        r.headers.get("location").unwrap().to_str().unwrap(),
        format!("/v1/jobs/{id}")
    );
    id
}

/// Polls the job until `done(job)` (20 s at most).
async fn until(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..2000 {
        let job = app
            .get(&format!("/v1/jobs/{id}"))
            .await
            .assert_ok(200)
            .clone();
        if done(&job) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "job {id} never got there: {}",
        app.get(&format!("/v1/jobs/{id}")).await.body
    );
}

fn finished(job: &Value) -> bool {
    matches!(
        job["status"].as_str(),
        Some("succeeded" | "failed" | "cancelled")
    )
}

/// The answer of the synchronous call, as a dry run gives it (without its
/// `dryRun` flag).
async fn expected(app: &TestApp, campaign: &str, mut body: Value) -> Value {
    body["dryRun"] = json!(true);
    let mut answer = app.add(campaign, body).await.assert_ok(200).clone();
    answer.as_object_mut().unwrap().remove("dryRun");
    answer
}

#[tokio::test]
async fn an_async_add_is_a_job_that_ends_with_the_synchronous_answer() {
    let app = job_app(7, 0, false).await;
    let ids = app.create_leads(leads("j", 50)).await;
    app.create_leads(leads("other", 5)).await;
    app.post(
        "/v1/dnc",
        json!({"entries": [{"type": "email", "value": "j3@example.com"}]}),
    )
    .await
    .assert_ok(200);
    let c = app.create_campaign("Async").await;
    app.add(
        &c,
        json!({"leads": [{"leadId": ids[0]}, {"leadId": ids[1]}]}),
    )
    .await
    .assert_ok(200);
    let before = app.events().await.len();

    for body in [
        json!({"filters": {"search": "j"}, "excludeIds": [ids[10]]}),
        json!({"selectAll": true}),
    ] {
        let want = expected(&app, &c, body.clone()).await;
        let mut asked = body.clone();
        asked["async"] = json!(true);
        let id = start(&app, &c, asked).await;
        let job = until(&app, &id, finished).await;
        assert_eq!(job["status"], json!("succeeded"), "{job}");
        assert_eq!(job["type"], json!("campaign.add_leads"));
        assert_eq!(job["data"], want, "the same answer as the synchronous call");
        assert_eq!(job["progress"]["done"], want["matched"]);
        assert_eq!(job["progress"]["total"], want["matched"]);
        assert_eq!(job["error"], Value::Null);
        assert!(job["startedAt"].is_string() && job["finishedAt"].is_string());
    }
    // Every lead is in the campaign once, the do-not-contact one not at all.
    let members = app.members(&c).await;
    assert_eq!(members.len(), 55 - 1);
    assert!(!members.contains_key("j3@example.com"));
    assert_eq!(app.campaign_lead_total(&c).await, 54);

    // One event per chunk, and job.finished with the counts.
    let events = app.events().await;
    let added: Vec<&Value> = events[before..]
        .iter()
        .filter(|e| e["type"] == json!("campaign.leads_added"))
        .collect();
    let sum: u64 = added
        .iter()
        .map(|e| e["data"]["added"].as_u64().unwrap())
        .sum();
    assert_eq!(
        sum, 52,
        "46 by filter (50 less 1 excluded, 2 members, 1 blocked), 6 by select-all (5 others and the excluded one)"
    );
    let finished: Vec<&Value> = events[before..]
        .iter()
        .filter(|e| e["type"] == json!("job.finished"))
        .collect();
    assert_eq!(finished.len(), 2);
    assert_eq!(finished[1]["data"]["status"], json!("succeeded"));
    assert_eq!(finished[1]["data"]["result"]["added"], json!(6));

    let listed = app.all("/v1/jobs").await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["data"]["added"], json!(6), "newest first");
}

#[tokio::test]
async fn async_is_refused_where_the_call_would_be_and_ignored_where_it_has_no_job() {
    let app = job_app(100, 0, false).await;
    let ids = app.create_leads(leads("r", 3)).await;
    let c = app.create_campaign("C").await;
    // Mode 1 and dry runs answer at once.
    let r = app
        .add(&c, json!({"leads": [{"leadId": ids[0]}], "async": true}))
        .await;
    assert_eq!(r.assert_ok(200)["added"], json!(1));
    let r = app
        .add(
            &c,
            json!({"selectAll": true, "async": true, "dryRun": true}),
        )
        .await;
    assert_eq!(r.assert_ok(200)["added"], json!(2));
    // A missing or archived campaign is refused before a job is queued.
    app.add(
        "665d4e5f6a7b8c9d0e1f2a3b",
        json!({"selectAll": true, "async": true}),
    )
    .await
    .assert_error(404, "NOT_FOUND");
    let archived = app.create_campaign("Gone").await;
    app.post(&format!("/v1/campaigns/{archived}/archive"), json!({}))
        .await
        .assert_ok(200);
    app.add(&archived, json!({"selectAll": true, "async": true}))
        .await
        .assert_error(409, "CONFLICT");
    app.add(&c, json!({"selectAll": true, "async": "yes"}))
        .await
        .assert_error(400, "VALIDATION_ERROR");
    assert!(app.all("/v1/jobs").await.is_empty());
    app.get("/v1/jobs/665d4e5f6a7b8c9d0e1f2a3b")
        .await
        .assert_error(404, "NOT_FOUND");

    // Another workspace's job is not found.
    let id = start(&app, &c, json!({"selectAll": true, "async": true})).await;
    let (_, other) = app.other_workspace().await;
    for method in [Method::GET, Method::DELETE] {
        app.call_as(&other, method, &format!("/v1/jobs/{id}"), None)
            .await
            .assert_error(404, "NOT_FOUND");
    }
}

#[tokio::test]
async fn a_cancelled_job_leaves_whole_chunks_and_an_archived_campaign_fails_one() {
    let app = job_app(5, 40, false).await;
    app.create_leads(leads("k", 60)).await;
    let c = app.create_campaign("C").await;
    let id = start(&app, &c, json!({"selectAll": true, "async": true})).await;
    until(&app, &id, |j| j["progress"]["done"].as_i64().unwrap() >= 10).await;
    let r = app.delete(&format!("/v1/jobs/{id}")).await;
    assert_eq!(r.assert_ok(200)["status"], json!("cancelled"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let job = app
        .get(&format!("/v1/jobs/{id}"))
        .await
        .assert_ok(200)
        .clone();
    assert_eq!(job["status"], json!("cancelled"));
    assert_eq!(job["data"], Value::Null);
    let done = job["progress"]["done"].as_i64().unwrap();
    assert!(done < 60, "stopped early: {job}");
    assert_eq!(done % 5, 0, "whole chunks: {job}");
    assert_eq!(app.campaign_lead_total(&c).await, done);
    assert_eq!(app.members(&c).await.len() as i64, done);
    app.delete(&format!("/v1/jobs/{id}"))
        .await
        .assert_error(409, "CONFLICT");
    let last = app.events().await.pop().unwrap();
    assert_eq!(last["type"], json!("job.finished"));
    assert_eq!(last["data"]["status"], json!("cancelled"));

    // The campaign is archived while a job adds to it: the job fails, with
    // the reason, and keeps its whole chunks.
    let c2 = app.create_campaign("Archived midway").await;
    let id = start(&app, &c2, json!({"selectAll": true, "async": true})).await;
    until(&app, &id, |j| j["progress"]["done"].as_i64().unwrap() >= 5).await;
    app.post(&format!("/v1/campaigns/{c2}/archive"), json!({}))
        .await
        .assert_ok(200);
    let job = until(&app, &id, finished).await;
    assert_eq!(job["status"], json!("failed"), "{job}");
    assert!(job["error"].as_str().unwrap().contains("archived"), "{job}");
    assert_eq!(
        app.campaign_lead_total(&c2).await,
        job["progress"]["done"].as_i64().unwrap()
    );
}

#[tokio::test]
async fn one_workspace_runs_its_jobs_in_turn_while_another_goes_on() {
    let app = job_app(5, 20, true).await;
    app.create_leads(leads("t", 40)).await;
    let (a, b) = (
        app.create_campaign("A").await,
        app.create_campaign("B").await,
    );
    let first = start(&app, &a, json!({"selectAll": true, "async": true})).await;
    let second = start(&app, &b, json!({"selectAll": true, "async": true})).await;
    // Another workspace's job runs while this one's wait.
    let (_, key) = app.other_workspace().await;
    app.call_as(
        &key,
        Method::POST,
        "/v1/leads/bulk",
        Some(json!({"leads": leads("o", 10)})),
    )
    .await
    .assert_ok(200);
    let r = app
        .call_as(
            &key,
            Method::POST,
            "/v1/campaigns",
            Some(json!({"name": "Theirs"})),
        )
        .await;
    let theirs = r.assert_ok(201)["_id"].as_str().unwrap().to_owned();
    let r = app
        .call_as(
            &key,
            Method::POST,
            &format!("/v1/campaigns/{theirs}/leads"),
            Some(json!({"selectAll": true, "async": true})),
        )
        .await;
    let their_job = r.assert_ok(202)["jobId"].as_str().unwrap().to_owned();
    let mut their_done_while_ours_ran = false;
    let mut both_ran = false;
    loop {
        let s = |id: &str| {
            let app = &app;
            let id = id.to_owned();
            async move {
                app.get(&format!("/v1/jobs/{id}"))
                    .await
                    .assert_ok(200)
                    .clone()
            }
        };
        let (x, y) = (s(&first).await, s(&second).await);
        if x["status"] == json!("running") && y["status"] == json!("running") {
            both_ran = true;
        }
        let t = app
            .call_as(&key, Method::GET, &format!("/v1/jobs/{their_job}"), None)
            .await;
        if t.data()["status"] == json!("succeeded") && !finished(&y) {
            their_done_while_ours_ran = true;
        }
        if finished(&x) && finished(&y) {
            assert_eq!(x["status"], json!("succeeded"));
            assert_eq!(y["status"], json!("succeeded"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!both_ran, "one job of the workspace at a time");
    assert!(
        their_done_while_ours_ran,
        "the other workspace did not wait"
    );
    assert_eq!(app.campaign_lead_total(&a).await, 40);
    assert_eq!(app.campaign_lead_total(&b).await, 40);
}

/// leadflow is killed with -9 while a job runs; the next server takes the
/// job up from its last whole chunk and its counts are exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_killed_midway_resumes_and_counts_each_lead_once() {
    use crate::helpers::Server;
    use std::process::Stdio;

    let dir = tempfile::tempdir().unwrap();
    let db = crate::helpers::fresh_database_url(dir.path()).await;
    let key = crate::helpers::cli_workspace_key(&db, "Jobs");
    let flags = [
        "--job-chunk",
        "50",
        "--job-chunk-pause-ms",
        "25",
        "--job-lease-secs",
        "1",
    ];
    let client = leadflow::client::http_client();
    let call = |server: &Server, method: Method, path: &str, body: Option<Value>| {
        let mut req = client
            .request(method, server.url(path))
            .header("x-api-key", &key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };

    let mut server = Server::start(&db, &flags, Stdio::null(), Stdio::null());
    server.wait_healthy().await;
    for batch in 0..2 {
        let (status, _) = call(
            &server,
            Method::POST,
            "/v1/leads/bulk",
            Some(json!({"leads": leads(&format!("b{batch}-"), 1000)})),
        )
        .await;
        assert_eq!(status, 200);
    }
    let (_, c) = call(
        &server,
        Method::POST,
        "/v1/campaigns",
        Some(json!({"name": "C"})),
    )
    .await;
    let c = c["data"]["_id"].as_str().unwrap().to_owned();
    // Some members already: they count as alreadyInCampaign, once.
    let (_, some) = call(&server, Method::GET, "/v1/leads?limit=30", None).await;
    let first: Vec<Value> = some["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| json!({"leadId": l["_id"]}))
        .collect();
    let (status, _) = call(
        &server,
        Method::POST,
        &format!("/v1/campaigns/{c}/leads"),
        Some(json!({"leads": first})),
    )
    .await;
    assert_eq!(status, 200);
    // The leads made so far (the import below makes more, which a job
    // still running would add: it is not one snapshot).
    tokio::time::sleep(Duration::from_millis(5)).await;
    let before = leadflow::domain::format_time(leadflow::domain::now_ms());
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (status, job) = call(
        &server,
        Method::POST,
        &format!("/v1/campaigns/{c}/leads"),
        Some(json!({"filters": {"createdBefore": before}, "async": true})),
    )
    .await;
    assert_eq!(status, 202);
    let id = job["data"]["jobId"].as_str().unwrap().to_owned();
    let job_path = format!("/v1/jobs/{id}");
    // An import beside it: 2,500 rows, 500 of them leads that exist.
    let mut csv = String::from("email\n");
    for i in 500..2_000 {
        csv.push_str(&format!("b1-{i}@example.com\n"));
    }
    for i in 0..1_000 {
        csv.push_str(&format!("imported{i}@example.com\n"));
    }
    let form = csv_form(csv, &[("async", "true")]);
    let r = client
        .post(server.url("/v1/leads/import/csv"))
        .header("x-api-key", &key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let import: Value = r.json().await.unwrap();
    let import_path = format!("/v1/jobs/{}", import["data"]["jobId"].as_str().unwrap());
    for _ in 0..2000 {
        let (_, j) = call(&server, Method::GET, &job_path, None).await;
        if j["data"]["progress"]["done"].as_i64().unwrap() >= 400 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let server = Server::start(&db, &flags, Stdio::null(), Stdio::null());
    server.wait_healthy().await;
    let (_, stopped) = call(&server, Method::GET, &job_path, None).await;
    let at_kill = stopped["data"]["progress"]["done"].as_i64().unwrap();
    assert!((400..2000).contains(&at_kill), "killed midway: {stopped}");
    assert_eq!(at_kill % 50, 0, "whole chunks");
    let (_, stopped) = call(&server, Method::GET, &import_path, None).await;
    let at_kill = stopped["data"]["progress"]["done"].as_i64().unwrap();
    assert!(at_kill < 2_500, "the import was killed midway: {stopped}");
    assert_eq!(at_kill % 50, 0, "whole chunks");
    let mut job = Value::Null;
    for _ in 0..2000 {
        let (_, j) = call(&server, Method::GET, &job_path, None).await;
        job = j["data"].clone();
        if finished(&job) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(job["status"], json!("succeeded"), "{job}");
    assert_eq!(
        job["data"],
        json!({"added": 1970, "skipped": 30, "matched": 2000, "blocked": 0,
               "alreadyInCampaign": 30, "inOtherCampaign": 0}),
        "each lead counted once"
    );
    assert_eq!(job["progress"], json!({"done": 2000, "total": 2000}));
    let (_, members) = call(
        &server,
        Method::GET,
        &format!("/v1/campaigns/{c}/leads?limit=1"),
        None,
    )
    .await;
    assert_eq!(members["pagination"]["total"], json!(2000));

    // The import, killed with it, resumed too and counted each row once.
    let mut import = Value::Null;
    for _ in 0..2000 {
        let (_, j) = call(&server, Method::GET, &import_path, None).await;
        import = j["data"].clone();
        if finished(&import) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(import["status"], json!("succeeded"), "{import}");
    let data = &import["data"];
    assert_eq!(
        (&data["rows"], &data["imported"], &data["skipped"]),
        (&json!(2_500), &json!(2_000), &json!(500)),
        "{import}"
    );
    assert_eq!(import["progress"], json!({"done": 2_500, "total": 2_500}));
    let (_, all) = call(&server, Method::GET, "/v1/leads?limit=1", None).await;
    assert_eq!(all["pagination"]["total"], json!(4_000));
}

#[tokio::test]
async fn an_async_delete_by_filter_is_a_job_that_ends_with_the_synchronous_answer() {
    let app = job_app(4, 0, false).await;
    let doomed = app.create_leads(leads("gone", 30)).await;
    app.create_leads(leads("kept", 5)).await;
    let c = app.create_campaign("C").await;
    app.add(&c, json!({"selectAll": true})).await.assert_ok(200);
    let r = app
        .call(
            Method::DELETE,
            "/v1/leads",
            Some(json!({"deleteAll": true, "filters": {"search": "gone"},
                        "excludeIds": [doomed[0]], "async": true})),
        )
        .await;
    let id = r.assert_ok(202)["jobId"].as_str().unwrap().to_owned();
    assert_eq!(
        r.headers.get("location").unwrap().to_str().unwrap(),
        format!("/v1/jobs/{id}")
    );
    let job = until(&app, &id, finished).await;
    assert_eq!(job["status"], json!("succeeded"), "{job}");
    assert_eq!(job["type"], json!("leads.delete"));
    assert_eq!(job["data"], json!({"deletedCount": 29}));
    assert_eq!(job["progress"], json!({"done": 29, "total": 29}));
    assert_eq!(app.lead_total().await, 6);
    assert_eq!(app.campaign_lead_total(&c).await, 6);
    let left = app.all("/v1/leads").await;
    assert_eq!(left.len(), 6);
    assert!(left.iter().any(|l| l["_id"] == json!(doomed[0])));

    // By IDs, it answers at once.
    let r = app
        .call(
            Method::DELETE,
            "/v1/leads",
            Some(json!({"leadIds": [doomed[0]], "async": true})),
        )
        .await;
    assert_eq!(r.assert_ok(200), &json!({"deletedCount": 1}));
    let events = app.events().await;
    let deleted: u64 = events
        .iter()
        .filter(|e| e["type"] == json!("lead.deleted"))
        .map(|e| e["data"]["count"].as_u64().unwrap())
        .sum();
    assert_eq!(
        deleted, 30,
        "one event per chunk, and one for the last delete"
    );
}

#[tokio::test]
async fn an_async_move_or_copy_is_a_job_that_ends_with_the_synchronous_answer() {
    let app = job_app(3, 0, false).await;
    let ids = app.create_leads(leads("m", 20)).await;
    let (from, to) = (
        app.create_campaign("From").await,
        app.create_campaign("To").await,
    );
    app.add(&from, json!({"selectAll": true}))
        .await
        .assert_ok(200);
    app.add(
        &to,
        json!({"leads": [{"leadId": ids[0]}, {"leadId": ids[1]}]}),
    )
    .await
    .assert_ok(200);
    let move_path = format!("/v1/campaigns/{from}/leads/move");
    let body = json!({"toCampaignId": to, "selectAll": true, "excludeIds": [ids[5]], "copy": true});
    let mut dry = body.clone();
    dry["dryRun"] = json!(true);
    let mut want = app.post(&move_path, dry).await.assert_ok(200).clone();
    want.as_object_mut().unwrap().remove("dryRun");
    let mut asked = body.clone();
    asked["async"] = json!(true);
    let r = app.post(&move_path, asked).await;
    let id = r.assert_ok(202)["jobId"].as_str().unwrap().to_owned();
    let job = until(&app, &id, finished).await;
    assert_eq!(job["status"], json!("succeeded"), "{job}");
    assert_eq!(job["type"], json!("campaign.move_leads"));
    assert_eq!(job["data"], want, "the same answer as the synchronous call");
    assert_eq!(job["data"]["copied"], json!(17));
    assert_eq!(app.campaign_lead_total(&to).await, 19);
    assert_eq!(
        app.campaign_lead_total(&from).await,
        20,
        "a copy leaves them"
    );

    // A move, async: they leave the source, but for the excluded one.
    let third = app.create_campaign("Third").await;
    let r = app
        .post(
            &move_path,
            json!({"toCampaignId": third, "selectAll": true, "excludeIds": [ids[5]], "async": true}),
        )
        .await;
    let id = r.assert_ok(202)["jobId"].as_str().unwrap().to_owned();
    let job = until(&app, &id, finished).await;
    assert_eq!(job["data"]["moved"], json!(19), "{job}");
    assert_eq!(job["progress"], json!({"done": 19, "total": 19}));
    assert_eq!(app.campaign_lead_total(&from).await, 1);
    assert_eq!(app.campaign_lead_total(&third).await, 19);

    // Refused before a job is queued: an archived target.
    app.post(&format!("/v1/campaigns/{third}/archive"), json!({}))
        .await
        .assert_ok(200);
    app.post(
        &move_path,
        json!({"toCampaignId": third, "selectAll": true, "async": true}),
    )
    .await
    .assert_error(409, "CONFLICT");
    assert_eq!(app.all("/v1/jobs").await.len(), 2);
}

// ---- Asynchronous CSV imports ----------------------------------------------

/// Starts an async import; returns the job's ID after checking the 202.
async fn start_import(app: &TestApp, csv: String, parts: &[(&str, &str)]) -> String {
    let mut parts = parts.to_vec();
    parts.push(("async", "true"));
    accepted(app.import(csv_form(csv, &parts)).await)
}

/// The same workspace twice: some leads, a campaign with members, a
/// do-not-contact entry. Returns the campaign.
async fn import_setup(app: &TestApp) -> String {
    app.create_leads(leads("old", 10)).await;
    let c = app.create_campaign("Imports").await;
    app.add(
        &c,
        json!({"leads": [{"email": "old0@example.com"}, {"email": "old1@example.com"}]}),
    )
    .await
    .assert_ok(200);
    app.post(
        "/v1/dnc",
        json!({"entries": [{"type": "email", "value": "new3@example.com"}]}),
    )
    .await
    .assert_ok(200);
    c
}

/// Every lead of the workspace: email → (first name, tags).
async fn lead_fields(app: &TestApp) -> std::collections::BTreeMap<String, (Value, Value)> {
    app.all("/v1/leads")
        .await
        .iter()
        .map(|l| {
            (
                l["email"].as_str().unwrap().to_owned(),
                (l["firstName"].clone(), l["tags"].clone()),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_async_import_is_a_job_that_ends_with_the_synchronous_answer() {
    // A file of new leads, existing ones, repeats and bad rows.
    let mut csv = String::from("Email,First Name\n");
    for i in 0..40 {
        csv.push_str(&format!("new{i}@example.com,New {i}\n"));
        if i % 4 == 0 {
            csv.push_str(&format!("old{},Old again\n", i / 4));
            csv.push_str(&format!("old{}@example.com,Old {i}\n", i / 4));
        }
        if i % 9 == 0 {
            csv.push_str(&format!("new{i}@example.com,Repeat\n"));
        }
    }
    let parts = |c: &str| {
        vec![
            ("campaignId", c.to_owned()),
            ("skipDuplicates", "false".to_owned()),
            ("tag", "fair".to_owned()),
        ]
    };

    let sync = crate::helpers::spawn_app().await;
    let sync_c = import_setup(&sync).await;
    let p = parts(&sync_c);
    let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut want = sync
        .import(csv_form(csv.clone(), &p))
        .await
        .assert_ok(200)
        .clone();

    // Chunks of 7 rows.
    let app = job_app(7, 0, false).await;
    let c = import_setup(&app).await;
    let p = parts(&c);
    let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let before = app.events().await.len();
    let id = start_import(&app, csv, &p).await;
    let job = until(&app, &id, finished).await;
    assert_eq!(job["status"], json!("succeeded"), "{job}");
    assert_eq!(job["type"], json!("leads.import"));
    let mut got = job["data"].clone();
    // The same answer, but for the new leads' IDs (two databases).
    let ids = |d: &mut Value| d["importedLeadIds"].take().as_array().unwrap().len();
    assert_eq!(ids(&mut got), ids(&mut want));
    got["campaign"]["campaignId"] = Value::Null;
    want["campaign"]["campaignId"] = Value::Null;
    assert_eq!(got, want, "the same answer as the synchronous import");
    assert_eq!(got["imported"], json!(40));
    assert_eq!(got["updated"], json!(10));
    assert_eq!(got["failed"], json!(10));
    assert_eq!(got["campaign"]["added"], json!(47));
    assert_eq!(
        job["progress"],
        json!({"done": 50, "total": 50}),
        "one row per email"
    );
    // The same leads and members.
    assert_eq!(lead_fields(&app).await, lead_fields(&sync).await);
    assert_eq!(app.members(&c).await, sync.members(&sync_c).await);

    // The feed names every lead created, a chunk's worth an event, and
    // the import's end once, with its job.
    let events = app.events().await;
    let created: Vec<String> = events[before..]
        .iter()
        .filter(|e| e["type"] == json!("lead.created"))
        .flat_map(|e| e["data"]["leadIds"].as_array().unwrap().clone())
        .map(|i| i.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(created.len(), 40);
    let completed: Vec<&Value> = events[before..]
        .iter()
        .filter(|e| e["type"] == json!("import.completed"))
        .collect();
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0]["data"]["jobId"], json!(id));
    assert_eq!(completed[0]["data"]["imported"], json!(40));
    assert_eq!(completed[0]["data"]["campaign"]["added"], json!(47));
    let key = leadflow::domain::id::ObjectId::parse(&app.workspace_id)
        .unwrap()
        .key;
    let staged = app
        .query_db(
            "select count(*) from import_rows where workspace_id = $1",
            key,
        )
        .await;
    assert_eq!(staged[0][0], 0, "an import's rows go with its chunks");
}

#[tokio::test]
async fn an_async_import_takes_more_rows_than_the_synchronous_limit() {
    let app = job_app(10_000, 0, false).await;
    let c = app.create_campaign("Big").await;
    let mut csv = String::from("email,company\n");
    for i in 0..60_000 {
        csv.push_str(&format!("big{i}@example.com,Company {}\n", i % 13));
    }
    // Synchronously: refused, pointing at async.
    let r = app.import(csv_form(csv.clone(), &[])).await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.message().contains("async=true"), "{}", r.message());
    assert_eq!(app.lead_total().await, 0);

    let before = app.events().await.len();
    let id = start_import(&app, csv, &[("campaignId", &c)]).await;
    let job = until(&app, &id, finished).await;
    assert_eq!(job["status"], json!("succeeded"), "{job}");
    let data = &job["data"];
    assert_eq!(data["rows"], json!(60_000));
    assert_eq!(data["imported"], json!(60_000));
    assert_eq!(data["campaign"]["added"], json!(60_000));
    assert_eq!(data["importedLeadIds"].as_array().unwrap().len(), 5_000);
    assert_eq!(job["progress"], json!({"done": 60_000, "total": 60_000}));
    assert_eq!(app.lead_total().await, 60_000);
    assert_eq!(app.campaign_lead_total(&c).await, 60_000);
    // Chunks of 5,000 rows: each `lead.created` names all its leads.
    let events = app.events().await;
    let mut created = std::collections::HashSet::new();
    for e in events[before..]
        .iter()
        .filter(|e| e["type"] == json!("lead.created"))
    {
        assert_eq!(e["data"]["count"], json!(5_000), "{e}");
        for id in e["data"]["leadIds"].as_array().unwrap() {
            assert!(created.insert(id.as_str().unwrap().to_owned()));
        }
    }
    assert_eq!(created.len(), 60_000);
    for listed in data["importedLeadIds"].as_array().unwrap() {
        assert!(created.contains(listed.as_str().unwrap()));
    }
}

#[tokio::test]
async fn an_async_import_refused_while_its_file_is_read_leaves_nothing() {
    let app = job_app(1_000, 0, false).await;
    let key = leadflow::domain::id::ObjectId::parse(&app.workspace_id)
        .unwrap()
        .key;
    // 3,000 good rows (staged by then), then bad ones past 1,000,000.
    let mut csv = String::from("email\n");
    for i in 0..3_000 {
        csv.push_str(&format!("early{i}@example.com\n"));
    }
    csv.push_str(&"x\n".repeat(1_000_001 - 3_000));
    let r = app.import(csv_form(csv, &[("async", "true")])).await;
    r.assert_error(400, "VALIDATION_ERROR");
    assert!(r.message().contains("1000000 rows"), "{}", r.message());

    // Not a CSV, and a campaign that does not exist: refused at once.
    let r = app
        .import(csv_form("name\nJane\n", &[("async", "true")]))
        .await;
    r.assert_error(400, "VALIDATION_ERROR");
    let gone = app.create_campaign("Gone").await;
    app.call(Method::DELETE, &format!("/v1/campaigns/{gone}"), None)
        .await
        .assert_ok(200);
    let r = app
        .import(csv_form(
            "email\na@example.com\n",
            &[("async", "true"), ("campaignId", &gone)],
        ))
        .await;
    r.assert_error(404, "NOT_FOUND");

    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(app.lead_total().await, 0);
    assert!(app.all("/v1/jobs").await.is_empty());
    for table in ["import_rows", "jobs"] {
        let n = app
            .query_db(
                &format!("select count(*) from {table} where workspace_id = $1"),
                key,
            )
            .await;
        assert_eq!(n[0][0], 0, "{table}");
    }

    // A cancelled import keeps its whole chunks and drops the rest.
    let slow = job_app(7, 200, false).await;
    let mut csv = String::from("email\n");
    for i in 0..100 {
        csv.push_str(&format!("c{i}@example.com\n"));
    }
    let id = start_import(&slow, csv, &[]).await;
    until(&slow, &id, |j| j["progress"]["done"].as_i64().unwrap() >= 7).await;
    let cancelled = slow
        .call(Method::DELETE, &format!("/v1/jobs/{id}"), None)
        .await
        .assert_ok(200)
        .clone();
    assert_eq!(cancelled["status"], json!("cancelled"));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let job = slow
        .get(&format!("/v1/jobs/{id}"))
        .await
        .assert_ok(200)
        .clone();
    let done = job["progress"]["done"].as_i64().unwrap();
    assert_eq!(done % 7, 0, "whole chunks: {job}");
    assert_eq!(slow.lead_total().await, done);
    let key = leadflow::domain::id::ObjectId::parse(&slow.workspace_id)
        .unwrap()
        .key;
    let staged = slow
        .query_db(
            "select count(*) from import_rows where workspace_id = $1",
            key,
        )
        .await;
    assert_eq!(staged[0][0], 0);
}

/// A server that died while reading an import's file leaves its upload
/// unqueued: no runner takes it, it is not listed, and a day later the
/// hourly pruning removes it with its rows.
#[tokio::test]
async fn an_abandoned_upload_is_never_run_and_is_pruned_after_a_day() {
    use leadflow::domain::id::ObjectId;
    use leadflow::store::jobs::{IMPORT_LEADS, StagedRow};

    let app = job_app(10, 0, false).await;
    let id = ObjectId::parse(&app.workspace_id).unwrap();
    let ws = leadflow::store::WorkspaceRef {
        key: id.key,
        created_at: i64::from(id.secs) * 1000,
    };
    let job = app
        .store
        .create_job(ws, IMPORT_LEADS, json!({"skipDuplicates": true}))
        .await
        .unwrap();
    let rows = (1..=3)
        .map(|i| StagedRow {
            row: i,
            email_key: format!("up{i}@example.com"),
            lead: json!({"email": format!("up{i}@example.com")}),
        })
        .collect();
    assert_eq!(app.store.stage_import(ws, job.id(), rows).await.unwrap(), 3);
    let count = |table: &'static str| {
        let app = &app;
        async move {
            app.query_db(
                &format!("select count(*) from {table} where workspace_id = $1"),
                ws.key,
            )
            .await[0][0]
        }
    };

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.all("/v1/jobs").await.is_empty(), "not listed");
    assert_eq!(app.lead_total().await, 0, "never run");
    app.store.prune_events(0).await.unwrap();
    assert_eq!((count("jobs").await, count("import_rows").await), (1, 3));

    // A day and a minute later.
    let earlier = leadflow::domain::now_ms() - 24 * 3600 * 1000 - 60_000;
    app.query_db(
        &format!("update jobs set created_at = {earlier} where workspace_id = $1"),
        ws.key,
    )
    .await;
    app.store.prune_events(0).await.unwrap();
    assert_eq!((count("jobs").await, count("import_rows").await), (0, 0));
}
