//! Domain operations on disputes: create one, edit its text, set its
//! category and risk, record parties, assign cadres, add timeline events
//! and link related cases.
//!
//! Every operation takes the document and the [`Author`] of the edit and
//! commits one change (see [`super::edit`]). Operations are shaped so that
//! concurrent use merges well: texts are spliced character by character,
//! sets are maps of `key → true`, the timeline only grows.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ScalarValue};
use fengqiao_protocol::{DocumentId, VillageCode};

use super::dispute::{Party, party_entries};
use super::edit::{
    self, Author, EditError, ensure_list, ensure_map, non_empty, put_optional, require_kind,
    set_insert, set_remove, write_scalar, write_text,
};
use super::event::NewEvent;
use super::fields;
use super::merge;
use super::value::{self, shorten};
use crate::vocab::{Category, EventKind, RecordKind, Risk};

/// What a cadre enters to report a new dispute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDispute {
    pub village: VillageCode,
    pub title: String,
    pub description: String,
    pub category: Category,
    pub risk: Risk,
    pub parties: Vec<Party>,
    /// Cadre ids to assign from the start.
    pub assignees: Vec<String>,
}

/// Creates a dispute in an empty document: the creation fields, the case
/// details, and the `reported` event that opens the timeline.
pub fn create_dispute(
    doc: &mut AutoCommit,
    author: &Author,
    dispute: &NewDispute,
) -> Result<Option<ChangeHash>, EditError> {
    edit::require_blank(doc)?;
    non_empty("the title", &dispute.title)?;
    for party in &dispute.parties {
        non_empty("a party's name", &party.name)?;
    }
    for cadre in &dispute.assignees {
        non_empty("an assignee's cadre id", cadre)?;
    }
    edit::edit(doc, author, |doc| {
        let root: &ObjId = &ROOT;
        doc.put(root, fields::TYPE, RecordKind::Dispute.as_str())?;
        doc.put(root, fields::SCHEMA, fields::SCHEMA_VERSION)?;
        doc.put(root, fields::VILLAGE, dispute.village.as_str())?;
        doc.put(root, fields::CREATED_AT, ScalarValue::Timestamp(author.at))?;
        doc.put(root, fields::CREATED_BY, author.cadre.as_str())?;
        write_text(doc, root, fields::TITLE, &dispute.title)?;
        write_text(doc, root, fields::DESCRIPTION, &dispute.description)?;
        doc.put(root, fields::CATEGORY, dispute.category.as_str())?;
        doc.put(root, fields::RISK, dispute.risk.as_str())?;
        let parties = doc.put_object(root, fields::PARTIES, ObjType::List)?;
        for (index, party) in dispute.parties.iter().enumerate() {
            insert_party(doc, &parties, index, party)?;
        }
        let assignees = doc.put_object(root, fields::ASSIGNEES, ObjType::Map)?;
        for cadre in &dispute.assignees {
            doc.put(&assignees, cadre.as_str(), true)?;
        }
        let events = doc.put_object(root, fields::EVENTS, ObjType::List)?;
        insert_event(doc, &events, author, &NewEvent::new(EventKind::Reported))?;
        let links = doc.put_object(root, fields::LINKS, ObjType::Map)?;
        doc.put_object(&links, fields::RELATED, ObjType::Map)?;
        Ok(Some(format!(
            "dispute reported: {}",
            shorten(dispute.title.trim())
        )))
    })
}

/// Edits the title (a collaborative text).
pub fn set_title(
    doc: &mut AutoCommit,
    author: &Author,
    title: &str,
) -> Result<Option<ChangeHash>, EditError> {
    require_kind(doc, RecordKind::Dispute)?;
    non_empty("the title", title)?;
    edit::edit(doc, author, |doc| {
        Ok(write_text(doc, &ROOT, fields::TITLE, title)?.then(|| "title edited".to_owned()))
    })
}

