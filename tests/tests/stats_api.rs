//! The township statistics API against the shared statistics: hundreds of
//! records reported on phones in two towns, and every answer checked to be
//! exactly what `fengqiao_shared::stats` computes over the same summaries
//! (as a phone that synced them computes them), for every level of official,
//! with scopes enforced on every endpoint; and a small town whose every
//! figure is written out by hand, so that the statistics code is not its
//! own judge.

mod township;

use fengqiao_protocol::{DocumentId, Scope};
use fengqiao_shared::record::Record;
use fengqiao_shared::stats::{self, Period, StatsQuery};
use fengqiao_shared::vocab::{RecordKind, Risk, Status};
use fengqiao_shared::{Millis, Summary};
use fengqiao_tests::{DAY, T0, TestServer};
use serde_json::{Value, json};
use township::{
    Auth, DISTRICT, Officials, TOWN_1, TOWN_2, VILLAGE_A, as_seen, get, observer, populate, post,
    sign_in, summaries_in,
};

/// The statistics endpoints, each with what the shared crate computes.
const FIGURES: &[&str] = &[
    "summary",
    "by-village",
    "by-category",
    "by-month",
    "duplicates",
];

fn path_of(figure: &str) -> String {
    match figure {
        "duplicates" => "/v1/duplicates".to_owned(),
        other => format!("/v1/stats/{other}"),
    }
}

/// The query an answer says it was computed with.
fn query_of(answer: &Value, figure: &str) -> StatsQuery {
    let query = if figure == "summary" {
        let disputes = &answer["disputes"];
        json!({
            "now": disputes["asOf"],
            "period": disputes["period"],
            "overdueDays": disputes["overdueDays"],
            "scope": disputes["scope"],
            "listLimit": disputes["listLimit"],
        })
    } else {
        answer["query"].clone()
    };
    serde_json::from_value(query).expect("the answer names its query")
}

/// What the shared statistics compute for `figure` over `summaries`.
fn expected(figure: &str, summaries: &[Summary], query: &StatsQuery) -> Value {
    match figure {
        "summary" => as_seen(&stats::statistics(summaries, query)),
        "by-village" => as_seen(&json!({
            "query": query,
            "rows": stats::by_village(summaries, query),
        })),
        "by-category" => as_seen(&json!({
            "query": query,
            "rows": stats::by_category(summaries, query),
        })),
        "by-month" => as_seen(&json!({
            "query": query,
            "rows": stats::by_month(summaries, query),
        })),
        "duplicates" => {
            let pairs = stats::possible_duplicates(summaries, query);
            let mut records = serde_json::Map::new();
            for pair in &pairs {
                for id in [&pair.first, &pair.second] {
                    let summary = summaries.iter().find(|s| &s.id == id).expect("paired case");
                    records.insert(id.to_string(), as_seen(summary));
                }
            }
            as_seen(&json!({ "query": query, "pairs": pairs, "records": records }))
        }
        other => panic!("no figure {other}"),
    }
}

/// Asks for `figure` of `scope` (or the caller's own) and checks it against
/// the shared statistics over the observer's summaries.
fn check_figure(
    server: &TestServer,
    summaries: &[Summary],
    token: &str,
    figure: &str,
    scope: &str,
    params: &str,
) -> Value {
    let path = format!("{}?{params}", path_of(figure));
    let (status, answer) = get(server, &path, Auth::Bearer(token));
    assert_eq!(status, 200, "{path}: {answer}");
    let query = query_of(&answer, figure);
    assert_eq!(query.scope, Some(Scope::parse(scope).unwrap()), "{path}");
    let in_scope: Vec<Summary> = summaries
        .iter()
        .filter(|s| query.in_scope(&s.village))
        .cloned()
        .collect();
    assert_eq!(answer, expected(figure, &in_scope, &query), "{path}");
    answer
}

/// 2026-06-01 and 2026-08-31 in China Standard Time.
const JUNE_1: Millis = 1_780_243_200_000;
const SEPT_1: Millis = 1_788_192_000_000;

