//! [`SledBackend`]: the embedded [`Backend`] on sled, and [`SledStorage`],
//! the [`Store`] on it.
//!
//! Every [`Space`] lives in one sled tree, each key prefixed by the space's
//! tag (the layout of schema version 1: stores written before the backend
//! interface existed open as they are). A write transaction holds the
//! writer lock, reads the tree directly and collects its writes in one
//! `sled::Batch`; committing applies the batch to the tree. sled applies a
//! batch atomically, including across a crash (recovery replays a batch
//! entirely or not at all), which is exactly the all-or-nothing a commit
//! needs. The writer lock is held only while the batch is built and
//! applied in memory; the flush, the expensive part, happens after it is
//! released and is shared by every commit that waits for it (see
//! [`super::group_commit`]).
//!
//! A snapshot view takes the same lock shared, so it sees the store between
//! commits: a backup copies the tree under it, and [`Backend::wait_durable`]
//! waits for the flush under it. A latest view takes no lock (single reads
//! of one key or range, as sled gives them).
//!
//! The futures of this backend never suspend: they block the polling thread
//! on the writer lock when it is contended and on a flush when asked to
//! wait for one, so they are driven from blocking threads (as the
//! synchronous [`Storage`](super::Storage) adapter does).

use std::fs;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::{ArcRwLockReadGuard, ArcRwLockWriteGuard, RawRwLock};

use super::backend::{
    Backend, Consistency, Durability, Entry, KeyRange, ReadView, Space, WriteTxn,
};
use super::backup::{BackupReport, verify};
use super::codec::decode_u64;
use super::group_commit::{FlushStats, GroupCommit};
use super::store::Store;
use super::{StorageConfig, StorageError, StoreHealth};

/// The sled tree that holds the store.
const TREE: &[u8] = b"fengqiao";

/// The store on sled: what the server opens by default.
pub type SledStorage = Store<SledBackend>;

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
    writer: Arc<parking_lot::RwLock<Writer>>,
    group: GroupCommit,
    config: StorageConfig,
    /// Set when a write or a flush failed: sled refuses every write after a
    /// failed one until the database is opened again.
    broken: AtomicBool,
    /// When reopening was last tried.
    last_reopen: Mutex<Option<Instant>>,
    /// What last made the store unable to write, for `/healthz`.
    last_failure: Mutex<Option<String>>,
    /// Whether the thread that reopens a broken store runs.
    healing: AtomicBool,
}

impl Inner {
    fn current_handle(&self) -> Result<Arc<Handle>, StorageError> {
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
    fn failed<T>(self: &Arc<Self>, result: Result<T, StorageError>) -> Result<T, StorageError> {
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
            self.broken.store(true, Ordering::Release);
            self.heal();
        }
        result
    }

    /// Starts, unless it runs, the thread that reopens the broken store
    /// every [`REOPEN_EVERY`] until it is whole again. Writes and the health
    /// check reopen it too, but a request that fails on a read first (a
    /// record whose last commit was never flushed) never reaches its write;
    /// the thread holds no view, so it is not in its own way. It ends once
    /// the store is whole, or dropped.
    fn heal(self: &Arc<Self>) {
        if self.healing.swap(true, Ordering::AcqRel) {
            return;
        }
        let store = Arc::downgrade(self);
        let spawned = thread::Builder::new()
            .name("storage-healer".into())
            .spawn(move || {
                loop {
                    thread::sleep(REOPEN_EVERY);
                    let Some(inner) = store.upgrade() else {
                        return;
                    };
                    if let Err(error) = inner.reopen_if_broken() {
                        tracing::debug!(%error, "reopening the store failed; trying again");
                    }
                    if !inner.broken.load(Ordering::Acquire) {
                        inner.healing.store(false, Ordering::Release);
                        // A failure in between found the thread still
                        // running and started none: go on for it.
                        if !inner.broken.load(Ordering::Acquire)
                            || inner.healing.swap(true, Ordering::AcqRel)
                        {
                            return;
                        }
                    }
                }
            });
        if spawned.is_err() {
            // Writes and the health check still reopen it.
            self.healing.store(false, Ordering::Release);
        }
    }

