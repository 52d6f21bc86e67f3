//! A server's cache of reads from a store that other servers write too.
//!
//! On PostgreSQL every read is a round trip, and a sync message asks for a
//! record's metadata, its removal marker and often its stored bytes; most
//! of those answers have not changed since the last message asked. This
//! cache keeps them, and stays correct because every write transaction on
//! the store announces, in the same transaction, which keys it wrote
//! (see the PostgreSQL backend), under a **version** that grows with every
//! such transaction in the order they commit:
//!
//! - a transaction's own server forgets its keys as soon as it commits
//!   ([`ReadCache::forget`]);
//! - every server forgets them when it hears the announcement
//!   ([`ReadCache::heard`]), and counts the version as *applied*: every
//!   commit up to it has been forgotten here;
//! - a request that must not be answered from a stale state first asks the
//!   store for its current version and waits until this server has applied
//!   it ([`ReadCache::caught_up`]); from then on a cached answer is at least
//!   as new as the store was when the request arrived.
//!
//! A read that misses goes to the store and is kept only if nothing it
//! covers was forgotten while it was in flight: each forgotten key leaves a
//! *tombstone* with its version for a while, and a read remembers the
//! version applied when it began ([`Ticket`]). A tombstone pushed out
//! (there are at most [`TOMBSTONES`]) raises a floor under which no read is
//! kept, and [`ReadCache::reset`] (announcements may have been lost) drops
//! everything and refuses whatever was in flight.
//!
//! Entries are whole values of one key, or every entry under a prefix; the
//! cache holds at most its byte budget, dropping the least recently used.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

pub use super::backend::Found as Cached;
use super::backend::Space;
use crate::lru::WeightedLru;

/// Tombstones kept of keys forgotten recently.
pub const TOMBSTONES: usize = 16_384;

/// What is cached: one key, or every key under a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tag {
    Key(Space, Vec<u8>),
    Prefix(Space, Vec<u8>),
}

impl Tag {
    fn len(&self) -> usize {
        match self {
            Tag::Key(_, key) | Tag::Prefix(_, key) => key.len(),
        }
    }
}

/// Bytes an answer holds, roughly.
fn weight(value: &Cached, tag: &Tag) -> usize {
    const OVERHEAD: usize = 96;
    OVERHEAD
        + tag.len()
        + match value {
            Cached::Value(value) => value.as_ref().map_or(0, Vec::len),
            Cached::Entries(entries) => entries
                .iter()
                .map(|(k, v)| k.len() + v.len() + 48)
                .sum::<usize>(),
        }
}

/// Where a read that missed began: what it may be kept against.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    version: u64,
    generation: u64,
}

#[derive(Default)]
struct State {
    entries: WeightedLru<Tag, Cached>,
    tombstones: HashMap<Tag, u64>,
    tombstone_order: VecDeque<(Tag, u64)>,
    /// Reads that began at a version below this are not kept.
    floor: u64,
    /// Raised by [`ReadCache::reset`]: reads that began before are not kept.
    generation: u64,
    applied: u64,
    /// The prefix lengths cached per space, so that forgetting a key
    /// forgets the prefixes it lies under.
    prefixes: BTreeSet<(Space, usize)>,
}

impl State {
    fn bury(&mut self, tag: Tag, version: u64) {
        self.entries.remove(&tag);
        let kept = self.tombstones.entry(tag.clone()).or_insert(0);
        *kept = (*kept).max(version);
        self.tombstone_order.push_back((tag, version));
        while self.tombstone_order.len() > TOMBSTONES {
            let Some((tag, version)) = self.tombstone_order.pop_front() else {
                break;
            };
            // The tag may have been buried again since: keep the newest.
            if self.tombstones.get(&tag) == Some(&version) {
                self.tombstones.remove(&tag);
            }
            self.floor = self.floor.max(version);
        }
    }

