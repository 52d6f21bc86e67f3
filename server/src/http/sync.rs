//! `POST /v1/sync`: the batch door over HTTP.
//!
//! The route passes the device door ([`super::door`]): the token is
//! checked from the headers before any of the body is read. The body is a
//! [`LimitedBody`]: within the size limit and the device's share of bodies
//! arriving at once, gzip or zstd compressed if the client chose
//! (`Content-Encoding`), decompressed on a blocking thread with its
//! decompressed size bounded. Decoding runs on a blocking thread too, so
//! large bodies do not hold up the async workers (`/healthz`, other
//! requests). Requests, failures, latency and bytes are counted by the
//! layer over the route ([`super::metered`]). Responses are compressed
//! when the client accepts it and the body is worth it.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fengqiao_protocol::codec::{DecodeError, DecodeLimits};
use fengqiao_protocol::{ErrorCode, SyncRequest};

use super::body::LimitedBody;
use super::door::Caller;
use super::{ApiError, Format, Shared};
use crate::batch;
use crate::metrics::add;

/// Responses smaller than this are not compressed.
const COMPRESS_ABOVE: usize = 1024;

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

/// `POST /v1/sync`: decodes the request on a blocking thread (giving the
/// body's share of the device's budget back once decoded), answers it, and
/// compresses the answer for a client that accepts it.
pub async fn batch_sync(
    State(state): State<Shared>,
    Caller(identity): Caller,
    headers: HeaderMap,
    body: LimitedBody,
) -> Result<Response, ApiError> {
    let limit = state.limits.max_body_bytes;
    let request = tokio::task::spawn_blocking(move || {
        let limits = DecodeLimits {
            max_bytes: limit,
            ..DecodeLimits::DEFAULT
        };
        let request = SyncRequest::decode(body.bytes(), &limits).map_err(decode_error);
        drop(body);
        request
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "decoding a batch sync failed");
        ApiError::internal(Format::Cbor)
    })??;

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

    let (bytes, encoding) = compress(&headers, response.encode());
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
