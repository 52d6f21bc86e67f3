//! [`CrashBackend`]: wraps another backend and dies at a chosen point.
//!
//! It stands for a process that is killed: at the chosen point of the
//! chosen write transaction the "process" stops. The transaction in hand is
//! dropped without being committed (or, at [`CrashPoint::AfterCommit`],
//! committed but never acknowledged), and every later operation fails, as
//! nothing runs after a kill. A test then opens a new store on the wrapped
//! backend (a clone of a [`MemoryBackend`](super::MemoryBackend), or the
//! same sled directory) and checks that every acknowledged commit is there
//! and nothing of a commit is there in part.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::{Backend, Consistency, Durability, Entry, KeyRange, ReadView, Space, WriteTxn};
use crate::storage::{StorageError, StoreHealth};

/// Where in a write transaction the process dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// While the transaction is being written, after this many of its puts
    /// and deletes (at its commit if it has no more).
    MidTransaction { writes: usize },
    /// With the transaction complete, before it is committed.
    BeforeCommit,
    /// Once the wrapped backend has made the transaction durable, before
    /// its caller hears of it.
    AfterCommit,
}

#[derive(Default)]
struct Plan {
    /// Write transactions opened so far.
    opened: AtomicU64,
    /// The transaction (1 = the first opened) and the point to die at.
    at: Mutex<Option<(u64, CrashPoint)>>,
    crashed: AtomicBool,
}

impl Plan {
    fn check(&self) -> Result<(), StorageError> {
        if self.crashed.load(Ordering::SeqCst) {
            Err(crashed())
        } else {
            Ok(())
        }
    }

    fn crash(&self) -> StorageError {
        self.crashed.store(true, Ordering::SeqCst);
        crashed()
    }
}

fn crashed() -> StorageError {
    StorageError::Io(io::Error::other("the process was killed (crash test)"))
}

/// A backend that dies at a chosen point. Clones share the plan.
#[derive(Clone)]
pub struct CrashBackend<B> {
    inner: B,
    plan: Arc<Plan>,
}

impl<B> CrashBackend<B> {
    /// Wraps `inner`; it does not crash until told where.
    pub fn new(inner: B) -> Self {
        Self {
            inner,
            plan: Arc::default(),
        }
    }

    /// Dies at `point` of the `nth` write transaction opened from now on
    /// (1 = the next one).
    pub fn crash_at(&self, nth: u64, point: CrashPoint) {
        let opened = self.plan.opened.load(Ordering::SeqCst);
        *self.plan.at.lock().unwrap_or_else(PoisonError::into_inner) = Some((opened + nth, point));
    }

    /// Whether it has died.
    pub fn crashed(&self) -> bool {
        self.plan.crashed.load(Ordering::SeqCst)
    }
}

/// A write transaction that may die.
pub struct CrashTxn<T> {
    /// `None` once the process died with this transaction in hand.
    inner: Option<T>,
    point: Option<CrashPoint>,
    writes: usize,
    plan: Arc<Plan>,
}

impl<T: WriteTxn> CrashTxn<T> {
    /// Counts one put or delete; the process may die before it is made.
    fn write(&mut self) -> Option<&mut T> {
        if self.plan.check().is_err() {
            self.inner = None;
            return None;
        }
        if let Some(CrashPoint::MidTransaction { writes }) = self.point
            && self.writes >= writes
        {
            self.plan.crash();
            self.inner = None;
            return None;
        }
        self.writes += 1;
        self.inner.as_mut()
    }

    fn live(&self) -> Result<&T, StorageError> {
        self.plan.check()?;
        self.inner.as_ref().ok_or_else(crashed)
    }
}

impl<T: WriteTxn> ReadView for CrashTxn<T> {
    async fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.live()?.get(space, key).await
    }

    async fn scan(&self, space: Space, range: &KeyRange) -> Result<Vec<Entry>, StorageError> {
        self.live()?.scan(space, range).await
    }
}

impl<T: WriteTxn> WriteTxn for CrashTxn<T> {
    fn put(&mut self, space: Space, key: Vec<u8>, value: Vec<u8>) {
        if let Some(inner) = self.write() {
            inner.put(space, key, value);
        }
    }

