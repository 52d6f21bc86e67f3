//! One run of W1–W4 against one system.
//!
//! Every run starts its server on a fresh data directory and keeps it up
//! for all four workloads, in order:
//!
//! - **W1 upload**: client A creates N records (not timed) and syncs them.
//! - **W2 bootstrap**: client B, with empty storage, gets all N. WebSocket
//!   clients know the N document ids (as an automerge-repo app knows its
//!   URLs) and `request` each; the batch phone just syncs.
//! - **W3 idle reconnect**: B restarts on its storage and syncs; nothing
//!   changed anywhere.
//! - **W4 partial reconnect**: while B is offline, A adds a mediation event
//!   to 100 of the records and syncs them (not timed); B restarts on its
//!   storage and syncs.
//!
//! If a workload times out or fails, the rest of the run is skipped and the
//! server is stopped.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, ChangeHash};
use fengqiao_protocol::{DeviceId, DocumentId};
use fengqiao_shared::replica::Replica;
use fengqiao_shared::replica::http::{HttpTransport, SyncReport, sync_until_done};
use fengqiao_shared::replica::sync::SyncClient;

use super::measure::{Measurement, Outcome, Traffic};
use super::process::{FENGQIAO_TOKEN, Launch, ServerProcess};
use super::records::{CHANGED_ELSEWHERE, edit_elsewhere, write_record};
use super::ws_client::{ClientDoc, ClientStore, Target, sync_targets};

/// The four workloads, in run order.
pub const WORKLOADS: [&str; 4] = [
    "W1 upload",
    "W2 bootstrap",
    "W3 idle reconnect",
    "W4 partial reconnect",
];

/// What every run shares.
#[derive(Debug, Clone)]
pub struct Settings {
    pub records: usize,
    pub timeout: Duration,
    pub window: usize,
    /// On PostgreSQL, also count the database's transactions, WAL flushes
    /// and key lookups per workload (waits for the statistics to settle
    /// before and after each workload, outside its clock).
    pub db_counters: bool,
}

/// Longer than PostgreSQL's interval for idle sessions' statistics
/// (`PGSTAT_IDLE_INTERVAL`, 10 s).
const STATS_SETTLE: Duration = Duration::from_secs(11);

/// The result of one run: one measurement per workload, and the total
/// saved size of the records synced (`save()` of each, summed).
pub struct RunResult {
    pub workloads: Vec<Measurement>,
    pub saved_bytes: u64,
}

/// Measures `work` against `server`: CPU and peak memory deltas, the data
/// directory afterwards, the load when it started.
fn measured(
    server: &mut ServerProcess,
    settings: &Settings,
    work: impl FnOnce() -> Result<Traffic, Outcome>,
) -> Measurement {
    let count = settings.db_counters && server.on_postgres();
    let counters_before = if count {
        std::thread::sleep(STATS_SETTLE);
        server.db_counters()
    } else {
        None
    };
    let load = super::process::load_average();
    server.reset_peak();
    let on_postgres = server.on_postgres();
    let database = || {
        if on_postgres {
            fengqiao_bench::pg::postgres_cpu_seconds().unwrap_or(f64::NAN)
        } else {
            f64::NAN
        }
    };
    let db = database();
    let cpu = server.cpu_seconds();
    let result = work();
    let server_cpu = server.cpu_seconds() - cpu;
    let db_cpu = database() - db;
    let db_counters = counters_before.and_then(|before| {
        std::thread::sleep(STATS_SETTLE);
        Some(server.db_counters()?.since(&before))
    });
    let server_peak_kib = server.peak_rss_kib();
    let data_bytes = server.data_bytes();
    let outcome = match (&result, server.alive()) {
        (Ok(_), true) => Outcome::Done,
        (Ok(_), false) => Outcome::Failed("the server exited".to_owned()),
        (Err(outcome), _) => outcome.clone(),
    };
    Measurement {
        outcome,
        traffic: result.unwrap_or_default(),
        server_cpu,
        db_cpu,
        db_counters,
        server_peak_kib,
        data_bytes,
        load,
    }
}

/// Fills the workloads not run after a failure.
fn finish(mut workloads: Vec<Measurement>, saved_bytes: u64) -> RunResult {
    while workloads.len() < WORKLOADS.len() {
        workloads.push(Measurement::not_done(Outcome::Skipped));
    }
    RunResult {
        workloads,
        saved_bytes,
    }
}

// ---------------------------------------------------------------------------
// WebSocket systems: the reference server, samod, Fengqiao's `/v1/ws`.

