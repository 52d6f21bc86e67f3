//! Accepting connections so that slow, silent or vanished clients cannot
//! pile up.
//!
//! Phones lose signal in the middle of a request all the time, and a
//! connection whose peer vanished stays open on the server until something
//! notices. Three things bound what such connections cost:
//!
//! - **A cap on open connections** ([`HttpLimits::max_connections`]): when
//!   it is reached, a new client is made room for by closing the oldest
//!   connection that has not yet sent a whole request's headers (what a
//!   slowloris attack holds open, from however many addresses); it is
//!   counted in `fengqiao_connections_evicted_total`. A connection that
//!   has sent a request's headers is never closed for this — a body on its
//!   way, a kept-alive client between requests, a WebSocket, an event
//!   stream. When every connection is such a one, the server stops
//!   accepting until one closes; new clients wait in the kernel's backlog
//!   instead of taking memory and file descriptors.
//! - **TCP keepalive** on every connection, so the kernel finds peers that
//!   vanished without closing (a phone that went out of coverage) within
//!   about two and a half minutes, even while the server is waiting to read.
//! - **A cap per address** ([`HttpLimits::max_connections_per_address`]):
//!   one machine opening thousands of connections gets its first few
//!   hundred; the rest are closed as soon as they are accepted, so the
//!   connections left under the overall cap stay free for everyone else.
//! - **A deadline for headers** ([`HttpLimits::header_timeout`], 10 s):
//!   a request's headers must arrive whole in that time, however the bytes
//!   trickle in; a kept-alive connection waits that long for its next
//!   request. Bodies have a minimum rate instead
//!   ([`super::limit::MinRateBody`]).
//! - **An idle timeout** ([`HttpLimits::idle_timeout`]): a connection on
//!   which nothing was read or written for that long is closed — an
//!   upgraded WebSocket whose peer went quiet, or a response the client
//!   stopped reading. Live connections are never idle that long: the
//!   WebSocket door pings every few seconds and the dashboard's event
//!   stream sends a keep-alive every 15 seconds.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use super::HttpLimits;
use crate::metrics::{Metrics, add};

/// How long a connection may be silent before the kernel starts probing
/// whether its peer is still there, and how often it probes (it gives up
/// after the system's probe count, 9 on Linux).
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// A TCP listener that enforces [`HttpLimits`] on the connections it
/// accepts; give it to `axum::serve`.
pub struct GuardedListener {
    listener: TcpListener,
    permits: Arc<Semaphore>,
    per_address: Arc<PerAddress>,
    unfinished: Arc<Unfinished>,
    metrics: Arc<Metrics>,
    idle_timeout: Duration,
}

impl GuardedListener {
    /// Evictions at the connection cap are counted in `metrics`.
    pub fn new(listener: TcpListener, limits: &HttpLimits, metrics: Arc<Metrics>) -> Self {
        Self {
            listener,
            permits: Arc::new(Semaphore::new(limits.max_connections.max(1))),
            per_address: Arc::new(PerAddress {
                max: limits.max_connections_per_address.max(1),
                open: Mutex::new(HashMap::new()),
            }),
            unfinished: Arc::new(Unfinished::default()),
            metrics,
            idle_timeout: limits.idle_timeout,
        }
    }
}

/// Whether a connection has sent a whole request's headers yet.
const WAITING: u8 = 0;
const STARTED: u8 = 1;
const EVICTED: u8 = 2;

/// What the listener knows of one open connection.
pub struct Tracked {
    /// [`WAITING`] until hyper hands the first request to the service
    /// ([`STARTED`]) or the connection is chosen to make room
    /// ([`EVICTED`]); it never changes after that.
    state: AtomicU8,
    /// Notified once the connection is [`EVICTED`].
    evict: Notify,
}

