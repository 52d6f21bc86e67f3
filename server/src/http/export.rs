//! Exports of a scope's records as files: `GET /v1/export/disputes.csv`,
//! `disputes.xlsx`, `visits.csv` and `visits.xlsx`.
//!
//! They take `scope`, `from` and `to` like the statistics (the period
//! selects disputes by creation and visits by visit time) and answer with
//! `Content-Disposition: attachment`, so a browser saves the file. The
//! writers are [`crate::report::export`]'s, shared with `fengqiao export`.
//! Exports carry the parties' names, so each one is logged with who asked.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fengqiao_protocol::ErrorCode;
use fengqiao_shared::vocab::RecordKind;

use super::dashboard::Views;
use super::session::Official;
use super::stats::blocking;
use super::{ApiError, Format};
use crate::engine::now_millis;
use crate::report::calendar::compact_day;
use crate::report::export::{self, ExportFormat, VillageNames};
use crate::report::params::Params;

/// Parameters an export accepts.
const EXPORT_PARAMS: &[&str] = &["scope", "from", "to"];

pub fn routes() -> Router<Views> {
    Router::new().route("/v1/export/{file}", get(download))
}

/// The kind and format a file name asks for.
fn file_kind(file: &str) -> Option<(RecordKind, ExportFormat)> {
    match file {
        "disputes.csv" => Some((RecordKind::Dispute, ExportFormat::Csv)),
        "disputes.xlsx" => Some((RecordKind::Dispute, ExportFormat::Xlsx)),
        "visits.csv" => Some((RecordKind::Visit, ExportFormat::Csv)),
        "visits.xlsx" => Some((RecordKind::Visit, ExportFormat::Xlsx)),
        _ => None,
    }
}

async fn download(
    State(views): State<Views>,
    official: Official,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (kind, format) = file_kind(&file).ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            "no such export: ask for disputes.csv, disputes.xlsx, visits.csv or visits.xlsx",
            Format::Json,
        )
    })?;
    let params = Params::parse(raw.as_deref(), EXPORT_PARAMS)?;
    let scope = official.scope(params.scope()?)?;
    let period = params.period()?;
    let label = official.identity.label.clone();
    let file_name = format!(
        "{}-{}-{}.{}",
        export::file_names(kind).0,
        scope,
        compact_day(now_millis()),
        format.extension()
    );
    let bytes = blocking(move || {
        let org = views.app.engine.directory().org();
        let names: VillageNames = org
            .villages_in(&scope)
            .map(|(code, name)| (code.clone(), name.clone()))
            .collect();
        let (bytes, rows) = views.reports.resident().read(&scope, |rows| {
            let chosen = export::select(rows.iter(), kind, &period);
            let mut out = Vec::new();
            let written = match format {
                ExportFormat::Csv => {
                    export::write_csv(chosen.iter().copied(), kind, &names, &mut out)
                }
                ExportFormat::Xlsx => {
                    export::write_xlsx(chosen.iter().copied(), kind, &names, &mut out)
                }
            };
            written.map(|()| (out, chosen.len()))
        })??;
        tracing::info!(official = %label, %scope, kind = %kind, rows, "records exported");
        Ok(bytes)
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response())
}
