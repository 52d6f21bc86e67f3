//! Network faults: phones sync through a link that loses, delays,
//! duplicates, replays, reorders, truncates, resets and stalls — and
//! nothing is lost, nothing is applied twice, and everyone converges
//! (docs/RELIABILITY.md).
//!
//! The link is [`fengqiao_tests::proxy::Proxy`] on 127.0.0.1 in front of
//! an in-process server. Faults are drawn from a seed
//! (`FENGQIAO_FAULT_SEED` replays a run). Phones retry like the app does:
//! on a network error or an answer cut short they back off and sync again,
//! a bounded number of times. The server itself must answer every request
//! that reaches it whole with 200, the link's late and repeated copies
//! included; the test waits for every copy to be answered before it looks.
//! Phones sync with the development token and as enrolled town and cadre
//! devices limited to their scope.

use std::collections::BTreeMap;
use std::thread;
use std::time::Duration;

use fengqiao_protocol::DocumentId;
use fengqiao_protocol::batch::{SyncRequest, SyncResponse};
use fengqiao_shared::access::Role;
use fengqiao_shared::record::Record;
use fengqiao_shared::replica::http::{
    HttpTransport, SyncError, SyncReport, SyncTransport, TransportError, WireBytes, sync_until_done,
};
use fengqiao_shared::replica::sync::{SyncClient, SyncOptions};
use fengqiao_shared::vocab::EventKind;
use fengqiao_tests::proxy::{Fault, FaultPlan, Proxy, SeededRng, seed_from_env};
use fengqiao_tests::{Phone, T0, TOKEN, TestServer};

const VILLAGES: [&str; 3] = ["500110101001", "500110101002", "500110103010"];

/// Attempts a phone makes before it gives up (and the test fails).
const MAX_ATTEMPTS: u32 = 40;

/// Longest wait for the link's late copies to reach the server.
const REPLAYS_LAND: Duration = Duration::from_secs(20);

/// Syncs until done, retrying failed attempts with backoff like the app.
/// Returns the number of failed attempts.
fn sync_retrying(phone: &mut Phone, url: &str, rng: &mut SeededRng) -> u32 {
    let mut transport = HttpTransport::new(url, phone.token.clone());
    sync_retrying_over(phone, &mut transport, rng)
}

fn sync_retrying_over(
    phone: &mut Phone,
    transport: &mut dyn SyncTransport,
    rng: &mut SeededRng,
) -> u32 {
    let mut failures = 0;
    loop {
        match sync_until_done(&phone.replica, &mut phone.client, transport, 1000, |_| {}) {
            Ok(report) => {
                assert_eq!(
                    report.rejected(),
                    0,
                    "{}: a record was refused",
                    phone.cadre
                );
                return failures;
            }
            // The link fails, the server does not: an error the server
            // answers with is a defect under test, not a fault to retry.
            Err(SyncError::Transport(
                e @ (TransportError::Network(_) | TransportError::BadResponse(_)),
            )) => {
                failures += 1;
                assert!(
                    failures < MAX_ATTEMPTS,
                    "{}: {failures} failed attempts, last: {e}",
                    phone.cadre
                );
                let backoff = 5u64 << failures.min(5);
                thread::sleep(Duration::from_millis(backoff + rng.below(backoff)));
            }
            Err(e) => panic!("{}: sync failed for good: {e}", phone.cadre),
        }
    }
}

fn note(phone: &Phone, id: &DocumentId, text: &str, at: i64) {
    phone.add_event(id, EventKind::Note, text, at);
}

fn heads(phone: &Phone, id: &DocumentId) -> Vec<[u8; 32]> {
    let mut doc = phone.replica.document(id).expect("reads").expect("held");
    let mut heads: Vec<[u8; 32]> = doc.get_heads().iter().map(|h| h.0).collect();
    heads.sort();
    heads
}

/// What one phone did, to check against what everyone holds at the end.
#[derive(Default)]
struct Made {
    records: Vec<DocumentId>,
    /// The village of each record made.
    villages: BTreeMap<DocumentId, &'static str>,
    /// Event notes added, per record.
    events: BTreeMap<DocumentId, Vec<String>>,
    failed_attempts: u32,
}

