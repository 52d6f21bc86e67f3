//! Every answer of the stored-heads path against Automerge's own, on
//! random histories, peers and sync states.

use automerge::sync::{Message, State, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ROOT};
use proptest::prelude::*;

use super::{generate, receive, same_heads};

/// How the peer relates to the server's document when the run starts.
#[derive(Debug, Clone, Copy)]
enum PeerKind {
    /// Empty storage (a bootstrap).
    Fresh,
    /// A copy of the server's document (a reconnect with nothing new).
    Copy,
    /// A copy from before the server's latest edits.
    Behind,
    /// A copy with edits of its own.
    Ahead,
    /// Both sides edited after the copy.
    Diverged,
}

fn peer_kind() -> impl Strategy<Value = PeerKind> {
    prop_oneof![
        Just(PeerKind::Fresh),
        Just(PeerKind::Copy),
        Just(PeerKind::Behind),
        Just(PeerKind::Ahead),
        Just(PeerKind::Diverged),
    ]
}

#[derive(Debug, Clone)]
struct Scenario {
    base_edits: usize,
    server_edits: usize,
    peer_edits: usize,
    kind: PeerKind,
    /// The server's state for this peer is read-only (a device that may
    /// not write).
    read_only: bool,
    /// The peer sends no flags, as Automerge before message format 2.
    old_peer: bool,
    /// The peer's first message is sent before the server speaks.
    peer_first: bool,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        1..5usize,
        1..4usize,
        1..4usize,
        peer_kind(),
        any::<bool>(),
        prop::bool::weighted(0.2),
        any::<bool>(),
    )
        .prop_map(
            |(base_edits, server_edits, peer_edits, kind, read_only, old_peer, peer_first)| {
                Scenario {
                    base_edits,
                    server_edits,
                    peer_edits,
                    kind,
                    read_only,
                    old_peer,
                    peer_first,
                }
            },
        )
}

fn edit(doc: &mut AutoCommit, who: &str, n: usize) {
    for i in 0..n {
        doc.put(ROOT, format!("{who}{i}"), i as i64).unwrap();
        doc.commit();
    }
}

fn documents(s: &Scenario) -> (AutoCommit, AutoCommit) {
    let mut server = AutoCommit::new();
    edit(&mut server, "base", s.base_edits);
    let peer = match s.kind {
        PeerKind::Fresh => AutoCommit::new(),
        PeerKind::Copy | PeerKind::Ahead => server.fork(),
        PeerKind::Behind | PeerKind::Diverged => {
            let peer = server.fork();
            edit(&mut server, "server", s.server_edits);
            peer
        }
    };
    let mut peer = peer;
    if matches!(s.kind, PeerKind::Ahead | PeerKind::Diverged) {
        edit(&mut peer, "peer", s.peer_edits);
    }
    (server, peer)
}

fn encoded(message: &Message) -> Vec<u8> {
    message.clone().encode()
}

fn heads_of(doc: &mut AutoCommit) -> Vec<ChangeHash> {
    doc.get_heads()
}

/// The server's side of one step, checked against Automerge. Returns the
/// message Automerge would send, and counts the steps the stored path
/// answered.
struct Checked {
    answered: usize,
}

impl Checked {
    fn receive(&mut self, server: &mut AutoCommit, state: &mut State, message: Message) {
        let heads = heads_of(server);
        let mut fast = state.clone();
        let took = receive(&heads, &mut fast, message.clone()).is_ok();
        server
            .sync()
            .receive_sync_message(state, message)
            .expect("Automerge accepts the peer's message");
        if took {
            self.answered += 1;
            assert_eq!(&fast, state, "receive: state differs from Automerge's");
        }
    }

    fn generate(&mut self, server: &mut AutoCommit, state: &mut State) -> Option<Message> {
        let heads = heads_of(server);
        let saved = server.save();
        let mut fast = state.clone();
        let answer = generate(&heads, &mut fast, || Some(saved.clone()));
        let expected = server.sync().generate_sync_message(state);
        let Some(answer) = answer else {
            return expected;
        };
        self.answered += 1;
        match (&answer, &expected) {
            (None, None) => assert_eq!(&fast, state, "generate (nothing): state differs"),
            (Some(got), Some(want)) if got.changes.is_empty() => {
                assert_eq!(encoded(got), encoded(want), "generate: message differs");
                assert_eq!(&fast, state, "generate: state differs");
            }
            (Some(got), Some(want)) => {
                // The whole document, sent with an empty `have` and
                // without recording every hash as sent.
                assert_eq!(got.heads, want.heads);
                assert!(got.need.is_empty() && want.need.is_empty());
                assert!(got.have.is_empty());
                assert_eq!(got.flags, want.flags);
                let mut loaded = AutoCommit::new();
                for chunk in got.changes.iter() {
                    loaded.load_incremental(chunk).unwrap();
                }
                assert_eq!(loaded.get_heads(), heads);
                let mut like = state.clone();
                like.sent_hashes = fast.sent_hashes.clone();
                assert_eq!(
                    fast, like,
                    "generate (whole): state differs beyond sent hashes"
                );
                // Go on with what the stored path sent.
                *state = fast;
                return answer;
            }
            _ => panic!("generate: stored path says {answer:?}, Automerge {expected:?}"),
        }
        expected
    }
}

