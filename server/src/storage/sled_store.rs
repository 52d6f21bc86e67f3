//! [`SledStorage`]: the embedded [`Storage`] on sled.
//!
//! Everything lives in one sled tree under the key layout of the `keys`
//! module. A commit is one `sled::Batch` applied to that tree: sled applies a
//! batch atomically, including across a crash (recovery replays a batch
//! entirely or not at all), which is exactly the all-or-nothing a commit
//! needs. One tree with key prefixes was chosen over a transaction across
//! several trees because a commit must also *read* what it replaces (the old
//! summary to subtract from the counters, the old feed entry to drop): a
//! writer lock makes those reads and the batch one serial step, whereas
//! sled's multi-tree transactions retry on conflict and cannot scan ranges
//! (a snapshot commit drops a range of chunks). The writer lock is held only
//! while the batch is built and applied in memory; the flush, the expensive
//! part, happens after it is released and is shared by every commit that
//! waits for it (see [`super::group_commit`]).
//!
//! The same lock, taken shared, lets readers see the store between commits:
//! a backup copies the tree under it, and the document and feed reads that
//! must not show anything not yet durable wait for the flush under it.

use std::collections::BTreeMap;
use std::fs;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use fengqiao_protocol::{DocumentId, Scope, VillageCode};
use fengqiao_shared::Summary;

use super::backup::{BackupReader, BackupReport, BackupWriter, verify};
use super::codec::{decode, decode_heads, decode_u64, encode, encode_heads};
use super::group_commit::{FlushStats, GroupCommit};
use super::keys::{self, doc_key, doc_seq_key};
use super::{
    CommitBatch, CommitReceipt, DocMeta, DocumentContent, FeedEntry, FeedPage, HEADS_RETAINED,
    META_SCHEMA_VERSION, META_STORAGE_ID, ProjectionKey, QuarantineBounds, QuarantineEntry,
    QuarantineIndex, Quarantined, SCHEMA_VERSION, Storage, StorageConfig, StorageError,
    StoreHealth, StoredDocument, VillageCounters,
};

/// The sled tree that holds the store.
const TREE: &[u8] = b"fengqiao";

/// Records written per batch when restoring a backup.
const RESTORE_BATCH: usize = 1024;

const SUMMARY_WHAT: &str = "projection summary";
const COUNTERS_WHAT: &str = "village counters";
const SNAPSHOT_WHAT: &str = "document snapshot";
const QUARANTINE_WHAT: &str = "quarantined change";

fn backend(error: sled::Error) -> StorageError {
    match error {
        sled::Error::Io(io) => StorageError::from_io(io),
        sled::Error::Corruption { .. } => StorageError::Corrupt {
            what: "storage engine log",
        },
        sled::Error::CollectionNotFound(_) => StorageError::Backend {
            message: "storage tree is missing".into(),
        },
        sled::Error::Unsupported(message) | sled::Error::ReportableBug(message) => {
            StorageError::Backend { message }
        }
    }
}

/// The writer's state, guarded by the writer lock.
#[derive(Debug)]
struct Writer {
    /// The last sequence number assigned (applied, maybe not yet durable).
    last_seq: u64,
    /// The quarantine's entries by size, read at the first quarantined
    /// change after opening (or after a failed write).
    quarantine: Option<QuarantineIndex>,
}

/// The open sled database and its tree. Replaced as a whole when the store
/// is reopened after a storage error.
struct Handle {
    db: sled::Db,
    tree: sled::Tree,
}

struct Inner {
    /// `None` only while the store is being reopened.
    handle: RwLock<Option<Arc<Handle>>>,
    writer: RwLock<Writer>,
    group: GroupCommit,
    config: StorageConfig,
    /// Set when a write or a flush failed: sled refuses every write after a
    /// failed one until the database is opened again.
    broken: AtomicBool,
    /// When reopening was last tried.
    last_reopen: Mutex<Option<Instant>>,
    /// What last made the store unable to write, for `/healthz`.
    last_failure: Mutex<Option<String>>,
    /// Quarantined changes dropped to stay within the bounds.
    quarantine_dropped: AtomicU64,
}

impl Inner {
    fn handle(&self) -> Result<Arc<Handle>, StorageError> {
        self.handle
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| {
                StorageError::Io(std::io::Error::other(
                    "the store is being reopened after a storage error",
                ))
            })
    }

    /// Notes a failed write or flush: the next write reopens the store.
    fn failed<T>(&self, result: Result<T, StorageError>) -> Result<T, StorageError> {
        if let Err(error) = &result
            && matches!(
                error,
                StorageError::Io(_) | StorageError::Full | StorageError::Backend { .. }
            )
        {
            *self
                .last_failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(error.to_string());
            self.broken.store(true, Ordering::Relaxed);
        }
        result
    }
}

/// How often a broken store tries to reopen, at most.
const REOPEN_EVERY: Duration = Duration::from_secs(1);

