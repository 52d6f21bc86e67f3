//! Who is looking at the township view: a bearer token, or a dashboard
//! session.
//!
//! An official opens the dashboard in a browser and pastes a device token
//! once; `POST /dashboard/login` checks it and sets a session cookie. The
//! cookie holds only a random session id (256 bits); the server keeps the
//! token beside it, in memory and in the store (sealed, see [`Sessions`]),
//! and checks it again with the
//! [`Authenticator`](crate::auth::Authenticator) on **every** request, so a
//! revoked device loses its sessions at once. Sessions end after
//! [`SESSION_TTL`], however active (the cookie's `Max-Age` says the same,
//! but the server does not rely on the browser), and on logout; they
//! outlive a restart, and every server on a shared store knows them.
//!
//! The cookie is `HttpOnly` (scripts cannot read it), `SameSite=Strict`
//! (other sites cannot make the browser send it, so no cross-site request
//! can act with it) and `Path=/`. Its `Secure` flag is set when the request
//! came over HTTPS, as a TLS-terminating proxy reports with
//! `X-Forwarded-Proto: https`.
//!
//! `SameSite=Strict` is not enough on its own: it does not stop a foreign
//! page from posting a token to `/dashboard/login` (login CSRF: the victim's
//! browser is signed in as the attacker), and old browsers ignore it. So
//! every state-changing request (anything but `GET`, `HEAD`, `OPTIONS`) on
//! the dashboard routes passes [`cross_site_refusal`] first: it must come
//! from the dashboard's own origin, as the browser reports in
//! `Sec-Fetch-Site` (or, from browsers that do not send it, `Origin`). A
//! request that sends neither — curl, scripts — is accepted only when it
//! carries no session cookie or authenticates with a bearer token, neither
//! of which a foreign page can make a browser do.
//!
//! [`Official`] is the extractor every report endpoint takes: it accepts
//! `Authorization: Bearer` first, then the session cookie, and answers
//! `401 unauthorized` otherwise.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use fengqiao_protocol::{ErrorCode, Scope, VillageCode};
use fengqiao_shared::access::Role;

use super::dashboard::Views;
use super::{ApiError, Format, door};
use crate::auth::{Identity, constant_time_eq};
use crate::engine::{Caller, now_millis};
use crate::storage::{ServerValue, Storage, ValueFamily};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "fengqiao_session";

/// How long a session lasts: a working day.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);

/// How long a server remembers that it ended a session: far longer than
/// removing it from the store takes.
const ENDED_KEPT: Duration = Duration::from_secs(60);

/// How often ended sessions are removed from the store.
const SWEEP_EVERY: Duration = Duration::from_secs(60 * 60);

/// Sessions kept at most; the oldest ones end first beyond it.
const MAX_SESSIONS: usize = 10_000;

/// Sessions one token keeps at most; its own oldest one ends first beyond
/// it. Without this bound one stolen token, signing in over and over,
/// would push every other official's session out of [`MAX_SESSIONS`].
const MAX_SESSIONS_PER_TOKEN: usize = 16;

struct Session {
    token: String,
    expires: Instant,
    /// Its name in storage ([`stored_name`]).
    stored: String,
}

/// Live dashboard sessions: session id → the token it was opened with.
///
/// Kept in memory and, when given a store, in it too, so that every
/// server on a shared store knows every session and a session outlives a
/// restart. The store holds neither the session id nor the token in the
/// clear: the name is a hash of the id, and the token is sealed with a key
/// derived from the id (XChaCha20-Poly1305), so what is stored opens no
/// session and reveals no token. A session opened or ended by another
/// server is taken in from the store when asked for, and dropped here when
/// the store announces its end.
pub struct Sessions {
    sessions: Mutex<HashMap<String, Session>>,
    /// Sessions this server ended lately, by stored name: their removal
    /// from the store runs on its own, and until it has, the store would
    /// give them back to [`Sessions::find`].
    ended: Mutex<HashMap<String, Instant>>,
    ttl: Duration,
    max: usize,
    per_token: usize,
    store: Option<Arc<dyn Storage>>,
}

