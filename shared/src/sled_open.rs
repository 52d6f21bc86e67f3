//! Opening a sled database that was closed a moment ago.
//!
//! sled releases its directory lock from its own threads shortly after the
//! last handle is dropped, so a store closed and opened again at once (an
//! app restarting its replica, a server reopening after a disk error, a
//! restore that opens what it just wrote) may still be locked. That is
//! waited out for up to [`LOCK_WAIT`]; a lock held longer belongs to
//! another process and is reported.

use std::thread;
use std::time::{Duration, Instant};

/// How long opening waits for a lock sled is still releasing.
pub const LOCK_WAIT: Duration = Duration::from_secs(3);

/// Opens `config`, waiting out a lock that is still being released.
pub fn open(config: &sled::Config) -> sled::Result<sled::Db> {
    let started = Instant::now();
    loop {
        match config.open() {
            // sled reports the lock only in its message.
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && started.elapsed() < LOCK_WAIT =>
            {
                thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}
