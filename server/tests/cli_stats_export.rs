//! `fengqiao stats` and `fengqiao export` through the real binary, against
//! a real server, on a fixed set of disputes whose figures, labels and rows
//! are written out by hand below (not computed with the server's own
//! functions).

mod common;

use std::path::Path;

use common::{ADMIN, ServerProcess, TOKEN, fengqiao};
use serde_json::{Value, json};

const TOWN: &str = "500110101";

fn run(args: &[&str], dir: &Path) -> String {
    let output = fengqiao()
        .args(args)
        .current_dir(dir)
        .env("FENGQIAO_LOG", "off")
        .env_remove("FENGQIAO_FIELD_DIR")
        .env_remove("FENGQIAO_TOKEN")
        .env_remove("FENGQIAO_SERVER")
        .env_remove("FENGQIAO_CONFIG")
        .output()
        .expect("fengqiao runs");
    assert!(
        output.status.success(),
        "fengqiao {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn field(phone: &Path, args: &[&str]) -> String {
    let mut all = vec!["field", "--dir", phone.to_str().expect("a UTF-8 path")];
    all.extend_from_slice(args);
    run(&all, phone.parent().expect("a parent"))
}

/// The fixture: five disputes in two villages of town 500110101, all in
/// March 2025 (long before "now", so every unresolved one is overdue).
///
/// | title        | village | category | risk   | what happened                    |
/// |--------------|---------|----------|--------|----------------------------------|
/// | 宅基地边界纠纷 | 001     | land     | high   | nothing: open                    |
/// | 婚后财产分割   | 001     | family   | medium | mediation: mediating             |
/// | 拖欠工资      | 002     | labor    | low    | resolved 10 days after           |
/// | 噪音扰民      | 002     | neighbor | high   | escalated to the town            |
/// | 借款纠纷      | 002     | debt     | medium | escalated to the town, resolved 20 days after |
fn record_fixture(phone: &Path) {
    let new = |village: &str, title: &str, category: &str, risk: &str, at: &str| -> String {
        field(
            phone,
            &[
                "dispute",
                "new",
                "--village",
                &format!("{TOWN}{village}"),
                "--title",
                title,
                "--category",
                category,
                "--risk",
                risk,
                "--party",
                "张三:applicant",
                "--party",
                "李四:respondent",
                "--at",
                at,
            ],
        )
        .trim()
        .to_owned()
    };
    let event = |id: &str, args: &[&str]| {
        let mut all = vec!["dispute", "event", id];
        all.extend_from_slice(args);
        field(phone, &all);
    };
    new("001", "宅基地边界纠纷", "land", "high", "2025-03-01 09:00");
    let d2 = new(
        "001",
        "婚后财产分割",
        "family",
        "medium",
        "2025-03-02 09:00",
    );
    event(&d2, &["mediation", "--at", "2025-03-03 09:00"]);
    let d3 = new("002", "拖欠工资", "labor", "low", "2025-03-01 09:00");
    event(&d3, &["resolved", "--at", "2025-03-11 09:00"]);
    let d4 = new("002", "噪音扰民", "neighbor", "high", "2025-03-04 09:00");
    event(
        &d4,
        &["escalated", "--level", "town", "--at", "2025-03-05 09:00"],
    );
    let d5 = new("002", "借款纠纷", "debt", "medium", "2025-03-05 09:00");
    event(
        &d5,
        &["escalated", "--level", "town", "--at", "2025-03-06 09:00"],
    );
    event(&d5, &["resolved", "--at", "2025-03-25 09:00"]);
    field(phone, &["sync"]);
}

fn start() -> (tempfile::TempDir, ServerProcess) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = ServerProcess::start(&dir.path().join("data"));
    let response = ureq::post(&format!("{}/v1/admin/org", server.url))
        .header("Authorization", &format!("Bearer {ADMIN}"))
        .send_json(json!({
            "format": "csv",
            "text": "500110,綦江区\n500110101,古南街道\n500110101001,石门村\n500110101002,桥河村\n",
        }))
        .expect("organisation imported");
    assert_eq!(response.status().as_u16(), 200);
    let phone = dir.path().join("phone");
    field(
        &phone,
        &[
            "init",
            "--server",
            &server.url,
            "--token",
            TOKEN,
            "--cadre",
            "zhang-san",
        ],
    );
    record_fixture(&phone);
    (dir, server)
}

