//! Who may read and write which records, and who a change is attributed to
//! (DESIGN.md §2).
//!
//! Every decision here is a pure function of a device's [`DeviceAccess`]
//! (its role and scope) and the place in question, so the server, the phone
//! and the tests decide the same way. Nothing here reads storage: the
//! server passes what it knows about devices through a [`DeviceDirectory`].
//!
//! # Roles
//!
//! | role | records | aggregates | audit trail | devices and org |
//! |---|---|---|---|---|
//! | `cadre` | read and write in scope | own scope | no | no |
//! | `town` | read and write in scope | own scope | yes | no |
//! | `district` | read in scope; write only when granted | own scope | yes | no |
//! | `supervisor` | read in scope, never write | own scope | yes | no |
//! | `admin` | none | none | none | in scope |
//!
//! A scope is a division code prefix ([`Scope`]): a village, a town or a
//! district. "In scope" is a prefix test, so a town official sees every
//! village of the town and nothing of the next town.
//!
//! # Actor attribution
//!
//! Every Automerge change names its actor. Native clients use
//! `device id (16 bytes) ‖ 4 random bytes`, so the change itself says which
//! device made it ([`native_device_of`]). Actors of any other form (the
//! JavaScript client's 16 random bytes, for instance) are bound to the first
//! device that uploads a change by them. A new change is accepted only when
//! it is attributed to the sending device itself or to another device of
//! the same person, and both may write the record's village
//! ([`authorize_change`]); read-only roles write nothing. The document's own
//! history thereby becomes the audit trail.
//!
//! Known limitation: changes are not signed. A device can still attribute
//! a change to another device **of its own holder** (a person's old and new
//! phone), and the time it writes into a change is its own clock. It cannot
//! write under another person's device: that is refused.

use std::fmt;
use std::str::FromStr;

use automerge::ActorId;
use fengqiao_protocol::{DeviceId, Scope, VillageCode};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What a device's holder does in the organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A village cadre (resident first secretary, mediator, grid worker):
    /// reads and writes the records of the villages in scope — normally one
    /// village; a cadre serving a whole town may be given the town. Reads the
    /// aggregates of that scope only, and not the audit trail, which exists
    /// to oversee the cadres themselves.
    Cadre,
    /// A township (镇/街道) official: reads and writes every record of the
    /// town, reads the town's aggregates and audit trail.
    Town,
    /// A district (区) official: reads every record, aggregate and audit
    /// trail of the district; writes only when an admin grants it (e.g. for
    /// cases escalated to the district), see [`DeviceAccess::write`].
    District,
    /// The village affairs supervision committee (村务监督委员会): reads the
    /// records, aggregates and audit trail of its scope, never writes.
    Supervisor,
    /// Registers people and enrolls, reassigns and revokes devices within
    /// its scope, never for the person holding the admin device itself; has
    /// no access to records or their audit trail.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: &'static [Role] = &[
        Role::Cadre,
        Role::Town,
        Role::District,
        Role::Supervisor,
        Role::Admin,
    ];

    /// The wire string: `cadre`, `town`, `district`, `supervisor`, `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cadre => "cadre",
            Role::Town => "town",
            Role::District => "district",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// The Chinese label shown to users.
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::Cadre => "村干部",
            Role::Town => "镇街",
            Role::District => "区级",
            Role::Supervisor => "村务监督委员会",
            Role::Admin => "管理员",
        }
    }

    /// The widest scope the role may be given: 0 village, 1 town, 2 district.
    fn widest_scope_rank(self) -> u8 {
        match self {
            Role::Cadre | Role::Town | Role::Supervisor => 1,
            Role::District | Role::Admin => 2,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AccessError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .iter()
            .copied()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| AccessError::UnknownRole(text.chars().take(32).collect()))
    }
}

fn scope_rank(scope: &Scope) -> u8 {
    match scope {
        Scope::Village(_) => 0,
        Scope::Town(_) => 1,
        Scope::District(_) => 2,
    }
}

/// Why an access grant was refused when it was entered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AccessError {
    #[error("unknown role {0:?}: expected cadre, town, district, supervisor or admin")]
    UnknownRole(String),
    #[error("a {role} device cannot be given the whole {level} {scope}; give it a narrower scope")]
    ScopeTooWide {
        role: Role,
        level: &'static str,
        scope: Scope,
    },
    #[error("the {0} role never writes records, so write cannot be granted to it")]
    WriteNotGrantable(Role),
}

