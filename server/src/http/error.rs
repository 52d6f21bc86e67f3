//! One error type for every HTTP endpoint: a status, a stable code and a
//! human message, written as CBOR on the batch door and JSON elsewhere.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use fengqiao_protocol::{ErrorBody, ErrorCode};

/// The body format an endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Cbor,
}

#[derive(Debug)]
pub struct ApiError {
    pub body: ErrorBody,
    pub format: Format,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>, format: Format) -> Self {
        Self {
            body: ErrorBody::new(code, message),
            format,
        }
    }

    pub fn unauthorized(format: Format) -> Self {
        Self::new(
            ErrorCode::Unauthorized,
            "missing or invalid device token: send `Authorization: Bearer <token>`; \
             ask an admin to enroll this device if it has none",
            format,
        )
    }

    pub fn internal(format: Format) -> Self {
        Self::new(
            ErrorCode::Internal,
            ErrorCode::Internal.default_message(),
            format,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.body.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match self.format {
            Format::Json => (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                serde_json::to_vec(&self.body).unwrap_or_default(),
            )
                .into_response(),
            Format::Cbor => {
                let mut bytes = Vec::new();
                let _ = ciborium::into_writer(&self.body, &mut bytes);
                (status, [(header::CONTENT_TYPE, "application/cbor")], bytes).into_response()
            }
        }
    }
}
