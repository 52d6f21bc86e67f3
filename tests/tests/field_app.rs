//! The field app in a real headless Chromium, phone-sized (390×844), against
//! a real `fengqiao serve` process on 127.0.0.1.
//!
//! Each test starts its own server (the `fengqiao` binary of this
//! workspace, with the field app embedded), imports the test organisation,
//! registers the cadres and enrolls their devices, then runs one scenario
//! script, `node tests/js/field/<name>.mjs`, which drives Chromium with
//! `playwright-core` through the app as a cadre would: taps, typing, the
//! network switched off and on. The script reports what it did as JSON
//! lines on stdout and exits non-zero on the first thing that is wrong; the
//! test then checks the outcome from the outside too: the server's
//! statistics and record API, a Rust phone (`fengqiao field` in a temporary
//! directory, or the replica library), the real automerge-repo client.
//!
//! What the scenarios get, in the environment: `SERVER` (the server's URL),
//! `ARTIFACTS` (`target/test-artifacts/field/`: screenshots, and on failure a
//! screenshot of every open page and the browser console), and `FIELD`, a JSON
//! object with the admin token, the `fengqiao` binary and the enrolled
//! devices (`{"devices": {"a": {"link", "setup", "device", "person", "name",
//! "scope"}, …}}`).
//!
//! Needs `node`, `/usr/bin/chromium` and `npm ci` in `tests/js` (for
//! `playwright-core`); a CJK font makes the screenshots readable (CI
//! installs `fonts-wqy-microhei`). Without them each test says so loudly
//! and passes, unless `FENGQIAO_REQUIRE_ALL=1`, when it fails. Every step
//! is bounded in time: the scripts time out their waits, and a script still
//! running after [`browser::SCRIPT_LIMIT`] is killed with its browser.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use fengqiao_protocol::DocumentId;
use fengqiao_shared::record::create_dispute;
use fengqiao_shared::vocab::{EventKind, Risk};
use fengqiao_tests::process::{ADMIN_TOKEN, DEV_TOKEN, ServerProcess, binary, test_org_csv};
use fengqiao_tests::{Phone, browser};
use serde_json::{Value, json};

/// Village 石门村 and its neighbour, both in town 500110101.
const VILLAGE_A: &str = "500110101001";
const VILLAGE_B: &str = "500110101002";
const TOWN: &str = "500110101";

/// An enrolled device, as its cadre receives it.
struct Device {
    /// Its id (a UUID).
    id: String,
    person: String,
    name: String,
    scope: String,
    token: String,
    /// The set-up payload `{"server", "token", "device"}`.
    setup: Value,
    /// `<server>/field#setup=<base64url(payload)>`.
    link: String,
}

impl Device {
    fn json(&self) -> Value {
        json!({
            "device": self.id,
            "person": self.person,
            "name": self.name,
            "scope": self.scope,
            "token": self.token,
            "setup": self.setup,
            "link": self.link,
        })
    }
}

/// The payload of a set-up link of `server`: `<server>/field#setup=` then
/// base64url (no padding) of the JSON.
fn decode_link(server: &str, link: &str) -> Value {
    let encoded = link
        .strip_prefix(&format!("{server}/field#setup="))
        .unwrap_or_else(|| panic!("{link} is not a set-up link of {server}"));
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .unwrap_or_else(|e| panic!("{link}: not base64url without padding: {e}"));
    serde_json::from_slice(&json).unwrap_or_else(|e| panic!("{link}: not JSON: {e}"))
}

/// A server process with the test organisation, on a temporary directory.
struct Field {
    server: ServerProcess,
    dir: tempfile::TempDir,
    agent: ureq::Agent,
}