/// What one enrolled device may do: its role, where, and for a district
/// device whether an admin granted it write.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceAccess {
    pub role: Role,
    pub scope: Scope,
    /// Write granted by an admin to a `district` device, which is read-only
    /// otherwise. It has no effect on other roles: `cadre` and `town` write
    /// in their scope by role, `supervisor` and `admin` never write, whatever
    /// this says ([`DeviceAccess::validate`] refuses it for them).
    #[serde(default)]
    pub write: bool,
}

impl DeviceAccess {
    /// A grant without the district write override.
    pub fn new(role: Role, scope: impl Into<Scope>) -> Self {
        Self {
            role,
            scope: scope.into(),
            write: false,
        }
    }

    /// The same grant with the write override set.
    pub fn with_write(mut self, write: bool) -> Self {
        self.write = write;
        self
    }

    /// Refuses a grant an admin should not be able to enter: a scope wider
    /// than the role (a cadre, town official or supervisor over a whole
    /// district) or write for a role that never writes.
    pub fn validate(&self) -> Result<(), AccessError> {
        if scope_rank(&self.scope) > self.role.widest_scope_rank() {
            return Err(AccessError::ScopeTooWide {
                role: self.role,
                level: self.scope.level(),
                scope: self.scope.clone(),
            });
        }
        if self.write && matches!(self.role, Role::Supervisor | Role::Admin) {
            return Err(AccessError::WriteNotGrantable(self.role));
        }
        Ok(())
    }

    /// Whether the role and grant allow writing records at all (anywhere in
    /// scope).
    pub fn writes_records(&self) -> bool {
        self.write_refusal().is_none()
    }

    /// The scope whose records and aggregates the device may read; `None`
    /// for an admin.
    pub fn record_scope(&self) -> Option<&Scope> {
        (self.role != Role::Admin).then_some(&self.scope)
    }

    fn write_refusal(&self) -> Option<Refusal> {
        match self.role {
            Role::Cadre | Role::Town => None,
            Role::District if self.write => None,
            Role::District => Some(Refusal::DistrictWithoutWrite),
            Role::Supervisor => Some(Refusal::ReadOnly(Role::Supervisor)),
            Role::Admin => Some(Refusal::NoRecordAccess),
        }
    }
}

/// Whether the device may read the records of `village`: every role but
/// admin, within its scope.
pub fn can_read(access: &DeviceAccess, village: &VillageCode) -> bool {
    access
        .record_scope()
        .is_some_and(|scope| scope.contains(village))
}

/// Whether the device may write the records of `village`; see
/// [`check_write`] for the reason when it may not.
pub fn can_write(access: &DeviceAccess, village: &VillageCode) -> bool {
    check_write(access, village).is_ok()
}

/// Whether the device may write the records of `village`, and if not, why:
/// cadre and town write in scope; district writes in scope only when
/// granted; supervisor and admin never write.
pub fn check_write(access: &DeviceAccess, village: &VillageCode) -> Result<(), Refusal> {
    if let Some(refusal) = access.write_refusal() {
        return Err(refusal);
    }
    if !access.scope.contains(village) {
        return Err(Refusal::OutOfScope(access.scope.clone()));
    }
    Ok(())
}

/// Whether the device may read the audit trail of `village`'s records (who
/// changed what and when, with devices named): supervisor, town and district
/// within their scope. A cadre may not — the trail exists to oversee the
/// cadres — though the records' own timelines stay visible to them; an admin
/// has no record access.
pub fn can_read_audit(access: &DeviceAccess, village: &VillageCode) -> bool {
    matches!(access.role, Role::Supervisor | Role::Town | Role::District)
        && access.scope.contains(village)
}

/// Whether the device may read aggregate statistics over all of `scope`:
/// only when its own scope covers it. A village cadre reads its village's
/// figures but not the town's; a town official reads the town and any of its
/// villages but not the next town.
pub fn can_read_scope(access: &DeviceAccess, scope: &Scope) -> bool {
    access.record_scope().is_some_and(|own| own.covers(scope))
}

