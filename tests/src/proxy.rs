//! A fault-injecting TCP proxy on 127.0.0.1, standing between phones and
//! the server like a village 2G link: it loses requests and answers,
//! delays them, delivers them twice or late, cuts bodies short, resets
//! connections and stalls.
//!
//! The proxy understands just enough HTTP/1.1 to find message boundaries
//! (the head, then `Content-Length` or chunked bodies), so every fault
//! lands at a meaningful place: before the server saw a request, after it
//! answered, or in the middle of a body. A WebSocket upgrade is tunnelled
//! untouched.
//!
//! Which fault hits which request is drawn from a [`SeededRng`]: the
//! sequence of decisions is a pure function of the seed, so a failing run
//! is replayed by running it again with the seed it printed. (Which request
//! receives which decision still follows the order requests arrive in.)

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// SplitMix64: small, fast, and the same sequence on every platform.
#[derive(Debug, Clone)]
pub struct SeededRng(u64);

impl SeededRng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A number in `range`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high.saturating_sub(low) + 1)
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A child generator, for a thread of its own.
    pub fn fork(&mut self) -> SeededRng {
        SeededRng(self.next_u64())
    }
}

/// A seed from `var` when set (to replay a failure), otherwise a fresh one;
/// printed either way so a failing run can be replayed.
pub fn seed_from_env(var: &str) -> u64 {
    let seed = std::env::var(var)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0x5eed)
        });
    eprintln!("seed: {var}={seed}");
    seed
}

/// What the link does to one request and its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// Delivered both ways.
    Pass,
    /// Lost on the way: the connection closes before the server sees it.
    DropRequest,
    /// The server answers; the answer is lost on the way back.
    DropResponse,
    /// Both directions arrive late.
    Delay,
    /// The server receives the request twice at the same time (a
    /// retransmission); the phone gets one answer.
    Duplicate,
    /// A copy reaches the server again later, after newer requests (a stale
    /// retry that was stuck somewhere).
    ReplayLater,
    /// Held until another request has overtaken it.
    Reorder,
    /// Only part of the request reaches the server, then the link dies.
    TruncateRequest,
    /// Only part of the answer reaches the phone, then the connection
    /// closes.
    TruncateResponse,
    /// Part of the answer, then a TCP reset.
    ResetMidBody,
    /// Part of the answer, then silence, then the link dies.
    Stall,
}

impl Fault {
    /// Every fault except [`Fault::Pass`].
    pub const ALL: [Fault; 10] = [
        Fault::DropRequest,
        Fault::DropResponse,
        Fault::Delay,
        Fault::Duplicate,
        Fault::ReplayLater,
        Fault::Reorder,
        Fault::TruncateRequest,
        Fault::TruncateResponse,
        Fault::ResetMidBody,
        Fault::Stall,
    ];
}

/// How the link chooses faults.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    seed: u64,
    /// Faults applied to the first requests, in order, before `weights`.
    script: Vec<Fault>,
    weights: Vec<(Fault, u32)>,
    /// How late a delayed message arrives.
    pub delay: Duration,
    /// How long a stalled link stays silent before it dies.
    pub stall: Duration,
}

impl FaultPlan {
    /// A clean link.
    pub fn clean() -> Self {
        Self::weighted(0, vec![(Fault::Pass, 1)])
    }

    /// `fault` on every request.
    pub fn only(fault: Fault) -> Self {
        Self::weighted(0, vec![(fault, 1)])
    }

    /// About half the requests pass; the rest meet every fault in turn of
    /// the seeded draw.
    pub fn mixed(seed: u64) -> Self {
        let mut weights = vec![(Fault::Pass, 10)];
        weights.extend(Fault::ALL.iter().map(|&fault| (fault, 1)));
        Self::weighted(seed, weights)
    }

    /// Faults drawn with the given weights.
    pub fn weighted(seed: u64, weights: Vec<(Fault, u32)>) -> Self {
        Self {
            seed,
            script: Vec::new(),
            weights,
            delay: Duration::from_millis(40),
            stall: Duration::from_millis(700),
        }
    }

    /// The first requests meet `script`, in order; later ones follow the
    /// plan.
    pub fn starting_with(mut self, script: Vec<Fault>) -> Self {
        self.script = script;
        self
    }
}

struct Decider {
    rng: SeededRng,
    plan: FaultPlan,
    drawn: usize,
}

impl Decider {
    fn new(plan: FaultPlan) -> Self {
        Self {
            rng: SeededRng::new(plan.seed),
            plan,
            drawn: 0,
        }
    }

