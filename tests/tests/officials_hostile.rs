//! The officials' side under attack: who reads `/metrics`, what the live
//! notices say, cross-site requests with the dashboard cookie, and event
//! streams of devices that are revoked or reassigned.

use std::time::Duration;

use fengqiao_server::serve::ServeConfig;
use fengqiao_shared::access::{DeviceAccess, Role};
use fengqiao_tests::events::Events;
use fengqiao_tests::{Phone, T0, TOKEN, TestServer};
use serde_json::Value;

const TOWN: &str = "500110101";
const VILLAGE: &str = "500110101001";
const ORIGIN_ELSEWHERE: &str = "https://evil.example";

/// An HTTP client that reports statuses instead of failing on them, and
/// gives up on a silent stream instead of waiting for it forever.
fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build(),
    )
}

fn admin_token(server: &TestServer) -> String {
    std::fs::read_to_string(server.data.join("admin.token"))
        .expect("the admin token file")
        .trim()
        .to_owned()
}

fn get(url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut request = agent().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.call().expect("the server answers");
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// A POST with `headers`: the status, the `Set-Cookie` header, the body.
fn post(
    server: &TestServer,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Option<String>, String) {
    let mut request = agent()
        .post(format!("{}{path}", server.url()))
        .header("Content-Type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.send(body).expect("the server answers");
    let status = response.status().as_u16();
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (
        status,
        cookie,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn login_body(token: &str) -> String {
    serde_json::json!({ "token": token }).to_string()
}

/// Signs in as the dashboard's own page does; the `Cookie` header value.
fn sign_in(server: &TestServer, token: &str) -> String {
    let (status, cookie, body) = post(
        server,
        "/dashboard/login",
        &[("Sec-Fetch-Site", "same-origin")],
        &login_body(token),
    );
    assert_eq!(status, 200, "{body}");
    cookie
        .expect("a session cookie")
        .split(';')
        .next()
        .expect("name=value")
        .to_owned()
}

#[test]
fn metrics_are_for_the_admin_token_or_the_metrics_address() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = ServeConfig::new(dir.path(), "127.0.0.1:0".parse().expect("address"));
    config.metrics_bind = Some("127.0.0.1:0".parse().expect("address"));
    let server = TestServer::start_with(config);
    let (_, cadre) = server.enroll("cadre", Role::Cadre, VILLAGE);
    let (_, official) = server.enroll("official", Role::Town, TOWN);
    let (_, scoped_admin) = server.enroll("town-admin", Role::Admin, TOWN);
    let mut phone = Phone::new("cadre");
    phone.report(VILLAGE, "指标", T0);
    phone.sync(&server.url());

    let url = format!("{}/metrics", server.url());
    let (status, body) = get(&url, &[]);
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("fengqiao_commit_sequence"));
    for token in [cadre.as_str(), &official, &scoped_admin, TOKEN] {
        let (status, body) = get(&url, &[("Authorization", &format!("Bearer {token}"))]);
        assert_eq!(status, 403, "{body}");
        assert!(!body.contains("fengqiao_"), "{body}");
    }
    let admin = admin_token(&server);
    let (status, body) = get(&url, &[("Authorization", &format!("Bearer {admin}"))]);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("fengqiao_batch_uploads_total 1"), "{body}");
    assert!(body.contains("fengqiao_commit_sequence"), "{body}");

    // The metrics address answers without a token, and the health check.
    let metrics = server.running().metrics_addr.expect("a metrics address");
    assert_ne!(metrics, server.running().addr);
    let (status, body) = get(&format!("http://{metrics}/metrics"), &[]);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("fengqiao_batch_uploads_total 1"), "{body}");
    assert_eq!(get(&format!("http://{metrics}/healthz"), &[]).0, 200);
    // And nothing else: no records, no admin API there.
    let (status, _) = get(
        &format!("http://{metrics}/v1/admin/devices"),
        &[("Authorization", &format!("Bearer {admin}"))],
    );
    assert_eq!(status, 404);
}

