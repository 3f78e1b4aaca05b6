//! Building the application: the store, the router with its layers, and the
//! listener. The binary and the tests share it.

use std::future::{Future, IntoFuture};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum_server::tls_rustls::RustlsConfig;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;

use crate::config::Config;
use crate::error::{ApiError, ErrorCode, envelope};
use crate::state::AppState;
use crate::store::{self, Store};
use crate::{idempotency, request_id, routes};

/// The router with every layer, outermost first: request IDs (so even a
/// panic's answer carries one), access (the caller authenticated, its
/// workspace resolved and its rate limit charged before any body is read),
/// idempotency keys (which see the final answer, panics and timeouts
/// included), panic catching, the body limit, and the request timeout
/// around the handler. Access and idempotency wrap the routes only: an
/// unknown path is a plain 404.
pub fn app(state: AppState) -> Router {
    crate::metrics::init();
    let router = with_timeout(routes_of(&state), state.request_timeout)
        .layer(DefaultBodyLimit::max(state.body_limit));
    catch_panics(router)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::middleware,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::access::middleware,
        ))
        .route("/metrics", axum::routing::get(crate::metrics::render))
        .with_state(state)
        .layer(axum::middleware::from_fn(crate::rate_limit::middleware))
        .layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(axum::middleware::from_fn(refuse_long_uris))
        .layer(axum::middleware::from_fn(request_id::middleware))
}

/// Longest path and query string read. (Past 64 KiB the HTTP library
/// refuses the request line itself, with a bare 414.)
pub const MAX_URI: usize = 8 * 1024;

/// A request whose path and query string pass [`MAX_URI`] gets 414 in the
/// envelope, before anything reads it.
async fn refuse_long_uris(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if len > MAX_URI {
        return ApiError::UriTooLong(len).into_response();
    }
    next.run(req).await
}

/// The API's routes, and the test routes when `Config::test_routes` is set.
fn routes_of(state: &AppState) -> Router<AppState> {
    let api = routes::router().merge(crate::console::router());
    if state.test_routes {
        api.merge(test_routes())
    } else {
        api
    }
}

/// Routes for the tests alone, mounted only when `Config::test_routes` is
/// set (nothing in the command line sets it): a handler that panics, one
/// that sleeps and one that fails once. They sit beside the API routes, inside every layer that
/// `app` puts around those, so that the tests of the panic (500) and timeout
/// (503) answers go through the router that production serves: dropping a
/// layer from `app` fails them. A flag rather than a cfg or a feature: the
/// API tests link the library as it is built for the binary.
fn test_routes() -> Router<AppState> {
    async fn panics() -> &'static str {
        panic!("secret internal detail at /src/whatever.rs")
    }
    async fn sleeps(axum::extract::Path(ms): axum::extract::Path<u64>) -> &'static str {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        "slept"
    }
    /// A write that fails (500) the first time it is made under `name`, and
    /// then answers how many times it ran: for the idempotency tests. Under
    /// `/v1`, so that it is authenticated and rate limited like the API.
    async fn fails_once(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
        static CALLS: std::sync::Mutex<Vec<(String, u32)>> = std::sync::Mutex::new(Vec::new());
        let calls = {
            let mut all = CALLS.lock().unwrap_or_else(|e| e.into_inner());
            match all.iter_mut().find(|(n, _)| *n == name) {
                Some((_, c)) => {
                    *c += 1;
                    *c
                }
                None => {
                    all.push((name, 1));
                    1
                }
            }
        };
        if calls == 1 {
            return ApiError::Internal(anyhow::anyhow!("failing once, as asked")).into_response();
        }
        axum::Json(serde_json::json!({ "success": true, "data": { "calls": calls } }))
            .into_response()
    }
    /// A write that creates a lead and then runs past the statement time
    /// limit.
    async fn overruns(
        axum::extract::State(state): axum::extract::State<AppState>,
        crate::extract::Tenant(ws): crate::extract::Tenant,
    ) -> Result<&'static str, ApiError> {
        let email = crate::domain::email::Email::parse("overrun@example.com").expect("an email");
        state.store.create_then_overrun(ws, &email).await?;
        Ok("finished")
    }
    Router::new()
        .route("/v1/__test/overrun", axum::routing::post(overruns))
        .route("/__test/panic", axum::routing::get(panics))
        .route("/__test/sleep/{ms}", axum::routing::get(sleeps))
        .route(
            "/v1/__test/fails-once/{name}",
            axum::routing::post(fails_once),
        )
}

fn catch_panics<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.layer(CatchPanicLayer::custom(|_| {
        let id = request_id::current();
        tracing::error!(request_id = %id, "handler panicked");
        envelope(
            ErrorCode::InternalError,
            &format!("Internal server error (request ID {id})"),
            None,
        )
    }))
}

