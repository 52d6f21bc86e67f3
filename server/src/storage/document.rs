//! A stored document: what a commit writes, what a load returns, and the
//! metadata kept beside it.
//!
//! Storage never interprets Automerge bytes. A document is one snapshot plus
//! the change chunks committed after it, in commit order; the sync engine
//! loads the snapshot and applies each chunk with `load_incremental`, which
//! is the same as loading their concatenation. A background compaction
//! folds the chunks into a new snapshot (see [`super::Storage::compact`]).

use fengqiao_protocol::{DeviceId, DocumentId, VillageCode};
use fengqiao_shared::Millis;
use fengqiao_shared::Summary;
use fengqiao_shared::vocab::RecordKind;
use serde::{Deserialize, Serialize};

use super::StorageError;
use super::codec::{decode_heads, encode_heads};

/// What one commit adds to a document's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentContent {
    /// The Automerge bytes this commit added (for example
    /// `save_after(previous heads)`), appended after the existing chunks.
    Chunk(Vec<u8>),
    /// A complete document (`save()`) that replaces the snapshot and every
    /// chunk.
    Snapshot(Vec<u8>),
}

impl DocumentContent {
    fn bytes(&self) -> &[u8] {
        match self {
            DocumentContent::Chunk(bytes) | DocumentContent::Snapshot(bytes) => bytes,
        }
    }
}

/// Everything one commit of one document writes, atomically.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitBatch {
    pub id: DocumentId,
    pub content: DocumentContent,
    /// The document's heads after this commit.
    pub heads: Vec<[u8; 32]>,
    /// The document's projection after this commit. Its `id` must be the
    /// document's; its `village` and `kind` become the document's.
    pub summary: Summary,
    /// When the server accepted the commit (milliseconds since the epoch).
    pub at: Millis,
    /// Optimistic concurrency: `Some(seq)` commits only if the document's
    /// last commit is `seq`, and `Some(0)` only if the document does not
    /// exist yet; otherwise the commit fails with
    /// [`StorageError::Conflict`] and writes nothing. `None` commits
    /// unconditionally. A document whose id an admin removed
    /// ([`ServerValue::Removal`](super::ServerValue::Removal)) takes no
    /// commit with `Some(_)`: it fails with [`StorageError::Conflict`] too.
    pub expected_seq: Option<u64>,
    /// Actors this commit's changes bind to their uploading device, stored
    /// in the same transaction as the commit (as
    /// [`ServerValue::Actor`](super::ServerValue::Actor)): a binding lands
    /// exactly when the changes that made it do. An actor already bound
    /// keeps its device.
    pub bindings: Vec<ActorBinding>,
    /// The alert this commit raised (its id), announced with the commit
    /// to the other servers on a shared store, so that their dashboards
    /// show it too. Not stored.
    pub alert: Option<String>,
}

/// A non-native Automerge actor bound to the device that first uploaded an
/// accepted change by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorBinding {
    pub actor: Vec<u8>,
    pub device: DeviceId,
}

impl CommitBatch {
    /// Checks what can be checked without reading the store.
    pub(crate) fn validate(&self) -> Result<(), StorageError> {
        if self.summary.id != self.id {
            return Err(StorageError::Invalid {
                reason: format!(
                    "the summary describes document {} but the commit is for {}",
                    self.summary.id, self.id
                ),
            });
        }
        if self.content.bytes().is_empty() {
            return Err(StorageError::Invalid {
                reason: format!("commit of {} carries no bytes", self.id),
            });
        }
        Ok(())
    }
}

/// The acknowledgement of a durable commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitReceipt {
    /// The server sequence number this commit took.
    pub seq: u64,
}

/// A document's stored bytes, in load order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredDocument {
    /// The snapshot; empty when the document was only ever committed in
    /// chunks.
    pub snapshot: Vec<u8>,
    /// The chunks committed after the snapshot, oldest first.
    pub chunks: Vec<Vec<u8>>,
    /// The sequence number of the last commit these bytes include: pass it
    /// to [`super::Storage::compact`] as `through_seq`.
    pub seq: u64,
}

