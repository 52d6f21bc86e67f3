//! What a town official (or a district official granted write) does to a
//! case from the dashboard: the closed loop's actions.
//!
//! `POST /v1/records/{id}/actions` with a JSON body:
//!
//! | `action` | other fields | the change |
//! |---|---|---|
//! | `accept` | `note?` | a `accepted` event (受理) |
//! | `return` | `note` | a `returned` event (退回) to the level below |
//! | `assign` | `person`, `note?` | an `assigned` event (分派), the person among the assignees |
//! | `unassign` | `person` | the person taken off the assignees |
//! | `supervise` | `note`, `due` | a `supervised` event (督办) with its deadline |
//! | `archive` | `note?` | an `archived` event (归档) |
//! | `reopen` | `note?` | a `reopened` event (重新受理) |
//! | `link` | `of` | marked a duplicate of case `of` |
//! | `unlink` | — | the duplicate mark cleared |
//! | `notDuplicate` | `other` | case `other` judged not a duplicate of this one |
//!
//! `due` is a day (`2026-12-20`, the end of that day in China Standard
//! Time) or milliseconds since the epoch, and must lie ahead. Each action
//! is one Automerge change made through [`crate::engine::Engine::edit_as`]
//! with the official's device as its actor and the official's person as
//! the event's author, validated and attributed like a phone's upload, so
//! the audit trail and the merge rules apply and phones see it at their
//! next sync. An action that does not fit where the case stands (accepting
//! a case nobody escalated to the official's level, archiving an open
//! case) is refused with `409 conflict` and a reason. Supervisors and
//! cadres are refused with `403 forbidden`. The answer is the case's new
//! summary with its deadline.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use fengqiao_protocol::{DocumentId, ErrorCode, Scope, VillageCode};
use fengqiao_shared::access::{self, Role};
use fengqiao_shared::deadline::Deadline;
use fengqiao_shared::record::{self, Author, NewEvent};
use fengqiao_shared::stats::MILLIS_PER_DAY;
use fengqiao_shared::vocab::{EventKind, Level, RecordKind, Stage};
use fengqiao_shared::{Millis, Summary};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::body::{LimitedBody, is_json};
use super::dashboard::Views;
use super::session::{Official, bad_request, forbidden};
use super::stats::{blocking, doc_error, json, record_id};
use super::{ApiError, AppState, Format};
use crate::engine::now_millis;
use crate::report::ReportError;
use crate::report::calendar::{DayEdge, parse_instant};

/// The closed loop's routes, for officials ([`Official`]).
pub const ROUTES: super::Routes<Views> = &[
    ("/v1/records/{id}/actions", || post(act)),
    ("/v1/records/{id}/assignable", || get(assignable)),
];

/// The longest note accepted, in characters.
const MAX_NOTE: usize = 2_000;

/// The body of an action request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ActionBody {
    action: String,
    note: Option<String>,
    person: Option<String>,
    due: Option<serde_json::Value>,
    of: Option<String>,
    other: Option<String>,
}

/// One closed-loop action, checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Accept {
        note: Option<String>,
    },
    Return {
        note: String,
    },
    Assign {
        person: String,
        note: Option<String>,
    },
    Unassign {
        person: String,
    },
    Supervise {
        note: String,
        due: Millis,
    },
    Archive {
        note: Option<String>,
    },
    Reopen {
        note: Option<String>,
    },
    Link {
        of: DocumentId,
    },
    Unlink,
    NotDuplicate {
        other: DocumentId,
    },
}

const ACTIONS: &str =
    "accept, return, assign, unassign, supervise, archive, reopen, link, unlink, notDuplicate";

fn required(value: Option<String>, field: &str, action: &str) -> Result<String, ApiError> {
    match value {
        Some(text) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
        _ => Err(bad_request(format!("{action}: give a non-empty {field:?}"))),
    }
}

fn note_of(note: Option<String>) -> Result<Option<String>, ApiError> {
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Err(bad_request(format!("note: at most {MAX_NOTE} characters")));
    }
    Ok(note)
}

