//! Typed configuration from flags and `LEADFLOW_*` environment variables.

use std::fmt;
use std::str::FromStr;

/// A database URL. It may hold a password, so `Debug` and `Display` hide
/// everything between the scheme and the host.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0.split_once("://"), self.0.rfind('@')) {
            (Some((scheme, _)), Some(at)) => write!(f, "{scheme}://***{}", &self.0[at..]),
            _ => f.write_str(&self.0),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Everything `serve` needs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on; port 0 picks a free one.
    pub listen: String,
    pub database_url: DatabaseUrl,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Most connections the PostgreSQL pool opens (SQLite: read connections).
    pub db_max_connections: usize,
    /// A request running longer is answered 503.
    pub request_timeout: std::time::Duration,
    /// A database statement running longer is stopped (503; its
    /// transaction writes nothing).
    pub statement_timeout: std::time::Duration,
    /// SQLite: most writes waiting for the writer; past it, 503 with
    /// `Retry-After`.
    pub write_queue: usize,
    /// Most heavy requests (lists, searches, selections) of one workspace
    /// that run at once; the others wait their turn.
    pub heavy_per_workspace: usize,
    /// How long the Idempotency-Key claim of a request that never answered
    /// (its server died) holds: then a retry runs it, or is told its answer
    /// was lost if it committed.
    pub idempotency_stale: std::time::Duration,
    /// After SIGTERM, how long in-flight requests may take before exit.
    pub shutdown_grace: std::time::Duration,
    /// Requests per second and burst per workspace; `None` is no limit.
    pub rate_limit: Option<(std::num::NonZeroU32, std::num::NonZeroU32)>,
    /// Serve HTTPS with this certificate chain and key (PEM files), re-read
    /// on SIGHUP; `None` serves plain HTTP.
    pub tls: Option<Tls>,
    /// Events older than this are removed from the event log.
    pub event_retention: std::time::Duration,
    /// How webhook deliveries are made.
    pub webhooks: crate::webhooks::WebhookConfig,
    /// How background jobs run.
    pub jobs: crate::jobs::JobConfig,
    /// Tests only (no flag sets it): mounts `/__test/panic` and
    /// `/__test/sleep/{ms}` inside the real router's layers; see
    /// `startup::test_routes`.
    #[doc(hidden)]
    pub test_routes: bool,
}

/// The files HTTPS is served with.
#[derive(Clone, Debug)]
pub struct Tls {
    /// The certificate chain, leaf first (PEM).
    pub cert: std::path::PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: std::path::PathBuf,
}

impl Config {
    pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024 * 1024;
    pub const DEFAULT_DB_MAX_CONNECTIONS: usize = 16;
    pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 60;
    pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 30;
    pub const DEFAULT_RATE_LIMIT: u32 = 100;
    pub const DEFAULT_RATE_BURST: u32 = 200;
    pub const DEFAULT_EVENT_RETENTION_DAYS: u64 = 30;

    pub fn new(listen: impl Into<String>, database_url: DatabaseUrl) -> Self {
        Self {
            listen: listen.into(),
            database_url,
            body_limit: Self::DEFAULT_BODY_LIMIT,
            db_max_connections: Self::DEFAULT_DB_MAX_CONNECTIONS,
            request_timeout: std::time::Duration::from_secs(Self::DEFAULT_REQUEST_TIMEOUT_SECS),
            statement_timeout: crate::store::DEFAULT_STATEMENT_TIMEOUT,
            write_queue: crate::store::sqlite::WRITE_QUEUE,
            heavy_per_workspace: crate::turns::default_per_workspace(),
            idempotency_stale: crate::idempotency::STALE,
            shutdown_grace: std::time::Duration::from_secs(Self::DEFAULT_SHUTDOWN_GRACE_SECS),
            rate_limit: None,
            tls: None,
            event_retention: std::time::Duration::from_secs(
                Self::DEFAULT_EVENT_RETENTION_DAYS * 86_400,
            ),
            webhooks: Default::default(),
            jobs: Default::default(),
            test_routes: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let url = DatabaseUrl::new("postgres://app:hunter2@db.example.com/leadflow");
        assert_eq!(url.to_string(), "postgres://***@db.example.com/leadflow");
        assert!(!format!("{url:?}").contains("hunter2"));
        assert_eq!(
            DatabaseUrl::new("sqlite://leadflow.db").to_string(),
            "sqlite://leadflow.db"
        );
    }
}
