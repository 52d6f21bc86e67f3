//! Township statistics on a fixed, hand-built set of records.
//!
//! Three villages of one town (东岭 `…001`, 西河 `…002`, 南山 `…003` in town
//! 500110101), plus a record of the next town that must never count. Every
//! expected number is worked out by hand beside its assertion, so a change in
//! a definition shows up here as a change in arithmetic someone can check.
//!
//! All times are Beijing time (UTC+8), the query's default offset.
//! The query: as of 2026-11-26 08:00, period October and November 2026
//! (2026-10-01 00:00 inclusive to 2026-12-01 00:00 exclusive), overdue after
//! 30 days, so open disputes created before 2026-10-27 08:00 are overdue.
//!
//! Disputes (status, category, risk, created → resolved, highest escalation):
//!
//! | id | village | created | status | category | risk | resolved | max level |
//! |---|---|---|---|---|---|---|---|
//! | D1 | 001 | 10-03 09:00 | resolved | land | low | 10-08 09:00 (5 d) | — |
//! | D2 | 001 | 10-10 09:00 | resolved | neighbor | medium | 10-20 09:00 (10 d) | village |
//! | D3 | 001 | 10-12 09:00 | escalated | debt | high | | town |
//! | D4 | 001 | 11-20 10:00 | mediating | family | high | | |
//! | D5 | 001 | 10-11 09:00 | open, **duplicate of D2** | neighbor | medium | | |
//! | D6 | 001 | 11-15 09:00 | open | land | medium | | |
//! | D7 | 002 | 10-05 09:00 | resolved | contract | low | 10-07 09:00 (2 d) | village |
//! | D8 | 002 | 10-20 09:00 | resolved | labor | medium | 11-09 21:00 (20.5 d) | town |
//! | D9 | 002 | 10-25 09:00 | failed | damage | high | | |
//! | D10 | 002 | 11-02 09:00 | open | damage | medium | | |
//! | D11 | 002 | 11-22 09:00 | resolved | environment | low | 11-24 21:00 (2.5 d) | — |
//! | D12 | 003 | 09-10 09:00 (before the period) | open | land | high | | |
//! | D13 | 003 | 11-01 04:00 (10-31 20:00 UTC) | mediating | other | low | | |
//! | D14 | 003 | 10-15 09:00 | resolved | neighbor | medium | 10-16 09:00 (1 d) | — |
//! | D15 | next town | 10-01 09:00 | open | land | high | | |
//!
//! Counted in the period: D1–D4, D6–D11, D13, D14 = 12 (D5 is a linked
//! duplicate, D12 was created before the period, D15 is out of scope).

use std::collections::BTreeMap;

use fengqiao_shared::stats::calendar::days_from_civil;
use fengqiao_shared::stats::{
    self, CaseList, DisputeFigures, GRASSROOTS_TARGET, IsoWeek, MILLIS_PER_DAY, Period, StatsQuery,
    YearMonth,
};
use fengqiao_shared::vocab::{Category, Level, RecordKind, Risk, Sentiment, Status, Topic};
use fengqiao_shared::{DocumentId, Millis, Scope, Summary, VillageCode};

const EAST: &str = "500110101001";
const WEST: &str = "500110101002";
const SOUTH: &str = "500110101003";
const NEXT_TOWN: &str = "500110102001";

/// A Beijing wall-clock time (UTC+8) as milliseconds since the epoch.
fn bj(month: u32, day: u32, hour: i64, minute: i64) -> Millis {
    days_from_civil(2026, month, day) * MILLIS_PER_DAY + hour * 3_600_000 + minute * 60_000
        - 8 * 3_600_000
}

fn village(code: &str) -> VillageCode {
    VillageCode::new(code).expect("valid village code")
}

/// Dispute `n` is `D{n}`, visit `n` is `W{n}`: ids are 16 bytes of `n`
/// (disputes) or `100 + n` (visits), so id order is number order.
fn doc(n: u8) -> DocumentId {
    DocumentId::from_bytes(&[n; 16]).expect("16 bytes make an id")
}

fn ids(numbers: &[u8]) -> Vec<DocumentId> {
    numbers.iter().map(|&n| doc(n)).collect()
}

fn case_list(numbers: &[u8]) -> CaseList {
    CaseList {
        count: numbers.len() as u64,
        ids: ids(numbers),
    }
}

fn blank(n: u8, kind: RecordKind, village_code: &str, created_at: Millis) -> Summary {
    Summary::new(doc(n), kind, village(village_code), created_at, "cadre-liu")
}

fn dispute(
    n: u8,
    village_code: &str,
    created_at: Millis,
    status: Status,
    category: Category,
    risk: Risk,
    parties: &[&str],
) -> Summary {
    Summary {
        title: format!("D{n}"),
        status: Some(status),
        category: Some(category),
        risk: Some(risk),
        party_names: parties.iter().map(|p| p.to_string()).collect(),
        event_count: 1,
        ..blank(n, RecordKind::Dispute, village_code, created_at)
    }
}