/// Free space below which a broken store does not try to reopen yet.
const REOPEN_MIN_FREE: u64 = 4 * 1024 * 1024;

/// Free space below which the store is not opened at all (sled writes as
/// it opens).
const OPEN_MIN_FREE: u64 = REOPEN_MIN_FREE;

/// Free space on the disk that holds (or will hold) `path`; `None` when it
/// cannot be found out.
fn free_space(path: &Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    fs2::available_space(existing).ok()
}

/// Removes the snapshots sled began but did not finish
/// (`snap.*.generating`). sled writes a snapshot under that name and then
/// renames it; one left behind (a crash, a full disk) is read at the next
/// open as the newest snapshot, found empty or short, and every open after
/// fails with "corrupt". Only done while no one holds the store: the lock
/// sled takes on its `db` file is taken here first.
fn remove_unfinished_snapshots(path: &Path) {
    use fs2::FileExt;
    let Ok(db) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path.join("db"))
    else {
        return;
    };
    if db.try_lock_exclusive().is_err() {
        return;
    }
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("snap.") && name.ends_with(".generating") {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => tracing::warn!(
                        file = %name,
                        "removed a storage snapshot left unfinished by an earlier start"
                    ),
                    Err(error) => {
                        tracing::warn!(file = %name, %error, "could not remove an unfinished snapshot")
                    }
                }
            }
        }
    }
    let _ = FileExt::unlock(&db);
}

/// How long reopening waits for readers of the old handle to finish.
const REOPEN_WAIT: Duration = Duration::from_secs(5);

/// The embedded store. Dropping it flushes what is pending and stops its
/// flusher thread; the directory can then be opened again.
pub struct SledStorage {
    inner: Arc<Inner>,
    flusher: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SledStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStorage")
            .field("durable_seq", &self.inner.group.durable_seq())
            .finish_non_exhaustive()
    }
}

impl SledStorage {
    /// Opens (or creates) the store in `config.path`.
    ///
    /// Reads the schema version and the last sequence number, nothing per
    /// record, so opening takes the same time however many records there are.
    pub fn open(config: &StorageConfig) -> Result<Self, StorageError> {
        let (handle, last_seq) = Self::open_handle(config)?;
        let inner = Arc::new(Inner {
            handle: RwLock::new(Some(Arc::new(handle))),
            writer: RwLock::new(Writer {
                last_seq,
                quarantine: None,
            }),
            quarantine_dropped: AtomicU64::new(0),
            group: GroupCommit::new(last_seq),
            config: config.clone(),
            broken: AtomicBool::new(false),
            last_reopen: Mutex::new(None),
            last_failure: Mutex::new(None),
        });
        let flusher_inner = Arc::clone(&inner);
        let flusher = thread::Builder::new()
            .name("storage-flusher".into())
            .spawn(move || {
                let inner = flusher_inner;
                inner.group.run_flusher(|| {
                    let flushed = inner
                        .handle()
                        .and_then(|handle| handle.db.flush().map(drop).map_err(backend));
                    inner.failed(flushed)
                });
            })
            .map_err(StorageError::from_io)?;
        Ok(Self {
            inner,
            flusher: Some(flusher),
        })
    }

