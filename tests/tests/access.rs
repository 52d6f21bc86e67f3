//! Nobody reads or writes where they do not belong: enrolled devices,
//! roles and scopes, enforced on the batch door and the admin API.

use automerge::AutoCommit;
use fengqiao_protocol::batch::{DocUpload, SyncRequest, SyncResponse};
use fengqiao_protocol::codec::DecodeLimits;
use fengqiao_protocol::{DeviceId, DocumentId, ErrorCode};
use fengqiao_shared::access::{Role, new_native_actor};
use fengqiao_shared::record::{Author, Record, create_dispute, set_risk};
use fengqiao_shared::vocab::Risk;
use fengqiao_tests::{DAY, Phone, T0, TestServer, sample_dispute};
use serde_json::{Value, json};

const VILLAGE_A: &str = "500110101001";
const VILLAGE_B: &str = "500110101002";
const NEXT_TOWN_VILLAGE: &str = "500110102001";

fn phone(server: &TestServer, person: &str, role: Role, scope: &str) -> Phone {
    let (device, token) = server.enroll(person, role, scope);
    Phone::enrolled(person, device, &token)
}

fn post_sync(server: &TestServer, token: &str, request: &SyncRequest) -> (u16, Vec<u8>) {
    server.post("/v1/sync", Some(token), &[], &request.encode())
}

fn upload(server: &TestServer, token: &str, id: &DocumentId, doc: &mut AutoCommit) -> SyncResponse {
    let mut request = SyncRequest::new(None);
    request.docs.push(DocUpload {
        id: id.clone(),
        heads: vec![],
        changes: doc.save(),
    });
    let (status, body) = post_sync(server, token, &request);
    assert_eq!(status, 200);
    SyncResponse::decode(&body, &DecodeLimits::DEFAULT).unwrap()
}

fn error_code(response: &SyncResponse, id: &DocumentId) -> Option<ErrorCode> {
    response
        .docs
        .iter()
        .find(|d| &d.id == id)
        .and_then(|d| d.error.as_ref())
        .map(|e| e.code)
}

fn ids(phone: &Phone) -> Vec<DocumentId> {
    let mut ids = phone.replica.ids().unwrap();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<DocumentId>) -> Vec<DocumentId> {
    ids.sort();
    ids
}

#[test]
fn cadres_read_and_write_only_their_village() {
    let server = TestServer::start();
    let mut a = phone(&server, "cadre-a", Role::Cadre, VILLAGE_A);
    let mut b = phone(&server, "cadre-b", Role::Cadre, VILLAGE_B);
    let in_a = a.report(VILLAGE_A, "甲村纠纷", T0);
    let in_b = b.report(VILLAGE_B, "乙村纠纷", T0);
    a.sync(&server.url());
    b.sync(&server.url());
    // Each phone holds its own village's record only.
    assert_eq!(ids(&a), vec![in_a.clone()]);
    assert_eq!(ids(&b), vec![in_b.clone()]);

    // A cadre of village A writing into village B is refused, for a new
    // record and for an existing one, with the same answer either way.
    let mut foreign =
        AutoCommit::new().with_actor(new_native_actor(a.replica.device(), [1, 2, 3, 4]).into());
    create_dispute(
        &mut foreign,
        &a.author(T0),
        &sample_dispute(VILLAGE_B, "越权"),
    )
    .unwrap();
    let new_id = DocumentId::random();
    let response = upload(&server, &a.token, &new_id, &mut foreign);
    assert_eq!(error_code(&response, &new_id), Some(ErrorCode::Forbidden));
    let missing = response
        .docs
        .iter()
        .find(|d| d.id == new_id)
        .unwrap()
        .clone();

    let mut theirs = b.replica.document(&in_b).unwrap().unwrap();
    theirs.set_actor(new_native_actor(a.replica.device(), [1, 2, 3, 5]).into());
    set_risk(&mut theirs, &a.author(T0 + DAY), Risk::High).unwrap();
    let response = upload(&server, &a.token, &in_b, &mut theirs);
    let existing = response.docs.iter().find(|d| d.id == in_b).unwrap();
    assert_eq!(
        existing.error.as_ref().map(|e| e.code),
        Some(ErrorCode::Forbidden)
    );
    assert!(
        existing.data.is_empty() && existing.heads.is_empty(),
        "nothing revealed"
    );
    assert_eq!(
        existing.error, missing.error,
        "an existing record and a new one are refused alike"
    );

    // Nothing changed in village B.
    b.sync(&server.url());
    let Record::Dispute(d) = b.replica.record(&in_b).unwrap() else {
        panic!()
    };
    assert_eq!(d.risk, Some(Risk::Low));
}