/// Whether the device may enrol, revoke and list devices, and edit the
/// organisation, for `scope`: an admin whose scope covers it.
pub fn can_manage_devices(access: &DeviceAccess, scope: &Scope) -> bool {
    access.role == Role::Admin && access.scope.covers(scope)
}

/// Why a device may not write a record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    #[error("the device is not enrolled, or its enrolment was revoked")]
    NotEnrolled,
    #[error("admin devices manage devices and the organisation, not records")]
    NoRecordAccess,
    #[error("the {0} role is read-only")]
    ReadOnly(Role),
    #[error("the district role is read-only unless an admin grants it write")]
    DistrictWithoutWrite,
    #[error("the village lies outside the device's scope {0}")]
    OutOfScope(Scope),
}

impl Refusal {
    /// The reason worded for the device it concerns ("this device …").
    pub fn own_words(&self) -> String {
        match self {
            Refusal::NotEnrolled => {
                "this device is not enrolled, or its enrolment was revoked".to_owned()
            }
            Refusal::NoRecordAccess => {
                "admin devices manage devices and the organisation, not records".to_owned()
            }
            Refusal::ReadOnly(role) => format!("this device's role, {role}, only reads records"),
            Refusal::DistrictWithoutWrite => {
                "this district device only reads records unless an admin grants it write".to_owned()
            }
            Refusal::OutOfScope(scope) => {
                format!("the record's village lies outside this device's scope {scope}")
            }
        }
    }
}

/// Length of a native actor id: device id (16 bytes) and 4 random bytes.
pub const NATIVE_ACTOR_LEN: usize = 20;

/// The device named by a native actor id, or `None` for an actor of any
/// other length.
///
/// Any 20-byte actor is read as native: a client that makes 20-byte actor
/// ids of its own is attributed to whatever device its first 16 bytes name,
/// which is then refused unless that device is enrolled with write scope.
pub fn native_device_of(actor: &[u8]) -> Option<DeviceId> {
    let bytes: &[u8; NATIVE_ACTOR_LEN] = actor.try_into().ok()?;
    let (device, _random) = bytes.split_first_chunk::<16>()?;
    Some(DeviceId::from_bytes(*device))
}

/// A native actor id for `device`: its 16 bytes followed by 4 random bytes
/// chosen once per install (so that two installs on one device never share
/// an actor).
pub fn new_native_actor(device: DeviceId, random: [u8; 4]) -> Vec<u8> {
    let mut actor = Vec::with_capacity(NATIVE_ACTOR_LEN);
    actor.extend_from_slice(device.as_bytes());
    actor.extend_from_slice(&random);
    actor
}

/// Which device a change is attributed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attribution {
    /// The actor is native and names this device.
    Native(DeviceId),
    /// The actor is not native and was bound earlier to this device.
    Bound(DeviceId),
    /// The actor is not native and not yet bound: it is the uploading
    /// device's. Store the binding once the change is accepted (never for a
    /// refused change, so that a refused upload cannot claim an actor).
    BindToUploader,
}

impl Attribution {
    /// The device the change counts as written by.
    pub fn device(&self, uploader: DeviceId) -> DeviceId {
        match *self {
            Attribution::Native(device) | Attribution::Bound(device) => device,
            Attribution::BindToUploader => uploader,
        }
    }
}

impl fmt::Display for Attribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attribution::Native(device) => write!(f, "native to device {device}"),
            Attribution::Bound(device) => write!(f, "bound to device {device}"),
            Attribution::BindToUploader => f.write_str("new, to be bound to the sending device"),
        }
    }
}

/// What the server knows about devices, as the attribution decision needs
/// it.
pub trait DeviceDirectory {
    /// The current access of an enrolled device; `None` for a device never
    /// enrolled or revoked.
    fn access_of(&self, device: &DeviceId) -> Option<DeviceAccess>;
    /// The device a non-native actor was bound to, if any.
    fn bound_device(&self, actor: &[u8]) -> Option<DeviceId>;
    /// The person holding a device, enrolled or revoked; `None` when the
    /// directory does not know it (then a change attributed to that device
    /// is only accepted from the device itself).
    fn person_of(&self, device: &DeviceId) -> Option<String> {
        let _ = device;
        None
    }
}

