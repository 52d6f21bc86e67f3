//! `slow_connections`: how long `/healthz` takes while thousands of
//! connections trickle their headers in (slowloris).
//!
//! ```text
//! ulimit -n 30000   # the bench and the server each hold a socket per connection
//! cargo run --release -p fengqiao-bench --bin slow_connections -- --connections 10000
//! ```
//!
//! A fresh `fengqiao serve` process (the release binary of this workspace,
//! built if needed) runs with its default limits, or the
//! `--max-connections` given (below `--connections`, the attack surely
//! fills the cap). Measured, in one run:
//!
//! 1. **Baseline**: `GET /healthz` on a fresh connection, `--requests`
//!    times one after another, with nothing else going on.
//! 2. **One address**: `--connections` connections from 127.0.0.2, each
//!    sending the start of a request's headers and then one more header
//!    byte every `--trickle-secs` (which resets any idle timer). A
//!    connection the server closes is opened again after 100 ms, as a
//!    persistent attacker would. `/healthz` is timed from 127.0.0.1 meanwhile.
//! 3. **Many addresses**: the same number of connections spread over
//!    `--addresses` loopback addresses (127.0.1.x), each under the
//!    per-address cap, so that together they reach the server's overall
//!    connection cap.
//!
//! Each `/healthz` gives up after `--timeout-secs`; a request that gave
//! up counts as that long. The bench prints one line per phase, with the
//! connections the server evicted at its cap to make room
//! (`fengqiao_connections_evicted_total`), and a Markdown table.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use fengqiao_tests::process::ServerProcess;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Parser, Debug)]
#[command(about, long_about)]
struct Args {
    /// Slow connections to hold open in each attack phase.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// `/healthz` requests timed in each phase.
    #[arg(long, default_value_t = 50)]
    requests: usize,
    /// Seconds between two header bytes of a slow connection.
    #[arg(long, default_value_t = 5)]
    trickle_secs: u64,
    /// Source addresses of the "many addresses" phase.
    #[arg(long, default_value_t = 100)]
    addresses: u8,
    /// The server's `--max-connections` (its default, 10,000, when not given).
    #[arg(long)]
    max_connections: Option<usize>,
    /// Seconds after which one `/healthz` gives up.
    #[arg(long, default_value_t = 15)]
    timeout_secs: u64,
}

/// One `GET /healthz` on a fresh connection; how long until the whole
/// answer arrived, and whether it was `200`.
fn healthz(addr: SocketAddr, timeout: Duration) -> (Duration, bool) {
    let started = Instant::now();
    let ok = (|| -> std::io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        Ok(answer.starts_with(b"HTTP/1.1 200"))
    })()
    .unwrap_or(false);
    (started.elapsed().min(timeout), ok)
}

/// The server's `fengqiao_connections_evicted_total`: connections closed
/// before finishing their headers to make room at the connection cap.
fn evicted(addr: SocketAddr) -> Option<u64> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(30)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {}\r\n\
         Connection: close\r\n\r\n",
        fengqiao_tests::process::ADMIN_TOKEN
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer
        .lines()
        .find_map(|l| l.strip_prefix("fengqiao_connections_evicted_total "))
        .and_then(|v| v.trim().parse().ok())
}

struct Timings {
    sorted: Vec<Duration>,
    failed: usize,
}

impl Timings {
    fn measure(addr: SocketAddr, requests: usize, timeout: Duration) -> Self {
        let mut sorted = Vec::with_capacity(requests);
        let mut failed = 0;
        for _ in 0..requests {
            let (took, ok) = healthz(addr, timeout);
            sorted.push(took);
            if !ok {
                failed += 1;
            }
        }
        sorted.sort();
        Self { sorted, failed }
    }

