//! `fengqiao field …`: phones on the command line, working offline and
//! syncing through a running `fengqiao serve`.

mod common;

use std::path::Path;

use common::{ADMIN, ServerProcess, TOKEN, fengqiao, import_org};
use serde_json::{Value, json};

const VILLAGE: &str = "500110101001";

/// Runs `fengqiao field --dir DIR ARGS…` in English: (success, stdout,
/// stderr).
fn field(dir: &Path, args: &[&str]) -> (bool, String, String) {
    field_in(Some("en"), dir, args)
}

/// Runs `fengqiao field --dir DIR ARGS…` with `FENGQIAO_LANG` set to
/// `lang`, or unset (the default language, Chinese).
fn field_in(lang: Option<&str>, dir: &Path, args: &[&str]) -> (bool, String, String) {
    let mut command = fengqiao();
    command
        .arg("field")
        .arg("--dir")
        .arg(dir)
        .args(args)
        .env("FENGQIAO_LOG", "warn")
        .env_remove("FENGQIAO_FIELD_DIR");
    match lang {
        Some(lang) => command.env("FENGQIAO_LANG", lang),
        None => command.env_remove("FENGQIAO_LANG"),
    };
    let output = command.output().expect("fengqiao field runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs a command that must succeed; returns its stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let (success, out, err) = field(dir, args);
    assert!(success, "fengqiao field {args:?} failed:\n{out}\n{err}");
    out
}

/// Runs a command that must succeed in the default language (Chinese);
/// returns its stdout.
fn ok_zh(dir: &Path, args: &[&str]) -> String {
    let (success, out, err) = field_in(None, dir, args);
    assert!(success, "fengqiao field {args:?} failed:\n{out}\n{err}");
    out
}

/// Runs a command that must fail; returns its stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    let (success, out, err) = field(dir, args);
    assert!(
        !success,
        "fengqiao field {args:?} should fail:\n{out}\n{err}"
    );
    err
}

fn admin_post(server: &ServerProcess, path: &str, body: Value) -> Value {
    let response = ureq::post(&format!("{}{path}", server.url))
        .header("Authorization", &format!("Bearer {ADMIN}"))
        .send_json(body)
        .expect("the admin API answers");
    assert_eq!(response.status().as_u16(), 200, "{path}");
    let text = response.into_body().read_to_string().expect("a body");
    serde_json::from_str(&text).expect("JSON")
}

/// Registers a person, enrolls a cadre device for the village, and returns
/// the set-up payload.
fn enroll(server: &ServerProcess, person: &str, name: &str) -> String {
    admin_post(
        server,
        "/v1/admin/people",
        json!({"id": person, "name": name}),
    );
    let enrolled = admin_post(
        server,
        "/v1/admin/devices",
        json!({"person": person, "role": "cadre", "scope": VILLAGE, "label": format!("{name}的手机")}),
    );
    enrolled["setup"].to_string()
}

/// The line of `show` output that starts with `label`.
fn line<'a>(show: &'a str, label: &str) -> &'a str {
    show.lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{show}"))
}

