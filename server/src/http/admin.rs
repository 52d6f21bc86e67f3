//! The admin API under `/v1/admin/` (JSON): the organisation, people,
//! devices and their tokens, and quarantined changes.
//!
//! Guarded by the server's admin token (created at first start in
//! `DATA/admin.token`, mode 0600, or taken from `FENGQIAO_ADMIN_TOKEN`),
//! or by a device enrolled with the `admin` role: the admin door in front
//! of every route of [`super::ADMIN_ROUTES`] ([`super::door`]) decides,
//! and handlers take its answer as [`Admin`]. Record-holding roles are
//! refused with `forbidden`. JSON bodies are [`super::body::JsonBody`]s.
//!
//! A scoped admin (a device with the `admin` role) sees and changes only
//! what lies inside its scope: people whose place lies inside it, devices
//! whose scope does, the places of its scope, and quarantined changes its
//! devices sent. Anything else answers as if it did not exist. It may not
//! give a device a scope outside its own, nor an admin device its own scope
//! (no peers), nor manage other admin devices of its level, nor enroll,
//! reassign or register for the person holding the admin device itself
//! (the admin above does that). The organisation and backups belong to the server's admin token.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use fengqiao_protocol::{DeviceId, ErrorCode, Scope};
use fengqiao_shared::access::{self, DeviceAccess, Role};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::body::JsonBody;
use super::door::Caller;
use super::{ApiError, Format, Shared};
use crate::directory::{Device, DirectoryError, EnrollRequest, Org, Person};

/// Who is administering: put in the request by the admin door
/// ([`super::door::admin_of`]), taken by handlers as an extractor.
#[derive(Debug, Clone)]
pub enum Admin {
    /// The server's admin token: everything.
    Server,
    /// A device with the admin role: people and devices within its scope.
    Scoped {
        device: DeviceId,
        /// The person holding the admin device.
        person: String,
        scope: Scope,
    },
}

impl Admin {
    pub(super) fn may_manage(&self, scope: &Scope) -> bool {
        match self {
            Admin::Server => true,
            Admin::Scoped { scope: own, .. } => own.covers(scope),
        }
    }

    /// Whether the admin may rotate, revoke or reassign a device: one inside
    /// its scope, but no other admin device of its own level (its peers and
    /// itself answer to the admin above), except its own for a new token or
    /// revocation.
    fn may_manage_device(&self, device: &Device) -> bool {
        match self {
            Admin::Server => true,
            Admin::Scoped {
                device: own, scope, ..
            } => {
                scope.covers(&device.access.scope)
                    && (device.access.role != Role::Admin
                        || device.access.scope != *scope
                        || device.id == *own)
            }
        }
    }

    /// Whether the admin may give a device this role and scope: inside its
    /// own scope, and an admin device only over a narrower one, so no admin
    /// makes a peer that could act for it.
    fn may_grant(&self, role: Role, scope: &Scope) -> bool {
        match self {
            Admin::Server => true,
            Admin::Scoped { scope: own, .. } => {
                own.covers(scope) && (role != Role::Admin || scope != own)
            }
        }
    }

    /// Whether the admin sees and manages a person.
    fn may_manage_person(&self, person: &Person) -> bool {
        match self {
            Admin::Server => true,
            Admin::Scoped { scope, .. } => person.lies_within(scope),
        }
    }

    /// Whether the admin may enroll, reassign or register for `person`:
    /// never for the person holding the admin device, who would otherwise
    /// grant itself record access.
    fn may_act_for(&self, person: &str) -> bool {
        match self {
            Admin::Server => true,
            Admin::Scoped { person: own, .. } => own != person,
        }
    }

    /// Who acted, for the log.
    fn name(&self) -> String {
        match self {
            Admin::Server => "the admin token".to_owned(),
            Admin::Scoped { device, .. } => format!("admin device {device}"),
        }
    }
}

