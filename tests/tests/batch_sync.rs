//! Phones sync through the real server over HTTP (batch door): one server
//! on its own sled store. The cases are in `cases/batch_sync.rs`;
//! `batch_sync_two_nodes.rs` runs the same ones on two nodes.

const NODES: fengqiao_tests::Nodes = fengqiao_tests::Nodes::One;

#[path = "cases/batch_sync.rs"]
mod cases;
