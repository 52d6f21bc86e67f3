//! Request bodies, taken in one place: [`LimitedBody`] (the bytes) and
//! [`JsonBody`] (a JSON value), the extractors of every handler that reads
//! a body — the batch door, the admin API, the dashboard's actions.
//!
//! What can be decided from the headers is decided before any of the body
//! is read: the encoding (`Content-Encoding`: none, gzip or zstd), a
//! declared length within the server's limit, and the calling device's
//! share of bodies arriving at once ([`super::limit::BodyBudget`]); a body
//! refused there is drained in the background, not read ([`discard`]).
//! The body is then read up to the limit, and decompressed on a blocking
//! thread with the decompressed size bounded by the same limit, so a small
//! bomb cannot expand without bound and large bodies do not hold up the
//! async workers. A body that does not arrive whole (the connection cut,
//! or slower than the minimum rate, see [`super::limit::min_body_rate`])
//! is answered `503 unavailable`, which clients retry.
//!
//! Errors are written in the format of the route's door ([`super::door`]),
//! JSON where there is none.

use std::io::Read;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use fengqiao_protocol::{DeviceId, ErrorCode};
use serde::de::DeserializeOwned;

use super::door::Caller;
use super::limit::BodyPermit;
use super::{ApiError, AppState, Format, Shared};

/// What the body extractors need of a router's state: the server's.
pub trait AppRef {
    fn app(&self) -> &AppState;
}

impl AppRef for Shared {
    fn app(&self) -> &AppState {
        self
    }
}

/// A `Content-Encoding` the server reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Zstd,
}

/// The body's `Content-Encoding`, if the server speaks it.
pub fn content_encoding(headers: &HeaderMap, format: Format) -> Result<Encoding, ApiError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    match encoding.as_str() {
        "identity" | "" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" => Ok(Encoding::Gzip),
        "zstd" => Ok(Encoding::Zstd),
        other => Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("Content-Encoding {other:?} is not supported; use gzip, zstd or none"),
            format,
        )),
    }
}

/// What to do about a body that is too large: on the batch door (CBOR), a
/// phone syncs fewer records at a time.
fn smaller(format: Format) -> &'static str {
    match format {
        Format::Cbor => "; sync fewer records at a time",
        Format::Json => "; send less at a time",
    }
}

fn too_large(limit: usize, format: Format) -> ApiError {
    ApiError::new(
        ErrorCode::TooLarge,
        format!("the request body is over {limit} bytes{}", smaller(format)),
        format,
    )
}

/// Decompresses a body, stopping one byte past `limit`. CPU-bound: run it
/// on a blocking thread, never on the async workers.
pub fn decompress(
    encoding: Encoding,
    body: Bytes,
    limit: usize,
    format: Format,
) -> Result<Bytes, ApiError> {
    let mut out = Vec::new();
    let (name, read) = match encoding {
        Encoding::Identity => return Ok(body),
        Encoding::Gzip => (
            "gzip",
            flate2::read::GzDecoder::new(&body[..])
                .take(limit as u64 + 1)
                .read_to_end(&mut out),
        ),
        Encoding::Zstd => (
            "zstd",
            match zstd::stream::read::Decoder::new(&body[..]) {
                Ok(decoder) => decoder.take(limit as u64 + 1).read_to_end(&mut out),
                Err(e) => Err(e),
            },
        ),
    };
    read.map_err(|e| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("the {name} body could not be decompressed: {e}"),
            format,
        )
    })?;
    if out.len() > limit {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!(
                "the request body is over {limit} bytes once decompressed{}",
                smaller(format)
            ),
            format,
        ));
    }
    Ok(out.into())
}

/// A body that did not arrive whole is a transport failure, not a bad
/// request: the client sends it again.
fn incomplete(error: axum::Error, format: Format) -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        format!("the request body did not arrive whole ({error}); send it again"),
        format,
    )
}

/// Reads the body, refusing it as soon as it passes `limit`.
async fn read(body: Body, limit: usize, format: Format) -> Result<Bytes, ApiError> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| incomplete(e, format))?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large(limit, format));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.into())
}

