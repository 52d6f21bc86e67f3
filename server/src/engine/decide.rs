//! Whether a change is stored, decided without I/O.
//!
//! [`decide`] takes a record as stored (or nothing, for a new one), the
//! scratch copy holding the new changes, the caller, what the directory and
//! storage know that the policies ask about, the limits and the time, and
//! either refuses the change ([`Refusal`]) or says what to write: the
//! [`CommitBatch`] (content, heads, summary, actor bindings and the
//! sequence number it expects), the document to keep, and the alert the
//! change raises. The engine loads what the decision needs before, and
//! writes what it decided after; no policy reads storage, the clock or
//! randomness on its own.
//!
//! The policies, in the order they apply:
//!
//! 1. a record an admin removed takes no changes;
//! 2. changes that change nothing store nothing;
//! 3. the record may not grow past [`Limits::max_document_bytes`];
//! 4. the record must be valid ([`record::validate_at`], times judged
//!    against `now`);
//! 5. the caller must be allowed to write the record's village (scope
//!    before authorship: a record the caller may not write gets the same
//!    answer whoever it claims to be written by);
//! 6. what a device writes in its holder's name must be its holder's;
//! 7. the village must be one of the organisation's;
//! 8. only a town (or a district with write) links duplicates, and only to
//!    a dispute it can read; a link to a record that is not a stored
//!    dispute does not count in the statistics;
//! 9. every new change must be the uploader's (or its holder's other
//!    devices'); actors seen for the first time are bound to the uploader;
//! 10. an id taken by a record the caller may not read is refused as a
//!     creation outside its scope.

use automerge::{AutoCommit, ChangeHash};
use fengqiao_protocol::{DocumentId, VillageCode};
use fengqiao_shared::access::{self, DeviceDirectory};
use fengqiao_shared::record::{self, Limits, Prefetched, Record};
use fengqiao_shared::vocab::RecordKind;
use fengqiao_shared::{Millis, Summary};

use super::cache::Loaded;
use super::{Caller, DocError};
use crate::alerts::Alert;
use crate::directory::Directory;
use crate::storage::document::ActorBinding;
use crate::storage::{CommitBatch, DocumentContent, Storage, StorageError};

/// Whether an id is taken by a record the caller may not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Free, or a record the caller may read.
    No,
    /// A record outside the caller's scope: judged as if the id were free,
    /// and refused where it would be stored.
    Hidden,
}

/// What the decision asks the directory.
pub trait DirectoryView: DeviceDirectory {
    /// Whether the village is one of the organisation's.
    fn village_known(&self, village: &VillageCode) -> bool;
    /// The village's name, for alerts.
    fn village_name(&self, village: &VillageCode) -> Option<String>;
}

impl DirectoryView for Directory {
    fn village_known(&self, village: &VillageCode) -> bool {
        Directory::village_known(self, village)
    }

    fn village_name(&self, village: &VillageCode) -> Option<String> {
        Directory::village_name(self, village)
    }
}

/// What the decision asks about other stored records (the target of a
/// duplicate link) and about the record's own stored summary (whether a
/// change enters the alerting state).
pub trait StoredSummaries {
    fn stored_summary(&self, id: &DocumentId) -> Result<Option<Summary>, StorageError>;
}

impl StoredSummaries for dyn Storage {
    fn stored_summary(&self, id: &DocumentId) -> Result<Option<Summary>, StorageError> {
        self.summary(id)
    }
}

/// A change to judge.
pub struct Proposal<'a> {
    pub id: &'a DocumentId,
    pub caller: &'a Caller,
    /// The record as stored, `None` for a new one.
    pub stored: Option<&'a mut Loaded>,
    /// The stored record with the new changes applied.
    pub scratch: AutoCommit,
    /// The bytes the changes came as (a whole document is stored as it
    /// came when it alone makes a new record).
    pub received: &'a [u8],
    pub taken: Taken,
    /// Whether an admin removed the record.
    pub removed: bool,
}

/// What the policies consult.
pub struct Context<'a, D, S: ?Sized> {
    pub directory: &'a D,
    pub summaries: &'a S,
    pub limits: &'a Limits,
    /// The server's time: recorded times may not lie more than
    /// [`record::FUTURE_ALLOWANCE_MILLIS`] ahead of it; commits and alerts
    /// are stamped with it.
    pub now: Millis,
}

/// The outcome of an accepted change.
#[derive(Debug)]
pub enum Decision {
    /// The changes were all known: nothing to store.
    Unchanged { heads: Vec<ChangeHash> },
    /// Write this.
    Commit(Box<Commit>),
}

