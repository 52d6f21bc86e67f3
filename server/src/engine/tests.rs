//! The engine around the decision: a commit being flushed holds up no
//! reader, and actor bindings are stored by the commit that makes them.

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use automerge::AutoCommit;
use fengqiao_protocol::{DocumentId, Scope, VillageCode};
use fengqiao_shared::Summary;
use fengqiao_shared::access::Role;
use fengqiao_shared::record::{Author, NewDispute, create_dispute, set_title};
use fengqiao_shared::vocab::{Category, Risk};

use super::*;
use crate::clock::{CountingRandom, SharedClock, SharedRandom};
use crate::directory::{EnrollRequest, Org};
use crate::storage::{
    BackupReport, CommitBatch, CommitReceipt, DocMeta, FeedPage, MemoryBackend, QuarantineBounds,
    Quarantined, Store, StoredDocument, ValueFamily,
};

const NOW: fengqiao_shared::Millis = 1_750_000_000_000;
const VILLAGE: &str = "500110101001";

/// A store whose commits can be held at the door, to look at the engine
/// while a commit waits for its flush.
struct Gated {
    inner: Arc<dyn Storage>,
    /// When set, the next commit says so here and waits for the receiver.
    gate: Mutex<Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>>,
    /// Whether the gate holds a commit after it is durable (before it
    /// returns) rather than before it is made.
    after: std::sync::atomic::AtomicBool,
    /// What was read ahead: the records whose metadata, and those whose
    /// bytes.
    prefetched: Mutex<Vec<(Vec<DocumentId>, Vec<DocumentId>)>>,
}

impl Storage for Gated {
    fn commit(&self, batch: CommitBatch) -> Result<CommitReceipt, StorageError> {
        let gate = self.gate.lock().unwrap().take();
        let after = self.after.load(std::sync::atomic::Ordering::SeqCst);
        let Some((entered, release)) = gate else {
            return self.inner.commit(batch);
        };
        if after {
            let receipt = self.inner.commit(batch);
            entered.send(()).unwrap();
            release.recv().unwrap();
            receipt
        } else {
            entered.send(()).unwrap();
            release.recv().unwrap();
            self.inner.commit(batch)
        }
    }
    fn compact(
        &self,
        id: &DocumentId,
        snapshot: Vec<u8>,
        through: u64,
    ) -> Result<(), StorageError> {
        self.inner.compact(id, snapshot, through)
    }
    fn remove_document(&self, id: &DocumentId) -> Result<Option<u64>, StorageError> {
        self.inner.remove_document(id)
    }
    fn documents_needing_compaction(
        &self,
        min_chunks: u32,
        limit: usize,
    ) -> Result<Vec<DocumentId>, StorageError> {
        self.inner.documents_needing_compaction(min_chunks, limit)
    }
    fn load_document(&self, id: &DocumentId) -> Result<Option<StoredDocument>, StorageError> {
        self.inner.load_document(id)
    }
    fn doc_meta(&self, id: &DocumentId) -> Result<Option<DocMeta>, StorageError> {
        self.inner.doc_meta(id)
    }
    fn current_seq(&self) -> u64 {
        self.inner.current_seq()
    }
    fn feed_after(
        &self,
        after: u64,
        scope: Option<&Scope>,
        limit: usize,
    ) -> Result<FeedPage, StorageError> {
        self.inner.feed_after(after, scope, limit)
    }
    fn heads_at(&self, id: &DocumentId, seq: u64) -> Result<Option<Vec<[u8; 32]>>, StorageError> {
        self.inner.heads_at(id, seq)
    }
    fn summary(&self, id: &DocumentId) -> Result<Option<Summary>, StorageError> {
        self.inner.summary(id)
    }
    fn summaries_in_scope(
        &self,
        scope: &Scope,
        after: Option<&crate::storage::ProjectionKey>,
        limit: usize,
    ) -> Result<Vec<Summary>, StorageError> {
        self.inner.summaries_in_scope(scope, after, limit)
    }
    fn sync_state(&self, peer: &[u8], id: &DocumentId) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.sync_state(peer, id)
    }
    fn put_sync_state(
        &self,
        peer: &[u8],
        id: &DocumentId,
        state: &[u8],
    ) -> Result<(), StorageError> {
        self.inner.put_sync_state(peer, id, state)
    }
    fn quarantine(&self, entry: QuarantineEntry) -> Result<u64, StorageError> {
        self.inner.quarantine(entry)
    }
    fn quarantine_dropped(&self) -> u64 {
        self.inner.quarantine_dropped()
    }
    fn list_quarantine(&self, limit: usize) -> Result<Vec<Quarantined>, StorageError> {
        self.inner.list_quarantine(limit)
    }
    fn get_value(&self, value: &ServerValue) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get_value(value)
    }
    fn put_value(&self, value: &ServerValue, bytes: &[u8]) -> Result<(), StorageError> {
        self.inner.put_value(value, bytes)
    }
    fn values_in(&self, family: ValueFamily) -> Result<Vec<(ServerValue, Vec<u8>)>, StorageError> {
        self.inner.values_in(family)
    }
    fn delete_value(&self, value: &ServerValue) -> Result<(), StorageError> {
        self.inner.delete_value(value)
    }
    fn backup_to(&self, path: &Path) -> Result<BackupReport, StorageError> {
        self.inner.backup_to(path)
    }
    fn prefetch(&self, ids: &[DocumentId], whole: &[DocumentId]) {
        self.prefetched
            .lock()
            .unwrap()
            .push((ids.to_vec(), whole.to_vec()));
        self.inner.prefetch(ids, whole)
    }
    fn prefetch_for_writes(&self, ids: &[DocumentId]) {
        self.prefetched
            .lock()
            .unwrap()
            .push((ids.to_vec(), Vec::new()));
        self.inner.prefetch_for_writes(ids)
    }
}

