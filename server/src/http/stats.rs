//! The township and district statistics API, record lists and duplicate
//! links (DESIGN.md §6).
//!
//! | route | answer |
//! |---|---|
//! | `GET /v1/stats/summary` | [`Statistics`](fengqiao_shared::Statistics) of the scope |
//! | `GET /v1/stats/by-village`, `/by-category`, `/by-month` | `{query, rows}` drill-downs |
//! | `GET /v1/duplicates` | `{query, pairs, records}`: possible duplicates |
//! | `GET /v1/records` | `{items, next}`: summaries matching a filter, a page at a time |
//! | `GET /v1/records/{id}` | the record's summary |
//! | `GET /v1/records/{id}/timeline` | a dispute's events in fold order and its status |
//! | `GET /v1/records/{id}/case` | what the case page shows: summary, timeline, audit trail |
//! | `POST /v1/records/{id}/duplicate-of` | `{"of": id}` links a duplicate (`null` unlinks) |
//!
//! Every statistics route takes `scope`, `from`, `to`, `overdueDays` and
//! `asOf` ([`crate::report::params`]); the scope defaults to the caller's
//! own and must lie within it (`403 forbidden` otherwise). Answers are
//! computed over the resident summaries of the scope, never by loading
//! documents ([`crate::report`]).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fengqiao_protocol::{DocumentId, ErrorCode, Scope, VillageCode};
use fengqiao_shared::record::set_duplicate_of;
use fengqiao_shared::vocab::RecordKind;
use serde::Serialize;

use super::body::{LimitedBody, is_json};
use super::dashboard::Views;
use super::session::{Official, bad_request, forbidden};
use super::{ApiError, Format, HistoryEntry, audit_trail};
use crate::engine::{DocError, now_millis};
use crate::report::case::{StoredRecord, Timeline, village_of};
use crate::report::listing::{self, LIST_PARAMS, ListRequest};
use crate::report::params::{Params, STATS_PARAMS};
use crate::report::{Figure, ReportError};

/// The statistics, lists and case routes, for officials ([`Official`]).
pub const ROUTES: super::Routes<Views> = &[
    ("/v1/stats/summary", || get(summary)),
    ("/v1/stats/by-village", || get(by_village)),
    ("/v1/stats/by-town", || get(by_town)),
    ("/v1/stats/compare", || get(compare)),
    ("/v1/stats/workload", || get(workload)),
    ("/v1/stats/by-category", || get(by_category)),
    ("/v1/stats/by-month", || get(by_month)),
    ("/v1/duplicates", || get(duplicates)),
    ("/v1/records", || get(records)),
    ("/v1/records/{id}", || get(record)),
    ("/v1/records/{id}/timeline", || get(timeline)),
    ("/v1/records/{id}/case", || get(case)),
    ("/v1/records/{id}/history", || get(history)),
    ("/v1/records/{id}/duplicate-of", || post(link_duplicate)),
];

impl From<ReportError> for ApiError {
    fn from(error: ReportError) -> Self {
        match error {
            ReportError::Storage(e) => ApiError {
                body: e.to_error_body(),
                format: Format::Json,
            },
            ReportError::Unreadable(_) | ReportError::Write(_) => {
                tracing::error!(error = %error, "report failed");
                ApiError::internal(Format::Json)
            }
            other => ApiError::new(other.code(), other.to_string(), Format::Json),
        }
    }
}

pub(super) fn doc_error(error: DocError) -> ApiError {
    ApiError {
        body: error.body(),
        format: Format::Json,
    }
}

/// Runs report work on a blocking thread.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::error!(error = %e, "report task failed");
        ApiError::internal(Format::Json)
    })?
}

/// A JSON body computed (or cached) as bytes.
fn json_body(body: std::sync::Arc<[u8]>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Bytes::from_owner(body),
    )
        .into_response()
}

pub(super) fn json<T: Serialize>(value: &T) -> Result<Response, ApiError> {
    let bytes = serde_json::to_vec(value).map_err(|e| {
        tracing::error!(error = %e, "cannot write a JSON answer");
        ApiError::internal(Format::Json)
    })?;
    Ok(json_body(bytes.into()))
}

