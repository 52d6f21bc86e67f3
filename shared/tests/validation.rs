//! Validation of record documents: every violation is rejected with a
//! precise, readable error; valid documents (including those written by
//! JavaScript clients, and those carrying fields this version does not
//! know) pass.

use std::collections::BTreeSet;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ScalarValue};
use fengqiao_shared::record::{
    self, Author, Dispute, EditError, Limits, NewDispute, NewEvent, NewVisit, Party, Prefetched,
    ReadError, Record, ValidationErrorKind, ValidationErrors, Visit,
};
use fengqiao_shared::vocab::{
    Category, EventKind, Level, PartyRole, RecordKind, Risk, Sentiment, Status, Topic,
};
use fengqiao_shared::{DocumentId, VillageCode};
use proptest::prelude::*;

const DAY: i64 = 86_400_000;
const T0: i64 = 1_767_225_600_000;

fn author() -> Author {
    Author::new("cadre-1", T0)
}

fn new_dispute() -> NewDispute {
    NewDispute {
        village: VillageCode::new("500110101001").unwrap(),
        title: "山林权属纠纷".to_owned(),
        description: "两组对一片山林的权属有争议。".to_owned(),
        category: Category::Land,
        risk: Risk::Medium,
        parties: vec![
            Party::new("一组", PartyRole::Applicant),
            Party::new("二组", PartyRole::Respondent).with_note("组长代表"),
        ],
        assignees: vec!["cadre-1".to_owned()],
    }
}

fn new_visit() -> NewVisit {
    NewVisit {
        village: VillageCode::new("500110101001").unwrap(),
        visited_at: T0,
        household: "五组 陈家".to_owned(),
        group: None,
        topics: BTreeSet::from([Topic::Employment, Topic::Policy]),
        sentiment: Sentiment::Positive,
        notes: String::new(),
        follow_up_needed: false,
        follow_up_due: None,
        linked_dispute: None,
    }
}

fn dispute_doc() -> AutoCommit {
    let mut doc = AutoCommit::new();
    record::create_dispute(&mut doc, &author(), &new_dispute()).unwrap();
    doc
}

fn visit_doc() -> AutoCommit {
    let mut doc = AutoCommit::new();
    record::create_visit(&mut doc, &author(), &new_visit()).unwrap();
    doc
}

fn check(doc: &mut AutoCommit, previous: Option<&AutoCommit>) -> Result<(), ValidationErrors> {
    check_with(doc, previous, &Limits::default())
}

fn check_with(
    doc: &mut AutoCommit,
    previous: Option<&AutoCommit>,
    limits: &Limits,
) -> Result<(), ValidationErrors> {
    let size = doc.save().len();
    let verdict = record::validate(&*doc, previous, size, limits);
    // The server validates through a view that reads each object once:
    // it must reach the same verdict, word for word.
    let view = Prefetched::new(&*doc);
    let previous_view = previous.map(Prefetched::new);
    let through_view = record::validate(&view, previous_view.as_ref(), size, limits);
    assert_eq!(
        through_view.as_ref().map_err(ToString::to_string),
        verdict.as_ref().map_err(ToString::to_string),
        "validation through the one-pass view differs"
    );
    verdict
}

/// The single violation of a rejected document.
fn only_error(result: Result<(), ValidationErrors>) -> (String, ValidationErrorKind, String) {
    let errors = result.expect_err("the document should be rejected");
    assert_eq!(errors.len(), 1, "expected one violation, got: {errors}");
    let error = errors.as_slice()[0].clone();
    let message = error.to_string();
    (error.field, error.kind, message)
}

/// A change made on a copy of `doc`, as a phone would send it.
fn changed(doc: &mut AutoCommit, change: impl FnOnce(&mut AutoCommit)) -> AutoCommit {
    let mut after = doc.fork();
    change(&mut after);
    after.commit();
    after
}

fn list(doc: &AutoCommit, key: &str) -> ObjId {
    match doc.get(ROOT, key).unwrap() {
        Some((automerge::Value::Object(ObjType::List), id)) => id,
        other => panic!("{key} is not a list: {other:?}"),
    }
}

fn push_event(doc: &mut AutoCommit, kind: &str, level: Option<&str>) {
    let events = list(doc, "events");
    let end = doc.length(&events);
    let event = doc.insert_object(&events, end, ObjType::Map).unwrap();
    doc.put(&event, "at", ScalarValue::Timestamp(T0 + DAY))
        .unwrap();
    doc.put(&event, "by", "cadre-2").unwrap();
    doc.put(&event, "kind", kind).unwrap();
    if let Some(level) = level {
        doc.put(&event, "level", level).unwrap();
    }
}

#[test]
fn valid_records_pass() {
    let mut dispute = dispute_doc();
    assert_eq!(check(&mut dispute, None), Ok(()));
    let before = dispute.fork();
    let mut after = changed(&mut dispute, |doc| {
        record::set_risk(doc, &author(), Risk::High).unwrap();
        record::add_event(doc, &author(), &NewEvent::escalated(Level::Town)).unwrap();
        record::set_duplicate_of(doc, &author(), Some(&DocumentId::random())).unwrap();
        record::link_related(doc, &author(), &DocumentId::random()).unwrap();
        record::remove_party(doc, &author(), 1).unwrap();
    });
    assert_eq!(check(&mut after, Some(&before)), Ok(()));

    let mut visit = visit_doc();
    assert_eq!(check(&mut visit, None), Ok(()));
    let before = visit.fork();
    let mut after = changed(&mut visit, |doc| {
        record::schedule_follow_up(doc, &author(), Some(T0 + 3 * DAY)).unwrap();
        record::mark_follow_up_done(doc, &author()).unwrap();
        record::set_notes(doc, &author(), "已联系就业站。").unwrap();
        record::link_dispute(doc, &author(), Some(&DocumentId::random())).unwrap();
    });
    assert_eq!(check(&mut after, Some(&before)), Ok(()));
}

