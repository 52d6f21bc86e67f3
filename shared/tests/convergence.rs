//! Convergence: any interleaving of offline edits and syncs among phones
//! ends, after a full exchange, with identical documents, identical records
//! and identical summaries everywhere (DESIGN.md §8).
//!
//! Each case starts from one created record (a dispute or a visit) copied
//! to 3–5 replicas. Replicas apply random domain operations while offline,
//! and now and then exchange changes in random pairs, either by merging
//! (one way) or by running the Automerge sync protocol (with the messages
//! encoded to bytes and decoded, as on the wire); a replica may also
//! restart from its saved bytes. At the end everyone exchanges with
//! everyone.

use std::collections::{BTreeSet, HashMap};

use automerge::sync::{Message, State, SyncDoc};
use automerge::{ActorId, AutoCommit};
use fengqiao_shared::record::{
    self, Author, EditError, Limits, NewDispute, NewEvent, NewVisit, Party, Record,
};
use fengqiao_shared::vocab::{Category, EventKind, Level, PartyRole, Risk, Sentiment, Topic};
use fengqiao_shared::{DocumentId, VillageCode};
use proptest::prelude::*;

const T0: i64 = 1_767_225_600_000;
const MINUTE: i64 = 60_000;

const CADRES: [&str; 3] = ["cadre-grid", "cadre-mediator", "cadre-town"];
const NAMES: [&str; 4] = ["张三", "李四", "王五", "赵六"];

/// A few fixed document ids to link to.
fn linked(index: usize) -> DocumentId {
    DocumentId::from_bytes(&[index as u8 + 1; 16]).unwrap()
}

/// Replace `delete` characters at `at` (both taken modulo the text) with
/// `insert`: a keystroke-sized edit of a text field.
#[derive(Debug, Clone)]
struct TextEdit {
    at: usize,
    delete: usize,
    insert: String,
}

impl TextEdit {
    fn apply(&self, old: &str) -> String {
        let mut chars: Vec<char> = old.chars().collect();
        let at = self.at % (chars.len() + 1);
        let delete = self.delete.min(chars.len() - at);
        chars.splice(at..at + delete, self.insert.chars());
        chars.into_iter().collect()
    }
}

#[derive(Debug, Clone)]
enum Op {
    // --- disputes ---
    Title(TextEdit),
    Description(TextEdit),
    Category(Category),
    Risk(Risk),
    AddParty(usize, PartyRole),
    RemoveParty(usize),
    Assign(usize),
    Unassign(usize),
    Event(EventKind, Level, bool),
    Related(usize, bool),
    Duplicate(Option<usize>),
    // --- visits ---
    Notes(TextEdit),
    Sentiment(Sentiment),
    Topics(BTreeSet<Topic>),
    ScheduleFollowUp(Option<i64>),
    FollowUpDone,
    LinkDispute(Option<usize>),
}

#[derive(Debug, Clone)]
enum Step {
    /// Replica `replica` applies `op`, at a time `minutes` after the start.
    Edit {
        replica: usize,
        minutes: i64,
        op: Op,
    },
    /// `to` merges everything `from` has.
    Merge { from: usize, to: usize },
    /// `a` and `b` run the sync protocol until neither has more to say.
    Sync { a: usize, b: usize },
    /// The replica restarts from its saved bytes.
    Reload { replica: usize },
}

fn text_edit() -> impl Strategy<Value = TextEdit> {
    (0..40usize, 0..4usize, "[a-c调解🙂 ]{0,3}").prop_map(|(at, delete, insert)| TextEdit {
        at,
        delete,
        insert,
    })
}

fn one_of<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(all)
}

fn dispute_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        text_edit().prop_map(Op::Title),
        text_edit().prop_map(Op::Description),
        one_of(Category::ALL).prop_map(Op::Category),
        one_of(Risk::ALL).prop_map(Op::Risk),
        (0..NAMES.len(), one_of(PartyRole::ALL)).prop_map(|(n, r)| Op::AddParty(n, r)),
        (0..3usize).prop_map(Op::RemoveParty),
        (0..CADRES.len()).prop_map(Op::Assign),
        (0..CADRES.len()).prop_map(Op::Unassign),
        (
            one_of(&EventKind::ALL[1..]),
            one_of(Level::ALL),
            any::<bool>()
        )
            .prop_map(|(k, l, s)| Op::Event(k, l, s)),
        (0..3usize, any::<bool>()).prop_map(|(i, add)| Op::Related(i, add)),
        prop::option::of(0..3usize).prop_map(Op::Duplicate),
    ]
}

fn visit_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        text_edit().prop_map(Op::Notes),
        one_of(Sentiment::ALL).prop_map(Op::Sentiment),
        prop::collection::btree_set(one_of(Topic::ALL), 0..4).prop_map(Op::Topics),
        prop::option::of(0..10i64).prop_map(Op::ScheduleFollowUp),
        Just(Op::FollowUpDone),
        prop::option::of(0..3usize).prop_map(Op::LinkDispute),
    ]
}

