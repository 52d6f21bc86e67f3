//! The sync engine: one place where records change, behind both doors.
//!
//! Whether changes arrive as a batch upload (`POST /v1/sync`) or as an
//! automerge-repo sync message (`/v1/ws`), they go through the same steps:
//!
//! 1. the document is loaded on demand into the byte-bounded [`DocCache`];
//! 2. the changes are applied to a **scratch copy**;
//! 3. the scratch copy is validated with [`fengqiao_shared::record::validate`]
//!    (schema, limits, immutable fields against the stored version) and
//!    checked against the caller's access;
//! 4. on success the new changes, the heads and the record's summary are
//!    committed to storage in one atomic, durable commit, the scratch copy
//!    becomes the document, and the change is announced on the [`Hub`];
//! 5. on failure nothing is stored: the changes are quarantined with the
//!    reason and the caller gets a per-record error.
//!
//! Durability: a result that reports heads is only returned after the
//! commit that made them durable, so neither door ever acknowledges or
//! advertises anything that is not on disk.
//!
//! Reading needs no loaded document when storage already has the answer:
//! a bootstrap is sent the stored bytes, and sync steps that depend only
//! on the heads (a peer holding exactly the server's heads, a peer holding
//! nothing) are taken from the stored metadata ([`stored_sync`]). A record
//! created by an upload is not kept loaded afterwards, so the cache holds
//! the records being worked on, not everything recently written.
//!
//! The decision itself is [`decide::decide`]: a pure function of the
//! stored record, the scratch copy, the caller, the directory, the limits
//! and the time. The engine loads what it needs, decides under the
//! record's slot mutex, lets the mutex go while the commit is flushed (the
//! commit is conditional on the sequence number the decision was made
//! on), then installs the result. The time and randomness come from the
//! [`EngineConfig`]'s [`SharedClock`] and [`SharedRandom`].
//!
//! All methods block (Automerge work and disk flushes); async callers run
//! them on blocking threads.

pub mod cache;
pub mod decide;
pub mod hub;
pub mod stored_sync;
#[cfg(test)]
mod tests;

use std::sync::{Arc, MutexGuard};

use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, ChangeHash};
use fengqiao_protocol::{DeviceId, DocumentId, ErrorBody, ErrorCode, VillageCode};
use fengqiao_shared::access::{self, DeviceAccess};
use fengqiao_shared::record::{self, Limits};
use fengqiao_shared::{Millis, Summary};
use thiserror::Error;

pub use crate::clock::now_millis;
use crate::clock::{SharedClock, SharedRandom};
use crate::directory::Directory;
use crate::limit::{RateLimit, RateLimiter};
use crate::metrics::{LogEvery, Metrics, add};
use crate::storage::{QuarantineBounds, QuarantineEntry, ServerValue, Storage, StorageError};
use cache::{DocCache, Loaded, Slot, SlotCell};
use decide::{Commit, Context, Decision, Proposal, Refusal, Taken};
use hub::{DocChanged, Hub};
use stored_sync::same_heads;

/// Who is asking: the device behind a request, and what it may do.
#[derive(Debug, Clone)]
pub struct Caller {
    pub device: Option<DeviceId>,
    /// `None` is unrestricted development access (`--insecure-dev-token`).
    pub access: Option<DeviceAccess>,
    /// The WebSocket connection the request came on, if any.
    pub connection: Option<u64>,
}

impl Caller {
    /// Unrestricted access, for development and tests only.
    pub fn unrestricted() -> Self {
        Self {
            device: None,
            access: None,
            connection: None,
        }
    }

    pub fn can_read(&self, village: &VillageCode) -> bool {
        self.access
            .as_ref()
            .is_none_or(|a| access::can_read(a, village))
    }

    pub fn can_write(&self, village: &VillageCode) -> bool {
        self.access
            .as_ref()
            .is_none_or(|a| access::can_write(a, village))
    }

    /// Whether this caller writes records at all (read-only roles do not).
    pub fn writes(&self) -> bool {
        self.access
            .as_ref()
            .is_none_or(DeviceAccess::writes_records)
    }
}

/// What receiving a peer's sync message did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Received {
    /// New changes were validated and stored.
    pub changed: bool,
    /// Some of the peer's changes wait for others it did not send (the
    /// server's Bloom filter matched those by chance, so the peer thinks
    /// the server has them). Whatever could be applied was stored; the
    /// rest is not kept, so the peer must be asked for everything again
    /// ([`stored_sync::ask_for_everything`]).
    pub missing_dependencies: bool,
}

