//! Validation of a record document before it is stored or shared: the
//! schema, the limits, and the fields that may never change.
//!
//! The server validates every incoming record in a scratch copy before
//! storing it, and the phone runs the same function before it hands its
//! changes out (DESIGN.md §4), so rejections only come from buggy or hostile
//! clients. [`validate`] returns **every** violation at once, each with the
//! path of the field and what is wrong with it, worded for a person:
//!
//! ```text
//! field "risk": "severe" is not one of low, medium, high
//! ```
//!
//! Every concurrent value of a field is checked, not only the one Automerge
//! shows: a bad value set concurrently with a good one is still a bad value
//! in the document, and another replica may show it.
//!
//! Fields this version does not know are accepted and left alone: newer
//! clients may have written them.

use std::collections::HashMap;
use std::fmt;

use automerge::{ObjId, Prop, ROOT, ReadDoc};
use fengqiao_protocol::{DocumentId, VillageCode};
use thiserror::Error;

use super::fields;
use super::value::{self, Item, shorten};
use crate::summary::Millis;
use crate::vocab::{Category, EventKind, Level, PartyRole, RecordKind, Risk, Sentiment, Topic};

/// Size limits of a record, enforced on write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Saved (compressed) size of the whole document, in bytes.
    pub max_document_bytes: usize,
    /// Characters in any one string or text.
    pub max_text_chars: usize,
    pub max_parties: usize,
    pub max_events: usize,
    /// Characters of every string and text of the record together, in
    /// fields known or not (map keys included).
    pub max_total_chars: usize,
    /// Operations in the record's whole history, deleted ones included:
    /// what loading and merging it costs, which the saved size does not
    /// tell (a few kilobytes can hold millions of operations).
    pub max_history_ops: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_document_bytes: 1024 * 1024,
            max_text_chars: 20_000,
            max_parties: 50,
            max_events: 1_000,
            max_total_chars: 200_000,
            max_history_ops: 200_000,
        }
    }
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationErrorKind {
    #[error("is missing")]
    MissingField,
    #[error("must be {expected}, not {found}")]
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    #[error("{value:?} is not one of {}", .allowed.join(", "))]
    UnknownValue {
        value: String,
        allowed: Vec<&'static str>,
    },
    #[error("must not be empty")]
    Empty,
    #[error("has {chars} characters; at most {max} are allowed")]
    TooLong { chars: usize, max: usize },
    #[error("has {count} entries; at most {max} are allowed")]
    TooMany { count: usize, max: usize },
    #[error("is {bytes} bytes when saved; at most {max} are allowed")]
    TooLarge { bytes: usize, max: usize },
    #[error("holds {chars} characters in all its fields; at most {max} are allowed")]
    TooMuchText { chars: usize, max: usize },
    #[error("has a history of {ops} operations; at most {max} are allowed")]
    TooMuchHistory { ops: usize, max: usize },
    #[error("was {before} and cannot become {after}: it is fixed when the record is created")]
    ImmutableChanged { before: String, after: String },
    #[error(
        "has {count} conflicting values; it is fixed when the record is created and must have exactly one"
    )]
    ConflictingAtCreation { count: usize },
    #[error("schema version {found} is not supported; this version reads version {supported}")]
    UnsupportedSchema { found: i64, supported: i64 },
    #[error("{value:?} is not a village code: {reason}")]
    BadVillageCode { value: String, reason: String },
    #[error("{value:?} is not a document id: {reason}")]
    BadDocumentId { value: String, reason: String },
    #[error("was {0}; the timeline is append-only")]
    TimelineRewritten(&'static str),
    #[error(
        "is {value:?}, but the sending device belongs to {person:?}; a device writes only in its holder's name"
    )]
    NotTheSender { value: String, person: String },
    #[error(
        "is {}, more than a day ahead of the clock that checks it ({}); is the device's clock right?",
        utc(*.at),
        utc(*.now)
    )]
    InTheFuture { at: Millis, now: Millis },
}

