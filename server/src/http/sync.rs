//! `POST /v1/sync`: the batch door over HTTP.
//!
//! Bodies may be gzip or zstd compressed (`Content-Encoding`); the
//! decompressed size is bounded like the raw size, so a small bomb cannot
//! expand without limit. Responses are compressed when the client accepts
//! it and the body is worth it.

use std::io::Read;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fengqiao_protocol::codec::{DecodeError, DecodeLimits};
use fengqiao_protocol::{ErrorCode, SyncRequest};

use super::{ApiError, Format, Shared};
use crate::batch;
use crate::metrics::add;

/// Responses smaller than this are not compressed.
const COMPRESS_ABOVE: usize = 1024;

fn decompress(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Vec<u8>, ApiError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
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
    let read = match encoding.as_str() {
        "identity" | "" => return Ok(body.to_vec()),
        "gzip" | "x-gzip" => flate2::read::GzDecoder::new(&body[..])
            .take(limit as u64 + 1)
            .read_to_end(&mut out),
        "zstd" => match zstd::stream::read::Decoder::new(&body[..]) {
            Ok(decoder) => decoder.take(limit as u64 + 1).read_to_end(&mut out),
            Err(e) => Err(e),
        },
        other => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("Content-Encoding {other:?} is not supported; use gzip, zstd or none"),
                Format::Cbor,
            ));
        }
    };
    read.map_err(|e| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("the {encoding} body could not be decompressed: {e}"),
            Format::Cbor,
        )
    })?;
    if out.len() > limit {
        return Err(too_large());
    }
    Ok(out)
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

fn body_rejection(state: &Shared, rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::TooLarge,
            format!(
                "the request body is over {} bytes; sync fewer records at a time",
                state.limits.max_body_bytes
            ),
            Format::Cbor,
        )
    } else {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("the request body could not be read: {rejection}"),
            Format::Cbor,
        )
    }
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
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let result = match body {
        Ok(body) => answer(&state, &headers, body).await,
        Err(rejection) => Err(body_rejection(&state, rejection)),
    };
    state.metrics.batch_latency.observe(started.elapsed());
    add(&state.metrics.batch_syncs, 1);
    if result.is_err() {
        add(&state.metrics.batch_errors, 1);
    }
    result
}

async fn answer(state: &Shared, headers: &HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let identity = state.identify(headers, None, Format::Cbor)?;
    add(&state.metrics.bytes_in, body.len() as u64);
    let limit = state.limits.max_body_bytes;
    if body.len() > limit {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!("the request body is over {limit} bytes; sync fewer records at a time"),
            Format::Cbor,
        ));
    }
    let plain = decompress(headers, body, limit)?;
    let limits = DecodeLimits {
        max_bytes: limit,
        ..DecodeLimits::DEFAULT
    };
    let request = SyncRequest::decode(&plain, &limits).map_err(decode_error)?;

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
