//! The automerge-repo WebSocket door end to end. The cases are in
//! `cases/ws.rs`.

#[path = "cases/ws.rs"]
mod cases;
