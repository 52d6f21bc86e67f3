//! Merge rules on disputes and visits: two phones edit the same record
//! while offline, then exchange changes; both must read the same record,
//! decided by the domain rules rather than by arrival order.

use std::collections::BTreeSet;

use automerge::{ActorId, AutoCommit, TextEncoding};
use fengqiao_shared::record::{
    self, Author, Dispute, NewDispute, NewEvent, NewVisit, Party, Record, Visit,
};
use fengqiao_shared::vocab::{
    Category, EventKind, Level, PartyRole, Risk, Sentiment, Status, Topic,
};
use fengqiao_shared::{DocumentId, VillageCode};

const DAY: i64 = 86_400_000;
const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn village() -> VillageCode {
    VillageCode::new("500110101001").unwrap()
}

fn new_dispute() -> NewDispute {
    NewDispute {
        village: village(),
        title: "宅基地边界纠纷".to_owned(),
        description: "两户因院墙位置发生争执。".to_owned(),
        category: Category::Land,
        risk: Risk::Low,
        parties: vec![
            Party::new("张三", PartyRole::Applicant).with_phone("13800000000"),
            Party::new("李四", PartyRole::Respondent),
        ],
        assignees: vec!["cadre-mediator".to_owned()],
    }
}

fn new_visit() -> NewVisit {
    NewVisit {
        village: village(),
        visited_at: T0,
        household: "三组 王五家".to_owned(),
        group: Some("三组".to_owned()),
        topics: BTreeSet::from([Topic::Livelihood]),
        sentiment: Sentiment::Neutral,
        notes: "老人独居，屋顶漏雨。".to_owned(),
        follow_up_needed: true,
        follow_up_due: Some(T0 + 7 * DAY),
        linked_dispute: None,
    }
}

fn replica(byte: u8) -> ActorId {
    ActorId::from(vec![byte; 20])
}

/// A created dispute and two offline copies of it on two phones.
fn dispute_on_two_phones() -> (AutoCommit, AutoCommit) {
    let mut origin = AutoCommit::new().with_actor(replica(1));
    record::create_dispute(
        &mut origin,
        &Author::new("cadre-origin", T0),
        &new_dispute(),
    )
    .unwrap();
    let a = origin.fork().with_actor(replica(2));
    let b = origin.fork().with_actor(replica(3));
    (a, b)
}

fn visit_on_two_phones() -> (AutoCommit, AutoCommit) {
    let mut origin = AutoCommit::new().with_actor(replica(1));
    record::create_visit(&mut origin, &Author::new("cadre-origin", T0), &new_visit()).unwrap();
    let a = origin.fork().with_actor(replica(2));
    let b = origin.fork().with_actor(replica(3));
    (a, b)
}

/// Merges both ways, as two phones syncing through the server would.
fn exchange(a: &mut AutoCommit, b: &mut AutoCommit) {
    a.merge(b).unwrap();
    b.merge(a).unwrap();
    assert_eq!(a.get_heads(), b.get_heads());
}

fn dispute(doc: &AutoCommit) -> Dispute {
    Dispute::read(doc).unwrap()
}

fn visit(doc: &AutoCommit) -> Visit {
    Visit::read(doc).unwrap()
}

#[test]
fn concurrent_risk_resolves_to_the_highest() {
    let (mut a, mut b) = dispute_on_two_phones();
    record::set_risk(&mut a, &Author::new("cadre-a", T0 + DAY), Risk::Medium).unwrap();
    record::set_risk(&mut b, &Author::new("cadre-b", T0 + DAY), Risk::High).unwrap();

    // Either merge direction gives the same answer.
    let mut a_first = a.fork();
    a_first.merge(&mut b).unwrap();
    let mut b_first = b.fork();
    b_first.merge(&mut a).unwrap();
    exchange(&mut a, &mut b);

    for doc in [&a, &b, &a_first, &b_first] {
        assert_eq!(dispute(doc).risk, Some(Risk::High));
    }

    // Lowering it afterwards is an ordinary edit that wins.
    record::set_risk(&mut a, &Author::new("cadre-a", T0 + 2 * DAY), Risk::Low).unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(dispute(&b).risk, Some(Risk::Low));
}

