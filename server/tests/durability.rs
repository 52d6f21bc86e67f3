//! Durability: what the server acknowledged survives `kill -9`.
//!
//! The server runs as a real process. A phone syncs records and gets a
//! response (the acknowledgement); the process is killed with SIGKILL right
//! after; a new process on the same data directory must serve every
//! acknowledged change.

mod common;

use common::{ServerProcess, TOKEN, import_org};
use fengqiao_protocol::{DeviceId, VillageCode};
use fengqiao_shared::record::{Author, NewDispute, Party, create_dispute, set_risk};
use fengqiao_shared::replica::Replica;
use fengqiao_shared::replica::http::{HttpTransport, sync_until_done};
use fengqiao_shared::replica::sync::SyncClient;
use fengqiao_shared::vocab::{Category, PartyRole, Risk};

fn dispute(title: &str) -> NewDispute {
    NewDispute {
        village: VillageCode::new("500110101001").unwrap(),
        title: title.into(),
        description: "邻里因排水沟堵塞发生纠纷".into(),
        category: Category::Neighbor,
        risk: Risk::Low,
        parties: vec![
            Party::new("王五", PartyRole::Applicant),
            Party::new("赵六", PartyRole::Respondent),
        ],
        assignees: vec![],
    }
}

#[test]
fn acknowledged_changes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let phone = Replica::in_memory(DeviceId::random()).unwrap();
    let mut ids = Vec::new();
    for round in 0..3 {
        let server = ServerProcess::start(dir.path());
        if round == 0 {
            import_org(&server.url);
        }
        for i in 0..20 {
            let d = dispute(&format!("第{round}轮 纠纷{i}"));
            let author = Author::new("cadre-a", 1_790_000_000_000 + i);
            ids.push(
                phone
                    .create(|doc| create_dispute(doc, &author, &d))
                    .unwrap(),
            );
        }
        let author = Author::new("cadre-a", 1_790_100_000_000);
        phone
            .edit(&ids[0], |doc| {
                set_risk(
                    doc,
                    &author,
                    if round % 2 == 0 {
                        Risk::High
                    } else {
                        Risk::Medium
                    },
                )
            })
            .unwrap();
        let mut client = SyncClient::default();
        let mut transport = HttpTransport::new(&server.url, TOKEN);
        let report = sync_until_done(&phone, &mut client, &mut transport, 100, |_| {}).unwrap();
        // 20 new records, plus the edited first record from round 1 on.
        let expected = if round == 0 { 20 } else { 21 };
        assert_eq!(report.acknowledged(), expected, "round {round}");
        server.kill_9();
    }

    let server = ServerProcess::start(dir.path());
    let fresh = Replica::in_memory(DeviceId::random()).unwrap();
    let mut client = SyncClient::default();
    let mut transport = HttpTransport::new(&server.url, TOKEN);
    sync_until_done(&fresh, &mut client, &mut transport, 100, |_| {}).unwrap();
    assert_eq!(
        fresh.ids().unwrap().len(),
        ids.len(),
        "every acknowledged record is there"
    );
    for id in &ids {
        let mut ours = phone.document(id).unwrap().unwrap();
        let mut theirs = fresh.document(id).unwrap().unwrap();
        let (mut a, mut b) = (ours.get_heads(), theirs.get_heads());
        a.sort();
        b.sort();
        assert_eq!(a, b, "every acknowledged change of {id} is there");
    }
    assert_eq!(
        fresh.record(&ids[0]).unwrap(),
        phone.record(&ids[0]).unwrap()
    );
}
