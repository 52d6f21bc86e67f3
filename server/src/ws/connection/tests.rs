//! The protocol rules of [`Connection`], against plain in-memory documents.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT, ReadDoc};

use super::*;

/// Documents in memory. A document with a root key `"refuse"` fails
/// validation; documents in `hidden` exist but the caller may not read them.
#[derive(Default)]
struct MemoryDocs {
    docs: Mutex<HashMap<DocumentId, AutoCommit>>,
    hidden: HashSet<DocumentId>,
}

impl MemoryDocs {
    fn insert(&self, id: &DocumentId, doc: AutoCommit) {
        self.docs.lock().unwrap().insert(id.clone(), doc);
    }

    fn get(&self, id: &DocumentId) -> Option<AutoCommit> {
        self.docs.lock().unwrap().get_mut(id).map(|d| d.fork())
    }
}

impl Documents for MemoryDocs {
    fn receive(
        &self,
        _caller: &Caller,
        id: &DocumentId,
        state: &mut sync::State,
        message: sync::Message,
    ) -> Result<Received, DocError> {
        if self.hidden.contains(id) {
            return Err(DocError::NotFound);
        }
        let mut docs = self.docs.lock().unwrap();
        let mut scratch = docs.get_mut(id).map(|d| d.fork()).unwrap_or_default();
        let before = scratch.get_heads();
        let mut attempt = state.clone();
        scratch
            .sync()
            .receive_sync_message(&mut attempt, message)
            .map_err(|e| DocError::BadAutomerge(e.to_string()))?;
        if scratch.get_heads() == before {
            *state = attempt;
            return Ok(Received::default());
        }
        if scratch.get(ROOT, "refuse").ok().flatten().is_some() {
            *state = sync::State::new();
            return Err(DocError::Invalid("refuse: not allowed".into()));
        }
        docs.insert(id.clone(), scratch);
        *state = attempt;
        Ok(Received {
            changed: true,
            missing_dependencies: false,
        })
    }

    fn generate(
        &self,
        _caller: &Caller,
        id: &DocumentId,
        state: &mut sync::State,
    ) -> Result<Option<sync::Message>, DocError> {
        if self.hidden.contains(id) {
            return Err(DocError::NotFound);
        }
        let mut docs = self.docs.lock().unwrap();
        let doc = docs.get_mut(id).ok_or(DocError::NotFound)?;
        Ok(doc.sync().generate_sync_message(state))
    }

    fn readable(&self, _caller: &Caller, id: &DocumentId) -> Result<Option<bool>, DocError> {
        let exists = self.docs.lock().unwrap().contains_key(id);
        Ok(exists.then(|| !self.hidden.contains(id)))
    }

    fn create(&self, _caller: &Caller, id: &DocumentId, changes: &[u8]) -> Result<bool, DocError> {
        if self.hidden.contains(id) {
            return Err(DocError::Forbidden("500110101001".parse().unwrap()));
        }
        let mut docs = self.docs.lock().unwrap();
        let mut scratch = docs.get_mut(id).map(|d| d.fork()).unwrap_or_default();
        scratch
            .load_incremental(changes)
            .map_err(|e| DocError::BadAutomerge(e.to_string()))?;
        if !scratch.get_missing_deps(&[]).is_empty() {
            return Ok(false);
        }
        if scratch.get(ROOT, "refuse").ok().flatten().is_some() {
            return Err(DocError::Invalid("refuse: not allowed".into()));
        }
        if scratch.get(ROOT, "type").ok().flatten().is_none() {
            return Err(DocError::Invalid("field \"type\" is missing".into()));
        }
        docs.insert(id.clone(), scratch);
        Ok(true)
    }
}

fn server() -> PeerId {
    PeerId::new("fengqiao-test").unwrap()
}

fn client() -> PeerId {
    PeerId::new("peer-client").unwrap()
}