#[test]
fn two_phones_edit_a_case_offline_and_both_end_with_the_merged_record() {
    let work = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&work.path().join("server"));
    import_org(&server.url);
    let setup_a = enroll(&server, "zhang-san", "张三");
    let setup_b = enroll(&server, "li-si", "李四");
    let a = work.path().join("phone-a");
    let b = work.path().join("phone-b");

    // Phone A learns its cadre from the server; phone B is told, and needs
    // no connection.
    let out = ok(&a, &["init", "--setup", &setup_a]);
    assert!(out.contains("zhang-san (张三)"), "{out}");
    assert!(out.contains(&format!("cadre over {VILLAGE}")), "{out}");
    let out = ok(&b, &["init", "--setup", &setup_b, "--cadre", "li-si"]);
    assert!(out.contains("li-si"), "{out}");

    // A phone is not replaced by accident.
    let err = fails(&a, &["init", "--setup", &setup_a]);
    assert!(
        err.contains("already holds a phone") && err.contains("--force"),
        "{err}"
    );
    ok(&a, &["init", "--setup", &setup_a, "--force"]);

    // Wrong words are answered with the words that work.
    let err = fails(&a, &["dispute", "new", "--title", "x", "--category", "lnd"]);
    assert!(
        err.contains("neighbor") && err.contains("environment") && err.contains("land"),
        "{err}"
    );

    // Day 1: phone A records a dispute and syncs.
    let id = ok(
        &a,
        &[
            "dispute",
            "new",
            "--village",
            VILLAGE,
            "--title",
            "宅基地边界纠纷",
            "--category",
            "land",
            "--party",
            "张三:applicant",
            "--party",
            "李四：respondent:13800000000",
            "--at",
            "2025-03-01 09:00",
        ],
    )
    .trim()
    .to_owned();
    assert!(!id.is_empty() && !id.contains(' '), "the new id: {id:?}");
    let unsynced = ok(&a, &["dispute", "list", "--unsynced"]);
    assert!(
        unsynced.contains(&id) && unsynced.contains("unsynced"),
        "{unsynced}"
    );
    let (success, out, err) = field(&a, &["sync"]);
    assert!(success, "{out}{err}");
    assert!(err.contains("round 1: sent 1 record"), "{err}");
    assert!(out.contains("acknowledged  1"), "{out}");
    let status = ok(&a, &["status"]);
    assert!(status.contains("unsynced    none"), "{status}");

    // Phone B syncs and gets it; a prefix of the id is enough.
    let out = ok(&b, &["sync"]);
    assert!(out.contains("received      1"), "{out}");
    let prefix = &id[..6];
    let show = ok(&b, &["dispute", "show", prefix]);
    assert!(
        show.contains("宅基地边界纠纷") && show.contains("status      open"),
        "{show}"
    );
    assert!(show.contains("13800000000"), "{show}");

    // Days 2 and 3, offline: both phones act on the case.
    ok(
        &a,
        &[
            "dispute",
            "edit",
            prefix,
            "--risk",
            "medium",
            "--at",
            "2025-03-02",
        ],
    );
    ok(
        &a,
        &[
            "dispute",
            "event",
            prefix,
            "mediation",
            "--note",
            "双方到村委会调解",
            "--at",
            "2025-03-02 10:00",
        ],
    );
    ok(
        &b,
        &[
            "dispute",
            "edit",
            prefix,
            "--risk",
            "high",
            "--description",
            "两家为宅基地边界争执，已有肢体冲突",
            "--at",
            "2025-03-03",
        ],
    );
    let out = ok(
        &b,
        &[
            "dispute",
            "event",
            prefix,
            "escalated",
            "--level",
            "town",
            "--note",
            "需镇综治中心协调",
            "--at",
            "2025-03-03 15:00",
        ],
    );
    assert!(out.contains("status escalated (town)"), "{out}");
    for phone in [&a, &b] {
        let unsynced = ok(phone, &["dispute", "list", "--unsynced"]);
        assert!(unsynced.contains(&id), "{unsynced}");
        let status = ok(phone, &["status"]);
        assert!(
            status.contains("unsynced    1 record") && status.contains("宅基地边界纠纷"),
            "{status}"
        );
    }
    let err = fails(&a, &["dispute", "event", prefix, "escalated"]);
    assert!(err.contains("--level") && err.contains("town"), "{err}");

    // Back in signal: A, B, A.
    ok(&a, &["sync"]);
    let out = ok(&b, &["sync"]);
    assert!(
        out.contains("merged        1") && out.contains("宅基地边界纠纷"),
        "B's sync reports the merge: {out}"
    );
    ok(&a, &["sync"]);

    // Both phones show the same merged case.
    let show_a = ok(&a, &["dispute", "show", &id]);
    let show_b = ok(&b, &["dispute", "show", &id]);
    assert_eq!(show_a, show_b, "both phones read the same record");
    assert!(line(&show_a, "risk").contains("high"), "{show_a}");
    assert!(
        line(&show_a, "status").contains("escalated (town)"),
        "{show_a}"
    );
    assert!(
        line(&show_a, "stage").contains("pending (town)"),
        "{show_a}"
    );
    assert!(
        show_a.contains("phones disagreed: high, medium"),
        "{show_a}"
    );
    assert!(show_a.contains("两家为宅基地边界争执"), "{show_a}");
    let reported = show_a.find("reported").unwrap();
    // People by name, never by id.
    let mediation = show_a.find("by 张三  note: 双方到村委会调解").unwrap();
    let escalated = show_a.find("escalated (town)  by 李四").unwrap();
    assert!(
        !show_a.contains("zhang-san") && !show_a.contains("li-si"),
        "{show_a}"
    );
    assert!(reported < mediation && mediation < escalated, "{show_a}");
    assert!(line(&show_a, "sync").contains("on the server"), "{show_a}");
    for phone in [&a, &b] {
        let status = ok(phone, &["status"]);
        assert!(
            status.contains("unsynced    none") && status.contains("attention   none"),
            "{status}"
        );
        let out = ok(phone, &["dispute", "list", "--unsynced"]);
        assert!(out.contains("no unsynced disputes"), "{out}");
        let out = ok(
            phone,
            &["dispute", "list", "--status", "escalated", "--text", "李四"],
        );
        assert!(
            out.contains(&id) && out.contains("escalated (town)"),
            "{out}"
        );
    }

    // A visit, with a follow-up.
    let visit = ok(
        &a,
        &[
            "visit",
            "new",
            "--household",
            "王家",
            "--group",
            "3组",
            "--topic",
            "livelihood",
            "--topic",
            "health",
            "--sentiment",
            "concern",
            "--follow-up-due",
            "2025-04-01",
            "--at",
            "2025-03-04",
        ],
    );
    assert!(!visit.trim().is_empty());
    let out = ok(&a, &["visit", "list"]);
    assert!(
        out.contains("王家") && out.contains("due 2025-04-01") && out.contains("livelihood,health"),
        "{out}"
    );
    ok(&a, &["sync"]);

    // A development phone sees everything, and must say who writes.
    let dev = work.path().join("phone-dev");
    let err = fails(&dev, &["init", "--server", &server.url, "--token", TOKEN]);
    assert!(err.contains("--cadre"), "{err}");
    ok(
        &dev,
        &[
            "init",
            "--server",
            &server.url,
            "--token",
            TOKEN,
            "--cadre",
            "wang-wu",
        ],
    );
    let out = ok(&dev, &["sync"]);
    assert!(out.contains("received      2"), "{out}");

    // Without signal: the sync fails, says what to do, and keeps the edit.
    server.kill_9();
    ok(
        &a,
        &[
            "dispute",
            "event",
            prefix,
            "note",
            "--note",
            "电话回访",
            "--at",
            "2025-03-05",
        ],
    );
    let (success, out, err) = field(&a, &["sync"]);
    assert!(!success, "{out}");
    assert!(
        err.contains("cannot reach the server")
            && err.contains("your changes are safe on this phone")
            && err.contains("fengqiao field sync"),
        "{err}"
    );
    let out = ok(&a, &["dispute", "list", "--unsynced"]);
    assert!(out.contains(&id), "{out}");
    let show = ok(&a, &["dispute", "show", prefix]);
    assert!(
        show.contains("电话回访") && line(&show, "sync").contains("unsynced"),
        "{show}"
    );
}