#[test]
fn every_figure_is_what_the_shared_statistics_compute() {
    let server = TestServer::start();
    let township = populate(&server, 45);
    assert!(township.disputes.len() + township.visits.len() >= 300);
    assert!(
        !township.linked.is_empty(),
        "the data set has linked duplicates"
    );
    let officials = Officials::enroll(&server);
    let phone = observer(&server);
    let all = summaries_in(&phone, DISTRICT);
    assert_eq!(all.len(), 7 * 45);

    let cases: &[(&str, &str, &str)] = &[
        (&officials.town_1, TOWN_1, ""),
        (&officials.town_2, TOWN_2, ""),
        (&officials.district, DISTRICT, ""),
        (&officials.cadre_a, VILLAGE_A, ""),
        (&officials.district, TOWN_2, "scope=500110102"),
        (&officials.town_1, "500110101003", "scope=500110101003"),
        (&officials.supervisor_1, TOWN_1, ""),
        (
            &officials.town_1,
            TOWN_1,
            "from=2026-06-01&to=2026-08-31&overdueDays=45",
        ),
        (
            &officials.district,
            DISTRICT,
            "scope=500110&from=1780243200000&asOf=1790000000000",
        ),
        (&officials.district, DISTRICT, "listLimit=all"),
        (&officials.town_1, TOWN_1, "listLimit=0&overdueDays=0"),
        (&officials.district, DISTRICT, "listLimit=3&overdueDays=5"),
    ];
    for (token, scope, params) in cases {
        for figure in FIGURES {
            check_figure(&server, &all, token, figure, scope, params);
        }
    }

    // The answers say what they were asked: dates are whole days in UTC+8.
    let (_, answer) = get(
        &server,
        "/v1/stats/summary?from=2026-06-01&to=2026-08-31&overdueDays=45&asOf=1790000000000",
        Auth::Bearer(&officials.town_1),
    );
    let query = query_of(&answer, "summary");
    assert_eq!(
        query.period,
        Period::new(Some(JUNE_1), Some(SEPT_1)).unwrap()
    );
    assert_eq!((query.now, query.overdue_days), (T0, 45));

    // The figures are not trivial: each kind of case is in the data.
    let (_, answer) = get(
        &server,
        "/v1/stats/summary?scope=500110",
        Auth::Bearer(&officials.district),
    );
    let totals = &answer["disputes"]["totals"];
    for figure in ["resolved", "mediating", "failed", "escalated", "open"] {
        assert!(
            totals[figure].as_u64().unwrap() > 0,
            "some disputes are {figure}"
        );
    }
    assert!(answer["disputes"]["overdue"]["count"].as_u64().unwrap() > 0);
    assert!(
        answer["disputes"]["openHighRisk"]["count"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(
        !answer["disputes"]["possibleDuplicates"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        answer["disputes"]["linkedDuplicates"].as_u64().unwrap(),
        township.linked.len() as u64
    );
    assert!(
        answer["visits"]["followUps"]["pending"]["count"]
            .as_u64()
            .unwrap()
            > 0
    );

    // Lists carry a page of ids (100 unless asked), counts are complete.
    let (_, limited) = get(
        &server,
        "/v1/stats/summary?scope=500110&listLimit=2",
        Auth::Bearer(&officials.district),
    );
    let (_, everything) = get(
        &server,
        "/v1/stats/summary?scope=500110&listLimit=all",
        Auth::Bearer(&officials.district),
    );
    for list in [
        &limited["disputes"]["overdue"],
        &limited["disputes"]["openHighRisk"],
        &limited["visits"]["followUps"]["pending"],
    ] {
        assert!(list["count"].as_u64().unwrap() > 2, "{list}");
        assert_eq!(list["ids"].as_array().unwrap().len(), 2, "{list}");
    }
    let full = everything["disputes"]["overdue"]["ids"].as_array().unwrap();
    assert_eq!(
        full.len() as u64,
        everything["disputes"]["overdue"]["count"].as_u64().unwrap()
    );
    assert_eq!(
        limited["disputes"]["overdue"]["ids"].as_array().unwrap()[..],
        full[..2]
    );
    assert_eq!(limited["disputes"]["listLimit"], 2);
    assert_eq!(answer["disputes"]["listLimit"], 100);
    assert!(everything["disputes"]["listLimit"].is_null());

    // The same question twice gets the same answer (served from the cache).
    let again = get(
        &server,
        "/v1/stats/summary?scope=500110",
        Auth::Bearer(&officials.district),
    )
    .1;
    assert_eq!(again, answer);

    // Clients that accept gzip get the same answer gzipped.
    let mut response = township::agent()
        .get(format!("{}/v1/stats/summary?scope=500110", server.url()))
        .header("Authorization", format!("Bearer {}", officials.district))
        .header("Accept-Encoding", "gzip")
        .call()
        .expect("request completes");
    assert_eq!(
        response
            .headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("gzip")
    );
    let zipped = response.body_mut().read_to_vec().expect("body");
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&zipped[..]), &mut plain)
        .expect("gzip");
    assert!(
        zipped.len() * 3 < plain.len(),
        "{} of {}",
        zipped.len(),
        plain.len()
    );
    assert_eq!(serde_json::from_slice::<Value>(&plain).unwrap(), answer);
}

#[test]
fn scopes_are_enforced_on_every_endpoint() {
    let server = TestServer::start();
    let township = populate(&server, 6);
    let officials = Officials::enroll(&server);
    let t1_case = township.disputes.iter().find(|id| {
        get(
            &server,
            &format!("/v1/records/{id}"),
            Auth::Bearer(&officials.town_1),
        )
        .0 == 200
    });
    let t1_case = t1_case.expect("a dispute of town 1").to_string();

    let endpoints = [
        "/v1/stats/summary",
        "/v1/stats/by-village",
        "/v1/stats/by-category",
        "/v1/stats/by-month",
        "/v1/duplicates",
        "/v1/records",
        "/v1/export/disputes.csv",
        "/v1/export/visits.xlsx",
        "/v1/places",
    ];
    let refused = |token: &str, scope: &str| {
        for endpoint in endpoints {
            let path = format!("{endpoint}?scope={scope}");
            let (status, body) = get(&server, &path, Auth::Bearer(token));
            assert_eq!(status, 403, "{path}: {body}");
            assert_eq!(body["code"], "forbidden", "{path}");
        }
    };
    // A village cadre cannot read the town, nor the next village.
    refused(&officials.cadre_a, TOWN_1);
    refused(&officials.cadre_a, "500110101002");
    // A town official cannot read the next town, nor the district.
    refused(&officials.town_1, TOWN_2);
    refused(&officials.town_1, DISTRICT);
    refused(&officials.town_2, TOWN_1);

    // Within scope, and by default their own scope, they can.
    for (token, scope) in [
        (&officials.cadre_a, VILLAGE_A),
        (&officials.town_1, "500110101002"),
        (&officials.district, TOWN_2),
    ] {
        for endpoint in endpoints {
            for path in [format!("{endpoint}?scope={scope}"), endpoint.to_owned()] {
                let (status, _, _) = township::get_bytes(&server, &path, Auth::Bearer(token));
                assert_eq!(status, 200, "{path}");
            }
        }
    }

    // No token, or a wrong one: 401 everywhere, including per-record routes.
    let record_paths = [
        format!("/v1/records/{t1_case}"),
        format!("/v1/records/{t1_case}/timeline"),
        format!("/v1/records/{t1_case}/case"),
        "/v1/session".to_owned(),
        "/v1/events".to_owned(),
    ];
    for path in endpoints
        .iter()
        .map(|e| e.to_string())
        .chain(record_paths.iter().cloned())
    {
        for auth in [
            Auth::None,
            Auth::Bearer("not-a-token"),
            Auth::Cookie("fengqiao_session=00"),
        ] {
            let (status, body) = get(&server, &path, auth);
            assert_eq!(status, 401, "{path}");
            assert_eq!(body["code"], "unauthorized", "{path}");
        }
    }
    let (status, _) = post(
        &server,
        &format!("/v1/records/{t1_case}/duplicate-of"),
        Auth::None,
        "{\"of\": null}",
    );
    assert_eq!(status, 401);

    // A record outside the caller's scope is not found (its existence is
    // not revealed).
    for path in &record_paths[..3] {
        let (status, body) = get(&server, path, Auth::Bearer(&officials.town_2));
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(
            get(&server, path, Auth::Bearer(&officials.town_1)).0,
            200,
            "{path}"
        );
    }
}

#[test]
fn bad_parameters_are_refused_with_a_clear_message() {
    let server = TestServer::start();
    let officials = Officials::enroll(&server);
    let token = &officials.town_1;
    for path in [
        "/v1/stats/summary?scope=5001",
        "/v1/stats/summary?scope=abcdefghi",
        "/v1/stats/summary?from=2026-02-30",
        "/v1/stats/summary?from=yesterday",
        "/v1/stats/summary?from=2026-09-01&to=2026-08-01",
        "/v1/stats/summary?overdueDays=-3",
        "/v1/stats/summary?overdueDays=many",
        "/v1/stats/summary?listLimit=-1",
        "/v1/stats/summary?listLimit=lots",
        "/v1/stats/summary?listLimit=1000001",
        "/v1/stats/summary?asOf=soon",
        "/v1/stats/summary?colour=red",
        "/v1/stats/summary?scope=500110101&scope=500110101",
        "/v1/stats/by-month?to=2026-13-01",
        "/v1/duplicates?from=2026-9-1",
        "/v1/records?kind=case",
        "/v1/records?status=closed",
        "/v1/records?risk=extreme",
        "/v1/records?category=weather",
        "/v1/records?overdue=perhaps",
        "/v1/records?limit=0",
        "/v1/records?limit=100000",
        "/v1/records?after=garbage",
        "/v1/records?sort=title",
        "/v1/records?page=0",
        "/v1/records?page=two",
        "/v1/records?page=100001",
        "/v1/records?per_page=0",
        "/v1/records?per_page=201",
        "/v1/records?per_page=-5",
        "/v1/records?page=2&limit=10",
        "/v1/records?page=2&after=v.500110101001.x",
        "/v1/records?sort=reported&after=d.5.x",
        "/v1/records?village=123",
        "/v1/records?scope=500110101&village=500110102001",
        "/v1/records/not-an-id",
        "/v1/records/not-an-id/timeline",
        "/v1/export/disputes.csv?from=tomorrow",
        "/v1/export/disputes.csv?listLimit=3",
        "/v1/export/disputes.csv?overdueDays=many",
        "/v1/report/monthly?month=2026-13",
        "/v1/report/monthly?from=2026-01-01",
        "/v1/stats/compare?from=2026-02-30",
    ] {
        let (status, body) = get(&server, path, Auth::Bearer(token));
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["code"], "bad_request", "{path}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.len() > 10,
            "{path}: the message says what is wrong: {message:?}"
        );
    }
    let (status, body) = get(&server, "/v1/export/everything.pdf", Auth::Bearer(token));
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    // The development token has no scope of its own: it must name one.
    let (status, body) = get(
        &server,
        "/v1/stats/summary",
        Auth::Bearer(fengqiao_tests::TOKEN),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("bad_request")),
        "{body}"
    );
    assert_eq!(
        get(
            &server,
            "/v1/stats/summary?scope=500110",
            Auth::Bearer(fengqiao_tests::TOKEN)
        )
        .0,
        200
    );
}

