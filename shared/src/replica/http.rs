//! Moving batch sync requests over HTTP, and the loop that syncs a replica
//! until the server has nothing more.
//!
//! The transport is deliberately thin: it encodes, compresses (zstd above
//! a small size), posts, checks the status, decompresses (zstd or gzip,
//! whichever the server chose) and decodes.
//! Every byte count it reports is what crossed the wire.

use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fengqiao_protocol::batch::{SyncRequest, SyncResponse};
use fengqiao_protocol::codec::DecodeLimits;
use fengqiao_protocol::{ErrorBody, ErrorCode};
use thiserror::Error;

use super::sync::{SyncClient, SyncStep};
use super::{Replica, ReplicaError};
use crate::summary::Millis;

/// Bodies smaller than this are sent uncompressed.
const COMPRESS_ABOVE: usize = 1024;

/// Largest response body accepted, after decompression.
const MAX_RESPONSE_BYTES: u64 = 256 * 1024 * 1024;

/// Why one exchange with the server failed.
#[derive(Debug, Error)]
pub enum TransportError {
    #[error(
        "could not reach the server: {0}; check the signal and the server address, then sync again"
    )]
    Network(String),
    #[error("the server refused the sync ({status}): {body}")]
    Server { status: u16, body: ErrorBody },
    #[error("the server's answer could not be read: {0}")]
    BadResponse(String),
}

impl TransportError {
    /// Whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            TransportError::Network(_) => true,
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

/// `POST {server}/v1/sync` with a bearer token.
pub struct HttpTransport {
    url: String,
    token: String,
    agent: ureq::Agent,
}

impl HttpTransport {
    /// A transport for the server at `base_url` (e.g. `https://sync.example.org`).
    pub fn new(base_url: &str, token: impl Into<String>) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_global(Some(Duration::from_secs(120)))
            .http_status_as_error(false)
            .build();
        Self {
            url: format!("{}/v1/sync", base_url.trim_end_matches('/')),
            token: token.into(),
            agent: ureq::Agent::new_with_config(config),
        }
    }
}

/// zstd at its default level: on the sync envelope (Automerge documents of
/// one village, ids and hashes) it is smaller than gzip and several times
/// faster both ways, which matters on a phone's CPU as much as on the link.
fn zstd_compress(bytes: &[u8]) -> Vec<u8> {
    zstd::bulk::compress(bytes, 3).expect("compressing into memory cannot fail")
}

fn decompress(encoding: Option<&str>, wire: Vec<u8>) -> Result<Vec<u8>, TransportError> {
    let mut out = Vec::new();
    match encoding {
        None | Some("identity") => return Ok(wire),
        Some("gzip") => flate2::read::GzDecoder::new(&wire[..])
            .take(MAX_RESPONSE_BYTES)
            .read_to_end(&mut out)
            .map_err(|e| TransportError::BadResponse(format!("gzip: {e}")))?,
        Some("zstd") => zstd::stream::read::Decoder::new(&wire[..])
            .and_then(|d| d.take(MAX_RESPONSE_BYTES).read_to_end(&mut out))
            .map_err(|e| TransportError::BadResponse(format!("zstd: {e}")))?,
        Some(other) => {
            return Err(TransportError::BadResponse(format!(
                "unsupported Content-Encoding {other:?}"
            )));
        }
    };
    Ok(out)
}

impl SyncTransport for HttpTransport {
    fn exchange(
        &mut self,
        request: &SyncRequest,
    ) -> Result<(SyncResponse, WireBytes), TransportError> {
        let plain = request.encode();
        let (body, encoding) = if plain.len() > COMPRESS_ABOVE {
            (zstd_compress(&plain), Some("zstd"))
        } else {
            (plain, None)
        };
        let mut call = self
            .agent
            .post(&self.url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Content-Type", "application/cbor")
            .header("Accept-Encoding", "zstd, gzip");
        if let Some(encoding) = encoding {
            call = call.header("Content-Encoding", encoding);
        }
        let response = call
            .send(&body[..])
            .map_err(|e| TransportError::Network(e.to_string()))?;
        let status = response.status().as_u16();
        let encoding = response
            .headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase());
        let mut wire = Vec::new();
        response
            .into_body()
            .into_reader()
            .take(MAX_RESPONSE_BYTES)
            .read_to_end(&mut wire)
            .map_err(|e| TransportError::Network(e.to_string()))?;
        let bytes = WireBytes {
            up: body.len() as u64,
            down: wire.len() as u64,
        };
        let plain = decompress(encoding.as_deref(), wire)?;
        let limits = DecodeLimits {
            max_bytes: MAX_RESPONSE_BYTES as usize,
            ..DecodeLimits::DEFAULT
        };
        if status != 200 {
            let body = ciborium::from_reader::<ErrorBody, _>(&plain[..]).unwrap_or_else(|_| {
                ErrorBody::new(
                    ErrorCode::Unknown,
                    format!(
                        "HTTP {status}: {}",
                        String::from_utf8_lossy(&plain)
                            .chars()
                            .take(200)
                            .collect::<String>()
                    ),
                )
            });
            return Err(TransportError::Server { status, body });
        }
        let response = SyncResponse::decode(&plain, &limits)
            .map_err(|e| TransportError::BadResponse(e.to_string()))?;
        Ok((response, bytes))
    }
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