#[test]
fn a_phone_explains_what_it_needs() {
    let work = tempfile::tempdir().unwrap();
    let phone = work.path().join("phone");

    // Nothing set up yet.
    let err = fails(&phone, &["status"]);
    assert!(err.contains("field init --setup"), "{err}");

    // Set up offline from a payload, with a default village.
    let setup = json!({
        "server": "http://127.0.0.1:9",
        "token": "fq_test",
        "device": "6f1c1b8e-4a4e-4b7e-9a55-0e2f8c1d2b3a",
    })
    .to_string();
    let err = fails(&phone, &["init", "--setup", "{\"server\": 1}"]);
    assert!(err.contains("fengqiao admin enroll"), "{err}");
    ok(
        &phone,
        &[
            "init",
            "--setup",
            &setup,
            "--cadre",
            "zhang-san",
            "--village",
            VILLAGE,
        ],
    );
    let settings = std::fs::read_to_string(phone.join("phone.toml")).unwrap();
    assert!(settings.contains("zhang-san") && settings.contains(VILLAGE));

    // Records without --village go to the default village.
    let id = ok(
        &phone,
        &[
            "dispute",
            "new",
            "--title",
            "邻里漏水纠纷",
            "--category",
            "neighbor",
        ],
    );
    let show = ok(&phone, &["dispute", "show", id.trim()]);
    assert!(line(&show, "village").contains(VILLAGE), "{show}");

    // Ids that name nothing, or a visit where a dispute is expected.
    let err = fails(&phone, &["dispute", "show", "zzzz"]);
    assert!(err.contains("no record on this phone"), "{err}");
    let visit = ok(&phone, &["visit", "new", "--household", "赵家"]);
    let err = fails(&phone, &["dispute", "show", visit.trim()]);
    assert!(err.contains("fengqiao field visit show"), "{err}");

    // Edits that say nothing, dates that are not dates.
    let err = fails(&phone, &["dispute", "edit", id.trim()]);
    assert!(err.contains("--risk"), "{err}");
    let err = fails(
        &phone,
        &[
            "dispute",
            "event",
            id.trim(),
            "resolved",
            "--at",
            "2025-02-30",
        ],
    );
    assert!(err.contains("YYYY-MM-DD"), "{err}");
    // A date years ahead is refused by the phone's clock, and nothing is saved.
    let next_year = format!("{}-01-01", 2027 + 1);
    let err = fails(
        &phone,
        &[
            "dispute",
            "event",
            id.trim(),
            "resolved",
            "--at",
            &next_year,
        ],
    );
    assert!(
        err.contains("events[1].at") && err.contains("clock"),
        "{err}"
    );
    let show = ok(&phone, &["dispute", "show", id.trim()]);
    assert!(show.contains("timeline (1)"), "{show}");
    let err = fails(
        &phone,
        &[
            "dispute",
            "event",
            id.trim(),
            "mediation",
            "--satisfied",
            "true",
        ],
    );
    assert!(err.contains("followup"), "{err}");
    let out = ok(
        &phone,
        &["dispute", "edit", id.trim(), "--category", "neighbor"],
    );
    assert!(out.contains("nothing changed"), "{out}");

    // Help teaches by example.
    for args in [
        vec!["field", "--help"],
        vec!["field", "dispute", "new", "--help"],
        vec!["field", "sync", "--help"],
    ] {
        let output = fengqiao().args(&args).output().unwrap();
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && help.contains("fengqiao field"),
            "{help}"
        );
    }
}

