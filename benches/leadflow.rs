//! leadflow against the raw engine, at a million leads.
//!
//! For each engine (SQLite; PostgreSQL when `--postgres URL` names a server)
//! this generates a workspace of N leads, starts a real `leadflow serve` on
//! it, and measures over HTTP: P1 explicit mode with 5,000 new emails, P2
//! explicit mode with 5,000 existing leads by ID, P3 filters matching about
//! 10% of N, P4 select-all into an empty campaign, and P5 many small requests
//! from 32 connections beside `/v1/health` on the same server; N1, the noisy
//! neighbour: a second, small workspace's 10-lead adds (2 connections),
//! alone and while the big workspace sends select-all dry runs and searches
//! (4 connections), reported as the small one's p50/p99 in both and how many
//! of its requests were refused; S1, 10-lead adds from 32 connections spread
//! over 16 workspaces (on Citus, over the workers' shards); J1, the same
//! select-all as a background job (`"async": true`): from the request to
//! the job's success, beside the synchronous call and the raw engine, with
//! the small workspace's 10-lead adds (2 connections) meanwhile against
//! their p99 alone; J2, a CSV import of `--import-rows` new leads as a job
//! (`async=true`, one file) from the upload to the job's success, beside
//! the same number of rows imported synchronously in files of 50,000 (the
//! synchronous limit), with the small workspace's adds meanwhile. The raw engine
//! does the same work (same rows, same uniqueness rules, straight SQL through
//! the driver, one transaction) in the same run, and each P is printed as a
//! ratio to it. Times are medians of `--runs` runs; request bodies are encoded
//! before the clock starts.
//!
//!     cargo bench --bench leadflow -- --leads 1000000 [--postgres postgres://USER@HOST:PORT]
//!
//! See BENCHMARKS.md for results and how to read them.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use leadflow::config::Config;
use leadflow::domain::email::Email;
use leadflow::domain::lead::LeadFields;
use leadflow::store::{self, Store, WorkspaceRef};
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    /// Leads in the generated workspace.
    #[arg(long, default_value_t = 1_000_000)]
    leads: usize,
    /// Runs per measurement; the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// A PostgreSQL server URL without a database (one is created).
    #[arg(long)]
    postgres: Option<String>,
    /// Skip SQLite (with --postgres: PostgreSQL only).
    #[arg(long)]
    no_sqlite: bool,
    /// Seconds of load for P5 and for the /v1/health baseline.
    #[arg(long, default_value_t = 5.0)]
    load_seconds: f64,
    /// P1–P4 with `skipIfInOtherCampaign: true`. Before each measured
    /// request every membership of the workspace is marked completed
    /// (outside the timing; PostgreSQL then vacuums the table, as
    /// autovacuum would): each lead's memberships elsewhere are looked at
    /// and none stops it, so both sides add the same rows.
    #[arg(long)]
    skip_if_in_other_campaign: bool,
    /// Rows of J2's CSV import; default: `--leads`, at most 1,000,000 (the
    /// asynchronous import's limit).
    #[arg(long)]
    import_rows: Option<usize>,
    /// Only these measurements, e.g. `--only P4`.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

const BATCH: usize = 5_000;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Runtime::new()?;
    let dir = tempfile::tempdir()?;
    let mut engines = Vec::new();
    if !args.no_sqlite {
        engines.push(Engine::Sqlite(dir.path().join("bench.db")));
    }
    if let Some(server) = &args.postgres {
        engines.push(Engine::Postgres(server.clone()));
    }
    for engine in engines {
        rt.block_on(run_engine(&args, engine))?;
    }
    Ok(())
}

enum Engine {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

/// The raw engine: a plain driver connection to the same database.
enum Raw {
    Sqlite(rusqlite::Connection),
    Postgres(tokio_postgres::Client),
}

struct Measure {
    name: &'static str,
    what: String,
    leadflow: Duration,
    raw: Duration,
    goal: f64,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn wanted(args: &Args, p: &str) -> bool {
    args.only.is_empty() || args.only.iter().any(|o| o.eq_ignore_ascii_case(p))
}

async fn run_engine(args: &Args, engine: Engine) -> anyhow::Result<()> {
    let (label, url) = match &engine {
        Engine::Sqlite(path) => ("SQLite", format!("sqlite://{}", path.display())),
        Engine::Postgres(server) => {
            let name = format!("leadflow_bench_{}", std::process::id());
            match std::env::var("LEADFLOW_TEST_CREATEDB") {
                // A Citus cluster (scripts/with-citus): it makes the place
                // and says where.
                Ok(command) => {
                    let out = std::process::Command::new(&command).arg(&name).output()?;
                    anyhow::ensure!(out.status.success(), "{command} {name} failed");
                    ("Citus", String::from_utf8(out.stdout)?.trim().to_owned())
                }
                Err(_) => {
                    let (admin, conn) = tokio_postgres::connect(
                        &format!("{server}/postgres"),
                        tokio_postgres::NoTls,
                    )
                    .await?;
                    tokio::spawn(conn);
                    admin
                        .batch_execute(&format!("drop database if exists {name}"))
                        .await?;
                    admin
                        .batch_execute(&format!("create database {name}"))
                        .await?;
                    ("PostgreSQL", format!("{server}/{name}"))
                }
            }
        }
    };
    println!("\n## {label}, N = {}\n", args.leads);
    let store = store::connect(&url, Config::DEFAULT_DB_MAX_CONNECTIONS).await?;
    let email = Email::parse("bench@example.com").unwrap();
    let (user, _) = store.create_user(&email).await?;
    let (ws, key) = store.create_workspace("Bench", Some(user.key)).await?;
    let ws = ws.workspace;
    let key = key.expose().to_owned();
    let (_, quiet_key) = store
        .create_workspace("Quiet neighbour", Some(user.key))
        .await?;
    let quiet_key = quiet_key.expose().to_owned();
    let mut spread_keys = Vec::new();
    if wanted(args, "S1") {
        for i in 0..SPREAD_WORKSPACES {
            let (_, k) = store
                .create_workspace(&format!("Spread {i}"), Some(user.key))
                .await?;
            spread_keys.push(k.expose().to_owned());
        }
    }

    let generated = generate(&store, ws, args.leads).await?;
    println!(
        "generated {} leads through the store's bulk path: {:.0} leads/s",
        args.leads, generated.rate
    );
    let dnc = dnc_entries(args.leads);
    store.add_dnc(ws, dnc).await?;
    drop(store);

    let mut raw = match &engine {
        Engine::Sqlite(path) => {
            let c = rusqlite::Connection::open(path)?;
            c.execute_batch("pragma journal_mode = wal; pragma synchronous = normal; pragma cache_size = -32768;")?;
            Raw::Sqlite(c)
        }
        Engine::Postgres(_) => {
            let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            tokio::spawn(conn);
            // The statistics autovacuum gathers within a minute of a load:
            // planned before them, the first statement on a million fresh
            // leads can go through them row by row (a P1 ran for minutes
            // when it started the second the load ended).
            c.batch_execute("analyze").await?;
            Raw::Postgres(c)
        }
    };

    // The raw client connects without TLS; so does the server here (the
    // same transport on both sides).
    let server_url = match &engine {
        Engine::Sqlite(_) => url.clone(),
        Engine::Postgres(_) => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}sslmode=disable")
        }
    };
    let server = Server::start(&server_url).await?;
    let http = leadflow::client::http_client();
    let mut results = Vec::new();

