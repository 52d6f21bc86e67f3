//! The dashboard in a real headless Chromium, driven with playwright-core
//! (`fengqiao_tests::browser::Page`): an
//! official signs in with a token, the headline numbers equal the API's, a
//! record synced by a phone appears without a reload, a possible duplicate
//! is linked from the page, a revoked or reassigned official is signed out
//! and told why, and screenshots are kept as test artifacts
//! (`target/test-artifacts/dashboard*.png`).
//!
//! Needs node, `/usr/bin/chromium` (Debian's `chromium`) and `npm ci` in
//! tests/js. Without them the test says so loudly and passes, unless
//! `FENGQIAO_REQUIRE_ALL=1`, when it fails.

mod township;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fengqiao_protocol::VillageCode;
use fengqiao_shared::record::{NewDispute, Party, create_dispute};
use fengqiao_shared::vocab::{Category, PartyRole, Risk};
use fengqiao_tests::browser::{self, Page};
use fengqiao_tests::{Phone, T0, TestServer, sample_dispute as sample_dispute_in};
use serde_json::{Value, json};
use township::{Auth, Officials, VILLAGE_A, get, populate};

fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifact directory");
    dir
}

/// The raw value and the text of a headline figure.
fn headline(browser: &Page, figure: &str) -> (String, String) {
    let value = browser.run(&format!(
        "var v = document.querySelector('[data-figure=\"{figure}\"] .value');\
         return [v.getAttribute('data-value'), v.textContent];"
    ));
    (
        value[0].as_str().unwrap_or("").to_owned(),
        value[1].as_str().unwrap_or("").to_owned(),
    )
}

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn an_official_watches_the_township_live_in_a_browser() {
    if !browser::ready("the dashboard browser test") {
        return;
    }
    let server = TestServer::start();
    populate(&server, 25);
    let officials = Officials::enroll(&server);
    let browser = Page::start(1400, 2400, "zh-CN");

    // Sign in with the town official's token.
    browser.go(&format!("{}/", server.url()));
    browser.wait_for(
        "the sign-in form",
        "var v = document.getElementById('login-view'); return v && !v.hidden;",
        WAIT,
    );
    browser.type_into("#token", &officials.town_1);
    browser.click("#login-submit");
    browser.wait_for(
        "the headline figures",
        "var s = window.FQDashboard && window.FQDashboard.state;\
         return s && s.data && s.loads > 0 && document.querySelector('[data-figure=\"received\"] .value').getAttribute('data-value');",
        WAIT,
    );
    let cookies = browser.run("return document.cookie");
    assert_eq!(
        cookies, "",
        "the session cookie is HttpOnly: scripts cannot read it"
    );

    // The headline numbers are the API's, for the same "as of" minute.
    let as_of = browser.run("return window.FQDashboard.state.data.stats.disputes.asOf");
    let (status, api) = get(
        &server,
        &format!("/v1/stats/summary?asOf={as_of}"),
        Auth::Bearer(&officials.town_1),
    );
    assert_eq!(status, 200);
    let disputes = &api["disputes"];
    let visits = &api["visits"];
    let expected = [
        ("received", &disputes["totals"]["received"]),
        ("resolved", &disputes["totals"]["resolved"]),
        ("still-open", &disputes["totals"]["stillOpen"]),
        ("failed", &disputes["totals"]["failedInTownship"]),
        ("beyond", &disputes["totals"]["escalatedBeyondTownship"]),
        ("overdue", &disputes["overdue"]["count"]),
        ("high-risk", &disputes["openHighRisk"]["count"]),
        ("visits", &visits["total"]),
        ("follow-ups", &visits["followUps"]["pending"]["count"]),
    ];
    for (figure, value) in expected {
        let (raw, text) = headline(&browser, figure);
        assert_eq!(raw, value.to_string(), "{figure}");
        assert_eq!(text, value.to_string(), "{figure} as shown");
    }
    for (figure, field) in [
        ("grassroots", "grassrootsRate"),
        ("resolution-rate", "resolutionRate"),
        ("village-rate", "villageRate"),
    ] {
        let rate = disputes["totals"][field].as_f64().expect("a rate");
        let (raw, text) = headline(&browser, figure);
        assert_eq!(raw.parse::<f64>().unwrap(), rate, "{figure}");
        assert_eq!(text, format!("{:.1}%", rate * 100.0), "{figure} as shown");
    }
    // Each figure says how it is computed, in the page's language.
    let how = browser
        .run("return document.querySelector('[data-figure=\"grassroots\"] .how-text').textContent");
    assert_eq!(how, api["definitions"]["grassrootsRate"]["zh"]);
    // One table row per village with figures, named as in the organisation.
    let (_, villages) = get(
        &server,
        "/v1/stats/by-village",
        Auth::Bearer(&officials.town_1),
    );
    let rows = browser
        .run("return document.querySelectorAll('#village-table tbody tr[data-village]').length");
    assert_eq!(rows, json!(villages["rows"].as_array().unwrap().len()));
    let first = browser.run(
        "return document.querySelector('#village-table tbody tr[data-village=\"500110101001\"] a').textContent",
    );
    assert_eq!(first, "第101镇1村");
    // Ranked by 基层化解率, highest first.
    let ranked = browser.run(
        "return Array.prototype.map.call(document.querySelectorAll('#village-table tbody tr[data-village]'),\
         function (tr) { return tr.querySelector('td.grassroots').textContent; });",
    );
    let shown: Vec<f64> = ranked
        .as_array()
        .expect("rates")
        .iter()
        .filter_map(|rate| rate.as_str()?.trim_end_matches('%').parse().ok())
        .collect();
    assert!(shown.windows(2).all(|w| w[0] >= w[1]), "{shown:?}");
    // Charts are drawn (by the embedded chart library, on a canvas), each
    // with the data of its figures.
    for chart in [
        "chart-status",
        "chart-month",
        "chart-category",
        "chart-sentiment",
    ] {
        let drawn = browser.run(&format!(
            "var host = document.getElementById('{chart}');\
             var chart = window.echarts.getInstanceByDom(host);\
             if (!chart || !host.querySelector('canvas')) return 0;\
             return chart.getOption().series.reduce(function (n, s) {{\
               return n + s.data.filter(function (d) {{ return (d && d.value !== undefined ? d.value : d) > 0; }}).length;\
             }}, 0);"
        ));
        assert!(drawn.as_u64().unwrap() > 0, "{chart} is drawn: {drawn}");
    }
    std::fs::write(artifacts().join("dashboard.png"), browser.screenshot())
        .expect("screenshot saved");

    // A cadre reports a high-risk case on a phone; the page shows it
    // without reloading.
    browser.run("window.stillTheSamePage = true; return true;");
    let (open_before, _) = headline(&browser, "received");
    let title = "夜间施工噪音扰民（实时）";
    let mut phone = Phone::new("cadre-live");
    let dispute = NewDispute {
        village: VillageCode::new(VILLAGE_A).unwrap(),
        title: title.to_owned(),
        description: "多户村民反映夜间施工噪音。".to_owned(),
        category: Category::Environment,
        risk: Risk::High,
        parties: vec![Party::new("施工队", PartyRole::Respondent)],
        assignees: vec![],
    };
    let author = phone.author(T0);
    phone
        .replica
        .create(|doc| create_dispute(doc, &author, &dispute))
        .unwrap();
    let started = Instant::now();
    phone.sync(&server.url());
    browser.wait_for(
        "the new case in the latest activity",
        &format!(
            "return Array.prototype.some.call(document.querySelectorAll('#list-recent a'),\
             function (a) {{ return a.textContent === '{title}'; }});"
        ),
        WAIT,
    );
    eprintln!(
        "the new case appeared {} ms after the sync began",
        started.elapsed().as_millis()
    );
    assert_eq!(
        browser.run("return window.stillTheSamePage === true"),
        json!(true),
        "no reload"
    );
    let (open_after, _) = headline(&browser, "received");
    assert_eq!(
        open_after.parse::<u64>().unwrap(),
        open_before.parse::<u64>().unwrap() + 1
    );
    let listed = browser.run(&format!(
        "return Array.prototype.some.call(document.querySelectorAll('#list-high-risk a'),\
         function (a) {{ return a.textContent === '{title}'; }});"
    ));
    assert_eq!(
        listed,
        json!(true),
        "the case is among the open high-risk cases"
    );

    // Link a possible duplicate from the page; it then counts once.
    let linked_before =
        browser.run("return window.FQDashboard.state.data.stats.disputes.linkedDuplicates");
    browser.wait_for(
        "a possible duplicate with a link button",
        "return document.querySelectorAll('#list-duplicates button.link-duplicate').length > 0",
        WAIT,
    );
    // Each pair says why it is suggested: village, category, names, days.
    let why = browser.run(
        "var row = document.querySelector('#list-duplicates tr[data-pair]');\
         var pair = window.FQDashboard.state.data.duplicates.pairs.filter(function (p) {\
           return p.first + '/' + p.second === row.getAttribute('data-pair'); })[0];\
         return {text: row.querySelector('td.why').textContent,\
                 category: window.FQDashboard.state.me.labels.category[pair.category],\
                 names: pair.sharedNames, days: pair.daysApart.toFixed(1)};",
    );
    let text = why["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("同村")
            && text.contains(&format!("「{}」", why["category"].as_str().unwrap_or("?")))
            && text.contains(why["names"][0].as_str().unwrap_or("?"))
            && text.contains(&format!("相隔 {} 天", why["days"].as_str().unwrap_or("?"))),
        "{why}"
    );
    browser.run("window.confirm = function () { return true; }; return true;");
    browser.click("#list-duplicates button.link-duplicate");
    browser.wait_for(
        "the linked duplicate to be counted",
        &format!("return window.FQDashboard.state.data.stats.disputes.linkedDuplicates === {linked_before} + 1"),
        WAIT,
    );

    // English on request.
    browser.click("#lang");
    let label = browser
        .run("return document.querySelector('[data-figure=\"received\"] .label').textContent");
    assert_eq!(label, "Disputes received");
    let how = browser
        .run("return document.querySelector('[data-figure=\"grassroots\"] .how-text').textContent");
    assert!(
        how.as_str()
            .is_some_and(|text| text.starts_with("Grassroots resolution rate =")),
        "{how}"
    );
    browser.click("#lang");

    // The case page: timeline and audit trail of the new case.
    let id = browser.run(&format!(
        "var a = Array.prototype.filter.call(document.querySelectorAll('#list-recent a'),\
         function (a) {{ return a.textContent === '{title}'; }})[0];\
         return a.getAttribute('href').slice('#/case/'.length);"
    ));
    browser.go(&format!(
        "{}/dashboard#/case/{}",
        server.url(),
        id.as_str().unwrap()
    ));
    browser.wait_for(
        "the case page",
        "var t = document.getElementById('case-title');\
         return t && t.textContent.length > 0 && document.querySelectorAll('#case-history tbody tr').length > 0;",
        WAIT,
    );
    assert_eq!(
        browser.run("return document.getElementById('case-title').textContent"),
        json!(title)
    );
    let events = browser.run("return document.querySelectorAll('#case-timeline tbody tr').length");
    assert_eq!(events, json!(1), "the report opens the timeline");
    std::fs::write(artifacts().join("dashboard-case.png"), browser.screenshot())
        .expect("screenshot saved");

    // Signing out returns to the sign-in form.
    browser.go(&format!("{}/dashboard", server.url()));
    browser.wait_for(
        "the overview",
        "return !document.getElementById('overview-view').hidden",
        WAIT,
    );
    browser.click("#logout");
    browser.wait_for(
        "the sign-in form after signing out",
        "return !document.getElementById('login-view').hidden",
        WAIT,
    );
    let _: Value = browser.run("return true");
    drop(browser);
    server.stop();
}

