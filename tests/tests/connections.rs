//! Slow, silent and excess connections: closed when idle, capped in number,
//! and never in the way of the clients that behave.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use fengqiao_server::serve::ServeConfig;
use fengqiao_tests::{TOKEN, TestServer};

fn server(max_connections: usize, idle: Duration) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut config = ServeConfig::new(dir.path(), "127.0.0.1:0".parse().expect("address"));
    config.http.max_connections = max_connections;
    config.http.idle_timeout = idle;
    (TestServer::start_with(config), dir)
}

/// Whether the server closes the connection within `within`: reads until
/// end of stream (or a reset), or gives up.
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).expect("read timeout");
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
}

/// Whether nothing, not even a close, is waiting to be read on `stream`.
fn still_open(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).expect("non-blocking");
    let mut buf = [0u8; 1];
    let open =
        matches!(stream.peek(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    stream.set_nonblocking(false).expect("blocking");
    open
}

/// `GET /healthz` on a fresh connection, with its status line, or `None`
/// when no answer came within `within`.
fn health(addr: SocketAddr, within: Duration) -> Option<String> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(within)).expect("timeout");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: fengqiao\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.lines()
        .next()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
}

#[test]
fn silent_and_stalled_connections_are_closed_when_idle() {
    let (server, _dir) = server(100, Duration::from_millis(600));
    let addr = server.addr;
    // Sends nothing at all.
    let mut silent = TcpStream::connect(addr).expect("connect");
    // Stops half-way through its headers.
    let mut half_headers = TcpStream::connect(addr).expect("connect");
    half_headers
        .write_all(b"POST /v1/sync HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    // Announces a body and sends two bytes of it.
    let mut stalled_body = TcpStream::connect(addr).expect("connect");
    // With a valid token: a body is read only after the token is checked.
    stalled_body
        .write_all(
            format!(
                "POST /v1/sync HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
                 Content-Type: application/cbor\r\nContent-Length: 1000\r\n\r\nab"
            )
            .as_bytes(),
        )
        .expect("write");
    // Not closed early: once the server has answered another client, the
    // three are still open (a close would be waiting to be read).
    assert_eq!(
        health(addr, Duration::from_secs(10)).as_deref(),
        Some("HTTP/1.1 200 OK")
    );
    for (name, stream) in [
        ("silent", &silent),
        ("half headers", &half_headers),
        ("stalled body", &stalled_body),
    ] {
        assert!(still_open(stream), "the {name} connection was closed early");
    }
    for (name, stream) in [
        ("silent", &mut silent),
        ("half headers", &mut half_headers),
        ("stalled body", &mut stalled_body),
    ] {
        assert!(
            closed_within(stream, Duration::from_secs(10)),
            "the {name} connection was not closed"
        );
    }
    // A connection that keeps talking is served as usual.
    assert_eq!(
        health(addr, Duration::from_secs(10)).as_deref(),
        Some("HTTP/1.1 200 OK")
    );
}

/// A client that has sent a whole request, kept alive between requests:
/// a connection at the cap that is not closed to make room.
fn kept_alive(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: fengqiao\r\n\r\n")
        .expect("request");
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    // The whole answer: its head, then as many bytes as it announced.
    let whole = |answer: &[u8]| {
        let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())?;
        (answer.len() >= end + 4 + length).then_some(())
    };
    while whole(&answer).is_none() {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => panic!("no whole answer on a kept-alive connection"),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    assert!(answer.starts_with(b"HTTP/1.1 200"), "answered");
    stream
}

/// At the cap, connections that have sent a request (a client between two
/// requests, a body on its way, a WebSocket) are not closed to make room:
/// a new client waits for one of them to close. It is not refused.
/// (Connections that never finished a request's headers are closed to make
/// room instead: tests/tests/http_edges.rs.)
#[test]
fn connections_beyond_the_cap_wait_until_one_closes() {
    let (server, _dir) = server(2, Duration::from_secs(60));
    let addr = server.addr;
    let first = kept_alive(addr);
    let second = kept_alive(addr);
    // Both slots are taken by clients between requests: a third client is
    // not served yet (it waits in the backlog, it is not refused).
    let (answered, answer) = std::sync::mpsc::channel();
    let waiting = std::thread::spawn(move || {
        let _ = answered.send(health(addr, Duration::from_secs(20)));
    });
    // No answer while both slots are taken (however long it is given, an
    // answer would be a failure; half a second is enough to see one).
    match answer.recv_timeout(Duration::from_millis(500)) {
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        other => panic!("a third connection was served: {other:?}"),
    }
    drop(first);
    assert_eq!(
        answer
            .recv_timeout(Duration::from_secs(20))
            .expect("an answer once a slot was free")
            .as_deref(),
        Some("HTTP/1.1 200 OK"),
        "served once a slot was free"
    );
    waiting.join().expect("client thread");
    drop(second);
}

#[test]
fn a_connection_in_use_is_not_idle() {
    let (server, _dir) = server(100, Duration::from_millis(600));
    let mut stream = TcpStream::connect(server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // Eight requests on one keep-alive connection, 250 ms apart (a client's
    // pace, not a wait for the server): over three times the idle timeout
    // in all, never idle that long at once.
    for _ in 0..8 {
        std::thread::sleep(Duration::from_millis(250));
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: fengqiao\r\n\r\n")
            .expect("request on the same connection");
        let mut answer = Vec::new();
        let mut buf = [0u8; 512];
        while !answer.ends_with(b"ok\n") {
            let n = stream.read(&mut buf).expect("answer");
            assert!(n > 0, "the connection was closed while in use");
            answer.extend_from_slice(&buf[..n]);
        }
        assert!(answer.starts_with(b"HTTP/1.1 200 OK"));
    }
}
