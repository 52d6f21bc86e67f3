//! The storage layer's guarantees, checked against every backend: commits
//! are atomic and durable, the feed and the heads log answer the sync
//! engine's questions, the projection index always holds exactly the
//! summaries of the stored documents, compaction and backup keep the
//! bytes, and damaged stored bytes are typed errors.
//!
//! Each test of the suite is a generic function over [`Backing`] (how to
//! open a store, and open it again after a restart, on one kind of backend)
//! and runs once per backend: sled on disk, memory, and the crash-test
//! backend wrapped around each (passing everything through). The crash
//! tests then kill the crash-test backend at every point of a write
//! transaction, and a real child process on sled.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use fengqiao_protocol::{DeviceId, DocumentId, ErrorCode, Scope, VillageCode};
use fengqiao_server::storage::backend::{
    Announcement, Backend, Durability, Space, WriteTxn, block_on,
};
use fengqiao_server::storage::backup::{BackupReader, BackupWriter};
use fengqiao_server::storage::document::ActorBinding;
use fengqiao_server::storage::postgres::{self, PgBackend, TestSchema};
use fengqiao_server::storage::{
    BackupReport, CommitBatch, CrashBackend, CrashPoint, DocMeta, DocumentContent, FlushStats,
    HEADS_RETAINED, HEADS_SLACK, MemoryBackend, ProjectionKey, QuarantineBounds, QuarantineEntry,
    ServerValue, SledBackend, SledStorage, Storage, StorageConfig, StorageError, Store,
    ValueFamily,
};
use fengqiao_shared::Summary;
use fengqiao_shared::vocab::{Category, RecordKind, Risk, Sentiment, Status};
use proptest::prelude::*;

// Two villages of town A, one of town B; all in one district.
const A1: &str = "500110101001";
const A2: &str = "500110101002";
const B1: &str = "500110102001";
const TOWN_A: &str = "500110101";
const TOWN_B: &str = "500110102";
const DISTRICT: &str = "500110";

fn village(code: &str) -> VillageCode {
    VillageCode::new(code).unwrap()
}

fn scope(code: &str) -> Scope {
    Scope::parse(code).unwrap()
}

fn open(path: &Path) -> SledStorage {
    SledStorage::open(&StorageConfig::new(path)).unwrap()
}

// --- the backends the suite runs against -----------------------------------

/// One kind of backend, holding the data of one test: it opens a store on
/// that data, and opens it again after the last store was dropped (a
/// restart).
trait Backing {
    type Store: Storage + 'static;

    /// Opens a store with these quarantine bounds.
    fn try_open_with(&self, bounds: QuarantineBounds) -> Result<Self::Store, StorageError>;

    /// Replaces one stored value underneath the store (which is closed).
    fn overwrite(&self, space: Space, key: &[u8], value: &[u8]);

    /// Restores `backup` into a new backend of the same kind and opens it.
    fn restore(&self, backup: &Path) -> (BackupReport, Self::Store);

    /// Writes and flushes, on backends that flush in groups.
    fn flush_stats(_store: &Self::Store) -> Option<FlushStats> {
        None
    }

    fn try_open(&self) -> Result<Self::Store, StorageError> {
        self.try_open_with(QuarantineBounds::default())
    }

    fn open(&self) -> Self::Store {
        self.try_open().unwrap()
    }
}

/// Puts `value` under `key` through a raw transaction of `backend`,
/// asserting the key was there.
fn overwrite_in<B: Backend>(backend: &B, space: Space, key: &[u8], value: &[u8]) {
    block_on(async {
        let mut txn = backend.write().await.unwrap();
        use fengqiao_server::storage::backend::ReadView;
        assert!(
            txn.get(space, key).await.unwrap().is_some(),
            "the key {key:?} should exist in {space:?}"
        );
        txn.put(space, key.to_vec(), value.to_vec());
        txn.commit(Durability::Flushed).await.unwrap();
    });
}

struct Sled {
    dir: tempfile::TempDir,
}

impl Sled {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn config(&self, bounds: QuarantineBounds) -> StorageConfig {
        let mut config = StorageConfig::new(self.dir.path().join("store"));
        config.quarantine = bounds;
        config
    }
}

impl Backing for Sled {
    type Store = SledStorage;

    fn try_open_with(&self, bounds: QuarantineBounds) -> Result<SledStorage, StorageError> {
        SledStorage::open(&self.config(bounds))
    }

    fn overwrite(&self, space: Space, key: &[u8], value: &[u8]) {
        overwrite(&self.dir.path().join("store"), &space.tagged(key), value);
    }

    fn restore(&self, backup: &Path) -> (BackupReport, SledStorage) {
        let into = self.dir.path().join(format!("restored-{}", uuid_like()));
        let report = SledStorage::restore_from(backup, &into).unwrap();
        (report, open(&into))
    }

    fn flush_stats(store: &SledStorage) -> Option<FlushStats> {
        Some(store.flush_stats())
    }
}

struct Memory {
    backend: MemoryBackend,
}

impl Memory {
    fn new() -> Self {
        Self {
            backend: MemoryBackend::new(),
        }
    }
}

impl Backing for Memory {
    type Store = Store<MemoryBackend>;

    fn try_open_with(&self, bounds: QuarantineBounds) -> Result<Self::Store, StorageError> {
        Store::open_on(self.backend.clone(), bounds)
    }

    fn overwrite(&self, space: Space, key: &[u8], value: &[u8]) {
        overwrite_in(&self.backend, space, key, value);
    }

    fn restore(&self, backup: &Path) -> (BackupReport, Self::Store) {
        let backend = MemoryBackend::new();
        let report = block_on(Store::restore_into(&backend, backup)).unwrap();
        (
            report,
            Store::open_on(backend, QuarantineBounds::default()).unwrap(),
        )
    }
}

/// The crash-test backend around memory, told no point to die at: it must
/// pass everything through unchanged.
struct CrashMemory(Memory);

impl Backing for CrashMemory {
    type Store = Store<CrashBackend<MemoryBackend>>;

    fn try_open_with(&self, bounds: QuarantineBounds) -> Result<Self::Store, StorageError> {
        Store::open_on(CrashBackend::new(self.0.backend.clone()), bounds)
    }

    fn overwrite(&self, space: Space, key: &[u8], value: &[u8]) {
        self.0.overwrite(space, key, value);
    }

    fn restore(&self, backup: &Path) -> (BackupReport, Self::Store) {
        let backend = CrashBackend::new(MemoryBackend::new());
        let report = block_on(Store::restore_into(&backend, backup)).unwrap();
        (
            report,
            Store::open_on(backend, QuarantineBounds::default()).unwrap(),
        )
    }
}

/// The crash-test backend around sled, told no point to die at.
struct CrashSled(Sled);

impl Backing for CrashSled {
    type Store = Store<CrashBackend<SledBackend>>;

    fn try_open_with(&self, bounds: QuarantineBounds) -> Result<Self::Store, StorageError> {
        let backend = SledBackend::open(&self.0.config(bounds))?;
        Store::open_on(CrashBackend::new(backend), bounds)
    }

    fn overwrite(&self, space: Space, key: &[u8], value: &[u8]) {
        self.0.overwrite(space, key, value);
    }

    fn restore(&self, backup: &Path) -> (BackupReport, Self::Store) {
        let into = self.0.dir.path().join(format!("restored-{}", uuid_like()));
        let report = SledStorage::restore_from(backup, &into).unwrap();
        let backend = SledBackend::open(&StorageConfig::new(into)).unwrap();
        (
            report,
            Store::open_on(CrashBackend::new(backend), QuarantineBounds::default()).unwrap(),
        )
    }
}

/// PostgreSQL, in a schema of its own on the database named by
/// `FENGQIAO_TEST_POSTGRES` (dropped after the test).
struct Postgres {
    schema: TestSchema,
    /// Schemas restored into, dropped with this one.
    restored: std::sync::Mutex<Vec<TestSchema>>,
}

impl Postgres {
    /// `None` (with a loud notice, or a failure under
    /// `FENGQIAO_REQUIRE_ALL=1`) when no database is named.
    fn new() -> Option<Self> {
        match TestSchema::new() {
            Some(schema) => Some(Self {
                schema,
                restored: std::sync::Mutex::new(Vec::new()),
            }),
            None => {
                common::skip(
                    "the storage suite on PostgreSQL",
                    "FENGQIAO_TEST_POSTGRES is not set (a postgres:// address of a database \
                     the tests may create schemas in; .ci/run starts one)",
                );
                None
            }
        }
    }

    fn backend(&self) -> Result<PgBackend, StorageError> {
        PgBackend::connect(&self.schema.config, true)
    }
}

impl Backing for Postgres {
    type Store = Store<PgBackend>;

    fn try_open_with(&self, bounds: QuarantineBounds) -> Result<Self::Store, StorageError> {
        Store::open_on(self.backend()?, bounds)
    }

    fn overwrite(&self, space: Space, key: &[u8], value: &[u8]) {
        overwrite_in(&self.backend().unwrap(), space, key, value);
    }

    fn restore(&self, backup: &Path) -> (BackupReport, Self::Store) {
        let other = TestSchema::new().unwrap();
        let backend = PgBackend::connect(&other.config, true).unwrap();
        let report = block_on(Store::restore_into(&backend, backup)).unwrap();
        drop(backend);
        let store = Store::open_on(
            PgBackend::connect(&other.config, true).unwrap(),
            QuarantineBounds::default(),
        )
        .unwrap();
        // The restored schema lives as long as the test's.
        self.restored.lock().unwrap().push(other);
        (report, store)
    }
}

fn uuid_like() -> String {
    DocumentId::random().to_string()
}

/// Runs each listed generic test once per backend, in a module per
/// backend.
macro_rules! for_every_backend {
    ($($test:ident),* $(,)?) => {
        mod sled_store {
            $( #[test] fn $test() { super::$test(&super::Sled::new()) } )*
        }
        mod memory_store {
            $( #[test] fn $test() { super::$test(&super::Memory::new()) } )*
        }
        mod crash_memory_store {
            $( #[test] fn $test() { super::$test(&super::CrashMemory(super::Memory::new())) } )*
        }
        mod crash_sled_store {
            $( #[test] fn $test() { super::$test(&super::CrashSled(super::Sled::new())) } )*
        }
        mod postgres_store {
            $( #[test] fn $test() {
                if let Some(backing) = super::Postgres::new() {
                    super::$test(&backing)
                }
            } )*
        }
    };
}

for_every_backend!(
    snapshot_and_chunks_round_trip_with_their_metadata,
    the_feed_holds_each_document_once_at_its_latest_commit,
    the_feed_filters_by_scope_and_pages,
    heads_at_answers_for_any_cursor,
    the_heads_log_keeps_the_newest_entries_and_forgets_older_cursors,
    a_heads_log_of_unknown_length_is_read_and_trimmed,
    the_projection_index_follows_status_changes_and_duplicate_links,
    a_record_that_moves_village_moves_its_summary,
    summaries_page_through_a_scope_in_key_order,
    a_refused_commit_leaves_nothing_behind,
    a_commit_replaces_a_corrupt_summary_without_reading_it,
    reopening_keeps_everything_and_the_sequence_continues,
    concurrent_commits_share_flushes_and_all_land,
    concurrent_commits_to_one_document_each_read_the_last,
    compaction_folds_chunks_into_the_snapshot,
    removing_a_document_takes_everything_of_it,
    quarantine_sync_states_and_server_values,
    a_backup_taken_while_committing_restores_a_consistent_store,
    corrupt_stored_values_are_typed_errors_not_panics,
    a_store_of_another_schema_version_is_refused,
    the_quarantine_stays_within_its_bounds_per_device_and_in_all_across_reopens,
    actor_bindings_land_with_their_commit_and_never_without_it,
);

fn dispute(id: &DocumentId, code: &str, status: Status, risk: Risk) -> Summary {
    Summary {
        id: id.clone(),
        kind: RecordKind::Dispute,
        village: village(code),
        created_at: 1_700_000_000_000,
        created_by: "cadre-7".into(),
        last_activity: 1_700_000_000_000,
        title: "宅基地边界".into(),
        status: Some(status),
        category: Some(Category::Land),
        risk: Some(risk),
        escalation_level: None,
        max_escalation_level: None,
        resolved_at: None,
        party_names: vec!["张三".into(), "李四".into()],
        assignees: vec![],
        event_count: 1,
        duplicate_of: None,
        stage: None,
        stage_since: None,
        handling_level: None,
        supervision_due: None,
        not_duplicates: Vec::new(),
        visited_at: None,
        sentiment: None,
        topics: vec![],
        follow_up_needed: false,
        follow_up_done: false,
        follow_up_due: None,
        linked_dispute: None,
    }
}

fn visit(id: &DocumentId, code: &str, sentiment: Sentiment, follow_up: bool) -> Summary {
    Summary {
        kind: RecordKind::Visit,
        status: None,
        category: None,
        risk: None,
        title: "王家".into(),
        visited_at: Some(1_700_000_100_000),
        sentiment: Some(sentiment),
        follow_up_needed: follow_up,
        ..dispute(id, code, Status::Open, Risk::Low)
    }
}

fn heads(n: u8) -> Vec<[u8; 32]> {
    vec![[n; 32]]
}

fn chunk(summary: &Summary, bytes: &[u8], n: u8) -> CommitBatch {
    CommitBatch {
        id: summary.id.clone(),
        content: DocumentContent::Chunk(bytes.to_vec()),
        heads: heads(n),
        summary: summary.clone(),
        at: 1_700_000_000_000 + i64::from(n),
        expected_seq: None,
        bindings: Vec::new(),
        alert: None,
    }
}

fn snapshot(summary: &Summary, bytes: &[u8], n: u8) -> CommitBatch {
    CommitBatch {
        content: DocumentContent::Snapshot(bytes.to_vec()),
        ..chunk(summary, bytes, n)
    }
}

/// Every summary in `scope`, read page by page.
fn all_summaries(store: &dyn Storage, scope: &Scope) -> Vec<Summary> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store.summaries_in_scope(scope, after.as_ref(), 2).unwrap();
        let Some(last) = page.last() else {
            return all;
        };
        after = Some(ProjectionKey::of(last));
        all.extend(page);
    }
}

/// The projection index holds exactly the summaries of the stored
/// documents: every document of the change feed that is still stored has
/// its summary, of its kind and in its village; a removed one has none; and
/// each village, town and district lists the summaries of its stored
/// documents, each once, and nothing else. Returns the stored summaries.
fn assert_projection_matches_documents(store: &dyn Storage) -> BTreeMap<DocumentId, Summary> {
    let mut stored = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = store.feed_after(after, None, 3).unwrap();
        for entry in &page.entries {
            let meta = store.doc_meta(&entry.id).unwrap();
            let summary = store.summary(&entry.id).unwrap();
            match (meta, summary) {
                (Some(meta), Some(summary)) => {
                    assert_eq!(summary.id, entry.id);
                    assert_eq!(summary.kind, meta.kind, "kind of {}", entry.id);
                    assert_eq!(summary.village, meta.village, "village of {}", entry.id);
                    assert_eq!(summary.village, entry.village, "feed of {}", entry.id);
                    stored.insert(entry.id.clone(), summary);
                }
                (None, None) => {}
                (meta, summary) => panic!(
                    "document {}: metadata {meta:?} but summary {summary:?}",
                    entry.id
                ),
            }
        }
        if page.entries.len() < 3 {
            break;
        }
        after = page.through_seq;
    }
    for code in [A1, A2, B1, TOWN_A, TOWN_B, DISTRICT] {
        let scope = scope(code);
        let listed = all_summaries(store, &scope);
        let expected: Vec<&Summary> = stored
            .values()
            .filter(|summary| scope.contains(&summary.village))
            .collect();
        assert_eq!(listed.len(), expected.len(), "summaries listed in {code}");
        for summary in expected {
            assert!(
                listed.contains(summary),
                "{code} does not list the summary of {}",
                summary.id
            );
        }
    }
    stored
}

