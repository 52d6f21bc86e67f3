//! Stable machine error codes shared by every endpoint and both doors.
//!
//! Clients branch on [`ErrorCode`]; people read [`ErrorBody::message`]. The
//! code strings never change meaning once published. The same body is sent
//! as JSON on JSON endpoints and as CBOR in the batch sync envelope.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A stable machine-readable error code.
///
/// Unknown codes from a newer server decode as [`ErrorCode::Unknown`] so an
/// older client still sees an error, not a decoding failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed: undecodable CBOR or JSON, wrong types,
    /// missing fields, bad Automerge bytes.
    BadRequest,
    /// No credentials, or credentials that are not valid.
    Unauthorized,
    /// Valid credentials without the right to do this.
    Forbidden,
    /// The thing asked for does not exist (or is not visible to the caller).
    NotFound,
    /// A body, frame or document over the configured limit.
    TooLarge,
    /// A record that violates the schema, an immutable field or a limit.
    InvalidRecord,
    /// An envelope or protocol version this server does not speak.
    UnsupportedVersion,
    /// Too many requests from this device; retry later.
    RateLimited,
    /// The server cannot serve now (shutting down, storage full); retry later.
    Unavailable,
    /// The request conflicts with the current state (e.g. already enrolled).
    Conflict,
    /// A bug or an unexpected failure on the server.
    Internal,
    /// The record was removed by an administrator; its id takes no changes.
    Removed,
    /// A code this version does not know.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// Every known code, for documentation and tests.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::TooLarge,
        ErrorCode::InvalidRecord,
        ErrorCode::UnsupportedVersion,
        ErrorCode::RateLimited,
        ErrorCode::Unavailable,
        ErrorCode::Conflict,
        ErrorCode::Internal,
        ErrorCode::Removed,
    ];

    /// The wire string, e.g. `"invalid_record"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::InvalidRecord => "invalid_record",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Conflict => "conflict",
            ErrorCode::Internal => "internal",
            ErrorCode::Removed => "removed",
            ErrorCode::Unknown => "unknown",
        }
    }

    /// The HTTP status that goes with the code when a whole request fails.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::TooLarge => 413,
            ErrorCode::InvalidRecord => 422,
            ErrorCode::UnsupportedVersion => 400,
            ErrorCode::RateLimited => 429,
            ErrorCode::Unavailable => 503,
            ErrorCode::Removed => 410,
            ErrorCode::Internal | ErrorCode::Unknown => 500,
        }
    }

    /// A default human message, used when nothing more specific is known.
    pub fn default_message(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "the request could not be understood; check its format",
            ErrorCode::Unauthorized => {
                "missing or invalid device token; enroll the device or ask an admin for a new token"
            }
            ErrorCode::Forbidden => "this device is not allowed to do that in this place",
            ErrorCode::NotFound => "no such thing here",
            ErrorCode::TooLarge => "the request or record is larger than the server allows",
            ErrorCode::InvalidRecord => "the record does not satisfy the record schema",
            ErrorCode::UnsupportedVersion => {
                "this server does not speak that protocol version; update the app"
            }
            ErrorCode::RateLimited => "too many requests from this device; retry a little later",
            ErrorCode::Unavailable => "the server cannot take this now; retry later",
            ErrorCode::Conflict => "this conflicts with what the server already has",
            ErrorCode::Internal => "the server failed unexpectedly; the problem has been logged",
            ErrorCode::Removed => {
                "this record was removed by an administrator; its id takes no changes"
            }
            ErrorCode::Unknown => "the server reported an error this app does not know",
        }
    }

    /// Whether a client should retry the same request later unchanged.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::RateLimited | ErrorCode::Unavailable | ErrorCode::Internal
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as it is sent to clients: `{"code": "...", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<ErrorCode> for ErrorBody {
    fn from(code: ErrorCode) -> Self {
        Self::new(code, code.default_message())
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ErrorBody {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_their_wire_strings_in_json_and_cbor() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
            let mut cbor = Vec::new();
            ciborium::into_writer(&ErrorBody::from(code), &mut cbor).unwrap();
            let back: ErrorBody = ciborium::from_reader(cbor.as_slice()).unwrap();
            assert_eq!(back.code, code);
            assert!(!back.message.is_empty());
            assert!(code.http_status() >= 400);
        }
    }

    #[test]
    fn unknown_codes_from_newer_servers_still_decode() {
        let body: ErrorBody =
            serde_json::from_str(r#"{"code":"quota_exceeded","message":"m","extra":1}"#).unwrap();
        assert_eq!(body.code, ErrorCode::Unknown);
    }
}