#[test]
fn live_notices_carry_no_server_wide_numbers() {
    let server = TestServer::start();
    let (_, cadre) = server.enroll("cadre", Role::Cadre, VILLAGE);
    let mut events =
        Events::open_with(&server.url(), ("Authorization", &format!("Bearer {cadre}")));
    // Activity elsewhere first, which a sequence number would count.
    let mut elsewhere = Phone::new("far");
    for n in 0..3 {
        elsewhere.report("500110102001", &format!("邻镇 {n}"), T0);
    }
    elsewhere.sync(&server.url());
    let mut phone = Phone::new("cadre");
    let id = phone.report(VILLAGE, "本村", T0);
    phone.sync(&server.url());
    let (name, notice) = events.try_next_event().expect("a notice");
    assert_eq!(name, "change");
    let mut keys: Vec<&str> = notice
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, vec!["id", "village"], "{notice}");
    assert_eq!(notice["id"], id.to_string());
}

#[test]
fn a_foreign_page_cannot_sign_a_browser_in_or_act_with_its_cookie() {
    let server = TestServer::start();
    let (_, attacker) = server.enroll("attacker", Role::Town, TOWN);
    let (_, official) = server.enroll("official", Role::Town, TOWN);
    let login = login_body(&attacker);

    // Login CSRF: a foreign page posts the attacker's token.
    for headers in [
        &[
            ("Origin", ORIGIN_ELSEWHERE),
            ("Sec-Fetch-Site", "cross-site"),
        ][..],
        &[("Origin", ORIGIN_ELSEWHERE)][..],
        &[("Sec-Fetch-Site", "same-site")][..],
        &[("Origin", "null")][..],
    ] {
        let (status, cookie, body) = post(&server, "/dashboard/login", headers, &login);
        assert_eq!(status, 403, "{headers:?}: {body}");
        assert!(body.contains("forbidden"), "{body}");
        assert!(cookie.is_none(), "no session for {headers:?}");
    }
    // The dashboard's own page, and scripts without a cookie, sign in.
    let own_origin = server.url();
    let (status, cookie, _) = post(
        &server,
        "/dashboard/login",
        &[("Origin", &own_origin)],
        &login,
    );
    assert_eq!((status, cookie.is_some()), (200, true));
    let (status, cookie, _) = post(&server, "/dashboard/login", &[], &login);
    assert_eq!((status, cookie.is_some()), (200, true));

    // A signed-in browser: a foreign page cannot sign it out (or in as
    // someone else), and a cookie with no word on its origin is refused.
    let session = sign_in(&server, &official);
    for headers in [
        &[
            ("Cookie", session.as_str()),
            ("Sec-Fetch-Site", "cross-site"),
        ][..],
        &[("Cookie", session.as_str()), ("Origin", ORIGIN_ELSEWHERE)][..],
        &[("Cookie", session.as_str())][..],
    ] {
        let (status, _, body) = post(&server, "/dashboard/logout", headers, "");
        assert_eq!(status, 403, "{headers:?}: {body}");
        let (status, cookie, _) = post(&server, "/dashboard/login", headers, &login);
        assert_eq!((status, cookie), (403, None), "{headers:?}");
        let (status, _, body) = post(
            &server,
            "/v1/records/2bGCThWTFdnXeKCyeZrFoWoEZ9sp/duplicate-of",
            headers,
            "{\"of\": null}",
        );
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("another site") || body.contains("where it came from"));
    }
    let who = format!("{}/v1/session", server.url());
    let (status, me) = get(&who, &[("Cookie", &session)]);
    assert_eq!(status, 200, "still signed in as the official: {me}");
    assert!(me.contains("official"), "{me}");
    let (status, _, _) = post(
        &server,
        "/dashboard/logout",
        &[("Cookie", &session), ("Sec-Fetch-Site", "same-origin")],
        "",
    );
    assert_eq!(status, 204);
    assert_eq!(get(&who, &[("Cookie", &session)]).0, 401);
}

