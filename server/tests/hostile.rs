//! Hostile input: every nasty request body and WebSocket frame gets a
//! clear error code, never a panic, a hang or a partial write, and the
//! server keeps serving (DESIGN §7, docs/RELIABILITY.md).
//!
//! The corpus is checked in under `server/tests/hostile/`:
//!
//! - `batch/*` are `POST /v1/sync` bodies (`.gz` and `.zst` ones are sent
//!   with that `Content-Encoding`);
//! - `ws/*` are binary WebSocket frames, sent after `join` (or instead of
//!   it, for names starting with `prejoin-`);
//! - `EXPECTED` says what each must get: `STATUS CODE` for a whole-request
//!   error, `200 doc:CODE` for a per-record refusal, `200 unacknowledged`
//!   for an upload that stores nothing and confirms nothing, `200 reset`
//!   for a cursor the server must not believe, `200 ok` for input that is
//!   odd but legal, and for frames `error` (an `error`
//!   message, then the socket closes) or `unavailable` (`doc-unavailable`,
//!   and the socket stays usable).
//!
//! Inputs too large to check in (10,000 tiny uploads in one request, a body
//! over the size limit, a frame declaring 2^63 bytes, a device syncing in a
//! tight loop) are built here. `FENGQIAO_WRITE_HOSTILE_CORPUS=1` rewrites
//! the checked-in corpus from [`corpus`].

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ROOT};
use fengqiao_protocol::batch::{ChangeHash, Cursor, DocUpload, SyncRequest, SyncResponse};
use fengqiao_protocol::codec::DecodeLimits;
use fengqiao_protocol::repo::{DocSync, Join};
use fengqiao_protocol::{DeviceId, DocumentId, ErrorBody, ErrorCode, PeerId, RepoMessage, Scope};
use fengqiao_server::directory::{EnrollRequest, Org};
use fengqiao_server::serve::{self, Running, ServeConfig};
use fengqiao_shared::access::Role;
use fengqiao_shared::record::{self, Author, NewDispute, NewEvent, Party};
use fengqiao_shared::replica::Replica;
use fengqiao_shared::replica::http::{HttpTransport, sync_until_done};
use fengqiao_shared::replica::sync::SyncClient;
use fengqiao_shared::vocab::{Category, EventKind, PartyRole, Risk};

const TOKEN: &str = "hostile-test-token-0123456789";
const VILLAGE: &str = "500110101001";
const T0: i64 = 1_790_000_000_000;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile")
}

// ------------------------------------------------------------ the server

struct Server {
    runtime: tokio::runtime::Runtime,
    running: Option<Running>,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut config = ServeConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap());
        config.dev_token = Some(TOKEN.into());
        let running = runtime.block_on(serve::start_enrolled(config)).unwrap();
        let mut org = Org::default();
        org.insert("500110", "綦江区").unwrap();
        org.insert("500110101", "古南街道").unwrap();
        org.insert(VILLAGE, "石门村").unwrap();
        running.state.engine.directory().import_org(org).unwrap();
        Self {
            addr: running.addr,
            running: Some(running),
            runtime,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn running(&self) -> &Running {
        self.running.as_ref().unwrap()
    }

    /// `/healthz` answers and a phone still syncs a new record.
    fn assert_serving(&self, after: &str) {
        let health = ureq::get(&format!("{}/healthz", self.url()))
            .call()
            .unwrap_or_else(|e| panic!("after {after}: /healthz failed: {e}"));
        assert_eq!(health.status().as_u16(), 200, "after {after}");
        let phone = Replica::in_memory(DeviceId::random()).unwrap();
        let d = dispute("仍在服务");
        phone
            .create(|doc| record::create_dispute(doc, &Author::new("cadre", T0), &d))
            .unwrap();
        let mut transport = HttpTransport::new(&self.url(), TOKEN);
        let report = sync_until_done(
            &phone,
            &mut SyncClient::default(),
            &mut transport,
            1000,
            |_| {},
        )
        .unwrap_or_else(|e| panic!("after {after}: a phone cannot sync: {e}"));
        assert!(report.acknowledged() >= 1, "after {after}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = self.runtime.block_on(running.shutdown());
        }
    }
}

/// What the server answered to one body.
struct Answer {
    status: u16,
    error: Option<ErrorBody>,
    response: Option<SyncResponse>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HTTP {} {:?} {}",
            self.status,
            self.error,
            self.response.as_ref().map(brief).unwrap_or_default()
        )
    }
}

fn post(server: &Server, body: &[u8], encoding: Option<&str>, token: &str) -> Answer {
    let client: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut call = client
        .post(&format!("{}/v1/sync", server.url()))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/cbor");
    if let Some(encoding) = encoding {
        call = call.header("Content-Encoding", encoding);
    }
    let response = call.send(body).expect("the server answers");
    let status = response.status().as_u16();
    let mut bytes = Vec::new();
    response
        .into_body()
        .into_reader()
        .read_to_end(&mut bytes)
        .unwrap();
    if status == 200 {
        let limits = DecodeLimits {
            max_bytes: 1 << 30,
            ..DecodeLimits::DEFAULT
        };
        Answer {
            status,
            error: None,
            response: Some(SyncResponse::decode(&bytes, &limits).expect("a valid response")),
        }
    } else {
        let error: ErrorBody =
            ciborium::from_reader(&bytes[..]).expect("an error body with a code");
        assert!(!error.message.is_empty(), "an error says why");
        Answer {
            status,
            error: Some(error),
            response: None,
        }
    }
}

