//! Spawning a real server on port 0 over a fresh database, and talking to it.

use leadflow::config::{Config, DatabaseUrl};
use leadflow::domain::email::Email;
use leadflow::startup::Application;
use leadflow::store::Store;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// The workspace key of the first workspace.
    pub key: String,
    pub workspace_id: String,
    /// A platform key of the first workspace's owner.
    pub user_key: String,
    pub store: Store,
    pub database_url: String,
    _dir: tempfile::TempDir,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    /// Status, headers and the body as JSON (or as a string when it is not).
    pub async fn read(res: reqwest::Response) -> Self {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp {
            status,
            headers,
            body,
        }
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// Asserts the failure envelope with this status and code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body["success"], json!(false), "body: {}", self.body);
        assert_eq!(
            self.body["error"]["code"],
            json!(code),
            "body: {}",
            self.body
        );
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }

    #[track_caller]
    pub fn assert_ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body["success"], json!(true), "body: {}", self.body);
        self.data()
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }
}

/// The engine under test: SQLite unless `LEADFLOW_TEST_ENGINE=postgres`, in
/// which case `LEADFLOW_TEST_POSTGRES_URL` (a server URL without a database)
/// must be set; a missing one fails the test rather than skipping it.
pub fn postgres_server() -> Option<String> {
    match std::env::var("LEADFLOW_TEST_ENGINE").as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => None,
        Ok("postgres") => Some(
            std::env::var("LEADFLOW_TEST_POSTGRES_URL")
                .expect("LEADFLOW_TEST_ENGINE=postgres needs LEADFLOW_TEST_POSTGRES_URL"),
        ),
        Ok(other) => panic!("unknown LEADFLOW_TEST_ENGINE {other:?}"),
    }
}

/// A connection to a PostgreSQL database, for tests that look underneath.
pub async fn pg_connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(conn);
    client
}

