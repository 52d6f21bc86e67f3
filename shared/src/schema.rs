//! The record schema as data, for clients written in other languages.
//!
//! The JavaScript client library validates every edit before it commits,
//! as the Rust replica does, and labels every value in Chinese and English.
//! It reads all of that from one generated file,
//! `clients/js/src/schema.json`, made from [`Schema::current`]: the
//! vocabularies with their wire strings and labels, the limits, the fields
//! fixed at creation and the validation error codes. `shared/tests/schema.rs`
//! fails when the file is stale (`FENGQIAO_BLESS=1` rewrites it).

use serde::Serialize;

use crate::deadline::{DeadlineKind, TimeLimits};
use crate::record::{Limits, ValidationErrorKind, fields};
use crate::stats::{DEFAULT_OVERDUE_DAYS, DUPLICATE_WINDOW_DAYS};
use crate::vocab::{
    Category, EventKind, Level, PartyRole, RecordKind, Risk, Sentiment, Stage, Status, Topic,
};

/// One value of a vocabulary.
#[derive(Debug, Clone, Serialize)]
pub struct Term {
    pub value: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
}

/// The limits a record is held to, as [`Limits::default`] sets them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaLimits {
    pub max_document_bytes: usize,
    pub max_text_chars: usize,
    pub max_parties: usize,
    pub max_events: usize,
    pub max_total_chars: usize,
    pub max_history_ops: usize,
}

/// The vocabularies, each in schema order (risk and sentiment mildest
/// first, levels from the grassroots up).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Vocabularies {
    pub record_kind: Vec<Term>,
    pub category: Vec<Term>,
    pub risk: Vec<Term>,
    pub sentiment: Vec<Term>,
    pub party_role: Vec<Term>,
    pub event_kind: Vec<Term>,
    pub level: Vec<Term>,
    pub topic: Vec<Term>,
    pub status: Vec<Term>,
    pub stage: Vec<Term>,
    pub deadline_kind: Vec<Term>,
}

/// Everything a client in another language needs to write and check
/// records as this crate does.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    pub schema_version: i64,
    pub limits: SchemaLimits,
    /// Fields set at creation that no later change may alter.
    pub immutable: Vec<&'static str>,
    pub vocab: Vocabularies,
    /// The codes of [`ValidationErrorKind`].
    pub error_codes: Vec<&'static str>,
    /// Days after which an unresolved dispute counts as overdue, by default.
    pub overdue_days: u32,
    /// Two disputes of one village and category with a party name in
    /// common, reported at most this many days apart, are possible
    /// duplicates.
    pub duplicate_window_days: u32,
    /// The default time limits of the closed loop ([`TimeLimits::DEFAULT`]).
    pub time_limits: TimeLimits,
    /// How far ahead of the validating clock a recorded time may lie
    /// ([`crate::record::FUTURE_ALLOWANCE_MILLIS`]).
    pub future_allowance_millis: i64,
}

macro_rules! terms {
    ($kind:ty) => {
        <$kind>::ALL
            .iter()
            .map(|v| Term {
                value: v.as_str(),
                zh: v.label_zh(),
                en: v.label_en(),
            })
            .collect()
    };
}

impl Schema {
    /// The schema this build of the crate reads and writes.
    pub fn current() -> Schema {
        let limits = Limits::default();
        Schema {
            schema_version: fields::SCHEMA_VERSION,
            limits: SchemaLimits {
                max_document_bytes: limits.max_document_bytes,
                max_text_chars: limits.max_text_chars,
                max_parties: limits.max_parties,
                max_events: limits.max_events,
                max_total_chars: limits.max_total_chars,
                max_history_ops: limits.max_history_ops,
            },
            immutable: vec![
                fields::TYPE,
                fields::SCHEMA,
                fields::VILLAGE,
                fields::CREATED_AT,
                fields::CREATED_BY,
            ],
            vocab: Vocabularies {
                record_kind: terms!(RecordKind),
                category: terms!(Category),
                risk: terms!(Risk),
                sentiment: terms!(Sentiment),
                party_role: terms!(PartyRole),
                event_kind: terms!(EventKind),
                level: terms!(Level),
                topic: terms!(Topic),
                status: terms!(Status),
                stage: terms!(Stage),
                deadline_kind: DeadlineKind::ALL
                    .iter()
                    .map(|v| Term {
                        value: v.as_str(),
                        zh: v.label_zh(),
                        en: v.label_en(),
                    })
                    .collect(),
            },
            error_codes: ValidationErrorKind::CODES.to_vec(),
            overdue_days: DEFAULT_OVERDUE_DAYS,
            duplicate_window_days: DUPLICATE_WINDOW_DAYS,
            future_allowance_millis: crate::record::FUTURE_ALLOWANCE_MILLIS,
            time_limits: TimeLimits::DEFAULT,
        }
    }
}