/// The ids of every page of a record list, following the cursors.
fn all_pages(server: &TestServer, token: &str, params: &str) -> Vec<Summary> {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..1000 {
        let mut path = format!("/v1/records?{params}&limit=7");
        if let Some(cursor) = &after {
            path.push_str(&format!("&after={cursor}"));
        }
        let (status, page) = get(server, &path, Auth::Bearer(token));
        assert_eq!(status, 200, "{path}: {page}");
        let page_items: Vec<Summary> = serde_json::from_value(page["items"].clone()).unwrap();
        assert!(page_items.len() <= 7);
        items.extend(page_items);
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => return items,
        }
    }
    panic!("the list never ended");
}

fn ids(summaries: &[Summary]) -> Vec<DocumentId> {
    summaries.iter().map(|s| s.id.clone()).collect()
}

#[test]
fn record_lists_filter_search_and_page() {
    let server = TestServer::start();
    populate(&server, 30);
    let officials = Officials::enroll(&server);
    let phone = observer(&server);
    let town: Vec<Summary> = {
        let mut town = summaries_in(&phone, TOWN_1);
        town.sort_by(|a, b| (&a.village, &a.id).cmp(&(&b.village, &b.id)));
        town
    };
    let token = &officials.town_1;
    let keep = |f: &dyn Fn(&Summary) -> bool| -> Vec<DocumentId> {
        town.iter().filter(|s| f(s)).map(|s| s.id.clone()).collect()
    };

    // Every record of the town, page by page, in village then id order.
    assert_eq!(ids(&all_pages(&server, token, "")), keep(&|_| true));
    assert_eq!(
        ids(&all_pages(&server, token, "kind=visit")),
        keep(&|s| s.kind == RecordKind::Visit)
    );
    assert_eq!(
        ids(&all_pages(&server, token, "status=unresolved&risk=high")),
        keep(&|s| s.kind == RecordKind::Dispute
            && s.status.unwrap_or(Status::Open) != Status::Resolved
            && s.risk == Some(Risk::High))
    );
    assert_eq!(
        ids(&all_pages(
            &server,
            token,
            "status=escalated&village=500110101002"
        )),
        keep(&|s| s.village.as_str() == "500110101002" && s.status == Some(Status::Escalated))
    );
    assert_eq!(
        ids(&all_pages(&server, token, "category=land")),
        keep(&|s| s.category == Some(fengqiao_shared::vocab::Category::Land))
    );
    // Text search looks in titles and party names.
    let name = "王建国";
    let found = all_pages(
        &server,
        token,
        &format!("q={}", "%E7%8E%8B%E5%BB%BA%E5%9B%BD"),
    );
    assert_eq!(
        ids(&found),
        keep(&|s| s.title.contains(name) || s.party_names.iter().any(|p| p.contains(name)))
    );
    assert!(!found.is_empty());
    let title_word = all_pages(&server, token, "q=%E5%AE%85%E5%9F%BA%E5%9C%B0");
    assert_eq!(ids(&title_word), keep(&|s| s.title.contains("宅基地")));
    // Overdue: exactly the statistics' overdue list.
    let (_, answer) = get(
        &server,
        "/v1/stats/summary?asOf=1790000000000",
        Auth::Bearer(token),
    );
    let mut overdue: Vec<String> =
        serde_json::from_value(answer["disputes"]["overdue"]["ids"].clone()).unwrap();
    overdue.sort();
    let mut listed: Vec<String> = all_pages(&server, token, "overdue=true&asOf=1790000000000")
        .iter()
        .map(|s| s.id.to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, overdue);
    assert!(!listed.is_empty());
    // The period selects disputes by creation and visits by visit time.
    let (from, to) = (T0 - 60 * DAY, T0 - 30 * DAY);
    assert_eq!(
        ids(&all_pages(&server, token, &format!("from={from}&to={to}"))),
        keep(&|s| {
            let at = s
                .visited_at
                .filter(|_| s.kind == RecordKind::Visit)
                .unwrap_or(s.created_at);
            (from..to).contains(&at)
        })
    );

    // Latest activity first, paged.
    let recent = all_pages(&server, token, "sort=recent");
    let mut expected = town.clone();
    expected.sort_by(|a, b| b.last_activity.cmp(&a.last_activity).then(a.id.cmp(&b.id)));
    assert_eq!(ids(&recent), ids(&expected));

    // Latest reported first, by cursor and by numbered pages alike.
    let mut reported = town.clone();
    reported.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    assert_eq!(
        ids(&all_pages(&server, token, "sort=reported")),
        ids(&reported)
    );
    // Numbered pages give the same orders.
    for (sort, expected) in [
        ("reported", ids(&reported)),
        ("recent", ids(&expected)),
        ("village", keep(&|_| true)),
    ] {
        let numbered = numbered_pages(&server, token, &format!("sort={sort}"), 40);
        assert_eq!(numbered, expected, "sort={sort}");
    }
    // Numbered pages of a search and filter: the total counts every match.
    let wanted =
        keep(&|s| s.kind == RecordKind::Dispute && s.party_names.iter().any(|p| p.contains(name)));
    let (status, page) = get(
        &server,
        "/v1/records?kind=dispute&q=%E7%8E%8B%E5%BB%BA%E5%9B%BD&page=1&per_page=2",
        Auth::Bearer(token),
    );
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], wanted.len());
    assert_eq!(page["pages"], wanted.len().div_ceil(2).max(1));
    assert_eq!(
        (page["page"].as_u64(), page["perPage"].as_u64()),
        (Some(1), Some(2))
    );
    // A page past the end is empty, not an error.
    let (status, page) = get(
        &server,
        "/v1/records?page=5000&per_page=200",
        Auth::Bearer(token),
    );
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0));
    assert_eq!(page["total"], town.len());
}

