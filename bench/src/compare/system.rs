//! The systems compared.

use serde::Serialize;

/// One system under comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum System {
    /// In-process Automerge sync: no network, no storage.
    Floor,
    /// The automerge-repo sync server (Node.js).
    Reference,
    /// samod with filesystem storage and its axum WebSocket acceptor.
    Samod,
    /// Fengqiao's automerge-repo WebSocket door, `GET /v1/ws`.
    FengqiaoWs,
    /// Fengqiao's batch door, `POST /v1/sync`, with the phone replica.
    FengqiaoBatch,
    /// Fengqiao's WebSocket door on a PostgreSQL store.
    FengqiaoWsPg,
    /// Fengqiao's batch door on a PostgreSQL store.
    FengqiaoBatchPg,
}

impl System {
    pub const ALL: [System; 7] = [
        System::Floor,
        System::Reference,
        System::Samod,
        System::FengqiaoWs,
        System::FengqiaoBatch,
        System::FengqiaoWsPg,
        System::FengqiaoBatchPg,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            System::Floor => "floor",
            System::Reference => "reference",
            System::Samod => "samod",
            System::FengqiaoWs => "fengqiao-ws",
            System::FengqiaoBatch => "fengqiao-batch",
            System::FengqiaoWsPg => "fengqiao-ws-pg",
            System::FengqiaoBatchPg => "fengqiao-batch-pg",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The name in tables.
    pub fn label(self) -> &'static str {
        match self {
            System::Floor => "floor (in-process Automerge)",
            System::Reference => "reference (automerge-repo, Node.js)",
            System::Samod => "samod",
            System::FengqiaoWs => "Fengqiao WebSocket door",
            System::FengqiaoBatch => "Fengqiao batch door",
            System::FengqiaoWsPg => "Fengqiao WebSocket door, PostgreSQL",
            System::FengqiaoBatchPg => "Fengqiao batch door, PostgreSQL",
        }
    }

    /// The name in ratio headings.
    pub fn short(self) -> &'static str {
        match self {
            System::Floor => "floor",
            System::Reference => "ref",
            System::Samod => "samod",
            System::FengqiaoWs => "FQ-ws",
            System::FengqiaoBatch => "FQ-batch",
            System::FengqiaoWsPg => "FQ-ws-pg",
            System::FengqiaoBatchPg => "FQ-batch-pg",
        }
    }

    /// Whether its server keeps the records on PostgreSQL.
    pub fn on_postgres(self) -> bool {
        matches!(self, System::FengqiaoWsPg | System::FengqiaoBatchPg)
    }

    /// The same door on the embedded store, for a PostgreSQL system.
    pub fn on_sled(self) -> Option<Self> {
        match self {
            System::FengqiaoWsPg => Some(System::FengqiaoWs),
            System::FengqiaoBatchPg => Some(System::FengqiaoBatch),
            _ => None,
        }
    }

    /// Whether it runs as a server process.
    pub fn has_server(self) -> bool {
        self != System::Floor
    }
}
