//! Disk trouble: a full disk, a failing write, a failing read or a slow
//! one never turns into a false acknowledgement, and the server recovers
//! when the disk does (docs/RELIABILITY.md).
//!
//! Most tests serve from [`TroubledStorage`]: the real sled store behind a
//! switch that makes commits or reads fail, or holds a feed read, on
//! demand. One test fills a real (tmpfs) file system; it needs to mount
//! one and says so loudly when it cannot.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, ChangeHash as AmHash};
use fengqiao_protocol::repo::Join;
use fengqiao_protocol::{DocumentId, ErrorCode, PeerId, RepoMessage, Scope};
use fengqiao_server::directory::Directory;
use fengqiao_server::engine::{Caller, Engine, EngineConfig};
use fengqiao_server::serve::ServeConfig;
use fengqiao_server::storage::{
    BackupReport, CommitBatch, CommitReceipt, DocMeta, FeedPage, ProjectionKey, QuarantineEntry,
    Quarantined, ServerValue, SledStorage, Storage, StorageConfig, StorageError, StoredDocument,
    ValueFamily,
};
use fengqiao_server::ws::connection::{Connection, Output};
use fengqiao_server::ws_client::sync_message;
use fengqiao_shared::Summary;
use fengqiao_shared::record::{self, Author, Record};
use fengqiao_shared::replica::http::{SyncError, TransportError};
use fengqiao_shared::vocab::EventKind;
use fengqiao_tests::{Phone, T0, TestServer, test_org};

const VILLAGE: &str = "500110101001";

/// How a commit fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CommitFault {
    /// The disk is full: nothing is written.
    Full,
    /// The write reaches the disk, but the flush reports an I/O error, so
    /// the commit is not acknowledged.
    LandsThenFails,
}

#[derive(Default)]
struct Switches {
    commit: Option<CommitFault>,
    reads_fail: bool,
    /// Hold the next feed read until released.
    hold_next_feed_read: bool,
    holding: bool,
    refused_commits: u64,
}

/// The sled store with a hand on the switch.
struct TroubledStorage {
    inner: SledStorage,
    switches: Mutex<Switches>,
    changed: Condvar,
}

impl TroubledStorage {
    fn open(path: &Path) -> Arc<Self> {
        Arc::new(Self {
            inner: SledStorage::open(&StorageConfig::new(path)).expect("store opens"),
            switches: Mutex::default(),
            changed: Condvar::new(),
        })
    }

    fn set<R>(&self, f: impl FnOnce(&mut Switches) -> R) -> R {
        let mut switches = self.switches.lock().expect("switches");
        let result = f(&mut switches);
        self.changed.notify_all();
        result
    }

    fn fail_commits(&self, fault: Option<CommitFault>) {
        self.set(|s| s.commit = fault);
    }

    fn refused_commits(&self) -> u64 {
        self.set(|s| s.refused_commits)
    }

    fn read(&self) -> Result<(), StorageError> {
        if self.switches.lock().expect("switches").reads_fail {
            return Err(StorageError::from_io(std::io::Error::other(
                "read error on the storage device",
            )));
        }
        Ok(())
    }

    /// Waits until a feed read is being held.
    fn wait_until_holding(&self) {
        let mut switches = self.switches.lock().expect("switches");
        while !switches.holding {
            let (next, timeout) = self
                .changed
                .wait_timeout(switches, Duration::from_secs(20))
                .expect("switches");
            assert!(!timeout.timed_out(), "no feed read came to be held");
            switches = next;
        }
    }
}

impl Storage for TroubledStorage {
    fn commit(&self, batch: CommitBatch) -> Result<CommitReceipt, StorageError> {
        let fault = self.set(|s| {
            if s.commit.is_some() {
                s.refused_commits += 1;
            }
            s.commit
        });
        match fault {
            None => self.inner.commit(batch),
            Some(CommitFault::Full) => {
                Err(StorageError::from_io(std::io::Error::from_raw_os_error(28)))
            }
            Some(CommitFault::LandsThenFails) => {
                self.inner.commit(batch)?;
                Err(StorageError::from_io(std::io::Error::other(
                    "fsync failed on the storage device",
                )))
            }
        }
    }