/// Every record of a list by numbered pages of `per_page`.
fn numbered_pages(
    server: &TestServer,
    token: &str,
    params: &str,
    per_page: usize,
) -> Vec<DocumentId> {
    let mut found = Vec::new();
    let mut page = 1;
    loop {
        let path = format!("/v1/records?{params}&page={page}&per_page={per_page}");
        let (status, answer) = get(server, &path, Auth::Bearer(token));
        assert_eq!(status, 200, "{path}: {answer}");
        let items: Vec<Summary> = serde_json::from_value(answer["items"].clone()).unwrap();
        assert!(items.len() <= per_page);
        assert!(answer["next"].is_null(), "numbered pages have no cursor");
        found.extend(ids(&items));
        let pages = answer["pages"].as_u64().unwrap_or(0) as usize;
        assert_eq!(
            answer["total"]
                .as_u64()
                .map(|n| n as usize)
                .map(|n| n.div_ceil(per_page).max(1)),
            Some(pages)
        );
        if page >= pages {
            return found;
        }
        page += 1;
    }
}

#[test]
fn timelines_are_in_fold_order_with_the_derived_status() {
    let server = TestServer::start();
    let township = populate(&server, 12);
    let officials = Officials::enroll(&server);
    let phone = observer(&server);
    let mut checked = 0;
    for id in &township.disputes {
        let (status, timeline) = get(
            &server,
            &format!("/v1/records/{id}/timeline"),
            Auth::Bearer(&officials.district),
        );
        assert_eq!(status, 200, "{timeline}");
        let Record::Dispute(dispute) = phone.replica.record(id).unwrap() else {
            panic!("a dispute");
        };
        let events: Vec<Value> = dispute
            .timeline()
            .iter()
            .map(|e| {
                json!({
                    "at": e.at, "by": e.by, "kind": e.kind, "level": e.level,
                    "outcome": e.outcome, "note": e.note, "satisfied": e.satisfied,
                    "assignee": e.assignee, "due": e.due,
                })
            })
            .collect();
        assert_eq!(timeline["events"], Value::Array(events), "{id}");
        assert_eq!(timeline["status"], as_seen(&dispute.status()));
        assert_eq!(
            timeline["maxEscalationLevel"],
            as_seen(&dispute.max_escalation_level())
        );
        assert_eq!(timeline["resolvedAt"], as_seen(&dispute.resolved_at()));
        assert_eq!(timeline["stage"], as_seen(&dispute.stage()));
        checked += 1;
    }
    assert!(checked > 20);
    // A visit has no timeline.
    let visit = &township.visits[0];
    let (status, body) = get(
        &server,
        &format!("/v1/records/{visit}/timeline"),
        Auth::Bearer(&officials.district),
    );
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_request")));

    // The case page's file: the timeline, and the audit trail for those
    // who oversee, not for the village cadre.
    let in_a = township
        .disputes
        .iter()
        .find(|id| phone.replica.record(id).unwrap().header().village.as_str() == VILLAGE_A)
        .expect("a dispute of village A");
    let (status, file) = get(
        &server,
        &format!("/v1/records/{in_a}/case"),
        Auth::Bearer(&officials.town_1),
    );
    assert_eq!(status, 200);
    assert!(
        file["timeline"]["events"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
    );
    let history = file["history"].as_array().expect("an audit trail");
    assert!(!history.is_empty());
    assert!(
        history[0]["summary"]
            .as_str()
            .unwrap()
            .contains("dispute reported")
    );
    assert_eq!(file["canLink"], true);
    let (status, file) = get(
        &server,
        &format!("/v1/records/{in_a}/case"),
        Auth::Bearer(&officials.cadre_a),
    );
    assert_eq!(status, 200);
    assert_eq!(file["history"], Value::Null);
    assert!(file["historyRefused"].is_string());
    assert_eq!(file["canLink"], false);
}

#[test]
fn linked_duplicates_count_once_and_only_town_officials_link() {
    let server = TestServer::start();
    populate(&server, 40);
    let officials = Officials::enroll(&server);
    let town = &officials.town_1;
    let (_, answer) = get(&server, "/v1/duplicates", Auth::Bearer(town));
    let pair = answer["pairs"][0].clone();
    assert!(pair.is_object(), "town 1 has possible duplicates: {answer}");
    // Why the pair is suggested: the same village and category, the names
    // both share, how many days apart.
    let record = |id: &Value| answer["records"][id.as_str().unwrap()].clone();
    assert_eq!(pair["category"], record(&pair["first"])["category"]);
    assert_eq!(pair["category"], record(&pair["second"])["category"]);
    assert_eq!(pair["village"], record(&pair["first"])["village"]);
    assert!(
        pair["sharedNames"]
            .as_array()
            .is_some_and(|names| !names.is_empty()),
        "{pair}"
    );
    assert!(
        pair["daysApart"].as_f64().is_some_and(|d| d <= 14.0),
        "{pair}"
    );
    let (first, second) = (
        pair["first"].as_str().unwrap(),
        pair["second"].as_str().unwrap(),
    );
    let path = format!("/v1/records/{second}/duplicate-of");
    let link = json!({ "of": first }).to_string();
    let before = get(
        &server,
        "/v1/stats/summary?asOf=1790000000000",
        Auth::Bearer(town),
    )
    .1;

    // Who may not link.
    for (token, status, code) in [
        (&officials.cadre_a, 403, "forbidden"),
        (&officials.supervisor_1, 403, "forbidden"),
        (&officials.district, 403, "forbidden"),
        (&officials.town_2, 404, "not_found"),
    ] {
        let (got, body) = post(&server, &path, Auth::Bearer(token), &link);
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{body}");
    }
    // Malformed requests.
    for body in [
        "",
        "{}",
        "{\"of\": 5}",
        "{\"of\": \"nope\"}",
        "{\"of\": null, \"x\": 1}",
    ] {
        let (status, answer) = post(&server, &path, Auth::Bearer(town), body);
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some("bad_request")),
            "{body}: {answer}"
        );
    }
    let (status, _) = post(
        &server,
        &path,
        Auth::Bearer(town),
        &json!({ "of": second }).to_string(),
    );
    assert_eq!(status, 400, "a case cannot duplicate itself");
    let (status, _) = post(
        &server,
        &path,
        Auth::Bearer(town),
        &json!({ "of": DocumentId::random().to_string() }).to_string(),
    );
    assert_eq!(status, 404, "the original must exist");

    // The town official links it.
    let (status, linked) = post(&server, &path, Auth::Bearer(town), &link);
    assert_eq!(status, 200, "{linked}");
    assert_eq!(linked["changed"], true);
    assert_eq!(linked["summary"]["duplicateOf"], first);
    let (status, again) = post(&server, &path, Auth::Bearer(town), &link);
    assert_eq!((status, again["changed"].as_bool()), (200, Some(false)));

    // It now counts once: one dispute fewer, one more linked duplicate, and
    // the pair is no longer a candidate — exactly as the shared statistics
    // say over the summaries phones now receive.
    let after = get(
        &server,
        "/v1/stats/summary?asOf=1790000000000",
        Auth::Bearer(town),
    )
    .1;
    let count = |answer: &Value, field: &str| answer["disputes"][field].as_u64().unwrap();
    assert_eq!(
        count(&after, "linkedDuplicates"),
        count(&before, "linkedDuplicates") + 1
    );
    let totals = |answer: &Value| answer["disputes"]["totals"]["total"].as_u64().unwrap();
    let created_at = get(
        &server,
        &format!("/v1/records/{second}"),
        Auth::Bearer(town),
    )
    .1["createdAt"]
        .clone();
    assert!(created_at.is_i64());
    assert_eq!(totals(&after), totals(&before) - 1);
    let pairs = after["disputes"]["possibleDuplicates"].as_array().unwrap();
    assert!(
        !pairs
            .iter()
            .any(|p| p["first"] == first && p["second"] == second)
    );
    let phone = observer(&server);
    let summaries = summaries_in(&phone, TOWN_1);
    let query = query_of(&after, "summary");
    assert_eq!(after, as_seen(&stats::statistics(&summaries, &query)));
    // Every figure of the town and of the district it lies in agrees with
    // the shared statistics after the change.
    let district = summaries_in(&phone, DISTRICT);
    for figure in FIGURES {
        check_figure(
            &server,
            &district,
            town,
            figure,
            TOWN_1,
            "asOf=1790000000000",
        );
        check_figure(
            &server,
            &district,
            &officials.district,
            figure,
            DISTRICT,
            "",
        );
    }
    // The link is an attributed change in the record's audit trail.
    let (_, file) = get(
        &server,
        &format!("/v1/records/{second}/case"),
        Auth::Bearer(town),
    );
    let last = file["history"].as_array().unwrap().last().unwrap().clone();
    assert!(
        last["summary"]
            .as_str()
            .unwrap()
            .contains("marked duplicate of"),
        "{last}"
    );
    assert_eq!(last["person"], "official-t1");

    // Unlinking restores the count.
    let (status, _) = post(&server, &path, Auth::Bearer(town), "{\"of\": null}");
    assert_eq!(status, 200);
    let restored = get(
        &server,
        "/v1/stats/summary?asOf=1790000000000",
        Auth::Bearer(town),
    )
    .1;
    assert_eq!(totals(&restored), totals(&before));
}