    if wanted(args, "P1") {
        let (mut lf, mut rw) = (Vec::new(), Vec::new());
        for run in 0..args.runs {
            let emails: Vec<String> = (0..BATCH)
                .map(|i| format!("raw1-{run}-{i}@new.example"))
                .collect();
            // Every other run the raw engine goes first, so neither side
            // always finds the cache warm.
            if run % 2 == 1 {
                rw.push(raw.new_leads(ws, &emails).await?);
            }
            raw.settle(ws, args.skip_if_in_other_campaign).await?;
            let campaign = server.campaign(&http, &key).await?;
            let body = ruled(
                explicit_body(
                    (0..BATCH).map(|i| json!({"email": format!("p1-{run}-{i}@new.example")})),
                ),
                args,
            );
            let (d, data) = server
                .post(
                    &http,
                    &key,
                    &format!("/v1/campaigns/{campaign}/leads"),
                    body,
                )
                .await?;
            anyhow::ensure!(
                data["added"] == BATCH && data["created"] == BATCH,
                "P1 answered {data}"
            );
            lf.push(d);
            if run % 2 == 0 {
                rw.push(raw.new_leads(ws, &emails).await?);
            }
        }
        results.push(Measure {
            name: "P1",
            what: "explicit, 5,000 new emails".into(),
            leadflow: median(lf),
            raw: median(rw),
            goal: 2.0,
        });
    }
    if wanted(args, "P2") {
        let (mut lf, mut rw) = (Vec::new(), Vec::new());
        for run in 0..args.runs {
            let ids = raw
                .lead_ids(ws, BATCH, run * BATCH % args.leads.max(1))
                .await?;
            if run % 2 == 1 {
                rw.push(raw.existing_leads(ws, &ids).await?);
            }
            raw.settle(ws, args.skip_if_in_other_campaign).await?;
            let campaign = server.campaign(&http, &key).await?;
            let body = ruled(
                explicit_body(ids.iter().map(
                    |(k, c)| json!({"leadId": leadflow::domain::id::ObjectId::new(*k, *c).to_string()}),
                )),
                args,
            );
            let (d, data) = server
                .post(
                    &http,
                    &key,
                    &format!("/v1/campaigns/{campaign}/leads"),
                    body,
                )
                .await?;
            anyhow::ensure!(
                counted(&data, "added") + counted(&data, "blocked") == ids.len() as u64,
                "P2 answered {data}"
            );
            lf.push(d);
            if run % 2 == 0 {
                rw.push(raw.existing_leads(ws, &ids).await?);
            }
        }
        results.push(Measure {
            name: "P2",
            what: "explicit, 5,000 existing leads by leadId".into(),
            leadflow: median(lf),
            raw: median(rw),
            goal: 2.0,
        });
    }
    if wanted(args, "P3") {
        let (mut lf, mut rw) = (Vec::new(), Vec::new());
        let mut matched = 0;
        for run in 0..args.runs {
            let raw_first = if run % 2 == 1 {
                Some(raw.select_into_campaign(ws, true).await?)
            } else {
                None
            };
            raw.settle(ws, args.skip_if_in_other_campaign).await?;
            let campaign = server.campaign(&http, &key).await?;
            let body = ruled(
                serde_json::to_vec(&json!({"filters": {"tags": ["hot"], "country": "DE"}}))?,
                args,
            );
            let (d, data) = server
                .post(
                    &http,
                    &key,
                    &format!("/v1/campaigns/{campaign}/leads"),
                    body,
                )
                .await?;
            matched = counted(&data, "matched");
            let added = counted(&data, "added");
            anyhow::ensure!(
                added + counted(&data, "blocked") == matched,
                "P3 answered {data}"
            );
            lf.push(d);
            let (d, n) = match raw_first {
                Some(done) => done,
                None => raw.select_into_campaign(ws, true).await?,
            };
            anyhow::ensure!(n == added, "raw P3 added {n}, leadflow {added}");
            rw.push(d);
        }
        results.push(Measure {
            name: "P3",
            what: format!("filters, tag + country ({matched} leads)"),
            leadflow: median(lf),
            raw: median(rw),
            goal: 1.5,
        });
    }
    if wanted(args, "P4") {
        let (mut lf, mut rw) = (Vec::new(), Vec::new());
        for run in 0..args.runs {
            if run % 2 == 1 {
                rw.push(raw.select_into_campaign(ws, false).await?.0);
            }
            raw.settle(ws, args.skip_if_in_other_campaign).await?;
            let campaign = server.campaign(&http, &key).await?;
            let body = ruled(serde_json::to_vec(&json!({"selectAll": true}))?, args);
            let (d, data) = server
                .post(
                    &http,
                    &key,
                    &format!("/v1/campaigns/{campaign}/leads"),
                    body,
                )
                .await?;
            anyhow::ensure!(
                counted(&data, "added") + counted(&data, "blocked") == counted(&data, "matched"),
                "P4 answered {data}"
            );
            lf.push(d);
            if run % 2 == 0 {
                rw.push(raw.select_into_campaign(ws, false).await?.0);
            }
        }
        results.push(Measure {
            name: "P4",
            what: "select-all into an empty campaign".into(),
            leadflow: median(lf),
            raw: median(rw),
            goal: 1.5,
        });
    }

    println!("| | work | leadflow (ms) | raw engine (ms) | ratio | goal |");
    println!("|---|---|---:|---:|---:|---|");
    for m in &results {
        let ratio = m.leadflow.as_secs_f64() / m.raw.as_secs_f64();
        let verdict = if ratio <= m.goal { "met" } else { "missed" };
        println!(
            "| {} | {} | {:.1} | {:.1} | {ratio:.2}x | ≤ {}x: {verdict} |",
            m.name,
            m.what,
            ms(m.leadflow),
            ms(m.raw),
            m.goal
        );
    }

    if args.only.is_empty()
        || args
            .only
            .iter()
            .any(|o| o.to_ascii_uppercase().starts_with(['R', 'C']))
    {
        reads(args, &server, &http, &key, &generated).await?;
    }

