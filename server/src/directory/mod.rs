//! The directory: the organisation, the people who work in it, their
//! enrolled devices with roles, scopes and tokens, and which device each
//! foreign Automerge actor is bound to.
//!
//! - **Tokens** are 256 random bits, shown once at enrollment or rotation
//!   and stored only as their SHA-256 hash. Lookup is by hash, in memory.
//! - **Revocation** takes effect on the next request (the token no longer
//!   resolves) and is announced to open WebSocket connections and dashboard
//!   event streams through [`Directory::subscribe_revocations`], which close
//!   them.
//! - **People's places**: a person may have a scope, the place they work
//!   in; their devices' scopes lie inside it, and scoped admins manage only
//!   the people whose place lies inside their own scope.
//! - **Scope changes** (reassignment) take effect at once; the batch door
//!   tells the phone which records to purge at its next sync.
//! - **Actor bindings**: an Automerge actor that is not native
//!   (`device id ‖ 4 bytes`) is bound to the first device that uploads an
//!   accepted change by it; later changes by that actor count as that
//!   device's.
//!
//! People and devices are few (a district has hundreds to a few thousand
//! phones) and are kept in memory, persisted as one value in storage on
//! every change. Actor bindings are many and are read from storage on
//! demand, so start-up reads none of them.

pub mod org;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use fengqiao_protocol::{DeviceId, ErrorCode, Scope, VillageCode};
use fengqiao_shared::Millis;
use fengqiao_shared::access::{DeviceAccess, DeviceDirectory, Role};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::sync::broadcast;

use crate::clock::SharedClock;
use crate::storage::{ServerValue, Storage, StorageError, ValueFamily};
pub use org::{ImportReport, Org, OrgError};

fn person_key(id: &str) -> ServerValue {
    ServerValue::Person(id.to_owned())
}

fn device_key(id: &DeviceId) -> ServerValue {
    ServerValue::Device(*id)
}

/// Text that starts every device token, so a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "fq_";

/// Why a directory operation failed.
#[derive(Debug, Error)]
pub enum DirectoryError {
    #[error("no person with id {0:?}; register the person first")]
    UnknownPerson(String),
    #[error("no device {0}")]
    UnknownDevice(DeviceId),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Org(#[from] OrgError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl DirectoryError {
    pub fn code(&self) -> ErrorCode {
        match self {
            DirectoryError::UnknownPerson(_) | DirectoryError::UnknownDevice(_) => {
                ErrorCode::NotFound
            }
            DirectoryError::Invalid(_) | DirectoryError::Org(_) => ErrorCode::BadRequest,
            DirectoryError::Conflict(_) => ErrorCode::Conflict,
            DirectoryError::Storage(e) => e.code(),
        }
    }
}

/// A person who uses devices: a cadre, an official, a supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    /// Stable id; written as `createdBy` and `by` in records.
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Where the person works: a district, town or village. The person's
    /// devices lie inside it, and only admins whose scope covers it see
    /// and manage the person. `None` (people registered before places were
    /// given) leaves the person to the server's admin token alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    pub created_at: Millis,
}

impl Person {
    /// Whether an admin over `scope` sees and manages this person.
    pub fn lies_within(&self, scope: &Scope) -> bool {
        self.scope.as_ref().is_some_and(|own| scope.covers(own))
    }
}

/// An enrolled device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub id: DeviceId,
    /// The person holding it.
    pub person: String,
    /// A name for people, e.g. "张三的手机".
    pub label: String,
    pub access: DeviceAccess,
    pub created_at: Millis,
    pub token_issued_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Millis>,
    #[serde(with = "serde_bytes")]
    token_hash: Vec<u8>,
}

impl Device {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// A freshly issued token: shown once, never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken(pub String);

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct People {
    people: BTreeMap<String, Person>,
    devices: BTreeMap<DeviceId, Device>,
}

#[derive(Default)]
struct State {
    people: People,
    by_token: HashMap<Vec<u8>, DeviceId>,
    org: Org,
}

/// What an admin enters to enroll a device.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollRequest {
    pub person: String,
    #[serde(default)]
    pub label: String,
    pub role: Role,
    pub scope: Scope,
    #[serde(default)]
    pub write: bool,
}

