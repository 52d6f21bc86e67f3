//! The automerge-repo protocol "1" client that drives the reference
//! server, samod and Fengqiao's WebSocket door alike.
//!
//! It is written here rather than taken from samod so that all three
//! servers meet exactly the same client: same pipelining, same completion
//! rule, and byte counts taken at the frame level. The socket, the
//! handshake and the counts are the workspace's one protocol connection,
//! [`fengqiao_server::ws_client::Connection`]; this module keeps the
//! benchmark's own policy: the window and the completion rule. It speaks
//! the protocol as the JavaScript client does: `join` (with a stable
//! `storageId` and `isEphemeral: false`, as a client with storage sends)
//! and, per document, `request` when it holds nothing of it and `sync`
//! otherwise, answering every server message until Automerge's sync state
//! machine has nothing more to say.
//!
//! **Pipelining.** Up to `window` documents are in progress at once; a
//! finished document makes room for the next. The JavaScript client starts
//! every document at once; a window keeps memory bounded and is the same
//! for every server.
//!
//! **Complete.** A document is complete when its heads equal the expected
//! heads, the server's last advertised heads equal them too (it holds
//! them), and generating a sync message returns `None` (the client has
//! nothing more to send). A workload is complete when every document is.
//! `doc-unavailable`, an `error` message or a closed socket fail the
//! workload.
//!
//! **Restart on its storage.** [`ClientStore::save`] writes every
//! document (`save()`) and its sync state (`encode()`, which keeps only
//! the shared heads, as automerge-repo persists it) to a directory;
//! [`ClientStore::load`] reads them back into a new store with a new peer
//! id and the same storage id, as a restarted automerge-repo process would.
//! Reconnecting clients are loaded this way before the clock starts.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::time::{Duration, Instant};

use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, ChangeHash};
use fengqiao_protocol::repo::PeerMetadata;
use fengqiao_protocol::{DocumentId, PeerId, RepoMessage, StorageId};
use fengqiao_server::ws_client::{
    ClientError, Connection, Frame, Received, Receiver, join_message, request_message, sync_message,
};
use tokio::sync::mpsc;

use super::measure::{Outcome, Traffic};

/// Replies generated for one incoming message at most.
const MAX_REPLIES: usize = 8;

/// One document held by the client.
pub struct ClientDoc {
    pub doc: AutoCommit,
    pub state: sync::State,
}

/// The client's documents and identity.
pub struct ClientStore {
    pub peer: PeerId,
    pub storage_id: StorageId,
    pub docs: HashMap<DocumentId, ClientDoc>,
}

impl ClientStore {
    pub fn new(name: &str) -> Self {
        Self {
            peer: fresh_peer(name),
            storage_id: StorageId::new(uuid_like()).expect("a valid storage id"),
            docs: HashMap::new(),
        }
    }

    /// Forgets in-flight sync state, keeping only the shared heads, as a
    /// reconnecting automerge-repo client does, and takes a new peer id, as
    /// a restarted client process does (its storage id stays).
    pub fn reset_sync_states(&mut self) {
        self.peer = fresh_peer(self.peer.as_str());
        for entry in self.docs.values_mut() {
            entry.state = sync::State::decode(&entry.state.encode()).expect("own encoding");
        }
    }

    /// Writes every document and sync state under `dir`.
    pub fn save(&mut self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (id, entry) in &mut self.docs {
            std::fs::write(dir.join(format!("{id}.doc")), entry.doc.save())?;
            std::fs::write(dir.join(format!("{id}.sync")), entry.state.encode())?;
        }
        let identity = format!("{}\n{}\n", self.peer, self.storage_id);
        std::fs::write(dir.join("identity"), identity)
    }

