//! A household visit (民情走访), read from its document.
//!
//! [`Visit`] is the hydrated, merge-resolved view of one visit document:
//! the sentiment is the most severe concurrent value, topics are a set that
//! keeps concurrent additions, and the follow-up flags stay set once anyone
//! set them ([`super::merge`]).

use std::collections::BTreeSet;

use automerge::{ObjId, ROOT, ReadDoc};
use fengqiao_protocol::DocumentId;

use super::fields;
use super::header::{self, Header, ReadError};
use super::merge;
use super::value;
use crate::summary::Millis;
use crate::vocab::{RecordKind, Sentiment, Topic};

/// Whether a visit needs a follow-up, and whether it was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FollowUp {
    pub needed: bool,
    pub done: bool,
    pub due_at: Option<Millis>,
}

impl FollowUp {
    /// Whether a follow-up is still owed.
    pub fn pending(&self) -> bool {
        self.needed && !self.done
    }

    /// Reads `followUp`. If it was created concurrently more than once, the
    /// flags of every copy count, and the earliest due date is kept.
    fn read<D: ReadDoc>(doc: &D, obj: &ObjId) -> FollowUp {
        let copies = value::maps(doc, obj, fields::FOLLOW_UP);
        FollowUp {
            needed: copies
                .iter()
                .any(|c| merge::any_true(doc, c, fields::NEEDED)),
            done: copies.iter().any(|c| merge::any_true(doc, c, fields::DONE)),
            due_at: copies
                .iter()
                .flat_map(|c| value::all(doc, c, fields::DUE_AT))
                .filter_map(|item| item.as_millis())
                .min(),
        }
    }
}

/// A household visit, hydrated from its document with merge rules applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub header: Header,
    pub visited_at: Option<Millis>,
    /// The household visited: a name or a household number.
    pub household: String,
    /// The villagers' group (村民小组).
    pub group: Option<String>,
    pub topics: BTreeSet<Topic>,
    /// The most severe concurrent sentiment.
    pub sentiment: Option<Sentiment>,
    pub notes: String,
    pub follow_up: FollowUp,
    pub linked_dispute: Option<DocumentId>,
}

impl Visit {
    /// Reads a visit document.
    pub fn read<D: ReadDoc>(doc: &D) -> Result<Visit, ReadError> {
        match header::read_kind(doc)? {
            RecordKind::Visit => {}
            found => {
                return Err(ReadError::WrongKind {
                    expected: RecordKind::Visit,
                    found,
                });
            }
        }
        let header = Header::read(doc)?;
        let root: &ObjId = &ROOT;
        Ok(Visit {
            header,
            visited_at: value::millis(doc, root, fields::VISITED_AT),
            household: value::string(doc, root, fields::HOUSEHOLD).unwrap_or_default(),
            group: value::string(doc, root, fields::GROUP),
            topics: merge::set_members(doc, root, fields::TOPICS)
                .iter()
                .filter_map(|t| Topic::parse(t))
                .collect(),
            sentiment: merge::sentiment(doc, root),
            notes: value::string(doc, root, fields::NOTES).unwrap_or_default(),
            follow_up: FollowUp::read(doc, root),
            linked_dispute: value::string(doc, root, fields::LINKED_DISPUTE)
                .and_then(|id| DocumentId::parse(&id).ok()),
        })
    }

    /// The latest time in the record: creation or the visit itself.
    pub fn last_activity(&self) -> Millis {
        self.visited_at
            .map_or(self.header.created_at, |at| at.max(self.header.created_at))
    }
}
