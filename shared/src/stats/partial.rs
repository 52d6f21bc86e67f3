//! Statistics computed village by village and merged exactly.
//!
//! A township's or district's figures are the figures of its villages put
//! together, and a record only ever changes its own village's. A
//! [`VillagePartial`] holds everything the scope's answers need from one
//! village, for one period and calendar offset, and stays valid at any "as
//! of" time, overdue threshold and list limit:
//!
//! - dispute and visit tallies, merged by adding counts and concatenating
//!   resolve times, so rates and medians are exact;
//! - backlog candidates (open disputes, open high-risk disputes, pending
//!   follow-ups) sorted in their lists' order: the overdue ones are a prefix
//!   for any threshold, and a limited list is the first entries of a k-way
//!   merge;
//! - possible duplicates, which never cross a village.
//!
//! The `*_of` functions merge partials into exactly what the direct
//! functions of [`stats`](super) compute from the same summaries and query
//! (property-tested in `tests/statistics.rs`). The server keeps each
//! village's partial until a record of that village changes, so after a
//! commit it recomputes one village and merges, instead of going through
//! every record of the scope.
//!
//! Linked duplicates are decided over the whole set of records first:
//! [`cycle_representatives`] names the disputes that count although they
//! are linked (one per cycle of links, which may cross villages), and every
//! partial is computed with that set.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashSet};

use fengqiao_protocol::{DocumentId, TownCode, VillageCode};

use super::disputes::{
    self, Disputes, Tally, duplicates_of, is_open, is_open_high_risk, status_of,
};
use super::visits::{VisitTally, is_pending_follow_up, visit_time};
use super::{
    CaseList, CategoryFigures, DisputeFigures, DisputeStats, DuplicatePair, FollowUps,
    MonthFigures, Period, Statistics, StatsQuery, TownFigures, VillageFigures, YearMonth, bump,
    zeros,
};
use crate::summary::{Millis, Summary};
use crate::vocab::{Category, RecordKind, Risk, Status};

/// The disputes among `summaries` (the whole set, of any villages) that
/// count although they are linked as duplicates: the smallest id of each
/// cycle of links, and each whose link leads to no dispute of the set.
pub fn cycle_representatives<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
) -> HashSet<DocumentId> {
    let disputes: Vec<&Summary> = summaries
        .into_iter()
        .filter(|s| s.kind == RecordKind::Dispute)
        .collect();
    let present: HashSet<&DocumentId> = disputes.iter().map(|s| &s.id).collect();
    linked_that_count(
        disputes.into_iter().filter(|s| s.duplicate_of.is_some()),
        |id| present.contains(id),
    )
}

/// [`cycle_representatives`] for a caller that holds the linked disputes
/// apart: `linked` must hold at least every linked dispute of the set, and
/// `present` says whether an id is a dispute of the set.
pub fn linked_that_count<'a>(
    linked: impl IntoIterator<Item = &'a Summary>,
    present: impl Fn(&DocumentId) -> bool,
) -> HashSet<DocumentId> {
    let linked: Vec<&Summary> = linked
        .into_iter()
        .filter(|s| s.kind == RecordKind::Dispute && s.duplicate_of.is_some())
        .collect();
    disputes::cycle_representatives(&linked, present)
}

/// A backlog candidate in its list's order: creation time, then id.
type ByAge = (Millis, DocumentId);

/// A pending follow-up in its list's order: those with a due date first,
/// earliest due first, then by id.
type ByDue = (bool, Millis, DocumentId);

fn by_due(visit: &Summary) -> ByDue {
    (
        visit.follow_up_due.is_none(),
        visit.follow_up_due.unwrap_or(0),
        visit.id.clone(),
    )
}

/// What one village contributes to every statistics answer; see the module
/// documentation.
#[derive(Debug, Clone)]
pub struct VillagePartial {
    village: VillageCode,
    period: Period,
    utc_offset_minutes: i32,
    /// Counted disputes created within the period.
    disputes: Tally,
    by_status: BTreeMap<Status, u64>,
    by_category_count: BTreeMap<Category, u64>,
    by_risk: BTreeMap<Risk, u64>,
    categories: BTreeMap<Category, Tally>,
    months: BTreeMap<YearMonth, Tally>,
    /// Linked duplicates created within the period.
    linked: u64,
    /// Counted disputes not resolved, of any time.
    open: Vec<ByAge>,
    /// Of those, the ones of high risk.
    open_high_risk: Vec<ByAge>,
    /// The first possible duplicates (see `duplicates_of`), and how many
    /// there are.
    duplicates: Vec<DuplicatePair>,
    duplicate_count: usize,
    visits: VisitTally,
    pending: Vec<ByDue>,
}

