//! One record read from its stored document, for the case page: the
//! dispute's timeline (台账) in fold order with the status it folds to.
//!
//! The timeline is what the cadres recorded (who did what, when); the
//! record's change history, the audit trail of who changed which field, is
//! read by [`crate::http::audit_trail`] for the roles that may see it.

use automerge::Automerge;
use fengqiao_protocol::{DocumentId, VillageCode};
use fengqiao_shared::Millis;
use fengqiao_shared::record::{Dispute, Event, Record};
use fengqiao_shared::vocab::{
    Category, EventKind, Level, PartyRole, RecordKind, Risk, Stage, Status,
};
use serde::Serialize;

use super::ReportError;
use crate::storage::Storage;

/// The village of a stored record, to decide access before anything is
/// loaded; `None` when there is no such record.
pub fn village_of(
    storage: &dyn Storage,
    id: &DocumentId,
) -> Result<Option<VillageCode>, ReportError> {
    Ok(storage.doc_meta(id)?.map(|meta| meta.village))
}

/// A record's document, loaded from storage for reading.
pub struct StoredRecord {
    id: DocumentId,
    doc: Automerge,
}

impl StoredRecord {
    pub fn load(storage: &dyn Storage, id: &DocumentId) -> Result<Self, ReportError> {
        let stored = storage.load_document(id)?.ok_or(ReportError::NotFound)?;
        let doc = Automerge::load(&stored.concatenated())
            .map_err(|e| ReportError::Unreadable(e.to_string()))?;
        Ok(Self {
            id: id.clone(),
            doc,
        })
    }

    /// The dispute's timeline; refused for a visit, which has none.
    pub fn timeline(&self) -> Result<Timeline, ReportError> {
        let record = Record::read(&self.doc).map_err(|e| ReportError::Unreadable(e.to_string()))?;
        match record {
            Record::Dispute(dispute) => Ok(Timeline::of(self.id.clone(), &dispute)),
            Record::Visit(_) => Err(ReportError::bad(format!(
                "record {} is a household visit; only disputes have a timeline",
                self.id
            ))),
        }
    }

    /// The record's kind.
    pub fn kind(&self) -> Result<RecordKind, ReportError> {
        Record::read(&self.doc)
            .map(|record| record.kind())
            .map_err(|e| ReportError::Unreadable(e.to_string()))
    }
}

/// A party as the case page shows it (contact details stay on the phones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartyView {
    pub name: String,
    pub role: PartyRole,
}

/// One timeline event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub at: Millis,
    pub by: String,
    pub kind: EventKind,
    pub level: Option<Level>,
    pub outcome: Option<String>,
    pub note: Option<String>,
    pub satisfied: Option<bool>,
    /// The person an assignment (分派) assigns.
    pub assignee: Option<String>,
    /// The deadline a 督办 sets.
    pub due: Option<Millis>,
}

impl From<&Event> for EventView {
    fn from(event: &Event) -> Self {
        Self {
            at: event.at,
            by: event.by.clone(),
            kind: event.kind,
            level: event.level,
            outcome: event.outcome.clone(),
            note: event.note.clone(),
            satisfied: event.satisfied,
            assignee: event.assignee.clone(),
            due: event.due,
        }
    }
}

/// A dispute's timeline in fold order, with the status it folds to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    pub id: DocumentId,
    pub village: VillageCode,
    pub title: String,
    pub description: String,
    pub created_at: Millis,
    pub created_by: String,
    pub category: Option<Category>,
    pub risk: Option<Risk>,
    pub status: Status,
    pub escalation_level: Option<Level>,
    pub max_escalation_level: Option<Level>,
    pub resolved_at: Option<Millis>,
    /// The closed-loop stage, when it began, the level handling the case
    /// and the 督办 deadline in effect.
    pub stage: Stage,
    pub stage_since: Option<Millis>,
    pub handling_level: Level,
    pub supervision_due: Option<Millis>,
    pub parties: Vec<PartyView>,
    pub assignees: Vec<String>,
    pub duplicate_of: Option<DocumentId>,
    pub related: Vec<DocumentId>,
    pub not_duplicates: Vec<DocumentId>,
    /// In fold order: by time, then cadre, then position.
    pub events: Vec<EventView>,
}

impl Timeline {
    fn of(id: DocumentId, dispute: &Dispute) -> Self {
        Self {
            id,
            village: dispute.header.village.clone(),
            title: dispute.title.clone(),
            description: dispute.description.clone(),
            created_at: dispute.header.created_at,
            created_by: dispute.header.created_by.clone(),
            category: dispute.category,
            risk: dispute.risk,
            status: dispute.status(),
            escalation_level: dispute.escalation_level(),
            max_escalation_level: dispute.max_escalation_level(),
            resolved_at: dispute.resolved_at(),
            stage: dispute.stage(),
            stage_since: dispute.case_status().stage_since,
            handling_level: dispute.case_status().handling_level(),
            supervision_due: dispute.case_status().supervision_due,
            parties: dispute
                .parties
                .iter()
                .map(|party| PartyView {
                    name: party.name.clone(),
                    role: party.role,
                })
                .collect(),
            assignees: dispute.assignees.iter().cloned().collect(),
            duplicate_of: dispute.duplicate_of.clone(),
            related: dispute.related.iter().cloned().collect(),
            not_duplicates: dispute.not_duplicates.iter().cloned().collect(),
            events: dispute
                .timeline()
                .into_iter()
                .map(EventView::from)
                .collect(),
        }
    }
}