/// Reads and drops, in the background, the body of a request refused from
/// its headers, up to twice the limit and for `within` at most: a client
/// still sending it then finishes and reads the refusal, instead of
/// meeting a closed connection and taking it for a network failure.
/// Nothing is kept, and a client trickling the body cannot hold the
/// connection past `within`.
pub fn discard(body: Body, limit: usize, within: std::time::Duration) {
    use axum::body::HttpBody;
    if body.is_end_stream() {
        return;
    }
    tokio::spawn(async move {
        use futures_util::StreamExt;
        let mut stream = body.into_data_stream();
        let drain = async {
            let mut seen = 0usize;
            while let Some(Ok(chunk)) = stream.next().await {
                seen += chunk.len();
                if seen > limit.saturating_mul(2) {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(within, drain).await;
    });
}

/// What is decided from the headers alone: the encoding, a declared length
/// within the limit, and the device's share of bodies arriving at once.
fn admit(
    app: &AppState,
    headers: &HeaderMap,
    device: Option<DeviceId>,
    format: Format,
) -> Result<(Encoding, Option<BodyPermit>), ApiError> {
    let limit = app.limits.max_body_bytes;
    let encoding = content_encoding(headers, format)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit, format));
    }
    let reserve = declared.map_or(limit, |n| n as usize);
    let permit = match device {
        Some(device) => Some(app.bodies.reserve(device, reserve).ok_or_else(|| {
            ApiError::new(
                ErrorCode::RateLimited,
                "this device already has uploads arriving on other connections; \
                 let them finish, then retry",
                format,
            )
        })?),
        None => None,
    };
    Ok((encoding, permit))
}

/// A request body, whole and decompressed, within the server's limit
/// ([`super::HttpLimits::max_body_bytes`]). Until it is dropped, it holds
/// its share of the calling device's budget of bodies arriving at once
/// (the caller a door or the dashboard's session put in the request).
pub struct LimitedBody {
    bytes: Bytes,
    /// Bytes as sent (compressed or not).
    received: usize,
    /// Its share of the device's budget, given back when dropped.
    _permit: Option<BodyPermit>,
}

impl LimitedBody {
    /// The body, decompressed.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// How many bytes arrived (before decompression).
    pub fn received(&self) -> usize {
        self.received
    }
}

impl std::ops::Deref for LimitedBody {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl<S: AppRef + Send + Sync> FromRequest<S> for LimitedBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let app = state.app();
        let limit = app.limits.max_body_bytes;
        let (parts, body) = request.into_parts();
        let format = parts
            .extensions
            .get::<Format>()
            .copied()
            .unwrap_or(Format::Json);
        let device = parts
            .extensions
            .get::<Caller>()
            .and_then(|caller| caller.0.caller.device);
        let (encoding, permit) = match admit(app, &parts.headers, device, format) {
            Ok(admitted) => admitted,
            Err(refusal) => {
                discard(body, limit, app.limits.body_grace);
                return Err(refusal);
            }
        };
        let raw = read(body, limit, format).await?;
        let received = raw.len();
        let bytes = match encoding {
            Encoding::Identity => raw,
            encoding => {
                tokio::task::spawn_blocking(move || decompress(encoding, raw, limit, format))
                    .await
                    .map_err(|e| {
                        tracing::error!(error = %e, "decompressing a request body failed");
                        ApiError::internal(format)
                    })??
            }
        };
        Ok(Self {
            bytes,
            received,
            _permit: permit,
        })
    }
}

/// Whether the request says its body is JSON.
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"))
}

/// Whether the request's `Content-Type` is JSON: `application/json`, or
/// a JSON-based `application/…+json`.
fn says_json(headers: &HeaderMap) -> bool {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A JSON request body ([`LimitedBody`], then read as `T`); a body that is
/// not `T` as JSON, or says it is something else, is `400 bad_request`.
pub struct JsonBody<T>(pub T);

impl<S: AppRef + Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !says_json(request.headers()) {
            let app = state.app();
            discard(
                request.into_body(),
                app.limits.max_body_bytes,
                app.limits.body_grace,
            );
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "send the body as JSON, with Content-Type: application/json",
                Format::Json,
            ));
        }
        let body = LimitedBody::from_request(request, state).await?;
        serde_json::from_slice(&body).map(JsonBody).map_err(|e| {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("the body is not the JSON expected here: {e}"),
                Format::Json,
            )
        })
    }
}