/// Edits the description (a collaborative text).
pub fn set_description(
    doc: &mut AutoCommit,
    author: &Author,
    description: &str,
) -> Result<Option<ChangeHash>, EditError> {
    require_kind(doc, RecordKind::Dispute)?;
    edit::edit(doc, author, |doc| {
        Ok(write_text(doc, &ROOT, fields::DESCRIPTION, description)?
            .then(|| "description edited".to_owned()))
    })
}

/// Sets the category.
pub fn set_category(
    doc: &mut AutoCommit,
    author: &Author,
    category: Category,
) -> Result<Option<ChangeHash>, EditError> {
    require_kind(doc, RecordKind::Dispute)?;
    edit::edit(doc, author, |doc| {
        let before = merge::latest_known(doc, &ROOT, fields::CATEGORY, Category::parse);
        let written = write_scalar(doc, &ROOT, fields::CATEGORY, category.as_str().into())?;
        Ok(written.then(|| change_message("category", before, category)))
    })
}

/// Sets the risk. Setting it also settles a concurrent disagreement (which
/// otherwise reads as the highest value).
pub fn set_risk(
    doc: &mut AutoCommit,
    author: &Author,
    risk: Risk,
) -> Result<Option<ChangeHash>, EditError> {
    require_kind(doc, RecordKind::Dispute)?;
    edit::edit(doc, author, |doc| {
        let before = merge::risk(doc, &ROOT);
        let written = write_scalar(doc, &ROOT, fields::RISK, risk.as_str().into())?;
        Ok(written.then(|| change_message("risk", before, risk)))
    })
}

/// "risk medium → high", or "risk set to high" when there was no readable
/// value before or the value stays the same (a conflict was settled).
pub(crate) fn change_message<T: std::fmt::Display + PartialEq>(
    field: &str,
    before: Option<T>,
    after: T,
) -> String {
    match before {
        Some(before) if before != after => format!("{field} {before} → {after}"),
        _ => format!("{field} set to {after}"),
    }
}

/// Adds a party at the end of the parties list.
pub fn add_party(
    doc: &mut AutoCommit,
    author: &Author,
    party: &Party,
) -> Result<Option<ChangeHash>, EditError> {
    require_kind(doc, RecordKind::Dispute)?;
    non_empty("a party's name", &party.name)?;
    edit::edit(doc, author, |doc| {
        let parties = ensure_list(doc, &ROOT, fields::PARTIES)?;
        let end = value::length(doc, &parties);
        insert_party(doc, &parties, end, party)?;
        Ok(Some(format!(
            "party {} ({}) added",
            shorten(party.name.trim()),
            party.role
        )))
    })
}

/// Removes the party at `index` of [`super::Dispute::parties`].
pub fn remove_party(
    doc: &mut AutoCommit,
    author: &Author,
    index: usize,
) -> Result<Option<ChangeHash>, EditError> {
    require_kind(doc, RecordKind::Dispute)?;
    let entries = party_entries(doc);
    let Some((position, entry)) = entries.get(index) else {
        return Err(EditError::NoSuchParty {
            index,
            count: entries.len(),
        });
    };
    let name = value::string(doc, entry, fields::NAME).unwrap_or_default();
    let Some(parties) = value::winning_list(doc, &ROOT, fields::PARTIES) else {
        return Err(EditError::NoSuchParty { index, count: 0 });
    };
    let position = *position;
    edit::edit(doc, author, |doc| {
        doc.delete(&parties, position)?;
        Ok(Some(format!("party {} removed", shorten(name.trim()))))
    })
}

fn insert_party(
    doc: &mut AutoCommit,
    parties: &ObjId,
    index: usize,
    party: &Party,
) -> Result<(), EditError> {
    let entry = doc.insert_object(parties, index, ObjType::Map)?;
    doc.put(&entry, fields::NAME, party.name.as_str())?;
    doc.put(&entry, fields::ROLE, party.role.as_str())?;
    put_optional(doc, &entry, fields::PHONE, party.phone.as_deref())?;
    put_optional(doc, &entry, fields::NOTE, party.note.as_deref())?;
    Ok(())
}