impl VillagePartial {
    /// The partial of `village` for the query's period and offset (its "as
    /// of" time, threshold, scope and list limit do not matter), from its
    /// records; records of other villages are ignored. `kept` comes from
    /// [`cycle_representatives`] over at least every linked dispute of the
    /// scope.
    pub fn compute<'a>(
        village: &VillageCode,
        summaries: impl IntoIterator<Item = &'a Summary>,
        kept: &HashSet<DocumentId>,
        query: &StatsQuery,
    ) -> Self {
        let mine: Vec<&Summary> = summaries
            .into_iter()
            .filter(|s| s.village == *village)
            .collect();
        let period = query.period;
        let offset = query.utc_offset_minutes;
        let disputes = Disputes::split(mine.iter().copied(), kept);
        let mut partial = Self {
            village: village.clone(),
            period,
            utc_offset_minutes: offset,
            disputes: Tally::default(),
            by_status: BTreeMap::new(),
            by_category_count: BTreeMap::new(),
            by_risk: BTreeMap::new(),
            categories: BTreeMap::new(),
            months: BTreeMap::new(),
            linked: 0,
            open: Vec::new(),
            open_high_risk: Vec::new(),
            duplicates: Vec::new(),
            duplicate_count: 0,
            visits: VisitTally::default(),
            pending: Vec::new(),
        };
        let found = duplicates_of(&disputes, query);
        partial.duplicates = found.pairs;
        partial.duplicate_count = found.count;
        partial.by_status = zeros(Status::ALL);
        partial.by_category_count = zeros(Category::ALL);
        partial.by_risk = zeros(Risk::ALL);
        for dispute in disputes.in_period(query) {
            partial.disputes.add(dispute);
            bump(&mut partial.by_status, status_of(dispute));
            if let Some(c) = dispute.category {
                bump(&mut partial.by_category_count, c);
                partial.categories.entry(c).or_default().add(dispute);
            }
            if let Some(r) = dispute.risk {
                bump(&mut partial.by_risk, r);
            }
            partial
                .months
                .entry(YearMonth::from_millis(dispute.created_at, offset))
                .or_default()
                .add(dispute);
        }
        partial.linked = disputes
            .linked
            .iter()
            .filter(|s| period.contains(s.created_at))
            .count() as u64;
        for dispute in &disputes.counted {
            if is_open(dispute) {
                partial.open.push((dispute.created_at, dispute.id.clone()));
            }
            if is_open_high_risk(dispute) {
                partial
                    .open_high_risk
                    .push((dispute.created_at, dispute.id.clone()));
            }
        }
        partial.open.sort_unstable();
        partial.open_high_risk.sort_unstable();
        for visit in mine.iter().filter(|s| s.kind == RecordKind::Visit) {
            if period.contains(visit_time(visit)) {
                partial.visits.add(visit, offset);
            }
            if is_pending_follow_up(visit) {
                partial.pending.push(by_due(visit));
            }
        }
        partial.pending.sort_unstable();
        partial
    }

    pub fn village(&self) -> &VillageCode {
        &self.village
    }

    /// Whether this partial answers for `query` (same period and offset).
    pub fn fits(&self, query: &StatsQuery) -> bool {
        self.period == query.period && self.utc_offset_minutes == query.utc_offset_minutes
    }

    /// Open disputes created before the query's overdue threshold: a prefix
    /// of the open ones.
    fn overdue(&self, query: &StatsQuery) -> &[ByAge] {
        let before = query.overdue_before();
        let end = self.open.partition_point(|(created, _)| *created < before);
        &self.open[..end]
    }

    /// Pending follow-ups due strictly before `now`: a prefix of the pending
    /// ones.
    fn overdue_follow_ups(&self, now: Millis) -> &[ByDue] {
        let end = self
            .pending
            .partition_point(|(no_due, due, _)| !*no_due && *due < now);
        &self.pending[..end]
    }
}

