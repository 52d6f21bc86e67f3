//! Any sequence of WebSocket inputs, fed to the automerge-repo connection
//! state machine (`server/src/ws/connection.rs`) over a real engine: the
//! same calls the socket loop makes, without the socket.
//!
//! The first byte says whether a valid `join` goes first (most interesting
//! inputs need one). The rest is cut into pieces; the first byte of each
//! picks the input:
//!
//! - 0: a raw binary frame, decoded as the socket loop decodes it;
//! - 1: a `sync` (or `request`) whose data is raw fuzz bytes;
//! - 2: a `sync` carrying the changes of a valid dispute edited as a buggy
//!   client might (see `scribble`);
//! - 3: a text frame, a document-changed notice, lost notices, or a
//!   revocation.
//!
//! Promises checked: no panic; every message the server sends encodes and
//! decodes again; after a close nothing more is sent; a sync message never
//! advertises heads other than the document's durable heads.

#![no_main]

use automerge::AutoCommit;
use automerge::sync::{self, SyncDoc};
use fengqiao_protocol::repo::{DocSync, Join};
use fengqiao_protocol::{PeerId, RepoMessage};
use fengqiao_server::engine::Caller;
use fengqiao_server::ws::connection::{Connection, Output};
use fengqiao_server_fuzz::{World, doc_id, pieces, scribble, sorted, valid_dispute};
use libfuzzer_sys::fuzz_target;

const PEER: &str = "peer-fuzz";

fn doc_message(request: bool, id: u8, data: Vec<u8>) -> RepoMessage {
    let sync = DocSync {
        sender_id: PeerId::new(PEER).expect("a peer id"),
        target_id: PeerId::new("fengqiao-fuzz").expect("a peer id"),
        document_id: doc_id(id),
        data,
    };
    if request {
        RepoMessage::Request(sync)
    } else {
        RepoMessage::Sync(sync)
    }
}

/// The first sync message of a peer holding `doc` towards a server that
/// has asked for everything: it carries all of `doc`'s changes.
fn peer_message(doc: &mut AutoCommit) -> Option<sync::Message> {
    let mut server = AutoCommit::new();
    let (mut ours, mut theirs) = (sync::State::new(), sync::State::new());
    for _ in 0..4 {
        let message = doc.sync().generate_sync_message(&mut ours)?;
        if !message.changes.is_empty() {
            return Some(message);
        }
        server
            .sync()
            .receive_sync_message(&mut theirs, message)
            .ok()?;
        let answer = server.sync().generate_sync_message(&mut theirs)?;
        doc.sync().receive_sync_message(&mut ours, answer).ok()?;
    }
    None
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let guard = World::get();
    let world = guard.as_ref().expect("a world");
    let server = PeerId::new("fengqiao-fuzz").expect("a peer id");
    let mut connection = Connection::new(server, None, Caller::unrestricted());
    let mut closed = false;
    let mut feed = |connection: &mut Connection, outputs: Vec<Output>| {
        if closed {
            assert!(outputs.is_empty(), "output after the socket closed");
        }
        for output in outputs {
            match output {
                Output::Send(message) => {
                    let again = RepoMessage::decode(&message.encode())
                        .expect("the server's messages decode");
                    assert_eq!(again, message);
                    if let RepoMessage::Sync(m) = &message {
                        let sync = sync::Message::decode(&m.data).expect("valid sync data");
                        // A new document without content is held for the
                        // connection and its heads are advertised before
                        // anything is stored; a stored record's heads are
                        // only ever the durable ones.
                        if !sync.heads.is_empty()
                            && let Some(stored) = world.stored_heads(&m.document_id)
                        {
                            let advertised = sorted(sync.heads.iter().map(|h| h.0).collect());
                            assert_eq!(stored, advertised, "advertised heads that are not durable");
                        }
                    }
                }
                Output::Close(_) => {
                    closed = true;
                    assert!(connection.is_closed());
                }
                Output::Joined(_)
                | Output::Share(_)
                | Output::Unshare(_)
                | Output::Relay(_)
                | Output::IgnoredReadOnly(..)
                | Output::Refused(_) => {}
            }
        }
    };

    if first % 2 == 0 {
        let join = RepoMessage::Join(Join {
            sender_id: PeerId::new(PEER).expect("a peer id"),
            peer_metadata: None,
            supported_protocol_versions: vec!["1".into()],
        });
        let out = connection.on_message(&world.engine, join);
        feed(&mut connection, out);
    }
    for piece in pieces(rest).into_iter().take(16) {
        let Some((&kind, body)) = piece.split_first() else {
            continue;
        };
        let out = match kind % 4 {
            0 => match RepoMessage::decode(body) {
                Ok(message) => connection.on_message(&world.engine, message),
                Err(e) => connection.on_undecodable(&e),
            },
            1 => connection.on_message(
                &world.engine,
                doc_message(kind & 0x10 != 0, kind >> 5, body.to_vec()),
            ),
            2 => {
                let mut doc = valid_dispute(usize::from(kind >> 6));
                scribble(&mut doc, body);
                let Some(message) = peer_message(&mut doc) else {
                    continue;
                };
                connection.on_message(
                    &world.engine,
                    doc_message(kind & 0x10 != 0, kind >> 5, message.encode()),
                )
            }
            _ => match kind >> 2 & 0x3 {
                0 => connection.on_text(),
                1 => connection.on_doc_changed(&world.engine, &doc_id(kind >> 5)),
                2 => connection.on_missed(&world.engine),
                _ => connection.on_revoked(),
            },
        };
        feed(&mut connection, out);
    }
});
