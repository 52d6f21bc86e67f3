//! Crash safety: `kill -9` at any moment loses no acknowledged change and
//! corrupts nothing (DESIGN §8, docs/RELIABILITY.md).
//!
//! A real `fengqiao serve` process runs under a sync storm: batch phones
//! (`POST /v1/sync`) and automerge-repo peers (`/v1/ws`) create and edit
//! disputes, some of them the same ones, without pause. The process is
//! killed with SIGKILL at random moments — 30 times by default,
//! `FENGQIAO_CRASH_KILLS` times when set (e.g. 300 for an extended run;
//! `FENGQIAO_CRASH_SEED` replays a run's timing choices). Two phones use
//! the development token, two are enrolled cadres of one village each and
//! two enrolled officials of a town. Only the link may fail: a phone
//! retries a connection that broke or an answer cut short, but any error
//! the server answers with, on either door, fails the test.
//!
//! Every phone and peer keeps a ledger of what the server acknowledged:
//! the heads of every record result in a batch response, and the heads in
//! every sync message the server sent (the server advertises only durable
//! heads). After each kill, before the restart, the store is opened
//! directly and must
//!
//! - open with sled's own log recovery and no repair step;
//! - hold every acknowledged change in its record;
//! - be whole: every record in the change feed loads, its stored heads are
//!   its document's heads, its indexed projection is the projection of its
//!   document, and the projection index holds nothing else.
//!
//! At the end every phone and peer converges to identical documents and
//! projections, equal to the server's; every record created exists; and
//! every dispute's timeline holds each event exactly once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, ChangeHash};
use fengqiao_protocol::batch::{SyncRequest, SyncResponse};
use fengqiao_protocol::repo::PeerMetadata;
use fengqiao_protocol::{DeviceId, DocumentId, PeerId, RepoMessage, Scope, VillageCode};
use fengqiao_server::storage::{ProjectionKey, SledStorage, Storage, StorageConfig};
use fengqiao_server::ws_client::{
    Connection, Received, join_message, request_message, sync_message,
};
use fengqiao_shared::Summary;
use fengqiao_shared::record::{self, Author, NewEvent, Record, add_event, set_risk};
use fengqiao_shared::replica::http::{
    HttpTransport, SyncError, SyncTransport, TransportError, WireBytes, sync_until_done,
};
use fengqiao_shared::vocab::{EventKind, Risk};
use fengqiao_tests::process::{DEV_TOKEN, ServerProcess};
use fengqiao_tests::proxy::{SeededRng, seed_from_env};
use fengqiao_tests::{Phone, T0, sample_dispute};

const BATCH_PHONES: usize = 6;
const WS_PEERS: usize = 2;
const DEFAULT_KILLS: usize = 30;
const VILLAGES: [&str; 4] = [
    "500110101001",
    "500110101002",
    "500110102007",
    "500110105020",
];

/// Consecutive failed attempts after which a phone gives up (and the test
/// fails): a real app backs off and tries again later, a test must end.
const MAX_FAILED_ATTEMPTS: u32 = 60;

/// Longest a WebSocket peer waits for an answer.
const WS_WAIT: Duration = Duration::from_secs(3);

/// What phones and peers share with the test.
#[derive(Default)]
struct Storm {
    /// The server's URL, `None` while it is down.
    url: RwLock<Option<String>>,
    /// Stop editing and finish.
    stop: AtomicBool,
    /// Batch phones are done: peers make their last sync.
    phones_done: AtomicBool,
    /// Peers that made their last upload.
    peers_uploaded: AtomicUsize,
    /// Every head the server reported as durable, per record.
    ledger: Mutex<HashMap<DocumentId, HashSet<[u8; 32]>>>,
    /// Records the server acknowledged, for peers to open.
    pool: Mutex<Vec<DocumentId>>,
    /// The note of every event added, per record (besides `reported`).
    events: Mutex<BTreeMap<DocumentId, Vec<String>>>,
    /// Exchanges in flight right now, and kills that caught one.
    in_flight: AtomicUsize,
    acknowledged_exchanges: AtomicU64,
}

impl Storm {
    fn url(&self) -> Option<String> {
        self.url.read().expect("url").clone()
    }

