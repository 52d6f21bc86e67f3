//! The batch door: one `POST /v1/sync` request, answered from the engine
//! and the change feed (see `docs/protocol.md`).
//!
//! 1. Each upload is applied on its own through the engine; a refused
//!    upload becomes that record's `error` and the rest proceed. The answer
//!    for an upload carries the server's durable heads and whatever of the
//!    record the phone lacks given the heads it declared.
//! 2. Then the change feed is read after the request's cursor, within the
//!    caller's scope: each record changed since is sent as the changes made
//!    after the heads it had at the cursor (a whole snapshot when it did not
//!    exist then, which is also how a bootstrap gets everything), until the
//!    byte budget is used. The new cursor marks how far the feed was read.
//!    A record this request uploaded is not sent twice: when the feed shows
//!    it changed after its upload was answered (another device committed
//!    in between), the answer is computed again, so the cursor never passes
//!    a change the phone was not sent.
//!
//! The cursor is sealed by the server (see [`Cursors`]): the phone can
//! neither read it (it carries the global commit sequence, which counts
//! other scopes' activity) nor forge or alter it, and a cursor is bound to
//! the device it was issued to. Inside it are the epoch that names this
//! data directory's history, how far the feed was read, when the cursor
//! was issued and the scope it was issued for. A cursor that does not
//! open, from another device, from another epoch (a restored or replaced
//! server) or from the future is treated as no cursor (`reset`), so the
//! phone bootstraps again rather than missing changes. Only a cursor that
//! opens is believed about the scope the phone synced before, so the purge
//! list names only records the device once could read.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use automerge::ChangeHash;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use fengqiao_protocol::batch::{
    BATCH_VERSION, ChangeHash as WireHash, Cursor, DEFAULT_BUDGET, DocResult, DocUpload,
    SyncRequest, SyncResponse,
};
use fengqiao_protocol::{DeviceId, DocumentId, Scope};
use fengqiao_shared::Millis;

use crate::engine::{Caller, DocError, Engine, now_millis};
use crate::storage::{ProjectionKey, SharedFresh, StorageError};

/// The most a client may ask for in one response.
pub const MAX_BUDGET: u64 = 8 * 1024 * 1024;

/// Fixed cost counted per record in a response, besides its data.
const PER_RECORD_OVERHEAD: u64 = 96;

/// How many feed entries are read from storage at a time.
const FEED_PAGE: usize = 256;

/// Records of the feed read ahead together (see [`Storage::prefetch`]).
///
/// [`Storage::prefetch`]: crate::storage::Storage::prefetch
const READ_AHEAD: usize = 64;

/// The first byte of a sealed cursor; cursors of earlier versions (the
/// plain ones of version 2) do not open and are answered with `reset`.
const CURSOR_VERSION: u8 = 3;

/// Length of the random nonce of a sealed cursor.
const NONCE_BYTES: usize = 24;

/// Names what the sealed bytes are, beside the device they are bound to.
const CURSOR_CONTEXT: &[u8] = b"fengqiao batch cursor v3";

/// A decoded cursor: how far the feed was read, in which history, when,
/// for which scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPosition {
    pub epoch: u64,
    pub seq: u64,
    /// When the server issued the cursor (ms since the epoch, server clock).
    pub issued_at: Millis,
    /// The scope the phone's records were synced for (`None`: everything).
    pub scope: Option<Scope>,
    /// For a cursor of a response cut short: the records of the scope still
    /// to come after it, counted when the download began and counted down
    /// since, so the feed is counted once per download, not per response.
    pub remaining: Option<u64>,
}

