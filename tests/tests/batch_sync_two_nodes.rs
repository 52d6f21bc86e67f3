//! The batch door's cases of `cases/batch_sync.rs` on two servers sharing
//! one PostgreSQL store: phones sync through node A and, where a case has a
//! second phone, through node B.
//!
//! Needs a PostgreSQL database (`FENGQIAO_TEST_POSTGRES`, which `.ci/run`
//! sets); without one every test here says so loudly and passes, unless
//! `FENGQIAO_REQUIRE_ALL=1`.

const NODES: fengqiao_tests::Nodes = fengqiao_tests::Nodes::Two;

#[path = "cases/batch_sync.rs"]
mod cases;
