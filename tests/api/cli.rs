//! The binary: admin commands' output, bootstrap, graceful shutdown.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_leadflow");

fn leadflow(args: &[&str], db: &str) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("LEADFLOW_DATABASE_URL", db)
        .output()
        .expect("run leadflow")
}

fn last_json_line(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

fn keys_of(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

async fn wait_healthy(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = leadflow::client::http_client()
            .get(format!("http://127.0.0.1:{port}/v1/health"))
            .send()
            .await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server on port {port} did not become healthy");
}

fn serve(db: &str, port: u16) -> Child {
    Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("LEADFLOW_DATABASE_URL", db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve")
}

fn terminate(mut child: Child) -> (std::process::ExitStatus, String) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    let mut out = String::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            out.push_str(&line.unwrap());
            out.push('\n');
        }
    }
    (status, out)
}

async fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = leadflow::client::http_client().get(format!("http://127.0.0.1:{port}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn admin_commands_print_keys_that_work_in_the_documented_json_shape() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::helpers::fresh_database_url(dir.path()).await;
    let migrated = leadflow(&["migrate"], &db);
    assert!(migrated.status.success());

    let user = last_json_line(&leadflow(
        &[
            "admin",
            "create-user",
            "--email",
            "Ops@Example.com",
            "--json",
        ],
        &db,
    ));
    assert_eq!(keys_of(&user), ["apiKey", "email", "userId"]);
    assert!(user["apiKey"].as_str().unwrap().starts_with("sk_user_"));
    let ws = last_json_line(&leadflow(
        &[
            "admin",
            "create-workspace",
            "--name",
            "Sales",
            "--owner",
            "ops@example.com",
            "--json",
        ],
        &db,
    ));
    assert_eq!(keys_of(&ws), ["apiKey", "name", "workspaceId"]);
    assert_eq!(ws["name"], "Sales");
    let ws_key = ws["apiKey"].as_str().unwrap();
    assert!(ws_key.starts_with("sk_") && !ws_key.starts_with("sk_user_"));

    let dup = leadflow(&["admin", "create-user", "--email", "ops@example.com"], &db);
    assert!(!dup.status.success());
    let unknown_owner = leadflow(
        &[
            "admin",
            "create-workspace",
            "--name",
            "X",
            "--owner",
            "who@example.com",
        ],
        &db,
    );
    assert!(!unknown_owner.status.success());
    assert!(String::from_utf8_lossy(&unknown_owner.stderr).contains("who@example.com"));

    let port = free_port();
    let child = serve(&db, port);
    wait_healthy(port).await;
    assert_eq!(
        get(port, "/v1/leads", &[("X-Api-Key", ws_key)])
            .await
            .status(),
        200
    );
    let user_key = user["apiKey"].as_str().unwrap();
    let ws_id = ws["workspaceId"].as_str().unwrap();
    assert_eq!(
        get(
            port,
            "/v1/leads",
            &[("X-Api-Key", user_key), ("X-Workspace-Id", ws_id)]
        )
        .await
        .status(),
        200
    );
    let (status, out) = terminate(child);
    assert!(status.success(), "SIGTERM shuts down cleanly: {status:?}");
    assert!(
        !out.contains("sk_"),
        "a database with users is not bootstrapped again"
    );
}

#[tokio::test]
async fn serve_bootstraps_an_empty_database_and_prints_its_keys_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::helpers::fresh_database_url(dir.path()).await;
    let port = free_port();
    let child = serve(&db, port);
    wait_healthy(port).await;
    let (status, out) = terminate(child);
    assert!(status.success());
    let keys: Vec<&str> = out
        .split_whitespace()
        .filter(|w| w.starts_with("sk_") && w.len() > 60)
        .collect();
    assert!(keys.iter().any(|k| k.starts_with("sk_user_")), "{out}");
    let ws_key = keys
        .iter()
        .find(|k| !k.starts_with("sk_user_"))
        .expect("workspace key")
        .to_string();

    let port = free_port();
    let child = serve(&db, port);
    wait_healthy(port).await;
    let r = get(
        port,
        "/v1/campaigns",
        &[("Authorization", &format!("Bearer {ws_key}"))],
    )
    .await;
    assert_eq!(r.status(), 200);
    let (status, out) = terminate(child);
    assert!(status.success());
    assert!(!out.contains("sk_"), "keys are printed only once: {out}");
}

/// Sends a POST whose body trickles in over `chunks` pauses, so that the
/// request is in flight for a while; returns the answer's status, if any.
async fn slow_post(
    port: u16,
    key: String,
    body: Vec<u8>,
    chunks: usize,
    pause: Duration,
) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let head = format!(
        "POST /v1/leads HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.ok()?;
    for part in body.chunks(body.len().div_ceil(chunks)) {
        tokio::time::sleep(pause).await;
        stream.write_all(part).await.ok()?;
    }
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.ok()?;
    answer.split_whitespace().nth(1)?.parse().ok()
}

// Several threads: the test waits on the server process while its slow
// client keeps writing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish_within_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::helpers::fresh_database_url(dir.path()).await;
    assert!(leadflow(&["migrate"], &db).status.success());
    let ws = last_json_line(&leadflow(
        &["admin", "create-workspace", "--name", "Drain", "--json"],
        &db,
    ));
    let key = ws["apiKey"].as_str().unwrap().to_owned();
    let body = br#"{"email": "inflight@example.com", "firstName": "Slow"}"#.to_vec();

    // A request in flight when SIGTERM arrives is answered; then exit 0.
    let port = free_port();
    let child = serve(&db, port);
    wait_healthy(port).await;
    let request = tokio::spawn(slow_post(
        port,
        key.clone(),
        body.clone(),
        8,
        Duration::from_millis(150),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = terminate(child);
    assert!(status.success());
    assert_eq!(
        request.await.unwrap(),
        Some(201),
        "the in-flight request finished"
    );

    // The grace is a bound: a request slower than it does not hold the exit.
    let port = free_port();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--shutdown-grace-secs",
            "1",
        ])
        .env("LEADFLOW_DATABASE_URL", &db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(port).await;
    let request = tokio::spawn(slow_post(port, key, body, 20, Duration::from_millis(500)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(request.await.unwrap(), None, "cut off at the grace");
}
