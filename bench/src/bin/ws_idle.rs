//! `ws_idle`: the server's memory per idle WebSocket connection.
//!
//! ```text
//! cargo run --release -p fengqiao-bench --bin ws_idle -- --connections 0,2000,5000
//! ```
//!
//! A fresh `fengqiao serve` process (the release binary of this workspace,
//! built if needed) on 127.0.0.1. For each count N, in the same run and on
//! the same server, in increasing order: connections are opened with the
//! development token until N are open, each sends `join` and waits for the
//! server's `peer`, then stays idle (answering pings, sending nothing);
//! once all have joined and a short settling time has passed, the
//! server's resident memory (`VmRSS`) is read. The figure is (RSS with N
//! open − RSS before the first was opened) / N. N = 0 is the baseline: the
//! same reading with no connection open, which shows how much the RSS
//! drifts on its own (in bytes, not divided).

use std::time::Duration;

use clap::Parser;
use fengqiao_protocol::PeerId;
use fengqiao_server::ws_client::{Connection, Received, join_message};
use fengqiao_tests::process::{DEV_TOKEN, ServerProcess};

#[derive(Parser, Debug)]
#[command(about, long_about)]
struct Args {
    /// Connection counts to measure, comma separated (0 is the baseline).
    #[arg(long, value_delimiter = ',', default_value = "0,1000,4000")]
    connections: Vec<usize>,
    /// How long to let the server settle before each reading, in ms.
    #[arg(long, default_value_t = 1500)]
    settle_ms: u64,
}

/// The server's resident memory now, in KiB (Linux).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// Opens one connection, joins, and waits for the server's `peer`.
async fn open_joined(url: &str, n: usize) -> Connection {
    let mut connection = Connection::connect(url, None)
        .await
        .expect("WebSocket connects");
    let peer = PeerId::new(format!("idle-peer-{n}")).expect("a valid peer id");
    if let Err(e) = connection.join(join_message(peer, None), None).await {
        panic!("expected peer: {e}");
    }
    connection
}

/// Keeps a connection open and idle (pongs are sent by the library while
/// reading) until `stop` fires.
async fn idle(mut connection: Connection, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            received = connection.recv() => match received {
                Ok(Received::Message(_)) => continue,
                other => panic!("the server closed an idle connection: {other:?}"),
            },
            _ = stop.changed() => break,
        }
    }
    connection.close().await;
}

fn main() {
    let args = Args::parse();
    let data = tempfile::tempdir().expect("a temporary directory");
    let server = ServerProcess::start(&data.path().join("data"));
    let pid = server.pid();
    let url = format!("ws://{}/v1/ws?token={DEV_TOKEN}", server.addr);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");

    // Warm the server: a few connections open and close first, so that
    // what is allocated once per process is not counted per connection.
    runtime.block_on(async {
        for n in 0..8 {
            open_joined(&url, 1_000_000 + n).await.close().await;
        }
    });
    std::thread::sleep(Duration::from_millis(args.settle_ms));

    let mut counts = args.connections.clone();
    counts.sort_unstable();
    let base = rss_kib(pid);
    println!("connections  rss_before_kib  rss_open_kib  per_connection_bytes");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for &n in &counts {
        runtime.block_on(async {
            for i in tasks.len()..n {
                let socket = open_joined(&url, i).await;
                tasks.push(tokio::spawn(idle(socket, stopped.clone())));
            }
        });
        std::thread::sleep(Duration::from_millis(args.settle_ms));
        let open = rss_kib(pid);
        let grown = (open as f64 - base as f64) * 1024.0;
        let per = if n == 0 { grown } else { grown / n as f64 };
        println!("{n:>11}  {base:>14}  {open:>12}  {per:>20.0}");
    }
    let _ = stop.send(true);
    runtime.block_on(async {
        for task in tasks {
            let _ = task.await;
        }
    });
    println!(
        "(N = 0: the drift between two readings with nothing opened, in bytes; \
         peak RSS of the server: {} KiB)",
        server.peak_rss_kib().unwrap_or(0)
    );
}