/// Reads a deadline: a day `YYYY-MM-DD` (its end, China Standard Time) or
/// milliseconds since the epoch.
fn due_of(value: Option<serde_json::Value>, now: Millis) -> Result<Millis, ApiError> {
    let shape = "supervise: give \"due\" as a day (\"2026-12-20\") or milliseconds since the epoch";
    let due = match value {
        Some(serde_json::Value::Number(n)) => n.as_i64().ok_or_else(|| bad_request(shape))?,
        Some(serde_json::Value::String(text)) => {
            parse_instant("due", &text, DayEdge::EndInclusive).map_err(|_| bad_request(shape))? - 1
        }
        _ => return Err(bad_request(shape)),
    };
    if due <= now {
        return Err(bad_request("supervise: the deadline must lie ahead"));
    }
    if due > now + 366 * MILLIS_PER_DAY {
        return Err(bad_request(
            "supervise: the deadline must lie within a year",
        ));
    }
    Ok(due)
}

fn parse_action(body: &[u8], now: Millis) -> Result<Action, ApiError> {
    let body: ActionBody = serde_json::from_slice(body).map_err(|e| {
        bad_request(format!(
            "the body must be a JSON object {{\"action\": one of {ACTIONS}, …}}: {e}"
        ))
    })?;
    let action = body.action.as_str();
    let id = |text: Option<String>, field: &str| -> Result<DocumentId, ApiError> {
        record_id(&required(text, field, action)?)
    };
    Ok(match action {
        "accept" => Action::Accept {
            note: note_of(body.note)?,
        },
        "return" => Action::Return {
            note: note_of(Some(required(body.note, "note", action)?))?.unwrap_or_default(),
        },
        "assign" => Action::Assign {
            person: required(body.person, "person", action)?,
            note: note_of(body.note)?,
        },
        "unassign" => Action::Unassign {
            person: required(body.person, "person", action)?,
        },
        "supervise" => Action::Supervise {
            note: note_of(Some(required(body.note, "note", action)?))?.unwrap_or_default(),
            due: due_of(body.due, now)?,
        },
        "archive" => Action::Archive {
            note: note_of(body.note)?,
        },
        "reopen" => Action::Reopen {
            note: note_of(body.note)?,
        },
        "link" => Action::Link {
            of: id(body.of, "of")?,
        },
        "unlink" => Action::Unlink,
        "notDuplicate" => Action::NotDuplicate {
            other: id(body.other, "other")?,
        },
        other => {
            return Err(bad_request(format!(
                "{:?} is not an action; one of {ACTIONS}",
                other.chars().take(40).collect::<String>()
            )));
        }
    })
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::Conflict, message, Format::Json)
}

/// The level an official works at: a town official's escalations are
/// those to the town, a district official's those to the district.
fn level_of(official: &Official) -> Option<Level> {
    match official.caller().access.as_ref().map(|a| a.role) {
        Some(Role::Town) => Some(Level::Town),
        Some(Role::District) => Some(Level::District),
        _ => None,
    }
}

/// The author of the official's changes: the person holding the device
/// (as a phone's events name their cadre), or the device's label when the
/// directory knows no person for it (the development token).
pub fn author_of(views: &Views, official: &Official, at: Millis) -> Author {
    author_at(&views.app, official, at)
}

/// [`author_of`] over the server's state.
fn author_at(app: &AppState, official: &Official, at: Millis) -> Author {
    let person = official.caller().device.and_then(|device| {
        access::DeviceDirectory::person_of(app.engine.directory().as_ref(), &device)
    });
    Author::new(
        person.unwrap_or_else(|| official.identity.label.clone()),
        at,
    )
}

/// Whether `person` may handle cases of `village` for an official over
/// `scope`: a person holding a cadre's, town's or district's device whose
/// scope covers the village, or lies within both the official's scope and
/// the village's town. Supervisors and admins handle no cases.
fn assignable_person(
    app: &AppState,
    person: &str,
    village: &VillageCode,
    scope: Option<&Scope>,
) -> bool {
    let directory = app.engine.directory();
    let Some(person) = directory.person(person) else {
        return false;
    };
    let fits = |own: &Scope| {
        own.covers(&Scope::Village(village.clone()))
            || (scope.is_none_or(|mine| mine.covers(own))
                && Scope::Town(village.town()).covers(own))
    };
    directory.devices().iter().any(|d| {
        d.person == person.id
            && !d.is_revoked()
            && matches!(d.access.role, Role::Cadre | Role::Town | Role::District)
            && fits(&d.access.scope)
    })
}

