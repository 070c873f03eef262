//! `charrnn serve`: trained models behind HTTP, loaded once and kept, for many
//! clients at once. JSON in; JSON or server-sent events out.
//!
//! - `GET /api/models`: the models served ([`catalog`]);
//! - `POST /api/sample`: text drawn exactly as `charrnn sample` draws it,
//!   whole or streamed char by char ([`api::sample`]), every concurrent
//!   request's streams stepped together ([`batcher`]);
//! - `POST /api/score`: a text's log-probability char by char, the likeliest
//!   next chars, optionally one layer's hidden state ([`api::score`]);
//! - `GET /api/runs/{id}/metrics`: a run directory's metrics, whole or as an
//!   event stream that follows a run still training ([`metrics`]);
//! - `GET /api/runs`, `GET /api/runs/{id}/loss.svg`: the runs with their
//!   configs and status, and each one's loss plot ([`runs`]);
//! - `GET /`: the page that shows all of this in a browser ([`page`]).
//!
//! The server only reads: models are found when it starts, a model id is
//! looked up in that table (never joined onto a path), and run directories
//! are never written. Every bad request gets a 4xx and `{"error": "..."}`
//! ([`error`]); the inference itself is charrnn's, on the device the caller
//! gives (no autodiff).

pub mod api;
pub mod batcher;
pub mod catalog;
pub mod error;
pub mod metrics;
pub mod page;
pub mod runs;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};

pub use catalog::Catalog;

/// Limits on what one request may ask.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Request body bytes.
    pub body: usize,
    /// Chars per sample.
    pub length: usize,
    /// Samples per request.
    pub samples: usize,
    /// Chars of a scored text (and of a prime).
    pub text: usize,
    /// Time a client may take to send its request body.
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            body: 1 << 20,
            length: 20_000,
            samples: 64,
            text: 100_000,
            body_timeout: Duration::from_secs(10),
        }
    }
}

/// What every handler shares.
pub struct Server {
    pub catalog: Catalog,
    pub limits: Limits,
}

/// The routes over `server`.
pub fn router(server: Arc<Server>) -> Router {
    // Bodies are read (and limited) by api::read_json.
    Router::new()
        .route("/api/models", get(api::models))
        .route("/api/sample", post(api::sample))
        .route("/api/score", post(api::score))
        .route("/api/runs", get(runs::runs))
        .route("/api/runs/{id}/metrics", get(metrics::metrics))
        .route("/api/runs/{id}/loss.svg", get(runs::loss_svg))
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/style.css", get(page::style))
        .fallback(error::not_found)
        .layer(axum::middleware::map_response(error::json_errors))
        .with_state(server)
}

/// Serves `server` on `addr` until Ctrl-C; `ready` gets the bound address
/// once connections are accepted (for `--addr 127.0.0.1:0`).
pub fn serve(
    server: Server,
    addr: SocketAddr,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        ready(listener.local_addr()?);
        let app = router(Arc::new(server));
        // Ctrl-C: stop accepting, give requests in flight a moment, then
        // end (open event streams would hold a graceful shutdown forever).
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let graceful = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop.send(());
        });
        tokio::select! {
            served = graceful => served,
            _ = async {
                let _ = stopped.await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            } => Ok(()),
        }
    })?;
    runtime.shutdown_timeout(Duration::from_millis(200));
    Ok(())
}