impl ValidationErrorKind {
    /// The stable machine code of this kind of violation, the same in every
    /// client (the JavaScript validator reports these codes too).
    pub fn code(&self) -> &'static str {
        match self {
            ValidationErrorKind::MissingField => "missing_field",
            ValidationErrorKind::WrongType { .. } => "wrong_type",
            ValidationErrorKind::UnknownValue { .. } => "unknown_value",
            ValidationErrorKind::Empty => "empty",
            ValidationErrorKind::TooLong { .. } => "too_long",
            ValidationErrorKind::TooMany { .. } => "too_many",
            ValidationErrorKind::TooLarge { .. } => "too_large",
            ValidationErrorKind::TooMuchText { .. } => "too_much_text",
            ValidationErrorKind::TooMuchHistory { .. } => "too_much_history",
            ValidationErrorKind::ImmutableChanged { .. } => "immutable_changed",
            ValidationErrorKind::ConflictingAtCreation { .. } => "conflicting_at_creation",
            ValidationErrorKind::UnsupportedSchema { .. } => "unsupported_schema",
            ValidationErrorKind::BadVillageCode { .. } => "bad_village_code",
            ValidationErrorKind::BadDocumentId { .. } => "bad_document_id",
            ValidationErrorKind::TimelineRewritten(_) => "timeline_rewritten",
            ValidationErrorKind::NotTheSender { .. } => "not_the_sender",
            ValidationErrorKind::InTheFuture { .. } => "in_the_future",
        }
    }

    /// Every code [`Self::code`] can return.
    pub const CODES: &'static [&'static str] = &[
        "missing_field",
        "wrong_type",
        "unknown_value",
        "empty",
        "too_long",
        "too_many",
        "too_large",
        "too_much_text",
        "too_much_history",
        "immutable_changed",
        "conflicting_at_creation",
        "unsupported_schema",
        "bad_village_code",
        "bad_document_id",
        "timeline_rewritten",
        "not_the_sender",
        "in_the_future",
    ];
}

/// One violation: the path of the field (`"risk"`, `"parties[2].role"`,
/// `"topics[\"weather\"]"`; empty for the document as a whole) and what is
/// wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub field: String,
    pub kind: ValidationErrorKind,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "document: {}", self.kind)
        } else {
            write!(f, "field {:?}: {}", self.field, self.kind)
        }
    }
}

impl std::error::Error for ValidationError {}

/// Every violation found in a document (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors(Vec<ValidationError>);

impl ValidationErrors {
    pub fn as_slice(&self) -> &[ValidationError] {
        &self.0
    }

    pub fn iter(&self) -> std::slice::Iter<'_, ValidationError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always `false`: a `ValidationErrors` holds at least one violation.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The violations of one field.
    pub fn for_field<'a>(&'a self, field: &'a str) -> impl Iterator<Item = &'a ValidationError> {
        self.0.iter().filter(move |e| e.field == field)
    }
}

impl IntoIterator for ValidationErrors {
    type Item = ValidationError;
    type IntoIter = std::vec::IntoIter<ValidationError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a ValidationErrors {
    type Item = &'a ValidationError;
    type IntoIter = std::slice::Iter<'a, ValidationError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            error.fmt(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// A time as ISO 8601 in UTC, to the millisecond (as JavaScript's
/// `Date.prototype.toISOString` writes years 0 to 9999).
fn utc(millis: Millis) -> String {
    let days = millis.div_euclid(86_400_000);
    let of_day = millis.rem_euclid(86_400_000);
    let (year, month, day) = crate::stats::calendar::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000
    )
}

/// How far after the validating clock's "now" a recorded time may lie: a
/// phone's clock may run ahead of the server's (or the phone's own check
/// may run on a clock that is behind), so a day is allowed; beyond it the
/// time is refused as [`ValidationErrorKind::InTheFuture`]. It applies to
/// when things happened (`createdAt`, an event's `at`, `visitedAt`), not
/// to deadlines (a follow-up's or a 督办's `dueAt`), which lie ahead.
pub const FUTURE_ALLOWANCE_MILLIS: Millis = 24 * 60 * 60 * 1000;

/// [`validate`], and that no time this change records lies more than
/// [`FUTURE_ALLOWANCE_MILLIS`] after `now` (the validating side's clock).
///
/// Only what the change adds is judged by the clock: `createdAt` of a new
/// record, the `at` of each event not in `previous`, and `visitedAt` values
/// `previous` does not hold. A record stored before this rule, or checked
/// again later, is not refused for a time it already held.
pub fn validate_at<D: ReadDoc>(
    doc: &D,
    previous: Option<&D>,
    saved_size: usize,
    limits: &Limits,
    now: Millis,
) -> Result<(), ValidationErrors> {
    let mut errors = match validate(doc, previous, saved_size, limits) {
        Ok(()) => Vec::new(),
        Err(ValidationErrors(errors))
            if errors
                .iter()
                .any(|e| matches!(e.kind, ValidationErrorKind::TooMuchHistory { .. })) =>
        {
            // A history too long to read is not read further.
            return Err(ValidationErrors(errors));
        }
        Err(ValidationErrors(errors)) => errors,
    };
    errors.extend(future_times(doc, previous, now));
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(errors))
    }
}

