//! Where a [`super::Replica`] keeps its bytes: an ordered map of byte keys
//! to byte values, read one key or one prefix at a time, written in batches
//! that apply all at once and last.
//!
//! A phone shell brings its own [`ReplicaStore`] (the platform's database);
//! the native phone uses [`SledStore`] (the `sled` feature, on by default),
//! tests and simulations [`MemoryStore`]. The replica's guarantees rest on
//! two promises of every store: [`ReplicaStore::apply`] applies all of a
//! batch or none of it, and returns only once the batch survives a crash of
//! the phone (a power cut, the app killed).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

/// A store's failure, in its own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

/// Keys with their values, in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// One write of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

/// An ordered byte map with atomic, durable batches.
pub trait ReplicaStore: Send + Sync {
    /// The value of `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Whether `key` has a value.
    fn contains(&self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.get(key)?.is_some())
    }

    /// Every key starting with `prefix`, with its value, in key order.
    fn scan_prefix(&self, prefix: &[u8]) -> Result<Entries, StoreError>;

    /// Every key starting with `prefix`, in key order, without the values
    /// (a record's document can be large).
    fn keys_with_prefix(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self
            .scan_prefix(prefix)?
            .into_iter()
            .map(|(key, _)| key)
            .collect())
    }

    /// Applies every write of `batch`, in order, all at once; returns once
    /// they would survive a crash.
    fn apply(&self, batch: Vec<Write>) -> Result<(), StoreError>;
}

/// A store in memory: gone with the process (tests, simulations).
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        // Batches apply under the lock in one step, so a panic elsewhere
        // leaves nothing half-written.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ReplicaStore for MemoryStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map().get(key).cloned())
    }

    fn contains(&self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.map().contains_key(key))
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Entries, StoreError> {
        Ok(self
            .map()
            .range(prefix.to_vec()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect())
    }

    fn keys_with_prefix(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self
            .map()
            .range(prefix.to_vec()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, _)| key.clone())
            .collect())
    }

    fn apply(&self, batch: Vec<Write>) -> Result<(), StoreError> {
        let mut map = self.map();
        for write in batch {
            match write {
                Write::Put(key, value) => {
                    map.insert(key, value);
                }
                Write::Delete(key) => {
                    map.remove(&key);
                }
            }
        }
        Ok(())
    }
}

#[cfg(feature = "sled")]
pub use self::sled_store::SledStore;

#[cfg(feature = "sled")]
mod sled_store {
    use std::path::Path;

    use super::{Entries, ReplicaStore, StoreError, Write};

    impl From<sled::Error> for StoreError {
        fn from(error: sled::Error) -> Self {
            StoreError(error.to_string())
        }
    }

    /// The native phone's store: one sled tree in the app's data directory.
    /// A batch is one atomic sled batch, flushed before `apply` returns.
    pub struct SledStore {
        db: sled::Db,
        tree: sled::Tree,
    }

    impl SledStore {
        /// Opens (or creates) the store at `path`. An app that closed its
        /// store a moment ago may find sled still releasing the directory
        /// lock: opening waits for it a little.
        pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
            let config = sled::Config::new()
                .path(path)
                .cache_capacity(16 * 1024 * 1024);
            Self::with_db(crate::sled_open::open(&config)?)
        }

        /// A sled store in a temporary directory, removed when dropped.
        pub fn temporary() -> Result<Self, StoreError> {
            Self::with_db(sled::Config::new().temporary(true).open()?)
        }

        fn with_db(db: sled::Db) -> Result<Self, StoreError> {
            let tree = db.open_tree("replica")?;
            Ok(Self { db, tree })
        }
    }

    impl ReplicaStore for SledStore {
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            Ok(self.tree.get(key)?.map(|v| v.to_vec()))
        }

        fn contains(&self, key: &[u8]) -> Result<bool, StoreError> {
            Ok(self.tree.contains_key(key)?)
        }

        fn scan_prefix(&self, prefix: &[u8]) -> Result<Entries, StoreError> {
            self.tree
                .scan_prefix(prefix)
                .map(|entry| {
                    let (key, value) = entry?;
                    Ok((key.to_vec(), value.to_vec()))
                })
                .collect()
        }

        fn keys_with_prefix(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
            self.tree
                .scan_prefix(prefix)
                .keys()
                .map(|key| Ok(key?.to_vec()))
                .collect()
        }

        fn apply(&self, batch: Vec<Write>) -> Result<(), StoreError> {
            let mut sled_batch = sled::Batch::default();
            for write in batch {
                match write {
                    Write::Put(key, value) => sled_batch.insert(key, value),
                    Write::Delete(key) => sled_batch.remove(key),
                }
            }
            self.tree.apply_batch(sled_batch)?;
            self.db.flush()?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What every store must do, run against each.
    fn behaves(store: &dyn ReplicaStore) {
        let put = |k: &str, v: &str| Write::Put(k.as_bytes().to_vec(), v.as_bytes().to_vec());
        store
            .apply(vec![
                put("a/2", "two"),
                put("a/1", "one"),
                put("b/1", "bee"),
            ])
            .unwrap();
        assert_eq!(store.get(b"a/1").unwrap(), Some(b"one".to_vec()));
        assert!(store.contains(b"b/1").unwrap());
        assert!(!store.contains(b"c").unwrap());
        assert_eq!(
            store.keys_with_prefix(b"a/").unwrap(),
            vec![b"a/1".to_vec(), b"a/2".to_vec()]
        );
        // One batch: a delete and a put, in order, the later write winning.
        store
            .apply(vec![
                Write::Delete(b"a/1".to_vec()),
                put("a/2", "deux"),
                put("a/2", "zwei"),
            ])
            .unwrap();
        assert_eq!(
            store.scan_prefix(b"a/").unwrap(),
            vec![(b"a/2".to_vec(), b"zwei".to_vec())]
        );
        assert_eq!(store.scan_prefix(b"z").unwrap(), vec![]);
    }

    #[test]
    fn the_memory_store_keeps_order_and_applies_batches_in_order() {
        behaves(&MemoryStore::new());
    }

    #[cfg(feature = "sled")]
    #[test]
    fn the_sled_store_keeps_order_and_applies_batches_in_order() {
        behaves(&SledStore::temporary().unwrap());
    }
}
