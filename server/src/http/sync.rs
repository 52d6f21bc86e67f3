//! `POST /v1/sync`: the batch door over HTTP.
//!
//! The token is checked from the headers before any of the body is read,
//! and a device has at most one largest body arriving at a time over all
//! its connections ([`super::limit::BodyBudget`]). Bodies may be gzip or
//! zstd compressed (`Content-Encoding`); the decompressed size is bounded
//! like the raw size, so a small bomb cannot expand without limit, and
//! decompressing and decoding run on blocking threads, so large bodies do
//! not hold up the async workers (`/healthz`, other requests). A body that
//! does not arrive whole (the connection cut, or too slow) is answered
//! `503 unavailable`, which clients retry. Responses are compressed when
//! the client accepts it and the body is worth it.

use std::io::Read;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fengqiao_protocol::codec::{DecodeError, DecodeLimits};
use fengqiao_protocol::{ErrorCode, SyncRequest};

use super::{ApiError, Format, Shared};
use crate::batch;
use crate::metrics::add;

/// Responses smaller than this are not compressed.
const COMPRESS_ABOVE: usize = 1024;

/// The body's `Content-Encoding`, if the server speaks it.
fn content_encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
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
            Format::Cbor,
        )),
    }
}

#[derive(Debug, Clone, Copy)]
enum Encoding {
    Identity,
    Gzip,
    Zstd,
}

/// Decompresses a body, stopping one byte past `limit`. CPU-bound: run it
/// on a blocking thread, never on the async workers.
fn decompress(encoding: Encoding, body: Bytes, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorCode::TooLarge,
            format!(
                "the request body is over {limit} bytes once decompressed; sync fewer records at a time"
            ),
            Format::Cbor,
        )
    };
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
            Format::Cbor,
        )
    })?;
    if out.len() > limit {
        return Err(too_large());
    }
    Ok(out.into())
}

fn accepts(headers: &HeaderMap, encoding: &str) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|part| part.split(';').next().is_some_and(|e| e.trim() == encoding))
        })
}

fn compress(headers: &HeaderMap, body: Vec<u8>) -> (Vec<u8>, Option<&'static str>) {
    if body.len() < COMPRESS_ABOVE {
        return (body, None);
    }
    if accepts(headers, "zstd")
        && let Ok(compressed) = zstd::bulk::compress(&body, 3)
    {
        return (compressed, Some("zstd"));
    }
    if accepts(headers, "gzip") {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        if encoder.write_all(&body).is_ok()
            && let Ok(compressed) = encoder.finish()
        {
            return (compressed, Some("gzip"));
        }
    }
    (body, None)
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::TooLarge,
        format!("the request body is over {limit} bytes; sync fewer records at a time"),
        Format::Cbor,
    )
}

/// A body that did not arrive whole is a transport failure, not a bad
/// request: the client sends it again.
fn incomplete(error: axum::Error) -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        format!("the request body did not arrive whole ({error}); send it again"),
        Format::Cbor,
    )
}

/// Reads the body, refusing it as soon as it passes `limit`.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(incomplete)?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.into())
}

fn decode_error(error: DecodeError) -> ApiError {
    let hint = match error.code() {
        ErrorCode::UnsupportedVersion => "; update the app",
        ErrorCode::TooLarge => "; sync fewer records at a time",
        _ => "",
    };
    ApiError::new(
        error.code(),
        format!("the sync request could not be read: {error}{hint}"),
        Format::Cbor,
    )
}

pub async fn batch_sync(
    State(state): State<Shared>,
    request: Request,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let result = answer(&state, &parts.headers, body).await;
    state.metrics.batch_latency.observe(started.elapsed());
    add(&state.metrics.batch_syncs, 1);
    if result.is_err() {
        add(&state.metrics.batch_errors, 1);
    }
    result
}

/// What can be decided from the headers alone, before any of the body is
/// read: the caller (nothing is read for a caller without a valid token),
/// the encoding, a declared length within the limit, and the device's
/// share of bodies arriving at once.
async fn admit(
    state: &Shared,
    headers: &HeaderMap,
) -> Result<
    (
        crate::auth::Identity,
        Encoding,
        Option<super::limit::BodyPermit>,
    ),
    ApiError,
> {
    let identity = state.identify(headers, None, Format::Cbor).await?;
    let limit = state.limits.max_body_bytes;
    let encoding = content_encoding(headers)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let reserve = declared.map_or(limit, |n| n as usize);
    let permit = match identity.caller.device {
        Some(device) => Some(state.bodies.reserve(device, reserve).ok_or_else(|| {
            ApiError::new(
                ErrorCode::RateLimited,
                "this device already has uploads arriving on other connections; \
                 let them finish, then retry",
                Format::Cbor,
            )
        })?),
        None => None,
    };
    Ok((identity, encoding, permit))
}

/// Reads and drops, in the background, the body of a request refused from
/// its headers, up to twice the limit and for `within` at most: a client
/// still sending it then finishes and reads the refusal, instead of
/// meeting a closed connection and taking it for a network failure.
/// Nothing is kept, and a client trickling the body cannot hold the
/// connection past `within`.
fn discard(body: Body, limit: usize, within: std::time::Duration) {
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

/// Authenticates from the headers, then reads the body within the
/// device's share, then decompresses and decodes it on a blocking thread.
async fn answer(state: &Shared, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    let limit = state.limits.max_body_bytes;
    let (identity, encoding, permit) = match admit(state, headers).await {
        Ok(admitted) => admitted,
        Err(error) => {
            discard(body, limit, state.limits.body_grace);
            return Err(error);
        }
    };
    let body = read_body(body, limit).await?;
    add(&state.metrics.bytes_in, body.len() as u64);
    let request = tokio::task::spawn_blocking(move || {
        let plain = decompress(encoding, body, limit)?;
        let limits = DecodeLimits {
            max_bytes: limit,
            ..DecodeLimits::DEFAULT
        };
        SyncRequest::decode(&plain, &limits).map_err(decode_error)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "decoding a batch sync failed");
        ApiError::internal(Format::Cbor)
    })??;
    drop(permit);

    let engine = state.engine.clone();
    let cursors = state.cursors.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        batch::handle(
            &engine,
            &identity.caller,
            identity.scope.as_ref(),
            &cursors,
            request,
        )
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "batch sync task failed");
        ApiError::internal(Format::Cbor)
    })?;
    let (response, stats) = outcome.map_err(|e| {
        tracing::error!(error = %e, "batch sync failed in storage");
        ApiError {
            body: e.to_error_body(),
            format: Format::Cbor,
        }
    })?;
    add(&state.metrics.batch_uploads, stats.uploads as u64);
    add(&state.metrics.batch_refused, stats.refused as u64);
    add(&state.metrics.batch_docs_sent, stats.sent as u64);

    let (bytes, encoding) = compress(headers, response.encode());
    add(&state.metrics.bytes_out, bytes.len() as u64);
    let mut out = (StatusCode::OK, bytes).into_response();
    let h = out.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/cbor"),
    );
    if let Some(encoding) = encoding {
        h.insert(
            header::CONTENT_ENCODING,
            header::HeaderValue::from_static(encoding),
        );
    }
    Ok(out)
}
