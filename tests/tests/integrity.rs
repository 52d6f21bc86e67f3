//! Nobody writes what they may not, or as someone else: changes under
//! another person's device, records and events in another person's name,
//! and duplicate links that would hide a case from the statistics, on the
//! batch door.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use fengqiao_protocol::batch::{DocUpload, SyncRequest, SyncResponse};
use fengqiao_protocol::codec::DecodeLimits;
use fengqiao_protocol::{DocumentId, ErrorCode};
use fengqiao_shared::access::{Role, new_native_actor};
use fengqiao_shared::record::{Author, NewEvent, add_event, create_dispute};
use fengqiao_shared::vocab::{EventKind, Risk};
use fengqiao_tests::{T0, TestServer, sample_dispute};
use serde_json::Value;

const VILLAGE: &str = "500110101001";
const TOWN: &str = "500110101";

/// Uploads the changes of `doc` made since `since` as one record.
fn upload(
    server: &TestServer,
    token: &str,
    id: &DocumentId,
    doc: &mut AutoCommit,
    since: &[automerge::ChangeHash],
) -> Option<(ErrorCode, String)> {
    let mut request = SyncRequest::new(None);
    request.docs.push(DocUpload {
        id: id.clone(),
        heads: vec![],
        changes: if since.is_empty() {
            doc.save()
        } else {
            doc.save_after(since)
        },
    });
    let (status, body) = server.post("/v1/sync", Some(token), &[], &request.encode());
    assert_eq!(status, 200);
    let response = SyncResponse::decode(&body, &DecodeLimits::DEFAULT).unwrap();
    response
        .docs
        .iter()
        .find(|d| &d.id == id)
        .and_then(|d| d.error.as_ref())
        .map(|e| (e.code, e.message.clone()))
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

fn own_doc(device: fengqiao_protocol::DeviceId) -> AutoCommit {
    AutoCommit::new().with_actor(new_native_actor(device, [1, 2, 3, 4]).into())
}

fn high_risk(person: &str, device: fengqiao_protocol::DeviceId) -> AutoCommit {
    let mut doc = own_doc(device);
    let mut dispute = sample_dispute(VILLAGE, "高风险纠纷");
    dispute.risk = Risk::High;
    create_dispute(&mut doc, &Author::new(person, T0), &dispute).unwrap();
    doc
}

fn get_json(server: &TestServer, path: &str, token: &str) -> Value {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let mut response = agent
        .get(&format!("{}{path}", server.url()))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("the server answers");
    assert_eq!(response.status().as_u16(), 200, "{path}");
    response.body_mut().read_json().expect("a JSON answer")
}

#[test]
fn a_cadre_cannot_send_changes_under_a_town_officials_device() {
    let server = TestServer::start();
    let (cadre, cadre_token) = server.enroll("cadre-a", Role::Cadre, VILLAGE);
    let (official, _) = server.enroll("official", Role::Town, TOWN);
    // The official's device id followed by 4 bytes, sent by the cadre.
    let mut forged = AutoCommit::new().with_actor(new_native_actor(official, [9; 4]).into());
    create_dispute(
        &mut forged,
        &Author::new("cadre-a", T0),
        &sample_dispute(VILLAGE, "冒名"),
    )
    .unwrap();
    let id = DocumentId::random();
    let (code, message) = upload(&server, &cadre_token, &id, &mut forged, &[]).expect("refused");
    assert_eq!(code, ErrorCode::Forbidden);
    assert!(!stored(&server, &id));
    // The refusal speaks of the sender's own upload, never of the other
    // device: its id, role and scope stay unsaid.
    for secret in [official.to_string(), "town".to_owned(), TOWN.to_owned()] {
        assert!(!message.contains(&secret), "{secret:?} in {message:?}");
    }
    assert!(message.contains("not this device's"), "{message}");

    // The same person's second phone may pass on the first phone's change.
    let (second, second_token) = server.enroll("cadre-a", Role::Cadre, VILLAGE);
    assert_ne!(second, cadre);
    let mut own = own_doc(cadre);
    create_dispute(
        &mut own,
        &Author::new("cadre-a", T0),
        &sample_dispute(VILLAGE, "本人旧手机"),
    )
    .unwrap();
    let id = DocumentId::random();
    assert_eq!(upload(&server, &second_token, &id, &mut own, &[]), None);
    assert!(stored(&server, &id));
}

#[test]
fn records_and_events_are_written_in_the_senders_name_only() {
    let server = TestServer::start();
    let (cadre, token) = server.enroll("cadre-a", Role::Cadre, VILLAGE);
    server.enroll("official", Role::Town, TOWN);

    let mut doc = own_doc(cadre);
    create_dispute(
        &mut doc,
        &Author::new("official", T0),
        &sample_dispute(VILLAGE, "以镇领导名义创建"),
    )
    .unwrap();
    let id = DocumentId::random();
    let (code, message) = upload(&server, &token, &id, &mut doc, &[]).expect("refused");
    assert_eq!(code, ErrorCode::Forbidden);
    assert!(message.contains("createdBy"), "{message}");
    assert!(!stored(&server, &id));

    let mut doc = own_doc(cadre);
    create_dispute(
        &mut doc,
        &Author::new("cadre-a", T0),
        &sample_dispute(VILLAGE, "本人创建"),
    )
    .unwrap();
    let id = DocumentId::random();
    assert_eq!(upload(&server, &token, &id, &mut doc, &[]), None);
    let heads = doc.get_heads();
    add_event(
        &mut doc,
        &Author::new("official", T0 + 1),
        &NewEvent::new(EventKind::Note).with_note("镇里已批示"),
    )
    .unwrap();
    let (code, message) = upload(&server, &token, &id, &mut doc, &heads).expect("refused");
    assert_eq!(code, ErrorCode::Forbidden);
    assert!(message.contains("events[1].by"), "{message}");
}

#[test]
fn a_cadre_cannot_hide_its_case_behind_a_duplicate_link() {
    let server = TestServer::start();
    let (cadre, cadre_token) = server.enroll("cadre-a", Role::Cadre, VILLAGE);
    let (official, town_token) = server.enroll("official", Role::Town, TOWN);
    let mut doc = high_risk("cadre-a", cadre);
    let id = DocumentId::random();
    assert_eq!(upload(&server, &cadre_token, &id, &mut doc, &[]), None);
    let high_risk_count = |server: &TestServer| {
        get_json(server, "/v1/stats/summary", &town_token)["disputes"]["openHighRisk"]["count"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(high_risk_count(&server), 1);

    // The cadre links its own case to a made-up id over the sync door.
    let heads = doc.get_heads();
    let links = doc
        .put_object(ROOT, "links", automerge::ObjType::Map)
        .unwrap();
    doc.put(&links, "duplicateOf", DocumentId::random().as_str())
        .unwrap();
    doc.commit();
    let (code, _) = upload(&server, &cadre_token, &id, &mut doc, &heads).expect("refused");
    assert_eq!(code, ErrorCode::Forbidden);
    assert_eq!(high_risk_count(&server), 1);

    // A town official may link, but only to a case that exists here.
    let mut linked = high_risk("official", official);
    let linked_heads = linked.get_heads();
    let _ = linked_heads;
    let other = DocumentId::random();
    let links = linked
        .put_object(ROOT, "links", automerge::ObjType::Map)
        .unwrap();
    linked
        .put(&links, "duplicateOf", DocumentId::random().as_str())
        .unwrap();
    linked.commit();
    let (code, message) = upload(&server, &town_token, &other, &mut linked, &[]).expect("refused");
    assert_eq!(code, ErrorCode::InvalidRecord);
    assert!(message.contains("links.duplicateOf"), "{message}");
    linked.put(&links, "duplicateOf", id.as_str()).unwrap();
    linked.commit();
    assert_eq!(upload(&server, &town_token, &other, &mut linked, &[]), None);
    // The cadre's case counts; the linked one is its duplicate.
    assert_eq!(high_risk_count(&server), 1);
}

fn post_json(server: &TestServer, path: &str, token: &str, body: Value) -> (u16, Value) {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let response = agent
        .post(&format!("{}{path}", server.url()))
        .header("Authorization", &format!("Bearer {token}"))
        .send_json(body)
        .expect("the server answers");
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn an_admin_removes_an_abusive_record_for_good() {
    let server = TestServer::start();
    let (cadre, cadre_token) = server.enroll("cadre-a", Role::Cadre, VILLAGE);
    let (_, town_token) = server.enroll("official", Role::Town, TOWN);
    let (_, other_admin) = server.enroll("admin-next-town", Role::Admin, "500110102");
    let (_, own_admin) = server.enroll("admin-town", Role::Admin, TOWN);
    let mut doc = high_risk("cadre-a", cadre);
    let id = DocumentId::random();
    assert_eq!(upload(&server, &cadre_token, &id, &mut doc, &[]), None);
    let counted = |server: &TestServer| {
        get_json(server, "/v1/stats/summary", &town_token)["disputes"]["openHighRisk"]["count"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(counted(&server), 1);
    let path = format!("/v1/admin/records/{id}/remove");
    let reason = serde_json::json!({ "reason": "600,000 characters of junk" });

    // An admin of another town gets what a missing record gets.
    let (status, body) = post_json(&server, &path, &other_admin, reason.clone());
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let missing = format!("/v1/admin/records/{}/remove", DocumentId::random());
    let (status, _) = post_json(&server, &missing, &other_admin, reason.clone());
    assert_eq!(status, 404);
    // Record roles may not remove; a reason is required.
    let (status, _) = post_json(&server, &path, &town_token, reason.clone());
    assert_eq!(status, 403);
    let (status, _) = post_json(
        &server,
        &path,
        &own_admin,
        serde_json::json!({ "reason": " " }),
    );
    assert_eq!(status, 400);
    assert!(stored(&server, &id));

    let (status, removal) = post_json(&server, &path, &own_admin, reason);
    assert_eq!(status, 200, "{removal}");
    assert_eq!(removal["village"], VILLAGE);
    assert_eq!(removal["reason"], "600,000 characters of junk");
    assert!(!stored(&server, &id));
    // Not counted, not served, and its id takes nothing new.
    assert_eq!(counted(&server), 0);
    let mut again = high_risk("cadre-a", cadre);
    let (code, _) = upload(&server, &cadre_token, &id, &mut again, &[]).expect("refused");
    assert_eq!(code, ErrorCode::Removed);
    assert!(!stored(&server, &id));
    // A device that could never read it learns nothing of the removal: the
    // removed id answers as a free one.
    let (stranger, stranger_token) = server.enroll("cadre-next", Role::Cadre, "500110102001");
    let removed_answer = upload(
        &server,
        &stranger_token,
        &id,
        &mut high_risk("cadre-next", stranger),
        &[],
    );
    let free_answer = upload(
        &server,
        &stranger_token,
        &DocumentId::random(),
        &mut high_risk("cadre-next", stranger),
        &[],
    );
    assert_eq!(
        removed_answer.as_ref().map(|a| a.0),
        Some(ErrorCode::Forbidden)
    );
    assert_eq!(removed_answer, free_answer);
    // The removal is the record's audit trail now.
    let trail = get_json(&server, &format!("/v1/records/{id}/history"), &town_token);
    let summary = trail[0]["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("600,000 characters of junk"), "{trail}");
}

#[test]
fn removing_a_case_does_not_hide_the_cases_linked_to_it() {
    let server = TestServer::start();
    let (cadre, cadre_token) = server.enroll("cadre-a", Role::Cadre, VILLAGE);
    let (official, town_token) = server.enroll("official", Role::Town, TOWN);
    let (_, admin) = server.enroll("admin-town", Role::Admin, TOWN);
    let high_risk_count = |server: &TestServer| {
        get_json(server, "/v1/stats/summary", &town_token)["disputes"]["openHighRisk"]["count"]
            .as_u64()
            .unwrap()
    };
    let original = DocumentId::random();
    let mut doc = high_risk("cadre-a", cadre);
    assert_eq!(
        upload(&server, &cadre_token, &original, &mut doc, &[]),
        None
    );
    // The town records the same dispute again and links it to the first.
    let mut again = high_risk("official", official);
    let links = again
        .put_object(ROOT, "links", automerge::ObjType::Map)
        .unwrap();
    again.put(&links, "duplicateOf", original.as_str()).unwrap();
    again.commit();
    let duplicate = DocumentId::random();
    assert_eq!(
        upload(&server, &town_token, &duplicate, &mut again, &[]),
        None
    );
    assert_eq!(high_risk_count(&server), 1, "one case, counted once");

    // The first record is removed as abusive: the case it stood for is
    // still there, in the record linked to it, and counts.
    let path = format!("/v1/admin/records/{original}/remove");
    let (status, body) = post_json(
        &server,
        &path,
        &admin,
        serde_json::json!({ "reason": "junk" }),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(high_risk_count(&server), 1, "the linked case counts again");
}
