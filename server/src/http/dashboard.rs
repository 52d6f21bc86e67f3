//! The township and district dashboard: a page served by the server itself,
//! with every asset compiled into the binary (no CDN, no external fonts),
//! and the routes that make it work in a browser.
//!
//! | route | what |
//! |---|---|
//! | `GET /`, `GET /dashboard` | the page (a login form until a session exists) |
//! | `GET /dashboard/assets/{file}` | its script, styles and icon |
//! | `POST /dashboard/login` | `{"token": …}` (or a form) → session cookie; only from the page's own origin |
//! | `POST /dashboard/logout` | ends the session; only from the page's own origin |
//! | `GET /v1/session` | who is signed in, their scope and what they may do |
//! | `GET /v1/places` | the villages of a scope, with their names |
//! | `GET /v1/events` | server-sent events: a notice when a record in the caller's scope changes; `alert` when one becomes high-risk (dispute) or urgent (visit); `signout` when the device is revoked, given a new token or reassigned |
//!
//! The page reads everything else from the JSON API ([`super::stats`],
//! [`super::export`]) with the session cookie, and refreshes its figures
//! when `/v1/events` says a record changed, without a reload.
//!
//! [`routes`] is the one entry point `http::router` merges: it builds the
//! state the report routes share ([`ViewState`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use fengqiao_protocol::{ErrorCode, Scope};
use fengqiao_shared::access::Role;
use fengqiao_shared::vocab::{
    Category, EventKind, Level, PartyRole, RecordKind, Risk, Sentiment, Status, Topic,
};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_http::compression::CompressionLayer;

use super::body::{AppRef, LimitedBody};
use super::session::{
    self, Official, SESSION_TTL, Sessions, bad_request, expired_cookie, session_cookie,
};
use super::{ApiError, AppState, Format, Shared, export, monthly, stats};
use crate::engine::hub::{Missed, Subscription};
use crate::engine::now_millis;
use crate::report::Reports;
use crate::report::params::Params;

/// What the report routes share.
pub struct ViewState {
    pub app: Shared,
    pub sessions: Arc<Sessions>,
    pub reports: Arc<Reports>,
}

pub type Views = Arc<ViewState>;

impl AppRef for Views {
    fn app(&self) -> &AppState {
        &self.app
    }
}

/// The dashboard, the statistics API, the exports and the live events, as
/// routes of the server.
pub fn routes(app: &Shared) -> Router<Shared> {
    let views = Arc::new(ViewState {
        app: app.clone(),
        sessions: Arc::new(Sessions::stored(SESSION_TTL, app.engine.storage().clone())),
        reports: app.reports.clone(),
    });
    views.sessions.follow();
    warm_up(&views);
    let pages = Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/dashboard", get(page))
        .route("/dashboard/", get(|| async { Redirect::to("/dashboard") }))
        .route("/dashboard/assets/{file}", get(asset))
        .route("/dashboard/login", post(login))
        .route("/dashboard/logout", post(logout));
    OFFICIAL_ROUTES
        .iter()
        .fold(pages, |router, routes| router.merge(super::table(routes)))
        // Every state-changing request, login included, comes from the
        // dashboard's own page (login CSRF, see `session`).
        .layer(axum::middleware::from_fn_with_state(
            views.clone(),
            session::refuse_cross_site,
        ))
        // Answers, exports and the page's files are gzipped for clients that
        // accept it: a district's summary is over a megabyte of JSON, on the
        // poor networks of township offices. Event streams are left as they
        // are.
        .layer(CompressionLayer::new())
        .with_state(views)
}

/// Every route that takes an [`Official`] (a bearer token or a session),
/// table by table.
pub const OFFICIAL_ROUTES: &[super::Routes<Views>] = &[
    &[
        ("/v1/session", || get(whoami)),
        ("/v1/places", || get(places)),
        ("/v1/events", || get(events)),
    ],
    stats::ROUTES,
    super::actions::ROUTES,
    export::ROUTES,
    monthly::ROUTES,
];

/// Gets the reports of every official's scope ready in the background,
/// and stops loading when the server shuts down.
fn warm_up(views: &Views) {
    let scopes = official_scopes(views.app.engine.directory().devices());
    if scopes.is_empty() || tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    let mut shutdown = views.app.shutdown.clone();
    let watching = views.clone();
    tokio::spawn(async move {
        let _ = shutdown.wait_for(|stopping| *stopping).await;
        watching.reports.resident().close();
    });
    let warming = views.clone();
    let spawned = std::thread::Builder::new()
        .name("reports-warm-up".into())
        .spawn(move || warming.reports.warm_up(scopes, now_millis()));
    if let Err(error) = spawned {
        tracing::warn!(%error, "reports are loaded on first use: no thread to warm them up");
    }
}

