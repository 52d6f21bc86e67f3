//! Statistics merged from per-village partials equal the statistics computed
//! directly over the same records, for any records and any query — and a
//! village's partial stays valid for any "as of" time, overdue threshold,
//! list limit and narrower scope.

use fengqiao_shared::stats::partial::{self, VillagePartial};
use fengqiao_shared::stats::{self, MILLIS_PER_DAY, Period, StatsQuery};
use fengqiao_shared::vocab::{Category, Level, RecordKind, Risk, Sentiment, Status, Topic};
use fengqiao_shared::{DocumentId, Millis, Scope, Summary, VillageCode};
use proptest::prelude::*;

const VILLAGES: &[&str] = &[
    "500110101001",
    "500110101002",
    "500110102001",
    "500110102007",
    "500111101001",
];
const NAMES: &[&str] = &["王建国", "李秀英", " wang ", "WANG", "张伟", ""];
const CADRES: &[&str] = &["cadre-1", "cadre-2", "cadre-3"];
const SCOPES: &[&str] = &["500110", "500110101", "500110102", "500110101002", "500111"];
const T0: Millis = 1_780_000_000_000;

/// A record drawn from a few numbers; ids are `n` so that links can point
/// at other records (or at none), forming chains and cycles.
#[derive(Debug, Clone)]
struct Draw {
    visit: bool,
    village: usize,
    created_day: i64,
    created_ms: i64,
    cadre: usize,
    status: Option<usize>,
    category: Option<usize>,
    risk: Option<usize>,
    max_level: Option<usize>,
    resolved_after: Option<i64>,
    names: Vec<usize>,
    link: Option<u8>,
    sentiment: Option<usize>,
    topics: Vec<usize>,
    follow_up: Option<(bool, Option<i64>)>,
}

fn draw() -> impl Strategy<Value = Draw> {
    (
        (
            any::<bool>(),
            0..VILLAGES.len(),
            0i64..90,
            prop_oneof![Just(0), Just(MILLIS_PER_DAY / 2), 0..MILLIS_PER_DAY],
            0..CADRES.len(),
            proptest::option::of(0..Status::ALL.len()),
            proptest::option::of(0..Category::ALL.len()),
            proptest::option::of(0..Risk::ALL.len()),
        ),
        (
            proptest::option::of(0..4usize),
            proptest::option::of(-3i64..70),
            proptest::collection::vec(0..NAMES.len(), 0..3),
            proptest::option::weighted(0.2, 0u8..40),
            proptest::option::of(0..Sentiment::ALL.len()),
            proptest::collection::vec(0..Topic::ALL.len(), 0..3),
            proptest::option::of((any::<bool>(), proptest::option::of(50i64..100))),
        ),
    )
        .prop_map(
            |(
                (visit, village, created_day, created_ms, cadre, status, category, risk),
                (max_level, resolved_after, names, link, sentiment, topics, follow_up),
            )| Draw {
                visit,
                village,
                created_day,
                created_ms,
                cadre,
                status,
                category,
                risk,
                max_level,
                resolved_after,
                names,
                link,
                sentiment,
                topics,
                follow_up,
            },
        )
}

fn id(n: u8) -> DocumentId {
    DocumentId::from_bytes(&[n, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, n]).expect("16 bytes")
}

fn summary(n: u8, d: &Draw) -> Summary {
    let created_at = T0 + d.created_day * MILLIS_PER_DAY + d.created_ms;
    let levels = [Level::Village, Level::Town, Level::District, Level::Court];
    let kind = if d.visit {
        RecordKind::Visit
    } else {
        RecordKind::Dispute
    };
    let village = VillageCode::new(VILLAGES[d.village]).expect("village");
    Summary {
        status: d.status.map(|i| Status::ALL[i]),
        category: d.category.map(|i| Category::ALL[i]),
        risk: d.risk.map(|i| Risk::ALL[i]),
        max_escalation_level: d.max_level.map(|i| levels[i]),
        resolved_at: d
            .resolved_after
            .map(|days| created_at + days * MILLIS_PER_DAY / 2),
        party_names: d.names.iter().map(|&i| NAMES[i].to_string()).collect(),
        event_count: 1,
        duplicate_of: d.link.map(id),
        visited_at: d
            .visit
            .then_some(created_at + d.created_ms % 3 * MILLIS_PER_DAY),
        sentiment: d.sentiment.map(|i| Sentiment::ALL[i]),
        topics: d.topics.iter().map(|&i| Topic::ALL[i]).collect(),
        follow_up_needed: d.follow_up.is_some(),
        follow_up_done: d.follow_up.is_some_and(|(done, _)| done),
        follow_up_due: d
            .follow_up
            .and_then(|(_, due)| due.map(|day| T0 + day * MILLIS_PER_DAY)),
        ..Summary::new(id(n), kind, village, created_at, CADRES[d.cadre])
    }
}

#[derive(Debug, Clone)]
struct Ask {
    now_day: i64,
    period: Option<(Option<i64>, Option<i64>)>,
    overdue_days: u32,
    scope: Option<usize>,
    offset: i32,
    limit: Option<u32>,
}