impl Tracked {
    /// Marks the connection as having sent a whole request's headers, so
    /// that it is never evicted (unless it already was).
    pub fn request_started(&self) {
        let _ = self
            .state
            .compare_exchange(WAITING, STARTED, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Chooses the connection to make room, if it is still waiting for its
    /// first request's headers.
    fn evict(&self) -> bool {
        let evicted = self
            .state
            .compare_exchange(WAITING, EVICTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if evicted {
            self.evict.notify_one();
        }
        evicted
    }
}

/// Connections in the order they were accepted, oldest first. Entries
/// whose connection has since started a request are dropped lazily, when
/// an eviction reaches them, so each entry costs one insertion and one
/// removal whatever happens.
#[derive(Default)]
struct Unfinished {
    next: AtomicU64,
    open: Mutex<BTreeMap<u64, Arc<Tracked>>>,
}

impl Unfinished {
    fn register(self: &Arc<Self>) -> Registration {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let tracked = Arc::new(Tracked {
            state: AtomicU8::new(WAITING),
            evict: Notify::new(),
        });
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.insert(id, tracked.clone());
        Registration {
            id,
            tracked,
            registry: self.clone(),
        }
    }

    /// Evicts the oldest connection still waiting for its first request's
    /// headers; false when there is none.
    fn evict_oldest(&self) -> bool {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((_, tracked)) = open.pop_first() {
            if tracked.evict() {
                return true;
            }
        }
        false
    }
}

/// One connection in [`Unfinished`]; removed from it when dropped.
struct Registration {
    id: u64,
    tracked: Arc<Tracked>,
    registry: Arc<Unfinished>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut open = self.registry.open.lock().unwrap_or_else(|e| e.into_inner());
        open.remove(&self.id);
    }
}

/// Open connections per IP address.
struct PerAddress {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl PerAddress {
    /// Counts a new connection from `ip`; `None` when `ip` has its maximum.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            ip,
            counts: self.clone(),
        })
    }
}

/// One connection counted against its address; uncounted when dropped.
struct AddressSlot {
    ip: IpAddr,
    counts: Arc<PerAddress>,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

fn keep_alive(stream: &TcpStream) -> io::Result<()> {
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL);
    socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive)?;
    stream.set_nodelay(true)
}

impl GuardedListener {
    /// The next connection within the caps. At the overall cap, the oldest
    /// connection that has not sent a whole request's headers is closed to
    /// make room; when there is none, this waits until a connection closes
    /// (further clients wait in the backlog meanwhile).
    pub async fn accept(&mut self) -> (GuardedStream, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, addr)) => {
                    let Some(slot) = self.per_address.admit(addr.ip()) else {
                        // Closed at once: this address has its share.
                        tracing::debug!(%addr, "too many connections from one address");
                        continue;
                    };
                    let permit = self.permit().await;
                    if let Err(error) = keep_alive(&stream) {
                        tracing::debug!(%addr, %error, "could not set TCP keepalive");
                    }
                    let registration = self.unfinished.register();
                    return (
                        GuardedStream::new(stream, permit, slot, registration, self.idle_timeout),
                        addr,
                    );
                }
                Err(error) => {
                    // Out of file descriptors or a connection reset before it
                    // was accepted: wait a little rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// A place under the overall cap, making room if one can be made.
    async fn permit(&self) -> OwnedSemaphorePermit {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return permit;
        }
        if self.unfinished.evict_oldest() {
            add(&self.metrics.connections_evicted, 1);
            tracing::debug!("closed an unfinished connection to make room for a new one");
        }
        // The semaphore is never closed, so acquiring only waits: for the
        // evicted connection's place, or for any connection to close.
        loop {
            if let Ok(permit) = self.permits.clone().acquire_owned().await {
                return permit;
            }
        }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// Serves `app` on the connections `listener` accepts, HTTP/1 with
/// upgrades (WebSocket), until `stop` completes; then stops accepting,
/// lets each connection finish its request in flight, and returns once
/// all have closed. Like `axum::serve`, except that request headers get
/// [`HttpLimits::header_timeout`].
pub async fn serve(
    mut listener: GuardedListener,
    app: axum::Router,
    limits: &HttpLimits,
    stop: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    // Every connection holds a receiver; the sender closes once all are
    // gone.
    let (closed_tx, closed_rx) = tokio::sync::watch::channel(());
    let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(stop);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut stop => break,
        };
        let tracked = stream.tracked();
        let inner = hyper_util::service::TowerToHyperService::new(app.clone());
        let started = tracked.clone();
        // Hyper calls the service once a request's headers are whole.
        let service = hyper::service::service_fn(move |request| {
            started.request_started();
            hyper::service::Service::call(&inner, request)
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut stopping = stopping_rx.clone();
        let closed = closed_rx.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            let evicted = tracked.evict.notified();
            tokio::pin!(evicted);
            let mut asked = false;
            loop {
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(error) = result {
                            tracing::trace!(%addr, %error, "connection ended with an error");
                        }
                        break;
                    }
                    () = &mut evicted => {
                        tracing::trace!(%addr, "evicted before its first request");
                        break;
                    }
                    changed = stopping.wait_for(|s| *s), if !asked => {
                        asked = true;
                        if changed.is_ok() {
                            connection.as_mut().graceful_shutdown();
                        }
                    }
                }
            }
            drop(closed);
        });
    }
    drop(listener);
    drop(closed_rx);
    let _ = stopping_tx.send(true);
    closed_tx.closed().await;
}

