//! One test (at least) per policy of [`decide`], with a directory and the
//! stored summaries faked in memory: no storage, no files, no clock.

use std::collections::{HashMap, HashSet};

use automerge::{ActorId, AutoCommit};
use fengqiao_protocol::{DeviceId, DocumentId, Scope, VillageCode};
use fengqiao_shared::access::{self, DeviceAccess, DeviceDirectory, Role};
use fengqiao_shared::record::{
    Author, FUTURE_ALLOWANCE_MILLIS, Limits, NewDispute, Record, create_dispute, set_duplicate_of,
    set_title,
};
use fengqiao_shared::vocab::{Category, Risk};
use fengqiao_shared::{Millis, Summary};

use super::*;
use crate::engine::cache::Loaded;

const NOW: Millis = 1_750_000_000_000;
const DAY: Millis = 24 * 60 * 60 * 1000;

fn village(code: &str) -> VillageCode {
    VillageCode::new(code).unwrap()
}

/// A village of the organisation, and another of the same town.
fn home() -> VillageCode {
    village("500110101001")
}
fn neighbour() -> VillageCode {
    village("500110101002")
}
/// A village of another town.
fn far() -> VillageCode {
    village("500110102001")
}

#[derive(Default)]
struct FakeDirectory {
    devices: HashMap<DeviceId, (DeviceAccess, String)>,
    bound: HashMap<Vec<u8>, DeviceId>,
    villages: HashSet<VillageCode>,
}

impl DeviceDirectory for FakeDirectory {
    fn access_of(&self, device: &DeviceId) -> Option<DeviceAccess> {
        self.devices.get(device).map(|(access, _)| access.clone())
    }

    fn bound_device(&self, actor: &[u8]) -> Option<DeviceId> {
        self.bound.get(actor).copied()
    }

    fn person_of(&self, device: &DeviceId) -> Option<String> {
        self.devices.get(device).map(|(_, person)| person.clone())
    }
}

impl DirectoryView for FakeDirectory {
    fn village_known(&self, village: &VillageCode) -> bool {
        self.villages.contains(village)
    }

    fn village_name(&self, village: &VillageCode) -> Option<String> {
        self.villages
            .contains(village)
            .then(|| format!("村{}", &village.as_str()[9..]))
    }
}

#[derive(Default)]
struct FakeSummaries(HashMap<DocumentId, Summary>);

impl StoredSummaries for FakeSummaries {
    fn stored_summary(&self, id: &DocumentId) -> Result<Option<Summary>, StorageError> {
        Ok(self.0.get(id).cloned())
    }
}

struct World {
    directory: FakeDirectory,
    summaries: FakeSummaries,
    limits: Limits,
    now: Millis,
    next_device: u8,
}

impl World {
    fn new() -> Self {
        let mut directory = FakeDirectory::default();
        directory.villages.extend([home(), neighbour(), far()]);
        Self {
            directory,
            summaries: FakeSummaries::default(),
            limits: Limits::default(),
            now: NOW,
            next_device: 1,
        }
    }

    /// Enrolls a device held by `person`.
    fn enroll(&mut self, role: Role, scope: &str, person: &str) -> Caller {
        let device = DeviceId::from_bytes([self.next_device; 16]);
        self.next_device += 1;
        let access = DeviceAccess::new(role, Scope::parse(scope).unwrap());
        self.directory
            .devices
            .insert(device, (access.clone(), person.to_owned()));
        Caller {
            device: Some(device),
            access: Some(access),
            connection: None,
        }
    }

    fn cadre(&mut self, person: &str) -> Caller {
        self.enroll(Role::Cadre, home().as_str(), person)
    }

    fn town(&mut self, person: &str) -> Caller {
        self.enroll(Role::Town, "500110101", person)
    }

    /// Stores `doc` as a record whose summary the decision can look up.
    fn store(&mut self, doc: &AutoCommit) -> DocumentId {
        let id = DocumentId::random();
        let summary = Record::read(doc).unwrap().summary(id.clone());
        self.summaries.0.insert(id.clone(), summary);
        id
    }

