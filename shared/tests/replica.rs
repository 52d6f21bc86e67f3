//! The phone replica and its batch sync client, against an in-memory server
//! that follows the contract of `docs/protocol.md`.

use std::collections::{BTreeMap, HashMap};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash as AmHash};
use fengqiao_protocol::batch::{
    BATCH_VERSION, ChangeHash, Cursor, DocResult, SyncRequest, SyncResponse,
};
use fengqiao_protocol::{DeviceId, DocumentId, ErrorBody, ErrorCode, VillageCode};
use fengqiao_shared::record::{
    Author, NewDispute, NewEvent, Party, Record, add_event, create_dispute, set_description,
    set_risk,
};
use fengqiao_shared::replica::http::{
    SyncError, SyncTransport, TransportError, WireBytes, sync_until_done,
};
use fengqiao_shared::replica::sync::{SyncClient, SyncOptions};
use fengqiao_shared::replica::{RecordFilter, Replica};
use fengqiao_shared::vocab::{Category, EventKind, PartyRole, Risk};

// ---------------------------------------------------------------------------
// An in-memory server: documents, a change feed with one entry per document
// at its latest sequence, and the heads each document had at each sequence.

#[derive(Default, Clone)]
struct FakeServer {
    /// Names this server's history; cursors carry it.
    epoch: u64,
    docs: HashMap<DocumentId, AutoCommit>,
    seq: u64,
    feed: BTreeMap<u64, DocumentId>,
    latest: HashMap<DocumentId, u64>,
    heads_log: HashMap<DocumentId, Vec<(u64, Vec<AmHash>)>>,
    /// Records whose uploads are refused with `invalid_record`.
    refuse: Vec<DocumentId>,
    /// Records every request is told to purge.
    purge: Vec<DocumentId>,
    /// Records outside the phone's scope: their uploads are answered with
    /// nothing at all (no heads, no bytes, no error).
    hidden: Vec<DocumentId>,
    requests: usize,
    /// Uploads carried by each request, in order.
    uploads: Vec<usize>,
}

fn wire(heads: &[AmHash]) -> Vec<ChangeHash> {
    heads.iter().map(|h| ChangeHash(h.0)).collect()
}

impl FakeServer {
    fn commit(&mut self, id: &DocumentId) {
        self.seq += 1;
        if let Some(old) = self.latest.insert(id.clone(), self.seq) {
            self.feed.remove(&old);
        }
        self.feed.insert(self.seq, id.clone());
        let heads = self.docs.get_mut(id).unwrap().get_heads();
        self.heads_log
            .entry(id.clone())
            .or_default()
            .push((self.seq, heads));
    }

    fn heads_at(&self, id: &DocumentId, seq: u64) -> Option<Vec<AmHash>> {
        self.heads_log
            .get(id)?
            .iter()
            .rev()
            .find(|(s, _)| *s <= seq)
            .map(|(_, h)| h.clone())
    }

