//! The table of automerge-repo peers connected to this server.
//!
//! A peer id is chosen by the client and lives as long as one client
//! process or tab; it routes messages but proves nothing. The table maps
//! each joined peer id to its connection's outbox and to the documents it
//! may hear ephemeral messages about, so that one connection can relay
//! presence or cursor messages to the others without knowing them.
//!
//! A `join` from a peer id that is already in the table for the same device
//! is a reconnect: the newer socket takes the entry and the older
//! connection is told to close, as the JavaScript sync server does. Peer ids
//! are entered per device: another device joining under the same peer id
//! (knowingly or not) gets an entry of its own and closes nobody's socket.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::Message;
use fengqiao_protocol::repo::Ephemeral;
use fengqiao_protocol::{DeviceId, DocumentId, PeerId, RepoMessage};
use tokio::sync::{Notify, mpsc, watch};

use crate::limit::{RateLimit, RateLimiter};

/// What the table holds for one connected peer.
struct Entry {
    connection: u64,
    outbox: mpsc::Sender<Message>,
    replaced: Arc<Notify>,
    /// Documents this peer syncs and may read: ephemeral messages about
    /// them reach it.
    documents: HashSet<DocumentId>,
}

/// A joined peer: the device it connected as (`None` for development
/// access) and the peer id it chose.
pub type PeerKey = (Option<DeviceId>, PeerId);

/// How a connection registers itself when its peer joins.
pub struct Registration {
    /// The device the connection authenticated as.
    pub device: Option<DeviceId>,
    pub connection: u64,
    pub outbox: mpsc::Sender<Message>,
    /// Notified when a newer socket of the same peer takes over.
    pub replaced: Arc<Notify>,
}

/// Connected peers, shared by every WebSocket connection of a server.
pub struct Peers {
    next_connection: AtomicU64,
    table: Mutex<HashMap<PeerKey, Entry>>,
    /// Sockets being served, joined or not; shutdown waits for zero.
    open: watch::Sender<usize>,
    /// Refused changes per device on this door.
    refusals: RateLimiter,
}

/// Refused changes a device may send over WebSockets before the server
/// reads its messages more slowly: a burst of 20, then one a second.
pub const REFUSAL_RATE: RateLimit = RateLimit {
    per_second: 1.0,
    burst: 20.0,
};

impl Default for Peers {
    fn default() -> Self {
        Self {
            next_connection: AtomicU64::new(0),
            table: Mutex::new(HashMap::new()),
            open: watch::Sender::new(0),
            refusals: RateLimiter::new(REFUSAL_RATE),
        }
    }
}

/// Counts a socket as open for as long as it lives.
pub struct OpenSocket<'a>(&'a Peers);