#[test]
fn the_api_accepts_a_dashboard_session_and_answers_fresh_figures() {
    let server = TestServer::start();
    populate(&server, 5);
    let officials = Officials::enroll(&server);
    let (cookie, set_cookie) = sign_in(&server, &officials.town_1);
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let session_id = cookie.split_once('=').unwrap().1;
    assert_eq!(session_id.len(), 64, "a 256-bit session id");
    let (status, me) = get(&server, "/v1/session", Auth::Cookie(&cookie));
    assert_eq!(status, 200);
    assert_eq!(me["scope"], TOWN_1);
    assert_eq!(me["mayLink"], true);
    assert_eq!(me["labels"]["status"]["resolved"], "已化解");
    let (status, first) = get(&server, "/v1/stats/summary", Auth::Cookie(&cookie));
    assert_eq!(status, 200);
    assert_eq!(first["disputes"]["scope"], TOWN_1);
    // The same session cannot reach past its scope.
    assert_eq!(
        get(
            &server,
            "/v1/stats/summary?scope=500110102",
            Auth::Cookie(&cookie)
        )
        .0,
        403
    );

    // A new record is in the very next answer.
    let mut phone = fengqiao_tests::Phone::new("cadre-new");
    let new_id = phone.report(VILLAGE_A, "新登记的纠纷", T0);
    phone.sync(&server.url());
    let (_, second) = get(&server, "/v1/stats/summary", Auth::Cookie(&cookie));
    let total = |answer: &Value| answer["disputes"]["totals"]["total"].as_u64().unwrap();
    assert_eq!(total(&second), total(&first) + 1);
    // Its audit trail, with the session as with a bearer token.
    let history = format!("/v1/records/{new_id}/history");
    let (status, trail) = get(&server, &history, Auth::Cookie(&cookie));
    assert_eq!(status, 200, "{trail}");
    assert_eq!(trail.as_array().map(Vec::len), Some(1), "{trail}");

    // Signing out ends the session on the server.
    let (status, _) = post(&server, "/dashboard/logout", Auth::Cookie(&cookie), "");
    assert_eq!(status, 204);
    assert_eq!(get(&server, "/v1/session", Auth::Cookie(&cookie)).0, 401);
    assert_eq!(get(&server, &history, Auth::Cookie(&cookie)).0, 401);
    // Wrong tokens do not open sessions.
    let (status, body) = post(
        &server,
        "/dashboard/login",
        Auth::None,
        "{\"token\": \"guess\"}",
    );
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
    let (status, _) = post(&server, "/dashboard/login", Auth::None, "{\"tok\": 1}");
    assert_eq!(status, 400);
}

