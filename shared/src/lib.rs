//! Fengqiao's domain, shared by the phone and the server.
//!
//! - [`vocab`]: the closed vocabularies of the schema (categories, risk, …).
//! - [`summary`]: the flat projection of a record.

pub mod summary;
pub mod vocab;

pub use fengqiao_protocol::{DocumentId, Scope, VillageCode};
pub use summary::{Millis, Summary};