    /// Opens the database, checks its schema and reads the last sequence
    /// number; what recovery found is flushed before anything is served.
    fn open_handle(config: &StorageConfig) -> Result<(Handle, u64), StorageError> {
        // sled writes (a snapshot, its log) as it opens; on a full disk that
        // fails half-way and can leave a file that makes every later open
        // fail. Check first, and open only with room to spare.
        if let Some(free) = free_space(&config.path)
            && free < OPEN_MIN_FREE
        {
            tracing::error!(
                free_kib = free / 1024,
                needed_kib = OPEN_MIN_FREE / 1024,
                path = %config.path.display(),
                "not opening the store: the disk is full"
            );
            return Err(StorageError::Full);
        }
        // Only the server's user may read the store, whatever the umask.
        super::private::create_dir(&config.path).map_err(StorageError::from_io)?;
        remove_unfinished_snapshots(&config.path);
        let db = Self::open_db(config).inspect_err(|_| {
            // What the failed open began is not left for the next one.
            remove_unfinished_snapshots(&config.path);
        })?;
        let tree = db.open_tree(TREE).map_err(backend)?;

        match tree
            .get(keys::meta_key(META_SCHEMA_VERSION))
            .map_err(backend)?
        {
            Some(found) => {
                let found = <[u8; 4]>::try_from(found.as_ref())
                    .map(u32::from_be_bytes)
                    .map_err(|_| StorageError::Corrupt {
                        what: "schema version",
                    })?;
                if found != SCHEMA_VERSION {
                    return Err(StorageError::IncompatibleSchema {
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
            }
            None if tree.first().map_err(backend)?.is_some() => {
                return Err(StorageError::Corrupt {
                    what: "schema version",
                });
            }
            None => {
                let mut batch = sled::Batch::default();
                batch.insert(
                    keys::meta_key(META_SCHEMA_VERSION),
                    &SCHEMA_VERSION.to_be_bytes(),
                );
                batch.insert(
                    keys::meta_key(META_STORAGE_ID),
                    uuid::Uuid::new_v4().to_string().as_bytes(),
                );
                tree.apply_batch(batch).map_err(backend)?;
            }
        }

        let last_seq = match tree.get(keys::LAST_SEQ).map_err(backend)? {
            Some(bytes) => decode_u64(&bytes, "sequence number")?,
            None => 0,
        };
        // What recovery found is what is on disk from now on.
        db.flush().map_err(backend)?;
        // sled makes its files with the umask's permissions; a store made
        // by an older version may be readable by all.
        super::private::restrict_tree(&config.path).map_err(StorageError::from_io)?;
        Ok((Handle { db, tree }, last_seq))
    }

    /// Opens the sled database, waiting out a lock sled is still
    /// releasing from a store closed a moment ago (a restore that then
    /// opens what it wrote, a reopening after a disk error).
    fn open_db(config: &StorageConfig) -> Result<sled::Db, StorageError> {
        let sled_config = sled::Config::new()
            .path(&config.path)
            .cache_capacity(config.cache_bytes)
            .flush_every_ms(config.flush_every_ms);
        fengqiao_shared::sled_open::open(&sled_config).map_err(backend)
    }

    /// Reopens the store after a failed write or flush (sled refuses every
    /// write after one until the database is opened again), at most once per
    /// [`REOPEN_EVERY`]. Writes wait meanwhile; tickets not yet settled
    /// fail, as their writes may be lost; what recovery finds is on disk.
    /// If opening fails (the disk is still full, say), writes keep failing
    /// and the next one tries again.
    fn reopen_if_broken(&self) -> Result<(), StorageError> {
        if !self.inner.broken.load(Ordering::Relaxed) {
            return Ok(());
        }
        // Opening again on a disk that is still full would fail and leave
        // nothing to read from: keep the old handle, which still reads.
        if fs2::available_space(&self.inner.config.path).is_ok_and(|free| free < REOPEN_MIN_FREE) {
            return Ok(());
        }
        {
            let mut last = self
                .inner
                .last_reopen
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < REOPEN_EVERY) {
                return Ok(());
            }
            *last = Some(Instant::now());
        }
        // Called with no lock held (a write) or maybe with the writer lock
        // held (a read that found no handle): only try when the lock is free.
        let mut writer = match self.inner.writer.try_write() {
            Ok(writer) => writer,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Ok(()),
        };
        if !self.inner.broken.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut slot = self
            .inner
            .handle
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(old) = slot.take() else {
            return self.open_into(&mut slot, &mut writer);
        };
        // Readers holding the old handle finish their reads first: sled
        // locks its directory until the last reference is gone.
        let started = Instant::now();
        while Arc::strong_count(&old) > 1 {
            if started.elapsed() > REOPEN_WAIT {
                *slot = Some(old);
                return Err(StorageError::Io(std::io::Error::other(
                    "the store could not be reopened: it is still being read",
                )));
            }
            thread::sleep(Duration::from_millis(5));
        }
        drop(old);
        self.open_into(&mut slot, &mut writer)
    }

    /// The open database; when there is none (reopening failed), tries to
    /// reopen it first.
    fn handle(&self) -> Result<Arc<Handle>, StorageError> {
        self.inner.handle().or_else(|_| {
            self.reopen_if_broken()?;
            self.inner.handle()
        })
    }

    fn open_into(
        &self,
        slot: &mut Option<Arc<Handle>>,
        writer: &mut Writer,
    ) -> Result<(), StorageError> {
        let (handle, last_seq) = Self::open_handle(&self.inner.config).inspect_err(|error| {
            tracing::warn!(%error, "the store could not be reopened; writes keep failing");
        })?;
        writer.last_seq = last_seq;
        self.inner.group.reopened(last_seq);
        *slot = Some(Arc::new(handle));
        self.inner.broken.store(false, Ordering::Relaxed);
        tracing::warn!(
            last_seq,
            "the store was reopened after a storage error and takes writes again"
        );
        Ok(())
    }

    /// Writes and flushes counted so far, to observe group commit.
    pub fn flush_stats(&self) -> FlushStats {
        self.inner.group.stats()
    }

    /// Loads the backup file `backup` into a new store in the directory
    /// `into`, which must not exist or be empty. The whole file is checked
    /// before anything is written; open the result with
    /// [`SledStorage::open`].
    pub fn restore_from(backup: &Path, into: &Path) -> Result<BackupReport, StorageError> {
        verify(backup)?;
        if into.exists() {
            let mut entries = fs::read_dir(into).map_err(StorageError::from_io)?;
            if entries.next().is_some() {
                return Err(StorageError::Invalid {
                    reason: format!(
                        "{} is not empty; restore into a new directory",
                        into.display()
                    ),
                });
            }
        }
        let db = sled::Config::new()
            .path(into)
            .flush_every_ms(None)
            .open()
            .map_err(backend)?;
        let tree = db.open_tree(TREE).map_err(backend)?;
        let mut reader = BackupReader::open(backup)?;
        let mut batch = sled::Batch::default();
        let mut pending = 0;
        while let Some((key, value)) = reader.next_record()? {
            batch.insert(key, value);
            pending += 1;
            if pending == RESTORE_BATCH {
                tree.apply_batch(std::mem::take(&mut batch))
                    .map_err(backend)?;
                pending = 0;
            }
        }
        tree.apply_batch(batch).map_err(backend)?;
        db.flush().map_err(backend)?;
        Ok(reader.report())
    }

    fn write_lock(&self) -> RwLockWriteGuard<'_, Writer> {
        self.inner
            .writer
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn read_lock(&self) -> RwLockReadGuard<'_, Writer> {
        self.inner
            .writer
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, key: &[u8]) -> Result<Option<sled::IVec>, StorageError> {
        self.handle()?.tree.get(key).map_err(backend)
    }

    fn read_meta(&self, id: &DocumentId) -> Result<Option<DocMeta>, StorageError> {
        self.get(&doc_key(keys::DOC_META, id))?
            .map(|bytes| DocMeta::decode(&bytes))
            .transpose()
    }

    fn read_counters(&self, village: &VillageCode) -> Result<VillageCounters, StorageError> {
        match self.get(&keys::counters_key(village))? {
            Some(bytes) => decode(&bytes, COUNTERS_WHAT),
            None => Ok(VillageCounters::default()),
        }
    }

    /// The snapshot's `through_seq` and bytes.
    fn read_snapshot(&self, id: &DocumentId) -> Result<Option<(u64, Vec<u8>)>, StorageError> {
        self.get(&doc_key(keys::SNAPSHOT, id))?
            .map(|value| {
                if value.len() < 8 {
                    return Err(StorageError::Corrupt {
                        what: SNAPSHOT_WHAT,
                    });
                }
                let (through, bytes) = value.split_at(8);
                Ok((decode_u64(through, SNAPSHOT_WHAT)?, bytes.to_vec()))
            })
            .transpose()
    }

    /// Keys of every item under `prefix`.
    fn keys_under(&self, prefix: &[u8]) -> Result<Vec<sled::IVec>, StorageError> {
        self.handle()?
            .tree
            .scan_prefix(prefix)
            .keys()
            .map(|key| key.map_err(backend))
            .collect()
    }

    /// The stored quarantine entries' devices and sizes, oldest first.
    fn read_quarantine_index(&self) -> Result<QuarantineIndex, StorageError> {
        let mut index = QuarantineIndex::default();
        let unbounded = QuarantineBounds {
            entry_bytes: usize::MAX,
            device_bytes: u64::MAX,
            total_bytes: u64::MAX,
        };
        for item in self.handle()?.tree.scan_prefix([keys::QUARANTINE]) {
            let (key, value) = item.map_err(backend)?;
            let id = keys::seq_suffix(&key, "quarantine key")?;
            // An entry that does not decode still takes room; it counts
            // without a device.
            let device = decode::<QuarantineEntry>(&value, QUARANTINE_WHAT)
                .ok()
                .and_then(|entry| entry.device);
            index.admit(id, device, (key.len() + value.len()) as u64, &unbounded);
        }
        Ok(index)
    }

    /// Applies a batch and takes a ticket for its flush, under the writer
    /// lock.
    fn apply(
        &self,
        writer: &mut Writer,
        batch: sled::Batch,
        seq: u64,
    ) -> Result<super::group_commit::Ticket, StorageError> {
        let applied = self
            .handle()
            .and_then(|handle| handle.tree.apply_batch(batch).map_err(backend));
        self.inner.failed(applied)?;
        writer.last_seq = seq;
        Ok(self.inner.group.record_write(seq))
    }

    fn next_seq(writer: &Writer) -> Result<u64, StorageError> {
        writer.last_seq.checked_add(1).ok_or(StorageError::Corrupt {
            what: "sequence number",
        })
    }

    /// Builds the batch of one commit; reads what it replaces.
    fn build_commit(&self, commit: CommitBatch, seq: u64) -> Result<sled::Batch, StorageError> {
        let id = &commit.id;
        let old = self.read_meta(id)?;
        match (commit.expected_seq, &old) {
            (None, _) => {}
            (Some(0), None) => {}
            (Some(expected), Some(old)) if old.seq == expected => {}
            (Some(expected), old) => {
                return Err(StorageError::Conflict {
                    reason: format!(
                        "document {id} was expected at sequence {expected} but is at {}",
                        old.as_ref().map_or(0, |meta| meta.seq)
                    ),
                });
            }
        }

        let village = commit.summary.village.clone();
        let mut batch = sled::Batch::default();
        let mut meta = old.clone().unwrap_or_else(|| DocMeta {
            id: id.clone(),
            kind: commit.summary.kind,
            village: village.clone(),
            heads: Vec::new(),
            seq: 0,
            created_at: commit.at,
            updated_at: commit.at,
            snapshot_len: 0,
            chunks_len: 0,
            chunk_count: 0,
        });

        match commit.content {
            DocumentContent::Chunk(bytes) => {
                meta.chunks_len += bytes.len() as u64;
                meta.chunk_count = meta.chunk_count.saturating_add(1);
                batch.insert(doc_seq_key(keys::CHUNK, id, seq), bytes);
            }
            DocumentContent::Snapshot(bytes) => {
                for key in self.keys_under(&doc_key(keys::CHUNK, id))? {
                    batch.remove(key);
                }
                meta.snapshot_len = bytes.len() as u64;
                meta.chunks_len = 0;
                meta.chunk_count = 0;
                batch.insert(doc_key(keys::SNAPSHOT, id), snapshot_value(seq, &bytes));
            }
        }

        if let Some(old) = &old {
            batch.remove(&keys::feed_key(old.seq));
            if old.chunk_count > 0 {
                batch.remove(keys::compaction_key(old.chunk_count, id));
            }
        }
        batch.insert(&keys::feed_key(seq), keys::feed_value(&village, id));
        if meta.chunk_count > 0 {
            batch.insert(keys::compaction_key(meta.chunk_count, id), &[]);
        }

        // Heads log: add this commit's entry, keep the newest HEADS_RETAINED.
        let logged = self.keys_under(&doc_key(keys::HEADS, id))?;
        let excess = (logged.len() + 1).saturating_sub(HEADS_RETAINED);
        for key in logged.into_iter().take(excess) {
            batch.remove(key);
        }
        batch.insert(
            doc_seq_key(keys::HEADS, id, seq),
            encode_heads(&commit.heads),
        );

        // Projection and counters: take the old summary out, put the new in.
        let mut counters: BTreeMap<VillageCode, VillageCounters> = BTreeMap::new();
        if let Some(old) = &old {
            let old_key = keys::projection_key(&old.village, id);
            if let Some(bytes) = self.get(&old_key)? {
                let old_summary: Summary = decode(&bytes, SUMMARY_WHAT)?;
                let mut village_counters = self.read_counters(&old.village)?;
                village_counters.subtract(&old_summary)?;
                counters.insert(old.village.clone(), village_counters);
            }
            if old.village != village {
                batch.remove(old_key);
            }
        }
        let mut village_counters = match counters.remove(&village) {
            Some(staged) => staged,
            None => self.read_counters(&village)?,
        };
        village_counters.add(&commit.summary)?;
        counters.insert(village.clone(), village_counters);
        for (village, village_counters) in &counters {
            let key = keys::counters_key(village);
            if village_counters.is_empty() {
                batch.remove(key);
            } else {
                batch.insert(key, encode(village_counters, COUNTERS_WHAT)?);
            }
        }
        batch.insert(
            keys::projection_key(&village, id),
            encode(&commit.summary, SUMMARY_WHAT)?,
        );

        meta.kind = commit.summary.kind;
        meta.village = village;
        meta.heads = commit.heads;
        meta.seq = seq;
        meta.updated_at = commit.at;
        batch.insert(doc_key(keys::DOC_META, id), meta.encode()?);
        batch.insert(keys::LAST_SEQ, &seq.to_be_bytes());
        Ok(batch)
    }
}

fn snapshot_value(through_seq: u64, bytes: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(8 + bytes.len());
    value.extend_from_slice(&through_seq.to_be_bytes());
    value.extend_from_slice(bytes);
    value
}

impl Drop for SledStorage {
    fn drop(&mut self) {
        self.inner.group.close();
        if let Some(flusher) = self.flusher.take() {
            // The flusher does not panic; if it did, there is nothing more
            // to do here than to go on closing.
            let _ = flusher.join();
        }
    }
}

impl Storage for SledStorage {
    fn commit(&self, batch: CommitBatch) -> Result<CommitReceipt, StorageError> {
        batch.validate()?;
        self.reopen_if_broken()?;
        let (seq, ticket) = {
            let mut writer = self.write_lock();
            let seq = Self::next_seq(&writer)?;
            let sled_batch = self.build_commit(batch, seq)?;
            (seq, self.apply(&mut writer, sled_batch, seq)?)
        };
        self.inner.group.wait(ticket)?;
        Ok(CommitReceipt { seq })
    }

