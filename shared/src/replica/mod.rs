//! The phone's local replica: every record the phone holds, usable offline.
//!
//! A [`Replica`] keeps, in its [`ReplicaStore`] (one sled tree on the
//! native phone's storage; another shell brings its own):
//!
//! - each record's Automerge document (`d/` + id);
//! - each record's sync state (`r/` + id): the heads the server last
//!   confirmed, a refusal that needs a person's attention, whether the
//!   server asked for the whole record, and the record's [`Summary`] for
//!   list views;
//! - the dirty set (`x/` + id): records with changes the server has not
//!   confirmed;
//! - replica-wide values (`s/` + name): the device id, this install's
//!   Automerge actor, the sync cursor, the time of the last sync.
//!
//! Every local edit is validated with the same rules the server applies
//! before it is saved ([`crate::record::validate`]), so a server refusal
//! only comes from a buggy or hostile client. Writes of one operation are
//! one atomic batch of the store, and an edit returns only after the store
//! says it is durable.
//!
//! Syncing is done by [`sync::SyncClient`], a sans-IO state machine over
//! the replica, carried by any [`transport::SyncTransport`]; the native
//! phone's is [`http::HttpTransport`] (the `http` feature, on by default).

#[cfg(feature = "http")]
pub mod http;
pub mod store;
pub mod sync;
pub mod transport;

#[cfg(feature = "sled")]
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use automerge::{ActorId, AutoCommit, ChangeHash as AmHash};
use fengqiao_protocol::batch::{ChangeHash, Cursor};
use fengqiao_protocol::{DeviceId, DocumentId, ErrorBody};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::access::new_native_actor;
use crate::record::{self, Limits, Prefetched, Record};
use crate::summary::{Millis, Summary};
use crate::vocab::RecordKind;
#[cfg(feature = "sled")]
pub use store::SledStore;
pub use store::{MemoryStore, ReplicaStore, StoreError, Write};

/// Why a replica operation failed.
#[derive(Debug, Error)]
pub enum ReplicaError {
    #[error("the phone's local storage failed: {0}")]
    Storage(#[from] StoreError),
    #[error("local data is damaged ({what}); restore the app's data or sync it afresh")]
    Corrupt { what: String },
    #[error("no record {0} on this phone")]
    NotFound(DocumentId),
    #[error("the edit was not saved: {0}")]
    Invalid(String),
    #[error("the server sent bytes that are not a valid Automerge record for {id}: {reason}")]
    BadServerData { id: DocumentId, reason: String },
}

fn corrupt(what: impl Into<String>) -> ReplicaError {
    ReplicaError::Corrupt { what: what.into() }
}

/// Per-record sync state kept beside the document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordState {
    /// Heads the server has confirmed it holds durably.
    #[serde(default)]
    pub server_heads: Vec<ChangeHash>,
    /// The server refused this record's upload; a person must look at it.
    #[serde(default)]
    pub attention: Option<ErrorBody>,
    /// The server lacks changes the upload depends on: send everything.
    #[serde(default)]
    pub resend: bool,
    /// The record's projection, for list views.
    #[serde(default)]
    pub summary: Option<Summary>,
}

const DOC: &[u8] = b"d/";
const STATE: &[u8] = b"r/";
const DIRTY: &[u8] = b"x/";
const KEY_DEVICE: &[u8] = b"s/device";
const KEY_ACTOR: &[u8] = b"s/actor";
const KEY_CURSOR: &[u8] = b"s/cursor";
const KEY_LAST_SYNC: &[u8] = b"s/last-sync";

fn key(prefix: &[u8], id: &DocumentId) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + id.as_bytes().len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(id.as_bytes());
    k
}

fn id_from_key(prefix: &[u8], key: &[u8]) -> Result<DocumentId, ReplicaError> {
    DocumentId::from_bytes(&key[prefix.len().min(key.len())..])
        .map_err(|e| corrupt(format!("record key: {e}")))
}

pub(crate) fn to_cbor<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("serializing into memory cannot fail");
    out
}

fn from_cbor<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ReplicaError> {
    ciborium::from_reader(bytes).map_err(|e| corrupt(format!("{what}: {e}")))
}

pub(crate) fn to_wire_heads(heads: &[AmHash]) -> Vec<ChangeHash> {
    heads.iter().map(|h| ChangeHash(h.0)).collect()
}

