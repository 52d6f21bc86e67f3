//! The server's clock and its source of randomness, injected where they
//! are used so that tests can fix them.
//!
//! The sync engine judges recorded times against [`Clock::now`] and stamps
//! commits, removals, quarantined changes and alerts with it; the directory
//! stamps people and devices with it. Randomness the engine needs (an
//! alert's id, the tail of the actor a server-side edit is made as) comes
//! from a [`Random`]. Both live here, below the engine and the directory,
//! so that neither depends on the other for them.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use fengqiao_shared::Millis;

/// Milliseconds since the epoch, now, from the system clock.
pub fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// Where the time comes from.
pub trait Clock: Send + Sync {
    /// Milliseconds since the epoch.
    fn now(&self) -> Millis;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        now_millis()
    }
}

/// A clock that says what it is told: fixed until [`FixedClock::set`] or
/// [`FixedClock::advance`] moves it. For tests.
#[derive(Debug, Default)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    pub fn new(at: Millis) -> Self {
        Self(AtomicI64::new(at))
    }

    pub fn set(&self, at: Millis) {
        self.0.store(at, Ordering::SeqCst);
    }

    pub fn advance(&self, by: Millis) {
        self.0.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

/// A clock shared by everything that reads the time.
#[derive(Clone)]
pub struct SharedClock(Arc<dyn Clock>);

impl SharedClock {
    pub fn new(clock: impl Clock + 'static) -> Self {
        Self(Arc::new(clock))
    }

    /// The system clock.
    pub fn system() -> Self {
        Self::new(SystemClock)
    }

    /// A clock stopped at `at`.
    pub fn fixed(at: Millis) -> Self {
        Self::new(FixedClock::new(at))
    }

    pub fn now(&self) -> Millis {
        self.0.now()
    }
}

impl Default for SharedClock {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for SharedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedClock").field(&self.now()).finish()
    }
}

impl<C: Clock + 'static> From<Arc<C>> for SharedClock {
    fn from(clock: Arc<C>) -> Self {
        Self(clock)
    }
}

/// Where random bytes come from.
pub trait Random: Send + Sync {
    /// Sixteen random bytes.
    fn bytes16(&self) -> [u8; 16];
}

/// The operating system's randomness (through `uuid`'s generator).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRandom;

impl Random for SystemRandom {
    fn bytes16(&self) -> [u8; 16] {
        *uuid::Uuid::new_v4().as_bytes()
    }
}

/// Bytes counted up from a seed: every call gives new bytes, the same
/// ones in every run. For tests.
#[derive(Debug, Default)]
pub struct CountingRandom(AtomicU64);

impl CountingRandom {
    pub fn new(seed: u64) -> Self {
        Self(AtomicU64::new(seed))
    }
}

impl Random for CountingRandom {
    fn bytes16(&self) -> [u8; 16] {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&n.to_be_bytes());
        bytes[8..].copy_from_slice(&n.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
        bytes
    }
}

/// A source of randomness shared by its users.
#[derive(Clone)]
pub struct SharedRandom(Arc<dyn Random>);

impl SharedRandom {
    pub fn new(random: impl Random + 'static) -> Self {
        Self(Arc::new(random))
    }

    pub fn system() -> Self {
        Self::new(SystemRandom)
    }

    pub fn bytes16(&self) -> [u8; 16] {
        self.0.bytes16()
    }

    /// A random (version 4) UUID.
    pub fn uuid(&self) -> uuid::Uuid {
        uuid::Builder::from_random_bytes(self.bytes16()).into_uuid()
    }
}

impl Default for SharedRandom {
    fn default() -> Self {
        Self::system()
    }
}

impl fmt::Debug for SharedRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedRandom")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_moves_only_when_told() {
        let clock = Arc::new(FixedClock::new(1_000));
        let shared = SharedClock::from(clock.clone());
        assert_eq!(shared.now(), 1_000);
        clock.advance(500);
        assert_eq!(shared.now(), 1_500);
        clock.set(7);
        assert_eq!(shared.now(), 7);
    }

    #[test]
    fn counting_randomness_repeats_across_runs_and_never_within_one() {
        let a = SharedRandom::new(CountingRandom::new(3));
        let b = SharedRandom::new(CountingRandom::new(3));
        let first = a.uuid();
        assert_eq!(first, b.uuid());
        assert_ne!(first, a.uuid());
        assert_eq!(first.get_version_num(), 4);
    }
}
