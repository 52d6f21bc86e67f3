//! Per-device rate limits: a token bucket per device, refilled at a steady
//! rate. A phone that syncs in a tight loop (a bug, or a hostile client)
//! gets `rate_limited` instead of starving everyone else
//! ([`RateLimiter::allow`]); a WebSocket peer that sends faster than its
//! device's rate is read more slowly instead ([`RateLimiter::delay`]); the
//! engine bounds what one device may put in quarantine the same way. One
//! limiter for every door: the HTTP routes, the WebSocket and the engine.
//!
//! With several servers on one store, the HTTP and WebSocket limits come
//! from buckets kept in the store ([`SharedBuckets`]): a device that sends
//! to two servers gets its rate once ([`RateLimiter::admit`],
//! [`RateLimiter::pace`]).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use fengqiao_protocol::DeviceId;

/// Requests per second a device may make, and how many it may make at once.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: 20.0,
            burst: 120.0,
        }
    }
}

impl RateLimit {
    /// WebSocket messages per device. An automerge-repo client opening
    /// every document it holds sends two messages per document at once:
    /// the burst covers 25,000 documents; after it, a device is read at
    /// 1,000 messages a second.
    pub const WEBSOCKET: RateLimit = RateLimit {
        per_second: 1_000.0,
        burst: 50_000.0,
    };
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets every server on a shared store draws from (PostgreSQL:
/// [`crate::storage::PgBackend`]), so that a device gets its rate once,
/// not once per server.
pub trait SharedBuckets: Send + Sync {
    /// Takes `n` tokens from the bucket `key` (created full), refilled at
    /// `limit` since it was last used. With `borrow`, the tokens are taken
    /// even when the bucket has fewer (it goes below zero); without, none
    /// are taken unless there are `n`. Returns whether they were taken and
    /// the tokens left.
    fn take(&self, key: Vec<u8>, limit: RateLimit, n: f64, borrow: bool) -> Taking;
}

/// What [`SharedBuckets::take`] answers: whether the tokens were taken, and
/// those left.
pub type Taking =
    Pin<Box<dyn Future<Output = Result<(bool, f64), crate::storage::StorageError>> + Send>>;

/// Messages a server takes from a shared bucket at once for one device's
/// WebSocket reads (one database round trip per this many messages).
const LEASE: f64 = 50.0;

pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<DeviceId, Bucket>>,
    /// Shared buckets and this limiter's name among them.
    shared: Option<(Arc<dyn SharedBuckets>, &'static str)>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// A limiter whose buckets every server on the store shares; `name`
    /// tells its buckets from other limiters'.
    pub fn shared(limit: RateLimit, buckets: Arc<dyn SharedBuckets>, name: &'static str) -> Self {
        Self {
            shared: Some((buckets, name)),
            ..Self::new(limit)
        }
    }

    fn shared_key(name: &str, device: DeviceId) -> Vec<u8> {
        let mut key = name.as_bytes().to_vec();
        key.push(b'/');
        key.extend_from_slice(device.as_bytes());
        key
    }

    /// [`RateLimiter::allow`], from the shared buckets when there are: a
    /// device's requests to every server count against one rate. If the
    /// shared buckets cannot be reached, this server's own decide.
    pub async fn admit(&self, device: DeviceId) -> bool {
        let Some((shared, name)) = &self.shared else {
            return self.allow(device);
        };
        match shared
            .take(Self::shared_key(name, device), self.limit, 1.0, false)
            .await
        {
            Ok((taken, _)) => taken,
            Err(error) => {
                tracing::warn!(%error, "shared rate limits unavailable; this server's own apply");
                self.allow(device)
            }
        }
    }

    /// [`RateLimiter::delay`], from the shared buckets when there are: this
    /// server takes [`LEASE`] messages at a time from the device's shared
    /// bucket and waits as long as the bucket owes.
    pub async fn pace(&self, device: DeviceId) -> Duration {
        let Some((shared, name)) = &self.shared else {
            return self.delay(device);
        };
        {
            let mut leases = self.buckets();
            if let Some(lease) = leases.get_mut(&device)
                && lease.tokens >= 1.0
            {
                lease.tokens -= 1.0;
                return Duration::ZERO;
            }
        }
        match shared
            .take(Self::shared_key(name, device), self.limit, LEASE, true)
            .await
        {
            Ok((_, left)) => {
                let mut leases = self.buckets();
                if leases.len() > 100_000 {
                    leases.retain(|_, b| b.at.elapsed().as_secs() < 60);
                }
                leases.insert(
                    device,
                    Bucket {
                        tokens: LEASE - 1.0,
                        at: Instant::now(),
                    },
                );
                if left >= 0.0 {
                    Duration::ZERO
                } else {
                    Duration::from_secs_f64(-left / self.limit.per_second)
                }
            }
            Err(error) => {
                tracing::warn!(%error, "shared rate limits unavailable; this server's own apply");
                self.delay(device)
            }
        }
    }

    /// Takes one request from the device's bucket; false when it is empty.
    pub fn allow(&self, device: DeviceId) -> bool {
        let mut buckets = self.buckets();
        let bucket = self.refilled(&mut buckets, device);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Takes one message from the device's bucket, borrowing from the
    /// future when it is empty; returns how long to wait before handling
    /// it (zero within the rate). Waiting readers of one device share the
    /// rate, however many connections they hold.
    pub fn delay(&self, device: DeviceId) -> Duration {
        let mut buckets = self.buckets();
        let bucket = self.refilled(&mut buckets, device);
        bucket.tokens -= 1.0;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / self.limit.per_second)
        }
    }

    fn buckets(&self) -> MutexGuard<'_, HashMap<DeviceId, Bucket>> {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The device's bucket, refilled for the time since it was last used.
    fn refilled<'a>(
        &self,
        buckets: &'a mut HashMap<DeviceId, Bucket>,
        device: DeviceId,
    ) -> &'a mut Bucket {
        let now = Instant::now();
        if buckets.len() > 100_000 {
            // Forget idle buckets rather than grow without bound.
            buckets.retain(|_, b| now.duration_since(b.at).as_secs() < 60);
        }
        let bucket = buckets.entry(device).or_insert(Bucket {
            tokens: self.limit.burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.limit.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.limit.burst);
        bucket.at = now;
        bucket
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 0.001,
            burst: 3.0,
        });
        let device = DeviceId::random();
        assert!((0..3).all(|_| limiter.allow(device)));
        assert!(!limiter.allow(device));
        assert!(limiter.allow(DeviceId::random()), "buckets are per device");
    }

    #[test]
    fn past_the_burst_each_message_waits_its_share_of_the_rate() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 0.001,
            burst: 2.0,
        });
        let device = DeviceId::random();
        assert_eq!(limiter.delay(device), Duration::ZERO);
        assert_eq!(limiter.delay(device), Duration::ZERO);
        let first = limiter.delay(device);
        let second = limiter.delay(device);
        // One message owed is 1,000 s at 0.001 a second; two are 2,000 s
        // (less the little refilled meanwhile).
        assert!(first > Duration::from_secs(990) && first <= Duration::from_secs(1000));
        assert!(second > Duration::from_secs(1990) && second <= Duration::from_secs(2000));
        assert_eq!(limiter.delay(DeviceId::random()), Duration::ZERO);
    }
}