    /// Reads a store written by [`save`](Self::save).
    pub fn load(dir: &Path) -> std::io::Result<Self> {
        let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
        let identity = std::fs::read_to_string(dir.join("identity"))?;
        let mut lines = identity.lines();
        let peer = fresh_peer(lines.next().unwrap_or_default());
        let storage_id = StorageId::new(lines.next().unwrap_or_default())
            .map_err(|e| invalid(format!("storage id: {e}")))?;
        let mut docs = HashMap::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_none_or(|e| e != "doc") {
                continue;
            }
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let id = DocumentId::parse(stem).map_err(|e| invalid(format!("{stem}: {e}")))?;
            let doc = AutoCommit::load(&std::fs::read(&path)?)
                .map_err(|e| invalid(format!("{id}: {e}")))?;
            let state = sync::State::decode(&std::fs::read(path.with_extension("sync"))?)
                .map_err(|e| invalid(format!("{id} sync state: {e}")))?;
            docs.insert(id, ClientDoc { doc, state });
        }
        Ok(Self {
            peer,
            storage_id,
            docs,
        })
    }
}

/// A new peer id for a client process: its name (the part of `previous`
/// before the first `-`) and a random suffix.
fn fresh_peer(previous: &str) -> PeerId {
    let name = previous.split('-').next().unwrap_or("client");
    PeerId::new(format!("{name}-{}", uuid_like())).expect("a valid peer id")
}

fn uuid_like() -> String {
    DocumentId::random().to_string()
}

fn sorted(mut heads: Vec<ChangeHash>) -> Vec<ChangeHash> {
    heads.sort();
    heads
}

/// A document to sync and the heads it must end with.
pub struct Target {
    pub id: DocumentId,
    pub expected: Vec<ChangeHash>,
}

struct Progress {
    expected: Vec<ChangeHash>,
    sent: u64,
}

/// Connects to `url`, syncs every target and returns what crossed the
/// socket. Documents the store does not hold are requested.
pub async fn sync_targets(
    url: &str,
    store: &mut ClientStore,
    targets: Vec<Target>,
    window: usize,
    deadline: tokio::time::Instant,
) -> Result<Traffic, Outcome> {
    let total = targets.len();
    let mut completed = 0usize;
    let outcome = tokio::time::timeout_at(
        deadline,
        exchange(url, store, targets, window, &mut completed),
    )
    .await;
    match outcome {
        Ok(Ok(traffic)) => Ok(traffic),
        Ok(Err(e)) => Err(Outcome::Failed(format!(
            "{e} ({completed} of {total} complete)"
        ))),
        Err(_) => Err(Outcome::TimedOut(format!(
            "{completed} of {total} complete"
        ))),
    }
}