/// Why one record could not be read or changed.
#[derive(Debug, Error)]
pub enum DocError {
    #[error("no such record")]
    NotFound,
    /// The message never names the record's village, so that a refusal
    /// reveals nothing about a record the caller may not see.
    #[error("this device may not write this record")]
    Forbidden(VillageCode),
    #[error("{0}")]
    Attribution(String),
    #[error("this device may only read records")]
    ReadOnly,
    #[error("not valid Automerge data: {0}")]
    BadAutomerge(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the record would be {bytes} bytes; the limit is {limit}")]
    TooLarge { bytes: u64, limit: u64 },
    /// The bytes declare more work than a record may cost; refused before
    /// any of it is done.
    #[error("{0}")]
    TooMuchWork(String),
    /// An admin removed the record; its id takes no new changes.
    #[error("this record was removed by an administrator; its id takes no changes")]
    Removed,

    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl DocError {
    pub fn code(&self) -> ErrorCode {
        match self {
            DocError::NotFound => ErrorCode::NotFound,
            DocError::Forbidden(_) | DocError::ReadOnly | DocError::Attribution(_) => {
                ErrorCode::Forbidden
            }
            DocError::BadAutomerge(_) => ErrorCode::BadRequest,
            DocError::Invalid(_) => ErrorCode::InvalidRecord,
            DocError::TooLarge { .. } | DocError::TooMuchWork(_) => ErrorCode::TooLarge,
            DocError::Removed => ErrorCode::Removed,
            DocError::Storage(e) => e.code(),
        }
    }

    pub fn body(&self) -> ErrorBody {
        match self {
            // Never reveal whether a record exists to a caller who may not see it.
            DocError::Storage(e) => e.to_error_body(),
            other => ErrorBody::new(other.code(), other.to_string()),
        }
    }
}

/// The outcome of applying changes to one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The record's durable heads afterwards.
    pub heads: Vec<ChangeHash>,
    /// Whether anything new was stored.
    pub changed: bool,
    /// The changes depend on changes the server does not have; nothing was
    /// stored. The sender should send the whole record.
    pub missing_dependencies: bool,
}

/// What a peer lacks of a record: Automerge bytes to `load_incremental`,
/// and the record's heads.
pub type Missing = (Vec<u8>, Vec<ChangeHash>);

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Memory budget for loaded documents.
    pub cache_bytes: u64,
    pub limits: Limits,
    /// The server's clock, against which recorded times are judged (no
    /// time may lie more than [`record::FUTURE_ALLOWANCE_MILLIS`] ahead of
    /// it), and which stamps commits, removals, quarantined changes and
    /// alerts. Tests set a fixed one.
    pub clock: SharedClock,
    /// Names alerts and the actors of server-side edits.
    pub random: SharedRandom,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            cache_bytes: 256 * 1024 * 1024,
            limits: Limits::default(),
            clock: SharedClock::system(),
            random: SharedRandom::system(),
        }
    }
}

pub struct Engine {
    storage: Arc<dyn Storage>,
    directory: Arc<Directory>,
    cache: DocCache,
    hub: Hub,
    limits: Limits,
    clock: SharedClock,
    random: SharedRandom,
    metrics: Arc<Metrics>,
    /// Quarantined changes per device: a device that keeps sending
    /// refused changes has the rest counted, not stored.
    quarantine_rate: RateLimiter,
    quarantine_log: LogEvery,
    read_only_log: LogEvery,
    /// Where alerts wait for the outbound webhook, when one is configured.
    alert_queue: std::sync::OnceLock<Arc<crate::alerts::AlertQueue>>,
}

/// Refused changes a device may have quarantined: a burst of 30, then one
/// every two seconds.
pub const QUARANTINE_RATE: RateLimit = RateLimit {
    per_second: 0.5,
    burst: 30.0,
};

/// How many times a commit is retried after losing a race with another
/// writer of the same record.
const COMMIT_ATTEMPTS: usize = 3;

impl Engine {
    pub fn new(storage: Arc<dyn Storage>, directory: Arc<Directory>, config: EngineConfig) -> Self {
        Self {
            storage,
            directory,
            cache: DocCache::new(config.cache_bytes),
            hub: Hub::new(4096),
            limits: config.limits,
            clock: config.clock,
            random: config.random,
            metrics: Arc::new(Metrics::default()),
            quarantine_rate: RateLimiter::new(QUARANTINE_RATE),
            quarantine_log: LogEvery::new(std::time::Duration::from_secs(10)),
            read_only_log: LogEvery::new(std::time::Duration::from_secs(10)),
            alert_queue: std::sync::OnceLock::new(),
        }
    }

