//! An automerge-repo peer for tests: [`WsClient`] speaks protocol "1" over
//! a real socket to a server's `GET /v1/ws`.

use std::time::Duration;

use automerge::AutoCommit;
use automerge::sync::{self, SyncDoc};
use fengqiao_protocol::repo::{Join, PeerMetadata};
use fengqiao_protocol::{DocumentId, PeerId, RepoMessage};
use fengqiao_shared::record::{self, Author, Record};

use crate::{T0, sample_dispute};
use fengqiao_server::ws_client::{
    ClientError, Connection, Frame, Received, request_message, sync_message,
};

/// The village the peers' disputes are in.
pub const VILLAGE: &str = "500110101001";

/// How long a test waits for the server.
pub const WAIT: Duration = Duration::from_secs(10);

/// A protocol "1" client for the tests: the shared [`Connection`] and the
/// tests' own expectations (every wait bounded by [`WAIT`], every failure a
/// test failure).
pub struct WsClient {
    pub connection: Connection,
    pub peer: PeerId,
    pub server: Option<PeerId>,
}

impl WsClient {
    pub async fn connect(url: &str, peer: &str) -> Self {
        let connection = Connection::connect(url, Some(WAIT))
            .await
            .expect("upgrade accepted in time");
        assert!(
            connection
                .response()
                .headers()
                .get("sec-websocket-protocol")
                .is_none(),
            "the server must not pick a subprotocol"
        );
        Self {
            connection,
            peer: PeerId::new(peer).unwrap(),
            server: None,
        }
    }

    /// Connects and completes the join/peer handshake.
    pub async fn joined(url: &str, peer: &str) -> Self {
        let mut client = Self::connect(url, peer).await;
        let join = Join {
            sender_id: client.peer.clone(),
            peer_metadata: Some(PeerMetadata::default()),
            supported_protocol_versions: vec!["1".into()],
        };
        let peer = client
            .connection
            .join(join, Some(WAIT))
            .await
            .unwrap_or_else(|e| panic!("expected peer, got {e}"));
        client.server = Some(peer.sender_id);
        client
    }

    pub async fn join(&mut self, versions: &[&str]) {
        let join = RepoMessage::Join(Join {
            sender_id: self.peer.clone(),
            peer_metadata: Some(PeerMetadata::default()),
            supported_protocol_versions: versions.iter().map(|v| v.to_string()).collect(),
        });
        self.send(&join).await;
    }

    pub async fn send(&mut self, message: &RepoMessage) {
        self.connection.send(message).await.expect("sent in time");
    }

    pub async fn send_raw(&mut self, frame: Frame) {
        self.connection
            .send_frame(frame)
            .await
            .expect("sent in time");
    }

    /// The next protocol message, or the close. Fails the test after
    /// [`WAIT`].
    pub async fn recv(&mut self) -> Received {
        self.recv_within(WAIT)
            .await
            .unwrap_or_else(|| panic!("nothing received within {WAIT:?}"))
    }

    /// The next protocol message or the close (a socket that fails counts
    /// as closed without a code), or `None` after `wait`.
    pub async fn recv_within(&mut self, wait: Duration) -> Option<Received> {
        match self.connection.recv_within(wait).await {
            Ok(received) => received,
            Err(ClientError::Socket(_)) => Some(Received::Closed(None)),
            Err(e) => panic!("the server sent something that is not a message: {e}"),
        }
    }

    pub fn server(&self) -> PeerId {
        self.server.clone().expect("joined")
    }

    pub fn doc_message(&self, id: &DocumentId, message: sync::Message) -> RepoMessage {
        sync_message(&self.peer, &self.server(), id, message)
    }

    pub async fn request(&mut self, id: &DocumentId, state: &mut sync::State) {
        let message = AutoCommit::new()
            .sync()
            .generate_sync_message(state)
            .expect("an empty document asks");
        let request = request_message(&self.peer, &self.server(), id, message);
        self.send(&request).await;
    }