    fn set_url(&self, url: Option<String>) {
        *self.url.write().expect("url") = url;
    }

    fn acknowledge(&self, id: &DocumentId, heads: impl IntoIterator<Item = [u8; 32]>) {
        let mut ledger = self.ledger.lock().expect("ledger");
        let entry = ledger.entry(id.clone()).or_default();
        let fresh = entry.is_empty();
        entry.extend(heads);
        if fresh {
            self.pool.lock().expect("pool").push(id.clone());
        }
    }

    fn note_event(&self, id: &DocumentId, note: String) {
        self.events
            .lock()
            .expect("events")
            .entry(id.clone())
            .or_default()
            .push(note);
    }

    fn note_created(&self, id: &DocumentId) {
        self.events
            .lock()
            .expect("events")
            .entry(id.clone())
            .or_default();
    }
}

/// The HTTP transport, recording every acknowledgement in the ledger.
struct LedgerTransport<'a> {
    inner: HttpTransport,
    storm: &'a Storm,
}

impl SyncTransport for LedgerTransport<'_> {
    fn exchange(
        &mut self,
        request: &SyncRequest,
    ) -> Result<(SyncResponse, WireBytes), TransportError> {
        self.storm.in_flight.fetch_add(1, Ordering::SeqCst);
        let result = self.inner.exchange(request);
        self.storm.in_flight.fetch_sub(1, Ordering::SeqCst);
        if let Ok((response, _)) = &result {
            self.storm
                .acknowledged_exchanges
                .fetch_add(1, Ordering::Relaxed);
            for doc in &response.docs {
                assert!(
                    doc.error.is_none(),
                    "the server refused a valid record {}: {:?}",
                    doc.id,
                    doc.error
                );
                if !doc.heads.is_empty() {
                    self.storm
                        .acknowledge(&doc.id, doc.heads.iter().map(|h| h.0));
                }
            }
        }
        result
    }
}

fn pick<'a, T>(rng: &mut SeededRng, items: &'a [T]) -> &'a T {
    &items[rng.below(items.len() as u64) as usize]
}

// ---------------------------------------------------------------- batch phones

/// Who a batch phone is: the development token (every village), or an
/// enrolled device of a cadre or a town official limited to its scope.
#[derive(Clone)]
struct Identity {
    device: DeviceId,
    token: String,
    /// The villages it may write, hence creates records in.
    villages: Vec<&'static str>,
}

impl Identity {
    fn development() -> Self {
        Self {
            device: DeviceId::random(),
            token: DEV_TOKEN.to_owned(),
            villages: VILLAGES.to_vec(),
        }
    }

    /// Phones 0 and 1 use the development token; 2 and 3 are cadres of
    /// one village each, 4 and 5 officials of town 500110101.
    fn for_phone(server: &ServerProcess, index: usize) -> Self {
        let person = format!("cadre-{index}");
        let (role, scope, villages) = match index {
            0 | 1 => return Self::development(),
            2 | 3 => {
                let village = VILLAGES[index - 2];
                ("cadre", village, vec![village])
            }
            _ => ("town", "500110101", vec![VILLAGES[0], VILLAGES[1]]),
        };
        let (device, token) = server.enroll(&person, role, scope);
        Self {
            device,
            token,
            villages,
        }
    }

    fn holds(&self, village: &VillageCode) -> bool {
        self.villages.contains(&village.as_str())
    }
}