fn snapshot_and_chunks_round_trip_with_their_metadata<B: Backing>(b: &B) {
    let store = b.open();
    let id = DocumentId::random();
    let summary = dispute(&id, A1, Status::Open, Risk::Medium);

    assert_eq!(store.load_document(&id).unwrap(), None);
    assert_eq!(store.doc_meta(&id).unwrap(), None);

    let first = store.commit(snapshot(&summary, b"SNAP", 1)).unwrap();
    let second = store.commit(chunk(&summary, b"-one", 2)).unwrap();
    let third = store.commit(chunk(&summary, b"-three", 3)).unwrap();
    assert_eq!((first.seq, second.seq, third.seq), (1, 2, 3));
    assert_eq!(store.current_seq(), 3);

    let stored = store.load_document(&id).unwrap().unwrap();
    assert_eq!(stored.snapshot, b"SNAP");
    assert_eq!(stored.chunks, vec![b"-one".to_vec(), b"-three".to_vec()]);
    assert_eq!(stored.concatenated(), b"SNAP-one-three");
    assert_eq!(stored.seq, 3);

    let meta = store.doc_meta(&id).unwrap().unwrap();
    assert_eq!(meta.id, id);
    assert_eq!(meta.kind, RecordKind::Dispute);
    assert_eq!(meta.village, village(A1));
    assert_eq!(meta.heads, heads(3));
    assert_eq!(meta.seq, 3);
    assert_eq!(meta.created_at, 1_700_000_000_001);
    assert_eq!(meta.updated_at, 1_700_000_000_003);
    assert_eq!(
        (meta.snapshot_len, meta.chunks_len, meta.chunk_count),
        (4, 10, 2)
    );
    assert_eq!(store.summary(&id).unwrap(), Some(summary.clone()));

    // A whole new snapshot replaces the old one and every chunk.
    store.commit(snapshot(&summary, b"WHOLE", 4)).unwrap();
    let stored = store.load_document(&id).unwrap().unwrap();
    assert_eq!(stored.snapshot, b"WHOLE");
    assert!(stored.chunks.is_empty());
    let meta = store.doc_meta(&id).unwrap().unwrap();
    assert_eq!((meta.snapshot_len, meta.chunk_count), (5, 0));
    assert_eq!(meta.created_at, 1_700_000_000_001);

    // A document committed only in chunks has an empty snapshot.
    let other = DocumentId::random();
    let other_summary = visit(&other, A2, Sentiment::Neutral, false);
    store.commit(chunk(&other_summary, b"changes", 1)).unwrap();
    let stored = store.load_document(&other).unwrap().unwrap();
    assert!(stored.snapshot.is_empty());
    assert_eq!(stored.concatenated(), b"changes");
}

fn the_feed_holds_each_document_once_at_its_latest_commit<B: Backing>(b: &B) {
    let store = b.open();
    let a = dispute(&DocumentId::random(), A1, Status::Open, Risk::Low);
    let b = dispute(&DocumentId::random(), A1, Status::Open, Risk::Low);
    store.commit(chunk(&a, b"a1", 1)).unwrap();
    store.commit(chunk(&b, b"b1", 2)).unwrap();
    store.commit(chunk(&a, b"a2", 3)).unwrap();

    let page = store.feed_after(0, None, 100).unwrap();
    let entries: Vec<_> = page
        .entries
        .iter()
        .map(|entry| (entry.seq, entry.id.clone()))
        .collect();
    assert_eq!(entries, vec![(2, b.id.clone()), (3, a.id.clone())]);
    assert_eq!(page.through_seq, 3);
    assert!(
        page.entries
            .iter()
            .all(|entry| entry.village == village(A1))
    );

    let page = store.feed_after(2, None, 100).unwrap();
    assert_eq!(page.entries.len(), 1);
    assert_eq!(page.entries[0].id, a.id);
    let page = store.feed_after(3, None, 100).unwrap();
    assert!(page.entries.is_empty());
    assert_eq!(page.through_seq, 3);
}

fn the_feed_filters_by_scope_and_pages<B: Backing>(b: &B) {
    let store = b.open();
    let mut in_town_a = Vec::new();
    for (n, code) in [A1, B1, A2, B1, A1, A2, B1].into_iter().enumerate() {
        let summary = visit(&DocumentId::random(), code, Sentiment::Positive, false);
        let seq = store.commit(chunk(&summary, b"v", n as u8)).unwrap().seq;
        if code != B1 {
            in_town_a.push((seq, summary.id.clone()));
        }
    }
    assert_eq!(in_town_a.len(), 4);

    let town_a = scope(TOWN_A);
    let first = store.feed_after(0, Some(&town_a), 2).unwrap();
    let got: Vec<_> = first
        .entries
        .iter()
        .map(|entry| (entry.seq, entry.id.clone()))
        .collect();
    assert_eq!(got, in_town_a[..2]);
    assert_eq!(first.through_seq, in_town_a[1].0);

    let second = store
        .feed_after(first.through_seq, Some(&town_a), 2)
        .unwrap();
    let got: Vec<_> = second
        .entries
        .iter()
        .map(|entry| (entry.seq, entry.id.clone()))
        .collect();
    assert_eq!(got, in_town_a[2..]);

    let third = store
        .feed_after(second.through_seq, Some(&town_a), 2)
        .unwrap();
    assert!(third.entries.is_empty());
    assert_eq!(
        third.through_seq, 7,
        "an exhausted read covers the whole feed"
    );

    let town_b = store.feed_after(0, Some(&scope(TOWN_B)), 100).unwrap();
    assert_eq!(town_b.entries.len(), 3);
    assert!(town_b.entries.iter().all(|e| e.village == village(B1)));
    assert_eq!(
        store
            .feed_after(0, Some(&scope(DISTRICT)), 100)
            .unwrap()
            .entries
            .len(),
        7
    );
    assert!(store.feed_after(0, None, 0).unwrap().entries.is_empty());
}

fn heads_at_answers_for_any_cursor<B: Backing>(b: &B) {
    let store = b.open();
    let doc = dispute(&DocumentId::random(), A1, Status::Open, Risk::Low);
    let other = dispute(&DocumentId::random(), A1, Status::Open, Risk::Low);
    store.commit(chunk(&other, b"o", 1)).unwrap(); // seq 1
    store.commit(chunk(&doc, b"d", 10)).unwrap(); // seq 2
    store.commit(chunk(&other, b"o", 2)).unwrap(); // seq 3
    store.commit(chunk(&doc, b"d", 11)).unwrap(); // seq 4
    store.commit(chunk(&other, b"o", 3)).unwrap(); // seq 5

    assert_eq!(store.heads_at(&doc.id, 0).unwrap(), None);
    assert_eq!(store.heads_at(&doc.id, 1).unwrap(), None);
    assert_eq!(store.heads_at(&doc.id, 2).unwrap(), Some(heads(10)));
    assert_eq!(store.heads_at(&doc.id, 3).unwrap(), Some(heads(10)));
    assert_eq!(store.heads_at(&doc.id, 4).unwrap(), Some(heads(11)));
    assert_eq!(store.heads_at(&doc.id, 500).unwrap(), Some(heads(11)));
    assert_eq!(
        store.heads_at(&DocumentId::random(), 500).unwrap(),
        None,
        "an unknown document has no heads"
    );
    // Several at once answer as one by one, in order.
    let ids = [doc.id.clone(), DocumentId::random(), other.id.clone()];
    for seq in [1, 3, 4, 500] {
        let one_by_one: Vec<_> = ids
            .iter()
            .map(|id| store.heads_at(id, seq).unwrap())
            .collect();
        assert_eq!(
            store.heads_at_many(&ids, seq).unwrap(),
            one_by_one,
            "at {seq}"
        );
        // And together with the reads ahead of a sync, in a fresh scope
        // (one statement on PostgreSQL) and outside one.
        for fresh in [true, false] {
            let _fresh = fresh.then(|| store.fresh());
            assert_eq!(
                store.read_ahead(&ids, &ids[..2], seq).unwrap(),
                one_by_one,
                "at {seq}, fresh {fresh}"
            );
            assert_eq!(
                store
                    .load_document(&doc.id)
                    .unwrap()
                    .map(|d| d.concatenated()),
                Some(b"dd".to_vec()),
                "what was read ahead is the document"
            );
        }
    }
    assert_eq!(
        store.heads_at_many(&ids, 3).unwrap(),
        vec![Some(heads(10)), None, Some(heads(2))]
    );
}

fn the_heads_log_keeps_the_newest_entries_and_forgets_older_cursors<B: Backing>(b: &B) {
    let store = b.open();
    let doc = visit(&DocumentId::random(), A1, Sentiment::Concern, true);
    // Past the slack once: the log was trimmed to HEADS_RETAINED by the
    // commit that would have made it longer, and has grown by 5 since.
    let total = HEADS_RETAINED + HEADS_SLACK + 6;
    let seqs: Vec<u64> = (0..total)
        .map(|n| store.commit(chunk(&doc, b"c", n as u8)).unwrap().seq)
        .collect();
    let oldest_kept = total - (HEADS_RETAINED + 5);
    // A cursor older than what is kept: the engine will send the whole document.
    assert_eq!(
        store.heads_at(&doc.id, seqs[oldest_kept - 1]).unwrap(),
        None
    );
    assert_eq!(
        store.heads_at(&doc.id, seqs[oldest_kept]).unwrap(),
        Some(heads(oldest_kept as u8))
    );
    assert_eq!(
        store.heads_at(&doc.id, seqs[total - 1]).unwrap(),
        Some(heads((total - 1) as u8))
    );
    let meta = store.doc_meta(&doc.id).unwrap().unwrap();
    assert_eq!(meta.heads_logged, Some((HEADS_RETAINED + 5) as u32));
}

fn a_heads_log_of_unknown_length_is_read_and_trimmed<B: Backing>(b: &B) {
    let doc = visit(&DocumentId::random(), A1, Sentiment::Concern, true);
    let total = HEADS_RETAINED + 10;
    let mut seqs: Vec<u64> = {
        let store = b.open();
        (0..total)
            .map(|n| store.commit(chunk(&doc, b"c", n as u8)).unwrap().seq)
            .collect()
    };
    // Within the slack: nothing trimmed yet.
    let store = b.open();
    assert_eq!(store.heads_at(&doc.id, seqs[0]).unwrap(), Some(heads(0)));
    // Metadata as earlier versions wrote it: the log's length unknown.
    let meta = store.doc_meta(&doc.id).unwrap().unwrap();
    assert_eq!(meta.heads_logged, Some(total as u32));
    drop(store);
    let earlier = DocMeta {
        heads_logged: None,
        ..meta
    };
    b.overwrite(
        Space::DocMeta,
        &doc_key(&doc.id),
        &earlier.encode().unwrap(),
    );
    let store = b.open();
    seqs.push(store.commit(chunk(&doc, b"c", total as u8)).unwrap().seq);
    let oldest_kept = seqs.len() - HEADS_RETAINED;
    assert_eq!(
        store.heads_at(&doc.id, seqs[oldest_kept - 1]).unwrap(),
        None
    );
    assert_eq!(
        store.heads_at(&doc.id, seqs[oldest_kept]).unwrap(),
        Some(heads(oldest_kept as u8))
    );
    let meta = store.doc_meta(&doc.id).unwrap().unwrap();
    assert_eq!(meta.heads_logged, Some(HEADS_RETAINED as u32));
}

fn the_projection_index_follows_status_changes_and_duplicate_links<B: Backing>(b: &B) {
    let store = b.open();

    let d1 = dispute(&DocumentId::random(), A1, Status::Open, Risk::High);
    let d2 = dispute(&DocumentId::random(), A1, Status::Mediating, Risk::High);
    let d3 = dispute(&DocumentId::random(), A2, Status::Open, Risk::Low);
    let d4 = dispute(&DocumentId::random(), B1, Status::Open, Risk::High);
    let v1 = visit(&DocumentId::random(), A1, Sentiment::Urgent, true);
    let v2 = visit(&DocumentId::random(), B1, Sentiment::Positive, false);
    for (n, summary) in [&d1, &d2, &d3, &d4, &v1, &v2].into_iter().enumerate() {
        store.commit(chunk(summary, b"x", n as u8)).unwrap();
    }
    assert_eq!(all_summaries(&store, &scope(A1)).len(), 3);
    assert_projection_matches_documents(&store);

    // d1 is resolved, d2 is linked as a duplicate of d1, v1's follow-up is done.
    let d1_resolved = Summary {
        status: Some(Status::Resolved),
        ..d1.clone()
    };
    let d2_duplicate = Summary {
        duplicate_of: Some(d1.id.clone()),
        ..d2.clone()
    };
    let v1_done = Summary {
        follow_up_done: true,
        ..v1.clone()
    };
    store.commit(chunk(&d1_resolved, b"y", 10)).unwrap();
    store.commit(chunk(&d2_duplicate, b"y", 11)).unwrap();
    store.commit(chunk(&v1_done, b"y", 12)).unwrap();

    // Each record is indexed once, as its latest commit summarised it.
    let stored = assert_projection_matches_documents(&store);
    let latest = [&d1_resolved, &d2_duplicate, &d3, &d4, &v1_done, &v2];
    assert_eq!(stored.len(), latest.len());
    for summary in latest {
        assert_eq!(stored.get(&summary.id), Some(summary));
    }
    let ids = |code: &str| -> BTreeSet<DocumentId> {
        all_summaries(&store, &scope(code))
            .into_iter()
            .map(|summary| summary.id)
            .collect()
    };
    assert_eq!(
        ids(TOWN_A),
        BTreeSet::from([d1.id.clone(), d2.id.clone(), d3.id.clone(), v1.id.clone()])
    );
    assert_eq!(ids(TOWN_B), BTreeSet::from([d4.id.clone(), v2.id.clone()]));
}

