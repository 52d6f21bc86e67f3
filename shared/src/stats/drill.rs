//! Drill-downs behind the dashboard's tables: the same dispute figures per
//! village, per category and per month.

use std::collections::BTreeMap;

use fengqiao_protocol::VillageCode;

use super::disputes::{Disputes, Tally, is_open_high_risk, is_overdue};
use super::visits::{is_pending_follow_up, visit_time, visits_in_scope};
use super::{CategoryFigures, MonthFigures, StatsQuery, TownFigures, VillageFigures, YearMonth};
use crate::summary::Summary;
use crate::vocab::Category;

#[derive(Default)]
struct VillageTally {
    disputes: Tally,
    overdue: u64,
    open_high_risk: u64,
    visits: u64,
    pending_follow_ups: u64,
}

/// The tallies of the scope's places, grouped by `key` of their village
/// code; a group has a tally when one of its villages has a counted
/// dispute or a visit within the period, or anything in its backlog.
fn grouped<'a, K: Ord + 'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    query: &StatsQuery,
    key: impl Fn(&'a VillageCode) -> K,
) -> BTreeMap<K, VillageTally> {
    let summaries: Vec<&Summary> = summaries.into_iter().collect();
    let disputes = Disputes::select(summaries.iter().copied(), query);
    let mut groups: BTreeMap<K, VillageTally> = BTreeMap::new();
    for summary in disputes.in_period(query) {
        groups
            .entry(key(&summary.village))
            .or_default()
            .disputes
            .add(summary);
    }
    for summary in &disputes.counted {
        if is_overdue(summary, query) {
            groups.entry(key(&summary.village)).or_default().overdue += 1;
        }
        if is_open_high_risk(summary) {
            groups
                .entry(key(&summary.village))
                .or_default()
                .open_high_risk += 1;
        }
    }
    for visit in visits_in_scope(summaries.iter().copied(), query) {
        if query.period.contains(visit_time(visit)) {
            groups.entry(key(&visit.village)).or_default().visits += 1;
        }
        if is_pending_follow_up(visit) {
            groups
                .entry(key(&visit.village))
                .or_default()
                .pending_follow_ups += 1;
        }
    }
    groups
}

/// One row per village, sorted by village code. A village has a row when it
/// has a counted dispute or a visit within the period, or anything in its
/// backlog (an overdue or open high-risk dispute, a pending follow-up).
pub fn by_village<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    query: &StatsQuery,
) -> Vec<VillageFigures> {
    grouped(summaries, query, |village| village)
        .into_iter()
        .map(|(village, tally)| VillageFigures {
            village: village.clone(),
            disputes: tally.disputes.figures(),
            overdue: tally.overdue,
            open_high_risk: tally.open_high_risk,
            visits: tally.visits,
            pending_follow_ups: tally.pending_follow_ups,
        })
        .collect()
}

/// One row per town, sorted by town code: the figures of its villages
/// together, as [`by_village`] counts them. A town has a row when one of
/// its villages has.
pub fn by_town<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    query: &StatsQuery,
) -> Vec<TownFigures> {
    grouped(summaries, query, VillageCode::town)
        .into_iter()
        .map(|(town, tally)| TownFigures {
            town,
            disputes: tally.disputes.figures(),
            overdue: tally.overdue,
            open_high_risk: tally.open_high_risk,
            visits: tally.visits,
            pending_follow_ups: tally.pending_follow_ups,
        })
        .collect()
}

/// One row per category, every category in schema order (zeros included),
/// over counted disputes created within the period. Disputes without a
/// category are in no row.
pub fn by_category<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    query: &StatsQuery,
) -> Vec<CategoryFigures> {
    let disputes = Disputes::select(summaries, query);
    let mut tallies: BTreeMap<Category, Tally> = Category::ALL
        .iter()
        .map(|&category| (category, Tally::default()))
        .collect();
    for summary in disputes.in_period(query) {
        if let Some(category) = summary.category {
            tallies.entry(category).or_default().add(summary);
        }
    }
    tallies
        .into_iter()
        .map(|(category, tally)| CategoryFigures {
            category,
            disputes: tally.figures(),
        })
        .collect()
}

/// One row per month of creation (in the query's offset), oldest first,
/// over counted disputes created within the period. Months without a
/// dispute have no row: the caller fills gaps for charts, which keeps the
/// output bounded by the data whatever the period.
pub fn by_month<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    query: &StatsQuery,
) -> Vec<MonthFigures> {
    let disputes = Disputes::select(summaries, query);
    let mut tallies: BTreeMap<YearMonth, Tally> = BTreeMap::new();
    for summary in disputes.in_period(query) {
        tallies
            .entry(YearMonth::from_millis(
                summary.created_at,
                query.utc_offset_minutes,
            ))
            .or_default()
            .add(summary);
    }
    tallies
        .into_iter()
        .map(|(month, tally)| MonthFigures {
            month,
            disputes: tally.figures(),
        })
        .collect()
}
