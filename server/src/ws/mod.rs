//! `GET /v1/ws`: the automerge-repo WebSocket door, protocol "1".
//!
//! Unmodified `@automerge/automerge-repo` 2.x clients (browsers, Node) and
//! samod connect here with the token in the URL (`?token=…`, since the
//! browser WebSocket API cannot set headers) or as `Authorization: Bearer`.
//! Documents they sync go through the same engine as the batch door:
//! validated in a scratch copy, committed durably, then pushed live to
//! every connected peer that has them open.
//!
//! - [`connection`]: the protocol rules, as a state machine without I/O.
//! - [`socket`]: the thin loop that moves frames, pings and closes.
//! - [`peers`]: who is connected, for reconnects and ephemeral relay.
//!
//! Two choices are dictated by the JS client: the upgrade is never refused
//! with an HTTP status and never names a subprotocol, because either makes
//! the Node client throw an uncaught exception and exit. A caller without a
//! valid token is accepted, sent an `error` message and closed instead;
//! clients log that and retry every five seconds.

pub mod connection;
pub mod peers;
pub mod socket;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

pub use peers::Peers;
pub use socket::server_peer_id;

use crate::state::{Shared, token_from};
use socket::{Admitted, MAX_MESSAGE_BYTES};

/// The read buffer a connection starts with (and reads at most per call):
/// enough for the `join` and most sync messages; a larger frame reserves
/// its own length when its header arrives.
pub const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Accepts the upgrade and hands the socket to [`socket::serve`].
/// The WebSocket door's route, `GET /v1/ws`.
pub fn router(state: Shared) -> axum::Router {
    axum::Router::new()
        .route("/v1/ws", axum::routing::get(upgrade))
        .with_state(state)
}

pub async fn upgrade(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    upgrade: WebSocketUpgrade,
) -> Response {
    let admitted = token_from(&headers, query.as_deref()).and_then(|token| {
        let identity = state.auth.authenticate(&token)?;
        Some(Admitted { token, identity })
    });
    upgrade
        // Buffers grow with what a connection sends and receives, rather
        // than 128 KiB each from the start: an idle connection stays small.
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(MAX_MESSAGE_BYTES)
        // Node and browsers send a message as one frame, so a frame may be
        // as large as a message.
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_failed_upgrade(|error| tracing::debug!(%error, "WebSocket upgrade failed"))
        .on_upgrade(move |socket| socket::serve(socket, state, admitted))
}
