//! The storage backend: the one interface a storage engine implements.
//!
//! Everything Fengqiao stores (documents, the feed, the heads log, the
//! projection index, quarantine, server values) is laid out by
//! the backend-neutral [`Store`](super::Store) on top of a few ordered key
//! spaces. A backend only keeps bytes:
//!
//! - [`Backend::read`] opens a view. A [`Consistency::Snapshot`] view
//!   shows every transaction committed before it was opened and none
//!   committed after (sled: the writer lock taken shared; PostgreSQL: a
//!   `REPEATABLE READ` transaction); a [`Consistency::Latest`] view reads
//!   whatever is committed at each read, without waiting for a writer.
//!   [`ReadView::get`] reads one key, [`ReadView::scan`] a range of keys in
//!   byte order (lexicographic), forwards or backwards, at most a limit.
//! - [`Backend::write`] opens the write transaction. There is one at a time:
//!   a transaction reads what it replaces and writes in one serial step
//!   (PostgreSQL: the row of the sequence locked `FOR UPDATE`). Reads inside
//!   it see the state before it, never its own writes.
//!   [`WriteTxn::next_seq`] reserves the next number of the server sequence;
//!   [`WriteTxn::commit`] applies every put and delete atomically, stores the
//!   reserved number as the last one assigned ([`Space::Seq`]) and, with
//!   [`Durability::Flushed`], returns only once all of it is durable. Since
//!   transactions are serial, sequence numbers become visible in the order
//!   they were assigned.
//! - A view may show a commit whose flush is still running (sled applies a
//!   batch in memory, then flushes it in a group with others).
//!   [`Backend::wait_durable`] waits until the commit of a sequence number is
//!   on disk; [`Backend::durable_seq`] is the last one that is. Backends
//!   whose views only show durable commits answer both at once.
//!
//! A transaction dropped without [`WriteTxn::commit`] writes nothing.
//!
//! # Threads
//!
//! Every method is async, so that a backend on a network database does not
//! hold a thread while it waits. The embedded backends ([`SledBackend`](super::SledBackend),
//! [`MemoryBackend`]) complete their futures without suspending except to
//! wait for a flush or for the writer lock; they block the thread that
//! polls them while they do, so they are driven from blocking threads.

pub mod crash;
pub mod memory;

use std::future::Future;
use std::ops::Bound;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

pub use crash::{CrashBackend, CrashPoint};
pub use memory::MemoryBackend;

use super::{StorageError, StoreHealth};

/// The key spaces of the store. Each is an ordered map from byte keys to
/// byte values; keys order lexicographically. On sled all spaces share one
/// tree, each key prefixed by [`Space::tag`]; a database keeps one table
/// per space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Space {
    /// The last sequence number assigned, one value at the empty key
    /// (big-endian u64). Written by the backend in [`WriteTxn::commit`].
    Seq,
    /// Server-wide values by name ([`ServerValue`](super::ServerValue)).
    Meta,
    /// Document metadata by document.
    DocMeta,
    /// Document snapshot by document.
    Snapshot,
    /// Change chunks by document and sequence number.
    Chunk,
    /// Heads log by document and sequence number.
    Heads,
    /// The change feed by sequence number.
    Feed,
    /// Summaries by village and document.
    Projection,
    /// Per-village counters that older versions kept; nothing writes them
    /// now, and the store leaves them out of backups and restores.
    Counters,
    /// Compaction candidates by chunk count and document.
    Compaction,
    /// Per-peer sync states by peer and document.
    SyncState,
    /// Quarantined changes by id.
    Quarantine,
}

impl Space {
    /// Every space, in the order of their tags.
    pub const ALL: [Space; 12] = [
        Space::Seq,
        Space::Chunk,
        Space::DocMeta,
        Space::Feed,
        Space::Heads,
        Space::Meta,
        Space::Counters,
        Space::Projection,
        Space::Snapshot,
        Space::Compaction,
        Space::SyncState,
        Space::Quarantine,
    ];