/// Partials of every village of `summaries` in the query's scope, by
/// village code.
pub fn partials<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    query: &StatsQuery,
) -> Vec<VillagePartial> {
    let summaries: Vec<&Summary> = summaries.into_iter().collect();
    let kept = cycle_representatives(summaries.iter().copied());
    let mut by_village: BTreeMap<&VillageCode, Vec<&Summary>> = BTreeMap::new();
    for summary in summaries
        .iter()
        .copied()
        .filter(|s| query.in_scope(&s.village))
    {
        by_village
            .entry(&summary.village)
            .or_default()
            .push(summary);
    }
    by_village
        .into_iter()
        .map(|(village, records)| VillagePartial::compute(village, records, &kept, query))
        .collect()
}

/// The partials that count for `query`, by village code.
fn in_scope<'a>(
    partials: impl IntoIterator<Item = &'a VillagePartial>,
    query: &StatsQuery,
) -> Vec<&'a VillagePartial> {
    let mut partials: Vec<&VillagePartial> = partials
        .into_iter()
        .filter(|p| query.in_scope(&p.village))
        .collect();
    partials.sort_by(|a, b| a.village.cmp(&b.village));
    partials
}

/// The entries of sorted lists in order, as a [`CaseList`] limited by the
/// query: a k-way merge of just the entries kept when the limit is below
/// the count, one sort otherwise.
fn merged<'a, K: Ord + 'a>(
    lists: impl IntoIterator<Item = &'a [K]>,
    query: &StatsQuery,
    id: impl Fn(&'a K) -> &'a DocumentId,
) -> CaseList {
    let lists: Vec<&[K]> = lists.into_iter().filter(|l| !l.is_empty()).collect();
    let count: usize = lists.iter().map(|l| l.len()).sum();
    let take = query.list_len(count);
    let mut first: Vec<&K> = Vec::with_capacity(take);
    if take == count {
        first.extend(lists.iter().flat_map(|l| l.iter()));
        first.sort_unstable();
    } else {
        let mut heads: BinaryHeap<Reverse<(&K, usize, usize)>> = lists
            .iter()
            .enumerate()
            .filter_map(|(list, entries)| entries.first().map(|e| Reverse((e, list, 0))))
            .collect();
        while first.len() < take {
            let Some(Reverse((entry, list, at))) = heads.pop() else {
                break;
            };
            first.push(entry);
            if let Some(next) = lists.get(list).and_then(|l| l.get(at + 1)) {
                heads.push(Reverse((next, list, at + 1)));
            }
        }
    }
    CaseList::first(count, first.into_iter().map(id), query)
}

fn tally_of<'a>(tallies: impl IntoIterator<Item = &'a Tally>) -> Tally {
    let mut total = Tally::default();
    for tally in tallies {
        total.merge(tally);
    }
    total
}

/// Every possible duplicate of the scope, as
/// [`possible_duplicates`](super::possible_duplicates) lists them.
pub fn possible_duplicates_of<'a>(
    partials: impl IntoIterator<Item = &'a VillagePartial>,
    query: &StatsQuery,
) -> Vec<DuplicatePair> {
    in_scope(partials, query)
        .into_iter()
        .flat_map(|p| p.duplicates.iter().cloned())
        .collect()
}

/// [`dispute_stats`](super::dispute_stats) and
/// [`visit_stats`](super::visit_stats) of the scope, from its villages'
/// partials.
pub fn statistics_of<'a>(
    partials: impl IntoIterator<Item = &'a VillagePartial>,
    query: &StatsQuery,
) -> Statistics {
    let partials = in_scope(partials, query);
    let mut by_village_status = BTreeMap::new();
    let mut by_village_category = BTreeMap::new();
    let mut by_village_risk = BTreeMap::new();
    for p in partials.iter().filter(|p| p.disputes.total() > 0) {
        by_village_status.insert(p.village.clone(), p.by_status.clone());
        by_village_category.insert(p.village.clone(), p.by_category_count.clone());
        by_village_risk.insert(p.village.clone(), p.by_risk.clone());
    }
    let duplicate_count: usize = partials.iter().map(|p| p.duplicate_count).sum();
    let possible_duplicates = partials
        .iter()
        .flat_map(|p| p.duplicates.iter())
        .take(query.list_len(duplicate_count))
        .cloned()
        .collect();
    let disputes = DisputeStats {
        as_of: query.now,
        period: query.period,
        scope: query.scope.clone(),
        overdue_days: query.overdue_days,
        list_limit: query.list_limit,
        totals: tally_of(partials.iter().map(|p| &p.disputes)).figures(),
        by_village_status,
        by_village_category,
        by_village_risk,
        linked_duplicates: partials.iter().map(|p| p.linked).sum(),
        overdue: merged(partials.iter().map(|p| p.overdue(query)), query, |e| &e.1),
        open_high_risk: merged(
            partials.iter().map(|p| p.open_high_risk.as_slice()),
            query,
            |e| &e.1,
        ),
        possible_duplicates,
        possible_duplicate_count: duplicate_count as u64,
    };
    let mut visits = VisitTally::default();
    for p in &partials {
        visits.merge(&p.visits);
    }
    let follow_ups = FollowUps {
        pending: merged(partials.iter().map(|p| p.pending.as_slice()), query, |e| {
            &e.2
        }),
        overdue: merged(
            partials.iter().map(|p| p.overdue_follow_ups(query.now)),
            query,
            |e| &e.2,
        ),
    };
    Statistics {
        disputes,
        visits: visits.into_stats(follow_ups, query),
        definitions: super::definitions(),
    }
}