    fn decide(&self, change: Change<'_>) -> Result<Decision, Refusal> {
        let cx = Context {
            directory: &self.directory,
            summaries: &self.summaries,
            limits: &self.limits,
            now: self.now,
        };
        decide(
            Proposal {
                id: change.id,
                caller: change.caller,
                stored: change.stored,
                scratch: change.scratch,
                received: change.received,
                taken: change.taken,
                removed: change.removed,
            },
            &cx,
        )
    }
}

/// A proposal with the usual defaults.
struct Change<'a> {
    id: &'a DocumentId,
    caller: &'a Caller,
    stored: Option<&'a mut Loaded>,
    scratch: AutoCommit,
    received: &'a [u8],
    taken: Taken,
    removed: bool,
}

impl<'a> Change<'a> {
    fn new(
        id: &'a DocumentId,
        caller: &'a Caller,
        scratch: AutoCommit,
        received: &'a [u8],
    ) -> Self {
        Self {
            id,
            caller,
            stored: None,
            scratch,
            received,
            taken: Taken::No,
            removed: false,
        }
    }

    fn on(mut self, stored: &'a mut Loaded) -> Self {
        self.stored = Some(stored);
        self
    }
}

fn new_dispute(village: VillageCode, risk: Risk) -> NewDispute {
    NewDispute {
        village,
        title: "地界纠纷".to_owned(),
        description: "两户为宅基地边界争执".to_owned(),
        category: Category::Land,
        risk,
        parties: Vec::new(),
        assignees: Vec::new(),
    }
}

/// A new dispute written by `person` at `at`, by a random (non-native)
/// actor.
fn dispute_at(village: VillageCode, person: &str, at: Millis, risk: Risk) -> AutoCommit {
    let mut doc = AutoCommit::new();
    create_dispute(
        &mut doc,
        &Author::new(person, at),
        &new_dispute(village, risk),
    )
    .unwrap();
    doc
}

fn dispute(village: VillageCode, person: &str) -> AutoCommit {
    dispute_at(village, person, NOW - 1000, Risk::Low)
}

/// `doc` as stored at sequence number 5.
fn loaded(mut doc: AutoCommit) -> Loaded {
    let village = Record::read(&doc).unwrap().header().village.clone();
    let bytes = doc.save();
    Loaded {
        doc,
        seq: 5,
        village,
        stored_bytes: bytes.len() as u64,
    }
}

fn commit(decision: Result<Decision, Refusal>) -> Commit {
    match decision {
        Ok(Decision::Commit(commit)) => *commit,
        Ok(Decision::Unchanged { .. }) => panic!("expected a commit, nothing changed"),
        Err(refusal) => panic!("expected a commit, refused: {:?}", refusal.error),
    }
}

fn refusal(decision: Result<Decision, Refusal>) -> Refusal {
    match decision {
        Err(refusal) => refusal,
        Ok(other) => panic!("expected a refusal, decided {other:?}"),
    }
}

#[test]
fn a_new_record_sent_as_a_document_is_stored_as_those_very_bytes() {
    let world = World::new();
    let caller = Caller::unrestricted();
    let id = DocumentId::random();
    let mut doc = dispute(home(), "p1");
    let bytes = doc.save();
    let scratch = AutoCommit::load(&bytes).unwrap();
    let commit = commit(world.decide(Change::new(&id, &caller, scratch, &bytes)));
    assert_eq!(
        commit.batch.content,
        DocumentContent::Snapshot(bytes.clone())
    );
    assert_eq!(commit.batch.expected_seq, Some(0));
    assert_eq!(commit.batch.at, NOW);
    assert_eq!(commit.stored_bytes, bytes.len() as u64);
    assert_eq!(commit.heads, doc.get_heads());
}

#[test]
fn a_new_record_sent_as_changes_is_stored_as_a_fresh_snapshot() {
    let world = World::new();
    let caller = Caller::unrestricted();
    let id = DocumentId::random();
    let mut doc = dispute(home(), "p1");
    let changes = doc.save_after(&[]);
    assert!(!is_document(&changes));
    let mut scratch = AutoCommit::new();
    scratch.load_incremental(&changes).unwrap();
    let commit = commit(world.decide(Change::new(&id, &caller, scratch, &changes)));
    let DocumentContent::Snapshot(snapshot) = &commit.batch.content else {
        panic!("a new record is one snapshot: {:?}", commit.batch.content);
    };
    assert!(is_document(snapshot));
    let mut reloaded = AutoCommit::load(snapshot).unwrap();
    assert_eq!(reloaded.get_heads(), doc.get_heads());
}

