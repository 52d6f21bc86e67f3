//! Dispute statistics: which disputes count, the figures of a group of
//! disputes, the backlog lists and possible duplicates.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use fengqiao_protocol::{DocumentId, VillageCode};

use super::{
    CaseList, DUPLICATE_WINDOW_DAYS, DisputeFigures, DisputeStats, DuplicatePair,
    GRASSROOTS_TARGET_FRACTION, MILLIS_PER_DAY, Standing, StatsQuery, bump, days_between, entry_of,
    median, ratio, zeros,
};
use crate::summary::Summary;
use crate::vocab::{Category, RecordKind, Risk, Status};

/// The disputes of a query's scope, split into those that count and the
/// linked duplicates that are represented by another case.
pub(super) struct Disputes<'a> {
    pub counted: Vec<&'a Summary>,
    pub linked: Vec<&'a Summary>,
}

impl<'a> Disputes<'a> {
    pub fn select(summaries: impl IntoIterator<Item = &'a Summary>, query: &StatsQuery) -> Self {
        let all: Vec<&Summary> = summaries
            .into_iter()
            .filter(|s| s.kind == RecordKind::Dispute)
            .collect();
        let present: HashSet<&DocumentId> = all.iter().map(|s| &s.id).collect();
        let kept = cycle_representatives(&all, |id| present.contains(id));
        Self::split(
            all.into_iter().filter(|s| query.in_scope(&s.village)),
            &kept,
        )
    }

    /// Splits disputes given the [cycle representatives](cycle_representatives)
    /// of the whole set they belong to.
    pub fn split(
        disputes: impl IntoIterator<Item = &'a Summary>,
        kept: &HashSet<DocumentId>,
    ) -> Self {
        let (counted, linked) = disputes
            .into_iter()
            .filter(|s| s.kind == RecordKind::Dispute)
            .partition(|s| s.duplicate_of.is_none() || kept.contains(&s.id));
        Self { counted, linked }
    }

    /// Counted disputes created within the period.
    pub fn in_period(&self, query: &StatsQuery) -> impl Iterator<Item = &'a Summary> + '_ {
        let period = query.period;
        self.counted
            .iter()
            .copied()
            .filter(move |s| period.contains(s.created_at))
    }
}

/// The disputes that are linked as duplicates yet must still be counted:
/// the smallest id of each cycle of links, and each dispute whose link
/// leads to no dispute of the set (`present` says which ids are), so that a
/// link to a record that does not exist, or no longer does, never hides a
/// case.
///
/// `duplicateOf` links form a graph in which each dispute points to at most
/// one other, so every walk ends at a case that is no duplicate (it counts),
/// at an id that is not present (the dispute before it counts), or in a
/// cycle. Linear time.
pub(super) fn cycle_representatives(
    disputes: &[&Summary],
    present: impl Fn(&DocumentId) -> bool,
) -> HashSet<DocumentId> {
    let links: HashMap<&DocumentId, &DocumentId> = disputes
        .iter()
        .filter_map(|s| s.duplicate_of.as_ref().map(|target| (&s.id, target)))
        .collect();
    let mut done: HashSet<&DocumentId> = HashSet::new();
    let mut kept = HashSet::new();
    for start in links.keys().copied() {
        let mut path: Vec<&DocumentId> = Vec::new();
        let mut on_path: HashMap<&DocumentId, usize> = HashMap::new();
        let mut current = start;
        loop {
            if done.contains(current) {
                break;
            }
            if let Some(&index) = on_path.get(current) {
                if let Some(smallest) = path.get(index..).and_then(|cycle| cycle.iter().min()) {
                    kept.insert((*smallest).clone());
                }
                break;
            }
            on_path.insert(current, path.len());
            path.push(current);
            match links.get(current) {
                Some(next) => current = next,
                None => {
                    // The walk left the linked disputes: at a case that
                    // counts, or at an id that is no dispute of the set,
                    // when the one that links to it counts instead.
                    if !present(current) {
                        // Not marked done: another dispute linking to the
                        // same missing id counts too.
                        path.pop();
                        if let Some(dangling) = path.last() {
                            kept.insert((*dangling).clone());
                        }
                    }
                    break;
                }
            }
        }
        done.extend(path);
    }
    kept
}

