//! The byte-bounded cache of loaded documents.
//!
//! Documents are loaded on demand and kept while they are used; when the
//! estimated memory of the loaded documents passes the configured budget,
//! the least recently used are dropped (they reload from storage next
//! time). Server memory therefore does not grow with the number of stored
//! records, only with the budget.
//!
//! Each document sits in a [`Slot`] behind its own mutex ([`SlotCell`]), so
//! work on one document (deciding on an upload, generating a sync message)
//! is serialised while different documents proceed in parallel. The mutex
//! is never held while storage flushes: a writer takes the document's
//! write turn, decides under the mutex, lets it go while its commit is
//! made durable, then takes it again to install the result; readers meanwhile
//! see the last durable state. A slot evicted while someone still holds it
//! stays valid for that holder; commits carry the sequence number they
//! started from, so a stale slot can never overwrite newer data (storage
//! refuses the commit and the engine reloads).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use automerge::AutoCommit;
use fengqiao_protocol::{DocumentId, VillageCode};

use crate::lru::WeightedLru;

/// A loaded document and what the engine knows about it.
pub struct Loaded {
    pub doc: AutoCommit,
    /// The sequence number of the last commit included.
    pub seq: u64,
    pub village: VillageCode,
    /// Stored size (snapshot and chunks), for limits and cache accounting.
    pub stored_bytes: u64,
}

/// One document's place in the cache: empty until loaded, or for a
/// document that does not exist yet.
#[derive(Default)]
pub struct Slot {
    pub loaded: Option<Loaded>,
    /// A writer holds the document's write turn ([`SlotCell::write_turn`]).
    writing: bool,
}

/// A slot behind its mutex, and the write turn: one writer at a time
/// decides, commits and installs its result, without holding the mutex
/// while its commit is flushed; readers take the mutex only.
#[derive(Default)]
pub struct SlotCell {
    slot: Mutex<Slot>,
    turn_free: Condvar,
}

impl SlotCell {
    /// The slot, locked.
    pub fn lock(&self) -> MutexGuard<'_, Slot> {
        lock(&self.slot)
    }

    /// Waits until no other writer holds the write turn, and takes it; it
    /// is given back when the returned turn is dropped.
    pub fn write_turn(&self) -> WriteTurn<'_> {
        let mut guard = self.lock();
        while guard.writing {
            guard = self
                .turn_free
                .wait(guard)
                .unwrap_or_else(|e| e.into_inner());
        }
        guard.writing = true;
        WriteTurn { cell: self }
    }
}

/// The write turn of one document, held by one writer.
pub struct WriteTurn<'a> {
    cell: &'a SlotCell,
}

impl Drop for WriteTurn<'_> {
    fn drop(&mut self) {
        self.cell.lock().writing = false;
        self.cell.turn_free.notify_one();
    }
}

impl Slot {
    /// Estimated memory held, in bytes. Automerge's in-memory form is
    /// many times its compressed saved size: a dispute record of 1.1 KiB
    /// saved takes about 19 KiB of resident memory once loaded (measured
    /// over 5,000 loaded records), which this estimate slightly exceeds.
    fn weight(&self) -> u64 {
        self.loaded
            .as_ref()
            .map(|l| 4096 + l.stored_bytes.saturating_mul(16))
            .unwrap_or(256)
    }
}

#[derive(Default)]
struct Inner {
    slots: WeightedLru<DocumentId, Arc<SlotCell>>,
}

/// Hit and miss counts, for `/metrics`.
#[derive(Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

pub struct DocCache {
    budget: u64,
    inner: Mutex<Inner>,
    pub stats: CacheStats,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The cache's invariants hold between statements; a panic elsewhere
    // while holding the lock does not break them.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl DocCache {
    pub fn new(budget_bytes: u64) -> Self {
        Self {
            budget: budget_bytes,
            inner: Mutex::new(Inner::default()),
            stats: CacheStats::default(),
        }
    }

    /// The slot of `id`, created empty if the document is not cached.
    pub fn slot(&self, id: &DocumentId) -> Arc<SlotCell> {
        let mut inner = lock(&self.inner);
        if let Some(slot) = inner.slots.get(id) {
            self.stats.hits.fetch_add(1, Ordering::Relaxed);
            return slot.clone();
        }
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(SlotCell::default());
        inner.slots.insert(id.clone(), slot.clone(), 256);
        slot
    }

    /// Records the slot's new weight after it was loaded or changed, and
    /// evicts the least recently used documents beyond the budget (never
    /// the document just used).
    pub fn reweigh(&self, id: &DocumentId, slot: &Slot) {
        let weight = slot.weight();
        let mut inner = lock(&self.inner);
        inner.slots.reweigh(id, weight);
        inner.slots.evict_to(self.budget, Some(id));
    }

    /// Drops a document from the cache (after a failed commit, so that the
    /// next use reloads it from storage).
    pub fn forget(&self, id: &DocumentId) {
        lock(&self.inner).slots.remove(id);
    }

    /// Estimated bytes held and number of documents cached.
    pub fn usage(&self) -> (u64, usize) {
        let inner = lock(&self.inner);
        (inner.slots.weight(), inner.slots.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_stays_within_the_budget() {
        let cache = DocCache::new(100_000);
        for _ in 0..1_000 {
            let id = DocumentId::random();
            let slot = cache.slot(&id);
            let mut guard = slot.lock();
            guard.loaded = Some(Loaded {
                doc: AutoCommit::new(),
                seq: 1,
                village: VillageCode::new("500110101001").unwrap(),
                stored_bytes: 1_000,
            });
            cache.reweigh(&id, &guard);
        }
        let (bytes, docs) = cache.usage();
        assert!(bytes <= 100_000, "{bytes}");
        assert!(docs < 1_000 && docs > 1);
    }

    #[test]
    fn recently_used_documents_stay() {
        let cache = DocCache::new(50_000);
        let keep = DocumentId::random();
        for i in 0..100 {
            let id = if i % 2 == 0 {
                keep.clone()
            } else {
                DocumentId::random()
            };
            let slot = cache.slot(&id);
            let mut guard = slot.lock();
            if guard.loaded.is_none() {
                guard.loaded = Some(Loaded {
                    doc: AutoCommit::new(),
                    seq: 1,
                    village: VillageCode::new("500110101001").unwrap(),
                    stored_bytes: 1_000,
                });
            }
            cache.reweigh(&id, &guard);
        }
        let before = cache.stats.hits.load(Ordering::Relaxed);
        let _ = cache.slot(&keep);
        assert_eq!(cache.stats.hits.load(Ordering::Relaxed), before + 1);
    }
}
