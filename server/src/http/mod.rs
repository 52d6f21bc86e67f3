//! The HTTP surface: its routes (the WebSocket door is [`crate::ws`]'s;
//! [`crate::serve`] puts the two together), and errors.
//!
//! Handlers stay small: they extract, call the engine on a blocking thread,
//! and map the outcome. Errors go through one type, [`ApiError`], which
//! gives every failure an HTTP status and a stable code.
//!
//! What every request needs done is done once, declared where the routes
//! are listed, never in a handler: who the caller is and whether its
//! device's rate admits it ([`door`], for every route in [`ADMIN_ROUTES`],
//! [`DEVICE_ROUTES`] and [`BATCH_ROUTES`]; the dashboard's [`Official`]
//! extractor for the report routes, with the same steps), the request body
//! ([`body`]: its size, the device's share, its decompression), and the
//! counts for `/metrics` ([`metered`]). The minimum rate of request bodies
//! is a layer over the whole server ([`limit::min_body_rate`]).

mod actions;
mod admin;
mod audit_words;
pub mod body;
mod dashboard;
pub mod door;
mod embedded;
mod error;
mod export;
mod field;
mod history;
pub mod limit;
pub mod listener;
pub mod metered;
mod monthly;
mod remove;
mod session;
mod stats;
mod sync;

#[cfg(test)]
mod tests;

// People by name and role, for the pages.
mod people;

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get, post, put};

// The closed-loop actions, for the demo's officials as for the dashboard.
pub use actions::{Action, perform as perform_action};
pub use admin::SetupPayload;
pub use door::{Caller, Guard};
pub use error::{ApiError, Format};
pub use history::{HistoryEntry, audit_trail};
pub use session::Official;

pub use crate::state::{AppState, HttpLimits, Shared, token_from};
use crate::storage::StoreHealth;

/// A table of routes: each path and what answers it. Routes are listed in
/// tables so that what guards them is applied to the whole table at once
/// (and tests can go through every route of it).
pub type Routes<S> = &'static [(&'static str, fn() -> MethodRouter<S>)];

/// The admin API and the server-wide metrics, behind the admin door
/// ([`door::Guard::Admin`]).
pub const ADMIN_ROUTES: Routes<Shared> = &[
    ("/v1/admin/org", || {
        get(admin::get_org).post(admin::import_org)
    }),
    ("/v1/admin/people", || {
        get(admin::list_people).post(admin::add_person)
    }),
    ("/v1/admin/devices", || {
        get(admin::list_devices).post(admin::enroll)
    }),
    ("/v1/admin/devices/{id}/rotate", || post(admin::rotate)),
    ("/v1/admin/devices/{id}/revoke", || post(admin::revoke)),
    ("/v1/admin/devices/{id}/access", || put(admin::set_access)),
    ("/v1/admin/quarantine", || get(admin::quarantine)),
    ("/v1/admin/records/{id}/history", || {
        get(admin::record_history)
    }),
    ("/v1/admin/records/{id}/remove", || post(remove::remove)),
    ("/v1/admin/backup", || get(admin::backup)),
    // Server-wide counts: the admin door, then the server's token only.
    ("/metrics", || get(guarded_metrics)),
];

/// What phones use besides the batch door: who the device is, the names
/// of the people beside it. Behind the device door, answering JSON.
pub const DEVICE_ROUTES: Routes<Shared> = &[
    ("/v1/me", || get(admin::me)),
    ("/v1/people", || get(admin::people)),
];

/// The batch door, behind the device door answering CBOR, and counted
/// ([`metered::BATCH`]).
pub const BATCH_ROUTES: Routes<Shared> = &[("/v1/sync", || post(sync::batch_sync))];

/// A router of `routes`.
pub(super) fn table<S: Clone + Send + Sync + 'static>(routes: Routes<S>) -> Router<S> {
    routes.iter().fold(Router::new(), |router, (path, method)| {
        router.route(path, method())
    })
}

/// Every HTTP route of the server (the WebSocket door, `/v1/ws`, is
/// [`crate::ws::router`]).
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .merge(device_routes(&state))
        .merge(door::guarded(table(ADMIN_ROUTES), &state, Guard::Admin))
        .merge(dashboard::routes(&state))
        .merge(field::routes())
        .with_state(state)
}

/// What phones use: batch sync, who the device is, the names of the people
/// beside it. Apps that embed the client library run on other origins (a
/// Capacitor shell, a township portal), so browsers may call these from
/// anywhere: they take a bearer token, never a cookie, so another site's
/// page learns nothing it was not given the token for.
fn device_routes(state: &Shared) -> Router<Shared> {
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
    let batch = door::guarded(table(BATCH_ROUTES), state, Guard::Device(Format::Cbor));
    door::guarded(table(DEVICE_ROUTES), state, Guard::Device(Format::Json))
        .merge(metered::metered(batch, &state.metrics, metered::BATCH))
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
    admin: admin::Admin,
) -> Result<axum::response::Response, ApiError> {
    if !matches!(admin, admin::Admin::Server) {
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
    let mut extra = vec![
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
    ];
    // A store shared by several servers (PostgreSQL) keeps reads in a cache.
    if let Some((hits, misses, bytes)) = state.engine.storage().read_cache_stats() {
        extra.extend([
            (
                "fengqiao_store_cache_hits",
                "Store reads answered from this server's cache since it started.",
                hits as f64,
            ),
            (
                "fengqiao_store_cache_misses",
                "Store reads in a fresh scope that asked the store since it started.",
                misses as f64,
            ),
            (
                "fengqiao_store_cache_bytes",
                "Estimated memory of the reads this server keeps.",
                bytes as f64,
            ),
        ]);
    }
    let body = state.metrics.render(&extra);
    (
        [
            (header::CONTENT_TYPE, "text/plain; version=0.0.4"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
}

/// How long graceful shutdown waits for in-flight requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