pub(super) fn record_id(text: &str) -> Result<DocumentId, ApiError> {
    DocumentId::parse_any(text)
        .map_err(|e| bad_request(format!("{:?} is not a record id: {e}", shorten(text))))
}

fn shorten(text: &str) -> String {
    text.chars().take(60).collect()
}

async fn figure(
    views: Views,
    official: Official,
    raw: Option<String>,
    figure: Figure,
) -> Result<Response, ApiError> {
    let params = Params::parse(raw.as_deref(), STATS_PARAMS)?;
    let scope = official.scope(params.scope()?)?;
    let query = params.stats_query(now_millis())?.with_scope(scope.clone());
    let body = blocking(move || Ok(views.reports.figure(figure, &scope, &query)?)).await?;
    Ok(json_body(body))
}

async fn summary(
    State(views): State<Views>,
    official: Official,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    figure(views, official, raw, Figure::Summary).await
}

async fn by_village(
    State(views): State<Views>,
    official: Official,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    figure(views, official, raw, Figure::ByVillage).await
}

async fn by_town(
    State(views): State<Views>,
    official: Official,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    figure(views, official, raw, Figure::ByTown).await
}

async fn compare(
    State(views): State<Views>,
    official: Official,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    figure(views, official, raw, Figure::Compare).await
}

/// One person's workload, named from the directory.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NamedLoad {
    /// The person's name in the directory; `None` for an id the directory
    /// does not know (a record made by a device enrolled elsewhere).
    name: Option<String>,
    #[serde(flatten)]
    load: fengqiao_shared::stats::workload::CadreLoad,
}

/// `GET /v1/stats/workload`: per person, visits per week, cases handled,
/// open and overdue, busiest first.
async fn workload(
    State(views): State<Views>,
    official: Official,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(raw.as_deref(), STATS_PARAMS)?;
    let scope = official.scope(params.scope()?)?;
    let query = params.stats_query(now_millis())?.with_scope(scope.clone());
    let body = blocking(move || {
        let names = crate::report::people::Names::of(views.app.engine.directory());
        let mut rows = views.reports.resident().read(&scope, |rows| {
            fengqiao_shared::stats::workload::workload(rows.iter(), &query)
        })?;
        rows.sort_by(|a, b| {
            (b.overdue, b.cases_handled, b.visits, &a.person).cmp(&(
                a.overdue,
                a.cases_handled,
                a.visits,
                &b.person,
            ))
        });
        let rows: Vec<NamedLoad> = rows
            .into_iter()
            .map(|load| NamedLoad {
                name: names.name(&load.person).map(str::to_owned),
                load,
            })
            .collect();
        Ok(serde_json::json!({ "query": query, "rows": rows }))
    })
    .await?;
    json(&body)
}

async fn by_category(
    State(views): State<Views>,
    official: Official,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    figure(views, official, raw, Figure::ByCategory).await
}

async fn by_month(
    State(views): State<Views>,
    official: Official,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    figure(views, official, raw, Figure::ByMonth).await
}

async fn duplicates(
    State(views): State<Views>,
    official: Official,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    figure(views, official, raw, Figure::Duplicates).await
}

/// The scope of a record list: `village` narrows `scope` (or the caller's
/// own) to one village.
fn list_scope(official: &Official, params: &Params) -> Result<Scope, ApiError> {
    let village = params
        .get("village")
        .map(|code| VillageCode::new(code).map_err(|e| bad_request(format!("village: {e}"))))
        .transpose()?;
    let requested = params.scope()?;
    let scope = match (requested, village) {
        (Some(scope), Some(village)) if !scope.contains(&village) => {
            return Err(bad_request(format!(
                "village {village} is not in scope {scope}"
            )));
        }
        (_, Some(village)) => Some(Scope::Village(village)),
        (scope, None) => scope,
    };
    official.scope(scope)
}

async fn records(
    State(views): State<Views>,
    official: Official,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(raw.as_deref(), LIST_PARAMS)?;
    let scope = list_scope(&official, &params)?;
    let query = params.stats_query(now_millis())?.with_scope(scope.clone());
    let request = ListRequest::from_params(&params)?;
    let page = blocking(move || {
        Ok(views.reports.resident().read(&scope, |rows| {
            listing::list(
                &rows,
                &request,
                &query,
                &views.app.limit_table(),
                now_millis(),
            )
        })?)
    })
    .await?;
    json(&page)
}

