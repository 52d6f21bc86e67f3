//! What the heaviest uploads cost the server: the worst upload the
//! default limits accept, and the Automerge "bombs" they refuse.
//!
//! Starts the release `fengqiao` server on 127.0.0.1 (a fresh data
//! directory, development token), measures it idle, then sends, one at a
//! time on the batch door:
//!
//! - the worst accepted upload: a new record whose history holds as many
//!   operations as the default limit allows (characters typed and deleted
//!   again), with every text field at its length limit;
//! - the bombs: 5 million characters inserted and deleted in one deflated
//!   change (a few kilobytes), four of them in one request, and a field
//!   this version does not know holding 600,000 characters.
//!
//! For each it reports the server's CPU time and peak resident memory
//! above the idle baseline measured in the same run, and what the server
//! answered. It asserts nothing: run it, read the numbers.
//!
//! ```text
//! cargo build --release -p fengqiao-server --bin fengqiao
//! cargo run --release -p fengqiao-bench --bin hostile_upload
//! ```

#[path = "../compare/mod.rs"]
#[allow(dead_code)]
mod compare;

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT};
use compare::process::{FENGQIAO_TOKEN, Launch, ServerProcess};
use fengqiao_protocol::DocumentId;
use fengqiao_protocol::batch::{DocUpload, SyncRequest, SyncResponse};
use fengqiao_protocol::codec::DecodeLimits;
use fengqiao_shared::record::{self, Author, Limits};

const T0: i64 = 1_767_571_200_000;

fn sibling(name: &str) -> PathBuf {
    let me = std::env::current_exe().expect("the benchmark's own path");
    me.with_file_name(name)
}

/// A valid dispute, as a phone creates it.
fn record() -> AutoCommit {
    let mut doc = AutoCommit::new();
    let dispute = compare::records::dispute(1);
    record::create_dispute(&mut doc, &Author::new("cadre-shimen-01", T0), &dispute)
        .expect("a valid dispute");
    doc
}

/// `chars` characters typed into a scratch field and deleted again, as
/// one change after the record's creation.
fn churned(mut doc: AutoCommit, chars: usize) -> AutoCommit {
    let text = doc
        .put_object(ROOT, "scratch", ObjType::Text)
        .expect("a text");
    doc.splice_text(&text, 0, 0, &"a".repeat(chars))
        .expect("typed");
    doc.splice_text(&text, 0, chars as isize, "")
        .expect("deleted");
    doc.commit();
    doc
}

/// A change chunk rewritten as Automerge's deflated change chunk.
fn deflated(change: &[u8]) -> Vec<u8> {
    let mut at = 9;
    while change[at] & 0x80 != 0 {
        at += 1;
    }
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&change[at + 1..]).expect("deflated");
    let compressed = encoder.finish().expect("deflated");
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

fn bomb(chars: usize) -> Vec<u8> {
    let mut doc = record();
    let created = doc.save();
    let before = doc.get_heads();
    let mut doc = churned(doc, chars);
    let mut bytes = created;
    bytes.extend(deflated(&doc.save_after(&before)));
    bytes
}

/// A request uploading each of `changes` as a new record. (It carries no
/// cursor, so the answer also brings the records stored before; only the
/// uploads' answers are reported.)
fn request(changes: Vec<Vec<u8>>) -> Vec<u8> {
    let mut request = SyncRequest::new(None);
    request.docs = changes
        .into_iter()
        .map(|changes| DocUpload {
            id: DocumentId::random(),
            heads: vec![],
            changes,
        })
        .collect();
    request.encode()
}