/// Makes an empty place for leadflow named `name` on the PostgreSQL server
/// and answers its URL: a database, or on a Citus cluster
/// (`scripts/with-citus`) what `LEADFLOW_TEST_CREATEDB` makes and prints.
pub async fn create_database(server: &str, name: &str) -> String {
    if let Ok(command) = std::env::var("LEADFLOW_TEST_CREATEDB") {
        let out = tokio::process::Command::new(&command)
            .arg(name)
            .output()
            .await
            .expect("run LEADFLOW_TEST_CREATEDB");
        assert!(
            out.status.success(),
            "{command} {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return String::from_utf8(out.stdout).unwrap().trim().to_owned();
    }
    pg_connect(&format!("{server}/postgres"))
        .await
        .batch_execute(&format!("create database {name}"))
        .await
        .expect("create database");
    format!("{server}/{name}")
}

/// A new, empty database on the engine under test.
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    match postgres_server() {
        None => format!("sqlite://{}", dir.join("test.db").display()),
        Some(server) => {
            let bytes: [u8; 8] = rand::random();
            let name: String = std::iter::once("lf_".to_string())
                .chain(bytes.iter().map(|b| format!("{b:02x}")))
                .collect();
            create_database(&server, &name).await
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A server whose configuration `tune` adjusts first.
pub async fn spawn_app_with(tune: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = fresh_database_url(dir.path()).await;
    let mut config = Config::new("127.0.0.1:0", DatabaseUrl::new(database_url.clone()));
    tune(&mut config);
    let app = Application::build(&config).await.expect("build app");
    let port = app.port();
    let store = app.store();
    tokio::spawn(app.run_until(std::future::pending()));

    let email = Email::parse(&format!("owner{port}@example.com")).unwrap();
    let (user, user_key) = store.create_user(&email).await.unwrap();
    let (ws, key) = store
        .create_workspace("Test workspace", Some(user.key))
        .await
        .unwrap();
    TestApp {
        base: format!("http://127.0.0.1:{port}"),
        client: leadflow::client::http_client(),
        key: key.expose().to_owned(),
        workspace_id: ws.workspace.id().to_string(),
        user_key: user_key.expose().to_owned(),
        store,
        database_url,
        _dir: dir,
    }
}

impl TestApp {
    /// Sends a request with `headers`; a JSON body when given.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Resp {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        Resp::read(req.send().await.expect("request failed")).await
    }

    /// A request authenticated with the workspace key.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.call_as(&self.key, method, path, body).await
    }

    pub async fn call_as(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Resp {
        self.send(method, path, &[("X-Api-Key", key)], body.as_ref())
            .await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, None).await
    }

    pub async fn create_campaign(&self, name: &str) -> String {
        let r = self.post("/v1/campaigns", json!({"name": name})).await;
        r.assert_ok(201)["_id"].as_str().unwrap().to_owned()
    }

    pub async fn create_lead(&self, body: Value) -> Value {
        let r = self.post("/v1/leads", body).await;
        r.assert_ok(201).clone()
    }

    /// Creates leads through the bulk endpoint; returns their IDs in order.
    pub async fn create_leads(&self, leads: Vec<Value>) -> Vec<String> {
        let r = self.post("/v1/leads/bulk", json!({"leads": leads})).await;
        let d = r.assert_ok(200);
        assert_eq!(d["failed"], json!(0), "{d}");
        d["importedLeadIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    /// `POST /v1/campaigns/{id}/leads`.
    pub async fn add(&self, campaign: &str, body: Value) -> Resp {
        self.post(&format!("/v1/campaigns/{campaign}/leads"), body)
            .await
    }

    /// A campaign's members: email → membership status.
    pub async fn members(&self, campaign: &str) -> std::collections::BTreeMap<String, String> {
        self.all(&format!("/v1/campaigns/{campaign}/leads"))
            .await
            .iter()
            .map(|cl| {
                (
                    cl["lead"]["email"].as_str().unwrap().to_owned(),
                    cl["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// Every item of a list, walking its pages.
    /// Every event of the workspace after `after`, following the feed's
    /// cursor a page of `limit` at a time; with the last cursor.
    pub async fn events_after(
        &self,
        after: &str,
        query: &str,
        limit: usize,
    ) -> (Vec<Value>, String) {
        let mut events = Vec::new();
        let mut cursor = after.to_owned();
        loop {
            let r = self
                .get(&format!("/v1/events?after={cursor}&limit={limit}{query}"))
                .await;
            let page = r.assert_ok(200).as_array().unwrap().clone();
            let next = r.body["pagination"]["nextCursor"]
                .as_str()
                .unwrap()
                .to_owned();
            events.extend(page);
            cursor = next;
            if r.body["pagination"]["hasMore"] != Value::Bool(true) {
                return (events, cursor);
            }
        }
    }

    /// Every event of the workspace, oldest first.
    pub async fn events(&self) -> Vec<Value> {
        self.events_after("0", "", 100).await.0
    }

    pub async fn all(&self, path: &str) -> Vec<Value> {
        self.all_as(&self.key, path).await
    }

    pub async fn all_as(&self, key: &str, path: &str) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                Some(c) => format!("{path}{sep}limit=100&cursor={c}"),
                None => format!("{path}{sep}limit=100"),
            };
            let r = self.call_as(key, Method::GET, &url, None).await;
            let page = r.assert_ok(200).as_array().unwrap().clone();
            items.extend(page);
            match r.body["pagination"]["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return items,
            }
        }
    }

    /// A second workspace with its own key, on the same server.
    pub async fn other_workspace(&self) -> (String, String) {
        let (ws, key) = self.store.create_workspace("Other", None).await.unwrap();
        (ws.workspace.id().to_string(), key.expose().to_owned())
    }

    /// Everything the database holds about users, workspaces and keys, as
    /// bytes, to search for secrets.
    pub async fn raw_key_storage(&self) -> Vec<u8> {
        match self.database_url.strip_prefix("sqlite://") {
            Some(path) => {
                let mut bytes = std::fs::read(path).unwrap();
                bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
                bytes
            }
            None => {
                let client = pg_connect(&self.database_url).await;
                let mut out = Vec::new();
                for table in ["api_keys", "users", "workspaces", "workspace_members"] {
                    for row in client
                        .query(&format!("select t::text from {table} t"), &[])
                        .await
                        .unwrap()
                    {
                        out.extend(row.get::<_, String>(0).into_bytes());
                    }
                }
                out
            }
        }
    }

    /// How many rows of each table of [`WORKSPACE_TABLES`] belong to the
    /// workspace whose `_id` is `workspace` (and, under `workspaces`, whether
    /// the workspace itself is there), counted in the database itself, the
    /// SQLite file or the PostgreSQL database, not through the API.
    pub async fn rows_of_workspace(&self, workspace: &str) -> Vec<(&'static str, i64)> {
        let key = leadflow::domain::id::ObjectId::parse(workspace)
            .expect("a workspace _id")
            .key;
        let mut queries: Vec<(&'static str, String)> = WORKSPACE_TABLES
            .iter()
            .map(|t| {
                (
                    *t,
                    format!("select count(*) from {t} where workspace_id = $1"),
                )
            })
            .collect();
        queries.push((
            "workspaces",
            "select count(*) from workspaces where id = $1".to_owned(),
        ));
        match self.database_url.strip_prefix("sqlite://") {
            Some(path) => {
                let conn = rusqlite::Connection::open(path).expect("open the SQLite file");
                queries
                    .into_iter()
                    .map(|(t, q)| (t, conn.query_row(&q, [key], |r| r.get(0)).unwrap()))
                    .collect()
            }
            None => {
                let client = pg_connect(&self.database_url).await;
                let mut out = Vec::new();
                for (t, q) in queries {
                    out.push((t, client.query_one(&q, &[&key]).await.unwrap().get(0)));
                }
                out
            }
        }
    }

    /// The integers a query (with `$1` for `key`) answers, run in the
    /// database itself rather than through the API.
    pub async fn query_db(&self, query: &str, key: i64) -> Vec<Vec<i64>> {
        match self.database_url.strip_prefix("sqlite://") {
            Some(path) => {
                let conn = rusqlite::Connection::open(path).expect("open the SQLite file");
                let mut stmt = conn.prepare(query).unwrap();
                let width = stmt.column_count();
                stmt.query_map([key], |r| (0..width).map(|i| r.get(i)).collect())
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            }
            None => {
                let client = pg_connect(&self.database_url).await;
                client
                    .query(query, &[&key])
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| (0..r.len()).map(|i| r.get(i)).collect())
                    .collect()
            }
        }
    }

    /// `POST /v1/leads/import/csv` with a multipart form.
    pub async fn import(&self, form: reqwest::multipart::Form) -> Resp {
        let res = self
            .client
            .post(format!("{}/v1/leads/import/csv", self.base))
            .header("X-Api-Key", &self.key)
            .multipart(form)
            .send()
            .await
            .expect("request failed");
        Resp::read(res).await
    }

    /// Number of leads in the workspace.
    pub async fn lead_total(&self) -> i64 {
        let r = self.get("/v1/leads?limit=1").await;
        r.assert_ok(200);
        r.body["pagination"]["total"].as_i64().unwrap()
    }

    pub async fn campaign_lead_total(&self, campaign: &str) -> i64 {
        self.get(&format!("/v1/campaigns/{campaign}/leads?limit=1"))
            .await
            .body["pagination"]["total"]
            .as_i64()
            .unwrap()
    }
}

/// The tables whose rows belong to one workspace, by their `workspace_id`.
pub const WORKSPACE_TABLES: [&str; 12] = [
    "leads",
    "lead_totals",
    "campaign_counts",
    "campaigns",
    "campaign_leads",
    "dnc_entries",
    "workspace_members",
    "api_keys",
    "events",
    "event_counters",
    "webhooks",
    "webhook_deliveries",
];

/// `leadflow ARGS`, with `LEADFLOW_DATABASE_URL` set to `db` when given:
/// the one place the tests start the binary cargo built for them. It comes
/// back unstarted, for `.output()`, `.spawn()`, or
/// `tokio::process::Command::from` where a test must not block.
pub fn leadflow(args: &[&str], db: Option<&str>) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_leadflow"));
    command.args(args).stdin(std::process::Stdio::null());
    if let Some(db) = db {
        command.env("LEADFLOW_DATABASE_URL", db);
    }
    command
}

/// A workspace made by `leadflow admin create-workspace` on `db`; its key.
pub fn cli_workspace_key(db: &str, name: &str) -> String {
    let out = leadflow(
        &["admin", "create-workspace", "--name", name, "--json"],
        Some(db),
    )
    .output()
    .unwrap();
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    let ws: Value = serde_json::from_str(line.trim().lines().last().unwrap()).unwrap();
    ws["apiKey"].as_str().unwrap().to_owned()
}

/// A `leadflow serve` process on a free port of 127.0.0.1.
pub struct Server {
    pub child: std::process::Child,
    pub port: u16,
}

impl Server {
    /// `leadflow serve --listen 127.0.0.1:PORT EXTRA...` over `db`, with
    /// its stdout and stderr sent where the test wants them.
    pub fn start(
        db: &str,
        extra: &[&str],
        stdout: std::process::Stdio,
        stderr: std::process::Stdio,
    ) -> Self {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["serve", "--listen", &listen];
        args.extend_from_slice(extra);
        let child = leadflow(&args, Some(db))
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("spawn leadflow serve");
        Server { child, port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Waits (30 s at most) until `/v1/health` answers 200. Returns the
    /// `X-Request-Id` of every answer it got, for tests that account for
    /// every request in the logs.
    pub async fn wait_healthy(&self) -> Vec<String> {
        let client = leadflow::client::http_client();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut answered = Vec::new();
        while std::time::Instant::now() < deadline {
            if let Ok(r) = client.get(self.url("/v1/health")).send().await {
                if let Some(id) = r.headers().get("x-request-id") {
                    answered.push(id.to_str().unwrap().to_owned());
                }
                if r.status() == 200 {
                    return answered;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the server on port {} did not become healthy", self.port);
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM {}", self.child.id());
    }

    /// SIGTERM, then waits for the exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        self.sigterm();
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    /// A test that fails half-way leaves no server behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `n` lead objects with distinct emails under `prefix`.
pub fn leads(prefix: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"email": format!("{prefix}{i}@example.com")}))
        .collect()
}

/// A CSV import form: the text parts first, then the file.
pub fn csv_form(csv: impl Into<Vec<u8>>, parts: &[(&str, &str)]) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in parts {
        form = form.text(name.to_string(), value.to_string());
    }
    form.part("file", csv_part(csv))
}

/// A file part named `leads.csv` of type `text/csv`.
pub fn csv_part(csv: impl Into<Vec<u8>>) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(csv.into())
        .file_name("leads.csv")
        .mime_str("text/csv")
        .unwrap()
}

/// A throwaway CA and a certificate it signed for 127.0.0.1, made with
/// Debian's `openssl` in `dir`: `ca.pem`, `cert.pem`, `key.pem`.
pub struct Certs {
    pub ca: std::path::PathBuf,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

pub fn make_certs(dir: &std::path::Path, name: &str) -> Certs {
    let p = |f: &str| dir.join(format!("{name}-{f}"));
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl is needed for the TLS tests");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let (ca_key, ca, key, csr, ext, cert) = (
        p("ca.key"),
        p("ca.pem"),
        p("key.pem"),
        p("cert.csr"),
        p("ext.cnf"),
        p("cert.pem"),
    );
    let s = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        &format!("/CN={name} test CA"),
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout",
        &s(&ca_key),
        "-out",
        &s(&ca),
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &s(&key),
        "-out",
        &s(&csr),
    ]);
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &s(&csr),
        "-CA",
        &s(&ca),
        "-CAkey",
        &s(&ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &s(&ext),
        "-out",
        &s(&cert),
    ]);
    Certs { ca, cert, key }
}

/// A client that trusts only `ca`.
pub fn client_trusting(ca: &std::path::Path) -> reqwest::Client {
    let _ = leadflow::client::http_client();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap()
}