#[test]
fn a_phone_speaks_chinese_names_villages_and_says_who_changed_its_case() {
    let work = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&work.path().join("server"));
    import_org(&server.url);
    let setup_a = enroll(&server, "zhang-san", "张三");
    let setup_b = enroll(&server, "li-mei", "李梅");
    let a = work.path().join("phone-a");
    let b = work.path().join("phone-b");
    ok(&a, &["init", "--setup", &setup_a]);
    // Set up offline: names come with the first sync.
    ok(&b, &["init", "--setup", &setup_b, "--cadre", "li-mei"]);
    let settings = std::fs::read_to_string(a.join("phone.toml")).unwrap();
    assert!(
        settings.contains("石门村") && settings.contains("李梅"),
        "names learnt at set-up: {settings}"
    );

    let id = ok(
        &a,
        &[
            "dispute",
            "new",
            "--title",
            "宅基地边界纠纷",
            "--category",
            "land",
            "--risk",
            "medium",
            "--party",
            "张三:applicant",
            "--at",
            "2025-03-01 09:00",
        ],
    )
    .trim()
    .to_owned();
    let prefix = &id[..6];

    // Lists speak Chinese by default, with the village's name.
    let list = ok_zh(&a, &["dispute", "list"]);
    for wanted in [
        "状态",
        "类别",
        "待调解",
        "土地",
        "中",
        "500110101001 石门村",
        "未同步",
        "1 件纠纷",
    ] {
        assert!(list.contains(wanted), "{wanted:?} in:\n{list}");
    }
    for english in ["open", "land", "medium", "unsynced", "status"] {
        assert!(!list.contains(english), "{english:?} in:\n{list}");
    }
    // English with --lang en, or FENGQIAO_LANG=en.
    let (_, english, _) = field_in(None, &a, &["--lang", "en", "dispute", "list"]);
    let (_, by_env, _) = field_in(Some("en"), &a, &["dispute", "list"]);
    assert_eq!(english, by_env);
    for wanted in [
        "status",
        "open",
        "land",
        "medium",
        "500110101001 石门村",
        "unsynced",
        "1 dispute",
    ] {
        assert!(english.contains(wanted), "{wanted:?} in:\n{english}");
    }

    ok(&a, &["sync"]);
    ok(&b, &["sync"]);
    let settings = std::fs::read_to_string(b.join("phone.toml")).unwrap();
    assert!(
        settings.contains("石门村") && settings.contains("张三"),
        "names learnt at the sync: {settings}"
    );

    // Li Mei escalates the case on her phone; Zhang San's phone, which
    // reported it, is told what changed and by whom.
    ok(
        &b,
        &[
            "dispute",
            "event",
            prefix,
            "escalated",
            "--level",
            "town",
            "--at",
            "2025-03-03 15:00",
        ],
    );
    ok(&b, &["sync"]);
    let out = ok_zh(&a, &["sync"]);
    assert!(
        out.contains("状态现为 已上报（镇级），由 李梅 修改") && out.contains("宅基地边界纠纷"),
        "{out}"
    );
    let list = ok_zh(&a, &["dispute", "list"]);
    assert!(list.contains("已上报（镇级）"), "{list}");

    // Again, in English: both phones edited it this time (a merge).
    ok(
        &b,
        &[
            "dispute",
            "event",
            prefix,
            "resolved",
            "--at",
            "2025-03-05 10:00",
        ],
    );
    ok(&b, &["sync"]);
    ok(
        &a,
        &[
            "dispute",
            "event",
            prefix,
            "note",
            "--note",
            "电话回访",
            "--at",
            "2025-03-05 11:00",
        ],
    );
    let (_, out, _) = field_in(None, &a, &["--lang", "en", "sync"]);
    assert!(
        out.contains("status is now resolved, changed by 李梅"),
        "{out}"
    );
    // A sync that brings nothing new says nothing of changes.
    let out = ok_zh(&a, &["sync"]);
    assert!(!out.contains("状态现为"), "{out}");

    // Visits too.
    ok(
        &a,
        &[
            "visit",
            "new",
            "--household",
            "王家",
            "--topic",
            "livelihood",
            "--topic",
            "health",
            "--follow-up-due",
            "2025-04-01",
            "--at",
            "2025-03-04",
        ],
    );
    let visits = ok_zh(&a, &["visit", "list"]);
    for wanted in [
        "农户",
        "王家",
        "500110101001 石门村",
        "2025-04-01 前",
        "1 次走访",
    ] {
        assert!(visits.contains(wanted), "{wanted:?} in:\n{visits}");
    }
    assert!(!visits.contains("livelihood"), "{visits}");
}