#[test]
fn changing_the_village_is_rejected() {
    let mut before = dispute_doc();
    let mut after = changed(&mut before, |doc| {
        doc.put(ROOT, "village", "500110101002").unwrap();
    });
    let (field, kind, message) = only_error(check(&mut after, Some(&before)));
    assert_eq!(field, "village");
    assert!(matches!(kind, ValidationErrorKind::ImmutableChanged { .. }));
    assert_eq!(
        message,
        "field \"village\": was \"500110101001\" and cannot become \"500110101002\": \
         it is fixed when the record is created"
    );
}

#[test]
fn changing_created_at_type_or_created_by_is_rejected() {
    let mut before = dispute_doc();
    let mut after = changed(&mut before, |doc| {
        doc.put(ROOT, "createdAt", ScalarValue::Timestamp(T0 - DAY))
            .unwrap();
    });
    let (field, kind, _) = only_error(check(&mut after, Some(&before)));
    assert_eq!(field, "createdAt");
    assert_eq!(
        kind,
        ValidationErrorKind::ImmutableChanged {
            before: T0.to_string(),
            after: (T0 - DAY).to_string()
        }
    );

    let mut after = changed(&mut before, |doc| {
        doc.put(ROOT, "createdBy", "cadre-9").unwrap();
    });
    let (field, _, _) = only_error(check(&mut after, Some(&before)));
    assert_eq!(field, "createdBy");

    // Turning a dispute into a visit: the type change is reported, and so
    // is everything a visit lacks.
    let mut after = changed(&mut before, |doc| {
        doc.put(ROOT, "type", "visit").unwrap();
    });
    let errors = check(&mut after, Some(&before)).unwrap_err();
    assert!(
        errors
            .for_field("type")
            .any(|e| matches!(e.kind, ValidationErrorKind::ImmutableChanged { .. })),
        "{errors}"
    );
    assert!(
        errors
            .for_field("visitedAt")
            .any(|e| e.kind == ValidationErrorKind::MissingField),
        "{errors}"
    );

    // Deleting an immutable field is a change too.
    let mut after = changed(&mut before, |doc| doc.delete(ROOT, "schema").unwrap());
    let errors = check(&mut after, Some(&before)).unwrap_err();
    assert!(
        errors
            .for_field("schema")
            .any(|e| matches!(e.kind, ValidationErrorKind::ImmutableChanged { .. }))
    );
}

#[test]
fn a_planted_conflict_on_a_fixed_field_is_refused() {
    // A record created with two concurrent villages: refused as created.
    let mut shown = AutoCommit::new().with_actor(automerge::ActorId::from(vec![2; 20]));
    record::create_dispute(&mut shown, &author(), &new_dispute()).unwrap();
    let mut hidden = AutoCommit::new().with_actor(automerge::ActorId::from(vec![1; 20]));
    hidden.put(ROOT, "village", "500110102001").unwrap();
    hidden.commit();
    let mut planted = shown.clone();
    planted.merge(&mut hidden).unwrap();
    assert_eq!(planted.get_all(ROOT, "village").unwrap().len(), 2);
    let (field, kind, _) = only_error(check(&mut planted, None));
    assert_eq!(field, "village");
    assert_eq!(
        kind,
        ValidationErrorKind::ConflictingAtCreation { count: 2 }
    );

    // Stored so anyway (before this rule), a change that makes the hidden
    // value win moves the record: refused as a change of the field.
    let shown_village = planted
        .get(ROOT, "village")
        .unwrap()
        .unwrap()
        .0
        .as_str()
        .unwrap()
        .to_owned();
    let hidden_village = if shown_village == "500110101001" {
        "500110102001"
    } else {
        "500110101001"
    };
    let mut moved = changed(&mut planted, |doc| {
        doc.put(ROOT, "village", hidden_village).unwrap();
    });
    let errors = check(&mut moved, Some(&planted)).unwrap_err();
    assert!(
        errors.for_field("village").any(|e| matches!(
            &e.kind,
            ValidationErrorKind::ImmutableChanged { after, .. } if after.contains(hidden_village)
        )),
        "{errors}"
    );
}