async fn record(
    State(views): State<Views>,
    official: Official,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = record_id(&id)?;
    let summary = blocking(move || {
        views
            .app
            .engine
            .summary(official.caller(), &id)
            .map_err(doc_error)?
            .ok_or_else(|| ApiError::from(ReportError::NotFound))
    })
    .await?;
    json(&summary)
}

/// Loads a record the caller may read.
fn readable(views: &Views, official: &Official, id: &DocumentId) -> Result<StoredRecord, ApiError> {
    let storage = views.app.engine.storage().as_ref();
    match village_of(storage, id)? {
        Some(village) if official.can_read(&village) => Ok(StoredRecord::load(storage, id)?),
        _ => Err(ReportError::NotFound.into()),
    }
}

async fn timeline(
    State(views): State<Views>,
    official: Official,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = record_id(&id)?;
    let timeline = blocking(move || Ok(readable(&views, &official, &id)?.timeline()?)).await?;
    json(&timeline)
}

/// Everything the case page shows about one record.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CaseFile {
    summary: fengqiao_shared::Summary,
    /// The timeline, for a dispute.
    timeline: Option<Timeline>,
    /// The audit trail, when the caller may read it.
    history: Option<Vec<HistoryEntry>>,
    /// Why the audit trail is not shown, when it is not.
    history_refused: Option<String>,
    /// Whether the caller may link this case as a duplicate.
    can_link: bool,
    /// Whether the caller may act on the case (accept, assign, 督办, …):
    /// the same officials who link duplicates.
    can_act: bool,
    /// The deadline binding the case now, under its place's time limits.
    deadline: Option<fengqiao_shared::deadline::Deadline>,
    /// The time limits of the case's place.
    time_limits: fengqiao_shared::deadline::TimeLimits,
    /// Names and roles of the people the case names (its author, the
    /// authors of events, assignees), by person id.
    people: std::collections::BTreeMap<String, super::people::PersonView>,
    /// Titles of the cases this one links to (duplicate of, related, not
    /// duplicates), by id, for those the caller may read.
    linked: std::collections::BTreeMap<String, String>,
}

/// A record's audit trail, for a bearer token or a dashboard session.
async fn history(
    State(views): State<Views>,
    official: Official,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = record_id(&id)?;
    let entries = blocking(move || audit_trail(&views.app, official.caller(), &id)).await?;
    json(&entries)
}

async fn case(
    State(views): State<Views>,
    official: Official,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = record_id(&id)?;
    let file = blocking(move || {
        let stored = readable(&views, &official, &id)?;
        let summary = views
            .app
            .engine
            .summary(official.caller(), &id)
            .map_err(doc_error)?
            .ok_or_else(|| ApiError::from(ReportError::NotFound))?;
        let timeline = match stored.kind()? {
            RecordKind::Dispute => Some(stored.timeline()?),
            RecordKind::Visit => None,
        };
        let (history, history_refused) = match audit_trail(&views.app, official.caller(), &id) {
            Ok(entries) => (Some(entries), None),
            Err(refused) if refused.body.code == ErrorCode::Forbidden => {
                (None, Some(refused.body.message))
            }
            Err(other) => return Err(other),
        };
        let names = super::people::Names::of(views.app.engine.directory().as_ref());
        let mut ids: Vec<&str> = vec![summary.created_by.as_str()];
        ids.extend(summary.assignees.iter().map(String::as_str));
        let mut links: Vec<&DocumentId> = Vec::new();
        if let Some(timeline) = &timeline {
            for event in &timeline.events {
                ids.push(event.by.as_str());
                ids.extend(event.assignee.as_deref());
            }
            links.extend(timeline.duplicate_of.iter());
            links.extend(timeline.related.iter());
            links.extend(timeline.not_duplicates.iter());
        }
        let people = names.table(ids);
        let storage = views.app.engine.storage();
        let mut linked = std::collections::BTreeMap::new();
        for other in links {
            if let Some(s) = storage.summary(other).map_err(ReportError::from)?
                && official.can_read(&s.village)
            {
                linked.insert(other.to_string(), s.title);
            }
        }
        let table = views.app.limit_table();
        let can_link = summary.kind == RecordKind::Dispute && official.can_link(&summary.village);
        Ok(CaseFile {
            can_link,
            can_act: can_link,
            deadline: table.deadline(&summary, now_millis()),
            time_limits: table.for_village(&summary.village),
            people,
            linked,
            summary,
            timeline,
            history,
            history_refused,
        })
    })
    .await?;
    json(&file)
}