fn run_phone(index: usize, identity: Identity, storm: Arc<Storm>, mut rng: SeededRng) -> Phone {
    let cadre = format!("cadre-{index}");
    let mut phone = Phone::enrolled(&cadre, identity.device, &identity.token);
    let mut op = 0u64;
    while !storm.stop.load(Ordering::SeqCst) {
        op += 1;
        let author = Author::new(cadre.clone(), T0 + (op as i64) * 1000 + index as i64);
        let held = phone.replica.ids().expect("ids");
        if held.is_empty() || rng.percent(15) {
            let village = pick(&mut rng, &identity.villages);
            let id = phone.report(village, &format!("{cadre} 纠纷 {op}"), author.at);
            storm.note_created(&id);
        } else {
            let id = pick(&mut rng, &held).clone();
            let note = format!("{cadre}-{op}");
            let risk = *pick(&mut rng, &[Risk::Low, Risk::Medium, Risk::High]);
            let change_risk = rng.percent(10);
            phone
                .replica
                .edit(&id, |doc| {
                    if change_risk {
                        set_risk(doc, &author, risk)?;
                    }
                    add_event(
                        doc,
                        &author,
                        &NewEvent::new(EventKind::Note).with_note(note.clone()),
                    )
                })
                .expect("a valid edit");
            storm.note_event(&id, note);
        }
        sync_until_acknowledged(index, &mut phone, &storm, &mut rng);
        thread::sleep(Duration::from_millis(rng.below(30)));
    }
    phone
}

/// Syncs like the app does: on a network failure, back off and retry.
fn sync_until_acknowledged(index: usize, phone: &mut Phone, storm: &Storm, rng: &mut SeededRng) {
    let mut failures = 0u32;
    loop {
        let Some(url) = storm.url() else {
            // The server is down; the app waits for a connection.
            thread::sleep(Duration::from_millis(20));
            continue;
        };
        let mut transport = LedgerTransport {
            inner: HttpTransport::new(&url, phone.token.clone()),
            storm,
        };
        match sync_until_done(
            &phone.replica,
            &mut phone.client,
            &mut transport,
            500,
            |_| {},
        ) {
            Ok(report) => {
                assert_eq!(report.rejected(), 0, "phone {index}: a record was refused");
                return;
            }
            // Only the link may fail: a killed server answers nothing or
            // half an answer. An answer the server chose to give as an
            // error (even a retryable one) is a defect under test.
            Err(SyncError::Transport(
                e @ (TransportError::Network(_) | TransportError::BadResponse(_)),
            )) => {
                failures += 1;
                assert!(
                    failures < MAX_FAILED_ATTEMPTS,
                    "phone {index}: {failures} failed attempts in a row, last: {e}"
                );
                let backoff = 10u64 << failures.min(5);
                thread::sleep(Duration::from_millis(backoff + rng.below(backoff)));
            }
            Err(e) => panic!("phone {index}: sync failed for good: {e}"),
        }
    }
}

// ---------------------------------------------------------- WebSocket peers

/// Why a WebSocket session ended early; the peer reconnects.
#[derive(Debug)]
struct Dropped(String);

fn dropped(what: impl std::fmt::Display) -> Dropped {
    Dropped(what.to_string())
}

/// An automerge-repo peer holding its documents in memory.
struct WsPeer {
    name: String,
    peer: PeerId,
    docs: HashMap<DocumentId, AutoCommit>,
    storm: Arc<Storm>,
}

/// One connection of a peer: its socket and per-document sync states.
struct Session {
    connection: Connection,
    server: PeerId,
    states: HashMap<DocumentId, sync::State>,
}

impl WsPeer {
    async fn connect(&self, url: &str) -> Result<Session, Dropped> {
        let ws_url = format!(
            "{}/v1/ws?token={DEV_TOKEN}",
            url.replacen("http://", "ws://", 1)
        );
        let mut connection = Connection::connect(ws_url, Some(WS_WAIT))
            .await
            .map_err(dropped)?;
        let join = join_message(self.peer.clone(), Some(PeerMetadata::default()));
        let peer = connection
            .join(join, Some(WS_WAIT))
            .await
            .map_err(dropped)?;
        let session = Session {
            connection,
            server: peer.sender_id,
            states: HashMap::new(),
        };
        Ok(session)
    }

