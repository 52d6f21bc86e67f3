//! The client side of the automerge-repo protocol "1", as official clients
//! speak it to `/v1/ws`, in two layers:
//!
//! - [`Connection`]: one WebSocket to a sync server and nothing more: the
//!   `join`/`peer` handshake, [`RepoMessage`]s (or raw frames) out, the
//!   next message or the close in, within a time limit, and the bytes and
//!   messages that crossed the socket, counted per binary frame. It splits
//!   into a [`Sender`] and a [`Receiver`] for clients that write and read
//!   at the same time. Every protocol client written in this workspace (the
//!   demo's [`RepoClient`], the comparison benchmark and its `ws_idle` and
//!   `ws_oracle` tools, the end-to-end tests) is built on it and keeps only
//!   its own policy; samod, used as a client in tests, brings its own.
//! - [`RepoClient`]: per document the Automerge sync protocol until both
//!   sides agree, used by `fengqiao demo` for devices that sync over
//!   WebSocket (a town office's computer, for instance) and by tools that
//!   need a real protocol peer. A sync is complete for a document when the
//!   server has told us its heads, they equal ours, and we have nothing
//!   more to send.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use automerge::AutoCommit;
use automerge::sync::{self, SyncDoc};
use fengqiao_protocol::repo::{DocSync, Join, Peer, PeerMetadata, RepoMessage};
use fengqiao_protocol::{DocumentId, PeerId};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use thiserror::Error;
use tokio::net::TcpStream;
use tokio::time::Instant;
pub use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("the server refused the connection: {0}")]
    Refused(String),
    #[error("the connection closed")]
    Closed,
    #[error("the server sent something unreadable: {0}")]
    Protocol(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("socket error: {0}")]
    Socket(String),
}

/// Bytes and messages that crossed the socket, counted per binary frame
/// (the frame's payload, as encoded; WebSocket framing, pings and the
/// close are not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub messages_up: u64,
    pub messages_down: u64,
}

/// What arrived on the socket.
#[derive(Debug)]
pub enum Received {
    Message(RepoMessage),
    /// The server closed the connection, with the close code of its close
    /// frame if it sent one with a code.
    Closed(Option<u16>),
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Wraps an Automerge sync message for document `id` into a `sync`
/// message from `from` to `to`.
pub fn sync_message(
    from: &PeerId,
    to: &PeerId,
    id: &DocumentId,
    message: sync::Message,
) -> RepoMessage {
    RepoMessage::Sync(doc_sync(from, to, id, message))
}

/// Like [`sync_message`], as a `request`: how a peer that holds nothing of
/// a document asks for it (the server answers `doc-unavailable` when it
/// has nothing to share, where a `sync` would be answered as for an empty
/// document).
pub fn request_message(
    from: &PeerId,
    to: &PeerId,
    id: &DocumentId,
    message: sync::Message,
) -> RepoMessage {
    RepoMessage::Request(doc_sync(from, to, id, message))
}

fn doc_sync(from: &PeerId, to: &PeerId, id: &DocumentId, message: sync::Message) -> DocSync {
    DocSync {
        sender_id: from.clone(),
        target_id: to.clone(),
        document_id: id.clone(),
        data: message.encode(),
    }
}

/// A `join` from `peer` with `metadata`, offering protocol "1".
pub fn join_message(peer: PeerId, metadata: Option<PeerMetadata>) -> Join {
    Join {
        sender_id: peer,
        peer_metadata: metadata,
        supported_protocol_versions: vec!["1".to_owned()],
    }
}

/// One WebSocket connection to an automerge-repo sync server.
///
/// Frames go out with `TCP_NODELAY` set, as browsers and Node's `ws` send
/// them. Reading answers the server's pings (the WebSocket library pongs
/// while reading); a connection that is never read does not answer them.
pub struct Connection {
    sender: Sender,
    receiver: Receiver,
    response: Response,
    peer: Option<PeerId>,
    server: Option<PeerId>,
}

/// The writing half of a [`Connection`].
pub struct Sender {
    sink: SplitSink<Socket, Frame>,
    limit: Option<Duration>,
    bytes: u64,
    messages: u64,
}

/// The reading half of a [`Connection`].
pub struct Receiver {
    stream: SplitStream<Socket>,
    bytes: u64,
    messages: u64,
}

impl Connection {
    /// Opens the WebSocket `request` (a URL such as
    /// `ws://host/v1/ws?token=…`, or a request with its own headers),
    /// failing with [`ClientError::Timeout`] if the upgrade takes longer
    /// than `limit`. The same limit then applies to each send.
    pub async fn connect(
        request: impl IntoClientRequest + Unpin,
        limit: Option<Duration>,
    ) -> Result<Self, ClientError> {
        let connecting = connect_async_with_config(request, None, true);
        let connected = match limit {
            Some(limit) => tokio::time::timeout(limit, connecting)
                .await
                .map_err(|_| ClientError::Timeout(limit))?,
            None => connecting.await,
        };
        let (socket, response) = connected.map_err(|e| ClientError::Connect(e.to_string()))?;
        let (sink, stream) = socket.split();
        Ok(Self {
            sender: Sender {
                sink,
                limit,
                bytes: 0,
                messages: 0,
            },
            receiver: Receiver {
                stream,
                bytes: 0,
                messages: 0,
            },
            response,
            peer: None,
            server: None,
        })
    }

