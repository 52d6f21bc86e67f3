//! `--reports-mb`: beyond the budget the report summaries of the scopes
//! used least recently are dropped and read again when asked for. With no
//! budget at all (`--reports-mb 0`) only the scope being asked about stays
//! in memory: the answers are still right, and `/metrics` shows the
//! summaries held going down as scopes are dropped.

use fengqiao_protocol::DeviceId;
use fengqiao_shared::record::set_risk;
use fengqiao_shared::vocab::Risk;
use fengqiao_tests::process::{ADMIN_TOKEN, DEV_TOKEN, ServerProcess};
use fengqiao_tests::{Phone, T0};
use serde_json::Value;

fn get(server: &ServerProcess, path: &str, token: &str) -> String {
    let mut response = ureq::get(&format!("{}{path}", server.url()))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    response.body_mut().read_to_string().expect("a body")
}

/// `total` and `openHighRisk.count` of the disputes of `scope`.
fn figures(server: &ServerProcess, scope: &str) -> (u64, u64) {
    let text = get(
        server,
        &format!("/v1/stats/summary?scope={scope}"),
        DEV_TOKEN,
    );
    let stats: Value = serde_json::from_str(&text).expect("JSON");
    let disputes = &stats["disputes"];
    (
        disputes["totals"]["total"].as_u64().expect("a total"),
        disputes["openHighRisk"]["count"]
            .as_u64()
            .expect("a high-risk count"),
    )
}

/// `fengqiao_report_records` from `/metrics`.
fn summaries_held(server: &ServerProcess) -> u64 {
    let text = get(server, "/metrics", ADMIN_TOKEN);
    text.lines()
        .find_map(|line| line.strip_prefix("fengqiao_report_records "))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .map(|value| value as u64)
        .unwrap_or_else(|| panic!("no fengqiao_report_records in:\n{text}"))
}

#[test]
fn with_no_reports_budget_answers_stay_right_and_scopes_are_dropped() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = ServerProcess::start_with(&dir.path().join("data"), &["--reports-mb", "0"]);
    server.import_test_org();

    // Town 101: three disputes in village 001 (one of high risk), two in
    // 002. Town 102: four in village 007 (two of high risk).
    let mut phone = Phone::enrolled("cadre-a", DeviceId::random(), DEV_TOKEN);
    let mut at = T0;
    let mut report = |village: &str, high: bool| {
        at += 1;
        let id = phone.report(village, "纠纷", at);
        if high {
            let author = phone.author(at);
            phone
                .replica
                .edit(&id, |doc| set_risk(doc, &author, Risk::High))
                .expect("an edit");
        }
    };
    for high in [true, false, false] {
        report("500110101001", high);
    }
    for high in [false, false] {
        report("500110101002", high);
    }
    for high in [true, true, false, false] {
        report("500110102007", high);
    }
    phone.sync(&server.url());

    assert_eq!(figures(&server, "500110101"), (5, 1));
    assert_eq!(summaries_held(&server), 5, "town 101 only");
    assert_eq!(figures(&server, "500110102"), (4, 2));
    assert_eq!(summaries_held(&server), 4, "town 101 dropped, 102 only");
    assert_eq!(
        figures(&server, "500110101"),
        (5, 1),
        "read again, still right"
    );
    assert_eq!(summaries_held(&server), 5, "town 102 dropped");
    assert_eq!(figures(&server, "500110"), (9, 3), "the district");
    assert_eq!(summaries_held(&server), 9, "the district only");
    assert_eq!(figures(&server, "500110102"), (4, 2), "a town of it");
    assert_eq!(figures(&server, "500110101001"), (3, 1), "a village");
}