impl Field {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let server = ServerProcess::start(&dir.path().join("data"));
        server.import_test_org();
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(30)))
                .build(),
        );
        assert!(
            test_org_csv().contains(VILLAGE_B),
            "the test organisation has both villages"
        );
        Self { server, dir, agent }
    }

    fn url(&self) -> String {
        self.server.url()
    }

    /// A request with `token`; returns the status and the JSON answer
    /// (`null` when the body is not JSON).
    fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.url());
        let auth = format!("Bearer {token}");
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &auth).call(),
            ("PUT", body) => self
                .agent
                .put(&url)
                .header("Authorization", &auth)
                .send_json(body.unwrap_or(Value::Null)),
            (_, body) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_json(body.unwrap_or(Value::Null)),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn admin(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, answer) = self.call(method, path, ADMIN_TOKEN, Some(body));
        assert_eq!(status, 200, "{method} {path}: {answer}");
        answer
    }

    /// Registers a person with a (Chinese) name.
    fn person(&self, id: &str, name: &str) {
        self.admin(
            "POST",
            "/v1/admin/people",
            json!({"id": id, "name": name, "scope": TOWN}),
        );
    }

    /// Enrolls a device for a registered person through the admin API.
    fn enroll(&self, person: &str, name: &str, role: &str, scope: &str) -> Device {
        let answer = self.admin(
            "POST",
            "/v1/admin/devices",
            json!({"person": person, "role": role, "scope": scope, "label": format!("{name}的手机")}),
        );
        let setup = answer["setup"].clone();
        let id = setup["device"].as_str().expect("a device id").to_owned();
        let token = answer["token"].as_str().expect("a token").to_owned();
        // The admin API gives the link the QR code carries; it must be the
        // contract's `<server>/field#setup=<base64url(payload)>`.
        let link = answer["link"]
            .as_str()
            .unwrap_or_else(|| panic!("the enrollment answers a set-up link: {answer}"))
            .to_owned();
        assert_eq!(
            decode_link(&self.url(), &link),
            setup,
            "the set-up link carries the payload"
        );
        Device {
            id,
            person: person.to_owned(),
            name: name.to_owned(),
            scope: scope.to_owned(),
            token,
            setup,
            link,
        }
    }

    /// A cadre of `village` named `name`, with a device.
    fn cadre(&self, person: &str, name: &str, village: &str) -> Device {
        self.person(person, name);
        self.enroll(person, name, "cadre", village)
    }

    /// A town official's token, to read the statistics and records API.
    fn town_token(&self) -> String {
        self.person("town-official", "镇综治中心");
        self.enroll("town-official", "镇综治中心", "town", TOWN)
            .token
    }

    /// Runs `fengqiao <args>` against this server; returns its stdout.
    fn cli(&self, args: &[&str]) -> String {
        let output = run_bounded(
            Command::new(binary())
                .args(args)
                .env("FENGQIAO_SERVER", self.url())
                .env("FENGQIAO_ADMIN_TOKEN", ADMIN_TOKEN)
                .env("FENGQIAO_LOG", "warn"),
            Duration::from_secs(60),
        );
        assert!(
            output.status.success(),
            "fengqiao {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A Rust phone (`fengqiao field --dir …`) set up from `device`'s payload.
    fn cli_phone(&self, device: &Device) -> PathBuf {
        let dir = self.dir.path().join(format!("phone-{}", device.id));
        let dir_arg = dir.display().to_string();
        self.cli(&[
            "field",
            "--dir",
            &dir_arg,
            "init",
            "--setup",
            &device.setup.to_string(),
        ]);
        dir
    }

    /// Runs a scenario with `devices`; returns its reports. Fails the test
    /// with the script's output when it fails, times out or never says
    /// `passed`.
    fn scenario(&self, name: &str, devices: &[(&str, &Device)], extra: Value) -> Vec<Value> {
        let mut context = json!({
            "server": self.url(),
            "admin": ADMIN_TOKEN,
            "devToken": DEV_TOKEN,
            "bin": binary(),
            "villages": [VILLAGE_A, VILLAGE_B],
            "town": TOWN,
            "devices": {},
            "extra": extra,
        });
        for (key, device) in devices {
            context["devices"][*key] = device.json();
        }
        browser::run("field", name, &self.url(), &context)
    }
}

/// Runs `command` with its output captured, killing it after `limit`.
fn run_bounded(command: &mut Command, limit: Duration) -> std::process::Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match finished.recv_timeout(limit) {
        Ok(output) => output.expect("the command's output"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("the command did not finish within {limit:?}: {command:?}");
        }
    }
}

