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
//!
//! A server does not ask the store for every HTTP request: it takes a few
//! tokens at once from the device's shared bucket (a *lease*) and spends
//! them itself until they run out or [`LEASE_TTL`] passes (WebSocket reads
//! lease [`LEASE`] messages the same way, borrowing). What this costs in
//! exactness for HTTP requests, and why it is bounded:
//!
//! - Across any number of servers, a device is never granted more
//!   requests than the tokens taken from its one shared bucket: a lease is
//!   taken out of the bucket before any of it is spent, and each token of
//!   it is spent once, by the server that holds it.
//! - A server holds at most L − 1 tokens of a device at a time, L =
//!   [`RateLimiter::lease_size`] (burst / 12, from 1 to 10: 10 for the
//!   default burst of 120). Tokens held while the bucket refills are the
//!   only way past the burst: within any stretch of time a device gets at
//!   most its burst, plus its rate over that time, plus L − 1 requests per
//!   server. Held tokens expire [`LEASE_TTL`] after they were taken
//!   (they were debited already: an expired token is lost, never given
//!   back), so the excess is only ever tokens taken in the last 10 s.
//! - With a burst under 24, L is 1 and the limit is exact, as without
//!   leases.

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
    /// Takes tokens from the bucket `key` (created full), refilled at
    /// `limit` since it was last used: as many whole tokens as it holds, at
    /// most `most`, and none unless it holds `least` (`least` ≤ `most`).
    /// With `borrow`, takes `most` even when the bucket holds fewer (it
    /// goes below zero). One step, whatever other servers take at the same
    /// time. Returns the tokens taken and those left.
    fn take(&self, key: Vec<u8>, limit: RateLimit, least: f64, most: f64, borrow: bool) -> Taking;
}

/// What [`SharedBuckets::take`] answers: the tokens taken, and those left.
pub type Taking =
    Pin<Box<dyn Future<Output = Result<(f64, f64), crate::storage::StorageError>> + Send>>;

/// Messages a server takes from a shared bucket at once for one device's
/// WebSocket reads (one database round trip per this many messages).
const LEASE: f64 = 50.0;

/// How long tokens taken from a shared bucket may be spent by the server
/// that took them; then they are dropped (see the module's notes).
pub const LEASE_TTL: Duration = Duration::from_secs(10);

/// Above this many devices, buckets idle and leases taken a minute ago
/// are forgotten rather than kept without bound.
const REMEMBERED: usize = 100_000;

/// Which door a lease was taken for: a limiter serving both never spends
/// the WebSocket's borrowed messages on HTTP requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Door {
    Http,
    WebSocket,
}

impl Door {
    /// How long a lease may be spent. WebSocket leases are borrowed (the
    /// wait for them is paid when they are taken) and are kept until
    /// spent: a quiet peer under a small rate would otherwise pay for a
    /// whole lease per message.
    fn ttl(self) -> Option<Duration> {
        match self {
            Door::Http => Some(LEASE_TTL),
            Door::WebSocket => None,
        }
    }
}

/// Tokens this server took from a device's shared bucket and has not spent.
struct Lease {
    tokens: f64,
    /// When the oldest of them were taken.
    taken: Instant,
}

impl Lease {
    fn expired(&self, door: Door, now: Instant) -> bool {
        door.ttl()
            .is_some_and(|ttl| now.duration_since(self.taken) >= ttl)
    }
}