/// Signs in on the page with `token` and waits for the live feed.
fn sign_in_on_the_page(browser: &Page, server: &TestServer, token: &str) {
    browser.go(&format!("{}/dashboard", server.url()));
    browser.wait_for(
        "the sign-in form",
        "var v = document.getElementById('login-view'); return v && !v.hidden;",
        WAIT,
    );
    browser.type_into("#token", token);
    browser.click("#login-submit");
    browser.wait_for(
        "the overview with the live feed on",
        "return !document.getElementById('overview-view').hidden &&\
         document.getElementById('live').className === 'live on';",
        WAIT,
    );
}

#[test]
fn a_revoked_or_reassigned_official_is_signed_out_and_told_why() {
    if !browser::ready("the dashboard browser test") {
        return;
    }
    let server = TestServer::start();
    let (revoked, revoked_token) = server.enroll(
        "revoked-official",
        fengqiao_shared::access::Role::Town,
        "500110101",
    );
    let (moved, moved_token) = server.enroll(
        "moved-official",
        fengqiao_shared::access::Role::Town,
        "500110101",
    );
    let browser = Page::start(1400, 2400, "zh-CN");
    let signed_out = "var v = document.getElementById('login-view');\
                      var e = document.getElementById('login-error');\
                      return v && !v.hidden && !e.hidden &&\
                      document.getElementById('overview-view').hidden ? e.textContent : null;";

    // Revoked while the page is open: it leaves the figures and says why.
    sign_in_on_the_page(&browser, &server, &revoked_token);
    server.directory().revoke(&revoked).expect("revoked");
    let message = browser.wait_for("the page to sign out", signed_out, WAIT);
    assert_eq!(
        message,
        json!("本设备已被管理员停用，已退出登录。如需继续使用，请向管理员申请新令牌。")
    );
    assert_eq!(
        browser.run("return window.FQDashboard.state.data"),
        Value::Null
    );

    // Reassigned, in English.
    browser.run("window.localStorage.setItem('fq.lang', 'en'); return true;");
    sign_in_on_the_page(&browser, &server, &moved_token);
    server
        .directory()
        .set_access(
            &moved,
            fengqiao_shared::access::DeviceAccess::new(
                fengqiao_shared::access::Role::Cadre,
                fengqiao_protocol::Scope::parse(VILLAGE_A).expect("scope"),
            ),
        )
        .expect("reassigned");
    let message = browser.wait_for("the page to sign out", signed_out, WAIT);
    assert_eq!(
        message,
        json!(
            "An admin changed this device's role or scope, so you were signed out. Sign in again to see the new scope."
        )
    );
    std::fs::write(
        artifacts().join("dashboard-signed-out.png"),
        browser.screenshot(),
    )
    .expect("screenshot saved");
    drop(browser);
    server.stop();
}

