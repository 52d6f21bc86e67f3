//! A small automerge-repo protocol "1" client, as official clients speak it
//! to `/v1/ws`: join, then per document the Automerge sync protocol until
//! both sides agree.
//!
//! Used by `fengqiao demo` for devices that sync over WebSocket (a town
//! office's computer, for instance) and by tools that need a real protocol
//! peer. A sync is complete for a document when the server has told us its
//! heads, they equal ours, and we have nothing more to send.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use automerge::AutoCommit;
use automerge::sync::{self, SyncDoc};
use fengqiao_protocol::repo::{DocSync, Join, PeerMetadata, RepoMessage};
use fengqiao_protocol::{DocumentId, PeerId};
use futures_util::{SinkExt, StreamExt};
use thiserror::Error;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

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
    #[error("the sync did not finish within {0:?}")]
    Timeout(Duration),
}

/// Bytes and messages that crossed the socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub messages_up: u64,
    pub messages_down: u64,
}

pub struct RepoClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    me: PeerId,
    server: PeerId,
    pub traffic: Traffic,
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

impl RepoClient {
    /// Connects to `url` (e.g. `ws://host/v1/ws?token=…`) and joins as `peer`.
    pub async fn connect(url: &str, peer: &str) -> Result<Self, ClientError> {
        let (socket, _) = connect_async(url)
            .await
            .map_err(|e| ClientError::Connect(e.to_string()))?;
        let me = PeerId::new(peer).map_err(|e| ClientError::Connect(e.to_string()))?;
        let mut client = Self {
            socket,
            me: me.clone(),
            server: me,
            traffic: Traffic::default(),
        };
        client
            .send(&RepoMessage::Join(Join {
                sender_id: client.me.clone(),
                peer_metadata: Some(PeerMetadata {
                    storage_id: None,
                    is_ephemeral: Some(true),
                }),
                supported_protocol_versions: vec!["1".into()],
            }))
            .await?;
        match client.recv(Duration::from_secs(10)).await? {
            Some(RepoMessage::Peer(peer)) => {
                client.server = peer.sender_id;
                Ok(client)
            }
            Some(RepoMessage::Error(e)) => Err(ClientError::Refused(e.message)),
            Some(other) => Err(ClientError::Protocol(format!(
                "expected peer, got {}",
                other.type_name()
            ))),
            None => Err(ClientError::Timeout(Duration::from_secs(10))),
        }
    }

    async fn send(&mut self, message: &RepoMessage) -> Result<(), ClientError> {
        let bytes = message.encode();
        self.traffic.bytes_up += bytes.len() as u64;
        self.traffic.messages_up += 1;
        self.socket
            .send(Message::Binary(bytes.into()))
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// The next message, or `None` if nothing arrives within `wait`.
    async fn recv(&mut self, wait: Duration) -> Result<Option<RepoMessage>, ClientError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let Ok(frame) = tokio::time::timeout_at(deadline, self.socket.next()).await else {
                return Ok(None);
            };
            match frame {
                Some(Ok(Message::Binary(bytes))) => {
                    self.traffic.bytes_down += bytes.len() as u64;
                    self.traffic.messages_down += 1;
                    return RepoMessage::decode(&bytes)
                        .map(Some)
                        .map_err(|e| ClientError::Protocol(e.to_string()));
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    return Err(ClientError::Closed);
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    fn message(&self, id: &DocumentId, message: sync::Message) -> RepoMessage {
        RepoMessage::Sync(DocSync {
            sender_id: self.me.clone(),
            target_id: self.server.clone(),
            document_id: id.clone(),
            data: message.encode(),
        })
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
        let deadline = tokio::time::Instant::now() + limit;
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
                let mut frame = self.message(id, message);
                // A document the client lacks is asked for with `request`,
                // as automerge-repo does: the server answers
                // `doc-unavailable` when it has nothing to share, where a
                // `sync` would be answered as an empty document.
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
            let now = tokio::time::Instant::now();
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
                        let frame = self.message(&m.document_id, reply);
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
        let frame = self.message(id, message);
        self.send(&frame).await
    }

    /// Closes the connection politely.
    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
