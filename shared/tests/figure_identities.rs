//! The identities of the headline figures, for any records: every dispute
//! received stands in exactly one place against the grassroots target, so
//! the parts sum to what was received; every rate lies within 0..1; and a
//! case that goes to the district can only lower 基层化解率 — strictly when
//! it had been resolved at the grassroots.

use fengqiao_shared::stats::partial;
use fengqiao_shared::stats::{self, DisputeFigures, MILLIS_PER_DAY, Period, Standing, StatsQuery};
use fengqiao_shared::vocab::{Level, RecordKind, Status};
use fengqiao_shared::{DocumentId, Millis, Summary, VillageCode};
use proptest::prelude::*;

const VILLAGES: &[&str] = &[
    "500110101001",
    "500110101002",
    "500110102001",
    "500111101001",
];
const T0: Millis = 1_780_000_000_000;

fn id(n: u16) -> DocumentId {
    let mut bytes = [3u8; 16];
    bytes[..2].copy_from_slice(&n.to_be_bytes());
    DocumentId::from_bytes(&bytes).expect("16 bytes")
}

/// A dispute drawn from a few numbers: its village, day, status, the
/// highest level it went to, and perhaps a link to an earlier dispute.
fn dispute(
    n: u16,
    (village, day, status, level, link): (usize, i64, Option<usize>, Option<usize>, Option<u16>),
) -> Summary {
    let created_at = T0 + day * MILLIS_PER_DAY;
    let status = status.map(|s| Status::ALL[s]);
    Summary {
        status,
        max_escalation_level: level.map(|l| Level::ALL[l]),
        escalation_level: match status {
            Some(Status::Escalated) => level.map(|l| Level::ALL[l]),
            _ => None,
        },
        resolved_at: (status == Some(Status::Resolved)).then_some(created_at + MILLIS_PER_DAY),
        duplicate_of: link.filter(|&to| to < n).map(id),
        ..Summary::new(
            id(n),
            RecordKind::Dispute,
            VillageCode::new(VILLAGES[village]).expect("a village code"),
            created_at,
            "cadre-1",
        )
    }
}

fn disputes() -> impl Strategy<Value = Vec<Summary>> {
    proptest::collection::vec(
        (
            0..VILLAGES.len(),
            0i64..60,
            proptest::option::of(0..Status::ALL.len()),
            proptest::option::of(0..Level::ALL.len()),
            proptest::option::weighted(0.15, 0u16..200),
        ),
        0..120,
    )
    .prop_map(|draws| {
        draws
            .into_iter()
            .enumerate()
            .map(|(n, draw)| dispute(n as u16, draw))
            .collect()
    })
}

fn query(from_day: Option<i64>, to_day: Option<i64>) -> StatsQuery {
    let at = |day: i64| T0 + day * MILLIS_PER_DAY;
    let period = match (from_day.map(at), to_day.map(at)) {
        (Some(from), Some(to)) if from >= to => Period::ALL,
        (from, to) => Period { from, to },
    };
    StatsQuery::new(at(70)).with_period(period)
}

