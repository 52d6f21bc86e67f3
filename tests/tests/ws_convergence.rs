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
//! The first rounds take every kind of step once, the others are drawn
//! from a seed; the test counts the steps taken and fails if a kind never
//! ran (a gap counts only when changes were really left out). A sync cut
//! short may end only by the cut: any error from the server fails the
//! test. The seed is printed (shown with any failure);
//! `FENGQIAO_WS_SEED=<seed>` replays a run.

use std::collections::BTreeMap;
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
    /// Only the cut may end it early: a refusal, a closed connection or an
    /// unreadable message from the server fails the test.
    fn sync_cut_short(&mut self, server: &TestServer, resume: bool, after: Duration) {
        match self.connect_and_sync(server, resume, after) {
            Ok(unavailable) => assert!(unavailable.is_empty(), "{}: {unavailable:?}", self.name),
            Err(ClientError::Timeout(_)) => {}
            Err(e) => panic!("{}: a sync cut short failed otherwise: {e}", self.name),
        }
    }

    /// A sync in which the first message carrying several changes carries
    /// only the last of them, the others left unsent, as when the server's
    /// Bloom filter matches them by chance: the last arrives without what
    /// it depends on. Returns whether a message had several changes to
    /// leave some out of.
    fn sync_with_a_gap(&mut self, server: &TestServer, resume: bool) -> bool {
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
        gapped
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

/// The kinds of step a round takes; each must run at least once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// A client edits and syncs, resuming from the shared heads.
    SyncResumed,
    /// A client edits and syncs from no sync state.
    SyncFromNothing,
    /// A client edits and the link cuts its sync short.
    CutShort,
    /// A client edits and sends its changes with a gap (counted only when
    /// a message had several changes to leave some out of).
    Gap,
    /// A client edits and stays offline.
    StaysOffline,
    /// The phone edits and syncs.
    PhoneSyncs,
    /// The phone edits and stays offline.
    PhoneOffline,
    /// A new app with empty storage fetches everything.
    FreshApp,
}

impl Step {
    const ALL: [Step; 8] = [
        Step::SyncResumed,
        Step::SyncFromNothing,
        Step::CutShort,
        Step::Gap,
        Step::StaysOffline,
        Step::PhoneSyncs,
        Step::PhoneOffline,
        Step::FreshApp,
    ];

    /// A step drawn at random: a client's (`Some(client)`), the phone's or
    /// a fresh app's.
    fn draw(rng: &mut SeededRng) -> (Step, Option<usize>) {
        match rng.below(CLIENTS as u64 + 2) {
            n if (n as usize) < CLIENTS => {
                let step = match rng.below(10) {
                    0..=5 if rng.percent(50) => Step::SyncResumed,
                    0..=5 => Step::SyncFromNothing,
                    6 | 7 => Step::CutShort,
                    8 => Step::Gap,
                    _ => Step::StaysOffline,
                };
                (step, Some(n as usize))
            }
            n if n as usize == CLIENTS => {
                if rng.percent(70) {
                    (Step::PhoneSyncs, None)
                } else {
                    (Step::PhoneOffline, None)
                }
            }
            _ => (Step::FreshApp, None),
        }
    }
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

    // The first rounds take every kind of step once (an edit kept offline
    // first, so that the gap has two changes to leave one out of); the
    // rest are drawn from the seed.
    let script = [
        (Step::StaysOffline, Some(0)),
        (Step::Gap, Some(0)),
        (Step::SyncResumed, Some(1)),
        (Step::SyncFromNothing, Some(2)),
        (Step::CutShort, Some(1)),
        (Step::PhoneOffline, None),
        (Step::PhoneSyncs, None),
        (Step::FreshApp, None),
    ];
    let mut ran: BTreeMap<Step, u32> = BTreeMap::new();
    for round in 0..ROUNDS {
        at += 60_000;
        let mut id = &ids[rng.below(RECORDS as u64) as usize];
        let (step, client) = match script.get(round as usize) {
            Some(&scripted) => {
                // The scripted edit kept offline and the gap that follows
                // touch the same record.
                if round < 2 {
                    id = &ids[0];
                }
                scripted
            }
            None => Step::draw(&mut rng),
        };
        let mut counted = true;
        if let Some(n) = client {
            let client = &mut clients[n];
            client.note(id, at);
            let resume = rng.percent(50);
            match step {
                Step::SyncResumed => client.sync(&server, true),
                Step::SyncFromNothing => client.sync(&server, false),
                Step::CutShort => {
                    let after = Duration::from_millis(rng.below(4));
                    client.sync_cut_short(&server, resume, after);
                }
                Step::Gap => counted = client.sync_with_a_gap(&server, resume),
                _ => {}
            }
        } else if step == Step::FreshApp {
            fresh += 1;
            clients.push(Client::fetch(&server, format!("ws-fresh-{fresh}"), &ids));
        } else {
            phone.add_event(id, EventKind::Mediation, &format!("调解 {round}"), at);
            if step == Step::PhoneSyncs {
                phone.sync(&server.url());
            }
        }
        if counted {
            *ran.entry(step).or_default() += 1;
        }
    }
    eprintln!("seed {seed}: steps taken {ran:?}");
    for step in Step::ALL {
        assert!(
            ran.get(&step).is_some_and(|&n| n > 0),
            "seed {seed}: no round took the step {step:?} ({ran:?})"
        );
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