/// The times a change records beyond `now` and the allowance; see
/// [`validate_at`].
fn future_times<D: ReadDoc>(doc: &D, previous: Option<&D>, now: Millis) -> Vec<ValidationError> {
    let latest = now.saturating_add(FUTURE_ALLOWANCE_MILLIS);
    let mut errors = Vec::new();
    let mut judge = |field: String, item: &Item| {
        if let Some(at) = item.as_millis()
            && at > latest
        {
            errors.push(ValidationError {
                field,
                kind: ValidationErrorKind::InTheFuture { at, now },
            });
        }
    };
    if previous.is_none() {
        for item in value::all(doc, &ROOT, fields::CREATED_AT) {
            judge(fields::CREATED_AT.to_owned(), &item);
        }
    }
    let held = previous
        .map(|p| value::all(p, &ROOT, fields::VISITED_AT))
        .unwrap_or_default();
    for item in value::all(doc, &ROOT, fields::VISITED_AT) {
        if !held.iter().any(|h| same(h, &item)) {
            judge(fields::VISITED_AT.to_owned(), &item);
        }
    }
    let stored: std::collections::HashSet<ObjId> = previous
        .map(|p| timeline(p).into_iter().map(|(_, id, _)| id).collect())
        .unwrap_or_default();
    for (path, id, _) in timeline(doc) {
        if stored.contains(&id) {
            continue;
        }
        for item in value::all(doc, &id, fields::AT) {
            judge(join(&path, fields::AT), &item);
        }
    }
    errors
}

/// Checks a record document against the schema and `limits`, and, when
/// `previous` (the version stored before this change) is given, that the
/// fields fixed at creation did not change and that no timeline event was
/// removed or had its recorded fields (`at`, `by`, `kind`, `level`,
/// `outcome`, `note`, `satisfied`, `assignee`, `dueAt`) altered.
///
/// `saved_size` is the size in bytes of the document as it would be stored
/// (`AutoCommit::save().len()`); callers have it at hand already.
pub fn validate<D: ReadDoc>(
    doc: &D,
    previous: Option<&D>,
    saved_size: usize,
    limits: &Limits,
) -> Result<(), ValidationErrors> {
    let mut check = Check {
        doc,
        limits,
        errors: Vec::new(),
    };
    if saved_size > limits.max_document_bytes {
        check.report(
            "",
            ValidationErrorKind::TooLarge {
                bytes: saved_size,
                max: limits.max_document_bytes,
            },
        );
    }
    let ops = doc.stats().num_ops as usize;
    if ops > limits.max_history_ops {
        // Reading a document this large is the cost being refused.
        check.report(
            "",
            ValidationErrorKind::TooMuchHistory {
                ops,
                max: limits.max_history_ops,
            },
        );
        return Err(ValidationErrors(check.errors));
    }
    match previous {
        Some(previous) => check.unchanged_since(previous),
        None => check.single_valued_at_creation(),
    }
    check.record();
    check.every_string();
    // A known field over the text limit is found by both walks.
    let mut seen: Vec<ValidationError> = Vec::new();
    check.errors.retain(|e| {
        let new = !seen.contains(e);
        if new {
            seen.push(e.clone());
        }
        new
    });
    if check.errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(check.errors))
    }
}