    fn percentile(&self, p: f64) -> Duration {
        let index = ((self.sorted.len() as f64 - 1.0) * p).round() as usize;
        self.sorted[index.min(self.sorted.len() - 1)]
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// What the slow connections of one phase went through.
#[derive(Default)]
struct Attack {
    stop: AtomicBool,
    /// Connections that got through `connect`.
    opened: AtomicU64,
    /// Connections the server closed (end of stream, reset, failed write).
    closed_by_server: AtomicU64,
    /// Connections open right now, as far as the attacker knows.
    holding: AtomicU64,
}

/// One slow connection from `from`, reopened whenever the server closes
/// it, until the attack stops.
async fn slowloris(server: SocketAddr, from: IpAddr, trickle: Duration, attack: Arc<Attack>) {
    while !attack.stop.load(Ordering::Relaxed) {
        let socket = match tokio::net::TcpSocket::new_v4() {
            Ok(socket) => socket,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if socket.bind(SocketAddr::new(from, 0)).is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let Ok(mut stream) = socket.connect(server).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        attack.opened.fetch_add(1, Ordering::Relaxed);
        attack.holding.fetch_add(1, Ordering::Relaxed);
        let mut alive = stream
            .write_all(b"POST /v1/sync HTTP/1.1\r\nHost: bench\r\nX-Slow: ")
            .await
            .is_ok();
        let mut buf = [0u8; 256];
        while alive && !attack.stop.load(Ordering::Relaxed) {
            tokio::select! {
                read = stream.read(&mut buf) => {
                    // The server answered (an error) or closed: either way
                    // this connection is done.
                    if !matches!(read, Ok(n) if n > 0) {
                        alive = false;
                    }
                }
                () = tokio::time::sleep(trickle) => {
                    alive = stream.write_all(b"a").await.is_ok();
                }
            }
        }
        attack.holding.fetch_sub(1, Ordering::Relaxed);
        if attack.stop.load(Ordering::Relaxed) {
            return;
        }
        attack.closed_by_server.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `connections` slow connections spread over `sources`, lets them
/// settle, times `/healthz`, then stops them.
fn phase(
    runtime: &tokio::runtime::Runtime,
    server: SocketAddr,
    sources: &[IpAddr],
    args: &Args,
) -> (Timings, u64, u64, u64) {
    let attack = Arc::new(Attack::default());
    let trickle = Duration::from_secs(args.trickle_secs);
    let mut tasks = Vec::with_capacity(args.connections);
    for n in 0..args.connections {
        let from = sources[n % sources.len()];
        tasks.push(runtime.spawn(slowloris(server, from, trickle, attack.clone())));
    }
    // Let every connection be opened at least once, and the server cut
    // what it cuts.
    let settle = Instant::now();
    while (attack.opened.load(Ordering::Relaxed) as usize) < args.connections
        && settle.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    let holding_before = attack.holding.load(Ordering::Relaxed);
    let timings = Timings::measure(
        server,
        args.requests,
        Duration::from_secs(args.timeout_secs),
    );
    attack.stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.abort();
    }
    (
        timings,
        holding_before,
        attack.opened.load(Ordering::Relaxed),
        attack.closed_by_server.load(Ordering::Relaxed),
    )
}

/// The soft limit on open files of this process.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn main() {
    let args = Args::parse();
    if let Some(limit) = open_files_limit()
        && (limit as usize) < args.connections + 1_000
    {
        eprintln!(
            "the open-file limit is {limit}; {} slow connections need at least {}: \
             run `ulimit -n {}` first (the server inherits it)",
            args.connections,
            args.connections + 1_000,
            (args.connections + 1_000) * 2
        );
        std::process::exit(2);
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let cap = args.max_connections.map(|n| n.to_string());
    let extra: Vec<&str> = match &cap {
        Some(n) => vec!["--max-connections", n],
        None => Vec::new(),
    };
    let server = ServerProcess::start_with(&dir.path().join("data"), &extra);
    let addr = server.addr;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let timeout = Duration::from_secs(args.timeout_secs);

    let baseline = Timings::measure(addr, args.requests, timeout);
    println!(
        "baseline: /healthz p50 {}, p99 {}, {} failed",
        ms(baseline.percentile(0.5)),
        ms(baseline.percentile(0.99)),
        baseline.failed
    );

    let one = [IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))];
    let (single, held_single, opened_single, cut_single) = phase(&runtime, addr, &one, &args);
    println!(
        "{} slow connections from one address: /healthz p50 {}, p99 {}, {} failed; \
         {held_single} held open, {opened_single} opened, {cut_single} closed by the server",
        args.connections,
        ms(single.percentile(0.5)),
        ms(single.percentile(0.99)),
        single.failed
    );

    let evicted_single = evicted(addr).unwrap_or(0);
    println!("  evicted by the server so far: {evicted_single}");

    let many: Vec<IpAddr> = (1..=args.addresses)
        .map(|n| IpAddr::V4(Ipv4Addr::new(127, 0, 1, n)))
        .collect();
    let (spread, held_spread, opened_spread, cut_spread) = phase(&runtime, addr, &many, &args);
    println!(
        "{} slow connections from {} addresses: /healthz p50 {}, p99 {}, {} failed; \
         {held_spread} held open, {opened_spread} opened, {cut_spread} closed by the server",
        args.connections,
        args.addresses,
        ms(spread.percentile(0.5)),
        ms(spread.percentile(0.99)),
        spread.failed
    );
    let evicted_spread = evicted(addr).unwrap_or(0);
    println!(
        "  evicted by the server in this phase: {}",
        evicted_spread.saturating_sub(evicted_single)
    );

    println!();
    println!(
        "| phase | /healthz p50 | /healthz p99 | failed or timed out | slow connections held open |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| baseline | {} | {} | {}/{} | 0 |",
        ms(baseline.percentile(0.5)),
        ms(baseline.percentile(0.99)),
        baseline.failed,
        args.requests
    );
    println!(
        "| {} slow, one address | {} | {} | {}/{} | {held_single} |",
        args.connections,
        ms(single.percentile(0.5)),
        ms(single.percentile(0.99)),
        single.failed,
        args.requests
    );
    println!(
        "| {} slow, {} addresses | {} | {} | {}/{} | {held_spread} |",
        args.connections,
        args.addresses,
        ms(spread.percentile(0.5)),
        ms(spread.percentile(0.99)),
        spread.failed,
        args.requests
    );
    drop(server);
}
