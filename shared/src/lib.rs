//! Fengqiao's domain, shared by the phone and the server.
//!
//! - [`vocab`]: the closed vocabularies of the schema (categories, risk, …).
//! - [`summary`]: the flat projection of a record.
//! - [`record`]: dispute and visit documents on Automerge: reading, domain
//!   operations, merge rules and validation.
//! - [`stats`]: township and district statistics over summaries.
//! - [`access`]: who may read and write what; who a change is attributed to.
//! - [`replica`]: the phone's offline store and its batch sync client.
//!
//! The domain depends on no database and no network client. The native
//! phone's replica store (sled) and HTTP transport (ureq) are the `sled`
//! and `http` features, on by default; another phone shell turns them off
//! (`default-features = false`) and brings its own
//! [`replica::ReplicaStore`] and [`replica::transport::SyncTransport`].

pub mod access;
pub mod deadline;
pub mod record;
pub mod replica;
pub mod schema;
#[cfg(feature = "sled")]
pub mod sled_open;
pub mod stats;
pub mod summary;
pub mod vocab;

pub use fengqiao_protocol::{DocumentId, Scope, VillageCode};
pub use summary::{Millis, Summary};

pub use access::{DeviceAccess, Role};
pub use record::{Dispute, Record, Visit};
pub use stats::{Statistics, StatsQuery};