/// [`by_village`](super::by_village) from the villages' partials.
pub fn by_village_of<'a>(
    partials: impl IntoIterator<Item = &'a VillagePartial>,
    query: &StatsQuery,
) -> Vec<VillageFigures> {
    in_scope(partials, query)
        .into_iter()
        .map(|p| VillageFigures {
            village: p.village.clone(),
            disputes: p.disputes.clone().figures(),
            overdue: p.overdue(query).len() as u64,
            open_high_risk: p.open_high_risk.len() as u64,
            visits: p.visits.total,
            pending_follow_ups: p.pending.len() as u64,
        })
        .filter(|row| {
            row.disputes.total > 0
                || row.overdue > 0
                || row.open_high_risk > 0
                || row.visits > 0
                || row.pending_follow_ups > 0
        })
        .collect()
}

/// The dispute figures of the whole scope for the query's period, as
/// [`dispute_stats`](super::dispute_stats) gives them in `totals`, from
/// the villages' partials (cheaper than [`statistics_of`] when only the
/// headline is wanted, e.g. for the previous month).
pub fn totals_of<'a>(
    partials: impl IntoIterator<Item = &'a VillagePartial>,
    query: &StatsQuery,
) -> DisputeFigures {
    tally_of(in_scope(partials, query).iter().map(|p| &p.disputes)).figures()
}

/// [`by_town`](super::by_town) from the villages' partials.
pub fn by_town_of<'a>(
    partials: impl IntoIterator<Item = &'a VillagePartial>,
    query: &StatsQuery,
) -> Vec<TownFigures> {
    let mut towns: BTreeMap<TownCode, (Tally, [u64; 4])> = BTreeMap::new();
    for p in in_scope(partials, query) {
        let backlog = [
            p.overdue(query).len() as u64,
            p.open_high_risk.len() as u64,
            p.visits.total,
            p.pending.len() as u64,
        ];
        if p.disputes.total() == 0 && backlog.iter().all(|&n| n == 0) {
            continue;
        }
        let (tally, counts) = towns.entry(p.village.town()).or_default();
        tally.merge(&p.disputes);
        for (sum, n) in counts.iter_mut().zip(backlog) {
            *sum += n;
        }
    }
    towns
        .into_iter()
        .map(
            |(town, (tally, [overdue, open_high_risk, visits, pending_follow_ups]))| TownFigures {
                town,
                disputes: tally.figures(),
                overdue,
                open_high_risk,
                visits,
                pending_follow_ups,
            },
        )
        .collect()
}

/// [`by_category`](super::by_category) from the villages' partials.
pub fn by_category_of<'a>(
    partials: impl IntoIterator<Item = &'a VillagePartial>,
    query: &StatsQuery,
) -> Vec<CategoryFigures> {
    let partials = in_scope(partials, query);
    Category::ALL
        .iter()
        .map(|&category| CategoryFigures {
            category,
            disputes: tally_of(partials.iter().filter_map(|p| p.categories.get(&category)))
                .figures(),
        })
        .collect()
}

/// [`by_month`](super::by_month) from the villages' partials.
pub fn by_month_of<'a>(
    partials: impl IntoIterator<Item = &'a VillagePartial>,
    query: &StatsQuery,
) -> Vec<MonthFigures> {
    let mut months: BTreeMap<YearMonth, Tally> = BTreeMap::new();
    for p in in_scope(partials, query) {
        for (month, tally) in &p.months {
            months.entry(*month).or_default().merge(tally);
        }
    }
    months
        .into_iter()
        .map(|(month, tally)| MonthFigures {
            month,
            disputes: tally.figures(),
        })
        .collect()
}