impl FeedPosition {
    fn to_bytes(&self) -> Vec<u8> {
        let prefix = self.scope.as_ref().map_or("", Scope::prefix);
        let mut bytes = Vec::with_capacity(25 + prefix.len());
        bytes.extend_from_slice(&self.epoch.to_be_bytes());
        bytes.extend_from_slice(&self.seq.to_be_bytes());
        bytes.extend_from_slice(&self.issued_at.to_be_bytes());
        bytes.push(prefix.len().min(usize::from(u8::MAX)) as u8);
        bytes.extend_from_slice(prefix.as_bytes());
        if let Some(remaining) = self.remaining {
            bytes.extend_from_slice(&remaining.to_be_bytes());
        }
        bytes
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let epoch = u64::from_be_bytes(bytes.get(0..8)?.try_into().ok()?);
        let seq = u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?);
        let issued_at = Millis::from_be_bytes(bytes.get(16..24)?.try_into().ok()?);
        let len = usize::from(*bytes.get(24)?);
        let end = 25 + len;
        // A cursor of a response cut short carries the count still to come.
        let remaining = match bytes.len().checked_sub(end)? {
            0 => None,
            8 => Some(u64::from_be_bytes(bytes[end..].try_into().ok()?)),
            _ => return None,
        };
        let prefix = std::str::from_utf8(&bytes[25..end]).ok()?;
        let scope = if prefix.is_empty() {
            None
        } else {
            Some(Scope::parse(prefix).ok()?)
        };
        Some(Self {
            epoch,
            seq,
            issued_at,
            scope,
            remaining,
        })
    }
}

/// Seals and opens batch cursors with the server's cursor key.
///
/// A cursor is `[3][nonce: 24 bytes][XChaCha20-Poly1305 ciphertext]` of
/// the [`FeedPosition`], with the device id as associated data: only this
/// server (or one restored from its backup, which keeps the key) opens it,
/// only for the device it was issued to, and any altered bit makes it fail
/// to open. The nonce is random, so two cursors for the same position
/// differ and a phone learns nothing by comparing them.
#[derive(Clone)]
pub struct Cursors {
    epoch: u64,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Cursors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursors")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

fn associated_data(device: Option<DeviceId>) -> Vec<u8> {
    let mut aad = CURSOR_CONTEXT.to_vec();
    match device {
        Some(device) => {
            aad.push(1);
            aad.extend_from_slice(device.as_bytes());
        }
        None => aad.push(0),
    }
    aad
}

impl Cursors {
    /// Cursors of the history `epoch`, sealed with `key`.
    pub fn new(epoch: u64, key: &[u8; 32]) -> Self {
        Self {
            epoch,
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// The epoch that names this data directory's history.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// A cursor for `position`, readable only by this server and valid
    /// only for `device`.
    pub fn seal(&self, device: Option<DeviceId>, position: &FeedPosition) -> Cursor {
        let mut nonce = [0u8; NONCE_BYTES];
        if getrandom::fill(&mut nonce).is_err() {
            // Without the system's randomness a nonce could repeat; a
            // cursor that never opens only costs the phone a bootstrap.
            tracing::error!("no randomness for a cursor nonce; issuing an unusable cursor");
            return unreachable_cursor();
        }
        let aad = associated_data(device);
        let plain = position.to_bytes();
        let Ok(sealed) = self.cipher.encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: &aad,
            },
        ) else {
            tracing::error!("a cursor could not be sealed; issuing an unusable cursor");
            return unreachable_cursor();
        };
        let mut bytes = Vec::with_capacity(1 + NONCE_BYTES + sealed.len());
        bytes.push(CURSOR_VERSION);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Cursor::new(bytes).unwrap_or_else(|_| unreachable_cursor())
    }

    /// The position inside a cursor this server sealed for `device`;
    /// `None` for anything else (forged, altered, another device's,
    /// another server's, an older format).
    pub fn open(&self, device: Option<DeviceId>, cursor: &Cursor) -> Option<FeedPosition> {
        let bytes = cursor.as_bytes();
        if bytes.first() != Some(&CURSOR_VERSION) || bytes.len() < 1 + NONCE_BYTES {
            return None;
        }
        let (nonce, sealed) = bytes[1..].split_at(NONCE_BYTES);
        let aad = associated_data(device);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .ok()?;
        FeedPosition::from_bytes(&plain)
    }
}

/// An empty cursor, which no server opens: the phone bootstraps next time.
fn unreachable_cursor() -> Cursor {
    Cursor::new(Vec::new()).unwrap_or_else(|_| unreachable!("an empty cursor is within the limit"))
}

/// Whether every place of `inner` lies in `outer` (`None` is everything).
fn scope_covers(outer: Option<&Scope>, inner: Option<&Scope>) -> bool {
    match (outer, inner) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(o), Some(i)) => o.covers(i),
    }
}