    /// The server's answer to the upgrade (its status and headers).
    pub fn response(&self) -> &Response {
        &self.response
    }

    /// Sends `join` and waits (up to `wait`, if given) for the server's
    /// `peer`, which it returns. An `error` instead is
    /// [`ClientError::Refused`]; anything else is a protocol error.
    pub async fn join(&mut self, join: Join, wait: Option<Duration>) -> Result<Peer, ClientError> {
        let me = join.sender_id.clone();
        self.send(&RepoMessage::Join(join)).await?;
        let received = match wait {
            Some(wait) => self
                .recv_within(wait)
                .await?
                .ok_or(ClientError::Timeout(wait))?,
            None => self.recv().await?,
        };
        match received {
            Received::Message(RepoMessage::Peer(peer)) => {
                self.peer = Some(me);
                self.server = Some(peer.sender_id.clone());
                Ok(peer)
            }
            Received::Message(RepoMessage::Error(e)) => Err(ClientError::Refused(e.message)),
            Received::Message(other) => Err(ClientError::Protocol(format!(
                "expected peer, got {}",
                other.type_name()
            ))),
            Received::Closed(_) => Err(ClientError::Closed),
        }
    }

    /// This side's peer id, once joined.
    pub fn peer(&self) -> Option<&PeerId> {
        self.peer.as_ref()
    }

    /// The server's peer id, once joined.
    pub fn server(&self) -> Option<&PeerId> {
        self.server.as_ref()
    }

    /// A `sync` for document `id` from this peer to the server (see
    /// [`sync_message`]); `None` before the handshake.
    pub fn sync_message(&self, id: &DocumentId, message: sync::Message) -> Option<RepoMessage> {
        Some(sync_message(self.peer()?, self.server()?, id, message))
    }

    /// Sends one message as a binary frame.
    pub async fn send(&mut self, message: &RepoMessage) -> Result<(), ClientError> {
        self.sender.send(message).await
    }

    /// Sends one frame exactly as given (binary frames are counted).
    pub async fn send_frame(&mut self, frame: Frame) -> Result<(), ClientError> {
        self.sender.send_frame(frame).await
    }

    /// The next message or the close, waiting as long as it takes.
    pub async fn recv(&mut self) -> Result<Received, ClientError> {
        self.receiver.recv().await
    }

    /// The next message or the close, or `None` if nothing arrives within
    /// `wait`.
    pub async fn recv_within(&mut self, wait: Duration) -> Result<Option<Received>, ClientError> {
        self.receiver.recv_within(wait).await
    }