#[test]
fn a_town_official_sees_the_whole_town_and_nothing_of_the_next() {
    let server = TestServer::start();
    let mut a = phone(&server, "cadre-a", Role::Cadre, VILLAGE_A);
    let mut b = phone(&server, "cadre-b", Role::Cadre, VILLAGE_B);
    let mut c = phone(&server, "cadre-c", Role::Cadre, NEXT_TOWN_VILLAGE);
    let ra = a.report(VILLAGE_A, "甲", T0);
    let rb = b.report(VILLAGE_B, "乙", T0);
    c.report(NEXT_TOWN_VILLAGE, "丙", T0);
    for p in [&mut a, &mut b, &mut c] {
        p.sync(&server.url());
    }
    let mut town = phone(&server, "town-1", Role::Town, "500110101");
    town.sync(&server.url());
    assert_eq!(ids(&town), sorted(vec![ra, rb]));
}

#[test]
fn a_supervisor_reads_but_cannot_write() {
    let server = TestServer::start();
    let mut a = phone(&server, "cadre-a", Role::Cadre, VILLAGE_A);
    let id = a.report(VILLAGE_A, "监督", T0);
    a.sync(&server.url());
    let mut supervisor = phone(&server, "supervisor", Role::Supervisor, VILLAGE_A);
    supervisor.sync(&server.url());
    assert_eq!(ids(&supervisor), vec![id.clone()]);

    let author = supervisor.author(T0 + DAY);
    supervisor
        .replica
        .edit(&id, |doc| set_risk(doc, &author, Risk::High))
        .unwrap();
    let report = supervisor.sync(&server.url());
    assert_eq!(report.rejected(), 1);
    let (_, error) = &supervisor.replica.needing_attention().unwrap()[0];
    assert_eq!(error.code, ErrorCode::Forbidden);
    a.sync(&server.url());
    let Record::Dispute(d) = a.replica.record(&id).unwrap() else {
        panic!()
    };
    assert_eq!(
        d.risk,
        Some(Risk::Low),
        "the supervisor's write was not stored"
    );
}

#[test]
fn a_revoked_token_is_refused_at_its_next_request() {
    let server = TestServer::start();
    let (device, token) = server.enroll("cadre-a", Role::Cadre, VILLAGE_A);
    let mut a = Phone::enrolled("cadre-a", device, &token);
    a.report(VILLAGE_A, "撤销", T0);
    a.sync(&server.url());
    server.directory().revoke(&device).unwrap();
    a.report(VILLAGE_A, "撤销后", T0 + 1);
    let err = a.try_sync(&server.url()).unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");

    // A rotated token replaces the old one.
    let (device2, token2) = server.enroll("cadre-b", Role::Cadre, VILLAGE_B);
    let fresh = server.directory().rotate(&device2).unwrap();
    let (status, _) = post_sync(&server, &token2, &SyncRequest::new(None));
    assert_eq!(status, 401);
    let (status, _) = post_sync(&server, &fresh.0, &SyncRequest::new(None));
    assert_eq!(status, 200);
}

#[test]
fn a_forged_actor_is_refused_even_when_relayed_by_a_device_with_scope() {
    let server = TestServer::start();
    let (_, token_a) = server.enroll("cadre-a", Role::Cadre, VILLAGE_A);
    let (device_b, _) = server.enroll("cadre-b", Role::Cadre, VILLAGE_B);
    // A change in village A whose native actor names B's device, relayed by A.
    let mut forged = AutoCommit::new().with_actor(new_native_actor(device_b, [9, 9, 9, 9]).into());
    create_dispute(
        &mut forged,
        &Author::new("cadre-b", T0),
        &sample_dispute(VILLAGE_A, "伪造"),
    )
    .unwrap();
    let id = DocumentId::random();
    let response = upload(&server, &token_a, &id, &mut forged);
    assert_eq!(error_code(&response, &id), Some(ErrorCode::Forbidden));
    assert!(
        server
            .running()
            .state
            .engine
            .storage()
            .doc_meta(&id)
            .unwrap()
            .is_none()
    );

    // A foreign (non-native) actor binds to the first device that uploads it;
    // another device may not then pass off new changes by that actor as
    // coming from outside its own scope.
    let mut js_like = AutoCommit::new().with_actor(automerge::ActorId::from(vec![7u8; 16]));
    create_dispute(
        &mut js_like,
        &Author::new("cadre-a", T0),
        &sample_dispute(VILLAGE_A, "网页端"),
    )
    .unwrap();
    let js_id = DocumentId::random();
    let response = upload(&server, &token_a, &js_id, &mut js_like);
    assert_eq!(error_code(&response, &js_id), None, "bound to cadre-a");
    let (_, token_town2) = server.enroll("town-2", Role::Town, "500110102");
    let mut relayed = AutoCommit::new().with_actor(automerge::ActorId::from(vec![7u8; 16]));
    create_dispute(
        &mut relayed,
        &Author::new("town-2", T0),
        &sample_dispute(NEXT_TOWN_VILLAGE, "冒用"),
    )
    .unwrap();
    let relayed_id = DocumentId::random();
    let response = upload(&server, &token_town2, &relayed_id, &mut relayed);
    assert_eq!(
        error_code(&response, &relayed_id),
        Some(ErrorCode::Forbidden),
        "the actor belongs to cadre-a, who may not write the next town"
    );
}