    fn remove_document(&self, id: &DocumentId) -> Result<Option<u64>, StorageError> {
        self.reopen_if_broken()?;
        let (seq, ticket) = {
            let mut writer = self.write_lock();
            let Some(old) = self.read_meta(id)? else {
                return Ok(None);
            };
            let seq = Self::next_seq(&writer)?;
            let mut batch = sled::Batch::default();
            for tag in [keys::CHUNK, keys::HEADS] {
                for key in self.keys_under(&doc_key(tag, id))? {
                    batch.remove(key);
                }
            }
            batch.remove(doc_key(keys::SNAPSHOT, id));
            batch.remove(doc_key(keys::DOC_META, id));
            if old.chunk_count > 0 {
                batch.remove(keys::compaction_key(old.chunk_count, id));
            }
            batch.remove(&keys::feed_key(old.seq));
            batch.insert(&keys::feed_key(seq), keys::feed_value(&old.village, id));
            let projection = keys::projection_key(&old.village, id);
            if let Some(bytes) = self.get(&projection)? {
                let summary: Summary = decode(&bytes, SUMMARY_WHAT)?;
                let mut counters = self.read_counters(&old.village)?;
                counters.subtract(&summary)?;
                let key = keys::counters_key(&old.village);
                if counters.is_empty() {
                    batch.remove(key);
                } else {
                    batch.insert(key, encode(&counters, COUNTERS_WHAT)?);
                }
                batch.remove(projection);
            }
            batch.insert(keys::LAST_SEQ, &seq.to_be_bytes());
            (seq, self.apply(&mut writer, batch, seq)?)
        };
        self.inner.group.wait(ticket)?;
        Ok(Some(seq))
    }