fn not_yourself() -> ApiError {
    forbidden(
        "an admin may not enroll, reassign or register for the person holding its own \
         device; ask another admin",
    )
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Forbidden, message, Format::Json)
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

/// What follows `#setup=` in a set-up link.
pub const SETUP_FRAGMENT: &str = "#setup=";

impl SetupPayload {
    /// The link a phone opens to set the field app up:
    /// `<server>/field#setup=<the payload as base64url JSON>`. The payload
    /// travels in the fragment, which browsers never send to a server; the
    /// app removes it from the address bar and the history at once.
    pub fn link(&self) -> String {
        use base64::Engine as _;
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!(
            "{}/field{SETUP_FRAGMENT}{}",
            self.server.trim_end_matches('/'),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
        )
    }

    /// The payload's JSON from what a person pasted: the JSON itself, a
    /// set-up link, or the base64url text of one.
    pub fn json_from_text(text: &str) -> Option<String> {
        use base64::Engine as _;
        let text = text.trim();
        if text.starts_with('{') {
            return Some(text.to_owned());
        }
        let encoded = text
            .rsplit_once(SETUP_FRAGMENT)
            .map_or(text, |(_, encoded)| encoded);
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded.trim_end_matches('='))
            .ok()?;
        String::from_utf8(bytes).ok()
    }
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

pub async fn get_org(State(state): State<Shared>, admin: Admin) -> Result<Json<Org>, ApiError> {
    let org = state.engine.directory().org();
    Ok(Json(match admin {
        Admin::Server => org,
        Admin::Scoped { scope, .. } => org_within(org, &scope),
    }))
}

/// The places a scoped admin sees: those inside its scope and the ones
/// containing it.
fn org_within(org: Org, scope: &Scope) -> Org {
    let related = |code: &str| code.starts_with(scope.prefix()) || scope.prefix().starts_with(code);
    Org {
        districts: org
            .districts
            .into_iter()
            .filter(|(code, _)| related(code.as_str()))
            .collect(),
        towns: org
            .towns
            .into_iter()
            .filter(|(code, _)| related(code.as_str()))
            .collect(),
        villages: org
            .villages
            .into_iter()
            .filter(|(code, _)| related(code.as_str()))
            .collect(),
        district_limits: org
            .district_limits
            .into_iter()
            .filter(|(code, _)| related(code.as_str()))
            .collect(),
        town_limits: org
            .town_limits
            .into_iter()
            .filter(|(code, _)| related(code.as_str()))
            .collect(),
    }
}

#[derive(Deserialize)]
pub struct OrgImport {
    /// `csv` or `toml`.
    format: String,
    text: String,
}

pub async fn import_org(
    State(state): State<Shared>,
    admin: Admin,
    JsonBody(body): JsonBody<OrgImport>,
) -> Result<Json<Value>, ApiError> {
    if !matches!(admin, Admin::Server) {
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
    admin: Admin,
) -> Result<Json<Vec<Person>>, ApiError> {
    let people = state.engine.directory().people();
    Ok(Json(
        people
            .into_iter()
            .filter(|p| admin.may_manage_person(p))
            .collect(),
    ))
}

#[derive(Deserialize)]
pub struct NewPerson {
    id: String,
    name: String,
    #[serde(default)]
    phone: Option<String>,
    /// Where the person works; required from a scoped admin.
    #[serde(default)]
    scope: Option<Scope>,
}

pub async fn add_person(
    State(state): State<Shared>,
    admin: Admin,
    JsonBody(body): JsonBody<NewPerson>,
) -> Result<Json<Person>, ApiError> {
    if let Admin::Scoped { scope: own, .. } = &admin {
        match &body.scope {
            Some(scope) if own.covers(scope) => {}
            Some(_) => {
                return Err(forbidden(
                    "you may only register people working within your own scope",
                ));
            }
            None => {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    format!("say where the person works: add \"scope\" (within {own})"),
                    Format::Json,
                ));
            }
        }
        if let Some(existing) = state.engine.directory().person(body.id.trim())
            && !admin.may_manage_person(&existing)
        {
            // Another scope's person: its details stay hidden.
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "this person id is taken; choose another",
                Format::Json,
            ));
        }
        if !admin.may_act_for(body.id.trim()) {
            return Err(not_yourself());
        }
    }
    let directory = state.engine.directory().clone();
    let person =
        blocking(move || directory.add_person_in(&body.id, &body.name, body.phone, body.scope))
            .await?;
    tracing::info!(person = %person.id, by = %admin.name(), "person registered");
    Ok(Json(person))
}