fn string_of(value: &Value, key: &str) -> String {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key:?} in {value}"))
        .to_owned()
}

// ---------------------------------------------------------------------------

#[test]
fn enrolling_by_the_setup_link_takes_the_token_out_of_the_address_bar() {
    if !browser::ready("the field app's set-up test") {
        return;
    }
    let field = Field::start();
    field.person("li-mei", "李梅");
    // The admin's own command prints the link the QR code carries.
    let printed = field.cli(&[
        "admin",
        "enroll",
        "--person",
        "li-mei",
        "--role",
        "cadre",
        "--scope",
        VILLAGE_A,
        "--label",
        "李梅的手机",
    ]);
    let link = printed
        .split_whitespace()
        .find(|word| word.contains("/field#setup="))
        .unwrap_or_else(|| panic!("`fengqiao admin enroll` printed no set-up link:\n{printed}"))
        .to_owned();
    let setup = decode_link(&field.url(), &link);
    let token = string_of(&setup, "token");
    let by_link = Device {
        id: string_of(&setup, "device"),
        person: "li-mei".into(),
        name: "李梅".into(),
        scope: VILLAGE_A.into(),
        token,
        setup,
        link,
    };
    // A second phone is set up by pasting the payload.
    let pasted = field.cadre("wang-qiang", "王强", VILLAGE_A);

    let reports = field.scenario("enroll", &[("a", &by_link), ("b", &pasted)], Value::Null);
    let seen = browser::report(&reports, "enrolled");
    assert_eq!(seen["name"], "李梅", "{seen}");
    assert!(
        !seen["url"].as_str().unwrap_or("").contains("setup"),
        "{seen}"
    );
    browser::report(&reports, "erased");
}

#[test]
fn records_made_offline_survive_a_reload_and_sync_when_the_network_returns() {
    if !browser::ready("the field app's offline test") {
        return;
    }
    let field = Field::start();
    let phone = field.cadre("li-mei", "李梅", VILLAGE_A);
    let reports = field.scenario("offline", &[("a", &phone)], Value::Null);
    let made = browser::report(&reports, "synced");
    let dispute = string_of(made, "dispute");
    let visit = string_of(made, "visit");
    let title = string_of(made, "title");
    let household = string_of(made, "household");

    // The server has them, and its statistics count them.
    let town = field.town_token();
    let (status, summary) = field.call("GET", &format!("/v1/records/{dispute}"), &town, None);
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["title"], title.as_str(), "{summary}");
    let (status, stats) = field.call(
        "GET",
        &format!("/v1/stats/summary?scope={VILLAGE_A}"),
        &town,
        None,
    );
    assert_eq!(status, 200, "{stats}");
    assert_eq!(
        stats["disputes"]["totals"]["total"], 1,
        "one dispute counted: {stats}"
    );
    assert_eq!(
        stats["disputes"]["totals"]["mediating"], 1,
        "the dispute is under mediation (its mediation event): {stats}"
    );
    assert_eq!(stats["visits"]["total"], 1, "one visit counted: {stats}");
    assert_eq!(
        stats["visits"]["topics"]["livelihood"], 1,
        "the visit's topic: {stats}"
    );
    let (status, visits) = field.call(
        "GET",
        &format!("/v1/records?kind=visit&village={VILLAGE_A}"),
        &town,
        None,
    );
    assert_eq!(status, 200, "{visits}");
    let items = visits["items"].as_array().expect("items");
    assert!(
        items.iter().any(|v| v["id"] == visit.as_str()),
        "the visit is on the server: {visits}"
    );

    // A Rust phone of the same village receives both.
    let other = field.cadre("wang-qiang", "王强", VILLAGE_A);
    let dir = field.cli_phone(&other);
    let dir = dir.display().to_string();
    field.cli(&["field", "--dir", &dir, "sync"]);
    let disputes = field.cli(&["field", "--dir", &dir, "dispute", "list"]);
    assert!(disputes.contains(&dispute), "{disputes}");
    let shown = field.cli(&["field", "--dir", &dir, "dispute", "show", &dispute]);
    assert!(shown.contains(&title), "{shown}");
    let events = string_of(made, "events")
        .split(',')
        .map(str::to_owned)
        .collect::<Vec<_>>();
    assert!(
        shown.contains(&format!("办理经过（{}）", events.len() + 1)),
        "the reported event and {events:?}: {shown}"
    );
    let visits = field.cli(&["field", "--dir", &dir, "visit", "list"]);
    assert!(visits.contains(&visit), "{visits}");
    assert!(visits.contains(&household), "{visits}");
}

