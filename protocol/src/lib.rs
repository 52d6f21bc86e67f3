//! Fengqiao's wire formats, with no I/O and no Automerge documents.
//!
//! - [`repo`]: the automerge-repo WebSocket protocol "1" messages, CBOR
//!   encoded exactly as `@automerge/automerge-repo` 2.x sends them.
//! - [`batch`]: the batch sync envelope of `POST /v1/sync`, for phones on
//!   weak links.
//! - [`ids`] and [`division`]: document, peer, storage and device ids;
//!   division codes and scopes.
//! - [`error`]: stable machine error codes.
//! - [`codec`]: bounded CBOR decoding that rejects hostile input before it
//!   allocates.
//!
//! Every decoder in this crate returns a typed error on bad input and never
//! panics; this is fuzzed (`protocol/fuzz/`) and tested with hostile inputs.

pub mod batch;
pub mod codec;
pub mod division;
pub mod error;
pub mod ids;
pub mod repo;

pub use batch::{ChangeHash, Cursor, DocResult, DocUpload, SyncRequest, SyncResponse};
pub use codec::{DecodeError, DecodeLimits};
pub use division::{DistrictCode, DivisionError, Scope, TownCode, VillageCode};
pub use error::{ErrorBody, ErrorCode};
pub use ids::{AutomergeUrl, DeviceId, DocumentId, IdError, PeerId, StorageId};
pub use repo::RepoMessage;
