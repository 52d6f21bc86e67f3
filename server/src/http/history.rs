//! A record's audit trail (`GET /v1/records/{id}/history`, for a bearer token
//! or a dashboard session, and the case page) — every change
//! with its time, device, person and what it did — read from the document's
//! own history. For roles that oversee (supervisor, town, district) within
//! their scope.

use fengqiao_protocol::{DeviceId, DocumentId, ErrorCode};
use fengqiao_shared::access::{DeviceDirectory, native_device_of};
use serde::Serialize;

use super::admin::may_read_audit;
use super::audit_words::{Lang, sentence};
use super::people::Names;
use super::{ApiError, Format, Shared};

/// One line of the audit trail.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub hash: String,
    pub at: i64,
    pub actor: String,
    pub device: Option<DeviceId>,
    pub device_label: Option<String>,
    pub person: Option<String>,
    pub person_name: Option<String>,
    /// The role of the person's devices (`cadre`, `town`, …).
    pub person_role: Option<fengqiao_shared::access::Role>,
    /// The change's own description, as its author wrote it.
    pub summary: String,
    /// What the change did, in Chinese.
    pub text_zh: String,
    /// What the change did, in English.
    pub text_en: String,
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such record", Format::Json)
}

/// The audit trail of a record, for a caller allowed to read it.
pub fn audit_trail(
    state: &Shared,
    caller: &crate::engine::Caller,
    id: &DocumentId,
) -> Result<Vec<HistoryEntry>, ApiError> {
    let engine_error =
        |e: crate::engine::DocError| ApiError::new(e.code(), e.to_string(), Format::Json);
    let Some(village) = state.engine.village_of(id).map_err(engine_error)? else {
        // A record an admin removed: its trail is the removal.
        let removal = state
            .engine
            .removal(id)
            .map_err(engine_error)?
            .filter(|r| caller.can_read(&r.village))
            .filter(|r| may_read_audit(caller.access.as_ref(), &r.village))
            .ok_or_else(not_found)?;
        let summary = format!("removed by an administrator: {}", removal.reason);
        let names = Names::of(state.engine.directory().as_ref());
        return Ok(vec![HistoryEntry {
            hash: String::new(),
            at: removal.at,
            actor: String::new(),
            device: None,
            device_label: Some(removal.by),
            person: None,
            person_name: None,
            person_role: None,
            text_zh: sentence(&summary, &names, Lang::Zh),
            text_en: sentence(&summary, &names, Lang::En),
            summary,
        }]);
    };
    if !caller.can_read(&village) {
        return Err(not_found());
    }
    if !may_read_audit(caller.access.as_ref(), &village) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "the audit trail is for supervisors and officials of this place",
            Format::Json,
        ));
    }
    let changes = state
        .engine
        .history(caller, id)
        .map_err(|e| ApiError::new(e.code(), e.to_string(), Format::Json))?
        .ok_or_else(not_found)?;
    let directory = state.engine.directory();
    let names = Names::of(directory.as_ref());
    let mut entries: Vec<HistoryEntry> = changes
        .into_iter()
        .map(|c| {
            let device = native_device_of(&c.actor).or_else(|| directory.bound_device(&c.actor));
            let record = device.and_then(|d| directory.device(&d));
            let person = record.as_ref().and_then(|d| directory.person(&d.person));
            let summary = c
                .message
                .unwrap_or_else(|| format!("{} operations (no description)", c.operations));
            HistoryEntry {
                hash: c.hash.to_string(),
                at: c.time,
                actor: c.actor.iter().map(|b| format!("{b:02x}")).collect(),
                device,
                device_label: record.as_ref().map(|d| d.label.clone()),
                person: record.as_ref().map(|d| d.person.clone()),
                person_role: record.as_ref().and_then(|d| names.role(&d.person)),
                person_name: person.map(|p| p.name),
                text_zh: sentence(&summary, &names, Lang::Zh),
                text_en: sentence(&summary, &names, Lang::En),
                summary,
            }
        })
        .collect();
    // In time order (the history's causal order groups each device's
    // changes); a stable sort keeps causal order among equal times.
    entries.sort_by_key(|e| e.at);
    Ok(entries)
}
