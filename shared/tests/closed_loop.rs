//! The closed loop (受理 → 分派 → 调处 → 回访 → 归档) on real documents:
//! officials acting on the same case offline both leave their events,
//! every replica folds them to the same stage whatever order the changes
//! arrive in, and validation takes the new event kinds on phone and
//! server alike.

use automerge::{ActorId, AutoCommit};
use fengqiao_shared::record::{
    self, Author, EditError, Limits, NewDispute, NewEvent, Party, Record,
};
use fengqiao_shared::vocab::{Category, EventKind, Level, PartyRole, Risk, Stage, Status};
use fengqiao_shared::{DocumentId, Summary, VillageCode};
use proptest::prelude::*;

const DAY: i64 = 86_400_000;
const T0: i64 = 1_767_225_600_000;

fn escalated_case() -> AutoCommit {
    let mut doc = AutoCommit::new().with_actor(ActorId::from(vec![1u8; 20]));
    let dispute = NewDispute {
        village: VillageCode::new("500110101001").expect("village"),
        title: "宅基地边界纠纷".to_owned(),
        description: "两户因院墙位置发生争执。".to_owned(),
        category: Category::Land,
        risk: Risk::Medium,
        parties: vec![Party::new("张三", PartyRole::Applicant)],
        assignees: vec!["cadre".to_owned()],
    };
    record::create_dispute(&mut doc, &Author::new("cadre", T0), &dispute).expect("create");
    record::add_event(
        &mut doc,
        &Author::new("cadre", T0 + DAY),
        &NewEvent::escalated(Level::Town),
    )
    .expect("escalate");
    doc
}

fn summary(doc: &AutoCommit) -> Summary {
    Record::read(doc)
        .expect("a record")
        .summary(DocumentId::from_bytes(&[7; 16]).expect("id"))
}

/// One official's action on the case.
#[derive(Debug, Clone)]
enum Action {
    Accept,
    Return,
    Assign(u8),
    Supervise(u8),
    Mediate,
    Agree,
    FollowUp,
    Archive,
    Reopen,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Accept),
        Just(Action::Return),
        (0u8..3).prop_map(Action::Assign),
        (1u8..20).prop_map(Action::Supervise),
        Just(Action::Mediate),
        Just(Action::Agree),
        Just(Action::FollowUp),
        Just(Action::Archive),
        Just(Action::Reopen),
    ]
}

fn event_of(action: &Action, at: i64) -> NewEvent {
    match action {
        Action::Accept => NewEvent::accepted(Some("同意受理".to_owned())),
        Action::Return => NewEvent::returned("属村级调解范围"),
        Action::Assign(n) => NewEvent::assigned(format!("handler-{n}")),
        Action::Supervise(days) => NewEvent::supervised("请加快办理", at + i64::from(*days) * DAY),
        Action::Mediate => NewEvent::new(EventKind::Mediation).with_note("组织双方调解"),
        Action::Agree => NewEvent::new(EventKind::Agreement).with_outcome("达成协议"),
        Action::FollowUp => NewEvent::followup(true),
        Action::Archive => NewEvent::new(EventKind::Archived),
        Action::Reopen => NewEvent::new(EventKind::Reopened),
    }
}

