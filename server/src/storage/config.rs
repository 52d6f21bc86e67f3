//! How a store is opened: where it lives and how much memory it may use.
//!
//! Memory is bounded by [`StorageConfig::cache_bytes`], whatever the number
//! of stored records: documents are read from disk on demand and only the
//! page cache holds them. Opening reads two keys (the schema version and the
//! last sequence number) and never walks per-record data, so start-up time
//! does not grow with the number of records either (the storage engine's own
//! recovery replays only the log written since its last checkpoint).

use std::path::PathBuf;

/// The default page cache size: 64 MiB.
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Where and how to open a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    /// The directory of the store; created if missing.
    pub path: PathBuf,
    /// Upper bound of the page cache, in bytes.
    pub cache_bytes: u64,
    /// Period of the storage engine's own background flush, in milliseconds.
    ///
    /// `None` (the default) turns it off: every commit is flushed explicitly
    /// by the group-commit flusher before it is acknowledged, so a periodic
    /// flush would only add disk writes. Writes that do not wait for a flush
    /// (per-peer sync states) reach the disk with the next commit's flush.
    pub flush_every_ms: Option<u64>,
    /// How much the quarantine of refused changes keeps.
    pub quarantine: super::QuarantineBounds,
}

impl StorageConfig {
    /// The defaults for a store in `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            cache_bytes: DEFAULT_CACHE_BYTES,
            flush_every_ms: None,
            quarantine: super::QuarantineBounds::default(),
        }
    }

    /// The same configuration with another cache size.
    pub fn with_cache_bytes(mut self, cache_bytes: u64) -> Self {
        self.cache_bytes = cache_bytes;
        self
    }
}
