//! [`Store`]: everything Fengqiao keeps, laid out on any [`Backend`].
//!
//! The store holds the logic every backend shares: documents as a snapshot
//! plus chunks, the change feed, the heads log, the projection index, the
//! quarantine, per-peer sync states, server-wide values and the export for
//! backups. Each write is one backend transaction, so a commit's chunk,
//! metadata, feed entry, heads, summary and sequence number land together
//! or not at all, and it is acknowledged only once the backend says it is
//! durable.
//!
//! Statistics are not kept here: reports compute them from the summaries
//! of the projection index (see [`crate::report`]). Stores written by older
//! versions also hold per-village counters ([`Space::Counters`]); nothing
//! reads them, commits no longer write them, backups leave them out and
//! restoring an older backup skips them.
//!
//! The methods are async. [`Store`] also implements the synchronous
//! [`Storage`] trait the engine calls from its blocking threads, by running
//! each of them to completion on the calling thread.

use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use fengqiao_protocol::{DocumentId, Scope};
use fengqiao_shared::Summary;

use super::backend::{
    Announcement, Backend, Consistency, Durability, Entry, Found, KeyRange, Read, ReadView, Space,
    WriteTxn, block_on,
};
use super::backup::{BackupReader, BackupReport, BackupWriter, verify};
use super::codec::{decode, decode_heads, decode_u64, encode, encode_heads};
use super::keys::{self, doc_key, doc_seq_key};
use super::read_cache::Tag;
use super::values::{ServerValue, ValueFamily};
use super::{
    CommitBatch, CommitReceipt, DocMeta, DocumentContent, FeedEntry, FeedPage, HEADS_RETAINED,
    HEADS_SLACK, ProjectionKey, QuarantineBounds, QuarantineEntry, QuarantineIndex, Quarantined,
    SCHEMA_VERSION, Storage, StorageError, StoreHealth, StoredDocument,
};

/// What a store's transactions announce to other servers on the same
/// store ([`WriteTxn::announce`]): `CHANGED id village` (a commit),
/// `REMOVED id village`, `VALUE name` (a server value set or deleted).
pub const CHANGED: &str = "c";
pub const REMOVED: &str = "r";
pub const VALUE: &str = "v";
/// Follows `CHANGED id village` when the commit raised an alert: its id.
pub const ALERT: &str = "alert:";

const SUMMARY_WHAT: &str = "projection summary";
const SNAPSHOT_WHAT: &str = "document snapshot";
const QUARANTINE_WHAT: &str = "quarantined change";

/// Entries read per backend call when a read walks a long range (the feed
/// under a scope, a backup).
const PAGE: usize = 512;

/// Records written per transaction when restoring a backup.
const RESTORE_BATCH: usize = 1024;

/// The backend-neutral store.
pub struct Store<B: Backend> {
    backend: B,
    quarantine_bounds: QuarantineBounds,
    /// The quarantine's entries by size, read at the first quarantined
    /// change after opening (or after a failed write). Only touched while
    /// the write transaction is held.
    quarantine: Mutex<Option<QuarantineIndex>>,
    /// Quarantined changes dropped to stay within the bounds.
    quarantine_dropped: AtomicU64,
}

impl<B: Backend> std::fmt::Debug for Store<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("durable_seq", &self.backend.durable_seq())
            .finish_non_exhaustive()
    }
}

/// The value of a server value's name.
fn meta_name(value: &ServerValue) -> Vec<u8> {
    value.name().into_bytes()
}

async fn read_meta<V: ReadView>(
    view: &V,
    id: &DocumentId,
) -> Result<Option<DocMeta>, StorageError> {
    view.get(Space::DocMeta, &doc_key(id))
        .await?
        .map(|bytes| DocMeta::decode(&bytes))
        .transpose()
}

/// Whether the store keeps what `space` holds. Per-village counters were
/// kept by older versions and are left out of backups and restores now.
fn kept(space: Space) -> bool {
    space != Space::Counters
}

/// The snapshot's `through_seq` and bytes.
async fn read_snapshot<V: ReadView>(
    view: &V,
    id: &DocumentId,
) -> Result<Option<(u64, Vec<u8>)>, StorageError> {
    view.get(Space::Snapshot, &doc_key(id))
        .await?
        .map(|value| split_snapshot(&value))
        .transpose()
}

/// A stored snapshot value: its `through_seq` and bytes.
fn split_snapshot(value: &[u8]) -> Result<(u64, Vec<u8>), StorageError> {
    if value.len() < 8 {
        return Err(StorageError::Corrupt {
            what: SNAPSHOT_WHAT,
        });
    }
    let (through, bytes) = value.split_at(8);
    Ok((decode_u64(through, SNAPSHOT_WHAT)?, bytes.to_vec()))
}

/// A stored snapshot value's bytes.
fn snapshot_bytes(value: Vec<u8>) -> Result<Vec<u8>, StorageError> {
    split_snapshot(&value).map(|(_, bytes)| bytes)
}

async fn read_last_seq<V: ReadView>(view: &V) -> Result<u64, StorageError> {
    match view.get(Space::Seq, &[]).await? {
        Some(bytes) => decode_u64(&bytes, "sequence number"),
        None => Ok(0),
    }
}

async fn read_value<V: ReadView>(
    view: &V,
    value: &ServerValue,
) -> Result<Option<Vec<u8>>, StorageError> {
    if let Some(found) = view.get(Space::Meta, &meta_name(value)).await? {
        return Ok(Some(found));
    }
    match value.legacy_name() {
        Some(legacy) => view.get(Space::Meta, legacy.as_bytes()).await,
        None => Ok(None),
    }
}