    /// The byte that prefixes the space's keys in one shared key space (the
    /// sled tree and the backup file).
    pub const fn tag(self) -> u8 {
        match self {
            Space::Seq => b'Q',
            Space::Meta => b'm',
            Space::DocMeta => b'd',
            Space::Snapshot => b's',
            Space::Chunk => b'c',
            Space::Heads => b'h',
            Space::Feed => b'f',
            Space::Projection => b'p',
            Space::Counters => b'n',
            Space::Compaction => b'x',
            Space::SyncState => b'y',
            Space::Quarantine => b'z',
        }
    }

    /// The space whose tag is `tag`.
    pub fn of_tag(tag: u8) -> Option<Space> {
        Space::ALL.into_iter().find(|space| space.tag() == tag)
    }

    /// A name for tables and messages.
    pub const fn name(self) -> &'static str {
        match self {
            Space::Seq => "seq",
            Space::Meta => "meta",
            Space::DocMeta => "doc_meta",
            Space::Snapshot => "snapshot",
            Space::Chunk => "chunk",
            Space::Heads => "heads",
            Space::Feed => "feed",
            Space::Projection => "projection",
            Space::Counters => "counters",
            Space::Compaction => "compaction",
            Space::SyncState => "sync_state",
            Space::Quarantine => "quarantine",
        }
    }

    /// `tag ‖ key`: the key in one shared key space.
    pub fn tagged(self, key: &[u8]) -> Vec<u8> {
        let mut tagged = Vec::with_capacity(1 + key.len());
        tagged.push(self.tag());
        tagged.extend_from_slice(key);
        tagged
    }
}

/// A range of keys of one space, read in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    pub start: Bound<Vec<u8>>,
    pub end: Bound<Vec<u8>>,
    /// Read from the end backwards.
    pub reverse: bool,
    /// At most this many entries.
    pub limit: usize,
}

impl KeyRange {
    /// Every key of the space.
    pub fn all() -> Self {
        Self {
            start: Bound::Unbounded,
            end: Bound::Unbounded,
            reverse: false,
            limit: usize::MAX,
        }
    }

    /// Every key starting with `prefix`.
    pub fn prefix(prefix: &[u8]) -> Self {
        Self {
            start: Bound::Included(prefix.to_vec()),
            end: super::keys::prefix_end(prefix).map_or(Bound::Unbounded, Bound::Excluded),
            reverse: false,
            limit: usize::MAX,
        }
    }

    /// Keys from `start` up to and including `end`.
    pub fn inclusive(start: Vec<u8>, end: Vec<u8>) -> Self {
        Self {
            start: Bound::Included(start),
            end: Bound::Included(end),
            reverse: false,
            limit: usize::MAX,
        }
    }

    /// The same range read backwards.
    pub fn rev(mut self) -> Self {
        self.reverse = !self.reverse;
        self
    }

    /// The same range, at most `limit` entries.
    pub fn take(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Whether `key` lies in the range (its bounds only).
    pub fn contains(&self, key: &[u8]) -> bool {
        let after_start = match &self.start {
            Bound::Included(start) => key >= start.as_slice(),
            Bound::Excluded(start) => key > start.as_slice(),
            Bound::Unbounded => true,
        };
        let before_end = match &self.end {
            Bound::Included(end) => key <= end.as_slice(),
            Bound::Excluded(end) => key < end.as_slice(),
            Bound::Unbounded => true,
        };
        after_start && before_end
    }

    /// Whether no key can lie in the range.
    pub fn is_empty(&self) -> bool {
        match (&self.start, &self.end) {
            (Bound::Included(s), Bound::Included(e)) => s > e,
            (Bound::Included(s) | Bound::Excluded(s), Bound::Excluded(e))
            | (Bound::Excluded(s), Bound::Included(e)) => s >= e,
            _ => false,
        }
    }
}

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// When [`WriteTxn::commit`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Once the transaction is durable (flushed, `fsync`ed, or committed
    /// with `synchronous_commit` on).
    Flushed,
    /// Once it is applied and visible; it reaches the disk with a later
    /// flush (per-peer sync states: a cache).
    Lazy,
}