fn resolved(mut summary: Summary, at: Millis, max_level: Option<Level>) -> Summary {
    summary.resolved_at = Some(at);
    summary.max_escalation_level = max_level;
    summary
}

fn visit(
    n: u8,
    village_code: &str,
    cadre: &str,
    visited_at: Option<Millis>,
    topics: &[Topic],
    sentiment: Option<Sentiment>,
) -> Summary {
    let created_at = visited_at.unwrap_or(bj(11, 3, 9, 0));
    Summary {
        created_by: cadre.into(),
        visited_at,
        topics: topics.to_vec(),
        sentiment,
        ..blank(100 + n, RecordKind::Visit, village_code, created_at)
    }
}

fn follow_up(mut summary: Summary, done: bool, due: Option<Millis>) -> Summary {
    summary.follow_up_needed = true;
    summary.follow_up_done = done;
    summary.follow_up_due = due;
    summary
}

fn records() -> Vec<Summary> {
    use Category::*;
    use Risk::*;
    use Status::*;
    let d3 = dispute(
        3,
        EAST,
        bj(10, 12, 9, 0),
        Escalated,
        Debt,
        High,
        &["Sun Li"],
    );
    let d3 = Summary {
        escalation_level: Some(Level::District),
        max_escalation_level: Some(Level::District),
        ..d3
    };
    let d5 = Summary {
        duplicate_of: Some(doc(2)),
        ..dispute(
            5,
            EAST,
            bj(10, 11, 9, 0),
            Open,
            Neighbor,
            Medium,
            &["zhao min"],
        )
    };
    vec![
        resolved(
            dispute(
                1,
                EAST,
                bj(10, 3, 9, 0),
                Resolved,
                Land,
                Low,
                &["Wang Fang", "Li Qiang"],
            ),
            bj(10, 8, 9, 0),
            None,
        ),
        resolved(
            dispute(
                2,
                EAST,
                bj(10, 10, 9, 0),
                Resolved,
                Neighbor,
                Medium,
                &["Zhao Min"],
            ),
            bj(10, 20, 9, 0),
            Some(Level::Village),
        ),
        d3,
        // Shares "wang fang" with D1, but 48 days later: not a duplicate.
        dispute(
            4,
            EAST,
            bj(11, 20, 10, 0),
            Mediating,
            Family,
            High,
            &[" wang fang ", "Chen Jie"],
        ),
        d5,
        dispute(6, EAST, bj(11, 15, 9, 0), Open, Land, Medium, &["Liu Yang"]),
        resolved(
            dispute(
                7,
                WEST,
                bj(10, 5, 9, 0),
                Resolved,
                Contract,
                Low,
                &["Gao Feng"],
            ),
            bj(10, 7, 9, 0),
            Some(Level::Village),
        ),
        resolved(
            dispute(
                8,
                WEST,
                bj(10, 20, 9, 0),
                Resolved,
                Labor,
                Medium,
                &["Xu Bo"],
            ),
            bj(11, 9, 21, 0),
            Some(Level::Town),
        ),
        dispute(
            9,
            WEST,
            bj(10, 25, 9, 0),
            Failed,
            Damage,
            High,
            &["Huang Wei", "Zhou Na"],
        ),
        dispute(
            10,
            WEST,
            bj(11, 2, 9, 0),
            Open,
            Damage,
            Medium,
            &["ZHOU NA"],
        ),
        resolved(
            dispute(
                11,
                WEST,
                bj(11, 22, 9, 0),
                Resolved,
                Environment,
                Low,
                &["Qian Hui"],
            ),
            bj(11, 24, 21, 0),
            None,
        ),
        dispute(12, SOUTH, bj(9, 10, 9, 0), Open, Land, High, &["Ma Lin"]),
        // Shares "zhou na" with D10, 1 day apart, but in another village.
        dispute(
            13,
            SOUTH,
            bj(11, 1, 4, 0),
            Mediating,
            Other,
            Low,
            &["Zhou Na"],
        ),
        resolved(
            dispute(
                14,
                SOUTH,
                bj(10, 15, 9, 0),
                Resolved,
                Neighbor,
                Medium,
                &["He Ping"],
            ),
            bj(10, 16, 9, 0),
            None,
        ),
        dispute(
            15,
            NEXT_TOWN,
            bj(10, 1, 9, 0),
            Open,
            Land,
            High,
            &["Wang Fang"],
        ),
        // Visits.
        visit(
            1,
            EAST,
            "cadre-liu",
            Some(bj(11, 16, 10, 0)),
            &[Topic::Livelihood, Topic::Health],
            Some(Sentiment::Positive),
        ),
        follow_up(
            visit(
                2,
                EAST,
                "cadre-liu",
                Some(bj(11, 18, 15, 0)),
                &[Topic::Land, Topic::Complaint, Topic::Land],
                Some(Sentiment::Concern),
            ),
            false,
            Some(bj(11, 25, 0, 0)),
        ),
        // Monday 07:00 in Beijing is Sunday 23:00 UTC.
        follow_up(
            visit(
                3,
                EAST,
                "cadre-liu",
                Some(bj(11, 23, 7, 0)),
                &[Topic::Infrastructure],
                Some(Sentiment::Neutral),
            ),
            true,
            Some(bj(11, 20, 0, 0)),
        ),
        follow_up(
            visit(
                4,
                WEST,
                "cadre-chen",
                Some(bj(11, 10, 9, 0)),
                &[Topic::Employment, Topic::Policy],
                Some(Sentiment::Urgent),
            ),
            false,
            Some(bj(12, 1, 0, 0)),
        ),
        follow_up(
            visit(
                5,
                WEST,
                "cadre-chen",
                Some(bj(11, 19, 9, 0)),
                &[Topic::Safety],
                Some(Sentiment::Concern),
            ),
            false,
            None,
        ),
        follow_up(
            visit(
                6,
                SOUTH,
                "cadre-ma",
                Some(bj(9, 20, 9, 0)),
                &[Topic::Education],
                Some(Sentiment::Neutral),
            ),
            false,
            Some(bj(10, 1, 0, 0)),
        ),
        // No visit time: counted at its creation time, 11-03 09:00.
        visit(7, SOUTH, "cadre-ma", None, &[], None),
        visit(
            8,
            NEXT_TOWN,
            "cadre-wu",
            Some(bj(11, 16, 9, 0)),
            &[Topic::Other],
            Some(Sentiment::Urgent),
        ),
    ]
}

