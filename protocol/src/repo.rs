//! The automerge-repo WebSocket protocol, version "1".
//!
//! One [`RepoMessage`] per binary WebSocket frame, a CBOR map with text keys
//! tagged by its `type` field. Field names, optionality and encodings follow
//! what `@automerge/automerge-repo` 2.x really sends (checked against
//! recorded vectors in `tests/vectors/`):
//!
//! - optional fields may arrive absent, as CBOR `null` or as CBOR
//!   `undefined`; we write them by leaving them out;
//! - `data` is a plain byte string;
//! - `timestamp` may arrive as an integer or a float; we write it as a float,
//!   as JS does, so JS never turns it into a `BigInt`;
//! - unknown fields are ignored and unknown `type`s decode to
//!   [`RepoMessage::Unknown`], so newer peers do not break us.
//!
//! One deliberate narrowing: a `join` without `supportedProtocolVersions` is
//! refused ([`DecodeError::MissingField`]). Every JS and samod client sends
//! it; a peer that does not cannot be told which version it will get.

use std::collections::BTreeMap;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_bytes::ByteBuf;

use crate::codec::{self, DecodeError, DecodeLimits};
use crate::ids::{DocumentId, PeerId, StorageId};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: &str = "1";

/// What a peer says about itself in `join` and `peer`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerMetadata {
    /// Present when the peer persists documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_id: Option<StorageId>,
    /// True for peers without storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_ephemeral: Option<bool>,
}

/// `join`: the first frame a client sends on a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    pub sender_id: PeerId,
    pub peer_metadata: Option<PeerMetadata>,
    pub supported_protocol_versions: Vec<String>,
}

impl Join {
    /// Whether the peer offers the version we speak.
    pub fn offers_supported_version(&self) -> bool {
        self.supported_protocol_versions
            .iter()
            .any(|v| v == PROTOCOL_VERSION)
    }
}

/// `peer`: the server's answer to `join`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub sender_id: PeerId,
    pub peer_metadata: Option<PeerMetadata>,
    pub selected_protocol_version: String,
    pub target_id: PeerId,
}

/// `leave`: sent by some transports when a peer goes away (never by the JS
/// WebSocket adapters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leave {
    pub sender_id: PeerId,
}

/// `request` or `sync`: an Automerge sync message for one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocSync {
    pub sender_id: PeerId,
    pub target_id: PeerId,
    pub document_id: DocumentId,
    /// An encoded `automerge::sync::Message`.
    pub data: Vec<u8>,
}

/// `doc-unavailable`: the sender does not have the document, or will not
/// share it with this peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocUnavailable {
    pub sender_id: PeerId,
    pub target_id: PeerId,
    pub document_id: DocumentId,
}

/// `ephemeral`: an application message about a document (presence,
/// cursors) that is relayed but never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ephemeral {
    pub sender_id: PeerId,
    pub target_id: PeerId,
    pub document_id: DocumentId,
    /// CBOR-encoded application data.
    pub data: Vec<u8>,
    /// Increases per (`sender_id`, `session_id`); receivers drop repeats.
    pub count: u64,
    pub session_id: String,
}

/// `error`: the sender gives up on this socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMessage {
    pub sender_id: Option<PeerId>,
    pub message: String,
    pub target_id: Option<PeerId>,
}

/// `remote-subscription-change`: which storage ids' heads a peer wants to hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSubscriptionChange {
    pub sender_id: PeerId,
    pub target_id: PeerId,
    pub add: Option<Vec<StorageId>>,
    pub remove: Option<Vec<StorageId>>,
}

/// Heads of a document held by one storage, as gossiped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteHeads {
    /// base58check change hashes.
    pub heads: Vec<String>,
    /// Milliseconds since the epoch, as a JS number.
    #[serde(
        serialize_with = "serialize_js_number",
        deserialize_with = "deserialize_js_number"
    )]
    pub timestamp: f64,
}