    fn delete(&mut self, space: Space, key: Vec<u8>) {
        if let Some(inner) = self.write() {
            inner.delete(space, key);
        }
    }

    async fn next_seq(&mut self) -> Result<u64, StorageError> {
        self.plan.check()?;
        match self.inner.as_mut() {
            Some(inner) => inner.next_seq().await,
            None => Err(crashed()),
        }
    }

    async fn commit(mut self, durability: Durability) -> Result<Option<u64>, StorageError> {
        self.plan.check()?;
        let inner = self.inner.take().ok_or_else(crashed)?;
        match self.point {
            None => inner.commit(durability).await,
            Some(CrashPoint::AfterCommit) => {
                inner.commit(durability).await?;
                Err(self.plan.crash())
            }
            Some(CrashPoint::BeforeCommit | CrashPoint::MidTransaction { .. }) => {
                drop(inner);
                Err(self.plan.crash())
            }
        }
    }
}

impl<B: Backend> Backend for CrashBackend<B> {
    type Read = B::Read;
    type Write = CrashTxn<B::Write>;

    async fn read(&self, consistency: Consistency) -> Result<B::Read, StorageError> {
        self.plan.check()?;
        self.inner.read(consistency).await
    }

    async fn write(&self) -> Result<Self::Write, StorageError> {
        self.plan.check()?;
        let inner = self.inner.write().await?;
        let number = self.plan.opened.fetch_add(1, Ordering::SeqCst) + 1;
        let point = match *self.plan.at.lock().unwrap_or_else(PoisonError::into_inner) {
            Some((at, point)) if at == number => Some(point),
            _ => None,
        };
        Ok(CrashTxn {
            inner: Some(inner),
            point,
            writes: 0,
            plan: Arc::clone(&self.plan),
        })
    }

    async fn wait_durable(&self, seq: u64) -> Result<(), StorageError> {
        self.plan.check()?;
        self.inner.wait_durable(seq).await
    }

    fn durable_seq(&self) -> u64 {
        self.inner.durable_seq()
    }

    fn views_are_durable(&self) -> bool {
        self.inner.views_are_durable()
    }

    fn health(&self) -> StoreHealth {
        if self.crashed() {
            return StoreHealth::Failing {
                reason: "the process was killed (crash test)".into(),
            };
        }
        self.inner.health()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::backend::{MemoryBackend, block_on};

    #[test]
    fn a_transaction_cut_mid_way_leaves_nothing_and_everything_after_fails() {
        let memory = MemoryBackend::new();
        let backend = CrashBackend::new(memory.clone());
        backend.crash_at(2, CrashPoint::MidTransaction { writes: 1 });
        block_on(async {
            let mut first = backend.write().await.unwrap();
            first.put(Space::Meta, b"a".to_vec(), b"1".to_vec());
            first.commit(Durability::Flushed).await.unwrap();

            let mut second = backend.write().await.unwrap();
            second.put(Space::Meta, b"b".to_vec(), b"2".to_vec());
            second.put(Space::Meta, b"c".to_vec(), b"3".to_vec());
            assert!(second.commit(Durability::Flushed).await.is_err());
            assert!(backend.crashed());
            assert!(backend.read(Consistency::Latest).await.is_err());
            assert!(backend.write().await.is_err());
        });
        let keys: Vec<_> = memory.entries().into_iter().map(|(_, (k, _))| k).collect();
        assert_eq!(keys, vec![b"a".to_vec()]);
    }

    #[test]
    fn a_crash_after_the_commit_keeps_it_but_never_acknowledges_it() {
        let memory = MemoryBackend::new();
        let backend = CrashBackend::new(memory.clone());
        backend.crash_at(1, CrashPoint::AfterCommit);
        block_on(async {
            let mut txn = backend.write().await.unwrap();
            txn.put(Space::Meta, b"a".to_vec(), b"1".to_vec());
            assert!(txn.commit(Durability::Flushed).await.is_err());
        });
        assert_eq!(memory.entries().len(), 1);
    }
}