    /// The server's counters, which the engine bumps too.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Counts changes a read-only device sent, which were ignored, and logs
    /// them (at most one line every ten seconds).
    pub fn ignored_read_only(&self, caller: &Caller, id: &DocumentId, changes: usize) {
        add(&self.metrics.read_only_ignored, changes as u64);
        if let Some(held_back) = self.read_only_log.allow() {
            tracing::info!(device = ?caller.device, %id, changes, held_back,
                "ignored changes from a read-only device (and held back this many such lines)");
        }
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    pub fn directory(&self) -> &Arc<Directory> {
        &self.directory
    }

    /// Sends every alert to `queue` as well (the outbound webhook); set
    /// once, at start.
    pub fn set_alert_queue(&self, queue: Arc<crate::alerts::AlertQueue>) {
        let _ = self.alert_queue.set(queue);
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    pub fn cache(&self) -> &DocCache {
        &self.cache
    }

    /// Runs `f` on the record's slot, loading it first if needed. The
    /// slot holds at least the record's last durable commit: a commit may
    /// be durable before its writer installs it (the writer lets the mutex
    /// go while storage flushes), and a reader must never answer from a
    /// state older than the heads storage already advertises.
    fn with_slot<R>(
        &self,
        id: &DocumentId,
        f: impl FnOnce(&mut Slot) -> Result<R, DocError>,
    ) -> Result<R, DocError> {
        let durable = self.storage.doc_meta(id)?.map_or(0, |meta| meta.seq);
        let cell = self.cache.slot(id);
        let mut guard = self.loaded_slot(id, &cell, durable)?;
        let result = f(&mut guard);
        self.cache.reweigh(id, &guard);
        result
    }

    /// The record's slot, locked, with the record loaded if it exists, at
    /// least as new as the commit `min_seq`. The record is read and loaded
    /// without the slot's mutex (reading waits for a commit in flight to be
    /// durable); a newer copy installed meanwhile is kept.
    fn loaded_slot<'a>(
        &self,
        id: &DocumentId,
        cell: &'a SlotCell,
        min_seq: u64,
    ) -> Result<MutexGuard<'a, Slot>, DocError> {
        let guard = cell.lock();
        if guard.loaded.as_ref().is_some_and(|l| l.seq >= min_seq) {
            return Ok(guard);
        }
        drop(guard);
        let loaded = self.load(id)?;
        let mut guard = cell.lock();
        if let Some(loaded) = loaded
            && guard.loaded.as_ref().is_none_or(|l| l.seq < loaded.seq)
        {
            guard.loaded = Some(loaded);
        }
        Ok(guard)
    }

    fn load(&self, id: &DocumentId) -> Result<Option<Loaded>, DocError> {
        let Some(meta) = self.storage.doc_meta(id)? else {
            return Ok(None);
        };
        let Some(stored) = self.storage.load_document(id)? else {
            return Ok(None);
        };
        let bytes = stored.concatenated();
        let doc = AutoCommit::load(&bytes).map_err(|e| {
            tracing::error!(%id, error = %e, "stored document does not load");
            DocError::Storage(StorageError::Corrupt {
                what: "automerge document",
            })
        })?;
        Ok(Some(Loaded {
            doc,
            seq: stored.seq,
            village: meta.village,
            stored_bytes: bytes.len() as u64,
        }))
    }

    /// The record's village, if it exists.
    pub fn village_of(&self, id: &DocumentId) -> Result<Option<VillageCode>, DocError> {
        Ok(self.storage.doc_meta(id)?.map(|m| m.village))
    }

    /// Applies Automerge changes (any mix of change chunks and whole saves)
    /// to a record, creating it if new.
    pub fn apply_changes(
        &self,
        caller: &Caller,
        id: &DocumentId,
        changes: &[u8],
    ) -> Result<Applied, DocError> {
        if !caller.writes() {
            self.ignored_read_only(caller, id, 1);
            return Err(DocError::ReadOnly);
        }
        // Access first, from the stored metadata: a record the caller may
        // not read is never loaded, merged or validated (see `Taken`).
        let mut taken = self.hidden_from(caller, id)?;
        match self.removal(id)? {
            // A removed record the caller could not read is judged like
            // any record hidden from it: as if the id were free.
            Some(removal) if !caller.can_read(&removal.village) => taken = Taken::Hidden,
            Some(_) => return Err(DocError::Removed),
            None => {}
        }
        if let Err(refusal) = self.within_budget(changes) {
            self.quarantine(caller, id, &refusal, changes);
            return Err(refusal);
        }
        self.write(caller, id, taken, |slot, removed| {
            let mut scratch = match &mut slot.loaded {
                Some(loaded) => loaded.doc.fork(),
                None => AutoCommit::new(),
            };
            if !changes.is_empty() {
                scratch
                    .load_incremental(changes)
                    .map_err(|e| DocError::BadAutomerge(e.to_string()))?;
            }
            if !scratch.get_missing_deps(&[]).is_empty() {
                return Ok(Prepared::Done(Applied {
                    heads: current_heads(slot),
                    changed: false,
                    missing_dependencies: true,
                }));
            }
            let decision = self.judge(caller, id, slot, scratch, changes, taken, removed);
            prepared(decision, changes, |heads, changed| Applied {
                heads,
                changed,
                missing_dependencies: false,
            })
        })
    }

    /// Whether `id` names a record the caller may not read. Such a record
    /// is judged as if the id were free: its stored content is never
    /// loaded, merged or validated, so no answer depends on it, and an
    /// upload that would create a record under that id is refused as
    /// [`DocError::Forbidden`], exactly as a creation outside the caller's
    /// scope is.
    fn hidden_from(&self, caller: &Caller, id: &DocumentId) -> Result<Taken, DocError> {
        Ok(match self.storage.doc_meta(id)? {
            Some(meta) if !caller.can_read(&meta.village) => Taken::Hidden,
            _ => Taken::No,
        })
    }