fn connection() -> Connection {
    Connection::new(
        server(),
        Some(StorageId::new("storage-1").unwrap()),
        Caller::unrestricted(),
    )
}

fn join(versions: &[&str]) -> RepoMessage {
    RepoMessage::Join(Join {
        sender_id: client(),
        peer_metadata: None,
        supported_protocol_versions: versions.iter().map(|v| v.to_string()).collect(),
    })
}

fn joined() -> Connection {
    let mut c = connection();
    let out = c.on_message(&MemoryDocs::default(), join(&["1"]));
    assert_eq!(out.len(), 2);
    c
}

fn doc_message(request: bool, id: &DocumentId, message: sync::Message) -> RepoMessage {
    let m = DocSync {
        sender_id: client(),
        target_id: server(),
        document_id: id.clone(),
        data: message.encode(),
    };
    if request {
        RepoMessage::Request(m)
    } else {
        RepoMessage::Sync(m)
    }
}

/// Documents holding one small document, and its id.
fn one_document() -> (MemoryDocs, DocumentId) {
    let docs = MemoryDocs::default();
    let id = DocumentId::random();
    let mut stored = AutoCommit::new();
    stored.put(ROOT, "title", "x").unwrap();
    docs.insert(&id, stored);
    (docs, id)
}

/// A presence message from the client about `id`.
fn ephemeral_about(id: &DocumentId) -> Ephemeral {
    Ephemeral {
        sender_id: client(),
        target_id: server(),
        document_id: id.clone(),
        data: vec![0xa0],
        count: 1,
        session_id: "s".into(),
    }
}

fn sent(outputs: &[Output]) -> Vec<&RepoMessage> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn assert_error_and_close(outputs: &[Output], needle: &str) {
    match outputs {
        [Output::Send(RepoMessage::Error(e)), Output::Close(_)] => {
            assert_eq!(e.sender_id, Some(server()));
            assert!(
                e.message.contains(needle),
                "{:?} should mention {needle:?}",
                e.message
            );
        }
        other => panic!("expected error then close, got {other:?}"),
    }
}

/// Runs the sync protocol between a client document and the connection
/// until neither has anything to say. Returns every output seen.
fn sync_until_quiet(
    c: &mut Connection,
    docs: &MemoryDocs,
    id: &DocumentId,
    client_doc: &mut AutoCommit,
    client_state: &mut sync::State,
) -> Vec<Output> {
    let mut all = Vec::new();
    for _ in 0..20 {
        let Some(message) = client_doc.sync().generate_sync_message(client_state) else {
            return all;
        };
        let outputs = c.on_message(docs, doc_message(false, id, message));
        for m in sent(&outputs) {
            if let RepoMessage::Sync(s) = m {
                let reply = sync::Message::decode(&s.data).unwrap();
                client_doc
                    .sync()
                    .receive_sync_message(client_state, reply)
                    .unwrap();
            }
        }
        all.extend(outputs);
    }
    panic!("sync did not settle");
}

#[test]
fn join_is_answered_with_peer_at_once() {
    let mut c = connection();
    let out = c.on_message(&MemoryDocs::default(), join(&["1"]));
    let [Output::Send(RepoMessage::Peer(peer)), Output::Joined(who)] = out.as_slice() else {
        panic!("expected peer then joined, got {out:?}");
    };
    assert_eq!(peer.sender_id, server());
    assert_eq!(peer.target_id, client());
    assert_eq!(peer.selected_protocol_version, "1");
    let metadata = peer.peer_metadata.clone().unwrap();
    assert_eq!(
        metadata.storage_id,
        Some(StorageId::new("storage-1").unwrap())
    );
    assert_eq!(metadata.is_ephemeral, Some(false));
    assert_eq!(*who, client());
    assert_eq!(c.peer(), Some(&client()));
}

#[test]
fn a_join_without_version_one_is_refused() {
    let mut c = connection();
    let out = c.on_message(&MemoryDocs::default(), join(&["2"]));
    assert_error_and_close(&out, "unsupported protocol version");
    assert!(c.is_closed());
    assert!(
        c.on_message(&MemoryDocs::default(), join(&["1"]))
            .is_empty()
    );
}