/// What a view must agree with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// Every read of the view sees the same commits: those committed before
    /// it was opened. While it is held, a commit's ticket for
    /// [`Backend::wait_durable`] is known for whatever it shows.
    Snapshot,
    /// Each read sees what is committed when it runs; two reads may see
    /// different commits. For reads of one key or one range that need not
    /// agree with another read (a summary, a server value); it
    /// never waits for a writer.
    Latest,
}

/// A view of the store.
pub trait ReadView: Send + Sync {
    /// The value of `key` in `space`.
    fn get(
        &self,
        space: Space,
        key: &[u8],
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StorageError>> + Send;

    /// The entries of `space` in `range`, in key order (reversed when the
    /// range says so), at most `range.limit`.
    fn scan(
        &self,
        space: Space,
        range: &KeyRange,
    ) -> impl Future<Output = Result<Vec<Entry>, StorageError>> + Send;

    /// Several reads at once, answered in order. On a
    /// [`Consistency::Snapshot`] view they agree as every read of it does;
    /// a backend whose latest views answer them from one state of the store
    /// (PostgreSQL: one statement) says so in
    /// [`Backend::views_are_durable`]'s sense, by overriding this.
    fn read_many(
        &self,
        reads: &[Read],
    ) -> impl Future<Output = Result<Vec<Found>, StorageError>> + Send {
        async move {
            let mut found = Vec::with_capacity(reads.len());
            for read in reads {
                found.push(match read {
                    Read::Get(space, key) => Found::Value(self.get(*space, key).await?),
                    Read::Scan(space, range) => Found::Entries(self.scan(*space, range).await?),
                });
            }
            Ok(found)
        }
    }
}

/// One read of [`ReadView::read_many`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    Get(Space, Vec<u8>),
    Scan(Space, KeyRange),
}

/// What one read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The value of a key (`None`: not set).
    Value(Option<Vec<u8>>),
    /// The entries of a range, in its order.
    Entries(Vec<Entry>),
}

/// The write transaction: reads (of the state before it), puts and
/// deletes, applied together by [`WriteTxn::commit`] or not at all.
pub trait WriteTxn: ReadView {
    fn put(&mut self, space: Space, key: Vec<u8>, value: Vec<u8>);

    fn delete(&mut self, space: Space, key: Vec<u8>);

    /// The sequence number this transaction takes: the one after the last
    /// assigned, reserved at the first call (later calls return it again).
    fn next_seq(&mut self) -> impl Future<Output = Result<u64, StorageError>> + Send;

    /// Text announced to every server on the same store when this
    /// transaction commits, and only then (see [`Backend::announcements`]).
    /// Backends that serve one server alone ignore it.
    fn announce(&mut self, text: String) {
        let _ = text;
    }

    /// Applies everything atomically; returns the sequence number taken, if
    /// any, once the transaction is as durable as `durability` asks. On
    /// `Err` the transaction may or may not have been applied: it is not
    /// acknowledged.
    fn commit(
        self,
        durability: Durability,
    ) -> impl Future<Output = Result<Option<u64>, StorageError>> + Send;
}

