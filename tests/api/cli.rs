//! The binary: admin commands' output, bootstrap, graceful shutdown.

use std::io::Read;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::Server;

fn leadflow(args: &[&str], db: &str) -> std::process::Output {
    crate::helpers::leadflow(args, Some(db))
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

/// `leadflow serve` over `db`, its stdout kept for [`terminate`], healthy.
async fn serve(db: &str) -> Server {
    let server = Server::start(db, &[], Stdio::piped(), Stdio::null());
    server.wait_healthy().await;
    server
}

/// SIGTERM; the exit status and everything the server printed.
fn terminate(mut server: Server) -> (ExitStatus, String) {
    let status = server.stop();
    let mut out = String::new();
    if let Some(mut stdout) = server.child.stdout.take() {
        stdout.read_to_string(&mut out).unwrap();
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

    let server = serve(&db).await;
    let port = server.port;
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
    // A lost platform key: the administrator replaces it; the running
    // server refuses the old one at once and takes the new one.
    let rotated = last_json_line(&leadflow(
        &[
            "admin",
            "rotate-key",
            "--email",
            "ops@example.com",
            "--json",
        ],
        &db,
    ));
    assert_eq!(keys_of(&rotated), ["apiKey", "email", "userId"]);
    assert_eq!(rotated["userId"], user["userId"]);
    let new_key = rotated["apiKey"].as_str().unwrap();
    assert!(new_key.starts_with("sk_user_") && new_key != user_key);
    assert_eq!(
        get(port, "/v1/account", &[("X-Api-Key", user_key)])
            .await
            .status(),
        401
    );
    assert_eq!(
        get(port, "/v1/account", &[("X-Api-Key", new_key)])
            .await
            .status(),
        200
    );
    let nobody = leadflow(
        &["admin", "rotate-key", "--email", "nobody@example.com"],
        &db,
    );
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("nobody@example.com"));

    let (status, out) = terminate(server);
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
    let (status, out) = terminate(serve(&db).await);
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

    let server = serve(&db).await;
    let r = get(
        server.port,
        "/v1/campaigns",
        &[("Authorization", &format!("Bearer {ws_key}"))],
    )
    .await;
    assert_eq!(r.status(), 200);
    let (status, out) = terminate(server);
    assert!(status.success());
    assert!(!out.contains("sk_"), "keys are printed only once: {out}");
}

/// Sends a POST whose body trickles in over `chunks` pauses, so that the
/// request is in flight for a while; returns the answer's status, if any.
/// The head asks `Expect: 100-continue`, and `in_flight` fires on the
/// server's `100 Continue`: the server has accepted the connection, read
/// the head and started on the body, so the request is really in flight.
async fn slow_post(
    port: u16,
    key: String,
    body: Vec<u8>,
    chunks: usize,
    pause: Duration,
    in_flight: tokio::sync::oneshot::Sender<()>,
) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let head = format!(
        "POST /v1/leads HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.ok()?;
    // Nothing else comes before the body is sent: read up to the blank line.
    let mut interim = Vec::new();
    while !interim.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        interim.push(byte[0]);
    }
    if !interim.starts_with(b"HTTP/1.1 100 ") {
        return None;
    }
    let _ = in_flight.send(());
    for part in body.chunks(body.len().div_ceil(chunks)) {
        tokio::time::sleep(pause).await;
        stream.write_all(part).await.ok()?;
    }
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.ok()?;
    answer.split_whitespace().nth(1)?.parse().ok()
}

/// Starts [`slow_post`] and returns once the request is in flight; fails
/// the test if it never gets there.
async fn in_flight_post(
    port: u16,
    key: String,
    body: Vec<u8>,
    chunks: usize,
    pause: Duration,
) -> tokio::task::JoinHandle<Option<u16>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let request = tokio::spawn(slow_post(port, key, body, chunks, pause, tx));
    tokio::time::timeout(Duration::from_secs(10), rx)
        .await
        .expect("the request was in flight within 10 s")
        .expect("the request got in flight (connected, head sent, 100 Continue)");
    request
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
    let server = serve(&db).await;
    let request = in_flight_post(
        server.port,
        key.clone(),
        body.clone(),
        8,
        Duration::from_millis(150),
    )
    .await;
    let (status, _) = terminate(server);
    assert!(status.success());
    assert_eq!(
        request.await.unwrap(),
        Some(201),
        "the in-flight request finished"
    );

    // The grace is a bound: a request slower than it does not hold the exit.
    let mut server = Server::start(
        &db,
        &["--shutdown-grace-secs", "1"],
        Stdio::null(),
        Stdio::null(),
    );
    server.wait_healthy().await;
    let request = in_flight_post(server.port, key, body, 20, Duration::from_millis(500)).await;
    let started = Instant::now();
    let status = server.stop();
    assert!(status.success());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(request.await.unwrap(), None, "cut off at the grace");
}

#[tokio::test]
async fn migrate_says_what_it_applied_and_then_that_nothing_was_pending() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::helpers::fresh_database_url(dir.path()).await;
    let first = leadflow(&["migrate"], &db);
    assert!(first.status.success());
    let first = String::from_utf8_lossy(&first.stdout);
    // SQLite has one of its own: the search index's queue (0004).
    let migrations = if db.starts_with("sqlite") { 11 } else { 10 };
    assert!(
        first.starts_with(&format!("applied {migrations} migrations to ")),
        "{first}"
    );
    let again = leadflow(&["migrate"], &db);
    assert!(again.status.success());
    let again = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.contains("is up to date: no migration was pending"),
        "{again}"
    );
}