/// Reads the body of `POST /v1/records/{id}/duplicate-of`: exactly
/// `{"of": "<record id>"}`, or `{"of": null}` to clear the link.
fn link_target(body: &[u8]) -> Result<Option<DocumentId>, ApiError> {
    let shape = "the body must be {\"of\": \"<record id>\"}, or {\"of\": null} to unlink";
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| bad_request(format!("{shape}: {e}")))?;
    let object = value
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| bad_request(shape))?;
    match object.get("of") {
        Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(id)) => record_id(id).map(Some),
        _ => Err(bad_request(shape)),
    }
}

/// The answer to a link request.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Linked {
    id: DocumentId,
    duplicate_of: Option<DocumentId>,
    /// Whether anything changed (linking twice changes nothing).
    changed: bool,
    summary: Option<fengqiao_shared::Summary>,
}

async fn link_duplicate(
    State(views): State<Views>,
    official: Official,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: LimitedBody,
) -> Result<Response, ApiError> {
    let id = record_id(&id)?;
    if !is_json(&headers) {
        return Err(bad_request(
            "send the link as JSON, {\"of\": \"<record id>\"}, with Content-Type: application/json",
        ));
    }
    let of = link_target(&body)?;
    if !official.may_link() {
        return Err(forbidden(
            "only town officials, and district officials granted write, link duplicate cases",
        ));
    }
    let linked = blocking(move || link(&views, &official, &id, of.as_ref())).await?;
    json(&linked)
}

/// Links `id` as a duplicate of `of` (or unlinks it) on behalf of the
/// official, as a change of the record's document.
fn link(
    views: &Views,
    official: &Official,
    id: &DocumentId,
    of: Option<&DocumentId>,
) -> Result<Linked, ApiError> {
    let storage = views.app.engine.storage();
    let summary = storage
        .summary(id)
        .map_err(ReportError::from)?
        .filter(|s| official.can_read(&s.village))
        .ok_or(ReportError::NotFound)?;
    if summary.kind != RecordKind::Dispute {
        return Err(bad_request(format!(
            "record {id} is a household visit; only disputes are linked as duplicates"
        )));
    }
    if !official.can_link(&summary.village) {
        return Err(forbidden(format!(
            "this device may not change records of village {}",
            summary.village
        )));
    }
    if let Some(of) = of {
        if of == id {
            return Err(bad_request("a case cannot be a duplicate of itself"));
        }
        let original = storage
            .summary(of)
            .map_err(ReportError::from)?
            .filter(|s| official.can_read(&s.village))
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NotFound,
                    format!("the case {of} it would duplicate does not exist here"),
                    Format::Json,
                )
            })?;
        if original.kind != RecordKind::Dispute {
            return Err(bad_request(format!(
                "record {of} is a household visit; a dispute can only duplicate a dispute"
            )));
        }
    }
    let author = super::actions::author_of(views, official, now_millis());
    let applied = views
        .app
        .engine
        .edit_as(official.caller(), id, |doc| {
            set_duplicate_of(doc, &author, of).map_err(|e| e.to_string())
        })
        .map_err(doc_error)?;
    tracing::info!(
        official = %official.identity.label,
        %id,
        of = ?of.map(DocumentId::as_str),
        changed = applied.changed,
        "duplicate link set"
    );
    Ok(Linked {
        id: id.clone(),
        duplicate_of: of.cloned(),
        changed: applied.changed,
        summary: storage.summary(id).map_err(ReportError::from)?,
    })
}
