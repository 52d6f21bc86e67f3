//! Moving batch sync requests over HTTP (ureq): the native phone's
//! [`SyncTransport`]. Built with the `http` feature (on by default).
//!
//! The transport is deliberately thin: it encodes, compresses (zstd above
//! a small size), posts, checks the status, decompresses (zstd or gzip,
//! whichever the server chose) and decodes.
//! Every byte count it reports is what crossed the wire.
//!
//! Weak links and hung servers: connecting and every wait for the server
//! (for the answer to begin, and for each piece of it) have their own
//! timeouts ([`HttpOptions`]); a request that fails on the way (no
//! connection, no answer in time, a reset) is tried again after a growing
//! pause, since requests are idempotent; and while it waits the transport
//! tells its caller ([`Waiting`]), so a phone never sits silent.

use std::io::Read;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fengqiao_protocol::batch::{SyncRequest, SyncResponse};
use fengqiao_protocol::codec::DecodeLimits;
use fengqiao_protocol::{ErrorBody, ErrorCode};

// The transport-neutral part, here too for the callers that knew it here.
pub use super::transport::{
    SyncError, SyncReport, SyncTransport, TransportError, WireBytes, now_millis, sync_until_done,
};

/// Bodies smaller than this are sent uncompressed.
const COMPRESS_ABOVE: usize = 1024;

/// Largest response body accepted, after decompression.
const MAX_RESPONSE_BYTES: u64 = 256 * 1024 * 1024;

/// How patient the HTTP transport is.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Longest wait for a connection (DNS, TCP and TLS).
    pub connect_timeout: Duration,
    /// Longest wait for the server: for its answer to begin, and for each
    /// piece of the request or the answer to move. A slow link that keeps
    /// moving is not cut off; a server that says nothing is.
    pub answer_timeout: Duration,
    /// How many times a request is tried before giving up (at least 1).
    pub tries: u32,
    /// The pause before the second try; it doubles for each further try,
    /// up to [`HttpOptions::max_backoff`].
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// How often the caller hears that the transport is still waiting.
    pub tick: Duration,
}

impl Default for HttpOptions {
    /// Suited to a phone on a weak rural link: 20 s to connect, 30 s of
    /// silence from the server at most, 3 tries 2 s and 4 s apart (about
    /// a minute and a half before giving up on a server that never
    /// answers), and a word every 5 s while waiting.
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(20),
            answer_timeout: Duration::from_secs(30),
            tries: 3,
            first_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(30),
            tick: Duration::from_secs(5),
        }
    }
}

impl HttpOptions {
    /// The same patience, with `timeout` for both connecting and the
    /// server's silence, and pauses between tries scaled down with it
    /// when it is short.
    pub fn with_timeout(timeout: Duration) -> Self {
        let defaults = Self::default();
        Self {
            connect_timeout: timeout,
            answer_timeout: timeout,
            first_backoff: defaults.first_backoff.min(timeout / 4),
            tick: defaults
                .tick
                .min(timeout / 2)
                .max(Duration::from_millis(10)),
            ..defaults
        }
    }

