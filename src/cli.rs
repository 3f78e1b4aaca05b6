//! The command line: `serve`, `migrate`, the admin commands, `import` and
//! `openapi`.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::config::{Config, DatabaseUrl};
use crate::domain::email::Email;
use crate::domain::workspace::Role;
use crate::startup::{Application, shutdown_signal};
use crate::store::{self, Store};

#[derive(Parser)]
#[command(
    name = "leadflow",
    version,
    about = "Leads and campaigns over the SendKit v1 REST API"
)]
struct Cli {
    /// Log filter (tracing's env-filter syntax), e.g. `info` or `leadflow=debug`.
    #[arg(long, env = "LEADFLOW_LOG", default_value = "info", global = true)]
    log: String,
    /// Log lines as text for people or JSON for machines (each line of a
    /// request carries its request_id).
    #[arg(long, env = "LEADFLOW_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server (migrates the database first).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DbArgs),
    /// Create users and workspaces.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Import a CSV file into a running server through the API.
    ///
    /// Exits 0 when every row was imported (or skipped as a duplicate), 3
    /// when some rows failed (they are written to NAME.failed.csv beside
    /// the file, with the reason), 1 when the import could not run, 2 for a
    /// usage error.
    Import(crate::client::ImportArgs),
    /// Print the OpenAPI 3.1 document (what the server serves at /openapi.json).
    Openapi,
}