#[test]
fn later_escalation_beats_an_earlier_resolution_whatever_the_arrival_order() {
    let (mut a, mut b) = dispute_on_two_phones();
    record::add_event(
        &mut a,
        &Author::new("cadre-a", T0 + DAY),
        &NewEvent::new(EventKind::Resolved).with_outcome("双方签订协议"),
    )
    .unwrap();
    record::add_event(
        &mut b,
        &Author::new("cadre-b", T0 + 2 * DAY),
        &NewEvent::escalated(Level::Town),
    )
    .unwrap();
    assert_eq!(dispute(&a).status(), Status::Resolved);
    assert_eq!(dispute(&a).resolved_at(), Some(T0 + DAY));
    assert_eq!(dispute(&b).status(), Status::Escalated);

    exchange(&mut a, &mut b);
    for doc in [&a, &b] {
        let case = dispute(doc);
        assert_eq!(case.status(), Status::Escalated);
        assert_eq!(case.escalation_level(), Some(Level::Town));
        assert_eq!(case.max_escalation_level(), Some(Level::Town));
        assert_eq!(case.resolved_at(), None);
        assert_eq!(case.events.len(), 3);
    }
}

#[test]
fn an_earlier_event_arriving_late_does_not_override_a_later_one() {
    let (mut a, mut b) = dispute_on_two_phones();
    // Phone b resolves later in time but syncs first.
    record::add_event(
        &mut b,
        &Author::new("cadre-b", T0 + 3 * DAY),
        &NewEvent::new(EventKind::Agreement),
    )
    .unwrap();
    record::add_event(
        &mut a,
        &Author::new("cadre-a", T0 + DAY),
        &NewEvent::new(EventKind::Mediation),
    )
    .unwrap();
    exchange(&mut a, &mut b);
    let case = dispute(&a);
    assert_eq!(case.status(), Status::Resolved);
    assert_eq!(case.resolved_at(), Some(T0 + 3 * DAY));
    assert_eq!(case, dispute(&b));
}

#[test]
fn concurrent_mediation_events_are_both_kept_in_the_same_order() {
    let (mut a, mut b) = dispute_on_two_phones();
    record::add_event(
        &mut a,
        &Author::new("cadre-a", T0 + DAY),
        &NewEvent::new(EventKind::Mediation).with_note("第一次调解：到现场丈量"),
    )
    .unwrap();
    record::add_event(
        &mut b,
        &Author::new("cadre-b", T0 + DAY),
        &NewEvent::new(EventKind::Mediation).with_note("电话沟通"),
    )
    .unwrap();

    let mut c = b.fork().with_actor(replica(4));
    c.merge(&mut a).unwrap();
    exchange(&mut a, &mut b);

    let on_a = dispute(&a);
    let on_b = dispute(&b);
    let on_c = dispute(&c);
    let notes = |d: &Dispute| -> Vec<Option<String>> {
        d.timeline().iter().map(|e| e.note.clone()).collect()
    };
    assert_eq!(on_a.events.len(), 3);
    assert_eq!(on_a.events, on_b.events);
    assert_eq!(on_a.events, on_c.events);
    assert_eq!(notes(&on_a), notes(&on_b));
    let mediations: Vec<_> = on_a
        .timeline()
        .iter()
        .filter(|e| e.kind == EventKind::Mediation)
        .map(|e| e.by.clone())
        .collect();
    // Same time: ordered by cadre id.
    assert_eq!(mediations, ["cadre-a", "cadre-b"]);
    assert_eq!(on_a.status(), Status::Mediating);
}

