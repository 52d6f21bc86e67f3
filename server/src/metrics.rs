//! Counters for `/metrics`, in the Prometheus text format.
//!
//! Plain atomics: cheap to bump from any thread, read once per scrape.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

#[derive(Default)]
pub struct Metrics {
    pub batch_syncs: AtomicU64,
    pub batch_errors: AtomicU64,
    pub batch_uploads: AtomicU64,
    pub batch_refused: AtomicU64,
    pub batch_docs_sent: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub ws_connections: AtomicU64,
    pub ws_open: AtomicU64,
    pub ws_messages_in: AtomicU64,
    pub ws_messages_out: AtomicU64,
    pub ws_throttled: AtomicU64,
    /// Changes sent by read-only devices, ignored (either door).
    pub read_only_ignored: AtomicU64,
    /// Changes refused on the WebSocket door.
    pub ws_refused: AtomicU64,
    /// Alerts queued for the webhook.
    pub webhook_queued: AtomicU64,
    /// Alerts the webhook receiver accepted.
    pub webhook_delivered: AtomicU64,
    /// Webhook tries that failed (each retry counts).
    pub webhook_failed_tries: AtomicU64,
    /// Alerts given up after the last try.
    pub webhook_given_up: AtomicU64,
    /// Alerts dropped, oldest first, because the webhook queue was full.
    pub webhook_dropped: AtomicU64,
    /// WebSocket messages held back because their device kept sending
    /// refused changes.
    pub ws_refusals_throttled: AtomicU64,
    /// Quarantined changes cut to their first bytes.
    pub quarantine_truncated: AtomicU64,
    /// Quarantined changes dropped, oldest first, to stay within the
    /// per-device and total bounds.
    pub quarantine_dropped: AtomicU64,
    /// Refused changes not quarantined because their device refused too
    /// many too fast.
    pub quarantine_rate_limited: AtomicU64,
    /// Connections closed before their first request's headers were
    /// complete, to make room for a new client at the connection cap.
    pub connections_evicted: AtomicU64,
    pub batch_latency: Histogram,
}

pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Metrics {
    /// The Prometheus exposition; `extra` are gauges read at scrape time.
    pub fn render(&self, extra: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &AtomicU64); 23] = [
            (
                "fengqiao_batch_syncs_total",
                "Batch sync requests answered.",
                &self.batch_syncs,
            ),
            (
                "fengqiao_batch_errors_total",
                "Batch sync requests that failed as a whole.",
                &self.batch_errors,
            ),
            (
                "fengqiao_batch_uploads_total",
                "Record uploads received by the batch door.",
                &self.batch_uploads,
            ),
            (
                "fengqiao_refused_total",
                "Record uploads refused and quarantined.",
                &self.batch_refused,
            ),
            (
                "fengqiao_batch_records_sent_total",
                "Records sent to phones by the batch door.",
                &self.batch_docs_sent,
            ),
            (
                "fengqiao_bytes_in_total",
                "Request body bytes received (as sent, compressed or not).",
                &self.bytes_in,
            ),
            (
                "fengqiao_bytes_out_total",
                "Response body bytes sent (as sent).",
                &self.bytes_out,
            ),
            (
                "fengqiao_ws_connections_total",
                "WebSocket connections accepted.",
                &self.ws_connections,
            ),
            (
                "fengqiao_ws_messages_in_total",
                "WebSocket messages received.",
                &self.ws_messages_in,
            ),
            (
                "fengqiao_ws_messages_out_total",
                "WebSocket messages sent.",
                &self.ws_messages_out,
            ),
            (
                "fengqiao_ws_throttled_total",
                "WebSocket messages held back because their device sent faster than its rate.",
                &self.ws_throttled,
            ),
            (
                "fengqiao_read_only_changes_ignored_total",
                "Changes sent by read-only devices (supervisors, districts without write), ignored.",
                &self.read_only_ignored,
            ),
            (
                "fengqiao_webhook_queued_total",
                "Alerts queued for the outbound webhook.",
                &self.webhook_queued,
            ),
            (
                "fengqiao_webhook_delivered_total",
                "Alerts the webhook receiver accepted.",
                &self.webhook_delivered,
            ),
            (
                "fengqiao_webhook_failed_tries_total",
                "Webhook deliveries that failed (each retry counts).",
                &self.webhook_failed_tries,
            ),
            (
                "fengqiao_webhook_given_up_total",
                "Alerts given up after the webhook's last try.",
                &self.webhook_given_up,
            ),
            (
                "fengqiao_webhook_dropped_total",
                "Alerts dropped, oldest first, because the webhook queue was full.",
                &self.webhook_dropped,
            ),
            (
                "fengqiao_ws_refused_total",
                "Changes refused on the WebSocket door.",
                &self.ws_refused,
            ),
            (
                "fengqiao_ws_refusals_throttled_total",
                "WebSocket messages held back because their device kept sending refused changes.",
                &self.ws_refusals_throttled,
            ),
            (
                "fengqiao_quarantine_truncated_total",
                "Refused changes quarantined as their first bytes only.",
                &self.quarantine_truncated,
            ),
            (
                "fengqiao_quarantine_dropped_total",
                "Quarantined changes dropped, oldest first, to stay within the quarantine's bounds.",
                &self.quarantine_dropped,
            ),
            (
                "fengqiao_quarantine_rate_limited_total",
                "Refused changes not quarantined because their device sent refused changes too fast.",
                &self.quarantine_rate_limited,
            ),
            (
                "fengqiao_connections_evicted_total",
                "Connections that had not sent a whole request's headers, closed to make room for a new client at the connection cap.",
                &self.connections_evicted,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP fengqiao_ws_open WebSocket connections open now.\n# TYPE fengqiao_ws_open gauge\nfengqiao_ws_open {}",
            self.ws_open.load(Ordering::Relaxed)
        );
        for (name, help, value) in extra {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        self.batch_latency.render(
            &mut out,
            "fengqiao_batch_sync_seconds",
            "Time to answer a batch sync request.",
        );
        out
    }
}

/// Lets a kind of log line through at most once per period, so that a
/// device repeating itself cannot flood the log; each line that passes
/// tells how many were held back since the last.
pub struct LogEvery {
    every: Duration,
    start: std::time::Instant,
    /// When the next line may pass, in ms since `start`.
    next_ms: AtomicU64,
    held_back: AtomicU64,
}

impl LogEvery {
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            start: std::time::Instant::now(),
            next_ms: AtomicU64::new(0),
            held_back: AtomicU64::new(0),
        }
    }

    /// `Some(held back)` when a line may be logged now.
    pub fn allow(&self) -> Option<u64> {
        let now = self.start.elapsed().as_millis() as u64;
        let next = self.next_ms.load(Ordering::Relaxed);
        if now >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now + self.every.as_millis() as u64,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            Some(self.held_back.swap(0, Ordering::Relaxed))
        } else {
            self.held_back.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limited_log_passes_once_per_period_and_counts_the_rest() {
        let log = LogEvery::new(Duration::from_secs(3600));
        assert_eq!(log.allow(), Some(0));
        assert_eq!(log.allow(), None);
        assert_eq!(log.allow(), None);
        let log = LogEvery::new(Duration::ZERO);
        assert_eq!(log.allow(), Some(0));
        assert_eq!(log.allow(), Some(0));
    }

    #[test]
    fn new_counters_are_rendered() {
        let metrics = Metrics::default();
        add(&metrics.read_only_ignored, 3);
        add(&metrics.quarantine_dropped, 2);
        let text = metrics.render(&[]);
        assert!(
            text.contains("fengqiao_read_only_changes_ignored_total 3"),
            "{text}"
        );
        assert!(
            text.contains("fengqiao_quarantine_dropped_total 2"),
            "{text}"
        );
    }
}
