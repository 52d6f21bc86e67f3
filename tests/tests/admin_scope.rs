//! The admin API over HTTP as a scoped `admin` device sees it: people,
//! devices, places and quarantined changes of its own scope only, and no
//! device for itself; and district devices, which write only when an
//! admin grants it.

use fengqiao_protocol::{DeviceId, DocumentId, ErrorCode};
use fengqiao_server::storage::QuarantineEntry;
use fengqiao_shared::record::{Record, set_risk};
use fengqiao_shared::vocab::Risk;
use fengqiao_tests::{DAY, Phone, T0, TestServer};
use serde_json::{Value, json};

const TOWN: &str = "500110101";
const VILLAGE: &str = "500110101001";
const NEXT_TOWN: &str = "500110102";
const NEXT_TOWN_VILLAGE: &str = "500110102001";
const DISTRICT: &str = "500110";

/// Calls the admin API; `body` is sent with POST, or with PUT when
/// `method` says so.
fn call(
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
        ("PUT", Some(body)) => agent
            .put(&url)
            .header("Authorization", &auth)
            .send_json(body),
        (_, Some(body)) => agent
            .post(&url)
            .header("Authorization", &auth)
            .send_json(body),
        (_, None) => agent.post(&url).header("Authorization", &auth).send_empty(),
    }
    .expect("the server answers");
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn server_admin(server: &TestServer) -> String {
    std::fs::read_to_string(server.data.join("admin.token"))
        .expect("the admin token file")
        .trim()
        .to_owned()
}

fn register(server: &TestServer, token: &str, id: &str, phone: &str, scope: Option<&str>) {
    let (status, body) = call(
        server,
        "POST",
        "/v1/admin/people",
        token,
        Some(json!({"id": id, "name": id, "phone": phone, "scope": scope})),
    );
    assert_eq!(status, 200, "{body}");
}

fn enroll(
    server: &TestServer,
    token: &str,
    person: &str,
    role: &str,
    scope: &str,
    write: bool,
) -> (u16, Value) {
    call(
        server,
        "POST",
        "/v1/admin/devices",
        token,
        Some(json!({"person": person, "role": role, "scope": scope, "write": write})),
    )
}

fn enrolled(answer: &(u16, Value)) -> (DeviceId, String) {
    assert_eq!(answer.0, 200, "{}", answer.1);
    (
        answer.1["device"]["id"]
            .as_str()
            .expect("a device id")
            .parse()
            .expect("a valid device id"),
        answer.1["token"].as_str().expect("a token").to_owned(),
    )
}

fn code(answer: &(u16, Value)) -> (u16, Option<&str>) {
    (answer.0, answer.1["code"].as_str())
}

fn quarantine(server: &TestServer, device: DeviceId, reason: &str) {
    server
        .running()
        .state
        .engine
        .storage()
        .quarantine(QuarantineEntry::new(
            DocumentId::random(),
            Some(device),
            T0,
            reason.to_owned(),
            ErrorCode::Forbidden,
            &[1, 2, 3],
            64,
        ))
        .expect("quarantined");
}