fn engine() -> (Arc<Engine>, Arc<Gated>) {
    let inner: Arc<dyn Storage> =
        Arc::new(Store::open_on(MemoryBackend::new(), QuarantineBounds::default()).unwrap());
    let gated = Arc::new(Gated {
        inner,
        gate: Mutex::new(None),
        after: std::sync::atomic::AtomicBool::new(false),
        prefetched: Mutex::new(Vec::new()),
    });
    let storage: Arc<dyn Storage> = gated.clone();
    let clock = SharedClock::fixed(NOW);
    let directory = Directory::open_with_clock(storage.clone(), clock.clone()).unwrap();
    let org = Org::parse_csv(&format!(
        "code,name\n500110,区\n500110101,镇\n{VILLAGE},村\n500110101002,二村\n"
    ))
    .unwrap();
    directory.import_org(org).unwrap();
    let engine = Engine::new(
        storage,
        Arc::new(directory),
        EngineConfig {
            clock,
            random: SharedRandom::new(CountingRandom::new(1)),
            ..EngineConfig::default()
        },
    );
    (Arc::new(engine), gated)
}

fn dispute(village: &str, person: &str) -> AutoCommit {
    let mut doc = AutoCommit::new();
    create_dispute(
        &mut doc,
        &Author::new(person, NOW - 1000),
        &NewDispute {
            village: VillageCode::new(village).unwrap(),
            title: "地界纠纷".to_owned(),
            description: "两户为宅基地边界争执".to_owned(),
            category: Category::Land,
            risk: Risk::Low,
            parties: Vec::new(),
            assignees: Vec::new(),
        },
    )
    .unwrap();
    doc
}

/// Uploads `edit` on a thread of its own and holds its commit at the
/// storage door (before it is durable, or with `after` once it is) until
/// the returned sender is used; returns when the commit got there.
fn held_commit(
    engine: &Arc<Engine>,
    gated: &Gated,
    caller: &Caller,
    id: &DocumentId,
    edit: Vec<u8>,
    after: bool,
) -> (
    mpsc::Sender<()>,
    std::thread::JoinHandle<Result<super::Applied, DocError>>,
) {
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    gated
        .after
        .store(after, std::sync::atomic::Ordering::SeqCst);
    *gated.gate.lock().unwrap() = Some((entered_tx, release_rx));
    let writer = {
        let (engine, caller, id) = (engine.clone(), caller.clone(), id.clone());
        std::thread::spawn(move || engine.apply_changes(&caller, &id, &edit))
    };
    entered
        .recv_timeout(Duration::from_secs(10))
        .expect("the commit reached storage");
    (release, writer)
}