/// Every line of `text` with runs of spaces made one.
fn squeezed(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn stats_prints_the_hand_counted_figures_of_a_town() {
    let (dir, server) = start();
    let common = ["--server", &server.url, "--token", TOKEN, "--scope", TOWN];

    let mut args = vec!["stats"];
    args.extend_from_slice(&common);
    args.push("--json");
    let stats: Value = serde_json::from_str(&run(&args, dir.path())).expect("JSON");
    let disputes = &stats["disputes"];
    assert_eq!(disputes["scope"], TOWN);
    let totals = &disputes["totals"];
    assert_eq!(totals["total"], 5);
    // Not resolved: open, mediating and escalated.
    assert_eq!(totals["open"], 3);
    assert_eq!(totals["mediating"], 1);
    assert_eq!(totals["escalated"], 1);
    assert_eq!(totals["failed"], 0);
    assert_eq!(totals["resolved"], 2);
    assert_eq!(totals["resolutionRate"], 0.4);
    // Both resolved stayed in the township: one in the village, one at
    // the town; the other three are still open there. 2 of 5 received.
    assert_eq!(totals["received"], 5);
    assert_eq!(totals["villageResolved"], 1);
    assert_eq!(totals["townResolved"], 1);
    assert_eq!(totals["grassrootsResolved"], 2);
    assert_eq!(totals["stillOpen"], 3);
    assert_eq!(totals["failedInTownship"], 0);
    assert_eq!(totals["escalatedBeyondTownship"], 0);
    assert_eq!(totals["grassrootsRate"], 0.4);
    assert_eq!(totals["villageRate"], 0.2);
    assert_eq!(totals["grassrootsTargetMet"], false);
    assert!(stats["definitions"]["grassrootsRate"]["zh"].is_string());
    // 10 and 20 days.
    assert_eq!(totals["medianDaysToResolve"], 15.0);
    assert_eq!(disputes["overdue"]["count"], 3);
    assert_eq!(disputes["openHighRisk"]["count"], 2);
    let village_1 = format!("{TOWN}001");
    let village_2 = format!("{TOWN}002");
    let category = &disputes["byVillageCategory"];
    assert_eq!(category[&village_1]["land"], 1);
    assert_eq!(category[&village_1]["family"], 1);
    assert_eq!(category[&village_2]["labor"], 1);
    assert_eq!(category[&village_2]["neighbor"], 1);
    assert_eq!(category[&village_2]["debt"], 1);
    assert_eq!(category[&village_2]["land"], 0);
    let risk = &disputes["byVillageRisk"];
    assert_eq!(risk[&village_1], json!({"high": 1, "medium": 1, "low": 0}));
    assert_eq!(risk[&village_2], json!({"high": 1, "medium": 1, "low": 1}));
    let status = &disputes["byVillageStatus"];
    assert_eq!(
        status[&village_1],
        json!({"open": 1, "mediating": 1, "escalated": 0, "failed": 0, "resolved": 0})
    );
    assert_eq!(
        status[&village_2],
        json!({"open": 0, "mediating": 0, "escalated": 1, "failed": 0, "resolved": 2})
    );
    assert_eq!(stats["visits"]["total"], 0);

    // The summary for people.
    let mut args = vec!["stats"];
    args.extend_from_slice(&common);
    let text = squeezed(&run(&args, dir.path()));
    for expected in [
        "500110101 — township summary 乡镇汇总",
        "disputes received 受理纠纷 5",
        "village rate 村级化解率 20.0%",
        "resolved in the village 村级化解 1",
        "resolved at the town 镇级化解 1",
        "still open 仍在办理 3",
        "failed in the township 调解失败 0",
        "escalated beyond the township 上报镇外 0",
        "open 未化解 3",
        "mediating 调解中 1",
        "escalated 已上报 1",
        "failed 调解失败 0",
        "resolved 已化解 2",
        "resolution rate 化解率 40.0%",
        "median days to resolve 中位化解天数 15.0",
        "overdue 超期未结 (>30 days) 3",
        "open high-risk 高风险未结 2",
        "visits 民情走访 0",
    ] {
        assert!(
            text.iter().any(|line| line.starts_with(expected)),
            "no line {expected:?} in:\n{}",
            text.join("\n")
        );
    }
    assert!(
        text.iter()
            .any(|l| l.starts_with("grassroots rate 基层化解率 40.0%") && l.contains("not met")),
        "{}",
        text.join("\n")
    );

    // A district's summary is called one; a village's too.
    for (scope, kind) in [
        ("500110", "500110 — district summary 区县汇总"),
        ("500110101001", "500110101001 — village summary 村汇总"),
    ] {
        let text = squeezed(&run(
            &[
                "stats",
                "--server",
                &server.url,
                "--token",
                TOKEN,
                "--scope",
                scope,
            ],
            dir.path(),
        ));
        assert!(text.iter().any(|line| line == kind), "{}", text.join("\n"));
        assert!(!text.iter().any(|line| line.contains("township summary")));
    }
}

#[test]
fn export_writes_the_hand_written_rows_of_a_town() {
    let (dir, server) = start();
    let out = dir.path().join("disputes.csv");
    let printed = run(
        &[
            "export",
            "disputes",
            "--format",
            "csv",
            "--server",
            &server.url,
            "--token",
            TOKEN,
            "--scope",
            TOWN,
            "--as-of",
            "2025-04-10",
            "--out",
            out.to_str().expect("a UTF-8 path"),
        ],
        dir.path(),
    );
    assert!(printed.contains("disputes.csv"), "{printed}");
    let bytes = std::fs::read(&out).expect("the file was written");
    let text = std::str::from_utf8(&bytes).expect("UTF-8");
    let text = text.strip_prefix('\u{feff}').expect("a BOM for Excel");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "编号,镇街,村,村代码,标题,案情,类别,风险,状态,登记时间,化解时间,已办天数,超期天数,\
             当事人,承办人,登记人,最高上报层级,处理结果,最近活动,事件数,重复于"
        )
    );
    // Every column but the id, by title.
    let mut rows: Vec<String> = lines
        .map(|line| {
            let (_id, rest) = line.split_once(',').expect("an id column");
            rest.to_owned()
        })
        .collect();
    rows.sort();
    // As of 2025-04-10 00:00: days open (to the resolution for resolved
    // cases) and days beyond the 30-day limit; parties with their roles;
    // zhang-san is no person of the directory, so shown as such, never by
    // id.
    let parties = "张三（申请人）、李四（被申请人）";
    let mut expected: Vec<String> = [
        "古南街道,石门村,500110101001,宅基地边界纠纷,,土地/宅基地/山林,高,待调解,2025-03-01 09:00,,39,9,P,,未登记人员,,,2025-03-01 09:00,1,",
        "古南街道,石门村,500110101001,婚后财产分割,,婚姻家庭,中,调解中,2025-03-02 09:00,,38,8,P,,未登记人员,,,2025-03-03 09:00,2,",
        "古南街道,桥河村,500110101002,拖欠工资,,劳资纠纷,低,已化解,2025-03-01 09:00,2025-03-11 09:00,10,,P,,未登记人员,,,2025-03-11 09:00,2,",
        "古南街道,桥河村,500110101002,噪音扰民,,邻里纠纷,高,已上报（镇级）,2025-03-04 09:00,,36,6,P,,未登记人员,镇级,,2025-03-05 09:00,2,",
        "古南街道,桥河村,500110101002,借款纠纷,,借贷纠纷,中,已化解,2025-03-05 09:00,2025-03-25 09:00,20,,P,,未登记人员,镇级,,2025-03-25 09:00,3,",
    ]
    .iter()
    .map(|row| row.replace(",P,", &format!(",{parties},")))
    .collect();
    expected.sort();
    assert_eq!(rows, expected);

    let visits = dir.path().join("visits.csv");
    run(
        &[
            "export",
            "visits",
            "--format",
            "csv",
            "--server",
            &server.url,
            "--token",
            TOKEN,
            "--scope",
            TOWN,
            "--out",
            visits.to_str().expect("a UTF-8 path"),
        ],
        dir.path(),
    );
    let text = std::fs::read_to_string(&visits).expect("the file was written");
    assert_eq!(
        text.trim_start_matches('\u{feff}').lines().count(),
        1,
        "only the header: no visits"
    );

    // Without --out the file takes the name the server gives: the place
    // and the period.
    let printed = run(
        &[
            "export",
            "disputes",
            "--server",
            &server.url,
            "--token",
            TOKEN,
            "--scope",
            TOWN,
            "--from",
            "2025-03-01",
            "--to",
            "2025-03-31",
        ],
        dir.path(),
    );
    let named = dir
        .path()
        .join("矛盾纠纷_古南街道_2025-03-01至2025-03-31.xlsx");
    assert!(named.exists(), "{printed}");
    assert!(
        printed.contains("矛盾纠纷_古南街道_2025-03-01至2025-03-31.xlsx"),
        "{printed}"
    );
}