    fn next(&mut self) -> Fault {
        let index = self.drawn;
        self.drawn += 1;
        if let Some(&fault) = self.plan.script.get(index) {
            return fault;
        }
        let total: u64 = self.plan.weights.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut pick = self.rng.below(total);
        for &(fault, weight) in &self.plan.weights {
            if pick < u64::from(weight) {
                return fault;
            }
            pick -= u64::from(weight);
        }
        Fault::Pass
    }
}

/// What the server answered to one request the proxy forwarded whole:
/// phones' requests, and the copies the link made of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAnswer {
    /// The fault the request met.
    pub fault: Fault,
    /// Whether this was a copy the phone never sees the answer to (the
    /// second of a [`Fault::Duplicate`], the late [`Fault::ReplayLater`]).
    pub copy: bool,
    /// The request line, e.g. `POST /v1/sync HTTP/1.1`.
    pub request: String,
    /// The answer's status, or why none came.
    pub status: Result<u16, String>,
}

/// Answers from the server, and copies still on their way to it.
#[derive(Default)]
struct Ledger {
    answers: Vec<ServerAnswer>,
    /// Late copies ([`Fault::ReplayLater`]) not yet answered.
    pending: usize,
}

struct Shared {
    upstream: SocketAddr,
    ledger: Mutex<Ledger>,
    /// Signalled when a late copy has been answered.
    landed: Condvar,
    decider: Mutex<Decider>,
    applied: Mutex<BTreeMap<Fault, u64>>,
    /// Bytes of answers delivered to clients in full.
    delivered: AtomicU64,
    /// Woken whenever a request is forwarded, for held ([`Fault::Reorder`])
    /// requests to go after it.
    forwarded: Notify,
    /// Timings and a jitter source for delays that are not part of the
    /// decision sequence.
    jitter: Mutex<SeededRng>,
}