#[test]
fn two_phones_edit_one_dispute_offline_and_both_changes_survive() {
    if !browser::ready("the field app's two-phone merge test") {
        return;
    }
    let field = Field::start();
    let a = field.cadre("li-mei", "李梅", VILLAGE_A);
    let b = field.cadre("wang-qiang", "王强", VILLAGE_A);
    let reports = field.scenario("merge", &[("a", &a), ("b", &b)], Value::Null);
    let merged = browser::report(&reports, "merged");
    let id = string_of(merged, "dispute");

    // The server's copy is the same merge.
    let town = field.town_token();
    let (status, summary) = field.call("GET", &format!("/v1/records/{id}"), &town, None);
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["risk"], Risk::High.as_str(), "{summary}");
    let (status, timeline) = field.call("GET", &format!("/v1/records/{id}/timeline"), &town, None);
    assert_eq!(status, 200, "{timeline}");
    let kinds: BTreeSet<String> = timeline["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_owned))
        .collect();
    for kind in [EventKind::Mediation, EventKind::Note] {
        assert!(kinds.contains(kind.as_str()), "{kind:?} in {timeline}");
    }
}

#[test]
fn records_of_a_rust_phone_and_an_automerge_repo_client_reach_the_app_and_back() {
    if !browser::ready("the field app's interop test") {
        return;
    }
    let field = Field::start();
    let app = field.cadre("li-mei", "李梅", VILLAGE_A);
    let rust = field.cadre("wang-qiang", "王强", VILLAGE_A);

    // A Rust phone records a dispute and syncs it.
    let mut phone = Phone::enrolled(
        "wang-qiang",
        rust.id.parse().expect("a device id"),
        &rust.token,
    );
    let from_rust = phone.report(VILLAGE_A, "王强手机登记的山林界址纠纷", now_ms());
    phone.sync(&field.url());

    let reports = field.scenario(
        "interop",
        &[("a", &app)],
        json!({"fromRust": {"id": from_rust.to_string(), "title": "王强手机登记的山林界址纠纷"}}),
    );
    // The automerge-repo client (in the scenario) found the app's dispute
    // and saw the app's event on its own record; now the Rust phone.
    let made = browser::report(&reports, "created");
    let from_js: DocumentId = string_of(made, "fromJs").parse().expect("a document id");
    let id: DocumentId = string_of(made, "dispute").parse().expect("a document id");
    let title = string_of(made, "title");

    // The Rust phone receives the app's dispute, with the app's event on
    // the automerge-repo client's record.
    phone.sync(&field.url());
    let record = phone.replica.record(&id).expect("the app's dispute");
    assert_eq!(
        record.as_dispute().expect("a dispute").title,
        title,
        "the Rust phone reads the app's dispute"
    );
    let js_record = phone.replica.record(&from_js).expect("the JS record");
    let events = &js_record.as_dispute().expect("a dispute").events;
    assert!(
        events.iter().any(|e| e.kind == EventKind::Mediation),
        "the app's mediation event on the automerge-repo record: {events:?}"
    );
}

