//! The projection of a record to its flat [`Summary`] (DESIGN.md §3): the
//! one function the phone uses for its list views and the server for its
//! index and statistics, so that their numbers agree.

use fengqiao_protocol::DocumentId;

use super::{Dispute, Record, Visit};
use crate::summary::Summary;
use crate::vocab::RecordKind;

impl Record {
    /// The flat summary of this record, stored under `id`.
    pub fn summary(&self, id: DocumentId) -> Summary {
        match self {
            Record::Dispute(dispute) => dispute_summary(dispute, id),
            Record::Visit(visit) => visit_summary(visit, id),
        }
    }
}

fn dispute_summary(dispute: &Dispute, id: DocumentId) -> Summary {
    let header = &dispute.header;
    Summary {
        id,
        kind: RecordKind::Dispute,
        village: header.village.clone(),
        created_at: header.created_at,
        created_by: header.created_by.clone(),
        last_activity: dispute.last_activity(),
        title: dispute.title.clone(),
        status: Some(dispute.status()),
        category: dispute.category,
        risk: dispute.risk,
        escalation_level: dispute.escalation_level(),
        max_escalation_level: dispute.max_escalation_level(),
        resolved_at: dispute.resolved_at(),
        party_names: dispute.parties.iter().map(|p| p.name.clone()).collect(),
        assignees: dispute.assignees.iter().cloned().collect(),
        event_count: u32::try_from(dispute.events.len()).unwrap_or(u32::MAX),
        duplicate_of: dispute.duplicate_of.clone(),
        stage: Some(dispute.stage()),
        stage_since: dispute.case_status().stage_since,
        handling_level: Some(dispute.case_status().handling_level()),
        supervision_due: dispute.case_status().supervision_due,
        not_duplicates: dispute.not_duplicates.iter().cloned().collect(),
        visited_at: None,
        sentiment: None,
        topics: Vec::new(),
        follow_up_needed: false,
        follow_up_done: false,
        follow_up_due: None,
        linked_dispute: None,
    }
}

fn visit_summary(visit: &Visit, id: DocumentId) -> Summary {
    let header = &visit.header;
    Summary {
        id,
        kind: RecordKind::Visit,
        village: header.village.clone(),
        created_at: header.created_at,
        created_by: header.created_by.clone(),
        last_activity: visit.last_activity(),
        title: visit.household.clone(),
        status: None,
        category: None,
        risk: None,
        escalation_level: None,
        max_escalation_level: None,
        resolved_at: None,
        party_names: Vec::new(),
        assignees: Vec::new(),
        event_count: 0,
        duplicate_of: None,
        stage: None,
        stage_since: None,
        handling_level: None,
        supervision_due: None,
        not_duplicates: Vec::new(),
        visited_at: visit.visited_at,
        sentiment: visit.sentiment,
        topics: visit.topics.iter().copied().collect(),
        follow_up_needed: visit.follow_up.needed,
        follow_up_done: visit.follow_up.done,
        follow_up_due: visit.follow_up.due_at,
        linked_dispute: visit.linked_dispute.clone(),
    }
}