#[test]
fn nothing_but_join_is_accepted_first() {
    let mut c = connection();
    let id = DocumentId::random();
    let out = c.on_message(
        &MemoryDocs::default(),
        doc_message(
            true,
            &id,
            AutoCommit::new()
                .sync()
                .generate_sync_message(&mut sync::State::new())
                .unwrap(),
        ),
    );
    assert_error_and_close(&out, "expected join");
}

#[test]
fn undecodable_frames_and_text_frames_close_the_socket() {
    let mut c = joined();
    let out = c.on_undecodable(&DecodeError::Truncated);
    assert_error_and_close(&out, "bad_request");
    let mut c = joined();
    assert_error_and_close(&c.on_text(), "binary");
}

#[test]
fn a_request_for_a_missing_document_is_unavailable_then_pushed_when_it_arrives() {
    let docs = MemoryDocs::default();
    let mut c = joined();
    let id = DocumentId::random();
    let mut client_doc = AutoCommit::new();
    let mut client_state = sync::State::new();
    let request = client_doc
        .sync()
        .generate_sync_message(&mut client_state)
        .unwrap();
    let out = c.on_message(&docs, doc_message(true, &id, request));
    let [Output::Send(RepoMessage::DocUnavailable(u))] = out.as_slice() else {
        panic!("expected doc-unavailable, got {out:?}");
    };
    assert_eq!(u.sender_id, server());
    assert_eq!(u.target_id, client());
    assert_eq!(u.document_id, id);

    // The document arrives through another door.
    let mut stored = AutoCommit::new();
    stored.put(ROOT, "title", "界址争议").unwrap();
    docs.insert(&id, stored);
    assert!(c.follows(&id));
    let out = c.on_doc_changed(&docs, &id);
    assert!(out.contains(&Output::Share(id.clone())));
    let pushed = sent(&out);
    let [RepoMessage::Sync(push)] = pushed.as_slice() else {
        panic!("expected a pushed sync, got {out:?}");
    };
    client_doc
        .sync()
        .receive_sync_message(
            &mut client_state,
            sync::Message::decode(&push.data).unwrap(),
        )
        .unwrap();
    assert_eq!(client_doc.get_heads(), docs.get(&id).unwrap().get_heads());
}

#[test]
fn a_document_out_of_scope_looks_missing() {
    let id = DocumentId::random();
    let mut docs = MemoryDocs::default();
    docs.insert(&id, AutoCommit::new());
    docs.hidden.insert(id.clone());
    let mut c = joined();
    let request = AutoCommit::new()
        .sync()
        .generate_sync_message(&mut sync::State::new())
        .unwrap();
    let out = c.on_message(&docs, doc_message(true, &id, request));
    assert!(matches!(
        sent(&out).as_slice(),
        [RepoMessage::DocUnavailable(_)]
    ));
    // Later changes to it are not pushed.
    assert!(sent(&c.on_doc_changed(&docs, &id)).is_empty());
}

#[test]
fn a_new_document_announced_by_sync_is_asked_for_and_stored() {
    let docs = MemoryDocs::default();
    let mut c = joined();
    let id = DocumentId::random();
    let mut client_doc = AutoCommit::new();
    client_doc.put(ROOT, "type", "dispute").unwrap();
    client_doc.commit();
    let mut client_state = sync::State::new();
    let out = sync_until_quiet(&mut c, &docs, &id, &mut client_doc, &mut client_state);
    assert!(
        !sent(&out)
            .iter()
            .any(|m| matches!(m, RepoMessage::DocUnavailable(_))),
        "a sync for an unknown document is not refused: {out:?}"
    );
    let mut stored = docs.get(&id).expect("stored");
    assert_eq!(stored.get_heads(), client_doc.get_heads());
    assert!(out.contains(&Output::Share(id.clone())));
    // In sync now: a change notice for its own commit sends nothing.
    assert!(sent(&c.on_doc_changed(&docs, &id)).is_empty());
}