    fn handle(&mut self, request: &SyncRequest) -> SyncResponse {
        self.requests += 1;
        self.uploads.push(request.docs.len());
        let known = request.cursor.as_ref().and_then(|c| {
            let bytes = c.as_bytes();
            let epoch = u64::from_be_bytes(bytes[..8].try_into().unwrap());
            let seq = u64::from_be_bytes(bytes[8..].try_into().unwrap());
            (epoch == self.epoch && seq <= self.seq).then_some(seq)
        });
        let reset = request.cursor.is_some() && known.is_none();
        let cursor = known.unwrap_or(0);
        let mut docs = Vec::new();
        let mut answered = Vec::new();
        for upload in &request.docs {
            answered.push(upload.id.clone());
            if self.hidden.contains(&upload.id) {
                docs.push(DocResult::heads(upload.id.clone(), Vec::new()));
                continue;
            }
            if self.refuse.contains(&upload.id) {
                docs.push(DocResult {
                    error: Some(ErrorBody::new(ErrorCode::InvalidRecord, "refused")),
                    ..DocResult::heads(upload.id.clone(), Vec::new())
                });
                continue;
            }
            let doc = self.docs.entry(upload.id.clone()).or_default();
            let before = doc.get_heads();
            let mut scratch = doc.fork();
            scratch.load_incremental(&upload.changes).unwrap();
            let resend = !scratch.get_missing_deps(&[]).is_empty();
            let changed = !resend && scratch.get_heads() != before;
            if changed {
                *doc = scratch;
            }
            let doc = self.docs.get_mut(&upload.id).unwrap();
            let theirs: Vec<AmHash> = upload
                .heads
                .iter()
                .map(|h| AmHash(h.0))
                .filter(|h| doc.get_change_by_hash(h).is_some())
                .collect();
            let data = if doc.get_heads().is_empty() {
                Vec::new()
            } else {
                doc.save_after(&theirs)
            };
            let heads = doc.get_heads();
            if changed {
                self.commit(&upload.id);
            }
            docs.push(DocResult {
                id: upload.id.clone(),
                heads: wire(&heads),
                data,
                error: None,
                resend,
            });
        }
        let budget = request.budget.unwrap_or(1 << 20) as usize;
        let mut used: usize = docs.iter().map(|d| d.data.len()).sum();
        let mut next_cursor = self.seq;
        let mut more = false;
        let feed: Vec<(u64, DocumentId)> = self
            .feed
            .range(cursor + 1..)
            .map(|(s, id)| (*s, id.clone()))
            .collect();
        for (seq, id) in feed {
            if answered.contains(&id) || self.hidden.contains(&id) {
                continue;
            }
            let since = self.heads_at(&id, cursor).unwrap_or_default();
            let doc = self.docs.get_mut(&id).unwrap();
            let data = doc.save_after(&since);
            if used + data.len() > budget && used > 0 {
                more = true;
                next_cursor = seq - 1;
                break;
            }
            used += data.len();
            docs.push(DocResult {
                id: id.clone(),
                heads: wire(&doc.get_heads()),
                data,
                error: None,
                resend: false,
            });
        }
        SyncResponse {
            v: BATCH_VERSION,
            cursor: Cursor::new([self.epoch.to_be_bytes(), next_cursor.to_be_bytes()].concat())
                .unwrap(),
            more,
            docs,
            purge: self.purge.clone(),
            reset,
            remaining: None,
        }
    }
}

/// Where an exchange breaks.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// The request never reaches the server.
    LoseRequest,
    /// The server handles the request; the response never arrives.
    LoseResponse,
}

struct Link<'a> {
    server: &'a mut FakeServer,
    /// Fault to inject at the given exchange number (0-based).
    fault: Option<(usize, Fault)>,
    exchanges: usize,
}

impl<'a> Link<'a> {
    fn new(server: &'a mut FakeServer) -> Self {
        Link {
            server,
            fault: None,
            exchanges: 0,
        }
    }
}

impl SyncTransport for Link<'_> {
    fn exchange(
        &mut self,
        request: &SyncRequest,
    ) -> Result<(SyncResponse, WireBytes), TransportError> {
        // Everything goes through the real encoding, as on the wire.
        let body = request.encode();
        let request = SyncRequest::decode(&body, &Default::default()).unwrap();
        let n = self.exchanges;
        self.exchanges += 1;
        if self.fault == Some((n, Fault::LoseRequest)) {
            return Err(TransportError::Network("connection reset".into()));
        }
        let response = self.server.handle(&request);
        if self.fault == Some((n, Fault::LoseResponse)) {
            return Err(TransportError::Network("connection reset".into()));
        }
        let bytes = response.encode();
        let size = WireBytes {
            up: body.len() as u64,
            down: bytes.len() as u64,
        };
        Ok((
            SyncResponse::decode(&bytes, &Default::default()).unwrap(),
            size,
        ))
    }
}

// ---------------------------------------------------------------------------

const DAY: i64 = 86_400_000;
const T0: i64 = 1_790_000_000_000;

fn village() -> VillageCode {
    VillageCode::new("500110101001").unwrap()
}

fn phone() -> Replica {
    Replica::in_memory(DeviceId::random()).unwrap()
}

fn new_dispute(replica: &Replica, title: &str, at: i64) -> DocumentId {
    let dispute = NewDispute {
        village: village(),
        title: title.into(),
        description: "两户因宅基地边界发生争执".into(),
        category: Category::Land,
        risk: Risk::Low,
        parties: vec![
            Party::new("张三", PartyRole::Applicant),
            Party::new("李四", PartyRole::Respondent),
        ],
        assignees: vec![],
    };
    replica
        .create(|doc| create_dispute(doc, &Author::new("cadre-a", at), &dispute))
        .unwrap()
}

fn sync(replica: &Replica, server: &mut FakeServer) -> fengqiao_shared::replica::http::SyncReport {
    let mut client = SyncClient::default();
    let mut link = Link::new(server);
    sync_until_done(replica, &mut client, &mut link, 100, |_| {}).unwrap()
}

