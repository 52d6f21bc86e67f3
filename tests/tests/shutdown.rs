//! A graceful stop (SIGTERM) with syncs in flight: the server finishes the
//! requests it is reading, acknowledges them, and only then exits, with
//! status 0; what it acknowledged is in the store when it starts again.
//!
//! Each phone's request goes over a raw socket in two halves. It asks
//! `Expect: 100-continue`, so the server says when it has begun the request
//! and reads its body; the test then sends half of the body, SIGTERM, and
//! the other half: the request is in flight in the strictest sense.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use fengqiao_protocol::{DecodeLimits, SyncResponse};
use fengqiao_protocol::{DeviceId, DocumentId};
use fengqiao_shared::replica::sync::SyncClient;
use fengqiao_tests::Phone;
use fengqiao_tests::process::{DEV_TOKEN, ServerProcess};

const VILLAGE: &str = "500110101001";
const PHONES: usize = 3;
const WAIT: Duration = Duration::from_secs(30);

/// A request written up to the middle of its body.
struct HalfSent {
    stream: TcpStream,
    rest: Vec<u8>,
    ids: Vec<DocumentId>,
}

fn start_request(server: &ServerProcess, phone: &Phone, client: &mut SyncClient) -> HalfSent {
    let request = client.next_request(&phone.replica).expect("a request");
    let ids: Vec<DocumentId> = request.docs.iter().map(|d| d.id.clone()).collect();
    let body = request.encode();
    let mut stream = TcpStream::connect(server.addr).expect("connects");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let head = format!(
        "POST /v1/sync HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/cbor\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\n\r\n",
        server.addr,
        phone.token,
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("head sent");
    // The server asks for the body once the handler reads it.
    let mut reader = BufReader::new(stream.try_clone().expect("a second handle"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("an interim answer");
    assert!(
        line.starts_with("HTTP/1.1 100"),
        "expected 100 Continue, got {line:?}"
    );
    line.clear();
    reader
        .read_line(&mut line)
        .expect("the end of the interim answer");
    assert_eq!(line, "\r\n");
    let half = body.len() / 2;
    stream.write_all(&body[..half]).expect("half the body sent");
    HalfSent {
        stream,
        rest: body[half..].to_vec(),
        ids,
    }
}

/// Sends the rest of the body and reads the answer: status and body.
fn finish(mut sent: HalfSent) -> (u16, Vec<u8>) {
    sent.stream
        .write_all(&sent.rest)
        .expect("the rest of the body sent");
    let mut answer = Vec::new();
    sent.stream
        .read_to_end(&mut answer)
        .expect("the answer arrives");
    let head_end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head")
        + 4;
    let head = String::from_utf8_lossy(&answer[..head_end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("content-length") && !lower.contains("content-encoding"),
        "a plain body with a length: {head}"
    );
    (status, answer[head_end..].to_vec())
}

#[test]
fn sigterm_finishes_syncs_in_flight_then_exits_cleanly() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().join("data");
    let server = ServerProcess::start(&data);
    server.import_test_org();

    let mut phones: Vec<(Phone, SyncClient)> = (0..PHONES)
        .map(|p| {
            let phone = Phone::enrolled(&format!("cadre-{p}"), DeviceId::random(), DEV_TOKEN);
            for n in 0..3 {
                phone.report(
                    VILLAGE,
                    &format!("停机时在途 {p}-{n}"),
                    fengqiao_tests::T0 + n,
                );
            }
            (phone, SyncClient::default())
        })
        .collect();
    let in_flight: Vec<HalfSent> = phones
        .iter_mut()
        .map(|(phone, client)| start_request(&server, phone, client))
        .collect();

    server.signal_terminate();
    let mut acknowledged = Vec::new();
    for sent in in_flight {
        let ids = sent.ids.clone();
        let (status, body) = finish(sent);
        assert_eq!(
            status,
            200,
            "a sync in flight at SIGTERM was answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        let response =
            SyncResponse::decode(&body, &DecodeLimits::DEFAULT).expect("a sync response");
        for id in &ids {
            let result = response
                .docs
                .iter()
                .find(|d| &d.id == id)
                .expect("an answer for every upload");
            assert!(result.error.is_none(), "{id}: {:?}", result.error);
            assert!(!result.heads.is_empty(), "{id} acknowledged");
        }
        acknowledged.extend(ids);
    }
    assert_eq!(acknowledged.len(), PHONES * 3);
    let status = server.wait_exit(WAIT);
    assert!(status.success(), "the server exited with {status}");

    // What it acknowledged is there after a restart.
    let server = ServerProcess::start(&data);
    let mut reader = Phone::enrolled("reader", DeviceId::random(), DEV_TOKEN);
    reader.sync(&server.url());
    let mut held = reader.replica.ids().expect("ids");
    held.sort();
    acknowledged.sort();
    assert_eq!(held, acknowledged);
}