#[test]
fn strings_of_unknown_fields_and_the_history_are_limited_too() {
    // An unknown field of 600,000 characters.
    let mut doc = dispute_doc();
    doc.put(ROOT, "notesFromTheFuture", "长".repeat(600_000))
        .unwrap();
    let errors = check(&mut doc, None).unwrap_err();
    assert!(
        errors
            .for_field("notesFromTheFuture")
            .any(|e| matches!(e.kind, ValidationErrorKind::TooLong { chars: 600_000, .. })),
        "{errors}"
    );
    assert!(
        errors
            .for_field("")
            .any(|e| matches!(e.kind, ValidationErrorKind::TooMuchText { .. })),
        "{errors}"
    );
    // Many strings each within the limit, nested in unknown maps.
    let mut doc = dispute_doc();
    let extra = doc.put_object(ROOT, "extra", ObjType::Map).unwrap();
    for i in 0..30 {
        let inner = doc
            .put_object(&extra, format!("k{i}"), ObjType::List)
            .unwrap();
        doc.insert(&inner, 0, "字".repeat(10_000)).unwrap();
    }
    let errors = check(&mut doc, None).unwrap_err();
    assert!(
        errors
            .iter()
            .all(|e| matches!(e.kind, ValidationErrorKind::TooMuchText { .. })),
        "{errors}"
    );
    // Characters inserted and deleted: nothing visible, a long history.
    let mut doc = dispute_doc();
    let text = doc.put_object(ROOT, "scratch", ObjType::Text).unwrap();
    doc.splice_text(&text, 0, 0, &"a".repeat(15_000)).unwrap();
    doc.splice_text(&text, 0, 15_000, "").unwrap();
    let limits = Limits {
        max_history_ops: 10_000,
        ..Limits::default()
    };
    let (field, kind, _) = only_error(check_with(&mut doc, None, &limits));
    assert_eq!(field, "");
    assert!(matches!(kind, ValidationErrorKind::TooMuchHistory { .. }));
}

#[test]
fn rewriting_an_immutable_field_with_the_same_value_is_accepted() {
    let mut before = dispute_doc();
    // A client that stores times as plain numbers and strings as Text.
    let mut after = changed(&mut before, |doc| {
        doc.put(ROOT, "createdAt", T0).unwrap();
        let text = doc.put_object(ROOT, "createdBy", ObjType::Text).unwrap();
        doc.splice_text(&text, 0, 0, "cadre-1").unwrap();
    });
    assert_eq!(check(&mut after, Some(&before)), Ok(()));
}

#[test]
fn an_unknown_enum_value_is_rejected_with_the_allowed_values() {
    let mut before = dispute_doc();
    let mut after = changed(&mut before, |doc| {
        doc.put(ROOT, "risk", "severe").unwrap();
    });
    let (field, kind, message) = only_error(check(&mut after, Some(&before)));
    assert_eq!(field, "risk");
    assert!(matches!(kind, ValidationErrorKind::UnknownValue { .. }));
    assert_eq!(
        message,
        "field \"risk\": \"severe\" is not one of low, medium, high"
    );

    let mut visit = visit_doc();
    let mut after = changed(&mut visit, |doc| {
        let topics = match doc.get(ROOT, "topics").unwrap() {
            Some((_, id)) => id,
            None => panic!("no topics"),
        };
        doc.put(&topics, "weather", true).unwrap();
    });
    let (field, kind, _) = only_error(check(&mut after, Some(&visit)));
    assert_eq!(field, "topics[\"weather\"]");
    assert!(matches!(kind, ValidationErrorKind::UnknownValue { .. }));
}

#[test]
fn a_bad_value_set_concurrently_with_a_good_one_is_caught() {
    let mut before = dispute_doc();
    let mut a = before.fork();
    let mut b = before.fork();
    record::set_risk(&mut a, &author(), Risk::High).unwrap();
    b.put(ROOT, "risk", "severe").unwrap();
    b.commit();
    a.merge(&mut b).unwrap();
    assert_eq!(a.get_all(ROOT, "risk").unwrap().len(), 2);
    let (field, kind, _) = only_error(check(&mut a, Some(&before)));
    assert_eq!(field, "risk");
    assert!(matches!(kind, ValidationErrorKind::UnknownValue { value, .. } if value == "severe"));
    // The merge rule still reads the highest known risk.
    assert_eq!(Dispute::read(&a).unwrap().risk, Some(Risk::High));
}

#[test]
fn text_over_the_limit_is_rejected_counting_characters() {
    let mut before = dispute_doc();
    let limit = Limits::default().max_text_chars;
    // Chinese characters are three bytes each; the limit counts characters.
    let mut at_limit = changed(&mut before, |doc| {
        record::set_description(doc, &author(), &"字".repeat(limit)).unwrap();
    });
    assert_eq!(check(&mut at_limit, Some(&before)), Ok(()));

    let mut over = changed(&mut before, |doc| {
        record::set_description(doc, &author(), &"字".repeat(limit + 1)).unwrap();
    });
    let (field, kind, message) = only_error(check(&mut over, Some(&before)));
    assert_eq!(field, "description");
    assert_eq!(
        kind,
        ValidationErrorKind::TooLong {
            chars: limit + 1,
            max: limit
        }
    );
    assert_eq!(
        message,
        "field \"description\": has 20001 characters; at most 20000 are allowed"
    );
}

#[test]
fn too_many_parties_is_rejected() {
    let mut before = dispute_doc();
    let mut after = changed(&mut before, |doc| {
        for i in 0..49 {
            record::add_party(
                doc,
                &author(),
                &Party::new(format!("村民{i}"), PartyRole::Other),
            )
            .unwrap();
        }
    });
    // 2 + 49 = 51 parties.
    let (field, kind, _) = only_error(check(&mut after, Some(&before)));
    assert_eq!(field, "parties");
    assert_eq!(kind, ValidationErrorKind::TooMany { count: 51, max: 50 });
}

