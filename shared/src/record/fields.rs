//! The field names of record documents (DESIGN.md §3), in one place.
//!
//! JavaScript clients write the same documents, so these are the exact
//! camelCase keys they use. Reading, editing and validation all refer to
//! these constants so that a typo cannot make one of them disagree with the
//! others.

/// The schema version this code writes and reads.
pub const SCHEMA_VERSION: i64 = 1;

// --- common to every record; fixed at creation ---
pub const TYPE: &str = "type";
pub const SCHEMA: &str = "schema";
pub const VILLAGE: &str = "village";
pub const CREATED_AT: &str = "createdAt";
pub const CREATED_BY: &str = "createdBy";

/// The fields that a change may never alter once the record exists.
pub const IMMUTABLE: [&str; 5] = [TYPE, SCHEMA, VILLAGE, CREATED_AT, CREATED_BY];

// --- dispute ---
pub const TITLE: &str = "title";
pub const DESCRIPTION: &str = "description";
pub const CATEGORY: &str = "category";
pub const RISK: &str = "risk";
pub const PARTIES: &str = "parties";
pub const ASSIGNEES: &str = "assignees";
pub const EVENTS: &str = "events";
pub const LINKS: &str = "links";

// --- a party ---
pub const NAME: &str = "name";
pub const ROLE: &str = "role";
pub const PHONE: &str = "phone";
pub const NOTE: &str = "note";

// --- an event ---
pub const AT: &str = "at";
pub const BY: &str = "by";
pub const KIND: &str = "kind";
pub const LEVEL: &str = "level";
pub const OUTCOME: &str = "outcome";
pub const SATISFIED: &str = "satisfied";
/// The person an `assigned` event assigns (承办人).
pub const ASSIGNEE: &str = "assignee";
// A `supervised` event's deadline is [`DUE_AT`].

// --- links ---
pub const DUPLICATE_OF: &str = "duplicateOf";
pub const RELATED: &str = "related";
/// Cases an official judged not to be duplicates of this one (a set).
pub const NOT_DUPLICATES: &str = "notDuplicates";

// --- visit ---
pub const VISITED_AT: &str = "visitedAt";
pub const HOUSEHOLD: &str = "household";
pub const GROUP: &str = "group";
pub const TOPICS: &str = "topics";
pub const SENTIMENT: &str = "sentiment";
pub const NOTES: &str = "notes";
pub const FOLLOW_UP: &str = "followUp";
pub const LINKED_DISPUTE: &str = "linkedDispute";

// --- follow-up ---
pub const NEEDED: &str = "needed";
pub const DONE: &str = "done";
pub const DUE_AT: &str = "dueAt";