/// A running proxy. Dropping it stops it.
pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Proxy {
    /// Listens on 127.0.0.1 (an ephemeral port) and forwards to `upstream`.
    pub fn start(upstream: SocketAddr, plan: FaultPlan) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fault-proxy")
            .enable_all()
            .build()
            .expect("proxy runtime");
        let shared = Arc::new(Shared {
            upstream,
            jitter: Mutex::new(SeededRng::new(plan.seed ^ 0xa5a5_a5a5)),
            decider: Mutex::new(Decider::new(plan)),
            ledger: Mutex::new(Ledger::default()),
            landed: Condvar::new(),
            applied: Mutex::new(BTreeMap::new()),
            delivered: AtomicU64::new(0),
            forwarded: Notify::new(),
        });
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("proxy listens");
        let addr = listener.local_addr().expect("proxy address");
        let accepting = shared.clone();
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let _ = client.set_nodelay(true);
                tokio::spawn(serve_client(client, accepting.clone()));
            }
        });
        Self {
            addr,
            shared,
            runtime: Some(runtime),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switches to another plan (its script starts over).
    pub fn set_plan(&self, plan: FaultPlan) {
        *self.shared.decider.lock().expect("decider") = Decider::new(plan);
    }

    /// How many requests met each fault so far.
    pub fn applied(&self) -> BTreeMap<Fault, u64> {
        self.shared.applied.lock().expect("counts").clone()
    }

    /// What the server answered to every request forwarded whole so far,
    /// copies included.
    pub fn server_answers(&self) -> Vec<ServerAnswer> {
        self.shared.ledger.lock().expect("ledger").answers.clone()
    }

    /// Waits until every late copy ([`Fault::ReplayLater`]) sent so far has
    /// been answered by the server (or failed), at most `limit`; panics if
    /// one is still on its way then.
    pub fn wait_for_replays(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut ledger = self.shared.ledger.lock().expect("ledger");
        while ledger.pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{} replayed requests still unanswered after {limit:?}",
                ledger.pending
            );
            ledger = self
                .shared
                .landed
                .wait_timeout(ledger, left)
                .expect("ledger")
                .0;
        }
    }

    /// Waits for the late copies, then checks that the server answered
    /// every request it received whole, copies included, with 200: a
    /// repeated, late or reordered request is as good as the first.
    pub fn assert_every_answer_ok(&self, limit: Duration) {
        self.wait_for_replays(limit);
        let answers = self.server_answers();
        let replays = self
            .applied()
            .get(&Fault::ReplayLater)
            .copied()
            .unwrap_or(0);
        let landed = answers
            .iter()
            .filter(|a| a.fault == Fault::ReplayLater && a.copy)
            .count() as u64;
        assert_eq!(landed, replays, "every late copy reached the server");
        let failed: Vec<&ServerAnswer> = answers
            .iter()
            .filter(|answer| answer.status != Ok(200))
            .collect();
        assert!(
            failed.is_empty(),
            "the server did not answer 200 to {} of {} requests: {failed:#?}",
            failed.len(),
            answers.len()
        );
    }

    /// Bytes of answers delivered to clients in full.
    pub fn delivered_bytes(&self) -> u64 {
        self.shared.delivered.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// One HTTP/1.1 message: its head (start line and headers, with the blank
/// line) and its body exactly as framed on the wire.
#[derive(Clone)]
struct Message {
    head: Vec<u8>,
    body: Vec<u8>,
}

impl Message {
    fn start_line(&self) -> String {
        String::from_utf8_lossy(&self.head)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    fn status(&self) -> Option<u16> {
        self.start_line()
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
    }

    fn header(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.head);
        text.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }

    fn is_upgrade(&self) -> bool {
        self.header("upgrade").is_some()
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = self.head.clone();
        out.extend_from_slice(&self.body);
        out
    }

    /// The head and part of the body: where a cut link leaves a message.
    fn part(&self, rng: &Mutex<SeededRng>) -> Vec<u8> {
        let whole = self.bytes();
        let cut = if self.body.is_empty() {
            self.head.len() / 2
        } else {
            let mut rng = rng.lock().expect("jitter");
            self.head.len() + rng.below(self.body.len() as u64) as usize
        };
        whole[..cut].to_vec()
    }
}

/// Reads bytes into `buffer` until it holds a complete message, which is
/// then taken out of it. `None` when the peer closed before a message
/// began.
async fn read_message(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    response: bool,
) -> std::io::Result<Option<Message>> {
    let broken = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let head_end = loop {
        if let Some(at) = find(buffer, b"\r\n\r\n") {
            break at + 4;
        }
        if buffer.len() > 64 * 1024 {
            return Err(broken("message head too long"));
        }
        if !fill(stream, buffer).await? {
            return if buffer.is_empty() {
                Ok(None)
            } else {
                Err(broken("closed in the middle of a head"))
            };
        }
    };
    let head = buffer[..head_end].to_vec();
    let probe = Message {
        head: head.clone(),
        body: Vec::new(),
    };
    let chunked = probe
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = probe
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok());
    let status = String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok());
    let body_end = if chunked {
        let mut at = head_end;
        loop {
            // Each chunk: size line, data, CRLF; a zero size ends the body
            // (no trailers are expected from this server).
            let line_end = loop {
                if let Some(end) = find(&buffer[at..], b"\r\n") {
                    break at + end;
                }
                if !fill(stream, buffer).await? {
                    return Err(broken("closed in a chunk size"));
                }
            };
            let size_text = String::from_utf8_lossy(&buffer[at..line_end]).to_string();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| broken("bad chunk size"))?;
            let end = line_end + 2 + size + 2;
            while buffer.len() < end {
                if !fill(stream, buffer).await? {
                    return Err(broken("closed in a chunk"));
                }
            }
            at = end;
            if size == 0 {
                break at;
            }
        }
    } else if let Some(length) = length {
        while buffer.len() < head_end + length {
            if !fill(stream, buffer).await? {
                return Err(broken("closed in the middle of a body"));
            }
        }
        head_end + length
    } else if response && status.is_some_and(|s| s != 101 && s != 204 && s != 304) {
        // No framing: the body runs to the end of the connection.
        while fill(stream, buffer).await? {}
        buffer.len()
    } else {
        head_end
    };
    let body = buffer[head_end..body_end].to_vec();
    buffer.drain(..body_end);
    Ok(Some(Message { head, body }))
}