    /// Refuses bytes that declare more operations than a whole record may
    /// hold, or that inflate beyond what a record may take, by reading
    /// their chunk headers and column run lengths only: the cost of a
    /// refusal is the cost of reading the bytes, whatever they declare.
    fn within_budget(&self, changes: &[u8]) -> Result<(), DocError> {
        let max_inflated = (self.limits.max_document_bytes as u64).saturating_mul(4);
        record::budget::declared_work(changes, self.limits.max_history_ops as u64, max_inflated)
            .map(|_| ())
            .map_err(|over| match over {
                record::budget::OverBudget::Malformed(what) => {
                    DocError::BadAutomerge(what.to_owned())
                }
                other => DocError::TooMuchWork(other.to_string()),
            })
    }

    /// Decides on a scratch copy that holds new changes
    /// ([`decide::decide`]), with the engine's directory, storage, limits
    /// and clock.
    #[allow(clippy::too_many_arguments)]
    fn judge(
        &self,
        caller: &Caller,
        id: &DocumentId,
        slot: &mut Slot,
        scratch: AutoCommit,
        received: &[u8],
        taken: Taken,
        removed: bool,
    ) -> Result<Decision, Refusal> {
        let cx = Context {
            directory: self.directory.as_ref(),
            summaries: self.storage.as_ref(),
            limits: &self.limits,
            now: self.clock.now(),
        };
        let proposal = Proposal {
            id,
            caller,
            stored: slot.loaded.as_mut(),
            scratch,
            received,
            taken,
            removed,
        };
        decide::decide(proposal, &cx)
    }

    /// Writes to a record, retrying when another writer's commit got
    /// there first (see [`Engine::write_once`]).
    fn write<R>(
        &self,
        caller: &Caller,
        id: &DocumentId,
        taken: Taken,
        mut prepare: impl FnMut(&mut Slot, bool) -> Result<Prepared<R>, DocError>,
    ) -> Result<R, DocError> {
        for attempt in 1..=COMMIT_ATTEMPTS {
            match self.write_once(caller, id, taken, &mut prepare) {
                Err(DocError::Storage(StorageError::Conflict { .. }))
                    if attempt < COMMIT_ATTEMPTS =>
                {
                    self.cache.forget(id);
                }
                other => return other,
            }
        }
        Err(DocError::Storage(StorageError::Conflict {
            reason: format!("record {id} kept changing during {COMMIT_ATTEMPTS} attempts"),
        }))
    }

    /// One write to a record: takes the record's write turn (one writer at
    /// a time), reads whether an admin removed it, loads it, and runs
    /// `prepare` under the slot's mutex, which decides (`prepare` is given
    /// the slot and whether the record was removed). The mutex is let go
    /// while the decided commit is made durable: the commit expects the
    /// sequence number the decision was made on, so storage refuses it
    /// ([`StorageError::Conflict`]) if anything else was written to the
    /// record, or it was removed, meanwhile. Then the new document is
    /// installed if the slot still holds the one the decision was made on
    /// (otherwise the slot is dropped and the next use reloads), the
    /// write turn is given back, and the change is announced. Readers go on
    /// meanwhile, from the last durable state.
    ///
    /// With [`Taken::Hidden`], `prepare` gets an empty stand-in for a
    /// record the caller may not see, which is never written.
    fn write_once<R>(
        &self,
        caller: &Caller,
        id: &DocumentId,
        taken: Taken,
        prepare: &mut impl FnMut(&mut Slot, bool) -> Result<Prepared<R>, DocError>,
    ) -> Result<R, DocError> {
        if taken == Taken::Hidden {
            return match prepare(&mut Slot::default(), false)? {
                Prepared::Done(answer) => Ok(answer),
                Prepared::Refused(error, received) => {
                    self.quarantine(caller, id, &error, &received);
                    Err(error)
                }
                // The decision refuses every write to a hidden record; this
                // is the same answer should it not.
                Prepared::Commit(commit, _) => {
                    Err(DocError::Forbidden(commit.batch.summary.village))
                }
            };
        }
        let cell = self.cache.slot(id);
        let turn = cell.write_turn();
        let removed = self.removal(id)?.is_some();
        // The write turn keeps other writers of this slot out; a commit
        // made through another (evicted) slot makes this one's conflict.
        let mut guard = self.loaded_slot(id, &cell, 0)?;
        let base = guard.loaded.as_ref().map_or(0, |l| l.seq);
        let outcome = prepare(&mut guard, removed);
        self.cache.reweigh(id, &guard);
        drop(guard);
        let (commit, answer) = match outcome? {
            Prepared::Done(answer) => return Ok(answer),
            Prepared::Refused(error, received) => {
                // Kept apart once the slot is let go: quarantining waits
                // for a flush.
                drop(turn);
                self.quarantine(caller, id, &error, &received);
                return Err(error);
            }
            Prepared::Commit(commit, answer) => (commit, answer),
        };
        let Commit {
            mut batch,
            doc,
            stored_bytes,
            alert,
            ..
        } = *commit;
        // Named now: other servers on a shared store learn it with the
        // commit.
        let alert = alert.map(|mut alert| {
            alert.alert_id = self.random.uuid().to_string();
            Arc::new(alert)
        });
        batch.alert = alert.as_ref().map(|alert| alert.alert_id.clone());
        let village = batch.summary.village.clone();
        let receipt = self.storage.commit(batch)?;
        let mut guard = cell.lock();
        let now_at = guard.loaded.as_ref().map_or(0, |l| l.seq);
        if now_at == base {
            guard.loaded = Some(Loaded {
                doc,
                seq: receipt.seq,
                village: village.clone(),
                stored_bytes,
            });
            if base == 0 {
                // A record created by an upload is not kept loaded: its
                // creator holds it, and peers are answered from the stored
                // heads and bytes. Thousands of new records then cost no
                // memory. (Whoever holds the slot already sees it.)
                self.cache.forget(id);
            } else {
                self.cache.reweigh(id, &guard);
            }
        } else if now_at != receipt.seq {
            // The slot moved on without this writer (it was reloaded or
            // dropped): it is not trusted; the next use reloads.
            guard.loaded = None;
            self.cache.forget(id);
        }
        drop(guard);
        drop(turn);
        self.hub.publish(DocChanged {
            id: id.clone(),
            village,
            seq: receipt.seq,
            origin: caller.connection,
            alert: alert.clone(),
        });
        if let (Some(alert), Some(queue)) = (alert, self.alert_queue.get()) {
            queue.push((*alert).clone());
        }
        Ok(answer)
    }