#[test]
fn a_known_record_gains_a_chunk_of_what_it_did_not_have() {
    let world = World::new();
    let caller = Caller::unrestricted();
    let id = DocumentId::random();
    let mut stored = loaded(dispute(home(), "p1"));
    let before = stored.doc.get_heads();
    let mut scratch = stored.doc.fork();
    set_title(&mut scratch, &Author::new("p1", NOW), "宅基地边界纠纷").unwrap();
    let sent = scratch.save_after(&before);
    let old_bytes = stored.stored_bytes;
    let commit = commit(world.decide(Change::new(&id, &caller, scratch, &sent).on(&mut stored)));
    let DocumentContent::Chunk(chunk) = &commit.batch.content else {
        panic!("a known record gains a chunk: {:?}", commit.batch.content);
    };
    assert_eq!(
        commit.batch.expected_seq,
        Some(5),
        "conditional on the stored seq"
    );
    assert_eq!(commit.stored_bytes, old_bytes + chunk.len() as u64);
    assert_eq!(commit.batch.summary.title, "宅基地边界纠纷");
}

#[test]
fn changes_already_held_store_nothing() {
    let world = World::new();
    let caller = Caller::unrestricted();
    let id = DocumentId::random();
    let mut stored = loaded(dispute(home(), "p1"));
    let heads = stored.doc.get_heads();
    let scratch = stored.doc.fork();
    let decision = world.decide(Change::new(&id, &caller, scratch, &[]).on(&mut stored));
    match decision {
        Ok(Decision::Unchanged { heads: after }) => assert_eq!(after, heads),
        other => panic!("expected nothing to store: {other:?}"),
    }
}

#[test]
fn a_record_may_not_grow_past_the_limit() {
    let mut world = World::new();
    let caller = Caller::unrestricted();
    let id = DocumentId::random();
    let mut doc = dispute(home(), "p1");
    let bytes = doc.save();
    world.limits.max_document_bytes = bytes.len() - 1;
    let refused = refusal(world.decide(Change::new(
        &id,
        &caller,
        AutoCommit::load(&bytes).unwrap(),
        &bytes,
    )));
    assert!(
        matches!(refused.error, DocError::TooLarge { bytes: b, limit } if b == bytes.len() as u64 && limit == bytes.len() as u64 - 1),
        "{:?}",
        refused.error
    );
    assert!(refused.quarantine);
    world.limits.max_document_bytes = bytes.len();
    commit(world.decide(Change::new(
        &id,
        &caller,
        AutoCommit::load(&bytes).unwrap(),
        &bytes,
    )));
}

#[test]
fn recorded_times_are_judged_against_the_given_time() {
    let mut world = World::new();
    let caller = Caller::unrestricted();
    let id = DocumentId::random();
    let ahead = NOW + FUTURE_ALLOWANCE_MILLIS + DAY;
    let mut doc = dispute_at(home(), "p1", ahead, Risk::Low);
    let bytes = doc.save();
    let refused = refusal(world.decide(Change::new(&id, &caller, doc.fork(), &bytes)));
    assert!(
        matches!(&refused.error, DocError::Invalid(why) if why.contains("createdAt")),
        "{:?}",
        refused.error
    );
    assert!(refused.quarantine);
    // The same record, judged two days later, is in time.
    world.now = ahead;
    let commit = commit(world.decide(Change::new(&id, &caller, doc.fork(), &bytes)));
    assert_eq!(commit.batch.at, ahead);
}

#[test]
fn a_device_may_not_write_outside_its_scope() {
    let mut world = World::new();
    let caller = world.cadre("p1");
    let id = DocumentId::random();
    let mut doc = dispute(neighbour(), "p1");
    let bytes = doc.save();
    let refused = refusal(world.decide(Change::new(&id, &caller, doc.fork(), &bytes)));
    assert!(
        matches!(&refused.error, DocError::Forbidden(v) if *v == neighbour()),
        "{:?}",
        refused.error
    );
    assert!(refused.quarantine);
    let mut doc = dispute(home(), "p1");
    let bytes = doc.save();
    commit(world.decide(Change::new(&id, &caller, doc.fork(), &bytes)));
}

