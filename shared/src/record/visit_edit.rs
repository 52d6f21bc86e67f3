//! Domain operations on household visits: record one, edit its notes, set
//! its sentiment and topics, schedule and complete the follow-up, link it
//! to a dispute it gave rise to.
//!
//! Every operation takes the document and the [`Author`] of the edit and
//! commits one change (see [`super::edit`]).

use std::collections::BTreeSet;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ScalarValue};
use fengqiao_protocol::{DocumentId, VillageCode};

use super::dispute_edit::change_message;
use super::edit::{
    self, Author, EditError, ensure_map, non_empty, put_optional, require_kind, set_insert,
    set_remove, write_scalar, write_text,
};
use super::fields;
use super::merge;
use super::value::{self, shorten};
use crate::summary::Millis;
use crate::vocab::{RecordKind, Sentiment, Topic};

/// What a cadre enters to record a household visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVisit {
    pub village: VillageCode,
    pub visited_at: Millis,
    pub household: String,
    pub group: Option<String>,
    pub topics: BTreeSet<Topic>,
    pub sentiment: Sentiment,
    pub notes: String,
    pub follow_up_needed: bool,
    /// When the follow-up is due, if it is needed and has a date.
    pub follow_up_due: Option<Millis>,
    pub linked_dispute: Option<DocumentId>,
}

/// Records a visit in an empty document.
pub fn create_visit(
    doc: &mut AutoCommit,
    author: &Author,
    visit: &NewVisit,
) -> Result<Option<ChangeHash>, EditError> {
    edit::require_blank(doc)?;
    non_empty("the household", &visit.household)?;
    edit::edit(doc, author, |doc| {
        let root: &ObjId = &ROOT;
        doc.put(root, fields::TYPE, RecordKind::Visit.as_str())?;
        doc.put(root, fields::SCHEMA, fields::SCHEMA_VERSION)?;
        doc.put(root, fields::VILLAGE, visit.village.as_str())?;
        doc.put(root, fields::CREATED_AT, ScalarValue::Timestamp(author.at))?;
        doc.put(root, fields::CREATED_BY, author.cadre.as_str())?;
        doc.put(
            root,
            fields::VISITED_AT,
            ScalarValue::Timestamp(visit.visited_at),
        )?;
        doc.put(root, fields::HOUSEHOLD, visit.household.as_str())?;
        put_optional(doc, root, fields::GROUP, visit.group.as_deref())?;
        let topics = doc.put_object(root, fields::TOPICS, ObjType::Map)?;
        for topic in &visit.topics {
            doc.put(&topics, topic.as_str(), true)?;
        }
        doc.put(root, fields::SENTIMENT, visit.sentiment.as_str())?;
        write_text(doc, root, fields::NOTES, &visit.notes)?;
        let follow_up = doc.put_object(root, fields::FOLLOW_UP, ObjType::Map)?;
        doc.put(&follow_up, fields::NEEDED, visit.follow_up_needed)?;
        doc.put(&follow_up, fields::DONE, false)?;
        if let (true, Some(due)) = (visit.follow_up_needed, visit.follow_up_due) {
            doc.put(&follow_up, fields::DUE_AT, ScalarValue::Timestamp(due))?;
        }
        if let Some(dispute) = &visit.linked_dispute {
            doc.put(root, fields::LINKED_DISPUTE, dispute.as_str())?;
        }
        Ok(Some(format!(
            "visit recorded: {}",
            shorten(visit.household.trim())
        )))
    })
}

/// Edits the notes (a collaborative text).
pub fn set_notes(
    doc: &mut AutoCommit,
    author: &Author,
    notes: &str,
) -> Result<Option<ChangeHash>, EditError> {
    require_kind(doc, RecordKind::Visit)?;
    edit::edit(doc, author, |doc| {
        Ok(write_text(doc, &ROOT, fields::NOTES, notes)?.then(|| "notes edited".to_owned()))
    })
}