fn a_record_that_moves_village_moves_its_summary<B: Backing>(b: &B) {
    let store = b.open();
    let id = DocumentId::random();
    store
        .commit(chunk(&dispute(&id, A1, Status::Open, Risk::High), b"1", 1))
        .unwrap();
    store
        .commit(chunk(&dispute(&id, B1, Status::Open, Risk::High), b"2", 2))
        .unwrap();
    assert!(all_summaries(&store, &scope(A1)).is_empty());
    assert_eq!(all_summaries(&store, &scope(B1)).len(), 1);
    let feed = store.feed_after(0, None, 10).unwrap();
    assert_eq!(feed.entries.len(), 1);
    assert_eq!(feed.entries[0].village, village(B1));
    assert_projection_matches_documents(&store);
}

fn summaries_page_through_a_scope_in_key_order<B: Backing>(b: &B) {
    let store = b.open();
    let mut town_a = BTreeSet::new();
    for (n, code) in [A2, A1, B1, A1, A2].into_iter().enumerate() {
        let summary = dispute(&DocumentId::random(), code, Status::Open, Risk::Low);
        if code != B1 {
            town_a.insert((summary.village.clone(), summary.id.clone()));
        }
        store.commit(chunk(&summary, b"s", n as u8)).unwrap();
    }
    let listed: Vec<_> = all_summaries(&store, &scope(TOWN_A))
        .into_iter()
        .map(|s| (s.village, s.id))
        .collect();
    assert_eq!(listed, town_a.into_iter().collect::<Vec<_>>());
    assert_eq!(all_summaries(&store, &scope(TOWN_B)).len(), 1);
    assert_eq!(all_summaries(&store, &scope(DISTRICT)).len(), 5);
}

fn a_refused_commit_leaves_nothing_behind<B: Backing>(b: &B) {
    let store = b.open();
    let summary = dispute(&DocumentId::random(), A1, Status::Open, Risk::High);
    let mut first = chunk(&summary, b"first", 1);
    first.expected_seq = Some(0);
    assert_eq!(store.commit(first).unwrap().seq, 1);
    let before_doc = store.load_document(&summary.id).unwrap();
    let before_meta = store.doc_meta(&summary.id).unwrap();
    let before_summaries = all_summaries(&store, &scope(DISTRICT));

    // Expected at sequence 0 (new), but it exists.
    let mut stale = chunk(
        &Summary {
            status: Some(Status::Resolved),
            ..summary.clone()
        },
        b"stale",
        2,
    );
    stale.expected_seq = Some(0);
    let error = store.commit(stale.clone()).unwrap_err();
    assert!(matches!(error, StorageError::Conflict { .. }), "{error}");
    assert_eq!(error.code(), ErrorCode::Conflict);
    stale.expected_seq = Some(7);
    assert!(matches!(
        store.commit(stale.clone()),
        Err(StorageError::Conflict { .. })
    ));

    // A summary of another document.
    let mut mismatched = chunk(&summary, b"other", 3);
    mismatched.id = DocumentId::random();
    assert!(matches!(
        store.commit(mismatched.clone()),
        Err(StorageError::Invalid { .. })
    ));
    assert_eq!(store.doc_meta(&mismatched.id).unwrap(), None);

    assert_eq!(store.load_document(&summary.id).unwrap(), before_doc);
    assert_eq!(store.doc_meta(&summary.id).unwrap(), before_meta);
    assert_eq!(all_summaries(&store, &scope(DISTRICT)), before_summaries);
    assert_eq!(store.feed_after(0, None, 10).unwrap().entries.len(), 1);
    assert_eq!(store.current_seq(), 1);

    // The refusals consumed no sequence number.
    stale.expected_seq = Some(1);
    assert_eq!(store.commit(stale).unwrap().seq, 2);
}

fn binding(actor: u8, device: u8) -> ActorBinding {
    ActorBinding {
        actor: vec![actor; 8],
        device: DeviceId::from_bytes([device; 16]),
    }
}

fn bound_to(store: &dyn Storage, actor: u8) -> Option<Vec<u8>> {
    store
        .get_value(&ServerValue::Actor(vec![actor; 8]))
        .unwrap()
}

fn actor_bindings_land_with_their_commit_and_never_without_it<B: Backing>(b: &B) {
    let store = b.open();
    let summary = dispute(&DocumentId::random(), A1, Status::Open, Risk::Low);
    let mut first = chunk(&summary, b"first", 1);
    first.expected_seq = Some(0);
    first.bindings = vec![binding(1, 1), binding(2, 1)];
    let seq = store.commit(first).unwrap().seq;
    assert_eq!(bound_to(&store, 1), Some(vec![1; 16]));
    assert_eq!(bound_to(&store, 2), Some(vec![1; 16]));

    // A commit refused for its expected sequence number binds nothing.
    let mut stale = chunk(&summary, b"stale", 2);
    stale.expected_seq = Some(0);
    stale.bindings = vec![binding(3, 2)];
    assert!(matches!(
        store.commit(stale),
        Err(StorageError::Conflict { .. })
    ));
    // Nor does an invalid one.
    let mut invalid = chunk(&summary, b"", 2);
    invalid.expected_seq = Some(seq);
    invalid.bindings = vec![binding(3, 2)];
    assert!(matches!(
        store.commit(invalid),
        Err(StorageError::Invalid { .. })
    ));
    assert_eq!(bound_to(&store, 3), None);

    // An actor bound already keeps its device; a new one binds.
    let mut next = chunk(&summary, b"next", 3);
    next.expected_seq = Some(seq);
    next.bindings = vec![binding(1, 2), binding(3, 2), binding(3, 3)];
    let seq = store.commit(next).unwrap().seq;
    assert_eq!(bound_to(&store, 1), Some(vec![1; 16]));
    assert_eq!(bound_to(&store, 3), Some(vec![2; 16]));

    // An id an admin removed takes no conditional commit, and binds nothing.
    store
        .put_value(&ServerValue::Removal(summary.id.clone()), b"removed")
        .unwrap();
    let mut late = chunk(&summary, b"late", 4);
    late.expected_seq = Some(seq);
    late.bindings = vec![binding(4, 1)];
    assert!(matches!(
        store.commit(late),
        Err(StorageError::Conflict { .. })
    ));
    assert_eq!(bound_to(&store, 4), None);
    assert_eq!(store.doc_meta(&summary.id).unwrap().unwrap().seq, seq);

    drop(store);
    let reopened = b.open();
    assert_eq!(bound_to(&reopened, 1), Some(vec![1; 16]));
    assert_eq!(bound_to(&reopened, 3), Some(vec![2; 16]));
    assert_eq!(
        reopened.values_in(ValueFamily::Actor).unwrap().len(),
        3,
        "actors 1, 2 and 3"
    );
}

/// A crash anywhere in a commit that binds an actor leaves the binding
/// exactly when it leaves the commit.
#[test]
fn a_crash_leaves_an_actor_binding_exactly_with_its_commit() {
    let ids: Vec<DocumentId> = (0..12).map(|_| DocumentId::random()).collect();
    for point in crash_points() {
        for nth in [1, 2, 5, 9] {
            let memory = MemoryBackend::new();
            let backend = CrashBackend::new(memory.clone());
            let store = Store::open_on(backend.clone(), QuarantineBounds::default()).unwrap();
            backend.crash_at(nth, point);
            let mut acked = Vec::new();
            for (n, id) in ids.iter().enumerate() {
                let summary = dispute(id, A1, Status::Open, Risk::Low);
                let mut batch = chunk(&summary, b"bytes", n as u8);
                batch.expected_seq = Some(0);
                batch.bindings = vec![binding(n as u8, 9)];
                if store.commit(batch).is_ok() {
                    acked.push(n);
                }
            }
            assert!(backend.crashed(), "{point:?} at {nth}: never crashed");
            drop(store);
            let restarted = Store::open_on(memory, QuarantineBounds::default()).unwrap();
            for (n, id) in ids.iter().enumerate() {
                let committed = restarted.doc_meta(id).unwrap().is_some();
                let bound = bound_to(&restarted, n as u8).is_some();
                assert_eq!(committed, bound, "{point:?} at {nth}: commit {n}");
                if acked.contains(&n) {
                    assert!(committed, "{point:?} at {nth}: acknowledged commit {n}");
                }
            }
        }
    }
}

/// A commit writes its summary whole and never reads the one it replaces
/// (a commit costs no read of the projection index), so a damaged summary
/// is replaced by the next commit of its record.
fn a_commit_replaces_a_corrupt_summary_without_reading_it<B: Backing>(b: &B) {
    let summary = dispute(&DocumentId::random(), A1, Status::Open, Risk::High);
    {
        let store = b.open();
        store.commit(chunk(&summary, b"first", 1)).unwrap();
    }
    b.overwrite(
        Space::Projection,
        &projection_key(A1, &summary.id),
        b"\xff\xfe not cbor",
    );
    let store = b.open();
    assert!(matches!(
        store.summary(&summary.id),
        Err(StorageError::Corrupt {
            what: "projection summary"
        })
    ));
    let resolved = Summary {
        status: Some(Status::Resolved),
        ..summary.clone()
    };
    assert_eq!(store.commit(chunk(&resolved, b"second", 2)).unwrap().seq, 2);
    assert_eq!(store.summary(&summary.id).unwrap(), Some(resolved));
    let stored = store.load_document(&summary.id).unwrap().unwrap();
    assert_eq!(stored.chunks, vec![b"first".to_vec(), b"second".to_vec()]);
    assert_eq!(store.feed_after(0, None, 10).unwrap().entries[0].seq, 2);
    assert_projection_matches_documents(&store);
}

fn reopening_keeps_everything_and_the_sequence_continues<B: Backing>(b: &B) {
    let d = dispute(&DocumentId::random(), A1, Status::Open, Risk::High);
    let v = visit(&DocumentId::random(), B1, Sentiment::Urgent, true);
    let peer = b"peer-storage-id";
    let (doc, meta, summaries, feed, storage_id) = {
        let store = b.open();
        store.commit(snapshot(&d, b"snap", 1)).unwrap();
        store.commit(chunk(&d, b"+1", 2)).unwrap();
        store.commit(chunk(&v, b"visit", 3)).unwrap();
        store.put_sync_state(peer, &d.id, b"sync-state").unwrap();
        store.put_value(&ServerValue::Epoch, b"k1").unwrap();
        (
            store.load_document(&d.id).unwrap(),
            store.doc_meta(&d.id).unwrap(),
            all_summaries(&store, &scope(DISTRICT)),
            store.feed_after(0, None, 10).unwrap(),
            store.get_value(&ServerValue::StorageId).unwrap(),
        )
    };
    assert!(storage_id.is_some());

    let store = b.open();
    assert_eq!(store.current_seq(), 3);
    assert_eq!(store.load_document(&d.id).unwrap(), doc);
    assert_eq!(store.doc_meta(&d.id).unwrap(), meta);
    assert_eq!(all_summaries(&store, &scope(DISTRICT)), summaries);
    assert_eq!(store.feed_after(0, None, 10).unwrap(), feed);
    assert_eq!(store.heads_at(&d.id, 2).unwrap(), Some(heads(2)));
    assert_eq!(store.summary(&v.id).unwrap(), Some(v.clone()));
    assert_eq!(
        store.sync_state(peer, &d.id).unwrap(),
        Some(b"sync-state".to_vec())
    );
    assert_eq!(
        store.get_value(&ServerValue::Epoch).unwrap(),
        Some(b"k1".to_vec())
    );
    assert_eq!(
        store.get_value(&ServerValue::StorageId).unwrap(),
        storage_id
    );
    assert_eq!(store.commit(chunk(&v, b"more", 4)).unwrap().seq, 4);
}