#[test]
fn a_town_admin_sees_and_changes_only_its_town() {
    let server = TestServer::start();
    let root = server_admin(&server);
    register(&server, &root, "admin-101", "13800000001", Some(TOWN));
    register(&server, &root, "cadre-101", "13800000002", Some(VILLAGE));
    register(
        &server,
        &root,
        "cadre-102",
        "13900000003",
        Some(NEXT_TOWN_VILLAGE),
    );
    register(&server, &root, "unplaced", "13900000004", None);
    let (_, admin) = enrolled(&enroll(&server, &root, "admin-101", "admin", TOWN, false));
    let (outside, _) = enrolled(&enroll(
        &server,
        &root,
        "cadre-102",
        "cadre",
        NEXT_TOWN_VILLAGE,
        false,
    ));

    // People: only those working in the town, and no other phone numbers.
    let (status, people) = call(&server, "GET", "/v1/admin/people", &admin, None);
    assert_eq!(status, 200, "{people}");
    let mut ids: Vec<&str> = people
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["admin-101", "cadre-101"]);
    let text = people.to_string();
    assert!(
        !text.contains("1390000000"),
        "no phone numbers of other scopes: {text}"
    );
    let (_, all) = call(&server, "GET", "/v1/admin/people", &root, None);
    assert_eq!(all.as_array().map(Vec::len), Some(4), "{all}");

    // Registering: only inside the town, never renaming another scope's person.
    let rename = call(
        &server,
        "POST",
        "/v1/admin/people",
        &admin,
        Some(json!({"id": "cadre-102", "name": "改名", "scope": VILLAGE})),
    );
    assert_eq!(code(&rename), (409, Some("conflict")), "{}", rename.1);
    assert!(!rename.1.to_string().contains("13900000003"));
    let unplaced = call(
        &server,
        "POST",
        "/v1/admin/people",
        &admin,
        Some(json!({"id": "unplaced", "name": "改名", "scope": VILLAGE})),
    );
    assert_eq!(code(&unplaced), (409, Some("conflict")));
    let directory = server.directory();
    assert_eq!(
        directory.person("cadre-102").map(|p| p.name).as_deref(),
        Some("cadre-102")
    );
    assert_eq!(
        directory.person("unplaced").map(|p| p.name).as_deref(),
        Some("unplaced")
    );
    let elsewhere = call(
        &server,
        "POST",
        "/v1/admin/people",
        &admin,
        Some(json!({"id": "new-102", "name": "新人", "scope": NEXT_TOWN})),
    );
    assert_eq!(code(&elsewhere), (403, Some("forbidden")));
    let nowhere = call(
        &server,
        "POST",
        "/v1/admin/people",
        &admin,
        Some(json!({"id": "new", "name": "新人"})),
    );
    assert_eq!(code(&nowhere), (400, Some("bad_request")));
    assert!(directory.person("new-102").is_none() && directory.person("new").is_none());

    // Enrolling: not for another scope's person, not for itself, and no
    // device wider than the person's place.
    let devices_before = directory.devices().len();
    let foreign = enroll(&server, &admin, "cadre-102", "cadre", VILLAGE, false);
    assert_eq!(code(&foreign), (404, Some("not_found")), "{}", foreign.1);
    let unplaced = enroll(&server, &admin, "unplaced", "cadre", VILLAGE, false);
    assert_eq!(code(&unplaced), (404, Some("not_found")));
    let itself = enroll(&server, &admin, "admin-101", "town", TOWN, false);
    assert_eq!(code(&itself), (403, Some("forbidden")), "{}", itself.1);
    let wider = enroll(&server, &admin, "cadre-101", "town", TOWN, false);
    assert_eq!(code(&wider), (400, Some("bad_request")), "{}", wider.1);
    let next_town = enroll(
        &server,
        &admin,
        "cadre-101",
        "cadre",
        NEXT_TOWN_VILLAGE,
        false,
    );
    assert_eq!(code(&next_town), (403, Some("forbidden")));
    assert_eq!(
        directory.devices().len(),
        devices_before,
        "nothing enrolled"
    );

    // What it may do, it does: a cadre of its town, who then syncs.
    let (inside, cadre_token) = enrolled(&enroll(
        &server,
        &admin,
        "cadre-101",
        "cadre",
        VILLAGE,
        false,
    ));
    let mut cadre = Phone::enrolled("cadre-101", inside, &cadre_token);
    let record = cadre.report(VILLAGE, "镇管理员登记的设备", T0);
    assert_eq!(cadre.sync(&server.url()).rejected(), 0);
    // Admin devices read no records, not even their audit trail; the
    // server's admin token does.
    let trail = format!("/v1/admin/records/{record}/history");
    assert_eq!(
        code(&call(&server, "GET", &trail, &admin, None)),
        (403, Some("forbidden"))
    );
    let (status, entries) = call(&server, "GET", &trail, &root, None);
    assert_eq!(status, 200, "{entries}");
    assert_eq!(entries[0]["person"], "cadre-101");

    // Devices: its own scope's only; another scope's answer as unknown.
    let (_, devices) = call(&server, "GET", "/v1/admin/devices", &admin, None);
    let listed = devices.to_string();
    assert!(listed.contains(&inside.to_string()), "{listed}");
    assert!(!listed.contains(&outside.to_string()), "{listed}");
    for (method, path, body) in [
        ("POST", format!("/v1/admin/devices/{outside}/rotate"), None),
        ("POST", format!("/v1/admin/devices/{outside}/revoke"), None),
        (
            "PUT",
            format!("/v1/admin/devices/{outside}/access"),
            Some(json!({"role": "cadre", "scope": VILLAGE})),
        ),
    ] {
        let answer = call(&server, method, &path, &admin, body);
        assert_eq!(code(&answer), (404, Some("not_found")), "{path}");
    }
    assert!(!directory.device(&outside).expect("kept").is_revoked());

    // Its own device cannot be turned into one that reads records.
    let own: DeviceId = directory
        .devices()
        .iter()
        .find(|d| d.person == "admin-101")
        .map(|d| d.id)
        .expect("the admin device");
    let promote = call(
        &server,
        "PUT",
        &format!("/v1/admin/devices/{own}/access"),
        &admin,
        Some(json!({"role": "town", "scope": TOWN})),
    );
    assert_eq!(code(&promote), (403, Some("forbidden")), "{}", promote.1);

    // Places: its town and the district above, not the next town.
    let (_, org) = call(&server, "GET", "/v1/admin/org", &admin, None);
    assert!(org["towns"].get(TOWN).is_some(), "{org}");
    assert!(org["districts"].get(DISTRICT).is_some(), "{org}");
    assert!(org["towns"].get(NEXT_TOWN).is_none(), "{org}");
    assert!(org["villages"].get(NEXT_TOWN_VILLAGE).is_none());

    // Quarantine: what its own devices sent, nothing else.
    quarantine(&server, outside, "refused in the next town");
    quarantine(&server, inside, "refused in the town");
    let (status, entries) = call(&server, "GET", "/v1/admin/quarantine", &admin, None);
    assert_eq!(status, 200, "{entries}");
    let reasons: Vec<&str> = entries
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert_eq!(reasons, vec!["refused in the town"]);
    let (_, everything) = call(&server, "GET", "/v1/admin/quarantine", &root, None);
    assert_eq!(everything.as_array().map(Vec::len), Some(2));

    // The organisation and backups stay with the server's admin token.
    let import = call(
        &server,
        "POST",
        "/v1/admin/org",
        &admin,
        Some(json!({"format": "csv", "text": "500110,区\n"})),
    );
    assert_eq!(code(&import), (403, Some("forbidden")));
    assert_eq!(
        call(&server, "GET", "/v1/admin/backup", &admin, None).0,
        403
    );

    // Admin devices: over a narrower scope only, so no admin makes a peer
    // that could act for it; peers answer to the admin above.
    register(&server, &root, "admin-b", "13800000005", Some(TOWN));
    let peer = enroll(&server, &admin, "admin-b", "admin", TOWN, false);
    assert_eq!(code(&peer), (403, Some("forbidden")), "{}", peer.1);
    let narrower = enroll(&server, &admin, "cadre-101", "admin", VILLAGE, false);
    assert_eq!(narrower.0, 200, "{}", narrower.1);
    let (peer, _) = enrolled(&enroll(&server, &root, "admin-b", "admin", TOWN, false));
    for path in [
        format!("/v1/admin/devices/{peer}/rotate"),
        format!("/v1/admin/devices/{peer}/revoke"),
    ] {
        let answer = call(&server, "POST", &path, &admin, None);
        assert_eq!(code(&answer), (404, Some("not_found")), "{path}");
    }
    let promote = call(
        &server,
        "PUT",
        &format!("/v1/admin/devices/{inside}/access"),
        &admin,
        Some(json!({"role": "admin", "scope": TOWN})),
    );
    assert_eq!(code(&promote), (403, Some("forbidden")));
    // Its own token it may renew.
    let renewed = call(
        &server,
        "POST",
        &format!("/v1/admin/devices/{own}/rotate"),
        &admin,
        None,
    );
    assert_eq!(renewed.0, 200, "{}", renewed.1);
}

