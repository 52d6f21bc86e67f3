//! Per-cadre workload: visits per week, cases handled, cases overdue.
//!
//! A person's cases are the counted disputes they are assigned to (承办人),
//! or that they reported when nobody is assigned. For each person:
//!
//! - `visits`: household visits they made within the period (by visit
//!   time), and `visitsPerWeek`: that number over the weeks of the period
//!   (its days ÷ 7, at least one week). A period open at the start begins
//!   at the scope's first record; one open at the end, or ending after the
//!   "as of" time, ends then.
//! - `casesHandled`: their cases received within the period; `resolved`:
//!   of those, the ones resolved now.
//! - `open` and `overdue`: their cases not resolved now, and of those the
//!   ones overdue, whatever the period (a backlog, as of the "as of" time).
//!
//! People are keyed by their id here; the server names them from its
//! directory.

use std::collections::{BTreeMap, BTreeSet};

use fengqiao_protocol::VillageCode;
use serde::{Deserialize, Serialize};

use super::disputes::{Disputes, is_open, is_overdue};
use super::visits::{visit_time, visits_in_scope};
use super::{StatsQuery, days_between};
use crate::summary::Summary;
use crate::vocab::Status;

/// One person's workload.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CadreLoad {
    /// The person's id (`createdBy`, `assignees`).
    pub person: String,
    pub visits: u64,
    pub visits_per_week: f64,
    pub cases_handled: u64,
    pub resolved: u64,
    pub open: u64,
    pub overdue: u64,
    /// The villages of the person's visits and cases counted here, so
    /// people can be told apart by where they work.
    pub villages: BTreeSet<VillageCode>,
}

/// The weeks of the query's period over `summaries`; see the module
/// documentation.
fn weeks<'a>(summaries: impl IntoIterator<Item = &'a Summary>, query: &StatsQuery) -> f64 {
    let first = summaries.into_iter().map(|s| s.created_at).min();
    let from = query.period.from.or(first).unwrap_or(query.now);
    let to = query.period.to.map_or(query.now, |to| to.min(query.now));
    (days_between(from, to) / 7.0).max(1.0)
}

/// The people a dispute is handled by.
fn handlers(summary: &Summary) -> Vec<&str> {
    if summary.assignees.is_empty() {
        vec![summary.created_by.as_str()]
    } else {
        summary.assignees.iter().map(String::as_str).collect()
    }
}

/// Every person with a visit, a case or a backlog in the query's scope,
/// by id.
pub fn workload<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    query: &StatsQuery,
) -> Vec<CadreLoad> {
    let summaries: Vec<&Summary> = summaries
        .into_iter()
        .filter(|s| query.in_scope(&s.village))
        .collect();
    let mut people: BTreeMap<&str, CadreLoad> = BTreeMap::new();
    let row = |people: &mut BTreeMap<&'a str, CadreLoad>, person: &'a str| {
        people.entry(person).or_insert_with(|| CadreLoad {
            person: person.to_owned(),
            ..CadreLoad::default()
        });
    };
    for visit in visits_in_scope(summaries.iter().copied(), query) {
        if query.period.contains(visit_time(visit)) {
            row(&mut people, &visit.created_by);
            if let Some(load) = people.get_mut(visit.created_by.as_str()) {
                load.visits += 1;
                if !load.villages.contains(&visit.village) {
                    load.villages.insert(visit.village.clone());
                }
            }
        }
    }
    let disputes = Disputes::select(summaries.iter().copied(), query);
    for dispute in &disputes.counted {
        let received = query.period.contains(dispute.created_at);
        let open = is_open(dispute);
        let overdue = is_overdue(dispute, query);
        if !(received || open) {
            continue;
        }
        for person in handlers(dispute) {
            row(&mut people, person);
            let Some(load) = people.get_mut(person) else {
                continue;
            };
            if received {
                load.cases_handled += 1;
                if dispute.status == Some(Status::Resolved) {
                    load.resolved += 1;
                }
            }
            load.open += u64::from(open);
            load.overdue += u64::from(overdue);
            if !load.villages.contains(&dispute.village) {
                load.villages.insert(dispute.village.clone());
            }
        }
    }
    let weeks = weeks(summaries.iter().copied(), query);
    people
        .into_values()
        .map(|mut load| {
            load.visits_per_week = load.visits as f64 / weeks;
            load
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{MILLIS_PER_DAY, Period};
    use crate::vocab::RecordKind;
    use fengqiao_protocol::{DocumentId, VillageCode};

    fn record(n: u8, kind: RecordKind, by: &str, day: i64) -> Summary {
        Summary::new(
            DocumentId::from_bytes(&[n; 16]).unwrap(),
            kind,
            VillageCode::new("500110101001").unwrap(),
            day * MILLIS_PER_DAY,
            by,
        )
    }

    #[test]
    fn visits_cases_and_backlog_per_person() {
        let mut assigned = record(1, RecordKind::Dispute, "cadre-a", 1);
        assigned.assignees = vec!["cadre-b".into(), "cadre-c".into()];
        assigned.status = Some(Status::Mediating);
        let mut resolved = record(2, RecordKind::Dispute, "cadre-a", 20);
        resolved.status = Some(Status::Resolved);
        let records = [
            assigned,
            resolved,
            record(3, RecordKind::Visit, "cadre-a", 2),
            record(4, RecordKind::Visit, "cadre-a", 9),
            record(5, RecordKind::Visit, "cadre-b", 60),
        ];
        let query = StatsQuery::new(50 * MILLIS_PER_DAY).with_period(Period {
            from: Some(0),
            to: Some(14 * MILLIS_PER_DAY),
        });
        let rows = workload(&records, &query);
        let of = |p: &str| rows.iter().find(|r| r.person == p).cloned().unwrap();
        // Two visits in two weeks.
        assert_eq!(of("cadre-a").visits, 2);
        assert!((of("cadre-a").visits_per_week - 1.0).abs() < 1e-12);
        // The resolved case was received after the period: not handled in it.
        assert_eq!(of("cadre-a").cases_handled, 0);
        // The open case is both assignees', and 49 days old: overdue.
        assert_eq!(
            (
                of("cadre-b").cases_handled,
                of("cadre-b").open,
                of("cadre-b").overdue
            ),
            (1, 1, 1)
        );
        assert_eq!(of("cadre-c").overdue, 1);
        assert_eq!(rows.len(), 3);
        assert_eq!(
            of("cadre-a")
                .villages
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>(),
            ["500110101001"]
        );
    }
}