/// The scopes of the devices that read reports: town and district
/// officials' and supervisors', revoked devices left out.
fn official_scopes(devices: Vec<crate::directory::Device>) -> Vec<Scope> {
    devices
        .into_iter()
        .filter(|device| {
            !device.is_revoked()
                && matches!(
                    device.access.role,
                    Role::Town | Role::District | Role::Supervisor
                )
        })
        .map(|device| device.access.scope)
        .collect()
}

/// The page's files, compiled in.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const PAGE: &str = include_str!("../../assets/dashboard/index.html");

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/dashboard/app.js"),
    },
    Asset {
        name: "echarts.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/dashboard/echarts.js"),
    },
    Asset {
        name: "charts.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/dashboard/charts.js"),
    },
    Asset {
        name: "report.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/dashboard/report.js"),
    },
    Asset {
        name: "i18n.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/dashboard/i18n.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/dashboard/app.css"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../../assets/dashboard/icon.svg"),
    },
];

/// Headers every dashboard response carries: nothing but the server's own
/// files may run or load, and no other site may frame the page.
const SECURITY_HEADERS: [(header::HeaderName, &str); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
];

async fn page() -> Response {
    (
        SECURITY_HEADERS,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}

async fn asset(Path(file): Path<String>, request: HeaderMap) -> Response {
    match ASSETS.iter().find(|asset| asset.name == file) {
        Some(asset) => {
            let [csp, nosniff, referrer, frame] = SECURITY_HEADERS;
            super::embedded::answer(
                &request,
                [
                    csp,
                    nosniff,
                    referrer,
                    frame,
                    (header::CONTENT_TYPE, asset.content_type),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                asset.bytes,
            )
        }
        None => ApiError::new(ErrorCode::NotFound, "no such file", Format::Json).into_response(),
    }
}

/// A login: the device token an official pastes into the page.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    token: String,
}

/// Reads the token from a JSON body or an HTML form.
fn login_token(headers: &HeaderMap, body: &[u8]) -> Result<String, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = if content_type.starts_with("application/json") {
        serde_json::from_slice::<Login>(body)
            .map_err(|e| bad_request(format!("the body must be {{\"token\": \"…\"}}: {e}")))?
            .token
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        form_urlencoded::parse(body)
            .find(|(name, _)| name == "token")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    } else {
        return Err(bad_request(
            "send the token as JSON {\"token\": \"…\"} or as a form field named token",
        ));
    };
    let token = token.trim().to_owned();
    if token.is_empty() || token.len() > 512 {
        return Err(bad_request("paste the device token (it is not empty)"));
    }
    Ok(token)
}

async fn login(
    State(views): State<Views>,
    headers: HeaderMap,
    body: LimitedBody,
) -> Result<Response, ApiError> {
    let token = login_token(&headers, &body)?;
    let Some(identity) = views.app.auth.authenticate(&token) else {
        tracing::info!("dashboard login refused");
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "this token is not valid: check it was copied whole, or ask an admin for a new one",
            Format::Json,
        ));
    };
    if identity
        .caller
        .access
        .as_ref()
        .is_some_and(|access| access.record_scope().is_none())
    {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "admin devices manage devices, not records; sign in with an official's token",
            Format::Json,
        ));
    }
    // Signing in counts against the device's rate, like any request: each
    // one writes a session to the store.
    super::door::admit(&views.app, &identity, Format::Json).await?;
    let sessions = views.sessions.clone();
    let id = tokio::task::spawn_blocking(move || sessions.open(token))
        .await
        .map_err(|_| ApiError::internal(Format::Json))??;
    tracing::info!(official = %identity.label, "dashboard session opened");
    // The page asks for the official's figures next: start reading the
    // scope's summaries now, so a large district is ready sooner.
    if let Some(scope) = identity.default_scope().cloned() {
        let views = views.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = views.reports.resident().read(&scope, |_| ()) {
                tracing::warn!(error = %e, %scope, "could not load the scope's summaries");
            }
        });
    }
    let cookie = session_cookie(&id, views.sessions.ttl(), &headers);
    Ok((
        StatusCode::OK,
        [
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        axum::Json(json!({ "label": identity.label })),
    )
        .into_response())
}

