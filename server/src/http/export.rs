//! Exports of a scope's records as files: `GET /v1/export/disputes.csv`,
//! `disputes.xlsx`, `visits.csv` and `visits.xlsx`.
//!
//! They take `scope`, `from` and `to` like the statistics (the period
//! selects disputes by creation and visits by visit time), and `lang=en`
//! for English headers and labels (Chinese by default), and answer with
//! `Content-Disposition: attachment`, so a browser saves the file. The
//! writers are [`crate::report::export`]'s, shared with `fengqiao export`.
//! Exports carry the parties' names, so each one is logged with who asked.

use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fengqiao_protocol::{ErrorCode, Scope};
use fengqiao_shared::vocab::RecordKind;

use super::dashboard::Views;
use super::session::Official;
use super::stats::blocking;
use super::{ApiError, Format};
use crate::directory::Org;
use crate::engine::now_millis;
use crate::report::export::{self, Context, ExportFormat, FileName, Lang, PlaceNames};
use crate::report::params::Params;
use crate::report::people;

/// Parameters an export accepts.
const EXPORT_PARAMS: &[&str] = &["scope", "from", "to", "overdueDays", "asOf", "lang"];

/// The exports, for officials ([`Official`]).
pub const ROUTES: super::Routes<Views> = &[("/v1/export/{file}", || get(download))];

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

/// The names of the scope's villages and towns.
pub(super) fn place_names(org: &Org, scope: &Scope) -> PlaceNames {
    PlaceNames {
        villages: org
            .villages_in(scope)
            .map(|(code, name)| (code.clone(), name.clone()))
            .collect(),
        towns: org
            .towns
            .iter()
            .filter(|(code, _)| {
                code.as_str().starts_with(scope.prefix())
                    || scope.prefix().starts_with(code.as_str())
            })
            .map(|(code, name)| (code.to_string(), name.clone()))
            .collect(),
    }
}

/// A place's name, or its code when the organisation does not name it.
pub(super) fn place_name(org: &Org, scope: &Scope) -> String {
    org.name_of(scope)
        .map_or_else(|| scope.to_string(), str::to_owned)
}

/// A file download's headers: its type, its name (with the place and the
/// period) and no caching.
pub(super) fn attachment(content_type: &str, name: &FileName, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, name.content_disposition()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
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
    let query = params.stats_query(now_millis())?;
    let lang = params
        .word("lang", Lang::parse, &["zh", "en"])?
        .unwrap_or_default();
    let period = query.period;
    let label = official.identity.label.clone();
    let (bytes, name) = blocking(move || {
        let directory = views.app.engine.directory();
        let org = directory.org();
        let places = place_names(&org, &scope);
        let people = people::Names::of(directory);
        let name = FileName::new(
            (export::file_names(kind).1, export::file_names(kind).0),
            (&place_name(&org, &scope), scope.prefix()),
            &period,
            query.now,
            format.extension(),
        );
        // The records are copied out of the resident summaries, so their
        // documents are read and the file written without holding up
        // reports that wait to take in new changes.
        let chosen: Vec<fengqiao_shared::Summary> =
            views.reports.resident().read(&scope, |rows| {
                export::select(rows.iter(), kind, &period)
                    .into_iter()
                    .cloned()
                    .collect()
            })?;
        let chosen: Vec<&fengqiao_shared::Summary> = chosen.iter().collect();
        let details = export::details(views.app.engine.storage().as_ref(), &chosen)?;
        let context = Context {
            places: &places,
            people: &people,
            details: &details,
            now: query.now,
            overdue_days: query.overdue_days,
            lang,
        };
        let mut bytes = Vec::new();
        match format {
            ExportFormat::Csv => {
                export::write_csv(chosen.iter().copied(), kind, &context, &mut bytes)
            }
            ExportFormat::Xlsx => {
                export::write_xlsx(chosen.iter().copied(), kind, &context, &mut bytes)
            }
        }?;
        let rows = chosen.len();
        tracing::info!(official = %label, %scope, kind = %kind, rows, "records exported");
        Ok((bytes, name))
    })
    .await?;
    Ok(attachment(format.content_type(), &name, bytes))
}
