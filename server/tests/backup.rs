//! A backup taken while phones are syncing restores to a data directory
//! that opens cleanly, and the phones then converge with the restored
//! server: each is told `reset` on its first sync, and re-uploads whatever
//! the backup lacks.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{ADMIN, ServerProcess, TOKEN, fengqiao, import_org};
use fengqiao_protocol::{DeviceId, DocumentId, VillageCode};
use fengqiao_shared::record::{Author, NewDispute, Party, create_dispute};
use fengqiao_shared::replica::Replica;
use fengqiao_shared::replica::http::{HttpTransport, SyncReport, sync_until_done};
use fengqiao_shared::replica::sync::SyncClient;
use fengqiao_shared::vocab::{Category, PartyRole, Risk};

fn dispute(title: String) -> NewDispute {
    NewDispute {
        village: VillageCode::new("500110101001").unwrap(),
        title,
        description: "承包地流转合同到期后双方对续租价格有分歧".into(),
        category: Category::Contract,
        risk: Risk::Medium,
        parties: vec![
            Party::new("钟国平", PartyRole::Applicant),
            Party::new("楼秀英", PartyRole::Respondent),
        ],
        assignees: vec![],
    }
}

fn sync(replica: &Replica, client: &mut SyncClient, url: &str) -> SyncReport {
    let mut transport = HttpTransport::new(url, TOKEN);
    sync_until_done(replica, client, &mut transport, 500, |_| {}).expect("sync")
}

/// Waits until `count` reaches `at_least`, at most a minute.
fn wait_for(count: &AtomicUsize, at_least: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while count.load(Ordering::SeqCst) < at_least {
        assert!(
            std::time::Instant::now() < deadline,
            "the phones synced {} records, not {at_least}",
            count.load(Ordering::SeqCst)
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn heads(replica: &Replica, id: &DocumentId) -> Vec<automerge::ChangeHash> {
    let mut h = replica.document(id).unwrap().unwrap().get_heads();
    h.sort();
    h
}

#[test]
fn a_backup_taken_during_syncs_restores_and_phones_converge() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original");
    let restored = dir.path().join("restored");
    let file = dir.path().join("fengqiao.backup");
    let server = ServerProcess::start(&original);
    import_org(&server.url);

    let phones: Vec<Arc<Mutex<(Replica, SyncClient)>>> = (0..3)
        .map(|_| {
            Arc::new(Mutex::new((
                Replica::in_memory(DeviceId::random()).unwrap(),
                SyncClient::default(),
            )))
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    // Records the server acknowledged so far.
    let synced = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = phones
        .iter()
        .enumerate()
        .map(|(p, phone)| {
            let (phone, stop, url) = (phone.clone(), stop.clone(), server.url.clone());
            let synced = synced.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) && n < 200 {
                    let mut guard = phone.lock().unwrap();
                    let (replica, client) = &mut *guard;
                    let d = dispute(format!("手机{p} 第{n}件"));
                    let author = Author::new(format!("cadre-{p}"), 1_790_000_000_000 + n);
                    replica
                        .create(|doc| create_dispute(doc, &author, &d))
                        .unwrap();
                    sync(replica, client, &url);
                    synced.fetch_add(1, Ordering::SeqCst);
                    n += 1;
                }
            })
        })
        .collect();

    // Back up while the phones keep syncing.
    wait_for(&synced, 9);
    let output = fengqiao()
        .args([
            "backup",
            "--server",
            &server.url,
            "--admin-token",
            ADMIN,
            "--out",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Each phone has at most one sync in flight: of nine more records,
    // at least six were created after the backup was complete.
    let at_backup = synced.load(Ordering::SeqCst);
    wait_for(&synced, at_backup + 9);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    drop(server);

    // Restore into a new directory; it opens cleanly.
    let output = fengqiao()
        .args(["restore"])
        .arg(&file)
        .arg("--data")
        .arg(&restored)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let again = fengqiao()
        .args(["restore"])
        .arg(&file)
        .arg("--data")
        .arg(&restored)
        .output()
        .unwrap();
    assert!(!again.status.success(), "a non-empty directory is refused");
    assert!(String::from_utf8_lossy(&again.stderr).contains("must be new or empty"));

    let server = ServerProcess::start(&restored);
    let before = Replica::in_memory(DeviceId::random()).unwrap();
    sync(&before, &mut SyncClient::default(), &server.url);
    let in_backup = before.ids().unwrap().len();
    let mut all: Vec<DocumentId> = Vec::new();
    for phone in &phones {
        let mut guard = phone.lock().unwrap();
        let (replica, client) = &mut *guard;
        let report = sync(replica, client, &server.url);
        assert!(
            report.steps.first().is_some_and(|s| s.reset),
            "the restored server told the phone to start over: {:?}",
            report.steps.first()
        );
        assert!(report.steps.iter().skip(1).all(|s| !s.reset), "told once");
        all.extend(replica.ids().unwrap());
    }
    // A second round lets every phone receive what the others re-uploaded.
    for phone in &phones {
        let mut guard = phone.lock().unwrap();
        let (replica, client) = &mut *guard;
        sync(replica, client, &server.url);
    }
    all.sort();
    all.dedup();
    assert!(all.len() > 6, "the phones made records: {}", all.len());
    assert!(
        in_backup + 6 <= all.len(),
        "the backup lacks the records made after it: {in_backup} of {}",
        all.len()
    );

    let fresh = Replica::in_memory(DeviceId::random()).unwrap();
    sync(&fresh, &mut SyncClient::default(), &server.url);
    let mut held = fresh.ids().unwrap();
    held.sort();
    assert_eq!(held, all, "the restored server holds every record again");
    for phone in &phones {
        let guard = phone.lock().unwrap();
        let replica = &guard.0;
        let mut ids = replica.ids().unwrap();
        ids.sort();
        assert_eq!(ids, all, "every phone converged");
        for id in &all {
            assert_eq!(heads(replica, id), heads(&fresh, id));
        }
        assert!(replica.dirty().unwrap().is_empty());
    }
}