async fn logout(State(views): State<Views>, headers: HeaderMap) -> Response {
    if let Some(id) = session::session_id(&headers) {
        views.sessions.close(&id);
    }
    (
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, expired_cookie())],
    )
        .into_response()
}

/// Chinese labels of every vocabulary, so the page shows exactly the words
/// the rest of the system uses.
fn labels() -> serde_json::Value {
    fn table<T: Copy>(
        all: &[T],
        wire: fn(T) -> &'static str,
        zh: fn(T) -> &'static str,
    ) -> serde_json::Value {
        all.iter()
            .map(|&value| (wire(value).to_owned(), json!(zh(value))))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
    json!({
        "kind": table(RecordKind::ALL, RecordKind::as_str, RecordKind::label_zh),
        "category": table(Category::ALL, Category::as_str, Category::label_zh),
        "risk": table(Risk::ALL, Risk::as_str, Risk::label_zh),
        "status": table(Status::ALL, Status::as_str, Status::label_zh),
        "sentiment": table(Sentiment::ALL, Sentiment::as_str, Sentiment::label_zh),
        "topic": table(Topic::ALL, Topic::as_str, Topic::label_zh),
        "event": table(EventKind::ALL, EventKind::as_str, EventKind::label_zh),
        "level": table(Level::ALL, Level::as_str, Level::label_zh),
        "partyRole": table(PartyRole::ALL, PartyRole::as_str, PartyRole::label_zh),
        "stage": table(
            fengqiao_shared::vocab::Stage::ALL,
            fengqiao_shared::vocab::Stage::as_str,
            fengqiao_shared::vocab::Stage::label_zh,
        ),
        "deadlineKind": table(
            fengqiao_shared::deadline::DeadlineKind::ALL,
            fengqiao_shared::deadline::DeadlineKind::as_str,
            fengqiao_shared::deadline::DeadlineKind::label_zh,
        ),
        "role": table(
            fengqiao_shared::access::Role::ALL,
            fengqiao_shared::access::Role::as_str,
            fengqiao_shared::access::Role::label_zh,
        ),
    })
}

/// Who is signed in.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WhoAmI {
    label: String,
    /// The name of the person holding the device.
    person_name: Option<String>,
    role: Option<String>,
    /// The caller's own scope; `None` for the development token.
    scope: Option<Scope>,
    scope_name: Option<String>,
    /// Whether the role links duplicates (within its scope).
    may_link: bool,
    /// Whether the role reads the audit trail.
    may_audit: bool,
    /// Seconds until the session ends; `None` for a bearer token.
    session_seconds_left: Option<u64>,
    grassroots_target: f64,
    labels: serde_json::Value,
}

async fn whoami(State(views): State<Views>, official: Official) -> Response {
    let scope = official.identity.default_scope().cloned();
    let scope_name = scope.as_ref().and_then(|scope| {
        views
            .app
            .engine
            .directory()
            .org()
            .name_of(scope)
            .map(str::to_owned)
    });
    let directory = views.app.engine.directory();
    let person_name = official
        .identity
        .caller
        .device
        .and_then(|device| directory.device(&device))
        .and_then(|device| directory.person(&device.person))
        .map(|person| person.name);
    axum::Json(WhoAmI {
        label: official.identity.label.clone(),
        person_name,
        role: official
            .identity
            .caller
            .access
            .as_ref()
            .map(|access| access.role.to_string()),
        scope,
        scope_name,
        may_link: official.may_link(),
        may_audit: official.may_audit(),
        session_seconds_left: official.session_ends.map(|ends| {
            ends.saturating_duration_since(std::time::Instant::now())
                .as_secs()
        }),
        grassroots_target: fengqiao_shared::stats::GRASSROOTS_TARGET,
        labels: labels(),
    })
    .into_response()
}

/// A place and its name.
#[derive(Serialize)]
struct Place {
    code: String,
    name: String,
}