    fn compact(
        &self,
        id: &DocumentId,
        snapshot: Vec<u8>,
        through_seq: u64,
    ) -> Result<(), StorageError> {
        self.inner.compact(id, snapshot, through_seq)
    }

    fn documents_needing_compaction(
        &self,
        min_chunks: u32,
        limit: usize,
    ) -> Result<Vec<DocumentId>, StorageError> {
        self.inner.documents_needing_compaction(min_chunks, limit)
    }

    fn load_document(&self, id: &DocumentId) -> Result<Option<StoredDocument>, StorageError> {
        self.read()?;
        self.inner.load_document(id)
    }

    fn doc_meta(&self, id: &DocumentId) -> Result<Option<DocMeta>, StorageError> {
        self.read()?;
        self.inner.doc_meta(id)
    }

    fn current_seq(&self) -> u64 {
        self.inner.current_seq()
    }

    fn feed_after(
        &self,
        after: u64,
        scope: Option<&Scope>,
        limit: usize,
    ) -> Result<FeedPage, StorageError> {
        self.read()?;
        let mut switches = self.switches.lock().expect("switches");
        if switches.hold_next_feed_read {
            switches.hold_next_feed_read = false;
            switches.holding = true;
            self.changed.notify_all();
            while switches.holding {
                switches = self.changed.wait(switches).expect("switches");
            }
        }
        drop(switches);
        self.inner.feed_after(after, scope, limit)
    }

    fn heads_at(&self, id: &DocumentId, seq: u64) -> Result<Option<Vec<[u8; 32]>>, StorageError> {
        self.read()?;
        self.inner.heads_at(id, seq)
    }

    fn summary(&self, id: &DocumentId) -> Result<Option<Summary>, StorageError> {
        self.inner.summary(id)
    }

    fn summaries_in_scope(
        &self,
        scope: &Scope,
        after: Option<&ProjectionKey>,
        limit: usize,
    ) -> Result<Vec<Summary>, StorageError> {
        self.inner.summaries_in_scope(scope, after, limit)
    }

    fn sync_state(&self, peer: &[u8], id: &DocumentId) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.sync_state(peer, id)
    }

    fn put_sync_state(
        &self,
        peer: &[u8],
        id: &DocumentId,
        state: &[u8],
    ) -> Result<(), StorageError> {
        self.inner.put_sync_state(peer, id, state)
    }

    fn quarantine(&self, entry: QuarantineEntry) -> Result<u64, StorageError> {
        self.inner.quarantine(entry)
    }

    fn quarantine_dropped(&self) -> u64 {
        self.inner.quarantine_dropped()
    }

    fn list_quarantine(&self, limit: usize) -> Result<Vec<Quarantined>, StorageError> {
        self.inner.list_quarantine(limit)
    }

    fn get_value(&self, value: &ServerValue) -> Result<Option<Vec<u8>>, StorageError> {
        self.inner.get_value(value)
    }

    fn put_value(&self, value: &ServerValue, bytes: &[u8]) -> Result<(), StorageError> {
        self.inner.put_value(value, bytes)
    }

    fn values_in(&self, family: ValueFamily) -> Result<Vec<(ServerValue, Vec<u8>)>, StorageError> {
        self.inner.values_in(family)
    }

    fn latest_seq(&self) -> Result<u64, StorageError> {
        self.inner.latest_seq()
    }

    fn delete_value(&self, value: &ServerValue) -> Result<(), StorageError> {
        self.inner.delete_value(value)
    }

    fn backup_to(&self, path: &Path) -> Result<BackupReport, StorageError> {
        self.inner.backup_to(path)
    }
}

