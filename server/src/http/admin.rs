//! The admin API under `/v1/admin/` (JSON): the organisation, people,
//! devices and their tokens, and quarantined changes.
//!
//! Guarded by the server's admin token (created at first start in
//! `DATA/admin.token`, mode 0600, or taken from `FENGQIAO_ADMIN_TOKEN`),
//! or by a device enrolled with the `admin` role, which manages devices
//! within its own scope only. Record-holding roles are refused with
//! `forbidden`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use fengqiao_protocol::{DeviceId, ErrorCode, Scope};
use fengqiao_shared::access::{self, DeviceAccess, Role};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApiError, Format, Shared, token_from};
use crate::auth::constant_time_eq;
use crate::directory::{Device, DirectoryError, EnrollRequest, Org, Person};

/// Who is administering.
pub(super) enum Admin {
    /// The server's admin token: everything.
    Server,
    /// A device with the admin role: devices within its scope.
    Scoped(Scope),
}

impl Admin {
    pub(super) fn may_manage(&self, scope: &Scope) -> bool {
        match self {
            Admin::Server => true,
            Admin::Scoped(own) => own.covers(scope),
        }
    }
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Forbidden, message, Format::Json)
}

pub(super) fn admin_of(state: &Shared, headers: &HeaderMap) -> Result<Admin, ApiError> {
    let token = token_from(headers, None).ok_or_else(|| ApiError::unauthorized(Format::Json))?;
    if let Some(admin) = &state.admin_token
        && constant_time_eq(token.as_bytes(), admin.as_bytes())
    {
        return Ok(Admin::Server);
    }
    let identity = state
        .auth
        .authenticate(&token)
        .ok_or_else(|| ApiError::unauthorized(Format::Json))?;
    match identity.caller.access {
        Some(DeviceAccess {
            role: Role::Admin,
            scope,
            ..
        }) => Ok(Admin::Scoped(scope)),
        _ => Err(forbidden(
            "this token may not administer the server; use the admin token",
        )),
    }
}

fn directory_error(error: DirectoryError) -> ApiError {
    ApiError::new(error.code(), error.to_string(), Format::Json)
}

/// A device as listed: never its token or token hash.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceView {
    pub id: DeviceId,
    pub person: String,
    pub person_name: Option<String>,
    pub label: String,
    pub role: Role,
    pub scope: Scope,
    pub write: bool,
    pub created_at: i64,
    pub token_issued_at: i64,
    pub revoked_at: Option<i64>,
}

fn view(state: &Shared, device: &Device) -> DeviceView {
    DeviceView {
        id: device.id,
        person: device.person.clone(),
        person_name: state
            .engine
            .directory()
            .person(&device.person)
            .map(|p| p.name),
        label: device.label.clone(),
        role: device.access.role,
        scope: device.access.scope.clone(),
        write: device.access.write,
        created_at: device.created_at,
        token_issued_at: device.token_issued_at,
        revoked_at: device.revoked_at,
    }
}

/// What a phone needs to set itself up, shown as text and as a QR code.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SetupPayload {
    pub server: String,
    pub token: String,
    /// The enrolled device id: the phone's Automerge actors start with it.
    pub device: DeviceId,
}

fn public_url(state: &Shared, headers: &HeaderMap) -> String {
    if let Some(url) = &state.public_url {
        return url.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DirectoryError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::internal(Format::Json))?
        .map_err(directory_error)
}

pub async fn get_org(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Org>, ApiError> {
    admin_of(&state, &headers)?;
    Ok(Json(state.engine.directory().org()))
}

#[derive(Deserialize)]
pub struct OrgImport {
    /// `csv` or `toml`.
    format: String,
    text: String,
}

pub async fn import_org(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<OrgImport>,
) -> Result<Json<Value>, ApiError> {
    if !matches!(admin_of(&state, &headers)?, Admin::Server) {
        return Err(forbidden(
            "only the server's admin token may change the organisation",
        ));
    }
    let org = match body.format.as_str() {
        "csv" => Org::parse_csv(&body.text),
        "toml" => Org::parse_toml(&body.text),
        other => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("unknown format {other:?}: use \"csv\" or \"toml\""),
                Format::Json,
            ));
        }
    }
    .map_err(|e| directory_error(e.into()))?;
    let directory = state.engine.directory().clone();
    let report = blocking(move || directory.import_org(org)).await?;
    Ok(Json(json!(report)))
}

pub async fn list_people(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Vec<Person>>, ApiError> {
    admin_of(&state, &headers)?;
    Ok(Json(state.engine.directory().people()))
}

#[derive(Deserialize)]
pub struct NewPerson {
    id: String,
    name: String,
    #[serde(default)]
    phone: Option<String>,
}

pub async fn add_person(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<NewPerson>,
) -> Result<Json<Person>, ApiError> {
    admin_of(&state, &headers)?;
    let directory = state.engine.directory().clone();
    let person = blocking(move || directory.add_person(&body.id, &body.name, body.phone)).await?;
    Ok(Json(person))
}

pub async fn list_devices(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<Json<Vec<DeviceView>>, ApiError> {
    let admin = admin_of(&state, &headers)?;
    let devices = state
        .engine
        .directory()
        .devices()
        .iter()
        .filter(|d| admin.may_manage(&d.access.scope))
        .map(|d| view(&state, d))
        .collect();
    Ok(Json(devices))
}

pub async fn enroll(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(request): Json<EnrollRequest>,
) -> Result<Json<Value>, ApiError> {
    let admin = admin_of(&state, &headers)?;
    if !admin.may_manage(&request.scope) {
        return Err(forbidden(
            "you may only enroll devices within your own scope",
        ));
    }
    let directory = state.engine.directory().clone();
    let (device, token) = blocking(move || directory.enroll(request)).await?;
    let setup = SetupPayload {
        server: public_url(&state, &headers),
        token: token.0.clone(),
        device: device.id,
    };
    Ok(Json(json!({
        "device": view(&state, &device),
        "token": token.0,
        "setup": setup,
    })))
}

fn managed_device(state: &Shared, admin: &Admin, id: &str) -> Result<Device, ApiError> {
    let id: DeviceId = id.parse().map_err(|_| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("{id:?} is not a device id"),
            Format::Json,
        )
    })?;
    let device = state
        .engine
        .directory()
        .device(&id)
        .ok_or_else(|| directory_error(DirectoryError::UnknownDevice(id)))?;
    if !admin.may_manage(&device.access.scope) {
        return Err(directory_error(DirectoryError::UnknownDevice(id)));
    }
    Ok(device)
}