#[test]
fn a_reassigned_phone_purges_and_a_revoked_one_signs_out_keeping_unsent_records() {
    if !browser::ready("the field app's reassign and revoke test") {
        return;
    }
    let field = Field::start();
    let app = field.cadre("li-mei", "李梅", VILLAGE_A);
    let other = field.cadre("wang-qiang", "王强", VILLAGE_A);
    let mut phone = Phone::enrolled(
        "wang-qiang",
        other.id.parse().expect("a device id"),
        &other.token,
    );
    let in_a = phone.report(VILLAGE_A, "石门村的灌溉用水纠纷", now_ms());
    phone.sync(&field.url());
    // A record of the other village, by a town official's phone.
    field.person("town-mediator", "镇调解员");
    let town = field.enroll("town-mediator", "镇调解员", "town", TOWN);
    let mut town_phone = Phone::enrolled(
        "town-mediator",
        town.id.parse().expect("a device id"),
        &town.token,
    );
    let in_b = town_phone.report(VILLAGE_B, "邻村的房屋漏水纠纷", now_ms());
    town_phone.sync(&field.url());

    let reports = field.scenario(
        "reassign",
        &[("a", &app)],
        json!({
            "inA": {"id": in_a.to_string(), "title": "石门村的灌溉用水纠纷"},
            "inB": {"id": in_b.to_string(), "title": "邻村的房屋漏水纠纷"},
        }),
    );
    let exported = browser::report(&reports, "exported");
    assert_eq!(exported["records"], 1, "{exported}");
    // The unsent record never reached the server.
    let unsent = string_of(exported, "id");
    let (status, _) = field.call("GET", &format!("/v1/records/{unsent}"), &town.token, None);
    assert_eq!(
        status, 404,
        "a record made after the revocation stays on the phone"
    );
}

#[test]
fn a_connection_cut_in_the_middle_of_a_bootstrap_resumes_without_duplicates() {
    if !browser::ready("the field app's cut-bootstrap test") {
        return;
    }
    let field = Field::start();
    let app = field.cadre("li-mei", "李梅", VILLAGE_A);
    let seeder = field.cadre("wang-qiang", "王强", VILLAGE_A);
    let mut phone = Phone::enrolled(
        "wang-qiang",
        seeder.id.parse().expect("a device id"),
        &seeder.token,
    );
    // Records of a few kilobytes each (a long description of varied
    // characters), so that the bootstrap takes several answers of the
    // phone's 512 KiB budget and the cut falls in the middle of it.
    let count = 300;
    let start = now_ms() - count * 60_000;
    let mut rng = fengqiao_tests::proxy::SeededRng::new(15);
    let mut ids = Vec::new();
    for i in 0..count {
        let mut dispute =
            fengqiao_tests::sample_dispute(VILLAGE_A, &format!("第{i}号 宅基地边界纠纷"));
        dispute.description = (0..2000)
            .map(|_| char::from_u32(0x4e00 + rng.below(0x5000) as u32).unwrap_or('纠'))
            .collect();
        let author = phone.author(start + i * 60_000);
        let id = phone
            .replica
            .create(|doc| create_dispute(doc, &author, &dispute))
            .expect("a valid dispute");
        ids.push(id.to_string());
    }
    phone.sync(&field.url());
    let reports = field.scenario("cut", &[("a", &app)], json!({"count": count, "ids": ids}));
    let done = browser::report(&reports, "bootstrapped");
    assert_eq!(done["records"], count, "{done}");
    assert!(
        done["cut"].as_u64().unwrap_or(0) >= 1,
        "a sync response was really cut: {done}"
    );
}

#[test]
fn a_new_app_version_installs_without_stranding_unsent_records() {
    if !browser::ready("the field app's update test") {
        return;
    }
    let field = Field::start();
    let app = field.cadre("li-mei", "李梅", VILLAGE_A);
    let reports = field.scenario("update", &[("a", &app)], Value::Null);
    let updated = browser::report(&reports, "updated");
    assert_ne!(updated["before"], updated["after"], "{updated}");
    // The dispute kept through the update reached the server.
    let dispute = string_of(updated, "dispute");
    let town = field.town_token();
    let (status, summary) = field.call("GET", &format!("/v1/records/{dispute}"), &town, None);
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["risk"], Risk::Low.as_str(), "{summary}");
}

