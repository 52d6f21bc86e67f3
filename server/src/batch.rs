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
//! The cursor is `[1][epoch: 8 bytes][seq: 8 bytes]`. The epoch names this
//! data directory's history; a cursor from another epoch (a restored or
//! replaced server) or from the future is treated as no cursor, so the
//! phone bootstraps again rather than missing changes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use automerge::ChangeHash;
use fengqiao_protocol::batch::{
    BATCH_VERSION, ChangeHash as WireHash, Cursor, DEFAULT_BUDGET, DocResult, DocUpload,
    SyncRequest, SyncResponse,
};
use fengqiao_protocol::{DocumentId, Scope};

use crate::engine::{Caller, DocError, Engine};
use crate::storage::{ProjectionKey, StorageError};

/// The most a client may ask for in one response.
pub const MAX_BUDGET: u64 = 8 * 1024 * 1024;

/// Fixed cost counted per record in a response, besides its data.
const PER_RECORD_OVERHEAD: u64 = 96;

/// How many feed entries are read from storage at a time.
const FEED_PAGE: usize = 256;

const CURSOR_VERSION: u8 = 2;

/// A decoded cursor: how far the feed was read, in which history, for
/// which scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPosition {
    pub epoch: u64,
    pub seq: u64,
    /// The scope the phone's records were synced for (`None`: everything).
    pub scope: Option<Scope>,
}

impl FeedPosition {
    pub fn encode(&self) -> Cursor {
        let prefix = self.scope.as_ref().map_or("", Scope::prefix);
        let mut bytes = Vec::with_capacity(18 + prefix.len());
        bytes.push(CURSOR_VERSION);
        bytes.extend_from_slice(&self.epoch.to_be_bytes());
        bytes.extend_from_slice(&self.seq.to_be_bytes());
        bytes.push(prefix.len() as u8);
        bytes.extend_from_slice(prefix.as_bytes());
        Cursor::new(bytes).expect("at most 30 bytes is within the cursor limit")
    }

    pub fn decode(cursor: &Cursor) -> Option<Self> {
        let bytes = cursor.as_bytes();
        if bytes.len() < 18 || bytes[0] != CURSOR_VERSION {
            return None;
        }
        let epoch = u64::from_be_bytes(bytes[1..9].try_into().ok()?);
        let seq = u64::from_be_bytes(bytes[9..17].try_into().ok()?);
        let len = usize::from(bytes[17]);
        let prefix = std::str::from_utf8(bytes.get(18..18 + len)?).ok()?;
        let scope = if prefix.is_empty() {
            None
        } else {
            Some(Scope::parse(prefix).ok()?)
        };
        Some(Self { epoch, seq, scope })
    }
}

/// Whether every place of `inner` lies in `outer` (`None` is everything).
fn scope_covers(outer: Option<&Scope>, inner: Option<&Scope>) -> bool {
    match (outer, inner) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(o), Some(i)) => o.covers(i),
    }
}

/// Records the phone holds under its old scope that its new scope no
/// longer covers.
fn purge_list(
    engine: &Engine,
    old: Option<&Scope>,
    new: Option<&Scope>,
) -> Result<Vec<DocumentId>, StorageError> {
    let Some(old) = old else {
        // An unrestricted phone lost its access: everything it held outside
        // the new scope goes; without an old scope to enumerate, use the
        // feed of everything.
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = engine.storage().feed_after(after, None, FEED_PAGE)?;
            out.extend(
                page.entries
                    .iter()
                    .filter(|e| !new.is_some_and(|n| n.contains(&e.village)))
                    .map(|e| e.id.clone()),
            );
            if page.entries.len() < FEED_PAGE {
                return Ok(out);
            }
            after = page.through_seq;
        }
    };
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = engine
            .storage()
            .summaries_in_scope(old, after.as_ref(), FEED_PAGE)?;
        let full = page.len() == FEED_PAGE;
        for summary in &page {
            if !new.is_some_and(|n| n.contains(&summary.village)) {
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
    epoch: u64,
    request: SyncRequest,
) -> Result<(SyncResponse, BatchStats), StorageError> {
    let budget = request
        .budget
        .unwrap_or(DEFAULT_BUDGET)
        .clamp(1024, MAX_BUDGET);
    let current = engine.storage().current_seq();
    let previous = request
        .cursor
        .as_ref()
        .and_then(FeedPosition::decode)
        .filter(|p| p.epoch == epoch && p.seq <= current);
    // A cursor from another history (a restored or replaced server) is not
    // honoured: the phone bootstraps and uploads everything again.
    let reset = request.cursor.is_some() && previous.is_none();
    // A phone whose scope changed purges what it may no longer hold, and
    // bootstraps again unless its new scope lies within the old one.
    let mut purge = Vec::new();
    let since = match &previous {
        Some(p) if p.scope.as_ref() != scope => {
            purge = purge_list(engine, p.scope.as_ref(), scope)?;
            if scope_covers(p.scope.as_ref(), scope) {
                p.seq
            } else {
                0
            }
        }
        Some(p) => p.seq,
        None => 0,
    };

    let mut stats = BatchStats::default();
    let mut docs = Vec::with_capacity(request.docs.len());
    // Each uploaded record, with the index of its answer in `docs`.
    let mut answered: HashMap<DocumentId, (usize, &DocUpload)> = HashMap::new();
    let mut used = 0u64;

    let answers = answer_uploads(engine, caller, &request.docs);
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
    'feed: loop {
        let page = engine.storage().feed_after(position, scope, FEED_PAGE)?;
        for entry in &page.entries {
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
                continue;
            }
            let have = match engine.storage().heads_at(&entry.id, since)? {
                Some(heads) => heads.into_iter().map(ChangeHash).collect(),
                None => Vec::new(),
            };
            let Some((data, heads)) = engine
                .changes_since(caller, &entry.id, &have)
                .map_err(storage_only)?
            else {
                position = entry.seq;
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
        }
        if page.entries.len() < FEED_PAGE {
            position = position.max(page.through_seq);
            break;
        }
        position = position.max(page.through_seq);
    }

    Ok((
        SyncResponse {
            v: BATCH_VERSION,
            cursor: FeedPosition {
                epoch,
                seq: position,
                scope: scope.cloned(),
            }
            .encode(),
            more,
            docs,
            purge,
            reset,
        },
        stats,
    ))
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
