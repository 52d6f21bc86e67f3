//! The derived status of a dispute: never stored, always folded from the
//! timeline (DESIGN.md §3).
//!
//! Storing a status field would make two cadres acting offline overwrite
//! each other ("who closed it?"). Instead the events are folded in timeline
//! order — by `at`, then `by`, then list position — so every replica derives
//! the same status from the same events, whatever order they arrived in.
//!
//! Two things are folded. The [`Status`] the statistics count:
//!
//! | event | status afterwards |
//! |---|---|
//! | reported | open |
//! | mediation | mediating |
//! | agreement, resolved | resolved |
//! | failed | failed |
//! | escalated | escalated (at its level) |
//! | reopened | mediating |
//! | returned, while an escalation waits for acceptance | mediating (back at the level below) |
//! | followup, note, accepted, assigned, supervised, archived | unchanged |
//!
//! And the [`Stage`] of the closed loop an official works:
//!
//! | event | stage afterwards |
//! |---|---|
//! | reported, mediation, reopened | handling (调处中) |
//! | escalated | pending (待受理) at its level |
//! | accepted, while pending | accepted (已受理/待分派) |
//! | assigned, while pending or accepted | handling |
//! | returned, while pending | handling, at the level below |
//! | agreement, resolved | followup (待回访) |
//! | failed | failed |
//! | followup, while followup | resolved (已化解) |
//! | archived, while followup, resolved or failed | archived (已归档) |
//! | note, supervised | unchanged |
//!
//! An event that does not apply where the case stands (an acceptance of a
//! case already being mediated, a second return) changes nothing, so two
//! officials acting on the same case offline both leave their event in the
//! timeline and the fold gives the same answer on every replica. A
//! `supervised` event sets the 督办 deadline in effect until the case is
//! concluded.

use super::event::Event;
use crate::summary::Millis;
use crate::vocab::{EventKind, Level, Stage, Status};

/// Where a case stands, folded from its timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseStatus {
    pub status: Status,
    /// The level of the escalation in effect, when `status` is escalated.
    pub escalation_level: Option<Level>,
    /// The highest level the case was escalated to and not returned from:
    /// an escalation the level above sent back (`returned`) never took the
    /// case beyond the level below, so it does not count.
    pub max_escalation_level: Option<Level>,
    /// The time of the event that made the case resolved, when it is
    /// resolved now.
    pub resolved_at: Option<Millis>,
    /// The closed-loop stage.
    pub stage: Stage,
    /// When the case entered its stage (`None` before any event).
    pub stage_since: Option<Millis>,
    /// The levels the case was escalated to and not returned from, lowest
    /// first; the last is the level handling the case (the village when
    /// empty).
    pub levels: Vec<Level>,
    /// The 督办 deadline in effect: the latest `supervised` event's, until
    /// the case is concluded.
    pub supervision_due: Option<Millis>,
}

impl CaseStatus {
    /// A case with no events yet: open, handled in its village.
    pub const NEW: CaseStatus = CaseStatus {
        status: Status::Open,
        escalation_level: None,
        max_escalation_level: None,
        resolved_at: None,
        stage: Stage::Handling,
        stage_since: None,
        levels: Vec::new(),
        supervision_due: None,
    };

    /// Folds `events` in timeline order.
    pub fn fold(events: &[Event]) -> CaseStatus {
        let mut ordered: Vec<&Event> = events.iter().collect();
        ordered.sort_by(|a, b| a.timeline_order(b));
        ordered
            .into_iter()
            .fold(CaseStatus::NEW, |state, event| state.apply(event))
    }

    /// The level handling the case now.
    pub fn handling_level(&self) -> Level {
        self.levels.last().copied().unwrap_or(Level::Village)
    }

    /// Whether an escalation waits for the level above, or was accepted
    /// and waits for a handler: what `assigned` moves on to handling.
    fn escalation_open(&self) -> bool {
        matches!(self.stage, Stage::Pending | Stage::Accepted)
    }

