//! The fields every record carries from its creation: what it is, which
//! schema it follows, where it belongs, when and by whom it was created.
//!
//! These five fields (`type`, `schema`, `village`, `createdAt`, `createdBy`)
//! are fixed when the record is created; validation rejects any change that
//! alters them. They are also what makes a document a record at all: a
//! document without them cannot be read as one ([`ReadError`]).

use automerge::{ObjId, ROOT, ReadDoc};
use fengqiao_protocol::{DivisionError, VillageCode};
use thiserror::Error;

use super::fields;
use super::value::{self, shorten};
use crate::summary::Millis;
use crate::vocab::RecordKind;

/// Why a document could not be read as a record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReadError {
    #[error("the document is not a record: it has no \"type\" field")]
    NotARecord,
    #[error("the document's type {0:?} is not a record type (dispute or visit)")]
    UnknownType(String),
    #[error("the record is a {found}, not a {expected}")]
    WrongKind {
        expected: RecordKind,
        found: RecordKind,
    },
    #[error("the record has no readable {0:?} field")]
    MissingField(&'static str),
    #[error("the record's village {value:?} is not a village code: {source}")]
    BadVillage {
        value: String,
        source: DivisionError,
    },
}

/// The creation fields of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The schema version the record was created with (absent in documents
    /// from clients that do not write it).
    pub schema: Option<i64>,
    pub village: VillageCode,
    pub created_at: Millis,
    /// The cadre (person) who created the record.
    pub created_by: String,
}

/// The kind of record a document holds.
pub(crate) fn read_kind<D: ReadDoc>(doc: &D) -> Result<RecordKind, ReadError> {
    let kind = value::string(doc, &ROOT, fields::TYPE).ok_or(ReadError::NotARecord)?;
    RecordKind::parse(&kind).ok_or_else(|| ReadError::UnknownType(shorten(&kind)))
}

impl Header {
    pub(crate) fn read<D: ReadDoc>(doc: &D) -> Result<Header, ReadError> {
        let root: &ObjId = &ROOT;
        let village = value::string(doc, root, fields::VILLAGE)
            .ok_or(ReadError::MissingField(fields::VILLAGE))?;
        let village = VillageCode::new(&village).map_err(|source| ReadError::BadVillage {
            value: shorten(&village),
            source,
        })?;
        Ok(Header {
            schema: value::winner(doc, root, fields::SCHEMA).and_then(|i| i.as_integer()),
            village,
            created_at: value::millis(doc, root, fields::CREATED_AT)
                .ok_or(ReadError::MissingField(fields::CREATED_AT))?,
            created_by: value::string(doc, root, fields::CREATED_BY)
                .ok_or(ReadError::MissingField(fields::CREATED_BY))?,
        })
    }
}
