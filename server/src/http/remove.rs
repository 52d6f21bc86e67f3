//! `POST /v1/admin/records/{id}/remove`: an admin removes an abusive
//! record for good.
//!
//! Body: `{"reason": "…"}` (required, at most 500 characters). The record's
//! document, summary and counts go; neither door serves it again, the
//! statistics do not count it, and its id refuses new changes with
//! `removed`. The removal itself (who, when, why, the record's village)
//! is kept and returned. A scoped admin may only remove records of
//! villages inside its scope; any other record answers `not_found`, as a
//! record that does not exist does.

use axum::Json;
use axum::extract::{Path, State};
use fengqiao_protocol::{DocumentId, ErrorCode, Scope};
use serde::Deserialize;

use super::admin::Admin;
use super::body::JsonBody;
use super::{ApiError, Format, Shared};
use crate::engine::Removal;

/// The longest reason kept, in characters.
pub const MAX_REASON_CHARS: usize = 500;

#[derive(Deserialize)]
pub struct RemoveRequest {
    reason: String,
}

pub async fn remove(
    State(state): State<Shared>,
    admin: Admin,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<RemoveRequest>,
) -> Result<Json<Removal>, ApiError> {
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such record here", Format::Json);
    let id = DocumentId::parse(&id).map_err(|_| not_found())?;
    let reason = request.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("a removal needs a reason of 1 to {MAX_REASON_CHARS} characters"),
            Format::Json,
        ));
    }
    let by = match &admin {
        Admin::Server => "the server's admin token".to_owned(),
        Admin::Scoped {
            device,
            person,
            scope,
        } => format!("admin device {device} of {person} (scope {scope})"),
    };
    let engine = state.engine.clone();
    let removed = tokio::task::spawn_blocking(move || {
        engine.remove(&id, &by, &reason, |village| {
            admin.may_manage(&Scope::Village(village.clone()))
        })
    })
    .await
    .map_err(|_| ApiError::internal(Format::Json))?
    .map_err(|e| {
        let body = e.body();
        ApiError::new(body.code, body.message, Format::Json)
    })?;
    removed.map(Json).ok_or_else(not_found)
}