/// A town official works an escalated case in the page: accepts it,
/// assigns a handler and sets a 督办 deadline; the cadre's phone sees all
/// three after a sync; a supervisor sees the case read-only, with the
/// audit trail in Chinese and people by name.
#[test]
fn a_town_official_accepts_assigns_and_supervises_in_the_page() {
    if !browser::ready("the dashboard browser test") {
        return;
    }
    use fengqiao_shared::access::Role;
    use fengqiao_shared::record::{Author, NewEvent, add_event};
    use fengqiao_shared::vocab::{EventKind, Level, Stage};

    let server = TestServer::start();
    let directory = server.directory();
    for (id, name) in [
        ("cadre-li", "李梅"),
        ("town-wang", "王建国"),
        ("jian-zhao", "赵监督"),
    ] {
        directory.add_person(id, name, None).expect("person");
    }
    let (cadre_device, cadre_token) = server.enroll("cadre-li", Role::Cadre, VILLAGE_A);
    let (_, town_token) = server.enroll("town-wang", Role::Town, "500110101");
    let (_, supervisor_token) = server.enroll("jian-zhao", Role::Supervisor, "500110101");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let mut phone = Phone::enrolled("cadre-li", cadre_device, &cadre_token);
    let id = phone.report(VILLAGE_A, "山林权属纠纷", now - 86_400_000);
    phone
        .replica
        .edit(&id, |doc| {
            add_event(
                doc,
                &Author::new("cadre-li", now - 80_000_000),
                &NewEvent::escalated(Level::Town).with_note("村级调解未果"),
            )
        })
        .expect("escalated");
    phone.sync(&server.url());

    let browser = Page::start(1400, 2400, "zh-CN");
    sign_in_on_the_page(&browser, &server, &town_token);
    browser.wait_for(
        "the case in the list awaiting acceptance",
        &format!(
            "var row = document.querySelector('#list-pending tr[data-id=\"{id}\"]');\
             return row ? row.textContent : null;"
        ),
        WAIT,
    );
    browser.click(&format!("#list-pending tr[data-id=\"{id}\"] a"));
    let stage_is = |text: &str| {
        format!(
            "var v = document.getElementById('case-view');\
             if (!v || v.hidden) return null;\
             var dts = document.querySelectorAll('#case-facts dt');\
             for (var i = 0; i < dts.length; i++) {{\
               if (dts[i].textContent === '办理状态') return dts[i].nextSibling.textContent.indexOf('{text}') === 0;\
             }}\
             return null;"
        )
    };
    browser.wait_for(
        "the case page, awaiting acceptance",
        &stage_is("待受理"),
        WAIT,
    );
    assert_eq!(
        browser.run("return document.getElementById('act-accept-box').hidden"),
        json!(false)
    );

    // 受理.
    browser.type_into("#act-accept-note", "同意受理，由镇综治中心调处");
    browser.click("#act-accept");
    browser.wait_for("the case accepted", &stage_is("已受理/待分派"), WAIT);
    // 分派 to 李梅, chosen by name.
    browser.wait_for(
        "the handlers to choose from",
        "var o = document.querySelectorAll('#act-person option');\
         for (var i = 0; i < o.length; i++) { if (o[i].textContent.indexOf('李梅') === 0) return o[i].value; }\
         return null;",
        WAIT,
    );
    browser.run(
        "var s = document.getElementById('act-person');\
         for (var i = 0; i < s.options.length; i++) {\
           if (s.options[i].textContent.indexOf('李梅') === 0) s.selectedIndex = i;\
         }\
         return s.value;",
    );
    browser.click("#act-assign");
    browser.wait_for("the case in mediation", &stage_is("调处中"), WAIT);
    // 督办 with a deadline a week ahead.
    let due_day = {
        let days = (now + 8 * 3_600_000) / 86_400_000 + 7;
        let (y, m, d) = fengqiao_shared::stats::calendar::civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02}")
    };
    browser.type_into("#act-supervise-note", "请一周内办结并报告");
    browser.run(&format!(
        "document.getElementById('act-due').value = '{due_day}'; return true;"
    ));
    browser.click("#act-supervise");
    browser.wait_for(
        "the supervision in the timeline",
        "var row = document.querySelector('#case-timeline tr[data-kind=\"supervised\"]');\
         return row ? row.textContent : null;",
        WAIT,
    );
    let page = browser.run("return document.getElementById('case-view').innerText");
    let page = page.as_str().unwrap_or("");
    assert!(page.contains("承办人：李梅"), "{page}");
    assert!(page.contains(&format!("期限：{due_day}")), "{page}");
    assert!(page.contains("王建国（镇街）"), "{page}");
    assert!(page.contains("督办时限"), "{page}");
    assert!(
        !page.contains("town-wang") && !page.contains("cadre-li"),
        "no ids: {page}"
    );
    std::fs::write(
        artifacts().join("dashboard-case-actions.png"),
        browser.screenshot(),
    )
    .expect("screenshot saved");
    // In English the audit trail reads in English, people still by name.
    browser.click("#lang");
    let english = browser.wait_for(
        "the audit trail in English",
        "var h = document.getElementById('case-history').innerText;\
         return h.indexOf('Assigned to 李梅') >= 0 ? h : null;",
        WAIT,
    );
    let english = english.as_str().unwrap_or("");
    assert!(english.contains("Town official"), "{english}");
    assert!(!english.contains("记录事件"), "{english}");
    browser.click("#lang");

    // The phone sees the three actions after its next sync.
    phone.sync(&server.url());
    let record = phone.replica.record(&id).expect("record");
    let dispute = record.as_dispute().expect("a dispute");
    assert_eq!(dispute.stage(), Stage::Handling);
    assert!(dispute.assignees.contains("cadre-li"));
    let kinds: Vec<EventKind> = dispute.timeline().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Reported,
            EventKind::Escalated,
            EventKind::Accepted,
            EventKind::Assigned,
            EventKind::Supervised
        ]
    );
    assert!(dispute.case_status().supervision_due.is_some());

    // The supervisor reads it all, and may not act.
    browser.run(
        "return fetch('/dashboard/logout', {method: 'POST'}).then(function () { return true; });",
    );
    sign_in_on_the_page(&browser, &server, &supervisor_token);
    browser.go(&format!("{}/dashboard#/case/{id}", server.url()));
    browser.wait_for(
        "the case page for the supervisor",
        &stage_is("调处中"),
        WAIT,
    );
    let history = browser.wait_for(
        "the audit trail",
        "var rows = document.querySelectorAll('#case-history tbody tr');\
         return rows.length >= 5 ? document.getElementById('case-history').innerText : null;",
        WAIT,
    );
    let history = history.as_str().unwrap_or("");
    assert!(history.contains("记录事件：受理"), "{history}");
    assert!(history.contains("分派承办人：李梅"), "{history}");
    assert!(history.contains("记录事件：督办"), "{history}");
    assert!(history.contains("王建国"), "{history}");
    assert_eq!(
        browser.run("return document.getElementById('case-actions').hidden"),
        json!(true)
    );
    drop(browser);
    server.stop();
}

