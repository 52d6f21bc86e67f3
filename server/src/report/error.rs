//! Why a report could not be produced.
//!
//! One enum for the whole report layer; the HTTP handlers map it to an
//! [`ApiError`](crate::http::ApiError) with a stable code, and the command
//! line prints its message.

use fengqiao_protocol::ErrorCode;
use thiserror::Error;

use crate::storage::StorageError;

#[derive(Debug, Error)]
pub enum ReportError {
    /// A query parameter that cannot mean anything; the message names it
    /// and says what is expected.
    #[error("{0}")]
    BadParameter(String),
    /// No such record, or one the caller may not see (the two are not told
    /// apart, so existence is not leaked).
    #[error("no such record")]
    NotFound,
    /// The caller may not do this here; the message says why.
    #[error("{0}")]
    Forbidden(String),
    /// A stored document that does not read as a record.
    #[error("the stored record cannot be read: {0}")]
    Unreadable(String),
    /// An export file could not be written.
    #[error("the export could not be written: {0}")]
    Write(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ReportError {
    pub fn bad(message: impl Into<String>) -> Self {
        Self::BadParameter(message.into())
    }

    /// The stable machine code of this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            ReportError::BadParameter(_) => ErrorCode::BadRequest,
            ReportError::NotFound => ErrorCode::NotFound,
            ReportError::Forbidden(_) => ErrorCode::Forbidden,
            ReportError::Unreadable(_) | ReportError::Write(_) => ErrorCode::Internal,
            ReportError::Storage(e) => e.code(),
        }
    }
}

impl From<std::io::Error> for ReportError {
    fn from(error: std::io::Error) -> Self {
        ReportError::Write(error.to_string())
    }
}