    /// What crossed the socket so far, both ways.
    pub fn traffic(&self) -> Traffic {
        Traffic {
            bytes_down: self.receiver.bytes,
            messages_down: self.receiver.messages,
            ..self.sender.traffic()
        }
    }

    /// The two halves, for writing and reading at the same time. Their
    /// counts continue those of the connection.
    pub fn into_split(self) -> (Sender, Receiver) {
        (self.sender, self.receiver)
    }

    /// Sends a close frame (errors ignored: the connection is done).
    pub async fn close(mut self) {
        self.sender.close().await;
    }
}

impl Sender {
    /// Sends one message as a binary frame.
    pub async fn send(&mut self, message: &RepoMessage) -> Result<(), ClientError> {
        self.send_frame(Frame::Binary(message.encode().into()))
            .await
    }

    /// Sends one frame exactly as given. A binary frame is counted when it
    /// is handed to the socket, whether or not it then gets through.
    pub async fn send_frame(&mut self, frame: Frame) -> Result<(), ClientError> {
        if let Frame::Binary(bytes) = &frame {
            self.bytes += bytes.len() as u64;
            self.messages += 1;
        }
        let sending = self.sink.send(frame);
        let sent = match self.limit {
            Some(limit) => tokio::time::timeout(limit, sending)
                .await
                .map_err(|_| ClientError::Timeout(limit))?,
            None => sending.await,
        };
        sent.map_err(|e| ClientError::Socket(e.to_string()))
    }

    /// What this half sent so far (the `up` counts).
    pub fn traffic(&self) -> Traffic {
        Traffic {
            bytes_up: self.bytes,
            messages_up: self.messages,
            ..Traffic::default()
        }
    }

    /// Sends a close frame (errors ignored: the connection is done).
    pub async fn close(&mut self) {
        let _ = self.send_frame(Frame::Close(None)).await;
    }
}

impl Receiver {
    /// The next message or the close, waiting as long as it takes.
    ///
    /// A socket that ends without a close frame is `Closed(None)`; a
    /// transport error is [`ClientError::Socket`]; a frame that is not a
    /// protocol message (text, or binary that does not decode) is
    /// [`ClientError::Protocol`]. Pings and pongs are skipped.
    pub async fn recv(&mut self) -> Result<Received, ClientError> {
        loop {
            let frame = self.stream.next().await;
            if let Some(received) = self.take(frame)? {
                return Ok(received);
            }
        }
    }

    /// [`recv`](Self::recv), or `None` if nothing arrives within `wait`.
    pub async fn recv_within(&mut self, wait: Duration) -> Result<Option<Received>, ClientError> {
        let Some(deadline) = Instant::now().checked_add(wait) else {
            return self.recv().await.map(Some);
        };
        loop {
            let Ok(frame) = tokio::time::timeout_at(deadline, self.stream.next()).await else {
                return Ok(None);
            };
            if let Some(received) = self.take(frame)? {
                return Ok(Some(received));
            }
        }
    }

    fn take(
        &mut self,
        frame: Option<Result<Frame, tokio_tungstenite::tungstenite::Error>>,
    ) -> Result<Option<Received>, ClientError> {
        match frame {
            Some(Ok(Frame::Binary(bytes))) => {
                self.bytes += bytes.len() as u64;
                self.messages += 1;
                RepoMessage::decode(&bytes)
                    .map(|m| Some(Received::Message(m)))
                    .map_err(|e| ClientError::Protocol(e.to_string()))
            }
            Some(Ok(Frame::Ping(_) | Frame::Pong(_) | Frame::Frame(_))) => Ok(None),
            Some(Ok(Frame::Text(text))) => Err(ClientError::Protocol(format!(
                "a text frame: {}",
                text.as_str()
            ))),
            Some(Ok(Frame::Close(frame))) => {
                Ok(Some(Received::Closed(frame.map(|f| f.code.into()))))
            }
            None => Ok(Some(Received::Closed(None))),
            Some(Err(e)) => Err(ClientError::Socket(e.to_string())),
        }
    }

