//! Fengqiao's domain, shared by the phone and the server.
//!
//! - [`vocab`]: the closed vocabularies of the schema (categories, risk, …).
//! - [`summary`]: the flat projection of a record.
//! - [`stats`]: township and district statistics over summaries.
//! - [`access`]: who may read and write what; who a change is attributed to.

pub mod access;
pub mod stats;
pub mod summary;
pub mod vocab;

pub use fengqiao_protocol::{DocumentId, Scope, VillageCode};
pub use summary::{Millis, Summary};

pub use access::{DeviceAccess, Role};
pub use stats::{Statistics, StatsQuery};
