//! Phones sync through the real server over HTTP (batch door), on the
//! deployment the including test binary names (`super::NODES`): phones
//! sync through node A; where a case has a second phone, it syncs through
//! node B, so on two nodes what one phone sends reaches the other across
//! nodes.

use fengqiao_protocol::batch::{DocUpload, SyncRequest, SyncResponse};
use fengqiao_protocol::codec::DecodeLimits;
use fengqiao_protocol::{DocumentId, ErrorBody, ErrorCode};
use fengqiao_shared::record::{NewEvent, Record, add_event, set_risk};
use fengqiao_shared::vocab::{EventKind, Risk};
use fengqiao_tests::{DAY, Deployment, Phone, T0, TOKEN};

/// The deployment of the including binary; `None` when it cannot run here
/// (said loudly by [`fengqiao_tests::skip`]).
fn deploy(what: &str) -> Option<Deployment> {
    Deployment::start(super::NODES, what)
}

const VILLAGE: &str = "500110101001";

fn risk_of(phone: &Phone, id: &DocumentId) -> Option<Risk> {
    match phone.replica.record(id).unwrap() {
        Record::Dispute(d) => d.risk,
        Record::Visit(_) => None,
    }
}

fn events_of(phone: &Phone, id: &DocumentId) -> usize {
    match phone.replica.record(id).unwrap() {
        Record::Dispute(d) => d.events.len(),
        Record::Visit(_) => 0,
    }
}

#[test]
fn phones_converge_through_the_server() {
    let Some(d) = deploy("phones_converge_through_the_server") else {
        return;
    };
    // Phone a syncs through node A, phone b through node B.
    let (url_a, url_b) = (d.url(), d.b().url());
    let mut a = Phone::new("cadre-a");
    let mut b = Phone::new("cadre-b");
    let ids: Vec<_> = (0..5)
        .map(|i| a.report(VILLAGE, &format!("纠纷 {i}"), T0 + i))
        .collect();
    let report = a.sync(&url_a);
    assert_eq!(report.acknowledged(), 5);
    let report = b.sync(&url_b);
    assert_eq!(report.received(), 5);

    // Both phones offline, editing the same case.
    let case = &ids[2];
    let (author_a, author_b) = (a.author(T0 + DAY), b.author(T0 + DAY));
    a.replica
        .edit(case, |doc| set_risk(doc, &author_a, Risk::Medium))
        .unwrap();
    b.replica
        .edit(case, |doc| set_risk(doc, &author_b, Risk::High))
        .unwrap();
    a.replica
        .edit(case, |doc| {
            add_event(doc, &author_a, &NewEvent::new(EventKind::Mediation))
        })
        .unwrap();
    b.replica
        .edit(case, |doc| {
            add_event(doc, &author_b, &NewEvent::new(EventKind::Mediation))
        })
        .unwrap();
    a.sync(&url_a);
    let report = b.sync(&url_b);
    assert_eq!(report.merged(), 1);
    a.sync(&url_a);
    for phone in [&a, &b] {
        assert_eq!(risk_of(phone, case), Some(Risk::High));
        assert_eq!(events_of(phone, case), 3);
        assert!(phone.replica.dirty().unwrap().is_empty());
    }
    let mut da = a.replica.document(case).unwrap().unwrap();
    let mut db = b.replica.document(case).unwrap().unwrap();
    let (mut ha, mut hb) = (da.get_heads(), db.get_heads());
    ha.sort();
    hb.sort();
    assert_eq!(ha, hb);
}

#[test]
fn a_reconnect_transfers_bytes_in_proportion_to_what_changed() {
    const N: usize = 2_000;
    const K: usize = 10;
    let Some(d) = deploy("a_reconnect_transfers_bytes_in_proportion_to_what_changed") else {
        return;
    };
    // The writer syncs through node A, the reader through node B.
    let (url_a, url_b) = (d.url(), d.b().url());
    let mut writer = Phone::new("cadre-a");
    let ids: Vec<_> = (0..N)
        .map(|i| writer.report(VILLAGE, &format!("纠纷 {i}"), T0 + i as i64))
        .collect();
    writer.sync(&url_a);
    let mut reader = Phone::new("cadre-b");
    let bootstrap = reader.sync(&url_b);
    assert_eq!(reader.replica.ids().unwrap().len(), N);

    let idle = reader.sync(&url_b);
    assert_eq!(idle.rounds, 1, "an idle reconnect is one round trip");
    assert!(idle.bytes.up + idle.bytes.down < 256, "{:?}", idle.bytes);

    let author = writer.author(T0 + DAY);
    for id in &ids[..K] {
        writer
            .replica
            .edit(id, |doc| set_risk(doc, &author, Risk::High))
            .unwrap();
    }
    writer.sync(&url_a);
    let reconnect = reader.sync(&url_b);
    assert_eq!(reconnect.received(), K);
    let total = reconnect.bytes.up + reconnect.bytes.down;
    assert!(
        total < 64 * 1024,
        "{K} of {N} changed cost {total} bytes (bootstrap was {})",
        bootstrap.bytes.down
    );
    for id in &ids[..K] {
        assert_eq!(risk_of(&reader, id), Some(Risk::High));
    }
}

