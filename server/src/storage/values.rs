//! Server-wide values: one typed name for each thing kept in
//! [`Space::Meta`](super::backend::Space::Meta).
//!
//! Each value is stored under a text name ([`ServerValue::name`]); the
//! names are those written by earlier versions, so existing stores read the
//! same. Two names once meant the store's id: `storage_id` (written when a
//! store was created, never served) and `storage-id` (the automerge-repo
//! storage id the server announces). [`ServerValue::StorageId`] is
//! `storage-id`; a store that only has the older name is read through it
//! ([`ServerValue::legacy_name`]) and is given the current name when it is
//! next opened.

use fengqiao_protocol::{DeviceId, DocumentId};

use super::StorageError;

/// A server-wide value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServerValue {
    /// The stored layout version (big-endian u32); set by the store itself.
    SchemaVersion,
    /// The store's random id (UUID text), e.g. automerge-repo's
    /// `storageId`; set when the store is created and renewed on restore.
    StorageId,
    /// The store's history number (u64), renewed on restore; part of
    /// every batch cursor.
    Epoch,
    /// The key that seals batch cursors (32 bytes).
    CursorKey,
    /// The organisation: towns, villages and their names (CBOR).
    Org,
    /// People and devices as one value, as stored before each had its own
    /// (read once and emptied).
    LegacyPeople,
    /// One person (CBOR), by person id.
    Person(String),
    /// One device (CBOR).
    Device(DeviceId),
    /// The device a non-native Automerge actor is bound to (16 bytes).
    Actor(Vec<u8>),
    /// A record an admin removed (CBOR).
    Removal(DocumentId),
    /// A dashboard session, by a hash of its id (hex): when it ends and
    /// its token, sealed with a key only the session id gives.
    Session(String),
}

/// The families of values listed together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueFamily {
    Person,
    Device,
    Actor,
    Removal,
    Session,
}

impl ValueFamily {
    /// The name every value of the family starts with.
    pub const fn prefix(self) -> &'static str {
        match self {
            ValueFamily::Person => "directory/person/",
            ValueFamily::Device => "directory/device/",
            ValueFamily::Actor => "directory/actor/",
            ValueFamily::Removal => "removed/",
            ValueFamily::Session => "session/",
        }
    }
}

impl ServerValue {
    /// The name the value is stored under.
    pub fn name(&self) -> String {
        match self {
            ServerValue::SchemaVersion => "schema_version".into(),
            ServerValue::StorageId => "storage-id".into(),
            ServerValue::Epoch => "epoch".into(),
            ServerValue::CursorKey => "cursor-key".into(),
            ServerValue::Org => "directory/org".into(),
            ServerValue::LegacyPeople => "directory/people".into(),
            ServerValue::Person(id) => format!("{}{id}", ValueFamily::Person.prefix()),
            ServerValue::Device(id) => format!("{}{id}", ValueFamily::Device.prefix()),
            ServerValue::Actor(actor) => {
                let mut name = String::from(ValueFamily::Actor.prefix());
                for b in actor {
                    name.push_str(&format!("{b:02x}"));
                }
                name
            }
            ServerValue::Removal(id) => format!("{}{id}", ValueFamily::Removal.prefix()),
            ServerValue::Session(key) => format!("{}{key}", ValueFamily::Session.prefix()),
        }
    }

    /// An older name the value may still be stored under.
    pub fn legacy_name(&self) -> Option<&'static str> {
        match self {
            ServerValue::StorageId => Some("storage_id"),
            _ => None,
        }
    }

    /// Whether only the store itself sets the value.
    pub fn is_reserved(&self) -> bool {
        matches!(self, ServerValue::SchemaVersion)
    }

    /// The value whose stored name is `name`; `Corrupt` when no value has
    /// that name.
    pub fn parse(name: &str) -> Result<ServerValue, StorageError> {
        const WHAT: &str = "server value name";
        let corrupt = || StorageError::Corrupt { what: WHAT };
        for fixed in [
            ServerValue::SchemaVersion,
            ServerValue::StorageId,
            ServerValue::Epoch,
            ServerValue::CursorKey,
            ServerValue::Org,
            ServerValue::LegacyPeople,
        ] {
            if fixed.name() == name || fixed.legacy_name() == Some(name) {
                return Ok(fixed);
            }
        }
        if let Some(id) = name.strip_prefix(ValueFamily::Person.prefix()) {
            return Ok(ServerValue::Person(id.to_owned()));
        }
        if let Some(id) = name.strip_prefix(ValueFamily::Device.prefix()) {
            return id.parse().map(ServerValue::Device).map_err(|_| corrupt());
        }
        if let Some(hex) = name.strip_prefix(ValueFamily::Actor.prefix()) {
            if !hex.len().is_multiple_of(2) {
                return Err(corrupt());
            }
            return (0..hex.len())
                .step_by(2)
                .map(|at| {
                    hex.get(at..at + 2)
                        .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                        .ok_or_else(corrupt)
                })
                .collect::<Result<Vec<u8>, _>>()
                .map(ServerValue::Actor);
        }
        if let Some(id) = name.strip_prefix(ValueFamily::Removal.prefix()) {
            return id.parse().map(ServerValue::Removal).map_err(|_| corrupt());
        }
        if let Some(key) = name.strip_prefix(ValueFamily::Session.prefix()) {
            return Ok(ServerValue::Session(key.to_owned()));
        }
        Err(corrupt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_ones_earlier_versions_wrote_and_parse_back() {
        let device = DeviceId::from_bytes([7; 16]);
        let doc = DocumentId::random();
        let values = [
            (ServerValue::SchemaVersion, "schema_version".to_owned()),
            (ServerValue::StorageId, "storage-id".to_owned()),
            (ServerValue::Epoch, "epoch".to_owned()),
            (ServerValue::CursorKey, "cursor-key".to_owned()),
            (ServerValue::Org, "directory/org".to_owned()),
            (ServerValue::LegacyPeople, "directory/people".to_owned()),
            (
                ServerValue::Person("p-1".into()),
                "directory/person/p-1".to_owned(),
            ),
            (
                ServerValue::Device(device),
                format!("directory/device/{device}"),
            ),
            (
                ServerValue::Actor(vec![0xab, 0x01]),
                "directory/actor/ab01".to_owned(),
            ),
            (ServerValue::Removal(doc.clone()), format!("removed/{doc}")),
            (
                ServerValue::Session("ab12".into()),
                "session/ab12".to_owned(),
            ),
        ];
        for (value, name) in values {
            assert_eq!(value.name(), name);
            assert_eq!(ServerValue::parse(&name).unwrap(), value);
        }
        assert_eq!(
            ServerValue::parse("storage_id").unwrap(),
            ServerValue::StorageId
        );
        assert!(ServerValue::parse("nonsense").is_err());
        assert!(ServerValue::parse("directory/actor/abc").is_err());
        assert!(ServerValue::parse("directory/device/zz").is_err());
    }
}
