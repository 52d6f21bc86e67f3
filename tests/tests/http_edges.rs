//! The edges of the HTTP door a hostile or broken client pushes on: bodies
//! sent without a valid token, many bodies from one device at once,
//! headers and bodies trickled in a byte at a time, thousands of
//! connections from one address, compressed bodies that are costly to
//! inflate, a connection cap filled with unfinished headers from many
//! addresses, and a body cut short by a half-close (docs/RELIABILITY.md,
//! "Hostile devices", 13, 15, 16 and 23).
//!
//! Requests are written by hand on raw sockets, since the point is to send
//! what a well-behaved client never would.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fengqiao_protocol::{ErrorBody, ErrorCode};
use fengqiao_server::auth::InsecureDevToken;
use fengqiao_server::serve::{self, ServeConfig};
use fengqiao_shared::access::Role;
use fengqiao_tests::{TOKEN, TestServer};

/// Longest the tests wait for an answer that must come.
const ANSWER: Duration = Duration::from_secs(30);

fn config(dir: &tempfile::TempDir) -> ServeConfig {
    ServeConfig::new(dir.path(), "127.0.0.1:0".parse().expect("address"))
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(ANSWER)).expect("timeout");
    stream
}

/// The head of `POST /v1/sync` declaring `length` body bytes.
fn sync_head(token: &str, length: usize, extra: &str) -> String {
    format!(
        "POST /v1/sync HTTP/1.1\r\nHost: fengqiao\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/cbor\r\nContent-Length: {length}\r\n{extra}\r\n"
    )
}

/// Reads an HTTP answer: its status and body, or `None` if the server
/// closed the connection or said nothing within the read timeout.
fn answer(stream: &mut TcpStream) -> Option<(u16, Vec<u8>)> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let (status, body_from, length) = loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
        }
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
            let status = head.split(' ').nth(1)?.parse::<u16>().ok()?;
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (status, end + 4, length);
        }
    };
    while bytes.len() < body_from + length {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
        }
    }
    Some((status, bytes[body_from..].to_vec()))
}

fn error_code(body: &[u8]) -> ErrorCode {
    let error: ErrorBody = ciborium::from_reader(body).expect("a CBOR error body");
    error.code
}

/// Whether the server closes the connection (end of stream or reset)
/// within the read timeout.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// `GET /healthz` from `from` (any loopback address), its status.
fn health_from(addr: SocketAddr, from: std::net::IpAddr) -> Option<u16> {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .bind(&SocketAddr::new(from, 0).into())
        .expect("bind a loopback address");
    socket.connect(&addr.into()).expect("connect");
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(ANSWER)).expect("timeout");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: fengqiao\r\nConnection: close\r\n\r\n")
        .expect("request");
    answer(&mut stream).map(|(status, _)| status)
}

/// Hostile 13: A caller without a valid token is answered from the headers: the
/// server does not wait for (or buffer) the body it announced.
#[test]
fn a_body_is_not_read_before_the_token_is_checked() {
    let server = TestServer::start();
    let mut stream = connect(server.addr);
    stream
        .write_all(sync_head("not-a-token", 3 * 1024 * 1024, "").as_bytes())
        .expect("head");
    // Not one byte of the body is sent.
    let (status, body) = answer(&mut stream).expect("answered without the body");
    assert_eq!(status, 401);
    assert_eq!(error_code(&body), ErrorCode::Unauthorized);
}