    /// What this half received so far (the `down` counts).
    pub fn traffic(&self) -> Traffic {
        Traffic {
            bytes_down: self.bytes,
            messages_down: self.messages,
            ..Traffic::default()
        }
    }
}

/// A client that syncs documents with the server over one [`Connection`].
pub struct RepoClient {
    connection: Connection,
}

/// A change to an outgoing sync message, given its document and state.
pub type Alter<'a> =
    dyn FnMut(&DocumentId, &mut AutoCommit, &mut sync::State, &mut sync::Message) + Send + 'a;

/// Documents a client holds, with its sync state for each.
#[derive(Default)]
pub struct Holdings {
    pub docs: BTreeMap<DocumentId, AutoCommit>,
    pub states: BTreeMap<DocumentId, sync::State>,
}

impl Holdings {
    pub fn insert(&mut self, id: DocumentId, doc: AutoCommit) {
        self.states.entry(id.clone()).or_default();
        self.docs.insert(id, doc);
    }

    /// Forgets what the server was known to have (as after a reconnect).
    pub fn reset_states(&mut self) {
        for state in self.states.values_mut() {
            *state = sync::State::new();
        }
    }
}

/// How long [`RepoClient::connect`] waits for the server's `peer`.
const JOIN_WAIT: Duration = Duration::from_secs(10);

impl RepoClient {
    /// Connects to `url` (e.g. `ws://host/v1/ws?token=…`) and joins as
    /// `peer`, an ephemeral peer without storage.
    pub async fn connect(url: &str, peer: &str) -> Result<Self, ClientError> {
        let me = PeerId::new(peer).map_err(|e| ClientError::Connect(e.to_string()))?;
        let mut connection = Connection::connect(url, None).await?;
        let metadata = PeerMetadata {
            storage_id: None,
            is_ephemeral: Some(true),
        };
        connection
            .join(join_message(me, Some(metadata)), Some(JOIN_WAIT))
            .await?;
        Ok(Self { connection })
    }

    /// What crossed the socket so far.
    pub fn traffic(&self) -> Traffic {
        self.connection.traffic()
    }

    async fn send(&mut self, message: &RepoMessage) -> Result<(), ClientError> {
        self.connection.send(message).await.map_err(closed)
    }

    /// The next message, or `None` if nothing arrives within `wait`.
    async fn recv(&mut self, wait: Duration) -> Result<Option<RepoMessage>, ClientError> {
        match self.connection.recv_within(wait).await.map_err(closed)? {
            Some(Received::Message(message)) => Ok(Some(message)),
            Some(Received::Closed(_)) => Err(ClientError::Closed),
            None => Ok(None),
        }
    }

    fn message(&self, id: &DocumentId, message: sync::Message) -> Result<RepoMessage, ClientError> {
        self.connection
            .sync_message(id, message)
            .ok_or(ClientError::Closed)
    }

    /// Syncs every held document with the server until both sides agree on
    /// all of them. Documents the server does not have are uploaded.
    /// Returns the ids that the server declared unavailable.
    pub async fn sync_all(
        &mut self,
        holdings: &mut Holdings,
        limit: Duration,
    ) -> Result<Vec<DocumentId>, ClientError> {
        let ids: Vec<DocumentId> = holdings.docs.keys().cloned().collect();
        self.sync_ids(holdings, &ids, limit, &mut |_, _, _, _| {})
            .await
    }

    /// [`RepoClient::sync_all`], with every outgoing sync message passed
    /// through `alter` first (with its document and sync state), for tests
    /// and tools that must behave as a particular peer does, e.g. one that
    /// leaves out a change.
    pub async fn sync_all_altered(
        &mut self,
        holdings: &mut Holdings,
        limit: Duration,
        alter: &mut Alter<'_>,
    ) -> Result<Vec<DocumentId>, ClientError> {
        let ids: Vec<DocumentId> = holdings.docs.keys().cloned().collect();
        self.sync_ids(holdings, &ids, limit, alter).await
    }