fn concurrent_commits_share_flushes_and_all_land<B: Backing>(b: &B) {
    const WRITERS: usize = 8;
    const COMMITS: usize = 50;
    let store = Arc::new(b.open());
    let docs: Vec<Summary> = (0..WRITERS)
        .map(|n| {
            let code = [A1, A2, B1][n % 3];
            dispute(&DocumentId::random(), code, Status::Open, Risk::Medium)
        })
        .collect();
    let before = B::flush_stats(&store);

    let writers: Vec<_> = docs
        .iter()
        .cloned()
        .map(|doc| {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                (0..COMMITS)
                    .map(|n| {
                        store
                            .commit(chunk(&doc, &(n as u32).to_be_bytes(), n as u8))
                            .unwrap()
                            .seq
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seqs = BTreeSet::new();
    for writer in writers {
        let own = writer.join().unwrap();
        assert!(own.windows(2).all(|w| w[0] < w[1]));
        seqs.extend(own);
    }

    if let (Some(before), Some(stats)) = (before, B::flush_stats(&store)) {
        let commits = stats.writes - before.writes;
        let flushes = stats.flushes - before.flushes;
        assert_eq!(commits, (WRITERS * COMMITS) as u64);
        assert!(
            flushes < commits,
            "{flushes} flushes for {commits} commits: commits did not share flushes"
        );
    }
    assert_eq!(
        seqs.len(),
        WRITERS * COMMITS,
        "every commit took its own seq"
    );
    assert_eq!(store.current_seq(), (WRITERS * COMMITS) as u64);

    for doc in &docs {
        let stored = store.load_document(&doc.id).unwrap().unwrap();
        let expected: Vec<Vec<u8>> = (0..COMMITS as u32)
            .map(|n| n.to_be_bytes().to_vec())
            .collect();
        assert_eq!(stored.chunks, expected);
    }
    assert_eq!(
        store.feed_after(0, None, 100).unwrap().entries.len(),
        WRITERS
    );
    assert_projection_matches_documents(store.as_ref());
}

/// Writers committing to the same documents at once: each commit reads
/// what the one before it wrote (where commits share a database
/// transaction, what it has not sent yet too), so the feed holds one entry
/// per document, at its last commit, and no chunk is lost.
fn concurrent_commits_to_one_document_each_read_the_last<B: Backing>(b: &B) {
    const WRITERS: usize = 6;
    const COMMITS: usize = 25;
    let store = Arc::new(b.open());
    let docs: Vec<Summary> = (0..2)
        .map(|_| dispute(&DocumentId::random(), A1, Status::Open, Risk::Medium))
        .collect();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = Arc::clone(&store);
            let doc = docs[writer % docs.len()].clone();
            thread::spawn(move || {
                for n in 0..COMMITS {
                    let bytes = [writer as u8, n as u8];
                    store.commit(chunk(&doc, &bytes, n as u8)).unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let feed = store.feed_after(0, None, 100).unwrap().entries;
    assert_eq!(feed.len(), docs.len(), "one feed entry per document");
    for doc in &docs {
        let meta = store.doc_meta(&doc.id).unwrap().unwrap();
        let entry = feed.iter().find(|e| e.id == doc.id).expect("in the feed");
        assert_eq!(entry.seq, meta.seq, "the entry is at the last commit");
        let stored = store.load_document(&doc.id).unwrap().unwrap();
        assert_eq!(stored.chunks.len(), WRITERS / docs.len() * COMMITS);
    }
    assert_projection_matches_documents(store.as_ref());
}

fn compaction_folds_chunks_into_the_snapshot<B: Backing>(b: &B) {
    let store = b.open();
    let doc = dispute(&DocumentId::random(), A1, Status::Open, Risk::Low);
    let small = dispute(&DocumentId::random(), A1, Status::Open, Risk::Low);
    store.commit(snapshot(&doc, b"S", 0)).unwrap();
    let mut seqs = Vec::new();
    for n in 1..=5u8 {
        seqs.push(store.commit(chunk(&doc, &[b'0' + n], n)).unwrap().seq);
    }
    store.commit(chunk(&small, b"x", 1)).unwrap();
    assert_eq!(
        store.documents_needing_compaction(3, 10).unwrap(),
        vec![doc.id.clone()]
    );
    assert_eq!(
        store.documents_needing_compaction(1, 10).unwrap(),
        vec![doc.id.clone(), small.id.clone()],
        "most chunks first"
    );

    let before = store.load_document(&doc.id).unwrap().unwrap();
    let meta_before = store.doc_meta(&doc.id).unwrap().unwrap();
    let feed_before = store.feed_after(0, None, 10).unwrap();
    assert_eq!(before.concatenated(), b"S12345");

    // Fold the snapshot and the first three chunks.
    store.compact(&doc.id, b"S123".to_vec(), seqs[2]).unwrap();
    let after = store.load_document(&doc.id).unwrap().unwrap();
    assert_eq!(after.snapshot, b"S123");
    assert_eq!(after.chunks, vec![b"4".to_vec(), b"5".to_vec()]);
    assert_eq!(after.concatenated(), before.concatenated());
    let meta = store.doc_meta(&doc.id).unwrap().unwrap();
    assert_eq!(
        (meta.snapshot_len, meta.chunks_len, meta.chunk_count),
        (4, 2, 2)
    );
    assert_eq!(meta.seq, meta_before.seq);
    assert_eq!(meta.heads, meta_before.heads);
    assert_eq!(store.feed_after(0, None, 10).unwrap(), feed_before);
    assert!(
        store
            .documents_needing_compaction(3, 10)
            .unwrap()
            .is_empty()
    );

    // A compaction computed from an older state than the snapshot is stale.
    assert!(matches!(
        store.compact(&doc.id, b"S1".to_vec(), seqs[0]),
        Err(StorageError::Conflict { .. })
    ));
    assert!(matches!(
        store.compact(&doc.id, b"S".to_vec(), meta.seq + 1),
        Err(StorageError::Invalid { .. })
    ));
    assert!(matches!(
        store.compact(&DocumentId::random(), b"S".to_vec(), 1),
        Err(StorageError::Invalid { .. })
    ));
    assert_eq!(store.load_document(&doc.id).unwrap().unwrap(), after);

    // Folding everything leaves no chunks, and survives a reopen.
    store
        .compact(&doc.id, after.concatenated(), after.seq)
        .unwrap();
    drop(store);
    let store = b.open();
    let folded = store.load_document(&doc.id).unwrap().unwrap();
    assert_eq!(folded.snapshot, b"S12345");
    assert!(folded.chunks.is_empty());
    assert_eq!(
        store.documents_needing_compaction(1, 10).unwrap(),
        vec![small.id.clone()]
    );
}

fn quarantine_sync_states_and_server_values<B: Backing>(b: &B) {
    let store = b.open();
    let doc = DocumentId::random();
    let device = DeviceId::random();
    let first = store
        .quarantine(QuarantineEntry {
            doc: doc.clone(),
            device: Some(device),
            at: 1,
            reason: "createdAt may not change".into(),
            code: ErrorCode::InvalidRecord,
            bytes: vec![0x85, 0x6f, 0x4a, 0x83],
            size: 4,
        })
        .unwrap();
    let second = store
        .quarantine(QuarantineEntry {
            doc: doc.clone(),
            device: None,
            at: 2,
            reason: "village outside the device's scope".into(),
            code: ErrorCode::Forbidden,
            bytes: vec![1, 2, 3],
            size: 3,
        })
        .unwrap();
    assert!(second > first);
    let listed = store.list_quarantine(10).unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, second, "newest first");
    assert_eq!(listed[0].entry.code, ErrorCode::Forbidden);
    assert_eq!(listed[1].entry.device, Some(device));
    assert_eq!(listed[1].entry.bytes, vec![0x85, 0x6f, 0x4a, 0x83]);
    assert_eq!(store.list_quarantine(1).unwrap().len(), 1);
    // Quarantined changes are not documents.
    assert_eq!(store.doc_meta(&doc).unwrap(), None);
    assert!(store.feed_after(0, None, 10).unwrap().entries.is_empty());

    assert_eq!(store.sync_state(b"peer-a", &doc).unwrap(), None);
    store.put_sync_state(b"peer-a", &doc, b"state-1").unwrap();
    store.put_sync_state(b"peer-b", &doc, b"state-2").unwrap();
    store.put_sync_state(b"peer-a", &doc, b"state-3").unwrap();
    assert_eq!(
        store.sync_state(b"peer-a", &doc).unwrap(),
        Some(b"state-3".to_vec())
    );
    assert_eq!(
        store.sync_state(b"peer-b", &doc).unwrap(),
        Some(b"state-2".to_vec())
    );

    assert_eq!(store.get_value(&ServerValue::CursorKey).unwrap(), None);
    store.put_value(&ServerValue::CursorKey, b"30").unwrap();
    assert_eq!(
        store.get_value(&ServerValue::CursorKey).unwrap(),
        Some(b"30".to_vec())
    );
    assert!(matches!(
        store.put_value(&ServerValue::SchemaVersion, b"mine"),
        Err(StorageError::Invalid { .. })
    ));
    // Families list their members only, by name.
    let device = DeviceId::random();
    store
        .put_value(&ServerValue::Device(device), b"device")
        .unwrap();
    store
        .put_value(&ServerValue::Person("p-2".into()), b"two")
        .unwrap();
    store
        .put_value(&ServerValue::Person("p-1".into()), b"one")
        .unwrap();
    assert_eq!(
        store.values_in(ValueFamily::Person).unwrap(),
        vec![
            (ServerValue::Person("p-1".into()), b"one".to_vec()),
            (ServerValue::Person("p-2".into()), b"two".to_vec()),
        ]
    );
    assert_eq!(
        store.values_in(ValueFamily::Device).unwrap(),
        vec![(ServerValue::Device(device), b"device".to_vec())]
    );
    assert!(store.values_in(ValueFamily::Actor).unwrap().is_empty());
}

fn a_backup_taken_while_committing_restores_a_consistent_store<B: Backing>(b: &B) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(b.open());
    let docs: Vec<Summary> = (0..5)
        .map(|n| {
            let code = [A1, A2, B1][n % 3];
            dispute(&DocumentId::random(), code, Status::Open, Risk::High)
        })
        .collect();
    let committed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));

    let writer = {
        let (store, docs, committed, stop) = (
            Arc::clone(&store),
            docs.clone(),
            Arc::clone(&committed),
            Arc::clone(&stop),
        );
        thread::spawn(move || {
            let mut n: u32 = 0;
            while !stop.load(Ordering::SeqCst) || n < 40 {
                // Commit n goes to document n % 5 and carries n; statuses
                // change so that the summaries change too.
                let base = &docs[n as usize % docs.len()];
                let status = [Status::Open, Status::Mediating, Status::Resolved][n as usize % 3];
                let summary = Summary {
                    status: Some(status),
                    ..base.clone()
                };
                store
                    .commit(chunk(&summary, &n.to_be_bytes(), n as u8))
                    .unwrap();
                n += 1;
                committed.store(u64::from(n), Ordering::SeqCst);
            }
            n
        })
    };
    while committed.load(Ordering::SeqCst) < 20 {
        thread::yield_now();
    }
    let backup = dir.path().join("store.backup");
    let report = store.backup_to(&backup).unwrap();
    stop.store(true, Ordering::SeqCst);
    let total = writer.join().unwrap();
    assert!(report.records > 0);

    let (restored_report, restored) = b.restore(&backup);
    assert_eq!(restored_report.records, report.records);

    // Every commit is in the copy entirely or not at all, and the copy holds
    // the commits up to one point: 0..k for some k.
    let mut carried = BTreeSet::new();
    let mut per_doc = BTreeMap::new();
    for doc in &docs {
        let Some(stored) = restored.load_document(&doc.id).unwrap() else {
            continue;
        };
        let meta = restored.doc_meta(&doc.id).unwrap().unwrap();
        assert_eq!(meta.chunk_count as usize, stored.chunks.len());
        let mut last = None;
        for chunk in &stored.chunks {
            let n = u32::from_be_bytes(chunk.as_slice().try_into().unwrap());
            carried.insert(n);
            last = Some(n);
        }
        // The summary is the one written by the document's last commit.
        let last = last.unwrap();
        let status = [Status::Open, Status::Mediating, Status::Resolved][last as usize % 3];
        assert_eq!(
            restored.summary(&doc.id).unwrap().unwrap().status,
            Some(status)
        );
        per_doc.insert(doc.id.clone(), meta.seq);
    }
    let k = carried.len() as u32;
    assert!(k >= 20 && k <= total, "{k} of {total}");
    assert_eq!(carried, (0..k).collect::<BTreeSet<_>>());
    assert_eq!(restored.current_seq(), u64::from(k));

    let feed = restored.feed_after(0, None, 100).unwrap();
    let feed_seqs: BTreeMap<_, _> = feed.entries.into_iter().map(|e| (e.id, e.seq)).collect();
    assert_eq!(feed_seqs, per_doc);
    assert_projection_matches_documents(&restored);

    // The restored store takes new commits after the copied sequence.
    let next = restored.commit(chunk(&docs[0], b"after", 1)).unwrap();
    assert_eq!(next.seq, u64::from(k) + 1);
}

#[test]
fn restore_refuses_damaged_backups_and_occupied_directories() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("live"));
    let doc = visit(&DocumentId::random(), A1, Sentiment::Neutral, false);
    store.commit(chunk(&doc, b"v", 1)).unwrap();
    let backup = dir.path().join("store.backup");
    store.backup_to(&backup).unwrap();

    let mut bytes = std::fs::read(&backup).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let damaged = dir.path().join("damaged.backup");
    std::fs::write(&damaged, &bytes).unwrap();
    let target = dir.path().join("from-damaged");
    assert!(matches!(
        SledStorage::restore_from(&damaged, &target),
        Err(StorageError::BadBackup { .. })
    ));
    assert!(!target.exists(), "nothing is written from a damaged backup");

    assert!(matches!(
        SledStorage::restore_from(&backup, &dir.path().join("live")),
        Err(StorageError::Invalid { .. })
    ));
}

fn corrupt_stored_values_are_typed_errors_not_panics<B: Backing>(b: &B) {
    let summary = dispute(&DocumentId::random(), A1, Status::Open, Risk::High);
    {
        let store = b.open();
        store.commit(chunk(&summary, b"c", 1)).unwrap();
    }
    let garbage: &[u8] = b"\x9f\x9f\x9f";
    b.overwrite(Space::Projection, &projection_key(A1, &summary.id), garbage);
    b.overwrite(Space::Feed, &1u64.to_be_bytes(), b"not a village");

    let store = b.open();
    let corrupt = |result: Result<(), StorageError>, what: &str| match result {
        Err(StorageError::Corrupt { what: found }) => assert_eq!(found, what),
        other => panic!("expected corrupt {what}, got {other:?}"),
    };
    corrupt(store.summary(&summary.id).map(drop), "projection summary");
    corrupt(
        store.summaries_in_scope(&scope(A1), None, 10).map(drop),
        "projection summary",
    );
    corrupt(store.feed_after(0, None, 10).map(drop), "change feed entry");
    // What is not damaged still reads.
    assert_eq!(store.heads_at(&summary.id, 1).unwrap(), Some(heads(1)));

    drop(store);
    b.overwrite(Space::DocMeta, &doc_key(&summary.id), garbage);
    let store = b.open();
    corrupt(store.doc_meta(&summary.id).map(drop), "document metadata");
    corrupt(
        store.load_document(&summary.id).map(drop),
        "document metadata",
    );
    let error = store.doc_meta(&summary.id).unwrap_err();
    assert_eq!(error.code(), ErrorCode::Internal);

    drop(store);
    b.overwrite(Space::Seq, b"", b"short");
    // Refused when opening (sled reads the sequence then) or at the first
    // commit that needs the next number.
    let error = match b.try_open() {
        Err(error) => error,
        Ok(store) => store
            .commit(chunk(&summary, b"d", 2))
            .expect_err("a corrupt sequence number"),
    };
    assert!(matches!(error, StorageError::Corrupt { .. }), "{error}");
}

fn a_store_of_another_schema_version_is_refused<B: Backing>(b: &B) {
    drop(b.open());
    b.overwrite(Space::Meta, b"schema_version", &99u32.to_be_bytes());
    assert!(matches!(
        b.try_open(),
        Err(StorageError::IncompatibleSchema {
            found: 99,
            supported: 1
        })
    ));
}

/// Crash simulation: a child process commits in a loop and reports each
/// acknowledged commit; it is killed without warning in the middle. After
/// reopening, every acknowledged commit must be there, nothing may be there
/// in part, and the sequence must go on after the last stored commit.
#[test]
fn killing_the_process_mid_commit_loses_no_acknowledged_commit() {
    const CHILD_DIR: &str = "FENGQIAO_STORAGE_CRASH_CHILD_DIR";
    const DOCS: usize = 4;
    let ids: Vec<DocumentId> = (0..DOCS as u8)
        .map(|n| DocumentId::from_bytes(&[n + 1; 16]).unwrap())
        .collect();
    let summary_of = |n: u32| {
        let status = [
            Status::Open,
            Status::Mediating,
            Status::Resolved,
            Status::Failed,
        ][n as usize % 4];
        dispute(
            &ids[n as usize % DOCS],
            [A1, B1][n as usize % 2],
            status,
            Risk::High,
        )
    };

    if let Ok(dir) = std::env::var(CHILD_DIR) {
        let store = open(Path::new(&dir));
        for n in 0..100_000u32 {
            let seq = store
                .commit(chunk(&summary_of(n), &n.to_be_bytes(), n as u8))
                .unwrap()
                .seq;
            println!("acked {n} {seq}");
        }
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "killing_the_process_mid_commit_loses_no_acknowledged_commit",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut acked = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("acked ") {
            let (n, seq) = rest.split_once(' ').unwrap();
            acked.push((n.parse::<u32>().unwrap(), seq.parse::<u64>().unwrap()));
            if acked.len() == 150 {
                child.kill().unwrap();
                break;
            }
        }
    }
    child.wait().unwrap();
    assert_eq!(acked.len(), 150, "the child stopped before it was killed");

    let store = open(dir.path());
    let mut carried = BTreeSet::new();
    for id in &ids {
        let stored = store.load_document(id).unwrap().unwrap();
        let meta = store.doc_meta(id).unwrap().unwrap();
        assert_eq!(meta.chunk_count as usize, stored.chunks.len());
        let last = stored
            .chunks
            .iter()
            .map(|chunk| u32::from_be_bytes(chunk.as_slice().try_into().unwrap()))
            .inspect(|n| {
                carried.insert(*n);
            })
            .last()
            .unwrap();
        assert_eq!(store.summary(id).unwrap(), Some(summary_of(last)));
        assert_eq!(
            store.heads_at(id, meta.seq).unwrap(),
            Some(heads(last as u8))
        );
    }
    let k = carried.len() as u32;
    assert_eq!(
        carried,
        (0..k).collect::<BTreeSet<_>>(),
        "no gaps, no partial commits"
    );
    for (n, seq) in &acked {
        assert!(
            carried.contains(n),
            "acknowledged commit {n} (seq {seq}) was lost"
        );
    }
    assert_eq!(store.current_seq(), u64::from(k));
    assert_projection_matches_documents(&store);
    let feed = store.feed_after(0, None, 100).unwrap();
    assert_eq!(feed.entries.len(), DOCS);
    let next = store.commit(chunk(&summary_of(k), b"after", 0)).unwrap();
    assert_eq!(next.seq, u64::from(k) + 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Whatever sequence of record versions is committed and records
    /// removed, the projection index holds exactly the latest summary of
    /// each stored record.
    #[test]
    fn the_projection_index_always_matches_the_documents(
        steps in prop::collection::vec(
            (0usize..4, 0usize..3, 0usize..5, 0usize..3, any::<bool>(), any::<bool>(), 0u8..8),
            1..25,
        )
    ) {
        projection_matches_documents_after(&Sled::new(), &steps);
        projection_matches_documents_after(&Memory::new(), &steps);
    }
}

/// Document, village, status, risk, duplicate or follow-up, visit, and
/// (when 0) removal of the document instead of a commit.
type Step = (usize, usize, usize, usize, bool, bool, u8);

fn projection_matches_documents_after<B: Backing>(b: &B, steps: &[Step]) {
    {
        let store = b.open();
        let ids: Vec<DocumentId> = (0..4).map(|_| DocumentId::random()).collect();
        let mut latest = BTreeMap::new();
        let mut removed = BTreeSet::new();
        for (n, &(doc, place, status, risk, duplicate, is_visit, remove)) in
            steps.iter().enumerate()
        {
            let code = [A1, A2, B1][place];
            let id = &ids[doc];
            // A removed record stays removed, as the server keeps it.
            if removed.contains(id) {
                continue;
            }
            if remove == 0 {
                let gone = store.remove_document(id).unwrap();
                assert_eq!(gone.is_some(), latest.remove(id).is_some());
                removed.insert(id.clone());
                continue;
            }
            // A document keeps its kind; its other fields change freely.
            let summary = if doc % 2 == 0 && is_visit {
                visit(id, code, Sentiment::ALL[status % 4], duplicate)
            } else {
                let mut summary = dispute(
                    id,
                    code,
                    Status::ALL[status],
                    [Risk::Low, Risk::Medium, Risk::High][risk],
                );
                if duplicate {
                    summary.duplicate_of = Some(ids[(doc + 1) % 4].clone());
                }
                summary
            };
            store.commit(chunk(&summary, b"x", n as u8)).unwrap();
            latest.insert(id.clone(), summary);
        }
        assert_eq!(assert_projection_matches_documents(&store), latest);
    }
}

// --- direct access to the stored bytes, for corruption tests ---------------

fn doc_key(id: &DocumentId) -> Vec<u8> {
    let mut key = vec![id.as_bytes().len() as u8];
    key.extend_from_slice(id.as_bytes());
    key
}

fn projection_key(code: &str, id: &DocumentId) -> Vec<u8> {
    let mut key = code.as_bytes().to_vec();
    key.extend_from_slice(id.as_bytes());
    key
}

/// The key of a village's counters, as older versions kept them.
fn counters_key(code: &str) -> Vec<u8> {
    code.as_bytes().to_vec()
}

/// Replaces one stored value, bypassing the storage layer (the store must be
/// closed).
fn overwrite(path: &Path, key: &[u8], value: &[u8]) {
    // sled lets go of a closed store's lock from background threads: wait
    // it out, as the server does when it opens a store.
    let db = fengqiao_shared::sled_open::open(&sled::Config::new().path(path)).unwrap();
    let tree = db.open_tree("fengqiao").unwrap();
    assert!(
        tree.insert(key, value).unwrap().is_some(),
        "the key {key:?} should exist"
    );
    db.flush().unwrap();
}

/// sled releases its directory lock from its own threads a moment after the
/// last handle is dropped, so a store closed a moment ago (as `fengqiao
/// restore` closes what it wrote before opening it) may still be locked:
/// opening waits that out instead of failing.
#[test]
fn opening_waits_for_a_lock_released_a_moment_later() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    drop(open(&path));
    // Taking the lock here waits out the close just above, as the store does.
    let held = fengqiao_shared::sled_open::open(&sled::Config::new().path(&path)).unwrap();
    let releaser = thread::spawn(move || {
        thread::sleep(std::time::Duration::from_millis(300));
        drop(held);
    });
    let reopened = SledStorage::open(&StorageConfig::new(&path));
    releaser.join().unwrap();
    assert!(reopened.is_ok(), "{:?}", reopened.err());
}

fn the_quarantine_stays_within_its_bounds_per_device_and_in_all_across_reopens<B: Backing>(b: &B) {
    let bounds = QuarantineBounds {
        entry_bytes: 1024,
        device_bytes: 8 * 1024,
        total_bytes: 12 * 1024,
    };
    let noisy = DeviceId::random();
    let quiet = DeviceId::random();
    let entry = |device: DeviceId, n: u8| {
        QuarantineEntry::new(
            DocumentId::random(),
            Some(device),
            n as i64,
            "refused".into(),
            ErrorCode::InvalidRecord,
            &vec![n; 8 * 1024 * 1024],
            1024,
        )
    };
    let stored_bytes = |store: &B::Store, device: DeviceId| -> usize {
        store
            .list_quarantine(usize::MAX)
            .unwrap()
            .iter()
            .filter(|q| q.entry.device == Some(device))
            .map(|q| q.entry.bytes.len())
            .sum()
    };
    {
        let store = b.try_open_with(bounds).unwrap();
        store.quarantine(entry(quiet, 0)).unwrap();
        for n in 1..=40u8 {
            store.quarantine(entry(noisy, n)).unwrap();
        }
        let listed = store.list_quarantine(usize::MAX).unwrap();
        assert!(listed.iter().all(|q| q.entry.size == 8 * 1024 * 1024));
        assert!(listed.iter().all(|q| q.entry.bytes.len() == 1024));
        // Each entry takes a little over 1 KiB: at most seven of the noisy
        // device, the newest; the quiet device's one entry is kept.
        assert!(stored_bytes(&store, noisy) <= 8 * 1024);
        assert!(stored_bytes(&store, noisy) >= 5 * 1024);
        assert_eq!(stored_bytes(&store, quiet), 1024);
        let newest = &listed[0].entry;
        assert_eq!(newest.bytes[0], 40, "the newest are kept");
        assert!(store.quarantine_dropped() >= 33);
    }
    // Reopened, the store counts what it holds and keeps to the bounds.
    let store = b.try_open_with(bounds).unwrap();
    for n in 41..=60u8 {
        store.quarantine(entry(noisy, n)).unwrap();
    }
    assert!(stored_bytes(&store, noisy) <= 8 * 1024);
    assert_eq!(stored_bytes(&store, quiet), 1024);
    for n in 0..20u8 {
        store.quarantine(entry(DeviceId::random(), n)).unwrap();
    }
    let total: usize = store
        .list_quarantine(usize::MAX)
        .unwrap()
        .iter()
        .map(|q| q.entry.bytes.len())
        .sum();
    assert!(total <= 12 * 1024, "{total}");
}

fn removing_a_document_takes_everything_of_it<B: Backing>(b: &B) {
    let store = b.open();
    let gone = dispute(&DocumentId::random(), A1, Status::Open, Risk::High);
    let kept = dispute(&DocumentId::random(), A1, Status::Mediating, Risk::Low);
    store.commit(snapshot(&gone, b"S", 1)).unwrap();
    store.commit(chunk(&gone, b"+", 2)).unwrap();
    store.commit(chunk(&kept, b"k", 3)).unwrap();
    assert_eq!(store.remove_document(&DocumentId::random()).unwrap(), None);

    let seq = store.remove_document(&gone.id).unwrap().unwrap();
    assert_eq!(seq, 4, "the removal takes the next sequence number");
    assert_eq!(store.load_document(&gone.id).unwrap(), None);
    assert_eq!(store.doc_meta(&gone.id).unwrap(), None);
    assert_eq!(store.summary(&gone.id).unwrap(), None);
    assert_eq!(store.heads_at(&gone.id, 10).unwrap(), None);
    // The feed shows the removal after every cursor that saw the record.
    let feed = store.feed_after(3, None, 10).unwrap();
    assert_eq!(feed.entries.len(), 1);
    assert_eq!((feed.entries[0].seq, &feed.entries[0].id), (4, &gone.id));
    assert_eq!(
        all_summaries(&store, &scope(DISTRICT)),
        vec![kept.clone()],
        "only the kept record is indexed"
    );
    assert_projection_matches_documents(&store);
    assert!(
        store
            .documents_needing_compaction(1, 10)
            .unwrap()
            .iter()
            .all(|id| *id != gone.id)
    );
}

/// Stores made before the store's id had one name hold it as `storage_id`
/// only: it is read through the current name and kept under it from the
/// next opening on.
#[test]
fn a_storage_id_under_its_older_name_is_read_and_renamed() {
    let legacy = |put: &mut dyn FnMut(&[u8], &[u8])| {
        put(b"schema_version", &1u32.to_be_bytes());
        put(b"storage_id", b"old-id");
    };
    // On sled, as an older server left its directory.
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree("fengqiao").unwrap();
        legacy(&mut |name, value| {
            tree.insert(Space::Meta.tagged(name), value).unwrap();
        });
        db.flush().unwrap();
    }
    let store = open(dir.path());
    assert_eq!(
        store.get_value(&ServerValue::StorageId).unwrap(),
        Some(b"old-id".to_vec())
    );
    drop(store);
    {
        let db = fengqiao_shared::sled_open::open(&sled::Config::new().path(dir.path())).unwrap();
        let tree = db.open_tree("fengqiao").unwrap();
        assert_eq!(
            tree.get(Space::Meta.tagged(b"storage-id"))
                .unwrap()
                .as_deref(),
            Some(&b"old-id"[..])
        );
    }

    // In memory, through a raw transaction.
    let memory = MemoryBackend::new();
    block_on(async {
        let mut txn = memory.write().await.unwrap();
        legacy(&mut |name, value| txn.put(Space::Meta, name.to_vec(), value.to_vec()));
        txn.commit(Durability::Flushed).await.unwrap();
    });
    let store = Store::open_on(memory.clone(), QuarantineBounds::default()).unwrap();
    assert_eq!(
        store.get_value(&ServerValue::StorageId).unwrap(),
        Some(b"old-id".to_vec())
    );
    // Renewing the id (a restore) leaves one name only.
    store.put_value(&ServerValue::StorageId, b"new-id").unwrap();
    let names: Vec<Vec<u8>> = memory
        .entries()
        .into_iter()
        .filter(|(space, _)| *space == Space::Meta)
        .map(|(_, (key, _))| key)
        .collect();
    assert_eq!(
        names,
        vec![b"schema_version".to_vec(), b"storage-id".to_vec()]
    );
}