/// Hostile 13: A device with one large body arriving cannot start a second one on
/// another connection; another device can.
#[test]
fn a_device_has_one_largest_body_arriving_at_a_time() {
    let server = TestServer::start();
    let (device, token) = server.enroll("cadre-big", Role::Cadre, "500110101001");
    let (_, other) = server.enroll("cadre-other", Role::Cadre, "500110101002");
    let limit = server.running().state.limits.max_body_bytes;

    let mut first = connect(server.addr);
    first
        .write_all(sync_head(&token, limit, "").as_bytes())
        .expect("head");
    first.write_all(&[0x82; 16]).expect("a little of the body");

    // The first body is still arriving; the server holds its share. A
    // second body from the same device is refused from its headers.
    // Wait until the server has read the first request's headers and
    // holds the device's share for it.
    let deadline = Instant::now() + ANSWER;
    while server.running().state.bodies.arriving(device) < limit {
        assert!(
            Instant::now() < deadline,
            "the first body was never admitted"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut second = connect(server.addr);
    second
        .write_all(sync_head(&token, limit, "").as_bytes())
        .expect("head");
    let refused = match answer(&mut second) {
        Some((429, body)) => Some(body),
        other => panic!("a second body of the same device got {other:?}"),
    };
    let refused = refused.expect("a second body of the same device is refused");
    assert_eq!(error_code(&refused), ErrorCode::RateLimited);

    // Another device is not held back by it: its body is read (and, being
    // no sync request, refused as malformed).
    let mut third = connect(server.addr);
    third
        .write_all(sync_head(&other, 4, "").as_bytes())
        .expect("head");
    third.write_all(&[0xff; 4]).expect("body");
    let (status, body) = answer(&mut third).expect("answered");
    assert_eq!((status, error_code(&body)), (400, ErrorCode::BadRequest));
    drop(first);
}

/// Hostile 15: Headers trickled in a byte at a time, each byte well within the
/// idle timeout, are cut off at the header deadline.
#[test]
fn headers_trickled_a_byte_at_a_time_are_cut_off_at_the_header_deadline() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut config = config(&dir);
    config.http.idle_timeout = Duration::from_secs(60);
    config.http.header_timeout = Duration::from_millis(500);
    let server = TestServer::start_with(config);
    let mut stream = connect(server.addr);
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let head = sync_head(TOKEN, 0, &format!("X-Padding: {}\r\n", "a".repeat(2_000)));
    let started = Instant::now();
    let mut closed = false;
    // Pacing the trickle is the attack itself; the check is the close.
    for byte in head.as_bytes().iter().take(head.len() - 2) {
        if stream.write_all(&[*byte]).is_err() || closed_by_server(&mut stream) {
            closed = true;
            break;
        }
        if started.elapsed() > ANSWER {
            break;
        }
    }
    assert!(
        closed,
        "a connection trickling its headers was kept for {:?}",
        started.elapsed()
    );
}

/// Hostile 15: One address gets at most its share of connections; a further one is
/// closed at once, and other addresses are still served.
#[test]
fn connections_past_the_per_address_cap_are_closed_and_others_still_served() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut config = config(&dir);
    config.http.max_connections = 8;
    config.http.max_connections_per_address = 4;
    let server = TestServer::start_with(config);
    let loopback: std::net::IpAddr = "127.0.0.1".parse().expect("address");
    let other: std::net::IpAddr = "127.0.0.2".parse().expect("address");
    // Four silent connections, each accepted (a request on them answers).
    let mut held: Vec<TcpStream> = Vec::new();
    for _ in 0..4 {
        let mut stream = connect(server.addr);
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: fengqiao\r\n\r\n")
            .expect("request");
        assert_eq!(answer(&mut stream).map(|a| a.0), Some(200));
        held.push(stream);
    }
    let mut fifth = connect(server.addr);
    assert!(
        closed_by_server(&mut fifth),
        "a fifth connection from one address was kept"
    );
    assert_eq!(health_from(server.addr, other), Some(200));
    drop(held);
    // Once they close, the address is served again.
    let deadline = Instant::now() + ANSWER;
    while health_from(server.addr, loopback) != Some(200) {
        assert!(
            Instant::now() < deadline,
            "the address was never served again"
        );
        std::thread::yield_now();
    }
}

