//! The quarantine under a device that keeps sending refused changes: its
//! refusals beyond a burst are counted, not stored.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use fengqiao_protocol::{DeviceId, DocumentId, VillageCode};
use fengqiao_server::directory::Directory;
use fengqiao_server::engine::{Caller, DocError, Engine, EngineConfig, QUARANTINE_RATE};
use fengqiao_server::storage::{SledStorage, Storage, StorageConfig};
use fengqiao_shared::access::{DeviceAccess, Role};

#[test]
fn a_device_refused_again_and_again_has_the_rest_counted_not_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> =
        Arc::new(SledStorage::open(&StorageConfig::new(dir.path().join("store"))).unwrap());
    let directory = Arc::new(Directory::open(storage.clone()).unwrap());
    let engine = Engine::new(storage.clone(), directory, EngineConfig::default());
    let noisy = Caller {
        device: Some(DeviceId::random()),
        access: Some(DeviceAccess::new(
            Role::Cadre,
            VillageCode::new("500110101001").unwrap(),
        )),
        connection: None,
    };
    let burst = QUARANTINE_RATE.burst as usize;
    let sent = burst + 10;
    for n in 0..sent {
        // Content without a record type: refused by validation.
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "note", format!("not a record {n}")).unwrap();
        doc.commit();
        let refused = engine.apply_changes(&noisy, &DocumentId::random(), &doc.save());
        assert!(matches!(refused, Err(DocError::Invalid(_))), "{refused:?}");
    }
    let kept = storage.list_quarantine(usize::MAX).unwrap().len();
    // The bucket refills slowly; a test run adds at most a few.
    assert!(kept >= burst && kept < sent, "{kept} of {sent} kept");
    let limited = engine
        .metrics()
        .quarantine_rate_limited
        .load(Ordering::Relaxed) as usize;
    assert_eq!(kept + limited, sent, "every refusal kept or counted");

    // Another device is not held back by the noisy one.
    let quiet = Caller {
        device: Some(DeviceId::random()),
        ..noisy.clone()
    };
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "note", "once").unwrap();
    doc.commit();
    let _ = engine.apply_changes(&quiet, &DocumentId::random(), &doc.save());
    assert_eq!(storage.list_quarantine(usize::MAX).unwrap().len(), kept + 1);
}

/// The clock the engine below judges recorded times by.
const CLOCK: i64 = 1_790_000_000_000;

#[test]
fn records_dated_beyond_the_clock_allowance_are_refused_by_the_servers_clock() {
    use fengqiao_shared::record::{Author, NewDispute, Party, create_dispute};
    use fengqiao_shared::vocab::{Category, PartyRole, Risk};
    let dir = tempfile::tempdir().unwrap();
    let storage: Arc<dyn Storage> =
        Arc::new(SledStorage::open(&StorageConfig::new(dir.path().join("store"))).unwrap());
    let directory = Arc::new(Directory::open(storage.clone()).unwrap());
    let engine = Engine::new(
        storage.clone(),
        directory,
        EngineConfig {
            clock: fengqiao_server::clock::SharedClock::fixed(CLOCK),
            ..EngineConfig::default()
        },
    );
    let caller = Caller {
        device: Some(DeviceId::random()),
        access: Some(DeviceAccess::new(
            Role::Cadre,
            VillageCode::new("500110101001").unwrap(),
        )),
        connection: None,
    };
    let created = |at: i64| {
        let mut doc = AutoCommit::new();
        create_dispute(
            &mut doc,
            &Author::new("cadre-a", at),
            &NewDispute {
                village: VillageCode::new("500110101001").unwrap(),
                title: "宅基地纠纷".to_owned(),
                description: String::new(),
                category: Category::Land,
                risk: Risk::Low,
                parties: vec![Party::new("张三", PartyRole::Applicant)],
                assignees: Vec::new(),
            },
        )
        .unwrap();
        doc.save()
    };
    let next_year = engine.apply_changes(
        &caller,
        &DocumentId::random(),
        &created(CLOCK + 365 * 86_400_000),
    );
    match next_year {
        Err(DocError::Invalid(message)) => {
            assert!(message.contains("createdAt"), "{message}");
            assert!(message.contains("clock"), "{message}");
        }
        other => panic!("a record dated next year was not refused: {other:?}"),
    }
    // An hour ahead is within the allowance: whatever else the engine says
    // of it (this organisation has no villages), its time is not refused.
    let hour = engine.apply_changes(&caller, &DocumentId::random(), &created(CLOCK + 3_600_000));
    match hour {
        Err(DocError::Invalid(message)) => {
            assert!(!message.contains("clock"), "{message}");
            assert!(message.contains("village"), "{message}");
        }
        other => panic!("refused for another reason than expected: {other:?}"),
    }
}