fn check_identities(f: &DisputeFigures) -> Result<(), TestCaseError> {
    prop_assert_eq!(f.received, f.total);
    prop_assert_eq!(
        f.grassroots_resolved + f.still_open + f.failed_in_township + f.escalated_beyond_township,
        f.received,
        "the parts sum to what was received: {:?}",
        f
    );
    prop_assert_eq!(f.grassroots_resolved, f.village_resolved + f.town_resolved);
    prop_assert_eq!(
        f.resolved,
        f.grassroots_resolved + f.resolved_beyond_township
    );
    prop_assert!(f.resolved_beyond_township <= f.escalated_beyond_township);
    prop_assert_eq!(f.open, f.received - f.resolved);
    for rate in [f.resolution_rate, f.grassroots_rate, f.village_rate] {
        match rate {
            None => prop_assert_eq!(f.received, 0),
            Some(rate) => prop_assert!((0.0..=1.0).contains(&rate), "{} out of 0..1", rate),
        }
    }
    if let (Some(village), Some(grassroots), Some(resolution)) =
        (f.village_rate, f.grassroots_rate, f.resolution_rate)
    {
        prop_assert!(village <= grassroots && grassroots <= resolution);
    }
    prop_assert_eq!(
        f.grassroots_target_met,
        f.received > 0 && f.grassroots_resolved * 10 >= f.received * 9
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_parts_sum_to_what_was_received_and_rates_lie_within_0_and_1(
        records in disputes(),
        from in proptest::option::of(0i64..60),
        to in proptest::option::of(0i64..70),
    ) {
        let query = query(from, to);
        let stats = stats::dispute_stats(&records, &query);
        check_identities(&stats.totals)?;
        let mut received = 0;
        for row in stats::by_village(&records, &query) {
            check_identities(&row.disputes)?;
            received += row.disputes.received;
        }
        prop_assert_eq!(received, stats.totals.received);
        let towns = stats::by_town(&records, &query);
        for row in &towns {
            check_identities(&row.disputes)?;
        }
        prop_assert_eq!(towns.iter().map(|r| r.disputes.received).sum::<u64>(), received);
        for row in stats::by_month(&records, &query) {
            check_identities(&row.disputes)?;
        }
        // The villages' partials give the same figures and the same towns.
        let partials = partial::partials(&records, &query);
        prop_assert_eq!(&partial::totals_of(&partials, &query), &stats.totals);
        prop_assert_eq!(partial::by_town_of(&partials, &query), towns);
    }

    #[test]
    fn moving_a_case_to_the_district_lowers_the_grassroots_rate(
        records in disputes(),
        pick in any::<prop::sample::Index>(),
    ) {
        let query = query(None, None);
        let before = stats::dispute_stats(&records, &query).totals;
        let counted: Vec<usize> = records
            .iter()
            .enumerate()
            .filter(|(_, s)| s.duplicate_of.is_none())
            .map(|(i, _)| i)
            .collect();
        prop_assume!(!counted.is_empty());
        let at = counted[pick.index(counted.len())];
        let was = Standing::of(&records[at]);
        let mut moved = records.clone();
        moved[at].max_escalation_level = Some(Level::District);
        let after = stats::dispute_stats(&moved, &query).totals;
        prop_assert_eq!(after.received, before.received);
        prop_assert_eq!(Standing::of(&moved[at]), Standing::EscalatedBeyondTownship);
        if was.is_grassroots_resolved() {
            prop_assert!(after.grassroots_rate < before.grassroots_rate,
                "{:?} → {:?}", before.grassroots_rate, after.grassroots_rate);
            prop_assert_eq!(after.grassroots_resolved + 1, before.grassroots_resolved);
        } else {
            prop_assert!(after.grassroots_rate <= before.grassroots_rate);
        }
        // Whatever it was, the case now explains part of the gap.
        prop_assert!(after.escalated_beyond_township >= 1);
        check_identities(&after)?;
    }
}

#[test]
fn a_case_escalated_to_the_town_and_resolved_there_is_still_grassroots() {
    let town = dispute(1, (0, 1, Some(2), Some(1), None));
    assert_eq!(town.status, Some(Status::Resolved));
    assert_eq!(Standing::of(&town), Standing::TownResolved);
    let court = dispute(2, (0, 1, Some(2), Some(3), None));
    assert_eq!(Standing::of(&court), Standing::EscalatedBeyondTownship);
    let village = dispute(3, (0, 1, Some(2), Some(0), None));
    assert_eq!(Standing::of(&village), Standing::VillageResolved);
    let failed = dispute(4, (0, 1, Some(3), Some(1), None));
    assert_eq!(Standing::of(&failed), Standing::FailedInTownship);
    let figures =
        stats::dispute_stats(&[town, court, village, failed], &StatsQuery::new(T0)).totals;
    assert_eq!(figures.grassroots_rate, Some(0.5));
    assert_eq!(figures.resolution_rate, Some(0.75));
    assert_eq!(figures.village_rate, Some(0.25));
}