fn step(is_dispute: bool, replicas: usize) -> impl Strategy<Value = Step> {
    let op = if is_dispute {
        dispute_op().boxed()
    } else {
        visit_op().boxed()
    };
    prop_oneof![
        6 => (0..replicas, 0..30i64, op)
            .prop_map(|(replica, minutes, op)| Step::Edit { replica, minutes, op }),
        2 => (0..replicas, 0..replicas).prop_map(|(from, to)| Step::Merge { from, to }),
        2 => (0..replicas, 0..replicas).prop_map(|(a, b)| Step::Sync { a, b }),
        1 => (0..replicas).prop_map(|replica| Step::Reload { replica }),
    ]
}

fn scenario() -> impl Strategy<Value = (bool, usize, Vec<Step>)> {
    (any::<bool>(), 3..=5usize).prop_flat_map(|(is_dispute, replicas)| {
        (
            Just(is_dispute),
            Just(replicas),
            prop::collection::vec(step(is_dispute, replicas), 1..24),
        )
    })
}

fn actor(replica: usize) -> ActorId {
    let mut bytes = vec![0xfe; 16];
    bytes.extend_from_slice(&(replica as u32).to_be_bytes());
    ActorId::from(bytes)
}

fn origin(is_dispute: bool) -> AutoCommit {
    let village = VillageCode::new("500110101001").unwrap();
    let author = Author::new("cadre-origin", T0);
    let mut doc = AutoCommit::new().with_actor(ActorId::from(vec![0xaa; 16]));
    if is_dispute {
        let dispute = NewDispute {
            village,
            title: "邻里排水纠纷".to_owned(),
            description: "雨水排向邻居院内。".to_owned(),
            category: Category::Neighbor,
            risk: Risk::Low,
            parties: vec![Party::new("张三", PartyRole::Applicant)],
            assignees: vec![CADRES[0].to_owned()],
        };
        record::create_dispute(&mut doc, &author, &dispute).unwrap();
    } else {
        let visit = NewVisit {
            village,
            visited_at: T0,
            household: "二组 孙家".to_owned(),
            group: Some("二组".to_owned()),
            topics: BTreeSet::from([Topic::Livelihood]),
            sentiment: Sentiment::Neutral,
            notes: "屋后排水沟堵塞。".to_owned(),
            follow_up_needed: false,
            follow_up_due: None,
            linked_dispute: None,
        };
        record::create_visit(&mut doc, &author, &visit).unwrap();
    }
    doc
}

fn apply(doc: &mut AutoCommit, author: &Author, op: &Op) -> Result<(), EditError> {
    let current = Record::read(&*doc).map_err(EditError::from)?;
    let dispute = current.as_dispute();
    let visit = current.as_visit();
    match op {
        Op::Title(edit) => {
            let title = edit.apply(&dispute.map(|d| d.title.clone()).unwrap_or_default());
            record::set_title(doc, author, &title)
        }
        Op::Description(edit) => {
            let text = edit.apply(&dispute.map(|d| d.description.clone()).unwrap_or_default());
            record::set_description(doc, author, &text)
        }
        Op::Category(category) => record::set_category(doc, author, *category),
        Op::Risk(risk) => record::set_risk(doc, author, *risk),
        Op::AddParty(name, role) => {
            record::add_party(doc, author, &Party::new(NAMES[*name], *role))
        }
        Op::RemoveParty(index) => record::remove_party(doc, author, *index),
        Op::Assign(cadre) => record::assign(doc, author, CADRES[*cadre]),
        Op::Unassign(cadre) => record::unassign(doc, author, CADRES[*cadre]),
        Op::Event(kind, level, satisfied) => {
            let event = match kind {
                EventKind::Escalated => NewEvent::escalated(*level),
                EventKind::Followup => NewEvent::followup(*satisfied),
                other => NewEvent::new(*other).with_note("记录"),
            };
            record::add_event(doc, author, &event)
        }
        Op::Related(index, true) => record::link_related(doc, author, &linked(*index)),
        Op::Related(index, false) => record::unlink_related(doc, author, &linked(*index)),
        Op::Duplicate(index) => record::set_duplicate_of(doc, author, index.map(linked).as_ref()),
        Op::Notes(edit) => {
            let notes = edit.apply(&visit.map(|v| v.notes.clone()).unwrap_or_default());
            record::set_notes(doc, author, &notes)
        }
        Op::Sentiment(sentiment) => record::set_sentiment(doc, author, *sentiment),
        Op::Topics(topics) => record::set_topics(doc, author, topics),
        Op::ScheduleFollowUp(days) => {
            record::schedule_follow_up(doc, author, days.map(|d| T0 + d * 86_400_000))
        }
        Op::FollowUpDone => record::mark_follow_up_done(doc, author),
        Op::LinkDispute(index) => record::link_dispute(doc, author, index.map(linked).as_ref()),
    }
    .map(|_| ())
}