pub struct RateLimiter {
    limit: RateLimit,
    /// This server's own buckets: the limit without shared buckets, or
    /// while they cannot be reached.
    buckets: Mutex<HashMap<DeviceId, Bucket>>,
    /// Leases from the shared buckets.
    leases: Mutex<HashMap<(Door, DeviceId), Lease>>,
    /// Devices the shared bucket refused, until it can hold a token again:
    /// a device that keeps asking past its rate is refused here, without
    /// a round trip per request.
    refused: Mutex<HashMap<DeviceId, Instant>>,
    /// Shared buckets and this limiter's name among them.
    shared: Option<(Arc<dyn SharedBuckets>, &'static str)>,
    /// How far a test moved the leases' clock past the real one.
    #[cfg(test)]
    skew: Mutex<Duration>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
            leases: Mutex::new(HashMap::new()),
            refused: Mutex::new(HashMap::new()),
            shared: None,
            #[cfg(test)]
            skew: Mutex::new(Duration::ZERO),
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

    /// Requests [`RateLimiter::admit`] takes from a shared bucket at once,
    /// L: a twelfth of the burst, from 1 to 10. Small enough that the L − 1
    /// a server may hold are little next to the burst; a tiny burst stays
    /// exact.
    pub fn lease_size(&self) -> f64 {
        let size = (self.limit.burst / 12.0).floor();
        if size.is_nan() {
            1.0
        } else {
            size.clamp(1.0, 10.0)
        }
    }

    /// The time leases are judged by.
    fn now(&self) -> Instant {
        Instant::now() + self.skew()
    }

    #[cfg(test)]
    fn skew(&self) -> Duration {
        *self.skew.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(not(test))]
    fn skew(&self) -> Duration {
        Duration::ZERO
    }

    /// Spends one token of the device's lease for `door`, if it holds one
    /// that has not expired.
    fn spend_lease(&self, door: Door, device: DeviceId) -> bool {
        let mut leases = self.leases();
        let key = (door, device);
        let Some(lease) = leases.get_mut(&key) else {
            return false;
        };
        if lease.expired(door, self.now()) || lease.tokens < 1.0 {
            leases.remove(&key);
            return false;
        }
        lease.tokens -= 1.0;
        if lease.tokens < 1.0 {
            leases.remove(&key);
        }
        true
    }

    /// Whether the device's shared bucket refused it and cannot have
    /// refilled a token since.
    fn still_refused(&self, device: DeviceId) -> bool {
        let now = self.now();
        let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        match refused.get(&device) {
            Some(until) if now < *until => true,
            Some(_) => {
                refused.remove(&device);
                false
            }
            None => false,
        }
    }

    /// Remembers that the device's shared bucket refused it holding `left`
    /// tokens: no server can take one from it before it refills to one, so
    /// refusing meanwhile without asking is exact.
    fn refuse(&self, device: DeviceId, left: f64) {
        let wait = (1.0 - left) / self.limit.per_second;
        let Ok(wait) = Duration::try_from_secs_f64(wait) else {
            return;
        };
        let now = self.now();
        let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        if refused.len() > REMEMBERED {
            refused.retain(|_, until| now < *until);
        }
        refused.insert(device, now + wait.min(Duration::from_secs(3600)));
    }

    /// Keeps `tokens` just taken from the device's shared bucket as its
    /// lease for `door`, with what is left of one taken meanwhile (by a
    /// request that raced this one), holding at most `cap`.
    fn keep_lease(&self, door: Door, device: DeviceId, tokens: f64, cap: f64) {
        if tokens < 1.0 {
            return;
        }
        let now = self.now();
        let mut leases = self.leases();
        if leases.len() > REMEMBERED {
            leases.retain(|&(door, _), lease| {
                !lease.expired(door, now) && now.duration_since(lease.taken).as_secs() < 60
            });
        }
        let fresh = Lease {
            tokens: 0.0,
            taken: now,
        };
        let lease = leases.entry((door, device)).or_insert(fresh);
        if lease.expired(door, now) {
            *lease = Lease {
                tokens: 0.0,
                taken: now,
            };
        }
        // The older time stays: no token outlives its own expiry.
        lease.tokens = (lease.tokens + tokens).min(cap);
        if lease.tokens < 1.0 {
            leases.remove(&(door, device));
        }
    }

    /// [`RateLimiter::allow`], from the shared buckets when there are: a
    /// device's requests to every server count against one rate. This
    /// server takes up to [`RateLimiter::lease_size`] requests at once from
    /// the device's shared bucket and grants the next ones from what it
    /// holds, for [`LEASE_TTL`] at most (see the module's notes for the
    /// bound). If the shared buckets cannot be reached, this server's own
    /// decide.
    pub async fn admit(&self, device: DeviceId) -> bool {
        let Some((shared, name)) = &self.shared else {
            return self.allow(device);
        };
        if self.spend_lease(Door::Http, device) {
            return true;
        }
        if self.still_refused(device) {
            return false;
        }
        let most = self.lease_size();
        match shared
            .take(Self::shared_key(name, device), self.limit, 1.0, most, false)
            .await
        {
            Ok((taken, _)) if taken >= 1.0 => {
                self.keep_lease(Door::Http, device, taken - 1.0, most - 1.0);
                true
            }
            Ok((_, left)) => {
                self.refuse(device, left);
                false
            }
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
        if self.spend_lease(Door::WebSocket, device) {
            return Duration::ZERO;
        }
        match shared
            .take(
                Self::shared_key(name, device),
                self.limit,
                LEASE,
                LEASE,
                true,
            )
            .await
        {
            Ok((taken, left)) => {
                self.keep_lease(Door::WebSocket, device, taken - 1.0, LEASE - 1.0);
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

    fn leases(&self) -> MutexGuard<'_, HashMap<(Door, DeviceId), Lease>> {
        self.leases.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The device's bucket, refilled for the time since it was last used.
    fn refilled<'a>(
        &self,
        buckets: &'a mut HashMap<DeviceId, Bucket>,
        device: DeviceId,
    ) -> &'a mut Bucket {
        let now = Instant::now();
        if buckets.len() > REMEMBERED {
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
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;

    /// Shared buckets in memory, as [`crate::storage::PgBackend`] keeps
    /// them, counting the round trips a database would make.
    #[derive(Default)]
    struct Buckets {
        buckets: Mutex<HashMap<Vec<u8>, Bucket>>,
        calls: AtomicUsize,
        down: AtomicBool,
    }

    impl Buckets {
        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    impl SharedBuckets for Buckets {
        fn take(
            &self,
            key: Vec<u8>,
            limit: RateLimit,
            least: f64,
            most: f64,
            borrow: bool,
        ) -> Taking {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Box::pin(async {
                    Err(crate::storage::StorageError::Backend {
                        message: "the database is down".into(),
                    })
                });
            }
            let now = Instant::now();
            let mut buckets = self.buckets.lock().unwrap();
            let bucket = buckets.entry(key).or_insert(Bucket {
                tokens: limit.burst,
                at: now,
            });
            let held = (bucket.tokens
                + now.duration_since(bucket.at).as_secs_f64() * limit.per_second)
                .min(limit.burst);
            let taken = if borrow {
                most
            } else if held >= least {
                held.floor().min(most).max(least)
            } else {
                0.0
            };
            bucket.tokens = held - taken;
            bucket.at = now;
            let answer = (taken, bucket.tokens);
            Box::pin(async move { Ok(answer) })
        }
    }

    /// Almost no refill: what a test spends is gone.
    fn slow(burst: f64) -> RateLimit {
        RateLimit {
            per_second: 1e-9,
            burst,
        }
    }

    /// `count` requests of `device` through `limiter`; how many were granted.
    async fn granted(limiter: &RateLimiter, device: DeviceId, count: usize) -> usize {
        let mut granted = 0;
        for _ in 0..count {
            if limiter.admit(device).await {
                granted += 1;
            }
        }
        granted
    }

    #[test]
    fn a_lease_is_a_twelfth_of_the_burst_from_one_to_ten() {
        let size = |burst| RateLimiter::new(slow(burst)).lease_size();
        assert_eq!(size(120.0), 10.0);
        assert_eq!(size(1_000.0), 10.0);
        assert_eq!(size(60.0), 5.0);
        assert_eq!(size(23.0), 1.0);
        assert_eq!(size(6.0), 1.0);
        assert_eq!(size(0.5), 1.0);
        assert_eq!(size(f64::NAN), 1.0);
    }

    #[tokio::test]
    async fn requests_on_one_server_spend_a_lease_without_asking_the_store() {
        let buckets = Arc::new(Buckets::default());
        let limiter = RateLimiter::shared(slow(120.0), buckets.clone(), "http");
        let device = DeviceId::random();
        assert_eq!(granted(&limiter, device, 20).await, 20);
        assert_eq!(buckets.calls(), 2, "two leases of 10, not 20 round trips");
        // The store debited exactly what was granted.
        let (_, left) = buckets
            .take(
                RateLimiter::shared_key("http", device),
                slow(120.0),
                1.0,
                1.0,
                false,
            )
            .await
            .unwrap();
        assert!((left - 99.0).abs() < 0.01, "{left}");
    }

    /// Tokens `limiter` holds of the device's HTTP requests.
    fn held(limiter: &RateLimiter, device: DeviceId) -> f64 {
        limiter
            .leases()
            .get(&(Door::Http, device))
            .map_or(0.0, |lease| lease.tokens)
    }

    #[tokio::test]
    async fn two_servers_grant_a_burst_once_however_requests_alternate() {
        // Orders of requests over two servers: alternating, two to one,
        // first one then the other, and a scattered one.
        let orders: [&dyn Fn(usize) -> bool; 4] =
            [&|n| n % 2 == 0, &|n| n % 3 != 2, &|n| n < 7, &|n| {
                (n * 7 + 3) % 5 < 2
            }];
        // A burst of 6 takes one at a time: exact. 27 takes leases of 2
        // (and a last 1), 119 leases of 9 (and a last 2): what a server
        // still holds when the other has taken the rest is not granted.
        for burst in [6.0, 27.0, 119.0] {
            for (which, on_one) in orders.iter().enumerate() {
                let buckets = Arc::new(Buckets::default());
                let one = RateLimiter::shared(slow(burst), buckets.clone(), "http");
                let two = RateLimiter::shared(slow(burst), buckets.clone(), "http");
                let device = DeviceId::random();
                let mut granted = 0;
                for n in 0..(3 * burst as usize) {
                    let limiter = if on_one(n) { &one } else { &two };
                    if limiter.admit(device).await {
                        granted += 1;
                    }
                }
                let held = held(&one, device) + held(&two, device);
                let context = format!("burst {burst}, order {which}");
                assert!(held <= 2.0 * (one.lease_size() - 1.0), "{context}");
                assert_eq!(
                    granted as f64 + held,
                    burst,
                    "{context}: granted once across both servers"
                );
                if burst == 6.0 {
                    assert_eq!(granted, 6, "{context}");
                }
            }
        }
    }

    impl RateLimiter {
        /// Moves the leases' clock on by `by`.
        fn advance(&self, by: Duration) {
            *self.skew.lock().unwrap() += by;
        }
    }

    #[tokio::test]
    async fn a_lease_expires_after_its_time() {
        let buckets = Arc::new(Buckets::default());
        // Burst 24: leases of 2.
        let one = RateLimiter::shared(slow(24.0), buckets.clone(), "http");
        let two = RateLimiter::shared(slow(24.0), buckets.clone(), "http");
        let (kept, expired) = (DeviceId::random(), DeviceId::random());
        for device in [kept, expired] {
            // The first server holds one token; the second takes the rest.
            assert!(one.admit(device).await);
            assert_eq!(granted(&two, device, 30).await, 22);
        }
        one.advance(LEASE_TTL - Duration::from_secs(1));
        assert!(one.admit(kept).await, "a lease within its time is spent");
        one.advance(Duration::from_secs(1));
        let calls = buckets.calls();
        assert!(!one.admit(expired).await, "an expired lease is not spent");
        assert_eq!(buckets.calls(), calls + 1, "the store was asked instead");
    }

    #[tokio::test]
    async fn a_refused_device_is_refused_here_until_its_bucket_can_refill() {
        let buckets = Arc::new(Buckets::default());
        // A token a second, two at most: leases of one.
        let limit = RateLimit {
            per_second: 1.0,
            burst: 2.0,
        };
        let limiter = RateLimiter::shared(limit, buckets.clone(), "http");
        let (device, other) = (DeviceId::random(), DeviceId::random());
        assert_eq!(granted(&limiter, device, 2).await, 2);
        let calls = buckets.calls();
        assert!(!limiter.admit(device).await);
        assert_eq!(buckets.calls(), calls + 1, "the store refused it");
        // Asking again and again within the second costs no round trip.
        assert_eq!(granted(&limiter, device, 50).await, 0);
        assert_eq!(buckets.calls(), calls + 1);
        // Other devices are asked for as before.
        assert!(limiter.admit(other).await);
        assert_eq!(buckets.calls(), calls + 2);
        // Once a token can have refilled, the store is asked again.
        limiter.advance(Duration::from_secs(1));
        limiter.admit(device).await;
        assert_eq!(buckets.calls(), calls + 3);
    }

    #[tokio::test]
    async fn leases_of_different_devices_do_not_mix() {
        let buckets = Arc::new(Buckets::default());
        let one = RateLimiter::shared(slow(24.0), buckets.clone(), "http");
        let two = RateLimiter::shared(slow(24.0), buckets.clone(), "http");
        let (holder, spent) = (DeviceId::random(), DeviceId::random());
        // The first server holds a token of `holder`; `spent` used its whole
        // burst on the second.
        assert!(one.admit(holder).await);
        assert_eq!(granted(&two, spent, 30).await, 24);
        assert!(
            !one.admit(spent).await,
            "another device's lease is not spent"
        );
        let calls = buckets.calls();
        assert!(one.admit(holder).await, "the holder's lease is still there");
        assert_eq!(buckets.calls(), calls, "from the lease");
    }

    #[tokio::test]
    async fn websocket_leases_are_not_spent_on_requests() {
        // One limiter serving both doors: the 49 messages the WebSocket
        // borrowed are not requests granted.
        let buckets = Arc::new(Buckets::default());
        let limiter = RateLimiter::shared(slow(24.0), buckets.clone(), "both");
        let device = DeviceId::random();
        assert!(limiter.pace(device).await > Duration::ZERO, "26 owed");
        assert!(!limiter.admit(device).await, "the bucket owes");
        assert_eq!(limiter.pace(device).await, Duration::ZERO, "from the lease");
    }

    #[tokio::test]
    async fn without_the_store_each_server_limits_by_its_own_buckets() {
        let buckets = Arc::new(Buckets::default());
        buckets.down.store(true, Ordering::SeqCst);
        let limiter = RateLimiter::shared(slow(3.0), buckets.clone(), "http");
        let device = DeviceId::random();
        assert_eq!(granted(&limiter, device, 5).await, 3);
        assert_eq!(buckets.calls(), 5, "the store is tried each time");
        // A lease taken before the store went down is spent first.
        let device = DeviceId::random();
        let leased = RateLimiter::shared(slow(24.0), buckets.clone(), "http");
        buckets.down.store(false, Ordering::SeqCst);
        assert!(leased.admit(device).await);
        buckets.down.store(true, Ordering::SeqCst);
        let calls = buckets.calls();
        assert!(leased.admit(device).await);
        assert_eq!(buckets.calls(), calls, "from the lease");
    }

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