    if wanted(args, "P5") {
        let load = Duration::from_secs_f64(args.load_seconds);
        let campaign = server.campaign(&http, &key).await?;
        let small = load_test(&server, &key, Some(&campaign), load).await?;
        let health = load_test(&server, &key, None, load).await?;
        let share = small.rps / health.rps;
        println!(
            "| P5 | 10-lead requests, 32 connections | {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms | /v1/health {:.0} req/s | {:.0}% | ≥ 25%: {} |",
            small.rps,
            small.p50,
            small.p99,
            health.rps,
            share * 100.0,
            if share >= 0.25 { "met" } else { "missed" }
        );
    }
    if wanted(args, "S1") {
        // Many workspaces (on Citus, spread over the workers' shards).
        let load = Duration::from_secs_f64(args.load_seconds);
        let mut targets = Vec::new();
        for k in &spread_keys {
            targets.push((k.clone(), Some(server.campaign(&http, k).await?)));
        }
        let spread = spread_load(&server, &targets, load).await?;
        println!(
            "| S1 | 10-lead requests from 32 connections over {} workspaces | {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms | | | |",
            targets.len(),
            spread.rps,
            spread.p50,
            spread.p99,
        );
    }
    if wanted(args, "N1") {
        let load = Duration::from_secs_f64(args.load_seconds);
        let mine = server.campaign(&http, &quiet_key).await?;
        let big = server.campaign(&http, &key).await?;
        let alone = neighbour(&server, &quiet_key, &mine, None, Until::for_(load)).await?;
        let noisy = Noise {
            key: &key,
            campaign: &big,
        };
        let loaded = neighbour(&server, &quiet_key, &mine, Some(noisy), Until::for_(load)).await?;
        let ratio = loaded.p99 / alone.p99;
        println!(
            "| N1 | 10-lead adds of a small workspace, 2 connections | alone p50 {:.1} ms, p99 {:.1} ms | beside {} select-all dry runs and searches of N leads: p50 {:.1} ms, p99 {:.1} ms, {} refused | p99 {:.1}x | ≤ 3x and none refused: {} |",
            alone.p50,
            alone.p99,
            loaded.noise,
            loaded.p50,
            loaded.p99,
            loaded.refused,
            ratio,
            if ratio <= 3.0 && loaded.refused == 0 {
                "met"
            } else {
                "missed"
            }
        );
    }
    if wanted(args, "J1") {
        let load = Duration::from_secs_f64(args.load_seconds);
        let mine = server.campaign(&http, &quiet_key).await?;
        let alone = neighbour(&server, &quiet_key, &mine, None, Until::for_(load)).await?;
        // The synchronous call and the raw engine, one run each (as P4).
        let sync_campaign = server.campaign(&http, &key).await?;
        let body = serde_json::to_vec(&json!({"selectAll": true}))?;
        let (sync, sync_data) = server
            .post(
                &http,
                &key,
                &format!("/v1/campaigns/{sync_campaign}/leads"),
                body,
            )
            .await?;
        let (rw, _) = raw.select_into_campaign(ws, false).await?;
        // The job, with the small workspace's adds beside it until it ends.
        let campaign = server.campaign(&http, &key).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let job = async {
            let out = job_select_all(&server, &http, &key, &campaign).await;
            stop.store(true, Ordering::Relaxed);
            out
        };
        let beside = neighbour(&server, &quiet_key, &mine, None, Until::Told(stop.clone()));
        let (job, beside) = tokio::join!(job, beside);
        let ((took, data), beside) = (job?, beside?);
        anyhow::ensure!(
            data["added"] == sync_data["added"] && data["matched"] == sync_data["matched"],
            "the job answered {data}, the synchronous call {sync_data}"
        );
        println!(
            "| J1 | select-all of {} leads as a job | {:.1} ms | synchronous {:.1} ms ({:.2}x), raw {:.1} ms ({:.2}x) | small workspace's 10-lead adds meanwhile: p50 {:.1} ms, p99 {:.1} ms, {} refused; alone p99 {:.1} ms ({:.1}x) |",
            counted(&data, "matched"),
            ms(took),
            ms(sync),
            took.as_secs_f64() / sync.as_secs_f64(),
            ms(rw),
            took.as_secs_f64() / rw.as_secs_f64(),
            beside.p50,
            beside.p99,
            beside.refused,
            alone.p99,
            beside.p99 / alone.p99,
        );
    }
    if wanted(args, "J2") {
        let load = Duration::from_secs_f64(args.load_seconds);
        let mine = server.campaign(&http, &quiet_key).await?;
        let alone = neighbour(&server, &quiet_key, &mine, None, Until::for_(load)).await?;
        let rows = args
            .import_rows
            .unwrap_or(args.leads.min(1_000_000))
            .min(1_000_000);
        // Synchronously: one file of 50,000 rows after another.
        let mut sync = Duration::ZERO;
        for from in (0..rows).step_by(50_000) {
            let file = import_file("sync", from..(from + 50_000).min(rows));
            let (took, data) = server.import(&http, &key, file, false).await?;
            anyhow::ensure!(
                counted(&data, "imported") == (rows - from).min(50_000) as u64,
                "the synchronous import answered {data}"
            );
            sync += took;
        }
        // As a job: one file, with the small workspace's adds beside it.
        let file = import_file("async", 0..rows);
        let size = file.len();
        let stop = Arc::new(AtomicBool::new(false));
        let job = async {
            let out = async {
                let started = Instant::now();
                let (read, id) = server.import(&http, &key, file, true).await?;
                let data =
                    job_data(&server, &http, &key, id["jobId"].as_str().unwrap_or("")).await?;
                Ok::<_, anyhow::Error>((read, started.elapsed(), data))
            }
            .await;
            stop.store(true, Ordering::Relaxed);
            out
        };
        let beside = neighbour(&server, &quiet_key, &mine, None, Until::Told(stop.clone()));
        let (job, beside) = tokio::join!(job, beside);
        let ((read, took, data), beside) = (job?, beside?);
        anyhow::ensure!(
            counted(&data, "imported") == rows as u64,
            "the import job answered {data}"
        );
        println!(
            "| J2 | CSV import of {rows} new leads as a job (one file, {:.0} MiB) | {:.1} ms (of which upload and read {:.1} ms) | synchronous, in files of 50,000 rows: {:.1} ms ({:.2}x) | small workspace's 10-lead adds meanwhile: p50 {:.1} ms, p99 {:.1} ms, {} refused; alone p99 {:.1} ms ({:.1}x) |",
            size as f64 / (1024.0 * 1024.0),
            ms(took),
            ms(read),
            ms(sync),
            took.as_secs_f64() / sync.as_secs_f64(),
            beside.p50,
            beside.p99,
            beside.refused,
            alone.p99,
            beside.p99 / alone.p99,
        );
    }
    let peak = server.peak_memory_kib();
    println!(
        "\nserver peak resident memory over the run: {:.1} MiB (goal < 100 MiB: {})",
        peak as f64 / 1024.0,
        if peak < 100 * 1024 { "met" } else { "missed" }
    );
    server.stop();
    Ok(())
}

/// What [`generate`] made.
struct Generated {
    /// Leads per second through the bulk path.
    rate: f64,
    /// A time halfway through the generation (RFC 3339).
    midway: String,
    /// A lead about halfway down the list (its public ID).
    middle: String,
}