#[test]
fn revoking_or_reassigning_a_device_closes_its_event_streams() {
    let server = TestServer::start();
    let directory = server.directory();
    let (other, _) = server.enroll("other", Role::Town, TOWN);
    let (revoked, revoked_token) = server.enroll("revoked", Role::Town, TOWN);
    let (moved, moved_token) = server.enroll("moved", Role::Town, TOWN);
    let (bearer, bearer_token) = server.enroll("bearer", Role::Town, TOWN);
    let (rotated, rotated_token) = server.enroll("rotated", Role::Town, TOWN);

    let revoked_session = sign_in(&server, &revoked_token);
    let moved_session = sign_in(&server, &moved_token);
    let mut revoked_events = Events::open_with(&server.url(), ("Cookie", &revoked_session));
    let mut moved_events = Events::open_with(&server.url(), ("Cookie", &moved_session));
    let bearer_auth = format!("Bearer {bearer_token}");
    let mut bearer_events = Events::open_with(&server.url(), ("Authorization", &bearer_auth));
    let rotated_session = sign_in(&server, &rotated_token);
    let mut rotated_events = Events::open_with(&server.url(), ("Cookie", &rotated_session));
    let rotated_auth = format!("Bearer {rotated_token}");
    let mut rotated_bearer_events =
        Events::open_with(&server.url(), ("Authorization", &rotated_auth));

    // Another device's revocation changes nothing for these streams.
    directory.revoke(&other).expect("revoked");
    let mut phone = Phone::new("cadre");
    phone.report(VILLAGE, "通知", T0);
    phone.sync(&server.url());
    for events in [
        &mut revoked_events,
        &mut moved_events,
        &mut bearer_events,
        &mut rotated_events,
        &mut rotated_bearer_events,
    ] {
        assert_eq!(
            events.try_next_event().map(|(name, _)| name).as_deref(),
            Some("change")
        );
    }

    // Revoked: one last event says why, then the stream ends, and so
    // does the session.
    directory.revoke(&revoked).expect("revoked");
    let (name, data) = revoked_events.try_next_event().expect("a last event");
    assert_eq!(
        (name.as_str(), &data["reason"]),
        ("signout", &Value::from("revoked"))
    );
    assert!(
        revoked_events.try_next_event().is_none(),
        "the stream ended"
    );
    let who = format!("{}/v1/session", server.url());
    assert_eq!(get(&who, &[("Cookie", &revoked_session)]).0, 401);

    // Reassigned to a village: the town's stream ends, and the session.
    directory
        .set_access(
            &moved,
            DeviceAccess::new(
                Role::Cadre,
                fengqiao_protocol::Scope::parse(VILLAGE).expect("scope"),
            ),
        )
        .expect("reassigned");
    let (name, data) = moved_events.try_next_event().expect("a last event");
    assert_eq!(
        (name.as_str(), &data["reason"]),
        ("signout", &Value::from("reassigned"))
    );
    assert!(moved_events.try_next_event().is_none(), "the stream ended");
    assert_eq!(get(&who, &[("Cookie", &moved_session)]).0, 401);

    // A bearer token's stream ends too.
    directory.revoke(&bearer).expect("revoked");
    let (name, data) = bearer_events.try_next_event().expect("a last event");
    assert_eq!(
        (name.as_str(), &data["reason"]),
        ("signout", &Value::from("revoked"))
    );
    assert!(bearer_events.try_next_event().is_none(), "the stream ended");

    // A new token: what the old one opened ends, session and bearer alike.
    directory.rotate(&rotated).expect("rotated");
    for events in [&mut rotated_events, &mut rotated_bearer_events] {
        let (name, data) = events.try_next_event().expect("a last event");
        assert_eq!(
            (name.as_str(), &data["reason"]),
            ("signout", &Value::from("rotated"))
        );
        assert!(events.try_next_event().is_none(), "the stream ended");
    }
    assert_eq!(get(&who, &[("Cookie", &rotated_session)]).0, 401);
}