pub async fn list_devices(
    State(state): State<Shared>,
    admin: Admin,
) -> Result<Json<Vec<DeviceView>>, ApiError> {
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
    admin: Admin,
    headers: HeaderMap,
    JsonBody(request): JsonBody<EnrollRequest>,
) -> Result<Json<Value>, ApiError> {
    if !admin.may_grant(request.role, &request.scope) {
        return Err(forbidden(
            "you may only enroll devices within your own scope, and admin devices only \
             over a narrower one",
        ));
    }
    if !matches!(admin, Admin::Server) {
        // A person outside the admin's scope answers as an unknown one.
        let visible = state
            .engine
            .directory()
            .person(&request.person)
            .is_some_and(|p| admin.may_manage_person(&p));
        if !visible {
            return Err(directory_error(DirectoryError::UnknownPerson(
                request.person.clone(),
            )));
        }
        if !admin.may_act_for(&request.person) {
            return Err(not_yourself());
        }
    }
    let directory = state.engine.directory().clone();
    let (device, token) = blocking(move || directory.enroll(request)).await?;
    tracing::info!(device = %device.id, role = %device.access.role, scope = %device.access.scope,
        by = %admin.name(), "device enrolled");
    let setup = SetupPayload {
        server: public_url(&state, &headers),
        token: token.0.clone(),
        device: device.id,
    };
    Ok(Json(json!({
        "device": view(&state, &device),
        "token": token.0,
        "link": setup.link(),
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
    if !admin.may_manage_device(&device) {
        return Err(directory_error(DirectoryError::UnknownDevice(id)));
    }
    Ok(device)
}

pub async fn rotate(
    State(state): State<Shared>,
    admin: Admin,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let device = managed_device(&state, &admin, &id)?;
    let directory = state.engine.directory().clone();
    let token = blocking(move || directory.rotate(&device.id)).await?;
    tracing::info!(device = %device.id, by = %admin.name(), "device token rotated");
    let setup = SetupPayload {
        server: public_url(&state, &headers),
        token: token.0.clone(),
        device: device.id,
    };
    Ok(Json(json!({
        "token": token.0,
        "link": setup.link(),
        "setup": setup,
    })))
}

pub async fn revoke(
    State(state): State<Shared>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<DeviceView>, ApiError> {
    let device = managed_device(&state, &admin, &id)?;
    let directory = state.engine.directory().clone();
    let device = blocking(move || directory.revoke(&device.id)).await?;
    tracing::info!(device = %device.id, by = %admin.name(), "device revoked");
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
    admin: Admin,
    Path(id): Path<String>,
    JsonBody(change): JsonBody<AccessChange>,
) -> Result<Json<DeviceView>, ApiError> {
    let device = managed_device(&state, &admin, &id)?;
    if !admin.may_grant(change.role, &change.scope) {
        return Err(forbidden(
            "you may only assign scopes within your own scope, and the admin role only \
             over a narrower one",
        ));
    }
    if !admin.may_act_for(&device.person) {
        return Err(not_yourself());
    }
    let access = DeviceAccess {
        role: change.role,
        scope: change.scope,
        write: change.write,
    };
    let directory = state.engine.directory().clone();
    let device = blocking(move || directory.set_access(&device.id, access)).await?;
    tracing::info!(device = %device.id, role = %device.access.role, scope = %device.access.scope,
        by = %admin.name(), "device reassigned");
    Ok(Json(view(&state, &device)))
}

/// Quarantined changes a scoped admin's listing looks through at most,
/// newest first, to find its own devices' ones.
const QUARANTINE_SCAN: usize = 10_000;

#[derive(Deserialize)]
pub struct QuarantineQuery {
    #[serde(default)]
    limit: Option<usize>,
}

pub async fn quarantine(
    State(state): State<Shared>,
    admin: Admin,
    Query(query): Query<QuarantineQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = query.limit.unwrap_or(100).min(10_000);
    let engine = state.engine.clone();
    // A scoped admin sees what its own devices sent, nothing else.
    let directory = state.engine.directory().clone();
    let managed = move |entry: &crate::storage::QuarantineEntry| match &admin {
        Admin::Server => true,
        Admin::Scoped { .. } => entry
            .device
            .and_then(|id| directory.device(&id))
            .is_some_and(|device| admin.may_manage(&device.access.scope)),
    };
    let entries = tokio::task::spawn_blocking(move || {
        engine
            .storage()
            .list_quarantine_where(limit, QUARANTINE_SCAN, &managed)
    })
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

/// `GET /v1/admin/records/{id}/history`: a record's audit trail for the
/// server's admin token (`fengqiao admin history`). Admin devices hold no
/// records and read no audit trail; officials read it at
/// `/v1/records/{id}/history`.
pub async fn record_history(
    State(state): State<Shared>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<Vec<super::HistoryEntry>>, ApiError> {
    if !matches!(admin, Admin::Server) {
        return Err(forbidden(
            "admin devices do not read records; only the server's admin token reads any \
             record's audit trail",
        ));
    }
    let id = fengqiao_protocol::DocumentId::parse_any(&id).map_err(|e| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!(
                "{:?} is not a record id: {e}",
                id.chars().take(60).collect::<String>()
            ),
            Format::Json,
        )
    })?;
    let entries = tokio::task::spawn_blocking(move || {
        super::audit_trail(&state, &crate::engine::Caller::unrestricted(), &id)
    })
    .await
    .map_err(|_| ApiError::internal(Format::Json))??;
    Ok(Json(entries))
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
pub async fn me(
    State(state): State<Shared>,
    Caller(identity): Caller,
) -> Result<Json<Value>, ApiError> {
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

/// `GET /v1/people`: the names of the people a device works beside, so
/// phones show "李梅" instead of a person id in timelines and merge notes:
/// everyone whose place (the person's own scope, or a device's) lies
/// within the caller's scope or contains it. Ids and names only.
pub async fn people(
    State(state): State<Shared>,
    Caller(identity): Caller,
) -> Result<Json<Value>, ApiError> {
    let directory = state.engine.directory();
    let caller = identity
        .caller
        .device
        .and_then(|id| directory.device(&id))
        .map(|device| device.access.scope);
    let devices = directory.devices();
    let near = |scope: &Scope| {
        caller
            .as_ref()
            .is_none_or(|mine| mine.covers(scope) || scope.covers(mine))
    };
    let mut people: Vec<Value> = directory
        .people()
        .into_iter()
        .filter(|person| {
            person.scope.as_ref().is_some_and(near)
                || devices
                    .iter()
                    .any(|d| d.person == person.id && !d.is_revoked() && near(&d.access.scope))
        })
        .map(|person| json!({ "id": person.id, "name": person.name }))
        .collect();
    people.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Ok(Json(json!({ "people": people })))
}

/// `GET /v1/admin/backup`: a consistent copy of the whole store, taken
/// while the server keeps serving (commits wait while it is written).
/// Restore it with `fengqiao restore FILE --data DIR`.
pub async fn backup(
    State(state): State<Shared>,
    admin: Admin,
) -> Result<axum::response::Response, ApiError> {
    if !matches!(admin, Admin::Server) {
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