/// `remote-heads-changed`: a storage's heads for a document changed.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteHeadsChanged {
    pub sender_id: PeerId,
    pub target_id: PeerId,
    pub document_id: DocumentId,
    pub new_heads: BTreeMap<StorageId, RemoteHeads>,
}

/// A message whose `type` this version does not know. Peers ignore these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMessage {
    pub type_name: String,
    pub sender_id: Option<String>,
}

/// One automerge-repo protocol message.
#[derive(Debug, Clone, PartialEq)]
pub enum RepoMessage {
    Join(Join),
    Peer(Peer),
    Leave(Leave),
    Request(DocSync),
    Sync(DocSync),
    DocUnavailable(DocUnavailable),
    Ephemeral(Ephemeral),
    Error(ErrorMessage),
    RemoteSubscriptionChange(RemoteSubscriptionChange),
    RemoteHeadsChanged(RemoteHeadsChanged),
    Unknown(UnknownMessage),
}

impl RepoMessage {
    /// The wire `type` string.
    pub fn type_name(&self) -> &str {
        match self {
            RepoMessage::Join(_) => "join",
            RepoMessage::Peer(_) => "peer",
            RepoMessage::Leave(_) => "leave",
            RepoMessage::Request(_) => "request",
            RepoMessage::Sync(_) => "sync",
            RepoMessage::DocUnavailable(_) => "doc-unavailable",
            RepoMessage::Ephemeral(_) => "ephemeral",
            RepoMessage::Error(_) => "error",
            RepoMessage::RemoteSubscriptionChange(_) => "remote-subscription-change",
            RepoMessage::RemoteHeadsChanged(_) => "remote-heads-changed",
            RepoMessage::Unknown(u) => &u.type_name,
        }
    }

    /// The peer id the message claims to come from, if it names one.
    pub fn sender_id(&self) -> Option<&str> {
        match self {
            RepoMessage::Join(m) => Some(m.sender_id.as_str()),
            RepoMessage::Peer(m) => Some(m.sender_id.as_str()),
            RepoMessage::Leave(m) => Some(m.sender_id.as_str()),
            RepoMessage::Request(m) | RepoMessage::Sync(m) => Some(m.sender_id.as_str()),
            RepoMessage::DocUnavailable(m) => Some(m.sender_id.as_str()),
            RepoMessage::Ephemeral(m) => Some(m.sender_id.as_str()),
            RepoMessage::Error(m) => m.sender_id.as_ref().map(PeerId::as_str),
            RepoMessage::RemoteSubscriptionChange(m) => Some(m.sender_id.as_str()),
            RepoMessage::RemoteHeadsChanged(m) => Some(m.sender_id.as_str()),
            RepoMessage::Unknown(m) => m.sender_id.as_deref(),
        }
    }

    /// Decodes one frame with the default limits.
    pub fn decode(frame: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_with(frame, &DecodeLimits::DEFAULT)
    }

    /// Decodes one frame, refusing inputs beyond `limits`.
    pub fn decode_with(frame: &[u8], limits: &DecodeLimits) -> Result<Self, DecodeError> {
        let wire: WireIn = codec::decode(frame, limits)?;
        wire.into_message()
    }

    /// Encodes the message as one frame.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(&WireOut::from(self))
    }
}

// ---------------------------------------------------------------------------
// Wire form: every field any message may carry, all optional. Decoding goes
// through it in one pass; the typed message is then checked for the fields
// its type requires.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireIn {
    #[serde(rename = "type")]
    kind: String,
    sender_id: Option<String>,
    target_id: Option<String>,
    document_id: Option<String>,
    data: Option<ByteBuf>,
    peer_metadata: Option<PeerMetadata>,
    supported_protocol_versions: Option<Vec<String>>,
    selected_protocol_version: Option<String>,
    message: Option<String>,
    count: Option<u64>,
    session_id: Option<String>,
    add: Option<Vec<StorageId>>,
    remove: Option<Vec<StorageId>>,
    new_heads: Option<BTreeMap<StorageId, RemoteHeads>>,
}