fn post(d: &Deployment, body: Vec<u8>, token: Option<&str>) -> (u16, Vec<u8>) {
    let headers = [("Content-Type", "application/cbor")];
    d.post("/v1/sync", token, &headers, &body)
}

fn error_of(bytes: &[u8]) -> ErrorBody {
    ciborium::from_reader(bytes).expect("error bodies are CBOR")
}

#[test]
fn bad_input_gets_its_error_code_and_the_server_keeps_serving() {
    let Some(d) = Deployment::start_with(
        super::NODES,
        "bad_input_gets_its_error_code_and_the_server_keeps_serving",
        |config| config.http.max_body_bytes = 256 * 1024,
    ) else {
        return;
    };
    let mut phone = Phone::new("cadre-a");
    let good = phone.report(VILLAGE, "好的记录", T0);
    phone.sync(&d.url());

    let (status, body) = post(&d, SyncRequest::new(None).encode(), None);
    assert_eq!(
        (status, error_of(&body).code),
        (401, ErrorCode::Unauthorized)
    );
    let (status, body) = post(&d, SyncRequest::new(None).encode(), Some("wrong"));
    assert_eq!(
        (status, error_of(&body).code),
        (401, ErrorCode::Unauthorized)
    );

    let (status, body) = post(&d, vec![0xa1, 0x61], Some(TOKEN));
    assert_eq!((status, error_of(&body).code), (400, ErrorCode::BadRequest));

    let mut v2 = Vec::new();
    ciborium::into_writer(&ciborium::Value::Map(vec![("v".into(), 2.into())]), &mut v2).unwrap();
    let (status, body) = post(&d, v2, Some(TOKEN));
    assert_eq!(
        (status, error_of(&body).code),
        (400, ErrorCode::UnsupportedVersion)
    );

    let (status, body) = post(&d, vec![0u8; 300 * 1024], Some(TOKEN));
    assert_eq!((status, error_of(&body).code), (413, ErrorCode::TooLarge));

    // One bad record in a batch: bad Automerge bytes, and a valid document
    // that breaks the schema. Each gets its own error; the good one syncs.
    let bad_bytes = DocumentId::random();
    let mut invalid = automerge::AutoCommit::new();
    {
        use automerge::transaction::Transactable;
        invalid.put(automerge::ROOT, "type", "dispute").unwrap();
        invalid.put(automerge::ROOT, "risk", "severe").unwrap();
    }
    let invalid_id = DocumentId::random();
    let mut request = SyncRequest::new(None);
    request.docs = vec![
        DocUpload {
            id: bad_bytes.clone(),
            heads: vec![],
            changes: vec![1, 2, 3, 4],
        },
        DocUpload {
            id: invalid_id.clone(),
            heads: vec![],
            changes: invalid.save(),
        },
    ];
    let (status, body) = post(&d, request.encode(), Some(TOKEN));
    assert_eq!(status, 200);
    let response = SyncResponse::decode(&body, &DecodeLimits::DEFAULT).unwrap();
    let error = |id: &DocumentId| {
        response
            .docs
            .iter()
            .find(|d| &d.id == id)
            .and_then(|d| d.error.clone())
            .map(|e| e.code)
    };
    assert_eq!(error(&bad_bytes), Some(ErrorCode::BadRequest));
    assert_eq!(error(&invalid_id), Some(ErrorCode::InvalidRecord));
    assert!(
        response
            .docs
            .iter()
            .any(|d| d.id == good && d.error.is_none()),
        "the rest of the batch proceeds"
    );

    // Nothing partial was stored: a fresh phone gets only the good record,
    // through node B.
    let mut fresh = Phone::new("cadre-c");
    fresh.sync(&d.b().url());
    assert_eq!(fresh.replica.ids().unwrap(), vec![good]);
    let quarantined = d.storage().list_quarantine(10).unwrap();
    assert!(quarantined.iter().any(|q| q.entry.doc == invalid_id));
}