#[test]
fn a_district_admin_grants_write_to_district_devices() {
    let server = TestServer::start();
    let root = server_admin(&server);
    register(&server, &root, "district-admin", "1", Some(DISTRICT));
    register(&server, &root, "reader", "2", Some(DISTRICT));
    register(&server, &root, "writer", "3", Some(DISTRICT));
    register(&server, &root, "cadre", "4", Some(VILLAGE));
    let (_, admin) = enrolled(&enroll(
        &server,
        &root,
        "district-admin",
        "admin",
        DISTRICT,
        false,
    ));
    // A town admin cannot hand out district devices at all.
    register(&server, &root, "town-admin", "5", Some(TOWN));
    let (_, town_admin) = enrolled(&enroll(&server, &root, "town-admin", "admin", TOWN, false));
    let refused = enroll(&server, &town_admin, "reader", "district", DISTRICT, true);
    assert_eq!(code(&refused), (403, Some("forbidden")), "{}", refused.1);

    let (cadre_id, cadre_token) =
        enrolled(&enroll(&server, &admin, "cadre", "cadre", VILLAGE, false));
    let mut cadre = Phone::enrolled("cadre", cadre_id, &cadre_token);
    let id = cadre.report(VILLAGE, "上报到区", T0);
    cadre.sync(&server.url());

    // Without --write a district device reads the district, and writes nothing.
    let (reader_id, reader_token) = enrolled(&enroll(
        &server, &admin, "reader", "district", DISTRICT, false,
    ));
    let mut reader = Phone::enrolled("reader", reader_id, &reader_token);
    reader.sync(&server.url());
    assert_eq!(reader.replica.ids().expect("ids"), vec![id.clone()]);
    let author = reader.author(T0 + DAY);
    reader
        .replica
        .edit(&id, |doc| set_risk(doc, &author, Risk::High))
        .expect("edited on the phone");
    assert_eq!(reader.sync(&server.url()).rejected(), 1);
    let (_, error) = &reader.replica.needing_attention().expect("attention")[0];
    assert_eq!(error.code, ErrorCode::Forbidden);

    // With --write it writes, and the cadre receives the change.
    let (writer_id, writer_token) = enrolled(&enroll(
        &server, &admin, "writer", "district", DISTRICT, true,
    ));
    let mut writer = Phone::enrolled("writer", writer_id, &writer_token);
    writer.sync(&server.url());
    let author = writer.author(T0 + 2 * DAY);
    writer
        .replica
        .edit(&id, |doc| set_risk(doc, &author, Risk::High))
        .expect("edited on the phone");
    assert_eq!(writer.sync(&server.url()).rejected(), 0);
    cadre.sync(&server.url());
    let Record::Dispute(dispute) = cadre.replica.record(&id).expect("the record") else {
        panic!("a dispute")
    };
    assert_eq!(dispute.risk, Some(Risk::High));

    // Taking write away again: the next change is refused.
    let revoke_write = call(
        &server,
        "PUT",
        &format!("/v1/admin/devices/{writer_id}/access"),
        &admin,
        Some(json!({"role": "district", "scope": DISTRICT, "write": false})),
    );
    assert_eq!(revoke_write.0, 200, "{}", revoke_write.1);
    let author = writer.author(T0 + 3 * DAY);
    writer
        .replica
        .edit(&id, |doc| set_risk(doc, &author, Risk::Low))
        .expect("edited on the phone");
    assert_eq!(writer.sync(&server.url()).rejected(), 1);
}