#[test]
fn too_many_events_is_rejected() {
    let mut before = dispute_doc();
    let mut after = changed(&mut before, |doc| {
        // The reported event plus 1,000 notes.
        for _ in 0..1_000 {
            push_event(doc, "note", None);
        }
    });
    let (field, kind, _) = only_error(check(&mut after, Some(&before)));
    assert_eq!(field, "events");
    assert_eq!(
        kind,
        ValidationErrorKind::TooMany {
            count: 1_001,
            max: 1_000
        }
    );

    // Limits are configurable.
    let small = Limits {
        max_events: 2,
        ..Limits::default()
    };
    let mut after = changed(&mut before, |doc| {
        record::add_event(doc, &author(), &NewEvent::new(EventKind::Mediation)).unwrap();
    });
    assert_eq!(check_with(&mut after, Some(&before), &small), Ok(()));
    let mut after = changed(&mut after, |doc| {
        record::add_event(doc, &author(), &NewEvent::new(EventKind::Note)).unwrap();
    });
    let (_, kind, _) = only_error(check_with(&mut after, Some(&before), &small));
    assert_eq!(kind, ValidationErrorKind::TooMany { count: 3, max: 2 });
}

#[test]
fn an_oversized_document_is_rejected() {
    let mut doc = dispute_doc();
    let limits = Limits::default();
    let result = record::validate(&doc, None, limits.max_document_bytes + 1, &limits);
    let (field, kind, message) = only_error(result);
    assert_eq!(field, "");
    assert!(matches!(kind, ValidationErrorKind::TooLarge { .. }));
    assert_eq!(
        message,
        "document: is 1048577 bytes when saved; at most 1048576 are allowed"
    );
    assert_eq!(check(&mut doc, None), Ok(()));
}

#[test]
fn a_wrong_value_type_is_rejected() {
    let mut before = dispute_doc();
    let mut after = changed(&mut before, |doc| {
        doc.put(ROOT, "risk", 3_i64).unwrap();
    });
    let (field, kind, message) = only_error(check(&mut after, Some(&before)));
    assert_eq!(field, "risk");
    assert_eq!(
        kind,
        ValidationErrorKind::WrongType {
            expected: "a string",
            found: "an integer"
        }
    );
    assert_eq!(message, "field \"risk\": must be a string, not an integer");

    let mut after = changed(&mut before, |doc| {
        let parties = list(doc, "parties");
        let first = match doc.get(&parties, 0).unwrap() {
            Some((_, id)) => id,
            None => panic!("no party"),
        };
        doc.put(&first, "name", true).unwrap();
    });
    let (field, _, _) = only_error(check(&mut after, Some(&before)));
    assert_eq!(field, "parties[0].name");

    let mut after = changed(&mut before, |doc| {
        doc.put_object(ROOT, "assignees", ObjType::List).unwrap();
    });
    let (field, kind, _) = only_error(check(&mut after, Some(&before)));
    assert_eq!(field, "assignees");
    assert!(matches!(
        kind,
        ValidationErrorKind::WrongType {
            expected: "a map",
            ..
        }
    ));

    let mut visit = visit_doc();
    let mut after = changed(&mut visit, |doc| {
        doc.put(ROOT, "visitedAt", "yesterday").unwrap();
    });
    let (field, _, message) = only_error(check(&mut after, Some(&visit)));
    assert_eq!(field, "visitedAt");
    assert_eq!(
        message,
        "field \"visitedAt\": must be a time in milliseconds since the epoch, not a string"
    );
}

#[test]
fn a_missing_required_field_is_rejected() {
    let mut before = dispute_doc();
    let mut after = changed(&mut before, |doc| doc.delete(ROOT, "category").unwrap());
    let (field, kind, message) = only_error(check(&mut after, Some(&before)));
    assert_eq!(field, "category");
    assert_eq!(kind, ValidationErrorKind::MissingField);
    assert_eq!(message, "field \"category\": is missing");

    // An escalation must say where it went.
    let mut after = changed(&mut before, |doc| push_event(doc, "escalated", None));
    let (field, kind, _) = only_error(check(&mut after, Some(&before)));
    assert_eq!(field, "events[1].level");
    assert_eq!(kind, ValidationErrorKind::MissingField);

    let mut visit = visit_doc();
    let mut after = changed(&mut visit, |doc| doc.delete(ROOT, "followUp").unwrap());
    let (field, kind, _) = only_error(check(&mut after, Some(&visit)));
    assert_eq!(field, "followUp");
    assert_eq!(kind, ValidationErrorKind::MissingField);
}

#[test]
fn bad_codes_and_document_ids_are_rejected() {
    let mut doc = AutoCommit::new();
    record::create_dispute(&mut doc, &author(), &new_dispute()).unwrap();
    doc.put(ROOT, "village", "500110101000").unwrap();
    let (field, kind, _) = only_error(check(&mut doc, None));
    assert_eq!(field, "village");
    assert!(matches!(kind, ValidationErrorKind::BadVillageCode { .. }));

    let mut before = dispute_doc();
    let mut after = changed(&mut before, |doc| {
        let links = match doc.get(ROOT, "links").unwrap() {
            Some((_, id)) => id,
            None => panic!("no links"),
        };
        doc.put(&links, "duplicateOf", "not-a-document").unwrap();
        let related = match doc.get(&links, "related").unwrap() {
            Some((_, id)) => id,
            None => panic!("no related"),
        };
        doc.put(&related, "0OIl", true).unwrap();
    });
    let errors = check(&mut after, Some(&before)).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["links.duplicateOf", "links.related[\"0OIl\"]"]);
    assert!(
        errors
            .iter()
            .all(|e| matches!(e.kind, ValidationErrorKind::BadDocumentId { .. }))
    );
}

