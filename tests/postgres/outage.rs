//! The database goes away and comes back: 503 while it is gone, recovery
//! without a restart.

use std::time::{Duration, Instant};

use leadflow::config::{Config, DatabaseUrl};
use leadflow::domain::email::Email;
use leadflow::startup::Application;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::{fresh_database_url, postgres_server};

/// A TCP forwarder standing between leadflow and PostgreSQL, which the test
/// can cut and restore.
struct Proxy {
    port: u16,
    target: String,
    cut: Option<watch::Sender<bool>>,
}

impl Proxy {
    async fn start(port: u16, target: String) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (cut, watch) = watch::channel(false);
        let to = target.clone();
        tokio::spawn(async move {
            let mut stop = watch.clone();
            loop {
                tokio::select! {
                    _ = stop.changed() => return,
                    accepted = listener.accept() => {
                        let Ok((mut inbound, _)) = accepted else { return };
                        let to = to.clone();
                        let mut stop = watch.clone();
                        tokio::spawn(async move {
                            let Ok(mut outbound) = TcpStream::connect(&to).await else { return };
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                                _ = stop.changed() => {}
                            }
                        });
                    }
                }
            }
        });
        Proxy {
            port,
            target,
            cut: Some(cut),
        }
    }

    /// Closes the listener and every forwarded connection.
    async fn cut(&mut self) {
        if let Some(c) = self.cut.take() {
            let _ = c.send(true);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    async fn restore(&mut self) {
        *self = Proxy::start(self.port, self.target.clone()).await;
    }
}

async fn get(client: &reqwest::Client, url: &str, key: &str) -> (u16, Value) {
    let r = client
        .get(url)
        .header("X-Api-Key", key)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_gives_503_and_the_server_recovers_by_itself() {
    assert!(
        postgres_server().is_some(),
        "this test needs LEADFLOW_TEST_ENGINE=postgres"
    );
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database_url(dir.path()).await;
    // postgres://user@127.0.0.1:PORT/NAME -> the same through the proxy.
    let (before, rest) = db.rsplit_once('@').unwrap();
    let (host_port, name) = rest.split_once('/').unwrap();
    let mut proxy = Proxy::start(0, host_port.to_owned()).await;
    let via_proxy = format!("{before}@127.0.0.1:{}/{name}", proxy.port);

    let app = Application::build(&Config::new("127.0.0.1:0", DatabaseUrl::new(via_proxy)))
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let store = app.store();
    tokio::spawn(app.run_until(std::future::pending()));
    let (user, _) = store
        .create_user(&Email::parse("o@example.com").unwrap())
        .await
        .unwrap();
    let (_, key) = store.create_workspace("W", Some(user.key)).await.unwrap();
    let key = key.expose().to_owned();
    let client = leadflow::client::http_client();
    let r = client
        .post(format!("{base}/v1/leads"))
        .header("X-Api-Key", &key)
        .json(&json!({"email": "kept@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    proxy.cut().await;
    let started = Instant::now();
    let (status, body) = get(&client, &format!("{base}/v1/leads"), &key).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], json!("UNAVAILABLE"));
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1"),
        "no internals: {body}"
    );
    let (status, body) = get(&client, &format!("{base}/v1/health"), &key).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], json!("UNAVAILABLE"));
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "fails fast rather than hanging"
    );

    proxy.restore().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, _) = get(&client, &format!("{base}/v1/health"), &key).await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = get(&client, &format!("{base}/v1/leads"), &key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["email"], json!("kept@example.com"));
}
