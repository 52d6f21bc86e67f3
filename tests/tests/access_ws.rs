//! The access rules of `tests/access.rs`, on the automerge-repo WebSocket
//! door: enrolled devices with roles and scopes, speaking protocol "1".

use std::time::Duration;

use automerge::sync::SyncDoc;
use automerge::{ActorId, AutoCommit};
use fengqiao_protocol::DocumentId;
use fengqiao_server::ws_client::{ClientError, Holdings, RepoClient};
use fengqiao_shared::access::{Role, new_native_actor};
use fengqiao_shared::record::{Author, Record, create_dispute, set_risk};
use fengqiao_shared::vocab::Risk;
use fengqiao_tests::{DAY, Phone, T0, TestServer, sample_dispute};

const VILLAGE_A: &str = "500110101001";
const VILLAGE_B: &str = "500110101002";
const NEXT_TOWN_VILLAGE: &str = "500110102001";
const WAIT: Duration = Duration::from_secs(20);

fn ws_url(server: &TestServer, token: &str) -> String {
    format!("ws://{}/v1/ws?token={token}", server.addr)
}

/// A record created on a batch phone of `village` and synced.
fn record_in(server: &TestServer, village: &str, title: &str) -> DocumentId {
    let (device, token) = server.enroll(&format!("writer-{village}"), Role::Cadre, village);
    let mut phone = Phone::enrolled(&format!("writer-{village}"), device, &token);
    let id = phone.report(village, title, T0);
    phone.sync(&server.url());
    id
}

fn stored(server: &TestServer, id: &DocumentId) -> bool {
    server
        .running()
        .state
        .engine
        .storage()
        .doc_meta(id)
        .unwrap()
        .is_some()
}

fn stored_risk(server: &TestServer, id: &DocumentId) -> Option<Risk> {
    server
        .running()
        .state
        .engine
        .storage()
        .summary(id)
        .unwrap()
        .and_then(|s| s.risk)
}

/// Fetches `ids` over WebSocket; returns those the server declared unavailable.
fn fetch(server: &TestServer, token: &str, ids: &[DocumentId]) -> (Holdings, Vec<DocumentId>) {
    server.runtime().block_on(async {
        let mut client = RepoClient::connect(&ws_url(server, token), "ws-access-test")
            .await
            .unwrap();
        let mut holdings = Holdings::default();
        let unavailable = client.fetch(&mut holdings, ids, WAIT).await.unwrap();
        client.close().await;
        (holdings, unavailable)
    })
}

/// Sends a document over WebSocket; returns how the exchange ended.
fn send(
    server: &TestServer,
    token: &str,
    id: &DocumentId,
    doc: AutoCommit,
    wait: Duration,
) -> Result<Vec<DocumentId>, ClientError> {
    server.runtime().block_on(async {
        let mut client = RepoClient::connect(&ws_url(server, token), "ws-access-writer").await?;
        let mut holdings = Holdings::default();
        holdings.insert(id.clone(), doc);
        let result = client.sync_all(&mut holdings, wait).await;
        client.close().await;
        result
    })
}

#[test]
fn a_cadre_reads_and_writes_only_its_village_over_websocket() {
    let server = TestServer::start();
    let in_a = record_in(&server, VILLAGE_A, "甲村");
    let in_b = record_in(&server, VILLAGE_B, "乙村");
    let (device_a, token_a) = server.enroll("cadre-a", Role::Cadre, VILLAGE_A);

    let (mut holdings, unavailable) = fetch(&server, &token_a, &[in_a.clone(), in_b.clone()]);
    assert_eq!(
        unavailable,
        vec![in_b.clone()],
        "village B is not for cadre A"
    );
    assert!(
        !holdings.docs.get_mut(&in_a).unwrap().get_heads().is_empty(),
        "village A arrives"
    );

    // Writing a new record into village B is refused and nothing is stored.
    let mut foreign =
        AutoCommit::new().with_actor(ActorId::from(new_native_actor(device_a, [1; 4])));
    create_dispute(
        &mut foreign,
        &Author::new("cadre-a", T0),
        &sample_dispute(VILLAGE_B, "越权"),
    )
    .unwrap();
    let new_id = DocumentId::random();
    let result = send(&server, &token_a, &new_id, foreign, WAIT);
    assert_eq!(
        result.unwrap(),
        vec![new_id.clone()],
        "answered doc-unavailable"
    );
    assert!(!stored(&server, &new_id));
}

#[test]
fn a_town_official_sees_the_whole_town_and_nothing_of_the_next_over_websocket() {
    let server = TestServer::start();
    let in_a = record_in(&server, VILLAGE_A, "甲");
    let in_b = record_in(&server, VILLAGE_B, "乙");
    let next = record_in(&server, NEXT_TOWN_VILLAGE, "丙");
    let (_, town) = server.enroll("town-1", Role::Town, "500110101");
    let (mut holdings, unavailable) =
        fetch(&server, &town, &[in_a.clone(), in_b.clone(), next.clone()]);
    assert_eq!(unavailable, vec![next]);
    for id in [&in_a, &in_b] {
        assert!(!holdings.docs.get_mut(id).unwrap().get_heads().is_empty());
    }
}