/// Hostile 15: Connections from many addresses that never finish their
/// headers cannot keep a new client out: at the overall cap, the oldest of
/// them is closed to make room, while a client that has sent a whole
/// request keeps its connection.
#[test]
fn at_the_connection_cap_unfinished_headers_make_room_for_a_new_client() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut config = config(&dir);
    config.http.max_connections = 8;
    // Far longer than the test waits: a slot can only be freed by eviction.
    config.http.header_timeout = Duration::from_secs(600);
    config.http.idle_timeout = Duration::from_secs(600);
    let server = TestServer::start_with(config);
    // The oldest connection is a real client between two requests.
    let mut real = connect(server.addr);
    real.write_all(b"GET /healthz HTTP/1.1\r\nHost: fengqiao\r\n\r\n")
        .expect("request");
    assert_eq!(answer(&mut real).map(|a| a.0), Some(200));
    // The seven others sent half a header line, from four addresses.
    let mut slow: Vec<TcpStream> = (0..7u8)
        .map(|i| {
            let from: std::net::IpAddr = format!("127.0.0.{}", 2 + i % 4).parse().expect("address");
            let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("socket");
            socket
                .bind(&SocketAddr::new(from, 0).into())
                .expect("bind a loopback address");
            socket.connect(&server.addr.into()).expect("connect");
            let mut stream: TcpStream = socket.into();
            stream.set_read_timeout(Some(ANSWER)).expect("timeout");
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: fen")
                .expect("half a header line");
            stream
        })
        .collect();
    // A new client is served, though every slot is taken and no header
    // deadline has passed.
    let (answered, answer_rx) = std::sync::mpsc::channel();
    let addr = server.addr;
    let client = std::thread::spawn(move || {
        let _ = answered.send(health_from(addr, "127.0.0.1".parse().expect("address")));
    });
    assert_eq!(
        answer_rx
            .recv_timeout(ANSWER)
            .expect("a new client is served at the cap"),
        Some(200)
    );
    client.join().expect("client thread");
    // The oldest unfinished connection made the room.
    assert!(
        closed_by_server(&mut slow[0]),
        "the oldest unfinished connection was kept"
    );
    let metrics = server.metrics();
    let evicted = metrics
        .lines()
        .find_map(|l| l.strip_prefix("fengqiao_connections_evicted_total "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .expect("the eviction counter");
    assert!(evicted >= 1, "{metrics}");
    // The real client's connection was not taken: it is served again.
    real.write_all(b"GET /healthz HTTP/1.1\r\nHost: fengqiao\r\nConnection: close\r\n\r\n")
        .expect("second request");
    assert_eq!(answer(&mut real).map(|a| a.0), Some(200));
    drop(slow);
}

/// Hostile 15 and 23: A body that stops arriving is cut off once it falls behind
/// the minimum rate, and answered with a code clients retry.
#[test]
fn a_stalled_body_is_cut_off_and_answered_retryably() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut config = config(&dir);
    config.http.idle_timeout = Duration::from_secs(120);
    config.http.body_grace = Duration::from_millis(300);
    config.http.min_body_bytes_per_second = 1_000;
    let server = TestServer::start_with(config);
    let mut stream = connect(server.addr);
    stream
        .write_all(sync_head(TOKEN, 100_000, "").as_bytes())
        .expect("head");
    stream.write_all(&[0x82; 10]).expect("a little of the body");
    let (status, body) = answer(&mut stream).expect("answered before the idle timeout");
    assert_eq!((status, error_code(&body)), (503, ErrorCode::Unavailable));
    assert!(error_code(&body).is_retryable());
}

/// Hostile 23: A body cut short by a half-close is a transport failure: the answer
/// says to send it again, and nothing is stored.
#[test]
fn a_body_cut_short_by_a_half_close_is_answered_retryably() {
    let server = TestServer::start();
    let mut stream = connect(server.addr);
    stream
        .write_all(sync_head(TOKEN, 1_000, "").as_bytes())
        .expect("head");
    stream.write_all(&[0x82; 100]).expect("part of the body");
    stream.shutdown(Shutdown::Write).expect("half-close");
    let (status, body) = answer(&mut stream).expect("answered");
    let code = error_code(&body);
    assert_eq!((status, code), (503, ErrorCode::Unavailable));
    assert!(code.is_retryable(), "clients must retry a cut body");
    assert_eq!(server.running().state.engine.storage().current_seq(), 0);
}

/// Hostile 16: Decompressing a body runs on the blocking threads, not on the async
/// workers that answer `/healthz` and every other request: with the one
/// blocking thread held, a compressed request waits for it.
#[test]
fn compressed_bodies_are_inflated_on_blocking_threads() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let running = runtime
        .block_on(serve::start(
            config(&dir),
            Arc::new(InsecureDevToken::new(TOKEN)),
        ))
        .expect("server starts");
    let addr = running.addr;

    // Hold the only blocking thread.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let holder = runtime.spawn_blocking(move || {
        let _ = started_tx.send(());
        let _ = held.recv();
    });
    started_rx.recv().expect("the blocking thread is held");

    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&vec![0xffu8; 1024 * 1024]).expect("gzip");
    let body = gzip.finish().expect("gzip");
    let mut stream = connect(addr);
    stream
        .write_all(sync_head(TOKEN, body.len(), "Content-Encoding: gzip\r\n").as_bytes())
        .expect("head");
    stream.write_all(&body).expect("body");
    // While the blocking thread is held the request cannot be answered.
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut byte = [0u8; 1];
    match stream.peek(&mut byte) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!("the body was inflated on an async worker: {other:?}"),
    }
    release.send(()).expect("release");
    runtime.block_on(holder).expect("holder ends");
    stream.set_read_timeout(Some(ANSWER)).expect("timeout");
    let (status, body) = answer(&mut stream).expect("answered once the thread is free");
    assert_eq!((status, error_code(&body)), (400, ErrorCode::BadRequest));
    runtime
        .block_on(running.shutdown())
        .expect("graceful shutdown");
}
