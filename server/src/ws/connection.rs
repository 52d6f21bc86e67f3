//! One automerge-repo peer's conversation with the server, as a state
//! machine without I/O.
//!
//! Inputs are decoded [`RepoMessage`]s from the peer and notices that a
//! document changed on the server; outputs are [`Output`]s: messages to
//! send, the peer's registration in the peer table, ephemeral messages to
//! relay, and when to close. Documents are read and changed through the
//! [`Documents`] trait (the engine in production), so the protocol rules
//! are tested here with plain in-memory documents and the socket loop in
//! [`super::socket`] only moves bytes.
//!
//! The wire format is in `docs/protocol.md`. The rules follow what the
//! JavaScript client needs, as the end-to-end tests in `tests/tests/cases/ws.rs`
//! and `tests/tests/js_interop.rs` check:
//!
//! - `join` is answered with `peer` at once; nothing else is accepted
//!   before it, and a peer that does not offer protocol "1" gets `error`.
//! - Every message the server sends carries the server's own peer id, which
//!   the client uses as the peer to reply to.
//! - `request` for a document the server cannot share (missing, or outside
//!   the caller's scope: the two look the same) is answered with
//!   `doc-unavailable` at once. The requester is remembered: when the
//!   document later arrives it is pushed, as the JS server does.
//! - `sync` for a document the server cannot share is answered as an
//!   empty document answers, which asks for the peer's changes; the
//!   document is created when they pass validation. A document that
//!   exists outside the caller's scope gets exactly the same answers as
//!   one that does not exist, up to the point where changes with content
//!   arrive (they are refused, as any change that may not be stored).
//! - A new document with no content yet (`repo.create()` before the first
//!   `change()`) is "nothing here yet": the server holds its changes for
//!   this connection only, answers as if it had them, and stores the
//!   document when its first change with content arrives.
//! - A `request` or `sync` whose `data` is not an Automerge sync message
//!   is a protocol error: `error`, then close.
//! - A read-only device's changes are ignored, as Automerge's read-only
//!   sync ignores them, and counted; the peer is told once per connection,
//!   at its first document message, with an ephemeral message
//!   ([`READ_ONLY_NOTICE`]).
//! - A refused change is not retried: the server stops syncing that
//!   document with this connection, so a client that cannot un-send a
//!   change does not loop resending it.
//! - Changes that arrive without their dependencies (the peer skipped
//!   them because the server's Bloom filter matched them by chance) are
//!   answered with a message that says the server holds nothing, which
//!   makes the peer send everything; the server keeps no queue of changes
//!   it cannot apply, so asking for the missing ones alone would loop.

use std::collections::HashMap;

use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, ROOT, ReadDoc};
use fengqiao_protocol::repo::{
    DocSync, DocUnavailable, Ephemeral, ErrorMessage, Join, PROTOCOL_VERSION, Peer, PeerMetadata,
};
use fengqiao_protocol::{DecodeError, DocumentId, ErrorCode, PeerId, RepoMessage, StorageId};

use crate::engine::stored_sync::ask_for_everything;
use crate::engine::{Caller, DocError, Engine, Received};

/// Where documents are read and changed. Both methods block.
pub trait Documents {
    /// Applies a peer's sync message; see [`Engine::receive_sync_message`].
    fn receive(
        &self,
        caller: &Caller,
        id: &DocumentId,
        state: &mut sync::State,
        message: sync::Message,
    ) -> Result<Received, DocError>;

    /// The next message for the peer, `None` when in sync, `NotFound` when
    /// the document does not exist or the caller may not read it.
    fn generate(
        &self,
        caller: &Caller,
        id: &DocumentId,
        state: &mut sync::State,
    ) -> Result<Option<sync::Message>, DocError>;

    /// Whether the caller may read the document; `None` when it does not
    /// exist.
    fn readable(&self, caller: &Caller, id: &DocumentId) -> Result<Option<bool>, DocError>;

    /// Creates a document from a peer's changes (a whole saved document),
    /// through the same validation as every other change; see
    /// [`Engine::apply_changes`]. `Ok(false)` when the changes wait for
    /// others that were not sent.
    fn create(&self, caller: &Caller, id: &DocumentId, changes: &[u8]) -> Result<bool, DocError>;
}

