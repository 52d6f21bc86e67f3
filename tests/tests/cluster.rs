//! Two servers on one PostgreSQL store, as two nodes behind a load
//! balancer: phones sync through node A, automerge-repo peers and
//! dashboards are connected to node B, and each side sees the other's
//! changes live; devices, sessions and rate limits are the same on both.
//!
//! Needs a PostgreSQL database (`FENGQIAO_TEST_POSTGRES`, which `.ci/run`
//! sets); without one every test here says so loudly and passes, unless
//! `FENGQIAO_REQUIRE_ALL=1`.

use std::time::{Duration, Instant};

use fengqiao_protocol::DocumentId;
use fengqiao_server::limit::RateLimit;
use fengqiao_shared::access::Role;
use fengqiao_shared::record;
use fengqiao_shared::vocab::{EventKind, Risk};
use fengqiao_tests::ws::{VILLAGE, WAIT, WsClient};
use fengqiao_tests::{Phone, T0, TestCluster};

/// Retries `attempt` until it holds, for at most [`WAIT`]: what one node
/// writes reaches the other as an announcement, a moment later.
fn eventually(what: &str, mut attempt: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !attempt() {
        assert!(Instant::now() < deadline, "{what}: not within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// Phones on one node and automerge-repo peers on the other, seeing each
// other's changes live: `ws_two_nodes` and `batch_sync_two_nodes` run every
// case of `tests/tests/cases/` that way.

#[test]
fn a_node_answers_from_the_store_never_from_a_stale_copy() {
    let Some(cluster) = TestCluster::start("two nodes: no stale copies") else {
        return;
    };
    let (a, b) = (&cluster.a, &cluster.b);
    let mut writer = Phone::new("cadre-writer");
    let id = writer.report(VILLAGE, "灌溉用水", T0);
    writer.sync(&a.url());
    // Node B loads the record (a reader syncs there), then node A takes
    // change after change; a reader on B asks right after each.
    let mut reader = Phone::new("cadre-reader");
    reader.sync(&b.url());
    for n in 1..=10 {
        writer.add_event(&id, EventKind::Note, &format!("第{n}次"), T0 + n * 1000);
        writer.sync(&a.url());
        // The reader's cursor came from the other node a moment ago: it
        // is honoured, not taken for one of another history.
        let report = reader.sync(&b.url());
        assert!(
            report.steps.iter().all(|step| !step.reset),
            "node B reset a cursor node A handed out"
        );
        let report = reader.sync(&a.url());
        assert!(report.steps.iter().all(|step| !step.reset));
        let events = reader
            .replica
            .record(&id)
            .expect("the reader has it")
            .as_dispute()
            .expect("a dispute")
            .events
            .len();
        assert_eq!(events, 1 + n as usize, "node B answered from a stale copy");
    }
    // And it did answer from its cache, where nothing had changed.
    let metrics = b.metrics();
    let hits: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("fengqiao_store_cache_hits "))
        .and_then(|value| value.trim().parse().ok())
        .expect("node B reports its store cache");
    assert!(hits > 0.0, "node B never answered from its cache");
}

#[test]
fn devices_enrolled_or_revoked_on_one_node_are_so_on_the_other() {
    let Some(cluster) = TestCluster::start("two nodes: the directory") else {
        return;
    };
    let (a, b) = (&cluster.a, &cluster.b);
    let (device, token) = a.enroll("cadre-new", Role::Cadre, VILLAGE);
    // The token made on A works on B.
    let mut phone = Phone::enrolled("cadre-new", device, &token);
    eventually("a device enrolled on A syncs on B", || {
        phone.try_sync(&b.url()).is_ok()
    });
    // Its socket on B closes when A revokes it, and B refuses it.
    let rt = b.runtime();
    let url = format!("ws://{}/v1/ws?token={token}", b.addr);
    let mut socket = rt.block_on(WsClient::joined(&url, "peer-revoked"));
    a.directory().revoke(&device).expect("revoked on A");
    let code = rt.block_on(socket.expect_closed());
    assert!(code.is_some(), "the socket on B is closed with a code");
    eventually("B refuses a device revoked on A", || {
        phone.try_sync(&b.url()).is_err()
    });
}

/// `POST path` with a JSON body, a bearer token or a cookie; the status and
/// the `Set-Cookie` header.
fn post_json(url: &str, bearer: Option<&str>, body: &str) -> (u16, Option<String>) {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let mut call = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header("Sec-Fetch-Site", "same-origin");
    if let Some(token) = bearer {
        call = call.header("Authorization", &format!("Bearer {token}"));
    }
    let response = call.send(body.as_bytes()).expect("the server answers");
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").to_owned());
    (response.status().as_u16(), cookie)
}

fn get_status(url: &str, cookie: Option<&str>, bearer: Option<&str>) -> u16 {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let mut call = agent.get(url);
    if let Some(cookie) = cookie {
        call = call.header("Cookie", cookie);
    }
    if let Some(token) = bearer {
        call = call.header("Authorization", &format!("Bearer {token}"));
    }
    call.call().expect("the server answers").status().as_u16()
}

#[test]
fn a_dashboard_session_opened_on_one_node_works_and_ends_on_both() {
    let Some(cluster) = TestCluster::start("two nodes: dashboard sessions") else {
        return;
    };
    let (a, b) = (&cluster.a, &cluster.b);
    let (_, token) = a.enroll("town-official", Role::Town, &VILLAGE[..9]);
    let (status, cookie) = post_json(
        &format!("{}/dashboard/login", a.url()),
        None,
        &serde_json::json!({ "token": token }).to_string(),
    );
    assert_eq!(status, 200, "signed in on A");
    let cookie = cookie.expect("a session cookie");
    let stats = |server: &fengqiao_tests::TestServer| {
        get_status(
            &format!("{}/v1/stats/summary", server.url()),
            Some(&cookie),
            None,
        )
    };
    assert_eq!(stats(a), 200);
    assert_eq!(stats(b), 200, "the session opened on A works on B");
    // Signing out on B ends it on A too.
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let status = agent
        .post(&format!("{}/dashboard/logout", b.url()))
        .header("Cookie", &cookie)
        .header("Sec-Fetch-Site", "same-origin")
        .send(&[][..])
        .expect("the server answers")
        .status()
        .as_u16();
    assert_eq!(status, 204);
    eventually("a session ended on B is refused on A", || stats(a) == 401);
    assert_eq!(stats(b), 401);
}

#[test]
fn a_device_gets_its_rate_once_across_both_nodes() {
    let burst = 6;
    let Some(cluster) = TestCluster::start_with("two nodes: rate limits", |config| {
        config.rate = RateLimit {
            per_second: 0.001,
            burst: burst as f64,
        };
    }) else {
        return;
    };
    let (a, b) = (&cluster.a, &cluster.b);
    let (_, token) = a.enroll("town-official", Role::Town, &VILLAGE[..9]);
    eventually("the device is known on B", || {
        get_status(&format!("{}/v1/stats/summary", b.url()), None, Some(&token)) == 200
    });
    // One request went to B already; alternate between the nodes.
    let mut granted = 1;
    for n in 0..(2 * burst) {
        let node = if n % 2 == 0 { a } else { b };
        match get_status(
            &format!("{}/v1/stats/summary", node.url()),
            None,
            Some(&token),
        ) {
            200 => granted += 1,
            429 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(
        granted, burst,
        "the device's burst is granted once across both nodes, not once per node"
    );
}

/// Two `fengqiao serve` processes on one store; phones sync through node A
/// in a storm, and A is killed with SIGKILL in the middle of it. Every
/// change A acknowledged is on node B at once (read by a phone that was
/// never on A, before any phone touches B), and the phones then finish on
/// B with nothing lost.
#[test]
fn killing_a_node_during_a_sync_storm_loses_nothing_acknowledged() {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use fengqiao_protocol::DeviceId;
    use fengqiao_tests::process::{DEV_TOKEN, ServerProcess};

    const PHONES: usize = 6;
    const ROUNDS: i64 = 12;

    let Some(schema) = fengqiao_server::storage::postgres::TestSchema::new() else {
        fengqiao_tests::skip(
            "two nodes: SIGKILL during a storm",
            "FENGQIAO_TEST_POSTGRES is not set (.ci/run starts a PostgreSQL)",
        );
        return;
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let store_args = [
        "--store",
        schema.config.url.as_str(),
        "--store-schema",
        schema.config.schema.as_deref().expect("a schema"),
    ];
    let node_a = ServerProcess::start_with(&dir.path().join("a"), &store_args);
    let node_b = ServerProcess::start_with(&dir.path().join("b"), &store_args);
    node_a.import_test_org();
    let (url_a, url_b) = (node_a.url(), node_b.url());

    // What node A acknowledged: record → events in it when A said yes.
    let acknowledged: Arc<Mutex<BTreeMap<DocumentId, usize>>> = Arc::default();
    let killed = Arc::new(AtomicBool::new(false));
    let may_go_on = Arc::new(AtomicBool::new(false));
    let syncs_on_a = Arc::new(AtomicUsize::new(0));
    let phones: Vec<_> = (0..PHONES)
        .map(|n| {
            let (acknowledged, killed, may_go_on, syncs_on_a) = (
                acknowledged.clone(),
                killed.clone(),
                may_go_on.clone(),
                syncs_on_a.clone(),
            );
            let (url_a, url_b) = (url_a.clone(), url_b.clone());
            std::thread::spawn(move || {
                let mut phone =
                    Phone::enrolled(&format!("cadre-{n}"), DeviceId::random(), DEV_TOKEN);
                let village = format!("5001101010{:02}", n + 1);
                let id = phone.report(&village, &format!("纠纷{n}"), T0);
                let mut on_b = false;
                for round in 1..=ROUNDS {
                    phone.add_event(&id, EventKind::Note, &format!("第{round}轮"), T0 + round);
                    loop {
                        let url = if on_b { &url_b } else { &url_a };
                        match phone.try_sync(url) {
                            Ok(_) => {
                                if !on_b {
                                    syncs_on_a.fetch_add(1, Ordering::SeqCst);
                                    let events = phone
                                        .replica
                                        .record(&id)
                                        .expect("own record")
                                        .as_dispute()
                                        .expect("a dispute")
                                        .events
                                        .len();
                                    acknowledged.lock().unwrap().insert(id.clone(), events);
                                }
                                break;
                            }
                            Err(_) if !on_b => {
                                // A is gone: wait until the check on B is
                                // done, then go on there.
                                let deadline = Instant::now() + Duration::from_secs(60);
                                while !may_go_on.load(Ordering::SeqCst) {
                                    assert!(Instant::now() < deadline, "never told to go on");
                                    std::thread::sleep(Duration::from_millis(10));
                                }
                                assert!(killed.load(Ordering::SeqCst), "A failed unkilled");
                                on_b = true;
                            }
                            Err(e) => panic!("sync through B failed: {e}"),
                        }
                    }
                }
                (id, phone)
            })
        })
        .collect();

    // Kill A once the storm is well under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while syncs_on_a.load(Ordering::SeqCst) < PHONES * 3 {
        assert!(Instant::now() < deadline, "the storm did not get going");
        std::thread::sleep(Duration::from_millis(2));
    }
    killed.store(true, Ordering::SeqCst);
    node_a.kill();
    let acked = acknowledged.lock().unwrap().clone();
    assert!(!acked.is_empty());

    // Before any phone reaches B: everything A acknowledged is there.
    let mut checker = Phone::enrolled("checker", DeviceId::random(), DEV_TOKEN);
    checker.sync(&url_b);
    for (id, events) in &acked {
        let found = checker
            .replica
            .record(id)
            .unwrap_or_else(|_| panic!("{id}, acknowledged by A, is not on B"))
            .as_dispute()
            .expect("a dispute")
            .events
            .len();
        assert!(
            found >= *events,
            "{id}: A acknowledged {events} events, B has {found}"
        );
    }
    may_go_on.store(true, Ordering::SeqCst);

    // The phones finish on B, and B holds all of every phone's work.
    let phones: Vec<_> = phones
        .into_iter()
        .map(|handle| handle.join().expect("a phone finished"))
        .collect();
    checker.sync(&url_b);
    for (id, _) in &phones {
        let events = checker
            .replica
            .record(id)
            .expect("on B")
            .as_dispute()
            .expect("a dispute")
            .events
            .len();
        assert_eq!(events, 1 + ROUNDS as usize, "{id}: every round's event");
    }
    drop(node_b);
    drop(schema);
}

#[test]
fn a_dashboard_on_one_node_sees_the_changes_and_alerts_of_the_other_live() {
    use fengqiao_tests::events::Events;
    let Some(cluster) = TestCluster::start("two nodes: dashboard events and alerts") else {
        return;
    };
    let (a, b) = (&cluster.a, &cluster.b);
    let (_, token) = a.enroll("town-official", Role::Town, &VILLAGE[..9]);
    eventually("the official is known on B", || {
        get_status(&format!("{}/v1/stats/summary", b.url()), None, Some(&token)) == 200
    });
    let mut events = Events::open(&b.url(), &token);
    // A phone reports through node A a dispute at high risk.
    let mut phone = Phone::new("cadre-a");
    let id = phone.report(VILLAGE, "山林权属", T0);
    let author = phone.author(T0 + 1000);
    phone
        .replica
        .edit(&id, |doc| record::set_risk(doc, &author, Risk::High))
        .expect("risk raised");
    phone.sync(&a.url());
    let (name, change) = events.next_event();
    assert_eq!(
        (name.as_str(), change["id"].as_str()),
        ("change", Some(id.to_string().as_str()))
    );
    let (name, alert) = events.next_event();
    assert_eq!(name, "alert", "the alert raised on A reaches B's dashboard");
    assert_eq!(alert["kind"], "highRiskDispute");
    assert_eq!(alert["id"], id.to_string());
    assert_eq!(alert["title"], "山林权属");
    assert_eq!(alert["village"]["code"], VILLAGE);
    assert_eq!(alert["risk"], "high");
}