impl Drop for OpenSocket<'_> {
    fn drop(&mut self) {
        self.0.open.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Peers {
    /// Marks a socket as being served until the guard is dropped.
    pub fn open_socket(&self) -> OpenSocket<'_> {
        self.open.send_modify(|n| *n += 1);
        OpenSocket(self)
    }

    /// Resolves once no socket is being served.
    pub async fn all_closed(&self) {
        let mut open = self.open.subscribe();
        let _ = open.wait_for(|n| *n == 0).await;
    }

    /// A number that names one connection for its lifetime; the engine uses
    /// it to tell which connection caused a change.
    pub fn next_connection_id(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn table(&self) -> MutexGuard<'_, HashMap<PeerKey, Entry>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long the device must wait before its next message is read,
    /// after one more refused change (zero within [`REFUSAL_RATE`]).
    pub fn refusal_delay(&self, device: DeviceId) -> std::time::Duration {
        self.refusals.delay(device)
    }

    /// Records that `peer` joined on a connection of `registration.device`.
    /// An older connection of the same peer id and the same device is told
    /// to close; one of another device is left alone. A repeated `join` on
    /// the same connection keeps its entry but forgets its documents,
    /// because the peer starts its syncs over.
    pub fn join(&self, peer: &PeerId, registration: Registration) {
        let entry = Entry {
            connection: registration.connection,
            outbox: registration.outbox,
            replaced: registration.replaced,
            documents: HashSet::new(),
        };
        let older = self
            .table()
            .insert((registration.device, peer.clone()), entry);
        if let Some(older) = older
            && older.connection != registration.connection
        {
            tracing::info!(%peer, old = older.connection, new = registration.connection,
                "peer reconnected; closing its older socket");
            older.replaced.notify_one();
        }
    }

    /// Removes the peer when its connection ends, unless a newer connection
    /// of the same peer already took the entry.
    pub fn leave(&self, peer: &PeerKey, connection: u64) {
        let mut table = self.table();
        if table.get(peer).is_some_and(|e| e.connection == connection) {
            table.remove(peer);
        }
    }

    /// Lets `peer` hear ephemeral messages about `document`.
    pub fn share(&self, peer: &PeerKey, connection: u64, document: &DocumentId) {
        if let Some(entry) = self.table().get_mut(peer)
            && entry.connection == connection
        {
            entry.documents.insert(document.clone());
        }
    }

    /// Stops `peer` hearing ephemeral messages about `document`.
    pub fn unshare(&self, peer: &PeerKey, connection: u64, document: &DocumentId) {
        if let Some(entry) = self.table().get_mut(peer)
            && entry.connection == connection
        {
            entry.documents.remove(document);
        }
    }

    /// Forwards an ephemeral message to every other peer that syncs its
    /// document, with `targetId` set to that peer and every other field
    /// unchanged. A peer whose outbox is full misses it: ephemeral data is
    /// lossy by design, and one slow phone must not hold up the others.
    /// Returns how many peers it was handed to. `from` is the sender's
    /// connection, which never hears its own message.
    pub fn relay(&self, message: &Ephemeral, from: u64) -> usize {
        let table = self.table();
        let mut relayed = 0;
        for ((_, peer), entry) in table.iter() {
            if entry.connection == from || !entry.documents.contains(&message.document_id) {
                continue;
            }
            let forwarded = RepoMessage::Ephemeral(Ephemeral {
                target_id: peer.clone(),
                ..message.clone()
            });
            if entry
                .outbox
                .try_send(Message::Binary(forwarded.encode().into()))
                .is_ok()
            {
                relayed += 1;
            }
        }
        relayed
    }

    /// How many peers are connected now.
    pub fn len(&self) -> usize {
        self.table().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(name: &str) -> PeerId {
        PeerId::new(name).unwrap()
    }

    fn device(n: u8) -> Option<DeviceId> {
        Some(DeviceId::from_bytes([n; 16]))
    }

    fn key(name: &str) -> PeerKey {
        (device(1), peer(name))
    }

    fn register(peers: &Peers, name: &str) -> (u64, mpsc::Receiver<Message>, Arc<Notify>) {
        register_as(peers, device(1), name)
    }

    fn register_as(
        peers: &Peers,
        device: Option<DeviceId>,
        name: &str,
    ) -> (u64, mpsc::Receiver<Message>, Arc<Notify>) {
        let connection = peers.next_connection_id();
        let (outbox, inbox) = mpsc::channel(4);
        let replaced = Arc::new(Notify::new());
        peers.join(
            &peer(name),
            Registration {
                device,
                connection,
                outbox,
                replaced: replaced.clone(),
            },
        );
        (connection, inbox, replaced)
    }

    /// Whether `replaced` holds a notification, without waiting.
    fn notified(replaced: &Notify) -> bool {
        let notified = replaced.notified();
        tokio::pin!(notified);
        // A stored permit completes the future at once.
        notified.as_mut().enable()
    }

    fn ephemeral(from: &str, document: &DocumentId) -> Ephemeral {
        Ephemeral {
            sender_id: peer(from),
            target_id: peer("fengqiao-server"),
            document_id: document.clone(),
            data: vec![0xa0],
            count: 3,
            session_id: "session".into(),
        }
    }

    #[test]
    fn ephemeral_messages_reach_only_other_peers_of_the_document() {
        let peers = Peers::default();
        let doc = DocumentId::random();
        let other_doc = DocumentId::random();
        let (a, mut a_inbox, _) = register(&peers, "a");
        let (b, mut b_inbox, _) = register(&peers, "b");
        let (c, mut c_inbox, _) = register(&peers, "c");
        peers.share(&key("a"), a, &doc);
        peers.share(&key("b"), b, &doc);
        peers.share(&key("c"), c, &other_doc);
        peers.share(&key("c"), c, &doc);
        peers.unshare(&key("c"), c, &doc);

        assert_eq!(peers.relay(&ephemeral("a", &doc), a), 1);
        let Ok(Message::Binary(frame)) = b_inbox.try_recv() else {
            panic!("b should receive the relayed message");
        };
        let RepoMessage::Ephemeral(relayed) = RepoMessage::decode(&frame).unwrap() else {
            panic!("an ephemeral message");
        };
        assert_eq!(relayed.target_id, peer("b"));
        assert_eq!(relayed.sender_id, peer("a"));
        assert_eq!(relayed.count, 3);
        assert_eq!(relayed.session_id, "session");
        assert!(a_inbox.try_recv().is_err(), "never echoed to the sender");
        assert!(
            c_inbox.try_recv().is_err(),
            "not to peers of other documents, nor to one that stopped sharing it"
        );
    }

    #[test]
    fn a_rejoin_replaces_the_older_socket() {
        let peers = Peers::default();
        let (old, _old_inbox, old_replaced) = register(&peers, "a");
        let (new, _new_inbox, new_replaced) = register(&peers, "a");
        assert_ne!(old, new);
        assert_eq!(peers.len(), 1);
        // The older connection has a stored notification waiting for it.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(1), old_replaced.notified())
                .await
                .expect("older socket told to close");
            assert!(
                tokio::time::timeout(
                    std::time::Duration::from_millis(20),
                    new_replaced.notified()
                )
                .await
                .is_err(),
                "newer socket keeps running"
            );
        });
        // The older connection ending does not remove the newer entry.
        peers.leave(&key("a"), old);
        assert_eq!(peers.len(), 1);
        peers.leave(&key("a"), new);
        assert!(peers.is_empty());
    }

    #[test]
    fn another_device_under_the_same_peer_id_replaces_nobody() {
        let peers = Peers::default();
        let doc = DocumentId::random();
        let (victim, mut victim_inbox, victim_replaced) = register_as(&peers, device(1), "a");
        let (thief, _thief_inbox, thief_replaced) = register_as(&peers, device(2), "a");
        assert!(!notified(&victim_replaced), "the victim keeps its socket");
        assert!(!notified(&thief_replaced));
        assert_eq!(peers.len(), 2);
        // The victim's entry still works: it hears about its document.
        peers.share(&(device(1), peer("a")), victim, &doc);
        let (other, _other_inbox, _) = register_as(&peers, device(3), "b");
        peers.share(&(device(3), peer("b")), other, &doc);
        assert_eq!(peers.relay(&ephemeral("b", &doc), other), 1);
        assert!(victim_inbox.try_recv().is_ok());
        // The thief leaving removes only its own entry.
        peers.leave(&(device(2), peer("a")), thief);
        assert_eq!(peers.len(), 2);
        // The same device may still replace its own connection.
        let (_, _, _) = register_as(&peers, device(1), "a");
        assert!(notified(&victim_replaced));
    }
}