/// Runs W1–W4 with the protocol "1" client.
pub fn run_websocket(launch: &Launch, settings: &Settings, scratch: &Path) -> RunResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut server = match ServerProcess::start(launch, &scratch.join("server")) {
        Ok(server) => server,
        Err(e) => return finish(vec![Measurement::not_done(Outcome::Failed(e))], 0),
    };
    let url = server.ws_url();
    let n = settings.records;

    let mut writer = ClientStore::new("writer");
    let mut order = Vec::with_capacity(n);
    let mut saved_bytes = 0;
    for i in 0..n {
        let mut doc = AutoCommit::new();
        write_record(&mut doc, i);
        saved_bytes += doc.save().len() as u64;
        let id = DocumentId::random();
        order.push(id.clone());
        writer.docs.insert(
            id,
            ClientDoc {
                doc,
                state: sync::State::new(),
            },
        );
    }
    let mut expected: HashMap<DocumentId, Vec<ChangeHash>> = writer
        .docs
        .iter_mut()
        .map(|(id, entry)| (id.clone(), entry.doc.get_heads()))
        .collect();
    let targets = |expected: &HashMap<DocumentId, Vec<ChangeHash>>, ids: &[DocumentId]| {
        ids.iter()
            .map(|id| Target {
                id: id.clone(),
                expected: expected[id].clone(),
            })
            .collect::<Vec<_>>()
    };
    let sync = |store: &mut ClientStore, targets: Vec<Target>| {
        runtime.block_on(async {
            let deadline = tokio::time::Instant::now() + settings.timeout;
            sync_targets(&url, store, targets, settings.window, deadline).await
        })
    };
    let mut workloads = Vec::new();

    // W1: upload.
    let w1 = measured(&mut server, settings, || {
        sync(&mut writer, targets(&expected, &order))
    });
    let ok = w1.done();
    workloads.push(w1);
    if !ok {
        server.stop();
        return finish(workloads, saved_bytes);
    }

    // W2: bootstrap into empty storage.
    let mut reader = ClientStore::new("reader");
    let w2 = measured(&mut server, settings, || {
        sync(&mut reader, targets(&expected, &order))
    });
    let ok = w2.done();
    workloads.push(w2);
    let reader_dir = scratch.join("reader");
    if !ok || reader.save(&reader_dir).is_err() {
        server.stop();
        return finish(workloads, saved_bytes);
    }
    drop(reader);

    // W3: restart on storage, nothing changed.
    let Ok(mut reader) = ClientStore::load(&reader_dir) else {
        server.stop();
        return finish(workloads, saved_bytes);
    };
    let w3 = measured(&mut server, settings, || {
        sync(&mut reader, targets(&expected, &order))
    });
    let ok = w3.done();
    workloads.push(w3);
    if !ok || reader.save(&reader_dir).is_err() {
        server.stop();
        return finish(workloads, saved_bytes);
    }
    drop(reader);

    // W4: 100 records change elsewhere, then the reader reconnects.
    writer.reset_sync_states();
    let changed: Vec<DocumentId> = order
        .iter()
        .step_by((n / CHANGED_ELSEWHERE).max(1))
        .take(CHANGED_ELSEWHERE)
        .cloned()
        .collect();
    for id in &changed {
        let i = order.iter().position(|o| o == id).unwrap_or(0);
        let entry = writer.docs.get_mut(id).expect("the writer holds it");
        edit_elsewhere(&mut entry.doc, i);
        expected.insert(id.clone(), entry.doc.get_heads());
    }
    if let Err(outcome) = sync(&mut writer, targets(&expected, &changed)) {
        workloads.push(Measurement::not_done(outcome));
        server.stop();
        return finish(workloads, saved_bytes);
    }
    let Ok(mut reader) = ClientStore::load(&reader_dir) else {
        server.stop();
        return finish(workloads, saved_bytes);
    };
    let w4 = measured(&mut server, settings, || {
        sync(&mut reader, targets(&expected, &order))
    });
    workloads.push(w4);
    server.stop();
    finish(workloads, saved_bytes)
}

// ---------------------------------------------------------------------------
// Fengqiao's batch door: phones with their replica on disk.

/// Runs `work` on its own thread; `None` if it takes longer than
/// `timeout` (the thread is left to fail once the server is stopped).
fn within<T: Send + 'static>(
    timeout: Duration,
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    result.recv_timeout(timeout).ok()
}