impl StoredDocument {
    /// The snapshot followed by every chunk: one buffer that Automerge's
    /// `load` accepts.
    pub fn concatenated(&self) -> Vec<u8> {
        let len = self.snapshot.len() + self.chunks.iter().map(Vec::len).sum::<usize>();
        let mut bytes = Vec::with_capacity(len);
        bytes.extend_from_slice(&self.snapshot);
        for chunk in &self.chunks {
            bytes.extend_from_slice(chunk);
        }
        bytes
    }
}

/// What the server knows about a document without loading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocMeta {
    pub id: DocumentId,
    pub kind: RecordKind,
    pub village: VillageCode,
    /// Heads after the last commit.
    pub heads: Vec<[u8; 32]>,
    /// The server sequence number of the last commit.
    pub seq: u64,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// Bytes in the snapshot.
    pub snapshot_len: u64,
    /// Bytes in all chunks together.
    pub chunks_len: u64,
    /// Number of chunks since the snapshot.
    pub chunk_count: u32,
    /// Entries in the document's heads log, when known (metadata written
    /// by earlier versions does not say): a commit that keeps the log
    /// within bounds then needs not read it.
    pub heads_logged: Option<u32>,
}

/// The stored form of [`DocMeta`]: heads as one byte string rather than an
/// array of arrays of integers.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredMeta {
    id: DocumentId,
    kind: RecordKind,
    village: VillageCode,
    #[serde(with = "serde_bytes")]
    heads: Vec<u8>,
    seq: u64,
    created_at: Millis,
    updated_at: Millis,
    snapshot_len: u64,
    chunks_len: u64,
    chunk_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    heads_logged: Option<u32>,
}

const META_WHAT: &str = "document metadata";

impl From<&DocMeta> for StoredMeta {
    fn from(meta: &DocMeta) -> Self {
        Self {
            id: meta.id.clone(),
            kind: meta.kind,
            village: meta.village.clone(),
            heads: encode_heads(&meta.heads),
            seq: meta.seq,
            created_at: meta.created_at,
            updated_at: meta.updated_at,
            snapshot_len: meta.snapshot_len,
            chunks_len: meta.chunks_len,
            chunk_count: meta.chunk_count,
            heads_logged: meta.heads_logged,
        }
    }
}

impl TryFrom<StoredMeta> for DocMeta {
    type Error = StorageError;

    fn try_from(stored: StoredMeta) -> Result<Self, StorageError> {
        Ok(Self {
            heads: decode_heads(&stored.heads, META_WHAT)?,
            id: stored.id,
            kind: stored.kind,
            village: stored.village,
            seq: stored.seq,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
            snapshot_len: stored.snapshot_len,
            chunks_len: stored.chunks_len,
            chunk_count: stored.chunk_count,
            heads_logged: stored.heads_logged,
        })
    }
}

impl DocMeta {
    /// The stored form.
    pub fn encode(&self) -> Result<Vec<u8>, StorageError> {
        super::codec::encode(&StoredMeta::from(self), META_WHAT)
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, StorageError> {
        super::codec::decode::<StoredMeta>(bytes, META_WHAT)?.try_into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_through_its_stored_form() {
        let meta = DocMeta {
            id: DocumentId::random(),
            kind: RecordKind::Visit,
            village: VillageCode::new("500110101001").unwrap(),
            heads: vec![[7; 32], [9; 32]],
            seq: 42,
            created_at: 1_700_000_000_000,
            updated_at: 1_700_000_000_500,
            snapshot_len: 1000,
            chunks_len: 300,
            chunk_count: 3,
            heads_logged: Some(5),
        };
        let bytes = meta.encode().unwrap();
        assert_eq!(DocMeta::decode(&bytes).unwrap(), meta);
        // As earlier versions wrote it: the log's length is not known.
        let earlier = DocMeta {
            heads_logged: None,
            ..meta.clone()
        };
        let bytes_before = earlier.encode().unwrap();
        assert!(bytes_before.len() < bytes.len());
        assert_eq!(DocMeta::decode(&bytes_before).unwrap(), earlier);
        assert!(matches!(
            DocMeta::decode(&bytes[..bytes.len() / 2]),
            Err(StorageError::Corrupt { .. })
        ));
    }

    #[test]
    fn concatenation_is_snapshot_then_chunks_in_order() {
        let doc = StoredDocument {
            snapshot: b"snap".to_vec(),
            chunks: vec![b"-one".to_vec(), b"-two".to_vec()],
            seq: 3,
        };
        assert_eq!(doc.concatenated(), b"snap-one-two");
    }
}
