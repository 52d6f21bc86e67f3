//! The derived status of a dispute: never stored, always folded from the
//! timeline (DESIGN.md §3).
//!
//! Storing a status field would make two cadres acting offline overwrite
//! each other ("who closed it?"). Instead the events are folded in timeline
//! order — by `at`, then `by`, then list position — so every replica derives
//! the same status from the same events, whatever order they arrived in:
//!
//! | event | status afterwards |
//! |---|---|
//! | reported | open |
//! | mediation | mediating |
//! | agreement, resolved | resolved |
//! | failed | failed |
//! | escalated | escalated (at its level) |
//! | reopened | mediating |
//! | followup, note | unchanged |

use super::event::Event;
use crate::summary::Millis;
use crate::vocab::{EventKind, Level, Status};

/// Where a case stands, folded from its timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseStatus {
    pub status: Status,
    /// The level of the escalation in effect, when `status` is escalated.
    pub escalation_level: Option<Level>,
    /// The highest level the case was ever escalated to.
    pub max_escalation_level: Option<Level>,
    /// The time of the event that made the case resolved, when it is
    /// resolved now.
    pub resolved_at: Option<Millis>,
}

impl CaseStatus {
    /// A case with no events yet: open.
    pub const NEW: CaseStatus = CaseStatus {
        status: Status::Open,
        escalation_level: None,
        max_escalation_level: None,
        resolved_at: None,
    };

    /// Folds `events` in timeline order.
    pub fn fold(events: &[Event]) -> CaseStatus {
        let mut ordered: Vec<&Event> = events.iter().collect();
        ordered.sort_by(|a, b| a.timeline_order(b));
        ordered
            .into_iter()
            .fold(CaseStatus::NEW, |state, event| state.apply(event))
    }

    /// The state after one more event.
    fn apply(self, event: &Event) -> CaseStatus {
        let next_status = match event.kind {
            EventKind::Reported => Status::Open,
            EventKind::Mediation | EventKind::Reopened => Status::Mediating,
            EventKind::Agreement | EventKind::Resolved => Status::Resolved,
            EventKind::Failed => Status::Failed,
            EventKind::Escalated => Status::Escalated,
            EventKind::Followup | EventKind::Note => return self,
        };
        let escalation_level = match event.kind {
            EventKind::Escalated => event.level,
            _ => None,
        };
        let max_escalation_level = self.max_escalation_level.max(escalation_level);
        let resolved_at = match (self.status, next_status) {
            (Status::Resolved, Status::Resolved) => self.resolved_at,
            (_, Status::Resolved) => Some(event.at),
            _ => None,
        };
        CaseStatus {
            status: next_status,
            escalation_level,
            max_escalation_level,
            resolved_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at: Millis, by: &str, kind: EventKind, position: usize) -> Event {
        Event {
            at,
            by: by.to_owned(),
            kind,
            level: None,
            outcome: None,
            note: None,
            satisfied: None,
            position,
        }
    }

    fn escalated(at: Millis, level: Level, position: usize) -> Event {
        Event {
            level: Some(level),
            ..event(at, "c", EventKind::Escalated, position)
        }
    }

    #[test]
    fn no_events_is_open() {
        assert_eq!(CaseStatus::fold(&[]), CaseStatus::NEW);
    }

    #[test]
    fn folds_in_time_order_not_list_order() {
        let events = [
            event(1, "a", EventKind::Reported, 0),
            escalated(30, Level::Town, 1),
            event(20, "b", EventKind::Resolved, 2),
        ];
        let state = CaseStatus::fold(&events);
        assert_eq!(state.status, Status::Escalated);
        assert_eq!(state.escalation_level, Some(Level::Town));
        assert_eq!(state.resolved_at, None);
    }

    #[test]
    fn ties_break_on_cadre_then_position() {
        let events = [
            event(5, "b", EventKind::Failed, 0),
            event(5, "a", EventKind::Resolved, 1),
        ];
        assert_eq!(CaseStatus::fold(&events).status, Status::Failed);
        let events = [
            event(5, "a", EventKind::Resolved, 0),
            event(5, "a", EventKind::Failed, 1),
        ];
        assert_eq!(CaseStatus::fold(&events).status, Status::Failed);
    }

    #[test]
    fn resolved_at_is_the_first_event_that_resolved_it() {
        let events = [
            event(1, "a", EventKind::Reported, 0),
            event(2, "a", EventKind::Mediation, 1),
            event(3, "a", EventKind::Agreement, 2),
            event(4, "a", EventKind::Resolved, 3),
            event(5, "a", EventKind::Followup, 4),
        ];
        let state = CaseStatus::fold(&events);
        assert_eq!(state.status, Status::Resolved);
        assert_eq!(state.resolved_at, Some(3));
    }

    #[test]
    fn reopening_clears_resolution_but_not_the_escalation_record() {
        let events = [
            event(1, "a", EventKind::Reported, 0),
            escalated(2, Level::District, 1),
            escalated(3, Level::Town, 2),
            event(4, "a", EventKind::Resolved, 3),
            event(5, "a", EventKind::Reopened, 4),
            event(6, "a", EventKind::Note, 5),
        ];
        let state = CaseStatus::fold(&events);
        assert_eq!(state.status, Status::Mediating);
        assert_eq!(state.resolved_at, None);
        assert_eq!(state.escalation_level, None);
        assert_eq!(state.max_escalation_level, Some(Level::District));
    }
}
