//! Computed answers, kept until the records they were computed from change.
//!
//! A dashboard asks the same questions again and again — every official of
//! a town opens the same page, and every page refreshes when a record
//! changes — while the answer only changes when a record of the scope does.
//! So each answer is kept with the [version](super::Rows::version) of the
//! summaries it was computed from, under a key naming the endpoint, the
//! scope and the whole query, and served again for as long as that version
//! is current. The "as of" time is part of the query and defaults to the
//! current minute, so an answer is recomputed at most once a minute even
//! when nothing changes, and backlog figures never go stale.
//!
//! Requests for the same answer at the same time share one computation:
//! when a record changes, every open dashboard of the scope asks at once,
//! and they wait for one result instead of each computing their own.
//!
//! The cache is small and bounded by entry count; the least recently used
//! answer goes first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use fengqiao_protocol::Scope;
use fengqiao_shared::StatsQuery;

/// Answers kept by default.
pub const DEFAULT_CAPACITY: usize = 256;

/// The cache key of one answer: the endpoint, the scope and every field
/// of the query (its `Debug` form names them all, so a field added later
/// cannot be left out).
pub fn key(endpoint: &str, scope: &Scope, query: &StatsQuery) -> String {
    format!("{endpoint}|{scope}|{query:?}")
}

/// One kept answer: the version it was computed at, and its body.
type Answer = Option<(u64, Arc<[u8]>)>;

struct Entry {
    /// Locked while the answer is computed, so that requests for the same
    /// answer wait for one computation instead of each starting their own
    /// (every open dashboard asks at once when a record changes).
    answer: Arc<Mutex<Answer>>,
    used: u64,
}

#[derive(Default)]
struct Entries {
    map: HashMap<String, Entry>,
    clock: u64,
}

/// Answers by key, each valid at one version.
pub struct AnswerCache {
    entries: Mutex<Entries>,
    capacity: usize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl AnswerCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(Entries::default()),
            capacity: capacity.max(1),
        }
    }

    /// The slot of `key`, made if new; the least recently used slot goes
    /// when the cache is full.
    fn slot(&self, key: String) -> Arc<Mutex<Answer>> {
        let mut entries = lock(&self.entries);
        entries.clock += 1;
        let used = entries.clock;
        if let Some(entry) = entries.map.get_mut(&key) {
            entry.used = used;
            return entry.answer.clone();
        }
        if entries.map.len() >= self.capacity {
            let oldest = entries
                .map
                .iter()
                .min_by_key(|(_, entry)| entry.used)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                entries.map.remove(&oldest);
            }
        }
        let answer = Arc::new(Mutex::new(None));
        entries.map.insert(
            key,
            Entry {
                answer: answer.clone(),
                used,
            },
        );
        answer
    }

    /// The answer kept under `key` if it was computed at `version`;
    /// otherwise computes it (once, however many ask at the same time),
    /// keeps it and returns it.
    pub fn get_or_compute<E>(
        &self,
        key: String,
        version: u64,
        compute: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Arc<[u8]>, E> {
        let slot = self.slot(key);
        let mut answer = lock(&slot);
        if let Some((at, body)) = answer.as_ref()
            && *at == version
        {
            return Ok(body.clone());
        }
        let body: Arc<[u8]> = compute()?.into();
        *answer = Some((version, body.clone()));
        Ok(body)
    }

    /// Answers currently kept (or being computed).
    pub fn len(&self) -> usize {
        lock(&self.entries).map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(text: &str) -> Result<Vec<u8>, ()> {
        Ok(text.as_bytes().to_vec())
    }

    #[test]
    fn an_answer_holds_until_its_version_changes() {
        let cache = AnswerCache::new(4);
        assert_eq!(
            &*cache
                .get_or_compute("a".into(), 1, || answer("one"))
                .unwrap(),
            b"one"
        );
        let again = cache
            .get_or_compute("a".into(), 1, || -> Result<Vec<u8>, ()> {
                panic!("recomputed")
            })
            .unwrap();
        assert_eq!(&*again, b"one");
        assert_eq!(
            &*cache
                .get_or_compute("a".into(), 2, || answer("two"))
                .unwrap(),
            b"two"
        );
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_least_recently_used_answer_goes_first() {
        let cache = AnswerCache::new(2);
        cache.get_or_compute("a".into(), 1, || answer("a")).unwrap();
        cache.get_or_compute("b".into(), 1, || answer("b")).unwrap();
        cache.get_or_compute("a".into(), 1, || answer("a")).unwrap();
        cache.get_or_compute("c".into(), 1, || answer("c")).unwrap();
        assert_eq!(cache.len(), 2);
        // "b" was dropped, "a" kept.
        cache
            .get_or_compute("a".into(), 1, || -> Result<Vec<u8>, ()> {
                panic!("a was dropped")
            })
            .unwrap();
    }

    #[test]
    fn failures_are_not_kept() {
        let cache = AnswerCache::new(2);
        assert!(
            cache
                .get_or_compute("a".into(), 1, || Err::<Vec<u8>, _>("no"))
                .is_err()
        );
        let kept = cache
            .get_or_compute("a".into(), 1, || answer("yes"))
            .unwrap();
        assert_eq!(&*kept, b"yes");
    }

    #[test]
    fn concurrent_askers_share_one_computation() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let cache = Arc::new(AnswerCache::new(4));
        let computed = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (cache, computed) = (cache.clone(), computed.clone());
                std::thread::spawn(move || {
                    cache
                        .get_or_compute("a".into(), 7, || {
                            computed.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(50));
                            answer("shared")
                        })
                        .unwrap()
                })
            })
            .collect();
        for thread in threads {
            assert_eq!(&*thread.join().unwrap(), b"shared");
        }
        assert_eq!(computed.load(Ordering::SeqCst), 1);
    }
}
