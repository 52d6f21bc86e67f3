//! The HTTP surface: routes, shared state and cross-cutting concerns.
//!
//! Handlers stay small: they extract, call the engine on a blocking thread,
//! and map the outcome. Errors go through one type, [`ApiError`], which
//! gives every failure an HTTP status and a stable code.

mod actions;
mod admin;
mod audit_words;
mod dashboard;
mod error;
mod export;
mod field;
mod history;
pub mod limit;
pub mod listener;
mod monthly;
mod remove;
mod session;
mod stats;
mod sync;

// People by name and role, for the pages.
mod people;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};

// The closed-loop actions, for the demo's officials as for the dashboard.
pub use actions::{Action, perform as perform_action};
pub use admin::SetupPayload;
pub use error::{ApiError, Format};
pub use history::{HistoryEntry, audit_trail};
pub use session::Official;

use crate::auth::{Authenticator, Identity};
use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::storage::StoreHealth;

/// Limits of the HTTP surface.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Largest request body, as sent (compressed) and after decompression;
    /// also the most a device may have arriving at once over all its
    /// connections.
    pub max_body_bytes: usize,
    /// Open connections at most; beyond it the oldest connection still in
    /// its first request's headers is closed to make room, or new ones
    /// wait to be accepted (see [`listener`]).
    pub max_connections: usize,
    /// Open connections from one IP address at most; a further one is
    /// closed as soon as it is accepted.
    pub max_connections_per_address: usize,
    /// A connection on which nothing was read or written for this long is
    /// closed.
    pub idle_timeout: std::time::Duration,
    /// A request's headers must arrive whole within this time of the
    /// server starting to read them (also how long a kept-alive connection
    /// may wait for its next request).
    pub header_timeout: std::time::Duration,
    /// A request body must arrive at this many bytes a second on average,
    /// after [`HttpLimits::body_grace`]; a slower one is cut off.
    pub min_body_bytes_per_second: u64,
    pub body_grace: std::time::Duration,
    /// How often a WebSocket peer is pinged (and dropped when it did not
    /// answer the previous ping).
    pub ws_ping_interval: std::time::Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            // A phone's request carries at most its upload budget (256 KiB)
            // plus one record, and a record is at most 1 MiB saved.
            max_body_bytes: 4 * 1024 * 1024,
            max_connections: 10_000,
            max_connections_per_address: 256,
            idle_timeout: std::time::Duration::from_secs(300),
            header_timeout: std::time::Duration::from_secs(10),
            min_body_bytes_per_second: 1024,
            body_grace: std::time::Duration::from_secs(10),
            ws_ping_interval: crate::ws::socket::PING_INTERVAL,
        }
    }
}

/// What every handler shares.
pub struct AppState {
    pub engine: Arc<Engine>,
    pub auth: Arc<dyn Authenticator>,
    pub metrics: Arc<Metrics>,
    /// Seals batch cursors: this data directory's history (epoch) and the
    /// server's cursor key.
    pub cursors: crate::batch::Cursors,
    /// The server's automerge-repo peer and storage identity.
    pub storage_id: String,
    pub limits: HttpLimits,
    /// The township and district reports: resident summaries and answers.
    pub reports: Arc<crate::report::Reports>,
    /// Connected automerge-repo peers of the WebSocket door.
    pub peers: crate::ws::Peers,
    /// Turns true when the server begins to shut down, so long-lived
    /// WebSocket connections close instead of holding the server open.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// The server's admin token, if administration over HTTP is enabled.
    pub admin_token: Option<String>,
    /// The URL phones use to reach this server, for set-up payloads.
    pub public_url: Option<String>,
    pub rate: limit::RateLimiter,
    /// WebSocket messages per device.
    pub ws_rate: limit::RateLimiter,
    /// The data directory (backups are written here before they are sent).
    pub data_dir: std::path::PathBuf,
    /// Request body bytes each device has arriving at the batch door now.
    pub bodies: limit::BodyBudget,
    /// The closed loop's default time limits; districts and towns may set
    /// their own in the organisation ([`AppState::limit_table`]).
    pub time_limits: fengqiao_shared::deadline::TimeLimits,
}

pub type Shared = Arc<AppState>;

/// Every route of the server.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(guarded_metrics))
        .route("/v1/ws", get(crate::ws::upgrade))
        .merge(device_routes())
        .route("/v1/admin/org", get(admin::get_org).post(admin::import_org))
        .route(
            "/v1/admin/people",
            get(admin::list_people).post(admin::add_person),
        )
        .route(
            "/v1/admin/devices",
            get(admin::list_devices).post(admin::enroll),
        )
        .route("/v1/admin/devices/{id}/rotate", post(admin::rotate))
        .route("/v1/admin/devices/{id}/revoke", post(admin::revoke))
        .route("/v1/admin/devices/{id}/access", put(admin::set_access))
        .route("/v1/admin/quarantine", get(admin::quarantine))
        .route("/v1/admin/records/{id}/history", get(admin::record_history))
        .route("/v1/admin/records/{id}/remove", post(remove::remove))
        .route("/v1/admin/backup", get(admin::backup))
        .merge(dashboard::routes(&state))
        .merge(field::routes())
        .with_state(state)
}