fn query() -> StatsQuery {
    StatsQuery::new(bj(11, 26, 8, 0))
        .with_period(Period::new(Some(bj(10, 1, 0, 0)), Some(bj(12, 1, 0, 0))).expect("valid"))
        .with_scope(Scope::parse("500110101").expect("town code"))
}

fn week(year: i64, week: u32) -> IsoWeek {
    IsoWeek { year, week }
}

fn assert_close(actual: Option<f64>, expected: f64) {
    let actual = actual.expect("a value");
    assert!(
        (actual - expected).abs() < 1e-12,
        "expected {expected}, got {actual}"
    );
}

fn counts<K: Ord + Copy>(all: &[K], nonzero: &[(K, u64)]) -> BTreeMap<K, u64> {
    let mut map: BTreeMap<K, u64> = all.iter().map(|&k| (k, 0)).collect();
    for &(k, n) in nonzero {
        map.insert(k, n);
    }
    map
}

#[test]
fn dispute_totals_and_rates() {
    let stats = stats::dispute_stats(&records(), &query());
    let t = &stats.totals;
    // D1–D4, D6–D11, D13, D14 (D5 duplicate, D12 before the period, D15 next town).
    assert_eq!(t.total, 12);
    // D1, D2, D7, D8, D11, D14.
    assert_eq!(t.resolved, 6);
    // 12 - 6 resolved.
    assert_eq!(t.open, 6);
    // D4, D13.
    assert_eq!(t.mediating, 2);
    // D9.
    assert_eq!(t.failed, 1);
    // D3.
    assert_eq!(t.escalated, 1);
    // Resolved 6 of 12 counted disputes: 6/12 = 0.5.
    assert_close(t.resolution_rate, 0.5);
    assert_eq!(t.received, 12);
    // Resolved in the village: D1 (none), D2 (village), D7 (village), D11
    // (none), D14 (none) = 5; D8 after the town stepped in = 1.
    assert_eq!(t.village_resolved, 5);
    assert_eq!(t.town_resolved, 1);
    assert_eq!(t.grassroots_resolved, 6);
    // D3 went to the district (still escalated there).
    assert_eq!(t.escalated_beyond_township, 1);
    assert_eq!(t.resolved_beyond_township, 0);
    // D9 failed in the village.
    assert_eq!(t.failed_in_township, 1);
    // D4, D6, D10, D13.
    assert_eq!(t.still_open, 4);
    // The gap explained: 6 + 4 + 1 + 1 = 12.
    // 6 of 12 received resolved at the grassroots: 0.5; 5 of 12 in the village.
    assert_close(t.grassroots_rate, 0.5);
    assert_close(t.village_rate, 5.0 / 12.0);
    // 6 × 10 = 60 < 12 × 9 = 108: below the 90% target.
    assert!(!t.grassroots_target_met);
    assert_eq!(GRASSROOTS_TARGET, 0.9);
    // Days to resolve: D14 1, D7 2, D11 2.5, D1 5, D2 10, D8 20.5;
    // even count, so (2.5 + 5) / 2 = 3.75.
    assert_close(t.median_days_to_resolve, 3.75);
    // D5, created 10-11, inside the period.
    assert_eq!(stats.linked_duplicates, 1);
}