#[test]
fn the_timeline_is_append_only() {
    let mut before = dispute_doc();
    record::add_event(&mut before, &author(), &NewEvent::new(EventKind::Mediation)).unwrap();

    let mut removed = changed(&mut before, |doc| {
        let events = list(doc, "events");
        doc.delete(&events, 1).unwrap();
    });
    let (field, kind, message) = only_error(check(&mut removed, Some(&before)));
    assert_eq!(field, "events[1]");
    assert_eq!(kind, ValidationErrorKind::TimelineRewritten("removed"));
    assert_eq!(
        message,
        "field \"events[1]\": was removed; the timeline is append-only"
    );

    let mut altered = changed(&mut before, |doc| {
        let events = list(doc, "events");
        let first = match doc.get(&events, 0).unwrap() {
            Some((_, id)) => id,
            None => panic!("no event"),
        };
        doc.put(&first, "kind", "resolved").unwrap();
    });
    let (field, kind, _) = only_error(check(&mut altered, Some(&before)));
    assert_eq!(field, "events[0]");
    assert_eq!(kind, ValidationErrorKind::TimelineRewritten("altered"));
}

#[test]
fn every_violation_is_reported_at_once() {
    let mut before = dispute_doc();
    let mut after = changed(&mut before, |doc| {
        doc.put(ROOT, "village", "500110101002").unwrap();
        doc.put(ROOT, "risk", "severe").unwrap();
        doc.delete(ROOT, "title").unwrap();
        push_event(doc, "escalated", Some("province"));
    });
    let errors = check(&mut after, Some(&before)).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["village", "title", "risk", "events[1].level"]);
    let text = errors.to_string();
    assert!(text.contains("field \"title\": is missing"), "{text}");
    assert!(
        text.contains("\"province\" is not one of village, town, district, court"),
        "{text}"
    );
}

#[test]
fn unknown_extra_fields_are_accepted_and_preserved_by_edits() {
    let mut before = dispute_doc();
    // Another client adds fields this version does not know.
    let mut doc = changed(&mut before, |doc| {
        doc.put(ROOT, "priorityColor", "red").unwrap();
        let photos = doc.put_object(ROOT, "photos", ObjType::List).unwrap();
        doc.insert(&photos, 0, "photo-1.jpg").unwrap();
        let parties = list(doc, "parties");
        let first = match doc.get(&parties, 0).unwrap() {
            Some((_, id)) => id,
            None => panic!("no party"),
        };
        doc.put(&first, "wechat", "zhang_san").unwrap();
        let events = list(doc, "events");
        let reported = match doc.get(&events, 0).unwrap() {
            Some((_, id)) => id,
            None => panic!("no event"),
        };
        doc.put(&reported, "gps", "29.5,106.5").unwrap();
    });
    assert_eq!(check(&mut doc, Some(&before)), Ok(()));

    // Our edits keep them.
    let previous = doc.fork();
    let mut edited = changed(&mut doc, |doc| {
        record::set_title(doc, &author(), "山林权属纠纷（已勘界）").unwrap();
        record::set_description(doc, &author(), "重新描述").unwrap();
        record::set_risk(doc, &author(), Risk::Low).unwrap();
        record::add_party(doc, &author(), &Party::new("三组", PartyRole::Other)).unwrap();
        record::remove_party(doc, &author(), 1).unwrap();
        record::add_event(doc, &author(), &NewEvent::followup(true)).unwrap();
        record::assign(doc, &author(), "cadre-2").unwrap();
    });
    assert_eq!(check(&mut edited, Some(&previous)), Ok(()));
    assert_eq!(
        edited
            .get(ROOT, "priorityColor")
            .unwrap()
            .and_then(|(v, _)| v.as_str().map(str::to_owned)),
        Some("red".to_owned())
    );
    let photos = list(&edited, "photos");
    assert_eq!(edited.length(&photos), 1);
    let parties = list(&edited, "parties");
    let first = match edited.get(&parties, 0).unwrap() {
        Some((_, id)) => id,
        None => panic!("no party"),
    };
    assert!(edited.get(&first, "wechat").unwrap().is_some());
    let events = list(&edited, "events");
    let reported = match edited.get(&events, 0).unwrap() {
        Some((_, id)) => id,
        None => panic!("no event"),
    };
    assert!(edited.get(&reported, "gps").unwrap().is_some());
    // And a saved and reloaded copy still has them.
    let reloaded = AutoCommit::load(&edited.save()).unwrap();
    assert!(reloaded.get(ROOT, "photos").unwrap().is_some());
}