/// The headline figures of [`fengqiao_tests::hand_counted_town`], counted
/// by hand: not read back from the API the dashboard itself uses.
#[test]
fn the_headline_figures_of_a_hand_counted_town() {
    if !browser::ready("the dashboard browser test") {
        return;
    }
    let server = TestServer::start();
    fengqiao_tests::hand_counted_town(&server);
    let (_, token) = server.enroll(
        "official-hand",
        fengqiao_shared::access::Role::Town,
        "500110101",
    );
    let browser = Page::start(1400, 2400, "zh-CN");
    browser.go(&format!("{}/", server.url()));
    browser.wait_for(
        "the sign-in form",
        "var v = document.getElementById('login-view'); return v && !v.hidden;",
        WAIT,
    );
    browser.type_into("#token", &token);
    browser.click("#login-submit");
    browser.wait_for(
        "the headline figures",
        "var s = window.FQDashboard && window.FQDashboard.state;\
         return s && s.data && s.loads > 0 && document.querySelector('[data-figure=\"received\"] .value').getAttribute('data-value');",
        WAIT,
    );
    // Six received; four not resolved (open, mediating, escalated to the
    // district, failed), all older than 30 days; two of high risk among
    // them; of the two resolved one stayed in the village and one was
    // settled at the town. So 2 of 6 at the grassroots, and the gap is
    // two still open, one failed, one beyond the township.
    for (figure, value) in [
        ("received", "6"),
        ("resolved", "2"),
        ("still-open", "2"),
        ("failed", "1"),
        ("beyond", "1"),
        ("overdue", "4"),
        ("high-risk", "2"),
        ("visits", "0"),
        ("follow-ups", "0"),
    ] {
        assert_eq!(
            headline(&browser, figure),
            (value.to_owned(), value.to_owned()),
            "{figure}"
        );
    }
    assert_eq!(
        headline(&browser, "grassroots"),
        ((2.0f64 / 6.0).to_string(), "33.3%".to_owned())
    );
    assert_eq!(
        headline(&browser, "village-rate"),
        ((1.0f64 / 6.0).to_string(), "16.7%".to_owned())
    );
    assert_eq!(
        headline(&browser, "resolution-rate"),
        ((2.0f64 / 6.0).to_string(), "33.3%".to_owned())
    );
    let rows = browser
        .run("return document.querySelectorAll('#village-table tbody tr[data-village]').length");
    assert_eq!(rows, json!(2), "two villages with disputes");
}