/// A user by email, and how to print the key made for it.
#[derive(Args)]
struct UserKeyArgs {
    #[arg(long)]
    email: String,
    #[command(flatten)]
    db: DbArgs,
    /// End with one JSON line: {"userId","email","apiKey"}.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct DbArgs {
    /// sqlite://PATH (the default, created if missing).
    #[arg(
        long,
        env = "LEADFLOW_DATABASE_URL",
        default_value = "sqlite://leadflow.db",
        hide_env_values = true
    )]
    database_url: DatabaseUrl,
    /// Most database connections per process (PostgreSQL's pool; SQLite's read connections).
    #[arg(long, env = "LEADFLOW_DB_MAX_CONNECTIONS", default_value_t = Config::DEFAULT_DB_MAX_CONNECTIONS)]
    db_max_connections: usize,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LEADFLOW_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Seconds a request may run before it is answered 503.
    #[arg(long, env = "LEADFLOW_REQUEST_TIMEOUT_SECS", default_value_t = Config::DEFAULT_REQUEST_TIMEOUT_SECS)]
    request_timeout_secs: u64,
    /// Seconds a database statement may run before it is stopped (503;
    /// its transaction writes nothing).
    #[arg(long, env = "LEADFLOW_STATEMENT_TIMEOUT_SECS", default_value_t = crate::store::DEFAULT_STATEMENT_TIMEOUT.as_secs())]
    statement_timeout_secs: u64,
    /// SQLite: most writes waiting for the writer; past it a write is
    /// answered 503 with Retry-After at once.
    #[arg(long, env = "LEADFLOW_WRITE_QUEUE", default_value_t = crate::store::sqlite::WRITE_QUEUE)]
    write_queue: usize,
    /// Most heavy requests of one workspace (list and search pages, filter
    /// and select-all adds and dry runs, bulk deletes and actions) that run
    /// at once; the others wait their turn. Default: half the cores.
    #[arg(long, env = "LEADFLOW_HEAVY_PER_WORKSPACE", default_value_t = crate::turns::default_per_workspace())]
    heavy_per_workspace: usize,
    /// Seconds an Idempotency-Key stays claimed by a request that never
    /// answered (its server died): then a retry runs, or hears that the
    /// request committed and its answer was lost.
    #[arg(long, env = "LEADFLOW_IDEMPOTENCY_CLAIM_SECS", default_value_t = crate::idempotency::STALE.as_secs())]
    idempotency_claim_secs: u64,
    /// After SIGTERM, seconds in-flight requests may take before the server exits.
    #[arg(long, env = "LEADFLOW_SHUTDOWN_GRACE_SECS", default_value_t = Config::DEFAULT_SHUTDOWN_GRACE_SECS)]
    shutdown_grace_secs: u64,
    /// Requests per second per workspace (0 turns rate limiting off).
    #[arg(long, env = "LEADFLOW_RATE_LIMIT", default_value_t = Config::DEFAULT_RATE_LIMIT)]
    rate_limit: u32,
    /// Burst per workspace: requests allowed at once before the rate applies.
    #[arg(long, env = "LEADFLOW_RATE_BURST", default_value_t = Config::DEFAULT_RATE_BURST)]
    rate_burst: u32,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); re-read,
    /// with the key, on SIGHUP.
    #[arg(long, env = "LEADFLOW_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "LEADFLOW_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Days the event log (`GET /v1/events`) keeps an event.
    #[arg(long, env = "LEADFLOW_EVENT_RETENTION_DAYS", default_value_t = Config::DEFAULT_EVENT_RETENTION_DAYS)]
    event_retention_days: u64,
    /// Deliver webhooks to loopback, private and link-local addresses too
    /// (refused by default: a URL must not reach into the server's network).
    #[arg(long, env = "LEADFLOW_ALLOW_PRIVATE_WEBHOOKS")]
    allow_private_webhooks: bool,
    /// The delays between a webhook delivery's attempts, e.g. `5s,5m,30m,2h,5h,10h,10h`
    /// (the default: about a day).
    #[arg(long, env = "LEADFLOW_WEBHOOK_RETRIES", value_parser = parse_delays)]
    webhook_retries: Option<Delays>,
    /// Seconds a server holds a webhook delivery it is sending; after a
    /// crash, another sends it once this has passed.
    #[arg(
        long,
        env = "LEADFLOW_WEBHOOK_LEASE_SECS",
        default_value_t = 60,
        hide = true
    )]
    webhook_lease_secs: u64,
    /// Background jobs of one workspace that run at once, over every server.
    #[arg(long, env = "LEADFLOW_JOBS_PER_WORKSPACE", default_value_t = 2)]
    jobs_per_workspace: usize,
    /// Background jobs this server runs at once.
    #[arg(long, env = "LEADFLOW_JOB_RUNNERS", default_value_t = 4)]
    job_runners: usize,
    /// Leads per chunk of a background job (one transaction each).
    #[arg(long, env = "LEADFLOW_JOB_CHUNK", default_value_t = 10_000)]
    job_chunk: usize,
    /// Seconds a server holds a job between chunks; after a crash, another
    /// takes it up once this has passed.
    #[arg(
        long,
        env = "LEADFLOW_JOB_LEASE_SECS",
        default_value_t = 60,
        hide = true
    )]
    job_lease_secs: u64,
    /// Tests only: milliseconds to wait after each chunk of a job.
    #[arg(
        long,
        env = "LEADFLOW_JOB_CHUNK_PAUSE_MS",
        default_value_t = 0,
        hide = true
    )]
    job_chunk_pause_ms: u64,
    #[command(flatten)]
    db: DbArgs,
}

/// Delays, as `--webhook-retries` takes them.
#[derive(Clone, Debug)]
struct Delays(Vec<std::time::Duration>);

