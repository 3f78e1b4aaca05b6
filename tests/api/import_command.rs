//! `leadflow import FILE.csv` against a running server: counts, the failed
//! rows file, retries, mapping flags and a refused key.

use std::fmt::Write;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

struct Run {
    code: i32,
    stderr: String,
    summary: Value,
}

async fn import(url: &str, key: &str, args: &[&str]) -> Run {
    let mut command = tokio::process::Command::from(crate::helpers::leadflow(&["import"], None));
    let out = command
        .args(args)
        .args(["--url", url, "--json"])
        .env("LEADFLOW_API_KEY", key)
        .output()
        .await
        .expect("run leadflow import");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    Run {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        summary: stdout
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or(Value::Null),
    }
}

fn write_csv(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

async fn emails(app: &TestApp) -> Vec<String> {
    let mut all: Vec<String> = app
        .all("/v1/leads")
        .await
        .iter()
        .map(|l| l["email"].as_str().unwrap().to_owned())
        .collect();
    all.sort();
    all
}

#[tokio::test]
async fn skip_if_in_other_campaign_leaves_out_leads_enrolled_elsewhere() {
    let app = spawn_app().await;
    let (target, other) = (
        app.create_campaign("Target").await,
        app.create_campaign("Other").await,
    );
    app.add(&other, json!({"leads": [{"email": "busy@example.com"}]}))
        .await
        .assert_ok(200);
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(
        dir.path(),
        "people.csv",
        "Email\nbusy@example.com\nfree@example.com\n",
    );
    let run = import(
        &app.base,
        &app.key,
        &[&file, "--campaign", &target, "--skip-if-in-other-campaign"],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.summary["campaign"],
        json!({"added": 1, "skipped": 1, "alreadyInCampaign": 0, "blocked": 0, "inOtherCampaign": 1})
    );
    assert!(
        run.stderr.contains("1 in another campaign"),
        "{}",
        run.stderr
    );
    assert_eq!(app.campaign_lead_total(&target).await, 1);
    // Without the flag, the campaign's setting (absent: off) decides.
    let again = app.create_campaign("Again").await;
    let run = import(&app.base, &app.key, &[&file, "--campaign", &again]).await;
    assert_eq!(run.summary["campaign"]["added"], json!(2), "{}", run.stderr);
    // The flag needs a campaign.
    let run = import(&app.base, &app.key, &[&file, "--skip-if-in-other-campaign"]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[tokio::test]
async fn a_50000_row_file_is_imported_with_counts_that_match_the_server() {
    let app = spawn_app().await;
    let campaign = app.create_campaign("Spreadsheet").await;
    app.create_leads(vec![
        json!({"email": "lead100@example.com"}),
        json!({"email": "lead200@example.com"}),
    ])
    .await;
    let mut csv = String::from("Email,First Name,Company\n");
    let mut expected_failed = Vec::new();
    for i in 0..50_000 {
        let line = i + 2;
        match i {
            _ if i % 10_000 == 1234 => {
                writeln!(csv, "broken{i},B,C").unwrap();
                expected_failed.push((line, format!("broken{i}")));
            }
            777 => {
                writeln!(csv, "short{i}@example.com,only two").unwrap();
                expected_failed.push((line, format!("short{i}@example.com")));
            }
            // Repeats of earlier rows, in another case.
            40_001..=40_003 => writeln!(csv, "LEAD{}@example.com,R,R", i - 40_000).unwrap(),
            _ => writeln!(csv, "lead{i}@example.com,N{i},C{}", i % 7).unwrap(),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(dir.path(), "people.csv", &csv);
    let run = import(
        &app.base,
        &app.key,
        &[&file, "--campaign", &campaign, "--tag", "sheet"],
    )
    .await;
    assert_eq!(
        run.code,
        i32::from(leadflow::client::SOME_ROWS_FAILED),
        "some rows failed: {}",
        run.stderr
    );
    assert_eq!(run.code, 3);
    assert_eq!(
        run.summary,
        json!({
            "rows": 50_000, "imported": 49_989, "updated": 0, "skipped": 5, "failed": 6,
            "failedRowsFile": dir.path().join("people.failed.csv").to_str().unwrap(),
            "campaign": {"added": 49_991, "skipped": 0, "alreadyInCampaign": 0, "blocked": 0,
                         "inOtherCampaign": 0},
        })
    );
    assert_eq!(app.lead_total().await, 49_991);
    assert_eq!(app.campaign_lead_total(&campaign).await, 49_991);
    // Progress is plain lines when stderr is not a terminal.
    assert!(run.stderr.contains("50000/50000 rows"), "{}", run.stderr);
    assert!(run.stderr.contains("rows/s"));

    let mut failed = csv::Reader::from_path(dir.path().join("people.failed.csv")).unwrap();
    assert_eq!(
        failed.headers().unwrap(),
        vec!["Email", "First Name", "Company", "line", "error"]
    );
    let rows: Vec<csv::StringRecord> = failed.records().map(Result::unwrap).collect();
    let got: Vec<(usize, String)> = rows
        .iter()
        .map(|r| (r[3].parse().unwrap(), r[0].to_owned()))
        .collect();
    assert_eq!(got, expected_failed);
    let reasons: Vec<&str> = rows.iter().map(|r| &r[r.len() - 1]).collect();
    assert!(reasons[0].starts_with("row has 2 cells"), "{reasons:?}");
    assert!(reasons[1..].iter().all(|r| r.starts_with("email must be")));

    let lead = app.get("/v1/leads?search=lead4999@").await;
    let lead = &lead.assert_ok(200)[0];
    assert_eq!(lead["firstName"], json!("N4999"));
    assert_eq!(lead["tags"], json!(["sheet"]));
}

#[tokio::test]
async fn maps_update_existing_and_a_refused_key_stops_before_sending_rows() {
    let app = spawn_app().await;
    app.create_lead(json!({"email": "kim@example.com", "firstName": "Old"}))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(
        dir.path(),
        "crm.csv",
        "Work Email,Nick,Notes,Owner\nkim@example.com,Kim,vip,me\nlee@example.com,Lee,,me\n",
    );
    // Through a proxy that records every request: a refused key stops the
    // import at its first request, before any row is sent.
    let watch = Flaky::new(&app.base, 0);
    let url = watch.start().await;
    let run = import(&url, "sk_wrong", &[&file]).await;
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("refused"), "{}", run.stderr);
    assert_eq!(app.lead_total().await, 1);
    watch.assert_no_rows_sent();
    assert!(
        !dir.path().join("crm.failed.csv").exists(),
        "no row was tried, so none failed"
    );
    // So does a campaign that does not exist, though the key would write.
    let watch = Flaky::new(&app.base, 0);
    let url = watch.start().await;
    let missing = "0000000000000000000000aa";
    let run = import(&url, &app.key, &[&file, "--campaign", missing]).await;
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains(missing), "{}", run.stderr);
    watch.assert_no_rows_sent();
    assert_eq!(emails(&app).await, ["kim@example.com"]);
    assert!(!dir.path().join("crm.failed.csv").exists());

    let run = import(
        &format!("{}/v1/", app.base),
        &app.key,
        &[
            &file,
            "--map",
            "Work Email=email",
            "--map",
            "Nick=firstName",
            "--map",
            "Notes=customFields.notes",
            "--update-existing",
            "--batch-size",
            "1",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.summary["imported"], json!(1));
    assert_eq!(run.summary["updated"], json!(1));
    assert_eq!(run.summary["failedRowsFile"], json!(null));
    assert!(run.stderr.contains("ignored: Owner"), "{}", run.stderr);
    assert!(!dir.path().join("crm.failed.csv").exists());
    let kim = app.get("/v1/leads?search=kim@").await;
    let kim = &kim.assert_ok(200)[0];
    assert_eq!(kim["firstName"], json!("Kim"));
    assert_eq!(kim["customFields"], json!({"notes": "vip"}));
    assert_eq!(emails(&app).await, ["kim@example.com", "lee@example.com"]);

    // A file without an email column fails before anything is sent.
    let bad = write_csv(dir.path(), "bad.csv", "Name\nx\n");
    let run = import(&app.base, &app.key, &[&bad]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("no column is mapped to email"),
        "{}",
        run.stderr
    );
}

/// A proxy in front of the real server that answers the first `n` bulk
/// requests with 503 and records every bulk request's Idempotency-Key, and
/// every request's method and path. With `lose_answers`, the failed bulk
/// requests reach the server and run; only their answers are lost.
#[derive(Clone)]
struct Flaky {
    upstream: String,
    fail_first: usize,
    lose_answers: bool,
    bulk_keys: Arc<Mutex<Vec<String>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Flaky {
    fn new(upstream: &str, fail_first: usize) -> Self {
        Flaky {
            upstream: upstream.to_owned(),
            fail_first,
            lose_answers: false,
            bulk_keys: Arc::default(),
            requests: Arc::default(),
        }
    }

    /// Serves the proxy on a free port; returns its URL.
    async fn start(&self) -> String {
        let router = axum::Router::new().fallback(flaky).with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        url
    }

    /// The server was asked, but only read from: no bulk request, no
    /// campaign request, nothing that carries a row.
    #[track_caller]
    fn assert_no_rows_sent(&self) {
        let requests = self.requests.lock().unwrap().clone();
        assert!(!requests.is_empty(), "the import asked the server nothing");
        assert!(
            requests.iter().all(|r| r.starts_with("GET ")),
            "rows were sent: {requests:?}"
        );
        assert!(self.bulk_keys.lock().unwrap().is_empty(), "{requests:?}");
    }
}

async fn flaky(
    State(f): State<Flaky>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    f.requests.lock().unwrap().push(format!("{method} {uri}"));
    let mut lose = false;
    if uri.path() == "/v1/leads/bulk" {
        let key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let seen = {
            let mut keys = f.bulk_keys.lock().unwrap();
            keys.push(key);
            keys.len()
        };
        lose = seen <= f.fail_first && f.lose_answers;
        if seen <= f.fail_first && !lose {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [("retry-after", "0")],
                "busy",
            )
                .into_response();
        }
    }
    let mut req = leadflow::client::http_client().request(method, format!("{}{uri}", f.upstream));
    for name in ["x-api-key", "content-type", "idempotency-key"] {
        if let Some(v) = headers.get(name) {
            req = req.header(name, v);
        }
    }
    let res = req.body(body).send().await.unwrap();
    let status = res.status();
    if lose {
        // The server ran the request; its answer never reaches the client.
        return (StatusCode::BAD_GATEWAY, "lost").into_response();
    }
    (status, res.bytes().await.unwrap()).into_response()
}

/// A batch whose answer is lost on the way back ran on the server; its
/// retry carries the same Idempotency-Key and is answered from what was
/// kept, so every row is reported imported once (a second run would report
/// the batch's rows as skipped duplicates).
#[tokio::test]
async fn a_batch_whose_answer_was_lost_is_not_run_twice() {
    let app = spawn_app().await;
    let mut proxy = Flaky::new(&app.base, 2);
    proxy.lose_answers = true;
    let keys = proxy.bulk_keys.clone();
    let url = proxy.start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("email\n");
    for i in 0..30 {
        writeln!(csv, "lost{i}@example.com").unwrap();
    }
    let file = write_csv(dir.path(), "lost.csv", &csv);
    let run = import(&url, &app.key, &[&file, "--batch-size", "10"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.summary["imported"], json!(30), "{}", run.summary);
    assert_eq!(run.summary["skipped"], json!(0), "{}", run.summary);
    assert_eq!(app.lead_total().await, 30);
    let keys = keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 5, "{keys:?}");
    assert_eq!(keys[0], keys[2]);
}

#[tokio::test]
async fn a_failed_batch_is_retried_with_the_same_idempotency_key() {
    let app = spawn_app().await;
    let proxy = Flaky::new(&app.base, 2);
    let keys = proxy.bulk_keys.clone();
    let url = proxy.start().await;

    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("email\n");
    for i in 0..30 {
        writeln!(csv, "r{i}@example.com").unwrap();
    }
    let file = write_csv(dir.path(), "r.csv", &csv);
    let run = import(&url, &app.key, &[&file, "--batch-size", "10"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.summary["imported"], json!(30));
    assert_eq!(app.lead_total().await, 30);
    let keys = keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 5, "three batches, the first tried three times");
    assert!(keys[0].starts_with("import-"));
    assert_eq!(keys[0], keys[1]);
    assert_eq!(keys[1], keys[2]);
    assert_ne!(keys[2], keys[3]);

    // A server that never recovers: the import gives up, says so, and
    // every row is in the failed rows file to be sent again.
    let url = Flaky::new(&app.base, usize::MAX).start().await;
    let run = import(
        &url,
        &app.key,
        &[&file, "--batch-size", "10", "--attempts", "2"],
    )
    .await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("gave up after 2 attempts"),
        "{}",
        run.stderr
    );
    assert_eq!(run.summary["failed"], json!(30), "{}", run.stderr);
    let failed = csv::Reader::from_path(dir.path().join("r.failed.csv"))
        .unwrap()
        .records()
        .count();
    assert_eq!(failed, 30);
}

#[tokio::test]
async fn a_usage_error_and_a_partial_import_exit_differently() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(dir.path(), "one.csv", "email\nsolo@example.com\n");
    let usage = import(&app.base, &app.key, &[&file, "--no-such-option"]).await;
    assert_eq!(usage.code, 2, "{}", usage.stderr);
    let one = import(&app.base, &app.key, &[&file]).await;
    assert_eq!(one.code, 0, "{}", one.stderr);
    assert!(one.stderr.contains("1 row in "), "{}", one.stderr);
    let bad = write_csv(
        dir.path(),
        "bad.csv",
        "email\nnot-an-email\nok@example.com\n",
    );
    let partial = import(&app.base, &app.key, &[&bad]).await;
    assert_eq!(partial.code, 3, "{}", partial.stderr);
    assert!(partial.stderr.contains("2 rows in "), "{}", partial.stderr);
}

#[tokio::test]
async fn a_server_that_does_not_answer_or_a_missing_workspace_is_said_plainly() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(dir.path(), "one.csv", "email\nsolo@example.com\n");
    let nobody = format!("http://127.0.0.1:{}", crate::helpers::free_port());
    let run = import(&nobody, &app.key, &[&file, "--attempts", "1"]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("no server answers at"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("the server refused"), "{}", run.stderr);
    assert!(run.stderr.contains("after 1 attempt:"), "{}", run.stderr);
    // A platform key without a workspace: the option to use is named.
    let run = import(&app.base, &app.user_key, &[&file]).await;
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("--workspace"), "{}", run.stderr);
    assert_eq!(app.lead_total().await, 0);
}

#[tokio::test]
async fn a_clean_run_says_that_an_old_failed_rows_file_is_not_its_own() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(dir.path(), "people.csv", "email\nfresh@example.com\n");
    let old = dir.path().join("people.failed.csv");
    std::fs::write(&old, "email,line,error\nx,2,old\n").unwrap();
    let run = import(&app.base, &app.key, &[&file]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("is from an earlier run"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&old).unwrap(),
        "email,line,error\nx,2,old\n"
    );
}

