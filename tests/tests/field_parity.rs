//! The field app validates every edit before it commits, with the
//! JavaScript validator of `clients/js`. Both validators must give the same
//! verdict on every document: this test builds one corpus of valid and
//! invalid records (hostile shapes included), judges each with the Rust
//! validator, has `clients/js/test/parity-cli.mjs` judge the same bytes, and
//! requires identical answers: the same fields with the same error codes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue};
use fengqiao_protocol::{DocumentId, VillageCode};
use fengqiao_shared::record::{
    Author, Limits, NewEvent, NewVisit, add_event, check_authorship, create_dispute, create_visit,
    mark_not_duplicate, set_risk, validate, validate_at,
};
use fengqiao_shared::vocab::{EventKind, Level, Risk, Sentiment, Topic};
use fengqiao_tests::{T0, sample_dispute, skip};
use serde_json::{Value, json};

const VILLAGE: &str = "500110101001";
const PERSON: &str = "cadre-a";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One document to judge: `after`, optionally against the stored
/// `before`, optionally with the sending person's authorship check.
struct Case {
    name: String,
    after: Vec<u8>,
    before: Option<Vec<u8>>,
    person: Option<&'static str>,
    /// The validating clock: both validators judge recorded times against
    /// it (none: times are not judged).
    now: Option<i64>,
}

fn actor(n: u8) -> ActorId {
    ActorId::from(vec![n; 20])
}

fn doc(n: u8) -> AutoCommit {
    AutoCommit::new().with_actor(actor(n))
}

fn author() -> Author {
    Author::new(PERSON, T0)
}

fn dispute() -> AutoCommit {
    let mut d = doc(1);
    create_dispute(
        &mut d,
        &author(),
        &sample_dispute(VILLAGE, "宅基地边界纠纷"),
    )
    .unwrap();
    d
}

fn visit() -> AutoCommit {
    let mut d = doc(1);
    let visit = NewVisit {
        village: VillageCode::new(VILLAGE).unwrap(),
        visited_at: T0,
        household: "王家 3 组 12 号".into(),
        group: Some("第三村民小组".into()),
        topics: [Topic::Livelihood, Topic::Health].into_iter().collect(),
        sentiment: Sentiment::Concern,
        notes: "反映饮水管道老化。".into(),
        follow_up_needed: true,
        follow_up_due: Some(T0 + 86_400_000),
        linked_dispute: None,
    };
    create_visit(&mut d, &author(), &visit).unwrap();
    d
}

/// A copy of `base` with `edit` applied by another actor.
fn edited(base: &mut AutoCommit, edit: impl FnOnce(&mut AutoCommit)) -> AutoCommit {
    let mut d = base.fork().with_actor(actor(2));
    edit(&mut d);
    d.commit();
    d
}

fn obj(d: &AutoCommit, parent: &automerge::ObjId, key: &str) -> automerge::ObjId {
    d.get(parent, key).unwrap().expect("present").1
}

fn long(n: usize) -> String {
    "纠".repeat(n)
}

fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |name: &str, after: &mut AutoCommit, before: Option<&mut AutoCommit>, person| {
        cases.push(Case {
            name: name.to_owned(),
            after: after.save(),
            before: before.map(|b| b.save()),
            person,
            now: None,
        });
    };

    // Valid records, as the Rust phone writes them.
    let mut base = dispute();
    add("dispute as created", &mut base.clone(), None, Some(PERSON));
    add("visit as created", &mut visit(), None, Some(PERSON));
    let mut timeline = edited(&mut base, |d| {
        let a = author();
        add_event(
            d,
            &a,
            &NewEvent::new(EventKind::Mediation).with_note("第一次调解"),
        )
        .unwrap();
        let mut escalated = NewEvent::new(EventKind::Escalated);
        escalated.level = Some(Level::Town);
        add_event(d, &a, &escalated).unwrap();
    });
    add(
        "events added",
        &mut timeline,
        Some(&mut base.clone()),
        Some(PERSON),
    );
    let mut a = edited(&mut base, |d| {
        set_risk(d, &author(), Risk::Medium).map(|_| ()).unwrap()
    });
    let mut b = base.fork().with_actor(actor(3));
    set_risk(&mut b, &author(), Risk::High).unwrap();
    a.merge(&mut b).unwrap();
    add(
        "risk conflict merged",
        &mut a,
        Some(&mut base.clone()),
        None,
    );
    let mut extra = edited(&mut base, |d| {
        d.put(ROOT, "township", "枫桥镇").unwrap();
        let m = d.put_object(ROOT, "extension", ObjType::Map).unwrap();
        d.put(&m, "count", 3).unwrap();
    });
    add(
        "unknown fields kept",
        &mut extra,
        Some(&mut base.clone()),
        None,
    );
    let mut scalar_title = edited(&mut base, |d| {
        d.put(ROOT, "title", "改为普通字符串").unwrap();
    });
    add("title as a scalar string", &mut scalar_title, None, None);

    // Wrong values and types.
    let puts: Vec<(&str, &str, ScalarValue)> = vec![
        ("unknown category", "category", "weather".into()),
        ("unknown risk", "risk", "severe".into()),
        ("risk as a number", "risk", ScalarValue::Int(3)),
        ("empty title", "title", "".into()),
        ("blank title", "title", "   ".into()),
        ("title too long", "title", long(20_001).as_str().into()),
        ("bad village", "village", "123".into()),
        ("village of a town", "village", "500110101".into()),
        ("schema from the future", "schema", ScalarValue::Int(2)),
        ("schema as text", "schema", "1".into()),
        ("createdAt as text", "createdAt", "yesterday".into()),
        ("createdBy as a number", "createdBy", ScalarValue::Int(7)),
        ("type unknown", "type", "petition".into()),
    ];
    for (name, key, value) in puts {
        let mut d = doc(1);
        create_dispute(&mut d, &author(), &sample_dispute(VILLAGE, "纠纷")).unwrap();
        d.put(ROOT, key, value.clone()).unwrap();
        add(name, &mut d, None, None);
        let mut changed = edited(&mut base, |d| {
            d.put(ROOT, key, value).unwrap();
        });
        add(
            &format!("{name}, as a later change"),
            &mut changed,
            Some(&mut base.clone()),
            None,
        );
    }
    let mut d = dispute();
    d.delete(ROOT, "title").unwrap();
    add("title missing", &mut d, None, None);
    let mut d = dispute();
    d.delete(ROOT, "type").unwrap();
    add("type missing", &mut d, None, None);
    let mut d = dispute();
    d.put_object(ROOT, "parties", ObjType::Map).unwrap();
    add("parties as a map", &mut d, None, None);
    let mut d = dispute();
    d.put(ROOT, "events", "none").unwrap();
    add("events as a string", &mut d, None, None);
    let mut d = dispute();
    let parties = obj(&d, &ROOT, "parties");
    let first = d.get(&parties, 0).unwrap().unwrap().1;
    d.put(&first, "role", "witness").unwrap();
    d.put(&first, "phone", 13800138000i64).unwrap();
    d.put(&first, "name", "").unwrap();
    add("party with bad role, phone and name", &mut d, None, None);
    let mut d = dispute();
    let parties = obj(&d, &ROOT, "parties");
    for i in 2..51 {
        let p = d.insert_object(&parties, i, ObjType::Map).unwrap();
        d.put(&p, "name", format!("当事人{i}")).unwrap();
        d.put(&p, "role", "other").unwrap();
    }
    add("too many parties", &mut d, None, None);
    let mut d = dispute();
    let events = obj(&d, &ROOT, "events");
    let e = d.insert_object(&events, 1, ObjType::Map).unwrap();
    d.put(&e, "at", ScalarValue::Timestamp(T0)).unwrap();
    d.put(&e, "by", PERSON).unwrap();
    d.put(&e, "kind", "petitioned").unwrap();
    d.put(&e, "level", "province").unwrap();
    d.put(&e, "satisfied", "yes").unwrap();
    add(
        "event with unknown kind, level and satisfied",
        &mut d,
        None,
        None,
    );
    // The closed loop: acceptance, return, assignment, 督办, archiving and
    // not-a-duplicate marks as the Rust phone and the server write them,
    // and the same events with their details missing or mistyped.
    let mut closed_loop = edited(&mut base, |d| {
        let a = author();
        add_event(d, &a, &NewEvent::escalated(Level::Town)).unwrap();
        add_event(d, &a, &NewEvent::returned("属村级调解范围")).unwrap();
        add_event(d, &a, &NewEvent::escalated(Level::Town)).unwrap();
        add_event(d, &a, &NewEvent::accepted(Some("同意受理".to_owned()))).unwrap();
        add_event(d, &a, &NewEvent::assigned("cadre-b")).unwrap();
        add_event(
            d,
            &a,
            &NewEvent::supervised("请于一周内办结", T0 + 7 * 86_400_000),
        )
        .unwrap();
        add_event(
            d,
            &a,
            &NewEvent::new(EventKind::Agreement).with_outcome("达成协议"),
        )
        .unwrap();
        add_event(d, &a, &NewEvent::followup(true)).unwrap();
        add_event(d, &a, &NewEvent::new(EventKind::Archived)).unwrap();
        mark_not_duplicate(d, &a, &DocumentId::random()).unwrap();
    });
    add(
        "closed loop events added",
        &mut closed_loop,
        Some(&mut base.clone()),
        Some(PERSON),
    );
    let mut d = dispute();
    let events = obj(&d, &ROOT, "events");
    let e = d.insert_object(&events, 1, ObjType::Map).unwrap();
    d.put(&e, "at", ScalarValue::Timestamp(T0)).unwrap();
    d.put(&e, "by", PERSON).unwrap();
    d.put(&e, "kind", "assigned").unwrap();
    d.put(&e, "dueAt", "next week").unwrap();
    let e = d.insert_object(&events, 2, ObjType::Map).unwrap();
    d.put(&e, "at", ScalarValue::Timestamp(T0)).unwrap();
    d.put(&e, "by", PERSON).unwrap();
    d.put(&e, "kind", "supervised").unwrap();
    d.put(&e, "assignee", 7).unwrap();
    let e = d.insert_object(&events, 3, ObjType::Map).unwrap();
    d.put(&e, "at", ScalarValue::Timestamp(T0)).unwrap();
    d.put(&e, "by", PERSON).unwrap();
    d.put(&e, "kind", "assigned").unwrap();
    d.put(&e, "assignee", " ").unwrap();
    add(
        "assignment and supervision without their details",
        &mut d,
        None,
        None,
    );
    let mut d = dispute();
    let links = obj(&d, &ROOT, "links");
    let marks = d.put_object(&links, "notDuplicates", ObjType::Map).unwrap();
    d.put(&marks, "not-an-id", true).unwrap();
    d.put(&marks, DocumentId::random().to_string(), "yes")
        .unwrap();
    add("bad not-a-duplicate marks", &mut d, None, None);
    let mut rewritten = closed_loop.fork();
    let events = obj(&rewritten, &ROOT, "events");
    let supervision = rewritten.get(&events, 7).unwrap().unwrap().1;
    rewritten
        .put(
            &supervision,
            "dueAt",
            ScalarValue::Timestamp(T0 + 90 * 86_400_000),
        )
        .unwrap();
    rewritten.put(&supervision, "assignee", "cadre-c").unwrap();
    add(
        "a supervision deadline moved later",
        &mut rewritten,
        Some(&mut closed_loop.clone()),
        None,
    );
    let mut d = dispute();
    let links = obj(&d, &ROOT, "links");
    d.put(&links, "duplicateOf", "not-an-id").unwrap();
    let related = obj(&d, &links, "related");
    d.put(&related, "2Zz", true).unwrap();
    d.put(&related, DocumentId::random().to_string(), true)
        .unwrap();
    add("bad document ids in links", &mut d, None, None);
    let mut d = dispute();
    let assignees = obj(&d, &ROOT, "assignees");
    d.put(&assignees, "cadre-b", "yes").unwrap();
    add("assignee set to a string", &mut d, None, None);

    // Visits.
    let mut v = visit();
    let topics = obj(&v, &ROOT, "topics");
    v.put(&topics, "weather", true).unwrap();
    v.put(ROOT, "sentiment", "angry").unwrap();
    add("visit with unknown topic and sentiment", &mut v, None, None);
    let mut v = visit();
    let follow = obj(&v, &ROOT, "followUp");
    v.put(&follow, "needed", "yes").unwrap();
    v.put(&follow, "dueAt", "tomorrow").unwrap();
    v.put(ROOT, "visitedAt", "today").unwrap();
    v.put(ROOT, "household", "").unwrap();
    add("visit with wrong follow-up and times", &mut v, None, None);
    let mut v = visit();
    v.put(ROOT, "linkedDispute", "0OIl").unwrap();
    v.put(ROOT, "group", 3).unwrap();
    add(
        "visit with a bad linked dispute and group",
        &mut v,
        None,
        None,
    );

    // Size and cost.
    let mut d = dispute();
    for i in 0..11 {
        d.put(ROOT, format!("extra{i}"), long(19_000)).unwrap();
    }
    add("too much text in unknown fields", &mut d, None, None);
    let mut d = dispute();
    let nested = d.put_object(ROOT, "deep", ObjType::Map).unwrap();
    d.put(&nested, long(20_001), 1).unwrap();
    add("an over-long map key", &mut d, None, None);
    let mut d = dispute();
    let text = d.put_object(ROOT, "scratch", ObjType::Text).unwrap();
    for _ in 0..41 {
        d.splice_text(&text, 0, 0, &"删".repeat(5_000)).unwrap();
        d.splice_text(&text, 0, 5_000, "").unwrap();
        d.commit();
    }
    add("insert-then-delete history", &mut d, None, None);

    // Against the stored version.
    for key in ["village", "createdAt", "createdBy", "type", "schema"] {
        let mut changed = edited(&mut base, |d| match key {
            "createdAt" => {
                d.put(ROOT, key, ScalarValue::Timestamp(T0 + 1)).unwrap();
            }
            "schema" => {
                // The same value written again: no change of meaning.
                d.put(ROOT, key, ScalarValue::Int(1)).unwrap();
            }
            "village" => {
                d.put(ROOT, key, "500110101002").unwrap();
            }
            "type" => {
                d.put(ROOT, key, "visit").unwrap();
            }
            _ => {
                d.put(ROOT, key, "cadre-z").unwrap();
            }
        });
        add(
            &format!("{key} changed"),
            &mut changed,
            Some(&mut base.clone()),
            None,
        );
    }
    let mut removed = edited(&mut timeline.clone(), |d| {
        let list = obj(d, &ROOT, "events");
        d.delete(&list, 1).unwrap();
    });
    add(
        "an event removed",
        &mut removed,
        Some(&mut timeline.clone()),
        None,
    );
    let mut altered = edited(&mut timeline.clone(), |d| {
        let list = obj(d, &ROOT, "events");
        let e = d.get(&list, 1).unwrap().unwrap().1;
        d.put(&e, "note", "改写了").unwrap();
    });
    add(
        "an event altered",
        &mut altered,
        Some(&mut timeline.clone()),
        None,
    );
    let mut one = dispute();
    let mut two = doc(4);
    create_dispute(
        &mut two,
        &Author::new("cadre-b", T0 + 5),
        &sample_dispute(VILLAGE, "另一份"),
    )
    .unwrap();
    one.merge(&mut two).unwrap();
    add("two creations merged", &mut one, None, None);

    // Authorship.
    add(
        "created by someone else",
        &mut dispute(),
        None,
        Some("cadre-b"),
    );
    add(
        "events by someone else",
        &mut timeline.clone(),
        Some(&mut base.clone()),
        Some("cadre-b"),
    );

    // Not records at all.
    add("an empty document", &mut doc(1), None, None);
    let mut d = doc(1);
    d.put(ROOT, "type", ScalarValue::Int(1)).unwrap();
    add("type as a number", &mut d, None, None);
    cases.extend(timed_corpus());
    cases
}