/// The answer, in a word per record.
fn post(url: &str, body: &[u8]) -> String {
    let limits = DecodeLimits {
        max_bytes: 1 << 30,
        ..DecodeLimits::DEFAULT
    };
    let uploaded: Vec<DocumentId> = SyncRequest::decode(body, &limits)
        .map(|r| r.docs.into_iter().map(|d| d.id).collect())
        .unwrap_or_default();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into();
    let response = agent
        .post(&format!("{url}/v1/sync"))
        .header("Authorization", &format!("Bearer {FENGQIAO_TOKEN}"))
        .header("Content-Type", "application/cbor")
        .send(body);
    let mut response = match response {
        Ok(response) => response,
        Err(e) => return format!("no answer: {e}"),
    };
    let status = response.status().as_u16();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .unwrap_or_default();
    if status != 200 {
        return format!("HTTP {status}");
    }
    match SyncResponse::decode(&bytes, &limits) {
        Ok(answer) => answer
            .docs
            .iter()
            .filter(|d| uploaded.contains(&d.id))
            .map(|d| match &d.error {
                Some(e) => e.code.as_str().to_owned(),
                None if d.heads.is_empty() => "unacknowledged".to_owned(),
                None => "stored".to_owned(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Err(e) => format!("an undecodable answer: {e}"),
    }
}

fn main() {
    let binary = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| sibling("fengqiao"));
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let launch = Launch::Fengqiao {
        binary,
        postgres: None,
    };
    let server = ServerProcess::start(&launch, scratch.path()).unwrap_or_else(|e| {
        eprintln!("{e}\nbuild it first: cargo build --release -p fengqiao-server --bin fengqiao");
        std::process::exit(2)
    });

    let limits = Limits::default();
    // The worst accepted upload: the whole operation budget spent on
    // characters typed and deleted (each one an insertion and a deletion),
    // beside a record whose texts are at their limits.
    let mut worst = record();
    let description = "长".repeat(limits.max_text_chars);
    record::set_description(
        &mut worst,
        &Author::new("cadre-shimen-01", T0 + 1),
        &description,
    )
    .expect("a description at the limit");
    let used = {
        use automerge::ReadDoc;
        worst.stats().num_ops as usize
    };
    let churn = (limits.max_history_ops - used) / 2 - 1_000;
    let worst = churned(worst, churn).save();
    println!(
        "limits: {} operations of history, {} characters per text, {} in all",
        limits.max_history_ops, limits.max_text_chars, limits.max_total_chars
    );

    let workloads: Vec<(String, Vec<u8>)> = vec![
        (
            format!(
                "worst accepted: {} characters typed and deleted, a {}-character description",
                churn, limits.max_text_chars
            ),
            request(vec![worst]),
        ),
        (
            "bomb: 5,000,000 characters inserted and deleted, deflated".to_owned(),
            request(vec![bomb(5_000_000)]),
        ),
        (
            "bomb: four of them in one request".to_owned(),
            request((0..4).map(|_| bomb(5_000_000)).collect()),
        ),
        ("unknown field of 600,000 characters".to_owned(), {
            let mut doc = record();
            doc.put(ROOT, "fromTheFuture", "x".repeat(600_000))
                .expect("a field");
            doc.commit();
            request(vec![doc.save()])
        }),
    ];

    // The idle baseline, measured in this run.
    std::thread::sleep(Duration::from_secs(1));
    server.reset_peak();
    let idle_cpu_start = server.cpu_seconds();
    std::thread::sleep(Duration::from_secs(2));
    let idle_cpu = server.cpu_seconds() - idle_cpu_start;
    let idle_kib = server.peak_rss_kib();
    println!(
        "idle: {:.1} MiB resident, {:.3} s CPU in 2 s",
        idle_kib as f64 / 1024.0,
        idle_cpu
    );
    println!();
    println!("| upload | body | answer | CPU above idle | peak RSS above idle | peak / idle |");
    println!("|---|---:|---|---:|---:|---:|");
    for (name, body) in workloads {
        server.reset_peak();
        let cpu = server.cpu_seconds();
        let started = Instant::now();
        let answer = post(&server.url, &body);
        let wall = started.elapsed();
        let cpu = server.cpu_seconds() - cpu;
        let peak = server.peak_rss_kib();
        println!(
            "| {name} | {:.1} KB | {answer} | {:.3} s ({:.2} s wall) | {:+.1} MiB | {:.2} |",
            body.len() as f64 / 1000.0,
            cpu,
            wall.as_secs_f64(),
            (peak as f64 - idle_kib as f64) / 1024.0,
            peak as f64 / idle_kib.max(1) as f64
        );
    }
    server.stop();
}
