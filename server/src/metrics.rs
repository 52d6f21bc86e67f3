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
    pub batch_latency: Histogram,
}

pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Metrics {
    /// The Prometheus exposition; `extra` are gauges read at scrape time.
    pub fn render(&self, extra: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &AtomicU64); 11] = [
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