/// A response in a line: each record's id, heads, bytes and error.
fn brief(response: &SyncResponse) -> String {
    response
        .docs
        .iter()
        .map(|d| {
            format!(
                "{}: {} heads, {} bytes, error {:?}, resend {}",
                d.id,
                d.heads.len(),
                d.data.len(),
                d.error.as_ref().map(|e| e.code),
                d.resend
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

// ------------------------------------------------------- a WebSocket client

/// How long the raw client waits for a data or close frame before it
/// calls the server silent.
const SILENCE: Duration = Duration::from_secs(10);

/// Just enough of RFC 6455 to send arbitrary frames.
struct RawSocket {
    stream: TcpStream,
    buffer: Vec<u8>,
}

#[derive(Debug)]
enum Frame {
    Binary(Vec<u8>),
    /// A close frame, or the connection ended (EOF or reset).
    Close,
    /// Nothing arrived within the read timeout: the connection is open
    /// and the server says nothing.
    Silent,
}

impl RawSocket {
    fn connect(addr: SocketAddr) -> Self {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET /v1/ws?token={TOKEN} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut socket = Self {
            stream,
            buffer: Vec::new(),
        };
        let head_end = loop {
            if let Some(at) = socket.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            socket.fill().expect("upgrade answer");
        };
        let head = String::from_utf8_lossy(&socket.buffer[..head_end]).to_string();
        assert!(head.starts_with("HTTP/1.1 101"), "upgrade refused: {head}");
        socket.buffer.drain(..head_end);
        socket
    }

    /// Reads more bytes; an error of kind `WouldBlock` or `TimedOut` is the
    /// read timeout passing, not the end of the connection.
    fn fill(&mut self) -> std::io::Result<()> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Sends one masked frame whose header declares `declared` bytes of
    /// payload (normally `payload.len()`).
    fn send_frame(&mut self, opcode: u8, payload: &[u8], declared: u64) {
        let mut frame = vec![0x80 | opcode];
        match declared {
            0..=125 => frame.push(0x80 | declared as u8),
            126..=0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(declared as u16).to_be_bytes());
            }
            _ => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&declared.to_be_bytes());
            }
        }
        let mask = [0x12, 0x34, 0x56, 0x78];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        // The server may close before reading everything; that is its right.
        let _ = self.stream.write_all(&frame);
    }

    fn send(&mut self, payload: &[u8]) {
        self.send_frame(0x2, payload, payload.len() as u64);
    }

    /// The next data or close frame; `Close` also when the connection
    /// ends, `Silent` when none comes within [`SILENCE`] (pings, which are
    /// answered, do not count).
    fn recv(&mut self) -> Frame {
        let deadline = std::time::Instant::now() + SILENCE;
        loop {
            if let Some((frame, used)) = self.parse() {
                let ping = (self.buffer[0] & 0x0f == 0x9).then(|| self.payload(used));
                self.buffer.drain(..used);
                if let Some(payload) = ping {
                    // Answered, as browsers do, so that the server's
                    // keepalive never closes a socket this client watches:
                    // a silent server stays silent.
                    self.send_frame(0xA, &payload, payload.len() as u64);
                }
                match frame {
                    Some(frame) => return frame,
                    None => continue,
                }
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Frame::Silent;
            }
            let _ = self.stream.set_read_timeout(Some(left));
            match self.fill() {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Frame::Silent;
                }
                Err(_) => return Frame::Close,
            }
        }
    }

    /// The payload of the complete frame of `len` bytes at the start of
    /// the buffer.
    fn payload(&self, len: usize) -> Vec<u8> {
        let b = &self.buffer;
        let at = match b[1] & 0x7f {
            126 => 4,
            127 => 10,
            _ => 2,
        } + if b[1] & 0x80 != 0 { 4 } else { 0 };
        b[at..len].to_vec()
    }

    /// One frame from the buffer, if complete; `None` inside for control
    /// frames that are skipped.
    fn parse(&self) -> Option<(Option<Frame>, usize)> {
        let b = &self.buffer;
        if b.len() < 2 {
            return None;
        }
        let opcode = b[0] & 0x0f;
        let (len, mut at) = match b[1] & 0x7f {
            126 => (u16::from_be_bytes([*b.get(2)?, *b.get(3)?]) as usize, 4),
            127 => (
                u64::from_be_bytes(b.get(2..10)?.try_into().ok()?) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        if b[1] & 0x80 != 0 {
            at += 4;
        }
        let payload = b.get(at..at + len)?.to_vec();
        let frame = match opcode {
            0x2 => Some(Frame::Binary(payload)),
            0x8 => Some(Frame::Close),
            _ => None,
        };
        Some((frame, at + len))
    }

    /// The next message, `None` when the socket closed; a server that
    /// stays silent fails the test.
    fn recv_message(&mut self) -> Option<RepoMessage> {
        match self.recv() {
            Frame::Binary(bytes) => {
                Some(RepoMessage::decode(&bytes).expect("server frames decode"))
            }
            Frame::Close => None,
            Frame::Silent => panic!("the server stayed silent with the socket open"),
        }
    }

    /// Waits for the socket to close, skipping messages; fails if the
    /// server goes silent with the socket still open.
    fn expect_closed(&mut self, what: &str) {
        for _ in 0..4 {
            match self.recv() {
                Frame::Close => return,
                Frame::Binary(_) => continue,
                Frame::Silent => panic!("{what}: the socket stayed open, silent"),
            }
        }
        panic!("{what}: the socket stayed open");
    }

    fn join(&mut self) {
        self.send(&join_frame());
        match self.recv_message() {
            Some(RepoMessage::Peer(_)) => {}
            other => panic!("expected peer, got {other:?}"),
        }
    }
}

const WS_PEER: &str = "peer-hostile";

fn join_frame() -> Vec<u8> {
    RepoMessage::Join(Join {
        sender_id: PeerId::new(WS_PEER).unwrap(),
        peer_metadata: None,
        supported_protocol_versions: vec!["1".into()],
    })
    .encode()
}

/// After an `error`, the socket must close.
fn expect_error_then_close(socket: &mut RawSocket, what: &str) {
    match socket.recv_message() {
        Some(RepoMessage::Error(e)) => assert!(!e.message.is_empty(), "{what}"),
        other => panic!("{what}: expected an error message, got {other:?}"),
    }
    socket.expect_closed(what);
}

// ------------------------------------------------------------ the corpus

fn dispute(title: &str) -> NewDispute {
    NewDispute {
        village: fengqiao_protocol::VillageCode::new(VILLAGE).unwrap(),
        title: title.into(),
        description: "邻里因排水沟堵塞发生纠纷".into(),
        category: Category::Neighbor,
        risk: Risk::Low,
        parties: vec![
            Party::new("王五", PartyRole::Applicant),
            Party::new("赵六", PartyRole::Respondent),
        ],
        assignees: vec![],
    }
}

fn doc_id(n: u8) -> DocumentId {
    DocumentId::from_bytes(&[n; 16]).unwrap()
}

fn valid_doc() -> AutoCommit {
    let mut doc = AutoCommit::new().with_actor(automerge::ActorId::from(&[7u8; 20][..]));
    record::create_dispute(&mut doc, &Author::new("cadre", T0), &dispute("合法纠纷")).unwrap();
    doc
}

fn request_with(uploads: Vec<DocUpload>) -> Vec<u8> {
    let mut request = SyncRequest::new(None);
    request.docs = uploads;
    request.encode()
}

fn upload(id: DocumentId, doc: &mut AutoCommit) -> DocUpload {
    DocUpload {
        id,
        heads: doc.get_heads().iter().map(|h| ChangeHash(h.0)).collect(),
        changes: doc.save(),
    }
}

fn cbor(value: &ciborium::Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).unwrap();
    out
}

