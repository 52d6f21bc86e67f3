//! Household visit statistics: visits per village and per cadre per week,
//! topic and sentiment counts and trends, pending follow-ups.

use std::collections::BTreeMap;

use fengqiao_protocol::VillageCode;

use super::{
    CaseList, FollowUps, IsoWeek, StatsQuery, VisitStats, WeekVisits, bump, entry_of, zeros,
};
use crate::summary::{Millis, Summary};
use crate::vocab::{RecordKind, Sentiment, Topic};

/// When a visit happened: its visit time, or its creation time when it has
/// none.
pub(super) fn visit_time(summary: &Summary) -> Millis {
    summary.visited_at.unwrap_or(summary.created_at)
}

/// The visits of the query's scope, at any time.
pub(super) fn visits_in_scope<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    query: &StatsQuery,
) -> Vec<&'a Summary> {
    summaries
        .into_iter()
        .filter(|s| s.kind == RecordKind::Visit && query.in_scope(&s.village))
        .collect()
}

/// A follow-up promised and not yet done.
pub(super) fn is_pending_follow_up(summary: &Summary) -> bool {
    summary.follow_up_needed && !summary.follow_up_done
}

fn follow_ups(visits: &[&Summary], query: &StatsQuery) -> FollowUps {
    let now = query.now;
    let mut pending: Vec<&Summary> = visits
        .iter()
        .copied()
        .filter(|s| is_pending_follow_up(s))
        .collect();
    // Earliest due first; no due date last.
    pending.sort_by(|a, b| {
        (a.follow_up_due.is_none(), a.follow_up_due, &a.id).cmp(&(
            b.follow_up_due.is_none(),
            b.follow_up_due,
            &b.id,
        ))
    });
    let overdue: Vec<&Summary> = pending
        .iter()
        .copied()
        .filter(|s| s.follow_up_due.is_some_and(|due| due < now))
        .collect();
    FollowUps {
        pending: CaseList::first(pending.len(), pending.iter().map(|s| &s.id), query),
        overdue: CaseList::first(overdue.len(), overdue.iter().map(|s| &s.id), query),
    }
}

/// Period figures of visits, added visit by visit and mergeable.
#[derive(Debug, Clone)]
pub(super) struct VisitTally {
    pub total: u64,
    pub by_village: BTreeMap<VillageCode, u64>,
    pub by_cadre_week: BTreeMap<String, BTreeMap<IsoWeek, u64>>,
    pub by_week: BTreeMap<IsoWeek, WeekVisits>,
    pub topics: BTreeMap<Topic, u64>,
    pub sentiments: BTreeMap<Sentiment, u64>,
}

impl Default for VisitTally {
    fn default() -> Self {
        Self {
            total: 0,
            by_village: BTreeMap::new(),
            by_cadre_week: BTreeMap::new(),
            by_week: BTreeMap::new(),
            topics: zeros(Topic::ALL),
            sentiments: zeros(Sentiment::ALL),
        }
    }
}

fn add_counts<K: Ord + Clone>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (key, n) in from {
        *entry_of(into, key) += n;
    }
}

impl VisitTally {
    /// Counts one visit of the period, its week taken in `offset` minutes
    /// from UTC.
    pub fn add(&mut self, visit: &Summary, offset: i32) {
        self.total += 1;
        *entry_of(&mut self.by_village, &visit.village) += 1;
        let week = IsoWeek::from_millis(visit_time(visit), offset);
        bump(entry_of(&mut self.by_cadre_week, &visit.created_by), week);
        let week_visits = self.by_week.entry(week).or_insert_with(|| WeekVisits {
            visits: 0,
            topics: zeros(Topic::ALL),
            sentiments: zeros(Sentiment::ALL),
        });
        week_visits.visits += 1;
        for (i, &topic) in visit.topics.iter().enumerate() {
            if visit.topics[..i].contains(&topic) {
                continue; // each topic counts once per visit
            }
            bump(&mut self.topics, topic);
            bump(&mut week_visits.topics, topic);
        }
        if let Some(sentiment) = visit.sentiment {
            bump(&mut self.sentiments, sentiment);
            bump(&mut week_visits.sentiments, sentiment);
        }
    }

    /// Takes in another group's tally, as if its visits had been added.
    pub fn merge(&mut self, other: &VisitTally) {
        self.total += other.total;
        add_counts(&mut self.by_village, &other.by_village);
        for (cadre, weeks) in &other.by_cadre_week {
            match self.by_cadre_week.get_mut(cadre) {
                Some(mine) => add_counts(mine, weeks),
                None => {
                    self.by_cadre_week.insert(cadre.clone(), weeks.clone());
                }
            }
        }
        for (week, theirs) in &other.by_week {
            match self.by_week.get_mut(week) {
                Some(mine) => {
                    mine.visits += theirs.visits;
                    add_counts(&mut mine.topics, &theirs.topics);
                    add_counts(&mut mine.sentiments, &theirs.sentiments);
                }
                None => {
                    self.by_week.insert(*week, theirs.clone());
                }
            }
        }
        add_counts(&mut self.topics, &other.topics);
        add_counts(&mut self.sentiments, &other.sentiments);
    }

    /// The statistics these figures and `follow_ups` make for `query`.
    pub fn into_stats(self, follow_ups: FollowUps, query: &StatsQuery) -> VisitStats {
        VisitStats {
            as_of: query.now,
            period: query.period,
            scope: query.scope.clone(),
            total: self.total,
            by_village: self.by_village,
            by_cadre_week: self.by_cadre_week,
            by_week: self.by_week,
            topics: self.topics,
            sentiments: self.sentiments,
            follow_ups,
        }
    }
}

/// Visit statistics for the query. Period figures take visits whose visit
/// time (creation time when absent) lies in the period; weeks are ISO weeks
/// of that time in the query's offset; a visit counts once per distinct
/// topic. Follow-ups are a backlog as of `query.now`: needed and not done,
/// overdue when due strictly before `now`.
pub fn visit_stats<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    query: &StatsQuery,
) -> VisitStats {
    let visits = visits_in_scope(summaries, query);
    let mut tally = VisitTally::default();
    for visit in visits
        .iter()
        .copied()
        .filter(|s| query.period.contains(visit_time(s)))
    {
        tally.add(visit, query.utc_offset_minutes);
    }
    tally.into_stats(follow_ups(&visits, query), query)
}