/// The failed rows file is opened in a spreadsheet: a cell that would run
/// as a formula is kept as text. An earlier file is never overwritten
/// (nor a symbolic link followed) without --force.
#[tokio::test]
async fn the_failed_rows_file_is_safe_to_open_and_never_overwrites() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(
        dir.path(),
        "people.csv",
        "email,notes\n=HYPERLINK(\"http://x\"),+1\nok@example.com,fine\n@bad,-2\n",
    );
    let old = dir.path().join("people.failed.csv");
    std::fs::write(&old, "precious\n").unwrap();
    let target = dir.path().join("elsewhere.txt");
    std::fs::write(&target, "not yours\n").unwrap();
    std::os::unix::fs::symlink(&target, dir.path().join("people.failed-2.csv")).unwrap();

    let run = import(&app.base, &app.key, &[&file]).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    let written = dir.path().join("people.failed-3.csv");
    assert_eq!(
        run.summary["failedRowsFile"],
        json!(written.to_str().unwrap()),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&old).unwrap(), "precious\n");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "not yours\n");
    let mut failed = csv::Reader::from_path(&written).unwrap();
    let rows: Vec<Vec<String>> = failed
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0][0], "'=HYPERLINK(\"http://x\")");
    assert_eq!(rows[0][1], "'+1");
    assert_eq!(rows[0][2], "2");
    assert_eq!(rows[1][0], "'@bad");
    assert_eq!(rows[1][1], "'-2");

    // --force replaces the file itself; a link there is replaced, never
    // written through.
    std::fs::remove_file(&old).unwrap();
    std::os::unix::fs::symlink(&target, &old).unwrap();
    let run = import(&app.base, &app.key, &[&file, "--force"]).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(run.summary["failedRowsFile"], json!(old.to_str().unwrap()));
    assert!(
        !std::fs::symlink_metadata(&old)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&old)
            .unwrap()
            .contains("'=HYPERLINK")
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "not yours\n");
}

#[tokio::test]
async fn the_command_reads_a_semicolon_file_by_its_header() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_csv(
        dir.path(),
        "semi.csv",
        "Email;First Name\nsemi@example.com;Sam\nsecond@example.com;Sue\n",
    );
    let run = import(&app.base, &app.key, &[&file]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("separator: ;"), "{}", run.stderr);
    assert_eq!(run.summary["imported"], json!(2), "{}", run.stderr);
    assert_eq!(app.lead_total().await, 2);
}