/// The per-village counter entries `backend` holds (as older versions kept
/// them), read with the backend directly.
fn counter_entries<B: Backend>(backend: &B) -> Vec<(Vec<u8>, Vec<u8>)> {
    use fengqiao_server::storage::backend::{Consistency, KeyRange, ReadView};
    block_on(async {
        let view = backend.read(Consistency::Snapshot).await.unwrap();
        view.scan(Space::Counters, &KeyRange::all()).await.unwrap()
    })
}

/// Every record of a backup file, as `tag ‖ key` and value.
fn backup_records(path: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut reader = BackupReader::open(path).unwrap();
    let mut records = Vec::new();
    while let Some(record) = reader.next_record().unwrap() {
        records.push(record);
    }
    records
}

/// Stores written by older versions hold per-village counters (tag `n`)
/// that every commit read and wrote back. They are ignored now: such a
/// store opens, commits and removes records without reading or writing
/// them, a backup of it leaves them out, and a backup an older version
/// wrote, with them in, restores without them.
#[test]
fn counters_an_older_version_left_are_ignored_by_commits_backups_and_restores() {
    // As an older version encoded them (CBOR): one dispute in A1, one
    // visit in B1. A commit that still counted would find them wrong.
    let old_counters: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (counters_key(A1), b"\xa1\x68disputes\x01".to_vec()),
        (counters_key(B1), b"\xa1\x66visits\x01".to_vec()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let d = dispute(&DocumentId::random(), A1, Status::Open, Risk::High);
    let v = visit(&DocumentId::random(), B1, Sentiment::Neutral, false);
    let kept = visit(&DocumentId::random(), A2, Sentiment::Positive, true);
    {
        let store = open(&path);
        store.commit(snapshot(&d, b"dispute", 1)).unwrap();
        store.commit(snapshot(&v, b"visit", 2)).unwrap();
        store.commit(snapshot(&kept, b"kept", 3)).unwrap();
    }
    {
        let backend = SledBackend::open(&StorageConfig::new(&path)).unwrap();
        block_on(async {
            let mut txn = backend.write().await.unwrap();
            for (key, value) in &old_counters {
                txn.put(Space::Counters, key.clone(), value.clone());
            }
            txn.commit(Durability::Flushed).await.unwrap();
        });
    }

    let store = open(&path);
    let resolved = Summary {
        status: Some(Status::Resolved),
        ..d.clone()
    };
    assert_eq!(store.commit(chunk(&resolved, b"+", 4)).unwrap().seq, 4);
    assert_eq!(store.remove_document(&v.id).unwrap(), Some(5));
    assert_eq!(
        counter_entries(store.backend()),
        old_counters,
        "commits and removals leave the old counters alone"
    );
    let indexed = assert_projection_matches_documents(&store);
    assert_eq!(
        indexed,
        BTreeMap::from([(d.id.clone(), resolved), (kept.id.clone(), kept.clone())])
    );

    // A backup leaves them out.
    let backup = dir.path().join("new.backup");
    let report = store.backup_to(&backup).unwrap();
    let records = backup_records(&backup);
    assert_eq!(records.len() as u64, report.records);
    assert!(
        records
            .iter()
            .all(|(key, _)| key.first() != Some(&Space::Counters.tag())),
        "a backup holds no counters"
    );

    // A backup as an older version wrote it: the counters before the
    // projection index.
    let older = dir.path().join("older.backup");
    let mut writer = BackupWriter::create(&older).unwrap();
    let mut counters_written = false;
    for (key, value) in &records {
        if !counters_written && key.first() == Some(&Space::Projection.tag()) {
            for (counters, value) in &old_counters {
                writer
                    .record(&Space::Counters.tagged(counters), value)
                    .unwrap();
            }
            counters_written = true;
        }
        writer.record(key, value).unwrap();
    }
    assert!(counters_written);
    let older_report = writer.finish().unwrap();
    assert_eq!(older_report.records, report.records + 2);

    // Restored into sled and into memory, without the counters.
    let into = dir.path().join("restored");
    assert_eq!(
        SledStorage::restore_from(&older, &into).unwrap().records,
        older_report.records
    );
    let restored = open(&into);
    assert!(counter_entries(restored.backend()).is_empty());
    assert_eq!(assert_projection_matches_documents(&restored), indexed);
    assert_eq!(
        restored.load_document(&d.id).unwrap(),
        store.load_document(&d.id).unwrap()
    );
    assert_eq!(restored.commit(chunk(&kept, b"+", 6)).unwrap().seq, 6);

    let memory = MemoryBackend::new();
    block_on(Store::restore_into(&memory, &older)).unwrap();
    assert!(
        memory
            .entries()
            .iter()
            .all(|(space, _)| *space != Space::Counters)
    );
    let restored = Store::open_on(memory, QuarantineBounds::default()).unwrap();
    assert_eq!(assert_projection_matches_documents(&restored), indexed);
}

// --- crash tests: the crash-test backend dies at every point -------------

/// What the crash workload does at step `n`: commit `n` goes to document
/// `n % 3` and carries `n` (4 bytes) as its chunk; every seventh step also
/// folds document 0 into a snapshot, every fifth quarantines a change.
const CRASH_DOCS: usize = 3;

fn crash_ids() -> Vec<DocumentId> {
    (0..CRASH_DOCS as u8)
        .map(|n| DocumentId::from_bytes(&[0x40 + n; 16]).unwrap())
        .collect()
}

fn crash_summary(ids: &[DocumentId], n: u32) -> Summary {
    let status = [Status::Open, Status::Mediating, Status::Resolved][n as usize % 3];
    dispute(
        &ids[n as usize % CRASH_DOCS],
        [A1, B1][n as usize % 2],
        status,
        [Risk::High, Risk::Low][n as usize % 2],
    )
}

/// The numbers a document's bytes carry, in order.
fn carried_numbers(bytes: &[u8]) -> Vec<u32> {
    assert!(bytes.len().is_multiple_of(4), "a commit's bytes are whole");
    bytes
        .chunks_exact(4)
        .map(|n| u32::from_be_bytes(n.try_into().unwrap()))
        .collect()
}

/// What the workload was told had succeeded before the crash.
#[derive(Default)]
struct Acknowledged {
    commits: Vec<(u32, u64)>,
    quarantined: Vec<u64>,
    /// The last server value acknowledged.
    value: Option<Vec<u8>>,
}

/// Runs the workload until the store fails (the backend died).
fn crash_workload(store: &dyn Storage, ids: &[DocumentId], steps: u32) -> Acknowledged {
    let mut acked = Acknowledged::default();
    for n in 0..steps {
        let summary = crash_summary(ids, n);
        match store.commit(chunk(&summary, &n.to_be_bytes(), n as u8)) {
            Ok(receipt) => acked.commits.push((n, receipt.seq)),
            Err(_) => return acked,
        }
        if n % 7 == 6 {
            let Ok(Some(stored)) = store.load_document(&ids[0]) else {
                return acked;
            };
            if store
                .compact(&ids[0], stored.concatenated(), stored.seq)
                .is_err()
            {
                return acked;
            }
        }
        if n % 5 == 4 {
            let entry = QuarantineEntry {
                doc: ids[1].clone(),
                device: None,
                at: i64::from(n),
                reason: "refused".into(),
                code: ErrorCode::InvalidRecord,
                bytes: n.to_be_bytes().to_vec(),
                size: 4,
            };
            match store.quarantine(entry) {
                Ok(id) => acked.quarantined.push(id),
                Err(_) => return acked,
            }
            let value = n.to_be_bytes().to_vec();
            if store.put_sync_state(b"peer", &ids[2], &value).is_err() {
                return acked;
            }
            match store.put_value(&ServerValue::Epoch, &value) {
                Ok(()) => acked.value = Some(value),
                Err(_) => return acked,
            }
        }
    }
    acked
}

/// After a restart: every acknowledged commit is there, no commit is there
/// in part, and the sequence numbers readers see have no gaps.
fn check_after_crash(store: &dyn Storage, ids: &[DocumentId], acked: &Acknowledged) {
    let mut carried = BTreeSet::new();
    let mut logged = BTreeSet::new();
    for id in ids {
        let Some(stored) = store.load_document(id).unwrap() else {
            continue;
        };
        let meta = store.doc_meta(id).unwrap().unwrap();
        assert_eq!(meta.chunk_count as usize, stored.chunks.len());
        let numbers = carried_numbers(&stored.concatenated());
        assert!(
            numbers.windows(2).all(|w| w[0] < w[1]),
            "{numbers:?} in commit order"
        );
        let last = *numbers.last().unwrap();
        carried.extend(numbers);
        // The document's metadata, summary and heads are its last commit's.
        assert_eq!(store.summary(id).unwrap(), Some(crash_summary(ids, last)));
        assert_eq!(meta.heads, heads(last as u8));
        assert_eq!(
            store.heads_at(id, meta.seq).unwrap(),
            Some(heads(last as u8))
        );
        // Every commit of the document is in its heads log (few enough).
        for seq in 1..=store.current_seq() {
            let now = store.heads_at(id, seq).unwrap();
            if now.is_some() && now != store.heads_at(id, seq - 1).unwrap() {
                logged.insert(seq);
            }
        }
    }
    let k = carried.len() as u32;
    assert_eq!(
        carried,
        (0..k).collect::<BTreeSet<_>>(),
        "commits land in order and whole"
    );
    for (n, seq) in &acked.commits {
        assert!(
            carried.contains(n),
            "acknowledged commit {n} (seq {seq}) was lost"
        );
    }
    // At most the one commit in flight when the process died is there
    // without having been acknowledged.
    assert!(k as usize <= acked.commits.len() + 1);

    let quarantined: BTreeSet<u64> = store
        .list_quarantine(usize::MAX)
        .unwrap()
        .into_iter()
        .map(|q| q.id)
        .collect();
    for id in &acked.quarantined {
        assert!(quarantined.contains(id), "quarantined change {id} lost");
    }
    // Every sequence number up to the current one was taken by exactly one
    // commit or quarantined change: readers see no gap and nothing past it.
    let current = store.current_seq();
    assert!(logged.is_disjoint(&quarantined));
    let taken: BTreeSet<u64> = logged.union(&quarantined).copied().collect();
    assert_eq!(taken, (1..=current).collect::<BTreeSet<_>>());

    let feed = store.feed_after(0, None, 100).unwrap();
    assert!(feed.entries.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(feed.entries.iter().all(|e| e.seq <= current));
    assert_eq!(feed.entries.len(), ids.len().min(k as usize));
    assert_projection_matches_documents(store);
    if let Some(value) = &acked.value {
        let stored = store.get_value(&ServerValue::Epoch).unwrap().unwrap();
        // The value acknowledged last, or one written after it.
        assert!(stored.as_slice() >= value.as_slice());
    }

    // The store goes on after the last number it holds.
    let next = store
        .commit(chunk(&crash_summary(ids, k), &k.to_be_bytes(), k as u8))
        .unwrap();
    assert_eq!(next.seq, current + 1);
}

/// The points a write transaction can die at.
fn crash_points() -> Vec<CrashPoint> {
    let mut points: Vec<CrashPoint> = [0, 1, 2, 5, 9]
        .into_iter()
        .map(|writes| CrashPoint::MidTransaction { writes })
        .collect();
    points.extend([CrashPoint::BeforeCommit, CrashPoint::AfterCommit]);
    points
}

/// Write transactions the workload opens before it is done (a commit, a
/// compaction, a quarantined change, a value and a sync state each open
/// one), so that crashes land all over it.
const CRASH_STEPS: u32 = 20;
const CRASH_AT: [u64; 6] = [1, 2, 6, 11, 17, 26];

#[test]
fn a_crash_at_any_point_of_a_memory_transaction_loses_nothing_acknowledged() {
    let ids = crash_ids();
    for point in crash_points() {
        for nth in CRASH_AT {
            let memory = MemoryBackend::new();
            let backend = CrashBackend::new(memory.clone());
            let store = Store::open_on(backend.clone(), QuarantineBounds::default()).unwrap();
            backend.crash_at(nth, point);
            let acked = crash_workload(&store, &ids, CRASH_STEPS);
            assert!(backend.crashed(), "{point:?} at {nth}: never crashed");
            // Nothing runs after a kill.
            assert!(
                store
                    .commit(chunk(&crash_summary(&ids, 0), b"late", 0))
                    .is_err()
            );
            drop(store);
            let restarted = Store::open_on(memory, QuarantineBounds::default()).unwrap();
            check_after_crash(&restarted, &ids, &acked);
        }
    }
}

#[test]
fn a_crash_at_any_point_of_a_sled_transaction_loses_nothing_acknowledged() {
    let ids = crash_ids();
    for point in crash_points() {
        for nth in [2, 11, 26] {
            let dir = tempfile::tempdir().unwrap();
            let config = StorageConfig::new(dir.path());
            let backend = CrashBackend::new(SledBackend::open(&config).unwrap());
            let store = Store::open_on(backend, QuarantineBounds::default()).unwrap();
            store.backend().crash_at(nth, point);
            let acked = crash_workload(&store, &ids, CRASH_STEPS);
            assert!(
                store.backend().crashed(),
                "{point:?} at {nth}: never crashed"
            );
            drop(store);
            check_after_crash(&open(dir.path()), &ids, &acked);
        }
    }
}

#[test]
fn a_crash_at_any_point_of_a_postgres_transaction_loses_nothing_acknowledged() {
    let Some(_backing) = Postgres::new() else {
        return;
    };
    let ids = crash_ids();
    for point in crash_points() {
        for nth in [2, 11, 26] {
            let schema = TestSchema::new().unwrap();
            let backend = CrashBackend::new(PgBackend::connect(&schema.config, true).unwrap());
            let store = Store::open_on(backend, QuarantineBounds::default()).unwrap();
            store.backend().crash_at(nth, point);
            let acked = crash_workload(&store, &ids, CRASH_STEPS);
            assert!(
                store.backend().crashed(),
                "{point:?} at {nth}: never crashed"
            );
            drop(store);
            let restarted = Store::open_on(
                PgBackend::connect(&schema.config, true).unwrap(),
                QuarantineBounds::default(),
            )
            .unwrap();
            check_after_crash(&restarted, &ids, &acked);
        }
    }
}

/// Without a crash the workload runs to its end and the same checks hold:
/// the checks are not satisfied by an empty store alone.
#[test]
fn the_crash_workload_without_a_crash_keeps_everything() {
    let ids = crash_ids();
    let memory = MemoryBackend::new();
    let store = Store::open_on(
        CrashBackend::new(memory.clone()),
        QuarantineBounds::default(),
    )
    .unwrap();
    let acked = crash_workload(&store, &ids, CRASH_STEPS);
    assert_eq!(acked.commits.len(), CRASH_STEPS as usize);
    assert_eq!(acked.quarantined.len(), (CRASH_STEPS / 5) as usize);
    drop(store);
    check_after_crash(
        &Store::open_on(memory, QuarantineBounds::default()).unwrap(),
        &ids,
        &acked,
    );
}

/// The store's async methods are `Send` futures: tasks of a multi-threaded
/// runtime commit and read through them directly.
#[test]
fn tasks_of_a_multi_threaded_runtime_commit_and_read_through_the_async_store() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let store =
        Arc::new(Store::open_on(MemoryBackend::new(), QuarantineBounds::default()).unwrap());
    let docs: Vec<Summary> = (0..8)
        .map(|n| {
            dispute(
                &DocumentId::random(),
                [A1, B1][n % 2],
                Status::Open,
                Risk::Low,
            )
        })
        .collect();
    let seqs = runtime.block_on(async {
        let tasks: Vec<_> = docs
            .iter()
            .cloned()
            .map(|doc| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let mut seqs = Vec::new();
                    for n in 0..5u8 {
                        seqs.push(store.commit_async(chunk(&doc, &[n], n)).await.unwrap().seq);
                    }
                    let stored = store.load_document_async(&doc.id).await.unwrap().unwrap();
                    assert_eq!(stored.concatenated(), vec![0, 1, 2, 3, 4]);
                    seqs
                })
            })
            .collect();
        let mut all = BTreeSet::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        all
    });
    assert_eq!(seqs, (1..=40).collect::<BTreeSet<u64>>());
    let feed = runtime
        .block_on(store.feed_after_async(0, Some(&scope(TOWN_A)), 100))
        .unwrap();
    assert_eq!(feed.entries.len(), 4);
    assert_projection_matches_documents(store.as_ref());
}

