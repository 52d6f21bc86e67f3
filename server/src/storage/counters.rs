//! Per-village counters, kept up to date by every commit.
//!
//! Statistics for a town or a district must not scan every record, so each
//! village has one [`VillageCounters`] value beside the projection index. A
//! commit subtracts the old summary's contribution and adds the new one in
//! the same atomic write as the summary itself, so the counters always equal
//! what a recount of the stored summaries gives (the storage tests check
//! exactly that). Summing a town's or a district's villages is one range
//! read.
//!
//! # What counts
//!
//! - A record whose `duplicate_of` is set has been folded into another case:
//!   it counts only in [`VillageCounters::linked_duplicates`] and in no other
//!   figure. (A cycle of links therefore drops out here entirely; the
//!   statistics computed from summaries resolve cycles exactly.)
//! - A dispute without a status counts as open; one without a category or a
//!   risk counts in the totals but in no cell of that breakdown. The same
//!   holds for a visit without a sentiment.
//! - Open high-risk: disputes at high risk whose status is not resolved.
//! - Pending follow-ups: visits that need a follow-up not yet done.

use std::collections::BTreeMap;

use fengqiao_shared::Summary;
use fengqiao_shared::vocab::{Category, RecordKind, Risk, Sentiment, Status};
use serde::{Deserialize, Serialize};

use super::StorageError;

/// Running totals of one village (or, summed, of a scope).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VillageCounters {
    /// Disputes, linked duplicates left out.
    pub disputes: u64,
    pub disputes_by_status: BTreeMap<Status, u64>,
    pub disputes_by_category: BTreeMap<Category, u64>,
    pub disputes_by_risk: BTreeMap<Risk, u64>,
    /// Disputes at high risk that are not resolved.
    pub open_high_risk: u64,
    /// Records linked as duplicates of another case, counted nowhere else.
    pub linked_duplicates: u64,
    pub visits: u64,
    pub visits_by_sentiment: BTreeMap<Sentiment, u64>,
    /// Visits whose follow-up is needed and not done.
    pub follow_ups_pending: u64,
}

const WHAT: &str = "village counters";

#[derive(Clone, Copy)]
enum Direction {
    Add,
    Subtract,
}

impl VillageCounters {
    /// The counters of exactly these summaries.
    pub fn recount<'a>(summaries: impl IntoIterator<Item = &'a Summary>) -> Self {
        let mut counters = Self::default();
        for summary in summaries {
            // Adding never fails: only a subtraction can underflow.
            let _ = counters.add(summary);
        }
        counters
    }

    /// Whether every figure is zero.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Counts `summary` in.
    pub fn add(&mut self, summary: &Summary) -> Result<(), StorageError> {
        self.apply(summary, Direction::Add)
    }

    /// Counts `summary` out again. Fails with [`StorageError::Corrupt`] if a
    /// figure would fall below zero: the counters no longer match the
    /// summaries they were built from.
    pub fn subtract(&mut self, summary: &Summary) -> Result<(), StorageError> {
        self.apply(summary, Direction::Subtract)
    }

    /// Adds another village's counters (summing a scope).
    pub fn absorb(&mut self, other: &VillageCounters) {
        fn sum_maps<K: Ord + Copy>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
            for (key, n) in from {
                let slot = into.entry(*key).or_default();
                *slot = slot.saturating_add(*n);
            }
        }
        self.disputes = self.disputes.saturating_add(other.disputes);
        sum_maps(&mut self.disputes_by_status, &other.disputes_by_status);
        sum_maps(&mut self.disputes_by_category, &other.disputes_by_category);
        sum_maps(&mut self.disputes_by_risk, &other.disputes_by_risk);
        self.open_high_risk = self.open_high_risk.saturating_add(other.open_high_risk);
        self.linked_duplicates = self
            .linked_duplicates
            .saturating_add(other.linked_duplicates);
        self.visits = self.visits.saturating_add(other.visits);
        sum_maps(&mut self.visits_by_sentiment, &other.visits_by_sentiment);
        self.follow_ups_pending = self
            .follow_ups_pending
            .saturating_add(other.follow_ups_pending);
    }

    fn apply(&mut self, summary: &Summary, direction: Direction) -> Result<(), StorageError> {
        if summary.duplicate_of.is_some() {
            return step(&mut self.linked_duplicates, direction);
        }
        match summary.kind {
            RecordKind::Dispute => {
                let status = summary.status.unwrap_or(Status::Open);
                step(&mut self.disputes, direction)?;
                step_key(&mut self.disputes_by_status, status, direction)?;
                if let Some(category) = summary.category {
                    step_key(&mut self.disputes_by_category, category, direction)?;
                }
                if let Some(risk) = summary.risk {
                    step_key(&mut self.disputes_by_risk, risk, direction)?;
                }
                if summary.risk == Some(Risk::High) && status.is_open() {
                    step(&mut self.open_high_risk, direction)?;
                }
            }
            RecordKind::Visit => {
                step(&mut self.visits, direction)?;
                if let Some(sentiment) = summary.sentiment {
                    step_key(&mut self.visits_by_sentiment, sentiment, direction)?;
                }
                if summary.follow_up_needed && !summary.follow_up_done {
                    step(&mut self.follow_ups_pending, direction)?;
                }
            }
        }
        Ok(())
    }
}