#[test]
fn phones_converge_through_a_faulty_link() {
    const PHONES: usize = 5;
    const ROUNDS: usize = 12;
    let seed = seed_from_env("FENGQIAO_FAULT_SEED");
    let server = TestServer::start();
    // Every kind of fault early on, then a seeded mix.
    let plan = FaultPlan::mixed(seed).starting_with(Fault::ALL.to_vec());
    let proxy = Proxy::start(server.addr, plan);
    let url = proxy.url();

    // Everyone starts from the same records.
    let mut rng = SeededRng::new(seed);
    let mut first = Phone::new("cadre-0");
    let mut shared_ids = Vec::new();
    for (i, village) in VILLAGES.iter().enumerate() {
        shared_ids.push(first.report(village, &format!("共同纠纷 {i}"), T0 + i as i64));
    }
    sync_retrying(&mut first, &url, &mut rng);

    // Phones 0 and 1 use the development token; 2 is an enrolled town
    // official of 500110101, 3 and 4 enrolled cadres of one village each.
    let scopes: Vec<Vec<&'static str>> = (0..PHONES)
        .map(|index| match index {
            0 | 1 => VILLAGES.to_vec(),
            2 => vec![VILLAGES[0], VILLAGES[1]],
            _ => vec![VILLAGES[index - 2]],
        })
        .collect();
    let workers: Vec<_> = (0..PHONES)
        .map(|index| {
            let url = url.clone();
            let mut rng = rng.fork();
            let villages = scopes[index].clone();
            let shared_ids: Vec<DocumentId> = shared_ids
                .iter()
                .zip(VILLAGES)
                .filter(|(_, village)| villages.contains(village))
                .map(|(id, _)| id.clone())
                .collect();
            let cadre = format!("cadre-{index}");
            let mut phone = match index {
                0 | 1 => Phone::new(&cadre),
                2 => {
                    let (device, token) = server.enroll(&cadre, Role::Town, "500110101");
                    Phone::enrolled(&cadre, device, &token)
                }
                _ => {
                    let (device, token) = server.enroll(&cadre, Role::Cadre, villages[0]);
                    Phone::enrolled(&cadre, device, &token)
                }
            };
            thread::spawn(move || {
                let mut made = Made::default();
                made.failed_attempts += sync_retrying(&mut phone, &url, &mut rng);
                for round in 0..ROUNDS {
                    let at = T0 + (round as i64 + 1) * 60_000 + index as i64;
                    // Offline work: a new case now and then, and notes on
                    // shared and own cases.
                    if round % 4 == 0 {
                        let village = villages[rng.below(villages.len() as u64) as usize];
                        let id =
                            phone.report(village, &format!("cadre-{index} 新纠纷 {round}"), at);
                        made.records.push(id.clone());
                        made.villages.insert(id.clone(), village);
                        made.events.entry(id).or_default();
                    }
                    let mut targets = shared_ids.clone();
                    targets.extend(made.records.iter().cloned());
                    for _ in 0..2 {
                        let id = targets[rng.below(targets.len() as u64) as usize].clone();
                        let text = format!("cadre-{index} 第{round}轮 {}", rng.below(1_000_000));
                        note(&phone, &id, &text, at);
                        made.events.entry(id).or_default().push(text);
                    }
                    made.failed_attempts += sync_retrying(&mut phone, &url, &mut rng);
                }
                (phone, made)
            })
        })
        .collect();
    let mut phones = vec![first];
    let mut phone_villages = vec![VILLAGES.to_vec()];
    phone_villages.extend(scopes);
    let mut made = Vec::new();
    for worker in workers {
        let (phone, m) = worker.join().expect("phone thread");
        phones.push(phone);
        made.push(m);
    }
    // A last round so that every phone has everyone's changes.
    for phone in &mut phones {
        sync_retrying(phone, &url, &mut rng);
    }

    // Late copies land before anything is compared; every request that
    // reached the server whole, copies included, was answered 200.
    proxy.assert_every_answer_ok(REPLAYS_LAND);
    let applied = proxy.applied();
    eprintln!("faults applied: {applied:?}");
    for fault in Fault::ALL {
        assert!(
            applied.get(&fault).copied().unwrap_or(0) > 0,
            "the run never exercised {fault:?}"
        );
    }
    assert!(
        made.iter().map(|m| m.failed_attempts).sum::<u32>() > 0,
        "no sync ever failed: the faults did not bite"
    );

    // No lost records, no duplicate events.
    let mut expected_events: BTreeMap<DocumentId, Vec<String>> = BTreeMap::new();
    let mut village_of: BTreeMap<DocumentId, &str> = BTreeMap::new();
    for (id, village) in shared_ids.iter().zip(VILLAGES) {
        expected_events.entry(id.clone()).or_default();
        village_of.insert(id.clone(), village);
    }
    for m in &made {
        village_of.extend(m.villages.iter().map(|(id, v)| (id.clone(), *v)));
        for (id, notes) in &m.events {
            expected_events
                .entry(id.clone())
                .or_default()
                .extend(notes.iter().cloned());
        }
    }
    let storage = server.running().state.engine.storage().clone();
    let reference = &phones[0];
    let mut held = reference.replica.ids().expect("ids");
    held.sort();
    assert_eq!(
        held,
        expected_events.keys().cloned().collect::<Vec<_>>(),
        "records lost or invented"
    );
    for (id, notes) in &expected_events {
        let Record::Dispute(dispute) = reference.replica.record(id).expect("held") else {
            panic!("{id} is not a dispute");
        };
        assert_eq!(
            dispute.events.len(),
            notes.len() + 1,
            "{id}: the timeline must be the report plus each event once"
        );
        let mut seen: Vec<String> = dispute
            .events
            .iter()
            .filter_map(|e| e.note.clone())
            .collect();
        let mut notes = notes.clone();
        seen.sort();
        notes.sort();
        assert_eq!(seen, notes, "{id}: events lost or repeated");
    }

    // Every phone holds the records of its scope, with the same documents
    // and projections as the server.
    for (phone, villages) in phones.iter().zip(&phone_villages) {
        assert!(phone.replica.dirty().expect("dirty").is_empty());
        let in_scope: Vec<&DocumentId> = expected_events
            .keys()
            .filter(|id| villages.contains(&village_of[*id]))
            .collect();
        let mut held = phone.replica.ids().expect("ids");
        held.sort();
        assert_eq!(
            held.iter().collect::<Vec<_>>(),
            in_scope,
            "{}: records of its scope lost or foreign ones held",
            phone.cadre
        );
        for id in in_scope {
            let meta = storage.doc_meta(id).expect("reads").expect("stored");
            let mut server_heads = meta.heads;
            server_heads.sort();
            assert_eq!(heads(phone, id), server_heads, "{}: {id}", phone.cadre);
            assert_eq!(
                phone.replica.state(id).expect("state").summary,
                storage.summary(id).expect("reads"),
                "{}: {id}",
                phone.cadre
            );
        }
    }
    assert!(
        storage.list_quarantine(10).expect("reads").is_empty(),
        "a repeated or cut request was taken for a bad one"
    );
}

