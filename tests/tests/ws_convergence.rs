//! Random offline edits by automerge-repo WebSocket clients and a batch
//! phone converge on the server.
//!
//! Three protocol "1" clients and one phone hold the same records. Each
//! round one of them edits a record while offline, then (or later) syncs
//! on a new connection, starting from the shared heads automerge-repo
//! keeps between connections or from nothing, and sometimes the link drops
//! in the middle of the exchange, and sometimes its changes go out with a
//! gap, as when the server's Bloom filter matches some by chance; sometimes
//! a brand-new client fetches everything. Every kind of step the server can take appears —
//! a fresh peer sent whole records, a peer with nothing new confirmed from
//! stored heads, peers behind, ahead and diverged answered from the loaded
//! record — and at the end every client, the phone and the server hold the
//! same heads for every record.
//!
//! The seed is printed; `FENGQIAO_WS_SEED=<seed>` replays a run.

use std::time::Duration;

use automerge::AutoCommit;
use automerge::sync;
use fengqiao_protocol::DocumentId;
use fengqiao_server::ws_client::{ClientError, Holdings, RepoClient};
use fengqiao_shared::record::{Author, NewEvent, add_event};
use fengqiao_shared::vocab::EventKind;
use fengqiao_tests::proxy::{SeededRng, seed_from_env};
use fengqiao_tests::{Phone, T0, TestServer};

const VILLAGE: &str = "500110101001";
const RECORDS: usize = 4;
const CLIENTS: usize = 3;
const ROUNDS: u64 = 40;
const WAIT: Duration = Duration::from_secs(20);

fn sorted(mut heads: Vec<[u8; 32]>) -> Vec<[u8; 32]> {
    heads.sort();
    heads
}

fn heads_of(doc: &mut AutoCommit) -> Vec<[u8; 32]> {
    sorted(doc.get_heads().iter().map(|h| h.0).collect())
}

/// One automerge-repo client: what it holds between runs.
struct Client {
    name: String,
    holdings: Holdings,
}

impl Client {
    /// Connects and syncs everything it holds. A new connection starts
    /// from what automerge-repo keeps of a sync state between connections
    /// (the heads both sides shared, `resume`), or from nothing, as after
    /// the app's storage of sync states was lost.
    fn sync(&mut self, server: &TestServer, resume: bool) {
        let unavailable = self
            .connect_and_sync(server, resume, WAIT)
            .expect("the sync completes");
        assert!(unavailable.is_empty(), "{}: {unavailable:?}", self.name);
    }

    /// A sync the link cuts after `after`, wherever the exchange stands.
    fn sync_cut_short(&mut self, server: &TestServer, resume: bool, after: Duration) {
        if let Ok(unavailable) = self.connect_and_sync(server, resume, after) {
            assert!(unavailable.is_empty(), "{}: {unavailable:?}", self.name);
        }
    }

    /// A sync in which the first message carrying several changes carries
    /// only the last of them, the others left unsent, as when the server's
    /// Bloom filter matches them by chance: the last arrives without what
    /// it depends on.
    fn sync_with_a_gap(&mut self, server: &TestServer, resume: bool) {
        self.reset_states(resume);
        let mut gapped = false;
        let mut leave_out = |_: &DocumentId,
                             doc: &mut AutoCommit,
                             state: &mut sync::State,
                             message: &mut sync::Message| {
            if gapped || message.changes.is_empty() {
                return;
            }
            let changes = doc.get_changes(&state.shared_heads);
            let [left_out @ .., last] = changes.as_slice() else {
                return;
            };
            if left_out.is_empty() {
                return;
            }
            for change in left_out {
                state.sent_hashes.remove(&change.hash());
            }
            message.changes = sync::ChunkList::from(vec![last.raw_bytes().to_vec()]);
            gapped = true;
        };
        let unavailable = server.runtime().block_on(async {
            let mut client = RepoClient::connect(&server.ws_url(), &self.name)
                .await
                .expect("connects");
            let result = client
                .sync_all_altered(&mut self.holdings, WAIT, &mut leave_out)
                .await;
            client.close().await;
            result.expect("the sync completes")
        });
        assert!(unavailable.is_empty(), "{}: {unavailable:?}", self.name);
    }