/// Reads a whole range, `PAGE` entries per backend call.
async fn scan_pages<V: ReadView>(
    view: &V,
    space: Space,
    range: KeyRange,
    each: impl FnMut(Entry) -> Result<bool, StorageError>,
) -> Result<(), StorageError> {
    scan_pages_from(view, space, range, None, each).await
}

/// [`scan_pages`], its first page (of `range.take(PAGE)`) already read.
async fn scan_pages_from<V: ReadView>(
    view: &V,
    space: Space,
    range: KeyRange,
    mut first: Option<Vec<Entry>>,
    mut each: impl FnMut(Entry) -> Result<bool, StorageError>,
) -> Result<(), StorageError> {
    let mut range = range.take(PAGE);
    loop {
        let page = match first.take() {
            Some(page) => page,
            None => view.scan(space, &range).await?,
        };
        let full = page.len() == PAGE;
        let mut last = None;
        for entry in page {
            last = Some(entry.0.clone());
            if !each(entry)? {
                return Ok(());
            }
        }
        match (full, last) {
            (true, Some(last)) if range.reverse => range.end = Bound::Excluded(last),
            (true, Some(last)) => range.start = Bound::Excluded(last),
            _ => return Ok(()),
        }
    }
}

fn snapshot_value(through_seq: u64, bytes: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(8 + bytes.len());
    value.extend_from_slice(&through_seq.to_be_bytes());
    value.extend_from_slice(bytes);
    value
}