/// Checks the action fits the case, then makes the change, dated `at`
/// (now, for a request; a simulated day, for the demo's officials, who
/// act through this same path).
pub fn perform(
    app: &AppState,
    official: &Official,
    id: &DocumentId,
    action: &Action,
    at: Millis,
) -> Result<Summary, ApiError> {
    let engine = &app.engine;
    let storage = engine.storage();
    let summary = storage
        .summary(id)
        .map_err(ReportError::from)?
        .filter(|s| official.can_read(&s.village))
        .ok_or(ReportError::NotFound)?;
    if summary.kind != RecordKind::Dispute {
        return Err(bad_request(format!(
            "record {id} is a household visit; actions apply to disputes"
        )));
    }
    if !official.can_link(&summary.village) {
        return Err(forbidden(
            "only town officials, and district officials granted write, act on cases in their scope; \
             this device reads them only",
        ));
    }
    let stage = summary.loop_stage().unwrap_or(Stage::Handling);
    let level = summary.loop_level().unwrap_or(Level::Village);
    let mine = level_of(official);
    match action {
        Action::Accept { .. } | Action::Return { .. } => {
            if stage != Stage::Pending {
                return Err(conflict(format!(
                    "the case is not waiting for acceptance (it is {}); only an escalated case \
                     not yet accepted is accepted or returned",
                    stage.label_zh()
                )));
            }
            if mine.is_some_and(|mine| mine != level) {
                return Err(conflict(format!(
                    "the case was escalated to the {} level, not to this official's",
                    level.as_str()
                )));
            }
        }
        Action::Assign { person, .. }
            if !assignable_person(
                app,
                person,
                &summary.village,
                official.identity.default_scope(),
            ) =>
        {
            return Err(bad_request(format!(
                "{:?} is not a person who handles cases of village {}; choose one from \
                 GET /v1/records/{id}/assignable",
                person.chars().take(40).collect::<String>(),
                summary.village
            )));
        }
        Action::Supervise { .. } if stage.is_concluded() => {
            return Err(conflict(format!(
                "the case is concluded ({}); 督办 applies to open cases",
                stage.label_zh()
            )));
        }
        Action::Archive { .. }
            if !matches!(stage, Stage::Resolved | Stage::Failed | Stage::Followup) =>
        {
            return Err(conflict(format!(
                "the case is {}; only a resolved or failed case is archived",
                stage.label_zh()
            )));
        }
        Action::Reopen { .. } if !stage.is_concluded() => {
            return Err(conflict(format!(
                "the case is {}; only a concluded case is reopened",
                stage.label_zh()
            )));
        }
        Action::Link { of } => {
            if of == id {
                return Err(bad_request("a case cannot be a duplicate of itself"));
            }
            storage
                .summary(of)
                .map_err(ReportError::from)?
                .filter(|s| official.can_read(&s.village) && s.kind == RecordKind::Dispute)
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::NotFound,
                        format!("no dispute {of} here for this case to duplicate"),
                        Format::Json,
                    )
                })?;
        }
        Action::NotDuplicate { other } if other == id => {
            return Err(bad_request("a case is not compared with itself"));
        }
        _ => {}
    }
    let author = author_at(app, official, at);
    let with_note = |event: NewEvent, note: &Option<String>| match note {
        Some(note) => event.with_note(note.clone()),
        None => event,
    };
    let applied = engine
        .edit_as(official.caller(), id, |doc| {
            let done = match action {
                Action::Accept { note } => {
                    record::add_event(doc, &author, &NewEvent::accepted(note.clone()))
                }
                Action::Return { note } => {
                    record::add_event(doc, &author, &NewEvent::returned(note.clone()))
                }
                Action::Assign { person, note } => record::add_event(
                    doc,
                    &author,
                    &with_note(NewEvent::assigned(person.clone()), note),
                ),
                Action::Unassign { person } => record::unassign(doc, &author, person),
                Action::Supervise { note, due } => {
                    record::add_event(doc, &author, &NewEvent::supervised(note.clone(), *due))
                }
                Action::Archive { note } => record::add_event(
                    doc,
                    &author,
                    &with_note(NewEvent::new(EventKind::Archived), note),
                ),
                Action::Reopen { note } => record::add_event(
                    doc,
                    &author,
                    &with_note(NewEvent::new(EventKind::Reopened), note),
                ),
                Action::Link { of } => record::set_duplicate_of(doc, &author, Some(of)),
                Action::Unlink => record::set_duplicate_of(doc, &author, None),
                Action::NotDuplicate { other } => record::mark_not_duplicate(doc, &author, other),
            };
            done.map(|_| ()).map_err(|e| e.to_string())
        })
        .map_err(doc_error)?;
    tracing::info!(
        official = %official.identity.label,
        %id,
        action = ?action,
        changed = applied.changed,
        "case action"
    );
    storage
        .summary(id)
        .map_err(ReportError::from)?
        .ok_or_else(|| ReportError::NotFound.into())
}