#[test]
fn readers_go_on_while_a_commit_is_flushed_and_see_only_durable_heads() {
    let (engine, gated) = engine();
    let caller = Caller::unrestricted();
    let id = DocumentId::random();
    let mut doc = dispute(VILLAGE, "p1");
    engine.apply_changes(&caller, &id, &doc.save()).unwrap();
    // Loaded, so that readers use the slot.
    assert_eq!(engine.history(&caller, &id).unwrap().unwrap().len(), 1);
    let durable = doc.get_heads();

    let before = doc.get_heads();
    set_title(&mut doc, &Author::new("p1", NOW), "宅基地边界纠纷").unwrap();
    let edit = doc.save_after(&before);
    let (release, writer) = held_commit(&engine, &gated, &caller, &id, edit, false);

    // The commit waits at the door; readers of the same record answer,
    // from what is durable.
    let (answers_tx, answers) = mpsc::channel();
    {
        let (engine, caller, id) = (engine.clone(), caller.clone(), id.clone());
        std::thread::spawn(move || {
            let history = engine.history(&caller, &id).unwrap().unwrap().len();
            let (_, heads) = engine.changes_since(&caller, &id, &[]).unwrap().unwrap();
            let message = engine
                .generate_sync_message(&caller, &id, &mut sync::State::new())
                .unwrap();
            answers_tx
                .send((history, heads, message.is_some()))
                .unwrap();
        });
    }
    let (history, heads, message) = answers
        .recv_timeout(Duration::from_secs(10))
        .expect("readers are not held up by a commit being flushed");
    assert_eq!(history, 1, "the change in flight is not shown");
    assert_eq!(heads, durable, "nor are its heads");
    assert!(message);

    release.send(()).unwrap();
    let applied = writer.join().unwrap().unwrap();
    assert!(applied.changed);
    assert_eq!(applied.heads, doc.get_heads());
    assert_eq!(engine.history(&caller, &id).unwrap().unwrap().len(), 2);
}

/// A commit is durable, and advertised by storage, a moment before its
/// writer installs it in the slot: a reader in that moment answers from
/// storage's state, never from the older one still in the slot.
#[test]
fn a_reader_never_answers_from_older_than_what_storage_advertises() {
    let (engine, gated) = engine();
    let caller = Caller::unrestricted();
    let id = DocumentId::random();
    let mut doc = dispute(VILLAGE, "p1");
    engine.apply_changes(&caller, &id, &doc.save()).unwrap();
    assert_eq!(engine.history(&caller, &id).unwrap().unwrap().len(), 1);
    let old = doc.get_heads();
    let base = doc.save();

    set_title(&mut doc, &Author::new("p1", NOW), "宅基地边界纠纷").unwrap();
    let edit = doc.save_after(&old);
    let (release, writer) = held_commit(&engine, &gated, &caller, &id, edit, true);

    // A peer holding the old heads is sent the new change.
    let (bytes, heads) = engine.changes_since(&caller, &id, &old).unwrap().unwrap();
    assert_eq!(heads, doc.get_heads());
    let mut peer = AutoCommit::load(&base).unwrap();
    peer.load_incremental(&bytes).unwrap();
    assert_eq!(peer.get_heads(), doc.get_heads());
    assert_eq!(engine.history(&caller, &id).unwrap().unwrap().len(), 2);

    release.send(()).unwrap();
    assert!(writer.join().unwrap().unwrap().changed);
    assert_eq!(engine.history(&caller, &id).unwrap().unwrap().len(), 2);
}