/// Syncs `phone` until the server has nothing more.
fn phone_sync(
    phone: &Arc<Replica>,
    url: &str,
    timeout: Duration,
) -> Result<(Traffic, SyncReport), Outcome> {
    let phone = phone.clone();
    let url = url.to_owned();
    let started = Instant::now();
    let report = within(timeout, move || {
        let mut client = SyncClient::default();
        let mut transport = HttpTransport::new(&url, FENGQIAO_TOKEN);
        sync_until_done(&phone, &mut client, &mut transport, 100_000, |_| {})
    })
    .ok_or_else(|| Outcome::TimedOut(format!("after {} s", timeout.as_secs())))?
    .map_err(|e| Outcome::Failed(e.to_string()))?;
    let traffic = Traffic {
        wall: started.elapsed(),
        bytes_up: report.bytes.up,
        bytes_down: report.bytes.down,
        messages_up: report.rounds as u64,
        messages_down: report.rounds as u64,
        round_trips: report.rounds as u64,
    };
    Ok((traffic, report))
}

fn open_phone(dir: &Path, device: DeviceId) -> Result<Arc<Replica>, Outcome> {
    Replica::open(dir, device)
        .map(Arc::new)
        .map_err(|e| Outcome::Failed(format!("phone storage: {e}")))
}

/// Runs W1–W4 with batch-syncing phones.
pub fn run_batch(launch: &Launch, settings: &Settings, scratch: &Path) -> RunResult {
    let mut server = match ServerProcess::start(launch, &scratch.join("server")) {
        Ok(server) => server,
        Err(e) => return finish(vec![Measurement::not_done(Outcome::Failed(e))], 0),
    };
    let url = server.url.clone();
    let n = settings.records;
    let mut workloads = Vec::new();

    let writer_device = DeviceId::random();
    let writer = match open_phone(&scratch.join("phone-a"), writer_device) {
        Ok(phone) => phone,
        Err(outcome) => return finish(vec![Measurement::not_done(outcome)], 0),
    };
    let mut ids = Vec::with_capacity(n);
    let mut saved_bytes = 0;
    for i in 0..n {
        let id = writer
            .create(|doc| {
                write_record(doc, i);
                saved_bytes += doc.save().len() as u64;
                Ok::<_, String>(())
            })
            .expect("the phone stores a valid record");
        ids.push(id);
    }

    // W1: upload.
    let w1 = measured(&mut server, settings, || {
        phone_sync(&writer, &url, settings.timeout).map(|(t, _)| t)
    });
    let ok = w1.done();
    workloads.push(w1);
    if !ok {
        server.stop();
        return finish(workloads, saved_bytes);
    }

    // W2: bootstrap into an empty replica.
    let reader_dir = scratch.join("phone-b");
    let reader_device = DeviceId::random();
    let w2 = measured(&mut server, settings, || {
        let reader = open_phone(&reader_dir, reader_device)?;
        let (traffic, _) = phone_sync(&reader, &url, settings.timeout)?;
        let held = reader.ids().map_err(|e| Outcome::Failed(e.to_string()))?;
        if held.len() != n {
            return Err(Outcome::Failed(format!(
                "bootstrap brought {} of {n}",
                held.len()
            )));
        }
        Ok(traffic)
    });
    let ok = w2.done();
    workloads.push(w2);
    if !ok {
        server.stop();
        return finish(workloads, saved_bytes);
    }

    // W3: restart on storage (the replica is closed and opened again),
    // nothing changed. The clock includes opening the replica.
    let w3 = measured(&mut server, settings, || {
        let reader = open_phone(&reader_dir, reader_device)?;
        let (traffic, report) = phone_sync(&reader, &url, settings.timeout)?;
        if report.received() != 0 {
            return Err(Outcome::Failed(format!(
                "an idle reconnect received {} records",
                report.received()
            )));
        }
        Ok(traffic)
    });
    let ok = w3.done();
    workloads.push(w3);
    if !ok {
        server.stop();
        return finish(workloads, saved_bytes);
    }

    // W4: 100 records change on the writer's phone and sync; then the
    // reader reconnects.
    for (i, id) in ids
        .iter()
        .enumerate()
        .step_by((n / CHANGED_ELSEWHERE).max(1))
        .take(CHANGED_ELSEWHERE)
    {
        writer
            .edit(id, |doc| {
                edit_elsewhere(doc, i);
                Ok::<_, String>(())
            })
            .expect("the writer's edit is valid");
    }
    if let Err(outcome) = phone_sync(&writer, &url, settings.timeout) {
        workloads.push(Measurement::not_done(outcome));
        server.stop();
        return finish(workloads, saved_bytes);
    }
    let w4 = measured(&mut server, settings, || {
        let reader = open_phone(&reader_dir, reader_device)?;
        let (traffic, report) = phone_sync(&reader, &url, settings.timeout)?;
        let expected = CHANGED_ELSEWHERE.min(n);
        if report.received() != expected {
            return Err(Outcome::Failed(format!(
                "the reconnect received {} records, expected {expected}",
                report.received()
            )));
        }
        Ok(traffic)
    });
    workloads.push(w4);
    server.stop();
    finish(workloads, saved_bytes)
}