/// Assigns a cadre to the case.
pub fn assign(
    doc: &mut AutoCommit,
    author: &Author,
    cadre: &str,
) -> Result<Option<ChangeHash>, EditError> {
    require_kind(doc, RecordKind::Dispute)?;
    non_empty("the assignee's cadre id", cadre)?;
    edit::edit(doc, author, |doc| {
        Ok(set_insert(doc, &ROOT, fields::ASSIGNEES, cadre)?
            .then(|| format!("{} assigned", shorten(cadre))))
    })
}

/// Takes a cadre off the case.
pub fn unassign(
    doc: &mut AutoCommit,
    author: &Author,
    cadre: &str,
) -> Result<Option<ChangeHash>, EditError> {
    require_kind(doc, RecordKind::Dispute)?;
    edit::edit(doc, author, |doc| {
        Ok(set_remove(doc, &ROOT, fields::ASSIGNEES, cadre)?
            .then(|| format!("{} unassigned", shorten(cadre))))
    })
}

/// Appends an event to the timeline, at the author's time and in the
/// author's name.
///
/// Refused: a second `reported` (a case is reported once, at creation); an
/// escalation without a level; a level on anything but an escalation;
/// `satisfied` on anything but a follow-up.
pub fn add_event(
    doc: &mut AutoCommit,
    author: &Author,
    event: &NewEvent,
) -> Result<Option<ChangeHash>, EditError> {
    require_kind(doc, RecordKind::Dispute)?;
    match (event.kind, event.level) {
        (EventKind::Reported, _) => return Err(EditError::ReportedAfterCreation),
        (EventKind::Escalated, None) => return Err(EditError::MissingLevel),
        (EventKind::Escalated, Some(_)) | (_, None) => {}
        (kind, Some(_)) => return Err(EditError::UnexpectedLevel { kind }),
    }
    if event.satisfied.is_some() && event.kind != EventKind::Followup {
        return Err(EditError::UnexpectedSatisfied { kind: event.kind });
    }
    match (event.kind, &event.assignee) {
        (EventKind::Assigned, None) => return Err(EditError::MissingAssignee),
        (EventKind::Assigned, Some(person)) => non_empty("the assignee's person id", person)?,
        (_, None) => {}
        (kind, Some(_)) => return Err(EditError::UnexpectedAssignee { kind }),
    }
    match (event.kind, event.due) {
        (EventKind::Supervised, None) => return Err(EditError::MissingDue),
        (EventKind::Supervised, Some(_)) | (_, None) => {}
        (kind, Some(_)) => return Err(EditError::UnexpectedDue { kind }),
    }
    if matches!(event.kind, EventKind::Returned | EventKind::Supervised) {
        non_empty("the note", event.note.as_deref().unwrap_or(""))?;
    }
    edit::edit(doc, author, |doc| {
        let events = ensure_list(doc, &ROOT, fields::EVENTS)?;
        insert_event(doc, &events, author, event)?;
        // An assignment also puts the handler among the case's assignees,
        // where phones look for "assigned to me".
        if let Some(person) = &event.assignee {
            set_insert(doc, &ROOT, fields::ASSIGNEES, person)?;
        }
        Ok(Some(match (event.level, &event.assignee) {
            (Some(level), _) => format!("event '{}' ({level}) added", event.kind),
            (None, Some(person)) => format!("event '{}' ({}) added", event.kind, shorten(person)),
            (None, None) => format!("event '{}' added", event.kind),
        }))
    })
}