/// A cadre of [`VILLAGE`], enrolled as `person` (added first), and the
/// caller their device is.
fn village_cadre(engine: &Engine, person: &str, write: bool) -> (Caller, DeviceId) {
    let directory = engine.directory();
    directory.add_person(person, "张三", None).unwrap();
    let (device, _) = directory
        .enroll(EnrollRequest {
            person: person.into(),
            label: String::new(),
            role: Role::Cadre,
            scope: Scope::parse(VILLAGE).unwrap(),
            write,
        })
        .unwrap();
    let caller = Caller {
        device: Some(device.id),
        access: Some(device.access.clone()),
        connection: None,
    };
    (caller, device.id)
}

#[test]
fn an_actor_is_bound_by_the_commit_that_accepts_its_change_only() {
    let (engine, _) = engine();
    let (caller, device) = village_cadre(&engine, "p1", false);

    // Refused (another village): no binding.
    let mut refused = dispute("500110101002", "p1");
    let refused_actor = refused.get_actor().to_bytes().to_vec();
    assert!(
        engine
            .apply_changes(&caller, &DocumentId::random(), &refused.save())
            .is_err()
    );
    let bound = |actor: &[u8]| {
        engine
            .storage()
            .get_value(&ServerValue::Actor(actor.to_vec()))
            .unwrap()
    };
    assert_eq!(bound(&refused_actor), None);

    let mut doc = dispute(VILLAGE, "p1");
    let actor = doc.get_actor().to_bytes().to_vec();
    engine
        .apply_changes(&caller, &DocumentId::random(), &doc.save())
        .unwrap();
    assert_eq!(bound(&actor), Some(device.as_bytes().to_vec()));
    assert_eq!(
        access::DeviceDirectory::bound_device(engine.directory().as_ref(), &actor),
        Some(device)
    );
}

/// A batch sync reads ahead the metadata of the records it uploads to, and
/// the stored bytes only of those the device may change: naming another
/// village's record (with changes that will be refused) reads nothing of
/// its bytes.
#[test]
fn a_sync_reads_ahead_the_bytes_only_of_records_the_device_may_change() {
    let (engine, gated) = engine();
    let (caller, _) = village_cadre(&engine, "p1", true);
    let mut theirs = dispute("500110101002", "p2");
    let theirs_id = DocumentId::random();
    engine
        .apply_changes(&Caller::unrestricted(), &theirs_id, &theirs.save())
        .unwrap();
    let mut ours = dispute(VILLAGE, "p1");
    let ours_id = DocumentId::random();
    engine
        .apply_changes(&caller, &ours_id, &ours.save())
        .unwrap();
    let new_id = DocumentId::random();
    let upload = |id: &DocumentId, changes: Vec<u8>| fengqiao_protocol::batch::DocUpload {
        id: id.clone(),
        heads: Vec::new(),
        changes,
    };
    let request = fengqiao_protocol::batch::SyncRequest {
        v: fengqiao_protocol::batch::BATCH_VERSION,
        cursor: None,
        budget: None,
        docs: vec![
            upload(&theirs_id, theirs.save()),
            upload(&ours_id, ours.save()),
            upload(&new_id, dispute(VILLAGE, "p1").save()),
            upload(&DocumentId::random(), Vec::new()),
        ],
    };
    gated.prefetched.lock().unwrap().clear();
    let cursors = crate::batch::Cursors::new(1, &[3; 32]);
    let scope = Scope::parse(VILLAGE).unwrap();
    crate::batch::handle(&engine, &caller, Some(&scope), &cursors, request).unwrap();
    // The uploads' read-ahead comes first (the feed's follows).
    let prefetched = gated.prefetched.lock().unwrap().clone();
    let [(metadata, none), (no_metadata, bytes), ..] = prefetched.as_slice() else {
        panic!("the uploads are read ahead in two steps: {prefetched:?}");
    };
    assert!(none.is_empty() && no_metadata.is_empty());
    assert_eq!(metadata.len(), 4);
    assert!(metadata.contains(&theirs_id) && metadata.contains(&new_id));
    assert!(
        bytes.contains(&ours_id) && bytes.contains(&new_id),
        "{bytes:?}"
    );
    assert!(
        !bytes.contains(&theirs_id),
        "another village's bytes read ahead"
    );
    assert_eq!(bytes.len(), 2, "an upload without changes needs no bytes");
}
