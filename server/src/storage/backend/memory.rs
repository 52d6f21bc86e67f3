//! [`MemoryBackend`]: a backend in memory, for tests.
//!
//! The data is one ordered map behind an `Arc`: a view is a clone of the
//! `Arc` (a true snapshot; a commit made while a view is held copies the
//! map), the write transaction buffers its writes and applies them to the
//! map in one step. A commit is durable as soon as it is applied, so the
//! backend survives whatever the [`Store`](crate::storage::Store) above it
//! does, and cloning the backend shares the data: dropping a store and
//! opening another on a clone is a restart.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OwnedMutexGuard;

use super::{Backend, Consistency, Durability, Entry, KeyRange, ReadView, Space, WriteTxn};
use crate::storage::StorageError;
use crate::storage::codec::decode_u64;

type Map = BTreeMap<(Space, Vec<u8>), Vec<u8>>;

#[derive(Default)]
struct Inner {
    data: Mutex<Arc<Map>>,
    writer: Arc<tokio::sync::Mutex<()>>,
}

/// The in-memory backend. Clones share the same data.
#[derive(Clone, Default)]
pub struct MemoryBackend {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBackend")
            .field("entries", &self.snapshot().len())
            .finish()
    }
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    fn snapshot(&self) -> Arc<Map> {
        Arc::clone(
            &self
                .inner
                .data
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Every stored entry of every space, for tests that compare stores.
    pub fn entries(&self) -> Vec<(Space, Entry)> {
        self.snapshot()
            .iter()
            .map(|((space, key), value)| (*space, (key.clone(), value.clone())))
            .collect()
    }
}

fn last_seq(map: &Map) -> Result<u64, StorageError> {
    match map.get(&(Space::Seq, Vec::new())) {
        Some(bytes) => decode_u64(bytes, "sequence number"),
        None => Ok(0),
    }
}

fn scan(map: &Map, space: Space, range: &KeyRange) -> Vec<Entry> {
    if range.limit == 0 || range.is_empty() {
        return Vec::new();
    }
    let start = match &range.start {
        Bound::Included(key) => Bound::Included((space, key.clone())),
        Bound::Excluded(key) => Bound::Excluded((space, key.clone())),
        Bound::Unbounded => Bound::Included((space, Vec::new())),
    };
    let end = match &range.end {
        Bound::Included(key) => Bound::Included((space, key.clone())),
        Bound::Excluded(key) => Bound::Excluded((space, key.clone())),
        Bound::Unbounded => Bound::Unbounded,
    };
    let items = map
        .range((start, end))
        .take_while(|((found, _), _)| *found == space);
    let pick = |((_, key), value): (&(Space, Vec<u8>), &Vec<u8>)| (key.clone(), value.clone());
    if range.reverse {
        let all: Vec<_> = items.collect();
        all.into_iter().rev().take(range.limit).map(pick).collect()
    } else {
        items.take(range.limit).map(pick).collect()
    }
}

/// A snapshot of the map.
pub struct MemoryView {
    map: Arc<Map>,
}

impl ReadView for MemoryView {
    async fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.map.get(&(space, key.to_vec())).cloned())
    }

    async fn scan(&self, space: Space, range: &KeyRange) -> Result<Vec<Entry>, StorageError> {
        Ok(scan(&self.map, space, range))
    }
}

/// The write transaction: the map as it was, and the writes to apply.
pub struct MemoryTxn {
    backend: MemoryBackend,
    before: Arc<Map>,
    writes: Vec<(Space, Vec<u8>, Option<Vec<u8>>)>,
    seq: Option<u64>,
    _writer: OwnedMutexGuard<()>,
}

impl ReadView for MemoryTxn {
    async fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.before.get(&(space, key.to_vec())).cloned())
    }

    async fn scan(&self, space: Space, range: &KeyRange) -> Result<Vec<Entry>, StorageError> {
        Ok(scan(&self.before, space, range))
    }
}

impl WriteTxn for MemoryTxn {
    fn put(&mut self, space: Space, key: Vec<u8>, value: Vec<u8>) {
        self.writes.push((space, key, Some(value)));
    }

    fn delete(&mut self, space: Space, key: Vec<u8>) {
        self.writes.push((space, key, None));
    }