/// Sets the sentiment. Setting it also settles a concurrent disagreement
/// (which otherwise reads as the most severe value).
pub fn set_sentiment(
    doc: &mut AutoCommit,
    author: &Author,
    sentiment: Sentiment,
) -> Result<Option<ChangeHash>, EditError> {
    require_kind(doc, RecordKind::Visit)?;
    edit::edit(doc, author, |doc| {
        let before = merge::sentiment(doc, &ROOT);
        let written = write_scalar(doc, &ROOT, fields::SENTIMENT, sentiment.as_str().into())?;
        Ok(written.then(|| change_message("sentiment", before, sentiment)))
    })
}

/// Makes the topics exactly `topics`: adds the missing ones and removes
/// the others. Topics this version does not know are left alone; a topic
/// another phone adds concurrently stays.
pub fn set_topics(
    doc: &mut AutoCommit,
    author: &Author,
    topics: &BTreeSet<Topic>,
) -> Result<Option<ChangeHash>, EditError> {
    require_kind(doc, RecordKind::Visit)?;
    edit::edit(doc, author, |doc| {
        let current: BTreeSet<Topic> = merge::set_members(doc, &ROOT, fields::TOPICS)
            .iter()
            .filter_map(|t| Topic::parse(t))
            .collect();
        let mut changes = Vec::new();
        for topic in topics.difference(&current) {
            set_insert(doc, &ROOT, fields::TOPICS, topic.as_str())?;
            changes.push(format!("+{topic}"));
        }
        for topic in current.difference(topics) {
            set_remove(doc, &ROOT, fields::TOPICS, topic.as_str())?;
            changes.push(format!("−{topic}"));
        }
        Ok((!changes.is_empty()).then(|| format!("topics {}", changes.join(" "))))
    })
}

/// Records that the visit needs a follow-up, due at `due_at` if given.
pub fn schedule_follow_up(
    doc: &mut AutoCommit,
    author: &Author,
    due_at: Option<Millis>,
) -> Result<Option<ChangeHash>, EditError> {
    require_kind(doc, RecordKind::Visit)?;
    edit::edit(doc, author, |doc| {
        let follow_up = ensure_map(doc, &ROOT, fields::FOLLOW_UP)?;
        let mut written = write_scalar(doc, &follow_up, fields::NEEDED, true.into())?;
        written |= write_scalar(doc, &follow_up, fields::DONE, false.into())?;
        if let Some(due) = due_at {
            written |= write_scalar(doc, &follow_up, fields::DUE_AT, ScalarValue::Timestamp(due))?;
        }
        Ok(written.then(|| "follow-up scheduled".to_owned()))
    })
}

/// Marks the follow-up done. Refused when the visit needs no follow-up.
pub fn mark_follow_up_done(
    doc: &mut AutoCommit,
    author: &Author,
) -> Result<Option<ChangeHash>, EditError> {
    require_kind(doc, RecordKind::Visit)?;
    let copies = value::maps(doc, &ROOT, fields::FOLLOW_UP);
    if !copies
        .iter()
        .any(|c| merge::any_true(doc, c, fields::NEEDED))
    {
        return Err(EditError::NoFollowUpNeeded);
    }
    edit::edit(doc, author, |doc| {
        let follow_up = ensure_map(doc, &ROOT, fields::FOLLOW_UP)?;
        Ok(write_scalar(doc, &follow_up, fields::DONE, true.into())?
            .then(|| "follow-up done".to_owned()))
    })
}

/// Links the visit to the dispute it gave rise to (`Some`), or removes the
/// link (`None`).
pub fn link_dispute(
    doc: &mut AutoCommit,
    author: &Author,
    dispute: Option<&DocumentId>,
) -> Result<Option<ChangeHash>, EditError> {
    require_kind(doc, RecordKind::Visit)?;
    edit::edit(doc, author, |doc| match dispute {
        Some(dispute) => {
            let written =
                write_scalar(doc, &ROOT, fields::LINKED_DISPUTE, dispute.as_str().into())?;
            Ok(written.then(|| format!("linked to dispute {dispute}")))
        }
        None => {
            if value::all(doc, &ROOT, fields::LINKED_DISPUTE).is_empty() {
                return Ok(None);
            }
            doc.delete(&ROOT, fields::LINKED_DISPUTE)?;
            Ok(Some("link to dispute removed".to_owned()))
        }
    })
}
