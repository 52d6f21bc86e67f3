//! Phones sync through the real server over HTTP (batch door). The cases
//! are in `cases/batch_sync.rs`.

#[path = "cases/batch_sync.rs"]
mod cases;