/// The status used for counting: a dispute no event has moved is open.
pub(super) fn status_of(summary: &Summary) -> Status {
    summary.status.unwrap_or(Status::Open)
}

pub(super) fn is_open(summary: &Summary) -> bool {
    status_of(summary).is_open()
}

/// Accumulates [`DisputeFigures`].
#[derive(Debug, Clone, Default)]
pub(super) struct Tally {
    total: u64,
    resolved: u64,
    mediating: u64,
    failed: u64,
    escalated: u64,
    village_resolved: u64,
    town_resolved: u64,
    still_open: u64,
    failed_in_township: u64,
    escalated_beyond: u64,
    resolved_beyond: u64,
    days_to_resolve: Vec<f64>,
}

impl Tally {
    pub fn add(&mut self, summary: &Summary) {
        self.total += 1;
        let status = status_of(summary);
        match status {
            Status::Resolved => {
                self.resolved += 1;
                if let Some(resolved_at) = summary.resolved_at {
                    self.days_to_resolve
                        .push(days_between(summary.created_at, resolved_at).max(0.0));
                }
            }
            Status::Mediating => self.mediating += 1,
            Status::Failed => self.failed += 1,
            Status::Escalated => self.escalated += 1,
            Status::Open => {}
        }
        match Standing::of(summary) {
            Standing::VillageResolved => self.village_resolved += 1,
            Standing::TownResolved => self.town_resolved += 1,
            Standing::StillOpen => self.still_open += 1,
            Standing::FailedInTownship => self.failed_in_township += 1,
            Standing::EscalatedBeyondTownship => {
                self.escalated_beyond += 1;
                if status == Status::Resolved {
                    self.resolved_beyond += 1;
                }
            }
        }
    }

    /// Takes in another group's tally, as if its disputes had been added.
    pub fn merge(&mut self, other: &Tally) {
        self.total += other.total;
        self.resolved += other.resolved;
        self.mediating += other.mediating;
        self.failed += other.failed;
        self.escalated += other.escalated;
        self.village_resolved += other.village_resolved;
        self.town_resolved += other.town_resolved;
        self.still_open += other.still_open;
        self.failed_in_township += other.failed_in_township;
        self.escalated_beyond += other.escalated_beyond;
        self.resolved_beyond += other.resolved_beyond;
        self.days_to_resolve
            .extend_from_slice(&other.days_to_resolve);
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn figures(self) -> DisputeFigures {
        let (num, den) = GRASSROOTS_TARGET_FRACTION;
        let grassroots = self.village_resolved + self.town_resolved;
        DisputeFigures {
            total: self.total,
            received: self.total,
            open: self.total - self.resolved,
            resolved: self.resolved,
            mediating: self.mediating,
            failed: self.failed,
            escalated: self.escalated,
            village_resolved: self.village_resolved,
            town_resolved: self.town_resolved,
            grassroots_resolved: grassroots,
            resolved_beyond_township: self.resolved_beyond,
            still_open: self.still_open,
            failed_in_township: self.failed_in_township,
            escalated_beyond_township: self.escalated_beyond,
            resolution_rate: ratio(self.resolved, self.total),
            grassroots_rate: ratio(grassroots, self.total),
            village_rate: ratio(self.village_resolved, self.total),
            grassroots_target_met: self.total > 0
                && u128::from(grassroots) * u128::from(den)
                    >= u128::from(self.total) * u128::from(num),
            median_days_to_resolve: median(self.days_to_resolve),
        }
    }
}

/// Sorts oldest first (creation time, then id) and keeps the ids.
fn oldest_first(mut cases: Vec<&Summary>, query: &StatsQuery) -> CaseList {
    cases.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    CaseList::first(cases.len(), cases.iter().map(|s| &s.id), query)
}

pub(super) fn is_overdue(summary: &Summary, query: &StatsQuery) -> bool {
    is_open(summary) && summary.created_at < query.overdue_before()
}

pub(super) fn is_open_high_risk(summary: &Summary) -> bool {
    is_open(summary) && summary.risk == Some(Risk::High)
}

/// Backlog: counted disputes not resolved and created more than
/// `query.overdue_days` days before `query.now` (strictly), oldest first.
/// The period is ignored.
pub fn overdue_cases<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    query: &StatsQuery,
) -> CaseList {
    let disputes = Disputes::select(summaries, query);
    overdue_of(&disputes, query)
}