    /// The pause after failed try number `tried` (1-based).
    fn backoff(&self, tried: u32) -> Duration {
        let factor = 1u32 << tried.saturating_sub(1).min(16);
        self.first_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// What the transport tells its caller while an exchange takes long.
#[derive(Debug, Clone, PartialEq)]
pub enum Waiting {
    /// Still waiting for the server, `elapsed` into try `tried` of `tries`.
    Still {
        tried: u32,
        tries: u32,
        elapsed: Duration,
    },
    /// Try `tried` of `tries` failed with `error`; the next starts after
    /// `pause`.
    Retrying {
        tried: u32,
        tries: u32,
        error: String,
        pause: Duration,
    },
}

/// `POST {server}/v1/sync` with a bearer token.
pub struct HttpTransport {
    url: String,
    token: String,
    agent: ureq::Agent,
    options: HttpOptions,
    waiting: Option<WaitingHook>,
}

/// What [`HttpTransport::on_waiting`] installs.
type WaitingHook = Box<dyn FnMut(&Waiting) + Send>;

impl HttpTransport {
    /// A transport for the server at `base_url` (e.g. `https://sync.example.org`)
    /// with the timeouts of [`HttpOptions::default`] and one try per
    /// exchange: for callers that retry whole syncs themselves.
    pub fn new(base_url: &str, token: impl Into<String>) -> Self {
        let options = HttpOptions {
            tries: 1,
            ..HttpOptions::default()
        };
        Self::with_options(base_url, token, options)
    }

    /// A transport with its own timeouts and tries.
    pub fn with_options(base_url: &str, token: impl Into<String>, options: HttpOptions) -> Self {
        let answer = Some(options.answer_timeout);
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(options.connect_timeout))
            .timeout_recv_response(answer)
            .timeout_per_read(answer)
            .timeout_per_write(answer)
            .timeout_global(None)
            .http_status_as_error(false)
            .build();
        Self {
            url: format!("{}/v1/sync", base_url.trim_end_matches('/')),
            token: token.into(),
            agent: ureq::Agent::new_with_config(config),
            options,
            waiting: None,
        }
    }

    /// Calls `f` every [`HttpOptions::tick`] while waiting for the server,
    /// and before each new try.
    pub fn on_waiting(mut self, f: impl FnMut(&Waiting) + Send + 'static) -> Self {
        self.waiting = Some(Box::new(f));
        self
    }

    fn tell(&mut self, waiting: Waiting) {
        if let Some(f) = &mut self.waiting {
            f(&waiting);
        }
    }
}

/// Why one try failed on the way, before any answer could be read.
enum Failed {
    /// No answer in time.
    Timeout(String),
    /// No connection, or it broke.
    Network(String),
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

impl HttpTransport {
    /// One try: posts `body`, reads the whole answer. Runs the call on its
    /// own thread so that the caller hears about the wait.
    fn try_once(
        &mut self,
        body: &[u8],
        encoding: Option<&str>,
        tried: u32,
    ) -> Result<(u16, Option<String>, Vec<u8>), Failed> {
        let agent = self.agent.clone();
        let url = self.url.clone();
        let token = self.token.clone();
        let started = Instant::now();
        let tick = self.options.tick.max(Duration::from_millis(10));
        let tries = self.options.tries.max(1);
        std::thread::scope(|scope| {
            let (done, outcome) = mpsc::channel();
            scope.spawn(move || {
                let _ = done.send(post(&agent, &url, &token, body, encoding));
            });
            loop {
                match outcome.recv_timeout(tick) {
                    Ok(result) => return result,
                    Err(mpsc::RecvTimeoutError::Timeout) => self.tell(Waiting::Still {
                        tried,
                        tries,
                        elapsed: started.elapsed(),
                    }),
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        return Err(Failed::Network("the request was abandoned".into()));
                    }
                }
            }
        })
    }
}

fn post(
    agent: &ureq::Agent,
    url: &str,
    token: &str,
    body: &[u8],
    encoding: Option<&str>,
) -> Result<(u16, Option<String>, Vec<u8>), Failed> {
    let failed = |e: ureq::Error| match e {
        ureq::Error::Timeout(what) => Failed::Timeout(format!("timeout: {what}")),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            Failed::Timeout(io.to_string())
        }
        other => Failed::Network(other.to_string()),
    };
    let mut call = agent
        .post(url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/cbor")
        .header("Accept-Encoding", "zstd, gzip");
    if let Some(encoding) = encoding {
        call = call.header("Content-Encoding", encoding);
    }
    let response = call.send(body).map_err(failed)?;
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
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut {
                Failed::Timeout(e.to_string())
            } else {
                Failed::Network(e.to_string())
            }
        })?;
    Ok((status, encoding, wire))
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
        let tries = self.options.tries.max(1);
        let started = Instant::now();
        let mut tried = 0;
        let (status, encoding, wire) = loop {
            tried += 1;
            let failure = match self.try_once(&body, encoding, tried) {
                Ok(answer) => break answer,
                Err(failure) => failure,
            };
            if tried >= tries {
                return Err(match failure {
                    Failed::Timeout(_) => TransportError::Unanswered {
                        tries,
                        waited: started.elapsed(),
                    },
                    Failed::Network(e) => TransportError::Network(format!("{e} ({tried} tries)")),
                });
            }
            let error = match failure {
                Failed::Timeout(e) | Failed::Network(e) => e,
            };
            let pause = self.options.backoff(tried);
            self.tell(Waiting::Retrying {
                tried,
                tries,
                error,
                pause,
            });
            std::thread::sleep(pause);
        };
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

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A listener that is never accepted from: the kernel completes the
    /// connection and takes the request, and nothing ever answers, as a
    /// hung server does.
    #[test]
    fn a_server_that_never_answers_is_given_up_on_with_tries_and_word_while_waiting() {
        let hung = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", hung.local_addr().unwrap());
        let options = HttpOptions {
            connect_timeout: Duration::from_secs(5),
            answer_timeout: Duration::from_millis(400),
            tries: 2,
            first_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
            tick: Duration::from_millis(10),
        };
        let heard = Arc::new(Mutex::new(Vec::new()));
        let log = heard.clone();
        let mut transport = HttpTransport::with_options(&url, "token", options)
            .on_waiting(move |w| log.lock().unwrap().push(w.clone()));
        let error = transport
            .exchange(&SyncRequest::new(None))
            .expect_err("nobody answers");
        assert!(
            matches!(error, TransportError::Unanswered { tries: 2, .. }),
            "{error:?}"
        );
        assert!(error.is_retryable());
        assert!(error.to_string().contains("did not answer"), "{error}");
        let heard = heard.lock().unwrap();
        assert!(
            heard.iter().any(|w| matches!(
                w,
                Waiting::Retrying {
                    tried: 1,
                    tries: 2,
                    ..
                }
            )),
            "{heard:?}"
        );
        for tried in [1, 2] {
            assert!(
                heard
                    .iter()
                    .any(|w| matches!(w, Waiting::Still { tried: t, .. } if *t == tried)),
                "no word while waiting on try {tried}: {heard:?}"
            );
        }
        drop(hung);
    }

    #[test]
    fn pauses_between_tries_grow_and_stop_growing() {
        let options = HttpOptions::default();
        assert_eq!(options.backoff(1), Duration::from_secs(2));
        assert_eq!(options.backoff(2), Duration::from_secs(4));
        assert_eq!(options.backoff(40), Duration::from_secs(30));
        let quick = HttpOptions::with_timeout(Duration::from_millis(400));
        assert_eq!(quick.answer_timeout, Duration::from_millis(400));
        assert_eq!(quick.first_backoff, Duration::from_millis(100));
    }
}
