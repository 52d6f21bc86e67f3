//! What every door of the server shares: the engine, authentication, the
//! reports, the connected WebSocket peers, limits and rates. The HTTP
//! routes ([`crate::http`]) and the WebSocket door ([`crate::ws`]) both
//! read it from here; neither imports the other.

use std::sync::Arc;

use axum::http::{HeaderMap, header};

use crate::auth::{Authenticator, Identity};
use crate::engine::Engine;
use crate::metrics::Metrics;

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
    pub rate: crate::limit::RateLimiter,
    /// WebSocket messages per device.
    pub ws_rate: crate::limit::RateLimiter,
    /// The data directory (backups are written here before they are sent).
    pub data_dir: std::path::PathBuf,
    /// Request body bytes each device has arriving at the batch door now.
    pub bodies: crate::http::limit::BodyBudget,
    /// The closed loop's default time limits; districts and towns may set
    /// their own in the organisation ([`AppState::limit_table`]).
    pub time_limits: fengqiao_shared::deadline::TimeLimits,
}

pub type Shared = Arc<AppState>;

/// The bearer token of a request: `Authorization: Bearer …`, or, where
/// allowed, `?token=…` (form-decoded).
pub fn token_from(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(value) = headers.get(header::AUTHORIZATION)
        && let Ok(text) = value.to_str()
        && let Some(token) = text.strip_prefix("Bearer ")
    {
        return Some(token.trim().to_owned());
    }
    form_urlencoded::parse(query?.as_bytes())
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned())
}

impl AppState {
    /// The time limits in force: the server's defaults under the
    /// organisation's own.
    pub fn limit_table(&self) -> fengqiao_shared::deadline::LimitTable {
        self.engine.directory().org().limit_table(self.time_limits)
    }

    /// The identity behind a token that was valid a moment ago (a dashboard
    /// session's). With other servers on the store, a device this server
    /// does not know (yet) may have been enrolled or given a new token by
    /// another a moment ago: the directory is read again before the token
    /// is refused, so a session is not ended for this server's lag.
    pub async fn authenticate_fresh(&self, token: &str) -> Option<Identity> {
        if let Some(identity) = self.auth.authenticate(token) {
            return Some(identity);
        }
        self.engine.storage().announcements()?;
        let engine = self.engine.clone();
        match tokio::task::spawn_blocking(move || engine.directory().reload_all()).await {
            Ok(Ok(())) => self.auth.authenticate(token),
            Ok(Err(error)) => {
                tracing::warn!(%error, "could not read the directory again");
                None
            }
            Err(_) => None,
        }
    }
}