fn overdue_of(disputes: &Disputes<'_>, query: &StatsQuery) -> CaseList {
    oldest_first(
        disputes
            .counted
            .iter()
            .copied()
            .filter(|s| is_overdue(s, query))
            .collect(),
        query,
    )
}

/// Backlog: counted disputes of risk `high` that are not resolved, oldest
/// first. The period is ignored.
pub fn open_high_risk<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    query: &StatsQuery,
) -> CaseList {
    let disputes = Disputes::select(summaries, query);
    open_high_risk_of(&disputes, query)
}

fn open_high_risk_of(disputes: &Disputes<'_>, query: &StatsQuery) -> CaseList {
    oldest_first(
        disputes
            .counted
            .iter()
            .copied()
            .filter(|s| is_open_high_risk(s))
            .collect(),
        query,
    )
}

/// A party name as compared for duplicates: trimmed and lower-cased.
fn normalised_names(summary: &Summary) -> BTreeSet<String> {
    summary
        .party_names
        .iter()
        .map(|name| name.trim().to_lowercase())
        .filter(|name| !name.is_empty())
        .collect()
}

/// Possible duplicates: pairs of counted disputes of the same village and
/// the same category that share a party name (trimmed, case-insensitive)
/// and were created at most [`DUPLICATE_WINDOW_DAYS`] days apart
/// (inclusive), at least one of them within the period, unless an official
/// marked either of them "not a duplicate" of the other.
///
/// Only counted disputes are candidates, so a linked duplicate is
/// represented by the case it points to: a pair that is already linked is
/// never reported, nor is a case paired with its own linked duplicates.
/// Cases of any status are compared, resolved ones included: a case
/// reported twice inflates the figures either way. Sorted by village, then
/// by the first case (creation time, id), then by the second.
pub fn possible_duplicates<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    query: &StatsQuery,
) -> Vec<DuplicatePair> {
    let disputes = Disputes::select(summaries, query);
    duplicates_of(&disputes, query).pairs
}

/// Possible duplicates listed per village at most. Many cases of one
/// village sharing a name make pairs by the square of their number (3,000
/// cases, 4.5 million pairs); beyond this many, pairs are counted, not
/// listed, so a flood of small records cannot buy gigabytes of pairs.
pub const MAX_LISTED_DUPLICATES_PER_VILLAGE: usize = 1_000;

/// A case compared for duplicates: its hashed names and its names.
type Candidate<'a> = (&'a Summary, Vec<u64>, BTreeSet<String>);

/// Possible duplicates: the first ones listed, and how many there are.
pub(super) struct FoundDuplicates {
    /// At most [`MAX_LISTED_DUPLICATES_PER_VILLAGE`] per village, in order.
    pub pairs: Vec<DuplicatePair>,
    /// Every pair, listed or not.
    pub count: usize,
}