    /// The state after one more event.
    fn apply(mut self, event: &Event) -> CaseStatus {
        let next_status = match event.kind {
            EventKind::Reported => Some(Status::Open),
            EventKind::Mediation | EventKind::Reopened => Some(Status::Mediating),
            EventKind::Agreement | EventKind::Resolved => Some(Status::Resolved),
            EventKind::Failed => Some(Status::Failed),
            EventKind::Escalated => Some(Status::Escalated),
            EventKind::Returned if self.stage == Stage::Pending => Some(Status::Mediating),
            _ => None,
        };
        let next_stage = match event.kind {
            EventKind::Reported | EventKind::Mediation | EventKind::Reopened => {
                Some(Stage::Handling)
            }
            EventKind::Escalated => Some(Stage::Pending),
            EventKind::Accepted if self.stage == Stage::Pending => Some(Stage::Accepted),
            EventKind::Assigned if self.escalation_open() => Some(Stage::Handling),
            EventKind::Returned if self.stage == Stage::Pending => Some(Stage::Handling),
            EventKind::Agreement | EventKind::Resolved => Some(Stage::Followup),
            EventKind::Failed => Some(Stage::Failed),
            EventKind::Followup if self.stage == Stage::Followup => Some(Stage::Resolved),
            EventKind::Archived if self.stage.is_concluded() && self.stage != Stage::Archived => {
                Some(Stage::Archived)
            }
            _ => None,
        };
        match event.kind {
            EventKind::Escalated => {
                if let Some(level) = event.level {
                    self.levels.push(level);
                }
            }
            EventKind::Returned if self.stage == Stage::Pending => {
                self.levels.pop();
                // The escalation sent back no longer counts; those accepted
                // before it still do.
                self.max_escalation_level = self.levels.iter().copied().max();
            }
            EventKind::Supervised if !self.stage.is_concluded() => {
                self.supervision_due = event.due;
            }
            _ => {}
        }
        if let Some(stage) = next_stage {
            if stage.is_concluded() {
                self.supervision_due = None;
            }
            if stage != self.stage || self.stage_since.is_none() {
                self.stage_since = Some(event.at);
            }
            self.stage = stage;
        }
        if let Some(status) = next_status {
            let escalation_level = match event.kind {
                EventKind::Escalated => event.level,
                _ => None,
            };
            self.max_escalation_level = self.max_escalation_level.max(escalation_level);
            self.resolved_at = match (self.status, status) {
                (Status::Resolved, Status::Resolved) => self.resolved_at,
                (_, Status::Resolved) => Some(event.at),
                _ => None,
            };
            self.escalation_level = escalation_level;
            self.status = status;
        }
        self
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
            assignee: None,
            due: None,
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
        assert_eq!(CaseStatus::NEW.handling_level(), Level::Village);
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

    fn with(kind: EventKind, at: Millis, by: &str, position: usize) -> Event {
        event(at, by, kind, position)
    }

    #[test]
    fn an_escalation_waits_for_acceptance_then_a_handler() {
        let mut events = vec![
            event(1, "a", EventKind::Reported, 0),
            escalated(2, Level::Town, 1),
        ];
        let state = CaseStatus::fold(&events);
        assert_eq!((state.stage, state.stage_since), (Stage::Pending, Some(2)));
        assert_eq!(state.handling_level(), Level::Town);
        events.push(with(EventKind::Accepted, 3, "t", 2));
        let state = CaseStatus::fold(&events);
        assert_eq!(state.stage, Stage::Accepted);
        // Statistics still see an escalated case.
        assert_eq!(state.status, Status::Escalated);
        assert_eq!(state.escalation_level, Some(Level::Town));
        events.push(Event {
            assignee: Some("h".into()),
            ..with(EventKind::Assigned, 4, "t", 3)
        });
        let state = CaseStatus::fold(&events);
        assert_eq!((state.stage, state.stage_since), (Stage::Handling, Some(4)));
        assert_eq!(state.status, Status::Escalated);
    }

    #[test]
    fn a_return_sends_the_case_back_to_the_level_below() {
        let events = [
            event(1, "a", EventKind::Reported, 0),
            escalated(2, Level::Town, 1),
            with(EventKind::Accepted, 3, "t", 2),
            escalated(4, Level::District, 3),
            with(EventKind::Returned, 5, "d", 4),
            // A second return finds nothing waiting.
            with(EventKind::Returned, 6, "d", 5),
        ];
        let state = CaseStatus::fold(&events);
        assert_eq!(state.stage, Stage::Handling);
        assert_eq!(state.handling_level(), Level::Town);
        assert_eq!(state.status, Status::Mediating);
        assert_eq!(state.escalation_level, None);
        // The district sent it back: the case never left the township.
        assert_eq!(state.max_escalation_level, Some(Level::Town));
    }

    #[test]
    fn a_returned_escalation_is_not_one_beyond_the_township() {
        let events = [
            event(1, "a", EventKind::Reported, 0),
            escalated(2, Level::District, 1),
            with(EventKind::Returned, 3, "d", 2),
            event(4, "a", EventKind::Resolved, 3),
        ];
        let state = CaseStatus::fold(&events);
        assert_eq!(state.status, Status::Resolved);
        assert_eq!(state.max_escalation_level, None);
        // Accepted, it counts, whatever follows.
        let events = [
            event(1, "a", EventKind::Reported, 0),
            escalated(2, Level::District, 1),
            with(EventKind::Accepted, 3, "d", 2),
            event(4, "a", EventKind::Resolved, 3),
        ];
        assert_eq!(
            CaseStatus::fold(&events).max_escalation_level,
            Some(Level::District)
        );
    }

    #[test]
    fn concurrent_accept_and_return_settle_on_the_earlier() {
        let base = [
            event(1, "a", EventKind::Reported, 0),
            escalated(2, Level::Town, 1),
        ];
        // Two officials act offline; whichever acted first (then by id)
        // decides, the later one no longer applies.
        let mut events = base.to_vec();
        events.push(with(EventKind::Returned, 3, "t2", 2));
        events.push(with(EventKind::Accepted, 3, "t1", 3));
        let state = CaseStatus::fold(&events);
        assert_eq!(state.stage, Stage::Accepted);
        assert_eq!(state.handling_level(), Level::Town);
        let mut events = base.to_vec();
        events.push(with(EventKind::Accepted, 4, "t1", 2));
        events.push(with(EventKind::Returned, 3, "t2", 3));
        let state = CaseStatus::fold(&events);
        assert_eq!(state.stage, Stage::Handling);
        assert_eq!(state.handling_level(), Level::Village);
        // Two acceptances both stay in the timeline and read as one.
        let mut events = base.to_vec();
        events.push(with(EventKind::Accepted, 3, "t1", 2));
        events.push(with(EventKind::Accepted, 3, "t2", 3));
        let state = CaseStatus::fold(&events);
        assert_eq!((state.stage, state.stage_since), (Stage::Accepted, Some(3)));
    }

    #[test]
    fn agreement_awaits_a_follow_up_then_archives() {
        let mut events = vec![
            event(1, "a", EventKind::Reported, 0),
            Event {
                due: Some(20),
                ..with(EventKind::Supervised, 2, "t", 1)
            },
        ];
        assert_eq!(CaseStatus::fold(&events).supervision_due, Some(20));
        // Archiving an open case does nothing.
        events.push(with(EventKind::Archived, 3, "t", 2));
        assert_eq!(CaseStatus::fold(&events).stage, Stage::Handling);
        events.push(with(EventKind::Agreement, 4, "a", 3));
        let state = CaseStatus::fold(&events);
        assert_eq!(
            (state.stage, state.status),
            (Stage::Followup, Status::Resolved)
        );
        assert_eq!(state.supervision_due, None);
        events.push(with(EventKind::Followup, 5, "a", 4));
        assert_eq!(CaseStatus::fold(&events).stage, Stage::Resolved);
        events.push(with(EventKind::Archived, 6, "t", 5));
        let state = CaseStatus::fold(&events);
        assert_eq!((state.stage, state.stage_since), (Stage::Archived, Some(6)));
        assert_eq!(state.status, Status::Resolved);
        events.push(with(EventKind::Reopened, 7, "t", 6));
        let state = CaseStatus::fold(&events);
        assert_eq!(
            (state.stage, state.status),
            (Stage::Handling, Status::Mediating)
        );
    }
}