/// Recorded times judged against a clock at [`T0`]: far ahead, slightly
/// ahead, at the allowance and just beyond it, in every time field and
/// form, and what is not judged (stored times, deadlines, no clock).
fn timed_corpus() -> Vec<Case> {
    const DAY: i64 = 86_400_000;
    let mut cases = Vec::new();
    let mut add = |name: &str, after: &mut AutoCommit, before: Option<&mut AutoCommit>| {
        cases.push(Case {
            name: name.to_owned(),
            after: after.save(),
            before: before.map(|b| b.save()),
            person: Some(PERSON),
            now: Some(T0),
        });
    };
    let created_at = |at: i64| {
        let mut d = doc(1);
        create_dispute(
            &mut d,
            &Author::new(PERSON, at),
            &sample_dispute(VILLAGE, "时间"),
        )
        .unwrap();
        d
    };
    add("clock: created now", &mut created_at(T0), None);
    add(
        "clock: created an hour ahead",
        &mut created_at(T0 + 3_600_000),
        None,
    );
    add(
        "clock: created a day ahead",
        &mut created_at(T0 + DAY),
        None,
    );
    add(
        "clock: created a day and a millisecond ahead",
        &mut created_at(T0 + DAY + 1),
        None,
    );
    add(
        "clock: created next year",
        &mut created_at(T0 + 365 * DAY),
        None,
    );
    add(
        "clock: created last year",
        &mut created_at(T0 - 365 * DAY),
        None,
    );

    let mut base = dispute();
    let event_at = |base: &mut AutoCommit, at: i64| {
        let mut d = base.fork().with_actor(actor(2));
        add_event(
            &mut d,
            &Author::new(PERSON, at),
            &NewEvent::new(EventKind::Note),
        )
        .unwrap();
        d
    };
    add(
        "clock: an event next year",
        &mut event_at(&mut base, T0 + 365 * DAY),
        Some(&mut base.clone()),
    );
    add(
        "clock: an event twelve hours ahead",
        &mut event_at(&mut base, T0 + DAY / 2),
        Some(&mut base.clone()),
    );
    let mut ahead = event_at(&mut base, T0 + 365 * DAY);
    let mut later = edited(&mut ahead, |d| {
        set_risk(d, &Author::new(PERSON, T0), Risk::High).unwrap();
    });
    add(
        "clock: a stored event next year, then another edit",
        &mut later,
        Some(&mut ahead.clone()),
    );
    for (form, value) in [
        ("an integer", ScalarValue::Int(T0 + 40 * DAY)),
        ("a float", ScalarValue::F64((T0 + 40 * DAY) as f64 + 0.5)),
        (
            "an unsigned integer",
            ScalarValue::Uint((T0 + 40 * DAY) as u64),
        ),
        ("a timestamp at i64::MAX", ScalarValue::Timestamp(i64::MAX)),
    ] {
        let mut d = edited(&mut base, |d| {
            let list = obj(d, &ROOT, "events");
            let end = d.length(&list);
            let e = d.insert_object(&list, end, ObjType::Map).unwrap();
            d.put(&e, "at", value).unwrap();
            d.put(&e, "by", PERSON).unwrap();
            d.put(&e, "kind", "note").unwrap();
        });
        add(
            &format!("clock: an event ahead as {form}"),
            &mut d,
            Some(&mut base.clone()),
        );
    }

    let visit_at = |visited_at: i64, due: Option<i64>| {
        let mut d = doc(1);
        let visit = NewVisit {
            village: VillageCode::new(VILLAGE).unwrap(),
            visited_at,
            household: "王家".into(),
            group: None,
            topics: [Topic::Livelihood].into_iter().collect(),
            sentiment: Sentiment::Neutral,
            notes: String::new(),
            follow_up_needed: due.is_some(),
            follow_up_due: due,
            linked_dispute: None,
        };
        create_visit(&mut d, &Author::new(PERSON, T0), &visit).unwrap();
        d
    };
    add(
        "clock: a visit a month ahead",
        &mut visit_at(T0 + 30 * DAY, None),
        None,
    );
    add(
        "clock: a follow-up due next month",
        &mut visit_at(T0, Some(T0 + 30 * DAY)),
        None,
    );
    let mut stored = visit_at(T0, None);
    let mut moved = edited(&mut stored, |d| {
        d.put(ROOT, "visitedAt", ScalarValue::Timestamp(T0 + 2 * DAY))
            .unwrap();
    });
    add(
        "clock: a visit moved two days ahead",
        &mut moved,
        Some(&mut stored.clone()),
    );
    let mut same = edited(&mut stored, |d| {
        d.put(ROOT, "visitedAt", ScalarValue::Int(T0)).unwrap();
    });
    add(
        "clock: a visit's date rewritten as the same time",
        &mut same,
        Some(&mut stored.clone()),
    );
    // Without a clock (as the server re-reads what it stores), nothing is
    // judged by time.
    let mut far = created_at(T0 + 365 * DAY);
    cases.push(Case {
        name: "no clock: created next year".to_owned(),
        after: far.save(),
        before: None,
        person: Some(PERSON),
        now: None,
    });
    cases
}

