//! The automerge-repo WebSocket door end to end on one server on its own
//! sled store. The cases are in `cases/ws.rs`; `ws_two_nodes.rs` runs the
//! same ones on two nodes.

const NODES: fengqiao_tests::Nodes = fengqiao_tests::Nodes::One;

#[path = "cases/ws.rs"]
mod cases;