#[test]
fn a_refused_change_stops_syncing_that_document_on_this_connection() {
    let docs = MemoryDocs::default();
    let mut c = joined();
    let id = DocumentId::random();
    let mut client_doc = AutoCommit::new();
    client_doc.put(ROOT, "refuse", true).unwrap();
    client_doc.commit();
    let mut client_state = sync::State::new();
    let out = sync_until_quiet(&mut c, &docs, &id, &mut client_doc, &mut client_state);
    assert!(
        sent(&out)
            .iter()
            .any(|m| matches!(m, RepoMessage::DocUnavailable(u) if u.document_id == id)),
        "{out:?}"
    );
    assert!(docs.get(&id).is_none(), "nothing stored");
    assert!(!c.follows(&id));
    // The client resends: nothing is answered, so no loop.
    let resend = client_doc
        .sync()
        .generate_sync_message(&mut sync::State::new())
        .unwrap();
    assert!(
        c.on_message(&docs, doc_message(false, &id, resend))
            .is_empty()
    );
    assert!(c.on_missed(&docs).is_empty());
}

#[test]
fn messages_from_another_sender_id_are_dropped() {
    let docs = MemoryDocs::default();
    let mut c = joined();
    let id = DocumentId::random();
    let request = AutoCommit::new()
        .sync()
        .generate_sync_message(&mut sync::State::new())
        .unwrap();
    let mut message = doc_message(true, &id, request);
    if let RepoMessage::Request(m) = &mut message {
        m.sender_id = PeerId::new("peer-someone-else").unwrap();
    }
    assert!(c.on_message(&docs, message).is_empty());
}

#[test]
fn ephemeral_messages_are_relayed_only_for_documents_the_peer_reads() {
    let (docs, id) = one_document();
    let mut c = joined();
    let ephemeral = ephemeral_about(&id);
    assert!(
        c.on_message(&docs, RepoMessage::Ephemeral(ephemeral.clone()))
            .is_empty()
    );
    let request = AutoCommit::new()
        .sync()
        .generate_sync_message(&mut sync::State::new())
        .unwrap();
    c.on_message(&docs, doc_message(true, &id, request));
    assert_eq!(
        c.on_message(&docs, RepoMessage::Ephemeral(ephemeral.clone())),
        vec![Output::Relay(ephemeral)]
    );
}

#[test]
fn no_peer_speaks_in_the_servers_notice_session() {
    let (docs, id) = one_document();
    let mut c = joined();
    let request = AutoCommit::new()
        .sync()
        .generate_sync_message(&mut sync::State::new())
        .unwrap();
    c.on_message(&docs, doc_message(true, &id, request));
    // A peer that reads the document has its own ephemeral messages
    // relayed, but one dressed as the server's notice is dropped.
    let forged = Ephemeral {
        session_id: NOTICE_SESSION.into(),
        ..ephemeral_about(&id)
    };
    assert!(
        c.on_message(&docs, RepoMessage::Ephemeral(forged))
            .is_empty()
    );
}

#[test]
fn a_join_under_the_servers_peer_id_is_refused() {
    let mut c = connection();
    let out = c.on_message(
        &MemoryDocs::default(),
        RepoMessage::Join(Join {
            sender_id: server(),
            peer_metadata: None,
            supported_protocol_versions: vec!["1".into()],
        }),
    );
    assert_error_and_close(&out, "peer id is the server's");
    assert!(!out.iter().any(|o| matches!(o, Output::Joined(_))));
}