    /// Keeps a refused change apart: its first bytes, within the
    /// quarantine's bounds, and only while its device does not refuse
    /// faster than [`QUARANTINE_RATE`].
    fn quarantine(&self, caller: &Caller, id: &DocumentId, reason: &DocError, bytes: &[u8]) {
        if let Some(device) = caller.device
            && !self.quarantine_rate.allow(device)
        {
            add(&self.metrics.quarantine_rate_limited, 1);
            if let Some(held_back) = self.quarantine_log.allow() {
                tracing::warn!(%id, %device, %reason, held_back,
                    "change refused; not quarantined, the device sends refused changes too fast");
            }
            return;
        }
        let entry = QuarantineEntry::new(
            id.clone(),
            caller.device,
            self.clock.now(),
            reason.to_string(),
            reason.code(),
            bytes,
            QuarantineBounds::default().entry_bytes,
        );
        if entry.truncated() {
            add(&self.metrics.quarantine_truncated, 1);
        }
        match self.storage.quarantine(entry) {
            Err(e) => tracing::error!(%id, error = %e, "could not quarantine a refused change"),
            Ok(_) => {
                self.metrics.quarantine_dropped.fetch_max(
                    self.storage.quarantine_dropped(),
                    std::sync::atomic::Ordering::Relaxed,
                );
                if let Some(held_back) = self.quarantine_log.allow() {
                    tracing::warn!(%id, device = ?caller.device, %reason, held_back,
                        "change refused and quarantined");
                }
            }
        }
    }

    /// What a peer holding `have` lacks of a record (Automerge bytes to
    /// `load_incremental`), with the record's heads. `None` if the record
    /// does not exist or the caller may not read it.
    pub fn changes_since(
        &self,
        caller: &Caller,
        id: &DocumentId,
        have: &[ChangeHash],
    ) -> Result<Option<Missing>, DocError> {
        let (heads, seq) = match self.readable_heads(caller, id) {
            Ok(Some(found)) => found,
            Ok(None) | Err(DocError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        // Storage answers when it can, and nothing is loaded: a peer that
        // holds the heads lacks nothing (the answer to every upload that
        // left the phone nothing to receive), and a peer that holds nothing
        // gets the stored snapshot and chunks, which `load_incremental`
        // takes as they are (a bootstrap of thousands of records costs
        // reads, not Automerge work).
        if same_heads(have, &heads) {
            return Ok(Some((Vec::new(), heads)));
        }
        if have.is_empty()
            && let Some(bytes) = self.stored_bytes_at(id, seq)?
        {
            return Ok(Some((bytes, heads)));
        }
        self.with_slot(id, |slot| {
            let Some(loaded) = &mut slot.loaded else {
                return Ok(None);
            };
            if !caller.can_read(&loaded.village) {
                return Ok(None);
            }
            let doc = &mut loaded.doc;
            let heads = doc.get_heads();
            if same_heads(have, &heads) {
                return Ok(Some((Vec::new(), heads)));
            }
            let known: Vec<ChangeHash> = have
                .iter()
                .filter(|h| doc.get_change_by_hash(h).is_some())
                .copied()
                .collect();
            let bytes = if known.is_empty() {
                doc.save()
            } else {
                doc.save_after(&known)
            };
            Ok(Some((bytes, heads)))
        })
    }

    /// The record's saved bytes (snapshot and chunks) if storage still
    /// holds the commit `seq`; `None` when a commit landed since, and the
    /// caller takes the loaded path.
    fn stored_bytes_at(&self, id: &DocumentId, seq: u64) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self
            .storage
            .load_document(id)?
            .filter(|stored| stored.seq == seq)
            .map(|stored| stored.concatenated()))
    }