#[test]
fn dispute_counts_by_village() {
    let stats = stats::dispute_stats(&records(), &query());
    let (east, west, south) = (village(EAST), village(WEST), village(SOUTH));
    assert_eq!(
        stats.by_village_status.keys().cloned().collect::<Vec<_>>(),
        vec![east.clone(), west.clone(), south.clone()]
    );
    // East: D6 open, D4 mediating, D1 D2 resolved, D3 escalated (D5 left out).
    assert_eq!(
        stats.by_village_status[&east],
        counts(
            Status::ALL,
            &[
                (Status::Open, 1),
                (Status::Mediating, 1),
                (Status::Resolved, 2),
                (Status::Escalated, 1)
            ]
        )
    );
    // West: D10 open, D7 D8 D11 resolved, D9 failed.
    assert_eq!(
        stats.by_village_status[&west],
        counts(
            Status::ALL,
            &[
                (Status::Open, 1),
                (Status::Resolved, 3),
                (Status::Failed, 1)
            ]
        )
    );
    // South: D13 mediating, D14 resolved (D12 predates the period).
    assert_eq!(
        stats.by_village_status[&south],
        counts(
            Status::ALL,
            &[(Status::Mediating, 1), (Status::Resolved, 1)]
        )
    );
    // East: land D1 D6, neighbor D2, debt D3, family D4.
    assert_eq!(
        stats.by_village_category[&east],
        counts(
            Category::ALL,
            &[
                (Category::Land, 2),
                (Category::Neighbor, 1),
                (Category::Debt, 1),
                (Category::Family, 1)
            ]
        )
    );
    // West: contract D7, labor D8, damage D9 D10, environment D11.
    assert_eq!(
        stats.by_village_category[&west],
        counts(
            Category::ALL,
            &[
                (Category::Contract, 1),
                (Category::Labor, 1),
                (Category::Damage, 2),
                (Category::Environment, 1)
            ]
        )
    );
    // South: other D13, neighbor D14.
    assert_eq!(
        stats.by_village_category[&south],
        counts(
            Category::ALL,
            &[(Category::Other, 1), (Category::Neighbor, 1)]
        )
    );
    // East: low D1; medium D2 D6; high D3 D4.
    assert_eq!(
        stats.by_village_risk[&east],
        counts(
            Risk::ALL,
            &[(Risk::Low, 1), (Risk::Medium, 2), (Risk::High, 2)]
        )
    );
    // West: low D7 D11; medium D8 D10; high D9.
    assert_eq!(
        stats.by_village_risk[&west],
        counts(
            Risk::ALL,
            &[(Risk::Low, 2), (Risk::Medium, 2), (Risk::High, 1)]
        )
    );
    // South: low D13; medium D14.
    assert_eq!(
        stats.by_village_risk[&south],
        counts(Risk::ALL, &[(Risk::Low, 1), (Risk::Medium, 1)])
    );
}

#[test]
fn backlog_overdue_and_high_risk() {
    let stats = stats::dispute_stats(&records(), &query());
    // Open and created before 11-26 08:00 − 30 days = 10-27 08:00, oldest
    // first: D12 (09-10), D3 (10-12), D9 (10-25). D5 (10-11) is a linked
    // duplicate; D15 is in the next town; the period does not apply.
    assert_eq!(stats.overdue, case_list(&[12, 3, 9]));
    // High risk and not resolved, oldest first: D12 (09-10), D3 (10-12),
    // D9 (10-25), D4 (11-20).
    assert_eq!(stats.open_high_risk, case_list(&[12, 3, 9, 4]));

    // 45 days: before 10-12 08:00, so D3 (10-12 09:00) is no longer overdue.
    let longer = query().with_overdue_days(45);
    assert_eq!(stats::overdue_cases(&records(), &longer), case_list(&[12]));
    // 0 days: every open counted dispute created before now, oldest first:
    // D12, D3, D9, D13 (11-01), D10 (11-02), D6 (11-15), D4 (11-20).
    let zero = query().with_overdue_days(0);
    assert_eq!(
        stats::overdue_cases(&records(), &zero),
        case_list(&[12, 3, 9, 13, 10, 6, 4])
    );
    assert_eq!(
        stats::open_high_risk(&records(), &query()),
        stats.open_high_risk
    );
}

