//! Durability: what the server acknowledged survives `kill -9`.
//!
//! The server runs as a real process. A phone syncs records and gets a
//! response (the acknowledgement); the process is killed with SIGKILL right
//! after; a new process on the same data directory must serve every
//! acknowledged change.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fengqiao_protocol::{DeviceId, VillageCode};
use fengqiao_shared::record::{Author, NewDispute, Party, create_dispute, set_risk};
use fengqiao_shared::replica::Replica;
use fengqiao_shared::replica::http::{HttpTransport, sync_until_done};
use fengqiao_shared::replica::sync::SyncClient;
use fengqiao_shared::vocab::{Category, PartyRole, Risk};

const TOKEN: &str = "durability-test-token";
const ADMIN: &str = "durability-admin-token";

/// Imports the one district, town and village the test uses.
fn import_org(url: &str) {
    let response = ureq::post(&format!("{url}/v1/admin/org"))
        .header("Authorization", &format!("Bearer {ADMIN}"))
        .send_json(serde_json::json!({
            "format": "csv",
            "text": "500110,綦江区\n500110101,古南街道\n500110101001,石门村\n",
        }))
        .expect("organisation imported");
    assert_eq!(response.status().as_u16(), 200);
}

struct ServerProcess {
    child: Child,
    url: String,
}

impl ServerProcess {
    fn start(data: &std::path::Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fengqiao"))
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--insecure-dev-token",
                TOKEN,
            ])
            .arg("--data")
            .arg(data)
            .env("FENGQIAO_LOG", "warn")
            .env("FENGQIAO_ADMIN_TOKEN", ADMIN)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the fengqiao binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut reader = BufReader::new(stdout);
        while !line.contains("http://") {
            line.clear();
            assert!(
                Instant::now() < deadline,
                "server did not announce its address"
            );
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.kill();
                panic!("server exited before serving");
            }
        }
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("an address")
            .to_owned();
        Self { child, url }
    }

    fn kill_9(mut self) {
        // Child::kill sends SIGKILL on Unix: no shutdown code runs.
        self.child.kill().expect("kill");
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
