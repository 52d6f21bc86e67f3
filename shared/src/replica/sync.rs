//! The phone side of batch sync (`POST /v1/sync`), as a sans-IO state
//! machine.
//!
//! [`SyncClient::next_request`] builds the next request from the replica;
//! the caller moves it over any transport; [`SyncClient::handle_response`]
//! applies the answer to the replica. Nothing here touches the network, so
//! every step — including a request lost on the way or a response lost on
//! the way back — is testable deterministically.
//!
//! Guarantees:
//! - The cursor is stored in the same atomic write as the records of the
//!   response that produced it, after they are merged, so a crash or a lost
//!   response just repeats the exchange. Applying Automerge changes twice
//!   is a no-op, so repeats never duplicate anything.
//! - A record stays in the dirty set until the server's heads cover the
//!   phone's heads, so an upload lost on the way is sent again.
//! - A record the server refused is marked for attention and not uploaded
//!   again until a person resolves it; so is one the server answered with
//!   nothing (it holds no such record for this device). A record outside
//!   the device's scope is refused, never asked for again: a phone whose
//!   scope changed does not upload its former village's records at every
//!   sync.
//! - A `reset` (the server was restored or replaced) uploads every record
//!   again once; the purge list that comes with it deletes what the device
//!   may no longer hold.

use std::collections::HashSet;

use automerge::AutoCommit;
use fengqiao_protocol::batch::{ChangeHash, DocResult, DocUpload, SyncRequest, SyncResponse};
use fengqiao_protocol::{DocumentId, ErrorBody};

use super::{
    RecordState, Replica, ReplicaError, WriteSet, from_wire_heads, summarize, to_wire_heads,
};
use crate::summary::Millis;

/// Tunables of a sync session.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The response budget sent to the server, in bytes.
    pub response_budget: u64,
    /// Stop adding uploads to one request once their bytes pass this
    /// (at least one record is always sent).
    pub upload_budget: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            response_budget: 512 * 1024,
            upload_budget: 256 * 1024,
        }
    }
}

/// What applying one response did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncStep {
    /// Another request is needed: the server has more, or uploads remain.
    pub more: bool,
    /// Records whose uploads the server confirmed.
    pub acknowledged: Vec<DocumentId>,
    /// Records that received changes from the server.
    pub received: Vec<DocumentId>,
    /// Records whose local and remote changes were merged (both sides had
    /// changes the other lacked).
    pub merged: Vec<DocumentId>,
    /// Records the server refused, with its reason.
    pub rejected: Vec<(DocumentId, ErrorBody)>,
    /// Records deleted because the device no longer may hold them.
    pub purged: Vec<DocumentId>,
    /// The server did not recognise the cursor; every record is uploaded again.
    pub reset: bool,
    /// Records of the scope the server still has to send, as it counted
    /// them (with `more`).
    pub remaining: Option<u64>,
}

/// The sync state machine. Keep one per replica; it remembers what the
/// request in flight carried.
#[derive(Debug, Default)]
pub struct SyncClient {
    options: SyncOptions,
    uploads_left: bool,
}

impl SyncClient {
    pub fn new(options: SyncOptions) -> Self {
        Self {
            options,
            uploads_left: false,
        }
    }

    /// The next request: the stored cursor and the dirty records, up to the
    /// upload budget.
    pub fn next_request(&mut self, replica: &Replica) -> Result<SyncRequest, ReplicaError> {
        let mut request = SyncRequest::new(replica.cursor()?);
        request.budget = Some(self.options.response_budget);
        let mut bytes = 0usize;
        self.uploads_left = false;
        for id in replica.dirty()? {
            let state = replica.state(&id)?;
            if state.attention.is_some() {
                continue;
            }
            if bytes >= self.options.upload_budget && !request.docs.is_empty() {
                self.uploads_left = true;
                break;
            }
            let upload = match replica.document_bytes(&id)? {
                // Discarded locally: ask for the server's whole copy.
                None => DocUpload {
                    id,
                    heads: Vec::new(),
                    changes: Vec::new(),
                },
                Some(stored) => {
                    let mut doc = AutoCommit::load(&stored).map_err(|e| ReplicaError::Corrupt {
                        what: format!("record {id}: {e}"),
                    })?;
                    // The whole record goes as stored: it is already a
                    // complete, compact encoding.
                    let changes = if state.resend || state.server_heads.is_empty() {
                        stored.to_vec()
                    } else {
                        doc.save_after(&from_wire_heads(&state.server_heads))
                    };
                    DocUpload {
                        id,
                        heads: to_wire_heads(&doc.get_heads()),
                        changes,
                    }
                }
            };
            bytes += upload.changes.len() + 64;
            request.docs.push(upload);
        }
        Ok(request)
    }