#[test]
fn live_notices_name_only_records_in_the_callers_scope() {
    use std::io::{BufRead, BufReader};

    let server = TestServer::start();
    let officials = Officials::enroll(&server);
    let mut response = township::agent()
        .get(format!("{}/v1/events", server.url()))
        .header("Authorization", format!("Bearer {}", officials.cadre_a))
        .call()
        .expect("the event stream opens");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    assert_eq!(content_type, Some("text/event-stream"));
    let mut lines = BufReader::new(response.body_mut().as_reader()).lines();
    let mut next_event = || -> (String, String) {
        let (mut name, mut data) = (String::new(), String::new());
        for line in lines.by_ref() {
            let line = line.expect("a line of the stream");
            if let Some(value) = line.strip_prefix("event: ") {
                name = value.to_owned();
            } else if let Some(value) = line.strip_prefix("data: ") {
                data = value.to_owned();
            } else if line.is_empty() && !name.is_empty() {
                return (name, data);
            }
        }
        panic!("the stream ended");
    };
    assert_eq!(next_event().0, "ready");

    // A record of the next village first, then one of the cadre's own.
    let mut phone = fengqiao_tests::Phone::new("cadre-b");
    let elsewhere = phone.report("500110101002", "邻村的纠纷", T0);
    phone.sync(&server.url());
    let own = phone.report(VILLAGE_A, "本村的纠纷", T0);
    phone.sync(&server.url());
    let (name, data) = next_event();
    assert_eq!(name, "change");
    let notice: Value = serde_json::from_str(&data).expect("JSON data");
    assert_eq!(
        notice["id"],
        own.to_string(),
        "the first notice is the cadre's own village"
    );
    assert_eq!(notice["village"], VILLAGE_A);
    assert_ne!(notice["id"], elsewhere.to_string());
}

