//! Alerts: a dispute that becomes high-risk or a visit that becomes urgent
//! reaches the open event streams of the officials whose scope holds it —
//! and no others — and an outbound webhook, signed, retried with backoff,
//! without the sync that raised it waiting for the receiver.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fengqiao_server::alerts::WebhookConfig;
use fengqiao_server::serve::ServeConfig;
use fengqiao_shared::access::Role;
use fengqiao_shared::record::{NewVisit, create_dispute, create_visit, set_risk};
use fengqiao_shared::vocab::{Risk, Sentiment};
use fengqiao_tests::events::Events;
use fengqiao_tests::{DAY, Phone, T0, TestServer, sample_dispute};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

const VILLAGE_A: &str = "500110101001";
const VILLAGE_B: &str = "500110102001";
const SECRET: &str = "a-shared-secret-for-the-county";

fn visit(village: &str, household: &str, sentiment: Sentiment) -> NewVisit {
    NewVisit {
        village: fengqiao_protocol::VillageCode::new(village).expect("village code"),
        visited_at: T0 + DAY,
        household: household.to_owned(),
        group: None,
        topics: Default::default(),
        sentiment,
        notes: "走访记录".to_owned(),
        follow_up_needed: false,
        follow_up_due: None,
        linked_dispute: None,
    }
}

fn report_dispute(phone: &Phone, village: &str, title: &str, risk: Risk) -> String {
    let mut dispute = sample_dispute(village, title);
    dispute.risk = risk;
    let author = phone.author(T0);
    phone
        .replica
        .create(|doc| create_dispute(doc, &author, &dispute))
        .expect("dispute created")
        .to_string()
}

fn record_visit(phone: &Phone, village: &str, household: &str, sentiment: Sentiment) -> String {
    let author = phone.author(T0 + DAY);
    let visit = visit(village, household, sentiment);
    phone
        .replica
        .create(|doc| create_visit(doc, &author, &visit))
        .expect("visit created")
        .to_string()
}

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    arrived: Instant,
    answered: Option<Instant>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("header {name} missing"))
    }
}

/// A webhook receiver on 127.0.0.1: answers `500` to the first `failures`
/// requests, `204` afterwards, each after `delay`.
struct Receiver {
    url: String,
    log: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(failures: usize, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("receiver binds");
        let url = format!("http://{}/intake", listener.local_addr().expect("address"));
        let log = Arc::new(Mutex::new(Vec::<Received>::new()));
        let shared = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let arrived = Instant::now();
                let Some((headers, body)) = read_request(&stream) else {
                    continue;
                };
                let index = {
                    let mut log = shared.lock().expect("log");
                    log.push(Received {
                        arrived,
                        answered: None,
                        headers,
                        body,
                    });
                    log.len() - 1
                };
                std::thread::sleep(delay);
                let status = if index < failures {
                    "500 Internal Server Error"
                } else {
                    "204 No Content"
                };
                let mut stream = stream;
                let _ = stream.write_all(
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                );
                let _ = stream.flush();
                shared.lock().expect("log")[index].answered = Some(Instant::now());
            }
        });
        Self { url, log }
    }

    fn received(&self) -> Vec<Received> {
        self.log.lock().expect("log").clone()
    }

    /// Waits until `n` requests were answered.
    fn wait_answered(&self, n: usize, limit: Duration) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.received();
            if got.iter().filter(|r| r.answered.is_some()).count() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver got {} requests, {} wanted",
                got.len(),
                n
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A request's headers (name, value) and body.
type Request = (Vec<(String, String)>, Vec<u8>);

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    assert!(line.starts_with("POST /intake "), "request line: {line:?}");
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((headers, body))
}

/// Verifies a delivery as a county platform would.
fn verify(received: &Received, secret: &[u8]) {
    let timestamp = received.header("X-Fengqiao-Timestamp");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let stamped: u64 = timestamp.parse().expect("a numeric timestamp");
    assert!(now.abs_diff(stamped) < 300, "a current timestamp");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&received.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        received.header("X-Fengqiao-Signature"),
        format!("sha256={expected}")
    );
    // Another key does not verify it.
    let mut other = Hmac::<Sha256>::new_from_slice(b"another key").expect("any key length");
    other.update(timestamp.as_bytes());
    other.update(b".");
    other.update(&received.body);
    assert!(other.verify_slice(expected.as_bytes()).is_err());
}

fn metric(server: &TestServer, name: &str) -> u64 {
    server
        .metrics()
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("metric {name}"))
}