/// The headline lines `fengqiao stats` prints, by their English label:
/// "  disputes received 受理纠纷    6" → ("disputes received", "6").
fn cli_figures(output: &str) -> std::collections::BTreeMap<String, String> {
    output
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let (label, rest) =
                line.split_once(|c: char| !c.is_ascii_alphabetic() && c != ' ' && c != '-')?;
            let value = rest
                .split_whitespace()
                .find(|w| w.ends_with('%') || w.parse::<f64>().is_ok() || *w == "—")?;
            Some((label.trim().to_owned(), value.to_owned()))
        })
        .collect()
}

/// A district official reads the same figures on the dashboard, from the
/// API and from `fengqiao stats` for the same scope and period; the
/// district view ranks its towns and names people; the monthly report of
/// the same month shows the API's figures and is laid out for printing.
#[test]
fn the_district_view_and_the_monthly_report_agree_with_the_api_and_the_cli() {
    if !browser::ready("the dashboard browser test") {
        return;
    }
    let server = TestServer::start();
    fengqiao_tests::hand_counted_town(&server);
    server
        .directory()
        .add_person("cadre-hand", "钟国平", None)
        .expect("a person");
    let (_, token) = server.enroll(
        "official-district",
        fengqiao_shared::access::Role::District,
        "500110",
    );
    let browser = Page::start(1400, 2400, "zh-CN");
    sign_in_on_the_page(&browser, &server, &token);
    browser.wait_for(
        "the district's figures",
        "var s = window.FQDashboard && window.FQDashboard.state;\
         return s && s.data && s.loads > 0;",
        WAIT,
    );
    // April 2025: the neighbour case (to the district), the debt case
    // (settled at the town) and the failed land case.
    browser.run(
        "document.getElementById('from').value = '2025-04-01';\
         document.getElementById('to').value = '2025-04-30';\
         window.FQDashboard.state.loads = 0; return true;",
    );
    browser.click("#filters button[type=submit]");
    browser.wait_for(
        "April's figures",
        "var s = window.FQDashboard.state; return s.loads > 0 && s.data.stats.disputes.period.from !== null;",
        WAIT,
    );
    let as_of = browser.run("return window.FQDashboard.state.data.stats.disputes.asOf");
    let (status, api) = get(
        &server,
        &format!("/v1/stats/summary?scope=500110&from=2025-04-01&to=2025-04-30&asOf={as_of}"),
        Auth::Bearer(&token),
    );
    assert_eq!(status, 200, "{api}");
    let totals = &api["disputes"]["totals"];
    assert_eq!(totals["received"], 3);

    let cli = std::process::Command::new(fengqiao_tests::process::binary())
        .args([
            "stats",
            "--server",
            &server.url(),
            "--token",
            &token,
            "--scope",
            "500110",
            "--from",
            "2025-04-01",
            "--to",
            "2025-04-30",
        ])
        .output()
        .expect("fengqiao stats runs");
    let printed = String::from_utf8_lossy(&cli.stdout).into_owned();
    assert!(cli.status.success(), "{printed}");
    assert!(printed.contains("district summary 区县汇总"), "{printed}");
    assert!(!printed.contains("township summary"), "{printed}");
    let printed = cli_figures(&printed);
    let percent = |rate: &Value| format!("{:.1}%", rate.as_f64().expect("a rate") * 100.0);
    for (figure, field, label) in [
        ("received", "received", "disputes received"),
        ("resolved", "resolved", "resolved"),
        ("still-open", "stillOpen", "still open"),
        ("failed", "failedInTownship", "failed in the township"),
        (
            "beyond",
            "escalatedBeyondTownship",
            "escalated beyond the township",
        ),
    ] {
        let shown = headline(&browser, figure);
        assert_eq!(shown.0, totals[field].to_string(), "{figure}: page and API");
        assert_eq!(
            printed.get(label),
            Some(&shown.1),
            "{label}: fengqiao stats and the page"
        );
    }
    for (figure, field, label) in [
        ("grassroots", "grassrootsRate", "grassroots rate"),
        ("resolution-rate", "resolutionRate", "resolution rate"),
        ("village-rate", "villageRate", "village rate"),
    ] {
        let shown = headline(&browser, figure);
        assert_eq!(
            shown.0.parse::<f64>().ok(),
            totals[field].as_f64(),
            "{figure}: page and API"
        );
        assert_eq!(shown.1, percent(&totals[field]), "{figure} as shown");
        assert_eq!(
            printed.get(label),
            Some(&shown.1),
            "{label}: fengqiao stats"
        );
    }
    // 环比: March had three disputes received, April three: ±0.0%.
    let change = browser.run(
        "return document.querySelector('[data-figure=\"received\"] .change').getAttribute('data-mom')",
    );
    assert_eq!(change, json!("0"));

    // The towns, ranked, beside the villages.
    assert_eq!(
        browser.run("return document.getElementById('town-card').hidden"),
        json!(false)
    );
    let town = browser.run(
        "var r = document.querySelector('#town-table tbody tr[data-town]');\
         return [r.getAttribute('data-town'), r.cells[0].textContent, r.cells[1].textContent, r.cells[5].textContent];",
    );
    assert_eq!(
        town,
        json!([
            "500110101",
            "1",
            "第101镇",
            percent(&totals["grassrootsRate"])
        ])
    );
    // People by name, never by id.
    let people = browser.run(
        "return Array.prototype.map.call(document.querySelectorAll('#workload-table tbody td:first-child'),\
         function (td) { return td.textContent; });",
    );
    assert_eq!(people, json!(["钟国平 · 第101镇1村、第101镇2村"]));
    let page_text = browser.run("return document.body.innerText");
    assert!(
        !page_text.as_str().unwrap_or("").contains("cadre-hand"),
        "no person id on the page"
    );

    // The monthly report of April.
    browser.run("window.location.hash = '#/report/2025-04'; return true;");
    browser.wait_for(
        "the monthly report",
        "var s = window.FQDashboard.state; return s.report && s.report.month === '2025-04' &&\
         document.querySelector('#report tr[data-figure=\"received\"]') !== null;",
        WAIT,
    );
    let (status, report) = get(
        &server,
        &format!("/v1/report/monthly?scope=500110&month=2025-04&asOf={as_of}"),
        Auth::Bearer(&token),
    );
    assert_eq!(status, 200, "{report}");
    for field in [
        "received",
        "resolved",
        "grassrootsResolved",
        "stillOpen",
        "failedInTownship",
        "escalatedBeyondTownship",
        "grassrootsRate",
        "resolutionRate",
        "villageRate",
    ] {
        assert_eq!(
            report["totals"][field], totals[field],
            "{field}: report and API"
        );
        let shown = browser.run(&format!(
            "return document.querySelector('#report tr[data-figure=\"{field}\"] .value').getAttribute('data-value')"
        ));
        assert_eq!(
            shown.as_str().and_then(|v| v.parse::<f64>().ok()),
            totals[field].as_f64(),
            "{field}: the page's report"
        );
    }
    assert_eq!(report["rowKind"], "town");
    let overdue_rows =
        browser.run("return document.querySelectorAll('#report-overdue tbody tr[data-id]').length");
    assert_eq!(overdue_rows, report["overdue"]["count"]);
    assert_eq!(
        browser.run("return document.getElementById('report-xlsx').getAttribute('href')"),
        json!("/v1/report/monthly.xlsx?scope=500110&month=2025-04")
    );
    // Laid out for A4: the page's stylesheet sets it, and hides the bar.
    let print = browser.run(
        "return Array.prototype.some.call(document.styleSheets, function (sheet) {\
           return Array.prototype.some.call(sheet.cssRules, function (rule) {\
             return rule.cssText.toLowerCase().indexOf('size: a4') >= 0; }); });",
    );
    assert_eq!(print, json!(true));
    std::fs::write(
        artifacts().join("dashboard-monthly-report.png"),
        browser.screenshot(),
    )
    .expect("screenshot saved");
    drop(browser);
    server.stop();
}