#[test]
fn gossip_and_unknown_messages_are_ignored() {
    let docs = MemoryDocs::default();
    let mut c = joined();
    let unknown = RepoMessage::Unknown(fengqiao_protocol::repo::UnknownMessage {
        type_name: "fengqiao-future".into(),
        sender_id: Some(client().to_string()),
    });
    assert!(c.on_message(&docs, unknown).is_empty());
    let leave = RepoMessage::Leave(fengqiao_protocol::repo::Leave {
        sender_id: client(),
    });
    assert!(c.on_message(&docs, leave).is_empty());
    assert!(!c.is_closed());
}

#[test]
fn a_rejoin_starts_syncs_over() {
    let (docs, id) = one_document();
    let mut c = joined();
    let request = AutoCommit::new()
        .sync()
        .generate_sync_message(&mut sync::State::new())
        .unwrap();
    c.on_message(&docs, doc_message(true, &id, request));
    assert!(c.follows(&id));
    let out = c.on_message(&docs, join(&["1"]));
    assert!(matches!(
        out.first(),
        Some(Output::Send(RepoMessage::Peer(_)))
    ));
    assert!(!c.follows(&id));
    // A different peer id on the same socket is refused.
    let other = RepoMessage::Join(Join {
        sender_id: PeerId::new("peer-other").unwrap(),
        peer_metadata: None,
        supported_protocol_versions: vec!["1".into()],
    });
    let out = c.on_message(&docs, other);
    // Dropped as another sender's message: the socket stays with its peer.
    assert!(out.is_empty());
}

#[test]
fn a_revoked_token_closes_with_an_error() {
    let mut c = joined();
    assert_error_and_close(&c.on_revoked(), "unauthorized");
}

/// A device of `role` confined to one village, so that access can change.
fn caller_in(role: fengqiao_shared::access::Role, village: &str) -> Caller {
    use fengqiao_protocol::VillageCode;
    use fengqiao_shared::access::DeviceAccess;
    Caller {
        device: None,
        access: Some(DeviceAccess::new(role, VillageCode::new(village).unwrap())),
        connection: None,
    }
}

fn cadre_of(village: &str) -> Caller {
    caller_in(fengqiao_shared::access::Role::Cadre, village)
}

#[test]
fn a_narrowed_scope_closes_documents_and_a_widened_one_sends_those_asked_for() {
    let mut docs = MemoryDocs::default();
    let kept = DocumentId::random();
    let lost = DocumentId::random();
    let gained = DocumentId::random();
    for id in [&kept, &lost, &gained] {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "title", id.as_str()).unwrap();
        docs.insert(id, doc);
    }
    docs.hidden.insert(gained.clone());
    let mut c = joined();
    assert!(c.set_caller(cadre_of("500110101001")));
    assert!(
        !c.set_caller(cadre_of("500110101001")),
        "the same access again changes nothing"
    );
    for id in [&kept, &lost, &gained] {
        let request = AutoCommit::new()
            .sync()
            .generate_sync_message(&mut sync::State::new())
            .unwrap();
        c.on_message(&docs, doc_message(true, id, request));
    }

    // The device is moved: `lost` leaves its scope, `gained` enters it.
    docs.hidden.insert(lost.clone());
    docs.hidden.remove(&gained);
    assert!(c.set_caller(cadre_of("500110101002")));
    let out = c.on_access_changed(&docs);
    assert!(out.contains(&Output::Unshare(lost.clone())), "{out:?}");
    let unavailable: Vec<&DocumentId> = sent(&out)
        .into_iter()
        .filter_map(|m| match m {
            RepoMessage::DocUnavailable(m) => Some(&m.document_id),
            _ => None,
        })
        .collect();
    assert_eq!(unavailable, vec![&lost]);
    let synced: Vec<&DocumentId> = sent(&out)
        .into_iter()
        .filter_map(|m| match m {
            RepoMessage::Sync(m) => Some(&m.document_id),
            _ => None,
        })
        .collect();
    assert_eq!(synced, vec![&gained], "the document asked for is sent");
    assert!(out.contains(&Output::Share(gained.clone())), "{out:?}");
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::Unshare(id) | Output::Share(id) if *id == kept)),
        "{out:?}"
    );

    // Nothing more about `lost` reaches the peer: no pushed change, no
    // ephemeral relay.
    let mut changed = docs.get(&lost).unwrap();
    changed.put(ROOT, "title", "changed").unwrap();
    docs.insert(&lost, changed);
    assert!(sent(&c.on_doc_changed(&docs, &lost)).is_empty());
    assert!(
        c.on_message(&docs, RepoMessage::Ephemeral(ephemeral_about(&lost)))
            .is_empty()
    );
}