fn text(s: &str) -> ciborium::Value {
    ciborium::Value::Text(s.into())
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A sync message carrying `doc`'s changes, as a peer sends once the
/// server has asked for them.
fn sync_with_changes(doc: &mut AutoCommit) -> sync::Message {
    let mut empty = AutoCommit::new();
    let (mut ours, mut theirs) = (sync::State::new(), sync::State::new());
    for _ in 0..4 {
        if let Some(m) = doc.sync().generate_sync_message(&mut ours) {
            if !m.changes.is_empty() {
                return m;
            }
            empty.sync().receive_sync_message(&mut theirs, m).unwrap();
        }
        if let Some(m) = empty.sync().generate_sync_message(&mut theirs) {
            doc.sync().receive_sync_message(&mut ours, m).unwrap();
        }
    }
    panic!("no message with changes");
}

/// A change chunk rewritten as Automerge's deflated change chunk (type 2):
/// the same change in a fraction of the bytes.
fn deflated_change(change: &[u8]) -> Vec<u8> {
    assert_eq!(change[8], 1, "a change chunk");
    let mut at = 9;
    while change[at] & 0x80 != 0 {
        at += 1;
    }
    let body = &change[at + 1..];
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(body).unwrap();
    let compressed = encoder.finish().unwrap();
    let mut out = change[..8].to_vec();
    out.push(2);
    let mut len = compressed.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(&compressed);
    out
}

/// A valid record's creation, then one change inserting `chars`
/// characters into a field and deleting them again, deflated: a few
/// kilobytes that would cost the server millions of operations.
fn churn_bomb(chars: usize) -> Vec<Vec<u8>> {
    let mut doc = valid_doc();
    let created = doc.save();
    let before = doc.get_heads();
    let scratch = doc
        .put_object(ROOT, "scratch", automerge::ObjType::Text)
        .unwrap();
    doc.splice_text(&scratch, 0, 0, &"a".repeat(chars)).unwrap();
    doc.splice_text(&scratch, 0, chars as isize, "").unwrap();
    doc.commit();
    vec![created, deflated_change(&doc.save_after(&before))]
}

fn bomb_upload(id: DocumentId) -> DocUpload {
    DocUpload {
        id,
        heads: vec![],
        changes: churn_bomb(300_000).concat(),
    }
}

fn ws_sync(id: DocumentId, data: Vec<u8>) -> Vec<u8> {
    RepoMessage::Sync(DocSync {
        sender_id: PeerId::new(WS_PEER).unwrap(),
        target_id: PeerId::new("fengqiao-server").unwrap(),
        document_id: id,
        data,
    })
    .encode()
}

/// Every checked-in input, by path under `server/tests/hostile/`.
fn corpus() -> BTreeMap<&'static str, Vec<u8>> {
    let mut c = BTreeMap::new();
    let valid = request_with(vec![upload(doc_id(1), &mut valid_doc())]);

    c.insert("batch/empty.cbor", Vec::new());
    c.insert("batch/not-cbor.cbor", b"{\"v\":1,\"docs\":[]}".to_vec());
    c.insert("batch/truncated.cbor", valid[..valid.len() / 2].to_vec());
    c.insert("batch/trailing-bytes.cbor", {
        let mut b = valid.clone();
        b.extend_from_slice(&[0x00, 0xff]);
        b
    });
    // A map declaring 2^64-1 entries, and a byte string declaring 2^62 bytes.
    c.insert(
        "batch/huge-map-length.cbor",
        vec![
            0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x61, b'v', 0x01,
        ],
    );
    c.insert("batch/huge-bytes-length.cbor", {
        let mut b = vec![0xa2, 0x61, b'v', 0x01, 0x64];
        b.extend_from_slice(b"docs");
        b.extend_from_slice(&[0x81, 0xa3, 0x62, b'i', b'd']);
        let id = doc_id(2).to_string();
        b.push(0x60 + id.len() as u8);
        b.extend_from_slice(id.as_bytes());
        b.extend_from_slice(&[0x65]);
        b.extend_from_slice(b"heads");
        b.push(0x80);
        b.extend_from_slice(&[0x67]);
        b.extend_from_slice(b"changes");
        b.extend_from_slice(&[0x5b, 0x40, 0, 0, 0, 0, 0, 0, 0]);
        b.extend_from_slice(&[0u8; 64]);
        b
    });
    c.insert("batch/deep-nesting.cbor", {
        let mut b = vec![0xa2, 0x61, b'v', 0x01, 0x61, b'x'];
        b.extend(std::iter::repeat_n(0x81, 2_000));
        b.push(0x00);
        b
    });
    c.insert("batch/endless-indefinite-array.cbor", {
        let mut b = vec![0xa2, 0x61, b'v', 0x01, 0x64];
        b.extend_from_slice(b"docs");
        b.extend(std::iter::repeat_n(0x9f, 4096));
        b
    });
    c.insert(
        "batch/wrong-types.cbor",
        cbor(&ciborium::Value::Map(vec![
            (text("v"), text("one")),
            (text("docs"), ciborium::Value::Integer(5.into())),
        ])),
    );
    c.insert(
        "batch/future-version.cbor",
        cbor(&ciborium::Value::Map(vec![(
            text("v"),
            ciborium::Value::Integer(2.into()),
        )])),
    );
    c.insert(
        "batch/unknown-fields.cbor",
        cbor(&ciborium::Value::Map(vec![
            (text("v"), ciborium::Value::Integer(1.into())),
            (text("futureField"), text("ignored by design")),
        ])),
    );
    c.insert("batch/bad-doc-id-checksum.cbor", {
        let id = doc_id(3).to_string();
        let mut broken = id.clone().into_bytes();
        let last = broken.len() - 1;
        broken[last] = if broken[last] == b'z' { b'y' } else { b'z' };
        let broken = String::from_utf8(broken).unwrap();
        let good = request_with(vec![DocUpload {
            id: doc_id(3),
            heads: vec![],
            changes: vec![],
        }]);
        // Same length, so the CBOR framing stays valid.
        let at = good
            .windows(id.len())
            .position(|w| w == id.as_bytes())
            .unwrap();
        let mut b = good.clone();
        b[at..at + id.len()].copy_from_slice(broken.as_bytes());
        b
    });
    c.insert(
        "batch/hash-wrong-length.cbor",
        cbor(&ciborium::Value::Map(vec![
            (text("v"), ciborium::Value::Integer(1.into())),
            (
                text("docs"),
                ciborium::Value::Array(vec![ciborium::Value::Map(vec![
                    (text("id"), text(&doc_id(4).to_string())),
                    (
                        text("heads"),
                        ciborium::Value::Array(vec![ciborium::Value::Bytes(vec![1, 2, 3])]),
                    ),
                ])]),
            ),
        ])),
    );
    c.insert(
        "batch/cursor-too-long.cbor",
        cbor(&ciborium::Value::Map(vec![
            (text("v"), ciborium::Value::Integer(1.into())),
            (text("cursor"), ciborium::Value::Bytes(vec![2; 4096])),
        ])),
    );
    c.insert(
        "batch/bad-automerge.cbor",
        request_with(vec![DocUpload {
            id: doc_id(5),
            heads: vec![ChangeHash([9; 32])],
            changes: b"\x85\x6f\x4a\x83 not automerge at all".to_vec(),
        }]),
    );
    c.insert("batch/automerge-bit-flips.cbor", {
        let mut up = upload(doc_id(6), &mut valid_doc());
        for i in (8..up.changes.len()).step_by(7) {
            up.changes[i] ^= 0x5a;
        }
        request_with(vec![up])
    });
    c.insert("batch/schema-violation.cbor", {
        let mut doc = valid_doc();
        doc.put(ROOT, "risk", "severe").unwrap();
        doc.put(ROOT, "schema", "not a number").unwrap();
        doc.commit();
        request_with(vec![upload(doc_id(7), &mut doc)])
    });
    c.insert("batch/not-a-record.cbor", {
        let mut doc = AutoCommit::new().with_actor(automerge::ActorId::from(&[8u8; 20][..]));
        doc.put(ROOT, "hello", "world").unwrap();
        doc.commit();
        request_with(vec![upload(doc_id(8), &mut doc)])
    });
    c.insert("batch/unknown-village.cbor", {
        let mut doc = AutoCommit::new().with_actor(automerge::ActorId::from(&[9u8; 20][..]));
        let mut d = dispute("不存在的村");
        d.village = fengqiao_protocol::VillageCode::new("500110199999").unwrap();
        record::create_dispute(&mut doc, &Author::new("cadre", T0), &d).unwrap();
        request_with(vec![upload(doc_id(9), &mut doc)])
    });
    c.insert("batch/too-many-events.cbor", {
        let mut doc = valid_doc();
        for n in 0..1_000 {
            record::add_event(
                &mut doc,
                &Author::new("cadre", T0 + n),
                &NewEvent::new(EventKind::Note),
            )
            .unwrap();
        }
        request_with(vec![upload(doc_id(10), &mut doc)])
    });
    c.insert("batch/missing-dependencies.cbor", {
        let mut doc = valid_doc();
        let before = doc.get_heads();
        record::add_event(
            &mut doc,
            &Author::new("cadre", T0 + 1),
            &NewEvent::new(EventKind::Mediation),
        )
        .unwrap();
        let mut up = upload(doc_id(11), &mut doc);
        up.changes = doc.save_after(&before);
        request_with(vec![up])
    });
    c.insert(
        "batch/gzip-bomb.cbor.gz",
        gzip(&vec![0u8; 40 * 1024 * 1024]),
    );
    c.insert(
        "batch/zstd-bomb.cbor.zst",
        zstd::bulk::compress(&vec![0u8; 40 * 1024 * 1024], 19).unwrap(),
    );
    c.insert("batch/not-really-gzip.cbor.gz", valid.clone());
    c.insert(
        "batch/churn-bomb.cbor",
        request_with(vec![bomb_upload(doc_id(16))]),
    );
    c.insert(
        "batch/four-churn-bombs.cbor",
        request_with((17..21).map(|n| bomb_upload(doc_id(n))).collect()),
    );
    c.insert("batch/unknown-field-600k-chars.cbor.gz", {
        let mut doc = valid_doc();
        doc.put(ROOT, "fromTheFuture", "x".repeat(600_000)).unwrap();
        doc.commit();
        gzip(&request_with(vec![upload(doc_id(21), &mut doc)]))
    });
    c.insert("batch/planted-village-conflict.cbor", {
        let mut doc = valid_doc();
        let mut hidden = AutoCommit::new().with_actor(automerge::ActorId::from(&[6u8; 20][..]));
        hidden.put(ROOT, "village", "500110101002").unwrap();
        hidden.commit();
        doc.merge(&mut hidden).unwrap();
        request_with(vec![upload(doc_id(22), &mut doc)])
    });

    let mut bad = valid_doc();
    bad.put(ROOT, "risk", "severe").unwrap();
    bad.commit();
    // Cursors a phone might forge without the server's key: the old plain
    // format claiming every scope, sealed-looking garbage, a lone version
    // byte. Each is unrecognised: a bootstrap with `reset`, and no purge.
    let with_cursor = |bytes: Vec<u8>| SyncRequest::new(Some(Cursor::new(bytes).unwrap())).encode();
    c.insert(
        "batch/cursor-plain-every-scope.cbor",
        with_cursor([&[2u8][..], &[0; 8], &u64::MAX.to_be_bytes(), &[0]].concat()),
    );
    c.insert(
        "batch/cursor-plain-district-scope.cbor",
        with_cursor([&[2u8][..], &[0; 8], &[0; 8], &[6], b"500110"].concat()),
    );
    c.insert(
        "batch/cursor-sealed-garbage.cbor",
        with_cursor([&[3u8][..], &[0x5a; 24], &[0xa5; 48]].concat()),
    );
    c.insert("batch/cursor-version-only.cbor", with_cursor(vec![3]));
    c.insert("ws/not-cbor.bin", b"hello, server".to_vec());
    c.insert("ws/deep-nesting.bin", {
        let mut b = vec![0x81; 2_000];
        b.push(0x00);
        b
    });
    c.insert(
        "ws/huge-map-length.bin",
        vec![0xbb, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    );
    c.insert(
        "ws/sync-without-data.bin",
        cbor(&ciborium::Value::Map(vec![
            (text("type"), text("sync")),
            (text("senderId"), text(WS_PEER)),
            (text("targetId"), text("fengqiao-server")),
            (text("documentId"), text(&doc_id(12).to_string())),
        ])),
    );
    c.insert(
        "ws/sync-bad-automerge.bin",
        ws_sync(doc_id(13), b"\x42 this is no sync message".to_vec()),
    );
    c.insert(
        "ws/sync-schema-violation.bin",
        ws_sync(doc_id(14), sync_with_changes(&mut bad).encode()),
    );
    c.insert("ws/sync-churn-bomb.bin", {
        let mut message = sync_with_changes(&mut valid_doc());
        message.changes = sync::ChunkList::from(churn_bomb(300_000));
        ws_sync(doc_id(23), message.encode())
    });
    c.insert(
        "ws/join-future-version.bin",
        RepoMessage::Join(Join {
            sender_id: PeerId::new(WS_PEER).unwrap(),
            peer_metadata: None,
            supported_protocol_versions: vec!["9".into()],
        })
        .encode(),
    );
    c.insert(
        "ws/prejoin-sync.bin",
        ws_sync(doc_id(15), sync_with_changes(&mut valid_doc()).encode()),
    );
    c
}

/// Writes the corpus when asked to; otherwise checks that the checked-in
/// files are the ones listed in `EXPECTED`.
fn expectations() -> Vec<(String, String)> {
    let dir = corpus_dir();
    if std::env::var_os("FENGQIAO_WRITE_HOSTILE_CORPUS").is_some() {
        for (path, bytes) in corpus() {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
    }
    let expected = std::fs::read_to_string(dir.join("EXPECTED")).expect("hostile/EXPECTED");
    let lines: Vec<(String, String)> = expected
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (path, expect) = line.split_once(char::is_whitespace).expect("PATH EXPECT");
            (path.to_owned(), expect.trim().to_owned())
        })
        .collect();
    let mut on_disk = Vec::new();
    for sub in ["batch", "ws"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            on_disk.push(format!(
                "{sub}/{}",
                entry.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    on_disk.sort();
    let mut listed: Vec<String> = lines.iter().map(|(p, _)| p.clone()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "every corpus file is listed in EXPECTED, and only those"
    );
    lines
}

// -------------------------------------------------------------- the tests

#[test]
fn every_hostile_batch_body_gets_an_error_code_and_the_server_keeps_serving() {
    let server = Server::start();
    let seq_before = server.running().state.engine.storage().current_seq();
    for (path, expect) in expectations() {
        if !path.starts_with("batch/") {
            continue;
        }
        let body = std::fs::read(corpus_dir().join(&path)).unwrap();
        let encoding = if path.ends_with(".gz") {
            Some("gzip")
        } else if path.ends_with(".zst") {
            Some("zstd")
        } else {
            None
        };
        let answer = post(&server, &body, encoding, TOKEN);
        assert_ne!(
            answer.status, 500,
            "{path}: a server fault, not a clear error: {answer:?}"
        );
        let (status, code) = expect.split_once(' ').expect("STATUS CODE");
        assert_eq!(answer.status.to_string(), status, "{path}: {answer:?}");
        match (&answer.error, &answer.response) {
            (Some(error), None) => assert_eq!(error.code.as_str(), code, "{path}"),
            (None, Some(response)) => {
                let doc = response.docs.first();
                match code.strip_prefix("doc:") {
                    Some(code) => {
                        let error = doc.and_then(|d| d.error.as_ref()).unwrap_or_else(|| {
                            panic!("{path}: no per-record error: {}", brief(response))
                        });
                        assert_eq!(error.code.as_str(), code, "{path}");
                        assert!(
                            doc.unwrap().heads.is_empty(),
                            "{path}: a refused record has heads"
                        );
                    }
                    None if code == "reset" => assert!(
                        response.reset && response.purge.is_empty(),
                        "{path}: a forged cursor was believed: {response:?}"
                    ),
                    None if code == "unacknowledged" => {
                        let doc = doc.unwrap_or_else(|| panic!("{path}: no result"));
                        assert!(
                            doc.error.is_none() && doc.heads.is_empty(),
                            "{path}: {}",
                            brief(response)
                        );
                    }
                    None => assert_eq!(code, "ok", "{path}"),
                }
            }
            _ => unreachable!(),
        }
        server.assert_serving(&path);
    }
    // Refused records were stored nowhere but in quarantine: only the
    // phones' valid records (one per check) took sequence numbers.
    let storage = server.running().state.engine.storage().clone();
    for n in [5u8, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22] {
        assert!(
            storage.doc_meta(&doc_id(n)).unwrap().is_none(),
            "refused record {n} was stored"
        );
    }
    assert!(storage.current_seq() > seq_before);
}

#[test]
fn every_hostile_frame_gets_an_error_or_doc_unavailable_and_the_server_keeps_serving() {
    let server = Server::start();
    for (path, expect) in expectations() {
        if !path.starts_with("ws/") {
            continue;
        }
        let frame = std::fs::read(corpus_dir().join(&path)).unwrap();
        let mut socket = RawSocket::connect(server.addr);
        let prejoin = Path::new(&path)
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("prejoin-"));
        if !prejoin {
            socket.join();
        }
        socket.send(&frame);
        match expect.as_str() {
            "error" => expect_error_then_close(&mut socket, &path),
            "unavailable" => {
                match socket.recv_message() {
                    Some(RepoMessage::DocUnavailable(_)) => {}
                    other => panic!("{path}: expected doc-unavailable, got {other:?}"),
                }
                // The same socket still works.
                socket.send(
                    &RepoMessage::Request(DocSync {
                        sender_id: PeerId::new(WS_PEER).unwrap(),
                        target_id: PeerId::new("fengqiao-server").unwrap(),
                        document_id: DocumentId::random(),
                        data: AutoCommit::new()
                            .sync()
                            .generate_sync_message(&mut sync::State::new())
                            .unwrap()
                            .encode(),
                    })
                    .encode(),
                );
                assert!(
                    matches!(socket.recv_message(), Some(RepoMessage::DocUnavailable(_))),
                    "{path}: the socket stopped working"
                );
            }
            other => panic!("{path}: unknown expectation {other}"),
        }
        server.assert_serving(&path);
    }
    let storage = server.running().state.engine.storage().clone();
    for n in [13u8, 14, 15] {
        assert!(
            storage.doc_meta(&doc_id(n)).unwrap().is_none(),
            "refused record {n} was stored"
        );
    }
}

#[test]
fn a_text_frame_and_a_frame_declaring_exabytes_are_refused() {
    let server = Server::start();
    let mut socket = RawSocket::connect(server.addr);
    socket.join();
    socket.send_frame(0x1, b"{\"type\":\"join\"}", 15);
    expect_error_then_close(&mut socket, "text frame");

    let mut socket = RawSocket::connect(server.addr);
    socket.join();
    socket.send_frame(0x2, &[0u8; 16], 1 << 62);
    // Over the message size limit: refused at once, the socket closed
    // (with or without a close frame first), not left open waiting for
    // the rest of the frame.
    match socket.recv() {
        Frame::Close => {}
        other => panic!("a frame declaring 2^62 bytes: expected the socket closed, got {other:?}"),
    }
    server.assert_serving("a frame declaring 2^62 bytes");
}

#[test]
fn ten_thousand_tiny_uploads_in_one_request_each_get_an_answer() {
    let server = Server::start();
    let uploads: Vec<DocUpload> = (0..10_000u32)
        .map(|n| {
            let mut bytes = [0u8; 16];
            bytes[..4].copy_from_slice(&n.to_be_bytes());
            bytes[15] = 0xee;
            DocUpload {
                id: DocumentId::from_bytes(&bytes).unwrap(),
                heads: vec![],
                changes: vec![0x85, 0x6f, n as u8],
            }
        })
        .collect();
    let answer = post(&server, &request_with(uploads), None, TOKEN);
    assert_eq!(answer.status, 200, "{answer:?}");
    let response = answer.response.unwrap();
    assert_eq!(response.docs.len(), 10_000);
    assert!(response.docs.iter().all(|d| {
        d.error
            .as_ref()
            .is_some_and(|e| e.code == ErrorCode::BadRequest)
    }));
    server.assert_serving("10,000 tiny uploads");
}

#[test]
fn a_body_over_the_limit_is_refused_before_it_is_read_in_full() {
    let server = Server::start();
    let limit = server.running().state.limits.max_body_bytes;
    let answer = post(&server, &vec![0u8; limit + 1], None, TOKEN);
    assert_eq!(answer.status, 413, "{answer:?}");
    assert_eq!(answer.error.unwrap().code, ErrorCode::TooLarge);
    server.assert_serving("an oversized body");
}

#[test]
fn a_device_syncing_in_a_tight_loop_is_rate_limited_and_others_are_not() {
    let server = Server::start();
    let directory = server.running().state.engine.directory().clone();
    directory.add_person("cadre-loop", "循环", None).unwrap();
    let enroll = || {
        directory
            .enroll(EnrollRequest {
                person: "cadre-loop".into(),
                label: String::new(),
                role: Role::Cadre,
                scope: Scope::parse(VILLAGE).unwrap(),
                write: false,
            })
            .unwrap()
            .1
    };
    let (token, other) = (enroll(), enroll());
    let empty = SyncRequest::new(None).encode();
    let mut limited = 0;
    for _ in 0..400 {
        let answer = post(&server, &empty, None, &token.0);
        match answer.status {
            200 => {}
            429 => {
                assert_eq!(answer.error.unwrap().code, ErrorCode::RateLimited);
                limited += 1;
                break;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(limited, 1, "a tight loop was never slowed down");
    // Another device of the same village is not held back.
    assert_eq!(post(&server, &empty, None, &other.0).status, 200);
    server.assert_serving("a device in a tight loop");
}

// ------------------------------------------------ cursors and foreign ids

/// A village of the same town that the test devices may not read.
const OTHER_VILLAGE: &str = "500110101002";

/// Adds [`OTHER_VILLAGE`] to the organisation, enrolls a cadre device for
/// [`VILLAGE`] and returns its id and token.
fn cadre_of_village(server: &Server, person: &str) -> (DeviceId, String) {
    let directory = server.running().state.engine.directory().clone();
    add_other_village(server);
    if directory.person(person).is_none() {
        directory.add_person(person, person, None).unwrap();
    }
    let (device, token) = directory
        .enroll(EnrollRequest {
            person: person.into(),
            label: String::new(),
            role: Role::Cadre,
            scope: Scope::parse(VILLAGE).unwrap(),
            write: false,
        })
        .unwrap();
    (device.id, token.0)
}

fn add_other_village(server: &Server) {
    let mut org = Org::default();
    org.insert(OTHER_VILLAGE, "石溪村").unwrap();
    let directory = server.running().state.engine.directory();
    directory.import_org(org).unwrap();
}

fn dispute_in(village: &str, title: &str) -> NewDispute {
    NewDispute {
        village: fengqiao_protocol::VillageCode::new(village).unwrap(),
        ..dispute(title)
    }
}

/// Stores a record of [`OTHER_VILLAGE`] through the development token and
/// returns its id.
fn record_elsewhere(server: &Server) -> DocumentId {
    add_other_village(server);
    let id = DocumentId::random();
    let mut doc = AutoCommit::new().with_actor(automerge::ActorId::from(&[9u8; 20][..]));
    record::create_dispute(
        &mut doc,
        &Author::new("town-official", T0 - 5_000),
        &dispute_in(OTHER_VILLAGE, "他村的纠纷"),
    )
    .unwrap();
    let answer = post(
        server,
        &request_with(vec![upload(id.clone(), &mut doc)]),
        None,
        TOKEN,
    );
    let response = answer.response.expect("stored");
    assert!(response.docs[0].error.is_none(), "{}", brief(&response));
    id
}

fn sync_at(server: &Server, cursor: Option<Cursor>, token: &str) -> SyncResponse {
    let answer = post(server, &SyncRequest::new(cursor).encode(), None, token);
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.response.unwrap()
}

/// The cursor format before cursors were sealed: version 2, the epoch, the
/// feed position and a scope prefix, in the clear.
fn plain_cursor(epoch: &[u8], seq: u64, prefix: &str) -> Cursor {
    let mut bytes = vec![2u8];
    bytes.extend_from_slice(epoch);
    bytes.extend_from_slice(&seq.to_be_bytes());
    bytes.push(prefix.len() as u8);
    bytes.extend_from_slice(prefix.as_bytes());
    Cursor::new(bytes).unwrap()
}

#[test]
fn forged_cursors_are_unrecognised_and_purge_nothing_outside_the_device() {
    let server = Server::start();
    let elsewhere = record_elsewhere(&server);
    let (_, token) = cadre_of_village(&server, "cadre-cursor");
    let (_, other_token) = cadre_of_village(&server, "cadre-cursor");
    let mine = sync_at(&server, None, &token);
    let theirs = sync_at(&server, None, &other_token);
    let storage = server.running().state.engine.storage().clone();
    let seq = storage.current_seq();
    let epoch = storage
        .get_value(&fengqiao_server::storage::ServerValue::Epoch)
        .unwrap()
        .unwrap();

    // The genuine cursor is honoured; it shows neither the feed position
    // nor the epoch, and two cursors for the same position differ.
    let again = sync_at(&server, Some(mine.cursor.clone()), &token);
    assert!(!again.reset && again.purge.is_empty(), "{again:?}");
    let bytes = mine.cursor.as_bytes();
    assert!(
        !bytes
            .windows(8)
            .any(|w| w == seq.to_be_bytes() || *w == epoch[..]),
        "the cursor shows the global sequence or the epoch"
    );
    assert_ne!(again.cursor, mine.cursor);

    let mut forged: Vec<(&str, Cursor)> = Vec::new();
    for at in [1, bytes.len() / 2, bytes.len() - 1] {
        let mut flipped = bytes.to_vec();
        flipped[at] ^= 0x01;
        forged.push(("a flipped bit", Cursor::new(flipped).unwrap()));
    }
    forged.push(("another device's cursor", theirs.cursor.clone()));
    forged.push(("empty scope", plain_cursor(&epoch, seq, "")));
    forged.push(("the whole district", plain_cursor(&epoch, seq, "500110")));
    forged.push((
        "the other village",
        plain_cursor(&epoch, seq, OTHER_VILLAGE),
    ));
    forged.push(("no bytes", Cursor::new(Vec::new()).unwrap()));
    let mut truncated = bytes.to_vec();
    truncated.truncate(bytes.len() - 5);
    forged.push(("truncated", Cursor::new(truncated).unwrap()));
    for (what, cursor) in forged {
        let answer = sync_at(&server, Some(cursor), &token);
        assert!(answer.reset, "{what}: not treated as unrecognised");
        assert!(
            answer.purge.is_empty(),
            "{what}: the purge list names {:?}",
            answer.purge
        );
        assert!(
            answer.docs.iter().all(|d| d.id != elsewhere),
            "{what}: a record outside the scope was sent"
        );
    }
    server.assert_serving("forged cursors");
}

/// What one upload got, without the id it was sent under.
fn answer_for(server: &Server, token: &str, id: &DocumentId, changes: Vec<u8>) -> String {
    let request = request_with(vec![DocUpload {
        id: id.clone(),
        heads: Vec::new(),
        changes,
    }]);
    let answer = post(server, &request, None, token);
    assert_eq!(answer.status, 200, "{answer:?}");
    let response = answer.response.unwrap();
    let result = &response.docs[0];
    assert_eq!(&result.id, id);
    format!(
        "error {:?}, {} heads, {} bytes, resend {}",
        result.error,
        result.heads.len(),
        result.data.len(),
        result.resend
    )
}

#[test]
fn an_upload_to_a_hidden_record_is_answered_as_one_to_a_free_id() {
    let server = Server::start();
    let hidden = record_elsewhere(&server);
    let storage = server.running().state.engine.storage().clone();
    let stored = storage.doc_meta(&hidden).unwrap().unwrap();
    let (device, token) = cadre_of_village(&server, "cadre-foreign");
    let actor = || {
        automerge::ActorId::from(fengqiao_shared::access::new_native_actor(
            device,
            [1, 2, 3, 4],
        ))
    };

    // A record of the other village, with its own createdAt and createdBy.
    let mut claim = AutoCommit::new().with_actor(actor());
    record::create_dispute(
        &mut claim,
        &Author::new("cadre-foreign", T0),
        &dispute_in(OTHER_VILLAGE, "冒领"),
    )
    .unwrap();
    // The same, breaking the schema.
    let mut broken = claim.fork();
    broken.put(ROOT, "risk", "severe").unwrap();
    // A record of the device's own village.
    let mut own = AutoCommit::new().with_actor(actor());
    record::create_dispute(
        &mut own,
        &Author::new("cadre-foreign", T0),
        &dispute_in(VILLAGE, "本村"),
    )
    .unwrap();

    for (what, changes) in [
        ("a record of another village", claim.save()),
        ("a record breaking the schema", broken.save()),
        (
            "bytes that are not Automerge",
            b"not automerge at all".to_vec(),
        ),
        ("nothing", Vec::new()),
    ] {
        let to_hidden = answer_for(&server, &token, &hidden, changes.clone());
        let to_free = answer_for(&server, &token, &DocumentId::random(), changes);
        assert_eq!(to_hidden, to_free, "{what}");
        assert!(
            !to_hidden.contains("town-official") && !to_hidden.contains("他村"),
            "{what}: {to_hidden}"
        );
    }
    // A creation under a hidden id is refused exactly as a creation
    // outside the device's scope is (the id is taken; which record took it
    // is not said).
    let to_hidden = answer_for(&server, &token, &hidden, own.save());
    let outside = answer_for(&server, &token, &DocumentId::random(), claim.save());
    assert_eq!(to_hidden, outside);
    assert!(to_hidden.contains("Forbidden"), "{to_hidden}");

    let after = storage.doc_meta(&hidden).unwrap().unwrap();
    assert_eq!(after.heads, stored.heads, "the hidden record is unchanged");
    server.assert_serving("uploads to a hidden record");
}
