//! What carries a sync to the server, whatever the wire: the
//! [`SyncTransport`] a phone shell implements (HTTP in the field with
//! [`super::http::HttpTransport`], an in-process server in tests, another
//! platform's own client elsewhere), its errors, and the loop that syncs a
//! replica until the server has nothing more.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fengqiao_protocol::ErrorBody;
use fengqiao_protocol::batch::{SyncRequest, SyncResponse};
use thiserror::Error;

use super::sync::{SyncClient, SyncStep};
use super::{Replica, ReplicaError};
use crate::summary::Millis;

/// Why one exchange with the server failed.
#[derive(Debug, Error)]
pub enum TransportError {
    #[error(
        "could not reach the server: {0}; check the signal and the server address, then sync again"
    )]
    Network(String),
    /// The server took the connection but did not answer in time, on
    /// every try.
    #[error(
        "the server did not answer within {} s ({tries} tries); it may be down or overloaded, \
         or the signal too weak; sync again later",
        waited.as_secs_f64()
    )]
    Unanswered { tries: u32, waited: Duration },
    #[error("the server refused the sync ({status}): {body}")]
    Server { status: u16, body: ErrorBody },
    #[error("the server's answer could not be read: {0}")]
    BadResponse(String),
}

impl TransportError {
    /// Whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            TransportError::Network(_) | TransportError::Unanswered { .. } => true,
            TransportError::Server { body, .. } => body.code.is_retryable(),
            TransportError::BadResponse(_) => true,
        }
    }
}

/// Bytes that crossed the wire in one exchange.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireBytes {
    pub up: u64,
    pub down: u64,
}

/// Anything that can carry a sync request to a server and bring back its
/// response: HTTP in the field, an in-process server in tests.
pub trait SyncTransport {
    fn exchange(
        &mut self,
        request: &SyncRequest,
    ) -> Result<(SyncResponse, WireBytes), TransportError>;
}

/// Why a sync run stopped early.
#[derive(Debug, Error)]
pub enum SyncError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    #[error("sync did not finish within {0} rounds; sync again to continue")]
    TooManyRounds(usize),
}

/// The totals of a sync run.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    pub rounds: usize,
    pub bytes: WireBytes,
    /// Every step, in order.
    pub steps: Vec<SyncStep>,
}

impl SyncReport {
    fn count(&self, f: impl Fn(&SyncStep) -> usize) -> usize {
        self.steps.iter().map(f).sum()
    }
    pub fn acknowledged(&self) -> usize {
        self.count(|s| s.acknowledged.len())
    }
    pub fn received(&self) -> usize {
        self.count(|s| s.received.len())
    }
    pub fn merged(&self) -> usize {
        self.count(|s| s.merged.len())
    }
    pub fn rejected(&self) -> usize {
        self.count(|s| s.rejected.len())
    }
    pub fn purged(&self) -> usize {
        self.count(|s| s.purged.len())
    }
    /// How far a long download has come: records received so far and the
    /// total the server announced, while it still has more to send.
    pub fn progress(&self) -> Option<(u64, u64)> {
        let last = self.steps.last()?;
        let remaining = last.remaining?;
        let done = self.received() as u64;
        Some((done, done + remaining))
    }
}

/// The wall-clock time in ms since the epoch.
pub fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// Syncs until the server has nothing more and every upload is answered,
/// calling `progress` after each round. Stops with an error after
/// `max_rounds` rounds so a misbehaving server cannot keep a phone busy.
pub fn sync_until_done(
    replica: &Replica,
    client: &mut SyncClient,
    transport: &mut dyn SyncTransport,
    max_rounds: usize,
    mut progress: impl FnMut(&SyncReport),
) -> Result<SyncReport, SyncError> {
    let mut report = SyncReport::default();
    loop {
        if report.rounds >= max_rounds {
            return Err(SyncError::TooManyRounds(max_rounds));
        }
        let request = client.next_request(replica)?;
        let (response, bytes) = transport.exchange(&request)?;
        let step = client.handle_response(replica, response, now_millis())?;
        report.rounds += 1;
        report.bytes.up += bytes.up;
        report.bytes.down += bytes.down;
        let more = step.more;
        report.steps.push(step);
        progress(&report);
        if !more {
            return Ok(report);
        }
    }
}