fn ask() -> impl Strategy<Value = Ask> {
    (
        prop_oneof![0i64..200, 50i64..100],
        proptest::option::of((
            proptest::option::of(-5i64..60),
            proptest::option::of(61i64..120),
        )),
        0u32..60,
        proptest::option::of(0..SCOPES.len()),
        prop_oneof![Just(480), Just(0), Just(-300), Just(60 * 14)],
        proptest::option::of(0u32..5),
    )
        .prop_map(
            |(now_day, period, overdue_days, scope, offset, limit)| Ask {
                now_day,
                period,
                overdue_days,
                scope,
                offset,
                limit,
            },
        )
}

fn query(ask: &Ask) -> StatsQuery {
    let day = |d: i64| T0 + d * MILLIS_PER_DAY;
    let mut query = StatsQuery::new(day(ask.now_day))
        .with_overdue_days(ask.overdue_days)
        .with_utc_offset_minutes(ask.offset)
        .with_list_limit(ask.limit);
    if let Some((from, to)) = ask.period {
        query = query.with_period(Period {
            from: from.map(day),
            to: to.map(day),
        });
    }
    if let Some(scope) = ask.scope {
        query = query.with_scope(Scope::parse(SCOPES[scope]).expect("scope"));
    }
    query
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn merged_partials_equal_direct_statistics(
        draws in proptest::collection::vec(draw(), 0..60),
        ask in ask(),
        other_now in 0i64..200,
        other_threshold in 0u32..60,
    ) {
        let summaries: Vec<Summary> = draws
            .iter()
            .enumerate()
            .map(|(n, d)| summary(n as u8, d))
            .collect();
        let query = query(&ask);

        // Partials of the query itself.
        let own = partial::partials(&summaries, &query);
        prop_assert!(own.iter().all(|p| p.fits(&query)));
        prop_assert_eq!(
            partial::statistics_of(&own, &query),
            stats::statistics(&summaries, &query)
        );
        prop_assert_eq!(partial::by_village_of(&own, &query), stats::by_village(&summaries, &query));
        prop_assert_eq!(partial::by_category_of(&own, &query), stats::by_category(&summaries, &query));
        prop_assert_eq!(partial::by_month_of(&own, &query), stats::by_month(&summaries, &query));
        prop_assert_eq!(
            partial::possible_duplicates_of(&own, &query),
            stats::possible_duplicates(&summaries, &query)
        );

        // Partials computed for every village at another "as of" time,
        // threshold and limit, without a scope, answer this query too.
        let wide = StatsQuery {
            now: T0 + other_now * MILLIS_PER_DAY,
            overdue_days: other_threshold,
            scope: None,
            list_limit: Some(1),
            ..query.clone()
        };
        let kept = partial::cycle_representatives(&summaries);
        let every: Vec<VillagePartial> = VILLAGES
            .iter()
            .map(|v| {
                let village = VillageCode::new(v).expect("village");
                VillagePartial::compute(&village, &summaries, &kept, &wide)
            })
            .collect();
        prop_assert_eq!(
            partial::statistics_of(every.iter().rev(), &query),
            stats::statistics(&summaries, &query)
        );
        prop_assert_eq!(partial::by_village_of(&every, &query), stats::by_village(&summaries, &query));
    }
}

#[test]
fn lists_are_limited_but_counts_are_not() {
    let draws: Vec<Draw> = (0..12)
        .map(|n| Draw {
            visit: false,
            village: n % 3,
            created_day: n as i64,
            created_ms: 0,
            cadre: 0,
            status: Some(0),
            category: Some(0),
            risk: Some(
                Risk::ALL
                    .iter()
                    .position(|r| *r == Risk::High)
                    .expect("high"),
            ),
            max_level: None,
            resolved_after: None,
            names: vec![0],
            link: None,
            sentiment: None,
            topics: vec![],
            follow_up: None,
        })
        .collect();
    let summaries: Vec<Summary> = draws
        .iter()
        .enumerate()
        .map(|(n, d)| summary(n as u8, d))
        .collect();
    let query = StatsQuery::new(T0 + 100 * MILLIS_PER_DAY).with_list_limit(Some(3));
    let all = stats::statistics(&summaries, &StatsQuery::new(query.now));
    let limited = partial::statistics_of(&partial::partials(&summaries, &query), &query);
    assert_eq!(limited.disputes.overdue.count, 12);
    assert_eq!(limited.disputes.overdue.ids, all.disputes.overdue.ids[..3]);
    assert_eq!(limited.disputes.open_high_risk.count, 12);
    assert_eq!(limited.disputes.open_high_risk.ids.len(), 3);
    assert_eq!(
        limited.disputes.possible_duplicate_count,
        all.disputes.possible_duplicates.len() as u64
    );
    assert!(limited.disputes.possible_duplicate_count > 3);
    assert_eq!(limited.disputes.possible_duplicates.len(), 3);
    assert_eq!(limited, stats::statistics(&summaries, &query));
}