/// What phones use: batch sync, who the device is, the names of the people
/// beside it. Apps that embed the client library run on other origins (a
/// Capacitor shell, a township portal), so browsers may call these from
/// anywhere: they take a bearer token, never a cookie, so another site's
/// page learns nothing it was not given the token for.
fn device_routes() -> Router<Shared> {
    use tower_http::cors::{Any, CorsLayer};
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::CONTENT_ENCODING,
        ])
        .max_age(std::time::Duration::from_secs(86_400));
    Router::new()
        .route("/v1/me", get(admin::me))
        .route("/v1/people", get(admin::people))
        .route("/v1/sync", post(sync::batch_sync))
        .layer(cors)
}

/// `ok` while the store takes writes; 503 with the reason while it does
/// not (a full or failing disk), so a supervisor or load balancer can act.
/// Asking also lets a store that a failed write left unwritable try to
/// recover.
async fn healthz(State(state): State<Shared>) -> impl IntoResponse {
    let storage = state.engine.storage().clone();
    let health = tokio::task::spawn_blocking(move || storage.health())
        .await
        .unwrap_or_else(|e| StoreHealth::Failing {
            reason: format!("the health check failed: {e}"),
        });
    let (status, body) = match health {
        StoreHealth::Ok => (StatusCode::OK, "ok\n".to_owned()),
        StoreHealth::Failing { reason } => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("storage failing: {reason}\n"),
        ),
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
}

/// The routes of the separate metrics address (`--metrics-bind`): the
/// metrics without a token, and the health check. Only operators should
/// reach that address (loopback, or a monitoring network).
pub fn metrics_router(state: Shared) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(open_metrics))
        .with_state(state)
}

/// `/metrics` on the main address: server-wide counts and the commit
/// sequence count every scope's activity, so only the server's admin token
/// reads them there (devices, scoped admins included, never do).
async fn guarded_metrics(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    let token = token_from(&headers, None).ok_or_else(|| ApiError::unauthorized(Format::Json))?;
    let is_admin = state
        .admin_token
        .as_deref()
        .is_some_and(|admin| crate::auth::constant_time_eq(token.as_bytes(), admin.as_bytes()));
    if !is_admin {
        return Err(ApiError::new(
            fengqiao_protocol::ErrorCode::Forbidden,
            "the metrics are for the server's admin token, or on the metrics address \
             (--metrics-bind)",
            Format::Json,
        ));
    }
    Ok(metrics(&state).into_response())
}

async fn open_metrics(State(state): State<Shared>) -> impl IntoResponse {
    metrics(&state)
}

fn metrics(state: &AppState) -> impl IntoResponse + use<> {
    let (cache_bytes, cache_docs) = state.engine.cache().usage();
    let stats = &state.engine.cache().stats;
    let hits = stats.hits.load(std::sync::atomic::Ordering::Relaxed) as f64;
    let misses = stats.misses.load(std::sync::atomic::Ordering::Relaxed) as f64;
    let hit_rate = if hits + misses > 0.0 {
        hits / (hits + misses)
    } else {
        0.0
    };
    let seq = state.engine.storage().current_seq() as f64;
    let (report_bytes, report_records) = state.reports.resident().usage();
    let body = state.metrics.render(&[
        (
            "fengqiao_cache_bytes",
            "Estimated memory of loaded documents.",
            cache_bytes as f64,
        ),
        (
            "fengqiao_cache_documents",
            "Documents loaded in memory.",
            cache_docs as f64,
        ),
        (
            "fengqiao_cache_hit_ratio",
            "Share of document lookups served from memory.",
            hit_rate,
        ),
        (
            "fengqiao_report_records",
            "Record summaries held in memory for the township and district reports.",
            report_records as f64,
        ),
        (
            "fengqiao_report_bytes",
            "Estimated memory of those summaries.",
            report_bytes as f64,
        ),
        (
            "fengqiao_commit_sequence",
            "Server sequence number of the latest commit.",
            seq,
        ),
    ]);
    (
        [
            (header::CONTENT_TYPE, "text/plain; version=0.0.4"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
}

/// The bearer token of a request: `Authorization: Bearer …`, or, where
/// allowed, `?token=…`.
pub fn token_from(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(value) = headers.get(header::AUTHORIZATION)
        && let Ok(text) = value.to_str()
        && let Some(token) = text.strip_prefix("Bearer ")
    {
        return Some(token.trim().to_owned());
    }
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "token")
        .map(|(_, v)| percent_decode(v))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl AppState {
    /// The time limits in force: the server's defaults under the
    /// organisation's own.
    pub fn limit_table(&self) -> fengqiao_shared::deadline::LimitTable {
        self.engine.directory().org().limit_table(self.time_limits)
    }

    /// Authenticates a request or fails with `unauthorized`.
    pub fn identify(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
        format: Format,
    ) -> Result<Identity, ApiError> {
        let token = token_from(headers, query).ok_or_else(|| ApiError::unauthorized(format))?;
        let identity = self
            .auth
            .authenticate(&token)
            .ok_or_else(|| ApiError::unauthorized(format))?;
        if let Some(device) = identity.caller.device
            && !self.rate.allow(device)
        {
            return Err(ApiError::new(
                fengqiao_protocol::ErrorCode::RateLimited,
                "too many requests from this device; wait a few seconds and retry",
                format,
            ));
        }
        Ok(identity)
    }
}

/// How long graceful shutdown waits for in-flight requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
