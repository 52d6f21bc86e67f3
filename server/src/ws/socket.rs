//! The socket loop: moves frames between one WebSocket and its
//! [`Connection`], and nothing else.
//!
//! One task reads frames, change notices, keepalive ticks and the shutdown
//! signal, and feeds them to the connection one at a time (engine work runs
//! on a blocking thread; order matters to the sync protocol). A second task
//! writes: everything bound for the socket, including ephemeral messages
//! relayed by other connections, goes through a bounded outbox, so a peer
//! that stops reading stalls only its own writer, which gives up after
//! [`SEND_TIMEOUT`].
//!
//! Keepalive follows the JS sync server: a ping every [`PING_INTERVAL`]; a
//! peer that has shown no sign of life since the previous ping is dropped.
//! Browsers and Node answer pings by themselves.
//!
//! The device's token is checked again whenever the directory announces a
//! change to that device (and at every ping, in case an announcement was
//! missed): a revoked device gets `error` and its socket is closed at once;
//! a device whose scope changed is told `doc-unavailable` for open
//! documents it may no longer read (and hears nothing more about them) and
//! is sent those it asked for and now may read.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use fengqiao_protocol::codec::DecodeLimits;
use fengqiao_protocol::{DocumentId, ErrorCode, PeerId, RepoMessage};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use super::connection::{self, Close, Connection, Documents as _, Output};
use super::peers::Registration;
use crate::auth::Identity;
use crate::engine::hub::Missed;
use crate::engine::{Caller, Engine};
use crate::metrics::add;
use crate::state::Shared;

/// How often the server pings, and checks that the peer is still there,
/// unless [`HttpLimits::ws_ping_interval`](crate::state::HttpLimits) says
/// otherwise.
pub const PING_INTERVAL: Duration = Duration::from_secs(5);

/// Longest a single frame may take to be written before the peer is
/// considered gone.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Frames waiting to be written, per connection.
const OUTBOX_FRAMES: usize = 256;

/// Largest message accepted: a first sync carries a whole document in one
/// frame, and the JS server accepts 100 MiB. The same bound the CBOR
/// decoder applies.
pub const MAX_MESSAGE_BYTES: usize = DecodeLimits::DEFAULT.max_bytes;

/// A token checked when the socket was opened.
pub struct Admitted {
    pub token: String,
    pub identity: Identity,
}

/// Serves one upgraded socket until either side closes it or the server
/// shuts down. `admitted` is `None` when the upgrade carried no valid
/// token: the peer then gets an `error` message and the socket is closed,
/// which JS clients log and retry instead of crashing on an HTTP 401.
pub async fn serve(socket: WebSocket, state: Shared, admitted: Option<Admitted>) {
    let metrics = state.metrics.clone();
    add(&metrics.ws_connections, 1);
    add(&metrics.ws_open, 1);
    let _gauge = OpenGauge(metrics.clone());
    let _open = state.peers.open_socket();

    let connection_id = state.peers.next_connection_id();
    let server = server_peer_id(&state.storage_id);
    let (sink, stream) = socket.split();
    let (outbox, frames) = mpsc::channel(OUTBOX_FRAMES);
    let writer = tokio::spawn(write(sink, frames, state.clone()));

    let Some(admitted) = admitted else {
        tracing::info!(
            connection = connection_id,
            "WebSocket without a valid token refused"
        );
        let refusal = connection::error_message(
            &server,
            None,
            ErrorCode::Unauthorized,
            ErrorCode::Unauthorized.default_message(),
        );
        let _ = outbox.send(binary(&refusal)).await;
        finish(outbox, writer, Some(Close::Unauthorized)).await;
        return;
    };
    let mut caller = admitted.identity.caller.clone();
    caller.connection = Some(connection_id);
    tracing::debug!(connection = connection_id, who = %admitted.identity.label, "WebSocket opened");

    let session = Session {
        state: state.clone(),
        connection_id,
        device: admitted.identity.caller.device,
        outbox: outbox.clone(),
        replaced: Arc::new(Notify::new()),
        connection: Some(Connection::new(
            server,
            storage_id(&state.storage_id),
            caller,
        )),
    };
    let close = session.run(stream, admitted).await;
    finish(outbox, writer, close).await;
}

