//! The server's storage: documents, the change feed, the projection index
//! and the small state around them.
//!
//! [`Storage`] is the boundary the sync engine programs against (synchronous,
//! called from blocking threads). It is implemented once, by [`Store`],
//! which lays everything out on a [`Backend`]: the small async,
//! transactional interface a storage engine implements (consistent views,
//! range scans, one write transaction at a time, a commit that is durable
//! when it returns and assigns the next sequence number). Backends:
//! [`SledBackend`] (the embedded default, [`SledStorage`]),
//! [`MemoryBackend`] (tests) and [`CrashBackend`] (wraps another and dies at
//! a chosen point, to test what survives).
//!
//! # What is stored
//!
//! - **Documents** as a snapshot plus incremental change chunks
//!   ([`document`]), with [`DocMeta`] beside each. Storage never parses
//!   Automerge bytes: the engine above produces and loads them.
//! - **The server sequence and the change feed** ([`feed`]): every commit
//!   takes the next number of one global, persisted, increasing sequence,
//!   and the feed lists each document once, at its latest commit. The same
//!   sequence numbers quarantined changes, so the feed's numbers have gaps;
//!   only their order matters.
//! - **A heads log** per document: its heads after each of its last
//!   [`HEADS_RETAINED`] commits at least (and at most [`HEADS_SLACK`] more),
//!   so a device's cursor (a sequence number) can
//!   be turned into "the heads it already has". A cursor older than that
//!   makes [`Storage::heads_at`] answer `None`, and the engine falls back to
//!   sending the whole document, which is always correct, only larger.
//! - **The projection index**: each record's [`Summary`], keyed by village
//!   code then document id, so a town or a district is one key range.
//!   Statistics are computed from these summaries when asked for (the
//!   reports keep the summaries of the scopes in use in memory, see
//!   [`crate::report`]); a commit writes no running totals. Per-village
//!   counters that older versions kept beside the index are ignored: not
//!   read, not written, not exported, skipped when a backup is restored.
//! - Per-peer sync states, quarantined changes ([`quarantine`]) and a few
//!   server-wide values.
//!
//! # Atomicity
//!
//! [`Storage::commit`] writes everything one commit changes — the chunk or
//! the new snapshot, the metadata, the feed entry (dropping the document's
//! previous one), the heads log entry, the summary and the sequence
//! number — all or nothing.
//!
//! # Durability
//!
//! **When [`Storage::commit`] returns `Ok`, the commit is on disk**: the
//! storage engine has flushed and `fsync`ed it, and it survives a process
//! crash or a power cut. Concurrent commits share flushes (group commit, see
//! [`group_commit`]), so this costs one flush per group, not per commit. The
//! same holds for [`Storage::compact`], [`Storage::quarantine`] and
//! [`Storage::put_value`]. An `Err` means "not acknowledged": the write may
//! or may not survive, and the client retries (applying the same Automerge
//! changes twice changes nothing).
//!
//! Readers never see what a crash could still take back where it matters
//! for acknowledgements: [`Storage::doc_meta`] and
//! [`Storage::load_document`] wait until the document's last commit is on
//! disk, [`Storage::feed_after`] waits until every applied commit is, and
//! [`Storage::current_seq`] is the last sequence number on disk. So the
//! engine never advertises heads or hands out a cursor that a crash could
//! undo. The projection index may show a commit whose flush is still
//! running; it feeds statistics, not acknowledgements.
//!
//! Per-peer sync states are the exception: [`Storage::put_sync_state`] does
//! not wait for a flush. A sync state is a cache of what a peer has; losing
//! the latest one costs at most an extra round of sync.
//!
//! These guarantees are tested in `server/tests/storage.rs`, once per
//! backend: reopening after a drop, a crash at every point of a write
//! transaction (the crash-test backend), and killing a process in the
//! middle of committing (sled), then checking that every acknowledged
//! commit is there and no commit is there in part.
//!
//! # Threads
//!
//! Every method is synchronous and may block on disk I/O or on a flush: call
//! them from blocking threads (`tokio::task::spawn_blocking`), never directly
//! on an async executor. Implementations are `Send + Sync` and meant to be
//! shared as `Arc<dyn Storage>`.