/// A storage engine under the [`Store`](super::Store).
pub trait Backend: Send + Sync + 'static {
    type Read: ReadView + 'static;
    type Write: WriteTxn + 'static;

    /// A view of what is committed, as consistent as asked.
    fn read(
        &self,
        consistency: Consistency,
    ) -> impl Future<Output = Result<Self::Read, StorageError>> + Send;

    /// The write transaction, once the previous one has finished applying.
    fn write(&self) -> impl Future<Output = Result<Self::Write, StorageError>> + Send;

    /// Returns once the commit that took `seq` (and every commit before it)
    /// is durable.
    fn wait_durable(&self, seq: u64) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// The last sequence number known to be durable.
    fn durable_seq(&self) -> u64;

    /// Whether every view shows only durable commits, so that a single
    /// read needs no snapshot to wait for durability (PostgreSQL: a commit
    /// is visible once it is durable). `false`: single reads that must be
    /// durable take a snapshot view and wait ([`Backend::wait_durable`]).
    fn views_are_durable(&self) -> bool {
        false
    }

    /// The last sequence number committed by anyone, durable, asked of the
    /// store now. For a backend shared by several servers,
    /// [`Backend::durable_seq`] is what this server has heard of, which may
    /// lag a moment behind another server's commit; this reads it.
    fn latest_seq(&self) -> impl Future<Output = Result<u64, StorageError>> + Send {
        let seq = self.durable_seq();
        async move { Ok(seq) }
    }

    /// Whether the backend takes writes now; asking may try to recover.
    fn health(&self) -> StoreHealth {
        StoreHealth::Ok
    }

    /// What the transactions of every server on this store announced
    /// ([`WriteTxn::announce`]), from now on; `None` for a backend that
    /// only one server uses.
    fn announcements(&self) -> Option<tokio::sync::broadcast::Receiver<Announcement>> {
        None
    }

    /// See [`Storage::read_cache_stats`](super::Storage::read_cache_stats).
    fn read_cache_stats(&self) -> Option<(u64, u64, usize)> {
        None
    }

    /// See [`Storage::fresh`](super::Storage::fresh). Blocks: call it from
    /// a blocking thread. A backend whose every read is of the store as it
    /// is keeps the default, which does nothing.
    fn fresh(&self) -> super::FreshScope {
        super::FreshScope::none()
    }

    /// Reads `tags` ahead into this server's cache, in one go, when this
    /// thread is in a [`FreshScope`](super::FreshScope); errors are for the
    /// reads that follow to report. The default has no cache.
    fn prefetch(&self, tags: Vec<super::read_cache::Tag>) -> impl Future<Output = ()> + Send {
        let _ = tags;
        async {}
    }

    /// [`Backend::prefetch`] of `tags`, then `reads` of the latest state:
    /// in one go where the backend can.
    fn prefetch_and_read(
        &self,
        tags: Vec<super::read_cache::Tag>,
        reads: Vec<Read>,
    ) -> impl Future<Output = Result<Vec<Found>, StorageError>> + Send {
        async move {
            self.prefetch(tags).await;
            self.read(Consistency::Latest)
                .await?
                .read_many(&reads)
                .await
        }
    }
}

/// What a committed transaction announced to the servers sharing a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announcement {
    Committed {
        /// Whether this server committed it.
        own: bool,
        /// The sequence number it took (0 when it took none).
        seq: u64,
        /// What it announced.
        text: String,
    },
    /// Announcements may have been lost (the connection that receives them
    /// was made again): whatever depends on them is read afresh.
    Missed,
}

/// Runs a future to completion on this thread. Used by the synchronous
/// [`Storage`](super::Storage) adapter, which the engine calls from
/// blocking threads.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_distinct_and_round_trip() {
        for space in Space::ALL {
            assert_eq!(Space::of_tag(space.tag()), Some(space));
        }
        let mut tags: Vec<u8> = Space::ALL.iter().map(|s| s.tag()).collect();
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), Space::ALL.len());
        assert_eq!(Space::of_tag(b'?'), None);
    }

    #[test]
    fn ranges_know_their_bounds() {
        let range = KeyRange::prefix(b"ab");
        assert!(range.contains(b"ab"));
        assert!(range.contains(b"ab\xff"));
        assert!(!range.contains(b"ac"));
        assert!(!range.contains(b"a"));
        assert!(KeyRange::inclusive(b"b".to_vec(), b"a".to_vec()).is_empty());
        assert!(!KeyRange::inclusive(b"a".to_vec(), b"a".to_vec()).is_empty());
    }

    #[test]
    fn block_on_runs_a_future_woken_from_another_thread() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            let _ = tx.send(7);
        });
        assert_eq!(block_on(rx).unwrap(), 7);
        sender.join().unwrap();
    }
}