#[test]
fn compressed_bodies_are_accepted() {
    use std::io::Write;
    let Some(d) = deploy("compressed_bodies_are_accepted") else {
        return;
    };
    let phone = Phone::new("cadre-a");
    let id = phone.report(VILLAGE, "压缩", T0);
    let mut doc = phone.replica.document(&id).unwrap().unwrap();
    let mut request = SyncRequest::new(None);
    request.docs.push(DocUpload {
        id: id.clone(),
        heads: vec![],
        changes: doc.save(),
    });
    let plain = request.encode();
    for encoding in ["gzip", "zstd"] {
        let body = match encoding {
            "gzip" => {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(&plain).unwrap();
                e.finish().unwrap()
            }
            _ => zstd::bulk::compress(&plain, 3).unwrap(),
        };
        let (status, bytes) = d.post(
            "/v1/sync",
            Some(TOKEN),
            &[("Content-Encoding", encoding)],
            &body,
        );
        assert_eq!(status, 200, "{encoding}");
        let response = SyncResponse::decode(&bytes, &DecodeLimits::DEFAULT).unwrap();
        assert!(
            response.docs.iter().all(|d| d.error.is_none()),
            "{encoding}"
        );
        assert_eq!(response.docs.len(), 1);
    }
    // a gzip bomb: 40 MiB of zeros compressed is refused as too large
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&vec![0u8; 40 * 1024 * 1024]).unwrap();
    let bomb = e.finish().unwrap();
    let (status, body) = d.post(
        "/v1/sync",
        Some(TOKEN),
        &[("Content-Encoding", "gzip")],
        &bomb,
    );
    assert_eq!((status, error_of(&body).code), (413, ErrorCode::TooLarge));
}

#[test]
fn health_and_metrics_answer() {
    let Some(d) = deploy("health_and_metrics_answer") else {
        return;
    };
    let mut phone = Phone::new("cadre-a");
    phone.report(VILLAGE, "指标", T0);
    phone.sync(&d.url());
    for server in d.servers() {
        let health = ureq::get(&format!("{}/healthz", server.url()))
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap();
        assert_eq!(health, "ok\n");
    }
    // Node A's counters: the phone synced there.
    let metrics = d.a().metrics();
    assert!(
        metrics.contains("fengqiao_batch_syncs_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("fengqiao_batch_uploads_total 1"));
    assert!(metrics.contains("fengqiao_cache_hit_ratio"));
}

#[test]
fn records_created_by_uploads_are_not_kept_loaded() {
    let Some(d) = deploy("records_created_by_uploads_are_not_kept_loaded") else {
        return;
    };
    let mut phone = Phone::new("cadre-a");
    for n in 0..5 {
        phone.report(VILLAGE, &format!("新建 {n}"), T0 + n);
    }
    phone.sync(&d.url());
    for server in d.servers() {
        assert_eq!(
            server.running().state.engine.cache().usage(),
            (0, 0),
            "the creator holds them; peers get the stored bytes"
        );
    }
    // A second phone's bootstrap, through node B, is answered from
    // storage too.
    let mut other = Phone::new("cadre-b");
    other.sync(&d.b().url());
    assert_eq!(other.replica.ids().expect("ids").len(), 5);
    for server in d.servers() {
        assert_eq!(server.running().state.engine.cache().usage(), (0, 0));
    }
}

#[test]
fn a_bootstrap_cut_by_its_budget_says_how_many_records_remain() {
    const N: usize = 40;
    let Some(d) = deploy("a_bootstrap_cut_by_its_budget_says_how_many_records_remain") else {
        return;
    };
    // The download goes through node A; the source syncs through node B.
    let mut source = Phone::new("cadre-source");
    for i in 0..N {
        source.report(VILLAGE, &format!("存量纠纷 {i}"), T0 + i as i64);
    }
    source.sync(&d.b().url());

    let mut cursor = None;
    let mut received = 0u64;
    let mut cut = 0;
    loop {
        let mut request = SyncRequest::new(cursor.take());
        request.budget = Some(1024);
        let (status, body) = post(&d, request.encode(), Some(TOKEN));
        assert_eq!(status, 200);
        let response = SyncResponse::decode(&body, &DecodeLimits::default()).unwrap();
        received += response.docs.len() as u64;
        if !response.more {
            assert_eq!(response.remaining, None, "nothing remains");
            break;
        }
        cut += 1;
        // Counted once when the download began and counted down since: a
        // record written meanwhile still comes, but the feed is not read to
        // its end again for every response.
        assert_eq!(
            response.remaining.map(|r| received + r),
            Some(N as u64),
            "response {cut}: {received} received so far"
        );
        if cut == 1 {
            source.report(VILLAGE, "下载途中新报的纠纷", T0 + N as i64);
            source.sync(&d.b().url());
        }
        cursor = Some(response.cursor);
    }
    assert_eq!(
        received,
        N as u64 + 1,
        "the record written meanwhile came too"
    );
    assert!(cut > 2, "the budget cut the bootstrap into many responses");
}