/// A dispute made high-risk, or an urgent visit, in the official's scope
/// appears at once as a banner linking to the case; another town's does
/// not; banners are dismissed one by one or all at once.
#[test]
fn an_alert_appears_as_a_banner_at_once() {
    if !browser::ready("the dashboard browser test") {
        return;
    }
    let server = TestServer::start();
    let (_, token) = server.enroll(
        "alerted-official",
        fengqiao_shared::access::Role::Town,
        "500110101",
    );
    let browser = Page::start(1400, 2400, "zh-CN");
    sign_in_on_the_page(&browser, &server, &token);
    let banners = "return Array.from(document.querySelectorAll('#alerts .alert-banner'))\
                   .map(function (b) { return b.textContent; });";
    assert_eq!(browser.run(banners), json!([]));

    let mut phone = Phone::new("cadre-a");
    let author = phone.author(T0);
    let report = |village: &str, title: &str| {
        let mut dispute = sample_dispute_in(village, title);
        dispute.risk = Risk::High;
        phone
            .replica
            .create(|doc| create_dispute(doc, &author, &dispute))
            .expect("dispute created")
    };
    report("500110102001", "外镇的高风险纠纷");
    let ours = report(VILLAGE_A, "山林权属争议");
    let visit = fengqiao_shared::record::NewVisit {
        village: VillageCode::new(VILLAGE_A).expect("village"),
        visited_at: T0,
        household: "赵家".to_owned(),
        group: None,
        topics: Default::default(),
        sentiment: fengqiao_shared::vocab::Sentiment::Urgent,
        notes: String::new(),
        follow_up_needed: false,
        follow_up_due: None,
        linked_dispute: None,
    };
    phone
        .replica
        .create(|doc| fengqiao_shared::record::create_visit(doc, &author, &visit))
        .expect("visit created");
    phone.sync(&server.url());

    let shown = browser.wait_for(
        "two alert banners",
        &format!("var b = (function () {{ {banners} }})(); return b.length === 2 ? b : null;"),
        WAIT,
    );
    let shown: Vec<String> = serde_json::from_value(shown).expect("texts");
    assert!(
        shown.iter().any(|t| t.starts_with("新的高风险纠纷")
            && t.contains("山林权属争议")
            && t.contains("第101镇1村")
            && t.contains("高")),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|t| t.starts_with("紧急民情走访") && t.contains("赵家")),
        "{shown:?}"
    );
    assert!(
        !shown.iter().any(|t| t.contains("外镇")),
        "another town's alert: {shown:?}"
    );
    let href = browser.run(&format!(
        "return document.querySelector('#alerts .alert-banner[data-record=\"{ours}\"] a').getAttribute('href');"
    ));
    assert_eq!(href, json!(format!("#/case/{ours}")));
    std::fs::write(
        artifacts().join("dashboard-alerts.png"),
        browser.screenshot(),
    )
    .expect("screenshot saved");
    // The banner opens the case; it stays until dismissed.
    browser.click(&format!("#alerts .alert-banner[data-record=\"{ours}\"] a"));
    browser.wait_for(
        "the case page",
        &format!(
            "return !document.getElementById('case-view').hidden &&\
             window.location.hash === '#/case/{ours}';"
        ),
        WAIT,
    );
    assert_eq!(
        browser.run(&format!("return (function () {{ {banners} }})().length;")),
        json!(2)
    );

    // In English too; then dismissed one by one and all at once.
    browser.click("#lang");
    let english: Vec<String> = serde_json::from_value(browser.run(banners)).expect("texts");
    assert!(
        english
            .iter()
            .any(|t| t.starts_with("New high-risk dispute:")),
        "{english:?}"
    );
    assert!(
        english
            .iter()
            .any(|t| t.starts_with("Urgent household visit:")),
        "{english:?}"
    );
    browser.click("#alerts .alert-close");
    assert_eq!(
        browser.run(&format!("return (function () {{ {banners} }})().length;")),
        json!(1)
    );
    let mut more = Phone::new("cadre-a");
    let mut again = sample_dispute_in(VILLAGE_A, "又一件");
    again.risk = Risk::High;
    let author = more.author(T0);
    more.replica
        .create(|doc| create_dispute(doc, &author, &again))
        .expect("dispute created");
    more.sync(&server.url());
    browser.wait_for(
        "the new alert",
        &format!("var b = (function () {{ {banners} }})(); return b.length === 2 ? b : null;"),
        WAIT,
    );
    browser.click("#alerts .alert-more button");
    assert_eq!(browser.run(banners), json!([]));
    drop(browser);
    server.stop();
}