    async fn next_seq(&mut self) -> Result<u64, StorageError> {
        if let Some(seq) = self.seq {
            return Ok(seq);
        }
        let seq = last_seq(&self.before)?
            .checked_add(1)
            .ok_or(StorageError::Corrupt {
                what: "sequence number",
            })?;
        self.seq = Some(seq);
        Ok(seq)
    }

    async fn commit(self, _durability: Durability) -> Result<Option<u64>, StorageError> {
        let mut slot = self
            .backend
            .inner
            .data
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let map = Arc::make_mut(&mut slot);
        for (space, key, value) in self.writes {
            match value {
                Some(value) => map.insert((space, key), value),
                None => map.remove(&(space, key)),
            };
        }
        if let Some(seq) = self.seq {
            map.insert((Space::Seq, Vec::new()), seq.to_be_bytes().to_vec());
        }
        Ok(self.seq)
    }
}

impl Backend for MemoryBackend {
    type Read = MemoryView;
    type Write = MemoryTxn;

    /// Both kinds of view are snapshots here.
    async fn read(&self, _consistency: Consistency) -> Result<MemoryView, StorageError> {
        Ok(MemoryView {
            map: self.snapshot(),
        })
    }

    async fn write(&self) -> Result<MemoryTxn, StorageError> {
        let writer = Arc::clone(&self.inner.writer).lock_owned().await;
        Ok(MemoryTxn {
            backend: self.clone(),
            before: self.snapshot(),
            writes: Vec::new(),
            seq: None,
            _writer: writer,
        })
    }

    async fn wait_durable(&self, _seq: u64) -> Result<(), StorageError> {
        Ok(())
    }

    fn durable_seq(&self) -> u64 {
        last_seq(&self.snapshot()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::backend::block_on;

    #[test]
    fn a_view_is_a_snapshot_and_a_dropped_transaction_writes_nothing() {
        let backend = MemoryBackend::new();
        block_on(async {
            let mut txn = backend.write().await.unwrap();
            txn.put(Space::Meta, b"a".to_vec(), b"1".to_vec());
            assert_eq!(txn.next_seq().await.unwrap(), 1);
            assert_eq!(txn.next_seq().await.unwrap(), 1);
            let view = backend.read(Consistency::Snapshot).await.unwrap();
            assert_eq!(txn.commit(Durability::Flushed).await.unwrap(), Some(1));
            assert_eq!(view.get(Space::Meta, b"a").await.unwrap(), None);
            let view = backend.read(Consistency::Snapshot).await.unwrap();
            assert_eq!(
                view.get(Space::Meta, b"a").await.unwrap(),
                Some(b"1".to_vec())
            );

            let mut txn = backend.write().await.unwrap();
            txn.put(Space::Meta, b"b".to_vec(), b"2".to_vec());
            drop(txn);
            let view = backend.read(Consistency::Snapshot).await.unwrap();
            assert_eq!(view.get(Space::Meta, b"b").await.unwrap(), None);
            assert_eq!(backend.durable_seq(), 1);
        });
    }

    #[test]
    fn scans_stay_in_their_space_and_read_backwards() {
        let backend = MemoryBackend::new();
        block_on(async {
            let mut txn = backend.write().await.unwrap();
            for key in [b"a", b"b", b"c"] {
                txn.put(Space::Feed, key.to_vec(), key.to_vec());
            }
            txn.put(Space::Projection, b"a".to_vec(), b"other".to_vec());
            txn.commit(Durability::Flushed).await.unwrap();
            let view = backend.read(Consistency::Snapshot).await.unwrap();
            let keys =
                |entries: Vec<Entry>| entries.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
            assert_eq!(
                keys(view.scan(Space::Feed, &KeyRange::all()).await.unwrap()),
                vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
            );
            assert_eq!(
                keys(
                    view.scan(Space::Feed, &KeyRange::all().rev().take(2))
                        .await
                        .unwrap()
                ),
                vec![b"c".to_vec(), b"b".to_vec()]
            );
            let from_b = KeyRange {
                start: Bound::Excluded(b"a".to_vec()),
                ..KeyRange::all()
            };
            assert_eq!(
                keys(view.scan(Space::Feed, &from_b).await.unwrap()),
                vec![b"b".to_vec(), b"c".to_vec()]
            );
        });
    }
}