/// A [`DeviceDirectory`] made of two closures.
pub struct DirectoryFns<A, B> {
    /// Device → its access (`None`: not enrolled or revoked).
    pub access: A,
    /// Actor → the device it is bound to.
    pub bindings: B,
}

impl<A, B> DeviceDirectory for DirectoryFns<A, B>
where
    A: Fn(&DeviceId) -> Option<DeviceAccess>,
    B: Fn(&[u8]) -> Option<DeviceId>,
{
    fn access_of(&self, device: &DeviceId) -> Option<DeviceAccess> {
        (self.access)(device)
    }

    fn bound_device(&self, actor: &[u8]) -> Option<DeviceId> {
        (self.bindings)(actor)
    }
}

/// Attributes a change's actor: native actors name their device, others
/// are looked up among the bindings, and an unknown one goes to the
/// uploader.
pub fn attribute(directory: &impl DeviceDirectory, actor: &[u8]) -> Attribution {
    if let Some(device) = native_device_of(actor) {
        Attribution::Native(device)
    } else if let Some(device) = directory.bound_device(actor) {
        Attribution::Bound(device)
    } else {
        Attribution::BindToUploader
    }
}

/// Why a new change was refused. The words speak of the sending device
/// and its own upload only: never of another device's id, role or scope.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WriteDenied {
    /// The sending device may not write the record's village.
    #[error("this device may not write this record: {}", .reason.own_words())]
    Sender {
        device: DeviceId,
        village: VillageCode,
        reason: Refusal,
    },
    /// A change names an author that is neither the sending device nor
    /// another device of its holder.
    #[error(
        "a change in this upload is by actor {actor}, which is not this device's; \
         a device may only send changes made by itself or by another device of the same person"
    )]
    NotOwnChange {
        actor: ActorId,
        attribution: Attribution,
    },
    /// A change by another device of the same person, which may not write
    /// the record.
    #[error(
        "a change in this upload is by actor {actor}, of another device of this device's holder \
         that may not write this record (it may be revoked or read-only)"
    )]
    Author {
        actor: ActorId,
        attribution: Attribution,
        village: VillageCode,
        reason: Refusal,
    },
}

fn check_device(
    directory: &impl DeviceDirectory,
    device: &DeviceId,
    village: &VillageCode,
) -> Result<(), Refusal> {
    let access = directory.access_of(device).ok_or(Refusal::NotEnrolled)?;
    check_write(&access, village)
}