/// Records the phone may hold under its old scope that its new scope no
/// longer covers: those of the old scope that existed when its cursor was
/// issued (`issued_at`), so the list names only records the device once
/// could read, never one created later.
fn purge_list(
    engine: &Engine,
    old: Option<&Scope>,
    new: Option<&Scope>,
    issued_at: Millis,
) -> Result<Vec<DocumentId>, StorageError> {
    let existed_then = |id: &DocumentId| -> Result<bool, StorageError> {
        Ok(engine
            .storage()
            .doc_meta(id)?
            .is_some_and(|meta| meta.created_at <= issued_at))
    };
    let mut out = Vec::new();
    let Some(old) = old else {
        // An unrestricted phone lost its access: everything it held outside
        // the new scope goes; without an old scope to enumerate, use the
        // feed of everything.
        let mut after = 0;
        loop {
            let page = engine.storage().feed_after(after, None, FEED_PAGE)?;
            for entry in &page.entries {
                if !new.is_some_and(|n| n.contains(&entry.village)) && existed_then(&entry.id)? {
                    out.push(entry.id.clone());
                }
            }
            if page.entries.len() < FEED_PAGE {
                return Ok(out);
            }
            after = page.through_seq;
        }
    };
    let mut after = None;
    loop {
        let page = engine
            .storage()
            .summaries_in_scope(old, after.as_ref(), FEED_PAGE)?;
        let full = page.len() == FEED_PAGE;
        for summary in &page {
            if !new.is_some_and(|n| n.contains(&summary.village)) && existed_then(&summary.id)? {
                out.push(summary.id.clone());
            }
        }
        match page.last() {
            Some(last) if full => after = Some(ProjectionKey::of(last)),
            _ => return Ok(out),
        }
    }
}

fn to_wire(heads: &[ChangeHash]) -> Vec<WireHash> {
    heads.iter().map(|h| WireHash(h.0)).collect()
}

fn from_wire(heads: &[WireHash]) -> Vec<ChangeHash> {
    heads.iter().map(|h| ChangeHash(h.0)).collect()
}

/// What one batch request did, for metrics and logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchStats {
    pub uploads: usize,
    pub changed: usize,
    pub refused: usize,
    pub sent: usize,
}