impl WireIn {
    fn into_message(self) -> Result<RepoMessage, DecodeError> {
        let kind: &'static str = match self.kind.as_str() {
            "join" => "join",
            "peer" => "peer",
            "leave" => "leave",
            "request" => "request",
            "sync" => "sync",
            "doc-unavailable" => "doc-unavailable",
            "ephemeral" => "ephemeral",
            "error" => "error",
            "remote-subscription-change" => "remote-subscription-change",
            "remote-heads-changed" => "remote-heads-changed",
            _ => {
                return Ok(RepoMessage::Unknown(UnknownMessage {
                    type_name: self.kind,
                    sender_id: self.sender_id,
                }));
            }
        };
        let mut w = Fields { kind, wire: self };
        Ok(match kind {
            "join" => RepoMessage::Join(Join {
                sender_id: w.sender()?,
                peer_metadata: w.wire.peer_metadata.take(),
                supported_protocol_versions: w
                    .wire
                    .supported_protocol_versions
                    .take()
                    .ok_or(w.missing("supportedProtocolVersions"))?,
            }),
            "peer" => RepoMessage::Peer(Peer {
                sender_id: w.sender()?,
                peer_metadata: w.wire.peer_metadata.take(),
                selected_protocol_version: w
                    .wire
                    .selected_protocol_version
                    .take()
                    .ok_or(w.missing("selectedProtocolVersion"))?,
                target_id: w.target()?,
            }),
            "leave" => RepoMessage::Leave(Leave {
                sender_id: w.sender()?,
            }),
            "request" | "sync" => {
                let sync = DocSync {
                    sender_id: w.sender()?,
                    target_id: w.target()?,
                    document_id: w.document()?,
                    data: w.data()?,
                };
                if kind == "request" {
                    RepoMessage::Request(sync)
                } else {
                    RepoMessage::Sync(sync)
                }
            }
            "doc-unavailable" => RepoMessage::DocUnavailable(DocUnavailable {
                sender_id: w.sender()?,
                target_id: w.target()?,
                document_id: w.document()?,
            }),
            "ephemeral" => RepoMessage::Ephemeral(Ephemeral {
                sender_id: w.sender()?,
                target_id: w.target()?,
                document_id: w.document()?,
                data: w.data()?,
                count: w.wire.count.ok_or(w.missing("count"))?,
                session_id: w.wire.session_id.take().ok_or(w.missing("sessionId"))?,
            }),
            "error" => RepoMessage::Error(ErrorMessage {
                sender_id: w.optional_peer("senderId", |w| w.sender_id.take())?,
                message: w.wire.message.take().ok_or(w.missing("message"))?,
                target_id: w.optional_peer("targetId", |w| w.target_id.take())?,
            }),
            "remote-subscription-change" => {
                RepoMessage::RemoteSubscriptionChange(RemoteSubscriptionChange {
                    sender_id: w.sender()?,
                    target_id: w.target()?,
                    add: w.wire.add.take(),
                    remove: w.wire.remove.take(),
                })
            }
            _ => RepoMessage::RemoteHeadsChanged(RemoteHeadsChanged {
                sender_id: w.sender()?,
                target_id: w.target()?,
                document_id: w.document()?,
                new_heads: w.wire.new_heads.take().ok_or(w.missing("newHeads"))?,
            }),
        })
    }
}

/// Helpers that take required fields out of a [`WireIn`], naming the
/// message type in errors.
struct Fields {
    kind: &'static str,
    wire: WireIn,
}

impl Fields {
    fn missing(&self, field: &'static str) -> DecodeError {
        DecodeError::MissingField {
            message_type: self.kind,
            field,
        }
    }

    fn peer(&self, field: &'static str, value: Option<String>) -> Result<PeerId, DecodeError> {
        let value = value.ok_or(self.missing(field))?;
        PeerId::new(value).map_err(|e| DecodeError::InvalidField {
            field,
            reason: e.to_string(),
        })
    }

    fn optional_peer(
        &mut self,
        field: &'static str,
        take: impl FnOnce(&mut WireIn) -> Option<String>,
    ) -> Result<Option<PeerId>, DecodeError> {
        match take(&mut self.wire) {
            None => Ok(None),
            Some(value) => self.peer(field, Some(value)).map(Some),
        }
    }