#[test]
fn a_document_written_by_a_javascript_client_reads_and_validates() {
    // Strings as Text, times as plain numbers (one of them a float).
    let mut doc = AutoCommit::new();
    let text = |doc: &mut AutoCommit, obj: &ObjId, key: &str, value: &str| {
        let id = doc.put_object(obj, key, ObjType::Text).unwrap();
        doc.splice_text(&id, 0, 0, value).unwrap();
    };
    text(&mut doc, &ROOT, "type", "visit");
    doc.put(ROOT, "schema", 1.0_f64).unwrap();
    text(&mut doc, &ROOT, "village", "500110101003");
    doc.put(ROOT, "createdAt", T0).unwrap();
    text(&mut doc, &ROOT, "createdBy", "cadre-js");
    doc.put(ROOT, "visitedAt", (T0 + 60_000) as f64).unwrap();
    text(&mut doc, &ROOT, "household", "七组 刘家");
    let topics = doc.put_object(ROOT, "topics", ObjType::Map).unwrap();
    doc.put(&topics, "health", true).unwrap();
    text(&mut doc, &ROOT, "sentiment", "concern");
    text(&mut doc, &ROOT, "notes", "需要送医");
    let follow_up = doc.put_object(ROOT, "followUp", ObjType::Map).unwrap();
    doc.put(&follow_up, "needed", true).unwrap();
    doc.put(&follow_up, "done", false).unwrap();
    doc.put(&follow_up, "dueAt", T0 + DAY).unwrap();
    doc.commit();

    assert_eq!(check(&mut doc, None), Ok(()));
    let visit = Visit::read(&doc).unwrap();
    assert_eq!(visit.header.created_by, "cadre-js");
    assert_eq!(visit.header.schema, Some(1));
    assert_eq!(visit.visited_at, Some(T0 + 60_000));
    assert_eq!(visit.sentiment, Some(Sentiment::Concern));
    assert_eq!(visit.topics, BTreeSet::from([Topic::Health]));
    assert!(visit.follow_up.pending());
    assert_eq!(visit.follow_up.due_at, Some(T0 + DAY));

    // Our operations work on it, and its Text notes stay Text.
    record::set_notes(&mut doc, &author(), "需要送医，已联系卫生院").unwrap();
    record::mark_follow_up_done(&mut doc, &author()).unwrap();
    let visit = Visit::read(&doc).unwrap();
    assert_eq!(visit.notes, "需要送医，已联系卫生院");
    assert!(!visit.follow_up.pending());
}

#[test]
fn a_document_that_is_not_a_record_is_refused() {
    let mut empty = AutoCommit::new();
    assert_eq!(Record::read(&empty), Err(ReadError::NotARecord));
    let errors = check(&mut empty, None).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        ["type", "schema", "village", "createdAt", "createdBy"]
    );

    let mut other = AutoCommit::new();
    other.put(ROOT, "type", "todo").unwrap();
    assert_eq!(
        Record::read(&other),
        Err(ReadError::UnknownType("todo".to_owned()))
    );
    assert!(matches!(
        Dispute::read(&visit_doc()),
        Err(ReadError::WrongKind {
            expected: RecordKind::Dispute,
            found: RecordKind::Visit
        })
    ));
}

#[test]
fn operations_refuse_bad_input() {
    let mut doc = dispute_doc();
    let heads = doc.get_heads();
    let refused = |result: Result<Option<automerge::ChangeHash>, EditError>| {
        result.expect_err("the operation should be refused")
    };
    assert!(matches!(
        refused(record::add_event(
            &mut doc,
            &author(),
            &NewEvent::new(EventKind::Escalated)
        )),
        EditError::MissingLevel
    ));
    let mut with_level = NewEvent::new(EventKind::Mediation);
    with_level.level = Some(Level::Town);
    assert!(matches!(
        refused(record::add_event(&mut doc, &author(), &with_level)),
        EditError::UnexpectedLevel {
            kind: EventKind::Mediation
        }
    ));
    let mut satisfied = NewEvent::new(EventKind::Note);
    satisfied.satisfied = Some(true);
    assert!(matches!(
        refused(record::add_event(&mut doc, &author(), &satisfied)),
        EditError::UnexpectedSatisfied { .. }
    ));
    assert!(matches!(
        refused(record::add_event(
            &mut doc,
            &author(),
            &NewEvent::new(EventKind::Reported)
        )),
        EditError::ReportedAfterCreation
    ));
    assert!(matches!(
        refused(record::remove_party(&mut doc, &author(), 2)),
        EditError::NoSuchParty { index: 2, count: 2 }
    ));
    assert!(matches!(
        refused(record::set_title(&mut doc, &author(), "  ")),
        EditError::Empty { .. }
    ));
    assert!(matches!(
        refused(record::assign(&mut doc, &Author::new("", T0), "cadre-2")),
        EditError::Empty { .. }
    ));
    assert!(matches!(
        refused(record::set_sentiment(
            &mut doc,
            &author(),
            Sentiment::Urgent
        )),
        EditError::NotEditable(ReadError::WrongKind { .. })
    ));
    assert!(matches!(
        refused(record::create_dispute(&mut doc, &author(), &new_dispute())),
        EditError::AlreadyCreated
    ));
    let mut visit = visit_doc();
    assert!(matches!(
        refused(record::mark_follow_up_done(&mut visit, &author())),
        EditError::NoFollowUpNeeded
    ));
    // Nothing was written by the refused operations.
    assert_eq!(doc.get_heads(), heads);
    let message = refused(record::add_event(
        &mut doc,
        &author(),
        &NewEvent::new(EventKind::Escalated),
    ))
    .to_string();
    assert_eq!(message, "an escalation needs the level it goes to");
}

