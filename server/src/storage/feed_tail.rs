//! The tail of the change feed, kept in memory by every server on a shared
//! store from what the commits announce.
//!
//! A sync reads the feed after the phone's cursor: on a database that is
//! one statement per sync, which reads every entry since the cursor across
//! the whole store to keep those of the phone's villages. Every commit that
//! moves the feed already announces itself to every server (see
//! [`read_cache`](super::read_cache)); it also carries the feed entries it
//! put and deleted and the last sequence number it wrote. Applied in the
//! order the announcements arrive (the order the commits became visible),
//! they keep a copy of the feed's newest entries, and of the last sequence
//! number, that is exactly the store's as of the last announcement heard.
//!
//! The copy is complete from a *floor* key upwards: the floor starts just
//! past the last sequence number when the server began listening, and
//! rises when the oldest entries are dropped to bound the memory. A read
//! is answered from the copy only when every key it asks lies at or above
//! the floor and the copy has applied every commit the reader must see
//! ([`FeedTail::answer`]); anything else goes to the store. A commit too
//! large to announce what it wrote, an announcement that does not parse
//! and a lost listening connection stop the copy until the listener has
//! read the store's version and sequence number again
//! ([`FeedTail::restart`]).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Mutex;
use std::time::Duration;

use super::backend::{Entry, Found, KeyRange, Read, Space};

/// The writes of one transaction that the tail applies: the last sequence
/// number it stored, and the feed entries it put (`Some`) or deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TailWrites {
    pub seq: Option<Vec<u8>>,
    pub feed: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

/// Bytes an entry is counted for besides its key and value.
const ENTRY_OVERHEAD: usize = 64;

#[derive(Debug)]
struct State {
    /// Whether the copy follows the store (false until the listener read
    /// where to start, and after anything it could not apply).
    live: bool,
    /// The version of the last commit applied.
    version: u64,
    /// The store's last sequence number as of `version` (its stored bytes).
    seq: Option<Vec<u8>>,
    /// Every feed key at or above this one is in `entries`.
    floor: Vec<u8>,
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
    bytes: usize,
}

/// The copy of the feed's tail (see the module documentation).
#[derive(Debug)]
pub struct FeedTail {
    state: Mutex<State>,
    /// The last version applied, for readers waiting to see their own
    /// commits.
    applied: tokio::sync::watch::Sender<u64>,
    /// Most bytes kept; 0 keeps nothing.
    limit: usize,
}

/// The smallest key after `key`.
fn successor(key: &[u8]) -> Vec<u8> {
    let mut next = key.to_vec();
    next.push(0);
    next
}