/// N leads through `bulk_upsert`, 5,000 at a time: 20% tagged `hot`, half in
/// DE and half in US, so tag + country matches 10%; one in ten verified.
async fn generate(store: &Store, ws: WorkspaceRef, n: usize) -> anyhow::Result<Generated> {
    let started = Instant::now();
    let mut midway = String::new();
    let mut middle = String::new();
    let mut i = 0;
    while i < n {
        let end = (i + BATCH).min(n);
        let batch: Vec<(Email, LeadFields)> = (i..end)
            .map(|j| {
                let value = json!({
                    "email": format!("lead{j}@bench.example"),
                    "firstName": format!("First{j}"),
                    "companyName": format!("Company {}", j % 1000),
                    "country": if j % 2 == 0 { "DE" } else { "US" },
                    "tags": if j % 5 == 0 { vec!["hot"] } else { vec!["cold"] },
                    "emailVerificationResult": if j % 10 == 0 { Some("valid") } else { None },
                });
                LeadFields::parse_new(&value).expect("valid generated lead")
            })
            .collect();
        if midway.is_empty() && end >= n / 2 {
            midway = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        }
        let out = store.bulk_upsert(ws, batch, true, None).await?;
        if middle.is_empty() && end >= n / 2 {
            middle = out
                .imported
                .first()
                .map(|id| id.to_string())
                .unwrap_or_default();
        }
        i = end;
    }
    Ok(Generated {
        rate: n as f64 / started.elapsed().as_secs_f64(),
        midway,
        middle,
    })
}

/// The do-not-contact list of the generated workspace: a realistic few
/// thousand entries. One lead in 500 is on it by email; the rest of the
/// emails and the domains match no lead.
fn dnc_entries(n: usize) -> Vec<(store::DncKind, String)> {
    let mut entries: Vec<(store::DncKind, String)> = (0..n)
        .step_by(500)
        .take(2_000)
        .map(|j| (store::DncKind::Email, format!("lead{j}@bench.example")))
        .collect();
    let others = 3_000 - entries.len();
    entries
        .extend((0..others).map(|i| (store::DncKind::Email, format!("gone{i}@elsewhere.example"))));
    entries.extend((0..1_000).map(|i| (store::DncKind::Domain, format!("blocked{i}.example"))));
    entries
}

fn counted(data: &Value, field: &str) -> u64 {
    data[field].as_u64().unwrap_or_default()
}

/// A P1–P4 body, with `"skipIfInOtherCampaign": true` when the run asks.
fn ruled(body: Vec<u8>, args: &Args) -> Vec<u8> {
    if !args.skip_if_in_other_campaign {
        return body;
    }
    let mut v: Value = serde_json::from_slice(&body).expect("json");
    v["skipIfInOtherCampaign"] = json!(true);
    serde_json::to_vec(&v).expect("json")
}

fn explicit_body(entries: impl Iterator<Item = Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({"leads": entries.collect::<Vec<_>>()})).expect("json")
}

/// The raw engine's do-not-contact test of a lead `l`: two anti joins on
/// the list's unique index, as leadflow makes it.
const SQLITE_NOT_DNC: &str = "not exists (select 1 from dnc_entries d where d.workspace_id = l.workspace_id \
     and d.kind = 'email' and d.value = l.email_key) and not exists (select 1 from dnc_entries d \
     where d.workspace_id = l.workspace_id and d.kind = 'domain' and d.value = substr(l.email_key, instr(l.email_key, '@') + 1))";
const PG_NOT_DNC: &str = "not exists (select 1 from dnc_entries d where d.workspace_id = l.workspace_id \
     and d.kind = 'email' and d.value = l.email_key) and not exists (select 1 from dnc_entries d \
     where d.workspace_id = l.workspace_id and d.kind = 'domain' and d.value = split_part(l.email_key, '@', 2))";

impl Raw {
    /// With `skip_other`: finishes every membership of the workspace
    /// (outside any timing), so that none keeps a lead out of the next
    /// add under `skipIfInOtherCampaign`.
    async fn settle(&mut self, ws: WorkspaceRef, skip_other: bool) -> anyhow::Result<()> {
        if !skip_other {
            return Ok(());
        }
        let sql = "update campaign_leads set status = 'completed' where workspace_id = $1 and status <> 'completed'";
        match self {
            Raw::Sqlite(c) => {
                c.execute(&sql.replace("$1", "?1"), [ws.key])?;
            }
            Raw::Postgres(c) => {
                c.execute(sql, &[&ws.key]).await?;
                // What autovacuum does within a minute of a mass update:
                // without it the open-membership index still points at
                // every old row version, and each lookup visits the table.
                c.batch_execute("vacuum (analyze) campaign_leads").await?;
            }
        }
        Ok(())
    }

    /// Creates an empty campaign directly (outside any timing).
    async fn campaign(&mut self, ws: WorkspaceRef) -> anyhow::Result<i64> {
        let now = leadflow::domain::now_ms();
        Ok(match self {
            Raw::Sqlite(c) => {
                c.execute(
                    "insert into campaigns (workspace_id, name, status, sequence, schedule, settings, created_at, updated_at) \
                     values (?1, 'raw', 'draft', '[]', '{}', '{}', ?2, ?2)",
                    rusqlite::params![ws.key, now],
                )?;
                c.last_insert_rowid()
            }
            Raw::Postgres(c) => c
                .query_one(
                    "insert into campaigns (workspace_id, name, status, sequence, schedule, settings, created_at, updated_at) \
                     values ($1, 'raw', 'draft', '[]', '{}', '{}', $2, $2) returning id",
                    &[&ws.key, &now],
                )
                .await?
                .get(0),
        })
    }