#[test]
fn possible_duplicates_find_the_unlinked_pair_only() {
    let pairs = stats::possible_duplicates(&records(), &query());
    // D9 and D10: West, "zhou na" in common, 10-25 09:00 → 11-02 09:00 = 8 days.
    // Not D2/D5 (linked), not D1/D4 (48 days apart), not D10/D13 (different
    // villages), not D1/D15 (next town).
    assert_eq!(pairs.len(), 1);
    let pair = &pairs[0];
    assert_eq!(pair.village, village(WEST));
    assert_eq!((&pair.first, &pair.second), (&doc(9), &doc(10)));
    assert_close(Some(pair.days_apart), 8.0);
    assert_eq!(pair.shared_names, vec!["zhou na".to_string()]);
    assert_eq!(
        stats::dispute_stats(&records(), &query()).possible_duplicates,
        pairs
    );

    // Without the link, D2 and D5 (1 day apart, "zhao min") are a candidate.
    let mut unlinked = records();
    for summary in &mut unlinked {
        summary.duplicate_of = None;
    }
    let pairs = stats::possible_duplicates(&unlinked, &query());
    let found: Vec<(DocumentId, DocumentId)> = pairs
        .iter()
        .map(|p| (p.first.clone(), p.second.clone()))
        .collect();
    // East sorts before West; D2 (10-10) was created before D5 (10-11).
    assert_eq!(found, vec![(doc(2), doc(5)), (doc(9), doc(10))]);

    // A period holding only one of the two still reports the pair.
    let november = query().with_period(Period {
        from: Some(bj(11, 1, 0, 0)),
        to: Some(bj(12, 1, 0, 0)),
    });
    assert_eq!(stats::possible_duplicates(&records(), &november).len(), 1);
    // A period holding neither does not.
    let september = query().with_period(Period {
        from: Some(bj(9, 1, 0, 0)),
        to: Some(bj(10, 1, 0, 0)),
    });
    assert!(stats::possible_duplicates(&records(), &september).is_empty());
}

#[test]
fn possible_duplicates_agree_on_category_and_say_why() {
    let pairs = stats::possible_duplicates(&records(), &query());
    assert_eq!(pairs[0].category, Some(Category::Damage));
    let json = serde_json::to_value(&pairs[0]).expect("serialises");
    assert_eq!(json["category"], "damage");

    // D9 and D10 share a party, a village and the window, but a different
    // category makes them different disputes.
    let mut recategorised = records();
    for summary in &mut recategorised {
        if summary.id == doc(10) {
            summary.category = Some(Category::Debt);
        }
    }
    assert!(stats::possible_duplicates(&recategorised, &query()).is_empty());
}

#[test]
fn possible_duplicates_never_suggest_a_dismissed_pair_again() {
    // The mark may sit on either case of the pair.
    for (marked, other) in [(9, 10), (10, 9)] {
        let mut dismissed = records();
        for summary in &mut dismissed {
            if summary.id == doc(marked) {
                summary.not_duplicates = vec![doc(other)];
            }
        }
        assert!(stats::possible_duplicates(&dismissed, &query()).is_empty());
        assert_eq!(
            stats::dispute_stats(&dismissed, &query()).possible_duplicate_count,
            0
        );
    }
    // A mark about another case leaves the pair suggested.
    let mut unrelated = records();
    for summary in &mut unrelated {
        if summary.id == doc(9) {
            summary.not_duplicates = vec![doc(1)];
        }
    }
    assert_eq!(stats::possible_duplicates(&unrelated, &query()).len(), 1);
}

#[test]
fn visit_counts_weeks_topics_and_follow_ups() {
    let stats = stats::visit_stats(&records(), &query());
    // W1, W2, W3, W4, W5, W7 (W6 visited 09-20, before the period; W8 next town).
    assert_eq!(stats.total, 6);
    // East W1 W2 W3; West W4 W5; South W7.
    assert_eq!(
        stats.by_village,
        BTreeMap::from([(village(EAST), 3), (village(WEST), 2), (village(SOUTH), 1)])
    );
    // Weeks: W45 = 11-02..08, W46 = 11-09..15, W47 = 11-16..22, W48 = 11-23..29.
    // chen: W4 11-10 (W46), W5 11-19 (W47); liu: W1 11-16, W2 11-18 (W47),
    // W3 Monday 11-23 07:00 (W48); ma: W7 11-03 (W45).
    assert_eq!(
        stats.by_cadre_week,
        BTreeMap::from([
            (
                "cadre-chen".to_string(),
                BTreeMap::from([(week(2026, 46), 1), (week(2026, 47), 1)])
            ),
            (
                "cadre-liu".to_string(),
                BTreeMap::from([(week(2026, 47), 2), (week(2026, 48), 1)])
            ),
            (
                "cadre-ma".to_string(),
                BTreeMap::from([(week(2026, 45), 1)])
            ),
        ])
    );
    // Each visit counts once per topic (W2 lists land twice); W6's education
    // is outside the period.
    assert_eq!(
        stats.topics,
        counts(
            Topic::ALL,
            &[
                (Topic::Livelihood, 1),
                (Topic::Health, 1),
                (Topic::Land, 1),
                (Topic::Complaint, 1),
                (Topic::Infrastructure, 1),
                (Topic::Employment, 1),
                (Topic::Policy, 1),
                (Topic::Safety, 1),
            ]
        )
    );
    // positive W1; neutral W3; concern W2 W5; urgent W4; W7 has none: 5 of 6.
    assert_eq!(
        stats.sentiments,
        counts(
            Sentiment::ALL,
            &[
                (Sentiment::Positive, 1),
                (Sentiment::Neutral, 1),
                (Sentiment::Concern, 2),
                (Sentiment::Urgent, 1),
            ]
        )
    );
    // Trend: W45 1 (W7), W46 1 (W4), W47 3 (W1 W2 W5), W48 1 (W3).
    let weekly: Vec<(IsoWeek, u64)> = stats.by_week.iter().map(|(w, v)| (*w, v.visits)).collect();
    assert_eq!(
        weekly,
        vec![
            (week(2026, 45), 1),
            (week(2026, 46), 1),
            (week(2026, 47), 3),
            (week(2026, 48), 1)
        ]
    );
    let w47 = &stats.by_week[&week(2026, 47)];
    // W1 positive; W2 W5 concern.
    assert_eq!(
        w47.sentiments,
        counts(
            Sentiment::ALL,
            &[(Sentiment::Positive, 1), (Sentiment::Concern, 2)]
        )
    );
    // W1 livelihood health; W2 land complaint; W5 safety.
    assert_eq!(
        w47.topics,
        counts(
            Topic::ALL,
            &[
                (Topic::Livelihood, 1),
                (Topic::Health, 1),
                (Topic::Land, 1),
                (Topic::Complaint, 1),
                (Topic::Safety, 1),
            ]
        )
    );
    // Needed and not done, earliest due first, no due date last:
    // W6 (10-01), W2 (11-25), W4 (12-01), W5 (none). W3 is done. The period
    // does not apply to the backlog.
    assert_eq!(stats.follow_ups.pending, case_list(&[106, 102, 104, 105]));
    // Due before 11-26 08:00: W6 and W2.
    assert_eq!(stats.follow_ups.overdue, case_list(&[106, 102]));
}