#[test]
fn a_reassigned_phone_purges_its_former_village() {
    let server = TestServer::start();
    let mut b = phone(&server, "cadre-b", Role::Cadre, VILLAGE_B);
    let in_b = b.report(VILLAGE_B, "乙村", T0);
    b.sync(&server.url());
    let (device, token) = server.enroll("cadre-a", Role::Cadre, VILLAGE_A);
    let mut a = Phone::enrolled("cadre-a", device, &token);
    let in_a = a.report(VILLAGE_A, "甲村", T0);
    a.sync(&server.url());
    assert_eq!(ids(&a), vec![in_a.clone()]);

    server
        .directory()
        .set_access(
            &device,
            fengqiao_shared::access::DeviceAccess::new(
                Role::Cadre,
                fengqiao_protocol::Scope::parse(VILLAGE_B).unwrap(),
            ),
        )
        .unwrap();
    let report = a.sync(&server.url());
    assert_eq!(report.purged(), 1);
    assert_eq!(
        ids(&a),
        vec![in_b],
        "village A's record is gone, village B's arrived"
    );
    assert!(a.replica.document(&in_a).unwrap().is_none());
}

fn admin_call(
    server: &TestServer,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let url = format!("{}{path}", server.url());
    let auth = format!("Bearer {token}");
    let response = match (method, body) {
        ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
        (_, Some(body)) => agent
            .post(&url)
            .header("Authorization", &auth)
            .send_json(body),
        (_, None) => agent.post(&url).header("Authorization", &auth).send_empty(),
    }
    .unwrap();
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn admin_token(server: &TestServer) -> String {
    std::fs::read_to_string(server.data.join("admin.token"))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn the_admin_api_enrolls_devices_and_refuses_other_tokens() {
    let server = TestServer::start();
    let admin = admin_token(&server);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(server.data.join("admin.token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (status, person) = admin_call(
        &server,
        "POST",
        "/v1/admin/people",
        &admin,
        Some(json!({"id": "zhang-san", "name": "张三"})),
    );
    assert_eq!(status, 200, "{person}");
    let (status, enrolled) = admin_call(
        &server,
        "POST",
        "/v1/admin/devices",
        &admin,
        Some(json!({"person": "zhang-san", "role": "cadre", "scope": VILLAGE_A})),
    );
    assert_eq!(status, 200, "{enrolled}");
    let token = enrolled["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("fq_") && token.len() > 40);
    assert_eq!(enrolled["setup"]["token"], token.as_str());
    assert!(
        enrolled["setup"]["server"]
            .as_str()
            .unwrap()
            .starts_with("http://")
    );
    let device: DeviceId = enrolled["device"]["id"].as_str().unwrap().parse().unwrap();

    // The device's own token, and the development token, are not admin tokens.
    for other in [token.as_str(), fengqiao_tests::TOKEN] {
        let (status, body) = admin_call(&server, "GET", "/v1/admin/devices", other, None);
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["code"], "forbidden");
    }
    let (status, body) = admin_call(&server, "GET", "/v1/admin/devices", "nonsense", None);
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));

    let (status, list) = admin_call(&server, "GET", "/v1/admin/devices", &admin, None);
    assert_eq!(status, 200);
    let listed = &list.as_array().unwrap()[0];
    assert_eq!(listed["personName"], "张三");
    assert!(listed.get("tokenHash").is_none(), "hashes are never listed");
    assert!(
        !list.to_string().contains(&token),
        "tokens are never listed"
    );

    // Token works, then stops after revocation.
    let mut phone = Phone::enrolled("zhang-san", device, &token);
    phone.sync(&server.url());
    let (status, revoked) = admin_call(
        &server,
        "POST",
        &format!("/v1/admin/devices/{device}/revoke"),
        &admin,
        None,
    );
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["revokedAt"].is_number());
    assert!(phone.try_sync(&server.url()).is_err());

    let (status, body) = admin_call(
        &server,
        "POST",
        "/v1/admin/devices",
        &admin,
        Some(json!({"person": "nobody", "role": "cadre", "scope": VILLAGE_A})),
    );
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, body) = admin_call(
        &server,
        "POST",
        "/v1/admin/devices",
        &admin,
        Some(json!({"person": "zhang-san", "role": "cadre", "scope": "510110101001"})),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("bad_request")),
        "unknown place"
    );
}