    /// `count` lead keys (and creation times) of the workspace from `offset`.
    async fn lead_ids(
        &mut self,
        ws: WorkspaceRef,
        count: usize,
        offset: usize,
    ) -> anyhow::Result<Vec<(i64, i64)>> {
        Ok(match self {
            Raw::Sqlite(c) => c
                .prepare("select id, created_at from leads where workspace_id = ?1 order by id limit ?2 offset ?3")?
                .query_map(rusqlite::params![ws.key, count as i64, offset as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?,
            Raw::Postgres(c) => c
                .query(
                    "select id, created_at from leads where workspace_id = $1 order by id limit $2 offset $3",
                    &[&ws.key, &(count as i64), &(offset as i64)],
                )
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect(),
        })
    }

    /// P1's work: insert the leads whose email is new, then their
    /// memberships, in one transaction.
    async fn new_leads(&mut self, ws: WorkspaceRef, emails: &[String]) -> anyhow::Result<Duration> {
        let campaign = self.campaign(ws).await?;
        let now = leadflow::domain::now_ms();
        let started = Instant::now();
        match self {
            Raw::Sqlite(c) => {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                {
                    let mut lead = tx.prepare(
                        "insert into leads (workspace_id, email, email_key, created_at, updated_at) \
                         values (?1, ?2, ?3, ?4, ?4) on conflict (workspace_id, email_key) do nothing returning id",
                    )?;
                    let mut member = tx.prepare(&format!(
                        "insert into campaign_leads (workspace_id, campaign_id, lead_id, status, added_at, updated_at) \
                         select ?1, ?2, l.id, 'pending', ?4, ?4 from leads l where l.id = ?3 and {SQLITE_NOT_DNC} \
                         on conflict (campaign_id, lead_id) do nothing"
                    ))?;
                    for e in emails {
                        let id: i64 = lead.query_row(
                            rusqlite::params![ws.key, e, e.to_lowercase(), now],
                            |r| r.get(0),
                        )?;
                        member.execute(rusqlite::params![ws.key, campaign, id, now])?;
                    }
                }
                // The search index catches up before the commit, as on the
                // server's writer (its triggers only note the new leads).
                leadflow::store::sqlite::search::catch_up(&tx)?;
                tx.commit()?;
            }
            Raw::Postgres(c) => {
                let tx = c.transaction().await?;
                let keys: Vec<String> = emails.iter().map(|e| e.to_lowercase()).collect();
                let ids: Vec<i64> = tx
                    .query(
                        "insert into leads (workspace_id, email, email_key, created_at, updated_at) \
                         select $1, e, k, $2, $2 from unnest($3::text[], $4::text[]) as x(e, k) \
                         on conflict (workspace_id, email_key) do nothing returning id",
                        &[&ws.key, &now, &emails, &keys],
                    )
                    .await?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                tx.execute(
                    &format!(
                        "insert into campaign_leads (workspace_id, campaign_id, lead_id, status, added_at, updated_at) \
                         select $1, $2, l.id, 'pending', $3, $3 from leads l \
                         where l.workspace_id = $1 and l.id = any($4::bigint[]) and {PG_NOT_DNC} \
                         on conflict (workspace_id, campaign_id, lead_id) do nothing"
                    ),
                    &[&ws.key, &campaign, &now, &ids],
                )
                .await?;
                tx.commit().await?;
            }
        }
        Ok(started.elapsed())
    }

    /// P2's work: memberships for existing leads, each checked to exist.
    async fn existing_leads(
        &mut self,
        ws: WorkspaceRef,
        ids: &[(i64, i64)],
    ) -> anyhow::Result<Duration> {
        let campaign = self.campaign(ws).await?;
        let now = leadflow::domain::now_ms();
        let started = Instant::now();
        match self {
            Raw::Sqlite(c) => {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                {
                    let mut member = tx.prepare(&format!(
                        "insert into campaign_leads (workspace_id, campaign_id, lead_id, status, added_at, updated_at) \
                         select ?1, ?2, l.id, 'pending', ?4, ?4 from leads l where l.id = ?3 and l.workspace_id = ?1 \
                         and {SQLITE_NOT_DNC} on conflict (campaign_id, lead_id) do nothing"
                    ))?;
                    for (id, _) in ids {
                        member.execute(rusqlite::params![ws.key, campaign, id, now])?;
                    }
                }
                tx.commit()?;
            }
            Raw::Postgres(c) => {
                let keys: Vec<i64> = ids.iter().map(|(k, _)| *k).collect();
                let tx = c.transaction().await?;
                tx.execute(
                    &format!(
                        "insert into campaign_leads (workspace_id, campaign_id, lead_id, status, added_at, updated_at) \
                         select $1, $2, l.id, 'pending', $3, $3 from leads l \
                         where l.workspace_id = $1 and l.id = any($4::bigint[]) and {PG_NOT_DNC} \
                         on conflict (workspace_id, campaign_id, lead_id) do nothing"
                    ),
                    &[&ws.key, &campaign, &now, &keys],
                )
                .await?;
                tx.commit().await?;
            }
        }
        Ok(started.elapsed())
    }

    /// P3 (`filtered`) or P4: one `INSERT … SELECT` into a new campaign.
    async fn select_into_campaign(
        &mut self,
        ws: WorkspaceRef,
        filtered: bool,
    ) -> anyhow::Result<(Duration, u64)> {
        let campaign = self.campaign(ws).await?;
        let now = leadflow::domain::now_ms();
        let started = Instant::now();
        let added = match self {
            Raw::Sqlite(c) => {
                let filter = if filtered {
                    " and l.country = 'DE' and exists (select 1 from json_each(l.tags) t where t.value = 'hot')"
                } else {
                    ""
                };
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let n = tx.execute(
                    &format!(
                        "insert into campaign_leads (workspace_id, campaign_id, lead_id, status, added_at, updated_at) \
                         select ?1, ?2, l.id, 'pending', ?3, ?3 from leads l where l.workspace_id = ?1{filter} and {SQLITE_NOT_DNC} \
                         order by l.id on conflict (campaign_id, lead_id) do nothing"
                    ),
                    rusqlite::params![ws.key, campaign, now],
                )?;
                tx.commit()?;
                n as u64
            }
            Raw::Postgres(c) => {
                let filter = if filtered {
                    " and l.country = 'DE' and l.tags && array['hot']"
                } else {
                    ""
                };
                let tx = c.transaction().await?;
                let n = tx
                    .execute(
                        &format!(
                            "insert into campaign_leads (workspace_id, campaign_id, lead_id, status, added_at, updated_at) \
                             select $1, $2, l.id, 'pending', $3, $3 from leads l where l.workspace_id = $1{filter} and {PG_NOT_DNC} \
                             order by l.id on conflict (workspace_id, campaign_id, lead_id) do nothing"
                        ),
                        &[&ws.key, &campaign, &now],
                    )
                    .await?;
                tx.commit().await?;
                n
            }
        };
        Ok((started.elapsed(), added))
    }
}

/// A real `leadflow serve` process.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(url: &str) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_leadflow"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--log",
                "warn",
            ])
            .env("LEADFLOW_DATABASE_URL", url)
            .env("LEADFLOW_DB_MAX_CONNECTIONS", "40")
            .env("LEADFLOW_RATE_LIMIT", "0")
            // Select-all over ten million leads outlasts the defaults.
            .env("LEADFLOW_STATEMENT_TIMEOUT_SECS", "3600")
            .env("LEADFLOW_REQUEST_TIMEOUT_SECS", "3600")
            .stdout(Stdio::null())
            .spawn()?;
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = leadflow::client::http_client()
                .get(format!("{base}/v1/health"))
                .send()
                .await
                && r.status() == 200
            {
                return Ok(Server { child, base });
            }
            anyhow::ensure!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn campaign(&self, http: &reqwest::Client, key: &str) -> anyhow::Result<String> {
        let r: Value = http
            .post(format!("{}/v1/campaigns", self.base))
            .header("X-Api-Key", key)
            .json(&json!({"name": "bench"}))
            .send()
            .await?
            .json()
            .await?;
        Ok(r["data"]["_id"].as_str().unwrap_or_default().to_owned())
    }

    /// Times one POST of a pre-encoded body; returns the time and `data`.
    async fn post(
        &self,
        http: &reqwest::Client,
        key: &str,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<(Duration, Value)> {
        let req = http
            .post(format!("{}{path}", self.base))
            .header("X-Api-Key", key)
            .header("Content-Type", "application/json")
            .body(body);
        timed(req, 200, path).await
    }

    /// Times one CSV import of `file` (synchronous: 200; `run_async`: 202);
    /// returns the time and `data`.
    async fn import(
        &self,
        http: &reqwest::Client,
        key: &str,
        file: Vec<u8>,
        run_async: bool,
    ) -> anyhow::Result<(Duration, Value)> {
        let part = reqwest::multipart::Part::bytes(file)
            .file_name("leads.csv")
            .mime_str("text/csv")?;
        let form = reqwest::multipart::Form::new()
            .text("async", run_async.to_string())
            .part("file", part);
        let req = http
            .post(format!("{}/v1/leads/import/csv", self.base))
            .header("X-Api-Key", key)
            .multipart(form);
        timed(req, if run_async { 202 } else { 200 }, "the import").await
    }

    /// The median time of `runs` GETs of `path` (after one warm-up), each
    /// answered 200.
    async fn time_get(
        &self,
        http: &reqwest::Client,
        key: &str,
        path: &str,
        runs: usize,
    ) -> anyhow::Result<Duration> {
        self.time_get_as(http, ("X-Api-Key", key), path, runs).await
    }

    /// [`Server::time_get`] with `who` as the caller's header (a key, or
    /// the console's session cookie).
    async fn time_get_as(
        &self,
        http: &reqwest::Client,
        who: (&str, &str),
        path: &str,
        runs: usize,
    ) -> anyhow::Result<Duration> {
        let mut times = Vec::new();
        for run in 0..=runs {
            let req = http
                .get(format!("{}{path}", self.base))
                .header(who.0, who.1);
            let started = Instant::now();
            let res = req.send().await?;
            let status = res.status();
            let landed = res.url().path().to_owned();
            let body = res.bytes().await?;
            let took = started.elapsed();
            anyhow::ensure!(
                status == 200,
                "{path} answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
            anyhow::ensure!(
                path.split('?').next() == Some(landed.as_str()),
                "{path} was redirected to {landed}"
            );
            if run > 0 {
                times.push(took);
            }
        }
        Ok(median(times))
    }

    /// The median time of `runs` console form posts of `body` to `path`
    /// (after one warm-up), each answered 200 with a page.
    async fn time_console_post(
        &self,
        cookie: &str,
        path: &str,
        body: &str,
        shows: &str,
        runs: usize,
    ) -> anyhow::Result<Duration> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let mut times = Vec::new();
        for run in 0..=runs {
            let req = http
                .post(format!("{}{path}", self.base))
                .header("Cookie", cookie)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body.to_owned());
            let started = Instant::now();
            let res = req.send().await?;
            let status = res.status();
            let page = res.text().await?;
            let took = started.elapsed();
            anyhow::ensure!(status == 200, "{path} answered {status}: {page}");
            anyhow::ensure!(page.contains(shows), "{path} does not show {shows}: {page}");
            if run > 0 {
                times.push(took);
            }
        }
        Ok(median(times))
    }

    /// The CSRF token of the console session `cookie` (from a page's form).
    async fn console_csrf(&self, cookie: &str) -> anyhow::Result<String> {
        let page = leadflow::client::http_client()
            .get(format!("{}/app/dnc", self.base))
            .header("Cookie", cookie)
            .send()
            .await?
            .text()
            .await?;
        let marker = r#"name="csrf" value=""#;
        let at = page
            .find(marker)
            .ok_or_else(|| anyhow::anyhow!("no form on the page"))?;
        Ok(page[at + marker.len()..]
            .split('"')
            .next()
            .unwrap_or_default()
            .to_owned())
    }

    /// Signs in to the console with `key` through its form; the session's
    /// `Cookie` header.
    async fn console_session(&self, key: &str) -> anyhow::Result<String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let cookie_of = |res: &reqwest::Response, name: &str| {
            res.headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find(|c| c.starts_with(name))
                .and_then(|c| c.split(';').next())
                .map(str::to_owned)
        };
        let form = http
            .get(format!("{}/app/sign-in", self.base))
            .send()
            .await?;
        let bound = cookie_of(&form, "leadflow_sign_in=")
            .ok_or_else(|| anyhow::anyhow!("no sign-in cookie"))?;
        let token = bound.trim_start_matches("leadflow_sign_in=").to_owned();
        let body = format!("key={key}&csrf={token}");
        let res = http
            .post(format!("{}/app/sign-in", self.base))
            .header("Cookie", bound)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await?;
        cookie_of(&res, "leadflow_session=")
            .ok_or_else(|| anyhow::anyhow!("signing in answered {}", res.status()))
    }

    /// VmHWM of the server process: its peak resident set.
    fn peak_memory_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
            })
            .unwrap_or(0)
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// R1…: the everyday reads, each the median of `--runs` GETs after one
/// warm-up, beside `GET /v1/health` on the same server. The campaign read
/// holds every lead, those in DE paused (half).
async fn reads(
    args: &Args,
    server: &Server,
    http: &reqwest::Client,
    key: &str,
    generated: &Generated,
) -> anyhow::Result<()> {
    let campaign = server.campaign(http, key).await?;
    let members = format!("/v1/campaigns/{campaign}/leads");
    let all = serde_json::to_vec(&json!({"selectAll": true}))?;
    server.post(http, key, &members, all).await?;
    let pause = json!({"action": "pause", "selectAll": true, "filters": {"country": ["DE"]}});
    server
        .post(
            http,
            key,
            &format!("{members}/action"),
            serde_json::to_vec(&pause)?,
        )
        .await?;
    let n = args.leads;
    let needle = format!("lead{}@", n / 2 + 7);
    let series: Vec<(&str, &str, String)> = vec![
        (
            "R1",
            "a campaign's members, first page of 100",
            format!("{members}?limit=100"),
        ),
        (
            "R2",
            "a campaign's members, paused (half)",
            format!("{members}?status=paused&limit=100"),
        ),
        (
            "R3",
            "a campaign's members, replied (none)",
            format!("{members}?status=replied&limit=100"),
        ),
        (
            "R4",
            "search, one lead's email",
            format!("/v1/leads?search={}&limit=25", urlencode(&needle)),
        ),
        (
            "R5",
            "search, a company name (1 in 1,000)",
            "/v1/leads?search=company%20517&limit=25".into(),
        ),
        (
            "R6",
            "tag + country (10%)",
            "/v1/leads?tags=hot&country=US&limit=25".into(),
        ),
        (
            "R7",
            "country (50%)",
            "/v1/leads?country=US&limit=25".into(),
        ),
        ("R8", "tag (20%)", "/v1/leads?tags=hot&limit=25".into()),
        (
            "R9",
            "verified (10%)",
            "/v1/leads?emailVerified=true&limit=25".into(),
        ),
        (
            "R10",
            "created after the midpoint (half)",
            format!(
                "/v1/leads?createdAfter={}&limit=25",
                urlencode(&generated.midway)
            ),
        ),
        (
            "R11",
            "one campaign with its lead counts",
            format!("/v1/campaigns/{campaign}"),
        ),
        (
            "R12",
            "campaigns with their lead counts",
            "/v1/campaigns?limit=100".into(),
        ),
        (
            "R13",
            "leads, first page of 100",
            "/v1/leads?limit=100".into(),
        ),
        (
            "R14",
            "leads, a page from the middle (cursor)",
            format!("/v1/leads?limit=100&cursor={}", generated.middle),
        ),
        (
            "R15",
            "the do-not-contact list, first page",
            "/v1/dnc?limit=100".into(),
        ),
    ];
    let health = server.time_get(http, key, "/v1/health", args.runs).await?;
    println!(
        "\n| | read (N = {n}) | median (ms) | × /v1/health ({:.2} ms) | goal |",
        ms(health)
    );
    println!("|---|---|---:|---:|---|");
    let goal = if n > 1_000_000 { 100.0 } else { 50.0 };
    for (name, what, path) in series {
        if !(args.only.is_empty() || wanted(args, name) || wanted(args, "R")) {
            continue;
        }
        let t = server.time_get(http, key, &path, args.runs).await?;
        let verdict = if ms(t) <= goal { "met" } else { "missed" };
        println!(
            "| {name} | {what} | {:.1} | {:.0}x | ≤ {goal} ms: {verdict} |",
            ms(t),
            t.as_secs_f64() / health.as_secs_f64()
        );
    }
    // The console's pages (issue 18), signed in, on the same data.
    let cookie = server.console_session(key).await?;
    let console: Vec<(&str, &str, String)> = vec![
        ("C1", "console: the leads page", "/app/leads".into()),
        (
            "C2",
            "console: leads, search one lead's email",
            format!("/app/leads?search={}", urlencode(&needle)),
        ),
        (
            "C3",
            "console: leads, country (50%)",
            "/app/leads?country=US".into(),
        ),
        (
            "C4",
            "console: leads, a page from the middle",
            format!("/app/leads?cursor={}", generated.middle),
        ),
        (
            "C5",
            "console: a lead's page",
            format!("/app/leads/{}", generated.middle),
        ),
        ("C6", "console: the campaigns", "/app/campaigns".into()),
        (
            "C7",
            "console: a campaign of N members",
            format!("/app/campaigns/{campaign}"),
        ),
        (
            "C8",
            "console: its paused members (half)",
            format!("/app/campaigns/{campaign}?status=paused"),
        ),
        ("C9", "console: the do-not-contact list", "/app/dnc".into()),
    ];
    for (name, what, path) in console {
        console_get(server, http, &cookie, (name, what, &path), args, health).await?;
    }
    // The add-leads dialog into an empty campaign: 25 ticked leads (their
    // dry run in the page), and everything the leads page matches (all N):
    // the page, then its counts (the dry run, which add.js fetches).
    let csrf = server.console_csrf(&cookie).await?;
    let target = server.campaign(http, key).await?;
    let page: Value = http
        .get(format!("{}/v1/leads?limit=25", server.base))
        .header("X-Api-Key", key)
        .send()
        .await?
        .json()
        .await?;
    let ticked: String = page["data"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .filter_map(|l| l["_id"].as_str())
                .map(|id| format!("&lead={id}&shown={id}"))
                .collect()
        })
        .unwrap_or_default();
    let dialogs = [
        (
            "C10",
            "console: the add-leads dialog, 25 ticked leads",
            "selected",
            "will be added",
        ),
        (
            "C11",
            "console: the add-leads dialog, all N leads (counts to follow)",
            "all",
            r#"id="count-form""#,
        ),
        (
            "C12",
            "console: the dialog's counts for all N leads (its dry run)",
            "all&count=now",
            "will be added",
        ),
    ];
    for (name, what, scope, shows) in dialogs {
        if !console_wanted(args, name) {
            continue;
        }
        let body = format!("csrf={csrf}&campaign={target}&scope={scope}{ticked}");
        let t = server
            .time_console_post(&cookie, "/app/leads/add", &body, shows, args.runs)
            .await?;
        console_row(name, what, t, health);
    }
    // The other pages: the import form, the settings, and the pages of two
    // finished jobs of the workspace (an add of the one lead C2 finds, and
    // an import of three rows).
    let wants_rest = ["C13", "C14", "C15", "C16"]
        .iter()
        .any(|c| console_wanted(args, c));
    if wants_rest {
        let started: Value = http
            .post(format!("{}/v1/campaigns/{target}/leads", server.base))
            .header("X-Api-Key", key)
            .json(&json!({"filters": {"search": needle}, "async": true}))
            .send()
            .await?
            .json()
            .await?;
        let add_job = started["data"]["jobId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        job_data(server, http, key, &add_job).await?;
        let (_, queued) = server
            .import(http, key, import_file("c16-", 0..3), true)
            .await?;
        let import_job = queued["jobId"].as_str().unwrap_or_default().to_owned();
        job_data(server, http, key, &import_job).await?;
        let rest: [(&str, &str, String); 4] = [
            ("C13", "console: the import form", "/app/import".into()),
            ("C14", "console: the settings", "/app/settings".into()),
            (
                "C15",
                "console: a finished add job's page",
                format!("/app/leads/add/{add_job}"),
            ),
            (
                "C16",
                "console: a finished import's page",
                format!("/app/import/{import_job}"),
            ),
        ];
        for (name, what, path) in rest {
            console_get(server, http, &cookie, (name, what, &path), args, health).await?;
        }
    }
    Ok(())
}