fn assert_converged(a: &Replica, b: &Replica) {
    let mut ids_a = a.ids().unwrap();
    let mut ids_b = b.ids().unwrap();
    ids_a.sort();
    ids_b.sort();
    assert_eq!(ids_a, ids_b);
    for id in &ids_a {
        let mut da = a.document(id).unwrap().unwrap();
        let mut db = b.document(id).unwrap().unwrap();
        let mut ha = da.get_heads();
        let mut hb = db.get_heads();
        ha.sort();
        hb.sort();
        assert_eq!(ha, hb, "heads of {id}");
        assert_eq!(a.record(id).unwrap(), b.record(id).unwrap());
        assert_eq!(
            a.state(id).unwrap().summary,
            b.state(id).unwrap().summary,
            "summary of {id}"
        );
    }
    assert!(a.dirty().unwrap().is_empty());
    assert!(b.dirty().unwrap().is_empty());
}

fn event_count(replica: &Replica, id: &DocumentId) -> usize {
    match replica.record(id).unwrap() {
        Record::Dispute(d) => d.events.len(),
        Record::Visit(_) => 0,
    }
}

#[test]
fn offline_edits_survive_closing_and_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let device = DeviceId::random();
    let (id, actor) = {
        let replica = Replica::open(dir.path(), device).unwrap();
        let id = new_dispute(&replica, "宅基地纠纷", T0);
        replica
            .edit(&id, |doc| {
                set_risk(doc, &Author::new("cadre-a", T0 + DAY), Risk::High)
            })
            .unwrap();
        (id, replica.actor().clone())
    };
    let replica = Replica::open(dir.path(), device).unwrap();
    assert_eq!(replica.actor(), &actor, "the install keeps its actor");
    assert_eq!(&replica.actor().to_bytes()[..16], device.as_bytes());
    let Record::Dispute(dispute) = replica.record(&id).unwrap() else {
        panic!("not a dispute")
    };
    assert_eq!(dispute.risk, Some(Risk::High));
    assert_eq!(replica.dirty().unwrap(), vec![id.clone()]);
    let listed = replica.list(&RecordFilter::default()).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].risk, Some(Risk::High));
    let found = replica
        .list(&RecordFilter {
            text: Some("李四".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(found.len(), 1);
    assert!(
        Replica::open(dir.path(), DeviceId::random()).is_err(),
        "a replica belongs to one device"
    );
}

#[test]
fn an_edit_that_changes_nothing_leaves_the_record_synced() {
    let mut server = FakeServer::default();
    let a = phone();
    let id = new_dispute(&a, "不变", T0);
    sync(&a, &mut server);
    assert!(a.dirty().unwrap().is_empty());
    // Setting the risk it already has commits nothing.
    a.edit(&id, |doc| {
        set_risk(doc, &Author::new("cadre-a", T0 + DAY), Risk::Low)
    })
    .unwrap();
    assert!(a.dirty().unwrap().is_empty());
}

#[test]
fn invalid_edits_are_not_saved() {
    let replica = phone();
    let id = new_dispute(&replica, "借款纠纷", T0);
    let before = replica.record(&id).unwrap();
    let err = replica
        .edit(&id, |doc| {
            doc.put(automerge::ROOT, "village", "500110101002")
                .map_err(|e| e.to_string())
        })
        .unwrap_err();
    assert!(err.to_string().contains("village"), "{err}");
    assert_eq!(replica.record(&id).unwrap(), before);
}

#[test]
fn two_phones_converge_through_the_server_with_concurrent_edits() {
    let mut server = FakeServer::default();
    let a = phone();
    let b = phone();
    let ids: Vec<_> = (0..3)
        .map(|i| new_dispute(&a, &format!("纠纷{i}"), T0 + i))
        .collect();
    let report = sync(&a, &mut server);
    assert_eq!(report.acknowledged(), 3);
    assert!(a.dirty().unwrap().is_empty());

    let report = sync(&b, &mut server);
    assert_eq!(report.received(), 3, "bootstrap brings every record");

    // Offline on both phones.
    let case = &ids[0];
    a.edit(case, |doc| {
        set_risk(doc, &Author::new("cadre-a", T0 + DAY), Risk::Medium)
    })
    .unwrap();
    b.edit(case, |doc| {
        set_risk(doc, &Author::new("cadre-b", T0 + DAY), Risk::High)
    })
    .unwrap();
    a.edit(case, |doc| {
        add_event(
            doc,
            &Author::new("cadre-a", T0 + 2 * DAY),
            &NewEvent::new(EventKind::Mediation),
        )
    })
    .unwrap();
    b.edit(case, |doc| {
        add_event(
            doc,
            &Author::new("cadre-b", T0 + 2 * DAY),
            &NewEvent::new(EventKind::Mediation),
        )
    })
    .unwrap();
    b.edit(case, |doc| {
        set_description(
            doc,
            &Author::new("cadre-b", T0 + 2 * DAY),
            "两户因宅基地边界发生争执，已现场勘查",
        )
    })
    .unwrap();

    sync(&a, &mut server);
    let report = sync(&b, &mut server);
    assert_eq!(report.merged(), 1, "b merged a's concurrent edits");
    sync(&a, &mut server);
    assert_converged(&a, &b);

    let Record::Dispute(dispute) = a.record(case).unwrap() else {
        panic!()
    };
    assert_eq!(
        dispute.risk,
        Some(Risk::High),
        "highest concurrent risk wins"
    );
    assert_eq!(event_count(&a, case), 3, "reported + two mediations");
}

#[test]
fn an_idle_reconnect_is_one_small_round_trip() {
    let mut server = FakeServer::default();
    let a = phone();
    for i in 0..50 {
        new_dispute(&a, &format!("纠纷{i}"), T0 + i);
    }
    sync(&a, &mut server);
    let b = phone();
    sync(&b, &mut server);
    let report = sync(&b, &mut server);
    assert_eq!(report.rounds, 1);
    assert!(
        report.bytes.up < 64 && report.bytes.down < 64,
        "{:?}",
        report.bytes
    );
}

#[test]
fn a_reconnect_costs_bytes_for_the_changed_records_only() {
    let mut server = FakeServer::default();
    let a = phone();
    let ids: Vec<_> = (0..200)
        .map(|i| new_dispute(&a, &format!("纠纷{i}"), T0 + i))
        .collect();
    sync(&a, &mut server);
    let b = phone();
    let bootstrap = sync(&b, &mut server);
    for id in &ids[..5] {
        a.edit(id, |doc| {
            set_risk(doc, &Author::new("cadre-a", T0 + DAY), Risk::High)
        })
        .unwrap();
    }
    sync(&a, &mut server);
    let report = sync(&b, &mut server);
    assert_eq!(report.received(), 5);
    assert!(
        report.bytes.down * 20 < bootstrap.bytes.down,
        "5 of 200 changed: {} bytes vs bootstrap {}",
        report.bytes.down,
        bootstrap.bytes.down
    );
}

#[test]
fn a_budget_splits_the_bootstrap_and_an_interrupted_bootstrap_resumes() {
    let mut server = FakeServer::default();
    let a = phone();
    for i in 0..40 {
        new_dispute(&a, &format!("纠纷{i}"), T0 + i);
    }
    sync(&a, &mut server);

    let b = phone();
    let mut client = SyncClient::new(SyncOptions {
        response_budget: 4 * 1024,
        ..SyncOptions::default()
    });
    // The link drops the 4th response: the phone has applied 3 rounds.
    let mut link = Link::new(&mut server);
    link.fault = Some((3, Fault::LoseResponse));
    let err = sync_until_done(&b, &mut client, &mut link, 100, |_| {}).unwrap_err();
    assert!(matches!(err, SyncError::Transport(_)));
    let held = b.ids().unwrap().len();
    assert!(held > 0 && held < 40, "partially bootstrapped: {held}");

    let mut link = Link::new(&mut server);
    let report = sync_until_done(&b, &mut client, &mut link, 100, |_| {}).unwrap();
    assert!(report.rounds > 1, "the budget splits the rest");
    assert!(
        report.received() <= 40 - held + 4,
        "resumed from the cursor: received {} more after holding {held}",
        report.received()
    );
    assert_eq!(b.ids().unwrap().len(), 40);
    assert_converged(&a, &b);
}

#[test]
fn a_sync_interrupted_at_any_step_converges_without_duplicates_when_retried() {
    for fault in [Fault::LoseRequest, Fault::LoseResponse] {
        for at in 0..3 {
            let mut server = FakeServer::default();
            let a = phone();
            let b = phone();
            let id = new_dispute(&a, "邻里纠纷", T0);
            sync(&a, &mut server);
            sync(&b, &mut server);
            a.edit(&id, |doc| {
                add_event(
                    doc,
                    &Author::new("cadre-a", T0 + DAY),
                    &NewEvent::new(EventKind::Mediation),
                )
            })
            .unwrap();
            b.edit(&id, |doc| {
                add_event(
                    doc,
                    &Author::new("cadre-b", T0 + DAY),
                    &NewEvent::new(EventKind::Agreement),
                )
            })
            .unwrap();
            sync(&a, &mut server);

            let mut client = SyncClient::default();
            let mut link = Link::new(&mut server);
            link.fault = Some((at, fault));
            let first = sync_until_done(&b, &mut client, &mut link, 100, |_| {});
            if at == 0 {
                assert!(
                    first.is_err(),
                    "{fault:?} at {at} breaks the first exchange"
                );
            }
            // Retry, possibly twice, as a phone would.
            sync(&b, &mut server);
            sync(&b, &mut server);
            sync(&a, &mut server);
            assert_converged(&a, &b);
            assert_eq!(
                event_count(&a, &id),
                3,
                "{fault:?} at {at}: reported + mediation + agreement, no duplicates"
            );
        }
    }
}

#[test]
fn refused_records_need_attention_and_can_be_discarded() {
    let mut server = FakeServer::default();
    let a = phone();
    let id = new_dispute(&a, "劳资纠纷", T0);
    sync(&a, &mut server);
    a.edit(&id, |doc| {
        set_risk(doc, &Author::new("cadre-a", T0 + DAY), Risk::High)
    })
    .unwrap();
    server.refuse.push(id.clone());
    let report = sync(&a, &mut server);
    assert_eq!(report.rejected(), 1);
    let attention = a.needing_attention().unwrap();
    assert_eq!(attention.len(), 1);
    assert_eq!(attention[0].1.code, ErrorCode::InvalidRecord);
    let requests = server.requests;
    let report = sync(&a, &mut server);
    assert_eq!(report.rejected(), 0, "not uploaded again");
    assert_eq!(server.requests, requests + 1);

    server.refuse.clear();
    assert!(
        a.discard_local_changes(&id).unwrap(),
        "the server's copy is fetched"
    );
    sync(&a, &mut server);
    let Record::Dispute(dispute) = a.record(&id).unwrap() else {
        panic!()
    };
    assert_eq!(dispute.risk, Some(Risk::Low), "the server's copy is back");
    assert!(a.needing_attention().unwrap().is_empty());
}

#[test]
fn a_record_the_server_never_had_is_gone_when_discarded_not_left_to_send() {
    let mut server = FakeServer::default();
    let a = phone();
    let never_sent = new_dispute(&a, "录错了", T0);
    assert_eq!(a.dirty().unwrap(), vec![never_sent.clone()]);
    assert!(
        !a.discard_local_changes(&never_sent).unwrap(),
        "nothing to fetch"
    );
    assert!(a.dirty().unwrap().is_empty(), "nothing left to send");
    assert!(a.document(&never_sent).unwrap().is_none());
    assert!(a.ids().unwrap().is_empty());
    let report = sync(&a, &mut server);
    assert_eq!(server.uploads.last(), Some(&0), "nothing uploaded");
    assert_eq!(report.received(), 0);
}

#[test]
fn an_upload_answered_with_nothing_is_not_sent_again_even_after_a_reset() {
    let mut server = FakeServer::default();
    let a = phone();
    let mine = new_dispute(&a, "本村", T0);
    let elsewhere = new_dispute(&a, "他村", T0 + 1);
    sync(&a, &mut server);
    // The server no longer lets this phone see one of them, and loses the
    // phone's cursor (restored from a backup): the phone uploads every
    // record again once, and the one the server answers with nothing is
    // kept for a person to look at, not sent at every sync.
    server.hidden.push(elsewhere.clone());
    server.epoch += 1;
    let report = sync(&a, &mut server);
    assert!(report.steps.iter().any(|s| s.reset));
    let attention = a.needing_attention().unwrap();
    assert_eq!(attention.len(), 1, "{attention:?}");
    assert_eq!(attention[0].0, elsewhere);
    assert_eq!(attention[0].1.code, ErrorCode::NotFound);
    assert!(
        a.document(&elsewhere).unwrap().is_some(),
        "kept on the phone"
    );
    for _ in 0..3 {
        sync(&a, &mut server);
        assert_eq!(server.uploads.last(), Some(&0), "nothing uploaded again");
    }
    assert!(a.dirty().unwrap().is_empty());
    assert!(a.document(&mine).unwrap().is_some());

    // A record discarded locally and asked for in vain is not asked for
    // at every sync either.
    a.discard_local_changes(&elsewhere).unwrap();
    sync(&a, &mut server);
    sync(&a, &mut server);
    assert_eq!(server.uploads.last(), Some(&0), "not asked for again");
    assert!(a.dirty().unwrap().is_empty());
}

#[test]
fn purged_records_are_deleted_from_the_phone() {
    let mut server = FakeServer::default();
    let a = phone();
    let keep = new_dispute(&a, "留下", T0);
    let gone = new_dispute(&a, "删除", T0 + 1);
    sync(&a, &mut server);
    server.purge.push(gone.clone());
    let report = sync(&a, &mut server);
    assert_eq!(report.purged(), 1);
    assert_eq!(a.ids().unwrap(), vec![keep]);
    assert!(a.document(&gone).unwrap().is_none());
    assert!(
        a.list(&RecordFilter::default())
            .unwrap()
            .iter()
            .all(|s| s.id != gone)
    );
}

#[test]
fn after_a_restore_from_backup_phones_upload_what_the_server_lost() {
    let mut server = FakeServer::default();
    let a = phone();
    let b = phone();
    let early = new_dispute(&a, "备份前", T0);
    sync(&a, &mut server);
    sync(&b, &mut server);
    let backup = server.clone();

    // Acknowledged after the backup was taken.
    let late = new_dispute(&a, "备份后", T0 + DAY);
    a.edit(&early, |doc| {
        set_risk(doc, &Author::new("cadre-a", T0 + DAY), Risk::High)
    })
    .unwrap();
    let report = sync(&a, &mut server);
    assert_eq!(report.acknowledged(), 2);

    // The server is restored from the backup, into a new history.
    server = backup;
    server.epoch += 1;
    let report = sync(&a, &mut server);
    assert!(report.steps.iter().any(|s| s.reset), "the phone was told");
    assert!(
        server.docs.contains_key(&late),
        "the phone re-uploaded what was lost"
    );
    sync(&b, &mut server);
    sync(&a, &mut server);
    assert_converged(&a, &b);
    let Record::Dispute(dispute) = b.record(&early).unwrap() else {
        panic!()
    };
    assert_eq!(dispute.risk, Some(Risk::High));
}

/// An app that closes its replica and opens it again at once may find sled
/// still releasing the directory lock from its own threads: opening waits
/// that out instead of failing.
#[test]
fn reopening_waits_for_a_lock_released_a_moment_later() {
    let dir = tempfile::tempdir().unwrap();
    let device = DeviceId::random();
    drop(Replica::open(dir.path(), device).unwrap());
    let held = sled::Config::new().path(dir.path()).open().unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(held);
    });
    let reopened = Replica::open(dir.path(), device);
    releaser.join().unwrap();
    assert!(reopened.is_ok(), "{:?}", reopened.err());
}