impl Documents for Engine {
    fn receive(
        &self,
        caller: &Caller,
        id: &DocumentId,
        state: &mut sync::State,
        message: sync::Message,
    ) -> Result<Received, DocError> {
        self.receive_sync_message(caller, id, state, message)
    }

    fn generate(
        &self,
        caller: &Caller,
        id: &DocumentId,
        state: &mut sync::State,
    ) -> Result<Option<sync::Message>, DocError> {
        self.generate_sync_message(caller, id, state)
    }

    fn readable(&self, caller: &Caller, id: &DocumentId) -> Result<Option<bool>, DocError> {
        Ok(self
            .village_of(id)?
            .map(|village| caller.can_read(&village)))
    }

    fn create(&self, caller: &Caller, id: &DocumentId, changes: &[u8]) -> Result<bool, DocError> {
        self.apply_changes(caller, id, changes)
            .map(|applied| !applied.missing_dependencies)
    }
}

/// What the socket loop must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this message to the peer.
    Send(RepoMessage),
    /// The peer joined under this id: enter it in the peer table.
    Joined(PeerId),
    /// The peer syncs this document and may read it: let it hear ephemeral
    /// messages about it.
    Share(DocumentId),
    /// The peer may no longer read this document: it hears no more
    /// ephemeral messages about it.
    Unshare(DocumentId),
    /// Relay this ephemeral message to the other peers of its document.
    Relay(Ephemeral),
    /// A read-only device sent this many changes to this document; they
    /// were ignored. For counting and (rate-limited) logging.
    IgnoredReadOnly(DocumentId, usize),
    /// A change from the peer was refused (and the document closed to it
    /// on this connection). For rate-limiting the device.
    Refused(DocumentId),
    /// Close the socket (after sending what came before).
    Close(Close),
}

/// Why a socket is closed, with its WebSocket close code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// The peer broke the protocol (bad CBOR, no `join`, wrong version).
    Protocol,
    /// The peer may not connect (no or bad token).
    Unauthorized,
    /// The same peer connected again on a newer socket.
    Replaced,
    /// The server is shutting down.
    GoingAway,
}

impl Close {
    /// The WebSocket close code. JS clients ignore it and retry after five
    /// seconds whatever it is; it is for logs and other clients.
    pub fn code(self) -> u16 {
        match self {
            Close::Replaced => 1000,
            Close::GoingAway => 1001,
            Close::Protocol => 1002,
            Close::Unauthorized => 1008,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Close::Protocol => "protocol error",
            Close::Unauthorized => "unauthorized",
            Close::Replaced => "replaced by a newer connection of the same peer",
            Close::GoingAway => "server shutting down",
        }
    }
}

/// The most documents one connection may have open. A JS client opens
/// every document it holds on each reconnect, so this is generous; past
/// it, further documents are answered `doc-unavailable` rather than let
/// one connection grow without bound.
pub const MAX_OPEN_DOCUMENTS: usize = 100_000;

/// The most bytes of changes held for one document that has no content
/// yet, and the most such documents per connection. An empty document
/// made by `repo.create()` holds one empty change of about a hundred
/// bytes and no operations; past any bound, the changes are validated as
/// a record (and refused, having no `type`).
pub const MAX_UNBORN_BYTES: usize = 4 * 1024;
pub const MAX_UNBORN_OPERATIONS: usize = 64;
pub const MAX_UNBORN_DOCUMENTS: usize = 128;

/// The ephemeral message's `sessionId` the server uses for its notices.
pub const NOTICE_SESSION: &str = "fengqiao-notice";

/// What a read-only device's peer is told, once per connection, at its
/// first document message: a CBOR map with `type` (this
/// constant), `code` (`forbidden`) and `message` (Chinese, then English).
pub const READ_ONLY_NOTICE: &str = "fengqiao/read-only";

const READ_ONLY_MESSAGE: &str = "本设备只能查看，所做修改不会保存到服务器，也不会发给其他设备。\
     This device may only read records: its changes are not kept by the server \
     and reach no other device.";

/// Replies generated for one input at most. Automerge answers one message
/// with one message; the bound only guards against a loop.
const MAX_REPLIES: usize = 8;