    /// Applies one message from the server, recording the heads it
    /// advertises. Returns the document it concerned.
    async fn apply(
        &mut self,
        session: &mut Session,
        message: RepoMessage,
    ) -> Result<Option<DocumentId>, Dropped> {
        match message {
            RepoMessage::Sync(m) => {
                let decoded = sync::Message::decode(&m.data).map_err(dropped)?;
                if !decoded.heads.is_empty() {
                    self.storm
                        .acknowledge(&m.document_id, decoded.heads.iter().map(|h| h.0));
                }
                let doc = self.docs.entry(m.document_id.clone()).or_default();
                let state = session.states.entry(m.document_id.clone()).or_default();
                doc.sync()
                    .receive_sync_message(state, decoded)
                    .map_err(dropped)?;
                if let Some(reply) = doc.sync().generate_sync_message(state) {
                    let reply = sync_message(&self.peer, &session.server, &m.document_id, reply);
                    session.send(&reply).await?;
                }
                Ok(Some(m.document_id))
            }
            RepoMessage::DocUnavailable(m) => panic!(
                "{}: the server has no record {} although it acknowledged it",
                self.name, m.document_id
            ),
            // A killed server sends nothing; an `error` is the server
            // refusing a valid peer, never a transport failure to retry.
            RepoMessage::Error(e) => {
                panic!("{}: the server sent an error: {}", self.name, e.message)
            }
            _ => Ok(None),
        }
    }

    /// Syncs one document until the server holds what the peer holds and
    /// has nothing more to say.
    async fn sync_doc(&mut self, session: &mut Session, id: &DocumentId) -> Result<(), Dropped> {
        let requesting = !self.docs.contains_key(id);
        let doc = self.docs.entry(id.clone()).or_default();
        let state = session.states.entry(id.clone()).or_default();
        if let Some(message) = doc.sync().generate_sync_message(state) {
            let message = if requesting {
                request_message(&self.peer, &session.server, id, message)
            } else {
                sync_message(&self.peer, &session.server, id, message)
            };
            session.send(&message).await?;
        }
        let deadline = tokio::time::Instant::now() + WS_WAIT * 2;
        loop {
            let doc = self.docs.get_mut(id).expect("held");
            let state = session.states.entry(id.clone()).or_default();
            let heads = doc.get_heads();
            if state.their_heads.as_deref() == Some(&heads[..]) && !heads.is_empty() {
                match doc.sync().generate_sync_message(state) {
                    None => return Ok(()),
                    Some(message) => {
                        let message = sync_message(&self.peer, &session.server, id, message);
                        session.send(&message).await?;
                    }
                }
            }
            if tokio::time::Instant::now() > deadline {
                return Err(dropped(format!("{id} did not settle")));
            }
            let message = session.recv().await?;
            self.apply(session, message).await?;
        }
    }

    /// Takes pushes for documents the peer has open, briefly.
    async fn drain(&mut self, session: &mut Session) -> Result<(), Dropped> {
        while let Ok(message) = tokio::time::timeout(Duration::from_millis(5), session.recv()).await
        {
            let message = message?;
            self.apply(session, message).await?;
        }
        Ok(())
    }

    /// One random edit, then its sync.
    async fn step(
        &mut self,
        session: &mut Session,
        rng: &mut SeededRng,
        op: u64,
    ) -> Result<(), Dropped> {
        let author = Author::new(self.name.clone(), T0 + (op as i64) * 1000 + 500);
        let held: Vec<DocumentId> = self.docs.keys().cloned().collect();
        let id = if held.is_empty() || rng.percent(15) {
            let id = DocumentId::random();
            let mut doc = AutoCommit::new();
            let village = pick(rng, &VILLAGES);
            record::create_dispute(
                &mut doc,
                &author,
                &sample_dispute(village, &format!("{} 纠纷 {op}", self.name)),
            )
            .expect("dispute created");
            self.docs.insert(id.clone(), doc);
            self.storm.note_created(&id);
            id
        } else if rng.percent(20)
            && let Some(id) = {
                let pool = self.storm.pool.lock().expect("pool");
                (!pool.is_empty()).then(|| pick(rng, &pool).clone())
            }
            && !self.docs.contains_key(&id)
        {
            // Open a record someone else created: it must be there.
            self.sync_doc(session, &id).await?;
            id
        } else {
            let id = pick(rng, &held).clone();
            let note = format!("{}-{op}", self.name);
            let doc = self.docs.get_mut(&id).expect("held");
            add_event(
                doc,
                &author,
                &NewEvent::new(EventKind::Note).with_note(note.clone()),
            )
            .expect("a valid edit");
            self.storm.note_event(&id, note);
            id
        };
        self.sync_doc(session, &id).await?;
        self.drain(session).await
    }