pub(crate) fn from_wire_heads(heads: &[ChangeHash]) -> Vec<AmHash> {
    heads.iter().map(|h| AmHash(h.0)).collect()
}

/// Filters for [`Replica::list`].
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    pub kind: Option<RecordKind>,
    /// Only records with unsynced local changes.
    pub unsynced_only: bool,
    /// Case-insensitive text found in the title or a party's name.
    pub text: Option<String>,
}

/// A set of writes applied atomically.
#[derive(Default)]
pub(crate) struct WriteSet {
    batch: Vec<Write>,
}

impl WriteSet {
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.batch.push(Write::Put(key, value));
    }
    fn delete(&mut self, key: Vec<u8>) {
        self.batch.push(Write::Delete(key));
    }
    pub(crate) fn put_doc(&mut self, id: &DocumentId, bytes: &[u8]) {
        self.put(key(DOC, id), bytes.to_vec());
    }
    pub(crate) fn put_state(&mut self, id: &DocumentId, state: &RecordState) {
        self.put(key(STATE, id), to_cbor(state));
    }
    pub(crate) fn set_dirty(&mut self, id: &DocumentId, dirty: bool) {
        if dirty {
            self.put(key(DIRTY, id), Vec::new());
        } else {
            self.delete(key(DIRTY, id));
        }
    }
    pub(crate) fn purge(&mut self, id: &DocumentId) {
        self.delete(key(DOC, id));
        self.delete(key(STATE, id));
        self.delete(key(DIRTY, id));
    }
    pub(crate) fn set_cursor(&mut self, cursor: &Cursor) {
        self.put(KEY_CURSOR.to_vec(), cursor.as_bytes().to_vec());
    }
    pub(crate) fn set_last_sync(&mut self, at: Millis) {
        self.put(KEY_LAST_SYNC.to_vec(), at.to_be_bytes().to_vec());
    }
}

/// The phone's store of records. Cheap to share by reference across threads;
/// writes are serialised internally.
pub struct Replica {
    store: Box<dyn ReplicaStore>,
    device: DeviceId,
    actor: ActorId,
    limits: Limits,
    /// The phone's clock, against which what it records is judged (see
    /// [`record::validate_at`]).
    clock: fn() -> Millis,
    writer: Mutex<()>,
}

/// Milliseconds since the epoch by the system clock (0 before 1970).
fn system_now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| {
            Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX)
        })
}

impl Replica {
    /// Opens (or creates) the replica at `path` for `device`, in a sled
    /// store there. The first open chooses this install's Automerge actor:
    /// the device id followed by 4 random bytes.
    #[cfg(feature = "sled")]
    pub fn open(path: impl AsRef<Path>, device: DeviceId) -> Result<Self, ReplicaError> {
        Self::with_store(Box::new(SledStore::open(path)?), device)
    }

    /// A replica that lives in memory only (for tests and simulations).
    pub fn in_memory(device: DeviceId) -> Result<Self, ReplicaError> {
        Self::with_store(Box::new(MemoryStore::new()), device)
    }

    /// The replica kept in `store` (a phone shell's own database), for
    /// `device`. A store that holds another device's replica is refused.
    pub fn with_store(
        store: Box<dyn ReplicaStore>,
        device: DeviceId,
    ) -> Result<Self, ReplicaError> {
        let mut first = Vec::new();
        match store.get(KEY_DEVICE)? {
            Some(stored) if stored.as_slice() != device.as_bytes() => {
                return Err(corrupt(format!(
                    "this replica belongs to another device ({stored:02x?}); use a separate data directory"
                )));
            }
            Some(_) => {}
            None => first.push(Write::Put(KEY_DEVICE.to_vec(), device.as_bytes().to_vec())),
        }
        let actor = match store.get(KEY_ACTOR)? {
            Some(bytes) => ActorId::from(bytes.as_slice()),
            None => {
                let random = uuid::Uuid::new_v4();
                let mut tail = [0u8; 4];
                tail.copy_from_slice(&random.as_bytes()[..4]);
                let actor = new_native_actor(device, tail);
                first.push(Write::Put(KEY_ACTOR.to_vec(), actor.to_vec()));
                ActorId::from(actor)
            }
        };
        if !first.is_empty() {
            store.apply(first)?;
        }
        Ok(Self {
            store,
            device,
            actor,
            limits: Limits::default(),
            clock: system_now,
            writer: Mutex::new(()),
        })
    }