/// Where one open document stands with this peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Syncing. `shared` once the server knows the peer may read it.
    Syncing { shared: bool },
    /// The peer asked and the server could not share it; pushed if it
    /// becomes available.
    Unavailable,
    /// A change from this peer was refused: nothing more is exchanged
    /// about this document on this connection.
    Refused,
}

struct OpenDoc {
    state: sync::State,
    standing: Standing,
    /// Changes of a document the server does not store (yet) that have no
    /// content: held for this connection until content arrives.
    unborn: Option<Box<Unborn>>,
}

struct Unborn {
    doc: AutoCommit,
    bytes: usize,
}

impl OpenDoc {
    /// A document opened by a peer; a read-only peer (supervisor, district
    /// without write) gets a read-only sync state, so the server never asks
    /// it for changes.
    fn new(read_only: bool) -> Self {
        Self {
            state: if read_only {
                sync::State::new_read_only()
            } else {
                sync::State::new()
            },
            standing: Standing::Syncing { shared: false },
            unborn: None,
        }
    }
}

/// Why documents are being synced, which decides how "not found" is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Request,
    Sync,
    Push,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    AwaitingJoin,
    Joined(PeerId),
    Closed,
}

/// One connection's protocol state.
pub struct Connection {
    server: PeerId,
    storage_id: Option<StorageId>,
    caller: Caller,
    phase: Phase,
    docs: HashMap<DocumentId, OpenDoc>,
    /// Open documents holding changes without content.
    unborn: usize,
    /// The last `count` of the server's ephemeral notices.
    notices: u64,
    /// A read-only peer was told its changes are not kept.
    told_read_only: bool,
}

/// The `error` message the server sends before closing a socket.
pub fn error_message(
    server: &PeerId,
    target: Option<&PeerId>,
    code: ErrorCode,
    detail: &str,
) -> RepoMessage {
    RepoMessage::Error(ErrorMessage {
        sender_id: Some(server.clone()),
        message: format!("{}: {detail}", code.as_str()),
        target_id: target.cloned(),
    })
}

impl Connection {
    pub fn new(server: PeerId, storage_id: Option<StorageId>, caller: Caller) -> Self {
        Self {
            server,
            storage_id,
            caller,
            phase: Phase::AwaitingJoin,
            docs: HashMap::new(),
            unborn: 0,
            notices: 0,
            told_read_only: false,
        }
    }

