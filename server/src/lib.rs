//! The Fengqiao sync server: storage, the sync engine and its two front
//! doors (automerge-repo WebSocket and batch sync over HTTP).
//!
//! - [`storage`]: durable storage behind a trait, with its sled
//!   implementation.
//! - [`engine`]: the one place records change: scratch copy, validation,
//!   atomic durable commit, live announcements.
//! - [`directory`]: organisation, people, devices, tokens, actor bindings.
//! - [`batch`]: the batch door's logic (`POST /v1/sync`).
//! - [`ws`]: the automerge-repo WebSocket door (`GET /v1/ws`).
//! - [`report`]: statistics, record lists and exports for towns and
//!   districts, over resident summaries.
//! - [`http`]: routes and handlers; [`auth`]: who is calling;
//!   [`metrics`]: Prometheus counters; [`serve`]: running it all.

pub mod alerts;
pub mod auth;
pub mod batch;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod directory;
pub mod engine;
pub mod http;
pub mod limit;
pub mod lru;
pub mod metrics;
pub mod report;
pub mod serve;
pub mod state;
pub mod storage;
pub mod ws;
pub mod ws_client;