    /// This replica judging recorded times by `clock` instead of the
    /// system's (tests, and tools that replay a day).
    pub fn with_clock(mut self, clock: fn() -> Millis) -> Self {
        self.clock = clock;
        self
    }

    /// The device this replica belongs to.
    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// This install's Automerge actor.
    pub fn actor(&self) -> &ActorId {
        &self.actor
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, ()> {
        // A panic while holding the lock leaves no partial state (writes are
        // atomic batches), so a poisoned lock is safe to reuse.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn apply(&self, writes: WriteSet) -> Result<(), ReplicaError> {
        Ok(self.store.apply(writes.batch)?)
    }

    /// The record's stored bytes: a `save()`, or bytes the server sent
    /// that built it (both load the same way).
    pub(crate) fn document_bytes(&self, id: &DocumentId) -> Result<Option<Vec<u8>>, ReplicaError> {
        Ok(self.store.get(&key(DOC, id))?)
    }

    /// The record's document, with this install's actor set for editing.
    pub fn document(&self, id: &DocumentId) -> Result<Option<AutoCommit>, ReplicaError> {
        let Some(bytes) = self.store.get(&key(DOC, id))? else {
            return Ok(None);
        };
        let doc = AutoCommit::load(&bytes)
            .map_err(|e| corrupt(format!("record {id}: {e}")))?
            .with_actor(self.actor.clone());
        Ok(Some(doc))
    }

    /// The record, read from its document.
    pub fn record(&self, id: &DocumentId) -> Result<Record, ReplicaError> {
        let doc = self
            .document(id)?
            .ok_or_else(|| ReplicaError::NotFound(id.clone()))?;
        Record::read(&doc).map_err(|e| corrupt(format!("record {id}: {e}")))
    }

    /// The record's sync state.
    pub fn state(&self, id: &DocumentId) -> Result<RecordState, ReplicaError> {
        match self.store.get(&key(STATE, id))? {
            Some(bytes) => from_cbor(&bytes, "record state"),
            None => Ok(RecordState::default()),
        }
    }

    /// Creates a record: `build` writes its initial content into an empty
    /// document (e.g. [`record::create_dispute`]). Returns the new id.
    pub fn create<T, E: std::fmt::Display>(
        &self,
        build: impl FnOnce(&mut AutoCommit) -> Result<T, E>,
    ) -> Result<DocumentId, ReplicaError> {
        let id = DocumentId::random();
        let mut doc = AutoCommit::new().with_actor(self.actor.clone());
        build(&mut doc).map_err(|e| ReplicaError::Invalid(e.to_string()))?;
        let _guard = self.lock();
        self.save_local(&id, None, doc)?;
        Ok(id)
    }

    /// Edits a record offline: `change` applies domain operations (e.g.
    /// [`record::set_risk`]) to the document. The result is validated against
    /// the schema and the previous version before anything is saved; an
    /// edit that changes nothing saves nothing and leaves the record synced.
    pub fn edit<T, E: std::fmt::Display>(
        &self,
        id: &DocumentId,
        change: impl FnOnce(&mut AutoCommit) -> Result<T, E>,
    ) -> Result<(), ReplicaError> {
        let _guard = self.lock();
        let mut doc = self
            .document(id)?
            .ok_or_else(|| ReplicaError::NotFound(id.clone()))?;
        let before = doc.fork();
        let heads_before = doc.get_heads();
        change(&mut doc).map_err(|e| ReplicaError::Invalid(e.to_string()))?;
        if doc.get_heads() == heads_before {
            // Nothing changed: nothing to save or to sync.
            return Ok(());
        }
        self.save_local(id, Some(&before), doc)
    }

    fn save_local(
        &self,
        id: &DocumentId,
        before: Option<&AutoCommit>,
        mut doc: AutoCommit,
    ) -> Result<(), ReplicaError> {
        let bytes = doc.save();
        record::validate_at(&doc, before, bytes.len(), &self.limits, (self.clock)())
            .map_err(|e| ReplicaError::Invalid(e.to_string()))?;
        let mut state = self.state(id)?;
        state.summary = summarize(&doc, id);
        let mut writes = WriteSet::default();
        writes.put_doc(id, &bytes);
        writes.put_state(id, &state);
        writes.set_dirty(id, true);
        self.apply(writes)
    }

    /// Summaries of the records on this phone, newest activity first.
    pub fn list(&self, filter: &RecordFilter) -> Result<Vec<Summary>, ReplicaError> {
        let needle = filter.text.as_ref().map(|t| t.to_lowercase());
        let mut out = Vec::new();
        for (k, v) in self.store.scan_prefix(STATE)? {
            let state: RecordState = from_cbor(&v, "record state")?;
            let Some(summary) = state.summary else {
                continue;
            };
            if filter.kind.is_some_and(|k| k != summary.kind) {
                continue;
            }
            if filter.unsynced_only
                && !self.store.contains(&key(DIRTY, &id_from_key(STATE, &k)?))?
            {
                continue;
            }
            if let Some(needle) = &needle {
                let hit = summary.title.to_lowercase().contains(needle)
                    || summary
                        .party_names
                        .iter()
                        .any(|p| p.to_lowercase().contains(needle));
                if !hit {
                    continue;
                }
            }
            out.push(summary);
        }
        out.sort_by(|a, b| {
            b.last_activity
                .cmp(&a.last_activity)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// Ids of records with changes the server has not confirmed.
    pub fn dirty(&self) -> Result<Vec<DocumentId>, ReplicaError> {
        self.store
            .keys_with_prefix(DIRTY)?
            .iter()
            .map(|k| id_from_key(DIRTY, k))
            .collect()
    }

    /// Ids of every record held.
    pub fn ids(&self) -> Result<Vec<DocumentId>, ReplicaError> {
        self.store
            .keys_with_prefix(DOC)?
            .iter()
            .map(|k| id_from_key(DOC, k))
            .collect()
    }

    /// Records the server refused, with its reason.
    pub fn needing_attention(&self) -> Result<Vec<(DocumentId, ErrorBody)>, ReplicaError> {
        let mut out = Vec::new();
        for (k, v) in self.store.scan_prefix(STATE)? {
            let state: RecordState = from_cbor(&v, "record state")?;
            if let Some(error) = state.attention {
                out.push((id_from_key(STATE, &k)?, error));
            }
        }
        Ok(out)
    }

    /// Gives up this phone's unsynced changes to a record (e.g. after the
    /// server refused them and a person re-entered the data as a new
    /// record): the local copy is dropped, and, when the server ever held
    /// the record, the next sync fetches its copy afresh. Returns whether
    /// it will.
    ///
    /// A record the server never confirmed (created here, never
    /// acknowledged, not asked for again by a `reset`) is simply gone: had
    /// an upload of it landed with its answer lost, the server's change
    /// feed still brings it back after this phone's cursor.
    pub fn discard_local_changes(&self, id: &DocumentId) -> Result<bool, ReplicaError> {
        let _guard = self.lock();
        let state = self.state(id)?;
        let fetch = !state.server_heads.is_empty() || state.resend;
        let mut writes = WriteSet::default();
        writes.purge(id);
        if fetch {
            writes.set_dirty(id, true);
        }
        self.apply(writes)?;
        Ok(fetch)
    }

    /// The cursor of the last sync response applied.
    pub fn cursor(&self) -> Result<Option<Cursor>, ReplicaError> {
        match self.store.get(KEY_CURSOR)? {
            None => Ok(None),
            Some(bytes) => Cursor::new(bytes)
                .map(Some)
                .map_err(|e| corrupt(format!("cursor: {e}"))),
        }
    }

    /// When the last sync completed (ms since the epoch).
    pub fn last_sync(&self) -> Result<Option<Millis>, ReplicaError> {
        match self.store.get(KEY_LAST_SYNC)? {
            None => Ok(None),
            Some(bytes) => <[u8; 8]>::try_from(bytes.as_slice())
                .map(|b| Some(Millis::from_be_bytes(b)))
                .map_err(|_| corrupt("last sync time")),
        }
    }
}

/// The record's summary, or `None` when the document is not (yet) a record.
/// Each object of the document is read in one pass ([`Prefetched`]).
pub(crate) fn summarize(doc: &AutoCommit, id: &DocumentId) -> Option<Summary> {
    Record::read(&Prefetched::new(doc))
        .ok()
        .map(|r| r.summary(id.clone()))
}
