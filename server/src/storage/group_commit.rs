//! Group commit: many writers, one flush.
//!
//! A commit is acknowledged only once it is on disk, and a flush (an
//! `fsync`) costs milliseconds whatever it carries. So writers do not flush
//! themselves. Each writer applies its write in memory, takes a *ticket*
//! (tickets are handed out in the order writes are applied) and waits. One
//! flusher thread repeatedly takes the highest ticket handed out so far, flushes,
//! and publishes that ticket as settled; every writer whose ticket it covers
//! wakes up. Writers that arrive while a flush is running all ride on the
//! next one, so under load the number of flushes stays far below the number
//! of commits, and a lone writer still pays for one flush only.
//!
//! The flusher also publishes the *durable sequence number*: the last server
//! sequence number applied before the flush that succeeded. Readers use it
//! to avoid showing anything that a crash could still take back.
//!
//! If a flush fails, every writer it covered gets the error. Their writes
//! may still reach the disk with a later flush; a caller treats the error as
//! "not acknowledged" and its client retries, which is harmless because
//! applying the same Automerge changes twice changes nothing.

use std::io;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use super::StorageError;

/// A position in the order of applied writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

/// How many writes were made and how many flushes carried them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushStats {
    /// Writes that waited for a flush (commits, compactions, quarantined
    /// changes, server-wide values).
    pub writes: u64,
    /// Flushes performed.
    pub flushes: u64,
}

/// Why the last failed flush failed; kept so that every waiter it covered
/// can be told.
#[derive(Debug, Clone)]
struct FlushFailure {
    full: bool,
    message: String,
}

impl FlushFailure {
    fn of(error: &StorageError) -> Self {
        Self {
            full: matches!(error, StorageError::Full),
            message: error.to_string(),
        }
    }

    fn to_error(&self) -> StorageError {
        if self.full {
            StorageError::Full
        } else {
            StorageError::Io(io::Error::other(self.message.clone()))
        }
    }
}

#[derive(Debug)]
struct FlushState {
    /// The last ticket handed out.
    written: u64,
    /// Writes recorded (tickets handed out to writers, not to readers).
    writes: u64,
    /// The sequence number current when `written` was handed out.
    written_seq: u64,
    /// The last ticket whose flush attempt has finished (well or not).
    settled: u64,
    /// The last ticket covered by a successful flush.
    durable: u64,
    /// The sequence number current when `durable` was handed out.
    durable_seq: u64,
    last_failure: Option<FlushFailure>,
    closing: bool,
    flusher_done: bool,
    flushes: u64,
    /// Counts reopenings of the store: a flush that started before one
    /// says nothing about what is on disk after it.
    generation: u64,
}

/// The shared state of writers and the flusher.
#[derive(Debug)]
pub struct GroupCommit {
    state: Mutex<FlushState>,
    /// The flusher waits here for work.
    work: Condvar,
    /// Waiters wait here for their ticket to settle.
    settled: Condvar,
}