/// Also: the list's search by a party's name, and the dispute form offering
/// the existing dispute that shares a party ("is this the same case?").
#[test]
fn phone_sized_screenshots_of_the_list_the_form_and_a_record_show_chinese() {
    if !browser::ready("the field app's screenshot test") {
        return;
    }
    let cjk = Command::new("fc-list")
        .arg(":lang=zh")
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    if !cjk {
        fengqiao_tests::skip(
            "the field app's screenshot test",
            "it needs a CJK font (Debian's fonts-wqy-microhei) for readable screenshots",
        );
        return;
    }
    let field = Field::start();
    let app = field.cadre("li-mei", "李梅", VILLAGE_A);
    let seeder = field.cadre("wang-qiang", "王强", VILLAGE_A);
    let mut phone = Phone::enrolled(
        "wang-qiang",
        seeder.id.parse().expect("a device id"),
        &seeder.token,
    );
    let id = phone.report(VILLAGE_A, "张三与李四宅基地边界纠纷", now_ms() - 86_400_000);
    phone.add_event(&id, EventKind::Mediation, "双方到村委会调解", now_ms());
    phone.sync(&field.url());
    let reports = field.scenario(
        "screenshots",
        &[("a", &app)],
        json!({"record": {"id": id.to_string(), "title": "张三与李四宅基地边界纠纷"}}),
    );
    let shots = browser::report(&reports, "screenshots");
    for file in shots["files"].as_array().expect("files") {
        let path = browser::artifacts("field").join(file.as_str().expect("a file name"));
        let bytes = std::fs::read(&path).expect("the screenshot is kept");
        assert!(bytes.starts_with(b"\x89PNG"), "{} is a PNG", path.display());
        // 390×844 CSS pixels at the phone's device pixel ratio.
        let width = u32::from_be_bytes(bytes[16..20].try_into().expect("IHDR width"));
        let height = u32::from_be_bytes(bytes[20..24].try_into().expect("IHDR height"));
        assert_eq!(
            width * 844,
            height * 390,
            "{} is {width}×{height}",
            path.display()
        );
    }
}

/// What a town official does on the dashboard — accept an escalated case,
/// assign a handler, 督办 it with a deadline — reaches the cadre's field app
/// at its next sync: the record's page shows the stage, the handler by name,
/// the deadline with its note and the news line, and no person ids. The
/// list's search then follows the address (a query in the hash, Back and
/// Forward).
#[test]
fn a_town_officials_actions_show_in_the_field_app_after_its_next_sync() {
    if !browser::ready("the field app's closed-loop test") {
        return;
    }
    let field = Field::start();
    let app = field.cadre("li-mei", "李梅", VILLAGE_A);
    let handler = field.cadre("wang-qiang", "王强", VILLAGE_A);
    let office = "第101镇综治中心";
    field.person("town-office", office);
    let town = field.enroll("town-office", office, "town", TOWN);
    let reports = field.scenario(
        "loop",
        &[("a", &app)],
        json!({
            "town": {"token": town.token, "name": office, "person": town.person},
            "handler": {"person": handler.person, "name": handler.name},
        }),
    );
    let seen = browser::report(&reports, "seen");
    browser::report(&reports, "searched");
    let id = string_of(seen, "dispute");

    // The server's timeline holds the official's events, in the
    // official's name.
    let (status, timeline) = field.call(
        "GET",
        &format!("/v1/records/{id}/timeline"),
        &town.token,
        None,
    );
    assert_eq!(status, 200, "{timeline}");
    let events = timeline["events"].as_array().expect("events");
    for kind in [
        EventKind::Accepted,
        EventKind::Assigned,
        EventKind::Supervised,
    ] {
        assert!(
            events
                .iter()
                .any(|e| e["kind"] == kind.as_str() && e["by"] == "town-office"),
            "{kind:?} by the official in {timeline}"
        );
    }

    // So does the handler's Rust phone, in Chinese.
    let dir = field.cli_phone(&handler);
    let dir = dir.display().to_string();
    field.cli(&["field", "--dir", &dir, "sync"]);
    let shown = field.cli(&["field", "--dir", &dir, "dispute", "show", &id]);
    for wanted in [
        "承办人      李梅、王强",
        "承办人：王强",
        "督办期限",
        "阶段        调处中",
        office,
    ] {
        assert!(shown.contains(wanted), "{wanted:?} in:\n{shown}");
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