/// A test server serving from a [`TroubledStorage`].
fn troubled_server() -> (TestServer, Arc<TroubledStorage>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let storage = TroubledStorage::open(&dir.path().join("store"));
    let mut config = ServeConfig::new(dir.path(), "127.0.0.1:0".parse().expect("address"));
    config.storage = Some(storage.clone());
    (TestServer::start_with(config), storage, dir)
}

fn assert_unavailable(result: Result<impl std::fmt::Debug, SyncError>) {
    match result {
        Err(SyncError::Transport(TransportError::Server { status, body })) => {
            assert_eq!(status, 503, "{body}");
            assert_eq!(body.code, ErrorCode::Unavailable, "{body}");
        }
        other => panic!("expected 503 unavailable, got {other:?}"),
    }
}

fn sorted(mut heads: Vec<[u8; 32]>) -> Vec<[u8; 32]> {
    heads.sort();
    heads
}

fn phone_heads(phone: &Phone, id: &DocumentId) -> Vec<[u8; 32]> {
    let mut doc = phone.replica.document(id).expect("reads").expect("held");
    sorted(doc.get_heads().iter().map(|h| h.0).collect())
}

fn server_heads(storage: &dyn Storage, id: &DocumentId) -> Option<Vec<[u8; 32]>> {
    storage
        .doc_meta(id)
        .expect("reads")
        .map(|meta| sorted(meta.heads))
}

fn note(phone: &Phone, id: &DocumentId, text: &str, at: i64) {
    phone.add_event(id, EventKind::Note, text, at);
}

fn notes(phone: &Phone, id: &DocumentId) -> Vec<String> {
    match phone.replica.record(id).expect("held") {
        Record::Dispute(d) => d.events.iter().filter_map(|e| e.note.clone()).collect(),
        Record::Visit(_) => Vec::new(),
    }
}

#[test]
fn a_full_disk_answers_unavailable_and_acknowledges_nothing() {
    let (server, storage, _dir) = troubled_server();
    let mut phone = Phone::new("cadre-a");
    let mut reader = Phone::new("cadre-b");
    let kept = phone.report(VILLAGE, "已登记的纠纷", T0);
    phone.sync(&server.url());
    reader.sync(&server.url());

    storage.fail_commits(Some(CommitFault::Full));
    let new = phone.report(VILLAGE, "磁盘满时登记", T0 + 1);
    note(&phone, &kept, "磁盘满时的调解记录", T0 + 2);
    let before = server_heads(storage.as_ref(), &kept);
    for _ in 0..3 {
        assert_unavailable(phone.try_sync(&server.url()));
    }
    assert!(storage.refused_commits() > 0, "the upload reached storage");
    // Nothing was acknowledged: the phone still owes both records, and the
    // server holds neither change.
    let mut dirty = phone.replica.dirty().expect("dirty");
    dirty.sort();
    let mut expected = vec![kept.clone(), new.clone()];
    expected.sort();
    assert_eq!(dirty, expected);
    assert!(
        phone
            .replica
            .state(&new)
            .expect("state")
            .server_heads
            .is_empty()
    );
    assert_eq!(server_heads(storage.as_ref(), &new), None);
    assert_eq!(server_heads(storage.as_ref(), &kept), before);
    // A phone with nothing to upload still syncs: reads need no space.
    reader.sync(&server.url());

    // Space returns: the same phone syncs and everything lands once.
    storage.fail_commits(None);
    let report = phone.sync(&server.url());
    assert_eq!(report.acknowledged(), 2);
    assert!(phone.replica.dirty().expect("dirty").is_empty());
    for id in [&kept, &new] {
        assert_eq!(
            server_heads(storage.as_ref(), id),
            Some(phone_heads(&phone, id))
        );
    }
    reader.sync(&server.url());
    assert_eq!(notes(&reader, &kept), vec!["磁盘满时的调解记录".to_owned()]);
    assert!(reader.replica.record(&new).is_ok());
}