/// The wall clock in milliseconds since the epoch (0 before it).
fn now_ms() -> u64 {
    u64::try_from(now_millis()).unwrap_or(0)
}

/// The name a session is stored under: a hash of its id.
fn stored_name(id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"fengqiao session name\0")
        .chain_update(id.as_bytes())
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn sealing_key(id: &str) -> chacha20poly1305::Key {
    let digest = Sha256::new()
        .chain_update(b"fengqiao session key\0")
        .chain_update(id.as_bytes())
        .finalize();
    chacha20poly1305::Key::clone_from_slice(&digest)
}

/// `expires (ms, 8 bytes) ‖ nonce (24) ‖ sealed token`; the expiry is
/// bound to the token (associated data).
fn seal(id: &str, token: &str, expires_ms: u64) -> Option<Vec<u8>> {
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut nonce).ok()?;
    let cipher = XChaCha20Poly1305::new(&sealing_key(id));
    let expires = expires_ms.to_be_bytes();
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: token.as_bytes(),
                aad: &expires,
            },
        )
        .ok()?;
    let mut out = Vec::with_capacity(32 + sealed.len());
    out.extend_from_slice(&expires);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Some(out)
}

/// When a stored session ends (ms since the epoch), read without its key.
fn stored_expiry(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// The token and expiry a stored session holds, when `id` opens it.
fn unseal(id: &str, bytes: &[u8]) -> Option<(String, u64)> {
    let expires = stored_expiry(bytes)?;
    let nonce = bytes.get(8..32)?;
    let sealed = bytes.get(32..)?;
    let cipher = XChaCha20Poly1305::new(&sealing_key(id));
    let token = cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: &expires.to_be_bytes(),
            },
        )
        .ok()?;
    Some((String::from_utf8(token).ok()?, expires))
}

impl Sessions {
    /// Sessions in memory only (they end when the server stops).
    pub fn new(ttl: Duration) -> Self {
        Self::with_limits(ttl, MAX_SESSIONS, MAX_SESSIONS_PER_TOKEN)
    }

    /// Sessions kept in `store` too; stored sessions that have ended are
    /// removed now (and by [`Sessions::follow`] every hour).
    pub fn stored(ttl: Duration, store: Arc<dyn Storage>) -> Self {
        let mut sessions = Self::new(ttl);
        sessions.store = Some(store);
        sessions.sweep();
        sessions
    }