/// `5s,5m,30m,2h`: whole numbers of seconds (`s`), minutes (`m`), hours
/// (`h`) or milliseconds (`ms`), separated by commas.
fn parse_delays(s: &str) -> Result<Delays, String> {
    s.split(',')
        .map(|part| {
            let part = part.trim();
            let split = part
                .find(|c: char| !c.is_ascii_digit())
                .ok_or_else(|| format!("{part:?} needs a unit: ms, s, m or h"))?;
            let n: u64 = part[..split]
                .parse()
                .map_err(|_| format!("{part:?} is not a delay"))?;
            let ms = match &part[split..] {
                "ms" => n,
                "s" => n * 1000,
                "m" => n * 60_000,
                "h" => n * 3_600_000,
                _ => return Err(format!("{part:?}: the unit is ms, s, m or h")),
            };
            Ok(std::time::Duration::from_millis(ms))
        })
        .collect::<Result<_, _>>()
        .map(Delays)
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user and print its platform API key (sk_user_…), once.
    CreateUser(UserKeyArgs),
    /// Create a workspace and print its workspace API key (sk_…), once.
    CreateWorkspace {
        #[arg(long)]
        name: String,
        /// Email of an existing user who becomes the owner (default: the
        /// first user, so that the workspace always has an owner).
        #[arg(long)]
        owner: Option<String>,
        #[command(flatten)]
        db: DbArgs,
        /// End with one JSON line: {"workspaceId","name","apiKey"}.
        #[arg(long)]
        json: bool,
    },
    /// Add a user to a workspace, or change its role (for a user who lost
    /// access).
    AddMember {
        /// The workspace's ID.
        #[arg(long)]
        workspace: String,
        /// Email of an existing user.
        #[arg(long)]
        email: String,
        /// owner or member.
        #[arg(long, default_value = "member")]
        role: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Replace a user's platform key (for a lost or leaked key): the old
    /// one stops working at once; the new one is printed, once.
    RotateKey(UserKeyArgs),
    /// List every user: ID, email.
    ListUsers {
        #[command(flatten)]
        db: DbArgs,
        /// One JSON line per user: {"userId","email"}.
        #[arg(long)]
        json: bool,
    },
    /// List every workspace: ID, name, owners.
    ListWorkspaces {
        #[command(flatten)]
        db: DbArgs,
        /// One JSON line per workspace: {"workspaceId","name","owners"}.
        #[arg(long)]
        json: bool,
    },
}

/// JSON log lines with the current span's fields (the request's
/// `request_id`, `method`, `path`) at the top level of each line, beside
/// the event's own, so that `jq .request_id` finds them; `span` names the
/// span the line was logged in.
struct SpanFieldsOnTop<F>(F);

impl<S, N, F> tracing_subscriber::fmt::FormatEvent<S, N> for SpanFieldsOnTop<F>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
    F: tracing_subscriber::fmt::FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut line = String::new();
        self.0.format_event(
            ctx,
            tracing_subscriber::fmt::format::Writer::new(&mut line),
            event,
        )?;
        let lifted = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&line)
            .ok()
            .and_then(|mut obj| {
                if let Some(serde_json::Value::Object(span)) = obj.remove("span") {
                    for (k, v) in span {
                        // The span's name stays as `span`: which one the line is in.
                        let k = if k == "name" { "span".to_owned() } else { k };
                        obj.entry(k).or_insert(v);
                    }
                }
                serde_json::to_string(&obj).ok()
            });
        match lifted {
            Some(lifted) => writeln!(writer, "{lifted}"),
            None => write!(writer, "{line}"),
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr; stdout is kept for what commands print (keys, JSON).
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => logs
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(SpanFieldsOnTop(
                tracing_subscriber::fmt::format()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            ))
            .init(),
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn open(db: &DbArgs) -> anyhow::Result<Store> {
    store::connect(db.database_url.expose(), db.db_max_connections).await
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    let done = match command {
        Command::Import(args) => return crate::client::run(args).await,
        Command::Openapi => {
            let doc = serde_json::to_string_pretty(&crate::routes::openapi())?;
            match writeln!(std::io::stdout().lock(), "{doc}") {
                // `leadflow openapi | head` is not an error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                written => written.map_err(Into::into),
            }
        }
        Command::Serve(args) => serve(args).await,
        Command::Migrate(db) => {
            let store = open(&db).await?;
            match store.migrations_applied() {
                0 => println!(
                    "{} is up to date: no migration was pending",
                    db.database_url
                ),
                1 => println!("applied 1 migration to {}", db.database_url),
                n => println!("applied {n} migrations to {}", db.database_url),
            }
            Ok(())
        }
        Command::Admin(AdminCommand::CreateUser(UserKeyArgs { email, db, json })) => {
            let email = Email::parse(&email)
                .ok_or_else(|| anyhow::anyhow!("{email:?} is not a valid email address"))?;
            let store = open(&db).await?;
            let (user, key) = store.create_user(&email).await?;
            let id = crate::domain::id::ObjectId::new(user.key, user.created_at);
            println!("created user {} ({id})", user.email);
            println!("platform API key (shown once): {}", key.expose());
            if json {
                println!(
                    "{}",
                    json!({"userId": id, "email": user.email, "apiKey": key.expose()})
                );
            }
            Ok(())
        }
        Command::Admin(AdminCommand::RotateKey(UserKeyArgs { email, db, json })) => {
            let parsed = Email::parse(&email)
                .ok_or_else(|| anyhow::anyhow!("{email:?} is not a valid email address"))?;
            let store = open(&db).await?;
            let user = store
                .find_user(&parsed)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user with email {parsed}"))?;
            let key = store.rotate_user_key(user.key).await?;
            let id = crate::domain::id::ObjectId::new(user.key, user.created_at);
            println!(
                "new platform API key for {} (shown once; the old one no longer works): {}",
                user.email,
                key.expose()
            );
            if json {
                println!(
                    "{}",
                    json!({"userId": id, "email": user.email, "apiKey": key.expose()})
                );
            }
            Ok(())
        }
        Command::Admin(AdminCommand::CreateWorkspace {
            name,
            owner,
            db,
            json,
        }) => {
            let name = name.trim();
            anyhow::ensure!(
                !name.is_empty() && name.chars().count() <= 200,
                "the workspace name must be 1 to 200 characters"
            );
            let store = open(&db).await?;
            let owner = match owner {
                None => match store.list_users().await?.into_iter().next() {
                    Some(first) => {
                        println!(
                            "owner: {} (the first user; --owner picks another)",
                            first.email
                        );
                        Some(first.key)
                    }
                    None => {
                        println!(
                            "owner: none yet (there is no user; `leadflow admin add-member` gives it one later)"
                        );
                        None
                    }
                },
                Some(email) => {
                    let parsed = Email::parse(&email)
                        .ok_or_else(|| anyhow::anyhow!("{email:?} is not a valid email address"))?;
                    let user = store.find_user(&parsed).await?.ok_or_else(|| {
                        anyhow::anyhow!("no user with email {email}: create it first")
                    })?;
                    Some(user.key)
                }
            };
            let (ws, key) = store.create_workspace(name, owner).await?;
            println!("created workspace {:?} ({})", ws.name, ws.workspace.id());
            println!("workspace API key (shown once): {}", key.expose());
            if json {
                println!(
                    "{}",
                    json!({"workspaceId": ws.workspace.id(), "name": ws.name, "apiKey": key.expose()})
                );
            }
            Ok(())
        }
        Command::Admin(AdminCommand::AddMember {
            workspace,
            email,
            role,
            db,
        }) => {
            let role = Role::parse(&role)
                .ok_or_else(|| anyhow::anyhow!("--role must be owner or member, not {role:?}"))?;
            let id = crate::domain::id::ObjectId::parse(&workspace)
                .ok_or_else(|| anyhow::anyhow!("{workspace:?} is not a workspace ID"))?;
            let parsed = Email::parse(&email)
                .ok_or_else(|| anyhow::anyhow!("{email:?} is not a valid email address"))?;
            let store = open(&db).await?;
            let user = store
                .find_user(&parsed)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user with email {email}"))?;
            let ws = store
                .list_all_workspaces()
                .await?
                .into_iter()
                .map(|(w, _)| w.workspace)
                .find(|w| w.id() == id)
                .ok_or_else(|| anyhow::anyhow!("no workspace {workspace}"))?;
            store.set_member(ws, user.key, role).await?;
            println!(
                "{} is now {} of workspace {workspace}",
                user.email,
                match role {
                    Role::Owner => "an owner",
                    Role::Member => "a member",
                }
            );
            Ok(())
        }
        Command::Admin(AdminCommand::ListUsers { db, json }) => {
            for user in open(&db).await?.list_users().await? {
                let id = crate::domain::id::ObjectId::new(user.key, user.created_at);
                if json {
                    println!("{}", json!({"userId": id, "email": user.email}));
                } else {
                    println!("{id}  {}", user.email);
                }
            }
            Ok(())
        }
        Command::Admin(AdminCommand::ListWorkspaces { db, json }) => {
            for (w, owners) in open(&db).await?.list_all_workspaces().await? {
                let id = w.workspace.id();
                if json {
                    println!(
                        "{}",
                        json!({"workspaceId": id, "name": w.name, "owners": owners})
                    );
                } else {
                    let owners = if owners.is_empty() {
                        "no owner".to_owned()
                    } else {
                        owners.join(", ")
                    };
                    println!("{id}  {}  ({owners})", w.name);
                }
            }
            Ok(())
        }
    };
    done.map(|()| ExitCode::SUCCESS)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = Config::new(args.listen, args.db.database_url);
    config.db_max_connections = args.db.db_max_connections;
    config.request_timeout = std::time::Duration::from_secs(args.request_timeout_secs.max(1));
    config.statement_timeout = std::time::Duration::from_secs(args.statement_timeout_secs.max(1));
    config.write_queue = args.write_queue.max(1);
    config.heavy_per_workspace = args.heavy_per_workspace.max(1);
    config.idempotency_stale = std::time::Duration::from_secs(args.idempotency_claim_secs.max(1));
    config.shutdown_grace = std::time::Duration::from_secs(args.shutdown_grace_secs);
    config.event_retention =
        std::time::Duration::from_secs(args.event_retention_days.max(1) * 86_400);
    config.webhooks.allow_private = args.allow_private_webhooks;
    if let Some(Delays(delays)) = args.webhook_retries {
        config.webhooks.retries = delays;
    }
    config.webhooks.lease = std::time::Duration::from_secs(args.webhook_lease_secs.max(1));
    config.jobs.per_workspace = args.jobs_per_workspace.max(1);
    config.jobs.runners = args.job_runners.max(1);
    config.jobs.chunk = args.job_chunk.max(1);
    config.jobs.lease = std::time::Duration::from_secs(args.job_lease_secs.max(1));
    config.jobs.pause = std::time::Duration::from_millis(args.job_chunk_pause_ms);
    config.rate_limit = std::num::NonZeroU32::new(args.rate_limit).map(|per_sec| {
        let burst = std::num::NonZeroU32::new(args.rate_burst).unwrap_or(per_sec);
        (per_sec, burst)
    });
    config.tls = args
        .tls_cert
        .zip(args.tls_key)
        .map(|(cert, key)| crate::config::Tls { cert, key });
    let app = Application::build(&config).await?;
    let scheme = if app.is_tls() { "https" } else { "http" };
    let bootstrapped = store::bootstrap(&app.store()).await?;
    if bootstrapped.is_none() {
        tracing::info!(
            "the database has users already, so no keys were made: keys are printed only when serve creates a database's first user (leadflow admin --help makes more)"
        );
    }
    if let Some(b) = bootstrapped {
        // Printed, never logged: this is the only time these keys exist in clear.
        println!("leadflow: a new database; created the first user and workspace.");
        println!("Store these keys now, they are shown only once:");
        println!(
            "  platform key  (user {}): {}",
            b.user.email,
            b.user_key.expose()
        );
        println!(
            "  workspace key (workspace {}): {}",
            b.workspace.workspace.id(),
            b.workspace_key.expose()
        );
        println!(
            "Try: curl -s -H 'X-Api-Key: {}' {scheme}://{}/v1/campaigns",
            b.workspace_key.expose(),
            display_addr(&config.listen, app.port())
        );
    }
    tracing::info!(database = %config.database_url, "leadflow listening on {scheme}://{}", display_addr(&config.listen, app.port()));
    app.run_until(shutdown_signal()).await?;
    Ok(())
}

fn display_addr(listen: &str, port: u16) -> String {
    let host = listen
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or("127.0.0.1");
    let host = if host == "0.0.0.0" || host.is_empty() {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{port}")
}