    /// Applies a response to the replica, atomically with its cursor.
    pub fn handle_response(
        &mut self,
        replica: &Replica,
        response: SyncResponse,
        now: Millis,
    ) -> Result<SyncStep, ReplicaError> {
        let _guard = replica.lock();
        let mut step = SyncStep::default();
        let mut writes = WriteSet::default();
        let mut resend_requested = false;
        if response.reset {
            // The server may have lost changes it once confirmed: forget
            // its confirmations and upload every record again.
            for id in replica.ids()? {
                let mut state = replica.state(&id)?;
                state.server_heads.clear();
                state.resend = true;
                writes.put_state(&id, &state);
                writes.set_dirty(&id, true);
            }
            step.reset = true;
            resend_requested = true;
        }
        let dirty: HashSet<DocumentId> = replica.dirty()?.into_iter().collect();

        // Records are independent: they are merged on every core, then
        // written in one atomic batch in response order.
        let applied = map_parallel(response.docs, |result| {
            let was_dirty = dirty.contains(&result.id);
            apply_result(replica, result, was_dirty)
        });
        for outcome in applied {
            let Some(outcome) = outcome? else { continue };
            let id = outcome.id;
            if outcome.received {
                step.received.push(id.clone());
                if outcome.was_dirty {
                    step.merged.push(id.clone());
                }
            }
            if let Some(error) = outcome.rejected {
                step.rejected.push((id.clone(), error));
            }
            if outcome.forget {
                writes.set_dirty(&id, false);
            }
            let Some(state) = outcome.state else { continue };
            resend_requested |= state.resend;
            if outcome.was_dirty && outcome.confirmed {
                step.acknowledged.push(id.clone());
            }
            if let Some(bytes) = &outcome.bytes {
                writes.put_doc(&id, bytes);
            }
            writes.put_state(&id, &state);
            writes.set_dirty(&id, !outcome.confirmed && state.attention.is_none());
        }
        for id in response.purge {
            writes.purge(&id);
            step.purged.push(id);
        }
        writes.set_cursor(&response.cursor);
        writes.set_last_sync(now);
        replica.apply(writes)?;

        step.more = response.more || self.uploads_left || resend_requested;
        step.remaining = response.remaining.filter(|_| response.more);
        Ok(step)
    }
}

/// What merging one record of a response produced.
struct Outcome {
    id: DocumentId,
    was_dirty: bool,
    /// The server's bytes changed the record.
    received: bool,
    rejected: Option<ErrorBody>,
    /// The record's new sync state; `None` when nothing is held or sent.
    state: Option<RecordState>,
    /// The document to store, when it changed.
    bytes: Option<Vec<u8>>,
    /// The server holds everything the phone holds.
    confirmed: bool,
    /// Nothing is held and the server has nothing for this device: the
    /// record leaves the set of records to upload.
    forget: bool,
}

/// What a phone records for an upload the server answered with nothing:
/// the server holds no such record that this device may see (it lies
/// outside the device's scope, or is gone). The record stays on the phone
/// for a person to look at.
fn not_held_here() -> ErrorBody {
    ErrorBody::new(
        fengqiao_protocol::ErrorCode::NotFound,
        "the server holds no such record for this device; it is kept on this phone and not \
         uploaded again",
    )
}

/// Merges one record of a response into what the phone holds. Reads the
/// replica but writes nothing.
fn apply_result(
    replica: &Replica,
    result: DocResult,
    was_dirty: bool,
) -> Result<Option<Outcome>, ReplicaError> {
    let id = result.id.clone();
    let mut outcome = Outcome {
        id: id.clone(),
        was_dirty,
        received: false,
        rejected: None,
        state: None,
        bytes: None,
        confirmed: false,
        forget: false,
    };
    let mut state = replica.state(&id)?;
    let held = replica.document(&id)?;
    let new_here = held.is_none();
    // An upload the server answered with nothing at all (no heads, no
    // bytes, no error, no request to resend) is of a record it holds none
    // of for this device. It is not uploaded again: that would repeat at
    // every sync, for ever.
    let unanswered = was_dirty
        && result.heads.is_empty()
        && result.data.is_empty()
        && result.error.is_none()
        && !result.resend;
    let Some(mut doc) = held.or_else(|| {
        (!result.data.is_empty()).then(|| AutoCommit::new().with_actor(replica.actor().clone()))
    }) else {
        // Nothing held and nothing sent: only an error can be recorded,
        // and a record asked for in vain is no longer asked for.
        outcome.rejected = result.error;
        outcome.forget = unanswered;
        return Ok(Some(outcome));
    };
    if !result.data.is_empty() {
        let before = doc.get_heads();
        doc.load_incremental(&result.data)
            .map_err(|e| ReplicaError::BadServerData {
                id: id.clone(),
                reason: e.to_string(),
            })?;
        outcome.received = doc.get_heads() != before;
    }
    let error = result.error.or_else(|| unanswered.then(not_held_here));
    if let Some(error) = error {
        state.attention = Some(error.clone());
        outcome.rejected = Some(error);
    }
    if !result.heads.is_empty() {
        state.server_heads = result.heads;
    }
    state.resend = result.resend;
    outcome.confirmed = same_heads(&state.server_heads, &to_wire_heads(&doc.get_heads()));
    if outcome.received || state.summary.is_none() {
        state.summary = summarize(&doc, &id).or(state.summary);
    }
    if new_here {
        // The bytes that built the record from nothing load into the same
        // record: keep them rather than encode it again.
        outcome.bytes = Some(result.data);
    } else if outcome.received {
        outcome.bytes = Some(doc.save());
    }
    outcome.state = Some(state);
    Ok(Some(outcome))
}

/// Maps `items` in order, spread over the machine's cores when there are
/// enough of them to be worth a thread.
fn map_parallel<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    const PER_THREAD_AT_LEAST: usize = 16;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = cores.min(items.len() / PER_THREAD_AT_LEAST).max(1);
    if threads == 1 {
        return items.into_iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let mut groups: Vec<Vec<T>> = Vec::with_capacity(threads);
    let mut items = items.into_iter();
    loop {
        let group: Vec<T> = items.by_ref().take(chunk).collect();
        if group.is_empty() {
            break;
        }
        groups.push(group);
    }
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .into_iter()
            .map(|group| scope.spawn(move || group.into_iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// Whether two head sets are equal, whatever their order.
fn same_heads(a: &[ChangeHash], b: &[ChangeHash]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    !a.is_empty() && a == b
}