    /// Removes the stored sessions that have ended.
    fn sweep(&self) {
        let Some(store) = &self.store else {
            return;
        };
        let now = now_ms();
        match store.values_in(ValueFamily::Session) {
            Ok(stored) => {
                for (name, bytes) in stored {
                    if stored_expiry(&bytes).is_none_or(|ends| ends <= now)
                        && let Err(e) = store.delete_value(&name)
                    {
                        tracing::warn!(error = %e, "could not remove an ended session");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not list the stored sessions"),
        }
    }

    /// Sessions of `ttl`, at most `max` in all and `per_token` for any one
    /// token.
    fn with_limits(ttl: Duration, max: usize, per_token: usize) -> Self {
        Self {
            sessions: Mutex::new(HashMap::new()),
            ended: Mutex::new(HashMap::new()),
            ttl,
            max,
            per_token: per_token.max(1),
            store: None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Opens a session for a token that authenticated; returns its id.
    /// With a store, the session is stored (durably) before it is used.
    pub fn open(&self, token: String) -> Result<String, ApiError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| {
            tracing::error!(error = %e, "no randomness for a session id");
            ApiError::internal(Format::Json)
        })?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let stored = stored_name(&id);
        if let Some(store) = &self.store {
            let expires_ms = now_ms().saturating_add(self.ttl.as_millis() as u64);
            let sealed = seal(&id, &token, expires_ms).ok_or_else(|| {
                tracing::error!("a session could not be sealed");
                ApiError::internal(Format::Json)
            })?;
            store
                .put_value(&ServerValue::Session(stored.clone()), &sealed)
                .map_err(|e| {
                    tracing::error!(error = %e, "a session could not be stored");
                    ApiError {
                        body: e.to_error_body(),
                        format: Format::Json,
                    }
                })?;
        }
        let now = Instant::now();
        let mut sessions = self.lock();
        sessions.retain(|_, session| session.expires > now);
        // A token signing in again and again ends its own oldest sessions,
        // never other officials'.
        let own = |session: &Session| constant_time_eq(session.token.as_bytes(), token.as_bytes());
        let mut owned = 0;
        let mut own_oldest: Option<(&String, Instant)> = None;
        for (id, session) in sessions.iter() {
            if own(session) {
                owned += 1;
                if own_oldest.is_none_or(|(_, expires)| session.expires < expires) {
                    own_oldest = Some((id, session.expires));
                }
            }
        }
        let evict = if owned >= self.per_token {
            own_oldest.map(|(id, _)| id.clone())
        } else if sessions.len() >= self.max {
            sessions
                .iter()
                .min_by_key(|(_, session)| session.expires)
                .map(|(id, _)| id.clone())
        } else {
            None
        };
        if let Some(oldest) = evict
            && let Some(ended) = sessions.remove(&oldest)
        {
            self.unstore(ended.stored);
        }
        sessions.insert(
            id.clone(),
            Session {
                token,
                expires: now + self.ttl,
                stored,
            },
        );
        Ok(id)
    }

    /// The token of a live session this server knows, and when it ends.
    pub fn token(&self, id: &str) -> Option<(String, Instant)> {
        let mut sessions = self.lock();
        match sessions.get(id) {
            Some(session) if session.expires > Instant::now() => {
                Some((session.token.clone(), session.expires))
            }
            Some(_) => {
                sessions.remove(id);
                None
            }
            None => None,
        }
    }

    /// The token of a live session, from memory or else from the store
    /// (a session another server opened, or this one before a restart).
    /// Reads storage: call from a blocking thread.
    pub fn find(&self, id: &str) -> Option<(String, Instant)> {
        if let Some(found) = self.token(id) {
            return Some(found);
        }
        let store = self.store.as_ref()?;
        let stored = stored_name(id);
        if self.ended_here(&stored) {
            return None;
        }
        let bytes = match store.get_value(&ServerValue::Session(stored.clone())) {
            Ok(bytes) => bytes?,
            Err(e) => {
                tracing::warn!(error = %e, "could not read a stored session");
                return None;
            }
        };
        let (token, expires_ms) = unseal(id, &bytes)?;
        let left = expires_ms.checked_sub(now_ms()).filter(|left| *left > 0)?;
        let expires = Instant::now() + Duration::from_millis(left).min(self.ttl);
        let mut sessions = self.lock();
        // Ended while it was being read.
        if self.ended_here(&stored) {
            return None;
        }
        sessions.insert(
            id.to_owned(),
            Session {
                token: token.clone(),
                expires,
                stored,
            },
        );
        Some((token, expires))
    }

    /// Ends a session, here and in the store.
    pub fn close(&self, id: &str) {
        let mut sessions = self.lock();
        let removed = sessions.remove(id);
        let stored = removed.map_or_else(|| stored_name(id), |s| s.stored);
        if self.store.is_some() {
            let now = Instant::now();
            let mut ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
            if ended.len() >= self.max {
                ended.retain(|_, at| now.duration_since(*at) < ENDED_KEPT);
            }
            ended.insert(stored.clone(), now);
        }
        drop(sessions);
        self.unstore(stored);
    }

    /// Whether this server ended the session stored as `stored` lately.
    fn ended_here(&self, stored: &str) -> bool {
        let ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        ended
            .get(stored)
            .is_some_and(|at| at.elapsed() < ENDED_KEPT)
    }

    /// Forgets the session stored as `stored` here, without touching the
    /// store (another server ended it).
    pub fn forget_stored(&self, stored: &str) {
        self.lock().retain(|_, session| session.stored != stored);
    }

    /// Keeps this server's sessions in step with the other servers on the
    /// store: a session another server ended (or whose end may have been
    /// missed) is dropped here, and read from the store again if asked
    /// for. Nothing to do when the store is this server's alone.
    pub fn follow(self: &Arc<Self>) {
        if self.store.is_some() {
            let sessions = Arc::downgrade(self);
            tokio::spawn(async move {
                let mut every = tokio::time::interval(SWEEP_EVERY);
                every.tick().await;
                loop {
                    every.tick().await;
                    let Some(sessions) = sessions.upgrade() else {
                        return;
                    };
                    let _ = tokio::task::spawn_blocking(move || sessions.sweep()).await;
                }
            });
        }
        let Some(mut announcements) = self.store.as_ref().and_then(|s| s.announcements()) else {
            return;
        };
        let sessions = Arc::downgrade(self);
        let prefix = format!(
            "{} {}",
            crate::storage::store::VALUE,
            ValueFamily::Session.prefix()
        );
        tokio::spawn(async move {
            use crate::storage::backend::Announcement;
            use tokio::sync::broadcast::error::RecvError;
            loop {
                let received = announcements.recv().await;
                let Some(sessions) = sessions.upgrade() else {
                    return;
                };
                match received {
                    Ok(Announcement::Committed {
                        own: false, text, ..
                    }) => {
                        if let Some(stored) = text.strip_prefix(&prefix) {
                            sessions.forget_stored(stored);
                        }
                    }
                    Ok(Announcement::Committed { own: true, .. }) => {}
                    Ok(Announcement::Missed) | Err(RecvError::Lagged(_)) => sessions.lock().clear(),
                    Err(RecvError::Closed) => return,
                }
            }
        });
    }

    /// Removes a stored session; on an async task's thread, from a
    /// blocking thread.
    fn unstore(&self, stored: String) {
        let Some(store) = self.store.clone() else {
            return;
        };
        let remove = move || {
            if let Err(e) = store.delete_value(&ServerValue::Session(stored)) {
                tracing::warn!(error = %e, "could not remove an ended session from storage");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(remove)),
            Err(_) => remove(),
        }
    }
}

/// The session id a request's cookies carry.
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether the request reached us over HTTPS (directly or through a proxy).
fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

/// Why a state-changing request is refused as cross-site, or `None` when
/// it may go ahead (see the module documentation). `public_url` is the
/// server's configured public address, whose origin counts as its own
/// behind a proxy that rewrites `Host`.
pub fn cross_site_refusal(
    method: &axum::http::Method,
    headers: &HeaderMap,
    public_url: Option<&str>,
) -> Option<&'static str> {
    use axum::http::Method;
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = headers.get("sec-fetch-site") {
        // `none`: the user's own action (typed address, bookmark).
        return match site.to_str().unwrap_or("") {
            "same-origin" | "none" => None,
            _ => Some("this request came from another site; use the dashboard's own page"),
        };
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let authority = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        let own = |candidate: Option<&str>| {
            candidate.is_some_and(|c| authority.is_some_and(|a| a.eq_ignore_ascii_case(c)))
        };
        let public = public_url.and_then(|url| {
            let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
            rest.split('/').next()
        });
        return if own(text(header::HOST.as_str())) || own(text("x-forwarded-host")) || own(public) {
            None
        } else {
            Some("this request came from another site; use the dashboard's own page")
        };
    }
    if session_id(headers).is_some() && !headers.contains_key(header::AUTHORIZATION) {
        return Some(
            "a request with the session cookie must say where it came from (Origin or \
             Sec-Fetch-Site); use the dashboard's page, or a bearer token without the cookie",
        );
    }
    None
}

/// Refuses cross-site state-changing requests on the dashboard routes with
/// `403 forbidden` (see [`cross_site_refusal`]).
pub async fn refuse_cross_site(
    axum::extract::State(views): axum::extract::State<Views>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(reason) = cross_site_refusal(
        request.method(),
        request.headers(),
        views.app.public_url.as_deref(),
    ) {
        tracing::info!(path = %request.uri().path(), "cross-site request refused");
        return forbidden(reason).into_response();
    }
    next.run(request).await
}

/// The `Set-Cookie` value that opens a session.
pub fn session_cookie(id: &str, ttl: Duration, headers: &HeaderMap) -> String {
    format!(
        "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        ttl.as_secs(),
        if over_https(headers) { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that ends a session in the browser.
pub fn expired_cookie() -> String {
    format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// An authenticated official (or device) reading the township view.
#[derive(Debug, Clone)]
pub struct Official {
    pub identity: Identity,
    /// When the session it came with ends; `None` for a bearer token.
    pub session_ends: Option<Instant>,
    /// The session's id; `None` for a bearer token.
    pub session: Option<String>,
}

impl FromRequestParts<Views> for Official {
    type Rejection = ApiError;

    /// A bearer token passes [`door::identify`], a session's token
    /// [`door::admit`]: the steps of the doors of the other routes. The
    /// caller goes into the request too, so a body it sends counts against
    /// its device's share ([`super::body::LimitedBody`]).
    async fn from_request_parts(parts: &mut Parts, views: &Views) -> Result<Self, ApiError> {
        let official = Self::admitted(parts, views).await?;
        parts
            .extensions
            .insert(door::Caller(official.identity.clone()));
        Ok(official)
    }
}

impl Official {
    async fn admitted(parts: &Parts, views: &Views) -> Result<Self, ApiError> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            let identity = door::identify(&views.app, &parts.headers, Format::Json).await?;
            return Ok(Self {
                identity,
                session_ends: None,
                session: None,
            });
        }
        let found = match session_id(&parts.headers) {
            Some(id) => match views.sessions.token(&id) {
                Some(found) => Some((id, found)),
                // Not known here: another server's, or from before a
                // restart; read from the store on a blocking thread.
                None => {
                    let sessions = views.sessions.clone();
                    tokio::task::spawn_blocking(move || {
                        let found = sessions.find(&id);
                        found.map(|found| (id, found))
                    })
                    .await
                    .ok()
                    .flatten()
                }
            },
            None => None,
        };
        if let Some((id, (token, ends))) = found {
            match views.app.authenticate_fresh(&token).await {
                Some(identity) => {
                    door::admit(&views.app, &identity, Format::Json).await?;
                    return Ok(Self {
                        identity,
                        session_ends: Some(ends),
                        session: Some(id),
                    });
                }
                // The device was revoked: its sessions end with it.
                None => views.sessions.close(&id),
            }
        }
        Err(ApiError::unauthorized(Format::Json))
    }
}

/// A `400 bad_request` JSON error.
pub fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, message, Format::Json)
}

/// A `403 forbidden` JSON error.
pub fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::Forbidden, message, Format::Json)
}

