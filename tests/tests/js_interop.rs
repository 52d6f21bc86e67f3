//! The real automerge-repo JavaScript client against the WebSocket door.
//!
//! Two Node processes run `@automerge/automerge-repo` 2.x with its
//! WebSocket adapter (versions pinned in `tests/js/package-lock.json`):
//! one creates a dispute, the other finds it by URL, both edit it
//! concurrently, both converge, and a phone syncing through the batch door
//! sees the same merged record. A client that keeps its documents on disk
//! catches up after a restart with what changed while it was closed. A
//! client without a token is turned away without its process crashing.
//!
//! Needs `node` and `npm ci` in `tests/js`. Without them the tests say so
//! loudly and pass, except under `FENGQIAO_REQUIRE_ALL=1` (CI), where they
//! fail.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automerge::{ROOT, ReadDoc, ScalarValue};
use fengqiao_protocol::DocumentId;
use fengqiao_protocol::ids::encode_head;
use fengqiao_shared::record::{NewEvent, Record, add_event};
use fengqiao_shared::vocab::{EventKind, Risk};
use fengqiao_tests::browser::{self, js_dir};
use fengqiao_tests::{Phone, T0, TestServer};
use serde_json::{Value, json};

/// Longest one step of a Node peer may take.
const STEP: Duration = Duration::from_secs(30);

/// Whether Node and the installed packages are here; if not, explains
/// why the test does nothing, or fails when everything is required.
fn node_ready() -> bool {
    let node = browser::node_available();
    let packages = js_dir()
        .join("node_modules/@automerge/automerge-repo-network-websocket")
        .is_dir();
    if node && packages {
        return true;
    }
    let missing = if node {
        "tests/js/node_modules (run `npm ci` in tests/js)"
    } else {
        "the `node` executable"
    };
    fengqiao_tests::skip(
        "the JavaScript interop test",
        &format!("it needs {missing}"),
    );
    false
}

/// One Node process running `tests/js/peer.mjs`. Killed when dropped.
struct NodePeer {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl NodePeer {
    fn spawn(name: &'static str, args: &[&str]) -> Self {
        let mut child = Command::new("node")
            .arg("peer.mjs")
            .args(args)
            .current_dir(js_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
            if let Ok(mut s) = sink.lock() {
                s.push_str(&text);
            }
        });
        let stdin = child.stdin.take();
        Self {
            name,
            child,
            stdin,
            lines,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The next report, which must be `event`.
    fn expect(&mut self, event: &str, within: Duration) -> Value {
        let line = match self.lines.recv_timeout(within) {
            Ok(line) => line,
            Err(_) => {
                let _ = self.child.kill();
                let status = self.child.wait().ok();
                // Give the stderr reader a moment to collect what was said.
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "{}: no {event:?} report within {within:?} (exit: {status:?})\nstderr:\n{}",
                    self.name,
                    self.stderr()
                );
            }
        };
        let report: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("{}: not a JSON report ({e}): {line}", self.name));
        assert_eq!(
            report["event"],
            event,
            "{}: unexpected report {report}\nstderr:\n{}",
            self.name,
            self.stderr()
        );
        report
    }