    fn compact(
        &self,
        id: &DocumentId,
        snapshot: Vec<u8>,
        through_seq: u64,
    ) -> Result<(), StorageError> {
        if snapshot.is_empty() {
            return Err(StorageError::Invalid {
                reason: format!("compaction of {id} carries no bytes"),
            });
        }
        self.reopen_if_broken()?;
        let ticket = {
            let mut writer = self.write_lock();
            let mut meta = self.read_meta(id)?.ok_or_else(|| StorageError::Invalid {
                reason: format!("cannot compact {id}: no such document"),
            })?;
            if through_seq > meta.seq {
                return Err(StorageError::Invalid {
                    reason: format!(
                        "cannot compact {id} through {through_seq}: its last commit is {}",
                        meta.seq
                    ),
                });
            }
            let current = self.read_snapshot(id)?.map_or(0, |(through, _)| through);
            if through_seq < current {
                return Err(StorageError::Conflict {
                    reason: format!(
                        "{id} was replaced by a snapshot through {current} after this compaction \
                         was computed through {through_seq}"
                    ),
                });
            }

            let mut batch = sled::Batch::default();
            let mut chunks_len = 0u64;
            let mut chunk_count = 0u32;
            for item in self.handle()?.tree.scan_prefix(doc_key(keys::CHUNK, id)) {
                let (key, value) = item.map_err(backend)?;
                if keys::seq_suffix(&key, "chunk key")? <= through_seq {
                    batch.remove(key);
                } else {
                    chunks_len += value.len() as u64;
                    chunk_count = chunk_count.saturating_add(1);
                }
            }
            batch.insert(
                doc_key(keys::SNAPSHOT, id),
                snapshot_value(through_seq, &snapshot),
            );
            if meta.chunk_count > 0 {
                batch.remove(keys::compaction_key(meta.chunk_count, id));
            }
            if chunk_count > 0 {
                batch.insert(keys::compaction_key(chunk_count, id), &[]);
            }
            meta.snapshot_len = snapshot.len() as u64;
            meta.chunks_len = chunks_len;
            meta.chunk_count = chunk_count;
            batch.insert(doc_key(keys::DOC_META, id), meta.encode()?);
            let seq = writer.last_seq;
            self.apply(&mut writer, batch, seq)?
        };
        self.inner.group.wait(ticket)
    }