    /// Receives an automerge-repo sync message for a record from a peer,
    /// through the same validation as every other change. A refused
    /// message resets `state` so the peer's changes are not assumed to be
    /// held.
    pub fn receive_sync_message(
        &self,
        caller: &Caller,
        id: &DocumentId,
        state: &mut sync::State,
        message: sync::Message,
    ) -> Result<Received, DocError> {
        let mut message = message;
        if !message.changes.is_empty() && caller.writes() {
            let sent: Vec<u8> = message.changes.iter().flatten().copied().collect();
            if let Err(refusal) = self.within_budget(&sent) {
                self.quarantine(caller, id, &refusal, &sent);
                *state = sync::State::new();
                return Err(refusal);
            }
            // Only changes care whether the record was removed: a removed
            // record is gone, so a read finds nothing, as for a missing one.
            // One the caller could not read is answered as any record
            // hidden from it.
            match self.removal(id)? {
                Some(removal) if !caller.can_read(&removal.village) => {
                    return Err(DocError::NotFound);
                }
                Some(_) => {
                    *state = sync::State::new();
                    return Err(DocError::Removed);
                }
                None => {}
            }
        }
        if !message.changes.is_empty() && !caller.writes() {
            // A read-only device wrote: its changes are ignored, as
            // Automerge's read-only sync ignores them, and counted; it goes
            // on reading. (The WebSocket door strips them before, and
            // tells the peer.)
            self.ignored_read_only(caller, id, message.changes.len());
            message.changes = sync::ChunkList::empty();
        }
        // Access first, from the stored metadata, as for batch uploads: a
        // record the caller may not read is neither loaded nor merged. The
        // metadata is read once for both questions.
        let meta = self.storage.doc_meta(id)?;
        if meta
            .as_ref()
            .is_some_and(|meta| !caller.can_read(&meta.village))
        {
            return Err(DocError::NotFound);
        }
        if message.changes.is_empty()
            && let Some((heads, _)) = meta.map(sorted_heads)
        {
            match stored_sync::receive(&heads, state, message) {
                Ok(()) => return Ok(Received::default()),
                Err(back) => message = back,
            }
        }
        if message.changes.is_empty() {
            // Heads, needs and a bloom filter only update the peer's sync
            // state; the document cannot change, so it is read in place
            // rather than copied, and no write turn is taken.
            let mut new_state = state.clone();
            let result = self.with_slot(id, |slot| {
                let received = match &mut slot.loaded {
                    Some(loaded) if !caller.can_read(&loaded.village) => {
                        return Err(DocError::NotFound);
                    }
                    Some(loaded) => loaded
                        .doc
                        .sync()
                        .receive_sync_message(&mut new_state, message),
                    None => AutoCommit::new()
                        .sync()
                        .receive_sync_message(&mut new_state, message),
                };
                received.map_err(|e| DocError::BadAutomerge(e.to_string()))
            });
            return match result {
                Ok(()) => {
                    *state = new_state;
                    Ok(Received::default())
                }
                Err(e) => {
                    *state = sync::State::new();
                    Err(e)
                }
            };
        }
        let result = self.write(caller, id, Taken::No, |slot, removed| {
            if let Some(loaded) = &slot.loaded
                && !caller.can_read(&loaded.village)
            {
                return Err(DocError::NotFound);
            }
            let mut attempt_state = state.clone();
            let mut scratch = match &mut slot.loaded {
                Some(loaded) => loaded.doc.fork(),
                None => AutoCommit::new(),
            };
            let before = scratch.get_heads();
            scratch
                .sync()
                .receive_sync_message(&mut attempt_state, message.clone())
                .map_err(|e| DocError::BadAutomerge(e.to_string()))?;
            // Changes whose dependencies did not come wait in the scratch
            // copy's queue, which is not kept.
            let missing_dependencies = !scratch.get_missing_deps(&[]).is_empty();
            if scratch.get_heads() == before {
                let received = Received {
                    changed: false,
                    missing_dependencies,
                };
                return Ok(Prepared::Done((received, attempt_state)));
            }
            let received = scratch.save_after(&before);
            let decision = self.judge(caller, id, slot, scratch, &received, Taken::No, removed);
            prepared(decision, &received, |_, changed| {
                let received = Received {
                    changed,
                    missing_dependencies,
                };
                (received, attempt_state)
            })
        });
        match result {
            Ok((received, new_state)) => {
                *state = new_state;
                Ok(received)
            }
            Err(e) => {
                *state = sync::State::new();
                Err(e)
            }
        }
    }

    /// The next sync message for a peer, or `None` when in sync. Errors with
    /// `NotFound` when the record does not exist or the caller may not read
    /// it (the WebSocket door answers `doc-unavailable`).
    pub fn generate_sync_message(
        &self,
        caller: &Caller,
        id: &DocumentId,
        state: &mut sync::State,
    ) -> Result<Option<sync::Message>, DocError> {
        if let Some((heads, seq)) = self.readable_heads(caller, id)? {
            let whole = || self.stored_bytes_at(id, seq).ok().flatten();
            if let Some(answer) = stored_sync::generate(&heads, state, whole) {
                return Ok(answer);
            }
        }
        self.with_slot(id, |slot| match &mut slot.loaded {
            Some(loaded) if caller.can_read(&loaded.village) => {
                Ok(loaded.doc.sync().generate_sync_message(state))
            }
            _ => Err(DocError::NotFound),
        })
    }