/// Decides whether a new change by `actor`, sent by `uploader`, may be
/// stored in a record of `village`, and to whom it is attributed.
///
/// The sending device must be enrolled and may write the village. The
/// change must be attributed to the sender itself (always so for an actor
/// seen for the first time) or to another device of the same person, which
/// must be enrolled and may write the village too. A cadre sending a change
/// whose native actor names a town official's device (or any other
/// person's) is thus refused, however it came by it. Only new changes are
/// checked; changes already stored were checked when they arrived.
pub fn authorize_change(
    directory: &impl DeviceDirectory,
    actor: &[u8],
    uploader: DeviceId,
    village: &VillageCode,
) -> Result<Attribution, WriteDenied> {
    check_device(directory, &uploader, village).map_err(|reason| WriteDenied::Sender {
        device: uploader,
        village: village.clone(),
        reason,
    })?;
    let attribution = attribute(directory, actor);
    let author = attribution.device(uploader);
    if author != uploader {
        let same_person = matches!(
            (directory.person_of(&uploader), directory.person_of(&author)),
            (Some(sender), Some(maker)) if sender == maker
        );
        if !same_person {
            return Err(WriteDenied::NotOwnChange {
                actor: ActorId::from(actor),
                attribution,
            });
        }
        check_device(directory, &author, village).map_err(|reason| WriteDenied::Author {
            actor: ActorId::from(actor),
            attribution,
            village: village.clone(),
            reason,
        })?;
    }
    Ok(attribution)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use fengqiao_protocol::{DistrictCode, TownCode};

    use super::*;

    fn village(code: &str) -> VillageCode {
        VillageCode::new(code).unwrap()
    }

    fn town(code: &str) -> TownCode {
        TownCode::new(code).unwrap()
    }

    fn district(code: &str) -> DistrictCode {
        DistrictCode::new(code).unwrap()
    }

    fn a() -> VillageCode {
        village("500110101001")
    }
    fn a2() -> VillageCode {
        village("500110101002")
    }
    fn b() -> VillageCode {
        village("500110102001")
    }
    fn elsewhere() -> VillageCode {
        village("500111101001")
    }

    #[test]
    fn cadres_write_their_village_only() {
        let cadre = DeviceAccess::new(Role::Cadre, a());
        assert!(can_read(&cadre, &a()) && can_write(&cadre, &a()));
        assert!(!can_read(&cadre, &a2()) && !can_write(&cadre, &a2()));
        assert!(!can_read(&cadre, &b()) && !can_write(&cadre, &b()));
        assert_eq!(
            check_write(&cadre, &b()),
            Err(Refusal::OutOfScope(Scope::Village(a())))
        );
    }

    #[test]
    fn town_sees_all_its_villages_but_not_the_next_town() {
        let official = DeviceAccess::new(Role::Town, town("500110101"));
        for v in [a(), a2()] {
            assert!(can_read(&official, &v) && can_write(&official, &v));
            assert!(can_read_audit(&official, &v));
        }
        assert!(!can_read(&official, &b()) && !can_write(&official, &b()));
        assert!(!can_read_audit(&official, &b()));
        assert!(can_read_scope(&official, &Scope::Town(town("500110101"))));
        assert!(can_read_scope(&official, &Scope::Village(a2())));
        assert!(!can_read_scope(&official, &Scope::Town(town("500110102"))));
        assert!(!can_read_scope(
            &official,
            &Scope::District(district("500110"))
        ));
    }

    #[test]
    fn a_village_cadre_cannot_read_the_town_summary() {
        let cadre = DeviceAccess::new(Role::Cadre, a());
        assert!(can_read_scope(&cadre, &Scope::Village(a())));
        assert!(!can_read_scope(&cadre, &Scope::Village(a2())));
        assert!(!can_read_scope(&cadre, &Scope::Town(town("500110101"))));
        assert!(!can_read_audit(&cadre, &a()));
    }

    #[test]
    fn supervisor_reads_but_never_writes() {
        for write in [false, true] {
            let supervisor = DeviceAccess::new(Role::Supervisor, a()).with_write(write);
            assert!(can_read(&supervisor, &a()));
            assert!(can_read_audit(&supervisor, &a()));
            assert!(can_read_scope(&supervisor, &Scope::Village(a())));
            assert!(!can_write(&supervisor, &a()));
            assert_eq!(
                check_write(&supervisor, &a()),
                Err(Refusal::ReadOnly(Role::Supervisor))
            );
            assert!(!can_read(&supervisor, &a2()));
        }
        assert_eq!(
            DeviceAccess::new(Role::Supervisor, a())
                .with_write(true)
                .validate(),
            Err(AccessError::WriteNotGrantable(Role::Supervisor))
        );
    }

    #[test]
    fn district_is_read_only_unless_granted() {
        let reader = DeviceAccess::new(Role::District, district("500110"));
        assert!(can_read(&reader, &a()) && can_read(&reader, &b()));
        assert!(can_read_audit(&reader, &b()));
        assert!(!can_write(&reader, &a()));
        assert_eq!(
            check_write(&reader, &a()),
            Err(Refusal::DistrictWithoutWrite)
        );
        assert!(!can_read(&reader, &elsewhere()));
        let granted = reader.clone().with_write(true);
        assert!(granted.validate().is_ok());
        assert!(can_write(&granted, &a()) && can_write(&granted, &b()));
        assert!(!can_write(&granted, &elsewhere()));
        assert!(can_read_scope(
            &granted,
            &Scope::District(district("500110"))
        ));
        assert!(!can_read_scope(
            &granted,
            &Scope::District(district("500111"))
        ));
    }

    #[test]
    fn admin_manages_devices_but_reads_no_records() {
        let admin = DeviceAccess::new(Role::Admin, district("500110"));
        assert!(!can_read(&admin, &a()));
        assert!(!can_write(&admin, &a()));
        assert!(!can_read_audit(&admin, &a()));
        assert!(!can_read_scope(&admin, &Scope::Village(a())));
        assert_eq!(check_write(&admin, &a()), Err(Refusal::NoRecordAccess));
        assert!(can_manage_devices(&admin, &Scope::Village(a())));
        assert!(!can_manage_devices(&admin, &Scope::Village(elsewhere())));
        let town_official = DeviceAccess::new(Role::Town, town("500110101"));
        assert!(!can_manage_devices(&town_official, &Scope::Village(a())));
    }

    #[test]
    fn grants_wider_than_the_role_are_refused() {
        assert!(DeviceAccess::new(Role::Cadre, a()).validate().is_ok());
        assert!(
            DeviceAccess::new(Role::Cadre, town("500110101"))
                .validate()
                .is_ok()
        );
        assert!(matches!(
            DeviceAccess::new(Role::Cadre, district("500110")).validate(),
            Err(AccessError::ScopeTooWide {
                role: Role::Cadre,
                ..
            })
        ));
        assert!(
            DeviceAccess::new(Role::Town, district("500110"))
                .validate()
                .is_err()
        );
        assert!(
            DeviceAccess::new(Role::Admin, district("500110"))
                .validate()
                .is_ok()
        );
        assert_eq!(
            DeviceAccess::new(Role::Admin, a())
                .with_write(true)
                .validate(),
            Err(AccessError::WriteNotGrantable(Role::Admin))
        );
    }

    #[test]
    fn roles_and_grants_read_and_write_their_wire_form() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(*role));
        }
        assert!("Cadre".parse::<Role>().is_err());
        let grant: DeviceAccess =
            serde_json::from_str(r#"{"role":"district","scope":"500110","write":true}"#).unwrap();
        assert_eq!(
            grant,
            DeviceAccess::new(Role::District, district("500110")).with_write(true)
        );
        let grant: DeviceAccess =
            serde_json::from_str(r#"{"role":"cadre","scope":"500110101001"}"#).unwrap();
        assert_eq!(grant, DeviceAccess::new(Role::Cadre, a()));
        assert_eq!(
            serde_json::to_string(&grant).unwrap(),
            r#"{"role":"cadre","scope":"500110101001","write":false}"#
        );
        assert!(
            serde_json::from_str::<DeviceAccess>(r#"{"role":"root","scope":"500110"}"#).is_err()
        );
    }

    #[test]
    fn native_actors_name_their_device() {
        let device = DeviceId::random();
        let actor = new_native_actor(device, [1, 2, 3, 4]);
        assert_eq!(actor.len(), NATIVE_ACTOR_LEN);
        assert_eq!(native_device_of(&actor), Some(device));
        assert_eq!(native_device_of(&actor[..16]), None);
        assert_eq!(native_device_of(&[]), None);
        assert_eq!(native_device_of(&[0; 21]), None);
        assert_eq!(native_device_of(&[0; 32]), None);
    }

    /// Devices of a small organisation, and actor bindings.
    struct Org {
        devices: HashMap<DeviceId, DeviceAccess>,
        bindings: HashMap<Vec<u8>, DeviceId>,
        people: HashMap<DeviceId, String>,
    }

    impl DeviceDirectory for Org {
        fn access_of(&self, device: &DeviceId) -> Option<DeviceAccess> {
            self.devices.get(device).cloned()
        }
        fn bound_device(&self, actor: &[u8]) -> Option<DeviceId> {
            self.bindings.get(actor).copied()
        }
        fn person_of(&self, device: &DeviceId) -> Option<String> {
            self.people.get(device).cloned()
        }
    }

    struct Fixture {
        org: Org,
        cadre_a: DeviceId,
        cadre_a_phone2: DeviceId,
        cadre_b: DeviceId,
        town_official: DeviceId,
        supervisor_a: DeviceId,
        district_reader: DeviceId,
        revoked: DeviceId,
        js_actor_of_a: Vec<u8>,
    }

    fn fixture() -> Fixture {
        let cadre_a = DeviceId::random();
        let cadre_a_phone2 = DeviceId::random();
        let cadre_b = DeviceId::random();
        let town_official = DeviceId::random();
        let supervisor_a = DeviceId::random();
        let district_reader = DeviceId::random();
        let revoked = DeviceId::random();
        let js_actor_of_a = vec![0xAB; 16];
        let devices = HashMap::from([
            (cadre_a, DeviceAccess::new(Role::Cadre, a())),
            (cadre_a_phone2, DeviceAccess::new(Role::Cadre, a())),
            (cadre_b, DeviceAccess::new(Role::Cadre, b())),
            (
                town_official,
                DeviceAccess::new(Role::Town, town("500110101")),
            ),
            (supervisor_a, DeviceAccess::new(Role::Supervisor, a())),
            (
                district_reader,
                DeviceAccess::new(Role::District, district("500110")),
            ),
        ]);
        let bindings = HashMap::from([(js_actor_of_a.clone(), cadre_a)]);
        // The cadre of village A has two phones; everyone else one.
        let people = HashMap::from([
            (cadre_a, "cadre-a".to_owned()),
            (cadre_a_phone2, "cadre-a".to_owned()),
            (cadre_b, "cadre-b".to_owned()),
            (town_official, "official".to_owned()),
            (supervisor_a, "supervisor".to_owned()),
            (district_reader, "district".to_owned()),
            (revoked, "revoked".to_owned()),
        ]);
        Fixture {
            org: Org {
                devices,
                bindings,
                people,
            },
            cadre_a,
            cadre_a_phone2,
            cadre_b,
            town_official,
            supervisor_a,
            district_reader,
            revoked,
            js_actor_of_a,
        }
    }

    #[test]
    fn own_native_changes_are_accepted() {
        let f = fixture();
        let actor = new_native_actor(f.cadre_a, [9; 4]);
        assert_eq!(
            authorize_change(&f.org, &actor, f.cadre_a, &a()),
            Ok(Attribution::Native(f.cadre_a))
        );
    }

    #[test]
    fn a_change_by_another_device_of_the_same_person_is_accepted() {
        let f = fixture();
        let actor = new_native_actor(f.cadre_a_phone2, [9; 4]);
        assert_eq!(
            authorize_change(&f.org, &actor, f.cadre_a, &a()),
            Ok(Attribution::Native(f.cadre_a_phone2))
        );
    }

    #[test]
    fn a_change_under_a_superiors_device_is_refused() {
        // A cadre of village A sends a change whose actor is the town
        // official's device id followed by 4 bytes. Both may write village
        // A; the change is still not the cadre's to send.
        let f = fixture();
        let forged = new_native_actor(f.town_official, [7; 4]);
        let denied = authorize_change(&f.org, &forged, f.cadre_a, &a());
        assert_eq!(
            denied,
            Err(WriteDenied::NotOwnChange {
                actor: ActorId::from(forged.as_slice()),
                attribution: Attribution::Native(f.town_official),
            })
        );
        // The same actor from the official's own device is accepted.
        assert_eq!(
            authorize_change(&f.org, &forged, f.town_official, &a()),
            Ok(Attribution::Native(f.town_official))
        );
    }

    #[test]
    fn refusals_name_nothing_of_other_devices() {
        let f = fixture();
        for (actor, village) in [
            (new_native_actor(f.town_official, [7; 4]), a()),
            (new_native_actor(f.cadre_b, [7; 4]), a()),
            (new_native_actor(f.supervisor_a, [7; 4]), a()),
        ] {
            let message = authorize_change(&f.org, &actor, f.cadre_a, &village)
                .unwrap_err()
                .to_string();
            for secret in [
                f.town_official.to_string(),
                f.cadre_b.to_string(),
                f.supervisor_a.to_string(),
                "town".to_owned(),
                "supervisor".to_owned(),
                "500110101 ".to_owned(),
                "500110102001".to_owned(),
                "native to device".to_owned(),
            ] {
                assert!(!message.contains(&secret), "{secret:?} in {message}");
            }
            assert!(message.contains("not this device's"), "{message}");
        }
        // Another device of the same person that was revoked: said without
        // naming it.
        let mut org = f.org;
        org.people.insert(f.revoked, "cadre-a".to_owned());
        let actor = new_native_actor(f.revoked, [1; 4]);
        let message = authorize_change(&org, &actor, f.cadre_a, &a())
            .unwrap_err()
            .to_string();
        assert!(!message.contains(&f.revoked.to_string()), "{message}");
        assert!(message.contains("another device of this device's holder"));
    }

    #[test]
    fn forged_actor_from_another_village_is_denied() {
        // A cadre of village A sends a change whose native actor names a
        // device of village B, into a record of village A.
        let f = fixture();
        let forged = new_native_actor(f.cadre_b, [7; 4]);
        let denied = authorize_change(&f.org, &forged, f.cadre_a, &a());
        assert_eq!(
            denied,
            Err(WriteDenied::NotOwnChange {
                actor: ActorId::from(forged.as_slice()),
                attribution: Attribution::Native(f.cadre_b),
            })
        );
        // And into a record of village B the sender itself is refused.
        assert!(matches!(
            authorize_change(&f.org, &forged, f.cadre_a, &b()),
            Err(WriteDenied::Sender {
                reason: Refusal::OutOfScope(_),
                ..
            })
        ));
    }

    #[test]
    fn changes_by_read_only_devices_are_denied() {
        let f = fixture();
        // The supervisor sends its own change.
        let own = new_native_actor(f.supervisor_a, [1; 4]);
        assert_eq!(
            authorize_change(&f.org, &own, f.supervisor_a, &a()),
            Err(WriteDenied::Sender {
                device: f.supervisor_a,
                village: a(),
                reason: Refusal::ReadOnly(Role::Supervisor),
            })
        );
        // A cadre relays a change the supervisor made.
        assert!(matches!(
            authorize_change(&f.org, &own, f.cadre_a, &a()),
            Err(WriteDenied::NotOwnChange { .. })
        ));
        // A district device without a write grant.
        let district_actor = new_native_actor(f.district_reader, [2; 4]);
        assert!(matches!(
            authorize_change(&f.org, &district_actor, f.district_reader, &a()),
            Err(WriteDenied::Sender {
                reason: Refusal::DistrictWithoutWrite,
                ..
            })
        ));
    }

    #[test]
    fn unknown_and_revoked_devices_are_denied() {
        let f = fixture();
        let actor = new_native_actor(f.revoked, [3; 4]);
        assert!(matches!(
            authorize_change(&f.org, &actor, f.revoked, &a()),
            Err(WriteDenied::Sender {
                reason: Refusal::NotEnrolled,
                ..
            })
        ));
        assert!(matches!(
            authorize_change(&f.org, &actor, f.cadre_a, &a()),
            Err(WriteDenied::NotOwnChange { .. })
        ));
    }

    #[test]
    fn non_native_actors_bind_to_the_first_uploader() {
        let f = fixture();
        let fresh = vec![0x11; 16];
        assert_eq!(
            authorize_change(&f.org, &fresh, f.cadre_b, &b()),
            Ok(Attribution::BindToUploader)
        );
        assert_eq!(Attribution::BindToUploader.device(f.cadre_b), f.cadre_b);
        // Once bound to a device of village A, the actor cannot write in B,
        // whoever relays it.
        assert_eq!(
            authorize_change(&f.org, &f.js_actor_of_a, f.cadre_a_phone2, &a()),
            Ok(Attribution::Bound(f.cadre_a))
        );
        assert!(matches!(
            authorize_change(&f.org, &f.js_actor_of_a, f.cadre_b, &b()),
            Err(WriteDenied::NotOwnChange {
                attribution: Attribution::Bound(_),
                ..
            })
        ));
    }

    #[test]
    fn closures_make_a_directory() {
        let device = DeviceId::random();
        let directory = DirectoryFns {
            access: |d: &DeviceId| (*d == device).then(|| DeviceAccess::new(Role::Cadre, a())),
            bindings: |_: &[u8]| None,
        };
        let actor = new_native_actor(device, [0; 4]);
        assert_eq!(
            authorize_change(&directory, &actor, device, &a()),
            Ok(Attribution::Native(device))
        );
        assert!(authorize_change(&directory, &actor, device, &a2()).is_err());
    }

    #[test]
    fn denial_messages_are_plain_words() {
        let device = DeviceId::from_bytes([0; 16]);
        let denied = WriteDenied::Sender {
            device,
            village: a(),
            reason: Refusal::DistrictWithoutWrite,
        };
        assert_eq!(
            denied.to_string(),
            "this device may not write this record: this district device only reads records \
             unless an admin grants it write"
        );
    }
}
