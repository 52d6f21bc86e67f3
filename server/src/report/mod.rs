//! Reports for the township and district view (DESIGN.md §6).
//!
//! The JSON statistics API, the CSV and XLSX exports, the dashboard and the
//! `fengqiao export` command all read records through this module, so they
//! print the same numbers for the same records. The numbers themselves are
//! computed by [`fengqiao_shared::stats`]; this module decides which
//! summaries they are computed over and makes that fast:
//!
//! - [`params`]: what a report asks for — a scope, a period given as dates in
//!   China Standard Time or as milliseconds, an overdue threshold — read from
//!   a query string into a [`StatsQuery`](fengqiao_shared::StatsQuery).
//! - [`resident`]: an in-memory copy of the projection index for the scopes
//!   officials are looking at, loaded once and then caught up from the
//!   change feed, so that a district of a million records is answered
//!   without reading storage.
//! - [`answers`]: computed answers kept per scope and query until the next
//!   commit in that scope.
//! - [`figures`]: the statistics endpoints' answers, computed over resident
//!   summaries.
//! - [`listing`]: record lists with filters, text search and cursors.
//! - [`case`]: one record read from its stored document: the dispute's
//!   timeline in fold order with its derived status.
//! - [`export`]: CSV and XLSX writers with Chinese column headers.
//! - [`calendar`]: dates as people in the field write them (UTC+8).
//!
//! [`Reports`] ties the resident summaries and the answer cache together;
//! the HTTP handlers and the benchmark use it the same way.

pub mod answers;
pub mod calendar;
pub mod case;
pub mod error;
pub mod export;
pub mod figures;
pub mod listing;
pub mod params;
pub mod resident;

use std::sync::Arc;

use fengqiao_protocol::Scope;
use fengqiao_shared::StatsQuery;

use crate::storage::Storage;

pub use answers::AnswerCache;
pub use error::ReportError;
pub use figures::Figure;
pub use resident::{ResidentConfig, ResidentSummaries, Rows};

/// The report side of the server: resident summaries and cached answers.
pub struct Reports {
    resident: ResidentSummaries,
    answers: AnswerCache,
}

impl Reports {
    pub fn new(storage: Arc<dyn Storage>, config: ResidentConfig) -> Self {
        Self {
            resident: ResidentSummaries::new(storage, config),
            answers: AnswerCache::new(answers::DEFAULT_CAPACITY),
        }
    }

    pub fn resident(&self) -> &ResidentSummaries {
        &self.resident
    }

    /// One statistics answer as JSON, computed over the scope's summaries
    /// as they are now, or taken from the cache when nothing in the scope
    /// changed since it was computed. Blocks: call from a blocking thread.
    pub fn figure(
        &self,
        figure: Figure,
        scope: &Scope,
        query: &StatsQuery,
    ) -> Result<Arc<[u8]>, ReportError> {
        self.resident.read(scope, |rows| {
            let key = answers::key(figure.name(), scope, query);
            self.answers
                .get_or_compute(key, rows.version(), || figure.to_json(&rows, query))
        })?
    }
}