/// Checks that what a change says about its own author names the person
/// holding the sending device: a new record's `createdBy`, and the `by` of
/// every event the change adds (events already stored keep theirs; the
/// timeline rule of [`validate`] keeps them unaltered).
///
/// `previous` is the stored version (`None` for a new record).
pub fn check_authorship<D: ReadDoc>(
    doc: &D,
    previous: Option<&D>,
    person: &str,
) -> Result<(), ValidationErrors> {
    let mut errors = Vec::new();
    let mut check = |path: String, item: &Item| {
        let value = match item {
            Item::Str(text) if text == person => return,
            Item::Str(text) => shorten(text),
            other => other.describe(),
        };
        errors.push(ValidationError {
            field: path,
            kind: ValidationErrorKind::NotTheSender {
                value,
                person: shorten(person),
            },
        });
    };
    if previous.is_none() {
        for item in value::all(doc, &ROOT, fields::CREATED_BY) {
            check(fields::CREATED_BY.to_owned(), &item);
        }
    }
    let stored: std::collections::HashSet<ObjId> = previous
        .map(|p| timeline(p).into_iter().map(|(_, id, _)| id).collect())
        .unwrap_or_default();
    for (path, id, _) in timeline(doc) {
        if stored.contains(&id) {
            continue;
        }
        for item in value::all(doc, &id, fields::BY) {
            check(join(&path, fields::BY), &item);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors(errors))
    }
}

/// The `links.duplicateOf` values of `doc` that `previous` (the stored
/// version; `None` for a new record) does not hold: the duplicate links
/// a change sets. Clearing a link sets none.
pub fn new_duplicate_links<D: ReadDoc>(doc: &D, previous: Option<&D>) -> Vec<String> {
    let links_of = |doc: &D| -> Vec<String> {
        value::maps(doc, &ROOT, fields::LINKS)
            .iter()
            .flat_map(|links| value::all(doc, links, fields::DUPLICATE_OF))
            .filter_map(|item| match item {
                Item::Str(text) => Some(text),
                _ => None,
            })
            .collect()
    };
    let before = previous.map(links_of).unwrap_or_default();
    let mut new: Vec<String> = links_of(doc)
        .into_iter()
        .filter(|link| !before.contains(link))
        .collect();
    new.sort();
    new.dedup();
    new
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

fn member(parent: &str, key: &str) -> String {
    format!("{parent}[{:?}]", shorten(key))
}

fn words<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| as_str(*v)).collect()
}

/// Whether a field is required.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Presence {
    Required,
    Optional,
}
use Presence::{Optional, Required};

struct Check<'a, D> {
    doc: &'a D,
    limits: &'a Limits,
    errors: Vec<ValidationError>,
}