fn act(doc: &mut AutoCommit, who: &str, actions: &[(Action, i64)]) {
    for (action, offset) in actions {
        let at = T0 + 2 * DAY + offset;
        record::add_event(doc, &Author::new(who, at), &event_of(action, at)).expect("edit");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Two officials act on one escalated case offline; after they
    /// exchange changes, both replicas hold every event of both and read
    /// the same stage, status, level and deadlines, whichever merged first.
    #[test]
    fn two_officials_acting_offline_converge(
        a in prop::collection::vec((action(), 0i64..5 * DAY), 0..6),
        b in prop::collection::vec((action(), 0i64..5 * DAY), 0..6),
    ) {
        let mut base = escalated_case();
        let mut left = base.fork().with_actor(ActorId::from(vec![2u8; 20]));
        let mut right = base.fork().with_actor(ActorId::from(vec![3u8; 20]));
        act(&mut left, "town-a", &a);
        act(&mut right, "town-b", &b);
        let mut one = left.fork();
        one.merge(&mut right.clone()).expect("merge");
        let mut two = right.fork();
        two.merge(&mut left.clone()).expect("merge");
        let (s1, s2) = (summary(&one), summary(&two));
        prop_assert_eq!(&s1, &s2);
        prop_assert_eq!(s1.event_count as usize, 2 + a.len() + b.len());
        for doc in [&one, &two] {
            let saved = doc.clone().save();
            prop_assert!(record::validate(doc, Some(&base), saved.len(), &Limits::default()).is_ok());
        }
        // Every assignment of either official reached the assignees.
        for (action, _) in a.iter().chain(&b) {
            if let Action::Assign(n) = action {
                let handler = format!("handler-{n}");
                prop_assert!(s1.assignees.contains(&handler));
            }
        }
    }
}

#[test]
fn accept_assign_supervise_walks_the_loop() {
    let mut doc = escalated_case();
    assert_eq!(summary(&doc).stage, Some(Stage::Pending));
    assert_eq!(summary(&doc).handling_level, Some(Level::Town));
    let town = |days: i64| Author::new("town", T0 + days * DAY);
    record::add_event(&mut doc, &town(2), &NewEvent::accepted(None)).expect("accept");
    assert_eq!(summary(&doc).stage, Some(Stage::Accepted));
    record::add_event(&mut doc, &town(2), &NewEvent::assigned("handler")).expect("assign");
    let s = summary(&doc);
    assert_eq!(s.stage, Some(Stage::Handling));
    assert!(s.assignees.contains(&"handler".to_owned()));
    record::add_event(
        &mut doc,
        &town(3),
        &NewEvent::supervised("三日内办结", T0 + 6 * DAY),
    )
    .expect("supervise");
    let s = summary(&doc);
    assert_eq!(s.supervision_due, Some(T0 + 6 * DAY));
    assert_eq!(s.status, Some(Status::Escalated));
}

#[test]
fn edits_refuse_events_missing_their_details() {
    let mut doc = escalated_case();
    let author = Author::new("town", T0 + 2 * DAY);
    let missing_assignee = NewEvent::new(EventKind::Assigned);
    assert!(matches!(
        record::add_event(&mut doc, &author, &missing_assignee),
        Err(EditError::MissingAssignee)
    ));
    assert!(matches!(
        record::add_event(&mut doc, &author, &NewEvent::new(EventKind::Supervised)),
        Err(EditError::MissingDue)
    ));
    assert!(matches!(
        record::add_event(&mut doc, &author, &NewEvent::returned("  ")),
        Err(EditError::Empty { .. })
    ));
    let stray_due = NewEvent {
        due: Some(T0),
        ..NewEvent::new(EventKind::Note)
    };
    assert!(matches!(
        record::add_event(&mut doc, &author, &stray_due),
        Err(EditError::UnexpectedDue { .. })
    ));
}

#[test]
fn validation_requires_the_assignee_and_the_deadline() {
    use automerge::transaction::Transactable;
    use automerge::{ObjType, ROOT, ReadDoc, ScalarValue};
    let mut base = escalated_case();
    let mut doc = base.fork();
    let (_, events) = doc.get(ROOT, "events").expect("read").expect("events");
    let entry = doc.insert_object(&events, 2, ObjType::Map).expect("insert");
    doc.put(&entry, "at", ScalarValue::Timestamp(T0 + 2 * DAY))
        .expect("put");
    doc.put(&entry, "by", "town").expect("put");
    doc.put(&entry, "kind", "supervised").expect("put");
    doc.put(&entry, "assignee", 5).expect("put");
    doc.commit();
    let saved = doc.save();
    let errors =
        record::validate(&doc, Some(&base), saved.len(), &Limits::default()).expect_err("refused");
    let found: Vec<(String, &str)> = errors
        .iter()
        .map(|e| (e.field.clone(), e.kind.code()))
        .collect();
    assert!(found.contains(&("events[2].dueAt".to_owned(), "missing_field")));
    assert!(found.contains(&("events[2].assignee".to_owned(), "wrong_type")));
    // Changing a stored deadline rewrites the timeline.
    let mut good = base.fork();
    record::add_event(
        &mut good,
        &Author::new("town", T0 + 2 * DAY),
        &NewEvent::supervised("请办结", T0 + 9 * DAY),
    )
    .expect("supervise");
    let stored = good.fork();
    let (_, events) = good.get(ROOT, "events").expect("read").expect("events");
    let (_, entry) = good.get(&events, 2).expect("read").expect("entry");
    good.put(&entry, "dueAt", ScalarValue::Timestamp(T0 + 30 * DAY))
        .expect("put");
    good.commit();
    let saved = good.save();
    let errors = record::validate(&good, Some(&stored), saved.len(), &Limits::default())
        .expect_err("refused");
    assert!(errors.iter().any(|e| e.kind.code() == "timeline_rewritten"));
}

#[test]
fn not_a_duplicate_marks_are_kept_and_validated() {
    let mut doc = escalated_case();
    let other = DocumentId::from_bytes(&[9; 16]).expect("id");
    record::mark_not_duplicate(&mut doc, &Author::new("town", T0 + 2 * DAY), &other).expect("mark");
    assert_eq!(summary(&doc).not_duplicates, vec![other]);
}