/// `GET /v1/places?scope=`: the scope's name and its villages.
async fn places(
    State(views): State<Views>,
    official: Official,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(raw.as_deref(), &["scope"])?;
    let scope = official.scope(params.scope()?)?;
    let org = views.app.engine.directory().org();
    let villages: Vec<Place> = org
        .villages_in(&scope)
        .map(|(code, name)| Place {
            code: code.to_string(),
            name: name.clone(),
        })
        .collect();
    let town_names: serde_json::Map<String, serde_json::Value> = villages
        .iter()
        .filter_map(|village| {
            let town = Scope::parse(village.code.get(..9)?).ok()?;
            Some((town.to_string(), json!(org.name_of(&town)?)))
        })
        .collect();
    Ok(axum::Json(json!({
        "scope": scope,
        "name": org.name_of(&scope),
        "towns": town_names,
        "villages": villages,
    }))
    .into_response())
}

/// How long one event stream lasts before the browser reconnects (and is
/// authenticated again); an expired session ends it at once, and so does a
/// revocation or reassignment of its device (with a `signout` event).
const STREAM_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// One open event stream: the hub subscription and what ends it.
struct Feed {
    subscription: Subscription,
    official: Official,
    views: Views,
    /// Revocations and access changes of devices; `None` for a caller that
    /// is no enrolled device, or once the directory stopped announcing.
    revocations: Option<tokio::sync::broadcast::Receiver<fengqiao_protocol::DeviceId>>,
    /// When the device's token was issued, as the stream opened.
    token_issued_at: Option<i64>,
    until: tokio::time::Instant,
    shutdown: tokio::sync::watch::Receiver<bool>,
    greeted: bool,
    /// The stream said why it ends and sends nothing more.
    ended: bool,
    /// An `alert` event to send after the `change` event that raised it.
    pending: Option<Event>,
}

fn notice(name: &str, data: serde_json::Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

/// Why an open event stream signs its reader out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignOut {
    /// The device was revoked.
    Revoked,
    /// The device was given a new token; the one signed in with is void.
    Rotated,
    /// The device's role, scope or write grant changed.
    Reassigned,
    /// The session was ended (signed out elsewhere, or expired).
    Ended,
}

impl SignOut {
    fn as_str(self) -> &'static str {
        match self {
            SignOut::Revoked => "revoked",
            SignOut::Rotated => "rotated",
            SignOut::Reassigned => "reassigned",
            SignOut::Ended => "ended",
        }
    }
}

impl Feed {
    /// Whether the caller may still read what it was admitted to read.
    fn still_admitted(&self) -> Option<SignOut> {
        // What became of the device comes first: another stream of the same
        // session may already have ended it for that very reason.
        if let Some(outcome) = self.device_outcome() {
            return Some(outcome);
        }
        let session = self.official.session.as_ref()?;
        match self.views.sessions.token(session) {
            None => Some(SignOut::Ended),
            Some((token, _)) if self.views.app.auth.authenticate(&token).is_none() => {
                Some(SignOut::Revoked)
            }
            Some(_) => None,
        }
    }

    /// What became of the caller's device since the stream opened.
    fn device_outcome(&self) -> Option<SignOut> {
        let app = &self.views.app;
        let device = self.official.identity.caller.device?;
        match app.engine.directory().device(&device) {
            None => Some(SignOut::Revoked),
            Some(d) if d.is_revoked() => Some(SignOut::Revoked),
            Some(d) if Some(d.token_issued_at) != self.token_issued_at => Some(SignOut::Rotated),
            Some(d) if Some(&d.access) != self.official.identity.caller.access.as_ref() => {
                Some(SignOut::Reassigned)
            }
            Some(_) => None,
        }
    }