impl<D: ReadDoc> Check<'_, D> {
    fn report(&mut self, field: impl Into<String>, kind: ValidationErrorKind) {
        self.errors.push(ValidationError {
            field: field.into(),
            kind,
        });
    }

    /// Every concurrent value of `key`, reporting a missing required one.
    fn values(&mut self, obj: &ObjId, key: &str, path: &str, presence: Presence) -> Vec<Item> {
        let values = value::all(self.doc, obj, key);
        if values.is_empty() && presence == Required {
            self.report(path, ValidationErrorKind::MissingField);
        }
        values
    }

    fn wrong_type(&mut self, path: &str, expected: &'static str, found: &Item) {
        self.report(
            path,
            ValidationErrorKind::WrongType {
                expected,
                found: found.type_name(),
            },
        );
    }

    fn text_length(&mut self, path: &str, text: &str) {
        let chars = text.chars().count();
        if chars > self.limits.max_text_chars {
            self.report(
                path,
                ValidationErrorKind::TooLong {
                    chars,
                    max: self.limits.max_text_chars,
                },
            );
        }
    }

    /// A string (scalar or Text) within the text limit; returns the strings.
    fn string(&mut self, obj: &ObjId, key: &str, parent: &str, presence: Presence) -> Vec<String> {
        let path = join(parent, key);
        let mut strings = Vec::new();
        for item in self.values(obj, key, &path, presence) {
            match item {
                Item::Str(text) => {
                    self.text_length(&path, &text);
                    strings.push(text);
                }
                other => self.wrong_type(&path, "a string", &other),
            }
        }
        strings
    }

    /// A string that must not be blank.
    fn name(&mut self, obj: &ObjId, key: &str, parent: &str) {
        for text in self.string(obj, key, parent, Required) {
            if text.trim().is_empty() {
                self.report(join(parent, key), ValidationErrorKind::Empty);
            }
        }
    }

    /// A string from a closed vocabulary; returns the known values found.
    fn word(
        &mut self,
        obj: &ObjId,
        key: &str,
        parent: &str,
        presence: Presence,
        allowed: Vec<&'static str>,
    ) -> Vec<&'static str> {
        let path = join(parent, key);
        let mut found = Vec::new();
        for text in self.string(obj, key, parent, presence) {
            match allowed.iter().find(|w| **w == text) {
                Some(word) => found.push(*word),
                None => self.report(
                    &path,
                    ValidationErrorKind::UnknownValue {
                        value: shorten(&text),
                        allowed: allowed.clone(),
                    },
                ),
            }
        }
        found
    }

    fn time(&mut self, obj: &ObjId, key: &str, parent: &str, presence: Presence) {
        let path = join(parent, key);
        for item in self.values(obj, key, &path, presence) {
            if item.as_millis().is_none() {
                self.wrong_type(&path, "a time in milliseconds since the epoch", &item);
            }
        }
    }

    fn boolean(&mut self, obj: &ObjId, key: &str, parent: &str, presence: Presence) {
        let path = join(parent, key);
        for item in self.values(obj, key, &path, presence) {
            if item.as_bool().is_none() {
                self.wrong_type(&path, "true or false", &item);
            }
        }
    }

    fn document_id(&mut self, obj: &ObjId, key: &str, parent: &str) {
        let path = join(parent, key);
        for text in self.string(obj, key, parent, Optional) {
            self.parse_document_id(&path, &text);
        }
    }

    fn parse_document_id(&mut self, path: &str, text: &str) {
        if let Err(reason) = DocumentId::parse(text) {
            self.report(
                path,
                ValidationErrorKind::BadDocumentId {
                    value: shorten(text),
                    reason: reason.to_string(),
                },
            );
        }
    }

    /// Every concurrent map stored under `key`.
    fn maps(&mut self, obj: &ObjId, key: &str, parent: &str, presence: Presence) -> Vec<ObjId> {
        let path = join(parent, key);
        let mut maps = Vec::new();
        for item in self.values(obj, key, &path, presence) {
            match item {
                Item::Map(id) => maps.push(id),
                other => self.wrong_type(&path, "a map", &other),
            }
        }
        maps
    }

    /// Every entry of every concurrent list stored under `key`, checked
    /// against `max` entries, with the path of each entry.
    fn list_entries(&mut self, obj: &ObjId, key: &str, max: usize) -> Vec<(String, Item)> {
        let path = join("", key);
        let mut entries = Vec::new();
        for item in self.values(obj, key, &path, Required) {
            let Item::List(list) = item else {
                self.wrong_type(&path, "a list", &item);
                continue;
            };
            let count = value::length(self.doc, &list);
            if count > max {
                self.report(&path, ValidationErrorKind::TooMany { count, max });
            }
            for i in 0..count {
                for entry in value::all(self.doc, &list, i) {
                    entries.push((index(&path, i), entry));
                }
            }
        }
        entries
    }

    /// A set stored as a map `member → true`; `member_ok` reports a bad
    /// member name.
    fn set(
        &mut self,
        obj: &ObjId,
        key: &str,
        parent: &str,
        presence: Presence,
        member_ok: &dyn Fn(&mut Self, &str, &str),
    ) {
        let path = join(parent, key);
        for set in self.maps(obj, key, parent, presence) {
            for name in value::keys(self.doc, &set) {
                let member_path = member(&path, &name);
                if name.trim().is_empty() {
                    self.report(&member_path, ValidationErrorKind::Empty);
                }
                self.text_length(&member_path, &name);
                member_ok(self, &member_path, &name);
                for item in value::all(self.doc, &set, name.as_str()) {
                    if item.as_bool().is_none() {
                        self.wrong_type(&member_path, "true", &item);
                    }
                }
            }
        }
    }

    // --- the record ---

    fn record(&mut self) {
        let root: &ObjId = &ROOT;
        let kinds = self.word(
            root,
            fields::TYPE,
            "",
            Required,
            words(RecordKind::ALL, RecordKind::as_str),
        );
        let schema_path = fields::SCHEMA;
        for item in self.values(root, fields::SCHEMA, schema_path, Required) {
            match item.as_integer() {
                Some(fields::SCHEMA_VERSION) => {}
                Some(found) => self.report(
                    schema_path,
                    ValidationErrorKind::UnsupportedSchema {
                        found,
                        supported: fields::SCHEMA_VERSION,
                    },
                ),
                None => self.wrong_type(schema_path, "an integer", &item),
            }
        }
        for code in self.string(root, fields::VILLAGE, "", Required) {
            if let Err(reason) = VillageCode::new(&code) {
                self.report(
                    fields::VILLAGE,
                    ValidationErrorKind::BadVillageCode {
                        value: shorten(&code),
                        reason: reason.to_string(),
                    },
                );
            }
        }
        self.time(root, fields::CREATED_AT, "", Required);
        self.name(root, fields::CREATED_BY, "");

        let mut kinds: Vec<RecordKind> = kinds.into_iter().filter_map(RecordKind::parse).collect();
        kinds.sort();
        kinds.dedup();
        for kind in kinds {
            match kind {
                RecordKind::Dispute => self.dispute(),
                RecordKind::Visit => self.visit(),
            }
        }
    }

    fn dispute(&mut self) {
        let root: &ObjId = &ROOT;
        self.string(root, fields::TITLE, "", Required);
        self.string(root, fields::DESCRIPTION, "", Required);
        self.word(
            root,
            fields::CATEGORY,
            "",
            Required,
            words(Category::ALL, Category::as_str),
        );
        self.word(
            root,
            fields::RISK,
            "",
            Required,
            words(Risk::ALL, Risk::as_str),
        );

        for (path, entry) in self.list_entries(root, fields::PARTIES, self.limits.max_parties) {
            let Item::Map(party) = entry else {
                self.wrong_type(&path, "a map", &entry);
                continue;
            };
            self.name(&party, fields::NAME, &path);
            self.word(
                &party,
                fields::ROLE,
                &path,
                Required,
                words(PartyRole::ALL, PartyRole::as_str),
            );
            self.string(&party, fields::PHONE, &path, Optional);
            self.string(&party, fields::NOTE, &path, Optional);
        }

        self.set(root, fields::ASSIGNEES, "", Required, &|_, _, _| {});

        for (path, entry) in self.list_entries(root, fields::EVENTS, self.limits.max_events) {
            let Item::Map(event) = entry else {
                self.wrong_type(&path, "a map", &entry);
                continue;
            };
            self.time(&event, fields::AT, &path, Required);
            self.name(&event, fields::BY, &path);
            let kinds = self.word(
                &event,
                fields::KIND,
                &path,
                Required,
                words(EventKind::ALL, EventKind::as_str),
            );
            let escalation = kinds.contains(&EventKind::Escalated.as_str());
            let level_presence = if escalation { Required } else { Optional };
            self.word(
                &event,
                fields::LEVEL,
                &path,
                level_presence,
                words(Level::ALL, Level::as_str),
            );
            self.string(&event, fields::OUTCOME, &path, Optional);
            self.string(&event, fields::NOTE, &path, Optional);
            self.boolean(&event, fields::SATISFIED, &path, Optional);
            if kinds.contains(&EventKind::Assigned.as_str()) {
                self.name(&event, fields::ASSIGNEE, &path);
            } else {
                self.string(&event, fields::ASSIGNEE, &path, Optional);
            }
            let supervision = kinds.contains(&EventKind::Supervised.as_str());
            let due_presence = if supervision { Required } else { Optional };
            self.time(&event, fields::DUE_AT, &path, due_presence);
        }

        for links in self.maps(root, fields::LINKS, "", Optional) {
            self.document_id(&links, fields::DUPLICATE_OF, fields::LINKS);
            self.set(
                &links,
                fields::RELATED,
                fields::LINKS,
                Optional,
                &|check, path, name| check.parse_document_id(path, name),
            );
            self.set(
                &links,
                fields::NOT_DUPLICATES,
                fields::LINKS,
                Optional,
                &|check, path, name| check.parse_document_id(path, name),
            );
        }
    }

    fn visit(&mut self) {
        let root: &ObjId = &ROOT;
        self.time(root, fields::VISITED_AT, "", Required);
        self.name(root, fields::HOUSEHOLD, "");
        self.string(root, fields::GROUP, "", Optional);
        let topics = words(Topic::ALL, Topic::as_str);
        self.set(root, fields::TOPICS, "", Required, &|check, path, name| {
            if Topic::parse(name).is_none() {
                check.report(
                    path,
                    ValidationErrorKind::UnknownValue {
                        value: shorten(name),
                        allowed: topics.clone(),
                    },
                );
            }
        });
        self.word(
            root,
            fields::SENTIMENT,
            "",
            Required,
            words(Sentiment::ALL, Sentiment::as_str),
        );
        self.string(root, fields::NOTES, "", Required);
        for follow_up in self.maps(root, fields::FOLLOW_UP, "", Required) {
            self.boolean(&follow_up, fields::NEEDED, fields::FOLLOW_UP, Required);
            self.boolean(&follow_up, fields::DONE, fields::FOLLOW_UP, Required);
            self.time(&follow_up, fields::DUE_AT, fields::FOLLOW_UP, Optional);
        }
        self.document_id(root, fields::LINKED_DISPUTE, "");
    }

    /// Every string of the document, in fields known or not, within the
    /// text limit, and all of them within the total limit.
    fn every_string(&mut self) {
        let mut total = 0usize;
        let mut pending: Vec<(ObjId, String)> = vec![(ROOT, String::new())];
        while let Some((obj, path)) = pending.pop() {
            let props: Vec<(Prop, String)> = match self.doc.object_type(&obj) {
                Ok(automerge::ObjType::Map | automerge::ObjType::Table) => {
                    value::keys(self.doc, &obj)
                        .into_iter()
                        .map(|key| {
                            total = total.saturating_add(key.chars().count());
                            let at = join(&path, &key);
                            (Prop::Map(key), at)
                        })
                        .collect()
                }
                Ok(automerge::ObjType::List) => (0..value::length(self.doc, &obj))
                    .map(|i| (Prop::Seq(i), index(&path, i)))
                    .collect(),
                _ => Vec::new(),
            };
            for (prop, at) in props {
                for item in value::all(self.doc, &obj, prop) {
                    match item {
                        Item::Str(text) => {
                            let chars = text.chars().count();
                            total = total.saturating_add(chars);
                            if chars > self.limits.max_text_chars {
                                self.report(
                                    &at,
                                    ValidationErrorKind::TooLong {
                                        chars,
                                        max: self.limits.max_text_chars,
                                    },
                                );
                            }
                        }
                        Item::Map(child) | Item::List(child) => pending.push((child, at.clone())),
                        _ => {}
                    }
                }
            }
        }
        if total > self.limits.max_total_chars {
            self.report(
                "",
                ValidationErrorKind::TooMuchText {
                    chars: total,
                    max: self.limits.max_total_chars,
                },
            );
        }
    }

    // --- against the previous version ---

    /// A new record's fixed fields hold one value each: a value planted
    /// concurrently beside the shown one could otherwise win later, when
    /// a change removes the shown one, and move the record.
    fn single_valued_at_creation(&mut self) {
        for key in fields::IMMUTABLE {
            let count = value::all(self.doc, &ROOT, key).len();
            if count > 1 {
                self.report(key, ValidationErrorKind::ConflictingAtCreation { count });
            }
        }
    }

    fn unchanged_since(&mut self, previous: &D) {
        let root: &ObjId = &ROOT;
        for key in fields::IMMUTABLE {
            let before = value::all(previous, root, key);
            let Some(shown) = value::winner(previous, root, key) else {
                continue;
            };
            let after = value::all(self.doc, root, key);
            // The value the record shows is what places it; a change that
            // makes another of the stored values win changes the field.
            if let Some(now_shown) = value::winner(self.doc, root, key)
                && !same(&shown, &now_shown)
                && before.iter().any(|b| same(b, &now_shown))
            {
                self.report(
                    key,
                    ValidationErrorKind::ImmutableChanged {
                        before: shown.describe(),
                        after: now_shown.describe(),
                    },
                );
            }
            if after.is_empty() {
                self.report(
                    key,
                    ValidationErrorKind::ImmutableChanged {
                        before: shown.describe(),
                        after: "removed".to_owned(),
                    },
                );
            }
            for item in after {
                if !before.iter().any(|b| same(b, &item)) {
                    self.report(
                        key,
                        ValidationErrorKind::ImmutableChanged {
                            before: shown.describe(),
                            after: item.describe(),
                        },
                    );
                }
            }
        }
        self.timeline_kept(previous);
    }

    /// Every event of the previous version is still there, unaltered.
    fn timeline_kept(&mut self, previous: &D) {
        let now: HashMap<ObjId, (String, Snapshot)> = timeline(self.doc)
            .into_iter()
            .map(|(path, id, snapshot)| (id, (path, snapshot)))
            .collect();
        for (path, id, before) in timeline(previous) {
            match now.get(&id) {
                None => self.report(path, ValidationErrorKind::TimelineRewritten("removed")),
                Some((path, after)) if !identical(after, &before) => {
                    self.report(
                        path.clone(),
                        ValidationErrorKind::TimelineRewritten("altered"),
                    );
                }
                Some(_) => {}
            }
        }
    }
}