/// Answers 503 when a handler takes longer than `limit`.
pub fn with_timeout<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    limit: Duration,
) -> Router<S> {
    router.layer(axum::middleware::from_fn_with_state(limit, timeout))
}

async fn timeout(
    axum::extract::State(limit): axum::extract::State<Duration>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(request_id = %request_id::current(), "request timed out");
            let mut response =
                axum::response::IntoResponse::into_response(ApiError::TimedOut(limit));
            response.extensions_mut().insert(idempotency::TimedOut);
            response
        }
    }
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    store: Store,
    shutdown_grace: Duration,
    tls: Option<(crate::config::Tls, RustlsConfig)>,
}

impl Application {
    /// Opens (and migrates) the database and binds the listener.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let store = store::connect_with(
            config.database_url.expose(),
            config.db_max_connections,
            config.statement_timeout,
            config.write_queue,
        )
        .await?;
        Self::with_store(config, store).await
    }

    pub async fn with_store(config: &Config, store: Store) -> anyhow::Result<Self> {
        let tls = match &config.tls {
            Some(files) => Some((files.clone(), load_tls(files).await?)),
            None => None,
        };
        let listener = TcpListener::bind(&config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        let limits = config.rate_limit.map(|(per_sec, burst)| {
            std::sync::Arc::new(crate::rate_limit::Limits::new(per_sec, burst))
        });
        if let Some(limits) = &limits {
            let limits = std::sync::Arc::downgrade(limits);
            tokio::spawn(async move {
                let mut every = tokio::time::interval(crate::rate_limit::EVICT_EVERY);
                every.tick().await;
                loop {
                    every.tick().await;
                    let Some(limits) = limits.upgrade() else {
                        break;
                    };
                    limits.evict_idle();
                }
            });
        }
        crate::events::prune_every_hour(std::sync::Arc::downgrade(&store), config.event_retention);
        crate::webhooks::start(std::sync::Arc::downgrade(&store), config.webhooks.clone());
        crate::jobs::start(std::sync::Arc::downgrade(&store), config.jobs.clone());
        let router = app(AppState {
            store: store.clone(),
            body_limit: config.body_limit,
            request_timeout: config.request_timeout,
            limits,
            test_routes: config.test_routes,
            idempotency_done: Default::default(),
            statement_timeout: config.statement_timeout,
            idempotency_stale: config.idempotency_stale,
            turns: crate::turns::Turns::new(config.heavy_per_workspace),
            webhooks: crate::webhooks::Sender::new(config.webhooks.allow_private),
            allow_private_webhooks: config.webhooks.allow_private,
            tls: config.tls.is_some(),
        });
        Ok(Self {
            listener,
            router,
            store,
            shutdown_grace: config.shutdown_grace,
            tls,
        })
    }

    /// Whether the server speaks HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// Serves until `shutdown` resolves, then stops accepting connections
    /// and lets in-flight requests finish, for at most the shutdown grace.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        if let Some((files, config)) = self.tls {
            return serve_tls(
                self.listener,
                self.router,
                files,
                config,
                shutdown,
                self.shutdown_grace,
            )
            .await;
        }
        let (stopping, mut stopped) = tokio::sync::watch::channel(false);
        let serve = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                let _ = stopping.send(true);
            })
            .into_future();
        let grace = self.shutdown_grace;
        tokio::select! {
            served = serve => served,
            _ = async {
                let _ = stopped.wait_for(|s| *s).await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(grace_secs = grace.as_secs(), "in-flight requests outlasted the shutdown grace; exiting");
                Ok(())
            }
        }
    }
}

async fn load_tls(files: &crate::config::Tls) -> anyhow::Result<RustlsConfig> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    RustlsConfig::from_pem_file(&files.cert, &files.key)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot use {} and {} for HTTPS: {e}",
                files.cert.display(),
                files.key.display()
            )
        })
}

/// Serves HTTPS (rustls) until `shutdown`, then drains as the plain server
/// does. On SIGHUP the certificate and key are read again: new connections
/// get the new ones, and a file that does not load leaves the old ones in
/// place (and says why in the log).
async fn serve_tls(
    listener: TcpListener,
    router: Router,
    files: crate::config::Tls,
    config: RustlsConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(grace));
    });
    #[cfg(unix)]
    {
        let config = config.clone();
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                match config.reload_from_pem_file(&files.cert, &files.key).await {
                    Ok(()) => {
                        tracing::info!(cert = %files.cert.display(), "SIGHUP: certificate reloaded")
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "SIGHUP: certificate not reloaded; the old one stays")
                    }
                }
            }
        });
    }
    axum_server::from_tcp_rustls(listener.into_std()?, config)?
        .handle(handle)
        .serve(router.into_make_service())
        .await
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