/// A server that takes the connection and never answers: the phone gives
/// up after its timeout, on every try, saying so while it waits and at the
/// end, and keeps its changes.
#[test]
fn a_sync_against_a_hung_server_gives_up_and_says_why() {
    // Never accepted from: the kernel completes the connections and takes
    // the requests; nothing answers.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let work = tempfile::tempdir().unwrap();
    let phone = work.path().join("phone");
    let setup = json!({
        "server": format!("http://{}", hung.local_addr().unwrap()),
        "token": "fq_test",
        "device": "6f1c1b8e-4a4e-4b7e-9a55-0e2f8c1d2b3a",
    })
    .to_string();
    ok(
        &phone,
        &[
            "init",
            "--setup",
            &setup,
            "--cadre",
            "zhang-san",
            "--village",
            VILLAGE,
        ],
    );
    ok(
        &phone,
        &[
            "dispute",
            "new",
            "--title",
            "邻里漏水纠纷",
            "--category",
            "neighbor",
        ],
    );
    let err = fails(&phone, &["sync", "--timeout", "0.4", "--tries", "2"]);
    assert!(err.contains("did not answer"), "{err}");
    assert!(err.contains("2 tries"), "{err}");
    assert!(
        err.contains("waiting for the server"),
        "no word while waiting:\n{err}"
    );
    assert!(err.contains("try 1 of 2 failed"), "{err}");
    assert!(err.contains("changes are safe"), "{err}");
    // In Chinese by default.
    let (success, _, err) = field_in(None, &phone, &["sync", "--timeout", "0.4", "--tries", "2"]);
    assert!(!success);
    for wanted in [
        "正在与",
        "等待服务器回应",
        "第 1 次没有成功",
        "秒后重试",
        "服务器没有回应",
        "试了 2 次",
        "本机的修改都已保存",
    ] {
        assert!(err.contains(wanted), "{wanted:?} in:\n{err}");
    }
    for english in [
        "did not answer",
        "waiting for the server",
        "trying again",
        "syncing with",
    ] {
        assert!(!err.contains(english), "{english:?} in:\n{err}");
    }
    let status = ok(&phone, &["status"]);
    assert!(line(&status, "unsynced").contains("1 record"), "{status}");

    let err = fails(&phone, &["sync", "--timeout", "0"]);
    assert!(err.contains("--timeout"), "{err}");
    drop(hung);
}

