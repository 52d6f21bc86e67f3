//! `ws_oracle`: whether the WebSocket door's answer time tells a record of
//! another scope from an id that does not exist.
//!
//! ```text
//! cargo run --release -p fengqiao-bench --bin ws_oracle -- --records 300
//! ```
//!
//! An in-process server holds `--records` records of one town; a device of
//! another town connects and, for each of them and as many unused ids,
//! sends a `sync` announcing the document (as an automerge-repo client
//! that holds it would) and then a `request` (as one that lacks it), timing
//! each from send to answer. Hidden and missing ids alternate, in turns
//! that swap which goes first, so drift affects both alike. Reported per
//! kind: the answer (which must be the same) and the 10th, 50th and 90th
//! percentile of the time.

use std::time::{Duration, Instant};

use automerge::AutoCommit;
use automerge::sync::{self, SyncDoc};
use clap::Parser;
use fengqiao_protocol::{DocumentId, PeerId, RepoMessage};
use fengqiao_server::ws_client::{
    Connection, Received, join_message, request_message, sync_message,
};
use fengqiao_shared::access::Role;
use fengqiao_tests::{Phone, T0, TestServer};

#[derive(Parser, Debug)]
#[command(about, long_about)]
struct Args {
    /// Records of the other town (and as many unused ids) to ask about.
    #[arg(long, default_value_t = 300)]
    records: usize,
}

const ME: &str = "peer-oracle";

async fn recv(connection: &mut Connection) -> RepoMessage {
    match connection.recv().await {
        Ok(Received::Message(message)) => message,
        other => panic!("the socket ended: {other:?}"),
    }
}

/// Sends one document message and times the answer; returns the kind of
/// answer, its data (for `sync`) and the time.
async fn ask(
    connection: &mut Connection,
    server: &PeerId,
    id: &DocumentId,
    request: bool,
) -> (String, Vec<u8>, Duration) {
    let announce = AutoCommit::new()
        .sync()
        .generate_sync_message(&mut sync::State::new())
        .expect("an empty document speaks first");
    let me = PeerId::new(ME).expect("a peer id");
    let message = if request {
        request_message(&me, server, id, announce)
    } else {
        sync_message(&me, server, id, announce)
    };
    let started = Instant::now();
    connection.send(&message).await.expect("sent");
    let answer = recv(connection).await;
    let elapsed = started.elapsed();
    match answer {
        RepoMessage::Sync(m) => ("sync".into(), m.data, elapsed),
        other => (other.type_name().into(), Vec::new(), elapsed),
    }
}

fn percentiles(mut times: Vec<Duration>) -> [f64; 3] {
    times.sort_unstable();
    let at = |p: usize| times[(times.len() - 1) * p / 100].as_secs_f64() * 1e6;
    [at(10), at(50), at(90)]
}

fn main() {
    let args = Args::parse();
    let server = TestServer::start();
    let phone = Phone::new("cadre-a");
    let hidden: Vec<DocumentId> = (0..args.records)
        .map(|n| phone.report("500110101001", &format!("别镇的纠纷 {n}"), T0))
        .collect();
    let mut phone = phone;
    phone.sync(&server.url());
    let missing: Vec<DocumentId> = (0..args.records).map(|_| DocumentId::random()).collect();
    let (_, token) = server.enroll("cadre-elsewhere", Role::Cadre, "500110102001");
    let url = format!("ws://{}/v1/ws?token={token}", server.addr);

    let rows = server.runtime().block_on(async {
        let mut socket = Connection::connect(url.as_str(), None)
            .await
            .expect("connects");
        let join = join_message(PeerId::new(ME).expect("a peer id"), None);
        let peer = socket.join(join, None).await.expect("peer");
        let server_id = peer.sender_id;
        let mut rows = Vec::new();
        for request in [false, true] {
            let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
            let mut answers: [Option<(String, Vec<u8>)>; 2] = [None, None];
            for i in 0..args.records {
                let order = if i % 2 == 0 { [0, 1] } else { [1, 0] };
                for which in order {
                    let id = if which == 0 { &hidden[i] } else { &missing[i] };
                    let (kind, data, time) = ask(&mut socket, &server_id, id, request).await;
                    times[which].push(time);
                    let seen = answers[which].get_or_insert_with(|| (kind.clone(), data.clone()));
                    assert_eq!(*seen, (kind, data), "the same answer every time");
                }
            }
            assert_eq!(answers[0], answers[1], "hidden and missing answered alike");
            let kind = answers[0].as_ref().map(|a| a.0.clone()).unwrap_or_default();
            for (which, name) in [(0, "hidden"), (1, "missing")] {
                rows.push((
                    if request { "request" } else { "sync" },
                    name,
                    kind.clone(),
                    percentiles(std::mem::take(&mut times[which])),
                ));
            }
        }
        rows
    });
    println!("message  id       answer            p10_us   p50_us   p90_us");
    for (message, name, answer, [p10, p50, p90]) in rows {
        println!("{message:<8} {name:<8} {answer:<16} {p10:>8.0} {p50:>8.0} {p90:>8.0}");
    }
    println!(
        "({} ids of each kind, one connection, loopback)",
        args.records
    );
}