    fn command(&mut self, command: Value) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{command}").expect("command sent");
        stdin.flush().expect("command flushed");
    }

    /// Waits for the process to exit on its own; kills it after `within`.
    fn exit_status(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("process status") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("{}: did not exit within {within:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for NodePeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn heads(report: &Value) -> Value {
    report["heads"].clone()
}

#[test]
fn two_js_clients_edit_concurrently_and_converge_with_a_batch_phone() {
    if !node_ready() {
        return;
    }
    let server = TestServer::start();
    let url = server.ws_url();

    let mut a = NodePeer::spawn("client A", &["create", &url]);
    let created = a.expect("created", STEP);
    let doc_url = created["url"]
        .as_str()
        .expect("an automerge URL")
        .to_owned();
    assert!(doc_url.starts_with("automerge:"), "{doc_url}");
    let id = DocumentId::parse_any(&doc_url).expect("a valid document URL");

    // The server validated and stored what the JS client wrote.
    let mut phone = Phone::new("cadre-phone");
    phone.sync(&server.url());
    let first = phone
        .replica
        .record(&id)
        .expect("a record created by the JS client reaches the phone");
    let first = first.as_dispute().expect("a dispute");
    assert_eq!(first.title, "宅基地边界纠纷（网页端登记）");
    assert_eq!(first.header.village.as_str(), "500110101001");
    assert_eq!(first.risk, Some(Risk::Low));

    let mut b = NodePeer::spawn("client B", &["find", &url, &doc_url]);
    let found = b.expect("found", STEP);
    assert_eq!(heads(&found), heads(&created), "B found what A created");

    // Both edit the version they share, so the edits are concurrent
    // whatever the timing: A says medium risk, B says high.
    let base = heads(&created);
    a.command(json!({"cmd": "edit", "heads": base, "risk": "medium",
        "by": "cadre-js-a", "kind": "mediation", "at": 1_790_000_060_000_i64}));
    b.command(json!({"cmd": "edit", "heads": base, "risk": "high",
        "by": "cadre-js-b", "kind": "note", "at": 1_790_000_120_000_i64}));
    a.expect("edited", STEP);
    b.expect("edited", STEP);

    a.command(json!({"cmd": "wait", "events": 3}));
    b.command(json!({"cmd": "wait", "events": 3}));
    let a_state = a.expect("state", STEP);
    let b_state = b.expect("state", STEP);
    assert_eq!(heads(&a_state), heads(&b_state), "A and B converged");
    assert_eq!(
        heads(&a_state).as_array().map(Vec::len),
        Some(2),
        "two concurrent heads"
    );
    assert_eq!(a_state["doc"], b_state["doc"], "same content on A and B");

    // The phone merges to the same record, with the safety-first risk rule.
    phone.sync(&server.url());
    let record = phone.replica.record(&id).expect("the phone has the record");
    let Record::Dispute(merged) = record else {
        panic!("expected a dispute");
    };
    assert_eq!(
        merged.risk,
        Some(Risk::High),
        "concurrent risks resolve to the highest"
    );
    let mut kinds: Vec<(EventKind, String)> = merged
        .events
        .iter()
        .map(|e| (e.kind, e.by.clone()))
        .collect();
    kinds.sort_by(|x, y| x.1.cmp(&y.1));
    assert_eq!(
        kinds,
        vec![
            (EventKind::Reported, "cadre-js-a".to_owned()),
            (EventKind::Mediation, "cadre-js-a".to_owned()),
            (EventKind::Note, "cadre-js-b".to_owned()),
        ]
    );
    let phone_doc = phone.replica.document(&id).unwrap().expect("document");
    // What the JS client really wrote: automerge 3 stores every plain
    // string as collaborative Text (even `type` and `village`), a Date as
    // a timestamp and an integer as an int. The record reader and
    // validation accept all of it.
    let text = automerge::Value::Object(automerge::ObjType::Text);
    for key in ["type", "village", "createdBy", "title", "category"] {
        let (value, _) = phone_doc.get(ROOT, key).unwrap().expect(key);
        assert_eq!(value, text, "{key} as the JS client writes it");
    }
    let (created_at, _) = phone_doc
        .get(ROOT, "createdAt")
        .unwrap()
        .expect("createdAt");
    assert!(
        matches!(created_at, automerge::Value::Scalar(s) if matches!(*s, ScalarValue::Timestamp(_)))
    );
    let (schema, _) = phone_doc.get(ROOT, "schema").unwrap().expect("schema");
    assert_eq!(schema, automerge::Value::int(1));
    // Both risks are still there as a conflict; the rule picked the highest.
    assert_eq!(phone_doc.get_all(ROOT, "risk").unwrap().len(), 2);
    let phone_heads: Vec<String> = phone_doc
        .clone()
        .get_heads()
        .iter()
        .map(|h| fengqiao_protocol::ids::encode_head(&h.0))
        .collect();
    let mut js_heads: Vec<String> = heads(&a_state)
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h.as_str().map(str::to_owned))
        .collect();
    let mut phone_heads = phone_heads;
    js_heads.sort();
    phone_heads.sort();
    assert_eq!(
        phone_heads, js_heads,
        "the phone holds exactly what the JS clients hold"
    );

    a.command(json!({"cmd": "quit"}));
    b.command(json!({"cmd": "quit"}));
    assert!(a.exit_status(STEP).success());
    assert!(b.exit_status(STEP).success());
}

#[test]
fn a_js_client_without_a_token_is_turned_away_without_crashing() {
    if !node_ready() {
        return;
    }
    let server = TestServer::start();
    // A document that exists, so only the missing token can explain a refusal.
    let mut phone = Phone::new("cadre-phone");
    let id = phone.report("500110101001", "邻里纠纷", fengqiao_tests::T0);
    phone.sync(&server.url());

    // Both at once: each lingers past one reconnect attempt of the client.
    let mut refused: Vec<(&str, NodePeer)> = [
        ("no token", format!("ws://{}/v1/ws", server.addr)),
        (
            "bad token",
            format!("ws://{}/v1/ws?token=wrong", server.addr),
        ),
    ]
    .into_iter()
    .map(|(label, url)| {
        let peer = NodePeer::spawn("refused client", &["refused", &url, &id.url()]);
        (label, peer)
    })
    .collect();
    for (label, peer) in &mut refused {
        let report = peer.expect("refused", STEP);
        eprintln!("{label}: {report}");
        // Unavailable, not timed out (`within` would say "no answer
        // within"): the client was turned away, not left waiting.
        let outcome = report["outcome"].as_str().unwrap_or_default();
        assert!(
            outcome.contains("is unavailable") && !outcome.contains("no answer within"),
            "{label}: find must fail, got {outcome:?}"
        );
        assert_eq!(
            report["peers"], 0,
            "{label}: the server never became a peer"
        );
        assert!(
            peer.exit_status(STEP).success(),
            "{label}: the Node process must not crash\nstderr:\n{}",
            peer.stderr()
        );
    }

    // With the token, the same client finds the document.
    let mut welcome = NodePeer::spawn("client", &["find", &server.ws_url(), &id.url()]);
    let found = welcome.expect("found", STEP);
    assert_eq!(found["doc"]["title"], "邻里纠纷");
    welcome.command(json!({"cmd": "quit"}));
    assert!(welcome.exit_status(STEP).success());
}