    /// Syncs `doc` with the server until both have the same heads and
    /// neither has more to say. `request` starts with a `request` rather
    /// than a `sync`, as a client that lacks the document does.
    pub async fn sync_doc(
        &mut self,
        id: &DocumentId,
        doc: &mut AutoCommit,
        state: &mut sync::State,
    ) {
        for _ in 0..20 {
            let sent = match doc.sync().generate_sync_message(state) {
                Some(message) => {
                    let sync = self.doc_message(id, message);
                    self.send(&sync).await;
                    true
                }
                None => false,
            };
            let in_sync = state.their_heads.as_deref() == Some(&doc.get_heads()[..]);
            let replies = match (in_sync, sent) {
                (true, false) => return,
                // The server answers only when it has something to say:
                // whatever it says before the barrier is its answer.
                (true, true) => {
                    let said = self.barrier().await;
                    if said.is_empty() {
                        return;
                    }
                    said
                }
                (false, _) => vec![self.recv().await],
            };
            for reply in replies {
                match reply {
                    Received::Message(RepoMessage::Sync(reply)) if reply.document_id == *id => {
                        assert_eq!(reply.sender_id, self.server());
                        let reply = sync::Message::decode(&reply.data).expect("valid sync message");
                        doc.sync()
                            .receive_sync_message(state, reply)
                            .expect("applies");
                    }
                    other => panic!("expected a sync for {id}, got {other:?}"),
                }
            }
        }
        panic!("sync of {id} did not settle");
    }

    /// Everything the server sends before it answers a request sent now:
    /// asks for a document nobody has and collects what arrives until its
    /// `doc-unavailable`. The server handles a socket's messages in order,
    /// so anything it had to say before, it has said.
    pub async fn barrier(&mut self) -> Vec<Received> {
        let marker = DocumentId::random();
        self.request(&marker, &mut sync::State::new()).await;
        let mut before = Vec::new();
        for _ in 0..100 {
            match self.recv().await {
                Received::Message(RepoMessage::DocUnavailable(m)) if m.document_id == marker => {
                    return before;
                }
                closed @ Received::Closed(_) => panic!("closed before the barrier: {closed:?}"),
                other => before.push(other),
            }
        }
        panic!("no answer to the barrier request among 100 messages");
    }

    /// Receives the server's pushed syncs of `id` until `done` holds for
    /// the peer's copy, answering each as a peer that has the document open
    /// does. Fails the test after [`WAIT`] or on anything else.
    pub async fn receive_until(
        &mut self,
        id: &DocumentId,
        doc: &mut AutoCommit,
        state: &mut sync::State,
        done: impl Fn(&mut AutoCommit) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done(doc) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no live push within {WAIT:?}"
            );
            match self.recv().await {
                Received::Message(RepoMessage::Sync(push)) if push.document_id == *id => {
                    let push = sync::Message::decode(&push.data).expect("a sync message");
                    doc.sync()
                        .receive_sync_message(state, push)
                        .expect("applies");
                    if let Some(reply) = doc.sync().generate_sync_message(state) {
                        let reply = self.doc_message(id, reply);
                        self.send(&reply).await;
                    }
                }
                other => panic!("expected a pushed sync of {id}, got {other:?}"),
            }
        }
    }

    /// Waits for the server's close frame; returns its code.
    pub async fn expect_closed(&mut self) -> Option<u16> {
        for _ in 0..10 {
            if let Received::Closed(code) = self.recv().await {
                return code;
            }
        }
        panic!("the server did not close the socket");
    }
}

/// A new dispute in [`VILLAGE`], made by a WebSocket peer's cadre.
pub fn new_dispute(title: &str) -> AutoCommit {
    let mut doc = AutoCommit::new();
    record::create_dispute(
        &mut doc,
        &Author::new("cadre-ws", T0),
        &sample_dispute(VILLAGE, title),
    )
    .expect("dispute created");
    doc
}

/// The dispute a document holds.
pub fn dispute(doc: &AutoCommit) -> record::Dispute {
    match Record::read(doc).expect("a record") {
        Record::Dispute(d) => d,
        other => panic!("expected a dispute, got {other:?}"),
    }
}