pub struct Directory {
    storage: Arc<dyn Storage>,
    state: RwLock<State>,
    /// Actor bindings read from storage. Only bindings found are kept:
    /// an actor bound by a commit ([`crate::storage::CommitBatch::bindings`])
    /// was unbound when the engine looked, so no entry here contradicts it.
    bindings: RwLock<HashMap<Vec<u8>, DeviceId>>,
    revocations: broadcast::Sender<DeviceId>,
    /// Stamps people and devices.
    clock: SharedClock,
}

fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn new_token() -> Result<IssuedToken, DirectoryError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| DirectoryError::Invalid(format!("no randomness for a token: {e}")))?;
    Ok(IssuedToken(format!(
        "{TOKEN_PREFIX}{}",
        bs58::encode(bytes).into_string()
    )))
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("serializing into memory cannot fail");
    out
}

fn decode<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, StorageError> {
    ciborium::from_reader(bytes).map_err(|_| StorageError::Corrupt { what })
}

impl Directory {
    /// Loads the organisation and the people and devices from storage,
    /// on the system clock.
    pub fn open(storage: Arc<dyn Storage>) -> Result<Self, StorageError> {
        Self::open_with_clock(storage, SharedClock::system())
    }

    /// Loads the organisation and the people and devices from storage;
    /// `clock` stamps the people and devices added, tokens issued and
    /// revocations.
    pub fn open_with_clock(
        storage: Arc<dyn Storage>,
        clock: SharedClock,
    ) -> Result<Self, StorageError> {
        let org = match storage.get_value(&ServerValue::Org)? {
            Some(bytes) => decode(&bytes, "organisation")?,
            None => Org::default(),
        };
        let mut people = Self::load_people(storage.as_ref())?;
        let legacy: People = match storage.get_value(&ServerValue::LegacyPeople)? {
            Some(bytes) => decode(&bytes, "people and devices")?,
            None => People::default(),
        };
        if !legacy.people.is_empty() || !legacy.devices.is_empty() {
            // Written one by one first, then the old value emptied: a crash
            // in between leaves both, and the single entries win.
            for (id, person) in legacy.people {
                if let std::collections::btree_map::Entry::Vacant(entry) = people.people.entry(id) {
                    storage.put_value(&person_key(&person.id), &encode(&person))?;
                    entry.insert(person);
                }
            }
            for (id, device) in legacy.devices {
                if let std::collections::btree_map::Entry::Vacant(entry) = people.devices.entry(id)
                {
                    storage.put_value(&device_key(&device.id), &encode(&device))?;
                    entry.insert(device);
                }
            }
            storage.put_value(&ServerValue::LegacyPeople, &encode(&People::default()))?;
        }
        let by_token = people
            .devices
            .values()
            .map(|d| (d.token_hash.clone(), d.id))
            .collect();
        let (revocations, _) = broadcast::channel(256);
        Ok(Self {
            storage,
            state: RwLock::new(State {
                people,
                by_token,
                org,
            }),
            bindings: RwLock::new(HashMap::new()),
            clock,
            revocations,
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Every person and device stored, each under its own key.
    fn load_people(storage: &dyn Storage) -> Result<People, StorageError> {
        let mut people = People::default();
        for (_, bytes) in storage.values_in(ValueFamily::Person)? {
            let person: Person = decode(&bytes, "person")?;
            people.people.insert(person.id.clone(), person);
        }
        for (_, bytes) in storage.values_in(ValueFamily::Device)? {
            let device: Device = decode(&bytes, "device")?;
            people.devices.insert(device.id, device);
        }
        Ok(people)
    }

    /// A copy of a device to change and save.
    fn stored_device(state: &State, id: &DeviceId) -> Result<Device, DirectoryError> {
        state
            .people
            .devices
            .get(id)
            .cloned()
            .ok_or(DirectoryError::UnknownDevice(*id))
    }

    /// Persists a person, then takes it in: a failed write changes nothing.
    fn save_person(&self, state: &mut State, person: Person) -> Result<(), DirectoryError> {
        self.storage
            .put_value(&person_key(&person.id), &encode(&person))?;
        state.people.people.insert(person.id.clone(), person);
        Ok(())
    }

    /// Persists a device, then takes it in (with its token): a failed write
    /// changes nothing. Only this device's entry is written, however many
    /// devices there are.
    fn save_device(&self, state: &mut State, device: Device) -> Result<(), DirectoryError> {
        self.storage
            .put_value(&device_key(&device.id), &encode(&device))?;
        if let Some(old) = state.people.devices.get(&device.id) {
            state.by_token.remove(&old.token_hash);
        }
        state.by_token.insert(device.token_hash.clone(), device.id);
        state.people.devices.insert(device.id, device);
        Ok(())
    }

    // --- organisation -------------------------------------------------

    pub fn org(&self) -> Org {
        self.read().org.clone()
    }

    /// The name of a village in the organisation, if known.
    pub fn village_name(&self, village: &VillageCode) -> Option<String> {
        self.read()
            .org
            .name_of(&Scope::Village(village.clone()))
            .map(str::to_owned)
    }

    pub fn village_known(&self, village: &VillageCode) -> bool {
        self.read().org.has_village(village)
    }

    /// Merges an organisation file's places into the stored organisation.
    pub fn import_org(&self, incoming: Org) -> Result<ImportReport, DirectoryError> {
        let mut state = self.write();
        let mut org = state.org.clone();
        let report = org.merge(incoming)?;
        self.storage.put_value(&ServerValue::Org, &encode(&org))?;
        state.org = org;
        Ok(report)
    }

    // --- people and devices -------------------------------------------

    pub fn people(&self) -> Vec<Person> {
        self.read().people.people.values().cloned().collect()
    }

    pub fn person(&self, id: &str) -> Option<Person> {
        self.read().people.people.get(id).cloned()
    }

    pub fn devices(&self) -> Vec<Device> {
        self.read().people.devices.values().cloned().collect()
    }

    pub fn device(&self, id: &DeviceId) -> Option<Device> {
        self.read().people.devices.get(id).cloned()
    }

    /// Registers a person (or renames one already registered), keeping
    /// the place of one already registered.
    pub fn add_person(
        &self,
        id: &str,
        name: &str,
        phone: Option<String>,
    ) -> Result<Person, DirectoryError> {
        self.add_person_in(id, name, phone, None)
    }

    /// Registers a person working in `scope` (or renames one already
    /// registered; `None` keeps its place). The place must be known, and
    /// every device the person already holds must lie inside it.
    pub fn add_person_in(
        &self,
        id: &str,
        name: &str,
        phone: Option<String>,
        scope: Option<Scope>,
    ) -> Result<Person, DirectoryError> {
        let id = id.trim();
        if id.is_empty() || id.len() > 64 || id.chars().any(char::is_control) {
            return Err(DirectoryError::Invalid(
                "a person id must be 1 to 64 printable characters".into(),
            ));
        }
        if name.trim().is_empty() {
            return Err(DirectoryError::Invalid("a person needs a name".into()));
        }
        let mut state = self.write();
        let existing = state.people.people.get(id);
        let created_at = existing.map_or_else(|| self.clock.now(), |p| p.created_at);
        let scope = match scope {
            Some(scope) => {
                if !state.org.has_scope(&scope) {
                    return Err(DirectoryError::Invalid(format!(
                        "{} {scope} is not a place of the imported organisation; import it first",
                        scope.level()
                    )));
                }
                if let Some(outside) =
                    state.people.devices.values().find(|d| {
                        d.person == id && !d.is_revoked() && !scope.covers(&d.access.scope)
                    })
                {
                    return Err(DirectoryError::Invalid(format!(
                        "the person holds device {} over {}, outside {scope}; \
                         reassign or revoke it first",
                        outside.id, outside.access.scope
                    )));
                }
                Some(scope)
            }
            None => existing.and_then(|p| p.scope.clone()),
        };
        let person = Person {
            id: id.to_owned(),
            name: name.trim().to_owned(),
            phone,
            scope,
            created_at,
        };
        self.save_person(&mut state, person.clone())?;
        Ok(person)
    }

    fn check_access(&self, state: &State, access: &DeviceAccess) -> Result<(), DirectoryError> {
        access
            .validate()
            .map_err(|e| DirectoryError::Invalid(e.to_string()))?;
        if !state.org.has_scope(&access.scope) {
            return Err(DirectoryError::Invalid(format!(
                "scope {} is not a place of the imported organisation; import it first \
                 (fengqiao admin org import FILE)",
                access.scope
            )));
        }
        Ok(())
    }

    /// A device's scope lies inside the place of the person holding it.
    fn check_within_person(person: &Person, access: &DeviceAccess) -> Result<(), DirectoryError> {
        match &person.scope {
            Some(place) if !place.covers(&access.scope) => Err(DirectoryError::Invalid(format!(
                "{} {} lies outside {} {place}, where {} works; give the device a scope inside it",
                access.scope.level(),
                access.scope,
                place.level(),
                person.id
            ))),
            _ => Ok(()),
        }
    }

    /// Enrolls a new device for a registered person; returns the device
    /// and its token, which is not stored and cannot be shown again.
    pub fn enroll(&self, request: EnrollRequest) -> Result<(Device, IssuedToken), DirectoryError> {
        let access = DeviceAccess {
            role: request.role,
            scope: request.scope,
            write: request.write,
        };
        let token = new_token()?;
        let mut state = self.write();
        self.check_access(&state, &access)?;
        let person = state
            .people
            .people
            .get(&request.person)
            .cloned()
            .ok_or_else(|| DirectoryError::UnknownPerson(request.person.clone()))?;
        Self::check_within_person(&person, &access)?;
        let now = self.clock.now();
        let label = if request.label.trim().is_empty() {
            format!("{}的设备", person.name)
        } else {
            request.label.trim().to_owned()
        };
        let device = Device {
            id: DeviceId::random(),
            person: person.id,
            label,
            access,
            created_at: now,
            token_issued_at: now,
            revoked_at: None,
            token_hash: hash_token(&token.0),
        };
        self.save_device(&mut state, device.clone())?;
        Ok((device, token))
    }

    /// Issues a new token for a device; the old one stops working at once.
    pub fn rotate(&self, id: &DeviceId) -> Result<IssuedToken, DirectoryError> {
        let token = new_token()?;
        let mut state = self.write();
        let mut device = Self::stored_device(&state, id)?;
        if device.is_revoked() {
            return Err(DirectoryError::Conflict(format!(
                "device {id} is revoked; enroll a new device instead"
            )));
        }
        device.token_hash = hash_token(&token.0);
        device.token_issued_at = self.clock.now();
        self.save_device(&mut state, device)?;
        drop(state);
        // What the old token opened closes now.
        let _ = self.revocations.send(*id);
        Ok(token)
    }

    /// Revokes a device: refused from its next request on, and its open
    /// connections are closed.
    pub fn revoke(&self, id: &DeviceId) -> Result<Device, DirectoryError> {
        let device = {
            let mut state = self.write();
            let mut device = Self::stored_device(&state, id)?;
            if device.revoked_at.is_none() {
                device.revoked_at = Some(self.clock.now());
            }
            self.save_device(&mut state, device.clone())?;
            device
        };
        let _ = self.revocations.send(*id);
        Ok(device)
    }

    /// Changes a device's role, scope or write grant (e.g. a cadre moved to
    /// another village). The phone purges records it may no longer hold at
    /// its next sync.
    pub fn set_access(
        &self,
        id: &DeviceId,
        access: DeviceAccess,
    ) -> Result<Device, DirectoryError> {
        let device = {
            let mut state = self.write();
            self.check_access(&state, &access)?;
            let mut device = Self::stored_device(&state, id)?;
            if let Some(person) = state.people.people.get(&device.person) {
                Self::check_within_person(person, &access)?;
            }
            device.access = access;
            self.save_device(&mut state, device.clone())?;
            device
        };
        // Open connections re-authenticate with the new scope.
        let _ = self.revocations.send(*id);
        Ok(device)
    }

    /// The live device a token belongs to.
    pub fn device_by_token(&self, token: &str) -> Option<Device> {
        let hash = hash_token(token);
        let state = self.read();
        let id = state.by_token.get(&hash)?;
        state
            .people
            .devices
            .get(id)
            .filter(|d| !d.is_revoked())
            .cloned()
    }

    /// Device ids that were revoked, reassigned or given a new token, as it
    /// happens.
    pub fn subscribe_revocations(&self) -> broadcast::Receiver<DeviceId> {
        self.revocations.subscribe()
    }

    // --- actor bindings -----------------------------------------------

    fn actor_key(actor: &[u8]) -> ServerValue {
        ServerValue::Actor(actor.to_vec())
    }

    fn bound(&self, actor: &[u8]) -> Result<Option<DeviceId>, StorageError> {
        if let Some(device) = self
            .bindings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(actor)
        {
            return Ok(Some(*device));
        }
        let Some(bytes) = self.storage.get_value(&Self::actor_key(actor))? else {
            return Ok(None);
        };
        let bytes: [u8; 16] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| StorageError::Corrupt {
                what: "actor binding",
            })?;
        let device = DeviceId::from_bytes(bytes);
        self.bindings
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(actor.to_vec(), device);
        Ok(Some(device))
    }
}

impl DeviceDirectory for Directory {
    fn access_of(&self, device: &DeviceId) -> Option<DeviceAccess> {
        self.read()
            .people
            .devices
            .get(device)
            .filter(|d| !d.is_revoked())
            .map(|d| d.access.clone())
    }

    fn bound_device(&self, actor: &[u8]) -> Option<DeviceId> {
        match self.bound(actor) {
            Ok(device) => device,
            Err(e) => {
                tracing::error!(error = %e, "cannot read an actor binding");
                None
            }
        }
    }

    fn person_of(&self, device: &DeviceId) -> Option<String> {
        self.read()
            .people
            .devices
            .get(device)
            .map(|d| d.person.clone())
    }
}

/// What another server on the same store changed.
impl Directory {
    /// Takes in a server value another server wrote (a person, a device,
    /// the organisation); other values are not the directory's. A device
    /// whose token, access or revocation changed is announced as revoked
    /// here too, so that its open connections and sessions here end.
    pub fn reload(&self, value: &ServerValue) -> Result<(), StorageError> {
        match value {
            ServerValue::Org => {
                let org = match self.storage.get_value(&ServerValue::Org)? {
                    Some(bytes) => decode(&bytes, "organisation")?,
                    None => Org::default(),
                };
                self.write().org = org;
            }
            ServerValue::Person(id) => {
                let person: Option<Person> = self
                    .storage
                    .get_value(value)?
                    .map(|bytes| decode(&bytes, "person"))
                    .transpose()?;
                let mut state = self.write();
                match person {
                    Some(person) => state.people.people.insert(id.clone(), person),
                    None => state.people.people.remove(id),
                };
            }
            ServerValue::Device(id) => {
                let device: Option<Device> = self
                    .storage
                    .get_value(value)?
                    .map(|bytes| decode(&bytes, "device"))
                    .transpose()?;
                let changed = {
                    let mut state = self.write();
                    let old = match &device {
                        Some(device) => state.people.devices.insert(*id, device.clone()),
                        None => state.people.devices.remove(id),
                    };
                    if let Some(old) = &old {
                        state.by_token.remove(&old.token_hash);
                    }
                    if let Some(device) = &device {
                        state.by_token.insert(device.token_hash.clone(), device.id);
                    }
                    Self::access_changed(old.as_ref(), device.as_ref())
                };
                if changed {
                    let _ = self.revocations.send(*id);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Reads every person and device and the organisation again (after
    /// announcements were missed); devices that changed are announced as
    /// in [`Directory::reload`].
    pub fn reload_all(&self) -> Result<(), StorageError> {
        let org: Org = match self.storage.get_value(&ServerValue::Org)? {
            Some(bytes) => decode(&bytes, "organisation")?,
            None => Org::default(),
        };
        let people = Self::load_people(self.storage.as_ref())?;
        let changed: Vec<DeviceId> = {
            let mut state = self.write();
            let changed = state
                .people
                .devices
                .keys()
                .chain(people.devices.keys())
                .filter(|id| {
                    Self::access_changed(state.people.devices.get(id), people.devices.get(id))
                })
                .copied()
                .collect();
            state.by_token = people
                .devices
                .values()
                .map(|d| (d.token_hash.clone(), d.id))
                .collect();
            state.people = people;
            state.org = org;
            changed
        };
        for id in changed {
            let _ = self.revocations.send(id);
        }
        Ok(())
    }

    /// Whether a device's token, access or revocation differs.
    fn access_changed(old: Option<&Device>, new: Option<&Device>) -> bool {
        match (old, new) {
            (Some(old), Some(new)) => {
                old.token_hash != new.token_hash
                    || old.access != new.access
                    || old.revoked_at != new.revoked_at
            }
            (None, None) => false,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{SledStorage, StorageConfig};

    fn store(dir: &std::path::Path) -> Arc<dyn Storage> {
        Arc::new(SledStorage::open(&StorageConfig::new(dir)).unwrap())
    }

    fn directory_with_org(storage: Arc<dyn Storage>) -> Directory {
        let directory = Directory::open(storage).unwrap();
        let org = Org::parse_csv("code,name\n500110,区\n500110101,镇\n500110101001,村\n").unwrap();
        directory.import_org(org).unwrap();
        directory
    }

    fn cadre(person: &str) -> EnrollRequest {
        EnrollRequest {
            person: person.into(),
            label: String::new(),
            role: Role::Cadre,
            scope: Scope::parse("500110101001").unwrap(),
            write: false,
        }
    }

    #[test]
    fn each_change_writes_one_entry_however_many_devices_there_are() {
        let dir = tempfile::tempdir().unwrap();
        let storage = store(dir.path());
        let directory = directory_with_org(storage.clone());
        directory.add_person("p", "张三", None).unwrap();
        for _ in 0..300 {
            directory.enroll(cadre("p")).unwrap();
        }
        let (device, token) = directory.enroll(cadre("p")).unwrap();
        let entries = storage.values_in(ValueFamily::Device).unwrap();
        assert_eq!(entries.len(), 301);
        // The newest device's entry is a few hundred bytes, not the whole
        // directory.
        let newest = storage.get_value(&device_key(&device.id)).unwrap().unwrap();
        assert!(newest.len() < 1024, "{} bytes", newest.len());
        assert!(
            storage
                .get_value(&ServerValue::LegacyPeople)
                .unwrap()
                .is_none()
        );

        // Rotation, revocation and reassignment survive a restart.
        let rotated = directory.rotate(&device.id).unwrap();
        let revoked = directory.enroll(cadre("p")).unwrap().0;
        directory.revoke(&revoked.id).unwrap();
        drop(directory);
        let reopened = Directory::open(storage).unwrap();
        assert_eq!(reopened.devices().len(), 302);
        assert!(reopened.device_by_token(&token.0).is_none(), "old token");
        assert_eq!(
            reopened.device_by_token(&rotated.0).map(|d| d.id),
            Some(device.id)
        );
        assert!(reopened.device(&revoked.id).unwrap().is_revoked());
        assert_eq!(reopened.person("p").unwrap().name, "张三");
    }

    #[test]
    fn a_persons_devices_lie_inside_the_place_the_person_works_in() {
        let dir = tempfile::tempdir().unwrap();
        let directory = directory_with_org(store(dir.path()));
        let org = Org::parse_csv("code,name\n500110102,镇二\n500110102001,村二\n").unwrap();
        directory.import_org(org).unwrap();
        let village = Scope::parse("500110101001").unwrap();
        let town = Scope::parse("500110101").unwrap();
        let next_town = Scope::parse("500110102").unwrap();
        let person = directory
            .add_person_in("p", "张三", None, Some(village.clone()))
            .unwrap();
        assert!(person.lies_within(&town) && person.lies_within(&village));
        assert!(!person.lies_within(&next_town));
        // Unknown places are refused; renaming keeps the place.
        assert!(matches!(
            directory.add_person_in("q", "李四", None, Some(Scope::parse("500110109").unwrap())),
            Err(DirectoryError::Invalid(_))
        ));
        assert_eq!(
            directory.add_person("p", "张三丰", None).unwrap().scope,
            Some(village.clone())
        );

        let mut request = cadre("p");
        let (device, _) = directory.enroll(request.clone()).unwrap();
        request.role = Role::Town;
        request.scope = town.clone();
        assert!(matches!(
            directory.enroll(request),
            Err(DirectoryError::Invalid(message)) if message.contains("outside")
        ));
        assert!(matches!(
            directory.set_access(&device.id, DeviceAccess::new(Role::Town, town.clone())),
            Err(DirectoryError::Invalid(_))
        ));
        // Moving the person elsewhere waits until the device follows.
        assert!(matches!(
            directory.add_person_in("p", "张三", None, Some(next_town.clone())),
            Err(DirectoryError::Invalid(_))
        ));
        directory
            .add_person_in("p", "张三", None, Some(town.clone()))
            .unwrap();
        directory
            .set_access(&device.id, DeviceAccess::new(Role::Town, town))
            .unwrap();
        directory.revoke(&device.id).unwrap();
        // A revoked device holds nobody back.
        directory
            .add_person_in("p", "张三", None, Some(next_town))
            .unwrap();
    }

    #[test]
    fn a_directory_kept_as_one_value_is_split_into_entries_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let storage = store(dir.path());
        let (device, token) = {
            let directory = directory_with_org(storage.clone());
            directory.add_person("p", "李四", None).unwrap();
            directory.enroll(cadre("p")).unwrap()
        };
        // Rewrite the store as the single value earlier versions kept.
        let mut legacy = People::default();
        legacy.people.insert(
            "p".into(),
            Directory::open(storage.clone())
                .unwrap()
                .person("p")
                .unwrap(),
        );
        legacy.devices.insert(
            device.id,
            Directory::open(storage.clone())
                .unwrap()
                .read()
                .people
                .devices[&device.id]
                .clone(),
        );
        let dir2 = tempfile::tempdir().unwrap();
        let old = store(dir2.path());
        old.put_value(&ServerValue::LegacyPeople, &encode(&legacy))
            .unwrap();

        let directory = Directory::open(old.clone()).unwrap();
        assert_eq!(
            directory.device_by_token(&token.0).map(|d| d.id),
            Some(device.id)
        );
        assert_eq!(old.values_in(ValueFamily::Device).unwrap().len(), 1);
        assert_eq!(old.values_in(ValueFamily::Person).unwrap().len(), 1);
        let emptied: People = decode(
            &old.get_value(&ServerValue::LegacyPeople).unwrap().unwrap(),
            "people",
        )
        .unwrap();
        assert!(emptied.devices.is_empty() && emptied.people.is_empty());
        // A second open finds the entries and nothing left to split.
        drop(directory);
        let again = Directory::open(old).unwrap();
        assert_eq!(again.devices().len(), 1);
        assert_eq!(again.person("p").unwrap().name, "李四");
    }
}