    fn documents_needing_compaction(
        &self,
        min_chunks: u32,
        limit: usize,
    ) -> Result<Vec<DocumentId>, StorageError> {
        let start = {
            let mut key = vec![keys::COMPACTION];
            key.extend_from_slice(&min_chunks.max(1).to_be_bytes());
            key
        };
        let end = [keys::COMPACTION + 1];
        self.handle()?
            .tree
            .range(start..end.to_vec())
            .keys()
            .rev()
            .take(limit)
            .map(|key| keys::compaction_doc(&key.map_err(backend)?))
            .collect()
    }

    fn load_document(&self, id: &DocumentId) -> Result<Option<StoredDocument>, StorageError> {
        let _reader = self.read_lock();
        let Some(meta) = self.read_meta(id)? else {
            return Ok(None);
        };
        self.inner.group.wait_for_seq(meta.seq)?;
        let snapshot = self.read_snapshot(id)?.map(|(_, bytes)| bytes);
        let chunks = self
            .handle()?
            .tree
            .scan_prefix(doc_key(keys::CHUNK, id))
            .values()
            .map(|value| value.map(|bytes| bytes.to_vec()).map_err(backend))
            .collect::<Result<Vec<_>, _>>()?;
        if chunks.len() != meta.chunk_count as usize
            || snapshot.as_ref().map_or(0, Vec::len) as u64 != meta.snapshot_len
        {
            return Err(StorageError::Corrupt {
                what: "document chunks",
            });
        }
        Ok(Some(StoredDocument {
            snapshot: snapshot.unwrap_or_default(),
            chunks,
            seq: meta.seq,
        }))
    }