#[test]
fn summaries_fill_every_field() {
    let mut doc = dispute_doc();
    record::add_event(
        &mut doc,
        &Author::new("cadre-2", T0 + DAY),
        &NewEvent::new(EventKind::Mediation),
    )
    .unwrap();
    record::add_event(
        &mut doc,
        &Author::new("cadre-2", T0 + 2 * DAY),
        &NewEvent::new(EventKind::Agreement),
    )
    .unwrap();
    let original = DocumentId::random();
    record::set_duplicate_of(&mut doc, &author(), Some(&original)).unwrap();
    let id = DocumentId::random();
    let summary = Record::read(&doc).unwrap().summary(id.clone());
    assert_eq!(summary.id, id);
    assert_eq!(summary.kind, RecordKind::Dispute);
    assert_eq!(summary.village.as_str(), "500110101001");
    assert_eq!(summary.created_at, T0);
    assert_eq!(summary.created_by, "cadre-1");
    assert_eq!(summary.last_activity, T0 + 2 * DAY);
    assert_eq!(summary.title, "山林权属纠纷");
    assert_eq!(summary.status, Some(Status::Resolved));
    assert_eq!(summary.category, Some(Category::Land));
    assert_eq!(summary.risk, Some(Risk::Medium));
    assert_eq!(summary.resolved_at, Some(T0 + 2 * DAY));
    assert_eq!(summary.escalation_level, None);
    assert_eq!(summary.party_names, ["一组", "二组"]);
    assert_eq!(summary.assignees, ["cadre-1"]);
    assert_eq!(summary.event_count, 3);
    assert_eq!(summary.duplicate_of, Some(original));
    assert_eq!(summary.visited_at, None);

    let mut visit = visit_doc();
    record::schedule_follow_up(&mut visit, &author(), Some(T0 + 5 * DAY)).unwrap();
    let summary = Record::read(&visit).unwrap().summary(id);
    assert_eq!(summary.kind, RecordKind::Visit);
    assert_eq!(summary.title, "五组 陈家");
    assert_eq!(summary.visited_at, Some(T0));
    assert_eq!(summary.sentiment, Some(Sentiment::Positive));
    assert_eq!(summary.topics, [Topic::Employment, Topic::Policy]);
    assert!(summary.follow_up_needed && !summary.follow_up_done);
    assert_eq!(summary.follow_up_due, Some(T0 + 5 * DAY));
    assert_eq!(summary.status, None);
    assert_eq!(summary.event_count, 0);
}

/// A value a hostile or buggy client might put anywhere.
#[derive(Debug, Clone)]
enum Junk {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    Map,
    List,
    Text(String),
}

fn junk() -> impl Strategy<Value = Junk> {
    prop_oneof![
        "[a-z调🙂]{0,6}".prop_map(Junk::Str),
        any::<i64>().prop_map(Junk::Int),
        any::<f64>().prop_map(Junk::Float),
        any::<bool>().prop_map(Junk::Bool),
        Just(Junk::Null),
        Just(Junk::Map),
        Just(Junk::List),
        "[a-z]{0,4}".prop_map(Junk::Text),
    ]
}

const KEYS: &[&str] = &[
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
    "visitedAt",
    "household",
    "topics",
    "sentiment",
    "notes",
    "followUp",
    "linkedDispute",
    "name",
    "role",
    "at",
    "by",
    "kind",
    "level",
    "satisfied",
    "related",
    "duplicateOf",
    "needed",
    "done",
    "dueAt",
];

fn put_junk(doc: &mut AutoCommit, obj: &ObjId, key: &str, value: &Junk) -> Option<ObjId> {
    let result = match value {
        Junk::Str(s) => doc.put(obj, key, s.as_str()).map(|_| None),
        Junk::Int(i) => doc.put(obj, key, *i).map(|_| None),
        Junk::Float(f) => doc.put(obj, key, *f).map(|_| None),
        Junk::Bool(b) => doc.put(obj, key, *b).map(|_| None),
        Junk::Null => doc.put(obj, key, ScalarValue::Null).map(|_| None),
        Junk::Map => doc.put_object(obj, key, ObjType::Map).map(Some),
        Junk::List => doc.put_object(obj, key, ObjType::List).map(|list| {
            // Give lists an element so their entries are read too.
            doc.insert_object(&list, 0, ObjType::Map).ok()
        }),
        Junk::Text(s) => doc.put_object(obj, key, ObjType::Text).map(|text| {
            let _ = doc.splice_text(&text, 0, 0, s);
            None
        }),
    };
    result.ok().flatten()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Reading, validating and editing never panic, whatever a document
    /// holds.
    #[test]
    fn no_document_shape_makes_reading_or_validation_panic(
        base_is_dispute in any::<bool>(),
        writes in prop::collection::vec((0..KEYS.len(), junk(), any::<bool>()), 0..12),
    ) {
        let mut doc = if base_is_dispute { dispute_doc() } else { visit_doc() };
        let previous = doc.fork();
        let mut containers: Vec<ObjId> = vec![ROOT];
        for (key, value, nest) in &writes {
            let target = if *nest { containers.last().cloned().unwrap_or(ROOT) } else { ROOT };
            if let Some(created) = put_junk(&mut doc, &target, KEYS[*key], value) {
                containers.push(created);
            }
        }
        doc.commit();
        let _ = Record::read(&doc).map(|r| r.summary(DocumentId::random()));
        let _ = check(&mut doc, Some(&previous));
        let _ = check(&mut doc, None);
        let _ = record::set_title(&mut doc, &author(), "新标题");
        let _ = record::set_notes(&mut doc, &author(), "新记录");
        let _ = record::add_event(&mut doc, &author(), &NewEvent::new(EventKind::Note));
        let _ = record::set_topics(&mut doc, &author(), &BTreeSet::from([Topic::Other]));
        let _ = record::remove_party(&mut doc, &author(), 0);
        let _ = Record::read(&doc);
    }
}

