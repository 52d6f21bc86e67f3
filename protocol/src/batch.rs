//! The batch sync envelope of `POST /v1/sync`, version 1.
//!
//! Built for phones on weak links: one round trip carries a device's uploads
//! for many documents and brings back what it lacks for many documents.
//!
//! ```text
//! phone                                         server
//!   | SyncRequest { v:1, cursor, budget, docs:[upload…] } |
//!   | ------------------------------------------------->  |  apply + validate each upload
//!   |                                                     |  read the change feed after `cursor`
//!   | <-------------------------------------------------  |
//!   | SyncResponse { v:1, cursor, more, docs:[result…], purge, remaining } |
//! ```
//!
//! - **Cursor.** An opaque token the server issues; the phone stores it only
//!   after it has durably applied the whole response, and sends it back next
//!   time. A phone without a cursor is bootstrapping and gets snapshots of
//!   every record in its scope. With a cursor it gets only records changed
//!   since, so a reconnect with k changed records out of N held costs O(k)
//!   bytes, and nothing changed costs one small round trip.
//! - **Budget.** The phone says how many bytes of response it wants at most;
//!   the server stops adding documents before passing it (a single document
//!   larger than the budget is still sent alone, so sync always progresses)
//!   and sets `more`. The phone then asks again with the new cursor. An
//!   interrupted bootstrap resumes from the last cursor it stored.
//! - **Idempotent.** Uploads are Automerge changes, and applying a change
//!   twice is a no-op; a retried or duplicated request changes nothing.
//! - **Per-document results.** One bad record never fails the batch: its
//!   [`DocResult::error`] says why, the others proceed.
//! - **Extensible.** Unknown fields are ignored in both directions; `v`
//!   changes only for incompatible changes.
//!
//! The exact CDDL is in `docs/protocol.md`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codec::{self, DecodeError, DecodeLimits};
use crate::error::ErrorBody;
use crate::ids::DocumentId;

/// The envelope version this crate speaks.
pub const BATCH_VERSION: u64 = 1;

/// Longest cursor a server may issue, in bytes.
pub const MAX_CURSOR_BYTES: usize = 256;

/// The response budget a client gets when it names none: 1 MiB.
pub const DEFAULT_BUDGET: u64 = 1024 * 1024;

/// An opaque position in the server's change feed, sealed by the server for
/// one device: a phone can neither read, alter nor pass on a cursor (see
/// `docs/protocol.md`, "Cursors").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(Vec<u8>);

impl Cursor {
    /// Wraps server-made cursor bytes; refuses more than [`MAX_CURSOR_BYTES`].
    pub fn new(bytes: Vec<u8>) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_CURSOR_BYTES {
            return Err(DecodeError::InvalidField {
                field: "cursor",
                reason: format!(
                    "{} bytes; at most {MAX_CURSOR_BYTES} are allowed",
                    bytes.len()
                ),
            });
        }
        Ok(Self(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for Cursor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(deserializer)?.into_vec();
        Cursor::new(bytes).map_err(serde::de::Error::custom)
    }
}

/// An Automerge change hash (32 bytes), written as a CBOR byte string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChangeHash(pub [u8; 32]);

impl Serialize for ChangeHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for ChangeHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(deserializer)?;
        <[u8; 32]>::try_from(bytes.as_slice())
            .map(ChangeHash)
            .map_err(|_| {
                serde::de::Error::custom(format!("a change hash has 32 bytes, got {}", bytes.len()))
            })
    }
}

/// What a phone sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// Envelope version, [`BATCH_VERSION`].
    pub v: u64,
    /// The cursor of the last response the phone fully applied; `None` to
    /// bootstrap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
    /// Largest response body the phone wants, in bytes before compression;
    /// `None` for [`DEFAULT_BUDGET`]. The server may lower it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<u64>,
    /// Records changed on the phone since the server last confirmed them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub docs: Vec<DocUpload>,
}