/// What remains of a Chinese output once codes, ids, addresses, byte
/// units and the commands it quotes are taken out: the latin words left,
/// which should be none.
fn english_words(text: &str, codes: &[&str]) -> Vec<String> {
    let mut text = text.to_owned();
    for code in codes {
        text = text.replace(code, " ");
    }
    // Commands the cadre is told to run, in backquotes.
    let mut plain = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 0 {
            plain.push_str(part);
        }
    }
    plain
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| w.len() > 1 && !["KB", "MB"].contains(w))
        .map(str::to_owned)
        .collect()
}

/// `sync`, `status` and `show` speak Chinese by default and English with
/// `--lang en`, name people and places, and carry what a town official did
/// on the dashboard (accept, assign a handler, 督办 with a deadline) to the
/// cadre's phone at its next sync.
#[test]
fn sync_status_and_show_speak_chinese_and_carry_the_officials_actions() {
    let work = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&work.path().join("server"));
    import_org(&server.url);
    let setup_a = enroll(&server, "zhang-san", "张三");
    let setup_b = enroll(&server, "li-mei", "李梅");
    admin_post(
        &server,
        "/v1/admin/people",
        json!({"id": "town-office", "name": "古南街道综治中心"}),
    );
    let town = admin_post(
        &server,
        "/v1/admin/devices",
        json!({"person": "town-office", "role": "town", "scope": "500110101", "label": "综治中心电脑"}),
    );
    let town_token = town["token"].as_str().expect("a token").to_owned();
    let a = work.path().join("phone-a");
    let b = work.path().join("phone-b");
    ok(&a, &["init", "--setup", &setup_a]);
    ok(&b, &["init", "--setup", &setup_b]);

    let id = ok(
        &a,
        &[
            "dispute",
            "new",
            "--title",
            "宅基地边界纠纷",
            "--description",
            "两家为宅基地边界争执",
            "--category",
            "land",
            "--risk",
            "medium",
            "--party",
            "王五:applicant:13800000000",
            "--party",
            "赵六:respondent",
            "--at",
            "2025-03-01 09:00",
        ],
    )
    .trim()
    .to_owned();
    let visit = ok(
        &a,
        &[
            "visit",
            "new",
            "--household",
            "王家",
            "--group",
            "3组",
            "--topic",
            "livelihood",
            "--sentiment",
            "concern",
            "--notes",
            "老人看病难",
            "--follow-up-due",
            "2025-04-01",
            "--at",
            "2025-03-02",
        ],
    )
    .trim()
    .to_owned();
    let device_a = std::fs::read_to_string(a.join("phone.toml"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("device = "))
        .map(|d| d.trim_matches('"').to_owned())
        .expect("the device in the settings");
    let a_dir = a.display().to_string();
    let codes = [
        server.url.as_str(),
        a_dir.as_str(),
        id.as_str(),
        visit.as_str(),
        device_a.as_str(),
    ];
    let chinese = |out: &str, what: &str| {
        let words = english_words(out, &codes);
        assert!(words.is_empty(), "{what}: English {words:?} in\n{out}");
    };

    // Status before the first sync, in both languages.
    let status = ok_zh(&a, &["status"]);
    for wanted in [
        "手机目录",
        "人员        张三（zhang-san）",
        "村干部，范围 500110101001 石门村",
        "从未同步",
        "共 2 条：纠纷 1 件，走访 1 次",
        "未同步      2 条记录",
        "需处理      无",
    ] {
        assert!(status.contains(wanted), "{wanted:?} in:\n{status}");
    }
    chinese(&status.replace("zhang-san", ""), "status");
    let status = ok(&a, &["status"]);
    for wanted in [
        "cadre       zhang-san (张三)",
        "access      cadre over 500110101001",
        "last sync   never",
        "records     2 held: 1 dispute, 1 visit",
        "unsynced    2 records",
        "attention   none",
    ] {
        assert!(status.contains(wanted), "{wanted:?} in:\n{status}");
    }

    // The first sync, in both languages (stdout; the rounds on stderr).
    let (success, out, err) = field_in(None, &a, &["sync"]);
    assert!(success, "{out}\n{err}");
    assert!(out.contains("已确认        2"), "{out}");
    assert!(err.contains("第 1 轮：发送 2 条记录"), "{err}");
    chinese(&out, "sync");
    chinese(&err, "sync (rounds)");
    let out = ok(&a, &["sync"]);
    assert!(
        out.contains("acknowledged  0") && out.contains("purged        0"),
        "{out}"
    );

    // Li Mei escalates the case; the town official accepts it, assigns
    // her and puts it under 督办 on the dashboard.
    ok(&b, &["sync"]);
    ok(
        &b,
        &[
            "dispute",
            "event",
            &id[..8],
            "escalated",
            "--level",
            "town",
            "--note",
            "需镇综治中心协调",
            "--at",
            "2025-03-03 15:00",
        ],
    );
    ok(&b, &["sync"]);
    let act = |body: Value| {
        let response = ureq::post(&format!("{}/v1/records/{id}/actions", server.url))
            .header("Authorization", &format!("Bearer {town_token}"))
            .send_json(body.clone())
            .expect("the action is taken");
        assert_eq!(response.status().as_u16(), 200, "{body}");
    };
    act(json!({"action": "accept", "note": "予以受理"}));
    act(json!({"action": "assign", "person": "li-mei"}));
    // A month ahead, in China Standard Time.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let (y, m, d) = fengqiao_shared::stats::calendar::civil_from_days(
        (now + 8 * 3_600_000).div_euclid(86_400_000) + 30,
    );
    let due = format!("{y:04}-{m:02}-{d:02}");
    act(json!({"action": "supervise", "note": "请限期化解", "due": due}));

    let out = ok_zh(&a, &["sync"]);
    for wanted in [
        "他人修改了本机办理的案件",
        "状态现为 已上报（镇级），由 李梅 修改",
        "承办人现为 李梅，由 古南街道综治中心 修改",
        &format!("督办期限 {due}，由 古南街道综治中心 修改"),
    ] {
        assert!(out.contains(wanted), "{wanted:?} in:\n{out}");
    }
    chinese(&out, "sync with changes");

    let show = ok_zh(&a, &["dispute", "show", &id]);
    for wanted in [
        "编号        ",
        "村          500110101001 石门村",
        "状态        已上报（镇级）",
        "阶段        调处中",
        &format!("督办期限    {due} 23:59（请限期化解）"),
        "类别        土地/宅基地/山林",
        "风险        中",
        "上报        2025-03-01 09:00，张三",
        "当事人      1. 王五  申请人  13800000000",
        "2. 赵六  被申请人",
        "承办人      李梅",
        "案情",
        "办理经过（5）",
        "上报（镇级）  李梅  备注：需镇综治中心协调",
        "受理  古南街道综治中心  备注：予以受理",
        "分派  古南街道综治中心  承办人：李梅",
        &format!("督办  古南街道综治中心  备注：请限期化解  期限：{due} 23:59"),
        "同步        已在服务器上",
    ] {
        assert!(show.contains(wanted), "{wanted:?} in:\n{show}");
    }
    assert!(
        !show.contains("li-mei") && !show.contains("town-office") && !show.contains("zhang-san"),
        "no person ids: {show}"
    );
    chinese(&show, "dispute show");

    let show = ok(&a, &["dispute", "show", &id]);
    for wanted in [
        "status      escalated (town)",
        "stage       handling",
        &format!("supervised  due {due} 23:59 (请限期化解)"),
        "category    land",
        "reported    2025-03-01 09:00 by 张三",
        "parties     1. 王五  applicant  13800000000",
        "assignees   李梅",
        "timeline (5)",
        "escalated (town)  by 李梅  note: 需镇综治中心协调",
        "assigned  by 古南街道综治中心  handler: 李梅",
        &format!("supervised  by 古南街道综治中心  note: 请限期化解  due: {due} 23:59"),
        "sync        on the server",
    ] {
        assert!(show.contains(wanted), "{wanted:?} in:\n{show}");
    }
    let (_, english, _) = field_in(None, &a, &["--lang", "en", "sync"]);
    assert!(english.contains("received      0"), "{english}");

    // A visit, in both languages.
    let show = ok_zh(&a, &["visit", "show", &visit]);
    for wanted in [
        "走访 王家",
        "村民小组    3组",
        "走访时间    2025-03-02 00:00，张三",
        "民情        关注",
        "话题        民生",
        "回访        需在 2025-04-01 前回访",
        "走访记录",
        "老人看病难",
    ] {
        assert!(show.contains(wanted), "{wanted:?} in:\n{show}");
    }
    chinese(&show, "visit show");
    let show = ok(&a, &["visit", "show", &visit]);
    for wanted in [
        "visit to 王家",
        "visited     2025-03-02 00:00 by 张三",
        "topics      livelihood",
        "follow-up   owed, due 2025-04-01",
    ] {
        assert!(show.contains(wanted), "{wanted:?} in:\n{show}");
    }
}