pub mod backend;
pub mod backup;
mod codec;
pub mod config;
pub mod document;
pub mod error;
pub mod feed;
pub mod feed_tail;
pub mod group_commit;
mod keys;
pub mod postgres;
pub mod private;
pub mod quarantine;
pub mod read_cache;
pub mod sled_store;
pub mod store;
pub mod values;

use std::path::Path;

use fengqiao_protocol::{DocumentId, Scope, VillageCode};
use fengqiao_shared::Summary;

pub use backend::{Backend, CrashBackend, CrashPoint, MemoryBackend};
pub use backup::BackupReport;
pub use config::StorageConfig;
pub use document::{CommitBatch, CommitReceipt, DocMeta, DocumentContent, StoredDocument};
pub use error::StorageError;
pub use feed::{FeedEntry, FeedPage};
pub use group_commit::FlushStats;
pub use postgres::{PgBackend, PgConfig, PgStorage};
pub use quarantine::{QuarantineBounds, QuarantineEntry, QuarantineIndex, Quarantined};
pub use sled_store::{SledBackend, SledStorage};
pub use store::Store;
pub use values::{ServerValue, ValueFamily};

/// The store in memory, for tests.
pub type MemoryStorage = Store<MemoryBackend>;

/// The version of the stored layout this server reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// Heads log entries kept per document (at least).
pub const HEADS_RETAINED: usize = 64;

/// Heads log entries a document may hold beyond [`HEADS_RETAINED`]: the
/// log is trimmed back to [`HEADS_RETAINED`] once it would hold more, so
/// that only one commit in this many reads it (a commit knows the log's
/// length from the document's metadata).
pub const HEADS_SLACK: usize = 32;

/// Where a page of summaries starts: after this village and document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionKey {
    pub village: VillageCode,
    pub id: DocumentId,
}

impl ProjectionKey {
    /// The key of `summary`, to ask for the page after it.
    pub fn of(summary: &Summary) -> Self {
        Self {
            village: summary.village.clone(),
            id: summary.id.clone(),
        }
    }
}

/// The server's storage. See the [module documentation](self) for the
/// guarantees every implementation keeps.
pub trait Storage: Send + Sync {
    /// Stores one commit of one document atomically and returns once it is
    /// durable. Fails with [`StorageError::Conflict`] (writing nothing) if
    /// [`CommitBatch::expected_seq`] does not hold.
    fn commit(&self, batch: CommitBatch) -> Result<CommitReceipt, StorageError>;

    /// Replaces the snapshot and every chunk up to `through_seq` with
    /// `snapshot` (the engine's merge of exactly those bytes, usually the
    /// [`StoredDocument::seq`] it loaded), atomically and durably. Chunks
    /// committed after `through_seq` stay. The document's heads, sequence
    /// number, feed entry and summary do not change. Fails with
    /// [`StorageError::Conflict`] if the document was replaced by a newer
    /// snapshot meanwhile.
    fn compact(
        &self,
        id: &DocumentId,
        snapshot: Vec<u8>,
        through_seq: u64,
    ) -> Result<(), StorageError>;

    /// Removes a document for good, atomically and durably: its snapshot,
    /// chunks, heads, metadata and summary. Its feed entry moves to
    /// a new sequence number (returned), so that readers of the feed notice
    /// it is gone. `None` when there is no such document. Storages that
    /// cannot remove refuse.
    fn remove_document(&self, id: &DocumentId) -> Result<Option<u64>, StorageError> {
        let _ = id;
        Err(StorageError::Invalid {
            reason: "this storage cannot remove records".to_owned(),
        })
    }

    /// The documents with at least `min_chunks` chunks, most chunks first.
    fn documents_needing_compaction(
        &self,
        min_chunks: u32,
        limit: usize,
    ) -> Result<Vec<DocumentId>, StorageError>;

    /// A document's snapshot and chunks, once its last commit is durable.
    fn load_document(&self, id: &DocumentId) -> Result<Option<StoredDocument>, StorageError>;

    /// A document's metadata, once its last commit is durable.
    fn doc_meta(&self, id: &DocumentId) -> Result<Option<DocMeta>, StorageError>;

    /// The last server sequence number that is durable, as this server
    /// knows it (cheap; with several servers on one store it may lag a
    /// moment behind another server's commit).
    fn current_seq(&self) -> u64;