/// Two distinct elements of `docs`, mutably.
fn pair(docs: &mut [AutoCommit], a: usize, b: usize) -> (&mut AutoCommit, &mut AutoCommit) {
    assert_ne!(a, b);
    if a < b {
        let (left, right) = docs.split_at_mut(b);
        (&mut left[a], &mut right[0])
    } else {
        let (left, right) = docs.split_at_mut(a);
        (&mut right[0], &mut left[b])
    }
}

/// Runs the sync protocol between two replicas until it is quiet, sending
/// every message through its byte encoding.
fn sync(
    a: &mut AutoCommit,
    b: &mut AutoCommit,
    a_state: &mut State,
    b_state: &mut State,
) -> Result<(), TestCaseError> {
    for _round in 0..64 {
        let to_b = a.sync().generate_sync_message(a_state);
        let to_a = b.sync().generate_sync_message(b_state);
        if to_b.is_none() && to_a.is_none() {
            return Ok(());
        }
        if let Some(message) = to_b {
            let message = Message::decode(&message.encode()).unwrap();
            b.sync().receive_sync_message(b_state, message).unwrap();
        }
        if let Some(message) = to_a {
            let message = Message::decode(&message.encode()).unwrap();
            a.sync().receive_sync_message(a_state, message).unwrap();
        }
    }
    Err(TestCaseError::fail("the sync protocol did not settle"))
}

fn run(is_dispute: bool, replicas: usize, steps: &[Step]) -> Result<(), TestCaseError> {
    let mut origin = origin(is_dispute);
    let created = origin.fork();
    let mut docs: Vec<AutoCommit> = (0..replicas)
        .map(|i| origin.fork().with_actor(actor(i)))
        .collect();
    let mut states: HashMap<(usize, usize), State> = HashMap::new();

    for step in steps {
        match step {
            Step::Edit {
                replica,
                minutes,
                op,
            } => {
                let author = Author::new(CADRES[replica % CADRES.len()], T0 + minutes * MINUTE);
                match apply(&mut docs[*replica], &author, op) {
                    Ok(()) => {}
                    // Refusals for the current state are expected (no
                    // party to remove, no follow-up to complete); a
                    // document error is not.
                    Err(EditError::Document(error)) => {
                        return Err(TestCaseError::fail(format!("{op:?}: {error}")));
                    }
                    Err(_) => {}
                }
            }
            Step::Merge { from, to } if from != to => {
                let (from, to) = pair(&mut docs, *from, *to);
                to.merge(from).unwrap();
            }
            Step::Sync { a, b } if a != b => {
                let mut a_state = states.remove(&(*a, *b)).unwrap_or_default();
                let mut b_state = states.remove(&(*b, *a)).unwrap_or_default();
                let (doc_a, doc_b) = pair(&mut docs, *a, *b);
                sync(doc_a, doc_b, &mut a_state, &mut b_state)?;
                prop_assert_eq!(doc_a.get_heads(), doc_b.get_heads());
                states.insert((*a, *b), a_state);
                states.insert((*b, *a), b_state);
            }
            Step::Reload { replica } => {
                let bytes = docs[*replica].save();
                docs[*replica] = AutoCommit::load(&bytes)
                    .unwrap()
                    .with_actor(actor(*replica));
                // A restarted phone starts its sync sessions afresh.
                states.retain(|(a, b), _| a != replica && b != replica);
            }
            Step::Merge { .. } | Step::Sync { .. } => {}
        }
    }

    // Full exchange: everyone into the first replica, then back out.
    for i in 1..replicas {
        let (first, other) = pair(&mut docs, 0, i);
        first.merge(other).unwrap();
    }
    for i in 1..replicas {
        let (first, other) = pair(&mut docs, 0, i);
        other.merge(first).unwrap();
    }

    let id = DocumentId::from_bytes(&[9; 16]).unwrap();
    let heads = docs[0].get_heads();
    let expected = Record::read(&docs[0]).unwrap();
    let summary = expected.summary(id.clone());
    for doc in &mut docs {
        prop_assert_eq!(doc.get_heads(), heads.clone());
        let record = Record::read(&*doc).unwrap();
        prop_assert_eq!(&record, &expected);
        prop_assert_eq!(record.summary(id.clone()), summary.clone());
    }

    // The stored form reads the same, and the merged record is valid
    // against the record as it was created.
    let reloaded = AutoCommit::load(&docs[0].save()).unwrap();
    prop_assert_eq!(Record::read(&reloaded).unwrap(), expected);
    let size = docs[0].save().len();
    let verdict = record::validate(&docs[0], Some(&created), size, &Limits::default());
    prop_assert!(verdict.is_ok(), "{}", verdict.unwrap_err());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn replicas_converge_after_a_full_exchange((is_dispute, replicas, steps) in scenario()) {
        run(is_dispute, replicas, &steps)?;
    }
}