    async fn run(mut self, mut rng: SeededRng) -> HashMap<DocumentId, AutoCommit> {
        let mut op = 0u64;
        let mut failures = 0u32;
        // Edit while the storm lasts.
        while !self.storm.stop.load(Ordering::SeqCst) {
            let Some(url) = self.storm.url() else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            let outcome = async {
                let mut session = self.connect(&url).await?;
                // A new connection starts every sync afresh: tell the
                // server about every held document.
                let held: Vec<DocumentId> = self.docs.keys().cloned().collect();
                for id in &held {
                    self.sync_doc(&mut session, id).await?;
                }
                while !self.storm.stop.load(Ordering::SeqCst) {
                    op += 1;
                    self.step(&mut session, &mut rng, op).await?;
                    failures = 0;
                    tokio::time::sleep(Duration::from_millis(rng.below(30))).await;
                }
                Ok::<(), Dropped>(())
            }
            .await;
            if let Err(Dropped(why)) = outcome {
                failures += 1;
                assert!(
                    failures < MAX_FAILED_ATTEMPTS,
                    "{}: {failures} failed sessions in a row, last: {why}",
                    self.name
                );
                tokio::time::sleep(Duration::from_millis(10u64 << failures.min(5))).await;
            }
        }
        // Once the phones have uploaded everything, every peer uploads what
        // it has left; once all have, each takes in the final state of
        // every held document on a fresh connection.
        while !self.storm.phones_done.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for pass in 0..2 {
            let url = self.storm.url().expect("the server is up at the end");
            let mut session = self.connect(&url).await.expect("final connection");
            let held: Vec<DocumentId> = self.docs.keys().cloned().collect();
            for id in &held {
                self.sync_doc(&mut session, id).await.expect("final sync");
            }
            if pass == 0 {
                self.storm.peers_uploaded.fetch_add(1, Ordering::SeqCst);
                while self.storm.peers_uploaded.load(Ordering::SeqCst) < WS_PEERS {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        self.docs
    }
}

impl Session {
    async fn send(&mut self, message: &RepoMessage) -> Result<(), Dropped> {
        self.connection.send(message).await.map_err(dropped)
    }

    async fn recv(&mut self) -> Result<RepoMessage, Dropped> {
        match self.connection.recv_within(WS_WAIT).await {
            Ok(Some(Received::Message(message))) => Ok(message),
            Ok(Some(Received::Closed(code))) => Err(dropped(format!("closed ({code:?})"))),
            Ok(None) => Err(dropped("no answer in time")),
            Err(e) => Err(dropped(e)),
        }
    }
}

fn run_ws_peer(index: usize, storm: Arc<Storm>, rng: SeededRng) -> HashMap<DocumentId, AutoCommit> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("peer runtime");
    let name = format!("ws-peer-{index}");
    let peer = WsPeer {
        peer: PeerId::new(name.as_str()).expect("peer id"),
        name,
        docs: HashMap::new(),
        storm,
    };
    runtime.block_on(peer.run(rng))
}

// ------------------------------------------------------------ the store

fn sorted(mut heads: Vec<[u8; 32]>) -> Vec<[u8; 32]> {
    heads.sort();
    heads
}

/// Opens the store of a killed server, with no repair step.
fn open_store(store: &Path) -> SledStorage {
    SledStorage::open(&StorageConfig::new(store))
        .expect("the store opens after SIGKILL, with no repair step")
}

/// Checks the store of a killed server against the ledger; returns the
/// indexed projection of every stored record.
fn check_store(
    storage: &dyn Storage,
    ledger: &HashMap<DocumentId, HashSet<[u8; 32]>>,
) -> BTreeMap<DocumentId, Summary> {
    let mut summaries = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = storage.feed_after(after, None, 256).expect("feed reads");
        for entry in &page.entries {
            let meta = storage
                .doc_meta(&entry.id)
                .expect("reads")
                .expect("a record in the feed has metadata");
            let stored = storage
                .load_document(&entry.id)
                .expect("reads")
                .expect("a record in the feed has content");
            let mut doc =
                AutoCommit::load(&stored.concatenated()).expect("a stored record loads whole");
            let heads = doc.get_heads().iter().map(|h| h.0).collect();
            assert_eq!(
                sorted(meta.heads.clone()),
                sorted(heads),
                "stored heads of {} are not its document's",
                entry.id
            );
            // Every change acknowledged before the crash is in it.
            for head in ledger.get(&entry.id).into_iter().flatten() {
                assert!(
                    doc.get_change_by_hash(&ChangeHash(*head)).is_some(),
                    "record {} lost an acknowledged change in a crash",
                    entry.id
                );
            }
            let expected = Record::read(&doc)
                .expect("a stored record is a record")
                .summary(entry.id.clone());
            let indexed = storage
                .summary(&entry.id)
                .expect("reads")
                .expect("a stored record is indexed");
            assert_eq!(
                indexed, expected,
                "the index of {} does not match its document",
                entry.id
            );
            summaries.insert(entry.id.clone(), indexed);
        }
        if page.entries.len() < 256 {
            break;
        }
        after = page.through_seq;
    }
    for id in ledger.keys() {
        assert!(
            summaries.contains_key(id),
            "acknowledged record {id} is missing after a crash"
        );
    }
    // The projection index of the district holds exactly those summaries:
    // none of a record that is not stored, none twice.
    let district = Scope::parse("500110").expect("district");
    let mut listed = BTreeMap::new();
    let mut from: Option<ProjectionKey> = None;
    loop {
        let page = storage
            .summaries_in_scope(&district, from.as_ref(), 256)
            .expect("summaries read");
        for summary in &page {
            assert!(
                listed.insert(summary.id.clone(), summary.clone()).is_none(),
                "record {} is indexed twice",
                summary.id
            );
        }
        match page.last() {
            Some(last) if page.len() == 256 => from = Some(ProjectionKey::of(last)),
            _ => break,
        }
    }
    assert_eq!(
        listed, summaries,
        "the projection index does not match the stored records"
    );
    summaries
}

// ------------------------------------------------------------- the test

fn heads_of(doc: &mut AutoCommit) -> Vec<[u8; 32]> {
    sorted(doc.get_heads().iter().map(|h| h.0).collect())
}

#[test]
fn sigkill_during_a_sync_storm_loses_no_acknowledged_change() {
    let kills: usize = std::env::var("FENGQIAO_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(DEFAULT_KILLS);
    let mut rng = SeededRng::new(seed_from_env("FENGQIAO_CRASH_SEED"));
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().join("data");
    let store = data.join("store");
    let started = Instant::now();

    let mut server = ServerProcess::start(&data);
    server.import_test_org();
    let storm = Arc::new(Storm::default());
    storm.set_url(Some(server.url()));

    let identities: Vec<Identity> = (0..BATCH_PHONES)
        .map(|i| Identity::for_phone(&server, i))
        .collect();
    let phones: Vec<_> = identities
        .iter()
        .enumerate()
        .map(|(i, identity)| {
            let (identity, storm, rng) = (identity.clone(), storm.clone(), rng.fork());
            thread::spawn(move || run_phone(i, identity, storm, rng))
        })
        .collect();
    let peers: Vec<_> = (0..WS_PEERS)
        .map(|i| {
            let (storm, rng) = (storm.clone(), rng.fork());
            thread::spawn(move || run_ws_peer(i, storm, rng))
        })
        .collect();

    let mut caught_mid_request = 0;
    for kill in 0..kills {
        thread::sleep(Duration::from_millis(rng.between(30, 700)));
        if storm.in_flight.load(Ordering::SeqCst) > 0 {
            caught_mid_request += 1;
        }
        server.kill();
        storm.set_url(None);
        let checking = Instant::now();
        let ledger = storm.ledger.lock().expect("ledger").clone();
        let records = check_store(&open_store(&store), &ledger);
        let checked = checking.elapsed();
        server = ServerProcess::start(&data);
        storm.set_url(Some(server.url()));
        eprintln!(
            "kill {}/{kills}: {} records stored, {} acknowledged records whole \
             (checked in {checked:?}, restarted in {:?})",
            kill + 1,
            records.len(),
            ledger.len(),
            checking.elapsed() - checked
        );
    }

    // The storm ends; everyone syncs what they have left.
    let ending = Instant::now();
    storm.stop.store(true, Ordering::SeqCst);
    let mut phones: Vec<Phone> = phones
        .into_iter()
        .map(|p| p.join().expect("phone thread"))
        .collect();
    eprintln!("phones finished in {:?}", ending.elapsed());
    storm.phones_done.store(true, Ordering::SeqCst);
    let peers: Vec<HashMap<DocumentId, AutoCommit>> = peers
        .into_iter()
        .map(|p| p.join().expect("peer thread"))
        .collect();
    eprintln!("peers finished in {:?}", ending.elapsed());
    let url = server.url();
    for phone in &mut phones {
        let mut transport = LedgerTransport {
            inner: HttpTransport::new(&url, phone.token.clone()),
            storm: &storm,
        };
        sync_until_done(
            &phone.replica,
            &mut phone.client,
            &mut transport,
            500,
            |_| {},
        )
        .expect("final sync");
    }
    server.kill();
    let ledger = storm.ledger.lock().expect("ledger").clone();
    let storage = open_store(&store);
    let stored = check_store(&storage, &ledger);

    eprintln!(
        "{kills} kills ({caught_mid_request} with a request in flight) in {:?}; \
         {} acknowledged exchanges; {} records",
        started.elapsed(),
        storm.acknowledged_exchanges.load(Ordering::Relaxed),
        stored.len()
    );
    assert!(caught_mid_request > 0, "no kill caught a request in flight");
    assert!(!ledger.is_empty(), "nothing was acknowledged");

    // No lost records: every record anyone created is stored.
    let events = storm.events.lock().expect("events").clone();
    for id in events.keys() {
        assert!(stored.contains_key(id), "record {id} was lost");
    }

    // Every phone holds exactly the server's records of its scope, their
    // documents and projections.
    for (index, phone) in phones.iter().enumerate() {
        let identity = &identities[index];
        let in_scope: BTreeMap<&DocumentId, &Summary> = stored
            .iter()
            .filter(|(_, summary)| identity.holds(&summary.village))
            .collect();
        let mut ids = phone.replica.ids().expect("ids");
        ids.sort();
        assert_eq!(
            ids.iter().collect::<Vec<_>>(),
            in_scope.keys().copied().collect::<Vec<_>>(),
            "phone {index} holds other records than the server's of its scope"
        );
        assert!(phone.replica.dirty().expect("dirty").is_empty());
        for (&id, &summary) in &in_scope {
            let mut doc = phone.replica.document(id).expect("reads").expect("held");
            let meta = storage.doc_meta(id).expect("reads").expect("stored");
            assert_eq!(
                heads_of(&mut doc),
                sorted(meta.heads),
                "phone {index}, {id}"
            );
            let on_phone = phone.replica.state(id).expect("state").summary;
            assert_eq!(on_phone.as_ref(), Some(summary), "phone {index}, {id}");
        }
    }
    for (index, docs) in peers.into_iter().enumerate() {
        for (id, mut doc) in docs {
            let meta = storage.doc_meta(&id).expect("reads").expect("stored");
            assert_eq!(heads_of(&mut doc), sorted(meta.heads), "peer {index}, {id}");
            let summary = Record::read(&doc).expect("a record").summary(id.clone());
            assert_eq!(Some(&summary), stored.get(&id), "peer {index}, {id}");
        }
    }

    // Each event is in its timeline exactly once.
    let phone = &phones[0];
    for (id, notes) in &events {
        let Record::Dispute(dispute) = phone.replica.record(id).expect("held") else {
            panic!("{id} is not a dispute");
        };
        let mut seen: Vec<String> = dispute
            .events
            .iter()
            .filter_map(|e| e.note.clone())
            .collect();
        let mut expected = notes.clone();
        seen.sort();
        expected.sort();
        assert_eq!(
            dispute.events.len(),
            notes.len() + 1,
            "{id}: the timeline is the report plus each event once"
        );
        assert_eq!(seen, expected, "{id}: events lost or repeated");
    }
}