fn insert_event(
    doc: &mut AutoCommit,
    events: &ObjId,
    author: &Author,
    event: &NewEvent,
) -> Result<(), EditError> {
    let end = value::length(doc, events);
    let entry = doc.insert_object(events, end, ObjType::Map)?;
    doc.put(&entry, fields::AT, ScalarValue::Timestamp(author.at))?;
    doc.put(&entry, fields::BY, author.cadre.as_str())?;
    doc.put(&entry, fields::KIND, event.kind.as_str())?;
    if let Some(level) = event.level {
        doc.put(&entry, fields::LEVEL, level.as_str())?;
    }
    if let Some(outcome) = &event.outcome {
        write_text(doc, &entry, fields::OUTCOME, outcome)?;
    }
    if let Some(note) = &event.note {
        write_text(doc, &entry, fields::NOTE, note)?;
    }
    if let Some(satisfied) = event.satisfied {
        doc.put(&entry, fields::SATISFIED, satisfied)?;
    }
    if let Some(person) = &event.assignee {
        doc.put(&entry, fields::ASSIGNEE, person.as_str())?;
    }
    if let Some(due) = event.due {
        doc.put(&entry, fields::DUE_AT, ScalarValue::Timestamp(due))?;
    }
    Ok(())
}

/// Marks the case as a duplicate of another (`Some`), or clears the mark
/// (`None`).
pub fn set_duplicate_of(
    doc: &mut AutoCommit,
    author: &Author,
    original: Option<&DocumentId>,
) -> Result<Option<ChangeHash>, EditError> {
    require_kind(doc, RecordKind::Dispute)?;
    edit::edit(doc, author, |doc| match original {
        Some(original) => {
            let links = ensure_map(doc, &ROOT, fields::LINKS)?;
            let written =
                write_scalar(doc, &links, fields::DUPLICATE_OF, original.as_str().into())?;
            Ok(written.then(|| format!("marked duplicate of {original}")))
        }
        None => {
            let mut cleared = false;
            for links in value::maps(doc, &ROOT, fields::LINKS) {
                if !value::all(doc, &links, fields::DUPLICATE_OF).is_empty() {
                    doc.delete(&links, fields::DUPLICATE_OF)?;
                    cleared = true;
                }
            }
            Ok(cleared.then(|| "duplicate mark cleared".to_owned()))
        }
    })
}

/// Records that another case is related to this one.
pub fn link_related(
    doc: &mut AutoCommit,
    author: &Author,
    other: &DocumentId,
) -> Result<Option<ChangeHash>, EditError> {
    require_kind(doc, RecordKind::Dispute)?;
    edit::edit(doc, author, |doc| {
        let links = ensure_map(doc, &ROOT, fields::LINKS)?;
        Ok(set_insert(doc, &links, fields::RELATED, other.as_str())?
            .then(|| format!("related case {other} linked")))
    })
}

/// Removes the link to a related case.
pub fn unlink_related(
    doc: &mut AutoCommit,
    author: &Author,
    other: &DocumentId,
) -> Result<Option<ChangeHash>, EditError> {
    require_kind(doc, RecordKind::Dispute)?;
    edit::edit(doc, author, |doc| {
        let mut removed = false;
        for links in value::maps(doc, &ROOT, fields::LINKS) {
            removed |= set_remove(doc, &links, fields::RELATED, other.as_str())?;
        }
        Ok(removed.then(|| format!("related case {other} unlinked")))
    })
}

/// Records that another case is not a duplicate of this one (an official
/// dismissed the suggestion), so the pair is not suggested again.
pub fn mark_not_duplicate(
    doc: &mut AutoCommit,
    author: &Author,
    other: &DocumentId,
) -> Result<Option<ChangeHash>, EditError> {
    require_kind(doc, RecordKind::Dispute)?;
    edit::edit(doc, author, |doc| {
        let links = ensure_map(doc, &ROOT, fields::LINKS)?;
        Ok(
            set_insert(doc, &links, fields::NOT_DUPLICATES, other.as_str())?
                .then(|| format!("case {other} marked not a duplicate")),
        )
    })
}