// --- several servers on one PostgreSQL store ---------------------------------

/// What one server's writes announce reaches the other servers on the same
/// store, marked as theirs, and only once committed.
#[test]
fn postgres_commits_are_announced_to_every_server_on_the_store() {
    let Some(backing) = Postgres::new() else {
        return;
    };
    let a = backing.open();
    let b = backing.open();
    let mut heard_by_a = a.announcements().expect("a shared store announces");
    let mut heard_by_b = b.announcements().expect("a shared store announces");
    let id = DocumentId::random();
    let seq = a
        .commit(snapshot(
            &dispute(&id, A1, Status::Open, Risk::Low),
            b"doc",
            1,
        ))
        .unwrap()
        .seq;
    // A refused commit announces nothing.
    // Asked of the store, the other server knows the commit at once, not
    // only once the announcement arrives.
    assert_eq!(b.latest_seq().unwrap(), seq);
    let mut stale = chunk(&dispute(&id, A1, Status::Open, Risk::Low), b"x", 2);
    stale.expected_seq = Some(seq + 100);
    assert!(a.commit(stale).is_err());
    b.put_value(&ServerValue::Session("ab".into()), b"v")
        .unwrap();
    let next = |rx: &mut tokio::sync::broadcast::Receiver<Announcement>| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match rx.try_recv() {
                Ok(found) => return found,
                Err(tokio::sync::broadcast::error::TryRecvError::Empty)
                    if std::time::Instant::now() < deadline =>
                {
                    thread::sleep(std::time::Duration::from_millis(5))
                }
                Err(e) => panic!("no announcement: {e:?}"),
            }
        }
    };
    let change = format!("c {id} {A1}");
    assert_eq!(
        next(&mut heard_by_b),
        Announcement::Committed {
            own: false,
            seq,
            text: change.clone()
        }
    );
    assert_eq!(
        next(&mut heard_by_a),
        Announcement::Committed {
            own: true,
            seq,
            text: change
        }
    );
    assert_eq!(
        next(&mut heard_by_a),
        Announcement::Committed {
            own: false,
            seq: 0,
            text: "v session/ab".into()
        }
    );
    // The other server knows the sequence number reached.
    assert_eq!(b.current_seq(), seq);
}

