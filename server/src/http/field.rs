//! The field app: the offline web app (PWA) cadres use on their phones,
//! built from `apps/field` and the client library `clients/js` into
//! `server/assets/field`, and compiled into the binary so that a server
//! needs nothing beside itself to serve it.
//!
//! The app lives under `/field`: the page (`/field`, also `/field/`), its
//! files (`/field/<file>`) and its service worker (`/field/sw.js`, allowed
//! the scope `/field` so the page itself is in it). Phones open it from
//! the set-up link `https://SERVER/field#setup=…` that `fengqiao admin
//! enroll` prints; after that it opens offline from the service worker's
//! cache, and talks to the server only through `POST /v1/sync`,
//! `GET /v1/me` and `GET /v1/people`.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fengqiao_protocol::ErrorCode;
use tower_http::compression::CompressionLayer;

use super::{ApiError, Format, Shared};

/// One built file of the app.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!("../../assets/field/", $name)),
        }
    };
}

const INDEX: &str = "index.html";

/// Every file the build writes (`assets.json` lists them for the service
/// worker, with the version that names its cache).
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("sw.js", "text/javascript; charset=utf-8"),
    asset!("manifest.webmanifest", "application/manifest+json"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("automerge.wasm", "application/wasm"),
    asset!("assets.json", "application/json"),
];

/// Nothing but the server's own files may run, load or connect, no inline
/// script or style; the Automerge engine is WebAssembly, which needs
/// `wasm-unsafe-eval` (it allows compiling WebAssembly, not `eval`).
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self'; manifest-src 'self'; \
                   worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

/// The app's routes.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/field", get(index))
        .route("/field/", get(index))
        .route("/field/{file}", get(file))
        // The wasm engine and the bundle are most of a first download, on
        // the weakest links the system serves.
        .layer(CompressionLayer::new())
}

async fn index(request: HeaderMap) -> Response {
    serve(INDEX, &request).unwrap_or_else(not_found)
}

async fn file(Path(file): Path<String>, request: HeaderMap) -> Response {
    serve(&file, &request).unwrap_or_else(not_found)
}

fn serve(name: &str, request: &HeaderMap) -> Option<Response> {
    let asset = ASSETS.iter().find(|asset| asset.name == name)?;
    let mut response = super::embedded::answer(
        request,
        [
            (header::CONTENT_TYPE, asset.content_type),
            // The service worker keeps the offline copy; the network copy
            // is checked on every load so a new version is found at once.
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        asset.bytes,
    );
    if name == "sw.js" {
        response.headers_mut().insert(
            "service-worker-allowed",
            header::HeaderValue::from_static("/field"),
        );
    }
    Some(response)
}

fn not_found() -> Response {
    ApiError::new(ErrorCode::NotFound, "no such file", Format::Json).into_response()
}