fn from_peer(message: Message, old_peer: bool) -> Message {
    if old_peer {
        // What a peer without message format 2 sends.
        let mut message = message;
        message.flags = None;
        message.version = automerge::sync::MessageVersion::V1;
        Message::decode(&message.encode()).unwrap()
    } else {
        Message::decode(&message.encode()).unwrap()
    }
}

/// Runs the sync to the end, the server checking every step; returns how
/// many steps the stored path answered.
fn run(s: &Scenario) -> usize {
    let (mut server, mut peer) = documents(s);
    let mut server_state = if s.read_only {
        State::new_read_only()
    } else {
        State::new()
    };
    let mut peer_state = State::new();
    let mut checked = Checked { answered: 0 };
    let mut to_peer: Option<Message> = if s.peer_first {
        None
    } else {
        checked.generate(&mut server, &mut server_state)
    };
    for _ in 0..20 {
        if let Some(m) = to_peer.take() {
            peer.sync()
                .receive_sync_message(&mut peer_state, Message::decode(&m.encode()).unwrap())
                .unwrap();
        }
        let from = peer.sync().generate_sync_message(&mut peer_state);
        if let Some(m) = from {
            checked.receive(&mut server, &mut server_state, from_peer(m, s.old_peer));
        }
        to_peer = checked.generate(&mut server, &mut server_state);
        if to_peer.is_none()
            && peer
                .sync()
                .generate_sync_message(&mut peer_state.clone())
                .is_none()
        {
            break;
        }
    }
    assert!(to_peer.is_none(), "the sync did not finish");
    // The peer holds everything the server has; a writable server holds
    // the peer's changes too.
    let server_heads = heads_of(&mut server);
    let peer_heads = heads_of(&mut peer);
    if s.read_only {
        assert!(
            server_heads
                .iter()
                .all(|h| peer.get_change_by_hash(h).is_some())
        );
    } else {
        assert!(same_heads(&server_heads, &peer_heads), "{s:?}");
    }
    checked.answered
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn stored_path_answers_as_automerge_does(s in scenario()) {
        run(&s);
    }
}

#[test]
fn a_fresh_peer_and_an_idle_reconnect_never_need_the_document() {
    // The server speaks first only after a change, with the document
    // loaded; a peer opening a document speaks first. (A fresh peer
    // without message format 2 is sent changes one by one, which needs the
    // document.)
    for (kind, old_peer) in [
        (PeerKind::Fresh, false),
        (PeerKind::Copy, false),
        (PeerKind::Copy, true),
    ] {
        {
            let s = Scenario {
                base_edits: 2,
                server_edits: 1,
                peer_edits: 1,
                kind,
                read_only: false,
                old_peer,
                peer_first: true,
            };
            let (mut server, mut peer) = documents(&s);
            let heads = heads_of(&mut server);
            let saved = server.save();
            let mut server_state = State::new();
            let mut peer_state = State::new();
            let mut to_peer = None;
            for _ in 0..10 {
                if let Some(m) = to_peer.take() {
                    peer.sync()
                        .receive_sync_message(&mut peer_state, m)
                        .unwrap();
                }
                if let Some(m) = peer.sync().generate_sync_message(&mut peer_state) {
                    assert!(
                        receive(&heads, &mut server_state, from_peer(m, old_peer)).is_ok(),
                        "{kind:?}: received without the document"
                    );
                }
                to_peer = generate(&heads, &mut server_state, || Some(saved.clone()))
                    .expect("answered without the document");
                if to_peer.is_none() {
                    break;
                }
            }
            assert!(to_peer.is_none());
            assert_eq!(heads_of(&mut peer), heads, "{kind:?}");
            assert!(
                peer.sync().generate_sync_message(&mut peer_state).is_none(),
                "{kind:?}: the peer has nothing more to say"
            );
        }
    }
}

#[test]
fn a_peer_that_lacks_changes_sends_the_server_to_the_document() {
    let s = Scenario {
        base_edits: 2,
        server_edits: 2,
        peer_edits: 1,
        kind: PeerKind::Behind,
        read_only: false,
        old_peer: false,
        peer_first: true,
    };
    let (mut server, mut peer) = documents(&s);
    let heads = heads_of(&mut server);
    let mut state = State::new();
    let first = peer
        .sync()
        .generate_sync_message(&mut State::new())
        .unwrap();
    assert!(receive(&heads, &mut state, first.clone()).is_err());
    server
        .sync()
        .receive_sync_message(&mut state, first)
        .unwrap();
    assert!(generate(&heads, &mut state, || None).is_none());
}