    /// The peer id that joined on this connection.
    pub fn peer(&self) -> Option<&PeerId> {
        match &self.phase {
            Phase::Joined(peer) => Some(peer),
            _ => None,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Replaces the caller's access, e.g. after its token was checked
    /// again. Returns whether what it may do changed; then
    /// [`Connection::on_access_changed`] applies that to open documents.
    pub fn set_caller(&mut self, caller: Caller) -> bool {
        let changed = self.caller.access != caller.access;
        self.caller = caller;
        changed
    }

    /// The caller's access changed: a document it may no longer read is
    /// answered `doc-unavailable` and closed to it (nothing more is sent,
    /// no ephemeral messages either); one it asked for and now may read is
    /// sent, as when a missing document arrives; and where write was
    /// granted, the peer is asked to resend the changes a read-only sync
    /// ignored.
    pub fn on_access_changed(&mut self, docs: &dyn Documents) -> Vec<Output> {
        if self.is_closed() {
            return Vec::new();
        }
        let to = self.addressing();
        let read_only = !self.caller.writes();
        let open: Vec<(DocumentId, Standing)> = self
            .docs
            .iter()
            .map(|(id, doc)| (id.clone(), doc.standing))
            .collect();
        let mut out = Vec::new();
        for (id, standing) in open {
            let readable = match docs.readable(&self.caller, &id) {
                Ok(Some(readable)) => readable,
                // Not stored (yet): nothing to take back or to send.
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(peer = %to.peer, %id, error = %e, "could not check access to a document");
                    continue;
                }
            };
            match standing {
                Standing::Syncing { shared: true } if !readable => {
                    if let Some(doc) = self.docs.get_mut(&id) {
                        *doc = OpenDoc::new(read_only);
                        doc.standing = Standing::Unavailable;
                    }
                    out.push(Output::Unshare(id.clone()));
                    out.push(to.unavailable(&id));
                }
                // Never shared: answered as missing (asked for, or
                // announced while out of scope), and readable now.
                Standing::Unavailable | Standing::Syncing { shared: false } if readable => {
                    self.forget_unborn(&id);
                    if let Some(doc) = self.docs.get_mut(&id)
                        && doc.state.read_only != read_only
                    {
                        doc.state.set_read_only(read_only);
                    }
                    out.extend(self.reply(docs, &id, Cause::Push));
                }
                Standing::Syncing { shared: true } => {
                    // Write granted or taken away: a state that was read-only
                    // ignored the peer's changes, so Automerge asks the peer
                    // to send them again (a sync reset).
                    let Some(doc) = self.docs.get_mut(&id) else {
                        continue;
                    };
                    if doc.state.read_only != read_only {
                        doc.state.set_read_only(read_only);
                        out.extend(self.reply(docs, &id, Cause::Push));
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Whether a change to `id` concerns this peer.
    pub fn follows(&self, id: &DocumentId) -> bool {
        self.docs
            .get(id)
            .is_some_and(|doc| doc.standing != Standing::Refused)
    }

    fn error_and_close(&mut self, code: ErrorCode, detail: &str, close: Close) -> Vec<Output> {
        let message = error_message(&self.server, self.peer(), code, detail);
        self.phase = Phase::Closed;
        vec![Output::Send(message), Output::Close(close)]
    }

    /// A frame that is not a protocol message.
    pub fn on_undecodable(&mut self, error: &DecodeError) -> Vec<Output> {
        if self.is_closed() {
            return Vec::new();
        }
        tracing::debug!(peer = ?self.peer(), %error, "undecodable frame");
        self.error_and_close(
            error.code(),
            &format!("the frame is not an automerge-repo message: {error}"),
            Close::Protocol,
        )
    }

    /// A text frame: protocol "1" is binary CBOR only.
    pub fn on_text(&mut self) -> Vec<Output> {
        if self.is_closed() {
            return Vec::new();
        }
        self.error_and_close(
            ErrorCode::BadRequest,
            "text frames are not part of the protocol; send one CBOR message per binary frame",
            Close::Protocol,
        )
    }

    /// The device's token stopped being valid while connected.
    pub fn on_revoked(&mut self) -> Vec<Output> {
        if self.is_closed() {
            return Vec::new();
        }
        self.error_and_close(
            ErrorCode::Unauthorized,
            "the device token is no longer valid",
            Close::Unauthorized,
        )
    }

    /// One message from the peer.
    /// Answers messages in order, up to and including the first whose
    /// outputs close the socket or refuse a change (what follows such a
    /// message waits for its outputs to be carried out: a refusal slows
    /// the device down); returns the outputs and the messages left.
    pub fn on_messages(
        &mut self,
        docs: &dyn Documents,
        messages: Vec<RepoMessage>,
    ) -> (Vec<Output>, Vec<RepoMessage>) {
        let mut outputs = Vec::new();
        let mut messages = messages.into_iter();
        for message in messages.by_ref() {
            let answered = self.on_message(docs, message);
            let stop = answered
                .iter()
                .any(|o| matches!(o, Output::Close(_) | Output::Refused(_)));
            outputs.extend(answered);
            if stop {
                break;
            }
        }
        (outputs, messages.collect())
    }

    /// Who the peer is, with its access now.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The documents that `messages` ask about, and those of them asked
    /// for by peers that hold nothing of them (a `request`): what a batch
    /// of messages will read.
    pub fn documents_asked(messages: &[RepoMessage]) -> (Vec<DocumentId>, Vec<DocumentId>) {
        let mut asked = Vec::new();
        let mut whole = Vec::new();
        for message in messages {
            match message {
                RepoMessage::Request(m) => {
                    asked.push(m.document_id.clone());
                    whole.push(m.document_id.clone());
                }
                RepoMessage::Sync(m) => asked.push(m.document_id.clone()),
                _ => {}
            }
        }
        (asked, whole)
    }

    pub fn on_message(&mut self, docs: &dyn Documents, message: RepoMessage) -> Vec<Output> {
        let joined = match &self.phase {
            Phase::Closed => return Vec::new(),
            Phase::AwaitingJoin => {
                return match message {
                    RepoMessage::Join(join) => self.on_join(join),
                    other => self.error_and_close(
                        ErrorCode::BadRequest,
                        &format!(
                            "expected join as the first message, got {}",
                            other.type_name()
                        ),
                        Close::Protocol,
                    ),
                };
            }
            Phase::Joined(peer) => peer.clone(),
        };
        // Messages that name another sender are echoes of relayed
        // ephemeral messages, or stale: the JS server drops them too.
        if message.sender_id() != Some(joined.as_str()) {
            tracing::trace!(peer = %joined, kind = message.type_name(), "dropped a message from another sender id");
            return Vec::new();
        }
        match message {
            RepoMessage::Join(join) => self.on_join(join),
            RepoMessage::Request(m) => self.on_doc_message(docs, m, Cause::Request),
            RepoMessage::Sync(m) => self.on_doc_message(docs, m, Cause::Sync),
            RepoMessage::Ephemeral(m) => self.on_ephemeral(m),
            RepoMessage::Error(m) => {
                tracing::info!(peer = %joined, message = %m.message, "peer reported an error");
                Vec::new()
            }
            // Gossip, leave and anything newer: nothing the server needs.
            RepoMessage::Leave(_)
            | RepoMessage::Peer(_)
            | RepoMessage::DocUnavailable(_)
            | RepoMessage::RemoteSubscriptionChange(_)
            | RepoMessage::RemoteHeadsChanged(_)
            | RepoMessage::Unknown(_) => Vec::new(),
        }
    }

    fn on_join(&mut self, join: Join) -> Vec<Output> {
        if !join.offers_supported_version() {
            return self.error_and_close(
                ErrorCode::UnsupportedVersion,
                &format!(
                    "unsupported protocol version: offered {:?}, this server speaks \"{PROTOCOL_VERSION}\"",
                    join.supported_protocol_versions
                ),
                Close::Protocol,
            );
        }
        // The server's own peer id names the server: a peer under it would
        // speak to other peers (ephemeral messages) as the server.
        if join.sender_id == self.server {
            return self.error_and_close(
                ErrorCode::BadRequest,
                "this peer id is the server's; choose another (a random one)",
                Close::Protocol,
            );
        }
        // A repeated join (same peer id: another id was dropped above as a
        // foreign message) restarts the peer's syncs: every document's sync
        // state starts fresh, as after a reconnect.
        self.docs.clear();
        self.unborn = 0;
        self.phase = Phase::Joined(join.sender_id.clone());
        let peer = RepoMessage::Peer(Peer {
            sender_id: self.server.clone(),
            peer_metadata: Some(PeerMetadata {
                storage_id: self.storage_id.clone(),
                is_ephemeral: Some(false),
            }),
            selected_protocol_version: PROTOCOL_VERSION.to_owned(),
            target_id: join.sender_id.clone(),
        });
        vec![Output::Send(peer), Output::Joined(join.sender_id)]
    }

    fn on_ephemeral(&mut self, message: Ephemeral) -> Vec<Output> {
        // The server's notices are the server's alone: a peer's message in
        // their session would reach the document's other peers looking like
        // one (a forged "your edits are not kept").
        if message.session_id == NOTICE_SESSION {
            tracing::debug!(peer = ?self.peer(), "dropped an ephemeral message in the server's notice session");
            return Vec::new();
        }
        // Only a peer that syncs the document and may read it can speak
        // about it; others could otherwise probe or spam any document.
        match self.docs.get(&message.document_id) {
            Some(OpenDoc {
                standing: Standing::Syncing { shared: true },
                ..
            }) => vec![Output::Relay(message)],
            _ => Vec::new(),
        }
    }

    fn on_doc_message(
        &mut self,
        docs: &dyn Documents,
        message: DocSync,
        cause: Cause,
    ) -> Vec<Output> {
        let to = self.addressing();
        let id = message.document_id;
        // Data that is no sync message is a broken peer: it is told so and
        // the socket closes, rather than leave it waiting for an answer.
        let mut sync_message = match sync::Message::decode(&message.data) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(peer = %to.peer, %id, error = %e, "undecodable Automerge sync message");
                return self.error_and_close(
                    ErrorCode::BadRequest,
                    &format!("the data for document {id} is not an Automerge sync message: {e}"),
                    Close::Protocol,
                );
            }
        };
        if !self.docs.contains_key(&id) && self.docs.len() >= MAX_OPEN_DOCUMENTS {
            tracing::warn!(peer = %to.peer, "too many open documents on one connection");
            return vec![to.unavailable(&id)];
        }
        let read_only = !self.caller.writes();
        let doc = self
            .docs
            .entry(id.clone())
            .or_insert_with(|| OpenDoc::new(read_only));
        if doc.standing == Standing::Refused {
            return Vec::new();
        }
        let mut out = Vec::new();
        if read_only {
            // A well-behaved peer sees the read-only flag of the server's
            // messages and keeps its changes to itself, so it is told at
            // its first document, once per connection, that they will not
            // be kept.
            if !self.told_read_only {
                self.told_read_only = true;
                self.notices += 1;
                out.push(to.notice(&id, self.notices));
            }
            if !sync_message.changes.is_empty() {
                // Ignored, as Automerge's read-only sync ignores them, and
                // counted.
                out.push(Output::IgnoredReadOnly(
                    id.clone(),
                    sync_message.changes.len(),
                ));
                sync_message.changes = sync::ChunkList::empty();
            }
        }
        let known = doc.standing == (Standing::Syncing { shared: true });
        let readable = if known {
            Ok(Some(true))
        } else {
            docs.readable(&self.caller, &id)
        };
        match readable {
            Ok(Some(true)) => {}
            // Missing and out of scope take the same path.
            Ok(stored) => {
                match self.on_unstored(docs, &id, sync_message, cause, stored.is_some()) {
                    Ok(outputs) => {
                        out.extend(outputs);
                        return out;
                    }
                    Err(message) => sync_message = message,
                }
            }
            Err(e) => {
                // The server's own trouble: the peer's next message tries again.
                tracing::error!(peer = %to.peer, %id, error = %e, "could not check access to a document");
                return out;
            }
        }
        self.forget_unborn(&id);
        let Some(doc) = self.docs.get_mut(&id) else {
            return out;
        };
        match docs.receive(&self.caller, &id, &mut doc.state, sync_message) {
            Ok(received) if received.missing_dependencies => {
                tracing::debug!(peer = %to.peer, %id,
                    "changes arrived without their dependencies; asking the peer for everything");
                out.push(to.sync(&id, ask_for_everything(&mut doc.state)));
                return out;
            }
            Ok(_) => {}
            Err(DocError::NotFound) => {
                // Access was taken away meanwhile.
                doc.standing = Standing::Unavailable;
                out.push(to.unavailable(&id));
                return out;
            }
            Err(DocError::Storage(e)) => {
                // The server's own trouble, not the peer's: keep the
                // document open so the peer's next message tries again.
                tracing::error!(peer = %to.peer, %id, error = %e, "could not store a change");
                return out;
            }
            Err(e) => {
                tracing::warn!(peer = %to.peer, %id, code = e.code().as_str(), reason = %e,
                    "refused a change; no more syncing of this document on this connection");
                doc.standing = Standing::Refused;
                out.push(Output::Refused(id.clone()));
                out.push(to.unavailable(&id));
                return out;
            }
        }
        out.extend(self.reply(docs, &id, cause));
        out
    }

    /// A message about a document the server does not share with this
    /// caller: missing, or existing out of its scope (`hidden`). Both are
    /// answered alike, as an empty document answers; changes without
    /// content are held for this connection, and changes with content
    /// create the record (or, for a hidden one, are refused as any change
    /// that may not be stored).
    fn on_unstored(
        &mut self,
        docs: &dyn Documents,
        id: &DocumentId,
        message: sync::Message,
        cause: Cause,
        hidden: bool,
    ) -> Result<Vec<Output>, sync::Message> {
        let to = self.addressing();
        let room = self.unborn < MAX_UNBORN_DOCUMENTS;
        let Some(doc) = self.docs.get_mut(id) else {
            return Ok(Vec::new());
        };
        let incoming: usize = message.changes.iter().map(|c| c.len()).sum();
        let held = doc.unborn.as_ref().map_or(0, |u| u.bytes);
        if held + incoming > MAX_UNBORN_BYTES {
            if hidden {
                // Too much to hold: it could only be a record, which may
                // not be written here.
                return Ok(self.refuse(id));
            }
            // Too much to hold: the engine applies and validates it as it
            // does every change (and asks for everything if it depended on
            // what was held).
            self.forget_unborn(id);
            return Err(message);
        }
        let mut scratch = match &mut doc.unborn {
            Some(unborn) => unborn.doc.fork(),
            None => AutoCommit::new(),
        };
        let mut state = doc.state.clone();
        if let Err(e) = scratch.sync().receive_sync_message(&mut state, message) {
            tracing::warn!(peer = %to.peer, %id, error = %e,
                "refused changes that do not apply; no more syncing of this document on this connection");
            return Ok(self.refuse(id));
        }
        if !scratch.get_missing_deps(&[]).is_empty() {
            // The peer skipped changes it believes held (a Bloom filter
            // match): start over with everything.
            self.forget_unborn(id);
            let Some(doc) = self.docs.get_mut(id) else {
                return Ok(Vec::new());
            };
            return Ok(vec![to.sync(id, ask_for_everything(&mut doc.state))]);
        }
        let bytes = held + incoming;
        let has_content = scratch.length(ROOT) > 0;
        let fits = bytes <= MAX_UNBORN_BYTES
            && (held > 0 || incoming == 0 || room)
            && (incoming == 0
                || scratch
                    .get_changes(&[])
                    .iter()
                    .map(|c| c.len())
                    .sum::<usize>()
                    <= MAX_UNBORN_OPERATIONS);
        if !has_content && fits {
            let changed = incoming > 0;
            doc.state = state;
            if changed {
                if doc.unborn.is_none() {
                    self.unborn += 1;
                }
                let Some(doc) = self.docs.get_mut(id) else {
                    return Ok(Vec::new());
                };
                doc.unborn = Some(Box::new(Unborn {
                    doc: scratch,
                    bytes,
                }));
            }
            let Some(doc) = self.docs.get_mut(id) else {
                return Ok(Vec::new());
            };
            if cause == Cause::Request && doc.unborn.is_none() {
                doc.standing = Standing::Unavailable;
                return Ok(vec![to.unavailable(id)]);
            }
            let reply = match &mut doc.unborn {
                Some(unborn) => unborn.doc.sync().generate_sync_message(&mut doc.state),
                None => AutoCommit::new()
                    .sync()
                    .generate_sync_message(&mut doc.state),
            };
            return Ok(reply.map(|m| to.sync(id, m)).into_iter().collect());
        }
        if hidden {
            tracing::info!(peer = %to.peer, %id,
                "refused changes to a record outside the caller's scope");
            return Ok(self.refuse(id));
        }
        Ok(match docs.create(&self.caller, id, &scratch.save()) {
            Ok(true) => {
                self.forget_unborn(id);
                if let Some(doc) = self.docs.get_mut(id) {
                    doc.state = state;
                }
                self.reply(docs, id, cause)
            }
            Ok(false) => {
                self.forget_unborn(id);
                let Some(doc) = self.docs.get_mut(id) else {
                    return Ok(Vec::new());
                };
                vec![to.sync(id, ask_for_everything(&mut doc.state))]
            }
            Err(DocError::Storage(e)) => {
                tracing::error!(peer = %to.peer, %id, error = %e, "could not store a change");
                Vec::new()
            }
            Err(e) => {
                tracing::warn!(peer = %to.peer, %id, code = e.code().as_str(), reason = %e,
                    "refused a change; no more syncing of this document on this connection");
                self.refuse(id)
            }
        })
    }

    /// Closes a document to this connection after a refused change.
    fn refuse(&mut self, id: &DocumentId) -> Vec<Output> {
        let to = self.addressing();
        self.forget_unborn(id);
        if let Some(doc) = self.docs.get_mut(id) {
            doc.standing = Standing::Refused;
        }
        vec![Output::Refused(id.clone()), to.unavailable(id)]
    }

    /// Drops the changes held for a document without content.
    fn forget_unborn(&mut self, id: &DocumentId) {
        if let Some(doc) = self.docs.get_mut(id)
            && doc.unborn.take().is_some()
        {
            self.unborn = self.unborn.saturating_sub(1);
        }
    }

    /// Generates what the peer lacks of `id`.
    fn reply(&mut self, docs: &dyn Documents, id: &DocumentId, cause: Cause) -> Vec<Output> {
        let to = self.addressing();
        let mut out = Vec::new();
        let Some(doc) = self.docs.get_mut(id) else {
            return out;
        };
        for _ in 0..MAX_REPLIES {
            match docs.generate(&self.caller, id, &mut doc.state) {
                Ok(reply) => {
                    if doc.standing != (Standing::Syncing { shared: true }) {
                        doc.standing = Standing::Syncing { shared: true };
                        out.push(Output::Share(id.clone()));
                    }
                    match reply {
                        Some(reply) => out.push(to.sync(id, reply)),
                        None => break,
                    }
                }
                Err(DocError::NotFound) => {
                    match cause {
                        // The document went out of reach between receiving
                        // and answering: answer as an empty document does,
                        // as for any document the server cannot share.
                        Cause::Sync => {
                            let ask = AutoCommit::new()
                                .sync()
                                .generate_sync_message(&mut doc.state);
                            out.extend(ask.map(|ask| to.sync(id, ask)));
                        }
                        Cause::Request => {
                            doc.standing = Standing::Unavailable;
                            out.push(to.unavailable(id));
                        }
                        // Still nothing to share: the peer was told already.
                        Cause::Push => {}
                    }
                    break;
                }
                Err(e) => {
                    tracing::error!(peer = %to.peer, %id, error = %e, "could not generate a sync message");
                    break;
                }
            }
        }
        out
    }

    /// A document changed on the server (from any door).
    pub fn on_doc_changed(&mut self, docs: &dyn Documents, id: &DocumentId) -> Vec<Output> {
        if self.is_closed() || !self.follows(id) {
            return Vec::new();
        }
        self.reply(docs, id, Cause::Push)
    }

    /// Some change notices were lost: every open document is checked.
    pub fn on_missed(&mut self, docs: &dyn Documents) -> Vec<Output> {
        if self.is_closed() {
            return Vec::new();
        }
        let open: Vec<DocumentId> = self
            .docs
            .iter()
            .filter(|(_, doc)| doc.standing != Standing::Refused)
            .map(|(id, _)| id.clone())
            .collect();
        open.iter()
            .flat_map(|id| self.reply(docs, id, Cause::Push))
            .collect()
    }

    fn addressing(&self) -> Addressing {
        Addressing {
            server: self.server.clone(),
            // Document messages only flow after join; before it the
            // server's own id stands in and is never sent.
            peer: self.peer().cloned().unwrap_or_else(|| self.server.clone()),
        }
    }
}

/// Who document messages are from and to.
struct Addressing {
    server: PeerId,
    peer: PeerId,
}

impl Addressing {
    fn sync(&self, id: &DocumentId, message: sync::Message) -> Output {
        Output::Send(RepoMessage::Sync(DocSync {
            sender_id: self.server.clone(),
            target_id: self.peer.clone(),
            document_id: id.clone(),
            data: message.encode(),
        }))
    }

    /// The server's ephemeral notice that a read-only device's changes to
    /// `id` are ignored.
    fn notice(&self, id: &DocumentId, count: u64) -> Output {
        use ciborium::Value;
        let body = Value::Map(vec![
            (Value::from("type"), Value::from(READ_ONLY_NOTICE)),
            (
                Value::from("code"),
                Value::from(ErrorCode::Forbidden.as_str()),
            ),
            (Value::from("message"), Value::from(READ_ONLY_MESSAGE)),
        ]);
        let mut data = Vec::new();
        // Writing a small map to memory cannot fail.
        let _ = ciborium::into_writer(&body, &mut data);
        Output::Send(RepoMessage::Ephemeral(Ephemeral {
            sender_id: self.server.clone(),
            target_id: self.peer.clone(),
            document_id: id.clone(),
            data,
            count,
            session_id: NOTICE_SESSION.to_owned(),
        }))
    }

    fn unavailable(&self, id: &DocumentId) -> Output {
        Output::Send(RepoMessage::DocUnavailable(DocUnavailable {
            sender_id: self.server.clone(),
            target_id: self.peer.clone(),
            document_id: id.clone(),
        }))
    }
}

#[cfg(test)]
mod tests;
