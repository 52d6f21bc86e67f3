//! Records: one Automerge document per dispute (矛盾纠纷) or household visit
//! (民情走访), as DESIGN.md §3 lays them out.
//!
//! A record document is shared with JavaScript clients and edited on phones
//! that are offline for days, so this module is built around three needs:
//!
//! - **Reading any document safely.** [`Record::read`] hydrates a
//!   [`Dispute`] or a [`Visit`] from a document whatever shape other
//!   clients gave it, and never panics; a document that is not a record at
//!   all is a typed [`ReadError`].
//! - **Edits that merge.** The domain operations ([`create_dispute`],
//!   [`set_risk`], [`add_event`], [`set_notes`], …) each commit one
//!   Automerge change with a message for the audit trail, and are shaped so
//!   that concurrent edits on different phones combine: texts are spliced
//!   character by character, sets are maps of `key → true`, the timeline
//!   only grows.
//! - **The same answer everywhere.** Where phones disagree, the merge rules
//!   (highest risk, most severe sentiment, status folded from the timeline)
//!   are computed from every concurrent value, so every replica reads the
//!   same record and the same [`Summary`](crate::summary::Summary).
//!
//! [`validate`] checks a document against the schema, the [`Limits`] and
//! its previous version before it is stored or shared.

pub mod budget;
mod dispute;
mod dispute_edit;
mod edit;
mod event;
pub mod fields;
mod header;
mod merge;
mod prefetch;
mod projection;
mod status;
mod text_diff;
mod validate;
mod value;
mod visit;
mod visit_edit;

use automerge::ReadDoc;

pub use dispute::{Dispute, Party};
pub use dispute_edit::{
    NewDispute, add_event, add_party, assign, create_dispute, link_related, mark_not_duplicate,
    remove_party, set_category, set_description, set_duplicate_of, set_risk, set_title, unassign,
    unlink_related,
};
pub use edit::{Author, EditError};
pub use event::{Event, NewEvent};
pub use header::{Header, ReadError};
pub use prefetch::Prefetched;
pub use status::CaseStatus;
pub use validate::{
    FUTURE_ALLOWANCE_MILLIS, Limits, ValidationError, ValidationErrorKind, ValidationErrors,
    check_authorship, new_duplicate_links, validate, validate_at,
};
/// A value cut to a length fit for an error message.
pub use value::shorten as shorten_for_message;
pub use visit::{FollowUp, Visit};
pub use visit_edit::{
    NewVisit, create_visit, link_dispute, mark_follow_up_done, schedule_follow_up, set_notes,
    set_sentiment, set_topics,
};

use crate::summary::Millis;
use crate::vocab::RecordKind;

/// A record of either kind, hydrated from its document.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Dispute(Dispute),
    Visit(Visit),
}

impl Record {
    /// Reads the record a document holds.
    pub fn read<D: ReadDoc>(doc: &D) -> Result<Record, ReadError> {
        match header::read_kind(doc)? {
            RecordKind::Dispute => Dispute::read(doc).map(Record::Dispute),
            RecordKind::Visit => Visit::read(doc).map(Record::Visit),
        }
    }

    pub fn kind(&self) -> RecordKind {
        match self {
            Record::Dispute(_) => RecordKind::Dispute,
            Record::Visit(_) => RecordKind::Visit,
        }
    }

    pub fn header(&self) -> &Header {
        match self {
            Record::Dispute(dispute) => &dispute.header,
            Record::Visit(visit) => &visit.header,
        }
    }

    /// The latest time found in the record.
    pub fn last_activity(&self) -> Millis {
        match self {
            Record::Dispute(dispute) => dispute.last_activity(),
            Record::Visit(visit) => visit.last_activity(),
        }
    }

    pub fn as_dispute(&self) -> Option<&Dispute> {
        match self {
            Record::Dispute(dispute) => Some(dispute),
            Record::Visit(_) => None,
        }
    }

    pub fn as_visit(&self) -> Option<&Visit> {
        match self {
            Record::Visit(visit) => Some(visit),
            Record::Dispute(_) => None,
        }
    }
}