/// An accepted connection: closed when idle for too long, and counted
/// against the cap until it is dropped.
pub struct GuardedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    _slot: AddressSlot,
    registration: Registration,
    idle_timeout: Duration,
    /// When bytes last moved. Reading the clock is cheap; the timer is only
    /// moved when it fires early, once per idle period at most, so busy
    /// connections do not touch the runtime's timer wheel on every read.
    last_active: Instant,
    deadline: Pin<Box<Sleep>>,
}

impl GuardedStream {
    fn new(
        stream: TcpStream,
        permit: OwnedSemaphorePermit,
        slot: AddressSlot,
        registration: Registration,
        idle_timeout: Duration,
    ) -> Self {
        Self {
            stream,
            _permit: permit,
            _slot: slot,
            registration,
            idle_timeout,
            last_active: Instant::now(),
            deadline: Box::pin(tokio::time::sleep(idle_timeout)),
        }
    }

    /// Whether the connection has sent a request's headers, and how it is
    /// told that it was evicted.
    pub fn tracked(&self) -> Arc<Tracked> {
        self.registration.tracked.clone()
    }

    fn active(&mut self) {
        self.last_active = Instant::now();
    }

    /// Whether the connection has been idle past its timeout; registers for
    /// a wake-up at the deadline otherwise (moving the deadline on when
    /// bytes moved since it was set).
    fn timed_out(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.deadline.as_mut().poll(cx).is_pending() {
                return false;
            }
            let due = self.last_active + self.idle_timeout;
            if due <= Instant::now() {
                return true;
            }
            self.deadline.as_mut().reset(due);
        }
    }
}

fn idle_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "connection idle past the server's timeout",
    )
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.active();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if self.timed_out(cx) => Poll::Ready(Err(idle_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl GuardedStream {
    /// Notes the activity of a write, or fails a write that has waited past
    /// the idle timeout.
    fn written(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match poll {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.active();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending if self.timed_out(cx) => Poll::Ready(Err(idle_error())),
            other => other,
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write(cx, data);
        self.written(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.written(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_connection_still_in_its_headers_is_evicted_first() {
        let registry = Arc::new(Unfinished::default());
        let served = registry.register();
        let oldest_waiting = registry.register();
        let gone = registry.register();
        let newest = registry.register();
        served.tracked.request_started();
        drop(gone);
        // The served connection is older, but it has sent a request.
        assert!(registry.evict_oldest());
        assert_eq!(
            oldest_waiting.tracked.state.load(Ordering::Acquire),
            EVICTED
        );
        assert_eq!(served.tracked.state.load(Ordering::Acquire), STARTED);
        // A request that arrives after the eviction does not undo it.
        oldest_waiting.tracked.request_started();
        assert_eq!(
            oldest_waiting.tracked.state.load(Ordering::Acquire),
            EVICTED
        );
        assert!(registry.evict_oldest(), "the newest is still waiting");
        assert_eq!(newest.tracked.state.load(Ordering::Acquire), EVICTED);
        assert!(!registry.evict_oldest(), "only a served connection is left");
        drop((served, oldest_waiting, newest));
        let open = registry.open.lock().unwrap_or_else(|e| e.into_inner());
        assert!(open.is_empty(), "closed connections leave the registry");
    }
}
