//! Who comes in: the one place a bearer token becomes a caller.
//!
//! Every route that takes a token passes a door ([`Guard`]), applied to
//! whole tables of routes in [`super::router`], never by a handler: the
//! door reads the token from the headers, authenticates it, counts the
//! request against its device's rate ([`admit`], the one rate check of
//! every HTTP request) and puts what it found in the request's extensions,
//! where handlers take it as [`Caller`] or `Admin`. A refused request is
//! answered from its headers: its body is never buffered, only drained in
//! the background ([`super::body::discard`]), so a client still sending it
//! reads the refusal instead of a reset connection.
//!
//! The dashboard's [`Official`](super::Official) extractor, which also
//! accepts a session cookie, identifies bearer tokens with [`identify`] and
//! admits sessions with [`admit`]: the same steps, not a copy.

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fengqiao_protocol::ErrorCode;
use fengqiao_shared::access::{DeviceAccess, Role};

use super::admin::Admin;
use super::{ApiError, AppState, Format, Shared, token_from};
use crate::auth::{Identity, constant_time_eq};

/// Which callers a door lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Any valid token (an enrolled device, or the development token);
    /// refusals are written in this format.
    Device(Format),
    /// The server's admin token, or a device enrolled with the `admin`
    /// role; refusals are JSON.
    Admin,
}

impl Guard {
    /// The format the routes behind the door speak.
    pub fn format(self) -> Format {
        match self {
            Guard::Device(format) => format,
            Guard::Admin => Format::Json,
        }
    }
}

/// The caller a door (or the dashboard's session) admitted.
#[derive(Debug, Clone)]
pub struct Caller(pub Identity);

/// What a handler behind no door gets: a programming error, not the
/// caller's.
fn no_door(what: &str, parts: &Parts) -> ApiError {
    tracing::error!(path = %parts.uri.path(), "the route takes {what} but passes no door");
    ApiError::internal(Format::Json)
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| no_door("a caller", parts))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Admin>()
            .cloned()
            .ok_or_else(|| no_door("an admin", parts))
    }
}

/// Counts a request against its device's rate ([`crate::limit`]): the one
/// check every authenticated HTTP request passes, whether it came with a
/// token or a dashboard session. Callers without a device (the admin and
/// development tokens) are not limited.
pub async fn admit(app: &AppState, identity: &Identity, format: Format) -> Result<(), ApiError> {
    let Some(device) = identity.caller.device else {
        return Ok(());
    };
    if app.rate.admit(device).await {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::RateLimited,
        "too many requests from this device; wait a few seconds and retry",
        format,
    ))
}

/// The caller behind a request's `Authorization: Bearer` token, admitted
/// against its rate; `401 unauthorized` without a valid token.
pub async fn identify(
    app: &AppState,
    headers: &HeaderMap,
    format: Format,
) -> Result<Identity, ApiError> {
    let token = token_from(headers, None).ok_or_else(|| ApiError::unauthorized(format))?;
    let identity = app
        .auth
        .authenticate(&token)
        .ok_or_else(|| ApiError::unauthorized(format))?;
    admit(app, &identity, format).await?;
    Ok(identity)
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Forbidden, message, Format::Json)
}

/// Who is administering: the server's admin token, or a device with the
/// admin role (identified and admitted like any device); other tokens are
/// refused with `403 forbidden`.
pub async fn admin_of(
    app: &AppState,
    headers: &HeaderMap,
) -> Result<(Admin, Option<Identity>), ApiError> {
    let token = token_from(headers, None).ok_or_else(|| ApiError::unauthorized(Format::Json))?;
    if let Some(admin) = &app.admin_token
        && constant_time_eq(token.as_bytes(), admin.as_bytes())
    {
        return Ok((Admin::Server, None));
    }
    let identity = identify(app, headers, Format::Json).await?;
    let device = identity
        .caller
        .device
        .and_then(|id| app.engine.directory().device(&id));
    match (&identity.caller.access, device) {
        (
            Some(DeviceAccess {
                role: Role::Admin,
                scope,
                ..
            }),
            Some(device),
        ) => Ok((
            Admin::Scoped {
                device: device.id,
                person: device.person,
                scope: scope.clone(),
            },
            Some(identity),
        )),
        _ => Err(forbidden(
            "this token may not administer the server; use the admin token",
        )),
    }
}

/// The door itself: admits the request from its headers, or answers the
/// refusal and drains the body it will not read.
async fn pass(
    State((app, guard)): State<(Shared, Guard)>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let admitted = match guard {
        Guard::Device(format) => identify(&app, &parts.headers, format)
            .await
            .map(|identity| {
                parts.extensions.insert(Caller(identity));
            }),
        Guard::Admin => admin_of(&app, &parts.headers)
            .await
            .map(|(admin, identity)| {
                parts.extensions.insert(admin);
                if let Some(identity) = identity {
                    parts.extensions.insert(Caller(identity));
                }
            }),
    };
    match admitted {
        Ok(()) => {
            parts.extensions.insert(guard.format());
            next.run(Request::from_parts(parts, body)).await
        }
        Err(refusal) => {
            super::body::discard(body, app.limits.max_body_bytes, app.limits.body_grace);
            refusal.into_response()
        }
    }
}

/// `routes`, every one behind the door `guard`.
pub fn guarded<S>(routes: Router<S>, app: &Shared, guard: Guard) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    routes.route_layer(axum::middleware::from_fn_with_state(
        (app.clone(), guard),
        pass,
    ))
}
