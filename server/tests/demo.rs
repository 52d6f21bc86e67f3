//! `fengqiao demo --no-serve --scale small` runs end to end, and the
//! numbers it prints are the statistics API's for the same data directory.

mod common;

use std::collections::BTreeMap;

use common::{ServerProcess, fengqiao};
use fengqiao_shared::stats::Statistics;

fn printed(output: &str) -> BTreeMap<String, String> {
    // Lines like "  open 未化解                  19" → ("open", "19").
    output
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let (label, rest) =
                line.split_once(|c: char| !c.is_ascii_alphabetic() && c != ' ' && c != '-')?;
            let value = rest.split_whitespace().last()?;
            let value = rest
                .split_whitespace()
                .find(|w| w.ends_with('%') || w.parse::<f64>().is_ok() || *w == "—")
                .unwrap_or(value);
            Some((label.trim().to_owned(), value.to_owned()))
        })
        .collect()
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or("—".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

#[test]
fn the_demo_prints_what_the_statistics_api_says() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let output = fengqiao()
        .args([
            "demo",
            "--no-serve",
            "--scale",
            "small",
            "--bind",
            "127.0.0.1:0",
        ])
        .arg("--data")
        .arg(&data)
        .env("FENGQIAO_LOG", "warn")
        .output()
        .expect("the demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("township summary"));
    assert!(stdout.contains("the higher risk wins"));
    assert!(
        stdout.contains(
            "merged text: 【双方同意调解】双方因界址不清发生争执。已现场勘查，界桩清晰。"
        )
    );
    assert!(!stdout.contains("DIFFERENT records"), "{stdout}");
    assert_eq!(
        stdout
            .matches("both phones now hold the same record")
            .count(),
        4
    );
    let token = stdout
        .lines()
        .find(|l| l.contains("official with:"))
        .and_then(|l| l.split_whitespace().last())
        .expect("the town official's token is printed")
        .to_owned();
    let numbers = printed(&stdout);

    // The same data directory, served again: the API agrees with the print.
    let server = ServerProcess::start(&data);
    let response = ureq::get(&format!("{}/v1/stats/summary?scope=330681107", server.url))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("statistics answer");
    let stats: Statistics = response.into_body().read_json().expect("statistics JSON");
    let t = &stats.disputes.totals;
    assert!(t.total > 20, "the demo made disputes: {}", t.total);
    assert!(stats.visits.total > 20);
    let expect = [
        ("disputes", t.total.to_string()),
        ("open", t.open.to_string()),
        ("mediating", t.mediating.to_string()),
        ("escalated", t.escalated.to_string()),
        ("failed", t.failed.to_string()),
        ("resolved", t.resolved.to_string()),
        ("resolution rate", percent(t.resolution_rate)),
        ("grassroots rate", percent(t.grassroots_rate)),
        (
            "open high-risk",
            stats.disputes.open_high_risk.count.to_string(),
        ),
        (
            "possible duplicates",
            stats.disputes.possible_duplicate_count.to_string(),
        ),
        ("visits", stats.visits.total.to_string()),
        (
            "pending follow-ups",
            stats.visits.follow_ups.pending.count.to_string(),
        ),
        ("overdue", stats.disputes.overdue.count.to_string()),
    ];
    for (label, value) in expect {
        assert_eq!(
            numbers.get(label),
            Some(&value),
            "{label}: printed {:?}, API {value}",
            numbers.get(label)
        );
    }
}
