//! Identifiers that cross the wire: documents, peers, storages and devices.
//!
//! A [`DocumentId`] is what automerge-repo calls a document id: the bytes of
//! the id (16 random bytes for the ids we create) written as base58check text
//! (Bitcoin alphabet, with a 4-byte double-SHA-256 checksum). An automerge URL
//! is `automerge:` followed by that text, optionally followed by `#` and a
//! `|`-separated list of heads, each head the base58check text of a 32-byte
//! change hash. On the wire only the bare text form appears.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// The scheme prefix of an automerge URL.
pub const AUTOMERGE_URL_PREFIX: &str = "automerge:";

/// Longest document id payload we accept, in bytes. The JS library accepts
/// any length; we accept any length up to this bound, which leaves room for
/// ids built from 32-byte hashes while keeping keys small.
pub const MAX_DOCUMENT_ID_BYTES: usize = 64;

/// Longest peer id or storage id we accept, in bytes of UTF-8.
pub const MAX_PEER_ID_BYTES: usize = 256;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    #[error("document id is empty")]
    Empty,
    #[error("document id is not base58 text: {0}")]
    NotBase58(String),
    #[error("document id checksum does not match (mistyped or truncated id)")]
    BadChecksum,
    #[error("document id has {0} bytes; at most {MAX_DOCUMENT_ID_BYTES} are allowed")]
    BadLength(usize),
    #[error("not an automerge URL: it must start with \"automerge:\"")]
    NotAutomergeUrl,
    #[error("head {0:?} in the automerge URL is not a base58check change hash of 32 bytes")]
    BadHead(String),
    #[error("peer id must be 1 to {MAX_PEER_ID_BYTES} bytes long, got {0}")]
    BadPeerId(usize),
    #[error("storage id must be 1 to {MAX_PEER_ID_BYTES} bytes long, got {0}")]
    BadStorageId(usize),
    #[error("device id is not a UUID: {0}")]
    BadDeviceId(String),
}

/// An automerge-repo document id.
///
/// Equality, ordering and hashing follow the binary form; the text form is
/// computed once at construction so that formatting is free.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocumentId {
    bytes: Box<[u8]>,
    text: Box<str>,
}

impl DocumentId {
    /// A new random id of 16 bytes (the bytes of a UUID v4), as
    /// `Repo.create()` makes them.
    pub fn random() -> Self {
        Self::from_uuid(uuid::Uuid::new_v4())
    }

    /// The id whose bytes are those of `uuid`.
    pub fn from_uuid(uuid: uuid::Uuid) -> Self {
        Self::from_trusted_bytes(uuid.as_bytes())
    }

    /// The id with this binary form. Fails only for an empty or over-long
    /// payload.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdError> {
        check_length(bytes.len())?;
        Ok(Self::from_trusted_bytes(bytes))
    }

    fn from_trusted_bytes(bytes: &[u8]) -> Self {
        let text = bs58::encode(bytes).with_check().into_string();
        Self {
            bytes: bytes.into(),
            text: text.into(),
        }
    }

    /// Parses the base58check text form, as it appears in messages.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        if text.is_empty() {
            return Err(IdError::Empty);
        }
        // Base58 grows the payload by ~1.37x; refuse absurd inputs before decoding.
        if text.len() > (MAX_DOCUMENT_ID_BYTES + 4) * 2 {
            return Err(IdError::BadLength(text.len()));
        }
        let bytes = decode_base58check(text).map_err(|e| match e {
            Base58CheckError::Text(msg) => IdError::NotBase58(msg),
            Base58CheckError::Checksum => IdError::BadChecksum,
        })?;
        check_length(bytes.len())?;
        Ok(Self {
            bytes: bytes.into(),
            text: text.into(),
        })
    }

    /// Accepts what `Repo.find()` accepts: an automerge URL (heads are
    /// ignored), a bare document id, or a legacy hyphenated UUID string.
    pub fn parse_any(input: &str) -> Result<Self, IdError> {
        if input.starts_with(AUTOMERGE_URL_PREFIX) {
            return AutomergeUrl::parse(input).map(|url| url.document_id);
        }
        if input.len() == 36
            && input.as_bytes().get(8) == Some(&b'-')
            && let Ok(uuid) = uuid::Uuid::parse_str(input)
        {
            return Ok(Self::from_uuid(uuid));
        }
        Self::parse(input)
    }

    /// The binary form.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The base58check text form.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The `automerge:` URL of this document (without heads).
    pub fn url(&self) -> String {
        format!("{AUTOMERGE_URL_PREFIX}{}", self.text)
    }
}

fn check_length(len: usize) -> Result<(), IdError> {
    if len == 0 {
        Err(IdError::Empty)
    } else if len > MAX_DOCUMENT_ID_BYTES {
        Err(IdError::BadLength(len))
    } else {
        Ok(())
    }
}

enum Base58CheckError {
    Text(String),
    Checksum,
}

fn decode_base58check(text: &str) -> Result<Vec<u8>, Base58CheckError> {
    bs58::decode(text)
        .with_check(None)
        .into_vec()
        .map_err(|e| match e {
            bs58::decode::Error::InvalidChecksum { .. } | bs58::decode::Error::NoChecksum => {
                Base58CheckError::Checksum
            }
            other => Base58CheckError::Text(other.to_string()),
        })
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentId({})", self.text)
    }
}

impl FromStr for DocumentId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for DocumentId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for DocumentId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A parsed automerge URL: a document id and, optionally, the heads of a
/// specific version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutomergeUrl {
    pub document_id: DocumentId,
    /// Change hashes (32 bytes each); empty for a URL without `#heads`.
    pub heads: Vec<[u8; 32]>,
}

