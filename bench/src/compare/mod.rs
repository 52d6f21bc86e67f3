//! The side-by-side comparison: Fengqiao's two doors, the automerge-repo
//! sync server, samod and in-process Automerge, on the same records and
//! machine. See `docs/BENCHMARKS.md` for what is measured and how.

pub mod measure;
pub mod process;
pub mod records;
pub mod report;
pub mod run;
pub mod system;
pub mod ws_client;