#[test]
fn a_write_that_landed_but_failed_its_flush_is_retried_without_duplicates() {
    let (server, storage, _dir) = troubled_server();
    let mut phone = Phone::new("cadre-a");
    let id = phone.report(VILLAGE, "刷盘失败", T0);
    phone.sync(&server.url());
    note(&phone, &id, "只应出现一次", T0 + 1);

    storage.fail_commits(Some(CommitFault::LandsThenFails));
    assert_unavailable(phone.try_sync(&server.url()));
    assert_eq!(phone.replica.dirty().expect("dirty"), vec![id.clone()]);

    storage.fail_commits(None);
    let report = phone.sync(&server.url());
    assert_eq!(report.acknowledged(), 1);
    let mut other = Phone::new("cadre-b");
    other.sync(&server.url());
    assert_eq!(notes(&other, &id), vec!["只应出现一次".to_owned()]);
    assert_eq!(phone_heads(&other, &id), phone_heads(&phone, &id));
}

#[test]
fn a_failing_read_answers_unavailable_and_the_server_recovers() {
    let (server, storage, _dir) = troubled_server();
    let mut a = Phone::new("cadre-a");
    let id = a.report(VILLAGE, "读盘失败", T0);
    a.sync(&server.url());

    storage.set(|s| s.reads_fail = true);
    let mut b = Phone::new("cadre-b");
    assert_unavailable(b.try_sync(&server.url()));
    assert!(
        b.replica.cursor().expect("cursor").is_none(),
        "no cursor was handed out"
    );
    storage.set(|s| s.reads_fail = false);
    b.sync(&server.url());
    assert_eq!(phone_heads(&b, &id), phone_heads(&a, &id));
}

/// A sync whose feed read is slow (here: held) while another phone commits
/// to a record it uploaded must still bring that phone the other change:
/// the cursor may never pass a change the phone was not sent.
#[test]
fn a_slow_feed_read_never_lets_the_cursor_pass_an_unsent_change() {
    let (server, storage, _dir) = troubled_server();
    let url = server.url();
    let mut a = Phone::new("cadre-a");
    let mut b = Phone::new("cadre-b");
    let id = a.report(VILLAGE, "并发调解", T0);
    a.sync(&url);
    b.sync(&url);
    note(&a, &id, "甲的记录", T0 + 1);
    note(&b, &id, "乙的记录", T0 + 2);

    // A's upload is answered, then its feed read stalls; B's change to the
    // same record commits meanwhile.
    storage.set(|s| s.hold_next_feed_read = true);
    let a = thread::spawn({
        let url = url.clone();
        move || {
            a.sync(&url);
            a
        }
    });
    storage.wait_until_holding();
    b.sync(&url);
    storage.set(|s| s.holding = false);
    let mut a = a.join().expect("phone a");

    a.sync(&url);
    b.sync(&url);
    let server = server_heads(storage.as_ref(), &id).expect("stored");
    assert_eq!(phone_heads(&a, &id), server, "phone a lacks a change");
    assert_eq!(phone_heads(&b, &id), server, "phone b lacks a change");
    let mut both = notes(&a, &id);
    both.sort();
    assert_eq!(both, vec!["乙的记录".to_owned(), "甲的记录".to_owned()]);
}

