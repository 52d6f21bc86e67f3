//! The Fengqiao sync server: storage, the sync engine and its two front
//! doors (automerge-repo WebSocket and batch sync over HTTP).

pub mod storage;