impl<B: Backend> Store<B> {
    /// Opens the store on `backend`: checks the stored layout version, or
    /// writes it (and a new storage id) into an empty backend. Reads a
    /// couple of keys, nothing per record.
    pub async fn open_async(
        backend: B,
        quarantine_bounds: QuarantineBounds,
    ) -> Result<Self, StorageError> {
        let view = backend.read(Consistency::Snapshot).await?;
        let version = view
            .get(Space::Meta, &meta_name(&ServerValue::SchemaVersion))
            .await?;
        let has_id = view
            .get(Space::Meta, &meta_name(&ServerValue::StorageId))
            .await?
            .is_some();
        let legacy_id = match ServerValue::StorageId.legacy_name() {
            Some(name) => view.get(Space::Meta, name.as_bytes()).await?,
            None => None,
        };
        let empty = match version {
            Some(found) => {
                let found = <[u8; 4]>::try_from(found.as_slice())
                    .map(u32::from_be_bytes)
                    .map_err(|_| StorageError::Corrupt {
                        what: "schema version",
                    })?;
                if found != SCHEMA_VERSION {
                    return Err(StorageError::IncompatibleSchema {
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                false
            }
            None => {
                for space in Space::ALL.into_iter().filter(|space| kept(*space)) {
                    if !view.scan(space, &KeyRange::all().take(1)).await?.is_empty() {
                        return Err(StorageError::Corrupt {
                            what: "schema version",
                        });
                    }
                }
                true
            }
        };
        drop(view);
        if empty || !has_id {
            let mut txn = backend.write().await?;
            if empty {
                txn.put(
                    Space::Meta,
                    meta_name(&ServerValue::SchemaVersion),
                    SCHEMA_VERSION.to_be_bytes().to_vec(),
                );
            }
            // One name for the store's id from now on; a store that only
            // has the older one keeps its value.
            let id = legacy_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string().into_bytes());
            txn.put(Space::Meta, meta_name(&ServerValue::StorageId), id);
            txn.commit(Durability::Flushed).await?;
        }
        Ok(Self {
            backend,
            quarantine_bounds,
            quarantine: Mutex::new(None),
            quarantine_dropped: AtomicU64::new(0),
        })
    }

    /// [`Store::open_async`], on this thread.
    pub fn open_on(backend: B, quarantine_bounds: QuarantineBounds) -> Result<Self, StorageError> {
        block_on(Self::open_async(backend, quarantine_bounds))
    }

    /// The backend under the store.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Copies the records of the backup file `backup` into `backend`, which
    /// should be empty. The whole file is checked before anything is
    /// written. The backend's own state (the sequence number it would
    /// assign next) is only right once it is opened again. Per-village
    /// counters in a backup of an older version are skipped.
    pub async fn restore_into(backend: &B, backup: &Path) -> Result<BackupReport, StorageError> {
        verify(backup)?;
        let mut reader = BackupReader::open(backup)?;
        let mut txn = backend.write().await?;
        let mut pending = 0;
        while let Some((key, value)) = reader.next_record()? {
            let (space, key) = key
                .split_first()
                .and_then(|(tag, key)| Some((Space::of_tag(*tag)?, key)))
                .ok_or_else(|| StorageError::BadBackup {
                    reason: "a record of an unknown kind".into(),
                })?;
            if !kept(space) {
                continue;
            }
            txn.put(space, key.to_vec(), value);
            pending += 1;
            if pending == RESTORE_BATCH {
                txn.commit(Durability::Flushed).await?;
                txn = backend.write().await?;
                pending = 0;
            }
        }
        txn.commit(Durability::Flushed).await?;
        Ok(reader.report())
    }

    /// Quarantined changes dropped to stay within the bounds since opening.
    pub fn dropped_from_quarantine(&self) -> u64 {
        self.quarantine_dropped.load(Ordering::Relaxed)
    }

    pub async fn commit_async(&self, commit: CommitBatch) -> Result<CommitReceipt, StorageError> {
        commit.validate()?;
        let mut txn = self.backend.write().await?;
        let seq = txn.next_seq().await?;
        txn.announce(match &commit.alert {
            Some(alert) => format!(
                "{CHANGED} {} {} {ALERT}{alert}",
                commit.id, commit.summary.village
            ),
            None => format!("{CHANGED} {} {}", commit.id, commit.summary.village),
        });
        Self::build_commit(&mut txn, commit, seq).await?;
        let seq = txn.commit(Durability::Flushed).await?.unwrap_or(seq);
        Ok(CommitReceipt { seq })
    }

    /// Writes one commit into `txn`; reads what it replaces.
    async fn build_commit(
        txn: &mut B::Write,
        commit: CommitBatch,
        seq: u64,
    ) -> Result<(), StorageError> {
        let id = &commit.id;
        let snapshot = matches!(commit.content, DocumentContent::Snapshot(_));
        // Everything is read before anything is written (a transaction's
        // reads never see its own writes on some backends and always do on
        // others), and in one go: one round trip where reads are.
        // The heads log is read only when the metadata says it must be
        // trimmed (or does not say how long it is), after it.
        let mut reads = vec![
            Read::Get(Space::DocMeta, doc_key(id)),
            Read::Get(Space::Meta, meta_name(&ServerValue::Removal(id.clone()))),
        ];
        if snapshot {
            reads.push(Read::Scan(Space::Chunk, KeyRange::prefix(&doc_key(id))));
        }
        for binding in &commit.bindings {
            let name = ServerValue::Actor(binding.actor.clone());
            reads.push(Read::Get(Space::Meta, meta_name(&name)));
        }
        let mut found = txn.read_many(&reads).await?.into_iter();
        let mut value = || match found.next() {
            Some(Found::Value(value)) => Ok(value),
            _ => Err(StorageError::Corrupt {
                what: "commit read",
            }),
        };
        let old = value()?.map(|bytes| DocMeta::decode(&bytes)).transpose()?;
        let removed = value()?.is_some();
        let mut entries = || match found.next() {
            Some(Found::Entries(entries)) => Ok(entries),
            _ => Err(StorageError::Corrupt {
                what: "commit read",
            }),
        };
        let old_chunks = if snapshot { entries()? } else { Vec::new() };
        let mut bound = Vec::with_capacity(commit.bindings.len());
        for _ in &commit.bindings {
            bound.push(match found.next() {
                Some(Found::Value(value)) => value.is_some(),
                _ => {
                    return Err(StorageError::Corrupt {
                        what: "commit read",
                    });
                }
            });
        }
        match (commit.expected_seq, &old) {
            (None, _) => {}
            (Some(0), None) => {}
            (Some(expected), Some(old)) if old.seq == expected => {}
            (Some(expected), old) => {
                return Err(StorageError::Conflict {
                    reason: format!(
                        "document {id} was expected at sequence {expected} but is at {}",
                        old.as_ref().map_or(0, |meta| meta.seq)
                    ),
                });
            }
        }
        // An id an admin removed takes no conditional commit: a writer that
        // decided before the removal loses the race, whichever of the
        // removal's writes it meets.
        if commit.expected_seq.is_some() && removed {
            return Err(StorageError::Conflict {
                reason: format!("document {id} was removed"),
            });
        }
        // Heads log: add this commit's entry; once it would hold more than
        // HEADS_RETAINED + HEADS_SLACK, read it (before anything is
        // written) and keep the newest HEADS_RETAINED. A document never
        // committed has no log (a removal deletes it with the metadata).
        let mut trimmed = Vec::new();
        let logged = match &old {
            None => 0,
            Some(DocMeta {
                heads_logged: Some(logged),
                ..
            }) if (*logged as usize) < HEADS_RETAINED + HEADS_SLACK => *logged as usize,
            Some(_) => {
                let logged = txn
                    .scan(Space::Heads, &KeyRange::prefix(&doc_key(id)))
                    .await?;
                let excess = (logged.len() + 1).saturating_sub(HEADS_RETAINED);
                let kept = logged.len() - excess.min(logged.len());
                trimmed.extend(logged.into_iter().take(excess).map(|(key, _)| key));
                kept
            }
        };
        // Actor bindings: only those not bound yet (the first uploader
        // keeps an actor).
        let mut bindings = Vec::new();
        for (binding, bound) in commit.bindings.iter().zip(bound) {
            let name = ServerValue::Actor(binding.actor.clone());
            if !bound && !bindings.iter().any(|(n, _)| n == &name) {
                bindings.push((name, binding.device.as_bytes().to_vec()));
            }
        }

        let village = commit.summary.village.clone();
        let mut meta = old.clone().unwrap_or_else(|| DocMeta {
            id: id.clone(),
            kind: commit.summary.kind,
            village: village.clone(),
            heads: Vec::new(),
            seq: 0,
            created_at: commit.at,
            updated_at: commit.at,
            snapshot_len: 0,
            chunks_len: 0,
            chunk_count: 0,
            heads_logged: Some(0),
        });

        let summary = encode(&commit.summary, SUMMARY_WHAT)?;

        match commit.content {
            DocumentContent::Chunk(bytes) => {
                meta.chunks_len += bytes.len() as u64;
                meta.chunk_count = meta.chunk_count.saturating_add(1);
                txn.put(Space::Chunk, doc_seq_key(id, seq), bytes);
            }
            DocumentContent::Snapshot(bytes) => {
                for (key, _) in old_chunks {
                    txn.delete(Space::Chunk, key);
                }
                meta.snapshot_len = bytes.len() as u64;
                meta.chunks_len = 0;
                meta.chunk_count = 0;
                txn.put(Space::Snapshot, doc_key(id), snapshot_value(seq, &bytes));
            }
        }

        if let Some(old) = &old {
            txn.delete(Space::Feed, keys::seq_key(old.seq));
            if old.chunk_count > 0 {
                txn.delete(Space::Compaction, keys::compaction_key(old.chunk_count, id));
            }
            if old.village != village {
                txn.delete(Space::Projection, keys::projection_key(&old.village, id));
            }
        }
        txn.put(
            Space::Feed,
            keys::seq_key(seq),
            keys::feed_value(&village, id),
        );
        if meta.chunk_count > 0 {
            txn.put(
                Space::Compaction,
                keys::compaction_key(meta.chunk_count, id),
                Vec::new(),
            );
        }

        for key in trimmed {
            txn.delete(Space::Heads, key);
        }
        meta.heads_logged = Some(u32::try_from(logged + 1).unwrap_or(u32::MAX));
        txn.put(
            Space::Heads,
            doc_seq_key(id, seq),
            encode_heads(&commit.heads),
        );

        // Projection: the new summary replaces the old one.
        txn.put(
            Space::Projection,
            keys::projection_key(&village, id),
            summary,
        );

        meta.kind = commit.summary.kind;
        meta.village = village;
        meta.heads = commit.heads;
        meta.seq = seq;
        meta.updated_at = commit.at;
        txn.put(Space::DocMeta, doc_key(id), meta.encode()?);
        for (name, device) in bindings {
            txn.put(Space::Meta, meta_name(&name), device);
        }
        Ok(())
    }

    pub async fn remove_document_async(
        &self,
        id: &DocumentId,
    ) -> Result<Option<u64>, StorageError> {
        let mut txn = self.backend.write().await?;
        let Some(old) = read_meta(&txn, id).await? else {
            return Ok(None);
        };
        let seq = txn.next_seq().await?;
        let mut doomed = Vec::new();
        for space in [Space::Chunk, Space::Heads] {
            for (key, _) in txn.scan(space, &KeyRange::prefix(&doc_key(id))).await? {
                doomed.push((space, key));
            }
        }
        for (space, key) in doomed {
            txn.delete(space, key);
        }
        txn.delete(Space::Snapshot, doc_key(id));
        txn.delete(Space::DocMeta, doc_key(id));
        if old.chunk_count > 0 {
            txn.delete(Space::Compaction, keys::compaction_key(old.chunk_count, id));
        }
        txn.delete(Space::Feed, keys::seq_key(old.seq));
        txn.put(
            Space::Feed,
            keys::seq_key(seq),
            keys::feed_value(&old.village, id),
        );
        txn.announce(format!("{REMOVED} {id} {}", old.village));
        txn.delete(Space::Projection, keys::projection_key(&old.village, id));
        let seq = txn.commit(Durability::Flushed).await?.unwrap_or(seq);
        Ok(Some(seq))
    }

    pub async fn compact_async(
        &self,
        id: &DocumentId,
        snapshot: Vec<u8>,
        through_seq: u64,
    ) -> Result<(), StorageError> {
        if snapshot.is_empty() {
            return Err(StorageError::Invalid {
                reason: format!("compaction of {id} carries no bytes"),
            });
        }
        let mut txn = self.backend.write().await?;
        let mut meta = read_meta(&txn, id)
            .await?
            .ok_or_else(|| StorageError::Invalid {
                reason: format!("cannot compact {id}: no such document"),
            })?;
        if through_seq > meta.seq {
            return Err(StorageError::Invalid {
                reason: format!(
                    "cannot compact {id} through {through_seq}: its last commit is {}",
                    meta.seq
                ),
            });
        }
        let current = read_snapshot(&txn, id)
            .await?
            .map_or(0, |(through, _)| through);
        if through_seq < current {
            return Err(StorageError::Conflict {
                reason: format!(
                    "{id} was replaced by a snapshot through {current} after this compaction \
                     was computed through {through_seq}"
                ),
            });
        }

        let chunks = txn
            .scan(Space::Chunk, &KeyRange::prefix(&doc_key(id)))
            .await?;
        let mut chunks_len = 0u64;
        let mut chunk_count = 0u32;
        for (key, value) in chunks {
            if keys::seq_suffix(&key, "chunk key")? <= through_seq {
                txn.delete(Space::Chunk, key);
            } else {
                chunks_len += value.len() as u64;
                chunk_count = chunk_count.saturating_add(1);
            }
        }
        txn.put(
            Space::Snapshot,
            doc_key(id),
            snapshot_value(through_seq, &snapshot),
        );
        if meta.chunk_count > 0 {
            txn.delete(
                Space::Compaction,
                keys::compaction_key(meta.chunk_count, id),
            );
        }
        if chunk_count > 0 {
            txn.put(
                Space::Compaction,
                keys::compaction_key(chunk_count, id),
                Vec::new(),
            );
        }
        meta.snapshot_len = snapshot.len() as u64;
        meta.chunks_len = chunks_len;
        meta.chunk_count = chunk_count;
        txn.put(Space::DocMeta, doc_key(id), meta.encode()?);
        txn.commit(Durability::Flushed).await?;
        Ok(())
    }

    pub async fn documents_needing_compaction_async(
        &self,
        min_chunks: u32,
        limit: usize,
    ) -> Result<Vec<DocumentId>, StorageError> {
        let view = self.backend.read(Consistency::Latest).await?;
        let range = KeyRange {
            start: Bound::Included(min_chunks.max(1).to_be_bytes().to_vec()),
            end: Bound::Unbounded,
            reverse: true,
            limit,
        };
        view.scan(Space::Compaction, &range)
            .await?
            .into_iter()
            .map(|(key, _)| keys::compaction_doc(&key))
            .collect()
    }

    pub async fn load_document_async(
        &self,
        id: &DocumentId,
    ) -> Result<Option<StoredDocument>, StorageError> {
        let (meta, snapshot, chunks) = if self.backend.views_are_durable() {
            // Metadata, snapshot and chunks in one read that sees one state
            // of the store, durable as it is visible.
            let view = self.backend.read(Consistency::Latest).await?;
            let key = doc_key(id);
            let reads = [
                Read::Get(Space::DocMeta, key.clone()),
                Read::Get(Space::Snapshot, key.clone()),
                Read::Scan(Space::Chunk, KeyRange::prefix(&key)),
            ];
            let mut found = view.read_many(&reads).await?.into_iter();
            let (
                Some(Found::Value(meta)),
                Some(Found::Value(snapshot)),
                Some(Found::Entries(chunks)),
            ) = (found.next(), found.next(), found.next())
            else {
                return Err(StorageError::Corrupt {
                    what: "document read",
                });
            };
            let Some(meta) = meta.map(|bytes| DocMeta::decode(&bytes)).transpose()? else {
                return Ok(None);
            };
            self.backend.wait_durable(meta.seq).await?;
            (meta, snapshot.map(snapshot_bytes).transpose()?, chunks)
        } else {
            let view = self.backend.read(Consistency::Snapshot).await?;
            let Some(meta) = read_meta(&view, id).await? else {
                return Ok(None);
            };
            self.backend.wait_durable(meta.seq).await?;
            let snapshot = read_snapshot(&view, id).await?.map(|(_, bytes)| bytes);
            let chunks = view
                .scan(Space::Chunk, &KeyRange::prefix(&doc_key(id)))
                .await?;
            (meta, snapshot, chunks)
        };
        let chunks: Vec<Vec<u8>> = chunks.into_iter().map(|(_, value)| value).collect();
        if chunks.len() != meta.chunk_count as usize
            || snapshot.as_ref().map_or(0, Vec::len) as u64 != meta.snapshot_len
        {
            return Err(StorageError::Corrupt {
                what: "document chunks",
            });
        }
        Ok(Some(StoredDocument {
            snapshot: snapshot.unwrap_or_default(),
            chunks,
            seq: meta.seq,
        }))
    }

    pub async fn doc_meta_async(&self, id: &DocumentId) -> Result<Option<DocMeta>, StorageError> {
        // One key: where views show only durable commits, no snapshot is
        // needed to wait for one.
        let consistency = if self.backend.views_are_durable() {
            Consistency::Latest
        } else {
            Consistency::Snapshot
        };
        let view = self.backend.read(consistency).await?;
        let meta = read_meta(&view, id).await?;
        if let Some(meta) = &meta {
            self.backend.wait_durable(meta.seq).await?;
        }
        Ok(meta)
    }

    pub async fn feed_after_async(
        &self,
        after: u64,
        scope: Option<&Scope>,
        limit: usize,
    ) -> Result<FeedPage, StorageError> {
        let (Some(start), true) = (after.checked_add(1), limit > 0) else {
            return Ok(FeedPage {
                entries: Vec::new(),
                through_seq: after,
            });
        };
        let range = KeyRange::inclusive(keys::seq_key(start), keys::seq_key(u64::MAX));
        let (view, last, first) = if self.backend.views_are_durable() {
            // The last number and the first page in one read. The pages
            // after it are read as they are then: an entry a commit moves
            // meanwhile goes past the last number read here, where the
            // next read of the feed finds it.
            let view = self.backend.read(Consistency::Latest).await?;
            let reads = [
                Read::Get(Space::Seq, Vec::new()),
                Read::Scan(Space::Feed, range.clone().take(PAGE)),
            ];
            let mut found = view.read_many(&reads).await?.into_iter();
            let (Some(Found::Value(last)), Some(Found::Entries(first))) =
                (found.next(), found.next())
            else {
                return Err(StorageError::Corrupt { what: "feed read" });
            };
            let last = match last {
                Some(bytes) => decode_u64(&bytes, "sequence number")?,
                None => 0,
            };
            (view, last, Some(first))
        } else {
            let view = self.backend.read(Consistency::Snapshot).await?;
            let last = read_last_seq(&view).await?;
            // Entries a newer, not yet durable commit has moved must not
            // be skipped, so wait until everything the view shows is
            // durable.
            self.backend.wait_durable(last).await?;
            (view, last, None)
        };
        let mut page = FeedPage {
            entries: Vec::new(),
            through_seq: after.max(last),
        };
        let prefix = scope.map(|scope| scope.prefix().as_bytes().to_vec());
        scan_pages_from(&view, Space::Feed, range, first, |(key, value)| {
            // A value starts with its village's code: entries of other
            // villages are passed over before anything is decoded.
            if prefix.as_ref().is_some_and(|p| !value.starts_with(p)) {
                return Ok(true);
            }
            let seq = keys::seq_suffix(&key, "change feed key")?;
            let (village, id) = keys::parse_feed_value(&value)?;
            page.entries.push(FeedEntry { seq, id, village });
            if page.entries.len() == limit {
                page.through_seq = seq;
                return Ok(false);
            }
            Ok(true)
        })
        .await?;
        Ok(page)
    }

    pub async fn heads_at_async(
        &self,
        id: &DocumentId,
        seq: u64,
    ) -> Result<Option<Vec<[u8; 32]>>, StorageError> {
        Ok(self
            .heads_at_many_async(std::slice::from_ref(id), seq)
            .await?
            .pop()
            .flatten())
    }

    pub async fn heads_at_many_async(
        &self,
        ids: &[DocumentId],
        seq: u64,
    ) -> Result<Vec<Option<Vec<[u8; 32]>>>, StorageError> {
        let view = self.backend.read(Consistency::Latest).await?;
        decode_heads_at(view.read_many(&heads_at_reads(ids, seq)).await?)
    }

    /// [`Storage::read_ahead`]: the cache's reads ahead and the heads of
    /// `ids` at `seq` in one go.
    pub async fn read_ahead_async(
        &self,
        ids: &[DocumentId],
        whole: &[DocumentId],
        seq: u64,
    ) -> Result<Vec<Option<Vec<[u8; 32]>>>, StorageError> {
        let found = self
            .backend
            .prefetch_and_read(prefetch_tags(ids, whole), heads_at_reads(ids, seq))
            .await?;
        decode_heads_at(found)
    }

    pub async fn summary_async(&self, id: &DocumentId) -> Result<Option<Summary>, StorageError> {
        let view = self.backend.read(Consistency::Latest).await?;
        let Some(meta) = read_meta(&view, id).await? else {
            return Ok(None);
        };
        view.get(Space::Projection, &keys::projection_key(&meta.village, id))
            .await?
            .map(|bytes| decode(&bytes, SUMMARY_WHAT))
            .transpose()
    }

    pub async fn summaries_in_scope_async(
        &self,
        scope: &Scope,
        after: Option<&ProjectionKey>,
        limit: usize,
    ) -> Result<Vec<Summary>, StorageError> {
        let prefix = keys::scope_prefix(scope);
        let mut range = KeyRange::prefix(&prefix).take(limit);
        if let Some(after) = after {
            let after = keys::projection_key(&after.village, &after.id);
            if after >= prefix {
                range.start = Bound::Excluded(after);
            }
        }
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let view = self.backend.read(Consistency::Latest).await?;
        view.scan(Space::Projection, &range)
            .await?
            .into_iter()
            .map(|(_, value)| decode(&value, SUMMARY_WHAT))
            .collect()
    }

    pub async fn sync_state_async(
        &self,
        peer: &[u8],
        id: &DocumentId,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let key = keys::sync_state_key(peer, id)?;
        let view = self.backend.read(Consistency::Latest).await?;
        view.get(Space::SyncState, &key).await
    }

    pub async fn put_sync_state_async(
        &self,
        peer: &[u8],
        id: &DocumentId,
        state: &[u8],
    ) -> Result<(), StorageError> {
        let key = keys::sync_state_key(peer, id)?;
        let mut txn = self.backend.write().await?;
        txn.put(Space::SyncState, key, state.to_vec());
        txn.commit(Durability::Lazy).await?;
        Ok(())
    }

    /// The stored quarantine entries' devices and sizes, oldest first.
    async fn read_quarantine_index<V: ReadView>(view: &V) -> Result<QuarantineIndex, StorageError> {
        let mut index = QuarantineIndex::default();
        let unbounded = QuarantineBounds {
            entry_bytes: usize::MAX,
            device_bytes: u64::MAX,
            total_bytes: u64::MAX,
        };
        let mut failure = None;
        scan_pages(view, Space::Quarantine, KeyRange::all(), |(key, value)| {
            let id = match keys::seq_suffix(&key, "quarantine key") {
                Ok(id) => id,
                Err(error) => {
                    failure = Some(error);
                    return Ok(false);
                }
            };
            // An entry that does not decode still takes room; it counts
            // without a device.
            let device = decode::<QuarantineEntry>(&value, QUARANTINE_WHAT)
                .ok()
                .and_then(|entry| entry.device);
            index.admit(id, device, quarantine_size(&key, &value), &unbounded);
            Ok(true)
        })
        .await?;
        match failure {
            Some(error) => Err(error),
            None => Ok(index),
        }
    }

    pub async fn quarantine_async(&self, entry: QuarantineEntry) -> Result<u64, StorageError> {
        let value = encode(&entry, QUARANTINE_WHAT)?;
        let mut txn = self.backend.write().await?;
        let id = txn.next_seq().await?;
        let taken = self
            .quarantine
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let mut index = match taken {
            Some(index) => index,
            None => Self::read_quarantine_index(&txn).await?,
        };
        let key = keys::seq_key(id);
        let size = quarantine_size(&key, &value);
        let dropped = index.admit(id, entry.device, size, &self.quarantine_bounds);
        if !dropped.contains(&id) {
            txn.put(Space::Quarantine, key, value);
        }
        for old in dropped.iter().filter(|old| **old != id) {
            txn.delete(Space::Quarantine, keys::seq_key(*old));
        }
        // The index goes back while the transaction is held, so that the
        // next refusal does not read it again while this one's flush runs;
        // on failure it is read again at the next refusal.
        *self
            .quarantine
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(index);
        if let Err(error) = txn.commit(Durability::Flushed).await {
            *self
                .quarantine
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = None;
            return Err(error);
        }
        self.quarantine_dropped
            .fetch_add(dropped.len() as u64, Ordering::Relaxed);
        Ok(id)
    }

    pub async fn list_quarantine_where_async(
        &self,
        limit: usize,
        scan: usize,
        keep: impl Fn(&QuarantineEntry) -> bool,
    ) -> Result<Vec<Quarantined>, StorageError> {
        let view = self.backend.read(Consistency::Latest).await?;
        let mut out = Vec::new();
        let mut scanned = 0;
        scan_pages(
            &view,
            Space::Quarantine,
            KeyRange::all().rev(),
            |(key, value)| {
                if out.len() >= limit || scanned >= scan {
                    return Ok(false);
                }
                scanned += 1;
                let entry: QuarantineEntry = decode(&value, QUARANTINE_WHAT)?;
                if keep(&entry) {
                    out.push(Quarantined {
                        id: keys::seq_suffix(&key, "quarantine key")?,
                        entry,
                    });
                }
                Ok(true)
            },
        )
        .await?;
        Ok(out)
    }

    pub async fn get_value_async(
        &self,
        value: &ServerValue,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let view = self.backend.read(Consistency::Latest).await?;
        read_value(&view, value).await
    }

    pub async fn put_value_async(
        &self,
        value: &ServerValue,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        if value.is_reserved() {
            return Err(StorageError::Invalid {
                reason: format!("{} is set by the storage itself", value.name()),
            });
        }
        let mut txn = self.backend.write().await?;
        txn.put(Space::Meta, meta_name(value), bytes.to_vec());
        if let Some(legacy) = value.legacy_name() {
            txn.delete(Space::Meta, legacy.as_bytes().to_vec());
        }
        txn.announce(format!("{VALUE} {}", value.name()));
        txn.commit(Durability::Flushed).await?;
        Ok(())
    }

    pub async fn delete_value_async(&self, value: &ServerValue) -> Result<(), StorageError> {
        if value.is_reserved() {
            return Err(StorageError::Invalid {
                reason: format!("{} is set by the storage itself", value.name()),
            });
        }
        let mut txn = self.backend.write().await?;
        txn.delete(Space::Meta, meta_name(value));
        if let Some(legacy) = value.legacy_name() {
            txn.delete(Space::Meta, legacy.as_bytes().to_vec());
        }
        txn.announce(format!("{VALUE} {}", value.name()));
        txn.commit(Durability::Flushed).await?;
        Ok(())
    }

    pub async fn values_in_async(
        &self,
        family: ValueFamily,
    ) -> Result<Vec<(ServerValue, Vec<u8>)>, StorageError> {
        let view = self.backend.read(Consistency::Latest).await?;
        let mut out = Vec::new();
        let range = KeyRange::prefix(family.prefix().as_bytes());
        scan_pages(&view, Space::Meta, range, |(key, value)| {
            let name = std::str::from_utf8(&key)
                .map_err(|_| StorageError::Corrupt { what: "meta name" })?;
            out.push((ServerValue::parse(name)?, value));
            Ok(true)
        })
        .await?;
        Ok(out)
    }

    /// Streams every stored record, as `tag ‖ key` and value, to `sink`,
    /// from one consistent view: each commit is in it entirely or not at
    /// all. Spaces come in the order of their tags, keys in order within.
    /// Per-village counters an older version left are not exported.
    pub async fn export_async(
        &self,
        mut sink: impl FnMut(&[u8], &[u8]) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let view = self.backend.read(Consistency::Snapshot).await?;
        for space in Space::ALL.into_iter().filter(|space| kept(*space)) {
            scan_pages(&view, space, KeyRange::all(), |(key, value)| {
                sink(&space.tagged(&key), &value)?;
                Ok(true)
            })
            .await?;
        }
        Ok(())
    }
}

/// The room a quarantined change takes: its key as stored in one tagged
/// key space, and its value.
fn quarantine_size(key: &[u8], value: &[u8]) -> u64 {
    (1 + key.len() + value.len()) as u64
}

impl<B: Backend> Storage for Store<B> {
    fn commit(&self, batch: CommitBatch) -> Result<CommitReceipt, StorageError> {
        block_on(self.commit_async(batch))
    }

    fn compact(
        &self,
        id: &DocumentId,
        snapshot: Vec<u8>,
        through_seq: u64,
    ) -> Result<(), StorageError> {
        block_on(self.compact_async(id, snapshot, through_seq))
    }

    fn remove_document(&self, id: &DocumentId) -> Result<Option<u64>, StorageError> {
        block_on(self.remove_document_async(id))
    }

    fn documents_needing_compaction(
        &self,
        min_chunks: u32,
        limit: usize,
    ) -> Result<Vec<DocumentId>, StorageError> {
        block_on(self.documents_needing_compaction_async(min_chunks, limit))
    }

    fn load_document(&self, id: &DocumentId) -> Result<Option<StoredDocument>, StorageError> {
        block_on(self.load_document_async(id))
    }

    fn doc_meta(&self, id: &DocumentId) -> Result<Option<DocMeta>, StorageError> {
        block_on(self.doc_meta_async(id))
    }

    fn current_seq(&self) -> u64 {
        self.backend.durable_seq()
    }

    fn latest_seq(&self) -> Result<u64, StorageError> {
        block_on(self.backend.latest_seq())
    }

    fn feed_after(
        &self,
        after: u64,
        scope: Option<&Scope>,
        limit: usize,
    ) -> Result<FeedPage, StorageError> {
        block_on(self.feed_after_async(after, scope, limit))
    }

    fn heads_at(&self, id: &DocumentId, seq: u64) -> Result<Option<Vec<[u8; 32]>>, StorageError> {
        block_on(self.heads_at_async(id, seq))
    }

    fn heads_at_many(
        &self,
        ids: &[DocumentId],
        seq: u64,
    ) -> Result<Vec<Option<Vec<[u8; 32]>>>, StorageError> {
        block_on(self.heads_at_many_async(ids, seq))
    }

    fn summary(&self, id: &DocumentId) -> Result<Option<Summary>, StorageError> {
        block_on(self.summary_async(id))
    }

    fn summaries_in_scope(
        &self,
        scope: &Scope,
        after: Option<&ProjectionKey>,
        limit: usize,
    ) -> Result<Vec<Summary>, StorageError> {
        block_on(self.summaries_in_scope_async(scope, after, limit))
    }

    fn sync_state(&self, peer: &[u8], id: &DocumentId) -> Result<Option<Vec<u8>>, StorageError> {
        block_on(self.sync_state_async(peer, id))
    }

    fn put_sync_state(
        &self,
        peer: &[u8],
        id: &DocumentId,
        state: &[u8],
    ) -> Result<(), StorageError> {
        block_on(self.put_sync_state_async(peer, id, state))
    }

    fn quarantine(&self, entry: QuarantineEntry) -> Result<u64, StorageError> {
        block_on(self.quarantine_async(entry))
    }

    fn quarantine_dropped(&self) -> u64 {
        self.dropped_from_quarantine()
    }

    fn list_quarantine(&self, limit: usize) -> Result<Vec<Quarantined>, StorageError> {
        block_on(self.list_quarantine_where_async(limit, limit, |_| true))
    }

    fn list_quarantine_where(
        &self,
        limit: usize,
        scan: usize,
        keep: &dyn Fn(&QuarantineEntry) -> bool,
    ) -> Result<Vec<Quarantined>, StorageError> {
        block_on(self.list_quarantine_where_async(limit, scan, keep))
    }

    fn get_value(&self, value: &ServerValue) -> Result<Option<Vec<u8>>, StorageError> {
        block_on(self.get_value_async(value))
    }

    fn put_value(&self, value: &ServerValue, bytes: &[u8]) -> Result<(), StorageError> {
        block_on(self.put_value_async(value, bytes))
    }

    fn values_in(&self, family: ValueFamily) -> Result<Vec<(ServerValue, Vec<u8>)>, StorageError> {
        block_on(self.values_in_async(family))
    }

    fn delete_value(&self, value: &ServerValue) -> Result<(), StorageError> {
        block_on(self.delete_value_async(value))
    }

    fn announcements(&self) -> Option<tokio::sync::broadcast::Receiver<Announcement>> {
        self.backend.announcements()
    }

    fn backup_to(&self, path: &Path) -> Result<BackupReport, StorageError> {
        let mut writer = BackupWriter::create(path)?;
        block_on(self.export_async(|key, value| writer.record(key, value)))?;
        writer.finish()
    }

    fn health(&self) -> StoreHealth {
        self.backend.health()
    }

    fn fresh(&self) -> super::FreshScope {
        self.backend.fresh()
    }

    fn read_cache_stats(&self) -> Option<(u64, u64, usize)> {
        self.backend.read_cache_stats()
    }

    fn prefetch(&self, ids: &[DocumentId], whole: &[DocumentId]) {
        block_on(self.backend.prefetch(prefetch_tags(ids, whole)));
    }

    fn prefetch_for_writes(&self, ids: &[DocumentId]) {
        let mut tags = prefetch_tags(ids, &[]);
        tags.extend(
            ids.iter()
                .map(|id| Tag::Key(Space::Meta, meta_name(&ServerValue::Removal(id.clone())))),
        );
        block_on(self.backend.prefetch(tags));
    }

    fn read_ahead(
        &self,
        ids: &[DocumentId],
        whole: &[DocumentId],
        seq: u64,
    ) -> Result<Vec<Option<Vec<[u8; 32]>>>, StorageError> {
        block_on(self.read_ahead_async(ids, whole, seq))
    }
}

/// What [`Storage::prefetch`] reads ahead: the metadata of `ids` and the
/// stored bytes of `whole`.
fn prefetch_tags(ids: &[DocumentId], whole: &[DocumentId]) -> Vec<Tag> {
    let mut tags = Vec::with_capacity(ids.len() + 2 * whole.len());
    for id in ids {
        tags.push(Tag::Key(Space::DocMeta, doc_key(id)));
    }
    for id in whole {
        tags.push(Tag::Key(Space::Snapshot, doc_key(id)));
        tags.push(Tag::Prefix(Space::Chunk, doc_key(id)));
    }
    tags
}

/// The reads of the heads each of `ids` had at `seq`: its last heads-log
/// entry at or before it.
fn heads_at_reads(ids: &[DocumentId], seq: u64) -> Vec<Read> {
    ids.iter()
        .map(|id| {
            let range = KeyRange::inclusive(doc_seq_key(id, 0), doc_seq_key(id, seq))
                .rev()
                .take(1);
            Read::Scan(Space::Heads, range)
        })
        .collect()
}

/// The answers to [`heads_at_reads`].
fn decode_heads_at(found: Vec<Found>) -> Result<Vec<Option<Vec<[u8; 32]>>>, StorageError> {
    found
        .into_iter()
        .map(|found| match found {
            Found::Entries(entries) => entries
                .into_iter()
                .next()
                .map(|(_, value)| decode_heads(&value, "heads log"))
                .transpose(),
            Found::Value(_) => Err(StorageError::Corrupt { what: "heads log" }),
        })
        .collect()
}