/// Whether the console measurement `name` is asked for.
fn console_wanted(args: &Args, name: &str) -> bool {
    wanted(args, name) || wanted(args, "C")
}

/// Times GETs of a console page with the session `cookie` and prints its
/// row, when asked for.
async fn console_get(
    server: &Server,
    http: &reqwest::Client,
    cookie: &str,
    (name, what, path): (&str, &str, &str),
    args: &Args,
    health: Duration,
) -> anyhow::Result<()> {
    if console_wanted(args, name) {
        let t = server
            .time_get_as(http, ("Cookie", cookie), path, args.runs)
            .await?;
        console_row(name, what, t, health);
    }
    Ok(())
}

/// A console page's row: its time, × `/v1/health`, and the 200 ms goal.
fn console_row(name: &str, what: &str, t: Duration, health: Duration) {
    let verdict = if ms(t) <= 200.0 { "met" } else { "missed" };
    println!(
        "| {name} | {what} | {:.1} | {:.0}x | ≤ 200 ms: {verdict} |",
        ms(t),
        t.as_secs_f64() / health.as_secs_f64(),
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// S1's workspaces.
const SPREAD_WORKSPACES: usize = 16;

struct Load {
    rps: f64,
    p50: f64,
    p99: f64,
}

/// 32 connections for `duration`: add requests of 10 new leads each to
/// `campaign`, or `/v1/health` when `campaign` is `None`.
async fn load_test(
    server: &Server,
    key: &str,
    campaign: Option<&str>,
    duration: Duration,
) -> anyhow::Result<Load> {
    let target = (key.to_owned(), campaign.map(str::to_owned));
    spread_load(server, std::slice::from_ref(&target), duration).await
}

/// 32 connections for `duration`, connection i sending to `targets[i % n]`
/// (a workspace key, and its campaign or `None` for `/v1/health`).
async fn spread_load(
    server: &Server,
    targets: &[(String, Option<String>)],
    duration: Duration,
) -> anyhow::Result<Load> {
    // Bodies are encoded before the clock starts: enough for 4,000 requests
    // a second, more than this machine serves.
    let per_worker = (duration.as_secs_f64() * 4_000.0 / 32.0) as usize + 10;
    let bodies: Vec<Vec<Vec<u8>>> =
        (0..32)
            .map(|worker| match &targets[worker % targets.len()].1 {
                Some(_) => (0..per_worker)
                    .map(|n| {
                        explicit_body((0..10).map(
                            |i| json!({"email": format!("p5-{worker}-{n}-{i}@small.example")}),
                        ))
                    })
                    .collect(),
                None => Vec::new(),
            })
            .collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (worker, worker_bodies) in bodies.into_iter().enumerate() {
        let http = leadflow::client::http_client();
        let base = server.base.clone();
        let (key, campaign) = targets[worker % targets.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut bodies = worker_bodies.into_iter();
            while started.elapsed() < duration {
                let req = match &campaign {
                    Some(c) => {
                        let Some(body) = bodies.next() else { break };
                        http.post(format!("{base}/v1/campaigns/{c}/leads"))
                            .header("X-Api-Key", &key)
                            .header("Content-Type", "application/json")
                            .body(body)
                    }
                    None => http.get(format!("{base}/v1/health")),
                };
                let t = Instant::now();
                let res = req.send().await?;
                let ok = res.status() == 200;
                res.bytes().await?;
                anyhow::ensure!(ok, "a load request failed");
                latencies.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pick = |q: f64| ms(all[((all.len() as f64 * q) as usize).min(all.len() - 1)]);
    Ok(Load {
        rps: all.len() as f64 / elapsed,
        p50: pick(0.5),
        p99: pick(0.99),
    })
}

/// How long a load runs: for a while, or until told to stop.
#[derive(Clone)]
enum Until {
    Elapsed(Instant, Duration),
    Told(Arc<AtomicBool>),
}

impl Until {
    fn for_(d: Duration) -> Self {
        Until::Elapsed(Instant::now(), d)
    }

    fn going(&self) -> bool {
        match self {
            Until::Elapsed(start, d) => start.elapsed() < *d,
            Until::Told(stop) => !stop.load(Ordering::Relaxed),
        }
    }
}

/// J1: the select-all as a job, from the request to its success (polled
/// every 50 ms); the answer's `data`.
async fn job_select_all(
    server: &Server,
    http: &reqwest::Client,
    key: &str,
    campaign: &str,
) -> anyhow::Result<(Duration, Value)> {
    let started = Instant::now();
    let res = http
        .post(format!("{}/v1/campaigns/{campaign}/leads", server.base))
        .header("X-Api-Key", key)
        .json(&json!({"selectAll": true, "async": true}))
        .send()
        .await?;
    anyhow::ensure!(
        res.status() == 202,
        "the async add answered {}",
        res.status()
    );
    let v: Value = res.json().await?;
    let id = v["data"]["jobId"].as_str().unwrap_or_default();
    let data = job_data(server, http, key, id).await?;
    Ok((started.elapsed(), data))
}

/// Times a request, from sending it to its answer's last byte; checks
/// that it answered `want` and returns the time and `data`.
async fn timed(
    req: reqwest::RequestBuilder,
    want: u16,
    what: &str,
) -> anyhow::Result<(Duration, Value)> {
    let started = Instant::now();
    let res = req.send().await?;
    let status = res.status();
    let bytes = res.bytes().await?;
    let took = started.elapsed();
    let v: Value = serde_json::from_slice(&bytes)?;
    anyhow::ensure!(status == want, "{what} answered {status}: {v}");
    Ok((took, v["data"].clone()))
}

/// J2's file: a CSV of new leads, `{prefix}{i}@import.example` for each
/// `i` of `rows`.
fn import_file(prefix: &str, rows: std::ops::Range<usize>) -> Vec<u8> {
    use std::io::Write;
    let mut file = b"email,first name,company\n".to_vec();
    for i in rows {
        let _ = writeln!(
            file,
            "{prefix}{i}@import.example,First {i},Company {}",
            i % 97
        );
    }
    file
}

/// Polls the job every 50 ms until it succeeds; its `data`.
async fn job_data(
    server: &Server,
    http: &reqwest::Client,
    key: &str,
    id: &str,
) -> anyhow::Result<Value> {
    loop {
        let job: Value = http
            .get(format!("{}/v1/jobs/{id}", server.base))
            .header("X-Api-Key", key)
            .send()
            .await?
            .json()
            .await?;
        match job["data"]["status"].as_str() {
            Some("succeeded") => return Ok(job["data"]["data"].clone()),
            Some("queued" | "running") => {}
            _ => anyhow::bail!("the job ended so: {job}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The big workspace's load in N1.
#[derive(Clone, Copy)]
struct Noise<'a> {
    key: &'a str,
    campaign: &'a str,
}

struct Neighbour {
    p50: f64,
    p99: f64,
    /// Requests of the small workspace answered other than 200.
    refused: usize,
    /// Requests the big workspace made meanwhile.
    noise: usize,
}

/// N1: 2 connections of small adds to `campaign` while `until` says, with 4
/// connections of the big workspace's select-all dry runs and searches
/// beside them when `noise` is given.
async fn neighbour(
    server: &Server,
    key: &str,
    campaign: &str,
    noise: Option<Noise<'_>>,
    until: Until,
) -> anyhow::Result<Neighbour> {
    let mut noisy = Vec::new();
    if let Some(n) = noise {
        for worker in 0..4 {
            let http = leadflow::client::http_client();
            let base = server.base.clone();
            let (key, campaign) = (n.key.to_owned(), n.campaign.to_owned());
            let until = until.clone();
            noisy.push(tokio::spawn(async move {
                let mut sent = 0usize;
                while until.going() {
                    let req = if (worker + sent).is_multiple_of(2) {
                        http.post(format!("{base}/v1/campaigns/{campaign}/leads"))
                            .header("X-Api-Key", &key)
                            .json(&json!({"selectAll": true, "dryRun": true}))
                    } else {
                        http.get(format!(
                            "{base}/v1/leads?search=first{}7&limit=25",
                            sent % 10
                        ))
                        .header("X-Api-Key", &key)
                    };
                    let _ = req.send().await?.bytes().await?;
                    sent += 1;
                }
                Ok::<_, anyhow::Error>(sent)
            }));
        }
    }
    let mut quiet = Vec::new();
    for worker in 0..2 {
        let http = leadflow::client::http_client();
        let base = server.base.clone();
        let (key, campaign) = (key.to_owned(), campaign.to_owned());
        let tag = match (&noise, &until) {
            (Some(_), _) => "loaded",
            (None, Until::Told(_)) => "job",
            (None, Until::Elapsed(..)) => "alone",
        };
        let until = until.clone();
        quiet.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut refused = 0usize;
            let mut n = 0usize;
            while until.going() {
                let body =
                    explicit_body((0..10).map(
                        |i| json!({"email": format!("n1-{tag}-{worker}-{n}-{i}@quiet.example")}),
                    ));
                let t = Instant::now();
                let res = http
                    .post(format!("{base}/v1/campaigns/{campaign}/leads"))
                    .header("X-Api-Key", &key)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                let ok = res.status() == 200;
                res.bytes().await?;
                latencies.push(t.elapsed());
                refused += usize::from(!ok);
                n += 1;
            }
            Ok::<_, anyhow::Error>((latencies, refused))
        }));
    }
    let (mut all, mut refused) = (Vec::new(), 0);
    for t in quiet {
        let (l, r) = t.await??;
        all.extend(l);
        refused += r;
    }
    let mut noise_sent = 0;
    for t in noisy {
        noise_sent += t.await??;
    }
    all.sort();
    let pick = |q: f64| ms(all[((all.len() as f64 * q) as usize).min(all.len() - 1)]);
    Ok(Neighbour {
        p50: pick(0.5),
        p99: pick(0.99),
        refused,
        noise: noise_sent,
    })
}
