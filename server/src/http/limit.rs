//! Per-device request rate limits: a token bucket per device, refilled at a
//! steady rate. A phone that syncs in a tight loop (a bug, or a hostile
//! client) gets `rate_limited` instead of starving everyone else.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

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
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
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
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
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
}
