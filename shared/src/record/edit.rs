//! What every domain operation on a record has in common: who makes the
//! edit and when ([`Author`]), why an edit is refused ([`EditError`]), and
//! how an edit becomes one Automerge change with a message for the audit
//! trail.
//!
//! Each operation validates its inputs, writes its fields and commits one
//! change whose message says what happened in a few words ("risk medium →
//! high", "event 'resolved' added"); the audit trail reads these messages
//! from the document's history. An operation that would change nothing
//! commits nothing and returns `Ok(None)`. An operation that fails leaves
//! the document as it was.
//!
//! Operations never delete fields they do not know: other clients may have
//! written them, and they are preserved.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{AutoCommit, AutomergeError, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue};
use thiserror::Error;

use super::header::{self, ReadError};
use super::text_diff;
use super::value::{self, Item};
use crate::summary::Millis;
use crate::vocab::{EventKind, RecordKind};

/// Who makes an edit, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// The cadre (person) id; written as `createdBy` and as the `by` of
    /// events.
    pub cadre: String,
    /// The time of the edit (milliseconds since the epoch); written as
    /// `createdAt` and as the `at` of events, and the change's time.
    pub at: Millis,
}

impl Author {
    pub fn new(cadre: impl Into<String>, at: Millis) -> Self {
        Author {
            cadre: cadre.into(),
            at,
        }
    }
}

