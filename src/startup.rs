//! Building the application: the store, the router with its layers, and the
//! listener. The binary and the tests share it.

use std::future::Future;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;

use crate::config::Config;
use crate::error::envelope;
use crate::store::{self, Store};
use crate::{request_id, routes};

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
}

/// The router with every layer: request IDs outermost, so even a panic's
/// response carries one.
pub fn app(state: AppState, body_limit: usize) -> Router {
    with_layers(routes::router().with_state(state), body_limit)
}

/// The layers every route gets: body limit, panic catching, request IDs.
pub fn with_layers(router: Router, body_limit: usize) -> Router {
    router
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(CatchPanicLayer::custom(|_| {
            let id = request_id::current();
            tracing::error!(request_id = %id, "handler panicked");
            envelope(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_ERROR",
                &format!("Internal server error (request ID {id})"),
            )
        }))
        .layer(axum::middleware::from_fn(request_id::middleware))
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    store: Store,
}

impl Application {
    /// Opens (and migrates) the database and binds the listener.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let store = store::connect(config.database_url.expose(), config.db_max_connections).await?;
        Self::with_store(config, store).await
    }

    pub async fn with_store(config: &Config, store: Store) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        let router = app(
            AppState {
                store: store.clone(),
            },
            config.body_limit,
        );
        Ok(Self {
            listener,
            router,
            store,
        })
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

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
    }
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