/// The WebSocket handler, driven directly: a change it could not store is
/// never advertised in a sync message, and the peer's next message stores
/// it once the disk is back.
#[test]
fn the_websocket_door_never_advertises_a_change_it_could_not_store() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let storage = TroubledStorage::open(&dir.path().join("store"));
    let directory = Arc::new(Directory::open(storage.clone()).expect("directory"));
    directory.import_org(test_org()).expect("organisation");
    let engine = Engine::new(storage.clone(), directory, EngineConfig::default());
    let server = PeerId::new("fengqiao-test").expect("peer id");
    let peer = PeerId::new("peer-phone").expect("peer id");
    let mut connection = Connection::new(server.clone(), None, Caller::unrestricted());
    connection.on_message(
        &engine,
        RepoMessage::Join(Join {
            sender_id: peer.clone(),
            peer_metadata: None,
            supported_protocol_versions: vec!["1".into()],
        }),
    );

    let id = DocumentId::random();
    let mut doc = AutoCommit::new();
    record::create_dispute(
        &mut doc,
        &Author::new("cadre-ws", T0),
        &fengqiao_tests::sample_dispute(VILLAGE, "磁盘满时的同步"),
    )
    .expect("dispute created");
    let ours = doc.get_heads();

    let advertised = |outputs: &[Output]| -> Vec<Vec<AmHash>> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Send(RepoMessage::Sync(m)) => {
                    Some(sync::Message::decode(&m.data).expect("valid").heads)
                }
                _ => None,
            })
            .collect()
    };
    let send = |connection: &mut Connection, doc: &mut AutoCommit, state: &mut sync::State| {
        let mut outputs = Vec::new();
        for _ in 0..6 {
            let Some(message) = doc.sync().generate_sync_message(state) else {
                break;
            };
            let out = connection.on_message(&engine, sync_message(&peer, &server, &id, message));
            for o in &out {
                if let Output::Send(RepoMessage::Sync(m)) = o {
                    let reply = sync::Message::decode(&m.data).expect("valid");
                    doc.sync()
                        .receive_sync_message(state, reply)
                        .expect("applies");
                }
            }
            outputs.extend(out);
        }
        outputs
    };

    storage.fail_commits(Some(CommitFault::Full));
    let mut state = sync::State::new();
    let outputs = send(&mut connection, &mut doc, &mut state);
    assert!(storage.refused_commits() > 0, "the change reached storage");
    for heads in advertised(&outputs) {
        assert!(
            !ours.iter().all(|h| heads.contains(h)),
            "the server advertised heads it could not store"
        );
    }
    assert!(storage.doc_meta(&id).expect("reads").is_none());
    assert!(
        !outputs.iter().any(|o| matches!(o, Output::Close(_))),
        "the peer is not blamed for the server's disk"
    );

    storage.fail_commits(None);
    let mut state = sync::State::new();
    let outputs = send(&mut connection, &mut doc, &mut state);
    assert!(
        advertised(&outputs)
            .iter()
            .any(|heads| ours.iter().all(|h| heads.contains(h))),
        "once stored, the change is advertised"
    );
    let stored = storage.doc_meta(&id).expect("reads").expect("stored");
    assert_eq!(
        sorted(stored.heads),
        sorted(ours.iter().map(|h| h.0).collect())
    );
}

/// `GET /healthz`: status and body.
fn health(server: &TestServer) -> (u16, String) {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let response = agent
        .get(&format!("{}/healthz", server.url()))
        .call()
        .expect("the server answers");
    let status = response.status().as_u16();
    (status, response.into_body().read_to_string().expect("body"))
}

/// A small tmpfs mounted on a fresh directory, unmounted when dropped.
struct SmallDisk {
    mount: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (e.g. "24m"); `None`, said loudly, when
    /// this machine does not let the test mount one (it needs root), and a
    /// failure then under `FENGQIAO_REQUIRE_ALL=1`.
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mount = dir.path().join("disk");
        std::fs::create_dir(&mount).expect("mount point");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&mount)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            fengqiao_tests::skip(
                "a full-disk test on a real file system",
                &format!("it cannot mount a {size} tmpfs (it needs root, or CAP_SYS_ADMIN)"),
            );
            return None;
        }
        Some(Self { mount, _dir: dir })
    }

    /// Writes a file until the disk is full; returns its path.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let path = self.mount.join("filler");
        let mut file = std::fs::File::create(&path).expect("filler file");
        let chunk = vec![0x5au8; 64 * 1024];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling the disk failed otherwise: {e}"),
            }
        }
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.mount)
            .status();
    }
}