    /// The last durable sequence number, asked of the store: what a cursor
    /// handed out by any server on the store is checked against.
    fn latest_seq(&self) -> Result<u64, StorageError> {
        Ok(self.current_seq())
    }

    /// Documents whose latest commit came after `after`, in sequence order,
    /// at most `limit`, only those in `scope` when one is given.
    fn feed_after(
        &self,
        after: u64,
        scope: Option<&Scope>,
        limit: usize,
    ) -> Result<FeedPage, StorageError>;

    /// The document's heads after its latest commit at or before `seq`, or
    /// `None` if it had none then, or if that commit is older than the
    /// entries kept (at least [`HEADS_RETAINED`]).
    fn heads_at(&self, id: &DocumentId, seq: u64) -> Result<Option<Vec<[u8; 32]>>, StorageError>;

    /// [`Storage::heads_at`] of several documents, in order, read together.
    fn heads_at_many(
        &self,
        ids: &[DocumentId],
        seq: u64,
    ) -> Result<Vec<Option<Vec<[u8; 32]>>>, StorageError> {
        ids.iter().map(|id| self.heads_at(id, seq)).collect()
    }

    /// The stored summary of a document.
    fn summary(&self, id: &DocumentId) -> Result<Option<Summary>, StorageError>;

    /// Summaries of the records in `scope`, ordered by village then document
    /// id, starting after `after`, at most `limit`.
    fn summaries_in_scope(
        &self,
        scope: &Scope,
        after: Option<&ProjectionKey>,
        limit: usize,
    ) -> Result<Vec<Summary>, StorageError>;

    /// What a peer's sync state for a document was last stored as.
    fn sync_state(&self, peer: &[u8], id: &DocumentId) -> Result<Option<Vec<u8>>, StorageError>;

    /// Stores a peer's sync state for a document. Not flushed before
    /// returning (see the module documentation).
    fn put_sync_state(
        &self,
        peer: &[u8],
        id: &DocumentId,
        state: &[u8],
    ) -> Result<(), StorageError>;

    /// Keeps a refused change apart, durably; returns its id. The
    /// quarantine stays within its bounds ([`QuarantineBounds`]): the oldest
    /// entries of the device, or of all, are dropped to make room.
    fn quarantine(&self, entry: QuarantineEntry) -> Result<u64, StorageError>;

    /// How many quarantined changes were dropped to stay within the
    /// bounds since the store was opened.
    fn quarantine_dropped(&self) -> u64;

    /// The most recently quarantined changes, newest first.
    fn list_quarantine(&self, limit: usize) -> Result<Vec<Quarantined>, StorageError>;

    /// The most recent quarantined changes that `keep` accepts, newest
    /// first: at most `limit` of them, among the newest `scan` entries.
    fn list_quarantine_where(
        &self,
        limit: usize,
        scan: usize,
        keep: &dyn Fn(&QuarantineEntry) -> bool,
    ) -> Result<Vec<Quarantined>, StorageError> {
        let mut entries = self.list_quarantine(scan)?;
        entries.retain(|q| keep(&q.entry));
        entries.truncate(limit);
        Ok(entries)
    }

    /// A server-wide value.
    fn get_value(&self, value: &ServerValue) -> Result<Option<Vec<u8>>, StorageError>;

    /// Sets a server-wide value, durably. [`ServerValue::SchemaVersion`] is
    /// refused: the storage sets it itself.
    fn put_value(&self, value: &ServerValue, bytes: &[u8]) -> Result<(), StorageError>;

    /// Every value of one family, in the order of their stored names.
    fn values_in(&self, family: ValueFamily) -> Result<Vec<(ServerValue, Vec<u8>)>, StorageError>;

    /// Removes a server-wide value, durably (nothing when it is not set).
    fn delete_value(&self, value: &ServerValue) -> Result<(), StorageError>;

    /// What the writes of every server sharing this store announce, from
    /// now on (see [`backend::Announcement`] and the texts in [`store`]);
    /// `None` when this server is the store's only one.
    fn announcements(&self) -> Option<tokio::sync::broadcast::Receiver<backend::Announcement>> {
        None
    }

