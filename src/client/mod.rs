//! `leadflow import FILE.csv`: a spreadsheet into a running server, through
//! the public API, in batches of up to 5,000 rows.
//!
//! Rows go through `POST /v1/leads/bulk` (and, with `--campaign`, the
//! add-leads endpoint by email). A batch that meets a network error, a 5xx
//! or a 429 is retried with exponential backoff under one
//! `Idempotency-Key`; a batch the server refuses (4xx) fails its rows and
//! the import goes on; a refused key or a missing campaign stops it. Rows
//! that could not be imported are written beside the input as
//! `NAME.failed.csv`, with the reason, ready to fix and import again.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use clap::builder::TypedValueParser;
use serde_json::{Value, json};

use crate::domain::email::Email;
use crate::domain::import::{Field, Mapping, delimiter_name, detect_delimiter};

mod failed;
mod report;

use failed::FailedRows;
use report::{Progress, plural, report};

/// The largest batch the bulk endpoint takes.
pub const MAX_BATCH: usize = 5_000;

/// An HTTP client with the ring crypto provider installed, for `https://`
/// URLs (the same provider the PostgreSQL TLS code uses).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("leadflow/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client builds")
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The CSV file; its first line names the columns.
    pub file: PathBuf,
    /// The server's base URL.
    #[arg(long, env = "LEADFLOW_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A workspace key (sk_…), or a platform key with --workspace.
    #[arg(long, env = "LEADFLOW_API_KEY", hide_env_values = true)]
    pub api_key: String,
    /// The workspace to import into (needed with a platform key).
    #[arg(long, env = "LEADFLOW_WORKSPACE_ID")]
    pub workspace: Option<String>,
    /// Also add every lead of the file to this campaign.
    #[arg(long)]
    pub campaign: Option<String>,
    /// With --campaign: leave out leads that are pending, active or paused
    /// in another campaign (default: the campaign's
    /// settings.skipIfInOtherCampaign).
    #[arg(long, requires = "campaign")]
    pub skip_if_in_other_campaign: bool,
    /// A tag added to every imported lead.
    #[arg(long)]
    pub tag: Option<String>,
    /// COLUMN=FIELD, e.g. `--map "Work Email=email" --map Notes=customFields.notes`;
    /// `COLUMN=` ignores a column. Common headers (Email, First Name,
    /// Company, …) are mapped without it.
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    pub map: Vec<String>,
    /// Update leads that already exist (default: leave them as they are).
    #[arg(long)]
    pub update_existing: bool,
    /// Rows per request (1 to 5000).
    #[arg(long, default_value_t = MAX_BATCH, value_parser = clap::value_parser!(u16).range(1..=5000).map(usize::from))]
    pub batch_size: usize,
    /// Attempts per batch before giving up (network errors, 5xx, 429).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub attempts: u32,
    /// End with one JSON line of the counts on stdout.
    #[arg(long)]
    pub json: bool,
    /// Overwrite NAME.failed.csv if it exists (by default a new name is
    /// taken: NAME.failed-2.csv, …).
    #[arg(long)]
    pub force: bool,
}

/// What an import did, row by row.
#[derive(Debug, Default)]
struct Summary {
    rows: u64,
    imported: u64,
    updated: u64,
    skipped: u64,
    failed: u64,
    campaign_added: u64,
    campaign_skipped: u64,
    campaign_already: u64,
    campaign_blocked: u64,
    campaign_in_other: u64,
}

/// A row on its way: its line, its cells and its lead object.
struct Row {
    line: u64,
    cells: Vec<String>,
    lead: Value,
}

/// Why a request did not succeed.
enum Refusal {
    /// The server refused this batch (4xx): its rows fail, the import goes on.
    Batch(String),
    /// Nothing else will work either (bad key, missing campaign, gave up).
    Stop(String),
    /// No answer at all: the server cannot be reached.
    Unreachable(String),
}

impl Refusal {
    /// The message, and whether the import must stop.
    fn split(self) -> (String, bool) {
        match self {
            Refusal::Batch(m) => (m, false),
            Refusal::Stop(m) | Refusal::Unreachable(m) => (m, true),
        }
    }
}

/// Records every row of a batch as failed, for one reason.
fn fail_rows(failed: &mut FailedRows, rows: Vec<Row>, reason: &str) {
    for r in rows {
        failed.push(r.line, r.cells, reason);
    }
}

struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
    workspace: Option<String>,
    attempts: u32,
}

impl Api {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("X-Api-Key", &self.key)
            .timeout(Duration::from_secs(300));
        if let Some(ws) = &self.workspace {
            req = req.header("X-Workspace-Id", ws);
        }
        req
    }

    /// Sends one request, retrying network errors, 5xx and 429 with
    /// exponential backoff (or the server's `Retry-After`). POSTs carry
    /// one `Idempotency-Key` across their attempts.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Refusal> {
        let idempotency_key = format!("import-{:032x}", rand::random::<u128>());
        let mut backoff = Duration::from_millis(500);
        let mut wait = None;
        let mut last = String::new();
        let mut answered = false;
        for attempt in 1..=self.attempts {
            if attempt > 1 {
                tokio::time::sleep(wait.take().unwrap_or(backoff)).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
            let mut req = self.request(method.clone(), path);
            if let Some(body) = body {
                req = req.header("Idempotency-Key", &idempotency_key).json(body);
            }
            let res = match req.send().await {
                Ok(res) => res,
                Err(e) => {
                    last = format!("cannot reach {}: {}", self.base, error_chain(&e));
                    continue;
                }
            };
            answered = true;
            let status = res.status();
            let retry_after = res
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let text = res.text().await.unwrap_or_default();
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let message = body["error"]["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| text.chars().take(200).collect());
            if status.is_success() {
                return Ok(body["data"].clone());
            }
            last = format!("{status}: {message}");
            match status.as_u16() {
                429 | 500..=599 => wait = retry_after.map(|s| Duration::from_secs(s.min(60))),
                401 | 403 | 404 => return Err(Refusal::Stop(last)),
                _ => return Err(Refusal::Batch(last)),
            }
        }
        let gave_up = format!(
            "gave up after {}: {last}",
            plural(u64::from(self.attempts), "attempt")
        );
        Err(if answered {
            Refusal::Stop(gave_up)
        } else {
            Refusal::Unreachable(gave_up)
        })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// `--map COLUMN=FIELD` pairs; an empty field ignores the column.
fn parse_maps(maps: &[String]) -> anyhow::Result<Vec<(String, Option<String>)>> {
    maps.iter()
        .map(|m| {
            let (column, field) = m
                .rsplit_once('=')
                .with_context(|| format!("--map {m:?}: write COLUMN=FIELD"))?;
            let field = field.trim();
            Ok((
                column.trim().to_owned(),
                (!field.is_empty()).then(|| field.to_owned()),
            ))
        })
        .collect()
}

/// `NAME.csv` → `NAME.failed.csv`, beside it.
pub fn failed_rows_path(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "import".into());
    input.with_file_name(format!("{stem}.failed.csv"))
}

/// The file's separator, read from its header line (as the server does).
fn file_delimiter(path: &Path) -> anyhow::Result<u8> {
    use std::io::{BufRead, Read};
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut first = Vec::new();
    std::io::BufReader::new(file)
        .take(1024 * 1024)
        .read_until(b'\n', &mut first)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(detect_delimiter(&first))
}

fn open_csv(path: &Path, delimiter: u8) -> anyhow::Result<csv::Reader<std::fs::File>> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .delimiter(delimiter)
        .from_path(path)
        .with_context(|| format!("cannot open {}", path.display()))
}