#[tokio::test]
async fn the_pool_metric_reports_the_connections_the_flag_allows() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::helpers::fresh_database_url(dir.path()).await;
    let server = Server::start(
        &db,
        &["--db-max-connections", "3"],
        Stdio::null(),
        Stdio::null(),
    );
    server.wait_healthy().await;
    let metrics = leadflow::client::http_client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == "leadflow_db_pool_max_connections 3"),
        "{metrics}"
    );
}

fn json_lines(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[tokio::test]
async fn admin_workspaces_always_get_an_owner_and_lost_access_can_be_given_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::helpers::fresh_database_url(dir.path()).await;
    assert!(leadflow(&["migrate"], &db).status.success());
    // No user yet: the workspace is made without an owner, and it says so.
    let none = leadflow(&["admin", "create-workspace", "--name", "Orphan"], &db);
    assert!(none.status.success());
    assert!(String::from_utf8_lossy(&none.stdout).contains("owner: none yet"));

    for email in ["first@example.com", "second@example.com"] {
        let made = leadflow(&["admin", "create-user", "--email", email], &db);
        assert!(made.status.success());
    }
    let made = leadflow(
        &["admin", "create-workspace", "--name", "Sales", "--json"],
        &db,
    );
    assert!(made.status.success());
    assert!(String::from_utf8_lossy(&made.stdout).contains("owner: first@example.com"));
    let ws = last_json_line(&made)["workspaceId"]
        .as_str()
        .unwrap()
        .to_owned();

    let users = json_lines(&leadflow(&["admin", "list-users", "--json"], &db));
    let emails: Vec<&str> = users.iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["first@example.com", "second@example.com"]);

    let added = leadflow(
        &[
            "admin",
            "add-member",
            "--workspace",
            &ws,
            "--email",
            "second@example.com",
            "--role",
            "owner",
        ],
        &db,
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let listed = json_lines(&leadflow(&["admin", "list-workspaces", "--json"], &db));
    let sales = listed
        .iter()
        .find(|w| w["workspaceId"] == ws.as_str())
        .unwrap();
    assert_eq!(sales["name"], "Sales");
    assert_eq!(
        sales["owners"],
        serde_json::json!(["first@example.com", "second@example.com"])
    );

    let bad_role = leadflow(
        &[
            "admin",
            "add-member",
            "--workspace",
            &ws,
            "--email",
            "second@example.com",
            "--role",
            "boss",
        ],
        &db,
    );
    assert!(!bad_role.status.success());
}

#[tokio::test]
async fn serve_says_why_it_prints_no_keys_for_a_database_with_users() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::helpers::fresh_database_url(dir.path()).await;
    assert!(leadflow(&["migrate"], &db).status.success());
    let made = leadflow(
        &["admin", "create-user", "--email", "early@example.com"],
        &db,
    );
    assert!(made.status.success());
    let mut server = Server::start(&db, &[], Stdio::piped(), Stdio::piped());
    server.wait_healthy().await;
    server.stop();
    let mut out = String::new();
    server
        .child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    server
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!out.contains("sk_"), "{out}");
    assert!(err.contains("no keys were made"), "{err}");
}

/// `serve --tls-cert --tls-key` speaks HTTPS, and SIGHUP makes it read the
/// files again: after the certificate is replaced by one from another CA,
/// new connections get the new one (clients trusting only the new CA get
/// in, those trusting only the old one do not), with no restart.
#[tokio::test]
async fn serve_speaks_https_and_reloads_its_certificate_on_sighup() {
    use crate::helpers::{client_trusting, make_certs};
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("tls.db").display());
    let old = make_certs(dir.path(), "old");
    let new = make_certs(dir.path(), "new");
    let (cert, key) = (dir.path().join("server.pem"), dir.path().join("server.key"));
    std::fs::copy(&old.cert, &cert).unwrap();
    std::fs::copy(&old.key, &key).unwrap();
    let server = Server::start(
        &db,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        Stdio::null(),
        Stdio::null(),
    );
    let url = format!("https://127.0.0.1:{}/v1/health", server.port);
    let trusts_old = client_trusting(&old.ca);
    let trusts_new = client_trusting(&new.ca);
    let deadline = Instant::now() + Duration::from_secs(30);
    while trusts_old.get(&url).send().await.is_err() {
        assert!(Instant::now() < deadline, "the HTTPS server did not answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(trusts_old.get(&url).send().await.unwrap().status(), 200);
    assert!(trusts_new.get(&url).send().await.is_err());

    std::fs::copy(&new.cert, &cert).unwrap();
    std::fs::copy(&new.key, &key).unwrap();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // A fresh client each time: a kept connection would still use the
        // old certificate.
        if let Ok(r) = client_trusting(&new.ca).get(&url).send().await {
            assert_eq!(r.status(), 200);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload the certificate"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(client_trusting(&old.ca).get(&url).send().await.is_err());
    let mut server = server;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the same process serves on"
    );
    assert!(server.stop().success());
}
