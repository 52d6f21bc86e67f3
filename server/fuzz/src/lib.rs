//! What the server's fuzz targets share: a real engine over a real sled
//! store in a temporary directory (in memory-backed `/dev/shm` when there is
//! one, so flushes are cheap), with a small organisation, and valid
//! records for the targets to mutate.
//!
//! The store is replaced every [`EXECUTIONS_PER_STORE`] inputs, so that what
//! earlier inputs stored cannot slow later ones down without bound.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue};
use fengqiao_protocol::{DocumentId, VillageCode};
use fengqiao_server::directory::{Directory, Org};
use fengqiao_server::engine::{Engine, EngineConfig};
use fengqiao_server::storage::{SledStorage, Storage, StorageConfig};
use fengqiao_shared::record::{self, Author, NewDispute, NewEvent, Party};
use fengqiao_shared::vocab::{Category, EventKind, PartyRole, Risk};

/// Inputs run against one store before it is replaced.
pub const EXECUTIONS_PER_STORE: u64 = 2_000;

/// The village every generated record belongs to.
pub const VILLAGE: &str = "500110101001";

/// A running engine on a temporary store.
pub struct World {
    pub engine: Engine,
    pub storage: Arc<dyn Storage>,
    pub epoch: u64,
    executions: u64,
    _dir: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .expect("a temporary directory");
        let config = StorageConfig::new(dir.path().join("store")).with_cache_bytes(8 << 20);
        let storage: Arc<dyn Storage> =
            Arc::new(SledStorage::open(&config).expect("the store opens"));
        let directory = Arc::new(Directory::open(storage.clone()).expect("the directory opens"));
        let mut org = Org::default();
        for (code, name) in [
            ("500110", "綦江区"),
            ("500110101", "古南街道"),
            (VILLAGE, "石门村"),
            ("500110101002", "桥河村"),
        ] {
            org.insert(code, name).expect("a valid place");
        }
        directory.import_org(org).expect("the organisation imports");
        let engine = Engine::new(
            storage.clone(),
            directory,
            EngineConfig {
                cache_bytes: 16 << 20,
                ..EngineConfig::default()
            },
        );
        Self {
            engine,
            storage,
            epoch: 0x0123_4567_89ab_cdef,
            executions: 0,
            _dir: dir,
        }
    }

    /// The world for the next input.
    pub fn get() -> MutexGuard<'static, Option<World>> {
        static WORLD: Mutex<Option<World>> = Mutex::new(None);
        let mut world = WORLD.lock().unwrap_or_else(|e| e.into_inner());
        let stale = world
            .as_ref()
            .is_none_or(|w| w.executions >= EXECUTIONS_PER_STORE);
        if stale {
            // The old store closes before the new one opens.
            *world = None;
            *world = Some(World::new());
        }
        if let Some(w) = world.as_mut() {
            w.executions += 1;
        }
        world
    }

    /// The durable heads of a record, sorted.
    pub fn stored_heads(&self, id: &DocumentId) -> Option<Vec<[u8; 32]>> {
        self.storage
            .doc_meta(id)
            .expect("the store reads")
            .map(|meta| sorted(meta.heads))
    }
}

pub fn sorted(mut heads: Vec<[u8; 32]>) -> Vec<[u8; 32]> {
    heads.sort();
    heads
}

/// One of a few record ids, chosen by `n`, so inputs meet each other's
/// records within a store.
pub fn doc_id(n: u8) -> DocumentId {
    let mut bytes = [0u8; 16];
    bytes[0] = 0xf0;
    bytes[15] = n % 8;
    DocumentId::from_bytes(&bytes).expect("16 bytes are a document id")
}

/// A valid dispute with a fixed actor, and `events` timeline entries.
pub fn valid_dispute(events: usize) -> AutoCommit {
    let mut doc = AutoCommit::new().with_actor(ActorId::from(&[0x42u8; 20][..]));
    let dispute = NewDispute {
        village: VillageCode::new(VILLAGE).expect("a village code"),
        title: "宅基地边界纠纷".into(),
        description: "两户因宅基地边界发生争执".into(),
        category: Category::Land,
        risk: Risk::Medium,
        parties: vec![
            Party::new("张三", PartyRole::Applicant),
            Party::new("李四", PartyRole::Respondent),
        ],
        assignees: vec!["cadre-1".into()],
    };
    let author = Author::new("cadre-1", 1_790_000_000_000);
    record::create_dispute(&mut doc, &author, &dispute).expect("a valid dispute");
    for n in 0..events {
        let author = Author::new("cadre-1", 1_790_000_000_000 + 1 + n as i64);
        record::add_event(&mut doc, &author, &NewEvent::new(EventKind::Mediation))
            .expect("a valid event");
    }
    doc
}

/// Edits `doc` as a buggy or hostile client might: each three bytes of
/// `edits` pick a field, an operation and a value. The result is valid
/// Automerge, often not a valid record, so inputs reach the record
/// validation rather than stopping at Automerge's checksums.
pub fn scribble(doc: &mut AutoCommit, edits: &[u8]) {
    const FIELDS: [&str; 15] = [
        "type",
        "schema",
        "village",
        "createdAt",
        "createdBy",
        "title",
        "description",
        "category",
        "risk",
        "parties",
        "assignees",
        "events",
        "links",
        "sentiment",
        "extra",
    ];
    const TEXTS: [&str; 10] = [
        "dispute",
        "visit",
        "high",
        "severe",
        "500110101001",
        "500110999999",
        "",
        "reported",
        "land",
        "村",
    ];
    for edit in edits.chunks_exact(3) {
        let field = FIELDS[usize::from(edit[0]) % FIELDS.len()];
        let value = edit[2];
        // Errors are fine: an edit Automerge refuses is simply not made.
        let _ = match edit[1] % 8 {
            0 => doc.put(ROOT, field, TEXTS[usize::from(value) % TEXTS.len()]),
            1 => doc.put(ROOT, field, i64::from(value as i8) * 1_000_000_007),
            2 => doc.delete(ROOT, field),
            3 => doc.put_object(ROOT, field, ObjType::Map).map(|_| ()),
            4 => doc.put_object(ROOT, field, ObjType::List).map(|_| ()),
            5 => doc.put(ROOT, field, ScalarValue::Timestamp(i64::from(value) << 32)),
            6 => doc.put(ROOT, field, "字".repeat(usize::from(value) * 97)),
            _ => match doc.get(ROOT, "events") {
                Ok(Some((_, events))) => {
                    let end = doc.length(&events);
                    doc.insert_object(&events, end, ObjType::Map)
                        .and_then(|entry| {
                            doc.put(&entry, "kind", TEXTS[usize::from(value) % TEXTS.len()])?;
                            doc.put(&entry, "at", ScalarValue::Timestamp(i64::from(value)))
                        })
                }
                _ => Ok(()),
            },
        };
        if value % 5 == 0 {
            doc.commit();
        }
    }
    doc.commit();
}

/// Splits `data` into pieces, each prefixed by its length (one byte).
pub fn pieces(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let len = usize::from(len).min(rest.len());
        out.push(&rest[..len]);
        data = &rest[len..];
    }
    out
}
