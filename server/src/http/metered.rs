//! Counting requests for `/metrics`, as a layer over the routes counted
//! rather than in their handlers: how many were answered, how many failed
//! (any status but 2xx, refusals at the door included), how long they
//! took, and the body bytes that came in and went out.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::metrics::{Histogram, Metrics, add};

/// Which counters a route family adds to.
#[derive(Clone, Copy)]
pub struct Meter {
    pub requests: fn(&Metrics) -> &AtomicU64,
    pub errors: fn(&Metrics) -> &AtomicU64,
    pub latency: fn(&Metrics) -> &Histogram,
    pub bytes_in: fn(&Metrics) -> &AtomicU64,
    pub bytes_out: fn(&Metrics) -> &AtomicU64,
}

/// The batch door's counters.
pub const BATCH: Meter = Meter {
    requests: |m| &m.batch_syncs,
    errors: |m| &m.batch_errors,
    latency: |m| &m.batch_latency,
    bytes_in: |m| &m.bytes_in,
    bytes_out: |m| &m.bytes_out,
};

/// A body that adds the size of each chunk read through it to `counter`.
fn counted(body: Body, metrics: Arc<Metrics>, counter: fn(&Metrics) -> &AtomicU64) -> Body {
    use futures_util::StreamExt;
    Body::from_stream(body.into_data_stream().inspect(move |chunk| {
        if let Ok(bytes) = chunk {
            add(counter(&metrics), bytes.len() as u64);
        }
    }))
}

async fn meter(
    State((metrics, meter)): State<(Arc<Metrics>, Meter)>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request = request.map(|body| counted(body, metrics.clone(), meter.bytes_in));
    let response = next.run(request).await;
    (meter.latency)(&metrics).observe(started.elapsed());
    add((meter.requests)(&metrics), 1);
    if !response.status().is_success() {
        add((meter.errors)(&metrics), 1);
    }
    // Answers of known length are counted whole (and keep their length);
    // streamed ones as they are sent.
    match response.body().size_hint().exact() {
        Some(length) => {
            add((meter.bytes_out)(&metrics), length);
            response
        }
        None => response.map(|body| counted(body, metrics.clone(), meter.bytes_out)),
    }
}

/// `routes`, counted by `meter` (outside any door already on them, so
/// refusals count too).
pub fn metered<S>(routes: Router<S>, metrics: &Arc<Metrics>, meter_with: Meter) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    routes.route_layer(axum::middleware::from_fn_with_state(
        (metrics.clone(), meter_with),
        meter,
    ))
}