    fn doc_meta(&self, id: &DocumentId) -> Result<Option<DocMeta>, StorageError> {
        let _reader = self.read_lock();
        let meta = self.read_meta(id)?;
        if let Some(meta) = &meta {
            self.inner.group.wait_for_seq(meta.seq)?;
        }
        Ok(meta)
    }

    fn current_seq(&self) -> u64 {
        self.inner.group.durable_seq()
    }

    fn feed_after(
        &self,
        after: u64,
        scope: Option<&Scope>,
        limit: usize,
    ) -> Result<FeedPage, StorageError> {
        let reader = self.read_lock();
        // Entries a newer, not yet durable commit has moved must not be
        // skipped, so wait until everything applied is durable; no commit
        // applies while the reader lock is held.
        self.inner.group.wait_all()?;
        let mut page = FeedPage {
            entries: Vec::new(),
            through_seq: after.max(reader.last_seq),
        };
        let (Some(start), true) = (after.checked_add(1), limit > 0) else {
            page.through_seq = after;
            return Ok(page);
        };
        let range = keys::feed_key(start).to_vec()..=keys::feed_key(u64::MAX).to_vec();
        for item in self.handle()?.tree.range(range) {
            let (key, value) = item.map_err(backend)?;
            // A value starts with its village's code: entries of other
            // villages are passed over before anything is decoded.
            if scope.is_some_and(|scope| !value.starts_with(scope.prefix().as_bytes())) {
                continue;
            }
            let seq = keys::seq_suffix(&key, "change feed key")?;
            let (village, id) = keys::parse_feed_value(&value)?;
            page.entries.push(FeedEntry { seq, id, village });
            if page.entries.len() == limit {
                page.through_seq = seq;
                break;
            }
        }
        Ok(page)
    }

    fn heads_at(&self, id: &DocumentId, seq: u64) -> Result<Option<Vec<[u8; 32]>>, StorageError> {
        let range = doc_seq_key(keys::HEADS, id, 0)..=doc_seq_key(keys::HEADS, id, seq);
        match self.handle()?.tree.range(range).values().next_back() {
            Some(value) => Ok(Some(decode_heads(&value.map_err(backend)?, "heads log")?)),
            None => Ok(None),
        }
    }

    fn summary(&self, id: &DocumentId) -> Result<Option<Summary>, StorageError> {
        let Some(meta) = self.read_meta(id)? else {
            return Ok(None);
        };
        self.get(&keys::projection_key(&meta.village, id))?
            .map(|bytes| decode(&bytes, SUMMARY_WHAT))
            .transpose()
    }

    fn summaries_in_scope(
        &self,
        scope: &Scope,
        after: Option<&ProjectionKey>,
        limit: usize,
    ) -> Result<Vec<Summary>, StorageError> {
        let prefix = keys::scope_prefix(keys::PROJECTION, scope);
        let end = keys::prefix_end(&prefix);
        let start = match after {
            Some(after) => keys::projection_key(&after.village, &after.id),
            None => prefix.clone(),
        };
        if end.as_ref().is_some_and(|end| start >= *end) {
            return Ok(Vec::new());
        }
        let start = match after {
            Some(_) => Bound::Excluded(start.max(prefix)),
            None => Bound::Included(start),
        };
        let end = end.map_or(Bound::Unbounded, Bound::Excluded);
        self.handle()?
            .tree
            .range::<Vec<u8>, _>((start, end))
            .values()
            .take(limit)
            .map(|value| decode(&value.map_err(backend)?, SUMMARY_WHAT))
            .collect()
    }

    fn village_counters(&self, village: &VillageCode) -> Result<VillageCounters, StorageError> {
        self.read_counters(village)
    }

    fn counters_in_scope(&self, scope: &Scope) -> Result<VillageCounters, StorageError> {
        let mut total = VillageCounters::default();
        for value in self
            .handle()?
            .tree
            .scan_prefix(keys::scope_prefix(keys::COUNTERS, scope))
            .values()
        {
            let counters: VillageCounters = decode(&value.map_err(backend)?, COUNTERS_WHAT)?;
            total.absorb(&counters);
        }
        Ok(total)
    }