pub async fn rotate(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let admin = admin_of(&state, &headers)?;
    let device = managed_device(&state, &admin, &id)?;
    let directory = state.engine.directory().clone();
    let token = blocking(move || directory.rotate(&device.id)).await?;
    Ok(Json(json!({
        "token": token.0,
        "setup": SetupPayload {
            server: public_url(&state, &headers),
            token: token.0.clone(),
            device: device.id,
        },
    })))
}

pub async fn revoke(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<DeviceView>, ApiError> {
    let admin = admin_of(&state, &headers)?;
    let device = managed_device(&state, &admin, &id)?;
    let directory = state.engine.directory().clone();
    let device = blocking(move || directory.revoke(&device.id)).await?;
    Ok(Json(view(&state, &device)))
}

#[derive(Deserialize)]
pub struct AccessChange {
    role: Role,
    scope: Scope,
    #[serde(default)]
    write: bool,
}

pub async fn set_access(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(change): Json<AccessChange>,
) -> Result<Json<DeviceView>, ApiError> {
    let admin = admin_of(&state, &headers)?;
    let device = managed_device(&state, &admin, &id)?;
    if !admin.may_manage(&change.scope) {
        return Err(forbidden(
            "you may only assign scopes within your own scope",
        ));
    }
    let access = DeviceAccess {
        role: change.role,
        scope: change.scope,
        write: change.write,
    };
    let directory = state.engine.directory().clone();
    let device = blocking(move || directory.set_access(&device.id, access)).await?;
    Ok(Json(view(&state, &device)))
}

#[derive(Deserialize)]
pub struct QuarantineQuery {
    #[serde(default)]
    limit: Option<usize>,
}

pub async fn quarantine(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<QuarantineQuery>,
) -> Result<Json<Value>, ApiError> {
    admin_of(&state, &headers)?;
    let limit = query.limit.unwrap_or(100).min(10_000);
    let engine = state.engine.clone();
    let entries = tokio::task::spawn_blocking(move || engine.storage().list_quarantine(limit))
        .await
        .map_err(|_| ApiError::internal(Format::Json))?
        .map_err(|e| ApiError {
            body: e.to_error_body(),
            format: Format::Json,
        })?;
    let list: Vec<Value> = entries
        .iter()
        .map(|q| {
            json!({
                "id": q.id,
                "record": q.entry.doc,
                "device": q.entry.device,
                "at": q.entry.at,
                "reason": q.entry.reason,
                "code": q.entry.code,
                "bytes": q.entry.bytes.len(),
            })
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

/// Whether a device's access lets it read a record's audit trail.
pub fn may_read_audit(
    access: Option<&DeviceAccess>,
    village: &fengqiao_protocol::VillageCode,
) -> bool {
    access.is_none_or(|a| access::can_read_audit(a, village))
}

/// `GET /v1/me`: who a token belongs to, so a phone can set itself up from
/// a server URL and a token alone.
pub async fn me(State(state): State<Shared>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let identity = state.identify(&headers, None, Format::Json)?;
    let directory = state.engine.directory();
    let device = identity.caller.device.and_then(|id| directory.device(&id));
    Ok(Json(match device {
        Some(device) => json!({
            "device": device.id,
            "person": device.person,
            "personName": directory.person(&device.person).map(|p| p.name),
            "label": device.label,
            "role": device.access.role,
            "scope": device.access.scope,
            "write": device.access.write,
        }),
        None => json!({ "device": null, "role": null, "scope": null, "development": true }),
    }))
}

/// `GET /v1/admin/backup`: a consistent copy of the whole store, taken
/// while the server keeps serving (commits wait while it is written).
/// Restore it with `fengqiao restore FILE --data DIR`.
pub async fn backup(
    State(state): State<Shared>,
    headers: HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    if !matches!(admin_of(&state, &headers)?, Admin::Server) {
        return Err(forbidden("only the server's admin token may take backups"));
    }
    let path = state
        .data_dir
        .join(format!(".backup-{}", uuid::Uuid::new_v4()));
    let engine = state.engine.clone();
    let target = path.clone();
    let report = tokio::task::spawn_blocking(move || engine.storage().backup_to(&target))
        .await
        .map_err(|_| ApiError::internal(Format::Json))?;
    let report = match report {
        Ok(report) => report,
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            return Err(ApiError {
                body: e.to_error_body(),
                format: Format::Json,
            });
        }
    };
    let file = tokio::fs::File::open(&path).await;
    // The open handle keeps the data readable; the name goes at once.
    let _ = std::fs::remove_file(&path);
    let file = file.map_err(|_| ApiError::internal(Format::Json))?;
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file));
    axum::response::Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, report.bytes)
        .header(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"fengqiao.backup\"",
        )
        .body(body)
        .map_err(|_| ApiError::internal(Format::Json))
}
