//! Two `leadflow serve` processes on one PostgreSQL database.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{fresh_database_url, postgres_server};

/// A `leadflow serve` process whose stdout a thread reads line by line.
struct Server {
    process: crate::helpers::Server,
    lines: mpsc::Receiver<String>,
    reader: Option<std::thread::JoinHandle<()>>,
    /// The lines taken from `lines` so far.
    seen: Vec<String>,
}

impl Server {
    fn start(db: &str) -> Self {
        let mut process = crate::helpers::Server::start(
            db,
            &["--rate-limit", "0"],
            Stdio::piped(),
            Stdio::null(),
        );
        let stdout = process.child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Server {
            process,
            lines,
            reader: Some(reader),
            seen: Vec::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        self.process.url(path)
    }

    async fn wait_healthy(&self) {
        self.process.wait_healthy().await;
    }

    /// The lines printed so far, without waiting.
    fn take_output(&mut self) -> &[String] {
        self.seen.extend(self.lines.try_iter());
        &self.seen
    }

    /// SIGTERM; the exit status and every line the process printed, read
    /// to the end of its stdout.
    fn stop(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let status = self.process.stop();
        self.reader.take().unwrap().join().unwrap();
        self.take_output();
        (status, std::mem::take(&mut self.seen))
    }
}

/// The workspace keys (not platform keys) in some printed lines.
fn workspace_keys(lines: &[String]) -> HashSet<String> {
    lines
        .iter()
        .flat_map(|l| l.split_whitespace())
        .map(|w| w.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_'))
        .filter(|w| w.starts_with("sk_") && w.len() > 60 && !w.starts_with("sk_user_"))
        .map(str::to_owned)
        .collect()
}

async fn post(client: &reqwest::Client, url: String, key: &str, body: Value) -> Value {
    let r = client
        .post(url)
        .header("X-Api-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_database_count_exactly_and_never_duplicate() {
    assert!(
        postgres_server().is_some(),
        "this test needs LEADFLOW_TEST_ENGINE=postgres"
    );
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database_url(dir.path()).await;

    // Both start at once on an empty database: migrations and the bootstrap
    // must happen exactly once.
    let mut a = Server::start(&db);
    let mut b = Server::start(&db);
    a.wait_healthy().await;
    b.wait_healthy().await;
    // The bootstrapping server printed its keys before it served: wait for
    // them to come through either pipe. Whether the other server printed
    // keys too is known only once both have exited and their output has
    // been read to the end (below).
    let deadline = Instant::now() + Duration::from_secs(30);
    let key = loop {
        let printed: Vec<String> = a
            .take_output()
            .iter()
            .chain(b.take_output())
            .cloned()
            .collect();
        if let Some(key) = workspace_keys(&printed).into_iter().next() {
            break key;
        }
        assert!(
            Instant::now() < deadline,
            "neither server printed a workspace key: {printed:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let client = leadflow::client::http_client();
    let campaign = client
        .post(a.url("/v1/campaigns"))
        .header("X-Api-Key", &key)
        .json(&json!({"name": "Shared"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["data"]["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Some leads exist up front so select-all has something to race over.
    post(&client, b.url("/v1/leads/bulk"), &key, json!({"leads": (0..200).map(|i| json!({"email": format!("pre{i}@example.com")})).collect::<Vec<_>>()})).await;

    let mut requests = Vec::new();
    for i in 0..12usize {
        let server = if i % 2 == 0 { &a } else { &b };
        let body = json!({"leads": (0..150).map(|j| {
            let n = (i * 37 + j) % 500;
            json!({"email": if j % 3 == 0 { format!("Shared{n}@Example.com") } else { format!("shared{n}@example.com") }})
        }).collect::<Vec<_>>()});
        requests.push((
            server.url(&format!("/v1/campaigns/{campaign}/leads")),
            body,
            150u64,
        ));
    }
    for i in 0..4 {
        let server = if i % 2 == 0 { &a } else { &b };
        requests.push((
            server.url(&format!("/v1/campaigns/{campaign}/leads")),
            json!({"selectAll": true}),
            0,
        ));
    }
    let results = futures::future::join_all(requests.into_iter().map(|(url, body, n)| {
        let client = client.clone();
        let key = key.clone();
        async move { (post(&client, url, &key, body).await, n) }
    }))
    .await;

    let mut added = 0;
    let mut created = 0;
    for (r, n) in &results {
        let d = &r["data"];
        added += d["added"].as_u64().unwrap();
        if *n > 0 {
            created += d["created"].as_u64().unwrap();
            assert_eq!(
                d["added"].as_u64().unwrap() + d["skipped"].as_u64().unwrap(),
                *n
            );
        } else {
            assert_eq!(
                d["added"].as_u64().unwrap() + d["skipped"].as_u64().unwrap(),
                d["matched"].as_u64().unwrap()
            );
        }
    }
    let mut emails = HashSet::new();
    for i in 0..12usize {
        for j in 0..150 {
            emails.insert((i * 37 + j) % 500);
        }
    }
    assert_eq!(
        created,
        emails.len() as u64,
        "every shared email created exactly once"
    );

    let pg = crate::helpers::pg_connect(&db).await;
    let leads: i64 = pg
        .query_one("select count(*) from leads", &[])
        .await
        .unwrap()
        .get(0);
    let distinct: i64 = pg
        .query_one("select count(distinct email_key) from leads", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(leads, distinct);
    assert_eq!(leads, 200 + emails.len() as i64);
    let members: i64 = pg
        .query_one("select count(*) from campaign_leads", &[])
        .await
        .unwrap()
        .get(0);
    let distinct_members: i64 = pg
        .query_one(
            "select count(*) from (select distinct campaign_id, lead_id from campaign_leads) x",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(members, distinct_members, "no duplicate memberships");
    assert_eq!(
        members as u64, added,
        "the added counts of both servers add up"
    );

    // One Idempotency-Key sent to both servers at once: one execution, and
    // every caller gets its answer.
    let body = json!({"name": "Once across processes"});
    let sends = (0..6).map(|i| {
        let client = client.clone();
        let key = key.clone();
        let url = if i % 2 == 0 {
            a.url("/v1/campaigns")
        } else {
            b.url("/v1/campaigns")
        };
        let body = body.clone();
        async move {
            let r = client
                .post(url)
                .header("X-Api-Key", &key)
                .header("Idempotency-Key", "across-processes")
                .json(&body)
                .send()
                .await
                .unwrap();
            let replayed = r.headers().contains_key("idempotent-replayed");
            (r.status().as_u16(), replayed, r.text().await.unwrap())
        }
    });
    let answers = futures::future::join_all(sends).await;
    assert_eq!(answers.iter().filter(|a| !a.1).count(), 1, "one execution");
    assert!(answers.iter().all(|a| a.0 == 201 && a.2 == answers[0].2));
    let campaigns: i64 = pg
        .query_one(
            "select count(*) from campaigns where name = 'Once across processes'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(campaigns, 1);

    let (a_status, a_printed) = a.stop();
    let (b_status, b_printed) = b.stop();
    assert!(a_status.success());
    assert!(b_status.success());
    // Both have exited and every line they printed has been read.
    let printed: Vec<String> = a_printed.iter().chain(&b_printed).cloned().collect();
    let keys = workspace_keys(&printed);
    assert_eq!(keys.len(), 1, "exactly one server bootstraps: {printed:?}");
    assert_eq!(keys.into_iter().next().unwrap(), key);
    assert!(
        a_printed.is_empty() != b_printed.is_empty(),
        "one server printed the bootstrap, the other nothing: {printed:?}"
    );
}

/// Two servers in this process on one fresh database, configured by
/// `tune`: their base URLs, the store, and a workspace's key.
async fn two_servers(
    dir: &std::path::Path,
    tune: impl Fn(&mut leadflow::config::Config),
) -> (Vec<String>, String) {
    let db = fresh_database_url(dir).await;
    let mut config =
        leadflow::config::Config::new("127.0.0.1:0", leadflow::config::DatabaseUrl::new(db));
    config.db_max_connections = 4;
    tune(&mut config);
    let mut bases = Vec::new();
    let mut store = None;
    for _ in 0..2 {
        let app = leadflow::startup::Application::build(&config)
            .await
            .unwrap();
        bases.push(format!("http://127.0.0.1:{}", app.port()));
        store = Some(app.store());
        tokio::spawn(app.run_until(std::future::pending()));
    }
    let (_, key) = store
        .unwrap()
        .create_workspace("Shared", None)
        .await
        .unwrap();
    (bases, key.expose().to_owned())
}

/// Two servers on one database share the webhook deliveries: every event
/// reaches the receiver once (`FOR UPDATE SKIP LOCKED` on the endpoint
/// while its events are queued, and on the deliveries while they are
/// claimed), whichever server recorded it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_deliver_each_webhook_message_once() {
    use std::sync::{Arc, Mutex};

    assert!(
        postgres_server().is_some(),
        "this test needs LEADFLOW_TEST_ENGINE=postgres"
    );
    let dir = tempfile::tempdir().unwrap();
    let (bases, key) = two_servers(dir.path(), |c| {
        c.webhooks.allow_private = true;
        c.webhooks.poll = Duration::from_millis(10);
    })
    .await;

    // A receiver that counts what it gets, by webhook-id.
    let got: Arc<Mutex<Vec<String>>> = Default::default();
    let seen = got.clone();
    let receiver = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let seen = seen.clone();
        async move {
            let id = headers["webhook-id"].to_str().unwrap().to_owned();
            seen.lock().unwrap().push(id);
            axum::http::StatusCode::NO_CONTENT
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });

    let client = leadflow::client::http_client();
    let r = client
        .post(format!("{}/v1/webhooks", bases[0]))
        .header("X-Api-Key", &key)
        .json(&json!({"url": format!("http://127.0.0.1:{port}/")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    for i in 0..60 {
        let r = client
            .post(format!("{}/v1/leads", bases[i % 2]))
            .header("X-Api-Key", &key)
            .json(&json!({"email": format!("shared{i}@example.com")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let distinct: HashSet<String> = got.lock().unwrap().iter().cloned().collect();
        if distinct.len() == 60 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of 60 arrived",
            distinct.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Both servers keep polling a while: nothing comes twice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = got.lock().unwrap().clone();
    assert_eq!(all.len(), 60, "no message sent twice: {all:?}");
}

/// Two servers on one database run a job once: one runner claims it
/// (`FOR UPDATE SKIP LOCKED`, then its lease), each chunk's transaction
/// holds the job's row, and the counts come out exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_run_each_job_once_with_exact_counts() {
    assert!(
        postgres_server().is_some(),
        "this test needs LEADFLOW_TEST_ENGINE=postgres"
    );
    let dir = tempfile::tempdir().unwrap();
    let (bases, key) = two_servers(dir.path(), |c| {
        c.jobs.chunk = 7;
        c.jobs.poll = Duration::from_millis(5);
    })
    .await;
    let client = leadflow::client::http_client();
    let leads: Vec<Value> = (0..200)
        .map(|i| json!({"email": format!("job{i}@example.com")}))
        .collect();
    post(
        &client,
        format!("{}/v1/leads/bulk", bases[0]),
        &key,
        json!({"leads": leads}),
    )
    .await;
    let mut jobs = Vec::new();
    for (i, base) in bases.iter().enumerate() {
        let r = client
            .post(format!("{base}/v1/campaigns"))
            .header("X-Api-Key", &key)
            .json(&json!({"name": format!("C{i}")}))
            .send()
            .await
            .unwrap();
        let c: Value = r.json().await.unwrap();
        let c = c["data"]["_id"].as_str().unwrap().to_owned();
        let r = client
            .post(format!("{base}/v1/campaigns/{c}/leads"))
            .header("X-Api-Key", &key)
            .json(&json!({"selectAll": true, "async": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let v: Value = r.json().await.unwrap();
        jobs.push(v["data"]["jobId"].as_str().unwrap().to_owned());
    }
    for id in &jobs {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v: Value = client
                .get(format!("{}/v1/jobs/{id}", bases[1]))
                .header("X-Api-Key", &key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if v["data"]["status"] == json!("succeeded") {
                assert_eq!(v["data"]["data"]["added"], json!(200), "{v}");
                assert_eq!(v["data"]["progress"], json!({"done": 200, "total": 200}));
                break;
            }
            assert!(Instant::now() < deadline, "{v}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // Each chunk was done once: one leads_added event per chunk, adding
    // 200 in all per job.
    let v: Value = client
        .get(format!(
            "{}/v1/events?types=campaign.leads_added&limit=1000",
            bases[0]
        ))
        .header("X-Api-Key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let chunks = v["data"].as_array().unwrap();
    assert_eq!(chunks.len(), 2 * 200_usize.div_ceil(7));
    let added: u64 = chunks
        .iter()
        .map(|e| e["data"]["added"].as_u64().unwrap())
        .sum();
    assert_eq!(added, 400);
}