/// Answers one batch sync request.
pub fn handle(
    engine: &Engine,
    caller: &Caller,
    scope: Option<&Scope>,
    cursors: &Cursors,
    request: SyncRequest,
) -> Result<(SyncResponse, BatchStats), StorageError> {
    let budget = request
        .budget
        .unwrap_or(DEFAULT_BUDGET)
        .clamp(1024, MAX_BUDGET);
    // Every read of this request reflects at least what any server on the
    // store committed before it arrived.
    let fresh = engine.storage().fresh();
    // Asked of the store: a cursor another server on it handed out a
    // moment ago may be past what this one has heard of.
    let current = engine.storage().latest_seq()?;
    // Only a cursor this server sealed for this device is believed.
    let opened = request
        .cursor
        .as_ref()
        .and_then(|c| cursors.open(caller.device, c));
    let previous = opened
        .clone()
        .filter(|p| p.epoch == cursors.epoch && p.seq <= current);
    // A cursor from another history (a restored or replaced server), or
    // one that does not open, is not honoured: the phone bootstraps and
    // uploads everything again.
    let reset = request.cursor.is_some() && previous.is_none();
    // A phone whose scope changed purges what it may no longer hold, and
    // bootstraps again unless its new scope lies within the old one. A
    // cursor of an earlier history (a server restored from a backup keeps
    // the key) still says which scope the phone synced for, so a reset
    // carries the purge too.
    let mut purge = Vec::new();
    if let Some(p) = &opened
        && p.scope.as_ref() != scope
    {
        purge = purge_list(engine, p.scope.as_ref(), scope, p.issued_at)?;
    }
    let since = match &previous {
        Some(p) if p.scope.as_ref() == scope || scope_covers(p.scope.as_ref(), scope) => p.seq,
        _ => 0,
    };

    let mut stats = BatchStats::default();
    let mut docs = Vec::with_capacity(request.docs.len());
    // Each uploaded record, with the index of its answer in `docs`.
    let mut answered: HashMap<DocumentId, (usize, &DocUpload)> = HashMap::new();
    let mut used = 0u64;

    // What the first uploads read first, each in one read where reads are
    // round trips: their metadata and removal markers, then the stored
    // bytes of those that carry changes the caller may make (a device
    // naming others' records has nothing of theirs read ahead).
    if !request.docs.is_empty() {
        let first = &request.docs[..request.docs.len().min(READ_AHEAD)];
        let ids: Vec<DocumentId> = first.iter().map(|d| d.id.clone()).collect();
        engine.storage().prefetch_for_writes(&ids);
        let writable: Vec<DocumentId> = first
            .iter()
            .filter(|d| caller.writes() && !d.changes.is_empty())
            .filter(|d| match engine.storage().doc_meta(&d.id) {
                Ok(Some(meta)) => caller.can_read(&meta.village),
                Ok(None) => true,
                Err(_) => false,
            })
            .map(|d| d.id.clone())
            .collect();
        if !writable.is_empty() {
            engine.storage().prefetch(&[], &writable);
        }
    }
    let answers = answer_uploads(engine, caller, &request.docs, fresh.shared());
    for (upload, result) in request.docs.iter().zip(answers) {
        stats.uploads += 1;
        answered.insert(upload.id.clone(), (docs.len(), upload));
        let result = match result {
            Ok(result) => {
                if !upload.changes.is_empty() {
                    stats.changed += 1;
                }
                result
            }
            Err(DocError::Storage(e)) => return Err(e),
            Err(e) => {
                stats.refused += 1;
                DocResult {
                    error: Some(e.body()),
                    ..DocResult::heads(upload.id.clone(), Vec::new())
                }
            }
        };
        used += PER_RECORD_OVERHEAD + result.data.len() as u64;
        docs.push(result);
    }

    let mut position = since;
    let mut more = false;
    // Entries of the feed this response moves the cursor past.
    let mut passed = 0u64;
    // What the phone held of the records read ahead, at its cursor.
    let mut held: HashMap<DocumentId, Option<Vec<[u8; 32]>>> = HashMap::new();
    'feed: loop {
        let page = engine.storage().feed_after(position, scope, FEED_PAGE)?;
        for (n, entry) in page.entries.iter().enumerate() {
            if n % READ_AHEAD == 0 {
                // The records about to be answered, and what the phone
                // held of them, each in one read where reads are round
                // trips. (Nothing is held at 0: a bootstrap asks no heads.)
                let ahead: Vec<DocumentId> = page.entries[n..]
                    .iter()
                    .take(READ_AHEAD)
                    .filter(|e| !answered.contains_key(&e.id))
                    .map(|e| e.id.clone())
                    .collect();
                held.clear();
                if since > 0 {
                    let heads = engine.storage().read_ahead(&ahead, &ahead, since)?;
                    held.extend(ahead.into_iter().zip(heads));
                } else {
                    engine.storage().prefetch(&ahead, &ahead);
                }
            }
            if let Some(&(index, upload)) = answered.get(&entry.id) {
                // The answer to this upload was computed before this feed
                // read. If another device committed to the record in
                // between, the answer lacks that change and the cursor is
                // about to pass it: answer the record again as it stands.
                if docs[index].error.is_none()
                    && let Some((data, heads)) = engine
                        .changes_since(caller, &entry.id, &from_wire(&upload.heads))
                        .map_err(storage_only)?
                    && to_wire(&heads) != docs[index].heads
                {
                    used = used.saturating_sub(docs[index].data.len() as u64) + data.len() as u64;
                    docs[index].data = data;
                    docs[index].heads = to_wire(&heads);
                }
                position = entry.seq;
                passed += 1;
                continue;
            }
            let have = match held.remove(&entry.id).flatten() {
                Some(heads) => heads.into_iter().map(ChangeHash).collect(),
                None => Vec::new(),
            };
            let Some((data, heads)) = engine
                .changes_since(caller, &entry.id, &have)
                .map_err(storage_only)?
            else {
                position = entry.seq;
                passed += 1;
                continue;
            };
            let cost = PER_RECORD_OVERHEAD + data.len() as u64;
            if used + cost > budget && !docs.is_empty() {
                more = true;
                break 'feed;
            }
            used += cost;
            stats.sent += 1;
            docs.push(DocResult {
                id: entry.id.clone(),
                heads: to_wire(&heads),
                data,
                error: None,
                resend: false,
            });
            position = entry.seq;
            passed += 1;
        }
        if page.entries.len() < FEED_PAGE {
            position = position.max(page.through_seq);
            break;
        }
        position = position.max(page.through_seq);
    }

    // What remains is counted from the feed when a download is first cut
    // short, then counted down by what each response passes: the feed is
    // read to its end once per download, not once per response.
    let carried = previous
        .as_ref()
        .filter(|p| p.seq == since)
        .and_then(|p| p.remaining);
    let remaining = match (more, carried) {
        (false, _) => None,
        (true, Some(left)) => Some(left.saturating_sub(passed)),
        (true, None) => Some(count_after(engine, position, scope)?),
    };

    // Taken after the feed was read: every record created by now in the
    // caller's scope was the caller's to read.
    let issued_at = now_millis();
    Ok((
        SyncResponse {
            v: BATCH_VERSION,
            cursor: cursors.seal(
                caller.device,
                &FeedPosition {
                    epoch: cursors.epoch,
                    seq: position,
                    issued_at,
                    scope: scope.cloned(),
                    remaining,
                },
            ),
            more,
            docs,
            purge,
            reset,
            remaining,
        },
        stats,
    ))
}