    /// What a new connection starts from: the shared heads automerge-repo
    /// keeps (`resume`), or nothing.
    fn reset_states(&mut self, resume: bool) {
        for state in self.holdings.states.values_mut() {
            *state = if resume {
                sync::State::decode(&state.encode()).expect("a state it encoded")
            } else {
                sync::State::new()
            };
        }
    }

    fn connect_and_sync(
        &mut self,
        server: &TestServer,
        resume: bool,
        limit: Duration,
    ) -> Result<Vec<DocumentId>, ClientError> {
        self.reset_states(resume);
        server.runtime().block_on(async {
            let mut client = RepoClient::connect(&server.ws_url(), &self.name)
                .await
                .expect("connects");
            let result = client.sync_all(&mut self.holdings, limit).await;
            client.close().await;
            result
        })
    }

    fn fetch(server: &TestServer, name: String, ids: &[DocumentId]) -> Self {
        let mut holdings = Holdings::default();
        let unavailable = server.runtime().block_on(async {
            let mut client = RepoClient::connect(&server.ws_url(), &name)
                .await
                .expect("connects");
            let result = client.fetch(&mut holdings, ids, WAIT).await;
            client.close().await;
            result.expect("the fetch completes")
        });
        assert!(unavailable.is_empty(), "{name}: {unavailable:?}");
        Self { name, holdings }
    }

    fn note(&mut self, id: &DocumentId, at: i64) {
        let doc = self.holdings.docs.get_mut(id).expect("held");
        add_event(
            doc,
            &Author::new(self.name.clone(), at),
            &NewEvent::new(EventKind::Note).with_note(format!("{} 的记录 {at}", self.name)),
        )
        .expect("a valid edit");
    }
}

fn server_heads(server: &TestServer, id: &DocumentId) -> Vec<[u8; 32]> {
    let meta = server
        .running()
        .state
        .engine
        .storage()
        .doc_meta(id)
        .expect("reads")
        .expect("stored");
    sorted(meta.heads)
}

#[test]
fn websocket_clients_and_a_phone_editing_offline_converge() {
    let seed = seed_from_env("FENGQIAO_WS_SEED");
    let mut rng = SeededRng::new(seed);
    let server = TestServer::start();
    let mut phone = Phone::new("cadre-phone");
    let ids: Vec<DocumentId> = (0..RECORDS)
        .map(|n| phone.report(VILLAGE, &format!("纠纷 {n}"), T0 + n as i64))
        .collect();
    phone.sync(&server.url());
    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|n| Client::fetch(&server, format!("ws-client-{n}"), &ids))
        .collect();
    let mut at = T0 + 1_000;
    let mut fresh = 0;

    for round in 0..ROUNDS {
        at += 60_000;
        let id = &ids[rng.below(RECORDS as u64) as usize];
        match rng.below(CLIENTS as u64 + 2) {
            n if (n as usize) < CLIENTS => {
                let client = &mut clients[n as usize];
                client.note(id, at);
                // Sometimes it stays offline and syncs in a later round,
                // sometimes the link drops in the middle of the exchange.
                let resume = rng.percent(50);
                match rng.below(10) {
                    0..=5 => client.sync(&server, resume),
                    6 | 7 => {
                        let after = Duration::from_millis(rng.below(4));
                        client.sync_cut_short(&server, resume, after);
                    }
                    8 => client.sync_with_a_gap(&server, resume),
                    _ => {}
                }
            }
            n if n as usize == CLIENTS => {
                phone.add_event(id, EventKind::Mediation, &format!("调解 {round}"), at);
                if rng.percent(70) {
                    phone.sync(&server.url());
                }
            }
            _ => {
                // A new app with empty storage fetches everything.
                fresh += 1;
                clients.push(Client::fetch(&server, format!("ws-fresh-{fresh}"), &ids));
            }
        }
    }

    // Everyone comes online; a second pass brings what the others sent.
    for _ in 0..2 {
        phone.sync(&server.url());
        for client in &mut clients {
            client.sync(&server, true);
        }
    }
    phone.sync(&server.url());
    for id in &ids {
        let expected = server_heads(&server, id);
        let mut doc = phone.replica.document(id).expect("reads").expect("held");
        assert_eq!(heads_of(&mut doc), expected, "seed {seed}: the phone, {id}");
        for client in &mut clients {
            let doc = client.holdings.docs.get_mut(id).expect("held");
            assert_eq!(
                heads_of(doc),
                expected,
                "seed {seed}: {}, {id}",
                client.name
            );
        }
    }
}
