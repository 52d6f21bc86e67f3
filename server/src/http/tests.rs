//! What every request passes is applied once, to whole tables of routes:
//! the doors ([`super::door`]), the body extractor ([`super::body`]) and
//! the counters ([`super::metered`]). These tests go through the real
//! route tables, and through routes made here behind the same layers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use fengqiao_protocol::{ErrorBody, ErrorCode, Scope, SyncRequest};
use fengqiao_shared::access::Role;
use serde_json::{Value, json};

use super::body::{JsonBody, LimitedBody};
use super::door::{self, Caller, Guard};
use super::{ADMIN_ROUTES, BATCH_ROUTES, DEVICE_ROUTES, Format, Routes, Shared};
use crate::directory::{EnrollRequest, Org};
use crate::limit::RateLimit;
use crate::serve::{Running, ServeConfig};

const ADMIN: &str = "admin-token-for-the-door-tests-0123456789";
const DEV: &str = "dev-token-for-the-door-tests-0123456789";
const TOWN: &str = "500110101";
const VILLAGE: &str = "500110101001";

/// A running server with a cadre, a town official and a town admin device.
struct Fixture {
    running: Running,
    base: String,
    cadre: String,
    official: String,
    scoped_admin: String,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn start(tune: impl FnOnce(&mut ServeConfig)) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = ServeConfig::new(dir.path(), "127.0.0.1:0".parse().expect("address"));
        config.admin_token = Some(ADMIN.to_owned());
        config.dev_token = Some(DEV.to_owned());
        tune(&mut config);
        let running = crate::serve::start_enrolled(config)
            .await
            .expect("the server starts");
        let directory = running.state.engine.directory().clone();
        let org = Org::parse_csv(&format!("code,name\n500110,区\n{TOWN},镇\n{VILLAGE},村\n"))
            .expect("an organisation");
        directory.import_org(org).expect("imported");
        let enroll = |person: &str, role: Role, scope: &str| {
            directory
                .add_person(person, person, None)
                .expect("a person");
            directory
                .enroll(EnrollRequest {
                    person: person.to_owned(),
                    label: String::new(),
                    role,
                    scope: Scope::parse(scope).expect("a scope"),
                    write: role == Role::Town,
                })
                .expect("enrolled")
                .1
                .0
        };
        let cadre = enroll("cadre", Role::Cadre, VILLAGE);
        let official = enroll("official", Role::Town, TOWN);
        let scoped_admin = enroll("town-admin", Role::Admin, TOWN);
        Self {
            base: format!("http://{}", running.addr),
            running,
            cadre,
            official,
            scoped_admin,
            _dir: dir,
        }
    }

    fn state(&self) -> &Shared {
        &self.running.state
    }

    /// Serves `routes` (built over this server's state) on a port of its
    /// own; returns its base URL.
    async fn serve(&self, routes: Router<Shared>) -> String {
        let app = routes.with_state(self.state().clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("its address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    async fn stop(self) {
        self.running.shutdown().await.expect("stopped");
    }
}

/// An answer: its status, content type and body.
struct Answer {
    status: u16,
    content_type: String,
    /// The cookie it sets, if any.
    cookie: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    /// The error in the body, JSON or CBOR as its content type says.
    fn error(&self) -> ErrorBody {
        let parsed = match self.content_type.as_str() {
            "application/json" => serde_json::from_slice(&self.body).ok(),
            "application/cbor" => ciborium::from_reader(&self.body[..]).ok(),
            _ => None,
        };
        parsed.unwrap_or_else(|| {
            panic!(
                "{} {}: not an error body: {}",
                self.status,
                self.content_type,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The status and the error code.
    fn refusal(&self) -> (u16, ErrorCode) {
        (self.status, self.error().code)
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One request over HTTP, on a blocking thread.
async fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> Answer {
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    tokio::task::spawn_blocking(move || {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build(),
        );
        let response = match body {
            Some(body) => agent.run(request.body(body).expect("a request")),
            None => agent.run(request.body(()).expect("a request")),
        }
        .expect("the server answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.into_body().read_to_vec().expect("the body");
        Answer {
            status,
            content_type,
            cookie,
            body,
        }
    })
    .await
    .expect("the request ran")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// What fills a route's `{…}` parameters.
fn concrete(path: &str) -> String {
    path.replace("{id}", "x").replace("{file}", "disputes.csv")
}

/// Every route of `tables` with every method it answers, each asked
/// `ask`; 405 (a method the route does not answer) is skipped, and every
/// route must answer at least one method.
async fn every_route(
    base: &str,
    tables: &[Routes<impl Clone + Send + Sync + 'static>],
    mut ask: impl AsyncFnMut(&str, &str, String) -> Answer,
    mut check: impl FnMut(&str, &str, &Answer),
) -> usize {
    let mut checked = 0;
    for table in tables {
        for (path, _) in table.iter() {
            let mut answered = false;
            for method in ["GET", "POST", "PUT", "DELETE"] {
                let url = format!("{base}{}", concrete(path));
                let answer = ask(method, path, url).await;
                if answer.status == 405 {
                    continue;
                }
                answered = true;
                checked += 1;
                check(method, path, &answer);
            }
            assert!(answered, "{path} answers no method");
        }
    }
    checked
}

/// The format a table's routes speak.
fn format_of(path: &str) -> Format {
    if BATCH_ROUTES.iter().any(|(batch, _)| *batch == path) {
        Format::Cbor
    } else {
        Format::Json
    }
}

fn content_type(format: Format) -> &'static str {
    match format {
        Format::Json => "application/json",
        Format::Cbor => "application/cbor",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_guarded_route_refuses_a_request_without_a_valid_token() {
    let server = Fixture::start(|_| {}).await;
    let shared: &[Routes<Shared>] = &[ADMIN_ROUTES, DEVICE_ROUTES, BATCH_ROUTES];
    for token in [None, Some("not-a-token")] {
        let auth = token.map(bearer);
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|auth| vec![("Authorization", auth)])
            .unwrap_or_default();
        let refused = |method: &str, path: &str, answer: &Answer| {
            let format = format_of(path);
            assert_eq!(
                answer.refusal(),
                (401, ErrorCode::Unauthorized),
                "{method} {path} with {token:?}"
            );
            assert_eq!(answer.content_type, content_type(format), "{method} {path}");
        };
        let ask =
            async |method: &str, _: &str, url: String| call(method, &url, &headers, None).await;
        let doors = every_route(&server.base, shared, ask, refused).await;
        let ask =
            async |method: &str, _: &str, url: String| call(method, &url, &headers, None).await;
        let officials = every_route(
            &server.base,
            super::dashboard::OFFICIAL_ROUTES,
            ask,
            refused,
        )
        .await;
        assert!(doors >= 15 && officials >= 20, "{doors} {officials}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_route_refuses_devices_without_the_admin_role() {
    let server = Fixture::start(|_| {}).await;
    for token in [server.cadre.as_str(), &server.official, DEV] {
        let auth = bearer(token);
        let headers = [("Authorization", auth.as_str())];
        let ask =
            async |method: &str, _: &str, url: String| call(method, &url, &headers, None).await;
        every_route(
            &server.base,
            &[ADMIN_ROUTES],
            ask,
            |method, path, answer| {
                assert_eq!(
                    answer.refusal(),
                    (403, ErrorCode::Forbidden),
                    "{method} {path}"
                );
            },
        )
        .await;
    }
    server.stop().await;
}

/// The head of a request whose body is announced but never sent.
fn announce(method: &str, path: &str, token: &str, length: usize) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: fengqiao\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
}

/// Reads one answer's status and body from a raw connection.
fn read_answer(stream: &mut TcpStream) -> Option<(u16, Vec<u8>)> {
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
            let status = head.split(' ').nth(1)?.parse().ok()?;
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while bytes.len() < end + 4 + length {
                let n = stream.read(&mut buffer).ok()?;
                if n == 0 {
                    return None;
                }
                bytes.extend_from_slice(&buffer[..n]);
            }
            return Some((status, bytes[end + 4..end + 4 + length].to_vec()));
        }
        let n = stream.read(&mut buffer).ok()?;
        if n == 0 {
            return None;
        }
        bytes.extend_from_slice(&buffer[..n]);
    }
}

/// Sends `head` and no body; the answer, if one comes within a few
/// seconds.
async fn answered_from_head(addr: std::net::SocketAddr, head: String) -> Option<(u16, Vec<u8>)> {
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).expect("connected");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("a timeout");
        stream.write_all(head.as_bytes()).expect("the head");
        read_answer(&mut stream)
    })
    .await
    .expect("ran")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_bodies_are_not_read_before_the_token_is_checked() {
    let server = Fixture::start(|_| {}).await;
    let mut refused = 0;
    for (path, _) in ADMIN_ROUTES {
        for method in ["POST", "PUT"] {
            let head = announce(method, &concrete(path), "not-a-token", 1_000_000);
            let (status, body) = answered_from_head(server.running.addr, head)
                .await
                .unwrap_or_else(|| panic!("{method} {path} waited for its body"));
            if status == 405 {
                continue;
            }
            let error: ErrorBody = serde_json::from_slice(&body).expect("a JSON error");
            assert_eq!(
                (status, error.code),
                (401, ErrorCode::Unauthorized),
                "{method} {path}"
            );
            refused += 1;
        }
    }
    assert!(refused >= 7, "{refused}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_behind_the_device_door_refuses_strangers_and_limits_devices() {
    let server = Fixture::start(|config| {
        config.rate = RateLimit {
            per_second: 0.001,
            burst: 3.0,
        };
    })
    .await;
    let who = async |Caller(identity): Caller| identity.label;
    let routes = Router::new().route("/json", get(who));
    let json = door::guarded(routes, server.state(), Guard::Device(Format::Json));
    let routes = Router::new().route("/cbor", get(who));
    let cbor = door::guarded(routes, server.state(), Guard::Device(Format::Cbor));
    let base = server.serve(json.merge(cbor)).await;

    let json_url = format!("{base}/json");
    let cbor_url = format!("{base}/cbor");
    for auth in [
        None,
        Some(bearer("not-a-token")),
        Some("Basic x".to_owned()),
    ] {
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|auth| vec![("Authorization", auth)])
            .unwrap_or_default();
        let answer = call("GET", &json_url, &headers, None).await;
        assert_eq!(answer.refusal(), (401, ErrorCode::Unauthorized), "{auth:?}");
        assert_eq!(answer.content_type, "application/json");
        let answer = call("GET", &cbor_url, &headers, None).await;
        assert_eq!(answer.refusal(), (401, ErrorCode::Unauthorized), "{auth:?}");
        assert_eq!(answer.content_type, "application/cbor");
    }

    // A device has its burst, then is limited, in either format.
    let cadre = bearer(&server.cadre);
    let headers = [("Authorization", cadre.as_str())];
    for url in [&json_url, &cbor_url, &json_url] {
        let answer = call("GET", url, &headers, None).await;
        assert_eq!(answer.status, 200);
    }
    let answer = call("GET", &json_url, &headers, None).await;
    assert_eq!(answer.refusal(), (429, ErrorCode::RateLimited));
    let answer = call("GET", &cbor_url, &headers, None).await;
    assert_eq!(answer.refusal(), (429, ErrorCode::RateLimited));
    assert_eq!(answer.content_type, "application/cbor");
    // Another device has its own; the development token has no device.
    let official = bearer(&server.official);
    let answer = call("GET", &json_url, &[("Authorization", &official)], None).await;
    assert_eq!(answer.status, 200);
    let dev = bearer(DEV);
    for _ in 0..5 {
        let answer = call("GET", &json_url, &[("Authorization", &dev)], None).await;
        assert_eq!(
            String::from_utf8_lossy(&answer.body),
            "insecure-dev-token",
            "{}",
            answer.status
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_door_and_the_dashboard_draw_on_one_rate_per_device() {
    let server = Fixture::start(|config| {
        config.rate = RateLimit {
            per_second: 0.001,
            burst: 3.0,
        };
    })
    .await;
    let base = &server.base;
    let official = bearer(&server.official);
    let with_token = [("Authorization", official.as_str())];
    // A device route, a dashboard route with the token, and a sign-in.
    assert_eq!(
        call("GET", &format!("{base}/v1/me"), &with_token, None)
            .await
            .status,
        200
    );
    let answer = call("GET", &format!("{base}/v1/session"), &with_token, None).await;
    assert_eq!(answer.status, 200);
    let login = json!({ "token": server.official }).to_string().into_bytes();
    let answer = call(
        "POST",
        &format!("{base}/dashboard/login"),
        &[("Content-Type", "application/json")],
        Some(login.clone()),
    )
    .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    // The burst is spent: the session, the token and a new sign-in are
    // all refused.
    let cookie = answer.cookie.expect("a session cookie");
    let cookie = cookie.split(';').next().expect("the cookie's value");
    let answer = call(
        "GET",
        &format!("{base}/v1/session"),
        &[("Cookie", cookie)],
        None,
    )
    .await;
    assert_eq!(answer.refusal(), (429, ErrorCode::RateLimited));
    let answer = call("GET", &format!("{base}/v1/people"), &with_token, None).await;
    assert_eq!(answer.refusal(), (429, ErrorCode::RateLimited));
    let answer = call(
        "POST",
        &format!("{base}/dashboard/login"),
        &[("Content-Type", "application/json")],
        Some(login),
    )
    .await;
    assert_eq!(answer.refusal(), (429, ErrorCode::RateLimited));

    // An admin device is a device: it has its rate too. The server's admin
    // token has none.
    let scoped = bearer(&server.scoped_admin);
    let devices = format!("{base}/v1/admin/devices");
    for _ in 0..3 {
        let answer = call("GET", &devices, &[("Authorization", &scoped)], None).await;
        assert_eq!(answer.status, 200);
    }
    let answer = call("GET", &devices, &[("Authorization", &scoped)], None).await;
    assert_eq!(answer.refusal(), (429, ErrorCode::RateLimited));
    let admin = bearer(ADMIN);
    for _ in 0..5 {
        let answer = call("GET", &devices, &[("Authorization", &admin)], None).await;
        assert_eq!(answer.status, 200);
    }
    server.stop().await;
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_bounded_and_decompressed_in_one_place() {
    let server = Fixture::start(|config| config.http.max_body_bytes = 4096).await;
    let echo = async |body: LimitedBody| {
        axum::Json(json!({ "length": body.len(), "received": body.received() }))
    };
    let routes = Router::new().route("/json", post(echo));
    let json_door = door::guarded(routes, server.state(), Guard::Device(Format::Json));
    let routes = Router::new().route("/cbor", post(echo));
    let cbor_door = door::guarded(routes, server.state(), Guard::Device(Format::Cbor));
    let base = server.serve(json_door.merge(cbor_door)).await;
    let dev = bearer(DEV);
    let post = async |path: &str, encoding: Option<&str>, body: Vec<u8>| {
        let mut headers = vec![("Authorization", dev.as_str())];
        headers.extend(encoding.map(|e| ("Content-Encoding", e)));
        call("POST", &format!("{base}{path}"), &headers, Some(body)).await
    };

    let plain = vec![b'a'; 3000];
    let answer = post("/json", None, plain.clone()).await;
    assert_eq!(answer.json(), json!({ "length": 3000, "received": 3000 }));
    for (encoding, sent) in [
        ("gzip", gzip(&plain)),
        ("zstd", zstd::bulk::compress(&plain, 3).expect("zstd")),
    ] {
        let length = sent.len();
        let answer = post("/json", Some(encoding), sent).await;
        assert_eq!(
            answer.json(),
            json!({ "length": 3000, "received": length }),
            "{encoding}"
        );
    }
    for (path, format) in [("/json", Format::Json), ("/cbor", Format::Cbor)] {
        let refusals = [
            (
                post(path, None, vec![0; 5000]).await,
                413,
                ErrorCode::TooLarge,
            ),
            (
                post(path, Some("gzip"), gzip(&vec![0; 100_000])).await,
                413,
                ErrorCode::TooLarge,
            ),
            (
                post(path, Some("gzip"), b"not gzip".to_vec()).await,
                400,
                ErrorCode::BadRequest,
            ),
            (
                post(path, Some("br"), b"x".to_vec()).await,
                400,
                ErrorCode::BadRequest,
            ),
        ];
        for (answer, status, code) in refusals {
            assert_eq!(answer.refusal(), (status, code), "{path}");
            assert_eq!(answer.content_type, content_type(format), "{path}");
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_json_bodies_are_refused_with_a_stable_code() {
    let server = Fixture::start(|_| {}).await;
    let url = format!("{}/v1/admin/people", server.base);
    let admin = bearer(ADMIN);
    let with = |content_type: &'static str| {
        vec![
            ("Authorization", admin.clone()),
            ("Content-Type", content_type.to_owned()),
        ]
    };
    let send = async |headers: Vec<(&str, String)>, body: &[u8]| {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        call("POST", &url, &headers, Some(body.to_vec())).await
    };
    for (headers, body) in [
        (with("text/plain"), &br#"{"id":"li","name":"Li"}"#[..]),
        (with("application/json"), b"{not json"),
        (with("application/json"), br#"{"id":"li"}"#),
    ] {
        let answer = send(headers, body).await;
        assert_eq!(answer.refusal(), (400, ErrorCode::BadRequest));
        assert_eq!(answer.content_type, "application/json");
    }
    // A JSON body may come compressed, like any other.
    let mut headers = with("application/json");
    headers.push(("Content-Encoding", "gzip".to_owned()));
    let answer = send(headers, &gzip(br#"{"id":"li","name":"Li"}"#)).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json()["name"], "Li");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_body_counts_against_its_devices_share() {
    let server = Fixture::start(|config| config.http.max_body_bytes = 4096).await;
    let addr = server.running.addr;
    let official = server.official.clone();
    let device = server
        .state()
        .auth
        .authenticate(&official)
        .and_then(|identity| identity.caller.device)
        .expect("an enrolled device");
    // One action with a large body arriving slowly.
    let head = announce("POST", "/v1/records/x/actions", &official, 4000);
    let first = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).expect("connected");
        stream.write_all(head.as_bytes()).expect("the head");
        stream.write_all(b"{\"ac").expect("a little of the body");
        stream
    })
    .await
    .expect("ran");
    for _ in 0..200 {
        if server.state().bodies.arriving(device) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.state().bodies.arriving(device), 4000);
    // A second body of the same device, on another connection, is refused
    // from its headers: the two would pass the largest body (4096 bytes).
    let mut second = br#"{"action":"accept"}"#.to_vec();
    second.resize(200, b' ');
    let answer = call(
        "POST",
        &format!("{}/v1/records/x/actions", server.base),
        &[
            ("Authorization", &bearer(&official)),
            ("Content-Type", "application/json"),
        ],
        Some(second),
    )
    .await;
    assert_eq!(answer.refusal(), (429, ErrorCode::RateLimited));
    first.shutdown(std::net::Shutdown::Both).ok();
    drop(first);
    for _ in 0..200 {
        if server.state().bodies.arriving(device) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.state().bodies.arriving(device), 0, "given back");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batch_door_is_counted_refusals_included() {
    let server = Fixture::start(|_| {}).await;
    let metrics = server.state().metrics.clone();
    let sync = format!("{}/v1/sync", server.base);
    let body = SyncRequest::new(None).encode();
    let answer = call("POST", &sync, &[], Some(body.clone())).await;
    assert_eq!(answer.refusal(), (401, ErrorCode::Unauthorized));
    let dev = bearer(DEV);
    let answer = call(
        "POST",
        &sync,
        &[("Authorization", &dev)],
        Some(body.clone()),
    )
    .await;
    assert_eq!(answer.status, 200);
    // Other routes are not the batch door's.
    let answer = call(
        "GET",
        &format!("{}/v1/me", server.base),
        &[("Authorization", &dev)],
        None,
    )
    .await;
    assert_eq!(answer.status, 200);

    assert_eq!(metrics.batch_syncs.load(Ordering::Relaxed), 2);
    assert_eq!(metrics.batch_errors.load(Ordering::Relaxed), 1);
    assert_eq!(
        metrics.bytes_in.load(Ordering::Relaxed),
        2 * body.len() as u64
    );
    assert!(metrics.bytes_out.load(Ordering::Relaxed) > 0);
    let text = metrics.render(&[]);
    assert!(
        text.contains("fengqiao_batch_sync_seconds_count 2"),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_body_extractor_reads_only_json() {
    let server = Fixture::start(|_| {}).await;
    let echo = async |JsonBody(value): JsonBody<Value>| axum::Json(value);
    let routes = Router::new().route("/echo", post(echo));
    let base = server
        .serve(door::guarded(routes, server.state(), Guard::Admin))
        .await;
    let admin = bearer(ADMIN);
    let answer = call(
        "POST",
        &format!("{base}/echo"),
        &[
            ("Authorization", &admin),
            ("Content-Type", "application/json"),
        ],
        Some(br#"{"a":1}"#.to_vec()),
    )
    .await;
    assert_eq!(answer.json(), json!({"a": 1}));
    let answer = call(
        "POST",
        &format!("{base}/echo"),
        &[("Authorization", &admin)],
        Some(br#"{"a":1}"#.to_vec()),
    )
    .await;
    assert_eq!(answer.refusal(), (400, ErrorCode::BadRequest));
    server.stop().await;
}