/// A real full disk under the real sled store: every sync either fails with
/// 503 `unavailable` or acknowledges changes that are really stored; once
/// space returns, the running server reopens its store by itself (sled
/// refuses every write after a failed one until it is opened again), has
/// every acknowledged change and takes the phone's retried uploads — and
/// keeps them across a restart.
#[test]
fn a_really_full_disk_never_acknowledges_and_the_server_recovers() {
    let Some(disk) = SmallDisk::mount("24m") else {
        return;
    };
    let data = disk.mount.join("data");
    let server = TestServer::start_in(&data);
    let mut phone = Phone::new("cadre-a");
    for n in 0..3 {
        phone.report(VILLAGE, &format!("满盘之前 {n}"), T0 + n);
    }
    phone.sync(&server.url());

    let filler = disk.fill();
    let mut refused = 0;
    for n in 0..6 {
        let id = phone.report(VILLAGE, &format!("满盘之时 {n}"), T0 + 10 + n);
        note(
            &phone,
            &id,
            &"磁盘已满时的长记录。".repeat(200),
            T0 + 20 + n,
        );
        match phone.try_sync(&server.url()) {
            Ok(_) => {}
            Err(SyncError::Transport(TransportError::Server { status, body })) => {
                assert_eq!((status, body.code), (503, ErrorCode::Unavailable), "{body}");
                refused += 1;
            }
            Err(e) => panic!("a full disk must answer 503 unavailable, got {e}"),
        }
    }
    // What the phone holds as acknowledged, it must find again.
    let acknowledged: Vec<(DocumentId, Vec<[u8; 32]>)> = phone
        .replica
        .ids()
        .expect("ids")
        .into_iter()
        .map(|id| {
            let heads = phone.replica.state(&id).expect("state").server_heads;
            (id, sorted(heads.iter().map(|h| h.0).collect()))
        })
        .filter(|(_, heads)| !heads.is_empty())
        .collect();

    assert!(refused > 0, "the full disk refused nothing");
    let (status, said) = health(&server);
    assert_eq!(status, 503, "{said}");
    assert!(said.starts_with("storage failing: "), "{said}");
    assert!(said.contains("KiB free on the data disk"), "{said}");

    std::fs::remove_file(filler).expect("space returns");
    // The running server reopens its store (at most once a second) and
    // takes the retried uploads: no restart.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match phone.try_sync(&server.url()) {
            Ok(_) if phone.replica.dirty().expect("dirty").is_empty() => break,
            Ok(_) => {}
            Err(SyncError::Transport(TransportError::Server { status: 503, .. })) => {}
            Err(e) => panic!("after space returned: {e}"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the running server did not take writes again once space returned"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let check = |server: &TestServer| {
        let storage = server.running().state.engine.storage().clone();
        for (id, heads) in &acknowledged {
            let stored =
                server_heads(storage.as_ref(), id).expect("an acknowledged record is stored");
            let mut doc = phone.replica.document(id).expect("reads").expect("held");
            for head in heads {
                assert!(doc.get_change_by_hash(&AmHash(*head)).is_some());
            }
            assert_eq!(stored, phone_heads(&phone, id));
        }
        for id in phone.replica.ids().expect("ids") {
            assert_eq!(
                server_heads(storage.as_ref(), &id),
                Some(phone_heads(&phone, &id)),
                "every record the phone holds is on the server"
            );
        }
    };
    check(&server);
    assert_eq!(health(&server), (200, "ok\n".to_owned()));
    drop(server);
    // What the reopened store took is on disk.
    let server = TestServer::start_in(&data);
    check(&server);
    phone.sync(&server.url());
    let storage = server.running().state.engine.storage().clone();
    for (id, heads) in &acknowledged {
        let stored = server_heads(storage.as_ref(), id).expect("an acknowledged record is stored");
        let mut doc = phone.replica.document(id).expect("reads").expect("held");
        for head in heads {
            assert!(doc.get_change_by_hash(&AmHash(*head)).is_some());
        }
        assert_eq!(stored, phone_heads(&phone, id));
    }
    assert!(phone.replica.dirty().expect("dirty").is_empty());
    assert_eq!(phone.replica.ids().expect("ids").len(), 9);
}