impl GroupCommit {
    /// Group commit over a store whose data up to `durable_seq` is on disk.
    pub fn new(durable_seq: u64) -> Self {
        Self {
            state: Mutex::new(FlushState {
                written: 0,
                writes: 0,
                written_seq: durable_seq,
                settled: 0,
                durable: 0,
                durable_seq,
                last_failure: None,
                closing: false,
                flusher_done: false,
                flushes: 0,
                generation: 0,
            }),
            work: Condvar::new(),
            settled: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, FlushState> {
        // The state stays consistent across a panic elsewhere: every update
        // is a few plain assignments.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a write that has just been applied, with `seq` the last
    /// sequence number applied so far. Callers take tickets in the order
    /// their writes were applied (they hold the store's writer lock).
    pub fn record_write(&self, seq: u64) -> Ticket {
        let mut state = self.lock();
        state.written += 1;
        state.writes += 1;
        state.written_seq = state.written_seq.max(seq);
        let ticket = Ticket(state.written);
        drop(state);
        self.work.notify_one();
        ticket
    }

    /// Waits until the write of `ticket` is on disk.
    pub fn wait(&self, ticket: Ticket) -> Result<(), StorageError> {
        let mut state = self.lock();
        while state.settled < ticket.0 {
            if state.flusher_done {
                return Err(StorageError::Closing);
            }
            state = self
                .settled
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.durable >= ticket.0 {
            Ok(())
        } else {
            Err(state
                .last_failure
                .as_ref()
                .map(FlushFailure::to_error)
                .unwrap_or(StorageError::Closing))
        }
    }

    /// Waits until every write applied so far is on disk.
    ///
    /// If the last flush failed and nothing is pending, this asks for a new
    /// flush rather than repeating the old failure, so a reader is not kept
    /// from a document forever by one failed flush.
    pub fn wait_all(&self) -> Result<(), StorageError> {
        let mut state = self.lock();
        if state.durable == state.written {
            return Ok(());
        }
        if state.settled == state.written {
            state.written += 1;
        }
        let ticket = Ticket(state.written);
        drop(state);
        self.work.notify_one();
        self.wait(ticket)
    }

    /// Waits until the write that took `seq` is on disk. Callers hold the
    /// store's reader lock, so that write already has its ticket.
    pub fn wait_for_seq(&self, seq: u64) -> Result<(), StorageError> {
        if self.lock().durable_seq >= seq {
            return Ok(());
        }
        self.wait_all()
    }

    /// The last sequence number known to be on disk.
    pub fn durable_seq(&self) -> u64 {
        self.lock().durable_seq
    }

    pub fn stats(&self) -> FlushStats {
        let state = self.lock();
        FlushStats {
            writes: state.writes,
            flushes: state.flushes,
        }
    }

    /// The store was reopened and holds exactly the writes up to `seq`:
    /// every ticket not yet settled fails (its write may have been lost with
    /// the old handle, so it must never be acknowledged), and sequence
    /// numbers go on from `seq`.
    pub fn reopened(&self, seq: u64) {
        let mut state = self.lock();
        state.generation += 1;
        state.settled = state.written;
        state.last_failure = Some(FlushFailure {
            full: false,
            message: "the store was reopened after a storage error; retry".into(),
        });
        state.written_seq = seq;
        state.durable_seq = seq;
        drop(state);
        self.settled.notify_all();
    }

    /// Asks the flusher to flush what is pending and stop.
    pub fn close(&self) {
        self.lock().closing = true;
        self.work.notify_all();
    }

    /// The flusher's loop; returns after [`GroupCommit::close`] once every
    /// ticket handed out has settled.
    pub fn run_flusher(&self, mut flush: impl FnMut() -> Result<(), StorageError>) {
        let mut state = self.lock();
        loop {
            while state.written == state.settled && !state.closing {
                state = self
                    .work
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.written == state.settled {
                break;
            }
            let target = state.written;
            let target_seq = state.written_seq;
            let generation = state.generation;
            drop(state);

            let result = flush();

            state = self.lock();
            state.flushes += 1;
            state.settled = state.settled.max(target);
            match result {
                Ok(()) if state.generation == generation => {
                    state.durable = state.durable.max(target);
                    state.durable_seq = state.durable_seq.max(target_seq);
                }
                // Flushed the handle the store has since replaced.
                Ok(()) => {}
                Err(error) => state.last_failure = Some(FlushFailure::of(&error)),
            }
            self.settled.notify_all();
        }
        state.flusher_done = true;
        drop(state);
        self.settled.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::thread;
    use std::time::Duration;

    use super::*;

    fn start(
        group: &Arc<GroupCommit>,
        flush: impl FnMut() -> Result<(), StorageError> + Send + 'static,
    ) -> thread::JoinHandle<()> {
        let group = Arc::clone(group);
        thread::spawn(move || group.run_flusher(flush))
    }

    #[test]
    fn concurrent_writers_share_flushes() {
        let group = Arc::new(GroupCommit::new(0));
        let flusher = start(&group, || {
            thread::sleep(Duration::from_millis(2));
            Ok(())
        });
        let seq = Arc::new(Mutex::new(0u64));
        let writers: Vec<_> = (0..8)
            .map(|_| {
                let group = Arc::clone(&group);
                let seq = Arc::clone(&seq);
                thread::spawn(move || {
                    for _ in 0..20 {
                        let ticket = {
                            let mut seq = seq.lock().unwrap();
                            *seq += 1;
                            group.record_write(*seq)
                        };
                        group.wait(ticket).unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        let stats = group.stats();
        assert_eq!(stats.writes, 160);
        assert!(stats.flushes < stats.writes, "{stats:?}");
        assert_eq!(group.durable_seq(), 160);
        group.close();
        flusher.join().unwrap();
    }

    #[test]
    fn a_failed_flush_fails_its_waiters_and_the_next_one_recovers() {
        let group = Arc::new(GroupCommit::new(5));
        let calls = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&calls);
        let flusher = start(&group, move || {
            if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(StorageError::Full)
            } else {
                Ok(())
            }
        });
        let first = group.record_write(6);
        assert!(matches!(group.wait(first), Err(StorageError::Full)));
        assert_eq!(group.durable_seq(), 5);
        let second = group.record_write(7);
        group.wait(second).unwrap();
        assert_eq!(group.durable_seq(), 7);
        group.close();
        flusher.join().unwrap();
    }

    #[test]
    fn a_reopened_store_never_acknowledges_a_write_made_before_it() {
        let group = Arc::new(GroupCommit::new(10));
        // The flush of the old handle is under way when the store reopens,
        // and then succeeds: it says nothing about the new handle.
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let go_rx = Mutex::new(go_rx);
        let first = Arc::new(AtomicU64::new(1));
        let flusher = start(&group, move || {
            if first.swap(0, Ordering::SeqCst) == 1 {
                let _ = started_tx.send(());
                let _ = go_rx.lock().unwrap().recv();
            }
            Ok(())
        });
        let lost = group.record_write(11);
        started_rx.recv().unwrap();
        let waiter = {
            let group = Arc::clone(&group);
            thread::spawn(move || group.wait(lost))
        };
        // Recovery found the store at 10: write 11 was lost.
        group.reopened(10);
        assert!(
            waiter.join().unwrap().is_err(),
            "a lost write was acknowledged"
        );
        go_tx.send(()).unwrap();
        assert_eq!(group.durable_seq(), 10);
        // Writes after the reopening are flushed and acknowledged as usual.
        let next = group.record_write(11);
        group.wait(next).unwrap();
        assert_eq!(group.durable_seq(), 11);
        group.close();
        flusher.join().unwrap();
    }

    #[test]
    fn a_reader_after_a_failed_flush_gets_a_fresh_flush() {
        let group = Arc::new(GroupCommit::new(0));
        let calls = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&calls);
        let flusher = start(&group, move || {
            if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(StorageError::Io(io::Error::other("transient")))
            } else {
                Ok(())
            }
        });
        let ticket = group.record_write(1);
        assert!(matches!(group.wait(ticket), Err(StorageError::Io(_))));
        group.wait_for_seq(1).unwrap();
        assert_eq!(group.durable_seq(), 1);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(
            group.stats(),
            FlushStats {
                writes: 1,
                flushes: 2
            }
        );
        group.wait_all().unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "nothing pending, no flush");
        group.close();
        flusher.join().unwrap();
    }

    #[test]
    fn closing_flushes_what_is_pending_and_later_writes_are_refused() {
        let group = Arc::new(GroupCommit::new(0));
        let ticket = group.record_write(1);
        group.close();
        // The flusher starts after close: it must still flush the pending write.
        let flusher = start(&group, || Ok(()));
        group.wait(ticket).unwrap();
        flusher.join().unwrap();
        let late = group.record_write(2);
        assert!(matches!(group.wait(late), Err(StorageError::Closing)));
    }
}
