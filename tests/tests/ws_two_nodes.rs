//! The WebSocket door's cases of `cases/ws.rs` on two servers sharing one
//! PostgreSQL store: automerge-repo peers connect to node B, phones sync
//! through node A, devices are enrolled, moved and revoked on node A, and
//! each side sees the other's changes live.
//!
//! Needs a PostgreSQL database (`FENGQIAO_TEST_POSTGRES`, which `.ci/run`
//! sets); without one every test here says so loudly and passes, unless
//! `FENGQIAO_REQUIRE_ALL=1`.

const NODES: fengqiao_tests::Nodes = fengqiao_tests::Nodes::Two;

#[path = "cases/ws.rs"]
mod cases;