/// The server's automerge-repo peer id: stable for a data directory, so
/// clients see the same peer across restarts.
pub fn server_peer_id(storage_id: &str) -> PeerId {
    let mut id = format!("fengqiao-{storage_id}");
    // Peer ids are bounded; a storage id is a UUID, far below the bound.
    while PeerId::new(id.as_str()).is_err() && id.len() > "fengqiao".len() {
        id.pop();
    }
    PeerId::new(id).unwrap_or_else(|_| unreachable!("\"fengqiao\" is a valid peer id"))
}

fn storage_id(text: &str) -> Option<fengqiao_protocol::StorageId> {
    fengqiao_protocol::StorageId::new(text).ok()
}

fn binary(message: &RepoMessage) -> Message {
    Message::Binary(message.encode().into())
}

/// Resolves when the server begins to shut down (or its state is gone).
async fn stopping(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Decrements the open-connections gauge however the task ends.
struct OpenGauge(Arc<crate::metrics::Metrics>);

impl Drop for OpenGauge {
    fn drop(&mut self) {
        self.0
            .ws_open
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Writes frames until the outbox closes, a close frame is written, or the
/// peer stops taking them.
async fn write(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut frames: mpsc::Receiver<Message>,
    state: Shared,
) {
    while let Some(frame) = frames.recv().await {
        let closing = matches!(frame, Message::Close(_));
        let counted = matches!(frame, Message::Binary(_));
        match tokio::time::timeout(SEND_TIMEOUT, sink.send(frame)).await {
            Ok(Ok(())) => {
                if counted {
                    add(&state.metrics.ws_messages_out, 1);
                }
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "WebSocket write failed");
                return;
            }
            Err(_) => {
                tracing::info!("peer stopped reading; dropping the WebSocket");
                return;
            }
        }
        if closing {
            return;
        }
    }
}

/// Sends the close frame (if the socket still takes one) and waits briefly
/// for the writer to flush.
async fn finish(outbox: mpsc::Sender<Message>, writer: JoinHandle<()>, close: Option<Close>) {
    let frame = close.map(|c| CloseFrame {
        code: c.code(),
        reason: c.reason().into(),
    });
    let _ = outbox.try_send(Message::Close(frame));
    drop(outbox);
    let abort = writer.abort_handle();
    if tokio::time::timeout(Duration::from_secs(5), writer)
        .await
        .is_err()
    {
        abort.abort();
    }
}

/// One admitted connection's read side.
struct Session {
    state: Shared,
    connection_id: u64,
    /// The device the socket authenticated as.
    device: Option<fengqiao_protocol::DeviceId>,
    outbox: mpsc::Sender<Message>,
    replaced: Arc<Notify>,
    /// Taken while engine work runs on a blocking thread.
    connection: Option<Connection>,
}

/// What one event asks of the loop.
enum Step {
    Outputs(Vec<Output>),
    /// Stop, closing with this reason.
    End(Option<Close>),
}

/// Frames taken from the socket at once, at most, and answered together.
const BATCH: usize = 64;

/// Bytes of frames taken at once: no more frames are taken once this many
/// have been (so at most this plus one largest message).
const BATCH_BYTES: usize = 1 << 20;

/// The frame read, and the frames already arrived behind it, up to
/// [`BATCH`] frames or [`BATCH_BYTES`]; `None` when the stream ended.
fn gather(
    first: Option<Result<Message, axum::Error>>,
    stream: &mut futures_util::stream::SplitStream<WebSocket>,
) -> Option<Vec<Result<Message, axum::Error>>> {
    use futures_util::FutureExt as _;
    let size = |frame: &Result<Message, axum::Error>| match frame {
        Ok(Message::Binary(bytes)) => bytes.len(),
        _ => 0,
    };
    let first = first?;
    let mut bytes = size(&first);
    let mut frames = vec![first];
    while frames.len() < BATCH && bytes < BATCH_BYTES {
        match stream.next().now_or_never() {
            Some(Some(frame)) => {
                bytes += size(&frame);
                frames.push(frame);
            }
            // Nothing more yet, or the end (read again by the next turn).
            _ => break,
        }
    }
    Some(frames)
}

impl Session {
    /// Runs until the socket is done; returns the close reason to send.
    async fn run(
        mut self,
        mut stream: futures_util::stream::SplitStream<WebSocket>,
        admitted: Admitted,
    ) -> Option<Close> {
        let limits = DecodeLimits::DEFAULT;
        let mut changes = self.state.engine.hub().subscribe();
        let mut hub_open = true;
        // Revocations and scope changes of devices, announced as they happen.
        let mut revocations = self.state.engine.directory().subscribe_revocations();
        let mut revocations_open = true;
        let mut shutdown = self.state.shutdown.clone();
        let replaced = self.replaced.clone();
        let outbox = self.outbox.clone();
        let every = self.state.limits.ws_ping_interval;
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Whether the peer showed a sign of life since the last ping.
        let mut alive = true;

        let close = loop {
            let step = tokio::select! {
                frame = stream.next() => {
                    alive = true;
                    // Frames that have arrived behind it are taken too, so
                    // that a peer syncing many documents at once is
                    // answered in few steps.
                    match gather(frame, &mut stream) {
                        Some(frames) => self.on_frames(frames, &admitted, &limits).await,
                        None => Step::End(None),
                    }
                }
                change = changes.next(), if hub_open => match change {
                    Some(Ok(change)) => {
                        // A change this connection made was answered when
                        // it was received; echoing it would cost a sync
                        // message generation per upload.
                        if change.origin != Some(self.connection_id)
                            && self.connection.as_ref().is_some_and(|c| c.follows(&change.id))
                        {
                            let id = change.id;
                            self.step(move |c, docs| c.on_doc_changed(docs, &id)).await
                        } else {
                            Step::Outputs(Vec::new())
                        }
                    }
                    Some(Err(Missed(n))) => {
                        tracing::info!(connection = self.connection_id, missed = n,
                            "fell behind on change notices; checking every open document");
                        self.step(|c, docs| c.on_missed(docs)).await
                    }
                    None => {
                        hub_open = false;
                        Step::Outputs(Vec::new())
                    }
                },
                _ = ticker.tick() => {
                    if alive {
                        alive = false;
                        if self.outbox.send(Message::Ping(Default::default())).await.is_err() {
                            Step::End(None)
                        } else {
                            // Also a safety net for missed access announcements.
                            self.reauthenticate(&admitted).await
                        }
                    } else {
                        tracing::info!(connection = self.connection_id, "no answer to the last ping; dropping the WebSocket");
                        Step::End(None)
                    }
                }
                access = revocations.recv(), if revocations_open => match access {
                    Ok(device) if Some(device) != admitted.identity.caller.device => {
                        Step::Outputs(Vec::new())
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => self.reauthenticate(&admitted).await,
                    Err(RecvError::Closed) => {
                        revocations_open = false;
                        Step::Outputs(Vec::new())
                    }
                },
                _ = stopping(&mut shutdown) => {
                    tracing::debug!(connection = self.connection_id, "server shutting down; closing the WebSocket");
                    Step::End(Some(Close::GoingAway))
                }
                _ = replaced.notified() => Step::End(Some(Close::Replaced)),
                _ = outbox.closed() => Step::End(None),
            };
            let outputs = match step {
                Step::Outputs(outputs) => outputs,
                Step::End(close) => break close,
            };
            if let Err(close) = self.apply(outputs).await {
                break close;
            }
        };
        if let Some(peer) = self.peer_key() {
            self.state.peers.leave(&peer, self.connection_id);
        }
        close
    }

    /// Frames read together, in order: messages are answered in batches,
    /// each step's outputs carried out before the next step.
    async fn on_frames(
        &mut self,
        frames: Vec<Result<Message, axum::Error>>,
        admitted: &Admitted,
        limits: &DecodeLimits,
    ) -> Step {
        let mut messages = Vec::new();
        for frame in frames {
            let step = match frame {
                Ok(Message::Binary(bytes)) => {
                    add(&self.state.metrics.ws_messages_in, 1);
                    self.throttle(admitted).await;
                    match RepoMessage::decode_with(&bytes, limits) {
                        Ok(message) => {
                            messages.push(message);
                            continue;
                        }
                        Err(e) => {
                            if let Err(close) = self.answer(std::mem::take(&mut messages)).await {
                                return Step::End(close);
                            }
                            self.step_here(|c| c.on_undecodable(&e))
                        }
                    }
                }
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                other => {
                    if let Err(close) = self.answer(std::mem::take(&mut messages)).await {
                        return Step::End(close);
                    }
                    match other {
                        Ok(Message::Text(_)) => self.step_here(Connection::on_text),
                        Err(e) => {
                            tracing::debug!(connection = self.connection_id, error = %e, "WebSocket read failed");
                            Step::End(None)
                        }
                        _ => Step::End(None),
                    }
                }
            };
            match step {
                Step::Outputs(outputs) => {
                    if let Err(close) = self.apply(outputs).await {
                        return Step::End(close);
                    }
                }
                Step::End(close) => return Step::End(close),
            }
        }
        match self.answer(messages).await {
            Ok(()) => Step::Outputs(Vec::new()),
            Err(close) => Step::End(close),
        }
    }

    /// Answers decoded messages in order, in as few steps as their outputs
    /// allow (see [`Connection::on_messages`]), each in one fresh scope of
    /// the store with what they will read read ahead.
    async fn answer(&mut self, mut messages: Vec<RepoMessage>) -> Result<(), Option<Close>> {
        while !messages.is_empty() {
            let batch = std::mem::take(&mut messages);
            let (outputs, rest) = self
                .step_with(move |c, engine| {
                    let storage = engine.storage();
                    let _fresh = storage.fresh();
                    let (asked, whole) = Connection::documents_asked(&batch);
                    if asked.len() > 1 {
                        // Metadata first: only documents the peer may read
                        // are read whole (a request costs no more than its
                        // answer).
                        storage.prefetch(&asked, &[]);
                        let whole: Vec<DocumentId> = whole
                            .into_iter()
                            .filter(|id| matches!(engine.readable(c.caller(), id), Ok(Some(true))))
                            .collect();
                        if !whole.is_empty() {
                            storage.prefetch(&[], &whole);
                        }
                    }
                    c.on_messages(engine, batch)
                })
                .await
                .ok_or(None)?;
            self.apply(outputs).await?;
            messages = rest;
        }
        Ok(())
    }

    /// Runs engine-backed protocol work on a blocking thread.
    async fn step<F>(&mut self, work: F) -> Step
    where
        F: FnOnce(&mut Connection, &Engine) -> Vec<Output> + Send + 'static,
    {
        match self.step_with(move |c, engine| (work(c, engine), ())).await {
            Some((outputs, ())) => Step::Outputs(outputs),
            None => Step::End(None),
        }
    }

    /// Runs engine-backed protocol work on a blocking thread, returning
    /// what it returns, with its outputs; `None` ends the connection.
    async fn step_with<F, T>(&mut self, work: F) -> Option<(Vec<Output>, T)>
    where
        F: FnOnce(&mut Connection, &Engine) -> (Vec<Output>, T) + Send + 'static,
        T: Send + 'static,
    {
        let connection = self.connection.take()?;
        let engine = self.state.engine.clone();
        let done = tokio::task::spawn_blocking(move || {
            let mut connection = connection;
            let (outputs, more) = work(&mut connection, &engine);
            (connection, outputs, more)
        })
        .await;
        match done {
            Ok((connection, outputs, more)) => {
                self.connection = Some(connection);
                Some((outputs, more))
            }
            Err(e) => {
                tracing::error!(connection = self.connection_id, error = %e, "WebSocket protocol work failed");
                None
            }
        }
    }

    /// Holds the next message back while the device sends faster than its
    /// rate: frames wait in the socket and TCP slows the peer down, so one
    /// device cannot keep the server's workers to itself. Nothing is
    /// refused.
    async fn throttle(&self, admitted: &Admitted) {
        let Some(device) = admitted.identity.caller.device else {
            return;
        };
        let wait = self.state.ws_rate.pace(device).await;
        if !wait.is_zero() {
            add(&self.state.metrics.ws_throttled, 1);
            tokio::time::sleep(wait).await;
        }
    }

    /// Runs protocol work that needs no documents.
    fn step_here(&mut self, work: impl FnOnce(&mut Connection) -> Vec<Output>) -> Step {
        match self.connection.as_mut() {
            Some(connection) => Step::Outputs(work(connection)),
            None => Step::End(None),
        }
    }

    /// Checks the token again, so a revoked device loses its socket and a
    /// changed scope applies at once: documents it may no longer read are
    /// closed to it, documents it asked for and now may read are sent.
    async fn reauthenticate(&mut self, admitted: &Admitted) -> Step {
        match self.state.auth.authenticate(&admitted.token) {
            Some(identity) => {
                let caller = Caller {
                    connection: Some(self.connection_id),
                    ..identity.caller
                };
                let changed = self
                    .connection
                    .as_mut()
                    .is_some_and(|connection| connection.set_caller(caller));
                if changed {
                    self.step(|c, docs| c.on_access_changed(docs)).await
                } else {
                    Step::Outputs(Vec::new())
                }
            }
            None => {
                tracing::info!(
                    connection = self.connection_id,
                    "token no longer valid; closing the WebSocket"
                );
                self.step_here(Connection::on_revoked)
            }
        }
    }

    /// The joined peer's entry in the peer table.
    fn peer_key(&self) -> Option<super::peers::PeerKey> {
        let peer = self.connection.as_ref().and_then(Connection::peer)?;
        Some((self.device, peer.clone()))
    }

    /// Carries out a step's outputs in order. `Err` ends the connection.
    async fn apply(&mut self, outputs: Vec<Output>) -> Result<(), Option<Close>> {
        for output in outputs {
            match output {
                Output::Send(message) => {
                    if self.outbox.send(binary(&message)).await.is_err() {
                        return Err(None);
                    }
                }
                Output::Joined(peer) => self.state.peers.join(
                    &peer,
                    Registration {
                        device: self.device,
                        connection: self.connection_id,
                        outbox: self.outbox.clone(),
                        replaced: self.replaced.clone(),
                    },
                ),
                Output::Share(document) => {
                    if let Some(peer) = self.peer_key() {
                        self.state.peers.share(&peer, self.connection_id, &document);
                    }
                }
                Output::Unshare(document) => {
                    if let Some(peer) = self.peer_key() {
                        self.state
                            .peers
                            .unshare(&peer, self.connection_id, &document);
                    }
                }
                Output::Relay(message) => {
                    self.state.peers.relay(&message, self.connection_id);
                }
                Output::IgnoredReadOnly(document, changes) => {
                    self.state.engine.ignored_read_only(
                        &Caller {
                            device: self.device,
                            access: None,
                            connection: Some(self.connection_id),
                        },
                        &document,
                        changes,
                    );
                }
                Output::Refused(_) => {
                    add(&self.state.metrics.ws_refused, 1);
                    // A device that keeps sending refused changes is read
                    // more slowly: its next message waits.
                    if let Some(device) = self.device {
                        let wait = self.state.peers.refusal_delay(device);
                        if !wait.is_zero() {
                            add(&self.state.metrics.ws_refusals_throttled, 1);
                            tokio::time::sleep(wait).await;
                        }
                    }
                }
                Output::Close(close) => return Err(Some(close)),
            }
        }
        Ok(())
    }
}