    /// The record's stored heads, sorted as Automerge sorts them, and the
    /// sequence number of the commit that left them, when it exists;
    /// `NotFound` when the caller may not read it.
    fn readable_heads(
        &self,
        caller: &Caller,
        id: &DocumentId,
    ) -> Result<Option<(Vec<ChangeHash>, u64)>, DocError> {
        let Some(meta) = self.storage.doc_meta(id)? else {
            return Ok(None);
        };
        if !caller.can_read(&meta.village) {
            return Err(DocError::NotFound);
        }
        Ok(Some(sorted_heads(meta)))
    }

    /// The record's summary as stored in the projection index.
    pub fn summary(&self, caller: &Caller, id: &DocumentId) -> Result<Option<Summary>, DocError> {
        let Some(meta) = self.storage.doc_meta(id)? else {
            return Ok(None);
        };
        if !caller.can_read(&meta.village) {
            return Ok(None);
        }
        Ok(self.storage.summary(id)?)
    }
}

/// What one attempt at a write came to, under the slot's mutex.
enum Prepared<R> {
    /// Nothing to store; the answer.
    Done(R),
    /// Store this, then give the answer.
    Commit(Box<Commit>, R),
    /// Refused for what the changes (these bytes) are: quarantine them.
    Refused(DocError, Vec<u8>),
}

/// The write a decision asks for, with the answer `answer` makes of the
/// record's heads afterwards and whether anything new is stored; a change
/// refused for what it is (sent as `received`) is to be quarantined.
fn prepared<R>(
    decision: Result<Decision, Refusal>,
    received: &[u8],
    answer: impl FnOnce(Vec<ChangeHash>, bool) -> R,
) -> Result<Prepared<R>, DocError> {
    match decision {
        Ok(Decision::Unchanged { heads }) => Ok(Prepared::Done(answer(heads, false))),
        Ok(Decision::Commit(commit)) => {
            let answer = answer(commit.heads.clone(), true);
            Ok(Prepared::Commit(commit, answer))
        }
        Err(Refusal {
            error,
            quarantine: true,
        }) => Ok(Prepared::Refused(error, received.to_vec())),
        Err(Refusal { error, .. }) => Err(error),
    }
}

/// A record's stored heads, sorted as Automerge sorts them, and the
/// sequence number of the commit that left them.
fn sorted_heads(meta: crate::storage::DocMeta) -> (Vec<ChangeHash>, u64) {
    let mut heads: Vec<ChangeHash> = meta.heads.into_iter().map(ChangeHash).collect();
    heads.sort_unstable();
    (heads, meta.seq)
}

fn current_heads(slot: &mut Slot) -> Vec<ChangeHash> {
    slot.loaded
        .as_mut()
        .map(|l| l.doc.get_heads())
        .unwrap_or_default()
}