#[test]
fn a_supervisor_reads_but_cannot_write_over_websocket() {
    let server = TestServer::start();
    let id = record_in(&server, VILLAGE_A, "监督");
    let (supervisor_device, supervisor) = server.enroll("supervisor", Role::Supervisor, VILLAGE_A);
    let (holdings, unavailable) = fetch(&server, &supervisor, std::slice::from_ref(&id));
    assert!(unavailable.is_empty());
    let mut doc = holdings.docs[&id].clone();
    let before = doc.get_heads();
    assert!(!before.is_empty(), "the supervisor reads the record");

    doc.set_actor(ActorId::from(new_native_actor(supervisor_device, [2; 4])));
    set_risk(&mut doc, &Author::new("supervisor", T0 + DAY), Risk::High).unwrap();
    // A well-behaved client sees the server's read-only flag and never
    // sends the change; the exchange cannot complete.
    let _ = send(
        &server,
        &supervisor,
        &id,
        doc.clone(),
        Duration::from_secs(3),
    );
    assert_eq!(
        stored_risk(&server, &id),
        Some(Risk::Low),
        "nothing was written"
    );
    assert!(
        server
            .running()
            .state
            .engine
            .storage()
            .list_quarantine(10)
            .unwrap()
            .is_empty()
    );

    // A client that pushes the change anyway is refused all the same.
    let changes = doc.save_after(&before);
    server.runtime().block_on(async {
        let mut client = RepoClient::connect(&ws_url(&server, &supervisor), "pushy-supervisor")
            .await
            .unwrap();
        let mut message = AutoCommit::new()
            .sync()
            .generate_sync_message(&mut automerge::sync::State::new())
            .unwrap();
        message.heads = doc.get_heads();
        message.changes = automerge::sync::ChunkList::from(changes);
        client.send_raw_sync(&id, message).await.unwrap();
        // Give the server the time to handle it before looking.
        let mut holdings = Holdings::default();
        let _ = client
            .fetch(
                &mut holdings,
                std::slice::from_ref(&id),
                Duration::from_secs(2),
            )
            .await;
        client.close().await;
    });
    assert_eq!(
        stored_risk(&server, &id),
        Some(Risk::Low),
        "nothing was written"
    );
    // Ignored as Automerge's read-only sync ignores it: counted, not kept.
    assert!(
        server
            .running()
            .state
            .engine
            .storage()
            .list_quarantine(10)
            .unwrap()
            .is_empty(),
        "a read-only device's changes are not quarantined"
    );
    assert!(
        server
            .running()
            .state
            .metrics
            .read_only_ignored
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1,
        "but counted"
    );
}

#[test]
fn a_forged_actor_is_refused_over_websocket() {
    let server = TestServer::start();
    let id = record_in(&server, VILLAGE_A, "伪造");
    let (_, token_a) = server.enroll("cadre-a", Role::Cadre, VILLAGE_A);
    let (device_b, _) = server.enroll("cadre-b", Role::Cadre, VILLAGE_B);
    let (holdings, _) = fetch(&server, &token_a, std::slice::from_ref(&id));
    let mut doc = holdings.docs[&id].clone();
    // A change in village A attributed to B's device, relayed by A.
    doc.set_actor(ActorId::from(new_native_actor(device_b, [3; 4])));
    set_risk(&mut doc, &Author::new("cadre-b", T0 + DAY), Risk::High).unwrap();
    let result = send(&server, &token_a, &id, doc, WAIT);
    assert_eq!(
        result.unwrap(),
        vec![id.clone()],
        "refused: doc-unavailable"
    );
    assert_eq!(stored_risk(&server, &id), Some(Risk::Low));

    // The same change by A's own device is accepted.
    let (device_a2, token_a2) = server.enroll("cadre-a2", Role::Cadre, VILLAGE_A);
    let (holdings, _) = fetch(&server, &token_a2, std::slice::from_ref(&id));
    let mut doc = holdings.docs[&id].clone();
    doc.set_actor(ActorId::from(new_native_actor(device_a2, [4; 4])));
    set_risk(&mut doc, &Author::new("cadre-a2", T0 + DAY), Risk::High).unwrap();
    assert_eq!(
        send(&server, &token_a2, &id, doc, WAIT).unwrap(),
        Vec::<DocumentId>::new()
    );
    assert_eq!(stored_risk(&server, &id), Some(Risk::High));
}

#[test]
fn changes_made_over_websocket_reach_batch_phones_with_their_author() {
    let server = TestServer::start();
    let id = record_in(&server, VILLAGE_A, "两扇门");
    let (device, token) = server.enroll("town-1", Role::Town, "500110101");
    let (holdings, _) = fetch(&server, &token, std::slice::from_ref(&id));
    let mut doc = holdings.docs[&id].clone();
    doc.set_actor(ActorId::from(new_native_actor(device, [5; 4])));
    set_risk(&mut doc, &Author::new("town-1", T0 + DAY), Risk::Medium).unwrap();
    assert!(send(&server, &token, &id, doc, WAIT).unwrap().is_empty());

    let (phone_device, phone_token) = server.enroll("cadre-a", Role::Cadre, VILLAGE_A);
    let mut phone = Phone::enrolled("cadre-a", phone_device, &phone_token);
    phone.sync(&server.url());
    let Record::Dispute(dispute) = phone.replica.record(&id).unwrap() else {
        panic!("a dispute")
    };
    assert_eq!(dispute.risk, Some(Risk::Medium));
}