#[test]
fn a_device_writes_in_its_holders_name_only() {
    let mut world = World::new();
    let caller = world.cadre("p1");
    let id = DocumentId::random();
    let mut doc = dispute(home(), "p2");
    let bytes = doc.save();
    let refused = refusal(world.decide(Change::new(&id, &caller, doc.fork(), &bytes)));
    assert!(
        matches!(&refused.error, DocError::Attribution(why) if why.contains("createdBy")),
        "{:?}",
        refused.error
    );
    assert!(refused.quarantine);
}

#[test]
fn the_village_must_be_one_of_the_organisation() {
    let mut world = World::new();
    world.directory.villages.remove(&home());
    let caller = Caller::unrestricted();
    let id = DocumentId::random();
    let mut doc = dispute(home(), "p1");
    let bytes = doc.save();
    let refused = refusal(world.decide(Change::new(&id, &caller, doc.fork(), &bytes)));
    assert!(
        matches!(&refused.error, DocError::Invalid(why) if why.contains("not a village of the organisation")),
        "{:?}",
        refused.error
    );
    assert!(refused.quarantine);
}

#[test]
fn only_towns_link_duplicates() {
    let mut world = World::new();
    let original = world.store(&dispute(home(), "p9"));
    let cadre = world.cadre("p1");
    let id = DocumentId::random();
    let mut stored = loaded(dispute(home(), "p1"));
    let mut scratch = stored.doc.fork();
    set_duplicate_of(&mut scratch, &Author::new("p1", NOW), Some(&original)).unwrap();
    let refused = refusal(world.decide(Change::new(&id, &cadre, scratch, b"").on(&mut stored)));
    assert!(
        matches!(&refused.error, DocError::Attribution(why) if why.contains("role does not link duplicates")),
        "{:?}",
        refused.error
    );

    let town = world.town("t1");
    let mut scratch = stored.doc.fork();
    set_duplicate_of(&mut scratch, &Author::new("t1", NOW), Some(&original)).unwrap();
    let commit = commit(world.decide(Change::new(&id, &town, scratch, b"").on(&mut stored)));
    assert_eq!(commit.batch.summary.duplicate_of, Some(original));
}

#[test]
fn a_duplicate_links_only_to_a_dispute_the_device_can_read() {
    let mut world = World::new();
    let town = world.town("t1");
    let out_of_scope = world.store(&dispute(far(), "p9"));
    let missing = DocumentId::random();
    let id = DocumentId::random();
    let mut stored = loaded(dispute(home(), "p1"));
    for target in [&out_of_scope, &missing, &id] {
        let mut scratch = stored.doc.fork();
        set_duplicate_of(&mut scratch, &Author::new("t1", NOW), Some(target)).unwrap();
        let refused = refusal(world.decide(Change::new(&id, &town, scratch, b"").on(&mut stored)));
        assert!(
            matches!(&refused.error, DocError::Invalid(why) if why.contains("not a case this device can see")),
            "{target}: {:?}",
            refused.error
        );
        assert!(refused.quarantine);
    }
}

#[test]
fn a_stored_link_to_a_record_no_longer_stored_does_not_count() {
    let mut world = World::new();
    let original = world.store(&dispute(home(), "p9"));
    let id = DocumentId::random();
    let mut linked = dispute(home(), "p1");
    set_duplicate_of(&mut linked, &Author::new("t1", NOW), Some(&original)).unwrap();
    let mut stored = loaded(linked);
    world.summaries.0.remove(&original);
    let town = world.town("t1");
    let mut scratch = stored.doc.fork();
    set_title(&mut scratch, &Author::new("t1", NOW), "另一个标题").unwrap();
    let commit = commit(world.decide(Change::new(&id, &town, scratch, b"").on(&mut stored)));
    assert_eq!(commit.batch.summary.duplicate_of, None);
}

