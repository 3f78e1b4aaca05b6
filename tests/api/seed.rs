//! The SendKit page's client examples, run as written against leadflow with
//! only the base URL (and the placeholders for key and campaign) replaced.

use std::process::Command;

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

/// The example's source with the URL, key and campaign filled in.
fn example(app: &TestApp, campaign: &str, file: &str) -> String {
    let path = format!("{}/tests/seed/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .unwrap()
        .replace("https://api.sendkit.ai", &app.base)
        .replace("example_string", campaign)
        .replace("YOUR_API_KEY", &app.key)
        .replace("YOUR_API_TOKEN", &app.key)
}

fn run(program: &str, args: &[&str], dir: &std::path::Path) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed for this test: {e}"));
    assert!(
        out.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_curl_python_and_javascript_examples_work_with_only_the_url_changed() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();

    let c = app.create_campaign("curl").await;
    std::fs::write(dir.path().join("example.sh"), example(&app, &c, "curl.sh")).unwrap();
    let out = run("sh", &["example.sh"], dir.path());
    let body: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(body["success"], Value::Bool(true));
    assert_eq!(body["data"]["added"], 2);
    assert_eq!(body["data"]["created"], 2);
    assert_eq!(body["data"]["errors"][0]["index"], 2);
    assert_eq!(body["data"]["errors"][0]["code"], "LEAD_NOT_FOUND");

    let c = app.create_campaign("python").await;
    std::fs::write(
        dir.path().join("example.py"),
        example(&app, &c, "example.py"),
    )
    .unwrap();
    let out = run("python3", &["example.py"], dir.path());
    assert!(
        out.contains("'success': True") && out.contains("'added': 2"),
        "{out}"
    );

    let c = app.create_campaign("javascript").await;
    std::fs::write(
        dir.path().join("example.mjs"),
        example(&app, &c, "example.mjs"),
    )
    .unwrap();
    let out = run("node", &["example.mjs"], dir.path());
    assert!(
        out.contains("success: true") && out.contains("added: 2"),
        "{out}"
    );

    // Each example added John and Jane to its own campaign; the leads exist once.
    assert_eq!(app.lead_total().await, 2);
    for campaign in app.all("/v1/campaigns").await {
        assert_eq!(campaign["leadCounts"]["total"], 2, "{campaign}");
    }
}
