//! `fengqiao`: the Fengqiao command-line tool.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fengqiao_server::serve::{self, ServeConfig};

/// Fengqiao: offline-first sync for village case work (民情走访, 矛盾纠纷).
///
/// Phones record household visits and disputes offline; when they reach a
/// signal their edits merge here, and towns and districts see the picture.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the sync server.
    ///
    /// Serves batch sync for Fengqiao phones (POST /v1/sync), the
    /// automerge-repo WebSocket protocol for JavaScript and samod clients
    /// (GET /v1/ws), /healthz and /metrics.
    ///
    /// Example, for development on one machine:
    ///
    ///   fengqiao serve --data ./fengqiao-data --bind 127.0.0.1:8470 --insecure-dev-token devtoken
    Serve {
        /// Directory holding the server's data; created if missing.
        #[arg(long, env = "FENGQIAO_DATA", default_value = "./fengqiao-data")]
        data: PathBuf,
        /// Address and port to listen on.
        #[arg(long, env = "FENGQIAO_BIND", default_value = "127.0.0.1:8470")]
        bind: SocketAddr,
        /// UNSAFE: accept this one token with unrestricted read and write
        /// access to every record. For development only; never use it on a
        /// server that holds real people's data.
        #[arg(long, env = "FENGQIAO_INSECURE_DEV_TOKEN")]
        insecure_dev_token: Option<String>,
        /// Memory budget for loaded documents, in MiB.
        #[arg(long, env = "FENGQIAO_CACHE_MB", default_value_t = 256)]
        cache_mb: u64,
        /// The URL phones use to reach this server, put in set-up payloads
        /// (default: the address the admin's request came to).
        #[arg(long, env = "FENGQIAO_PUBLIC_URL")]
        public_url: Option<String>,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FENGQIAO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Serve {
            data,
            bind,
            insecure_dev_token,
            cache_mb,
            public_url,
        } => runtime.block_on(run_serve(
            data,
            bind,
            insecure_dev_token,
            cache_mb,
            public_url,
        )),
    }
}

async fn run_serve(
    data: PathBuf,
    bind: SocketAddr,
    insecure_dev_token: Option<String>,
    cache_mb: u64,
    public_url: Option<String>,
) -> ExitCode {
    let mut config = ServeConfig::new(data, bind);
    if let Some(token) = insecure_dev_token.filter(|t| !t.is_empty()) {
        tracing::warn!(
            "--insecure-dev-token is set: anyone with that token can read and change \
             every record. Never use it with real data."
        );
        config.dev_token = Some(token);
    }
    config.admin_token = std::env::var("FENGQIAO_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    config.public_url = public_url;
    config.engine.cache_bytes = cache_mb.saturating_mul(1024 * 1024);
    let running = match serve::start_enrolled(config).await {
        Ok(running) => running,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("fengqiao serving on http://{}", running.addr);
    wait_for_stop_signal().await;
    tracing::info!("stopping: finishing in-flight requests");
    match running.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error while stopping: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