impl AutomergeUrl {
    /// Parses `automerge:<id>` or `automerge:<id>#<head>|<head>…`.
    pub fn parse(url: &str) -> Result<Self, IdError> {
        let rest = url
            .strip_prefix(AUTOMERGE_URL_PREFIX)
            .ok_or(IdError::NotAutomergeUrl)?;
        let (id, heads) = match rest.split_once('#') {
            Some((id, heads)) => (id, Some(heads)),
            None => (rest, None),
        };
        // JS matches the id part with `^\w+$`; base58 text is a subset of that.
        let document_id = DocumentId::parse(id)?;
        let heads = match heads {
            None => Vec::new(),
            Some(list) => list
                .split('|')
                .map(|head| {
                    decode_base58check(head)
                        .ok()
                        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                        .ok_or_else(|| IdError::BadHead(head.to_owned()))
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Self { document_id, heads })
    }

    /// The heads in URL form (base58check text).
    pub fn head_strings(&self) -> Vec<String> {
        self.heads.iter().map(encode_head).collect()
    }
}

/// A change hash in the base58check text form that automerge-repo uses in
/// URLs and in `remote-heads-changed`.
pub fn encode_head(hash: &[u8; 32]) -> String {
    bs58::encode(hash).with_check().into_string()
}

impl fmt::Display for AutomergeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{AUTOMERGE_URL_PREFIX}{}", self.document_id)?;
        if !self.heads.is_empty() {
            f.write_str("#")?;
            f.write_str(&self.head_strings().join("|"))?;
        }
        Ok(())
    }
}

macro_rules! bounded_string_id {
    ($(#[$doc:meta])* $name:ident, $err:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Accepts any text of 1 to [`MAX_PEER_ID_BYTES`] bytes.
            pub fn new(text: impl Into<String>) -> Result<Self, IdError> {
                let text = text.into();
                if text.is_empty() || text.len() > MAX_PEER_ID_BYTES {
                    return Err(IdError::$err(text.len()));
                }
                Ok(Self(text))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Self::new(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

bounded_string_id!(
    /// The id a peer chooses for itself for one connection's lifetime
    /// (`peer-xxxx` in JS). It routes messages; it is **not** an identity.
    PeerId,
    BadPeerId
);

bounded_string_id!(
    /// The id of a peer's storage, persistent across its sessions (a UUID v4
    /// string in JS, but any text is accepted).
    StorageId,
    BadStorageId
);

/// The identity of an enrolled phone or computer: a UUID assigned at
/// enrollment. Native Automerge actor ids start with its 16 bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceId(uuid::Uuid);

impl DeviceId {
    /// A new random device id.
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(uuid::Uuid::from_bytes(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }

    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }
}

impl From<uuid::Uuid> for DeviceId {
    fn from(uuid: uuid::Uuid) -> Self {
        Self(uuid)
    }
}

impl FromStr for DeviceId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| IdError::BadDeviceId(s.chars().take(64).collect()))
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({})", self.0.hyphenated())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_from_the_js_library() {
        let bytes = hex::decode("7b3e4c1a9f2d4e8ba5c61d2e3f4a5b6c").unwrap();
        let id = DocumentId::from_bytes(&bytes).unwrap();
        assert_eq!(id.as_str(), "2iawmSHqvo66G7Lxrvyz4Rc4Espv");
        assert_eq!(id.url(), "automerge:2iawmSHqvo66G7Lxrvyz4Rc4Espv");
        assert_eq!(DocumentId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn random_ids_are_16_bytes_and_round_trip() {
        let id = DocumentId::random();
        assert_eq!(id.as_bytes().len(), 16);
        assert_eq!(DocumentId::parse(&id.to_string()).unwrap(), id);
        assert_ne!(DocumentId::random(), id);
    }

    #[test]
    fn rejects_bad_ids() {
        assert_eq!(DocumentId::parse(""), Err(IdError::Empty));
        assert_eq!(
            DocumentId::parse("2iawmSHqvo66G7Lxrvyz4Rc4Esp2"),
            Err(IdError::BadChecksum)
        );
        assert!(matches!(
            DocumentId::parse("0OIl"),
            Err(IdError::NotBase58(_))
        ));
        assert!(matches!(
            DocumentId::from_bytes(&[7; 65]),
            Err(IdError::BadLength(65))
        ));
        let long = DocumentId::from_trusted_bytes(&[7; 65]);
        assert!(matches!(
            DocumentId::parse(long.as_str()),
            Err(IdError::BadLength(65))
        ));
        assert!(matches!(
            DocumentId::parse(&"z".repeat(10_000)),
            Err(IdError::BadLength(_))
        ));
    }

    #[test]
    fn peer_ids_are_bounded() {
        assert!(PeerId::new("peer-abc").is_ok());
        assert_eq!(PeerId::new(""), Err(IdError::BadPeerId(0)));
        assert!(PeerId::new("x".repeat(MAX_PEER_ID_BYTES + 1)).is_err());
        assert!(StorageId::new("3f6a9d4e-8b1c-4e2a-9f7d-2c5b8e1a0d63").is_ok());
    }

    #[test]
    fn device_ids_parse_uuids_only() {
        let id = DeviceId::random();
        assert_eq!(id.to_string().parse::<DeviceId>().unwrap(), id);
        assert!("not-a-uuid".parse::<DeviceId>().is_err());
    }
}