/// The Rust verdict: every (field, code) reported, sorted.
fn rust_verdict(case: &Case) -> BTreeSet<(String, String)> {
    let mut verdict = BTreeSet::new();
    let Ok(after) = AutoCommit::load(&case.after) else {
        verdict.insert((String::new(), "bad_document".to_owned()));
        return verdict;
    };
    let before = case
        .before
        .as_ref()
        .map(|b| AutoCommit::load(b).expect("loads"));
    let verdict_of = match case.now {
        Some(now) => validate_at(
            &after,
            before.as_ref(),
            case.after.len(),
            &Limits::default(),
            now,
        ),
        None => validate(
            &after,
            before.as_ref(),
            case.after.len(),
            &Limits::default(),
        ),
    };
    if let Err(errors) = verdict_of {
        for e in errors.iter() {
            verdict.insert((e.field.clone(), e.kind.code().to_owned()));
        }
    }
    if let Some(person) = case.person
        && let Err(errors) = check_authorship(&after, before.as_ref(), person)
    {
        for e in errors.iter() {
            verdict.insert((e.field.clone(), e.kind.code().to_owned()));
        }
    }
    verdict
}

#[test]
fn the_javascript_validator_agrees_with_the_rust_one_on_every_document() {
    let root = repo_root();
    let cli = root.join("clients/js/test/parity-cli.mjs");
    let ready = fengqiao_tests::browser::node_available()
        && root.join("node_modules/@automerge/automerge").exists()
        && cli.exists();
    if !ready {
        skip(
            "the JavaScript/Rust validator parity test",
            "it needs Node.js and the web packages (run `npm ci` at the repository root)",
        );
        return;
    }
    let cases = corpus();
    let dir = tempfile::tempdir().unwrap();
    let mut listed = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let after = format!("{i}-after.am");
        std::fs::write(dir.path().join(&after), &case.after).unwrap();
        let mut entry = json!({ "name": case.name, "after": after });
        if let Some(before) = &case.before {
            let name = format!("{i}-before.am");
            std::fs::write(dir.path().join(&name), before).unwrap();
            entry["before"] = json!(name);
        }
        if let Some(person) = case.person {
            entry["person"] = json!(person);
        }
        if let Some(now) = case.now {
            entry["now"] = json!(now);
        }
        listed.push(entry);
    }
    std::fs::write(
        dir.path().join("cases.json"),
        serde_json::to_vec(&listed).unwrap(),
    )
    .unwrap();
    let output = Command::new("node")
        .arg(&cli)
        .arg(dir.path())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "parity-cli failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut verdicts = std::collections::BTreeMap::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("one JSON verdict per line");
        let name = v["name"].as_str().expect("a name").to_owned();
        let errors: BTreeSet<(String, String)> = v["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| {
                (
                    e[0].as_str().unwrap_or_default().to_owned(),
                    e[1].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        verdicts.insert(name, errors);
    }
    let mut disagreements = Vec::new();
    let mut invalid = 0;
    for case in &cases {
        let rust = rust_verdict(case);
        if !rust.is_empty() {
            invalid += 1;
        }
        match verdicts.get(&case.name) {
            Some(js) if *js == rust => {}
            Some(js) => {
                disagreements.push(format!("{}:\n  rust {rust:?}\n  js   {js:?}", case.name))
            }
            None => disagreements.push(format!("{}: no JavaScript verdict", case.name)),
        }
    }
    assert!(
        invalid > 30 && invalid < cases.len() - 4,
        "{invalid} of {} invalid",
        cases.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} of {} documents judged differently:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements.join("\n")
    );
}