/// The rows of the list view on screen: the ids of their cases.
const LIST_ROWS: &str = "return Array.from(document.querySelectorAll('#list-table tbody tr[data-id]'))\
                         .map(function (r) { return r.getAttribute('data-id'); });";

#[test]
fn a_town_official_searches_filters_pages_and_comes_back_to_the_list() {
    if !browser::ready("the dashboard browser test") {
        return;
    }
    let server = TestServer::start();
    let (_, token) = server.enroll(
        "list-official",
        fengqiao_shared::access::Role::Town,
        "500110101",
    );
    let mut phone = Phone::new("cadre-lists");
    // 55 land disputes in one village and a few neighbours' disputes, one of
    // them with a party found by name.
    for n in 0..55 {
        let author = phone.author(T0 - n * 3_600_000);
        let dispute = sample_dispute_in(VILLAGE_A, &format!("宅基地边界纠纷 {n}"));
        phone
            .replica
            .create(|doc| create_dispute(doc, &author, &dispute))
            .expect("dispute created");
    }
    for (n, name) in ["欧阳明远", "Zhao Wei", "刘芳"].iter().enumerate() {
        let author = phone.author(T0 - 1000 - n as i64);
        let mut dispute = sample_dispute_in("500110101002", &format!("邻里噪音 {n}"));
        dispute.category = Category::Neighbor;
        dispute.parties = vec![
            Party::new(*name, PartyRole::Applicant),
            Party::new("王五", PartyRole::Respondent),
        ];
        phone
            .replica
            .create(|doc| create_dispute(doc, &author, &dispute))
            .expect("dispute created");
    }
    phone.sync(&server.url());

    let browser = Page::start(1400, 2400, "zh-CN");
    sign_in_on_the_page(&browser, &server, &token);
    browser.go(&format!("{}/dashboard#/list/open", server.url()));
    browser.wait_for(
        "the open list, page 1 of 2",
        "return document.getElementById('list-page').textContent === '第 1 / 2 页（共 58 件）';",
        WAIT,
    );
    assert_eq!(
        browser.run(LIST_ROWS).as_array().map(Vec::len),
        Some(50),
        "50 rows a page"
    );

    // A party's name, part of it, finds the case.
    browser.type_into("#list-q", "欧阳明");
    browser.click("#list-form button[type=submit]");
    let found = browser.wait_for(
        "the search result",
        "var rows = Array.from(document.querySelectorAll('#list-table tbody tr[data-id]'));\
         return rows.length === 1 ? rows[0].textContent : null;",
        WAIT,
    );
    assert!(
        found.as_str().unwrap_or("").contains("邻里噪音 0"),
        "{found}"
    );
    let hash = browser.run("return decodeURIComponent(window.location.hash);");
    assert_eq!(hash, json!("#/list/open?q=欧阳明"));
    // Latin names ignore case.
    browser.go(&format!(
        "{}/dashboard#/list/open?q=zhao%20WEI",
        server.url()
    ));
    browser.wait_for(
        "the case-insensitive search",
        "var rows = Array.from(document.querySelectorAll('#list-table tbody tr[data-id]'));\
         return rows.length === 1 && rows[0].textContent.indexOf('邻里噪音 1') >= 0;",
        WAIT,
    );

    // Filter: no search, the neighbours' category only.
    browser.run(
        "document.getElementById('list-q').value = '';\
         document.getElementById('list-category').value = 'neighbor';",
    );
    browser.click("#list-form button[type=submit]");
    browser.wait_for(
        "the category filter",
        "return document.getElementById('list-page').textContent === '第 1 / 1 页（共 3 件）';",
        WAIT,
    );

    // The land cases of one village by last activity: two pages.
    browser.run(&format!(
        "document.getElementById('list-category').value = 'land';\
                  document.getElementById('list-village').value = '{VILLAGE_A}';\
                  document.getElementById('list-sort').value = 'recent';"
    ));
    browser.click("#list-form button[type=submit]");
    browser.wait_for(
        "page 1 of the land cases",
        "return document.getElementById('list-page').textContent === '第 1 / 2 页（共 55 件）';",
        WAIT,
    );
    let first_page = browser.run(LIST_ROWS);
    browser.click("#list-next");
    browser.wait_for(
        "page 2 of the land cases",
        "return document.getElementById('list-page').textContent === '第 2 / 2 页（共 55 件）';",
        WAIT,
    );
    let rows = browser.run(LIST_ROWS);
    assert_eq!(rows.as_array().map(Vec::len), Some(5), "{rows}");
    assert_ne!(rows, first_page);
    // Latest activity first: page 2 holds the five oldest.
    let texts = browser.run(
        "return Array.from(document.querySelectorAll('#list-table tbody tr[data-id] a'))\
         .map(function (a) { return a.textContent; });",
    );
    assert_eq!(
        texts,
        json!([
            "宅基地边界纠纷 50",
            "宅基地边界纠纷 51",
            "宅基地边界纠纷 52",
            "宅基地边界纠纷 53",
            "宅基地边界纠纷 54"
        ])
    );
    let list_url = browser.run("return window.location.href;");
    let list_hash = browser.run("return window.location.hash;");
    assert_eq!(
        list_hash,
        json!(format!(
            "#/list/open?village={VILLAGE_A}&category=land&sort=recent&page=2"
        ))
    );

    // Open a case, then Back: the same list, the same rows.
    browser.click("#list-table tbody tr[data-id] a");
    browser.wait_for(
        "the case page",
        "return !document.getElementById('case-view').hidden &&\
         document.getElementById('list-view').hidden;",
        WAIT,
    );
    browser.back();
    browser.wait_for(
        "the list again",
        "return !document.getElementById('list-view').hidden &&\
         document.getElementById('list-page').textContent === '第 2 / 2 页（共 55 件）';",
        WAIT,
    );
    assert_eq!(browser.run("return window.location.href;"), list_url);
    assert_eq!(browser.run(LIST_ROWS), rows);
    assert_eq!(
        browser.run(
            "return [document.getElementById('list-category').value,\
                     document.getElementById('list-village').value,\
                     document.getElementById('list-sort').value];"
        ),
        json!(["land", VILLAGE_A, "recent"])
    );
    // Back once more: page 1 of the same list.
    browser.back();
    browser.wait_for(
        "page 1 again",
        "return document.getElementById('list-page').textContent === '第 1 / 2 页（共 55 件）';",
        WAIT,
    );
    assert_eq!(browser.run(LIST_ROWS), first_page);

    // A bookmark opens the view as it was, in a fresh page load.
    browser.go(list_url.as_str().unwrap_or_default());
    browser.run("window.location.reload();");
    browser.wait_for(
        "the bookmarked list",
        "return !document.getElementById('list-view').hidden &&\
         document.getElementById('list-page').textContent === '第 2 / 2 页（共 55 件）';",
        WAIT,
    );
    assert_eq!(browser.run(LIST_ROWS), rows);
    // In English too.
    browser.click("#lang");
    browser.wait_for(
        "the English pager",
        "return document.getElementById('list-page').textContent === 'Page 2 of 2 · cases: 55' &&\
         document.getElementById('list-prev').textContent === 'Previous';",
        WAIT,
    );
    std::fs::write(artifacts().join("dashboard-list.png"), browser.screenshot())
        .expect("screenshot");
}