/// The phone's heads of a record, as automerge-repo writes them, sorted.
fn phone_heads(phone: &Phone, id: &DocumentId) -> Value {
    let mut doc = phone.replica.document(id).expect("reads").expect("held");
    let mut heads: Vec<String> = doc.get_heads().iter().map(|h| encode_head(&h.0)).collect();
    heads.sort();
    json!(heads)
}

#[test]
fn a_js_client_restarted_on_its_storage_catches_up_with_what_changed_meanwhile() {
    if !node_ready() {
        return;
    }
    let server = TestServer::start();
    let url = server.ws_url();
    let mut phone = Phone::new("cadre-phone");
    let id = phone.report("500110101001", "山林权属纠纷（手机登记）", T0);
    phone.sync(&server.url());
    let doc_url = id.url();
    let storage = tempfile::tempdir().expect("a directory for the client's storage");
    let dir = storage.path().to_str().expect("a UTF-8 path").to_owned();
    let open = |name: &'static str| NodePeer::spawn(name, &["find", &url, &doc_url, &dir]);

    // First run: the client fetches the record and keeps it on disk.
    let mut js = open("first run");
    let found = js.expect("found", STEP);
    assert_eq!(heads(&found), phone_heads(&phone, &id));
    js.command(json!({"cmd": "quit"}));
    assert!(js.exit_status(STEP).success());

    // While the client is closed, the phone adds a mediation.
    let author = phone.author(T0 + 60_000);
    phone
        .replica
        .edit(&id, |doc| {
            add_event(
                doc,
                &author,
                &NewEvent::new(EventKind::Mediation).with_note("双方同意现场勘界".to_owned()),
            )
        })
        .expect("a valid edit");
    phone.sync(&server.url());
    let changed = phone_heads(&phone, &id);
    assert_ne!(heads(&found), changed);

    // Second run: it opens what it stored and receives only the change.
    let mut js = open("second run");
    js.expect("found", STEP);
    js.command(json!({"cmd": "heads", "heads": changed}));
    let caught_up = js.expect("state", STEP);
    let events = caught_up["doc"]["events"].as_array().expect("events");
    assert_eq!(events.len(), 2, "{caught_up}");
    assert_eq!(events[1]["kind"], "mediation");
    js.command(json!({"cmd": "quit"}));
    assert!(js.exit_status(STEP).success());

    // Third run: nothing changed; the server confirms its heads.
    let mut js = open("third run");
    let found = js.expect("found", STEP);
    assert_eq!(heads(&found), changed, "it reopened what it stored");
    js.command(json!({"cmd": "heads", "heads": changed}));
    js.expect("state", STEP);
    js.command(json!({"cmd": "quit"}));
    assert!(js.exit_status(STEP).success());
}

#[test]
fn a_js_document_created_empty_then_changed_is_stored_on_the_same_connection() {
    if !node_ready() {
        return;
    }
    let server = TestServer::start();
    let url = server.ws_url();
    let mut js = NodePeer::spawn("empty-then-changed", &["create-empty", &url]);
    // The empty document is answered as "nothing here yet": held, not
    // refused, and not stored.
    let empty = js.expect("empty", STEP);
    let doc_url = empty["url"].as_str().expect("an automerge URL").to_owned();
    let id = DocumentId::parse_any(&doc_url).expect("a valid document URL");
    let storage = server.running().state.engine.storage().clone();
    assert!(
        storage.doc_meta(&id).unwrap().is_none(),
        "nothing stored before the content"
    );
    // Its first change arrives on the same connection and is stored.
    let created = js.expect("created", STEP);
    let mut phone = Phone::new("cadre-phone");
    phone.sync(&server.url());
    let record = phone
        .replica
        .record(&id)
        .expect("the record reaches a phone");
    let dispute = record.as_dispute().expect("a dispute");
    assert_eq!(dispute.title, "宅基地边界纠纷（网页端登记）");
    let mut phone_heads: Vec<String> = phone
        .replica
        .document(&id)
        .unwrap()
        .expect("document")
        .get_heads()
        .iter()
        .map(|h| encode_head(&h.0))
        .collect();
    let mut js_heads: Vec<String> = heads(&created)
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h.as_str().map(str::to_owned))
        .collect();
    phone_heads.sort();
    js_heads.sort();
    assert_eq!(phone_heads, js_heads, "the empty change and the content");
    js.command(json!({"cmd": "quit"}));
}