    /// The open database; when there is none (reopening failed), tries to
    /// reopen it first.
    fn handle(&self) -> Result<Arc<Handle>, StorageError> {
        self.current_handle().or_else(|_| {
            self.reopen_if_broken()?;
            self.current_handle()
        })
    }
    /// Reopens the store after a failed write or flush (sled refuses every
    /// write after one until the database is opened again), at most once per
    /// [`REOPEN_EVERY`]. Writes wait meanwhile; tickets not yet settled
    /// fail, as their writes may be lost; what recovery finds is on disk.
    /// If opening fails (the disk is still full, say), writes keep failing
    /// and the next one tries again.
    fn reopen_if_broken(&self) -> Result<(), StorageError> {
        if !self.broken.load(Ordering::Relaxed) {
            return Ok(());
        }
        // Opening again on a disk that is still full would fail and leave
        // nothing to read from: keep the old handle, which still reads.
        if fs2::available_space(&self.config.path).is_ok_and(|free| free < REOPEN_MIN_FREE) {
            return Ok(());
        }
        {
            let mut last = self
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
        let Some(mut writer) = self.writer.try_write() else {
            return Ok(());
        };
        if !self.broken.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut slot = self.handle.write().unwrap_or_else(PoisonError::into_inner);
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

    fn open_into(
        &self,
        slot: &mut Option<Arc<Handle>>,
        writer: &mut Writer,
    ) -> Result<(), StorageError> {
        let (handle, last_seq) = open_handle(&self.config).inspect_err(|error| {
            tracing::warn!(%error, "the store could not be reopened; writes keep failing");
        })?;
        writer.last_seq = last_seq;
        self.group.reopened(last_seq);
        *slot = Some(Arc::new(handle));
        self.broken.store(false, Ordering::Relaxed);
        tracing::warn!(
            last_seq,
            "the store was reopened after a storage error and takes writes again"
        );
        Ok(())
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

/// Opens the database and reads the last sequence number; what recovery
/// found is flushed before anything is served.
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
    let db = open_db(config).inspect_err(|_| {
        // What the failed open began is not left for the next one.
        remove_unfinished_snapshots(&config.path);
    })?;
    let tree = db.open_tree(TREE).map_err(backend)?;

    let last_seq = match tree.get([Space::Seq.tag()]).map_err(backend)? {
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

/// The embedded backend. Dropping it flushes what is pending and stops its
/// flusher thread; the directory can then be opened again.
pub struct SledBackend {
    inner: Arc<Inner>,
    flusher: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SledBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledBackend")
            .field("durable_seq", &self.inner.group.durable_seq())
            .finish_non_exhaustive()
    }
}

impl SledBackend {
    /// Opens (or creates) the sled database in `config.path`.
    ///
    /// Reads the last sequence number, nothing per record, so opening takes
    /// the same time however many records there are.
    pub fn open(config: &StorageConfig) -> Result<Self, StorageError> {
        let (handle, last_seq) = open_handle(config)?;
        let inner = Arc::new(Inner {
            handle: RwLock::new(Some(Arc::new(handle))),
            writer: Arc::new(parking_lot::RwLock::new(Writer { last_seq })),
            group: GroupCommit::new(last_seq),
            config: config.clone(),
            broken: AtomicBool::new(false),
            last_reopen: Mutex::new(None),
            last_failure: Mutex::new(None),
            healing: AtomicBool::new(false),
        });
        let flusher_inner = Arc::clone(&inner);
        let flusher = thread::Builder::new()
            .name("storage-flusher".into())
            .spawn(move || {
                let inner = flusher_inner;
                inner.group.run_flusher(|| {
                    let flushed = inner
                        .current_handle()
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

    /// Writes and flushes counted so far, to observe group commit.
    pub fn flush_stats(&self) -> FlushStats {
        self.inner.group.stats()
    }
}

impl Drop for SledBackend {
    fn drop(&mut self) {
        self.inner.group.close();
        if let Some(flusher) = self.flusher.take() {
            // The flusher does not panic; if it did, there is nothing more
            // to do here than to go on closing.
            let _ = flusher.join();
        }
    }
}

/// The tree's range for `range` of `space`.
fn tagged_bounds(space: Space, range: &KeyRange) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let tag = space.tag();
    let start = match &range.start {
        Bound::Included(key) => Bound::Included(space.tagged(key)),
        Bound::Excluded(key) => Bound::Excluded(space.tagged(key)),
        Bound::Unbounded => Bound::Included(vec![tag]),
    };
    let end = match &range.end {
        Bound::Included(key) => Bound::Included(space.tagged(key)),
        Bound::Excluded(key) => Bound::Excluded(space.tagged(key)),
        // Tags are ASCII letters: the next byte is the next space.
        Bound::Unbounded => Bound::Excluded(vec![tag + 1]),
    };
    (start, end)
}

fn scan_tree(
    tree: &sled::Tree,
    space: Space,
    range: &KeyRange,
) -> Result<Vec<Entry>, StorageError> {
    if range.limit == 0 || range.is_empty() {
        return Ok(Vec::new());
    }
    let items = tree.range::<Vec<u8>, _>(tagged_bounds(space, range));
    let strip = |item: sled::Result<(sled::IVec, sled::IVec)>| {
        let (key, value) = item.map_err(backend)?;
        let key = key.get(1..).ok_or(StorageError::Corrupt { what: "key" })?;
        Ok((key.to_vec(), value.to_vec()))
    };
    if range.reverse {
        items.rev().take(range.limit).map(strip).collect()
    } else {
        items.take(range.limit).map(strip).collect()
    }
}

fn get_tree(tree: &sled::Tree, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
    Ok(tree
        .get(space.tagged(key))
        .map_err(backend)?
        .map(|value| value.to_vec()))
}

/// A view: the tree, with the writer lock held shared for a snapshot.
pub struct SledView {
    handle: Arc<Handle>,
    _reader: Option<ArcRwLockReadGuard<RawRwLock, Writer>>,
}

impl ReadView for SledView {
    async fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        get_tree(&self.handle.tree, space, key)
    }

    async fn scan(&self, space: Space, range: &KeyRange) -> Result<Vec<Entry>, StorageError> {
        scan_tree(&self.handle.tree, space, range)
    }
}

/// The write transaction: the writer lock and the batch being built.
pub struct SledTxn {
    inner: Arc<Inner>,
    handle: Arc<Handle>,
    writer: ArcRwLockWriteGuard<RawRwLock, Writer>,
    batch: sled::Batch,
    seq: Option<u64>,
}

impl ReadView for SledTxn {
    async fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        get_tree(&self.handle.tree, space, key)
    }

    async fn scan(&self, space: Space, range: &KeyRange) -> Result<Vec<Entry>, StorageError> {
        scan_tree(&self.handle.tree, space, range)
    }
}

impl WriteTxn for SledTxn {
    fn put(&mut self, space: Space, key: Vec<u8>, value: Vec<u8>) {
        self.batch.insert(space.tagged(&key), value);
    }

    fn delete(&mut self, space: Space, key: Vec<u8>) {
        self.batch.remove(space.tagged(&key));
    }

    async fn next_seq(&mut self) -> Result<u64, StorageError> {
        if let Some(seq) = self.seq {
            return Ok(seq);
        }
        let seq = self
            .writer
            .last_seq
            .checked_add(1)
            .ok_or(StorageError::Corrupt {
                what: "sequence number",
            })?;
        self.seq = Some(seq);
        Ok(seq)
    }

    async fn commit(self, durability: Durability) -> Result<Option<u64>, StorageError> {
        let SledTxn {
            inner,
            handle,
            mut writer,
            mut batch,
            seq,
        } = self;
        if let Some(seq) = seq {
            batch.insert(vec![Space::Seq.tag()], &seq.to_be_bytes());
        }
        inner.failed(handle.tree.apply_batch(batch).map_err(backend))?;
        if let Some(seq) = seq {
            writer.last_seq = seq;
        }
        if durability == Durability::Lazy {
            return Ok(seq);
        }
        // Tickets are taken in the order batches are applied: under the
        // writer lock. The flush is waited for without it.
        let ticket = inner.group.record_write(writer.last_seq);
        drop(writer);
        inner.group.wait(ticket)?;
        Ok(seq)
    }
}

impl Backend for SledBackend {
    type Read = SledView;
    type Write = SledTxn;

    async fn read(&self, consistency: Consistency) -> Result<SledView, StorageError> {
        // No batch is applied while the lock is held shared, so a snapshot
        // view sees the tree between two commits.
        let reader = match consistency {
            Consistency::Snapshot => Some(self.inner.writer.read_arc()),
            Consistency::Latest => None,
        };
        let handle = self.inner.handle()?;
        Ok(SledView {
            handle,
            _reader: reader,
        })
    }

    async fn write(&self) -> Result<SledTxn, StorageError> {
        self.inner.reopen_if_broken()?;
        let writer = self.inner.writer.write_arc();
        let handle = self.inner.handle()?;
        Ok(SledTxn {
            inner: Arc::clone(&self.inner),
            handle,
            writer,
            batch: sled::Batch::default(),
            seq: None,
        })
    }

    async fn wait_durable(&self, seq: u64) -> Result<(), StorageError> {
        self.inner.group.wait_for_seq(seq)
    }

    fn durable_seq(&self) -> u64 {
        self.inner.group.durable_seq()
    }

    fn health(&self) -> StoreHealth {
        if let Err(error) = self.inner.reopen_if_broken() {
            tracing::debug!(%error, "reopening the store failed");
        }
        if !self.inner.broken.load(Ordering::Relaxed) && self.inner.current_handle().is_ok() {
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

impl Store<SledBackend> {
    /// Opens (or creates) the store in `config.path`.
    ///
    /// Reads the schema version and the last sequence number, nothing per
    /// record, so opening takes the same time however many records there are.
    pub fn open(config: &StorageConfig) -> Result<Self, StorageError> {
        Store::open_on(SledBackend::open(config)?, config.quarantine)
    }

    /// Writes and flushes counted so far, to observe group commit.
    pub fn flush_stats(&self) -> FlushStats {
        self.backend().flush_stats()
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
        let backend = SledBackend::open(&StorageConfig::new(into))?;
        super::backend::block_on(Store::restore_into(&backend, backup))
    }
}