#[test]
fn the_corpus_holds_the_shapes_it_names() {
    let cases = corpus();
    let verdict = |name: &str| {
        let case = cases
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no case {name:?}"));
        rust_verdict(case)
            .into_iter()
            .map(|(field, code)| format!("{field}:{code}"))
            .collect::<Vec<_>>()
    };
    if std::env::var_os("FENGQIAO_PARITY_PRINT").is_some() {
        for case in &cases {
            eprintln!("{:50} {:?}", case.name, verdict(&case.name));
        }
    }
    for valid in [
        "dispute as created",
        "visit as created",
        "events added",
        "risk conflict merged",
        "unknown fields kept",
        "title as a scalar string",
        "closed loop events added",
    ] {
        assert!(verdict(valid).is_empty(), "{valid}: {:?}", verdict(valid));
    }
    assert_eq!(verdict("unknown risk"), ["risk:unknown_value"]);
    assert_eq!(
        verdict("assignment and supervision without their details"),
        [
            "events[1].assignee:missing_field",
            "events[1].dueAt:wrong_type",
            "events[2].assignee:wrong_type",
            "events[2].dueAt:missing_field",
            "events[3].assignee:empty",
        ]
    );
    assert_eq!(
        verdict("a supervision deadline moved later"),
        ["events[7]:timeline_rewritten"]
    );
    assert_eq!(verdict("too many parties"), ["parties:too_many"]);
    assert_eq!(verdict("village changed"), ["village:immutable_changed"]);
    assert_eq!(
        verdict("created by someone else"),
        ["createdBy:not_the_sender", "events[0].by:not_the_sender"]
    );
    assert!(verdict("schema changed").is_empty(), "the same value again");
    assert_eq!(verdict("insert-then-delete history"), [":too_much_history"]);
    for valid in [
        "clock: created now",
        "clock: created an hour ahead",
        "clock: created a day ahead",
        "clock: created last year",
        "clock: an event twelve hours ahead",
        "clock: a stored event next year, then another edit",
        "clock: a follow-up due next month",
        "clock: a visit's date rewritten as the same time",
        "no clock: created next year",
    ] {
        assert!(verdict(valid).is_empty(), "{valid}: {:?}", verdict(valid));
    }
    for ahead in [
        "clock: created a day and a millisecond ahead",
        "clock: created next year",
    ] {
        assert_eq!(
            verdict(ahead),
            ["createdAt:in_the_future", "events[0].at:in_the_future"],
            "{ahead}"
        );
    }
    for ahead in [
        "clock: an event next year",
        "clock: an event ahead as an integer",
        "clock: an event ahead as a float",
        "clock: an event ahead as an unsigned integer",
        "clock: an event ahead as a timestamp at i64::MAX",
    ] {
        assert_eq!(verdict(ahead), ["events[1].at:in_the_future"], "{ahead}");
    }
    assert_eq!(
        verdict("clock: a visit a month ahead"),
        ["visitedAt:in_the_future"]
    );
    assert_eq!(
        verdict("clock: a visit moved two days ahead"),
        ["visitedAt:in_the_future"]
    );
    assert!(
        verdict("an event removed")
            .iter()
            .any(|v| v.ends_with("timeline_rewritten"))
    );
}