async fn exchange(
    url: &str,
    store: &mut ClientStore,
    targets: Vec<Target>,
    window: usize,
    completed: &mut usize,
) -> Result<Traffic, String> {
    let started = Instant::now();
    // Small frames go out at once, as browsers and Node's `ws` send them
    // (the connection sets `TCP_NODELAY`).
    let mut connection = Connection::connect(url, None)
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
    let metadata = PeerMetadata {
        storage_id: Some(store.storage_id.clone()),
        is_ephemeral: Some(false),
    };
    let server = match connection
        .join(join_message(store.peer.clone(), Some(metadata)), None)
        .await
    {
        Ok(peer) => peer.sender_id,
        Err(ClientError::Refused(e)) => return Err(format!("server refused the join: {e}")),
        Err(e) => return Err(e.to_string()),
    };
    let (mut sink, mut stream) = connection.into_split();

    // Frames go out through a writer task so that reading never waits on
    // writing (and the reverse); the sending half counts what it writes.
    let (outbox, mut frames) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        while let Some(frame) = frames.recv().await {
            if sink.send_frame(Frame::Binary(frame.into())).await.is_err() {
                break;
            }
        }
        sink.close().await;
        sink.traffic()
    });
    let send = |message: RepoMessage| outbox.send(message.encode()).map_err(|e| e.to_string());

    let total = targets.len();
    let mut pending: VecDeque<Target> = targets.into();
    let mut open: HashMap<DocumentId, Progress> = HashMap::new();
    let mut longest = 0u64;
    let doc_message = |id: &DocumentId, message: sync::Message, request: bool| {
        if request {
            request_message(&store.peer, &server, id, message)
        } else {
            sync_message(&store.peer, &server, id, message)
        }
    };

    while *completed < total {
        // Fill the window.
        while open.len() < window {
            let Some(target) = pending.pop_front() else {
                break;
            };
            let request = !store.docs.contains_key(&target.id);
            let entry = store
                .docs
                .entry(target.id.clone())
                .or_insert_with(|| ClientDoc {
                    doc: AutoCommit::new(),
                    state: sync::State::new(),
                });
            let mut progress = Progress {
                expected: sorted(target.expected),
                sent: 0,
            };
            for _ in 0..MAX_REPLIES {
                match entry.doc.sync().generate_sync_message(&mut entry.state) {
                    Some(message) => {
                        let first = progress.sent == 0;
                        send(doc_message(&target.id, message, request && first))?;
                        progress.sent += 1;
                    }
                    None => break,
                }
            }
            if is_complete(entry, &progress.expected) {
                *completed += 1;
                longest = longest.max(progress.sent);
            } else {
                open.insert(target.id, progress);
            }
        }
        if *completed == total {
            break;
        }

        let (id, data) = match next_message(&mut stream).await? {
            RepoMessage::Sync(m) | RepoMessage::Request(m) => (m.document_id, m.data),
            RepoMessage::DocUnavailable(m) => {
                return Err(format!("the server has no document {}", m.document_id));
            }
            RepoMessage::Error(e) => return Err(format!("server error: {}", e.message)),
            _ => continue,
        };
        let Some(entry) = store.docs.get_mut(&id) else {
            continue;
        };
        let message = sync::Message::decode(&data)
            .map_err(|e| format!("undecodable sync message for {id}: {e}"))?;
        entry
            .doc
            .sync()
            .receive_sync_message(&mut entry.state, message)
            .map_err(|e| format!("bad sync message for {id}: {e}"))?;
        let Some(progress) = open.get_mut(&id) else {
            // A late message about a finished document: answer it all the
            // same, as a real client would.
            if let Some(reply) = entry.doc.sync().generate_sync_message(&mut entry.state) {
                send(doc_message(&id, reply, false))?;
            }
            continue;
        };
        for _ in 0..MAX_REPLIES {
            match entry.doc.sync().generate_sync_message(&mut entry.state) {
                Some(reply) => {
                    send(doc_message(&id, reply, false))?;
                    progress.sent += 1;
                }
                None => break,
            }
        }
        if is_complete(entry, &progress.expected) {
            longest = longest.max(progress.sent);
            open.remove(&id);
            *completed += 1;
        }
    }
    let mut traffic = Traffic {
        wall: started.elapsed(),
        round_trips: longest,
        ..Traffic::default()
    };
    drop(outbox);
    let up = match tokio::time::timeout(Duration::from_secs(10), writer).await {
        Ok(Ok(up)) => up,
        _ => return Err("the writer did not finish".to_owned()),
    };
    let down = stream.traffic();
    traffic.bytes_up = up.bytes_up;
    traffic.messages_up = up.messages_up;
    traffic.bytes_down = down.bytes_down;
    traffic.messages_down = down.messages_down;
    Ok(traffic)
}

/// Called after the client has answered everything it received (its sync
/// state machine returned `None`).
fn is_complete(entry: &mut ClientDoc, expected: &[ChangeHash]) -> bool {
    sorted(entry.doc.get_heads()) == expected
        && entry
            .state
            .their_heads
            .as_ref()
            .is_some_and(|theirs| sorted(theirs.clone()) == expected)
}

/// The next message from the server; its close fails the workload.
async fn next_message(stream: &mut Receiver) -> Result<RepoMessage, String> {
    match stream.recv().await {
        Ok(Received::Message(message)) => Ok(message),
        Ok(Received::Closed(_)) => Err("the server closed the connection".to_owned()),
        Err(ClientError::Protocol(e)) => Err(format!("undecodable frame from the server: {e}")),
        Err(e) => Err(e.to_string()),
    }
}
