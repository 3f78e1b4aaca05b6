//! The SendKit page's client examples, run as written against leadflow with
//! only the base URL (and the placeholders for key and campaign) replaced.

use std::process::Command;

use serde_json::Value;

use crate::helpers::{TestApp, client_trusting, make_certs, spawn_app, spawn_app_with};

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
    run_with(program, args, dir, &[])
}

fn run_with(program: &str, args: &[&str], dir: &std::path::Path, env: &[(&str, &str)]) -> String {
    let out = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
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
    assert_eq!(
        body["data"]["skipped"], 1,
        "the page's answer: the error is skipped"
    );
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

/// The page's Ruby example sets `use_ssl = true` and its Go example calls
/// an `https://` URL: both run against leadflow serving HTTPS
/// (`--tls-cert`, `--tls-key`), trusting a throwaway CA through
/// `SSL_CERT_FILE`. Ruby's runs verbatim; Go's loses one line, `import
/// "encoding/json"`, which the page imports without using and which Go
/// refuses to compile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ruby_and_go_examples_work_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let certs = make_certs(dir.path(), "seed");
    let (cert, key) = (certs.cert.clone(), certs.key.clone());
    let mut app = spawn_app_with(move |c| {
        c.tls = Some(leadflow::config::Tls { cert, key });
    })
    .await;
    app.base = app.base.replace("http://", "https://");
    app.client = client_trusting(&certs.ca);
    let ca = certs.ca.to_str().unwrap();

    let c = app.create_campaign("ruby").await;
    std::fs::write(
        dir.path().join("example.rb"),
        example(&app, &c, "example.rb"),
    )
    .unwrap();
    let out = run_with(
        "ruby",
        &["example.rb"],
        dir.path(),
        &[("SSL_CERT_FILE", ca)],
    );
    let body: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(body["success"], Value::Bool(true), "{out}");
    assert_eq!(body["data"]["added"], 2, "{out}");

    let c = app.create_campaign("go").await;
    let source = example(&app, &c, "example.go");
    let unused = "\"encoding/json\"\n";
    assert_eq!(
        source.matches(unused).count(),
        1,
        "the page's Go imports changed"
    );
    std::fs::write(
        dir.path().join("example.go"),
        source.replacen(unused, "", 1),
    )
    .unwrap();
    let cache = dir.path().join("go-cache");
    let out = run_with(
        "go",
        &["run", "example.go"],
        dir.path(),
        &[
            ("SSL_CERT_FILE", ca),
            ("GOCACHE", cache.to_str().unwrap()),
            ("GOFLAGS", "-mod=mod"),
        ],
    );
    assert!(out.contains("Response Status: 200 OK"), "{out}");

    assert_eq!(app.lead_total().await, 2);
    for campaign in app.all("/v1/campaigns").await {
        assert_eq!(campaign["leadCounts"]["total"], 2, "{campaign}");
    }
    // Plain HTTP to an HTTPS server gets nowhere.
    let plain = leadflow::client::http_client()
        .get(app.base.replace("https://", "http://") + "/v1/health")
        .send()
        .await;
    assert!(plain.map_or(true, |r| !r.status().is_success()));
}