/// A record's cells as text (lossy: a bad byte fails the row at the server
/// rather than the whole file here).
fn cells(record: &csv::ByteRecord) -> Vec<String> {
    record
        .iter()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

fn is_blank(cells: &[String]) -> bool {
    cells.iter().all(|c| c.trim().is_empty())
}

/// The exit status of an import that ran to the end with some rows failed
/// (1 is an import that could not run; 2 is a usage error, clap's).
pub const SOME_ROWS_FAILED: u8 = 3;

pub async fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let delimiter = file_delimiter(&args.file)?;
    let mut reader = open_csv(&args.file, delimiter)?;
    let header: Vec<String> = cells(reader.byte_headers()?)
        .into_iter()
        .enumerate()
        .map(|(i, h)| {
            let h = if i == 0 {
                h.trim_start_matches('\u{feff}').to_owned()
            } else {
                h
            };
            h.trim().to_owned()
        })
        .collect();
    if header.iter().all(String::is_empty) {
        bail!(
            "{} is empty: its first line must name the columns",
            args.file.display()
        );
    }
    let given = parse_maps(&args.map)?;
    let mapping = Mapping::resolve(&header, Some(&given), true).map_err(|e| anyhow::anyhow!(e))?;
    eprintln!("separator: {}", delimiter_name(delimiter));
    describe_mapping(&header, &mapping);

    // One quick pass for the total, so progress can show an ETA.
    let mut total = 0u64;
    let mut record = csv::ByteRecord::new();
    let mut counter = open_csv(&args.file, delimiter)?;
    while counter.read_byte_record(&mut record)? {
        if !is_blank(&cells(&record)) {
            total += 1;
        }
    }

    let api = Api {
        http: http_client(),
        base: base_url(&args.url),
        key: args.api_key.trim().to_owned(),
        workspace: args.workspace.clone(),
        attempts: args.attempts,
    };
    // Fail fast on a wrong URL, key, workspace or campaign.
    preflight(&api, args.campaign.as_deref()).await?;

    let progress = Progress::new(total);
    let mut summary = Summary::default();
    let mut failed = FailedRows::new(&args.file, &header, args.force);
    let mut seen = HashSet::new();
    let mut stopped: Option<String> = None;
    let mut batch: Vec<Row> = Vec::with_capacity(args.batch_size);
    let mut records = reader.byte_records();
    loop {
        let next = records.next().transpose()?;
        let done = next.is_none();
        if let Some(record) = next {
            let cells = cells(&record);
            let line = record.position().map_or(0, |p| p.line());
            if is_blank(&cells) {
                continue;
            }
            summary.rows += 1;
            if let Some(why) = &stopped {
                failed.push(line, cells, &format!("not sent: {why}"));
            } else if cells.len() != header.len() {
                let reason = format!(
                    "row has {} cells but the header has {} columns",
                    cells.len(),
                    header.len()
                );
                failed.push(line, cells, &reason);
            } else {
                let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
                let lead = mapping.lead(&refs);
                // A repeated email counts as skipped, as in one request;
                // the first occurrence in the file wins.
                let repeat = mapping
                    .email(&refs)
                    .and_then(Email::parse)
                    .is_some_and(|e| !seen.insert(e.key()));
                if repeat {
                    summary.skipped += 1;
                } else {
                    batch.push(Row { line, cells, lead });
                }
            }
        }
        if batch.len() >= args.batch_size || (done && !batch.is_empty()) {
            let rows = std::mem::take(&mut batch);
            if let Err(why) = send_batch(&api, &args, rows, &mut summary, &mut failed).await {
                stopped = Some(why);
            }
            progress.update(summary.rows, &summary, failed.count as usize);
        }
        if done {
            break;
        }
    }
    summary.failed = failed.count;
    progress.finish();

    let failed_file = failed.finish()?;
    report(&args, &summary, started.elapsed(), failed_file.as_ref());
    let failed_path = failed_rows_path(&args.file);
    if failed_file.as_ref() != Some(&failed_path) && failed_path.exists() {
        eprintln!(
            "note: {} is from an earlier run (this one had no failed rows); it was left as it is",
            failed_path.display()
        );
    }
    if let Some(why) = stopped {
        bail!("the import stopped early: {why}");
    }
    Ok(if summary.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(SOME_ROWS_FAILED)
    })
}

/// The server's base URL without a trailing slash or `/v1`.
fn base_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    url.strip_suffix("/v1").unwrap_or(url).to_owned()
}

async fn preflight(api: &Api, campaign: Option<&str>) -> anyhow::Result<()> {
    let check = |r: Result<Value, Refusal>| match r {
        Ok(_) => Ok(()),
        Err(refusal) => Err(refusal.split().0),
    };
    match api
        .send(reqwest::Method::GET, "/v1/leads?limit=1", None)
        .await
    {
        Ok(_) => {}
        Err(Refusal::Unreachable(m)) => bail!("no server answers at {}: {m}", api.base),
        Err(refusal) => {
            let m = refusal.split().0;
            // The header is the API's word; the command's is the option.
            let hint = if m.contains("X-Workspace-Id") {
                " (with a platform key, name the workspace: --workspace ID or LEADFLOW_WORKSPACE_ID)"
            } else {
                ""
            };
            bail!("the server refused the key: {m}{hint}");
        }
    }
    if let Some(id) = campaign {
        check(
            api.send(reqwest::Method::GET, &format!("/v1/campaigns/{id}"), None)
                .await,
        )
        .map_err(|m| anyhow::anyhow!("campaign {id}: {m}"))?;
    }
    Ok(())
}