    /// Asks the server for documents this client does not hold yet, and
    /// syncs them until complete.
    pub async fn fetch(
        &mut self,
        holdings: &mut Holdings,
        ids: &[DocumentId],
        limit: Duration,
    ) -> Result<Vec<DocumentId>, ClientError> {
        for id in ids {
            holdings.docs.entry(id.clone()).or_default();
            holdings.states.entry(id.clone()).or_default();
        }
        self.sync_ids(holdings, ids, limit, &mut |_, _, _, _| {})
            .await
    }

    async fn sync_ids(
        &mut self,
        holdings: &mut Holdings,
        ids: &[DocumentId],
        limit: Duration,
        alter: &mut Alter<'_>,
    ) -> Result<Vec<DocumentId>, ClientError> {
        let deadline = Instant::now() + limit;
        let wanted: HashSet<DocumentId> = ids.iter().cloned().collect();
        let mut unavailable = Vec::new();
        let mut done: HashSet<DocumentId> = HashSet::new();
        for id in ids {
            let (Some(doc), Some(state)) = (holdings.docs.get_mut(id), holdings.states.get_mut(id))
            else {
                continue;
            };
            let lacking = doc.get_heads().is_empty();
            let generated = doc.sync().generate_sync_message(state);
            if let Some(mut message) = generated {
                alter(id, doc, state, &mut message);
                let mut frame = self.message(id, message)?;
                // A document the client lacks is asked for with `request`,
                // as automerge-repo does (see `request_message`).
                if lacking && let RepoMessage::Sync(m) = frame {
                    frame = RepoMessage::Request(m);
                }
                self.send(&frame).await?;
            }
        }
        loop {
            // Complete when every document is agreed (or unavailable).
            done.clear();
            for id in &wanted {
                let (Some(doc), Some(state)) = (holdings.docs.get_mut(id), holdings.states.get(id))
                else {
                    continue;
                };
                let ours = doc.get_heads();
                if state.their_heads.as_ref() == Some(&ours) && state.shared_heads == ours {
                    done.insert(id.clone());
                }
            }
            if done.len() + unavailable.len() >= wanted.len() {
                return Ok(unavailable);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ClientError::Timeout(limit));
            }
            let Some(message) = self.recv(deadline - now).await? else {
                return Err(ClientError::Timeout(limit));
            };
            match message {
                RepoMessage::Sync(m) | RepoMessage::Request(m) => {
                    let decoded = sync::Message::decode(&m.data)
                        .map_err(|e| ClientError::Protocol(e.to_string()))?;
                    let doc = holdings.docs.entry(m.document_id.clone()).or_default();
                    let state = holdings.states.entry(m.document_id.clone()).or_default();
                    doc.sync()
                        .receive_sync_message(state, decoded)
                        .map_err(|e| ClientError::Protocol(e.to_string()))?;
                    let generated = doc.sync().generate_sync_message(state);
                    if let Some(mut reply) = generated {
                        alter(&m.document_id, doc, state, &mut reply);
                        let frame = self.message(&m.document_id, reply)?;
                        self.send(&frame).await?;
                    }
                }
                RepoMessage::DocUnavailable(m)
                    if wanted.contains(&m.document_id) && !unavailable.contains(&m.document_id) =>
                {
                    unavailable.push(m.document_id);
                }
                RepoMessage::Error(e) => return Err(ClientError::Refused(e.message)),
                _ => {}
            }
        }
    }

    /// Sends one Automerge sync message for a document as it is, without
    /// the sync protocol's bookkeeping (for tools and tests that must say
    /// exactly what a misbehaving peer would).
    pub async fn send_raw_sync(
        &mut self,
        id: &DocumentId,
        message: sync::Message,
    ) -> Result<(), ClientError> {
        let frame = self.message(id, message)?;
        self.send(&frame).await
    }

    /// Closes the connection politely.
    pub async fn close(self) {
        self.connection.close().await;
    }
}

/// A transport failure, as [`RepoClient`] reports it: the connection is
/// gone.
fn closed(error: ClientError) -> ClientError {
    match error {
        ClientError::Socket(_) => ClientError::Closed,
        other => other,
    }
}