pub(super) fn duplicates_of(disputes: &Disputes<'_>, query: &StatsQuery) -> FoundDuplicates {
    let window = i128::from(DUPLICATE_WINDOW_DAYS) * i128::from(MILLIS_PER_DAY);
    // Candidates are compared by hashed names (no allocation per record);
    // the names, built once per case, rule out a hash collision, and a
    // pair's shared names are only built for pairs that are listed.
    let mut by_village: BTreeMap<&VillageCode, Vec<Candidate<'_>>> = BTreeMap::new();
    for summary in &disputes.counted {
        let keys = name_keys(summary);
        if !keys.is_empty() {
            by_village.entry(&summary.village).or_default().push((
                summary,
                keys,
                normalised_names(summary),
            ));
        }
    }
    let mut pairs = Vec::new();
    let mut count = 0;
    for (village, mut cases) in by_village {
        cases.sort_by(|(a, ..), (b, ..)| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let mut listed = 0;
        for (i, (first, first_keys, first_names)) in cases.iter().enumerate() {
            for (second, second_keys, second_names) in cases.iter().skip(i + 1) {
                if i128::from(second.created_at) - i128::from(first.created_at) > window {
                    break;
                }
                if !query.period.contains(first.created_at)
                    && !query.period.contains(second.created_at)
                {
                    continue;
                }
                if first.category != second.category
                    || dismissed(first, second)
                    || !share_a_key(first_keys, second_keys)
                    || first_names.intersection(second_names).next().is_none()
                {
                    continue;
                }
                count += 1;
                if listed == MAX_LISTED_DUPLICATES_PER_VILLAGE {
                    continue;
                }
                listed += 1;
                pairs.push(DuplicatePair {
                    village: village.clone(),
                    category: first.category,
                    first: first.id.clone(),
                    second: second.id.clone(),
                    days_apart: days_between(first.created_at, second.created_at),
                    shared_names: first_names.intersection(second_names).cloned().collect(),
                });
            }
        }
    }
    FoundDuplicates { pairs, count }
}

/// Whether an official judged the two cases not to be duplicates: the mark
/// is kept on one of them, whichever the official acted on.
fn dismissed(a: &Summary, b: &Summary) -> bool {
    a.not_duplicates.contains(&b.id) || b.not_duplicates.contains(&a.id)
}

/// The party names of a case as compared for duplicates (trimmed,
/// lower-cased), as sorted 64-bit FNV-1a hashes.
fn name_keys(summary: &Summary) -> Vec<u64> {
    let mut keys: Vec<u64> = summary
        .party_names
        .iter()
        .filter_map(|name| {
            let trimmed = name.trim();
            if trimmed.is_empty() {
                return None;
            }
            let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
            for c in trimmed.chars().flat_map(char::to_lowercase) {
                for byte in u32::from(c).to_le_bytes() {
                    hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
                }
            }
            Some(hash)
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Whether two sorted key lists have a key in common.
fn share_a_key(a: &[u64], b: &[u64]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// A village's row of counts, started at zero for every value, without
/// cloning the village code for each record.
fn village_row<'m, K: Ord + Copy>(
    map: &'m mut BTreeMap<VillageCode, BTreeMap<K, u64>>,
    village: &VillageCode,
    all: &[K],
) -> &'m mut BTreeMap<K, u64> {
    if !map.contains_key(village) {
        map.insert(village.clone(), zeros(all));
    }
    entry_of(map, village)
}

/// Dispute statistics for the query; see the module documentation for which
/// disputes count where.
pub fn dispute_stats<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    query: &StatsQuery,
) -> DisputeStats {
    let disputes = Disputes::select(summaries, query);
    let mut tally = Tally::default();
    let mut by_village_status: BTreeMap<VillageCode, BTreeMap<Status, u64>> = BTreeMap::new();
    let mut by_village_category: BTreeMap<VillageCode, BTreeMap<Category, u64>> = BTreeMap::new();
    let mut by_village_risk: BTreeMap<VillageCode, BTreeMap<Risk, u64>> = BTreeMap::new();
    for summary in disputes.in_period(query) {
        tally.add(summary);
        bump(
            village_row(&mut by_village_status, &summary.village, Status::ALL),
            status_of(summary),
        );
        let categories = village_row(&mut by_village_category, &summary.village, Category::ALL);
        if let Some(category) = summary.category {
            bump(categories, category);
        }
        let risks = village_row(&mut by_village_risk, &summary.village, Risk::ALL);
        if let Some(risk) = summary.risk {
            bump(risks, risk);
        }
    }
    let linked_duplicates = disputes
        .linked
        .iter()
        .filter(|s| query.period.contains(s.created_at))
        .count() as u64;
    let found = duplicates_of(&disputes, query);
    let possible_duplicate_count = found.count as u64;
    let mut possible_duplicates = found.pairs;
    possible_duplicates.truncate(query.list_len(possible_duplicates.len()));
    DisputeStats {
        as_of: query.now,
        period: query.period,
        scope: query.scope.clone(),
        overdue_days: query.overdue_days,
        list_limit: query.list_limit,
        totals: tally.figures(),
        by_village_status,
        by_village_category,
        by_village_risk,
        linked_duplicates,
        overdue: overdue_of(&disputes, query),
        open_high_risk: open_high_risk_of(&disputes, query),
        possible_duplicates,
        possible_duplicate_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::StatsQuery;
    use crate::vocab::Level;

    fn id(n: u8) -> DocumentId {
        DocumentId::from_bytes(&[n; 16]).unwrap()
    }

    fn dispute(n: u8, duplicate_of: Option<u8>) -> Summary {
        Summary {
            status: Some(Status::Open),
            category: Some(Category::Land),
            risk: Some(Risk::Low),
            party_names: vec!["Wang".into()],
            event_count: 1,
            duplicate_of: duplicate_of.map(id),
            last_activity: 0,
            ..Summary::new(
                id(n),
                RecordKind::Dispute,
                VillageCode::new("500110101001").unwrap(),
                i64::from(n) * MILLIS_PER_DAY,
                "cadre-1",
            )
        }
    }

    fn counted_ids(summaries: &[Summary]) -> Vec<DocumentId> {
        let mut ids: Vec<DocumentId> = Disputes::select(summaries, &StatsQuery::new(0))
            .counted
            .iter()
            .map(|s| s.id.clone())
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn chains_count_their_end_once() {
        // 3 -> 2 -> 1: only 1 counts.
        let s = [dispute(1, None), dispute(2, Some(1)), dispute(3, Some(2))];
        assert_eq!(counted_ids(&s), vec![id(1)]);
    }

    #[test]
    fn cycles_keep_their_smallest_member() {
        // 1 <-> 2 (marked offline by two cadres), 3 -> 1, 4 -> 4.
        let s = [
            dispute(2, Some(1)),
            dispute(1, Some(2)),
            dispute(3, Some(1)),
            dispute(4, Some(4)),
        ];
        assert_eq!(counted_ids(&s), vec![id(1), id(4)]);
    }

    #[test]
    fn a_link_to_a_case_that_is_not_there_hides_nothing() {
        // 1 -> 9 (never stored, or removed since): 1 still counts.
        assert_eq!(counted_ids(&[dispute(1, Some(9))]), vec![id(1)]);
        // Two links to the same missing case: both count.
        let s = [dispute(1, Some(9)), dispute(2, Some(9))];
        assert_eq!(counted_ids(&s), vec![id(1), id(2)]);
        // 3 -> 2 -> 9: the end of the chain that is there counts, once.
        let s = [dispute(2, Some(9)), dispute(3, Some(2))];
        assert_eq!(counted_ids(&s), vec![id(2)]);
        // A link to a visit is no link to a case.
        let mut visit = dispute(8, None);
        visit.kind = RecordKind::Visit;
        assert_eq!(counted_ids(&[dispute(1, Some(8)), visit]), vec![id(1)]);
    }

    #[test]
    fn empty_input_gives_empty_figures() {
        let stats = dispute_stats(&[], &StatsQuery::new(0));
        assert_eq!(stats.totals, DisputeFigures::default());
        assert!(!stats.totals.grassroots_target_met);
        assert!(stats.by_village_status.is_empty());
        assert_eq!(stats.overdue.count, 0);
        assert!(stats.possible_duplicates.is_empty());
    }

    #[test]
    fn extreme_times_do_not_panic() {
        let mut early = dispute(1, None);
        early.created_at = i64::MIN;
        early.status = Some(Status::Resolved);
        early.resolved_at = Some(i64::MAX);
        let mut late = dispute(2, None);
        late.created_at = i64::MAX;
        late.status = Some(Status::Resolved);
        late.resolved_at = Some(i64::MIN);
        let stats = dispute_stats(&[early, late], &StatsQuery::new(i64::MIN));
        assert_eq!(stats.totals.resolved, 2);
        assert!(
            stats
                .totals
                .median_days_to_resolve
                .is_some_and(f64::is_finite)
        );
        let stats = dispute_stats(&[dispute(3, None)], &StatsQuery::new(i64::MAX));
        assert_eq!(stats.overdue.count, 1);
    }

    #[test]
    fn target_is_met_at_exactly_ninety_percent_of_the_disputes_received() {
        let mut cases = Vec::new();
        for n in 1..=10u8 {
            let mut s = dispute(n, None);
            s.status = Some(Status::Resolved);
            s.resolved_at = Some(s.created_at);
            if n == 10 {
                s.max_escalation_level = Some(Level::District);
            } else if n == 9 {
                s.max_escalation_level = Some(Level::Town);
            } else if n == 8 {
                s.max_escalation_level = Some(Level::Village);
            }
            cases.push(s);
        }
        let figures = dispute_stats(&cases, &StatsQuery::new(0)).totals;
        assert_eq!(figures.grassroots_resolved, 9);
        assert_eq!(figures.village_resolved, 8);
        assert_eq!(figures.town_resolved, 1);
        assert_eq!(figures.escalated_beyond_township, 1);
        assert_eq!(figures.resolved_beyond_township, 1);
        assert_eq!(figures.grassroots_rate, Some(0.9));
        assert!(figures.grassroots_target_met);
        // A case still open counts against the rate: 9 of 11.
        cases.push(dispute(11, None));
        let figures = dispute_stats(&cases, &StatsQuery::new(0)).totals;
        assert_eq!(figures.received, 11);
        assert_eq!(figures.still_open, 1);
        assert!(!figures.grassroots_target_met);
        cases.pop();
        cases[8].max_escalation_level = Some(Level::Court);
        let figures = dispute_stats(&cases, &StatsQuery::new(0)).totals;
        assert_eq!(figures.grassroots_rate, Some(0.8));
        assert_eq!(figures.resolution_rate, Some(1.0));
        assert!(!figures.grassroots_target_met);
    }

    #[test]
    fn a_flood_of_cases_sharing_a_name_is_counted_but_listed_within_bounds() {
        let village = VillageCode::new("500110101001").unwrap();
        let cases: Vec<Summary> = (0..1_500u32)
            .map(|n| {
                let mut bytes = [7u8; 16];
                bytes[..4].copy_from_slice(&n.to_be_bytes());
                Summary {
                    status: Some(Status::Open),
                    party_names: vec!["Wang".into()],
                    ..Summary::new(
                        DocumentId::from_bytes(&bytes).unwrap(),
                        RecordKind::Dispute,
                        village.clone(),
                        0,
                        "cadre-1",
                    )
                }
            })
            .collect();
        let every_pair = 1_500 * 1_499 / 2;
        let query = StatsQuery::new(0);
        let listed = possible_duplicates(&cases, &query);
        assert_eq!(listed.len(), MAX_LISTED_DUPLICATES_PER_VILLAGE);
        assert_eq!(listed[0].shared_names, vec!["wang".to_owned()]);
        assert_eq!(
            dispute_stats(&cases, &query).possible_duplicate_count,
            every_pair
        );
        // The villages' partials, which the server's reports use, alike.
        let partial = crate::stats::partial::VillagePartial::compute(
            &village,
            &cases,
            &std::collections::HashSet::new(),
            &query,
        );
        let stats = crate::stats::partial::statistics_of([&partial], &query);
        assert_eq!(stats.disputes.possible_duplicate_count, every_pair);
        assert_eq!(
            crate::stats::partial::possible_duplicates_of([&partial], &query).len(),
            MAX_LISTED_DUPLICATES_PER_VILLAGE
        );
    }
}
