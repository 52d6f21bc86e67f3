//! A dispute under mediation (矛盾纠纷), read from its document.
//!
//! [`Dispute`] is the hydrated, merge-resolved view of one dispute document:
//! concurrent values are already settled by the merge rules
//! ([`super::merge`]) and the status is folded from the timeline
//! ([`super::status`]). Reading never fails on the shape of the optional
//! parts of a document; fields this version cannot read are left out, and
//! [`super::validate`] is what reports them.

use std::collections::BTreeSet;

use automerge::{ObjId, ROOT, ReadDoc};
use fengqiao_protocol::DocumentId;

use super::event::{self, Event};
use super::fields;
use super::header::{self, Header, ReadError};
use super::merge;
use super::status::CaseStatus;
use super::value::{self, Item};
use crate::summary::Millis;
use crate::vocab::{Category, Level, PartyRole, RecordKind, Risk, Stage, Status};

/// A party to a dispute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    pub name: String,
    /// A role this version does not know reads as [`PartyRole::Other`].
    pub role: PartyRole,
    pub phone: Option<String>,
    pub note: Option<String>,
}

impl Party {
    /// A party with a name and a role and no contact details.
    pub fn new(name: impl Into<String>, role: PartyRole) -> Self {
        Party {
            name: name.into(),
            role,
            phone: None,
            note: None,
        }
    }

    pub fn with_phone(mut self, phone: impl Into<String>) -> Self {
        self.phone = Some(phone.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    fn read<D: ReadDoc>(doc: &D, entry: &ObjId) -> Party {
        Party {
            name: value::string(doc, entry, fields::NAME).unwrap_or_default(),
            role: merge::latest_known(doc, entry, fields::ROLE, PartyRole::parse)
                .unwrap_or(PartyRole::Other),
            phone: value::string(doc, entry, fields::PHONE),
            note: value::string(doc, entry, fields::NOTE),
        }
    }
}

/// A dispute, hydrated from its document with merge rules applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispute {
    pub header: Header,
    pub title: String,
    pub description: String,
    pub category: Option<Category>,
    /// The highest concurrent risk.
    pub risk: Option<Risk>,
    pub parties: Vec<Party>,
    /// Cadre ids assigned to the case.
    pub assignees: BTreeSet<String>,
    /// The timeline in stored list order; see [`Dispute::timeline`].
    pub events: Vec<Event>,
    pub duplicate_of: Option<DocumentId>,
    pub related: BTreeSet<DocumentId>,
    /// Cases an official judged not to be duplicates of this one.
    pub not_duplicates: BTreeSet<DocumentId>,
    case: CaseStatus,
}

impl Dispute {
    /// Reads a dispute document.
    pub fn read<D: ReadDoc>(doc: &D) -> Result<Dispute, ReadError> {
        match header::read_kind(doc)? {
            RecordKind::Dispute => {}
            found => {
                return Err(ReadError::WrongKind {
                    expected: RecordKind::Dispute,
                    found,
                });
            }
        }
        let header = Header::read(doc)?;
        let root: &ObjId = &ROOT;
        let events = event::read_events(doc, root);
        let links = value::winning_map(doc, root, fields::LINKS);
        let duplicate_of = links
            .as_ref()
            .and_then(|links| value::string(doc, links, fields::DUPLICATE_OF))
            .and_then(|id| DocumentId::parse(&id).ok());
        let related = value::maps(doc, root, fields::LINKS)
            .iter()
            .flat_map(|links| merge::set_members(doc, links, fields::RELATED))
            .filter_map(|id| DocumentId::parse(&id).ok())
            .collect();
        let not_duplicates = value::maps(doc, root, fields::LINKS)
            .iter()
            .flat_map(|links| merge::set_members(doc, links, fields::NOT_DUPLICATES))
            .filter_map(|id| DocumentId::parse(&id).ok())
            .collect();
        Ok(Dispute {
            header,
            title: value::string(doc, root, fields::TITLE).unwrap_or_default(),
            description: value::string(doc, root, fields::DESCRIPTION).unwrap_or_default(),
            category: merge::latest_known(doc, root, fields::CATEGORY, Category::parse),
            risk: merge::risk(doc, root),
            parties: party_entries(doc)
                .iter()
                .map(|(_, entry)| Party::read(doc, entry))
                .collect(),
            assignees: merge::set_members(doc, root, fields::ASSIGNEES),
            case: CaseStatus::fold(&events),
            events,
            duplicate_of,
            related,
            not_duplicates,
        })
    }

    /// The events in timeline order: by time, then cadre, then position.
    pub fn timeline(&self) -> Vec<&Event> {
        let mut ordered: Vec<&Event> = self.events.iter().collect();
        ordered.sort_by(|a, b| a.timeline_order(b));
        ordered
    }

    /// The status folded from the timeline.
    pub fn status(&self) -> Status {
        self.case.status
    }

    /// The level of the escalation in effect, when the case is escalated.
    pub fn escalation_level(&self) -> Option<Level> {
        self.case.escalation_level
    }

    /// The highest level the case was ever escalated to.
    pub fn max_escalation_level(&self) -> Option<Level> {
        self.case.max_escalation_level
    }

    /// When the case became resolved, if it is resolved now.
    pub fn resolved_at(&self) -> Option<Millis> {
        self.case.resolved_at
    }

    /// Status, escalation and resolution together.
    pub fn case_status(&self) -> &CaseStatus {
        &self.case
    }

    /// The closed-loop stage folded from the timeline.
    pub fn stage(&self) -> Stage {
        self.case.stage
    }

    /// The latest time in the record: creation or any event.
    pub fn last_activity(&self) -> Millis {
        self.events
            .iter()
            .map(|e| e.at)
            .fold(self.header.created_at, Millis::max)
    }
}

/// The readable party entries of the stored `parties` list: their position
/// in the list and their map. Entries that are not maps are skipped, so
/// [`Dispute::parties`]`[i]` is the `i`-th of these.
pub(crate) fn party_entries<D: ReadDoc>(doc: &D) -> Vec<(usize, ObjId)> {
    let Some(list) = value::winning_list(doc, &ROOT, fields::PARTIES) else {
        return Vec::new();
    };
    (0..value::length(doc, &list))
        .filter_map(|index| match value::winner(doc, &list, index) {
            Some(Item::Map(entry)) => Some((index, entry)),
            _ => None,
        })
        .collect()
}
