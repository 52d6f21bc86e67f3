//! The monthly report (月报): `GET /v1/report/monthly` (JSON, what the
//! dashboard's printable page shows) and `GET /v1/report/monthly.xlsx`
//! (the same report as a workbook). Both take `scope`, `month`
//! (`YYYY-MM`, China Standard Time; the current month by default),
//! `overdueDays` and `asOf`; see [`crate::report::monthly`].

use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use fengqiao_shared::stats::calendar::YearMonth;

use super::ApiError;
use super::dashboard::Views;
use super::export::{attachment, place_name, place_names};
use super::session::Official;
use super::stats::blocking;
use crate::engine::now_millis;
use crate::report::ReportError;
use crate::report::export::{ExportFormat, FileName};
use crate::report::monthly::{self, MonthlyReport, month_period};
use crate::report::params::Params;
use crate::report::people;

const PARAMS: &[&str] = &["scope", "month", "overdueDays", "asOf"];

/// The monthly report, for officials ([`Official`]).
pub const ROUTES: super::Routes<Views> = &[
    ("/v1/report/monthly", || get(json)),
    ("/v1/report/monthly.xlsx", || get(xlsx)),
];

async fn report(
    views: Views,
    official: Official,
    raw: Option<String>,
) -> Result<MonthlyReport, ApiError> {
    let params = Params::parse(raw.as_deref(), PARAMS)?;
    let scope = official.scope(params.scope()?)?;
    let query = params.stats_query(now_millis())?;
    let month = match params.get("month") {
        Some(text) => text.parse::<YearMonth>().map_err(|e| {
            ReportError::bad(format!(
                "month: {e}; write a month as YYYY-MM, e.g. 2026-10"
            ))
        })?,
        None => YearMonth::from_millis(query.now, query.utc_offset_minutes),
    };
    blocking(move || {
        let directory = views.app.engine.directory();
        let org = directory.org();
        let places = place_names(&org, &scope);
        let name = place_name(&org, &scope);
        let people = people::Names::of(directory);
        Ok(views.reports.resident().read(&scope, |rows| {
            monthly::monthly(&rows, &scope, month, &query, &places, name, &people)
        })?)
    })
    .await
}

async fn json(
    State(views): State<Views>,
    official: Official,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let report = report(views, official, raw).await?;
    super::stats::json(&report)
}

async fn xlsx(
    State(views): State<Views>,
    official: Official,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let report = report(views, official, raw).await?;
    let (bytes, report) = blocking(move || {
        let mut out = Vec::new();
        monthly::write_xlsx(&report, &mut out)?;
        Ok((out, report))
    })
    .await?;
    let period = month_period(
        report.month,
        fengqiao_shared::stats::CHINA_STANDARD_OFFSET_MINUTES,
    );
    let name = FileName::new(
        ("月报", "monthly-report"),
        (&report.place_name, report.scope.prefix()),
        &period,
        report.as_of,
        ExportFormat::Xlsx.extension(),
    );
    Ok(attachment(ExportFormat::Xlsx.content_type(), &name, bytes))
}