/// The records of `scope` whose latest commit comes after `after`: what a
/// response cut short by its budget leaves for the next ones. Reads the
/// feed's keys once, page by page, without loading a record.
fn count_after(engine: &Engine, after: u64, scope: Option<&Scope>) -> Result<u64, StorageError> {
    let mut position = after;
    let mut count = 0u64;
    loop {
        let page = engine.storage().feed_after(position, scope, FEED_PAGE)?;
        count += page.entries.len() as u64;
        if page.entries.len() < FEED_PAGE || page.through_seq <= position {
            return Ok(count);
        }
        position = page.through_seq;
    }
}

fn storage_only(error: DocError) -> StorageError {
    match error {
        DocError::Storage(e) => e,
        other => {
            tracing::error!(error = %other, "record in the feed could not be read");
            StorageError::Corrupt {
                what: "record in the change feed",
            }
        }
    }
}

/// How many uploads of one request are applied at the same time. Their
/// commits then share disk flushes (group commit), so a phone uploading
/// many records does not pay one flush per record.
const UPLOAD_WORKERS: usize = 8;

/// Answers every upload, in request order, applying them in parallel.
fn answer_uploads(
    engine: &Engine,
    caller: &Caller,
    uploads: &[DocUpload],
    fresh: Option<SharedFresh>,
) -> Vec<Result<DocResult, DocError>> {
    if uploads.len() <= 1 {
        return uploads
            .iter()
            .map(|u| answer_upload(engine, caller, &u.id, &u.changes, &u.heads))
            .collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Result<DocResult, DocError>>>> =
        uploads.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..UPLOAD_WORKERS.min(uploads.len()) {
            scope.spawn(|| {
                // As fresh as the request's own thread.
                let _fresh = fresh.as_ref().map(SharedFresh::enter);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(u) = uploads.get(i) else { break };
                    let answer = answer_upload(engine, caller, &u.id, &u.changes, &u.heads);
                    *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(answer);
                }
            });
        }
    });
    slots
        .into_iter()
        .zip(uploads)
        .map(|(slot, u)| {
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .unwrap_or_else(|| Ok(DocResult::heads(u.id.clone(), Vec::new())))
        })
        .collect()
}