#[test]
fn an_actor_seen_first_is_bound_to_its_uploader_in_the_commit() {
    let mut world = World::new();
    let caller = world.cadre("p1");
    let device = caller.device.unwrap();
    let id = DocumentId::random();
    let mut doc = dispute(home(), "p1");
    let actor = doc.get_actor().to_bytes().to_vec();
    let bytes = doc.save();
    let commit = commit(world.decide(Change::new(&id, &caller, doc.fork(), &bytes)));
    assert_eq!(
        commit.batch.bindings,
        vec![ActorBinding {
            actor: actor.clone(),
            device
        }]
    );

    // Bound already: nothing to bind.
    world.directory.bound.insert(actor.clone(), device);
    let again = self::commit(world.decide(Change::new(&id, &caller, doc.fork(), &bytes)));
    assert!(again.batch.bindings.is_empty());

    // Bound to another person's device: the change is not this device's.
    let other = world.cadre("p2").device.unwrap();
    world.directory.bound.insert(actor, other);
    let refused = refusal(world.decide(Change::new(&id, &caller, doc.fork(), &bytes)));
    assert!(
        matches!(refused.error, DocError::Attribution(_)),
        "{:?}",
        refused.error
    );
    assert!(refused.quarantine);
}

#[test]
fn a_native_actor_needs_no_binding() {
    let mut world = World::new();
    let caller = world.cadre("p1");
    let device = caller.device.unwrap();
    let id = DocumentId::random();
    let mut doc = AutoCommit::new();
    doc.set_actor(ActorId::from(access::new_native_actor(
        device,
        [1, 2, 3, 4],
    )));
    create_dispute(
        &mut doc,
        &Author::new("p1", NOW),
        &new_dispute(home(), Risk::Low),
    )
    .unwrap();
    let bytes = doc.save();
    let commit = commit(world.decide(Change::new(&id, &caller, doc.fork(), &bytes)));
    assert!(commit.batch.bindings.is_empty());
}

#[test]
fn an_id_taken_by_a_hidden_record_is_refused_as_out_of_scope() {
    let mut world = World::new();
    let caller = world.cadre("p1");
    let id = DocumentId::random();
    let mut doc = dispute(home(), "p1");
    let bytes = doc.save();
    let mut change = Change::new(&id, &caller, doc.fork(), &bytes);
    change.taken = Taken::Hidden;
    let refused = refusal(world.decide(change));
    assert!(
        matches!(&refused.error, DocError::Forbidden(v) if *v == home()),
        "{:?}",
        refused.error
    );
    assert!(refused.quarantine);
}

#[test]
fn a_removed_record_takes_no_changes_and_quarantines_nothing() {
    let world = World::new();
    let caller = Caller::unrestricted();
    let id = DocumentId::random();
    let mut doc = dispute(home(), "p1");
    let bytes = doc.save();
    let mut change = Change::new(&id, &caller, doc.fork(), &bytes);
    change.removed = true;
    let refused = refusal(world.decide(change));
    assert!(
        matches!(refused.error, DocError::Removed),
        "{:?}",
        refused.error
    );
    assert!(!refused.quarantine);
}

#[test]
fn entering_high_risk_raises_an_alert_stamped_now() {
    let world = World::new();
    let caller = Caller::unrestricted();
    let id = DocumentId::random();
    let mut doc = dispute_at(home(), "p1", NOW - 1000, Risk::High);
    let bytes = doc.save();
    let commit = commit(world.decide(Change::new(&id, &caller, doc.fork(), &bytes)));
    let alert = commit
        .alert
        .expect("a new high-risk dispute raises an alert");
    assert_eq!(alert.at, NOW);
    assert_eq!(alert.id, id);
    assert_eq!(alert.village_name.as_deref(), Some("村001"));
    assert!(alert.alert_id.is_empty(), "the engine names it");

    let mut low = dispute(home(), "p1");
    let bytes = low.save();
    let quiet = self::commit(world.decide(Change::new(&id, &caller, low.fork(), &bytes)));
    assert!(quiet.alert.is_none());
}

#[test]
fn staying_high_risk_raises_no_new_alert() {
    let mut world = World::new();
    let caller = Caller::unrestricted();
    let doc = dispute_at(home(), "p1", NOW - 1000, Risk::High);
    let id = world.store(&doc);
    let mut stored = loaded(doc);
    let mut scratch = stored.doc.fork();
    set_title(&mut scratch, &Author::new("p1", NOW), "仍是高风险").unwrap();
    let commit = commit(world.decide(Change::new(&id, &caller, scratch, b"").on(&mut stored)));
    assert!(commit.alert.is_none());
}
