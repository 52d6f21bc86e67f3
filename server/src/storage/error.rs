//! The one error type of the storage boundary.
//!
//! Callers branch on two questions: should the client retry later (the disk
//! is full or failing, the store is closing: [`ErrorCode::Unavailable`]), or
//! is this a fault on the server that retrying will not cure (corrupt stored
//! bytes, a request the storage refuses: [`ErrorCode::Internal`])?
//! [`StorageError::code`] answers it, so the HTTP layer maps every failure
//! without knowing which backend produced it. No variant carries a backend
//! type: a PostgreSQL backend reports through the same enum.

use std::io;

use fengqiao_protocol::{ErrorBody, ErrorCode};
use thiserror::Error;

/// Why a storage operation failed.
#[derive(Debug, Error)]
pub enum StorageError {
    /// Reading or writing the disk failed. Usually transient (or a failing
    /// disk an operator must look at); the operation may be retried.
    #[error("storage I/O failed: {0}")]
    Io(#[source] io::Error),

    /// The disk is full. Nothing more can be stored until space is freed.
    #[error("the storage disk is full; free space and retry")]
    Full,

    /// The store is shutting down and takes no more writes.
    #[error("the storage is closing")]
    Closing,

    /// Stored bytes do not decode. `what` names the kind of record (never
    /// its contents). The process does not panic; the operation fails.
    #[error("stored {what} is corrupt")]
    Corrupt { what: &'static str },

    /// A value could not be encoded for storage (a bug, never bad input).
    #[error("could not encode {what} for storage")]
    Encode { what: &'static str },

    /// The operation contradicts what is stored: a commit expected another
    /// sequence number for its document, or a compaction was computed from
    /// a state that has since been replaced. Reload and try again.
    #[error("conflicting write: {reason}")]
    Conflict { reason: String },

    /// The operation is malformed (a bug in the caller): e.g. a commit whose
    /// summary describes another document. Nothing was written.
    #[error("invalid storage operation: {reason}")]
    Invalid { reason: String },

    /// The store on disk was written by a newer or unknown schema.
    #[error(
        "storage schema version {found} is not supported (this server reads version {supported})"
    )]
    IncompatibleSchema { found: u32, supported: u32 },

    /// A backup file is unreadable, truncated or fails its checksum.
    #[error("backup file is not usable: {reason}")]
    BadBackup { reason: String },

    /// The storage engine reported a failure of its own (not an I/O error).
    #[error("storage engine failure: {message}")]
    Backend { message: String },
}

impl StorageError {
    /// The machine code a request that failed on this error answers with:
    /// `unavailable` (retry later) for I/O failures, a full disk and a
    /// closing store; `conflict` for conflicting writes; `internal` for
    /// everything else.
    pub fn code(&self) -> ErrorCode {
        match self {
            StorageError::Io(_) | StorageError::Full | StorageError::Closing => {
                ErrorCode::Unavailable
            }
            StorageError::Conflict { .. } => ErrorCode::Conflict,
            StorageError::Corrupt { .. }
            | StorageError::Encode { .. }
            | StorageError::Invalid { .. }
            | StorageError::IncompatibleSchema { .. }
            | StorageError::BadBackup { .. }
            | StorageError::Backend { .. } => ErrorCode::Internal,
        }
    }

    /// Whether the same operation may succeed if simply tried again later.
    /// A conflict is not: the caller must reload and recompute first.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StorageError::Io(_) | StorageError::Full | StorageError::Closing
        )
    }

    /// The body sent to a client. Internal details (which record is
    /// corrupt, paths) stay in the server's log, not in the response.
    pub fn to_error_body(&self) -> ErrorBody {
        match self {
            StorageError::Full => ErrorBody::new(
                ErrorCode::Unavailable,
                "the server's storage is full; retry later",
            ),
            other => ErrorBody::from(other.code()),
        }
    }

    /// Classifies an I/O error, recognising a full disk.
    pub fn from_io(error: io::Error) -> Self {
        const ENOSPC: i32 = 28;
        if error.kind() == io::ErrorKind::StorageFull || error.raw_os_error() == Some(ENOSPC) {
            StorageError::Full
        } else {
            StorageError::Io(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_failures_are_retryable_and_corruption_is_internal() {
        let full = StorageError::from_io(io::Error::from_raw_os_error(28));
        assert!(matches!(full, StorageError::Full));
        assert_eq!(full.code(), ErrorCode::Unavailable);
        assert!(full.is_retryable());
        assert_eq!(full.to_error_body().code, ErrorCode::Unavailable);

        let io = StorageError::from_io(io::Error::other("disk went away"));
        assert!(matches!(io, StorageError::Io(_)));
        assert_eq!(io.code(), ErrorCode::Unavailable);

        let corrupt = StorageError::Corrupt { what: "document" };
        assert_eq!(corrupt.code(), ErrorCode::Internal);
        assert!(!corrupt.is_retryable());
        assert!(!corrupt.to_error_body().message.contains("document"));
    }
}