/// Counts the records a phone received in responses it could read.
struct Counting {
    inner: HttpTransport,
    received: usize,
    responses: usize,
    most_in_one: usize,
}

impl SyncTransport for Counting {
    fn exchange(
        &mut self,
        request: &SyncRequest,
    ) -> Result<(SyncResponse, WireBytes), TransportError> {
        let result = self.inner.exchange(request);
        if let Ok((response, _)) = &result {
            let records = response.docs.iter().filter(|d| !d.data.is_empty()).count();
            self.received += records;
            self.responses += 1;
            self.most_in_one = self.most_in_one.max(records);
        }
        result
    }
}

#[test]
fn an_interrupted_bootstrap_resumes_where_it_stopped() {
    const RECORDS: usize = 120;
    let seed = seed_from_env("FENGQIAO_FAULT_SEED");
    let mut rng = SeededRng::new(seed);
    let server = TestServer::start();
    let mut source = Phone::new("cadre-source");
    for i in 0..RECORDS {
        source.report(
            VILLAGES[i % VILLAGES.len()],
            &format!("存量纠纷 {i}"),
            T0 + i as i64,
        );
    }
    source.sync(&server.url());

    // A small budget makes the bootstrap many responses; the link cuts
    // some of them short in every way it knows.
    let cuts = [
        Fault::TruncateResponse,
        Fault::ResetMidBody,
        Fault::DropResponse,
        Fault::Stall,
    ];
    let mut script = Vec::new();
    for cut in cuts {
        script.extend([Fault::Pass, Fault::Pass, Fault::Pass, cut]);
    }
    let proxy = Proxy::start(server.addr, FaultPlan::clean().starting_with(script));
    let mut phone = Phone::new("cadre-new");
    phone.client = SyncClient::new(SyncOptions {
        response_budget: 4 * 1024,
        ..SyncOptions::default()
    });
    let mut transport = Counting {
        inner: HttpTransport::new(&proxy.url(), TOKEN),
        received: 0,
        responses: 0,
        most_in_one: 0,
    };
    let failures = sync_retrying_over(&mut phone, &mut transport, &mut rng);
    proxy.assert_every_answer_ok(REPLAYS_LAND);

    assert_eq!(
        failures,
        cuts.len() as u32,
        "each cut interrupted the bootstrap"
    );
    assert_eq!(phone.replica.ids().expect("ids").len(), RECORDS);
    assert!(
        transport.responses > 2 * cuts.len(),
        "the budget split the bootstrap"
    );
    // Had any retry started over, the records before the cut would have
    // come again: at least three responses' worth per cut.
    assert!(
        transport.received <= RECORDS + transport.most_in_one,
        "received {} records for {RECORDS} (at most {} per response): \
         an interrupted bootstrap started over",
        transport.received,
        transport.most_in_one
    );
}