/// A supervisor's read-only access to one village.
fn supervisor_of(village: &str) -> Caller {
    caller_in(fengqiao_shared::access::Role::Supervisor, village)
}

#[test]
fn write_granted_while_connected_brings_the_changes_a_read_only_sync_ignored() {
    let (docs, id) = one_document();
    let mut c = joined();
    c.set_caller(supervisor_of("500110101001"));
    let mut client_doc = AutoCommit::new();
    let mut client_state = sync::State::new();
    sync_until_quiet(&mut c, &docs, &id, &mut client_doc, &mut client_state);
    assert_eq!(client_doc.get_heads(), docs.get(&id).unwrap().get_heads());

    // Edited while read-only: the server's sync ignores the change, and
    // the client counts it as sent.
    client_doc.put(ROOT, "note", "只读时的修改").unwrap();
    client_doc.commit();
    sync_until_quiet(&mut c, &docs, &id, &mut client_doc, &mut client_state);
    assert_ne!(client_doc.get_heads(), docs.get(&id).unwrap().get_heads());

    // Write granted: the server resets the sync and the change arrives.
    assert!(c.set_caller(cadre_of("500110101001")));
    let out = c.on_access_changed(&docs);
    for m in sent(&out) {
        if let RepoMessage::Sync(s) = m {
            let reply = sync::Message::decode(&s.data).unwrap();
            client_doc
                .sync()
                .receive_sync_message(&mut client_state, reply)
                .unwrap();
        }
    }
    assert!(!sent(&out).is_empty(), "the reset goes out at once");
    sync_until_quiet(&mut c, &docs, &id, &mut client_doc, &mut client_state);
    assert_eq!(client_doc.get_heads(), docs.get(&id).unwrap().get_heads());
}

/// Everything the peer is sent, with the document id left as it is.
fn sent_owned(outputs: &[Output]) -> Vec<RepoMessage> {
    sent(outputs).into_iter().cloned().collect()
}

/// Plays the same client messages about `id` against two servers, and
/// returns what each sent back, message for message.
fn replies_of(docs: &MemoryDocs, id: &DocumentId, client: &mut AutoCommit) -> Vec<RepoMessage> {
    let mut c = joined();
    let mut state = sync::State::new();
    let mut all = Vec::new();
    for _ in 0..6 {
        let Some(message) = client.sync().generate_sync_message(&mut state) else {
            break;
        };
        let out = c.on_message(docs, doc_message(false, id, message));
        for m in sent(&out) {
            if let RepoMessage::Sync(s) = m {
                client
                    .sync()
                    .receive_sync_message(&mut state, sync::Message::decode(&s.data).unwrap())
                    .unwrap();
            }
        }
        all.extend(sent_owned(&out));
    }
    let request = AutoCommit::new()
        .sync()
        .generate_sync_message(&mut sync::State::new())
        .unwrap();
    all.extend(sent_owned(
        &c.on_message(docs, doc_message(true, id, request)),
    ));
    all
}