    /// Brings this server up to the store as it is now, for the reads this
    /// thread makes while the returned scope lives: each of them reflects
    /// at least every commit made, by any server, before this call, and may
    /// be answered from this server's cache (see [`read_cache`]). Outside a
    /// scope, reads ask the store. Cheap to call once per request (one
    /// small read shared by the requests arriving together); a store only
    /// this server writes needs nothing. If the store cannot be asked, the
    /// scope is empty and the reads that follow report the trouble.
    fn fresh(&self) -> FreshScope {
        FreshScope::none()
    }

    /// Within a [`Storage::fresh`] scope, reads ahead, in one go, the
    /// metadata of `ids` and the stored bytes of `whole` (usually some of
    /// `ids`): a batch of records about to be answered one by one. Does
    /// nothing where reads are cheap.
    fn prefetch(&self, ids: &[DocumentId], whole: &[DocumentId]) {
        let _ = (ids, whole);
    }

    /// Like [`Storage::prefetch`] without bytes, for records about to be
    /// written: their metadata and removal markers (what a write checks
    /// first).
    fn prefetch_for_writes(&self, ids: &[DocumentId]) {
        let _ = ids;
    }

    /// [`Storage::prefetch`], and [`Storage::heads_at_many`] of `ids` at
    /// `seq`, in one read where reads are round trips.
    fn read_ahead(
        &self,
        ids: &[DocumentId],
        whole: &[DocumentId],
        seq: u64,
    ) -> Result<Vec<Option<Vec<[u8; 32]>>>, StorageError> {
        self.prefetch(ids, whole);
        self.heads_at_many(ids, seq)
    }

    /// Reads this server answered from its cache and reads it asked the
    /// store, since it started, and the bytes its cache holds; `None`
    /// without a cache.
    fn read_cache_stats(&self) -> Option<(u64, u64, usize)> {
        None
    }

    /// Writes a consistent copy of the whole store to the file `path`: every
    /// commit is in it entirely or not at all. Commits wait while it is
    /// written; reads go on.
    fn backup_to(&self, path: &Path) -> Result<BackupReport, StorageError>;

    /// Whether the store takes writes now. A store that a failed write left
    /// unable to write tries to recover first (at most as often as writes
    /// would), so asking also heals.
    fn health(&self) -> StoreHealth {
        StoreHealth::Ok
    }
}

/// While it lives, the reads of its thread are as fresh as
/// [`Storage::fresh`] says. Not `Send`: it belongs to the thread that made
/// it, and ends when dropped.
#[must_use = "the scope ends when dropped"]
pub struct FreshScope {
    end: Option<Box<dyn FnOnce()>>,
    share: Option<SharedFresh>,
}

/// The same freshness, for other threads working on the same request (see
/// [`FreshScope::shared`]).
#[derive(Clone)]
pub struct SharedFresh(std::sync::Arc<dyn Fn() -> FreshScope + Send + Sync>);

impl SharedFresh {
    /// Enters the scope on this thread, until the returned scope ends.
    pub fn enter(&self) -> FreshScope {
        (self.0)()
    }
}

impl FreshScope {
    /// A scope that changes nothing.
    pub fn none() -> Self {
        Self {
            end: None,
            share: None,
        }
    }

    /// A scope that runs `end` when it ends; `enter` enters the same scope
    /// on another thread.
    pub fn ending_with(
        end: impl FnOnce() + 'static,
        enter: impl Fn() -> FreshScope + Send + Sync + 'static,
    ) -> Self {
        Self {
            end: Some(Box::new(end)),
            share: Some(SharedFresh(std::sync::Arc::new(enter))),
        }
    }

    /// Whether it changed anything.
    pub fn is_active(&self) -> bool {
        self.end.is_some()
    }

    /// This scope, for threads the request hands work to: their reads are
    /// as fresh as this thread's. `None` when the scope changes nothing.
    pub fn shared(&self) -> Option<SharedFresh> {
        self.share.clone()
    }
}

impl Drop for FreshScope {
    fn drop(&mut self) {
        if let Some(end) = self.end.take() {
            end();
        }
    }
}

/// What [`Storage::health`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreHealth {
    Ok,
    /// Writes fail until the cause goes away (a full or failing disk).
    Failing {
        reason: String,
    },
}