/// What an accepted change writes.
#[derive(Debug)]
pub struct Commit {
    /// Written in one transaction; conditional on the stored record's
    /// sequence number (0 for a new record).
    pub batch: CommitBatch,
    /// The record's heads once written.
    pub heads: Vec<ChangeHash>,
    /// The record once written.
    pub doc: AutoCommit,
    /// The record's stored size once written.
    pub stored_bytes: u64,
    /// The alert the change raises, if any. Its `alert_id` is empty: the
    /// engine names it.
    pub alert: Option<Alert>,
}

/// A refused change.
#[derive(Debug)]
pub struct Refusal {
    pub error: DocError,
    /// Whether the change is kept apart in the quarantine (a refusal of its
    /// content), or not (the record was removed, storage failed).
    pub quarantine: bool,
}

impl Refusal {
    fn quarantined(error: DocError) -> Self {
        Self {
            error,
            quarantine: true,
        }
    }

    fn plain(error: DocError) -> Self {
        Self {
            error,
            quarantine: false,
        }
    }
}

impl From<StorageError> for Refusal {
    fn from(e: StorageError) -> Self {
        Refusal::plain(DocError::Storage(e))
    }
}

/// Whether `bytes` begin with an Automerge document chunk (the output of
/// `save()`), as opposed to change chunks: such bytes, when they alone
/// built a new record, are already its compact snapshot.
pub fn is_document(bytes: &[u8]) -> bool {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    const DOCUMENT_CHUNK: u8 = 0;
    bytes.len() > 8 && bytes[..4] == MAGIC && bytes[8] == DOCUMENT_CHUNK
}

fn heads_bytes(heads: &[ChangeHash]) -> Vec<[u8; 32]> {
    heads.iter().map(|h| h.0).collect()
}