#[test]
fn history_names_the_devices_and_people_behind_each_change() {
    let server = TestServer::start();
    let mut a = phone(&server, "li-si", Role::Cadre, VILLAGE_A);
    let mut town = phone(&server, "wang-wu", Role::Town, "500110101");
    let id = a.report(VILLAGE_A, "台账", T0);
    a.sync(&server.url());
    town.sync(&server.url());
    let author = town.author(T0 + DAY);
    town.replica
        .edit(&id, |doc| set_risk(doc, &author, Risk::High))
        .unwrap();
    town.sync(&server.url());

    let (_, supervisor_token) = server.enroll("zhao-liu", Role::Supervisor, VILLAGE_A);
    let (status, history) = admin_call(
        &server,
        "GET",
        &format!("/v1/records/{id}/history"),
        &supervisor_token,
        None,
    );
    assert_eq!(status, 200, "{history}");
    let entries = history.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["person"], "li-si");
    assert_eq!(entries[0]["device"], a.replica.device().to_string());
    assert!(
        entries[0]["summary"]
            .as_str()
            .unwrap()
            .contains("dispute reported")
    );
    assert_eq!(entries[1]["person"], "wang-wu");
    assert_eq!(entries[1]["summary"], "risk low → high");

    // A cadre does not read the audit trail; another town does not see it.
    let (status, _) = admin_call(
        &server,
        "GET",
        &format!("/v1/records/{id}/history"),
        &a.token,
        None,
    );
    assert_eq!(status, 403);
    let (_, other) = server.enroll("far-away", Role::Supervisor, NEXT_TOWN_VILLAGE);
    let (status, body) = admin_call(
        &server,
        "GET",
        &format!("/v1/records/{id}/history"),
        &other,
        None,
    );
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
}

#[test]
fn records_naming_an_unknown_village_are_invalid() {
    let server = TestServer::start();
    let mut phone = Phone::new("dev");
    // 500110106 is not a town of the test organisation.
    phone.report("500110106001", "未知村", T0);
    let report = phone.sync(&server.url());
    assert_eq!(report.rejected(), 1);
    let (_, error) = &phone.replica.needing_attention().unwrap()[0];
    assert_eq!(error.code, ErrorCode::InvalidRecord);
    assert!(error.message.contains("500110106001"), "{}", error.message);
}

#[test]
fn devices_are_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        fengqiao_server::serve::ServeConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap());
    config.rate = fengqiao_server::limit::RateLimit {
        per_second: 0.01,
        burst: 5.0,
    };
    let server = TestServer::start_with(config);
    let (_, token) = server.enroll("cadre-a", Role::Cadre, VILLAGE_A);
    let statuses: Vec<u16> = (0..8)
        .map(|_| post_sync(&server, &token, &SyncRequest::new(None)).0)
        .collect();
    assert_eq!(&statuses[..5], &[200; 5]);
    assert_eq!(statuses[7], 429);
    let (_, body) = post_sync(&server, &token, &SyncRequest::new(None));
    let error: fengqiao_protocol::ErrorBody = ciborium::from_reader(&body[..]).unwrap();
    assert_eq!(error.code, ErrorCode::RateLimited);
}

#[test]
fn a_supervisors_edit_over_the_batch_door_is_counted_and_shown_on_its_phone() {
    use std::sync::atomic::Ordering;
    let server = TestServer::start();
    let mut a = phone(&server, "cadre-a", Role::Cadre, VILLAGE_A);
    let id = a.report(VILLAGE_A, "督导改不了", T0);
    a.sync(&server.url());
    let mut supervisor = phone(&server, "supervisor", Role::Supervisor, VILLAGE_A);
    supervisor.sync(&server.url());
    let author = supervisor.author(T0 + DAY);
    supervisor
        .replica
        .edit(&id, |doc| set_risk(doc, &author, Risk::High))
        .unwrap();
    supervisor.sync(&server.url());
    let attention = supervisor.replica.needing_attention().unwrap();
    assert_eq!(attention.len(), 1);
    assert_eq!(attention[0].0, id);
    assert!(
        attention[0].1.message.contains("may only read"),
        "the phone is told why: {:?}",
        attention[0].1
    );
    let metrics = &server.running().state.metrics;
    assert_eq!(metrics.read_only_ignored.load(Ordering::Relaxed), 1);
    assert!(
        server
            .running()
            .state
            .engine
            .storage()
            .list_quarantine(10)
            .unwrap()
            .is_empty(),
        "counted, not quarantined"
    );
}