    fn forget(&mut self, version: u64, keys: &[(Space, Vec<u8>)]) {
        for (space, key) in keys {
            let lengths: Vec<usize> = self
                .prefixes
                .range((*space, 0)..=(*space, usize::MAX))
                .map(|(_, len)| *len)
                .filter(|len| *len <= key.len())
                .collect();
            for len in lengths {
                self.bury(Tag::Prefix(*space, key[..len].to_vec()), version);
            }
            let tag = Tag::Key(*space, key.clone());
            // Already at this version or later (this server's own write,
            // installed as it committed): nothing older is held.
            if self.tombstones.get(&tag).is_some_and(|&at| at >= version) {
                continue;
            }
            self.bury(tag, version);
        }
    }

    /// Holds `value` for `tag`, dropping the least recently used beyond
    /// `budget`.
    fn install(&mut self, tag: Tag, value: Cached, weight: usize, budget: usize) {
        self.entries.insert(tag, value, weight as u64);
        self.entries.evict_to(budget as u64, None);
    }

    fn forget_all(&mut self, version: u64) {
        self.entries.clear();
        self.floor = self.floor.max(version);
    }
}

/// The cache; see the [module documentation](self).
pub struct ReadCache {
    state: Mutex<State>,
    applied: watch::Sender<u64>,
    budget: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("budget", &self.budget)
            .field("hits", &self.hits.load(Ordering::Relaxed))
            .field("misses", &self.misses.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl ReadCache {
    /// A cache of at most `budget` bytes (0 keeps nothing).
    pub fn new(budget: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            applied: watch::Sender::new(0),
            budget,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached answer for `tag`.
    pub fn get(&self, tag: &Tag) -> Option<Cached> {
        let found = self.state().entries.get(tag).cloned();
        let counter = match found {
            Some(_) => &self.hits,
            None => &self.misses,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Before reading `tags` from the store: what the answers will be kept
    /// against.
    pub fn begin<'a>(&self, tags: impl IntoIterator<Item = &'a Tag>) -> Ticket {
        let mut state = self.state();
        for tag in tags {
            if let Tag::Prefix(space, prefix) = tag {
                state.prefixes.insert((*space, prefix.len()));
            }
        }
        Ticket {
            version: state.applied,
            generation: state.generation,
        }
    }

    /// Keeps what a read begun at `ticket` found, unless something it
    /// covers was forgotten meanwhile.
    pub fn keep(&self, ticket: Ticket, found: impl IntoIterator<Item = (Tag, Cached)>) {
        if self.budget == 0 {
            return;
        }
        let mut state = self.state();
        if ticket.generation != state.generation || ticket.version < state.floor {
            return;
        }
        for (tag, value) in found {
            if state
                .tombstones
                .get(&tag)
                .is_some_and(|&version| version > ticket.version)
            {
                continue;
            }
            let weight = weight(&value, &tag);
            if weight > self.budget / 8 {
                continue;
            }
            state.install(tag, value, weight, self.budget);
        }
    }

    /// Forgets keys this server's own transaction wrote, at `version`, as
    /// soon as it committed (its announcement comes back later).
    /// `None` forgets everything (the transaction wrote too many to list).
    pub fn forget(&self, version: u64, keys: Option<&[(Space, Vec<u8>)]>) {
        let mut state = self.state();
        match keys {
            Some(keys) => state.forget(version, keys),
            None => state.forget_all(version),
        }
    }

    /// This server's own transaction committed at `version`, writing these
    /// values (`None`: deleted): they are kept as the keys' values at
    /// once, so that the next read needs no round trip, unless a later
    /// change to the key was heard already. Prefixes they lie under are
    /// forgotten. The announcement, heard later, changes nothing more.
    pub fn wrote(&self, version: u64, writes: Vec<(Space, Vec<u8>, Option<Vec<u8>>)>) {
        let mut state = self.state();
        for (space, key, value) in writes {
            let tag = Tag::Key(space, key.clone());
            let newer =
                state.tombstones.get(&tag).is_some_and(|&at| at > version) || version < state.floor;
            state.forget(version, &[(space, key)]);
            state.bury(tag.clone(), version);
            if newer || self.budget == 0 {
                continue;
            }
            let value = Cached::Value(value);
            let weight = weight(&value, &tag);
            if weight <= self.budget / 8 {
                state.install(tag, value, weight, self.budget);
            }
        }
    }

    /// Whether `tag` is cached (without counting a hit or touching it).
    pub fn holds(&self, tag: &Tag) -> bool {
        self.state().entries.contains(tag)
    }

    /// An announcement heard: forgets its keys (all of them when `keys` is
    /// `None`: the writer did not list them) and counts `version` applied.
    pub fn heard(&self, version: u64, keys: Option<&[(Space, Vec<u8>)]>) {
        let mut state = self.state();
        match keys {
            Some(keys) => state.forget(version, keys),
            None => state.forget_all(version),
        }
        state.applied = state.applied.max(version);
        let applied = state.applied;
        drop(state);
        self.applied.send_if_modified(|seen| {
            let moved = *seen < applied;
            *seen = applied;
            moved
        });
    }

    /// This server's own transactions took every version after `base` up
    /// to `version` (one after another, while no other server could
    /// commit), and their keys are forgotten here: if every version up to
    /// `base` is applied, so are these, before their announcements come
    /// back.
    pub fn applied_own(&self, base: u64, version: u64) {
        let mut state = self.state();
        if state.applied < base || state.applied >= version {
            return;
        }
        state.applied = version;
        drop(state);
        self.applied.send_if_modified(|seen| {
            let moved = *seen < version;
            *seen = (*seen).max(version);
            moved
        });
    }

    /// Announcements may have been lost; `version` is the store's now.
    /// Everything is forgotten, reads in flight are not kept, and `version`
    /// counts as applied.
    pub fn reset(&self, version: u64) {
        let mut state = self.state();
        state.forget_all(version);
        state.tombstones.clear();
        state.tombstone_order.clear();
        state.generation += 1;
        state.applied = state.applied.max(version);
        let applied = state.applied;
        drop(state);
        self.applied.send_if_modified(|seen| {
            let moved = *seen < applied;
            *seen = applied;
            moved
        });
    }

    /// The last version applied.
    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Waits until `version` is applied, at most `wait`; whether it is.
    pub async fn caught_up(&self, version: u64, wait: Duration) -> bool {
        let mut applied = self.applied.subscribe();
        tokio::time::timeout(wait, applied.wait_for(|applied| *applied >= version))
            .await
            .is_ok_and(|seen| seen.is_ok())
    }

    /// Counts a read answered from this server's memory elsewhere (the
    /// feed's tail).
    pub fn count_hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Answers from the cache and reads from the store, since it was made.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Bytes held.
    pub fn weight(&self) -> usize {
        usize::try_from(self.state().entries.weight()).unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &[u8]) -> Tag {
        Tag::Key(Space::DocMeta, k.to_vec())
    }

    fn value(v: &[u8]) -> Cached {
        Cached::Value(Some(v.to_vec()))
    }

    #[test]
    fn a_read_is_kept_and_answers_until_its_key_is_forgotten() {
        let cache = ReadCache::new(1 << 20);
        let ticket = cache.begin([&key(b"a")]);
        cache.keep(ticket, [(key(b"a"), value(b"1"))]);
        assert_eq!(cache.get(&key(b"a")), Some(value(b"1")));
        cache.heard(1, Some(&[(Space::DocMeta, b"a".to_vec())]));
        assert_eq!(cache.get(&key(b"a")), None);
        assert_eq!(cache.applied(), 1);
    }

    #[test]
    fn a_read_in_flight_when_its_key_is_forgotten_is_not_kept() {
        let cache = ReadCache::new(1 << 20);
        let ticket = cache.begin([&key(b"a")]);
        // The read saw the old value; the key changes before it is kept.
        cache.heard(1, Some(&[(Space::DocMeta, b"a".to_vec())]));
        cache.keep(ticket, [(key(b"a"), value(b"old"))]);
        assert_eq!(cache.get(&key(b"a")), None);
        // Own commits too, before their announcement is heard.
        let ticket = cache.begin([&key(b"b")]);
        cache.forget(2, Some(&[(Space::DocMeta, b"b".to_vec())]));
        cache.keep(ticket, [(key(b"b"), value(b"old"))]);
        assert_eq!(cache.get(&key(b"b")), None);
        // A read begun after the change is kept.
        let ticket = cache.begin([&key(b"a")]);
        cache.keep(ticket, [(key(b"a"), value(b"new"))]);
        assert_eq!(cache.get(&key(b"a")), Some(value(b"new")));
    }

    #[test]
    fn an_own_write_is_kept_at_once_unless_a_later_change_was_heard() {
        let cache = ReadCache::new(1 << 20);
        let prefix = Tag::Prefix(Space::DocMeta, b"a".to_vec());
        let ticket = cache.begin([&prefix]);
        cache.keep(ticket, [(prefix.clone(), Cached::Entries(Vec::new()))]);
        let in_flight = cache.begin([&key(b"a1")]);
        cache.wrote(
            3,
            vec![(Space::DocMeta, b"a1".to_vec(), Some(b"v3".to_vec()))],
        );
        assert_eq!(cache.get(&key(b"a1")), Some(value(b"v3")));
        assert_eq!(cache.get(&prefix), None);
        // A read that began before the write does not overwrite it.
        cache.keep(in_flight, [(key(b"a1"), value(b"v2"))]);
        assert_eq!(cache.get(&key(b"a1")), Some(value(b"v3")));
        // Its own announcement, heard later, keeps it.
        cache.heard(3, Some(&[(Space::DocMeta, b"a1".to_vec())]));
        assert_eq!(cache.get(&key(b"a1")), Some(value(b"v3")));
        // Another server's later change was heard before this server's
        // commit returned: the write is not kept.
        cache.heard(5, Some(&[(Space::DocMeta, b"b".to_vec())]));
        cache.heard(6, Some(&[(Space::DocMeta, b"b".to_vec())]));
        cache.wrote(
            5,
            vec![(Space::DocMeta, b"b".to_vec(), Some(b"v5".to_vec()))],
        );
        assert_eq!(cache.get(&key(b"b")), None);
        // And a change heard after it replaces it.
        cache.heard(7, Some(&[(Space::DocMeta, b"a1".to_vec())]));
        assert_eq!(cache.get(&key(b"a1")), None);
    }

    #[test]
    fn forgetting_a_key_forgets_the_prefixes_it_lies_under() {
        let cache = ReadCache::new(1 << 20);
        let prefix = Tag::Prefix(Space::Chunk, b"doc".to_vec());
        let ticket = cache.begin([&prefix]);
        cache.keep(
            ticket,
            [(
                prefix.clone(),
                Cached::Entries(vec![(b"doc1".to_vec(), b"x".to_vec())]),
            )],
        );
        assert!(cache.get(&prefix).is_some());
        // Another space's key of the same bytes leaves it.
        cache.heard(1, Some(&[(Space::DocMeta, b"doc2".to_vec())]));
        assert!(cache.get(&prefix).is_some());
        cache.heard(2, Some(&[(Space::Chunk, b"doc2".to_vec())]));
        assert_eq!(cache.get(&prefix), None);
        // In flight: a prefix read whose key changes is not kept.
        let ticket = cache.begin([&prefix]);
        cache.heard(3, Some(&[(Space::Chunk, b"doc3".to_vec())]));
        cache.keep(ticket, [(prefix.clone(), Cached::Entries(Vec::new()))]);
        assert_eq!(cache.get(&prefix), None);
    }

    #[test]
    fn after_a_reset_nothing_read_before_is_kept() {
        let cache = ReadCache::new(1 << 20);
        let kept = cache.begin([&key(b"a")]);
        cache.keep(kept, [(key(b"a"), value(b"1"))]);
        let in_flight = cache.begin([&key(b"b")]);
        cache.reset(7);
        assert_eq!(cache.get(&key(b"a")), None);
        cache.keep(in_flight, [(key(b"b"), value(b"1"))]);
        assert_eq!(cache.get(&key(b"b")), None);
        assert_eq!(cache.applied(), 7);
    }

    #[test]
    fn own_versions_count_as_applied_only_after_every_earlier_one() {
        let cache = ReadCache::new(1 << 20);
        cache.heard(3, Some(&[(Space::DocMeta, b"a".to_vec())]));
        // Version 4 (another server's) is not heard yet: 5 and 6, this
        // server's, do not count.
        cache.applied_own(4, 6);
        assert_eq!(cache.applied(), 3);
        cache.heard(4, Some(&[(Space::DocMeta, b"a".to_vec())]));
        cache.applied_own(4, 6);
        assert_eq!(cache.applied(), 6);
        // Their announcements, heard later, change nothing; an older group
        // does not move it back.
        cache.heard(5, None);
        cache.applied_own(2, 5);
        assert_eq!(cache.applied(), 6);
    }

    #[test]
    fn an_unlisted_announcement_forgets_everything() {
        let cache = ReadCache::new(1 << 20);
        let ticket = cache.begin([&key(b"a")]);
        cache.keep(ticket, [(key(b"a"), value(b"1"))]);
        let in_flight = cache.begin([&key(b"b")]);
        cache.heard(4, None);
        assert_eq!(cache.get(&key(b"a")), None);
        cache.keep(in_flight, [(key(b"b"), value(b"1"))]);
        assert_eq!(cache.get(&key(b"b")), None);
    }

    #[test]
    fn tombstones_pushed_out_raise_the_floor() {
        let cache = ReadCache::new(1 << 20);
        let in_flight = cache.begin([&key(b"a")]);
        for n in 0..=TOMBSTONES as u64 {
            cache.heard(n + 1, Some(&[(Space::Meta, n.to_be_bytes().to_vec())]));
        }
        // Its key's tombstone is not there to check: refused all the same.
        cache.keep(in_flight, [(key(b"a"), value(b"1"))]);
        assert_eq!(cache.get(&key(b"a")), None);
    }

    #[test]
    fn the_budget_drops_the_least_recently_used() {
        let cache = ReadCache::new(8 * 1024);
        for n in 0..64u8 {
            let ticket = cache.begin([&key(&[n])]);
            cache.keep(ticket, [(key(&[n]), value(&[0; 200]))]);
            // The first stays in use.
            assert!(cache.get(&key(&[0])).is_some());
        }
        assert!(cache.weight() <= 8 * 1024);
        assert!(cache.get(&key(&[0])).is_some());
        assert_eq!(cache.get(&key(&[1])), None);
        assert!(cache.get(&key(&[63])).is_some());
    }

    #[tokio::test]
    async fn catching_up_waits_for_the_version() {
        let cache = std::sync::Arc::new(ReadCache::new(1024));
        assert!(cache.caught_up(0, Duration::from_millis(1)).await);
        assert!(!cache.caught_up(3, Duration::from_millis(20)).await);
        let hearing = std::sync::Arc::clone(&cache);
        let waiter =
            tokio::spawn(async move { hearing.caught_up(3, Duration::from_secs(10)).await });
        cache.heard(2, Some(&[]));
        cache.heard(3, Some(&[]));
        assert!(waiter.await.unwrap());
    }
}
