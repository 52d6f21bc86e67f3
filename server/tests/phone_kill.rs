//! A phone killed between its writes loses nothing it reported done.
//!
//! `fengqiao field` runs as a child process and is killed with SIGKILL (no
//! destructor, no flush at exit) at chosen points:
//!
//! - right after `dispute new` and `dispute event` return, before the
//!   process can exit: the child's stdout is a pipe whose buffer the test
//!   filled, so the line that reports the new id blocks; the test waits
//!   until the child is blocked writing it, then kills it. The record and
//!   the event must be there when the phone opens again ("an edit returns
//!   only after it is flushed");
//! - right after a round of a sync was applied (its progress line blocks
//!   the same way on stderr), and at random moments during a sync of
//!   several rounds: the phone then syncs again to the end and must hold
//!   exactly the server's records — a cursor stored without its records
//!   would skip them for ever, records without their cursor are merely
//!   received twice ("the cursor and the records in one flushed batch").

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ServerProcess, TOKEN, fengqiao, import_org};
use fengqiao_protocol::{DeviceId, VillageCode};
use fengqiao_shared::record::{Author, NewDispute, Party, create_dispute};
use fengqiao_shared::replica::Replica;
use fengqiao_shared::replica::http::{HttpTransport, sync_until_done};
use fengqiao_shared::replica::sync::SyncClient;
use fengqiao_shared::vocab::{Category, PartyRole, Risk};

const VILLAGE: &str = "500110101001";
/// The capacity of a Linux pipe, which the test fills so that the next
/// line a child writes blocks.
const PIPE_CAPACITY: usize = 64 * 1024;
/// Longest wait for a child to reach the point where it is killed.
const WAIT: Duration = Duration::from_secs(60);

fn field(dir: &Path) -> Command {
    let mut command = fengqiao();
    command
        .arg("field")
        .arg("--dir")
        .arg(dir)
        .env("FENGQIAO_LOG", "off")
        // The lines this test measures and reads are the English ones.
        .env("FENGQIAO_LANG", "en")
        .env_remove("FENGQIAO_FIELD_DIR")
        .stdin(Stdio::null());
    command
}

/// Runs a field command that must succeed; returns its stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let output = field(dir).args(args).output().expect("fengqiao field runs");
    assert!(
        output.status.success(),
        "fengqiao field {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn set_up(dir: &Path, server: &ServerProcess, cadre: &str) {
    ok(
        dir,
        &[
            "init",
            "--server",
            &server.url,
            "--token",
            TOKEN,
            "--cadre",
            cadre,
        ],
    );
}

/// A pipe holding `PIPE_CAPACITY - room` bytes: a child given its write end
/// can write `room` bytes, and blocks on the next write.
fn nearly_full_pipe(room: usize) -> (std::io::PipeReader, std::io::PipeWriter) {
    let (reader, mut writer) = std::io::pipe().expect("a pipe");
    writer
        .write_all(&vec![b'.'; PIPE_CAPACITY - room])
        .expect("the pipe takes its capacity");
    (reader, writer)
}

/// Waits until `child` is blocked writing to a full pipe, then kills it
/// with SIGKILL.
fn kill_when_blocked_writing(mut child: Child, what: &str) {
    let wchan = format!("/proc/{}/wchan", child.id());
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("child status") {
            panic!("{what} exited ({status}) instead of blocking on its output");
        }
        let waiting_in = std::fs::read_to_string(&wchan).unwrap_or_default();
        if waiting_in.contains("pipe_write") {
            break;
        }
        assert!(
            started.elapsed() < WAIT,
            "{what} never blocked on its output (waiting in {waiting_in:?})"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("reaped");
    assert!(!status.success(), "{what} was killed, not exited: {status}");
}

fn dispute_ids(dir: &Path) -> Vec<String> {
    let list = ok(dir, &["dispute", "list"]);
    let mut ids: Vec<String> = list
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|word| word.len() > 20 && word.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_record_and_an_event_survive_a_kill_right_after_they_return() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"));
    import_org(&server.url);
    let phone = dir.path().join("phone");
    set_up(&phone, &server, "zhang-san");

    // `dispute new` prints the new id on stdout once the record is saved;
    // that line blocks, and the process dies there.
    let (_reader, writer) = nearly_full_pipe(0);
    let child = field(&phone)
        .args([
            "dispute",
            "new",
            "--village",
            VILLAGE,
            "--title",
            "杀掉之前保存的纠纷",
            "--category",
            "land",
            "--party",
            "张三:applicant",
        ])
        .stdout(writer)
        .stderr(Stdio::null())
        .spawn()
        .expect("fengqiao field runs");
    kill_when_blocked_writing(child, "dispute new");
    let ids = dispute_ids(&phone);
    assert_eq!(ids.len(), 1, "the record saved before the kill: {ids:?}");
    let id = &ids[0];
    let show = ok(&phone, &["dispute", "show", id]);
    assert!(show.contains("杀掉之前保存的纠纷"), "{show}");

    // An event: `dispute event` prints its confirmation once saved.
    let (_reader, writer) = nearly_full_pipe(0);
    let child = field(&phone)
        .args(["dispute", "event", id, "note", "--note", "杀掉之前记下的"])
        .stdout(writer)
        .stderr(Stdio::null())
        .spawn()
        .expect("fengqiao field runs");
    kill_when_blocked_writing(child, "dispute event");
    let show = ok(&phone, &["dispute", "show", id]);
    assert!(
        show.contains("杀掉之前记下的"),
        "the event was lost:\n{show}"
    );

    // Both reach the server.
    ok(&phone, &["sync"]);
    let other = dir.path().join("other");
    set_up(&other, &server, "li-si");
    ok(&other, &["sync"]);
    let show = ok(&other, &["dispute", "show", id]);
    assert!(show.contains("杀掉之前记下的"), "{show}");
}

/// A description of `chars` characters that compresses poorly, so that a
/// few hundred records make a bootstrap of several rounds.
fn varied_text(seed: u64, chars: usize) -> String {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..chars)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from_u32(0x4e00 + (state % 0x5000) as u32).unwrap_or('纠')
        })
        .collect()
}