/// Judges a change; see the [module documentation](self).
pub fn decide<D: DirectoryView, S: StoredSummaries + ?Sized>(
    proposal: Proposal<'_>,
    cx: &Context<'_, D, S>,
) -> Result<Decision, Refusal> {
    let Proposal {
        id,
        caller,
        mut stored,
        mut scratch,
        received,
        taken,
        removed,
    } = proposal;
    // A hidden record is never written, whatever became of it.
    if taken == Taken::No && removed {
        return Err(Refusal::plain(DocError::Removed));
    }
    let old_heads = stored
        .as_mut()
        .map(|l| l.doc.get_heads())
        .unwrap_or_default();
    let new_heads = scratch.get_heads();
    if new_heads == old_heads {
        return Ok(Decision::Unchanged { heads: new_heads });
    }
    // A new record is stored as one snapshot; a known one gains a chunk
    // of what it did not have. Either way the document is encoded once.
    let content = match &stored {
        Some(_) => DocumentContent::Chunk(scratch.save_after(&old_heads)),
        None if is_document(received) => DocumentContent::Snapshot(received.to_vec()),
        None => DocumentContent::Snapshot(scratch.save()),
    };
    let new_len = match &content {
        DocumentContent::Chunk(bytes) | DocumentContent::Snapshot(bytes) => bytes.len(),
    };
    let stored_len = stored.as_ref().map_or(0, |l| l.stored_bytes);
    let size = stored_len + new_len as u64;
    let limit = cx.limits.max_document_bytes as u64;
    if size > limit {
        return Err(Refusal::quarantined(DocError::TooLarge {
            bytes: size,
            limit,
        }));
    }
    // What a device writes in its own name must be its holder's.
    let sender_person = caller
        .device
        .and_then(|device| cx.directory.person_of(&device));
    // Validation and the summary read every field: each object is read
    // once, in one pass.
    let (mut summary, new_links, authorship) = {
        let view = Prefetched::new(&scratch);
        let previous = stored.as_ref().map(|l| Prefetched::new(&l.doc));
        if let Err(errors) =
            record::validate_at(&view, previous.as_ref(), size as usize, cx.limits, cx.now)
        {
            return Err(Refusal::quarantined(DocError::Invalid(errors.to_string())));
        }
        let authorship = sender_person
            .as_ref()
            .and_then(|person| record::check_authorship(&view, previous.as_ref(), person).err());
        let new_links = record::new_duplicate_links(&view, previous.as_ref());
        match Record::read(&view) {
            Ok(record) => (record.summary(id.clone()), new_links, authorship),
            Err(e) => return Err(Refusal::quarantined(DocError::Invalid(e.to_string()))),
        }
    };
    if !caller.can_write(&summary.village) {
        return Err(Refusal::quarantined(DocError::Forbidden(
            summary.village.clone(),
        )));
    }
    if let Some(errors) = authorship {
        return Err(Refusal::quarantined(DocError::Attribution(
            errors.to_string(),
        )));
    }
    if !cx.directory.village_known(&summary.village) {
        return Err(Refusal::quarantined(DocError::Invalid(format!(
            "field \"village\": {} is not a village of the organisation",
            summary.village
        ))));
    }
    // Enrolled devices link duplicates as on the dashboard; the
    // development token is unrestricted.
    if caller.access.is_some() {
        if !new_links.is_empty() {
            may_link(caller, id, &new_links, cx.summaries)?;
        }
        // A link to a case that is not stored does not make this case a
        // duplicate in the statistics.
        if let Some(target) = &summary.duplicate_of
            && !is_dispute(cx.summaries, target)?
        {
            summary.duplicate_of = None;
        }
    }
    let mut bindings = Vec::new();
    if let Some(uploader) = caller.device {
        let mut actors: Vec<Vec<u8>> = scratch
            .get_changes(&old_heads)
            .iter()
            .map(|c| c.actor_id().to_bytes().to_vec())
            .collect();
        actors.sort();
        actors.dedup();
        for actor in actors {
            match access::authorize_change(cx.directory, &actor, uploader, &summary.village) {
                Ok(access::Attribution::BindToUploader) => bindings.push(ActorBinding {
                    actor,
                    device: uploader,
                }),
                Ok(_) => {}
                Err(denied) => {
                    return Err(Refusal::quarantined(DocError::Attribution(
                        denied.to_string(),
                    )));
                }
            }
        }
    }
    if taken == Taken::Hidden {
        // The id belongs to a record the caller may not see: the same
        // answer as a creation outside its scope, whatever the record.
        return Err(Refusal::quarantined(DocError::Forbidden(
            summary.village.clone(),
        )));
    }
    let alert = if crate::alerts::alerting(&summary) {
        let previous = match &stored {
            Some(_) => cx.summaries.stored_summary(id).ok().flatten(),
            None => None,
        };
        // A stored record whose summary cannot be read raises none.
        let readable = stored.is_none() || previous.is_some();
        (readable && crate::alerts::detect(previous.as_ref(), &summary)).then(|| Alert {
            alert_id: String::new(),
            kind: summary.kind,
            id: id.clone(),
            title: summary.title.clone(),
            village: summary.village.clone(),
            village_name: cx.directory.village_name(&summary.village),
            risk: summary.risk,
            sentiment: summary.sentiment,
            at: cx.now,
        })
    } else {
        None
    };
    let expected_seq = Some(stored.as_ref().map_or(0, |l| l.seq));
    Ok(Decision::Commit(Box::new(Commit {
        batch: CommitBatch {
            id: id.clone(),
            content,
            heads: heads_bytes(&new_heads),
            summary,
            at: cx.now,
            expected_seq,
            bindings,
            alert: None,
        },
        heads: new_heads,
        doc: scratch,
        stored_bytes: size,
        alert,
    })))
}

/// Whether the caller may mark a record as a duplicate of each of
/// `targets`: linking duplicates is a town (or district, with write)
/// decision, as on the dashboard, and only to a dispute the caller can
/// read. A target that does not exist and one out of the caller's scope
/// get the same answer.
fn may_link<S: StoredSummaries + ?Sized>(
    caller: &Caller,
    id: &DocumentId,
    targets: &[String],
    summaries: &S,
) -> Result<(), Refusal> {
    if let Some(access) = &caller.access
        && !matches!(access.role, access::Role::Town | access::Role::District)
    {
        return Err(Refusal::quarantined(DocError::Attribution(
            "field \"links.duplicateOf\": this device's role does not link duplicates; \
             a town official links them on the dashboard"
                .to_owned(),
        )));
    }
    for target in targets {
        let found = match DocumentId::parse(target) {
            Ok(target) if &target != id => summaries
                .stored_summary(&target)?
                .filter(|s| s.kind == RecordKind::Dispute)
                .filter(|s| caller.can_read(&s.village))
                .is_some(),
            _ => false,
        };
        if !found {
            return Err(Refusal::quarantined(DocError::Invalid(format!(
                "field \"links.duplicateOf\": {:?} is not a case this device can see",
                record::shorten_for_message(target)
            ))));
        }
    }
    Ok(())
}

/// Whether `id` is a stored dispute.
fn is_dispute<S: StoredSummaries + ?Sized>(
    summaries: &S,
    id: &DocumentId,
) -> Result<bool, Refusal> {
    Ok(summaries
        .stored_summary(id)?
        .is_some_and(|s| s.kind == RecordKind::Dispute))
}

#[cfg(test)]
mod tests;