impl Engine {
    /// Folds the chunks of up to `limit` records with at least `min_chunks`
    /// chunks into fresh snapshots. Returns how many were compacted. Safe to
    /// run beside syncs: a record that changes meanwhile is simply skipped
    /// (storage refuses the stale snapshot).
    pub fn compact(&self, min_chunks: u32, limit: usize) -> Result<usize, StorageError> {
        let mut done = 0;
        for id in self
            .storage
            .documents_needing_compaction(min_chunks, limit)?
        {
            let Some(stored) = self.storage.load_document(&id)? else {
                continue;
            };
            let mut doc = match AutoCommit::load(&stored.concatenated()) {
                Ok(doc) => doc,
                Err(e) => {
                    tracing::error!(%id, error = %e, "cannot compact a record that does not load");
                    continue;
                }
            };
            match self.storage.compact(&id, doc.save(), stored.seq) {
                Ok(()) => done += 1,
                Err(StorageError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}

impl Engine {
    /// Makes a change on the server on behalf of `caller` (e.g. a town
    /// official linking a duplicate from the dashboard). The change is
    /// attributed to the caller's device through a native actor id and goes
    /// through the same validation and commit as a synced change. `change`
    /// is made again on the newer record if another write got there first.
    pub fn edit_as<T>(
        &self,
        caller: &Caller,
        id: &DocumentId,
        mut change: impl FnMut(&mut AutoCommit) -> Result<T, String>,
    ) -> Result<Applied, DocError> {
        if !caller.writes() {
            return Err(DocError::ReadOnly);
        }
        self.not_removed(id)?;
        let device = caller
            .device
            .unwrap_or_else(|| DeviceId::from_bytes([0; 16]));
        let mut tail = [0u8; 4];
        tail.copy_from_slice(&self.random.bytes16()[..4]);
        let actor = automerge::ActorId::from(access::new_native_actor(device, tail));
        self.write(caller, id, Taken::No, |slot, removed| {
            let Some(loaded) = &mut slot.loaded else {
                return Err(DocError::NotFound);
            };
            if !caller.can_read(&loaded.village) {
                return Err(DocError::NotFound);
            }
            let mut scratch = loaded.doc.fork();
            scratch.set_actor(actor.clone());
            let before = scratch.get_heads();
            change(&mut scratch).map_err(DocError::Invalid)?;
            let received = scratch.save_after(&before);
            let decision = self.judge(caller, id, slot, scratch, &received, Taken::No, removed);
            prepared(decision, &received, |heads, changed| Applied {
                heads,
                changed,
                missing_dependencies: false,
            })
        })
    }
}

/// An admin's removal of a record: the record is gone, this stays.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Removal {
    pub id: DocumentId,
    pub village: VillageCode,
    /// When, in ms since the epoch.
    pub at: Millis,
    /// Who: the admin token or the admin device.
    pub by: String,
    pub reason: String,
    /// The commit sequence number of the removal.
    pub seq: u64,
}

fn removal_key(id: &DocumentId) -> ServerValue {
    ServerValue::Removal(id.clone())
}

impl Engine {
    /// The removal of `id`, if an admin removed it.
    pub fn removal(&self, id: &DocumentId) -> Result<Option<Removal>, DocError> {
        let Some(bytes) = self.storage.get_value(&removal_key(id))? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|_| {
            DocError::Storage(StorageError::Corrupt {
                what: "record removal",
            })
        })
    }

    fn not_removed(&self, id: &DocumentId) -> Result<(), DocError> {
        match self.removal(id)? {
            Some(_) => Err(DocError::Removed),
            None => Ok(()),
        }
    }

    /// Removes a record for good (an abusive one): the removal is kept
    /// (who, when, why), then the record's document, summary and counts
    /// go, so neither door serves it, statistics do not count it, and its
    /// id refuses new changes with `removed`. `scope_ok` decides from the
    /// record's village whether the admin may remove it; a record it may
    /// not is answered as not found. Returns `None` for no such record.
    pub fn remove(
        &self,
        id: &DocumentId,
        by: &str,
        reason: &str,
        scope_ok: impl FnOnce(&VillageCode) -> bool,
    ) -> Result<Option<Removal>, DocError> {
        // The write turn, not the slot's mutex: readers go on while the
        // removal is made durable, writers wait for it (and a writer that
        // decided on a stale copy finds its commit refused by storage).
        let cell = self.cache.slot(id);
        let turn = cell.write_turn();
        let Some(meta) = self.storage.doc_meta(id)? else {
            return Ok(None);
        };
        if !scope_ok(&meta.village) {
            return Ok(None);
        }
        let mut removal = Removal {
            id: id.clone(),
            village: meta.village,
            at: self.clock.now(),
            by: by.to_owned(),
            reason: reason.to_owned(),
            seq: 0,
        };
        let encode = |removal: &Removal| {
            serde_json::to_vec(removal).map_err(|_| {
                DocError::Storage(StorageError::Invalid {
                    reason: "a removal that does not encode".to_owned(),
                })
            })
        };
        // The tombstone first: from here on the id takes no changes.
        self.storage
            .put_value(&removal_key(id), &encode(&removal)?)?;
        let seq = self.storage.remove_document(id)?.unwrap_or(0);
        removal.seq = seq;
        self.storage
            .put_value(&removal_key(id), &encode(&removal)?)?;
        cell.lock().loaded = None;
        drop(turn);
        self.cache.forget(id);
        tracing::warn!(%id, by, reason, "record removed by an admin");
        Ok(Some(removal))
    }
}

/// One change in a record's history.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeInfo {
    pub hash: ChangeHash,
    /// When the author made it, in ms since the epoch (0 when unknown).
    pub time: Millis,
    pub actor: Vec<u8>,
    /// The author's description, e.g. "risk medium → high".
    pub message: Option<String>,
    /// Number of operations in the change.
    pub operations: usize,
}

impl Engine {
    /// Every change of a record, oldest first (in causal order), or `None`
    /// when it does not exist or the caller may not read it.
    pub fn history(
        &self,
        caller: &Caller,
        id: &DocumentId,
    ) -> Result<Option<Vec<ChangeInfo>>, DocError> {
        self.with_slot(id, |slot| {
            let Some(loaded) = &mut slot.loaded else {
                return Ok(None);
            };
            if !caller.can_read(&loaded.village) {
                return Ok(None);
            }
            let changes = loaded.doc.get_changes(&[]);
            Ok(Some(
                changes
                    .iter()
                    .map(|c| {
                        let t = c.timestamp();
                        // Automerge clients write seconds; some write ms.
                        let time = if t.abs() < 100_000_000_000 {
                            t * 1000
                        } else {
                            t
                        };
                        ChangeInfo {
                            hash: c.hash(),
                            time,
                            actor: c.actor_id().to_bytes().to_vec(),
                            message: c.message().map(str::to_owned),
                            operations: c.len(),
                        }
                    })
                    .collect(),
            ))
        })
    }
}