fn answer_upload(
    engine: &Engine,
    caller: &Caller,
    id: &DocumentId,
    changes: &[u8],
    heads: &[WireHash],
) -> Result<DocResult, DocError> {
    let mut resend = false;
    if !changes.is_empty() {
        let applied = engine.apply_changes(caller, id, changes)?;
        resend = applied.missing_dependencies;
    }
    let have = from_wire(heads);
    match engine.changes_since(caller, id, &have)? {
        Some((data, server_heads)) => Ok(DocResult {
            id: id.clone(),
            heads: to_wire(&server_heads),
            data,
            error: None,
            resend,
        }),
        // Neither held nor visible: an empty answer reveals nothing.
        None => Ok(DocResult::heads(id.clone(), Vec::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position() -> FeedPosition {
        FeedPosition {
            epoch: 7,
            seq: 42,
            issued_at: 1_790_000_000_000,
            scope: Some(Scope::parse("500110101001").unwrap()),
            remaining: None,
        }
    }

    #[test]
    fn a_cursor_carries_the_count_still_to_come_and_plain_ones_still_open() {
        let counted = FeedPosition {
            remaining: Some(1_204),
            ..position()
        };
        assert_eq!(
            FeedPosition::from_bytes(&counted.to_bytes()),
            Some(counted.clone())
        );
        assert_eq!(
            FeedPosition::from_bytes(&position().to_bytes()),
            Some(position())
        );
        let mut odd = counted.to_bytes();
        odd.pop();
        assert_eq!(FeedPosition::from_bytes(&odd), None, "neither layout");
    }

    #[test]
    fn a_cursor_opens_only_for_its_device_with_its_key_and_unaltered() {
        let cursors = Cursors::new(7, &[1; 32]);
        let device = DeviceId::random();
        let cursor = cursors.seal(Some(device), &position());
        assert_eq!(cursors.open(Some(device), &cursor), Some(position()));
        assert_eq!(cursors.open(Some(DeviceId::random()), &cursor), None);
        assert_eq!(cursors.open(None, &cursor), None);
        assert_eq!(Cursors::new(7, &[2; 32]).open(Some(device), &cursor), None);
        for at in 0..cursor.as_bytes().len() {
            let mut bytes = cursor.as_bytes().to_vec();
            bytes[at] ^= 0x80;
            let altered = Cursor::new(bytes).unwrap();
            assert_eq!(cursors.open(Some(device), &altered), None, "byte {at}");
        }
        let mut short = cursor.as_bytes().to_vec();
        short.pop();
        assert_eq!(
            cursors.open(Some(device), &Cursor::new(short).unwrap()),
            None
        );
    }

    #[test]
    fn a_cursor_hides_what_it_holds_and_never_repeats() {
        let cursors = Cursors::new(7, &[1; 32]);
        let a = cursors.seal(None, &position());
        let b = cursors.seal(None, &position());
        assert_ne!(a, b, "a random nonce each time");
        let seq = 42u64.to_be_bytes();
        assert!(!a.as_bytes().windows(8).any(|w| w == seq));
        assert!(!a.as_bytes().windows(12).any(|w| w == b"500110101001"));
        assert!(a.as_bytes().len() <= fengqiao_protocol::batch::MAX_CURSOR_BYTES);
    }
}