#[test]
fn a_document_out_of_scope_and_a_missing_one_get_the_same_answers() {
    let id = DocumentId::random();
    let mut hidden = MemoryDocs::default();
    let mut stored = AutoCommit::new();
    stored.put(ROOT, "type", "dispute").unwrap();
    hidden.insert(&id, stored);
    hidden.hidden.insert(id.clone());
    let missing = MemoryDocs::default();

    // A peer that announces the document with no changes yet, then with
    // an empty change, then with content that may not be stored.
    let mut client = AutoCommit::new();
    let on_hidden = replies_of(&hidden, &id, &mut client.fork());
    let on_missing = replies_of(&missing, &id, &mut client.fork());
    assert!(
        matches!(on_hidden.first(), Some(RepoMessage::Sync(_))),
        "{on_hidden:?}"
    );
    assert_eq!(on_hidden, on_missing);

    client.empty_change(Default::default());
    let on_hidden = replies_of(&hidden, &id, &mut client.fork());
    let on_missing = replies_of(&missing, &id, &mut client.fork());
    assert_eq!(on_hidden, on_missing);

    client.put(ROOT, "refuse", true).unwrap();
    client.commit();
    let on_hidden = replies_of(&hidden, &id, &mut client.fork());
    let on_missing = replies_of(&missing, &id, &mut client.fork());
    assert!(
        on_hidden
            .iter()
            .any(|m| matches!(m, RepoMessage::DocUnavailable(_))),
        "{on_hidden:?}"
    );
    assert_eq!(on_hidden, on_missing);
}

#[test]
fn a_new_document_without_content_is_held_until_its_first_change() {
    let docs = MemoryDocs::default();
    let mut c = joined();
    let id = DocumentId::random();
    // `repo.create()`: one empty change.
    let mut client_doc = AutoCommit::new();
    client_doc.empty_change(Default::default());
    let mut client_state = sync::State::new();
    let out = sync_until_quiet(&mut c, &docs, &id, &mut client_doc, &mut client_state);
    assert!(
        !sent(&out)
            .iter()
            .any(|m| matches!(m, RepoMessage::DocUnavailable(_))),
        "nothing here yet is not unavailable: {out:?}"
    );
    assert!(docs.get(&id).is_none(), "nothing stored yet");
    assert_eq!(
        client_state.shared_heads,
        client_doc.get_heads(),
        "the peer holds its empty change as received"
    );
    assert!(c.follows(&id));

    // The first `change()` brings content: the document is stored whole.
    client_doc.put(ROOT, "type", "dispute").unwrap();
    client_doc.commit();
    let out = sync_until_quiet(&mut c, &docs, &id, &mut client_doc, &mut client_state);
    assert!(
        !sent(&out)
            .iter()
            .any(|m| matches!(m, RepoMessage::DocUnavailable(_))),
        "{out:?}"
    );
    let mut stored = docs.get(&id).expect("stored with its first change");
    assert_eq!(stored.get_heads(), client_doc.get_heads());
    assert!(out.contains(&Output::Share(id.clone())));
    assert_eq!(client_state.shared_heads, client_doc.get_heads());
}

#[test]
fn documents_without_content_are_held_within_bounds() {
    let docs = MemoryDocs::default();
    let mut c = joined();
    let mut refused = 0;
    for _ in 0..MAX_UNBORN_DOCUMENTS + 3 {
        let id = DocumentId::random();
        let mut client_doc = AutoCommit::new();
        client_doc.empty_change(Default::default());
        let out = sync_until_quiet(&mut c, &docs, &id, &mut client_doc, &mut sync::State::new());
        if out.contains(&Output::Refused(id.clone())) {
            refused += 1;
        }
    }
    assert_eq!(refused, 3, "past the bound, empty documents are validated");
    // Content without `type` past the byte bound is validated too.
    let id = DocumentId::random();
    let mut c = joined();
    let mut big = AutoCommit::new();
    for n in 0..200 {
        big.put(ROOT, "k", "x".repeat(40)).unwrap();
        big.delete(ROOT, "k").unwrap();
        big.commit();
        let _ = n;
    }
    let out = sync_until_quiet(&mut c, &docs, &id, &mut big, &mut sync::State::new());
    assert!(out.contains(&Output::Refused(id.clone())), "{out:?}");
}