    fn sync_state(&self, peer: &[u8], id: &DocumentId) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .get(&keys::sync_state_key(peer, id)?)?
            .map(|bytes| bytes.to_vec()))
    }

    fn put_sync_state(
        &self,
        peer: &[u8],
        id: &DocumentId,
        state: &[u8],
    ) -> Result<(), StorageError> {
        self.reopen_if_broken()?;
        let key = keys::sync_state_key(peer, id)?;
        let written = self
            .handle()
            .and_then(|handle| handle.tree.insert(key, state).map(drop).map_err(backend));
        self.inner.failed(written)
    }

    fn quarantine(&self, entry: QuarantineEntry) -> Result<u64, StorageError> {
        let value = encode(&entry, QUARANTINE_WHAT)?;
        self.reopen_if_broken()?;
        let (id, ticket) = {
            let mut writer = self.write_lock();
            let id = Self::next_seq(&writer)?;
            let mut index = match writer.quarantine.take() {
                Some(index) => index,
                None => self.read_quarantine_index()?,
            };
            let key = keys::quarantine_key(id);
            let size = (key.len() + value.len()) as u64;
            let dropped = index.admit(id, entry.device, size, &self.inner.config.quarantine);
            let mut batch = sled::Batch::default();
            if !dropped.contains(&id) {
                batch.insert(&key, value);
            }
            for old in dropped.iter().filter(|old| **old != id) {
                batch.remove(&keys::quarantine_key(*old));
            }
            batch.insert(keys::LAST_SEQ, &id.to_be_bytes());
            // On failure the index is read again at the next refusal.
            let ticket = self.apply(&mut writer, batch, id)?;
            writer.quarantine = Some(index);
            self.inner
                .quarantine_dropped
                .fetch_add(dropped.len() as u64, Ordering::Relaxed);
            (id, ticket)
        };
        self.inner.group.wait(ticket)?;
        Ok(id)
    }

    fn quarantine_dropped(&self) -> u64 {
        self.inner.quarantine_dropped.load(Ordering::Relaxed)
    }

    fn list_quarantine(&self, limit: usize) -> Result<Vec<Quarantined>, StorageError> {
        self.handle()?
            .tree
            .scan_prefix([keys::QUARANTINE])
            .rev()
            .take(limit)
            .map(|item| {
                let (key, value) = item.map_err(backend)?;
                Ok(Quarantined {
                    id: keys::seq_suffix(&key, "quarantine key")?,
                    entry: decode(&value, QUARANTINE_WHAT)?,
                })
            })
            .collect()
    }

    fn list_quarantine_where(
        &self,
        limit: usize,
        scan: usize,
        keep: &dyn Fn(&QuarantineEntry) -> bool,
    ) -> Result<Vec<Quarantined>, StorageError> {
        let mut out = Vec::new();
        for item in self
            .handle()?
            .tree
            .scan_prefix([keys::QUARANTINE])
            .rev()
            .take(scan)
        {
            if out.len() >= limit {
                break;
            }
            let (key, value) = item.map_err(backend)?;
            let entry: QuarantineEntry = decode(&value, QUARANTINE_WHAT)?;
            if keep(&entry) {
                out.push(Quarantined {
                    id: keys::seq_suffix(&key, "quarantine key")?,
                    entry,
                });
            }
        }
        Ok(out)
    }

    fn get_meta(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.get(&keys::meta_key(name))?.map(|bytes| bytes.to_vec()))
    }

    fn metas_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let start = keys::meta_key(prefix);
        let base = keys::meta_key("").len();
        self.handle()?
            .tree
            .scan_prefix(&start)
            .map(|entry| {
                let (key, value) = entry.map_err(backend)?;
                let name = key
                    .get(base..)
                    .and_then(|name| std::str::from_utf8(name).ok())
                    .ok_or(StorageError::Corrupt { what: "meta name" })?;
                Ok((name.to_owned(), value.to_vec()))
            })
            .collect()
    }

    fn put_meta(&self, name: &str, value: &[u8]) -> Result<(), StorageError> {
        if name == META_SCHEMA_VERSION || name == META_STORAGE_ID {
            return Err(StorageError::Invalid {
                reason: format!("{name} is set by the storage itself"),
            });
        }
        self.reopen_if_broken()?;
        let ticket = {
            let mut writer = self.write_lock();
            let mut batch = sled::Batch::default();
            batch.insert(keys::meta_key(name), value);
            let seq = writer.last_seq;
            self.apply(&mut writer, batch, seq)?
        };
        self.inner.group.wait(ticket)
    }

    fn backup_to(&self, path: &Path) -> Result<BackupReport, StorageError> {
        let _reader = self.read_lock();
        let mut writer = BackupWriter::create(path)?;
        for item in self.handle()?.tree.iter() {
            let (key, value) = item.map_err(backend)?;
            writer.record(&key, &value)?;
        }
        writer.finish()
    }

    fn health(&self) -> StoreHealth {
        if let Err(error) = self.reopen_if_broken() {
            tracing::debug!(%error, "reopening the store failed");
        }
        if !self.inner.broken.load(Ordering::Relaxed) && self.inner.handle().is_ok() {
            return StoreHealth::Ok;
        }
        let failure = self
            .inner
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| "a write failed".to_owned());
        let reason = match fs2::available_space(&self.inner.config.path) {
            Ok(free) if free < REOPEN_MIN_FREE => format!(
                "{failure}; {} KiB free on the data disk, writes resume once \
                 {} KiB are free",
                free / 1024,
                REOPEN_MIN_FREE / 1024
            ),
            _ => format!("{failure}; the store is reopened again every second while asked"),
        };
        StoreHealth::Failing { reason }
    }
}