/// A start on a full disk after a crash fails without touching the store:
/// once space returns, the store opens with everything it held. (sled
/// writes a snapshot as it opens; on a full disk it used to leave an empty
/// `snap.*.generating` behind, which every later start read as a corrupt
/// store, space or not.) A snapshot left unfinished by an earlier start is
/// removed before opening.
/// A store a full disk broke heals by itself once space returns, even if
/// nothing writes to it: a phone that only downloads is answered again.
/// (Writes and the health check reopen a broken store; a read of a commit
/// whose flush failed cannot, as it holds the store open.)
#[test]
fn a_store_broken_by_a_full_disk_heals_without_a_write() {
    let Some(disk) = SmallDisk::mount("24m") else {
        return;
    };
    let server = TestServer::start_in(&disk.mount.join("data"));
    let mut writer = Phone::new("cadre-a");
    writer.report(VILLAGE, "满盘之前", T0);
    writer.sync(&server.url());
    let filler = disk.fill();
    for n in 0..6 {
        let id = writer.report(VILLAGE, &format!("满盘之时 {n}"), T0 + 10 + n);
        note(
            &writer,
            &id,
            &"磁盘已满时的长记录。".repeat(200),
            T0 + 20 + n,
        );
        let _ = writer.try_sync(&server.url());
    }
    std::fs::remove_file(filler).expect("space returns");
    // From now on only reads: a phone with nothing to upload.
    let mut reader = Phone::new("cadre-b");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        match reader.try_sync(&server.url()) {
            Ok(_) => break,
            Err(SyncError::Transport(TransportError::Server { status: 503, .. })) => {}
            Err(e) => panic!("after space returned: {e}"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the broken store did not heal without a write"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert!(
        reader.replica.ids().expect("ids").len() > 1,
        "the reader got the records"
    );
}

#[test]
fn a_start_on_a_full_disk_leaves_the_store_as_it_was() {
    use fengqiao_tests::process::{DEV_TOKEN, ServerProcess};
    let Some(disk) = SmallDisk::mount("24m") else {
        return;
    };
    let data = disk.mount.join("data");
    let server = ServerProcess::start(&data);
    server.import_test_org();
    let mut phone = Phone::enrolled("cadre-a", fengqiao_protocol::DeviceId::random(), DEV_TOKEN);
    for n in 0..3 {
        phone.report(VILLAGE, &format!("崩溃之前 {n}"), T0 + n);
    }
    phone.sync(&server.url());
    // A crash: no shutdown code runs.
    server.kill();

    let filler = disk.fill();
    for attempt in 0..3 {
        match ServerProcess::try_start(&data, &[]) {
            Ok(_) => panic!("a server started on a full disk (attempt {attempt})"),
            Err(log) => assert!(log.contains("full"), "attempt {attempt}: {log}"),
        }
    }
    let store = data.join("store");
    let unfinished: Vec<String> = std::fs::read_dir(&store)
        .expect("the store is there")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".generating"))
        .collect();
    assert!(unfinished.is_empty(), "left behind: {unfinished:?}");

    std::fs::remove_file(filler).expect("space returns");
    let server = ServerProcess::try_start(&data, &[])
        .unwrap_or_else(|log| panic!("the store does not open once space returned:\n{log}"));
    let mut fresh = Phone::enrolled("cadre-b", fengqiao_protocol::DeviceId::random(), DEV_TOKEN);
    fresh.sync(&server.url());
    assert_eq!(
        fresh.replica.ids().expect("ids").len(),
        3,
        "every record is there"
    );

    // A snapshot an earlier start left unfinished (as the old code did) is
    // removed before opening, not read as a corrupt store.
    server.kill();
    std::fs::write(store.join("snap.00000000FFFFFFFF.generating"), b"")
        .expect("an unfinished snapshot");
    let server = ServerProcess::try_start(&data, &[])
        .unwrap_or_else(|log| panic!("an unfinished snapshot bricked the store:\n{log}"));
    let mut again = Phone::enrolled("cadre-c", fengqiao_protocol::DeviceId::random(), DEV_TOKEN);
    again.sync(&server.url());
    assert_eq!(again.replica.ids().expect("ids").len(), 3);
}