impl FeedTail {
    pub fn new(limit: usize) -> Self {
        Self {
            state: Mutex::new(State {
                live: false,
                version: 0,
                seq: None,
                floor: Vec::new(),
                entries: BTreeMap::new(),
                bytes: 0,
            }),
            applied: tokio::sync::watch::channel(0).0,
            limit,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the copy again from the store as it is at `version`, whose
    /// last sequence number is `seq`: empty, complete above `seq`. Read
    /// after listening began, so every later commit is heard.
    pub fn restart(&self, version: u64, seq: u64) {
        let mut state = self.state();
        state.live = self.limit > 0;
        state.version = version;
        state.seq = (seq > 0).then(|| seq.to_be_bytes().to_vec());
        state.floor = super::keys::seq_key(seq.saturating_add(1));
        state.entries.clear();
        state.bytes = 0;
        drop(state);
        self.applied.send_modify(|v| *v = version);
    }

    /// Stops answering until [`FeedTail::restart`].
    pub fn stop(&self) {
        let mut state = self.state();
        state.live = false;
        state.entries.clear();
        state.bytes = 0;
    }

    /// Whether the copy follows the store.
    pub fn live(&self) -> bool {
        self.state().live
    }

    /// Applies the commit of `version`, heard in commit order. Commits from
    /// before the copy started are passed over. Versions are taken one
    /// after another by the commits that announce: a version that is not
    /// the next one means something went unheard, and the copy stops
    /// (false) until it is started again.
    pub fn apply(&self, version: u64, writes: &TailWrites) -> bool {
        let mut state = self.state();
        if !state.live || version <= state.version {
            return true;
        }
        if version != state.version + 1 {
            state.live = false;
            state.entries.clear();
            state.bytes = 0;
            return false;
        }
        state.version = version;
        if let Some(seq) = &writes.seq {
            state.seq = Some(seq.clone());
        }
        for (key, value) in &writes.feed {
            if let Some(old) = state.entries.remove(key) {
                state.bytes -= key.len() + old.len() + ENTRY_OVERHEAD;
            }
            if let Some(value) = value
                && key.as_slice() >= state.floor.as_slice()
            {
                state.bytes += key.len() + value.len() + ENTRY_OVERHEAD;
                state.entries.insert(key.clone(), value.clone());
            }
        }
        // Bounded: the oldest entries go, and the floor rises past them.
        while state.bytes > self.limit {
            let Some((key, value)) = state.entries.pop_first() else {
                break;
            };
            state.bytes -= key.len() + value.len() + ENTRY_OVERHEAD;
            state.floor = successor(&key);
        }
        drop(state);
        self.applied.send_modify(|v| *v = (*v).max(version));
        true
    }

    /// Waits (at most `wait`) until the copy has applied `version`.
    pub async fn applied(&self, version: u64, wait: Duration) -> bool {
        let mut applied = self.applied.subscribe();
        tokio::time::timeout(wait, applied.wait_for(|v| *v >= version))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Answers `reads` from the copy, as of the last commit applied, when
    /// every one of them is the last sequence number or a range of the
    /// feed above the floor, and the copy has applied `version`.
    pub fn answer(&self, reads: &[Read], version: u64) -> Answer {
        // Most reads are of other spaces: told apart without the lock.
        let ours =
            |read: &Read| matches!(read, Read::Get(Space::Seq, _) | Read::Scan(Space::Feed, _));
        if reads.is_empty() || !reads.iter().all(ours) {
            return Answer::Cannot;
        }
        let state = self.state();
        let servable = |read: &Read| match read {
            Read::Get(Space::Seq, key) => key.is_empty(),
            Read::Scan(Space::Feed, range) => above_floor(&state, range),
            _ => false,
        };
        if !state.live || !reads.iter().all(servable) {
            return Answer::Cannot;
        }
        if state.version < version {
            return Answer::Behind;
        }
        Answer::Found(
            reads
                .iter()
                .map(|read| match read {
                    Read::Scan(_, range) => Found::Entries(scan(&state, range)),
                    Read::Get(..) => Found::Value(state.seq.clone()),
                })
                .collect(),
        )
    }
}

/// What [`FeedTail::answer`] answers.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// What the reads found.
    Found(Vec<Found>),
    /// The copy could answer once it has applied the version asked.
    Behind,
    /// The reads are not the copy's to answer: ask the store.
    Cannot,
}

impl Answer {
    /// What the reads found, if answered.
    pub fn found(self) -> Option<Vec<Found>> {
        match self {
            Answer::Found(found) => Some(found),
            _ => None,
        }
    }
}

/// Whether every key of `range` lies at or above the floor.
fn above_floor(state: &State, range: &KeyRange) -> bool {
    match &range.start {
        Bound::Included(start) => start.as_slice() >= state.floor.as_slice(),
        Bound::Excluded(start) => successor(start) >= state.floor,
        Bound::Unbounded => state.floor.is_empty(),
    }
}

/// The entries of `range` in the copy.
fn scan(state: &State, range: &KeyRange) -> Vec<Entry> {
    if range.limit == 0 || range.is_empty() {
        return Vec::new();
    }
    let bounds = (range.start.clone(), range.end.clone());
    let items = state.entries.range::<Vec<u8>, _>(bounds);
    let pick = |(key, value): (&Vec<u8>, &Vec<u8>)| (key.clone(), value.clone());
    if range.reverse {
        items.rev().take(range.limit).map(pick).collect()
    } else {
        items.take(range.limit).map(pick).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::keys::seq_key;

    fn put(seq: u64, value: &[u8]) -> (Vec<u8>, Option<Vec<u8>>) {
        (seq_key(seq), Some(value.to_vec()))
    }

    fn commit(seq: u64, value: &[u8], moved_from: Option<u64>) -> TailWrites {
        let mut feed = Vec::new();
        if let Some(old) = moved_from {
            feed.push((seq_key(old), None));
        }
        feed.push(put(seq, value));
        TailWrites {
            seq: Some(seq.to_be_bytes().to_vec()),
            feed,
        }
    }

    fn feed_after(tail: &FeedTail, after: u64, version: u64) -> Option<(Option<u64>, Vec<u64>)> {
        let reads = [
            Read::Get(Space::Seq, Vec::new()),
            Read::Scan(
                Space::Feed,
                KeyRange::inclusive(seq_key(after + 1), seq_key(u64::MAX)).take(100),
            ),
        ];
        let mut found = tail.answer(&reads, version).found()?.into_iter();
        let (Some(Found::Value(seq)), Some(Found::Entries(entries))) = (found.next(), found.next())
        else {
            panic!("two answers");
        };
        let seq = seq.map(|s| u64::from_be_bytes(s.try_into().expect("8 bytes")));
        let seqs = entries
            .iter()
            .map(|(k, _)| u64::from_be_bytes(k.as_slice().try_into().expect("8 bytes")))
            .collect();
        Some((seq, seqs))
    }

    #[test]
    fn the_copy_follows_commits_in_order_from_where_it_started() {
        let tail = FeedTail::new(1 << 20);
        assert_eq!(feed_after(&tail, 0, 0), None, "not live before a start");
        tail.restart(7, 10);
        // Nothing at or below 10 is known: only reads above it are answered.
        assert_eq!(feed_after(&tail, 9, 7), None);
        assert_eq!(feed_after(&tail, 10, 7), Some((Some(10), vec![])));
        tail.apply(8, &commit(11, b"a", None));
        tail.apply(9, &commit(12, b"b", Some(3)));
        // A commit from before the start (its version) is passed over.
        tail.apply(6, &commit(13, b"old", None));
        assert_eq!(feed_after(&tail, 10, 9), Some((Some(12), vec![11, 12])));
        // A document committed again moves to the end.
        tail.apply(10, &commit(13, b"a", Some(11)));
        assert_eq!(feed_after(&tail, 10, 10), Some((Some(13), vec![12, 13])));
        assert_eq!(feed_after(&tail, 12, 10), Some((Some(13), vec![13])));
        // A reader that must see a later commit is not answered yet.
        assert_eq!(feed_after(&tail, 10, 11), None);
        let reads = [Read::Scan(
            Space::Feed,
            KeyRange::inclusive(seq_key(11), seq_key(20)),
        )];
        assert_eq!(tail.answer(&reads, 11), Answer::Behind);
        let below = [Read::Scan(
            Space::Feed,
            KeyRange::inclusive(seq_key(3), seq_key(20)),
        )];
        assert_eq!(tail.answer(&below, 11), Answer::Cannot);
    }

    #[test]
    fn only_the_sequence_number_and_the_feed_are_answered() {
        let tail = FeedTail::new(1 << 20);
        tail.restart(1, 0);
        let cannot = |reads: &[Read]| tail.answer(reads, 0) == Answer::Cannot;
        assert!(cannot(&[Read::Get(Space::Meta, Vec::new())]));
        assert!(cannot(&[Read::Get(Space::Seq, b"x".to_vec())]));
        assert!(cannot(&[Read::Scan(Space::Heads, KeyRange::all())]));
        assert!(cannot(&[
            Read::Get(Space::Seq, Vec::new()),
            Read::Get(Space::DocMeta, b"d".to_vec())
        ]));
        assert!(cannot(&[]));
        // Started at 0, the whole feed from 1 is known; a range from
        // nowhere is not (the copy knows nothing below its floor).
        assert!(cannot(&[Read::Scan(Space::Feed, KeyRange::all())]));
        assert_eq!(
            tail.answer(
                &[Read::Scan(
                    Space::Feed,
                    KeyRange::inclusive(seq_key(1), seq_key(u64::MAX))
                )],
                0
            ),
            Answer::Found(vec![Found::Entries(vec![])])
        );
    }

    #[test]
    fn bounded_memory_raises_the_floor() {
        let value = [7u8; 36];
        let each = 8 + value.len() + ENTRY_OVERHEAD;
        let tail = FeedTail::new(each * 3);
        tail.restart(0, 0);
        for seq in 1..=5 {
            tail.apply(seq, &commit(seq, &value, None));
        }
        // The two oldest went: reads from them are the store's.
        assert_eq!(feed_after(&tail, 0, 5), None);
        assert_eq!(feed_after(&tail, 1, 5), None);
        assert_eq!(feed_after(&tail, 2, 5), Some((Some(5), vec![3, 4, 5])));
        // Reversed reads above the floor are answered too.
        let last = tail
            .answer(
                &[Read::Scan(
                    Space::Feed,
                    KeyRange::inclusive(seq_key(3), seq_key(u64::MAX))
                        .rev()
                        .take(1),
                )],
                5,
            )
            .found()
            .expect("above the floor");
        assert_eq!(
            last,
            vec![Found::Entries(vec![(seq_key(5), value.to_vec())])]
        );
    }

    #[test]
    fn a_stopped_copy_answers_nothing_until_it_restarts() {
        let tail = FeedTail::new(1 << 20);
        tail.restart(1, 0);
        tail.apply(2, &commit(1, b"a", None));
        tail.stop();
        assert!(!tail.live());
        tail.apply(3, &commit(2, b"b", None));
        assert_eq!(feed_after(&tail, 0, 0), None);
        tail.restart(3, 2);
        assert_eq!(feed_after(&tail, 2, 3), Some((Some(2), vec![])));
        assert_eq!(
            feed_after(&tail, 1, 3),
            None,
            "what came before is the store's"
        );
    }

    #[test]
    fn a_version_skipped_stops_the_copy() {
        let tail = FeedTail::new(1 << 20);
        tail.restart(4, 10);
        assert!(tail.apply(5, &commit(11, b"a", None)));
        // Version 6 went unheard.
        assert!(!tail.apply(7, &commit(13, b"c", None)));
        assert!(!tail.live());
        assert_eq!(feed_after(&tail, 10, 0), None);
    }

    #[test]
    fn a_zero_limit_keeps_nothing() {
        let tail = FeedTail::new(0);
        tail.restart(1, 0);
        assert!(!tail.live());
        assert_eq!(feed_after(&tail, 0, 0), None);
    }

    #[tokio::test]
    async fn readers_wait_for_the_commit_they_must_see() {
        let tail = std::sync::Arc::new(FeedTail::new(1 << 20));
        tail.restart(1, 0);
        assert!(!tail.applied(2, Duration::from_millis(20)).await);
        let later = std::sync::Arc::clone(&tail);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            later.apply(2, &commit(1, b"a", None));
        });
        assert!(tail.applied(2, Duration::from_secs(5)).await);
    }
}
