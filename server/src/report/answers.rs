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
//! The cache is small and bounded by entry count; the least recently used
//! answer goes first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use fengqiao_protocol::Scope;
use fengqiao_shared::StatsQuery;

/// Answers kept by default.
pub const DEFAULT_CAPACITY: usize = 256;

/// The cache key of one answer.
pub fn key(endpoint: &str, scope: &Scope, query: &StatsQuery) -> String {
    format!(
        "{endpoint}|{scope}|{}|{:?}|{:?}|{}|{}",
        query.now, query.period.from, query.period.to, query.overdue_days, query.utc_offset_minutes
    )
}

struct Entry {
    version: u64,
    body: Arc<[u8]>,
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

impl AnswerCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(Entries::default()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The answer kept under `key` if it was computed at `version`;
    /// otherwise computes it, keeps it and returns it.
    pub fn get_or_compute<E>(
        &self,
        key: String,
        version: u64,
        compute: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Arc<[u8]>, E> {
        {
            let mut entries = self.lock();
            entries.clock += 1;
            let now = entries.clock;
            if let Some(entry) = entries.map.get_mut(&key)
                && entry.version == version
            {
                entry.used = now;
                return Ok(entry.body.clone());
            }
        }
        // Computed outside the lock: other answers are served meanwhile.
        let body: Arc<[u8]> = compute()?.into();
        let mut entries = self.lock();
        entries.clock += 1;
        let used = entries.clock;
        if entries.map.len() >= self.capacity && !entries.map.contains_key(&key) {
            let oldest = entries
                .map
                .iter()
                .min_by_key(|(_, entry)| entry.used)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                entries.map.remove(&oldest);
            }
        }
        entries.map.insert(
            key,
            Entry {
                version,
                body: body.clone(),
                used,
            },
        );
        Ok(body)
    }

    /// Answers currently kept.
    pub fn len(&self) -> usize {
        self.lock().map.len()
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
        assert!(cache.is_empty());
    }
}
