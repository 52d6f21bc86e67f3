//! `samod_server`: a samod sync server for the comparison benchmark.
//!
//! Configured like the automerge-repo sync server: filesystem storage in
//! the given directory (the layout automerge-repo's NodeFS adapter uses), a
//! stable peer id, and a share policy that announces nothing but lets any
//! connected peer sync the documents it names (the JS server's
//! `sharePolicy: async () => false`). Connections arrive through samod's
//! axum WebSocket acceptor.
//!
//! Prints `samod serving on ws://ADDR` once it listens, and stops cleanly
//! on SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use axum::routing::get;
use clap::Parser;
use samod::storage::TokioFilesystemStorage;
use samod::{AcceptorHandle, PeerId, Repo, ShareConfig};

/// A samod sync server on the local machine, for benchmarks.
#[derive(Parser)]
#[command(about)]
struct Args {
    /// Directory for the documents; created if missing.
    #[arg(long)]
    data: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
}

async fn upgrade(State(acceptor): State<AcceptorHandle>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(64 * 1024 * 1024)
        .on_upgrade(move |socket| async move {
            if let Err(e) = acceptor.accept_axum(socket, None) {
                eprintln!("samod_server: connection not accepted: {e:?}");
            }
        })
}

async fn stop_signal() {
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

#[tokio::main]
async fn main() {
    let args = Args::parse();
    std::fs::create_dir_all(&args.data).expect("the data directory can be created");
    let repo = Repo::build_tokio()
        .with_storage(TokioFilesystemStorage::new(&args.data))
        .with_peer_id(PeerId::from("samod-sync-server"))
        .with_share_policy(ShareConfig::read_write().with_announce(false))
        .load()
        .await;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .expect("the address can be bound");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let url = samod::Url::parse(&format!("ws://{addr}/")).expect("a valid URL");
    let acceptor = repo.make_acceptor(url).expect("the repo is running");
    let app = Router::new()
        .route("/", get(upgrade))
        .with_state(acceptor.clone());
    println!("samod serving on ws://{addr}/");
    axum::serve(listener, app)
        .with_graceful_shutdown(stop_signal())
        .await
        .expect("the server runs");
    acceptor.close();
    repo.stop().await;
}
