//! The dashboard as officials read it on their phones and desks, in real
//! headless Chromium (`tests/js/dashboard/screens.mjs`), on the demo's
//! township: `fengqiao demo --no-serve` writes it, `fengqiao serve` serves
//! it, and the script signs in with the town official's token the demo
//! saved in `tokens.txt`.
//!
//! What must hold, in Chinese and in English, at 390 px and 1366 px, on the
//! overview, a list, a search, the duplicates, a case and the monthly
//! report: no one-character table columns and no sideways page on a phone;
//! charts with whole-number ticks on every count axis (also for one
//! village, where counts are small); no English UI string on the Chinese
//! page (scanned against the catalogue) and no Chinese in the English
//! interface. Screenshots go to `target/test-artifacts/dashboard/`.
//!
//! Needs node, Chromium and `npm ci` in tests/js: without them the test
//! says so loudly and passes, unless `FENGQIAO_REQUIRE_ALL=1`.

use std::process::Stdio;

use fengqiao_tests::browser;
use fengqiao_tests::process::{ServerProcess, binary};
use serde_json::json;

/// The token of the first line of `tokens.txt` whose role is `role`.
fn token(tokens: &str, role: &str) -> String {
    tokens
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            (fields.first() == Some(&role)).then(|| fields.last().map(|t| t.to_string()))?
        })
        .unwrap_or_else(|| panic!("no {role} token in tokens.txt:\n{tokens}"))
}

#[test]
fn the_dashboard_reads_well_on_a_phone_and_a_desk_in_both_languages() {
    if !browser::ready("the dashboard screens test") {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = dir.path().join("demo");
    let output = std::process::Command::new(binary())
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
        .stdin(Stdio::null())
        .output()
        .expect("the demo runs");
    assert!(
        output.status.success(),
        "the demo failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let tokens = std::fs::read_to_string(data.join("tokens.txt")).expect("the demo's tokens");
    let town = token(&tokens, "town");
    let district = token(&tokens, "district");
    let supervisor = token(&tokens, "supervisor");
    let server = ServerProcess::start(&data);
    let reports = browser::run(
        "dashboard",
        "screens",
        &server.url(),
        &json!({
            "extra": {
                "town": town,
                "district": district,
                "supervisor": supervisor,
            }
        }),
    );
    // Six views, two languages, two sizes.
    assert_eq!(browser::report(&reports, "shots")["count"], 24);
    // A bookmarked list of one village shows its open cases, and only them.
    let bookmark = browser::report(&reports, "bookmark");
    assert!(
        bookmark["cases"].as_u64().is_some_and(|n| n >= 1),
        "the busiest village has open cases: {bookmark}"
    );
    // The duplicates' own list finds a pair by a name its records share.
    let duplicates = browser::report(&reports, "duplicates");
    assert!(
        duplicates["pairs"].as_u64().is_some_and(|n| n >= 1),
        "{duplicates}"
    );
    let ticks = browser::report(&reports, "village-ticks");
    assert!(
        ticks["max"].as_f64().is_some_and(|max| max >= 1.0),
        "the village's charts count something: {ticks}"
    );
}