/// The value of one metric in `/metrics`.
fn metric(server: &TestServer, name: &str) -> f64 {
    server
        .metrics()
        .lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name}"))
}

#[test]
fn a_restarted_server_gets_officials_reports_ready_before_they_ask() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = TestServer::start_in(dir.path());
    let township = populate(&server, 6);
    let records = (township.disputes.len() + township.visits.len()) as f64;
    Officials::enroll(&server);
    server.stop();

    let server = TestServer::start_in(dir.path());
    // Nobody asks for anything: the district official's scope is loaded in
    // the background.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while metric(&server, "fengqiao_report_records") < records {
        assert!(
            std::time::Instant::now() < deadline,
            "reports were not loaded at start: {} of {records} records",
            metric(&server, "fengqiao_report_records")
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(metric(&server, "fengqiao_report_records"), records);
    assert!(metric(&server, "fengqiao_report_bytes") > 0.0);
}

/// The six disputes of [`fengqiao_tests::hand_counted_town`], and what
/// every endpoint must say of them, counted by hand (not with the
/// statistics code).
#[test]
fn a_hand_counted_town_gets_exactly_its_figures() {
    let server = TestServer::start();
    let town = fengqiao_tests::hand_counted_town(&server);
    let (a, b, d, f) = (&town.open, &town.mediating, &town.escalated, &town.failed);
    let official = server
        .enroll(
            "official-hand",
            fengqiao_shared::access::Role::Town,
            "500110101",
        )
        .1;
    let ask = |path: &str| {
        let (status, answer) = get(&server, path, Auth::Bearer(&official));
        assert_eq!(status, 200, "{path}: {answer}");
        answer
    };
    let ids = |list: &Value| -> Vec<String> {
        let mut ids: Vec<String> = list
            .as_array()
            .expect("a list")
            .iter()
            .map(|id| id.as_str().expect("an id").to_owned())
            .collect();
        ids.sort();
        ids
    };
    let names = |records: &[&DocumentId]| -> Vec<String> {
        let mut ids: Vec<String> = records.iter().map(|id| id.to_string()).collect();
        ids.sort();
        ids
    };
    let figures = |disputes: &Value, expected: Value| {
        for (key, value) in expected.as_object().expect("an object") {
            assert_eq!(&disputes[key], value, "{key} in {disputes}");
        }
    };

    let summary = ask("/v1/stats/summary");
    let disputes = &summary["disputes"];
    // "open" counts every dispute not resolved. Of the six received, the
    // labour case was resolved in the village and the debt case at the
    // town (both grassroots); the neighbour case went to the district; the
    // land case failed; two are still open in the village.
    figures(
        &disputes["totals"],
        json!({"total": 6, "received": 6, "open": 4, "mediating": 1, "escalated": 1,
               "failed": 1, "resolved": 2, "resolutionRate": 2.0 / 6.0,
               "villageResolved": 1, "townResolved": 1, "grassrootsResolved": 2,
               "stillOpen": 2, "failedInTownship": 1, "escalatedBeyondTownship": 1,
               "resolvedBeyondTownship": 0,
               "grassrootsRate": 2.0 / 6.0, "villageRate": 1.0 / 6.0,
               "grassrootsTargetMet": false, "medianDaysToResolve": 15.0}),
    );
    // Every figure is defined in both languages.
    assert!(
        summary["definitions"]["grassrootsRate"]["zh"]
            .as_str()
            .is_some_and(|text| text.contains("受理纠纷"))
    );
    assert!(
        summary["definitions"]["grassrootsRate"]["en"]
            .as_str()
            .is_some_and(|text| text.contains("received"))
    );
    assert_eq!(ids(&disputes["overdue"]["ids"]), names(&[a, b, d, f]));
    assert_eq!(ids(&disputes["openHighRisk"]["ids"]), names(&[a, d]));
    assert_eq!(
        disputes["byVillageStatus"]["500110101001"],
        json!({"open": 1, "mediating": 1, "escalated": 0, "failed": 0, "resolved": 0})
    );
    assert_eq!(
        disputes["byVillageStatus"]["500110101002"],
        json!({"open": 0, "mediating": 0, "escalated": 1, "failed": 1, "resolved": 2})
    );
    assert_eq!(summary["visits"]["total"], 0);

    // Same village, the same parties, at most a week apart — but each of
    // another category: different disputes, so none is a possible
    // duplicate (the six cases share their parties, and the old rule paired
    // a/b, d/e, d/f and e/f).
    let mut pairs: Vec<(Vec<String>, f64)> = ask("/v1/duplicates")["pairs"]
        .as_array()
        .expect("pairs")
        .iter()
        .map(|pair| {
            let mut both = vec![
                pair["first"].as_str().expect("an id").to_owned(),
                pair["second"].as_str().expect("an id").to_owned(),
            ];
            both.sort();
            (both, pair["daysApart"].as_f64().expect("days"))
        })
        .collect();
    pairs.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(pairs, Vec::<(Vec<String>, f64)>::new());

    let rows = |path: &str, key: &str| -> Vec<(String, Value)> {
        ask(path)["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|row| (row[key].as_str().expect("a key").to_owned(), row.clone()))
            .collect()
    };
    let villages = rows("/v1/stats/by-village", "village");
    assert_eq!(villages.len(), 2);
    let (v1, v2) = (&villages[0].1, &villages[1].1);
    assert_eq!(villages[0].0, "500110101001");
    figures(
        &v1["disputes"],
        json!({"total": 2, "open": 2, "mediating": 1, "resolved": 0, "failed": 0,
               "escalated": 0, "medianDaysToResolve": null, "grassrootsRate": 0.0,
               "stillOpen": 2}),
    );
    assert_eq!(
        (&v1["overdue"], &v1["openHighRisk"]),
        (&json!(2), &json!(1))
    );
    assert_eq!(villages[1].0, "500110101002");
    figures(
        &v2["disputes"],
        json!({"total": 4, "open": 2, "mediating": 0, "resolved": 2, "failed": 1,
               "escalated": 1, "medianDaysToResolve": 15.0, "grassrootsRate": 0.5,
               "resolutionRate": 0.5}),
    );
    assert_eq!(
        (&v2["overdue"], &v2["openHighRisk"]),
        (&json!(2), &json!(1))
    );

    let categories = rows("/v1/stats/by-category", "category");
    let expected_categories = [
        ("land", json!({"total": 2, "failed": 1, "open": 2})),
        ("family", json!({"total": 1, "mediating": 1})),
        (
            "labor",
            json!({"total": 1, "resolved": 1, "medianDaysToResolve": 10.0}),
        ),
        ("neighbor", json!({"total": 1, "escalated": 1})),
        (
            "debt",
            json!({"total": 1, "resolved": 1, "grassrootsResolved": 1, "townResolved": 1,
                   "villageResolved": 0}),
        ),
    ];
    for (category, row) in &categories {
        match expected_categories.iter().find(|(c, _)| c == category) {
            Some((_, expected)) => figures(&row["disputes"], expected.clone()),
            None => assert_eq!(row["disputes"]["total"], 0, "{category}"),
        }
    }
    for (category, _) in &expected_categories {
        assert!(
            categories.iter().any(|(c, _)| c == category),
            "no row for {category}"
        );
    }

    let months = rows("/v1/stats/by-month", "month");
    assert_eq!(
        months.iter().map(|(m, _)| m.as_str()).collect::<Vec<_>>(),
        ["2025-03", "2025-04"]
    );
    figures(
        &months[0].1["disputes"],
        json!({"total": 3, "resolved": 1, "mediating": 1, "medianDaysToResolve": 10.0,
               "grassrootsRate": 1.0 / 3.0}),
    );
    figures(
        &months[1].1["disputes"],
        json!({"total": 3, "resolved": 1, "escalated": 1, "failed": 1,
               "medianDaysToResolve": 20.0, "grassrootsRate": 1.0 / 3.0,
               "escalatedBeyondTownship": 1}),
    );
}