async fn fill(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await?;
    buffer.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Sends `request` to the server on a fresh connection and reads its
/// answer, noting the answer's status in the ledger.
async fn exchange(
    shared: &Shared,
    fault: Fault,
    copy: bool,
    request: &Message,
) -> std::io::Result<Message> {
    let result = exchange_once(shared.upstream, request).await;
    let status = match &result {
        Ok(answer) => answer
            .status()
            .ok_or_else(|| format!("an answer without a status: {}", answer.start_line())),
        Err(e) => Err(e.to_string()),
    };
    shared
        .ledger
        .lock()
        .expect("ledger")
        .answers
        .push(ServerAnswer {
            fault,
            copy,
            request: request.start_line(),
            status,
        });
    result
}

async fn exchange_once(upstream: SocketAddr, request: &Message) -> std::io::Result<Message> {
    let mut server = TcpStream::connect(upstream).await?;
    let _ = server.set_nodelay(true);
    server.write_all(&request.bytes()).await?;
    let mut buffer = Vec::new();
    read_message(&mut server, &mut buffer, true)
        .await?
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no answer"))
}

async fn serve_client(mut client: TcpStream, shared: Arc<Shared>) {
    let mut buffer = Vec::new();
    loop {
        let request = match read_message(&mut client, &mut buffer, false).await {
            Ok(Some(request)) => request,
            Ok(None) | Err(_) => return,
        };
        if request.is_upgrade() {
            tunnel(client, shared.upstream, request, buffer).await;
            return;
        }
        let fault = shared.decider.lock().expect("decider").next();
        *shared
            .applied
            .lock()
            .expect("counts")
            .entry(fault)
            .or_default() += 1;
        // An error on either side ends the connection, as a broken link does.
        let keep_open = apply(fault, &mut client, &shared, request).await;
        if !keep_open.unwrap_or(false) {
            return;
        }
    }
}

/// Applies `fault` to one request; returns whether the client connection
/// stays usable.
async fn apply(
    fault: Fault,
    client: &mut TcpStream,
    shared: &Arc<Shared>,
    request: Message,
) -> std::io::Result<bool> {
    let upstream = shared.upstream;
    let answer = match fault {
        Fault::Pass => exchange(shared, fault, false, &request).await?,
        Fault::DropRequest => return Ok(false),
        Fault::DropResponse => {
            let _ = exchange(shared, fault, false, &request).await;
            return Ok(false);
        }
        Fault::Delay => {
            let delay = shared.decider.lock().expect("decider").plan.delay;
            tokio::time::sleep(delay).await;
            let answer = exchange(shared, fault, false, &request).await?;
            tokio::time::sleep(delay).await;
            answer
        }
        Fault::Duplicate => {
            let (first, second) = tokio::join!(
                exchange(shared, fault, false, &request),
                exchange(shared, fault, true, &request)
            );
            match (first, second) {
                (Ok(answer), _) | (Err(_), Ok(answer)) => answer,
                (Err(e), Err(_)) => return Err(e),
            }
        }
        Fault::ReplayLater => {
            let answer = exchange(shared, fault, false, &request).await?;
            let wait = shared.jitter.lock().expect("jitter").between(20, 250);
            let stale = request.clone();
            shared.ledger.lock().expect("ledger").pending += 1;
            let shared = shared.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(wait)).await;
                let _ = exchange(&shared, fault, true, &stale).await;
                shared.ledger.lock().expect("ledger").pending -= 1;
                shared.landed.notify_all();
            });
            answer
        }
        Fault::Reorder => {
            let overtaken = shared.forwarded.notified();
            let _ = tokio::time::timeout(Duration::from_millis(300), overtaken).await;
            exchange(shared, fault, false, &request).await?
        }
        Fault::TruncateRequest => {
            if let Ok(mut server) = TcpStream::connect(upstream).await {
                let part = request.part(&shared.jitter);
                let _ = server.write_all(&part).await;
                let _ = server.shutdown().await;
                // Let the server see the cut before the phone retries.
                let mut sink = [0u8; 1024];
                let _ = tokio::time::timeout(Duration::from_secs(2), server.read(&mut sink)).await;
            }
            return Ok(false);
        }
        Fault::TruncateResponse | Fault::ResetMidBody | Fault::Stall => {
            let answer = exchange(shared, fault, false, &request).await?;
            shared.forwarded.notify_waiters();
            client.write_all(&answer.part(&shared.jitter)).await?;
            match fault {
                Fault::ResetMidBody => {
                    let _ = client.set_zero_linger();
                }
                Fault::Stall => {
                    let stall = shared.decider.lock().expect("decider").plan.stall;
                    tokio::time::sleep(stall).await;
                }
                _ => {
                    let _ = client.shutdown().await;
                }
            }
            return Ok(false);
        }
    };
    shared.forwarded.notify_waiters();
    client.write_all(&answer.bytes()).await?;
    shared
        .delivered
        .fetch_add(answer.body.len() as u64, Ordering::Relaxed);
    let closing = answer
        .header("connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("close"));
    Ok(!closing)
}

/// Forwards a WebSocket upgrade and then every byte both ways, untouched.
async fn tunnel(mut client: TcpStream, upstream: SocketAddr, request: Message, early: Vec<u8>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    if server.write_all(&request.bytes()).await.is_err() || server.write_all(&early).await.is_err()
    {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}