#[test]
fn weeks_and_months_follow_the_offset() {
    let utc = query().with_utc_offset_minutes(0);
    let visits = stats::visit_stats(&records(), &utc);
    // In UTC, W3 (Sunday 11-22 23:00) is in W47 with W1 and W2: 3 for liu.
    assert_eq!(
        visits.by_cadre_week["cadre-liu"],
        BTreeMap::from([(week(2026, 47), 3)])
    );
    // D13 (10-31 20:00 UTC) moves to October in UTC: 7 + 1 = 8 and 5 − 1 = 4.
    let months: Vec<(String, u64)> = stats::by_month(&records(), &utc)
        .iter()
        .map(|m| (m.month.to_string(), m.disputes.total))
        .collect();
    assert_eq!(
        months,
        vec![("2026-10".to_string(), 8), ("2026-11".to_string(), 4)]
    );
}

#[test]
fn drill_down_by_village() {
    let rows = stats::by_village(&records(), &query());
    let villages: Vec<&VillageCode> = rows.iter().map(|r| &r.village).collect();
    assert_eq!(
        villages,
        vec![&village(EAST), &village(WEST), &village(SOUTH)]
    );

    let east = &rows[0];
    // D1 D2 D3 D4 D6: 5 counted, 2 resolved (D1 D2), both at village
    // level; D3 went to the district; D4 and D6 are still open.
    assert_eq!(
        east.disputes,
        DisputeFigures {
            total: 5,
            received: 5,
            open: 3,
            resolved: 2,
            mediating: 1,
            failed: 0,
            escalated: 1,
            village_resolved: 2,
            town_resolved: 0,
            grassroots_resolved: 2,
            resolved_beyond_township: 0,
            still_open: 2,
            failed_in_township: 0,
            escalated_beyond_township: 1,
            // 2/5 = 0.4
            resolution_rate: Some(0.4),
            // 2/5 = 0.4
            grassroots_rate: Some(0.4),
            village_rate: Some(0.4),
            grassroots_target_met: false,
            // (5 + 10) / 2 = 7.5
            median_days_to_resolve: Some(7.5),
        }
    );
    // D3 overdue; D3 D4 high risk; W1 W2 W3 visits; W2 pending.
    assert_eq!(
        (
            east.overdue,
            east.open_high_risk,
            east.visits,
            east.pending_follow_ups
        ),
        (1, 2, 3, 1)
    );

    let west = &rows[1];
    // D7 D8 D9 D10 D11: 3 resolved; D8 was escalated to the town.
    assert_eq!(west.disputes.total, 5);
    assert_eq!(west.disputes.resolved, 3);
    assert_eq!(west.disputes.failed, 1);
    // 3/5 = 0.6
    assert_close(west.disputes.resolution_rate, 0.6);
    // D7 D11 in the village, D8 at the town, of 5 received: 3/5
    assert_close(west.disputes.grassroots_rate, 0.6);
    assert_close(west.disputes.village_rate, 0.4);
    assert_eq!(west.disputes.failed_in_township, 1);
    assert_eq!(west.disputes.still_open, 1);
    // 3 × 10 = 30 < 5 × 9 = 45
    assert!(!west.disputes.grassroots_target_met);
    // 2, 2.5, 20.5 → 2.5
    assert_close(west.disputes.median_days_to_resolve, 2.5);
    // D9 overdue and high risk; W4 W5 visited and pending.
    assert_eq!(
        (
            west.overdue,
            west.open_high_risk,
            west.visits,
            west.pending_follow_ups
        ),
        (1, 1, 2, 2)
    );

    let south = &rows[2];
    // D13 D14 in the period (D12 before it): 1 resolved, 1 day.
    assert_eq!(south.disputes.total, 2);
    // 1/2 = 0.5
    assert_close(south.disputes.resolution_rate, 0.5);
    // D14 of D13 D14: 1/2 = 0.5; D13 still open counts against it.
    assert_close(south.disputes.grassroots_rate, 0.5);
    assert!(!south.disputes.grassroots_target_met);
    assert_close(south.disputes.median_days_to_resolve, 1.0);
    // D12 overdue and high risk (backlog ignores the period); W7 visited;
    // W6 pending.
    assert_eq!(
        (
            south.overdue,
            south.open_high_risk,
            south.visits,
            south.pending_follow_ups
        ),
        (1, 1, 1, 1)
    );
}