/// One record's upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocUpload {
    pub id: DocumentId,
    /// The phone's heads for this record after its local changes.
    pub heads: Vec<ChangeHash>,
    /// Automerge changes the server may lack (the output of
    /// `save_after(heads the server last confirmed)`, or a whole `save()`
    /// when the server asked for everything). May be empty when the phone
    /// only wants the server's news for this record.
    #[serde(
        default,
        with = "serde_bytes",
        skip_serializing_if = "<[u8]>::is_empty"
    )]
    pub changes: Vec<u8>,
}

/// What the server answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// Envelope version, [`BATCH_VERSION`].
    pub v: u64,
    /// The cursor to store once this response is applied.
    pub cursor: Cursor,
    /// True when the budget cut the response short: ask again at once with
    /// the new cursor.
    #[serde(default)]
    pub more: bool,
    /// Per-record results: one for each upload, and one for each record
    /// changed since the request's cursor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub docs: Vec<DocResult>,
    /// Records the phone must delete: it no longer has the right to hold
    /// them (its scope changed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub purge: Vec<DocumentId>,
    /// The server did not recognise the request's cursor (it was restored
    /// from a backup, or replaced, or the cursor was not one it sealed for
    /// this device): it may lack changes it once confirmed, so the phone
    /// must upload every record it holds again. `purge` still lists what
    /// the device may no longer hold.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
    /// With `more`: how many records of the device's scope are still to
    /// come after this response, as the server counted them, so a phone
    /// can show the progress of a long bootstrap ("312 / 1,204"). Absent
    /// when nothing remains or the server did not count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
}

/// The server's answer for one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocResult {
    pub id: DocumentId,
    /// The server's durable heads for this record after this request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub heads: Vec<ChangeHash>,
    /// Automerge bytes the phone lacks (a snapshot on bootstrap, changes
    /// afterwards); apply with `load_incremental`.
    #[serde(
        default,
        with = "serde_bytes",
        skip_serializing_if = "<[u8]>::is_empty"
    )]
    pub data: Vec<u8>,
    /// The upload for this record was refused (and quarantined); the
    /// record on the server is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
    /// The server lacks changes the upload depends on: send the whole
    /// record (`save()`) next time.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resend: bool,
}

impl DocResult {
    /// A result that only reports the server's heads.
    pub fn heads(id: DocumentId, heads: Vec<ChangeHash>) -> Self {
        Self {
            id,
            heads,
            data: Vec::new(),
            error: None,
            resend: false,
        }
    }
}

#[derive(Deserialize)]
struct VersionProbe {
    v: Option<u64>,
}

fn decode_versioned<T: serde::de::DeserializeOwned>(
    body: &[u8],
    limits: &DecodeLimits,
    version_of: impl Fn(&T) -> u64,
) -> Result<T, DecodeError> {
    let probe_version = || {
        codec::decode::<VersionProbe>(body, limits)
            .ok()
            .and_then(|p| p.v)
    };
    match codec::decode::<T>(body, limits) {
        Ok(value) => match version_of(&value) {
            BATCH_VERSION => Ok(value),
            other => Err(DecodeError::UnsupportedVersion(other)),
        },
        Err(err) => match probe_version() {
            Some(v) if v != BATCH_VERSION => Err(DecodeError::UnsupportedVersion(v)),
            _ => Err(err),
        },
    }
}

impl SyncRequest {
    /// An empty request at `cursor`.
    pub fn new(cursor: Option<Cursor>) -> Self {
        Self {
            v: BATCH_VERSION,
            cursor,
            budget: None,
            docs: Vec::new(),
        }
    }

    pub fn decode(body: &[u8], limits: &DecodeLimits) -> Result<Self, DecodeError> {
        decode_versioned(body, limits, |r: &Self| r.v)
    }

    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }
}

impl SyncResponse {
    pub fn decode(body: &[u8], limits: &DecodeLimits) -> Result<Self, DecodeError> {
        decode_versioned(body, limits, |r: &Self| r.v)
    }

    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }
}