/// Sends one batch to the bulk endpoint, then its leads to the campaign.
/// Returns why the import must stop, if it must.
async fn send_batch(
    api: &Api,
    args: &ImportArgs,
    rows: Vec<Row>,
    summary: &mut Summary,
    failed: &mut FailedRows,
) -> Result<(), String> {
    let leads: Vec<&Value> = rows.iter().map(|r| &r.lead).collect();
    let mut body = json!({"leads": leads, "skipDuplicates": !args.update_existing});
    if let Some(tag) = &args.tag {
        body["tag"] = json!(tag);
    }
    let data = match api
        .send(reqwest::Method::POST, "/v1/leads/bulk", Some(&body))
        .await
    {
        Ok(data) => data,
        Err(refusal) => {
            let (reason, stop) = refusal.split();
            fail_rows(failed, rows, &reason);
            return if stop { Err(reason) } else { Ok(()) };
        }
    };
    let count = |k: &str| data[k].as_u64().unwrap_or(0);
    summary.imported += count("imported");
    summary.updated += count("updated");
    summary.skipped += count("skipped");
    let mut bad = vec![None; rows.len()];
    for e in data["errors"].as_array().into_iter().flatten() {
        if let Some(i) = e["index"]
            .as_u64()
            .map(|i| i as usize)
            .filter(|i| *i < rows.len())
        {
            bad[i] = Some(e["error"].as_str().unwrap_or("rejected").to_owned());
        }
    }
    let mut good = Vec::with_capacity(rows.len());
    for (row, why) in rows.into_iter().zip(bad) {
        match why {
            Some(reason) => failed.push(row.line, row.cells, &reason),
            None => good.push(row),
        }
    }
    let Some(campaign) = &args.campaign else {
        return Ok(());
    };
    if good.is_empty() {
        return Ok(());
    }
    let leads: Vec<Value> = good
        .iter()
        .map(|r| json!({"email": r.lead["email"]}))
        .collect();
    let mut body = json!({"leads": leads});
    if args.skip_if_in_other_campaign {
        body["skipIfInOtherCampaign"] = json!(true);
    }
    let path = format!("/v1/campaigns/{campaign}/leads");
    match api.send(reqwest::Method::POST, &path, Some(&body)).await {
        Ok(data) => {
            let count = |k: &str| data[k].as_u64().unwrap_or(0);
            summary.campaign_added += count("added");
            summary.campaign_skipped += count("skipped");
            summary.campaign_already += count("alreadyInCampaign");
            summary.campaign_blocked += count("blocked");
            summary.campaign_in_other += count("inOtherCampaign");
            Ok(())
        }
        Err(refusal) => {
            let (m, stop) = refusal.split();
            let reason = format!("imported, but not added to the campaign: {m}");
            fail_rows(failed, good, &reason);
            if stop { Err(m) } else { Ok(()) }
        }
    }
}

fn describe_mapping(header: &[String], mapping: &Mapping) {
    let used: Vec<String> = mapping
        .columns()
        .iter()
        .map(|(i, f)| format!("{} → {}", header[*i], f.name()))
        .collect();
    eprintln!("columns: {}", used.join(", "));
    let ignored: Vec<&str> = (0..header.len())
        .filter(|i| !mapping.columns().iter().any(|(c, _)| c == i))
        .map(|i| header[i].as_str())
        .collect();
    if !ignored.is_empty() {
        eprintln!(
            "ignored: {} (map them with --map COLUMN=FIELD, e.g. --map \"{}={}\")",
            ignored.join(", "),
            ignored[0],
            Field::Custom(ignored[0].to_owned()).name()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_and_paths_parse() {
        let maps = parse_maps(&["Work Email=email".into(), "Notes=".into()]).unwrap();
        assert_eq!(
            maps,
            [
                ("Work Email".to_string(), Some("email".to_string())),
                ("Notes".to_string(), None)
            ]
        );
        assert!(parse_maps(&["nofield".into()]).is_err());
        assert_eq!(
            failed_rows_path(Path::new("/data/leads.csv")),
            Path::new("/data/leads.failed.csv")
        );
        assert_eq!(base_url("http://h:1/v1/"), "http://h:1");
        assert_eq!(base_url("https://h"), "https://h");
    }
}
