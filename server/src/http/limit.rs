//! Request bodies are bounded: what one device may have arriving at once
//! ([`BodyBudget`]) and how slowly a body may arrive ([`MinRateBody`]).
//! (Requests per device are [`crate::limit`]'s.)

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use fengqiao_protocol::DeviceId;

/// Request body bytes each device has arriving at once, over all its
/// connections: a device that opens many connections and starts a large
/// body on each gets no more memory than one largest body.
pub struct BodyBudget {
    per_device: usize,
    reserved: Arc<Mutex<HashMap<DeviceId, usize>>>,
}

/// Bytes reserved for one body; given back when dropped.
pub struct BodyPermit {
    device: DeviceId,
    bytes: usize,
    reserved: Arc<Mutex<HashMap<DeviceId, usize>>>,
}

impl BodyBudget {
    pub fn new(per_device: usize) -> Self {
        Self {
            per_device,
            reserved: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Reserves `bytes` for a body of `device`; `None` when the device's
    /// bodies already arriving leave too little.
    pub fn reserve(&self, device: DeviceId, bytes: usize) -> Option<BodyPermit> {
        let mut reserved = self.reserved.lock().unwrap_or_else(|e| e.into_inner());
        let now = reserved.get(&device).copied().unwrap_or(0);
        if now.saturating_add(bytes) > self.per_device {
            return None;
        }
        reserved.insert(device, now + bytes);
        Some(BodyPermit {
            device,
            bytes,
            reserved: self.reserved.clone(),
        })
    }
}

impl BodyBudget {
    /// Bytes reserved for `device`'s bodies arriving now.
    pub fn arriving(&self, device: DeviceId) -> usize {
        let reserved = self.reserved.lock().unwrap_or_else(|e| e.into_inner());
        reserved.get(&device).copied().unwrap_or(0)
    }
}

impl Drop for BodyPermit {
    fn drop(&mut self) {
        let mut reserved = self.reserved.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(now) = reserved.get_mut(&self.device) {
            *now = now.saturating_sub(self.bytes);
            if *now == 0 {
                reserved.remove(&self.device);
            }
        }
    }
}

/// Why a request body stopped: it arrived more slowly than the server's
/// minimum rate.
#[derive(Debug, thiserror::Error)]
#[error("the request body arrived more slowly than {0} bytes a second")]
pub struct BodyTooSlow(pub u64);

/// A request body that fails with [`BodyTooSlow`] once it falls behind
/// `grace` plus one second for every `rate` bytes received: a client that
/// trickles a byte now and then cannot hold a connection and its buffer
/// for hours, while a phone on a weak link (a few kilobytes a second) is
/// never cut off.
pub struct MinRateBody {
    inner: axum::body::BodyDataStream,
    started: Instant,
    grace: Duration,
    rate: u64,
    received: u64,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl MinRateBody {
    pub fn new(body: axum::body::Body, grace: Duration, rate: u64) -> Self {
        let started = Instant::now();
        Self {
            inner: body.into_data_stream(),
            started,
            grace,
            rate: rate.max(1),
            received: 0,
            deadline: Box::pin(tokio::time::sleep(grace)),
        }
    }

    /// When the body must have delivered more than it has.
    fn due(&self) -> Instant {
        self.started + self.grace + Duration::from_secs_f64(self.received as f64 / self.rate as f64)
    }
}

impl futures_util::Stream for MinRateBody {
    type Item = Result<axum::body::Bytes, axum::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        let this = &mut *self;
        match std::pin::Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                this.received += bytes.len() as u64;
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Pending => {
                let due = this.due();
                if due <= Instant::now() {
                    return Poll::Ready(Some(Err(axum::Error::new(BodyTooSlow(this.rate)))));
                }
                this.deadline.as_mut().reset(due);
                if this.deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(axum::Error::new(BodyTooSlow(this.rate)))));
                }
                Poll::Pending
            }
            other => other,
        }
    }
}

/// Gives every request's body the minimum rate of `limits` (a layer over
/// the whole router).
pub async fn min_body_rate(
    axum::extract::State(limits): axum::extract::State<super::HttpLimits>,
    request: axum::extract::Request,
) -> axum::extract::Request {
    request.map(|body| {
        axum::body::Body::from_stream(MinRateBody::new(
            body,
            limits.body_grace,
            limits.min_body_bytes_per_second,
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_has_at_most_its_budget_of_bodies_arriving_at_once() {
        let budget = BodyBudget::new(100);
        let device = DeviceId::random();
        let first = budget.reserve(device, 60).expect("within the budget");
        assert!(budget.reserve(device, 41).is_none(), "past the budget");
        assert!(
            budget.reserve(DeviceId::random(), 100).is_some(),
            "per device"
        );
        let second = budget.reserve(device, 40).expect("what is left");
        drop(first);
        drop(second);
        assert!(
            budget.reserve(device, 100).is_some(),
            "given back when done"
        );
    }

    #[tokio::test]
    async fn a_body_that_stalls_is_cut_off_once_behind_the_minimum_rate() {
        use futures_util::StreamExt;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(4);
        let body = axum::body::Body::from_stream(tokio_stream_from(rx));
        let mut body = MinRateBody::new(body, Duration::from_millis(50), 10_000);
        tx.send(Ok(vec![0u8; 500].into())).await.expect("sent");
        assert_eq!(body.next().await.expect("data").expect("ok").len(), 500);
        // Nothing more arrives, though the sender is still there.
        let next = tokio::time::timeout(Duration::from_secs(30), body.next())
            .await
            .expect("a stalled body is cut off, not waited for");
        let error = next.expect("an error").expect_err("too slow");
        assert!(error.into_inner().is::<BodyTooSlow>());
        drop(tx);
    }

    /// A stream of what arrives on `rx`.
    fn tokio_stream_from<T: Send + 'static>(
        rx: tokio::sync::mpsc::Receiver<T>,
    ) -> impl futures_util::Stream<Item = T> + Send {
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) })
    }
}
