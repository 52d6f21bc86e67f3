//! `fengqiao demo --no-serve --scale small` runs end to end, and the
//! numbers it prints are the statistics API's for the same data directory,
//! and what a person counts in the exported spreadsheet.

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

    // The demo's possible duplicates are true ones: the case two cadres
    // both reported, never the four different disputes of the merge
    // scenarios (each between its own parties).
    let duplicates: serde_json::Value = ureq::get(&format!(
        "{}/v1/duplicates?scope=330681107&listLimit=all",
        server.url
    ))
    .header("Authorization", &format!("Bearer {token}"))
    .call()
    .expect("duplicates answer")
    .into_body()
    .read_json()
    .expect("duplicates JSON");
    let pairs = duplicates["pairs"].as_array().expect("pairs");
    let title = |id: &serde_json::Value| {
        duplicates["records"][id.as_str().unwrap_or_default()]["title"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        pairs.iter().any(|p| {
            title(&p["first"]).contains("山林") && title(&p["second"]).contains("山林")
        }),
        "the case reported twice is suggested: {duplicates}"
    );
    for pair in pairs {
        let both = [title(&pair["first"]), title(&pair["second"])];
        assert!(
            !both.iter().all(|t| t.contains(" · ")),
            "two different scripted disputes suggested as duplicates: {both:?}"
        );
    }

    // The field-app link it prints sets a cadre's app up against the demo.
    let link = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Field app"))
        .nth(1)
        .expect("a field-app link is printed")
        .trim();
    let (page, encoded) = link.split_once("#setup=").expect("a set-up link");
    assert!(page.ends_with("/field"), "{link}");
    let payload = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .expect("base64url")
    };
    let payload: serde_json::Value = serde_json::from_slice(&payload).expect("JSON");
    let me: serde_json::Value = ureq::get(&format!("{}/v1/me", server.url))
        .header(
            "Authorization",
            &format!("Bearer {}", payload["token"].as_str().expect("a token")),
        )
        .call()
        .expect("the link's token is a device's")
        .into_body()
        .read_json()
        .expect("JSON");
    assert_eq!(me["role"], "cadre");
    assert_eq!(me["device"], payload["device"]);
    let app = ureq::get(&format!("{}/field", server.url))
        .call()
        .expect("the app is served");
    assert_eq!(app.status().as_u16(), 200);
    let t = &stats.disputes.totals;
    assert!(t.total > 20, "the demo made disputes: {}", t.total);
    assert!(stats.visits.total > 20);
    let expect = [
        ("disputes received", t.received.to_string()),
        ("village rate", percent(t.village_rate)),
        ("resolved in the village", t.village_resolved.to_string()),
        ("resolved at the town", t.town_resolved.to_string()),
        ("still open", t.still_open.to_string()),
        ("failed in the township", t.failed_in_township.to_string()),
        (
            "escalated beyond the township",
            t.escalated_beyond_township.to_string(),
        ),
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

    // Every town is printed, as the district official's API gives it, and
    // none of them meets 100%: some cases failed or went to the district.
    let district_token = stdout
        .lines()
        .find(|l| l.contains("district official ("))
        .and_then(|l| l.split_whitespace().last())
        .expect("the district official's token is printed")
        .to_owned();
    let mut beyond = 0;
    let mut failed = 0;
    // Per closed-loop stage: cases over the towns, and towns with any.
    let stages = fengqiao_server::cli::demo::LOOP_STAGES.len();
    let mut loop_stages = vec![0u64; stages];
    let mut loop_towns = vec![0u64; stages];
    for (code, name) in [
        ("330681107", "枫桥镇"),
        ("330681108", "赵家镇"),
        ("330681109", "东白湖镇"),
        ("330681", "诸暨市"),
    ] {
        let stats: Statistics = ureq::get(&format!("{}/v1/stats/summary?scope={code}", server.url))
            .header("Authorization", &format!("Bearer {district_token}"))
            .call()
            .expect("statistics answer")
            .into_body()
            .read_json()
            .expect("statistics JSON");
        let line = fengqiao_server::cli::demo::town_line(name, code, &stats);
        assert!(
            stdout.lines().any(|l| l == line),
            "{line} not printed:\n{stdout}"
        );
        let totals = &stats.disputes.totals;
        assert!(
            totals.grassroots_rate.is_some_and(|rate| rate < 1.0),
            "{name}: {:?}",
            totals.grassroots_rate
        );
        // The officials' actions leave the figures' identities intact.
        assert_eq!(
            totals.grassroots_resolved
                + totals.still_open
                + totals.failed_in_township
                + totals.escalated_beyond_township,
            totals.received,
            "{name}: the parts sum to what was received: {totals:?}"
        );
        assert_eq!(
            totals.grassroots_resolved,
            totals.village_resolved + totals.town_resolved,
            "{name}: {totals:?}"
        );
        assert_eq!(
            totals.resolved,
            totals.grassroots_resolved + totals.resolved_beyond_township,
            "{name}: {totals:?}"
        );
        assert_eq!(
            totals.open,
            totals.received - totals.resolved,
            "{name}: {totals:?}"
        );
        for rate in [
            totals.resolution_rate,
            totals.grassroots_rate,
            totals.village_rate,
        ] {
            assert!(
                rate.is_some_and(|r| (0.0..=1.0).contains(&r)),
                "{name}: {totals:?}"
            );
        }

        // Where its cases stand in the closed loop, as the record list
        // (the dashboard's lists) gives it, is what the demo printed.
        let mut counts = Vec::new();
        for (stage, _) in fengqiao_server::cli::demo::LOOP_STAGES {
            let level = if code.len() == 9 { "town" } else { "district" };
            let mut path = format!(
                "{}/v1/records?scope={code}&kind=dispute&stage={stage}&page=1&per_page=1",
                server.url
            );
            if stage == "pending" {
                path.push_str(&format!("&level={level}"));
            }
            let page: serde_json::Value = ureq::get(&path)
                .header("Authorization", &format!("Bearer {district_token}"))
                .call()
                .expect("the record list answers")
                .into_body()
                .read_json()
                .expect("JSON");
            let total = page["total"].as_u64().expect("a total");
            counts.push(total);
        }
        let line = fengqiao_server::cli::demo::loop_line(name, code, &counts);
        assert!(
            stdout.lines().any(|l| l == line),
            "{line} not printed:\n{stdout}"
        );
        if code.len() == 9 {
            for (i, n) in counts.iter().enumerate() {
                loop_stages[i] += n;
                loop_towns[i] += u64::from(*n > 0);
            }
        }
        if code.len() == 9 {
            beyond += totals.escalated_beyond_township;
            failed += totals.failed_in_township;
        }
    }
    assert!(beyond > 0 && failed > 0, "beyond {beyond}, failed {failed}");
    // The towns' officials work the loop: every stage holds cases in at
    // least one town (待受理, 已受理/待分派, 调处中, 待回访, 已化解, 已归档).
    for ((stage, _), towns) in fengqiao_server::cli::demo::LOOP_STAGES
        .iter()
        .zip(&loop_towns)
    {
        assert!(
            *towns > 0,
            "no town has a case at stage {stage}: {loop_stages:?}\n{stdout}"
        );
    }
    // Some escalations wait past the three days allowed for acceptance:
    // the district's list of cases past a time limit says so. Cases are
    // under 督办, and every open one whose 督办 deadline has passed is in
    // that list (under its earliest missed deadline).
    let late: serde_json::Value = ureq::get(&format!(
        "{}/v1/records?scope=330681&kind=dispute&late=true&sort=deadline&limit=500",
        server.url
    ))
    .header("Authorization", &format!("Bearer {district_token}"))
    .call()
    .expect("the overdue list answers")
    .into_body()
    .read_json()
    .expect("JSON");
    let late = late["items"].as_array().expect("items");
    assert!(
        late.iter().any(|item| item["deadline"]["kind"] == "accept"
            && item["deadline"]["daysLeft"].as_i64().is_some_and(|d| d < 0)),
        "no case past its accept deadline: {late:?}"
    );
    let all: serde_json::Value = ureq::get(&format!(
        "{}/v1/records?scope=330681&kind=dispute&status=unresolved&limit=500",
        server.url
    ))
    .header("Authorization", &format!("Bearer {district_token}"))
    .call()
    .expect("the open cases answer")
    .into_body()
    .read_json()
    .expect("JSON");
    let open = all["items"].as_array().expect("items");
    // A day's margin: the list and this check read the clock apart.
    let as_of = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
        - 86_400_000;
    // The officials put cases under 督办 (the demo says how many); those
    // still open show it.
    // The closed-loop line: "… supervised N cases (督办) …".
    let put_under = stdout
        .split("supervised ")
        .filter_map(|rest| rest.split_once(" cases (督办)"))
        .find_map(|(n, _)| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(put_under > 0, "no case was put under 督办:\n{stdout}");
    let supervised = open.iter().filter(|item| item["supervisionDue"].is_i64());
    for item in supervised {
        if item["supervisionDue"]
            .as_i64()
            .is_some_and(|due| due < as_of)
        {
            assert!(
                late.iter().any(|l| l["id"] == item["id"]),
                "{} is past its 督办 deadline but not in the list: {late:?}",
                item["id"]
            );
        }
    }

    // The tokens it printed are saved in its data directory, for the owner
    // alone, and it says how to try `fengqiao field`.
    let tokens = data.join("tokens.txt");
    let saved = std::fs::read_to_string(&tokens).expect("tokens.txt");
    assert!(saved.contains(&token) && saved.contains(&district_token));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&tokens)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(stdout.contains("fengqiao field --dir ./fengqiao-demo-phone init --server"));

    // Counted again from the exported rows, without the statistics code:
    // by the status and risk labels a person reads in the spreadsheet (a
    // linked duplicate counts once: as its original).
    let rows = export(&server.url, &token, "disputes");
    let header = &rows[0];
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (status, risk, duplicate) = (column("状态"), column("风险"), column("重复于"));
    let counted: Vec<&Vec<String>> = rows[1..]
        .iter()
        .filter(|row| row[duplicate].is_empty())
        .collect();
    let with_status = |wanted: &dyn Fn(&str) -> bool| {
        counted
            .iter()
            .filter(|row| wanted(&row[status]))
            .count()
            .to_string()
    };
    let resolved = counted.iter().filter(|row| row[status] == "已化解").count();
    let recount = [
        ("disputes received", counted.len().to_string()),
        ("open", with_status(&|s| s != "已化解")),
        ("mediating", with_status(&|s| s == "调解中")),
        ("escalated", with_status(&|s| s.starts_with("已上报"))),
        ("failed", with_status(&|s| s == "调解失败")),
        ("resolved", resolved.to_string()),
        (
            "resolution rate",
            format!("{:.1}%", resolved as f64 * 100.0 / counted.len() as f64),
        ),
        (
            "open high-risk",
            counted
                .iter()
                .filter(|row| row[status] != "已化解" && row[risk] == "高")
                .count()
                .to_string(),
        ),
    ];
    for (label, value) in recount {
        assert_eq!(
            numbers.get(label),
            Some(&value),
            "{label}: printed {:?}, counted from the export {value}",
            numbers.get(label)
        );
    }
    let visits = export(&server.url, &token, "visits");
    let (needed, done) = (
        visits[0]
            .iter()
            .position(|h| h == "需回访")
            .expect("a column"),
        visits[0]
            .iter()
            .position(|h| h == "回访完成")
            .expect("a column"),
    );
    let pending = visits[1..]
        .iter()
        .filter(|row| row[needed] == "是" && row[done] == "否")
        .count();
    assert_eq!(numbers.get("visits"), Some(&(visits.len() - 1).to_string()));
    assert_eq!(
        numbers.get("pending follow-ups"),
        Some(&pending.to_string())
    );
}

/// The town's export of `what` as CSV rows (RFC 4180, after the BOM).
fn export(url: &str, token: &str, what: &str) -> Vec<Vec<String>> {
    let mut response = ureq::get(&format!("{url}/v1/export/{what}.csv?scope=330681107"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("the export answers");
    let text = response.body_mut().read_to_string().expect("UTF-8");
    let text = text.strip_prefix('\u{feff}').expect("a BOM");
    let mut rows = Vec::new();
    let (mut row, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}