#[test]
fn a_sync_killed_at_any_moment_loses_and_skips_nothing() {
    const RECORDS: usize = 80;
    const RANDOM_KILLS: u64 = 3;
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"));
    import_org(&server.url);

    // Records on the server from another phone: over 1 MB, more than two
    // responses' budget.
    let source = Replica::in_memory(DeviceId::random()).unwrap();
    for n in 0..RECORDS {
        let dispute = NewDispute {
            village: VillageCode::new(VILLAGE).unwrap(),
            title: format!("存量纠纷 {n}"),
            description: varied_text(n as u64, 4_500),
            category: Category::Land,
            risk: Risk::Low,
            parties: vec![Party::new("张三", PartyRole::Applicant)],
            assignees: vec![],
        };
        let author = Author::new("wang-wu", 1_790_000_000_000 + n as i64);
        source
            .create(|doc| create_dispute(doc, &author, &dispute))
            .unwrap();
    }
    let mut transport = HttpTransport::new(&server.url, TOKEN);
    sync_until_done(
        &source,
        &mut SyncClient::default(),
        &mut transport,
        100,
        |_| {},
    )
    .expect("the records reach the server");
    let mut expected: Vec<String> = source
        .ids()
        .unwrap()
        .iter()
        .map(|id| id.to_string())
        .collect();
    expected.sort();

    // Killed right after the first round was applied: its progress line
    // (after "syncing with …") blocks on a full stderr.
    let phone = dir.path().join("after-a-round");
    set_up(&phone, &server, "zhang-san");
    let first_line = format!("syncing with {} (0 records to send)\n", server.url);
    let (_reader, writer) = nearly_full_pipe(first_line.len());
    let child = field(&phone)
        .arg("sync")
        .stdout(Stdio::null())
        .stderr(writer)
        .spawn()
        .expect("fengqiao field runs");
    kill_when_blocked_writing(child, "sync");
    let held = dispute_ids(&phone).len();
    assert!(
        held > 0 && held < RECORDS,
        "the first round's records were kept, and it was not the last round: {held}"
    );
    let out = ok(&phone, &["sync"]);
    assert_eq!(
        dispute_ids(&phone),
        expected,
        "after a kill between rounds:\n{out}"
    );
    let received: usize = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("received"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a received line");
    assert_eq!(
        received,
        RECORDS - held,
        "the sync resumed after the kept round, it did not start over:\n{out}"
    );

    // How long a whole sync takes here, to spread kills over it.
    let timing = dir.path().join("timing");
    set_up(&timing, &server, "zhao-liu");
    let started = Instant::now();
    ok(&timing, &["sync"]);
    let whole = started.elapsed().as_millis() as u64;
    assert_eq!(dispute_ids(&timing), expected);

    // Killed at moments spread over a sync: before, inside and between
    // the writes of its rounds. Each time the phone syncs again to the end.
    for kill in 0..RANDOM_KILLS {
        let phone = dir.path().join(format!("killed-{kill}"));
        set_up(&phone, &server, "zhang-san");
        let mut child = field(&phone)
            .arg("sync")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("fengqiao field runs");
        // The moment of the kill is the variable under test, not a wait.
        let at = whole * (kill + 1) / (RANDOM_KILLS + 1);
        std::thread::sleep(Duration::from_millis(at));
        let _ = child.kill();
        let _ = child.wait();
        ok(&phone, &["sync"]);
        assert_eq!(
            dispute_ids(&phone),
            expected,
            "killed {at} ms into a sync of about {whole} ms"
        );
    }
}