    /// The next event for the browser, or `None` when the stream ends.
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        if self.ended {
            return None;
        }
        if !self.greeted {
            self.greeted = true;
            let hello = notice("ready", json!({})).retry(Duration::from_secs(2));
            return Some((Ok(hello), self));
        }
        if let Some(alert) = self.pending.take() {
            return Some((Ok(alert), self));
        }
        let own = self.official.identity.caller.device;
        loop {
            use tokio::sync::broadcast::error::RecvError;
            let until = self.until;
            let revocations = &mut self.revocations;
            let revocation = async {
                match revocations.as_mut() {
                    Some(receiver) => Some(receiver.recv().await),
                    None => std::future::pending().await,
                }
            };
            let step = tokio::select! {
                _ = tokio::time::sleep_until(until) => return None,
                _ = self.shutdown.wait_for(|stop| *stop) => return None,
                access = revocation => Err(access),
                next = self.subscription.next() => Ok(next?),
            };
            let event = match step {
                Ok(event) => event,
                Err(Some(Ok(device))) if Some(device) != own => continue,
                Err(Some(Err(RecvError::Closed)) | None) => {
                    self.revocations = None;
                    continue;
                }
                Err(Some(Ok(_) | Err(RecvError::Lagged(_)))) => match self.still_admitted() {
                    None => continue,
                    Some(why) => {
                        // The page may no longer show what it shows: end
                        // the session with the stream.
                        if let Some(session) = &self.official.session {
                            self.views.sessions.close(session);
                        }
                        tracing::info!(official = %self.official.identity.label,
                            reason = why.as_str(), "event stream closed");
                        self.ended = true;
                        let bye = notice("signout", json!({ "reason": why.as_str() }));
                        return Some((Ok(bye), self));
                    }
                },
            };
            // Notices carry nothing that counts other scopes' activity: no
            // server sequence number, no count of missed notices.
            let event = match event {
                Ok(change) if self.official.can_read(&change.village) => {
                    // Only alerts of the caller's scope: the same check as
                    // the change that raised it.
                    self.pending = change.alert.as_ref().map(|a| notice("alert", a.to_json()));
                    notice(
                        "change",
                        json!({ "id": change.id, "village": change.village }),
                    )
                }
                Ok(_) => continue,
                Err(Missed(_)) => notice("resync", json!({})),
            };
            return Some((Ok(event), self));
        }
    }
}

/// `GET /v1/events`: a notice whenever a record the caller may read
/// changes, whichever door the change came through. The page refetches
/// what it shows; the notice carries the record id and village only. A
/// change that makes a dispute high-risk or a visit urgent is followed by
/// an `alert` event ([`crate::alerts::Alert::to_json`]). When
/// the caller's device is revoked or reassigned, a last `signout` event
/// says so (`{"reason": "revoked" | "rotated" | "reassigned" | "ended"}`), the session
/// ends and the stream closes.
async fn events(
    State(views): State<Views>,
    official: Official,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let now = std::time::Instant::now();
    let lifetime = official.session_ends.map_or(STREAM_LIFETIME, |ends| {
        ends.saturating_duration_since(now).min(STREAM_LIFETIME)
    });
    // Subscribed before anything is checked, so no revocation slips
    // between the check and the subscription.
    let revocations = official
        .identity
        .caller
        .device
        .map(|_| views.app.engine.directory().subscribe_revocations());
    let token_issued_at = official
        .identity
        .caller
        .device
        .and_then(|id| views.app.engine.directory().device(&id))
        .map(|device| device.token_issued_at);
    let feed = Feed {
        subscription: views.app.engine.hub().subscribe(),
        official,
        views: views.clone(),
        revocations,
        token_issued_at,
        until: tokio::time::Instant::now() + lifetime,
        shutdown: views.app.shutdown.clone(),
        greeted: false,
        ended: false,
        pending: None,
    };
    Sse::new(futures_util::stream::unfold(feed, Feed::next))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{Directory, EnrollRequest, Org};
    use crate::storage::{SledStorage, Storage, StorageConfig};

    #[test]
    fn officials_scopes_are_warmed_up_but_not_cadres_or_revoked_devices() {
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> =
            Arc::new(SledStorage::open(&StorageConfig::new(dir.path())).unwrap());
        let directory = Directory::open(storage).unwrap();
        let org = Org::parse_csv(
            "code,name\n500110,区\n500110101,镇一\n500110102,镇二\n500110101001,村一\n500110102001,村二\n",
        )
        .unwrap();
        directory.import_org(org).unwrap();
        directory.add_person("p", "P", None).unwrap();
        let enroll = |role: Role, scope: &str| {
            directory
                .enroll(EnrollRequest {
                    person: "p".into(),
                    label: String::new(),
                    role,
                    scope: Scope::parse(scope).unwrap(),
                    write: false,
                })
                .unwrap()
                .0
        };
        enroll(Role::Cadre, "500110101001");
        enroll(Role::Town, "500110101");
        enroll(Role::Supervisor, "500110102");
        let revoked = enroll(Role::District, "500110");
        directory.revoke(&revoked.id).unwrap();
        let mut scopes: Vec<String> = official_scopes(directory.devices())
            .iter()
            .map(|s| s.prefix().to_owned())
            .collect();
        scopes.sort();
        assert_eq!(scopes, vec!["500110101", "500110102"]);
    }
}