fn webhook_server(url: &str) -> TestServer {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut config = ServeConfig::new(dir.path(), "127.0.0.1:0".parse().expect("address"));
    let mut webhook = WebhookConfig::new(url, SECRET.as_bytes().to_vec()).expect("a valid webhook");
    webhook.first_backoff = Duration::from_millis(300);
    webhook.timeout = Duration::from_secs(10);
    config.webhook = Some(webhook);
    let server = TestServer::start_with(config);
    // The directory stays for the server's life.
    std::mem::forget(dir);
    server
}

#[test]
fn a_high_risk_dispute_is_posted_signed_and_retried_without_delaying_the_sync() {
    let delay = Duration::from_millis(1500);
    let receiver = Receiver::start(2, delay);
    let server = webhook_server(&receiver.url);
    let mut phone = Phone::new("cadre-a");

    // Neither a concerned visit nor a low-risk dispute alerts.
    record_visit(&phone, VILLAGE_A, "王家", Sentiment::Concern);
    report_dispute(&phone, VILLAGE_A, "低风险纠纷", Risk::Low);
    phone.sync(&server.url());

    let id = report_dispute(&phone, VILLAGE_A, "山林权属争议", Risk::High);
    let started = Instant::now();
    phone.sync(&server.url());
    let synced = Instant::now();
    assert!(
        synced - started < delay,
        "the sync took {:?}, as long as the receiver's answer",
        synced - started
    );
    assert!(
        receiver.received().iter().all(|r| r.answered.is_none()),
        "the sync returned before the receiver answered"
    );

    let got = receiver.wait_answered(3, Duration::from_secs(30));
    assert_eq!(got.len(), 3, "two failures, then one delivery");
    let body: Value = serde_json::from_slice(&got[0].body).expect("a JSON body");
    assert_eq!(body["kind"], "highRiskDispute");
    assert_eq!(body["recordType"], "dispute");
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["title"], "山林权属争议");
    assert_eq!(body["village"]["code"], VILLAGE_A);
    assert_eq!(body["village"]["name"], "第101镇1村");
    assert_eq!(body["risk"], "high");
    assert!(body["at"].as_i64().is_some_and(|at| at > T0));
    let key = got[0].header("Idempotency-Key").to_owned();
    assert_eq!(key, body["alertId"].as_str().expect("an alert id"));
    for delivery in &got {
        verify(delivery, SECRET.as_bytes());
        assert_eq!(delivery.body, got[0].body, "every try posts the same alert");
        assert_eq!(delivery.header("Idempotency-Key"), key);
        assert_eq!(delivery.header("Content-Type"), "application/json");
    }
    // Backoff: 300 ms after the first failure, 600 ms after the second.
    let gap = |i: usize| got[i].arrived - got[i - 1].answered.expect("answered");
    assert!(
        gap(1) >= Duration::from_millis(300),
        "first retry after {:?}",
        gap(1)
    );
    assert!(
        gap(2) >= Duration::from_millis(600),
        "second retry after {:?}",
        gap(2)
    );

    // Staying high-risk raises nothing new; an urgent visit does.
    let visit = record_visit(&phone, VILLAGE_A, "赵家", Sentiment::Urgent);
    phone.sync(&server.url());
    let got = receiver.wait_answered(4, Duration::from_secs(30));
    let body: Value = serde_json::from_slice(&got[3].body).expect("a JSON body");
    assert_eq!(body["kind"], "urgentVisit");
    assert_eq!(body["id"], visit.as_str());
    assert_eq!(body["sentiment"], "urgent");
    assert_eq!(body["title"], "赵家");
    assert_ne!(got[3].header("Idempotency-Key"), key);
    verify(&got[3], SECRET.as_bytes());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(receiver.received().len(), 4, "nothing else was posted");

    assert_eq!(metric(&server, "fengqiao_webhook_queued_total"), 2);
    assert_eq!(metric(&server, "fengqiao_webhook_delivered_total"), 2);
    assert_eq!(metric(&server, "fengqiao_webhook_failed_tries_total"), 2);
    assert_eq!(metric(&server, "fengqiao_webhook_dropped_total"), 0);
    server.stop();
}