/// Why a domain operation was refused.
#[derive(Debug, Error)]
pub enum EditError {
    #[error("the document already holds a record")]
    AlreadyCreated,
    #[error(transparent)]
    NotEditable(#[from] ReadError),
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("a report is recorded when the case is created, not added later")]
    ReportedAfterCreation,
    #[error("an escalation needs the level it goes to")]
    MissingLevel,
    #[error("only an escalation has a level; a {kind} event does not")]
    UnexpectedLevel { kind: EventKind },
    #[error("only a follow-up records whether the parties were satisfied; a {kind} event does not")]
    UnexpectedSatisfied { kind: EventKind },
    #[error("an assignment needs the person it assigns")]
    MissingAssignee,
    #[error("only an assignment names an assignee; a {kind} event does not")]
    UnexpectedAssignee { kind: EventKind },
    #[error("a supervision (督办) needs its deadline")]
    MissingDue,
    #[error("only a supervision (督办) has a deadline; a {kind} event does not")]
    UnexpectedDue { kind: EventKind },
    #[error("there is no party number {index}: the dispute has {count}")]
    NoSuchParty { index: usize, count: usize },
    #[error("the visit has no follow-up to mark done")]
    NoFollowUpNeeded,
    #[error("the document could not be changed: {0}")]
    Document(#[from] AutomergeError),
}

/// Runs one domain operation as one change.
///
/// `change` returns the change's message, or `None` when there is nothing
/// to change. Edits already pending in `doc` are committed first, on their
/// own, so that this change holds exactly this operation.
pub(crate) fn edit<F>(
    doc: &mut AutoCommit,
    author: &Author,
    change: F,
) -> Result<Option<ChangeHash>, EditError>
where
    F: FnOnce(&mut AutoCommit) -> Result<Option<String>, EditError>,
{
    non_empty("the author's cadre id", &author.cadre)?;
    doc.commit();
    match change(doc) {
        Ok(Some(message)) => Ok(doc.commit_with(
            CommitOptions::default()
                .with_message(message)
                .with_time(author.at.div_euclid(1000)),
        )),
        Ok(None) => {
            doc.rollback();
            Ok(None)
        }
        Err(error) => {
            doc.rollback();
            Err(error)
        }
    }
}

/// Refuses an empty or blank input.
pub(crate) fn non_empty(field: &'static str, text: &str) -> Result<(), EditError> {
    if text.trim().is_empty() {
        Err(EditError::Empty { field })
    } else {
        Ok(())
    }
}

/// Refuses to edit a document that is not a record of `kind`.
pub(crate) fn require_kind<D: ReadDoc>(doc: &D, kind: RecordKind) -> Result<(), EditError> {
    let found = header::read_kind(doc)?;
    if found == kind {
        Ok(())
    } else {
        Err(ReadError::WrongKind {
            expected: kind,
            found,
        }
        .into())
    }
}

/// Refuses to create a record in a document that already holds one.
pub(crate) fn require_blank<D: ReadDoc>(doc: &D) -> Result<(), EditError> {
    if value::all(doc, &automerge::ROOT, super::fields::TYPE).is_empty() {
        Ok(())
    } else {
        Err(EditError::AlreadyCreated)
    }
}

/// Writes a collaborative text field so that it reads `new`.
///
/// An existing Text object is edited by the minimal character splices
/// ([`text_diff`]), so concurrent edits merge character-wise. A field that
/// is missing or holds a plain string becomes a new Text object. Returns
/// whether anything was written.
pub(crate) fn write_text(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    new: &str,
) -> Result<bool, EditError> {
    match doc.get(obj, key)? {
        Some((automerge::Value::Object(ObjType::Text), text)) => {
            let old = doc.text(&text)?;
            if old == new {
                return Ok(false);
            }
            splice_text(doc, &text, &old, new)?;
            Ok(true)
        }
        current => {
            if let Some((automerge::Value::Scalar(scalar), _)) = &current
                && scalar.as_str() == Some(new)
            {
                return Ok(false);
            }
            let text = doc.put_object(obj, key, ObjType::Text)?;
            if !new.is_empty() {
                doc.splice_text(&text, 0, 0, new)?;
            }
            Ok(true)
        }
    }
}

/// Turns the Text object `text`, which reads `old`, into `new` by splices
/// in the document's own index units.
fn splice_text(doc: &mut AutoCommit, text: &ObjId, old: &str, new: &str) -> Result<(), EditError> {
    let encoding = doc.text_encoding();
    if text_diff::to_units(encoding, "").is_none() {
        // Positions counted in grapheme clusters: let Automerge diff.
        doc.update_text(text, new)?;
        return Ok(());
    }
    // Byte offset of every character boundary of `old`.
    let boundaries: Vec<usize> = old
        .char_indices()
        .map(|(at, _)| at)
        .chain(std::iter::once(old.len()))
        .collect();
    for splice in text_diff::diff(old, new).iter().rev() {
        let start = boundaries.get(splice.at).copied().unwrap_or(old.len());
        let end = boundaries
            .get(splice.at + splice.delete)
            .copied()
            .unwrap_or(old.len());
        let position = text_diff::to_units(encoding, &old[..start]).unwrap_or_default();
        let deleted = text_diff::to_units(encoding, &old[start..end]).unwrap_or_default();
        let deleted = isize::try_from(deleted).map_err(|_| AutomergeError::Fail)?;
        doc.splice_text(text, position, deleted, &splice.insert)?;
    }
    Ok(())
}

/// Writes a scalar field unless every concurrent value of it already is
/// `new`. Returns whether anything was written.
pub(crate) fn write_scalar(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    new: ScalarValue,
) -> Result<bool, EditError> {
    let same = match (&new, value::all(doc, obj, key).as_slice()) {
        (ScalarValue::Str(s), [Item::Str(current)]) => s.as_str() == current,
        (ScalarValue::Boolean(b), [Item::Bool(current)]) => b == current,
        (ScalarValue::Timestamp(t), [current]) => current.as_millis() == Some(*t),
        _ => false,
    };
    if same {
        return Ok(false);
    }
    doc.put(obj, key, new)?;
    Ok(true)
}

/// The map stored under `key`, created if there is none.
pub(crate) fn ensure_map(doc: &mut AutoCommit, obj: &ObjId, key: &str) -> Result<ObjId, EditError> {
    match value::winning_map(doc, obj, key) {
        Some(map) => Ok(map),
        None => Ok(doc.put_object(obj, key, ObjType::Map)?),
    }
}

/// The list stored under `key`, created if there is none.
pub(crate) fn ensure_list(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
) -> Result<ObjId, EditError> {
    match value::winning_list(doc, obj, key) {
        Some(list) => Ok(list),
        None => Ok(doc.put_object(obj, key, ObjType::List)?),
    }
}

/// Adds `member` to the set stored as a map `member → true` under `key`.
/// Returns whether it was not a member before.
pub(crate) fn set_insert(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    member: &str,
) -> Result<bool, EditError> {
    if super::merge::set_members(doc, obj, key).contains(member) {
        return Ok(false);
    }
    let set = ensure_map(doc, obj, key)?;
    doc.put(&set, member, true)?;
    Ok(true)
}

/// Removes `member` from the set under `key` (from every concurrent copy
/// of the set). Returns whether it was there. A concurrent add on another
/// phone survives this removal: adds win.
pub(crate) fn set_remove(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    member: &str,
) -> Result<bool, EditError> {
    let mut removed = false;
    for set in value::maps(doc, obj, key) {
        if !value::all(doc, &set, member).is_empty() {
            doc.delete(&set, member)?;
            removed = true;
        }
    }
    Ok(removed)
}

/// Puts an optional string: a scalar when `Some`, nothing when `None`.
pub(crate) fn put_optional(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    text: Option<&str>,
) -> Result<(), EditError> {
    if let Some(text) = text {
        doc.put(obj, key, text)?;
    }
    Ok(())
}