#[test]
fn the_phone_refuses_to_record_what_lies_beyond_a_day_ahead_of_its_clock() {
    let phone = Replica::in_memory(DeviceId::random())
        .unwrap()
        .with_clock(|| T0);
    let fine = new_dispute(&phone, "今天", T0 + 3_600_000);
    let dispute = NewDispute {
        village: village(),
        title: "明年".into(),
        description: String::new(),
        category: Category::Land,
        risk: Risk::Low,
        parties: vec![Party::new("张三", PartyRole::Applicant)],
        assignees: vec![],
    };
    let next_year = T0 + 365 * 86_400_000;
    let refused =
        phone.create(|doc| create_dispute(doc, &Author::new("cadre-a", next_year), &dispute));
    match refused {
        Err(fengqiao_shared::replica::ReplicaError::Invalid(message)) => {
            assert!(message.contains("createdAt"), "{message}");
        }
        other => panic!("a record dated next year was saved: {other:?}"),
    }
    // An event dated next year on a record already saved is refused too,
    // and the record is left as it was.
    let before = phone.document(&fine).unwrap().unwrap().save();
    let late = phone.edit(&fine, |doc| {
        add_event(
            doc,
            &Author::new("cadre-a", next_year),
            &NewEvent::new(EventKind::Note),
        )
    });
    assert!(late.is_err(), "{late:?}");
    assert_eq!(phone.document(&fine).unwrap().unwrap().save(), before);
}