/// `validate_at` through both readers, which must agree word for word.
fn check_at(
    doc: &mut AutoCommit,
    previous: Option<&AutoCommit>,
    now: i64,
) -> Result<(), ValidationErrors> {
    let size = doc.save().len();
    let limits = Limits::default();
    let verdict = record::validate_at(&*doc, previous, size, &limits, now);
    let view = Prefetched::new(&*doc);
    let previous_view = previous.map(Prefetched::new);
    let through_view = record::validate_at(&view, previous_view.as_ref(), size, &limits, now);
    assert_eq!(
        through_view.as_ref().map_err(ToString::to_string),
        verdict.as_ref().map_err(ToString::to_string),
    );
    verdict
}

fn codes(result: Result<(), ValidationErrors>) -> Vec<(String, &'static str)> {
    match result {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .iter()
            .map(|e| (e.field.clone(), e.kind.code()))
            .collect(),
    }
}

#[test]
fn times_beyond_a_day_ahead_of_the_clock_are_refused() {
    let allowance = record::FUTURE_ALLOWANCE_MILLIS;
    assert_eq!(allowance, DAY);
    // Created at T0: fine by a clock at T0, or one up to a day behind.
    let mut doc = dispute_doc();
    assert!(check_at(&mut doc, None, T0).is_ok());
    assert!(check_at(&mut doc, None, T0 - DAY).is_ok());
    // A clock more than a day behind the record's creation refuses it
    // (and its first event, "reported", of the same time).
    let errors = check_at(&mut doc, None, T0 - DAY - 1).expect_err("refused");
    assert_eq!(
        codes(Err(errors.clone())),
        vec![
            ("createdAt".to_owned(), "in_the_future"),
            ("events[0].at".to_owned(), "in_the_future")
        ]
    );
    assert_eq!(
        errors.as_slice()[0].to_string(),
        "field \"createdAt\": is 2026-01-01T00:00:00.000Z, more than a day ahead of the clock \
         that checks it (2025-12-30T23:59:59.999Z); is the device's clock right?"
    );
    // `validate` without a clock keeps its meaning: no time is judged.
    assert!(check(&mut doc, None).is_ok());

    // A new event dated next year is refused; one slightly ahead is not.
    let mut stored = dispute_doc();
    let next_year = changed(&mut stored, |d| {
        let events = list(d, "events");
        push_event(d, "note", None);
        let end = d.length(&events) - 1;
        let entry = d.get(&events, end).unwrap().unwrap().1;
        d.put(&entry, "at", ScalarValue::Timestamp(T0 + 365 * DAY))
            .unwrap();
    });
    assert_eq!(
        codes(check_at(&mut next_year.clone(), Some(&stored), T0)),
        vec![("events[1].at".to_owned(), "in_the_future")]
    );
    let slightly = changed(&mut stored, |d| push_event(d, "note", None));
    assert!(check_at(&mut slightly.clone(), Some(&stored), T0).is_ok());

    // Times already stored are not judged again: a later edit of a record
    // holding a future event passes.
    let mut later = next_year.clone();
    let edited = changed(&mut later, |d| d.put(ROOT, "title", "改").unwrap());
    assert!(check_at(&mut edited.clone(), Some(&next_year), T0).is_ok());
}

#[test]
fn a_visit_is_judged_by_when_it_happened_not_by_its_follow_up() {
    let mut visit = AutoCommit::new();
    let far = NewVisit {
        visited_at: T0 + 30 * DAY,
        ..new_visit()
    };
    record::create_visit(&mut visit, &author(), &far).unwrap();
    assert_eq!(
        codes(check_at(&mut visit, None, T0)),
        vec![("visitedAt".to_owned(), "in_the_future")]
    );
    // A follow-up due next month is a deadline: it may lie ahead.
    let mut due = AutoCommit::new();
    let ahead = NewVisit {
        follow_up_needed: true,
        follow_up_due: Some(T0 + 30 * DAY),
        ..new_visit()
    };
    record::create_visit(&mut due, &author(), &ahead).unwrap();
    assert!(check_at(&mut due, None, T0).is_ok());
    // Moving the visit's date far ahead later is refused too.
    let mut stored = visit_doc();
    let moved = changed(&mut stored, |d| {
        d.put(ROOT, "visitedAt", ScalarValue::Timestamp(T0 + 3 * DAY))
            .unwrap();
    });
    assert_eq!(
        codes(check_at(&mut moved.clone(), Some(&stored), T0)),
        vec![("visitedAt".to_owned(), "in_the_future")]
    );
}