#[test]
fn alerts_reach_only_the_streams_of_their_scope() {
    let server = TestServer::start();
    let (_, town_1) = server.enroll("official-t1", Role::Town, "500110101");
    let (_, town_2) = server.enroll("official-t2", Role::Town, "500110102");
    let mut first = Events::open(&server.url(), &town_1);
    let mut second = Events::open(&server.url(), &town_2);
    let mut phone = Phone::new("cadre-a");

    // Town 1: a low-risk dispute changes; made high-risk, it alerts.
    let low = report_dispute(&phone, VILLAGE_A, "宅基地边界", Risk::Low);
    phone.sync(&server.url());
    let (name, data) = first.next_event();
    assert_eq!(
        (name.as_str(), data["id"].as_str()),
        ("change", Some(low.as_str()))
    );
    let record = fengqiao_protocol::DocumentId::parse(&low).expect("id");
    let author = phone.author(T0 + 2 * DAY);
    phone
        .replica
        .edit(&record, |doc| set_risk(doc, &author, Risk::High))
        .expect("risk raised");
    phone.sync(&server.url());
    assert_eq!(first.next_event().0, "change");
    let (name, alert) = first.next_event();
    assert_eq!(name, "alert");
    assert_eq!(alert["kind"], "highRiskDispute");
    assert_eq!(alert["id"], low.as_str());
    assert_eq!(alert["title"], "宅基地边界");
    assert_eq!(alert["village"]["code"], VILLAGE_A);
    assert_eq!(alert["village"]["name"], "第101镇1村");
    assert_eq!(alert["risk"], "high");

    // Town 2: a concerned visit and then an urgent one. Its stream saw
    // nothing of town 1, and only the urgent visit alerts.
    let concern = record_visit(&phone, VILLAGE_B, "孙家", Sentiment::Concern);
    phone.sync(&server.url());
    let urgent = record_visit(&phone, VILLAGE_B, "周家", Sentiment::Urgent);
    phone.sync(&server.url());
    let seen: Vec<(String, Value)> = (0..3).map(|_| second.next_event()).collect();
    assert_eq!(seen[0].0, "change");
    assert_eq!(seen[0].1["id"], concern.as_str());
    assert_eq!(seen[1].0, "change");
    assert_eq!(seen[1].1["id"], urgent.as_str());
    assert_eq!(seen[2].0, "alert");
    assert_eq!(seen[2].1["kind"], "urgentVisit");
    assert_eq!(seen[2].1["id"], urgent.as_str());
    assert_eq!(seen[2].1["sentiment"], "urgent");
    assert_eq!(seen[2].1["village"]["code"], VILLAGE_B);

    // And town 1's stream got nothing of town 2 in the meantime: its next
    // events are its own changes; a case that stays high-risk does not
    // alert again.
    let author = phone.author(T0 + 3 * DAY);
    phone
        .replica
        .edit(&record, |doc| {
            fengqiao_shared::record::set_title(doc, &author, "宅基地边界（续）")
        })
        .expect("title changed");
    phone.sync(&server.url());
    let next = report_dispute(&phone, VILLAGE_A, "下一件", Risk::Medium);
    phone.sync(&server.url());
    let (name, data) = first.next_event();
    assert_eq!(
        (name.as_str(), data["id"].as_str()),
        ("change", Some(low.as_str()))
    );
    let (name, data) = first.next_event();
    assert_eq!(
        (name.as_str(), data["id"].as_str()),
        ("change", Some(next.as_str()))
    );
    server.stop();
}

#[test]
fn the_serve_command_signs_with_the_secret_it_keeps_in_the_data_directory() {
    use fengqiao_tests::process::{DEV_TOKEN, ServerProcess};
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().join("data");

    // Only http:// and https:// URLs, refused with a stable code.
    let refused = ServerProcess::try_start(&data, &["--webhook", "ftp://county.example/in"])
        .err()
        .expect("an ftp:// webhook is refused");
    assert!(refused.contains("webhook_url_invalid"), "{refused}");

    let receiver = Receiver::start(0, Duration::ZERO);
    let server = ServerProcess::start_with(&data, &["--webhook", &receiver.url]);
    server.import_test_org();
    let secret_file = data.join("webhook.secret");
    let secret = std::fs::read_to_string(&secret_file).expect("a secret was made");
    assert_eq!(secret.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret_file)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the secret is the server user's alone");
    }

    let mut phone = Phone::enrolled("cadre-a", fengqiao_protocol::DeviceId::random(), DEV_TOKEN);
    let id = report_dispute(&phone, VILLAGE_A, "进程里的告警", Risk::High);
    phone.sync(&server.url());
    let got = receiver.wait_answered(1, Duration::from_secs(30));
    verify(&got[0], secret.trim().as_bytes());
    let body: Value = serde_json::from_slice(&got[0].body).expect("a JSON body");
    assert_eq!(body["id"], id.as_str());
    server.kill();
}