impl Official {
    pub fn caller(&self) -> &Caller {
        &self.identity.caller
    }

    /// The scope a report covers: the one asked for, or the caller's own;
    /// refused when the caller's scope does not cover it.
    pub fn scope(&self, requested: Option<Scope>) -> Result<Scope, ApiError> {
        let scope = match requested {
            Some(scope) => scope,
            None => self.identity.default_scope().cloned().ok_or_else(|| {
                bad_request(
                    "name a scope: this token is not bound to one, so add \
                     ?scope=<district, town or village code>",
                )
            })?,
        };
        if !self.identity.can_read_scope(&scope) {
            return Err(forbidden(format!(
                "this device may not read the figures of {} {scope}; its scope is {}",
                scope.level(),
                self.identity
                    .default_scope()
                    .map_or_else(|| "none".to_owned(), |own| own.to_string())
            )));
        }
        Ok(scope)
    }

    /// Whether the caller may read records of `village`.
    pub fn can_read(&self, village: &VillageCode) -> bool {
        self.identity.caller.can_read(village)
    }

    /// Whether the caller may link duplicates in `village`: town officials,
    /// and district officials granted write, within their scope.
    pub fn can_link(&self, village: &VillageCode) -> bool {
        self.may_link() && self.identity.caller.can_write(village)
    }

