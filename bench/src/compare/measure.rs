//! What one workload measured, and medians over repetitions.

use std::time::Duration;

use serde::Serialize;

/// What crossed the client's socket during one workload, counted at the
/// client. WebSocket: binary frame payload bytes. Batch door: HTTP body
/// bytes as sent and received (compressed when compressed). Neither counts
/// HTTP or WebSocket headers, TCP or the handshake.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Traffic {
    #[serde(serialize_with = "seconds")]
    pub wall: Duration,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub messages_up: u64,
    pub messages_down: u64,
    /// WebSocket: the most messages the client sent for any one document
    /// (documents are pipelined, so this is the sequential depth). Batch
    /// door: HTTP requests. Floor: the same as WebSocket.
    pub round_trips: u64,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// How a workload ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Outcome {
    Done,
    /// With how far it got.
    TimedOut(String),
    Failed(String),
    /// Not run: an earlier workload of the same run did not finish.
    Skipped,
}

/// One workload of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub outcome: Outcome,
    pub traffic: Traffic,
    /// Server CPU time during the workload (user + system), seconds.
    pub server_cpu: f64,
    /// CPU time of the PostgreSQL processes during the workload, seconds
    /// (see `fengqiao_bench::pg`); NaN for servers not on PostgreSQL.
    pub db_cpu: f64,
    /// Transactions, WAL flushes and key lookups of the database during
    /// the workload (PostgreSQL, with `--db-counters` only).
    pub db_counters: Option<fengqiao_bench::pg::Counters>,
    /// Server peak resident set during the workload, KiB.
    pub server_peak_kib: u64,
    /// Server data directory after the workload, bytes.
    pub data_bytes: u64,
    /// 1-minute load average when the workload started.
    pub load: f64,
}

impl Measurement {
    pub fn not_done(outcome: Outcome) -> Self {
        Self {
            outcome,
            traffic: Traffic::default(),
            server_cpu: f64::NAN,
            db_cpu: f64::NAN,
            db_counters: None,
            server_peak_kib: 0,
            data_bytes: 0,
            load: super::process::load_average(),
        }
    }

    pub fn done(&self) -> bool {
        self.outcome == Outcome::Done
    }
}

/// The median of `values` (mean of the middle two for an even count).
pub fn median(values: &mut [f64]) -> Option<f64> {
    let mut values: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// Medians of the completed repetitions of one workload on one system.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Summary {
    pub runs: usize,
    pub completed: usize,
    pub wall: f64,
    pub bytes_up: f64,
    pub bytes_down: f64,
    pub messages_up: f64,
    pub messages_down: f64,
    pub round_trips: f64,
    pub server_cpu: f64,
    pub db_cpu: f64,
    pub server_peak_kib: f64,
    pub data_bytes: f64,
    pub load: f64,
}

impl Summary {
    /// `None` when no repetition completed.
    pub fn of(measurements: &[&Measurement]) -> Option<Self> {
        let done: Vec<&&Measurement> = measurements.iter().filter(|m| m.done()).collect();
        if done.is_empty() {
            return None;
        }
        let pick = |f: &dyn Fn(&Measurement) -> f64| {
            let mut v: Vec<f64> = done.iter().map(|m| f(m)).collect();
            median(&mut v).unwrap_or(f64::NAN)
        };
        Some(Self {
            runs: measurements.len(),
            completed: done.len(),
            wall: pick(&|m| m.traffic.wall.as_secs_f64()),
            bytes_up: pick(&|m| m.traffic.bytes_up as f64),
            bytes_down: pick(&|m| m.traffic.bytes_down as f64),
            messages_up: pick(&|m| m.traffic.messages_up as f64),
            messages_down: pick(&|m| m.traffic.messages_down as f64),
            round_trips: pick(&|m| m.traffic.round_trips as f64),
            server_cpu: pick(&|m| m.server_cpu),
            db_cpu: pick(&|m| m.db_cpu),
            server_peak_kib: pick(&|m| m.server_peak_kib as f64),
            data_bytes: pick(&|m| m.data_bytes as f64),
            load: pick(&|m| m.load),
        })
    }

    pub fn bytes(&self) -> f64 {
        self.bytes_up + self.bytes_down
    }

    /// Server and database CPU together (the server's alone when it has
    /// no database).
    pub fn total_cpu(&self) -> f64 {
        if self.db_cpu.is_finite() {
            self.server_cpu + self.db_cpu
        } else {
            self.server_cpu
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&mut [f64::NAN]), None);
    }
}
