//! Household visit statistics: visits per village and per cadre per week,
//! topic and sentiment counts and trends, pending follow-ups.

use std::collections::BTreeMap;

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

fn follow_ups(visits: &[&Summary], now: Millis) -> FollowUps {
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
    let overdue = pending
        .iter()
        .filter(|s| s.follow_up_due.is_some_and(|due| due < now))
        .map(|s| s.id.clone())
        .collect();
    FollowUps {
        pending: CaseList::from_sorted(pending.iter().map(|s| s.id.clone()).collect()),
        overdue: CaseList::from_sorted(overdue),
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
    let mut total = 0;
    let mut by_village = BTreeMap::new();
    let mut by_cadre_week: BTreeMap<String, BTreeMap<IsoWeek, u64>> = BTreeMap::new();
    let mut by_week: BTreeMap<IsoWeek, WeekVisits> = BTreeMap::new();
    let mut topics = zeros(Topic::ALL);
    let mut sentiments = zeros(Sentiment::ALL);
    for visit in visits
        .iter()
        .copied()
        .filter(|s| query.period.contains(visit_time(s)))
    {
        total += 1;
        *entry_of(&mut by_village, &visit.village) += 1;
        let week = IsoWeek::from_millis(visit_time(visit), query.utc_offset_minutes);
        bump(entry_of(&mut by_cadre_week, &visit.created_by), week);
        let week_visits = by_week.entry(week).or_insert_with(|| WeekVisits {
            visits: 0,
            topics: zeros(Topic::ALL),
            sentiments: zeros(Sentiment::ALL),
        });
        week_visits.visits += 1;
        for (i, &topic) in visit.topics.iter().enumerate() {
            if visit.topics[..i].contains(&topic) {
                continue; // each topic counts once per visit
            }
            bump(&mut topics, topic);
            bump(&mut week_visits.topics, topic);
        }
        if let Some(sentiment) = visit.sentiment {
            bump(&mut sentiments, sentiment);
            bump(&mut week_visits.sentiments, sentiment);
        }
    }
    VisitStats {
        as_of: query.now,
        period: query.period,
        scope: query.scope.clone(),
        total,
        by_village,
        by_cadre_week,
        by_week,
        topics,
        sentiments,
        follow_ups: follow_ups(&visits, query.now),
    }
}