fn step(figure: &mut u64, direction: Direction) -> Result<(), StorageError> {
    *figure = match direction {
        Direction::Add => figure.saturating_add(1),
        Direction::Subtract => figure
            .checked_sub(1)
            .ok_or(StorageError::Corrupt { what: WHAT })?,
    };
    Ok(())
}

/// Steps one cell of a breakdown; a cell that reaches zero is removed, so
/// equal counts always compare equal.
fn step_key<K: Ord>(
    map: &mut BTreeMap<K, u64>,
    key: K,
    direction: Direction,
) -> Result<(), StorageError> {
    let figure = map.entry(key).or_default();
    step(figure, direction)?;
    if *figure == 0 {
        map.retain(|_, n| *n != 0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use fengqiao_protocol::{DocumentId, VillageCode};

    use super::*;

    fn dispute(status: Option<Status>, risk: Risk) -> Summary {
        Summary {
            id: DocumentId::random(),
            kind: RecordKind::Dispute,
            village: VillageCode::new("500110101001").unwrap(),
            created_at: 1,
            created_by: "cadre-1".into(),
            last_activity: 1,
            title: "boundary wall".into(),
            status,
            category: Some(Category::Neighbor),
            risk: Some(risk),
            escalation_level: None,
            max_escalation_level: None,
            resolved_at: None,
            party_names: vec![],
            assignees: vec![],
            event_count: 1,
            duplicate_of: None,
            stage: None,
            stage_since: None,
            handling_level: None,
            supervision_due: None,
            not_duplicates: Vec::new(),
            visited_at: None,
            sentiment: None,
            topics: vec![],
            follow_up_needed: false,
            follow_up_done: false,
            follow_up_due: None,
            linked_dispute: None,
        }
    }

    #[test]
    fn add_then_subtract_leaves_nothing() {
        let summary = dispute(None, Risk::High);
        let mut counters = VillageCounters::default();
        counters.add(&summary).unwrap();
        assert_eq!(counters.disputes, 1);
        assert_eq!(counters.disputes_by_status.get(&Status::Open), Some(&1));
        assert_eq!(counters.open_high_risk, 1);
        counters.subtract(&summary).unwrap();
        assert!(counters.is_empty());
    }

    #[test]
    fn resolved_high_risk_is_not_open_and_duplicates_count_nowhere_else() {
        let resolved = dispute(Some(Status::Resolved), Risk::High);
        let mut duplicate = dispute(Some(Status::Open), Risk::High);
        duplicate.duplicate_of = Some(resolved.id.clone());
        let counters = VillageCounters::recount([&resolved, &duplicate]);
        assert_eq!(counters.disputes, 1);
        assert_eq!(counters.open_high_risk, 0);
        assert_eq!(counters.linked_duplicates, 1);
        assert_eq!(counters.disputes_by_risk.get(&Risk::High), Some(&1));
    }

    #[test]
    fn subtracting_what_was_never_added_is_corruption() {
        let mut counters = VillageCounters::default();
        assert!(matches!(
            counters.subtract(&dispute(None, Risk::Low)),
            Err(StorageError::Corrupt { .. })
        ));
    }

    #[test]
    fn absorb_sums_every_figure() {
        let a = VillageCounters::recount([&dispute(None, Risk::High)]);
        let b = VillageCounters::recount([&dispute(Some(Status::Failed), Risk::Low)]);
        let mut sum = a.clone();
        sum.absorb(&b);
        assert_eq!(sum.disputes, 2);
        assert_eq!(sum.disputes_by_category.get(&Category::Neighbor), Some(&2));
        assert_eq!(sum.open_high_risk, 1);
        assert_eq!(
            VillageCounters::recount([
                &dispute(None, Risk::High),
                &dispute(Some(Status::Failed), Risk::Low)
            ]),
            sum
        );
    }

    #[test]
    fn counters_round_trip_through_cbor() {
        let counters = VillageCounters::recount([&dispute(None, Risk::Medium)]);
        let bytes = crate::storage::codec::encode(&counters, WHAT).unwrap();
        let back: VillageCounters = crate::storage::codec::decode(&bytes, WHAT).unwrap();
        assert_eq!(back, counters);
    }
}
