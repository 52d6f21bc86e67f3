//! The statistics endpoints' answers, computed by
//! [`fengqiao_shared::stats`] over the resident summaries of a scope.
//!
//! The summary answer is exactly the shared crate's [`Statistics`]; each
//! drill-down answer carries the query it was computed with (its "as of"
//! time, period, overdue threshold and scope), so anyone can recompute it
//! from the same summaries and get the same bytes.

use std::collections::BTreeMap;

use fengqiao_protocol::DocumentId;
use fengqiao_shared::stats::compare::{Comparison, compared_periods};
use fengqiao_shared::stats::{self, partial};
use fengqiao_shared::stats::{DuplicatePair, Statistics};
use fengqiao_shared::{StatsQuery, Summary};
use serde::Serialize;

use super::{ReportError, Rows};

/// One statistics answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// Everything the dashboard's headline shows: [`Statistics`].
    Summary,
    /// One row per village.
    ByVillage,
    /// One row per town.
    ByTown,
    /// The headline figures against the period before (环比) and the same
    /// period a year earlier (同比).
    Compare,
    /// One row per dispute category.
    ByCategory,
    /// One row per month of creation.
    ByMonth,
    /// Possible duplicates, with the summaries of the cases involved.
    Duplicates,
}

/// A drill-down: its rows and the query they answer.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DrillDown<'a, T> {
    query: &'a StatsQuery,
    rows: T,
}

/// Possible duplicates and the cases they pair.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Duplicates<'a> {
    query: &'a StatsQuery,
    pairs: Vec<DuplicatePair>,
    /// The summary of every case named in `pairs`.
    records: BTreeMap<&'a DocumentId, &'a Summary>,
}

/// The headline figures compared, the query and what the figures mean.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Compared<'a> {
    query: &'a StatsQuery,
    #[serde(flatten)]
    comparison: Comparison,
    definitions: BTreeMap<String, stats::Definition>,
}

/// The headline figures of the query's period (the current month when it
/// is open), of the period before and of the same period a year earlier.
pub fn comparison(rows: &Rows<'_>, query: &StatsQuery) -> Comparison {
    let periods = compared_periods(query.period, query.now, query.utc_offset_minutes);
    let totals = |period| {
        let query = query.clone().with_period(period);
        let partials = rows.partials(&query);
        partial::totals_of(partials.iter().map(|p| &**p), &query)
    };
    Comparison::new(
        periods,
        totals(periods.current),
        totals(periods.previous),
        totals(periods.year_before),
    )
}

impl Figure {
    /// The endpoint's name, for cache keys and logs.
    pub fn name(self) -> &'static str {
        match self {
            Figure::Summary => "summary",
            Figure::ByVillage => "by-village",
            Figure::ByTown => "by-town",
            Figure::Compare => "compare",
            Figure::ByCategory => "by-category",
            Figure::ByMonth => "by-month",
            Figure::Duplicates => "duplicates",
        }
    }

    /// Computes the answer over `rows` as JSON, merging the villages'
    /// partial statistics (only villages changed since they were last
    /// computed are computed again).
    pub fn to_json(self, rows: &Rows<'_>, query: &StatsQuery) -> Result<Vec<u8>, ReportError> {
        let partials = rows.partials(query);
        let partials = partials.iter().map(|p| &**p);
        let json = match self {
            Figure::Summary => {
                serde_json::to_vec::<Statistics>(&partial::statistics_of(partials, query))
            }
            Figure::ByVillage => serde_json::to_vec(&DrillDown {
                query,
                rows: partial::by_village_of(partials, query),
            }),
            Figure::ByTown => serde_json::to_vec(&DrillDown {
                query,
                rows: partial::by_town_of(partials, query),
            }),
            Figure::Compare => serde_json::to_vec(&Compared {
                query,
                comparison: comparison(rows, query),
                definitions: stats::definitions(),
            }),
            Figure::ByCategory => serde_json::to_vec(&DrillDown {
                query,
                rows: partial::by_category_of(partials, query),
            }),
            Figure::ByMonth => serde_json::to_vec(&DrillDown {
                query,
                rows: partial::by_month_of(partials, query),
            }),
            Figure::Duplicates => {
                let pairs = partial::possible_duplicates_of(partials, query);
                let records = pairs
                    .iter()
                    .flat_map(|pair| [(&pair.village, &pair.first), (&pair.village, &pair.second)])
                    .filter_map(|(village, id)| rows.get(village, id))
                    .map(|summary| (&summary.id, summary))
                    .collect();
                serde_json::to_vec(&Duplicates {
                    query,
                    pairs,
                    records,
                })
            }
        };
        json.map_err(|e| ReportError::Write(e.to_string()))
    }
}