/// Whether two values of an immutable field are the same value, whatever
/// representation each client chose (a timestamp and an integer of the
/// same milliseconds are the same time; a Text and a string with the same
/// characters are the same string).
fn same(a: &Item, b: &Item) -> bool {
    a == b || matches!((a.as_millis(), b.as_millis()), (Some(x), Some(y)) if x == y)
}

/// The fields of an event that the timeline's append-only rule protects.
/// Fields this version does not know may be added to an event by newer
/// clients; these may not change.
const EVENT_FIELDS: [&str; 9] = [
    fields::AT,
    fields::BY,
    fields::KIND,
    fields::LEVEL,
    fields::OUTCOME,
    fields::NOTE,
    fields::SATISFIED,
    fields::ASSIGNEE,
    fields::DUE_AT,
];

/// The content of one timeline entry: its known fields and their values,
/// or the scalar itself.
type Snapshot = Vec<(String, Vec<Item>)>;

/// Whether two snapshots hold the same values (floats compared bit for
/// bit, so that a stored NaN equals itself).
fn identical(a: &Snapshot, b: &Snapshot) -> bool {
    let item_eq = |x: &Item, y: &Item| match (x, y) {
        (Item::F64(x), Item::F64(y)) => x.to_bits() == y.to_bits(),
        _ => x == y,
    };
    a.len() == b.len()
        && a.iter().zip(b).all(|((ka, va), (kb, vb))| {
            ka == kb && va.len() == vb.len() && va.iter().zip(vb).all(|(x, y)| item_eq(x, y))
        })
}

/// Every entry of the timeline (of every concurrent copy of the list):
/// its path, the id that created it, and its content.
fn timeline<D: ReadDoc>(doc: &D) -> Vec<(String, ObjId, Snapshot)> {
    let mut entries = Vec::new();
    for list in value::lists(doc, &ROOT, fields::EVENTS) {
        for i in 0..value::length(doc, &list) {
            for (item, id) in value::all_tagged(doc, &list, Prop::Seq(i)) {
                let snapshot = match &item {
                    Item::Map(entry) => EVENT_FIELDS
                        .iter()
                        .map(|key| (key.to_string(), value::all(doc, entry, *key)))
                        .collect(),
                    _ => vec![(String::new(), vec![item.clone()])],
                };
                entries.push((index(fields::EVENTS, i), id, snapshot));
            }
        }
    }
    entries
}