#[test]
fn concurrent_description_edits_merge_character_wise() {
    for encoding in [
        TextEncoding::UnicodeCodePoint,
        TextEncoding::Utf8CodeUnit,
        TextEncoding::Utf16CodeUnit,
        TextEncoding::GraphemeCluster,
    ] {
        let mut origin = AutoCommit::new_with_encoding(encoding).with_actor(replica(1));
        let mut base = new_dispute();
        base.description = "🙂两户因院墙位置发生争执。".to_owned();
        record::create_dispute(&mut origin, &Author::new("cadre-origin", T0), &base).unwrap();
        let mut a = origin.fork().with_actor(replica(2));
        let mut b = origin.fork().with_actor(replica(3));

        record::set_description(
            &mut a,
            &Author::new("cadre-a", T0 + DAY),
            "【村东】🙂两户因院墙位置发生争执。",
        )
        .unwrap();
        record::set_description(
            &mut b,
            &Author::new("cadre-b", T0 + DAY),
            "🙂两户因院墙位置（约半米）发生争执。已调解一次。",
        )
        .unwrap();
        exchange(&mut a, &mut b);

        let expected = "【村东】🙂两户因院墙位置（约半米）发生争执。已调解一次。";
        assert_eq!(dispute(&a).description, expected, "{encoding:?}");
        assert_eq!(dispute(&b).description, expected, "{encoding:?}");
    }
}

#[test]
fn concurrent_title_edits_merge_too() {
    let (mut a, mut b) = dispute_on_two_phones();
    record::set_title(
        &mut a,
        &Author::new("cadre-a", T0 + DAY),
        "张李两户宅基地边界纠纷",
    )
    .unwrap();
    record::set_title(
        &mut b,
        &Author::new("cadre-b", T0 + DAY),
        "宅基地边界纠纷（紧急）",
    )
    .unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(dispute(&a).title, "张李两户宅基地边界纠纷（紧急）");
}

#[test]
fn concurrent_assignments_are_both_kept_and_an_add_beats_a_concurrent_removal() {
    let (mut a, mut b) = dispute_on_two_phones();
    record::assign(&mut a, &Author::new("cadre-a", T0 + DAY), "cadre-grid").unwrap();
    record::assign(&mut b, &Author::new("cadre-b", T0 + DAY), "cadre-town").unwrap();
    exchange(&mut a, &mut b);
    let expected = BTreeSet::from(["cadre-grid", "cadre-mediator", "cadre-town"].map(String::from));
    assert_eq!(dispute(&a).assignees, expected);
    assert_eq!(dispute(&b).assignees, expected);

    // Phone a takes the mediator and the town cadre off; meanwhile phone b
    // takes the town cadre off and assigns them again. b's assignment is
    // concurrent with a's removal, and adds win.
    record::unassign(
        &mut a,
        &Author::new("cadre-a", T0 + 2 * DAY),
        "cadre-mediator",
    )
    .unwrap();
    record::unassign(&mut a, &Author::new("cadre-a", T0 + 2 * DAY), "cadre-town").unwrap();
    record::unassign(&mut b, &Author::new("cadre-b", T0 + 2 * DAY), "cadre-town").unwrap();
    record::assign(&mut b, &Author::new("cadre-b", T0 + 2 * DAY), "cadre-town").unwrap();
    exchange(&mut a, &mut b);
    let expected = BTreeSet::from(["cadre-grid", "cadre-town"].map(String::from));
    assert_eq!(dispute(&a).assignees, expected);
    assert_eq!(dispute(&b).assignees, expected);
}

#[test]
fn concurrent_related_links_are_both_kept() {
    let (mut a, mut b) = dispute_on_two_phones();
    let first = DocumentId::random();
    let second = DocumentId::random();
    record::link_related(&mut a, &Author::new("cadre-a", T0 + DAY), &first).unwrap();
    record::link_related(&mut b, &Author::new("cadre-b", T0 + DAY), &second).unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(dispute(&a).related, BTreeSet::from([first, second]));
}

