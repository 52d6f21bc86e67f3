//! Dispute timeline events (台账): what happened to a case, when and by whom.
//!
//! The `events` list of a dispute is append-only. Each entry is a map
//! `{at, by, kind, level?, outcome?, note?, satisfied?}`. Two cadres acting
//! on the same case while offline both append; after the merge the list
//! holds both entries, and the timeline order (by time, then cadre, then
//! list position) is the same on every replica.

use std::cmp::Ordering;

use automerge::{ObjId, ReadDoc};

use super::fields;
use super::value::{self, Item};
use crate::summary::Millis;
use crate::vocab::{EventKind, Level};

/// One entry of a dispute's timeline, as read from the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When it happened (milliseconds since the epoch).
    pub at: Millis,
    /// The cadre (person) who recorded it.
    pub by: String,
    pub kind: EventKind,
    /// The level escalated to (for `escalated` events).
    pub level: Option<Level>,
    pub outcome: Option<String>,
    pub note: Option<String>,
    /// Whether the parties were satisfied (for `followup` events).
    pub satisfied: Option<bool>,
    /// The person assigned (for `assigned` events).
    pub assignee: Option<String>,
    /// The deadline set (for `supervised` events).
    pub due: Option<Millis>,
    /// Position in the stored list; the last tie-breaker of the timeline
    /// order.
    pub position: usize,
}

impl Event {
    /// The timeline order: by time, then by cadre, then by list position.
    /// Every replica sorts the same way, so every replica derives the same
    /// status.
    pub fn timeline_order(&self, other: &Event) -> Ordering {
        self.at
            .cmp(&other.at)
            .then_with(|| self.by.cmp(&other.by))
            .then_with(|| self.position.cmp(&other.position))
    }

    /// Reads one list entry. Entries that are not maps, or lack a time or a
    /// kind this version knows, are not events this version can act on and
    /// read as `None` (validation reports them).
    pub(crate) fn read<D: ReadDoc>(doc: &D, entry: &ObjId, position: usize) -> Option<Event> {
        let at = value::millis(doc, entry, fields::AT)?;
        let kind = value::string(doc, entry, fields::KIND).and_then(|k| EventKind::parse(&k))?;
        Some(Event {
            at,
            by: value::string(doc, entry, fields::BY).unwrap_or_default(),
            kind,
            level: value::string(doc, entry, fields::LEVEL).and_then(|l| Level::parse(&l)),
            outcome: value::string(doc, entry, fields::OUTCOME),
            note: value::string(doc, entry, fields::NOTE),
            satisfied: value::winner(doc, entry, fields::SATISFIED).and_then(|i| i.as_bool()),
            assignee: value::string(doc, entry, fields::ASSIGNEE),
            due: value::millis(doc, entry, fields::DUE_AT),
            position,
        })
    }
}

/// Reads every event of the `events` list under `obj`.
///
/// The list is append-only, so if two clients ever created it concurrently
/// the entries of every copy are kept (copies in operation-id order, then
/// list order); `position` numbers them in that order.
pub(crate) fn read_events<D: ReadDoc>(doc: &D, obj: &ObjId) -> Vec<Event> {
    let mut events = Vec::new();
    let mut position = 0;
    for list in value::lists(doc, obj, fields::EVENTS) {
        for index in 0..value::length(doc, &list) {
            if let Some(Item::Map(entry)) = value::winner(doc, &list, index)
                && let Some(event) = Event::read(doc, &entry, position)
            {
                events.push(event);
            }
            position += 1;
        }
    }
    events
}

/// A new event to append to a dispute's timeline. Its time and cadre come
/// from the [`super::Author`] of the edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub kind: EventKind,
    pub level: Option<Level>,
    pub outcome: Option<String>,
    pub note: Option<String>,
    pub satisfied: Option<bool>,
    /// The person assigned (`assigned` events only).
    pub assignee: Option<String>,
    /// The deadline (`supervised` events only).
    pub due: Option<Millis>,
}

impl NewEvent {
    /// An event of `kind` with no details.
    pub fn new(kind: EventKind) -> Self {
        NewEvent {
            kind,
            level: None,
            outcome: None,
            note: None,
            satisfied: None,
            assignee: None,
            due: None,
        }
    }

    /// An escalation to `level`.
    pub fn escalated(level: Level) -> Self {
        NewEvent {
            level: Some(level),
            ..NewEvent::new(EventKind::Escalated)
        }
    }

    /// A follow-up visit, recording whether the parties were satisfied.
    pub fn followup(satisfied: bool) -> Self {
        NewEvent {
            satisfied: Some(satisfied),
            ..NewEvent::new(EventKind::Followup)
        }
    }

    /// An acceptance (受理) of the escalation in effect.
    pub fn accepted(note: Option<String>) -> Self {
        NewEvent {
            note,
            ..NewEvent::new(EventKind::Accepted)
        }
    }

    /// A return (退回) of the escalation in effect to the level below, with
    /// the reason.
    pub fn returned(note: impl Into<String>) -> Self {
        NewEvent::new(EventKind::Returned).with_note(note)
    }

    /// An assignment (分派) of a handler (承办人).
    pub fn assigned(person: impl Into<String>) -> Self {
        NewEvent {
            assignee: Some(person.into()),
            ..NewEvent::new(EventKind::Assigned)
        }
    }

    /// A supervision (督办): a note and the deadline it sets.
    pub fn supervised(note: impl Into<String>, due: Millis) -> Self {
        NewEvent {
            due: Some(due),
            ..NewEvent::new(EventKind::Supervised).with_note(note)
        }
    }

    pub fn with_outcome(mut self, outcome: impl Into<String>) -> Self {
        self.outcome = Some(outcome.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}