    fn sender(&mut self) -> Result<PeerId, DecodeError> {
        let value = self.wire.sender_id.take();
        self.peer("senderId", value)
    }

    fn target(&mut self) -> Result<PeerId, DecodeError> {
        let value = self.wire.target_id.take();
        self.peer("targetId", value)
    }

    fn document(&mut self) -> Result<DocumentId, DecodeError> {
        let value = self
            .wire
            .document_id
            .take()
            .ok_or(self.missing("documentId"))?;
        DocumentId::parse(&value).map_err(|e| DecodeError::InvalidField {
            field: "documentId",
            reason: e.to_string(),
        })
    }

    fn data(&mut self) -> Result<Vec<u8>, DecodeError> {
        self.wire
            .data
            .take()
            .map(ByteBuf::into_vec)
            .ok_or(self.missing("data"))
    }
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct WireOut<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sender_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    document_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a serde_bytes::Bytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    peer_metadata: Option<&'a PeerMetadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    supported_protocol_versions: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    selected_protocol_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    add: Option<&'a [StorageId]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remove: Option<&'a [StorageId]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    new_heads: Option<&'a BTreeMap<StorageId, RemoteHeads>>,
}

impl<'a> From<&'a RepoMessage> for WireOut<'a> {
    fn from(message: &'a RepoMessage) -> Self {
        let mut w = WireOut {
            kind: message.type_name(),
            sender_id: message.sender_id(),
            ..WireOut::default()
        };
        match message {
            RepoMessage::Join(m) => {
                w.peer_metadata = m.peer_metadata.as_ref();
                w.supported_protocol_versions = Some(&m.supported_protocol_versions);
            }
            RepoMessage::Peer(m) => {
                w.peer_metadata = m.peer_metadata.as_ref();
                w.selected_protocol_version = Some(&m.selected_protocol_version);
                w.target_id = Some(m.target_id.as_str());
            }
            RepoMessage::Leave(_) | RepoMessage::Unknown(_) => {}
            RepoMessage::Request(m) | RepoMessage::Sync(m) => {
                w.target_id = Some(m.target_id.as_str());
                w.document_id = Some(m.document_id.as_str());
                w.data = Some(serde_bytes::Bytes::new(&m.data));
            }
            RepoMessage::DocUnavailable(m) => {
                w.target_id = Some(m.target_id.as_str());
                w.document_id = Some(m.document_id.as_str());
            }
            RepoMessage::Ephemeral(m) => {
                w.target_id = Some(m.target_id.as_str());
                w.document_id = Some(m.document_id.as_str());
                w.data = Some(serde_bytes::Bytes::new(&m.data));
                w.count = Some(m.count);
                w.session_id = Some(&m.session_id);
            }
            RepoMessage::Error(m) => {
                w.message = Some(&m.message);
                w.target_id = m.target_id.as_ref().map(PeerId::as_str);
            }
            RepoMessage::RemoteSubscriptionChange(m) => {
                w.target_id = Some(m.target_id.as_str());
                w.add = m.add.as_deref();
                w.remove = m.remove.as_deref();
            }
            RepoMessage::RemoteHeadsChanged(m) => {
                w.target_id = Some(m.target_id.as_str());
                w.document_id = Some(m.document_id.as_str());
                w.new_heads = Some(&m.new_heads);
            }
        }
        w
    }
}

/// JS numbers: integers below 2^32 go out as integers (as cbor-x writes
/// them), everything else as float64.
fn serialize_js_number<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.fract() == 0.0 && *value >= 0.0 && *value <= f64::from(u32::MAX) {
        serializer.serialize_u32(*value as u32)
    } else {
        serializer.serialize_f64(*value)
    }
}

fn deserialize_js_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    struct JsNumber;
    impl Visitor<'_> for JsNumber {
        type Value = f64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a number")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
    }
    deserializer.deserialize_any(JsNumber)
}