    /// Whether the caller's role links duplicates at all.
    pub fn may_link(&self) -> bool {
        match &self.identity.caller.access {
            None => true,
            Some(a) => matches!(a.role, Role::Town | Role::District) && a.writes_records(),
        }
    }

    /// Whether the caller's role reads the audit trail at all.
    pub fn may_audit(&self) -> bool {
        match &self.identity.caller.access {
            None => true,
            Some(a) => matches!(a.role, Role::Town | Role::District | Role::Supervisor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn memory_store() -> Arc<dyn Storage> {
        Arc::new(
            crate::storage::Store::open_on(
                crate::storage::MemoryBackend::new(),
                crate::storage::QuarantineBounds::default(),
            )
            .unwrap(),
        )
    }

    #[test]
    fn stored_sessions_outlive_a_restart_and_reveal_neither_id_nor_token() {
        let store = memory_store();
        let token = "fq_secret-device-token".to_owned();
        let first = Sessions::stored(Duration::from_secs(60), store.clone());
        let id = first.open(token.clone()).unwrap();
        let stored = store.values_in(ValueFamily::Session).unwrap();
        assert_eq!(stored.len(), 1);
        let (name, bytes) = &stored[0];
        let text = format!("{name:?}{}", String::from_utf8_lossy(bytes));
        assert!(!text.contains(&id) && !text.contains(&token), "{text}");
        // Another server, or this one restarted, finds it from its id alone.
        let second = Sessions::stored(Duration::from_secs(60), store.clone());
        assert_eq!(second.token(&id), None, "not in memory there");
        assert_eq!(second.find(&id).map(|(t, _)| t), Some(token.clone()));
        // A wrong id, or an expiry moved forward, opens nothing.
        let mut other = id.clone().into_bytes();
        other[0] = if other[0] == b'0' { b'1' } else { b'0' };
        assert_eq!(unseal(&String::from_utf8(other).unwrap(), bytes), None);
        let mut extended = bytes.clone();
        extended[7] = extended[7].wrapping_add(1);
        assert_eq!(unseal(&id, &extended), None);
        // Closing ends it for everyone.
        second.close(&id);
        assert!(store.values_in(ValueFamily::Session).unwrap().is_empty());
        let third = Sessions::stored(Duration::from_secs(60), store);
        assert_eq!(third.find(&id), None);
    }

    #[test]
    fn a_session_ended_here_is_not_found_again_while_the_store_still_holds_it() {
        let store = memory_store();
        let sessions = Sessions::stored(Duration::from_secs(60), store.clone());
        let id = sessions.open("token".into()).unwrap();
        let (name, bytes) = store.values_in(ValueFamily::Session).unwrap().remove(0);
        sessions.close(&id);
        // The store's removal runs on its own: as if it had not yet.
        store.put_value(&name, &bytes).unwrap();
        assert_eq!(sessions.find(&id), None, "a signed-out session came back");
        // Another server, which did not end it, still reads the store.
        let other = Sessions::stored(Duration::from_secs(60), store);
        assert!(other.find(&id).is_some());
    }

    #[test]
    fn ended_sessions_are_swept_from_the_store() {
        let store = memory_store();
        let sessions = Sessions::stored(Duration::from_millis(1), store.clone());
        sessions.open("token".into()).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(store.values_in(ValueFamily::Session).unwrap().len(), 1);
        drop(Sessions::stored(Duration::from_secs(60), store.clone()));
        assert!(store.values_in(ValueFamily::Session).unwrap().is_empty());
    }

    #[test]
    fn sessions_open_find_and_close() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let id = sessions.open("token-a".into()).unwrap();
        assert_eq!(id.len(), 64);
        assert_eq!(
            sessions.token(&id).map(|(t, _)| t).as_deref(),
            Some("token-a")
        );
        let other = sessions.open("token-a".into()).unwrap();
        assert_ne!(id, other);
        sessions.close(&id);
        assert!(sessions.token(&id).is_none());
        assert!(sessions.token(&other).is_some());
    }

    #[test]
    fn one_token_signing_in_again_and_again_ends_only_its_own_sessions() {
        let sessions = Sessions::with_limits(Duration::from_secs(60), 8, 3);
        let official = sessions.open("token-official".into()).unwrap();
        let first = sessions.open("token-thief".into()).unwrap();
        for _ in 0..100 {
            sessions.open("token-thief".into()).unwrap();
        }
        assert!(
            sessions.token(&official).is_some(),
            "another token's sign-ins must not end this session"
        );
        assert!(sessions.token(&first).is_none(), "the thief's oldest went");
        let thief = sessions
            .lock()
            .values()
            .filter(|s| s.token == "token-thief")
            .count();
        assert_eq!(thief, 3);
        // Many different tokens still fill the table, oldest first.
        for n in 0..8 {
            sessions.open(format!("token-{n}")).unwrap();
        }
        assert!(sessions.lock().len() <= 8);
    }

    #[test]
    fn expired_sessions_are_refused_by_the_server() {
        let sessions = Sessions::new(Duration::ZERO);
        let id = sessions.open("token-a".into()).unwrap();
        assert!(sessions.token(&id).is_none());
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let id = "ab".repeat(32);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("theme=dark; {SESSION_COOKIE}={id}; x=1")).unwrap(),
        );
        assert_eq!(session_id(&headers), Some(id));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("fengqiao_session=short"),
        );
        assert_eq!(session_id(&headers), None);
    }

    #[test]
    fn state_changing_requests_must_come_from_the_dashboard_itself() {
        use axum::http::Method;
        let cookie = format!("{SESSION_COOKIE}={}", "ab".repeat(32));
        let request = |pairs: &[(&str, &str)]| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_static("fq.example:8470"));
            for (name, value) in pairs {
                headers.insert(
                    axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(value).unwrap(),
                );
            }
            headers
        };
        let refused = |method: Method, pairs: &[(&str, &str)], public: Option<&str>| {
            cross_site_refusal(&method, &request(pairs), public).is_some()
        };
        // A foreign page posting a token or using the cookie.
        assert!(refused(
            Method::POST,
            &[("sec-fetch-site", "cross-site")],
            None
        ));
        assert!(refused(
            Method::POST,
            &[("sec-fetch-site", "same-site")],
            None
        ));
        assert!(refused(
            Method::POST,
            &[("origin", "https://evil.example")],
            None
        ));
        assert!(refused(Method::POST, &[("origin", "null")], None));
        assert!(refused(
            Method::POST,
            &[("origin", "http://fq.example:8470.evil.example")],
            None
        ));
        // The browser's own word wins over a matching Origin.
        assert!(refused(
            Method::POST,
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "http://fq.example:8470")
            ],
            None
        ));
        // A cookie with no word on where it came from.
        assert!(refused(Method::POST, &[("cookie", &cookie)], None));
        // The dashboard's own page.
        assert!(!refused(
            Method::POST,
            &[("sec-fetch-site", "same-origin")],
            None
        ));
        assert!(!refused(
            Method::POST,
            &[("origin", "http://fq.example:8470")],
            None
        ));
        assert!(!refused(
            Method::POST,
            &[("origin", "https://fengqiao.example.gov.cn")],
            Some("https://fengqiao.example.gov.cn/")
        ));
        // Scripts: no cookie, or a bearer token.
        assert!(!refused(Method::POST, &[], None));
        assert!(!refused(
            Method::POST,
            &[("cookie", &cookie), ("authorization", "Bearer t")],
            None
        ));
        // Reading is never refused here.
        assert!(!refused(
            Method::GET,
            &[("sec-fetch-site", "cross-site")],
            None
        ));
    }

    #[test]
    fn cookies_are_strict_and_http_only() {
        let cookie = session_cookie("ab", SESSION_TTL, &HeaderMap::new());
        assert!(cookie.contains("HttpOnly"));
        assert!(cookie.contains("SameSite=Strict"));
        assert!(cookie.contains("Path=/"));
        assert!(cookie.contains("Max-Age=28800"));
        assert!(!cookie.contains("Secure"));
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(session_cookie("ab", SESSION_TTL, &headers).ends_with("; Secure"));
    }
}