/// Within a fresh scope a server answers from its cache, and a fresh scope
/// sees every commit that any server on the store made before it began:
/// metadata, whole documents and server values cached before another
/// server changed them, and the server's own writes.
#[test]
fn a_fresh_scope_sees_what_any_server_committed_before_it() {
    let Some(backing) = Postgres::new() else {
        return;
    };
    let (a, b) = (backing.open(), backing.open());
    let id = DocumentId::random();
    let summary = dispute(&id, A1, Status::Open, Risk::Low);
    let value = ServerValue::Session("cd".into());
    let first = a.commit(snapshot(&summary, b"doc", 1)).unwrap().seq;
    b.put_value(&value, b"one").unwrap();
    let read = |store: &dyn Storage| {
        let _fresh = store.fresh();
        (
            store.doc_meta(&id).unwrap().map(|m| m.seq),
            store.load_document(&id).unwrap().map(|d| d.concatenated()),
            store.get_value(&value).unwrap(),
        )
    };
    assert_eq!(
        read(&b),
        (Some(first), Some(b"doc".to_vec()), Some(b"one".to_vec()))
    );
    // The second time, from the cache.
    let (hits, _, _) = b.read_cache_stats().expect("a cache");
    assert_eq!(
        read(&b),
        (Some(first), Some(b"doc".to_vec()), Some(b"one".to_vec()))
    );
    let (more_hits, _, held) = b.read_cache_stats().expect("a cache");
    assert!(more_hits >= hits + 3, "{hits} then {more_hits} hits");
    assert!(held > 0);
    // The other server changes all three: seen at once, however soon.
    for round in 0..20u8 {
        let seq = a.commit(chunk(&summary, &[round], 2 + round)).unwrap().seq;
        a.put_value(&value, &[round]).unwrap();
        let (meta, doc, got) = read(&b);
        assert_eq!(meta, Some(seq), "round {round}");
        assert_eq!(doc.map(|d| d.len()), Some(3 + usize::from(round) + 1));
        assert_eq!(got, Some(vec![round]), "round {round}");
        // And this server's own writes.
        b.put_value(&value, b"mine").unwrap();
        assert_eq!(read(&b).2, Some(b"mine".to_vec()));
    }
    // Outside a scope, reads ask the store and count no hit.
    let (hits, _, _) = b.read_cache_stats().expect("a cache");
    b.doc_meta(&id).unwrap();
    assert_eq!(b.read_cache_stats().expect("a cache").0, hits);
}

/// Pooled connections plan each statement once, for any parameters,
/// unless the store's address says otherwise.
#[test]
fn pooled_connections_plan_their_statements_once() {
    let Some(backing) = Postgres::new() else {
        return;
    };
    let backend = backing.backend().unwrap();
    assert_eq!(backend.plan_cache_mode().unwrap(), "force_generic_plan");
    drop(backend);
    let mut config = backing.schema.config.clone();
    let separator = if config.url.contains('?') { '&' } else { '?' };
    config.url = format!(
        "{}{separator}options=-c%20plan_cache_mode%3Dauto",
        config.url
    );
    let backend = PgBackend::connect(&config, true).unwrap();
    assert_eq!(backend.plan_cache_mode().unwrap(), "auto");
}

/// A fresh scope shared with another thread (the workers that apply a
/// request's uploads) makes that thread's reads as fresh, answered from
/// the cache; a thread not given it asks the store.
#[test]
fn a_fresh_scope_shared_with_another_thread_reads_from_the_cache_there() {
    let Some(backing) = Postgres::new() else {
        return;
    };
    let (a, b) = (backing.open(), backing.open());
    let id = DocumentId::random();
    let seq = a
        .commit(chunk(&dispute(&id, A1, Status::Open, Risk::Low), b"1", 1))
        .unwrap()
        .seq;
    let fresh = b.fresh();
    assert_eq!(b.doc_meta(&id).unwrap().map(|m| m.seq), Some(seq));
    let shared = fresh.shared().expect("a scope to share");
    let hits = || b.read_cache_stats().expect("a cache").0;
    let before = hits();
    thread::scope(|s| {
        s.spawn(|| {
            let _fresh = shared.enter();
            assert_eq!(b.doc_meta(&id).unwrap().map(|m| m.seq), Some(seq));
        });
    });
    assert!(hits() > before, "read from the cache on the other thread");
    let before = hits();
    thread::scope(|s| {
        s.spawn(|| assert_eq!(b.doc_meta(&id).unwrap().map(|m| m.seq), Some(seq)));
    });
    assert_eq!(hits(), before, "a thread without the scope asks the store");
    drop(fresh);
}

/// When the connection a server listens on is lost, commits announced
/// meanwhile go unheard: the server forgets everything it cached as it
/// listens again, and a fresh scope waits for that, so nothing stale is
/// served.
#[test]
fn a_lost_listening_connection_leaves_nothing_stale_in_the_cache() {
    let Some(backing) = Postgres::new() else {
        return;
    };
    let (a, b) = (backing.open(), backing.open());
    let value = ServerValue::Session("ef".into());
    a.put_value(&value, b"before").unwrap();
    let read = |store: &dyn Storage| {
        let _fresh = store.fresh();
        store.get_value(&value).unwrap()
    };
    assert_eq!(read(&b), Some(b"before".to_vec()));
    assert_eq!(read(&b), Some(b"before".to_vec()));
    // The feed, read from the copy of its tail.
    let id = DocumentId::random();
    let seq = a
        .commit(snapshot(
            &visit(&id, A1, Sentiment::Positive, false),
            b"v",
            1,
        ))
        .unwrap()
        .seq;
    let feed = |store: &dyn Storage| {
        let _fresh = store.fresh();
        let page = store.feed_after(0, None, 100).unwrap();
        page.entries
            .into_iter()
            .map(|e| (e.seq, e.id))
            .collect::<Vec<_>>()
    };
    assert_eq!(feed(&b), vec![(seq, id.clone())]);
    // This store's listening connections are cut; commits land before
    // they listen again.
    cut_listening_connections(&backing);
    a.put_value(&value, b"after").unwrap();
    let moved = a
        .commit(chunk(&visit(&id, A1, Sentiment::Neutral, false), b"w", 2))
        .unwrap()
        .seq;
    // The feed is never read from a copy that missed the move.
    assert_eq!(feed(&b), vec![(moved, id.clone())]);
    // Read at once, and until the server listens again and answers from
    // its cache once more: never the value from before.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let fresh = b.fresh();
        assert_eq!(b.get_value(&value).unwrap(), Some(b"after".to_vec()));
        if fresh.is_active() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server does not listen again"
        );
        thread::sleep(std::time::Duration::from_millis(20));
    }
    // From the cache now.
    let (hits, _, _) = b.read_cache_stats().expect("a cache");
    let fresh = b.fresh();
    assert_eq!(b.get_value(&value).unwrap(), Some(b"after".to_vec()));
    drop(fresh);
    assert!(b.read_cache_stats().expect("a cache").0 > hits);
}

/// A server's write transaction answers its reads from the server's cache
/// only when that cache has heard every commit before the transaction's:
/// here the server stops hearing (its listening connection is cut), the
/// other server commits to a document it cached, and it commits to the
/// same document at once, building on the other's commit, not on what it
/// cached.
#[test]
fn a_commit_never_builds_on_what_its_server_cached_before_another_server_committed() {
    let Some(backing) = Postgres::new() else {
        return;
    };
    let (a, b) = (backing.open(), backing.open());
    let id = DocumentId::random();
    let summary = dispute(&id, A1, Status::Open, Risk::Low);
    let first = b.commit(chunk(&summary, b"1", 1)).unwrap().seq;
    for _ in 0..2 {
        let _fresh = a.fresh();
        assert_eq!(a.doc_meta(&id).unwrap().map(|m| m.seq), Some(first));
    }
    // A commit of its own to another record: the writer's row and its
    // group's reads are warm.
    a.commit(chunk(
        &dispute(&DocumentId::random(), A1, Status::Open, Risk::Low),
        b"x",
        9,
    ))
    .unwrap();
    cut_listening_connections(&backing);
    let second = b.commit(chunk(&summary, b"2", 2)).unwrap().seq;
    let third = a.commit(chunk(&summary, b"3", 3)).unwrap().seq;
    assert!(first < second && second < third);
    let meta = a.doc_meta(&id).unwrap().unwrap();
    assert_eq!((meta.seq, meta.chunk_count), (third, 3));
    assert_eq!(meta.heads_logged, Some(3));
    let feed: Vec<u64> = b
        .feed_after(0, None, 100)
        .unwrap()
        .entries
        .into_iter()
        .filter(|e| e.id == id)
        .map(|e| e.seq)
        .collect();
    assert_eq!(feed, vec![third], "one feed entry, at the last commit");
    assert_eq!(
        a.heads_at(&id, second).unwrap(),
        Some(heads(2)),
        "the other server's commit is in the heads log"
    );
}

/// Cuts the listening connections of the servers on `backing`'s store
/// (there are two).
fn cut_listening_connections(backing: &Postgres) {
    let name = postgres::listener_name(&postgres::channel_of(&backing.schema.config));
    let cut = execute_on_test_database(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        &[&name],
    );
    assert!(cut >= 2, "two servers listen");
}

/// Runs one statement on the test database, as its own client; the rows
/// it returned or changed.
fn execute_on_test_database(
    statement: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> u64 {
    let url = std::env::var(postgres::TEST_DATABASE_VAR).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        let driver = tokio::spawn(connection);
        let rows = client.execute(statement, params).await.unwrap();
        drop(client);
        let _ = driver.await;
        rows
    })
}

/// An announcement a server cannot read (of another version, or not
/// Fengqiao's) may hide a write it should have forgotten: it forgets
/// everything it cached.
#[test]
fn an_announcement_that_does_not_parse_empties_the_cache() {
    let Some(backing) = Postgres::new() else {
        return;
    };
    let store = backing.open();
    let value = ServerValue::Session("gh".into());
    store.put_value(&value, b"v").unwrap();
    let read = || {
        let _fresh = store.fresh();
        assert_eq!(store.get_value(&value).unwrap(), Some(b"v".to_vec()));
        store.read_cache_stats().expect("a cache")
    };
    read();
    let (hits, misses, _) = read();
    assert!(hits > 0);
    let channel = postgres::channel_of(&backing.schema.config);
    execute_on_test_database("SELECT pg_notify($1, 'garbage')", &[&channel]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, now_missed, _) = read();
        if now_missed > misses {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cache kept its reads after an announcement it could not read"
        );
        thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Rate limits drawn from the store hold across servers: two servers
/// together grant a device its burst once.
#[test]
fn postgres_rate_buckets_are_shared_between_servers() {
    use fengqiao_server::limit::{RateLimit, RateLimiter};
    let Some(backing) = Postgres::new() else {
        return;
    };
    let limit = RateLimit {
        per_second: 0.001,
        burst: 5.0,
    };
    // The buckets answer (a limiter falls back to its own when they fail).
    {
        use fengqiao_server::limit::SharedBuckets;
        let buckets = backing.backend().unwrap();
        let (taken, left) =
            block_on(buckets.take(b"probe".to_vec(), limit, 1.0, 1.0, false)).unwrap();
        assert!(taken == 1.0 && (left - 4.0).abs() < 0.01, "{taken} {left}");
    }
    let one = RateLimiter::shared(limit, Arc::new(backing.backend().unwrap()), "http");
    let two = RateLimiter::shared(limit, Arc::new(backing.backend().unwrap()), "http");
    let device = DeviceId::random();
    let granted = block_on(async {
        let mut granted = 0;
        for n in 0..12 {
            let limiter = if n % 2 == 0 { &one } else { &two };
            if limiter.admit(device).await {
                granted += 1;
            }
        }
        granted
    });
    assert_eq!(granted, 5, "the burst is granted once across both servers");
    assert!(
        block_on(one.admit(DeviceId::random())),
        "buckets are per device"
    );
    // WebSocket pacing borrows: past the burst, the wait grows on either
    // server.
    let ws = RateLimit {
        per_second: 10.0,
        burst: 60.0,
    };
    let one = RateLimiter::shared(ws, Arc::new(backing.backend().unwrap()), "ws");
    let two = RateLimiter::shared(ws, Arc::new(backing.backend().unwrap()), "ws");
    let device = DeviceId::random();
    let (first, second) = block_on(async { (one.pace(device).await, two.pace(device).await) });
    assert_eq!(first, std::time::Duration::ZERO, "within the burst");
    // The second server's lease of 50 finds 10 left: it owes 40, 4 s.
    assert!(
        second > std::time::Duration::from_secs(3) && second <= std::time::Duration::from_secs(4),
        "{second:?}"
    );
}

/// One statement takes up to a lease from a shared bucket: as many whole
/// tokens as it holds, at most the lease, none when it holds less than
/// asked; borrowing takes the whole lease whatever it holds. Servers
/// taking at once from one bucket take its tokens exactly once.
#[test]
fn postgres_rate_buckets_lease_up_to_what_they_hold() {
    use fengqiao_server::limit::{RateLimit, SharedBuckets};
    let Some(backing) = Postgres::new() else {
        return;
    };
    let buckets = backing.backend().unwrap();
    let take = |key: &[u8], burst: f64, least: f64, most: f64, borrow: bool| {
        let limit = RateLimit {
            per_second: 1e-6,
            burst,
        };
        block_on(buckets.take(key.to_vec(), limit, least, most, borrow)).unwrap()
    };
    let near = |(taken, left): (f64, f64), want: (f64, f64)| {
        assert!(
            taken == want.0 && (left - want.1).abs() < 0.001,
            "took {taken}, left {left}; wanted {want:?}"
        );
    };
    // A new bucket holding more than the lease gives the lease.
    near(take(b"more", 30.0, 1.0, 10.0, false), (10.0, 20.0));
    near(take(b"more", 30.0, 1.0, 10.0, false), (10.0, 10.0));
    // Holding fewer than the lease: its whole tokens, the fraction stays.
    near(take(b"fewer", 2.5, 1.0, 10.0, false), (2.0, 0.5));
    // Holding less than asked: nothing is taken.
    near(take(b"fewer", 2.5, 1.0, 10.0, false), (0.0, 0.5));
    near(take(b"more", 30.0, 1.0, 10.0, false), (10.0, 0.0));
    near(take(b"more", 30.0, 1.0, 10.0, false), (0.0, 0.0));
    // Borrowing (WebSocket pacing) takes the lease and goes below zero.
    near(take(b"ws", 60.0, 50.0, 50.0, true), (50.0, 10.0));
    near(take(b"ws", 60.0, 50.0, 50.0, true), (50.0, -40.0));
    near(take(b"ws", 60.0, 50.0, 50.0, true), (50.0, -90.0));
    // Four servers, each taking eight at a time, from one new bucket: its
    // 200 tokens are taken once, however the takes interleave.
    let limit = RateLimit {
        per_second: 1e-6,
        burst: 200.0,
    };
    let taken: f64 = thread::scope(|scope| {
        let servers: Vec<_> = (0..4)
            .map(|_| {
                let buckets = backing.backend().unwrap();
                scope.spawn(move || {
                    let mut taken = 0.0;
                    for _ in 0..12 {
                        let takes =
                            (0..8).map(|_| buckets.take(b"race".to_vec(), limit, 1.0, 3.0, false));
                        for (took, left) in
                            block_on(futures_util::future::try_join_all(takes)).unwrap()
                        {
                            assert!(
                                left >= -0.001 && (0.0..=3.0).contains(&took),
                                "{took} {left}"
                            );
                            taken += took;
                        }
                    }
                    taken
                })
            })
            .collect();
        servers.into_iter().map(|s| s.join().unwrap()).sum()
    });
    assert_eq!(taken, 200.0, "the bucket's tokens are taken once");
}

/// A server taking from a bucket another server is creating at that
/// moment takes from what the other left, not from a second full bucket.
#[test]
fn postgres_rate_bucket_created_by_two_servers_at_once_is_filled_once() {
    use fengqiao_server::limit::{RateLimit, SharedBuckets};
    let Some(backing) = Postgres::new() else {
        return;
    };
    let buckets = backing.backend().unwrap();
    let schema = backing.schema.config.schema.clone().unwrap();
    let url = std::env::var(postgres::TEST_DATABASE_VAR).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (client, driver) = runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        let driver = tokio::spawn(connection);
        // The other server's first take: the bucket inserted with 5 left,
        // not committed yet.
        client
            .batch_execute(&format!(
                "SET search_path TO {schema}; BEGIN; \
                 INSERT INTO fq_rate VALUES ('\\x72616365'::bytea, 5, true, clock_timestamp())"
            ))
            .await
            .unwrap();
        (client, driver)
    });
    let limit = RateLimit {
        per_second: 1e-6,
        burst: 30.0,
    };
    thread::scope(|scope| {
        let taking =
            scope.spawn(|| block_on(buckets.take(b"race".to_vec(), limit, 1.0, 3.0, false)));
        // Commit once this server's take waits for the other's row.
        runtime.block_on(async {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            loop {
                let waiting: i64 = client
                    .query_one(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' \
                         AND NOT granted AND transactionid = pg_current_xact_id()::xid",
                        &[],
                    )
                    .await
                    .unwrap()
                    .get(0);
                if waiting > 0 {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the take never waited"
                );
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            client.batch_execute("COMMIT").await.unwrap();
        });
        let (taken, left) = taking.join().unwrap().unwrap();
        assert!(
            taken == 3.0 && (left - 2.0).abs() < 0.001,
            "took {taken}, left {left}: from the other server's bucket"
        );
    });
    drop(client);
    let _ = runtime.block_on(driver);
}

