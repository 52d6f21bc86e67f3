//! Per-device rate limits: a token bucket per device, refilled at a steady
//! rate. A phone that syncs in a tight loop (a bug, or a hostile client)
//! gets `rate_limited` instead of starving everyone else
//! ([`RateLimiter::allow`]); a WebSocket peer that sends faster than its
//! device's rate is read more slowly instead ([`RateLimiter::delay`]); the
//! engine bounds what one device may put in quarantine the same way. One
//! limiter for every door: the HTTP routes, the WebSocket and the engine.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
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

pub struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<DeviceId, Bucket>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
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