#[test]
fn drill_down_by_town() {
    // One town in scope: its row is the scope's totals and backlog.
    let rows = stats::by_town(&records(), &query());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].town.as_str(), "500110101");
    assert_eq!(
        rows[0].disputes,
        stats::dispute_stats(&records(), &query()).totals
    );
    // D3, D9, D12 overdue; D3 D4 D9 D12 open high risk; W1–W7 visits; W2 W4 W5 W6 pending.
    let villages = stats::by_village(&records(), &query());
    assert_eq!(
        rows[0].overdue,
        villages.iter().map(|v| v.overdue).sum::<u64>()
    );
    assert_eq!(
        rows[0].visits,
        villages.iter().map(|v| v.visits).sum::<u64>()
    );
    // The whole district: the next town has a row of its own (D15).
    let everything = StatsQuery {
        scope: None,
        ..query()
    };
    let rows = stats::by_town(&records(), &everything);
    let towns: Vec<&str> = rows.iter().map(|r| r.town.as_str()).collect();
    assert_eq!(towns, vec!["500110101", "500110102"]);
    assert_eq!(rows[1].disputes.received, 1);
    assert_eq!(rows[1].overdue, 1);
}

#[test]
fn every_figure_is_defined_in_both_languages() {
    let definitions = stats::definitions();
    let json = serde_json::to_value(stats::dispute_stats(&records(), &query()).totals)
        .expect("serialises");
    for name in [
        "received",
        "resolved",
        "resolutionRate",
        "grassrootsRate",
        "villageRate",
        "grassrootsResolved",
        "villageResolved",
        "townResolved",
        "stillOpen",
        "failedInTownship",
        "escalatedBeyondTownship",
        "resolvedBeyondTownship",
        "open",
        "medianDaysToResolve",
    ] {
        assert!(
            json.get(name).is_some(),
            "{name} is not a field of the figures"
        );
        let d = definitions
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not defined"));
        assert!(!d.zh.is_empty() && !d.en.is_empty() && !d.label_zh.is_empty());
        assert!(!d.zh.is_ascii(), "{name}: the Chinese text is Chinese");
        assert!(d.en.is_ascii() || d.en.contains('≥') || d.en.contains('÷') || d.en.contains('−'));
    }
}

#[test]
fn drill_down_by_category() {
    let rows = stats::by_category(&records(), &query());
    // Every category, in schema order.
    assert_eq!(
        rows.iter().map(|r| r.category).collect::<Vec<_>>(),
        Category::ALL.to_vec()
    );
    let row = |c: Category| {
        rows.iter()
            .find(|r| r.category == c)
            .map(|r| r.disputes.clone())
            .expect("every category has a row")
    };
    // Land: D1 (resolved, 5 days), D6 (open); 1/2 = 0.5.
    let land = row(Category::Land);
    assert_eq!((land.total, land.resolved), (2, 1));
    assert_close(land.resolution_rate, 0.5);
    assert_close(land.median_days_to_resolve, 5.0);
    // Neighbor: D2 (10 days), D14 (1 day); median (1 + 10) / 2 = 5.5.
    let neighbor = row(Category::Neighbor);
    assert_eq!((neighbor.total, neighbor.resolved), (2, 2));
    assert_close(neighbor.median_days_to_resolve, 5.5);
    // Labor: D8 resolved after the town stepped in: still grassroots, 1/1,
    // though not in the village.
    let labor = row(Category::Labor);
    assert_close(labor.grassroots_rate, 1.0);
    assert_close(labor.village_rate, 0.0);
    assert!(labor.grassroots_target_met);
    // Damage: D9, D10, none resolved: no rate, no median.
    let damage = row(Category::Damage);
    assert_eq!((damage.total, damage.resolved), (2, 0));
    assert_close(damage.resolution_rate, 0.0);
    assert_close(damage.grassroots_rate, 0.0);
    assert_eq!(damage.median_days_to_resolve, None);
    // 2 + 2 + 1 (family) + 1 (debt) + 1 (labor) + 1 (contract) + 2 + 1
    // (environment) + 1 (other) = 12.
    assert_eq!(rows.iter().map(|r| r.disputes.total).sum::<u64>(), 12);
}

