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
