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
pub mod monthly;
pub mod params;
pub mod people;
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

    /// Loads the scopes officials read and computes their villages'
    /// statistics for the dashboard's opening view (all time, China
    /// Standard Time), so the first dashboard after a start answers at
    /// once instead of reading every record of a district. Widest scopes
    /// first; a scope inside one already loaded is answered from it.
    /// Stops when the resident budget is used or the server shuts down.
    /// Blocks: run on a thread of its own.
    pub fn warm_up(&self, mut scopes: Vec<Scope>, now: fengqiao_shared::Millis) {
        scopes.sort_by_key(|scope| (scope.prefix().len(), scope.prefix().to_owned()));
        scopes.dedup();
        let mut loaded: Vec<Scope> = Vec::new();
        for scope in scopes {
            if loaded.iter().any(|wider| wider.covers(&scope)) {
                continue;
            }
            let started = std::time::Instant::now();
            let query = StatsQuery::new(now).with_scope(scope.clone());
            let warmed = self
                .resident
                .read(&scope, |rows| rows.partials(&query).len());
            match warmed {
                Ok(villages) => tracing::info!(
                    %scope,
                    villages,
                    millis = started.elapsed().as_millis() as u64,
                    "reports ready"
                ),
                Err(error) => {
                    tracing::info!(%scope, %error, "reports not warmed up");
                    return;
                }
            }
            loaded.push(scope);
            if self.resident.usage().0 >= self.resident.budget_bytes() {
                return;
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::resident::tests::{commit, summary};
    use crate::storage::{SledStorage, StorageConfig, StorageError};
    use fengqiao_shared::vocab::Status;

    fn store_with(villages: &[&str]) -> (tempfile::TempDir, Arc<dyn Storage>) {
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> =
            Arc::new(SledStorage::open(&StorageConfig::new(dir.path())).unwrap());
        for village in villages {
            commit(storage.as_ref(), &summary(village, Status::Open));
        }
        (dir, storage)
    }

    #[test]
    fn warming_up_loads_the_widest_scopes_once() {
        let (_dir, storage) = store_with(&["500110101001", "500110102001", "500111101001"]);
        let reports = Reports::new(storage, ResidentConfig::default());
        let scope = |code: &str| Scope::parse(code).unwrap();
        reports.warm_up(
            vec![scope("500110101"), scope("500110"), scope("500110102")],
            0,
        );
        // The district holds the towns: two records, held once.
        assert_eq!(reports.resident().usage().1, 2);
    }

    #[test]
    fn a_closing_server_loads_nothing_more() {
        let (_dir, storage) = store_with(&["500110101001"]);
        let reports = Reports::new(storage, ResidentConfig::default());
        reports.resident().close();
        reports.warm_up(vec![Scope::parse("500110").unwrap()], 0);
        assert_eq!(reports.resident().usage(), (0, 0));
        let asked = reports.figure(
            Figure::Summary,
            &Scope::parse("500110").unwrap(),
            &StatsQuery::new(0),
        );
        assert!(matches!(
            asked,
            Err(ReportError::Storage(StorageError::Closing))
        ));
    }
}