#[test]
fn drill_down_by_month() {
    let rows = stats::by_month(&records(), &query());
    assert_eq!(
        rows.iter().map(|r| r.month).collect::<Vec<_>>(),
        vec![
            YearMonth {
                year: 2026,
                month: 10
            },
            YearMonth {
                year: 2026,
                month: 11
            }
        ]
    );
    let october = &rows[0].disputes;
    // D1 D2 D3 D7 D8 D9 D14 = 7; resolved D1 D2 D7 D8 D14 = 5.
    assert_eq!((october.total, october.resolved), (7, 5));
    // 5/7
    assert_close(october.resolution_rate, 5.0 / 7.0);
    // D1 D2 D7 D8 D14 of 7 received: 5/7
    assert_close(october.grassroots_rate, 5.0 / 7.0);
    // 1, 2, 5, 10, 20.5 → 5
    assert_close(october.median_days_to_resolve, 5.0);
    let november = &rows[1].disputes;
    // D4 D6 D10 D11 D13 (D13 is 11-01 04:00 in Beijing) = 5; resolved D11.
    assert_eq!((november.total, november.resolved), (5, 1));
    // 1/5 = 0.2
    assert_close(november.resolution_rate, 0.2);
    // 1/5 is far from the target.
    assert_close(november.grassroots_rate, 0.2);
    assert!(!november.grassroots_target_met);
    assert_close(november.median_days_to_resolve, 2.5);
}

#[test]
fn scope_selects_the_town() {
    let everything = StatsQuery {
        scope: None,
        ..query()
    };
    // D15 joins when there is no scope: 12 + 1 = 13.
    assert_eq!(
        stats::dispute_stats(&records(), &everything).totals.total,
        13
    );
    // W8 joins: 6 + 1 = 7.
    assert_eq!(stats::visit_stats(&records(), &everything).total, 7);
    // One village: East only, 5 disputes.
    let east = query().with_scope(Scope::parse(EAST).expect("village code"));
    assert_eq!(stats::dispute_stats(&records(), &east).totals.total, 5);
    // The next town: only D15, which is overdue (10-01) and high risk.
    let next = query().with_scope(Scope::parse("500110102").expect("town code"));
    let stats = stats::dispute_stats(&records(), &next);
    assert_eq!(stats.totals.total, 1);
    assert_eq!(stats.overdue, case_list(&[15]));
}

#[test]
fn json_is_camel_case_and_independent_of_input_order() {
    let forward = stats::statistics(&records(), &query());
    let mut reversed_records = records();
    reversed_records.reverse();
    let reversed = stats::statistics(&reversed_records, &query());
    let json = serde_json::to_string(&forward).expect("serialises");
    assert_eq!(json, serde_json::to_string(&reversed).expect("serialises"));
    for key in [
        "\"byVillageStatus\"",
        "\"grassrootsRate\"",
        "\"grassrootsTargetMet\"",
        "\"medianDaysToResolve\"",
        "\"openHighRisk\"",
        "\"possibleDuplicates\"",
        "\"byCadreWeek\"",
        "\"followUps\"",
        "\"2026-W47\"",
        "\"500110101001\":{\"open\":1,\"mediating\":1,\"resolved\":2,\"failed\":0,\"escalated\":1}",
    ] {
        assert!(json.contains(key), "{key} missing from {json}");
    }
    let back: stats::Statistics = serde_json::from_str(&json).expect("reads back");
    assert_eq!(back, forward);
}

#[test]
fn empty_and_odd_inputs_do_not_panic() {
    let empty = stats::statistics(&[], &query());
    assert_eq!(empty.disputes.totals, DisputeFigures::default());
    assert_eq!(empty.disputes.totals.resolution_rate, None);
    assert_eq!(empty.visits.total, 0);
    assert!(stats::by_village(&[], &query()).is_empty());
    assert!(stats::by_month(&[], &query()).is_empty());

    // Times before 1970 and at the ends of the range, an inverted period.
    let mut odd = records();
    odd[0].created_at = i64::MIN;
    odd[1].resolved_at = Some(i64::MIN);
    odd[15].visited_at = Some(-1);
    odd[16].follow_up_due = Some(i64::MAX);
    for q in [
        StatsQuery::new(i64::MIN),
        StatsQuery::new(i64::MAX).with_overdue_days(u32::MAX),
        query().with_period(Period {
            from: Some(10),
            to: Some(0),
        }),
        query().with_utc_offset_minutes(i32::MIN),
    ] {
        let all = stats::statistics(&odd, &q);
        assert!(
            all.disputes
                .totals
                .median_days_to_resolve
                .is_none_or(f64::is_finite)
        );
        stats::by_village(&odd, &q);
        stats::by_category(&odd, &q);
        stats::by_month(&odd, &q);
    }
}