#[test]
fn data_that_is_no_sync_message_closes_with_an_error_and_never_mutes() {
    let (docs, id) = one_document();
    for request in [true, false] {
        let mut c = joined();
        let mut message = doc_message(
            request,
            &id,
            AutoCommit::new()
                .sync()
                .generate_sync_message(&mut sync::State::new())
                .unwrap(),
        );
        match &mut message {
            RepoMessage::Request(m) | RepoMessage::Sync(m) => {
                m.data = b"not a sync message".to_vec()
            }
            _ => unreachable!(),
        }
        let out = c.on_message(&docs, message);
        assert_error_and_close(&out, "not an Automerge sync message");
        assert!(c.is_closed());
    }
}

#[test]
fn a_read_only_peer_is_told_once_and_its_changes_are_ignored_and_counted() {
    let (docs, id) = one_document();
    let mut c = joined();
    c.set_caller(supervisor_of("500110101001"));
    let mut client_doc = docs.get(&id).unwrap();
    let before = docs.get(&id).unwrap().get_heads();
    let notices = |out: &[Output]| {
        sent(out)
            .into_iter()
            .filter_map(|m| match m {
                RepoMessage::Ephemeral(e) => Some(e.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let mut all = Vec::new();
    for round in 0..2 {
        client_doc
            .put(ROOT, "note", format!("修改 {round}"))
            .unwrap();
        client_doc.commit();
        // A pushy peer sends its changes whatever the flags say.
        let mut message = client_doc
            .sync()
            .generate_sync_message(&mut sync::State::new())
            .unwrap();
        message.changes = sync::ChunkList::from(client_doc.save());
        let out = c.on_message(&docs, doc_message(false, &id, message));
        assert!(
            out.contains(&Output::IgnoredReadOnly(id.clone(), 1)),
            "{out:?}"
        );
        all.extend(out);
    }
    let told = notices(&all);
    assert_eq!(told.len(), 1, "told once: {all:?}");
    assert_eq!(told[0].document_id, id);
    assert_eq!(told[0].sender_id, server());
    assert_eq!(told[0].target_id, client());
    assert_eq!(told[0].session_id, NOTICE_SESSION);
    let body: ciborium::Value = ciborium::from_reader(told[0].data.as_slice()).unwrap();
    let text = format!("{body:?}");
    assert!(
        text.contains(READ_ONLY_NOTICE) && text.contains("forbidden"),
        "{text}"
    );
    assert_eq!(docs.get(&id).unwrap().get_heads(), before, "nothing stored");
    assert!(!c.is_closed());
    assert!(c.follows(&id), "the peer goes on reading");
}

#[test]
fn an_access_change_reveals_nothing_of_documents_never_shared_and_sends_those_now_readable() {
    let mut docs = MemoryDocs::default();
    let announced = DocumentId::random();
    let missing = DocumentId::random();
    let mut stored = AutoCommit::new();
    stored.put(ROOT, "type", "dispute").unwrap();
    docs.insert(&announced, stored);
    docs.hidden.insert(announced.clone());
    let mut c = joined();
    c.set_caller(cadre_of("500110101001"));
    for id in [&announced, &missing] {
        let announce = AutoCommit::new()
            .sync()
            .generate_sync_message(&mut sync::State::new())
            .unwrap();
        c.on_message(&docs, doc_message(false, id, announce));
    }
    // Another change of access that leaves both out of reach says nothing
    // about either.
    assert!(c.set_caller(cadre_of("500110101003")));
    assert!(c.on_access_changed(&docs).is_empty());
    // Once readable, the announced document is sent.
    docs.hidden.remove(&announced);
    assert!(c.set_caller(cadre_of("500110101002")));
    let out = c.on_access_changed(&docs);
    assert!(out.contains(&Output::Share(announced.clone())), "{out:?}");
    assert!(
        sent(&out)
            .iter()
            .all(|m| matches!(m, RepoMessage::Sync(s) if s.document_id == announced)),
        "{out:?}"
    );
}