#[test]
fn concurrent_sentiment_resolves_to_the_most_severe() {
    let (mut a, mut b) = visit_on_two_phones();
    record::set_sentiment(
        &mut a,
        &Author::new("cadre-a", T0 + DAY),
        Sentiment::Concern,
    )
    .unwrap();
    record::set_sentiment(&mut b, &Author::new("cadre-b", T0 + DAY), Sentiment::Urgent).unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(visit(&a).sentiment, Some(Sentiment::Urgent));
    assert_eq!(visit(&b).sentiment, Some(Sentiment::Urgent));
}

#[test]
fn concurrent_topics_and_follow_up_merge() {
    let (mut a, mut b) = visit_on_two_phones();
    record::set_topics(
        &mut a,
        &Author::new("cadre-a", T0 + DAY),
        &BTreeSet::from([Topic::Livelihood, Topic::Health]),
    )
    .unwrap();
    record::set_topics(
        &mut b,
        &Author::new("cadre-b", T0 + DAY),
        &BTreeSet::from([Topic::Infrastructure]),
    )
    .unwrap();
    record::mark_follow_up_done(&mut b, &Author::new("cadre-b", T0 + DAY)).unwrap();
    exchange(&mut a, &mut b);
    let merged = visit(&a);
    // b removed livelihood, a kept it (no new add): the removal stands;
    // both additions stay.
    assert_eq!(
        merged.topics,
        BTreeSet::from([Topic::Health, Topic::Infrastructure])
    );
    assert!(merged.follow_up.needed && merged.follow_up.done);
    assert_eq!(merged, visit(&b));
}

#[test]
fn every_edit_leaves_a_readable_message_in_the_history() {
    let (mut a, _) = dispute_on_two_phones();
    let author = Author::new("cadre-a", T0 + DAY);
    record::set_risk(&mut a, &author, Risk::Medium).unwrap();
    record::set_risk(&mut a, &author, Risk::High).unwrap();
    record::add_event(&mut a, &author, &NewEvent::new(EventKind::Resolved)).unwrap();
    record::add_event(&mut a, &author, &NewEvent::escalated(Level::District)).unwrap();
    record::add_party(&mut a, &author, &Party::new("王五", PartyRole::Other)).unwrap();
    record::set_category(&mut a, &author, Category::Neighbor).unwrap();
    // Nothing to change: no change is made.
    assert_eq!(record::set_risk(&mut a, &author, Risk::High).unwrap(), None);

    let messages: Vec<String> = a
        .get_changes(&[])
        .iter()
        .filter_map(|c| c.message().map(str::to_owned))
        .collect();
    assert_eq!(
        messages,
        [
            "dispute reported: 宅基地边界纠纷",
            "risk low → medium",
            "risk medium → high",
            "event 'resolved' added",
            "event 'escalated' (district) added",
            "party 王五 (other) added",
            "category land → neighbor",
        ]
    );
    let last = a.get_last_local_change().unwrap();
    assert_eq!(last.timestamp(), (T0 + DAY) / 1000);
}

#[test]
fn hydrated_records_agree_after_a_busy_exchange() {
    let (mut a, mut b) = dispute_on_two_phones();
    record::add_party(
        &mut a,
        &Author::new("cadre-a", T0 + DAY),
        &Party::new("赵六", PartyRole::Other),
    )
    .unwrap();
    record::remove_party(&mut b, &Author::new("cadre-b", T0 + DAY), 0).unwrap();
    record::set_category(
        &mut b,
        &Author::new("cadre-b", T0 + DAY),
        Category::Neighbor,
    )
    .unwrap();
    exchange(&mut a, &mut b);
    let record_a = Record::read(&a).unwrap();
    let record_b = Record::read(&b).unwrap();
    assert_eq!(record_a, record_b);
    let names: Vec<_> = dispute(&a).parties.into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["李四", "赵六"]);
    let id = DocumentId::random();
    assert_eq!(record_a.summary(id.clone()), record_b.summary(id));
}