/// A database migrated by a newer version is refused, not written to.
#[test]
fn postgres_refuses_a_schema_from_a_newer_version() {
    let Some(backing) = Postgres::new() else {
        return;
    };
    drop(backing.open());
    let report = PgBackend::migrate(&backing.schema.config).unwrap();
    assert!(report.applied.is_empty(), "already migrated: {report:?}");
    let latest = fengqiao_server::storage::postgres::latest_migration();
    // Record a migration this binary does not know.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let url = std::env::var("FENGQIAO_TEST_POSTGRES").unwrap();
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let schema = backing.schema.config.schema.clone().unwrap();
        client
            .execute(
                &format!(
                    "INSERT INTO {schema}.fq_migrations (version, name) VALUES ($1, 'future')"
                ),
                &[&(latest + 1)],
            )
            .await
            .unwrap();
    });
    match backing.try_open() {
        Err(StorageError::IncompatibleSchema { found, supported }) => {
            assert_eq!((found, supported), ((latest + 1) as u32, latest as u32));
        }
        other => panic!("a newer schema must be refused, got {other:?}"),
    }
    assert!(matches!(
        PgBackend::migrate(&backing.schema.config),
        Err(StorageError::IncompatibleSchema { .. })
    ));
}

/// A backup of the embedded store loads into an empty PostgreSQL store
/// (`fengqiao restore --store`), which then holds the same records under a
/// new history; a store that already holds records is refused.
#[test]
fn a_backup_restores_into_an_empty_postgres_store_and_not_into_a_used_one() {
    let Some(backing) = Postgres::new() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sled = open(&dir.path().join("store"));
    let ids: Vec<DocumentId> = (0..5).map(|_| DocumentId::random()).collect();
    for (n, id) in ids.iter().enumerate() {
        let summary = dispute(id, [A1, A2, B1][n % 3], Status::Open, Risk::High);
        sled.commit(snapshot(&summary, format!("doc {n}").as_bytes(), n as u8))
            .unwrap();
    }
    sled.put_value(&ServerValue::Epoch, &7u64.to_be_bytes())
        .unwrap();
    let file = dir.path().join("store.backup");
    let backed_up = sled.backup_to(&file).unwrap();

    let report =
        fengqiao_server::serve::restore_to_postgres(&file, &backing.schema.config).unwrap();
    assert_eq!(report.records, backed_up.records);
    let restored = backing.open();
    for (n, id) in ids.iter().enumerate() {
        let stored = restored.load_document(id).unwrap().expect("restored");
        assert_eq!(stored.snapshot, format!("doc {n}").into_bytes());
    }
    assert_eq!(
        restored.feed_after(0, None, 100).unwrap().entries.len(),
        ids.len()
    );
    assert_eq!(
        assert_projection_matches_documents(&restored),
        assert_projection_matches_documents(&sled)
    );
    assert_ne!(
        restored.get_value(&ServerValue::Epoch).unwrap(),
        Some(7u64.to_be_bytes().to_vec()),
        "a restored store starts a new history"
    );
    drop(restored);
    match fengqiao_server::serve::restore_to_postgres(&file, &backing.schema.config) {
        Err(StorageError::Invalid { reason }) => assert!(reason.contains("already holds")),
        other => panic!("a used store must be refused, got {other:?}"),
    }
}

/// Two servers committing at once on one PostgreSQL store: every commit
/// takes its own sequence number, each server's in the order it made them,
/// and the feed, projection index and documents hold all of them.
#[test]
fn postgres_servers_committing_at_once_never_share_a_sequence_number() {
    const WRITERS: usize = 4;
    const COMMITS: usize = 40;
    let Some(backing) = Postgres::new() else {
        return;
    };
    let servers = [Arc::new(backing.open()), Arc::new(backing.open())];
    let writers: Vec<_> = (0..WRITERS * 2)
        .map(|n| {
            let store = Arc::clone(&servers[n % 2]);
            let doc = dispute(
                &DocumentId::random(),
                [A1, A2, B1][n % 3],
                Status::Open,
                Risk::Low,
            );
            thread::spawn(move || {
                let seqs: Vec<u64> = (0..COMMITS)
                    .map(|c| {
                        store
                            .commit(chunk(&doc, &(c as u32).to_be_bytes(), c as u8))
                            .unwrap()
                            .seq
                    })
                    .collect();
                (doc, seqs)
            })
        })
        .collect();
    let mut all = BTreeSet::new();
    let mut docs = Vec::new();
    for writer in writers {
        let (doc, seqs) = writer.join().unwrap();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        for seq in &seqs {
            assert!(all.insert(*seq), "sequence number {seq} taken twice");
        }
        docs.push((doc, seqs));
    }
    assert_eq!(all.len(), WRITERS * 2 * COMMITS);
    let reader = &servers[0];
    assert_eq!(reader.latest_seq().unwrap(), *all.last().unwrap());
    for (doc, seqs) in &docs {
        let stored = reader.load_document(&doc.id).unwrap().unwrap();
        assert_eq!(stored.chunks.len(), COMMITS);
        assert_eq!(stored.seq, *seqs.last().unwrap());
    }
    assert_eq!(
        reader.feed_after(0, None, 1000).unwrap().entries.len(),
        WRITERS * 2
    );
    assert_projection_matches_documents(reader.as_ref());
}

/// A server copies the newest entries of the feed from what every
/// server's commits announce, and a sync in a fresh scope reads the feed
/// from that copy: the same pages the store gives, the other server's
/// commits and its own included at once, moved and removed records too.
/// A commit too large to list what it wrote, an announcement that does
/// not parse and a lost listening connection start the copy again.
#[test]
fn the_feed_is_read_from_a_copy_that_is_never_behind() {
    let Some(backing) = Postgres::new() else {
        return;
    };
    let (a, b) = (backing.open(), backing.open());
    let start = a.latest_seq().unwrap();
    let town_a = scope(TOWN_A);
    let mut ids = Vec::new();
    // Pages read in a fresh scope on `b`, with whether they came from
    // its memory, against the store's own answer.
    let check = |after: u64, round: &str, from_copy: bool| {
        for scope in [None, Some(&town_a)] {
            for limit in [1, 3, 100] {
                let (hits, _, _) = b.read_cache_stats().expect("a cache");
                let page = {
                    let _fresh = b.fresh();
                    b.feed_after(after, scope, limit).unwrap()
                };
                let (more_hits, _, _) = b.read_cache_stats().expect("a cache");
                assert_eq!(
                    page,
                    b.feed_after(after, scope, limit).unwrap(),
                    "{round}: after {after}, limit {limit}"
                );
                assert_eq!(
                    more_hits > hits,
                    from_copy,
                    "{round}: whether the feed was read from the copy"
                );
            }
        }
    };
    for round in 0..12u8 {
        let (code, by) = match round % 3 {
            0 => (A1, &a),
            1 => (B1, &b),
            _ => (A2, &a),
        };
        let id = DocumentId::random();
        by.commit(snapshot(
            &visit(&id, code, Sentiment::Positive, false),
            &[round],
            1,
        ))
        .unwrap();
        ids.push((id, code));
        // A record committed again moves to the end of the feed.
        if round % 4 == 3 {
            let (id, code) = &ids[usize::from(round) / 2];
            let summary = visit(id, code, Sentiment::Neutral, false);
            b.commit(chunk(&summary, &[round], 2 + round)).unwrap();
        }
        if round == 7 {
            a.remove_document(&ids[0].0).unwrap();
        }
        // Within one scope (a sync: uploads, then the feed), what this
        // server just committed is in the feed it reads.
        {
            let _fresh = b.fresh();
            let id = DocumentId::random();
            let seq = b
                .commit(snapshot(
                    &visit(&id, A1, Sentiment::Positive, false),
                    &[round],
                    1,
                ))
                .unwrap()
                .seq;
            let page = b.feed_after(seq - 1, None, 10).unwrap();
            let got: Vec<_> = page.entries.iter().map(|e| (e.seq, e.id.clone())).collect();
            assert_eq!(got, vec![(seq, id)], "round {round}: its own commit");
        }
        check(start, &format!("round {round}"), true);
        check(start + u64::from(round), &format!("round {round}"), true);
    }
    // A commit too large to list what it wrote (here: it deletes the
    // last entry of the feed, behind the servers' backs): the copy starts
    // again from the store, and is right.
    let channel = postgres::channel_of(&backing.schema.config);
    let schema = backing.schema.config.schema.clone().expect("a schema");
    let last = b.feed_after(start, None, 1000).unwrap().through_seq;
    let unlisted = execute_on_test_database(
        &format!(
            "WITH d AS (DELETE FROM {schema}.fq_feed WHERE k = $2), \
             w AS (UPDATE {schema}.fq_writer SET version = version + 1 RETURNING version) \
             SELECT pg_notify($1, 'other 0 ' || w.version || ' *') FROM w"
        ),
        &[&channel, &last.to_be_bytes().to_vec()],
    );
    assert_eq!(unlisted, 1);
    // (The copy starts again above it: the store answers.)
    check(start, "after a commit too large to list", false);
    let id = DocumentId::random();
    let seq = a
        .commit(snapshot(
            &visit(&id, A2, Sentiment::Positive, false),
            b"y",
            1,
        ))
        .unwrap()
        .seq;
    check(start, "and a commit after it", false);
    check(seq - 1, "and a commit after it", true);
    // An announcement that does not parse: the same.
    for payload in ["garbage"] {
        execute_on_test_database("SELECT pg_notify($1, $2)", &[&channel, &payload]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let id = DocumentId::random();
            let seq = a
                .commit(snapshot(
                    &visit(&id, A1, Sentiment::Positive, false),
                    b"x",
                    1,
                ))
                .unwrap()
                .seq;
            let (hits, _, _) = b.read_cache_stats().expect("a cache");
            let page = {
                let _fresh = b.fresh();
                b.feed_after(seq - 1, None, 10).unwrap()
            };
            assert_eq!(page.entries.len(), 1, "{payload}");
            assert_eq!(page.entries[0].id, id, "{payload}");
            if b.read_cache_stats().expect("a cache").0 > hits {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{payload}: the copy of the feed did not start again"
            );
            thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    // A cursor from before the copy began is answered by the store.
    let (hits, _, _) = b.read_cache_stats().expect("a cache");
    let page = {
        let _fresh = b.fresh();
        b.feed_after(0, None, 1000).unwrap()
    };
    assert_eq!(page, b.feed_after(0, None, 1000).unwrap());
    assert_eq!(b.read_cache_stats().expect("a cache").0, hits);
}

/// A commit whose writes the database refuses is not acknowledged, and
/// leaves nothing: its writes travel with the group's `COMMIT`, and a
/// `COMMIT` after a failed statement only rolls back, without an error of
/// its own.
#[test]
fn a_commit_the_database_refuses_is_never_acknowledged() {
    let Some(backing) = Postgres::new() else {
        return;
    };
    let store = backing.open();
    let id = DocumentId::random();
    let first = store
        .commit(snapshot(
            &visit(&id, A1, Sentiment::Positive, false),
            b"v",
            1,
        ))
        .unwrap()
        .seq;
    // Every later write of a summary fails (as a full disk or a lost
    // privilege would make it).
    let schema = backing.schema.config.schema.clone().expect("a schema");
    execute_on_test_database(
        &format!(
            "ALTER TABLE {schema}.fq_projection ADD CONSTRAINT refuse_all CHECK (length(k) < 0) NOT VALID"
        ),
        &[],
    );
    let refused = store.commit(chunk(&visit(&id, A1, Sentiment::Neutral, false), b"w", 2));
    assert!(refused.is_err(), "acknowledged: {refused:?}");
    assert_eq!(store.latest_seq().unwrap(), first, "nothing of it was kept");
    assert_eq!(store.doc_meta(&id).unwrap().map(|m| m.seq), Some(first));
    // Once the database takes writes again, so does the store.
    execute_on_test_database(
        &format!("ALTER TABLE {schema}.fq_projection DROP CONSTRAINT refuse_all"),
        &[],
    );
    let again = store
        .commit(chunk(&visit(&id, A1, Sentiment::Neutral, false), b"w", 2))
        .unwrap()
        .seq;
    assert!(again > first);
}