/// The answer to an action: the case's summary and deadline now.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Acted {
    summary: Summary,
    deadline: Option<Deadline>,
}

async fn act(
    State(views): State<Views>,
    official: Official,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: LimitedBody,
) -> Result<Response, ApiError> {
    let id = record_id(&id)?;
    if !is_json(&headers) {
        return Err(bad_request(
            "send the action as JSON with Content-Type: application/json",
        ));
    }
    if !official.may_link() {
        return Err(forbidden(
            "only town officials, and district officials granted write, act on cases; \
             this device reads them only",
        ));
    }
    let action = parse_action(&body, now_millis())?;
    let acted = blocking(move || {
        let summary = perform(&views.app, &official, &id, &action, now_millis())?;
        let deadline = views.app.limit_table().deadline(&summary, now_millis());
        Ok(Acted { summary, deadline })
    })
    .await?;
    json(&acted)
}

/// `GET /v1/records/{id}/assignable`: the people an official may assign
/// to the case, by name.
async fn assignable(
    State(views): State<Views>,
    official: Official,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = record_id(&id)?;
    let people = blocking(move || {
        let summary = views
            .app
            .engine
            .storage()
            .summary(&id)
            .map_err(ReportError::from)?
            .filter(|s| official.can_read(&s.village))
            .ok_or(ReportError::NotFound)?;
        let directory = views.app.engine.directory();
        let names = super::people::Names::of(directory.as_ref());
        let mut people: Vec<serde_json::Value> = directory
            .people()
            .into_iter()
            .filter(|p| {
                assignable_person(
                    &views.app,
                    &p.id,
                    &summary.village,
                    official.identity.default_scope(),
                )
            })
            .map(|p| {
                let role = names.role(&p.id);
                json!({"id": p.id, "name": p.name, "role": role.map(Role::as_str)})
            })
            .collect();
        people.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        Ok(json!({ "people": people }))
    })
    .await?;
    json(&people)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_790_000_000_000;

    #[test]
    fn actions_are_read_and_checked() {
        let read = |text: &str| parse_action(text.as_bytes(), NOW);
        assert_eq!(
            read(r#"{"action":"accept"}"#).unwrap(),
            Action::Accept { note: None }
        );
        assert_eq!(
            read(r#"{"action":"return","note":" 属村级 "}"#).unwrap(),
            Action::Return {
                note: "属村级".into()
            }
        );
        let due = NOW + 3 * MILLIS_PER_DAY;
        assert_eq!(
            read(&format!(
                r#"{{"action":"supervise","note":"快","due":{due}}}"#
            ))
            .unwrap(),
            Action::Supervise {
                note: "快".into(),
                due
            }
        );
        for bad in [
            r#"{"action":"return"}"#,
            r#"{"action":"return","note":"  "}"#,
            r#"{"action":"assign"}"#,
            r#"{"action":"supervise","note":"x"}"#,
            r#"{"action":"supervise","note":"x","due":"2020-01-01"}"#,
            r#"{"action":"supervise","note":"x","due":"tomorrow"}"#,
            r#"{"action":"link","of":"nope"}"#,
            r#"{"action":"delete"}"#,
            r#"{"action":"accept","extra":1}"#,
            r#"[1]"#,
        ] {
            let error = read(bad).unwrap_err();
            assert_eq!(error.body.code, ErrorCode::BadRequest, "{bad}");
        }
    }

    #[test]
    fn a_day_means_its_end_in_china() {
        // 2026-12-20 23:59:59.999 +08:00
        let due = due_of(Some(json!("2026-12-20")), NOW).unwrap();
        assert_eq!(due, 1_797_782_399_999);
    }
}