#[test]
fn a_duplicated_and_replayed_upload_applies_once() {
    let seed = seed_from_env("FENGQIAO_FAULT_SEED");
    let mut rng = SeededRng::new(seed);
    let server = TestServer::start();
    let mut phone = Phone::new("cadre-a");
    let id = phone.report(VILLAGES[0], "重复提交", T0);
    sync_retrying(&mut phone, &server.url(), &mut rng);

    // Every request reaches the server twice at once, its answer is lost,
    // and a stale copy arrives again later.
    let proxy = Proxy::start(
        server.addr,
        FaultPlan::weighted(
            seed,
            vec![
                (Fault::Duplicate, 1),
                (Fault::ReplayLater, 1),
                (Fault::Pass, 1),
            ],
        )
        .starting_with(vec![
            Fault::DropResponse,
            Fault::Duplicate,
            Fault::DropResponse,
            Fault::ReplayLater,
        ]),
    );
    for n in 0..5 {
        note(&phone, &id, &format!("调解记录 {n}"), T0 + 1 + n);
        sync_retrying(&mut phone, &proxy.url(), &mut rng);
    }
    // Every copy has landed, and each was answered as the first was.
    proxy.assert_every_answer_ok(REPLAYS_LAND);
    let copies = proxy
        .server_answers()
        .iter()
        .filter(|answer| answer.copy)
        .count();
    assert!(copies >= 2, "the link made copies: {copies}");
    let mut other = Phone::new("cadre-b");
    other.sync(&server.url());
    let Record::Dispute(dispute) = other.replica.record(&id).expect("held") else {
        panic!("not a dispute");
    };
    let notes: Vec<String> = dispute
        .events
        .iter()
        .filter_map(|e| e.note.clone())
        .collect();
    assert_eq!(
        notes,
        (0..5).map(|n| format!("调解记录 {n}")).collect::<Vec<_>>(),
        "each event exactly once, in order"
    );
    assert_eq!(heads(&other, &id), heads(&phone, &id));
}

#[test]
fn a_truncated_upload_writes_nothing_and_a_retry_lands() {
    let seed = seed_from_env("FENGQIAO_FAULT_SEED");
    let mut rng = SeededRng::new(seed);
    let server = TestServer::start();
    let proxy = Proxy::start(server.addr, FaultPlan::only(Fault::TruncateRequest));
    let mut phone = Phone::new("cadre-a");
    let id = phone.report(VILLAGES[0], "半截上传", T0);
    for _ in 0..3 {
        let result: Result<SyncReport, SyncError> = phone.try_sync(&proxy.url());
        assert!(result.is_err(), "a cut request cannot be answered");
    }
    let storage = server.running().state.engine.storage().clone();
    assert!(
        storage.doc_meta(&id).expect("reads").is_none(),
        "a cut body was applied"
    );
    assert_eq!(storage.current_seq(), 0, "a cut body changed the store");
    assert_eq!(phone.replica.dirty().expect("dirty"), vec![id.clone()]);

    proxy.set_plan(FaultPlan::clean());
    sync_retrying(&mut phone, &proxy.url(), &mut rng);
    proxy.assert_every_answer_ok(REPLAYS_LAND);
    assert!(storage.doc_meta(&id).expect("reads").is_some());
    assert!(phone.replica.dirty().expect("dirty").is_empty());
}
