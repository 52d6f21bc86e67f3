//! Quarantined changes: uploads the server refused, kept apart for admins.
//!
//! A CRDT cannot un-send a change, so a refused change is neither merged nor
//! relayed nor thrown away: it is stored here with who sent it, when and
//! why, so that an admin can see it and a person can re-enter the data.

use fengqiao_protocol::{DeviceId, DocumentId, ErrorCode};
use fengqiao_shared::Millis;
use serde::{Deserialize, Serialize};

/// A refused change, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuarantineEntry {
    /// The document the change was for.
    pub doc: DocumentId,
    /// The enrolled device that sent it, when known.
    pub device: Option<DeviceId>,
    /// When it was refused.
    pub at: Millis,
    /// Why, for people.
    pub reason: String,
    /// Why, for machines: the code the device was answered with.
    pub code: ErrorCode,
    /// The refused Automerge bytes, unchanged.
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

/// A quarantined change with the id it was stored under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// Unique and increasing: later refusals have larger ids.
    pub id: u64,
    pub entry: QuarantineEntry,
}