// ---------------------------------------------------------------------------
// The floor: Automerge sync in process, no network, no storage.

/// One record on both sides of an in-process sync.
struct Pair {
    client: AutoCommit,
    server: AutoCommit,
    client_state: sync::State,
    server_state: sync::State,
}

/// Syncs one pair until neither side has anything to say; the client
/// speaks first. Returns (bytes client→server, bytes server→client,
/// messages client→server, messages server→client).
fn sync_pair(pair: &mut Pair) -> [u64; 4] {
    let mut counts = [0u64; 4];
    for _ in 0..16 {
        let mut quiet = true;
        if let Some(m) = pair
            .client
            .sync()
            .generate_sync_message(&mut pair.client_state)
        {
            quiet = false;
            let bytes = m.encode();
            counts[0] += bytes.len() as u64;
            counts[2] += 1;
            let m = sync::Message::decode(&bytes).expect("own encoding");
            pair.server
                .sync()
                .receive_sync_message(&mut pair.server_state, m)
                .expect("valid message");
        }
        if let Some(m) = pair
            .server
            .sync()
            .generate_sync_message(&mut pair.server_state)
        {
            quiet = false;
            let bytes = m.encode();
            counts[1] += bytes.len() as u64;
            counts[3] += 1;
            let m = sync::Message::decode(&bytes).expect("own encoding");
            pair.client
                .sync()
                .receive_sync_message(&mut pair.client_state, m)
                .expect("valid message");
        }
        if quiet {
            break;
        }
    }
    counts
}

/// Syncs every pair, spread over the machine's cores.
fn sync_all(pairs: &mut [Pair]) -> Traffic {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let chunk = pairs.len().div_ceil(threads).max(1);
    let started = Instant::now();
    let totals: Vec<[u64; 5]> = std::thread::scope(|scope| {
        let handles: Vec<_> = pairs
            .chunks_mut(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut t = [0u64; 5];
                    for pair in part {
                        let c = sync_pair(pair);
                        for k in 0..4 {
                            t[k] += c[k];
                        }
                        t[4] = t[4].max(c[2]);
                    }
                    t
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("sync thread"))
            .collect()
    });
    let wall = started.elapsed();
    let sum = |k: usize| totals.iter().map(|t| t[k]).sum::<u64>();
    Traffic {
        wall,
        bytes_up: sum(0),
        bytes_down: sum(1),
        messages_up: sum(2),
        messages_down: sum(3),
        round_trips: totals.iter().map(|t| t[4]).max().unwrap_or(0),
    }
}

fn floor_measurement(traffic: Traffic) -> Measurement {
    Measurement {
        outcome: Outcome::Done,
        traffic,
        server_cpu: f64::NAN,
        db_cpu: f64::NAN,
        db_counters: None,
        server_peak_kib: 0,
        data_bytes: 0,
        load: super::process::load_average(),
    }
}

fn restart(state: &sync::State) -> sync::State {
    sync::State::decode(&state.encode()).expect("own encoding")
}

/// Runs W1–W4 in process.
pub fn run_floor(settings: &Settings) -> RunResult {
    let n = settings.records;
    let mut saved_bytes = 0;
    let mut pairs: Vec<Pair> = (0..n)
        .map(|i| {
            let mut client = AutoCommit::new();
            write_record(&mut client, i);
            saved_bytes += client.save().len() as u64;
            Pair {
                client,
                server: AutoCommit::new(),
                client_state: sync::State::new(),
                server_state: sync::State::new(),
            }
        })
        .collect();
    let mut workloads = vec![floor_measurement(sync_all(&mut pairs))];

    // W2: a fresh client against the server's copies.
    for pair in &mut pairs {
        pair.client = AutoCommit::new();
        pair.client_state = sync::State::new();
        pair.server_state = sync::State::new();
    }
    workloads.push(floor_measurement(sync_all(&mut pairs)));

    // W3: both sides restart with only their shared heads.
    for pair in &mut pairs {
        pair.client_state = restart(&pair.client_state);
        pair.server_state = restart(&pair.server_state);
    }
    workloads.push(floor_measurement(sync_all(&mut pairs)));

    // W4: 100 records change on the server's side.
    for (i, pair) in pairs
        .iter_mut()
        .enumerate()
        .step_by((n / CHANGED_ELSEWHERE).max(1))
        .take(CHANGED_ELSEWHERE)
    {
        edit_elsewhere(&mut pair.server, i);
    }
    for pair in &mut pairs {
        pair.client_state = restart(&pair.client_state);
        pair.server_state = restart(&pair.server_state);
    }
    workloads.push(floor_measurement(sync_all(&mut pairs)));
    RunResult {
        workloads,
        saved_bytes,
    }
}
