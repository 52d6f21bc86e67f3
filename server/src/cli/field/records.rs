//! Disputes and visits on the phone: record, edit, list, show. Everything
//! here works offline against the replica; nothing touches the network.

use std::collections::{BTreeSet, HashSet};

use automerge::{AutoCommit, ObjId, ROOT, ReadDoc, ScalarValue, Value};
use fengqiao_protocol::DocumentId;
use fengqiao_shared::record::{
    self, Dispute, EditError, Event, NewDispute, NewEvent, NewVisit, Record, Visit, fields,
};
use fengqiao_shared::replica::RecordFilter;
use fengqiao_shared::summary::Summary;
use fengqiao_shared::vocab::{EventKind, Level, RecordKind, Stage, Status};

use super::lang::{Lang, Names};
use super::phone::Phone;
use super::text::{self, Msg};
use super::words::{Word, allowed, clip, count, format_date, table};
use super::{
    EditDisputeArgs, EditVisitArgs, EventArgs, ListDisputeArgs, ListVisitArgs, NewDisputeArgs,
    NewVisitArgs,
};
use crate::cli::{CliError, format_time};

const SYNC_HINT: &str = "saved on this phone; `fengqiao field sync` sends it when there is signal";

/// Applies `ops` to a record, unless they would change nothing. Returns
/// whether anything was saved.
///
/// The operations run first on a scratch copy, so that an edit that
/// changes nothing leaves the record as it was (and not waiting for a
/// sync); then for real, validated and saved by the replica.
fn apply(
    phone: &Phone,
    id: &DocumentId,
    ops: impl Fn(&mut AutoCommit) -> Result<(), EditError>,
) -> Result<bool, CliError> {
    let Some(mut scratch) = phone.check(phone.replica.document(id))? else {
        return Err(CliError::new(format!(
            "the record {id} was discarded on this phone; `fengqiao field sync` fetches the server's copy"
        )));
    };
    let before = scratch.get_heads();
    ops(&mut scratch).map_err(|e| CliError::new(format!("nothing was saved: {e}")))?;
    if scratch.get_heads() == before {
        return Ok(false);
    }
    phone.check(phone.replica.edit(id, ops))?;
    Ok(true)
}

fn read(phone: &Phone, id: &DocumentId) -> Result<Record, CliError> {
    phone.check(phone.replica.record(id))
}

fn dispute(phone: &Phone, id: &DocumentId) -> Result<Dispute, CliError> {
    match read(phone, id)? {
        Record::Dispute(dispute) => Ok(dispute),
        Record::Visit(_) => Err(CliError::new(format!(
            "{id} is a household visit, not a dispute; use `fengqiao field visit show {id}`"
        ))),
    }
}

fn visit(phone: &Phone, id: &DocumentId) -> Result<Visit, CliError> {
    match read(phone, id)? {
        Record::Visit(visit) => Ok(visit),
        Record::Dispute(_) => Err(CliError::new(format!(
            "{id} is a dispute, not a household visit; use `fengqiao field dispute show {id}`"
        ))),
    }
}

/// `escalated (town)`, `mediating`.
pub fn status_text(status: Status, level: Option<Level>) -> String {
    match (status, level) {
        (Status::Escalated, Some(level)) => format!("escalated ({level})"),
        (status, _) => status.as_str().to_owned(),
    }
}

/// Every concurrent value of a word field, when phones disagree on it.
fn disagreement(doc: &AutoCommit, obj: &ObjId, key: &str) -> Vec<String> {
    let mut values: Vec<String> = doc
        .get_all(obj, key)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(value, _)| match value {
            Value::Scalar(scalar) => match scalar.as_ref() {
                ScalarValue::Str(text) => Some(text.to_string()),
                _ => None,
            },
            Value::Object(_) => None,
        })
        .collect();
    values.sort();
    values.dedup();
    if values.len() > 1 { values } else { Vec::new() }
}

/// The sync state of a record, in words.
fn sync_state(phone: &Phone, id: &DocumentId) -> Result<String, CliError> {
    let lang = phone.lang;
    let state = phone.check(phone.replica.state(id))?;
    if let Some(error) = state.attention {
        return Ok(lang.say(
            text::SH_ATTENTION,
            &[
                ("code", error.code.as_str()),
                ("message", &error.message),
                ("id", &id.to_string()),
            ],
        ));
    }
    let dirty = phone.check(phone.replica.dirty())?;
    Ok(lang
        .text(if dirty.contains(id) {
            text::SH_UNSYNCED
        } else {
            text::SH_ON_SERVER
        })
        .to_owned())
}

/// A person by name: this phone's cadre, a person the server named, or
/// "another phone"; never an id.
fn person(phone: &Phone, names: &Names, id: &str) -> String {
    match &phone.settings.person_name {
        Some(name) if id == phone.settings.cadre && !name.trim().is_empty() => name.clone(),
        _ => names.person(id, phone.lang),
    }
}

/// Where phones disagreed on a word field, in the phone's language.
fn disagreed<T: Word>(lang: Lang, values: Vec<String>, rule: Msg) -> String {
    if values.is_empty() {
        return String::new();
    }
    let words: Vec<String> = values
        .iter()
        .map(|v| match (lang, T::all().iter().find(|w| w.wire() == v)) {
            (Lang::Zh, Some(word)) => word.zh().to_owned(),
            _ => v.clone(),
        })
        .collect();
    lang.say(rule, &[("values", &words.join(lang.pick("、", ", ")))])
}

// ---------------------------------------------------------------- disputes

pub fn new_dispute(phone: &Phone, args: NewDisputeArgs) -> Result<(), CliError> {
    let village = phone.village(args.village)?;
    let author = phone.author(args.at);
    let new = NewDispute {
        village: village.clone(),
        title: args.title,
        description: args.description,
        category: args.category,
        risk: args.risk,
        parties: args.parties,
        assignees: args.assignees,
    };
    let id = phone.check(
        phone
            .replica
            .create(|doc| record::create_dispute(doc, &author, &new)),
    )?;
    println!("{id}");
    eprintln!(
        "recorded dispute {:?} in village {village} ({}, risk {}): {SYNC_HINT}",
        new.title.trim(),
        new.category,
        new.risk
    );
    Ok(())
}

pub fn edit_dispute(phone: &Phone, args: EditDisputeArgs) -> Result<(), CliError> {
    let id = phone.resolve(&args.id)?;
    let current = dispute(phone, &id)?;
    let mut changes = Vec::new();
    if let Some(title) = &args.title {
        changes.push(format!("title {:?}", clip(title, 30)));
    }
    if args.description.is_some() {
        changes.push("description".to_owned());
    }
    if let Some(category) = args.category {
        changes.push(format!("category {category}"));
    }
    if let Some(risk) = args.risk {
        changes.push(format!("risk {risk}"));
    }
    let mut removals = args.remove_parties.clone();
    removals.sort_unstable();
    removals.dedup();
    for &number in &removals {
        if number == 0 || number > current.parties.len() {
            return Err(CliError::new(format!(
                "there is no party number {number}: the dispute has {}; \
                 `fengqiao field dispute show {id}` numbers them",
                count(current.parties.len(), "party", "parties")
            )));
        }
        changes.push(format!("−party {}", current.parties[number - 1].name));
    }
    for party in &args.add_parties {
        changes.push(format!("+party {}", party.name));
    }
    for cadre in &args.assign {
        changes.push(format!("+{cadre}"));
    }
    for cadre in &args.unassign {
        changes.push(format!("−{cadre}"));
    }
    if changes.is_empty() {
        return Err(CliError::new(
            "nothing to change: pass one or more of --title, --description, --category, --risk, \
             --add-party, --remove-party, --assign, --unassign (to record what happened, use \
             `fengqiao field dispute event`)",
        ));
    }
    let author = phone.author(args.at);
    let saved = apply(phone, &id, |doc| {
        if let Some(title) = &args.title {
            record::set_title(doc, &author, title)?;
        }
        if let Some(description) = &args.description {
            record::set_description(doc, &author, description)?;
        }
        if let Some(category) = args.category {
            record::set_category(doc, &author, category)?;
        }
        if let Some(risk) = args.risk {
            record::set_risk(doc, &author, risk)?;
        }
        // Highest first, so the numbers of the others stay right.
        for &number in removals.iter().rev() {
            record::remove_party(doc, &author, number - 1)?;
        }
        for party in &args.add_parties {
            record::add_party(doc, &author, party)?;
        }
        for cadre in &args.assign {
            record::assign(doc, &author, cadre)?;
        }
        for cadre in &args.unassign {
            record::unassign(doc, &author, cadre)?;
        }
        Ok(())
    })?;
    if saved {
        println!(
            "edited {:?}: {}; {SYNC_HINT}",
            clip(&current.title, 40),
            changes.join(", ")
        );
    } else {
        println!(
            "nothing changed: {:?} already reads that way",
            clip(&current.title, 40)
        );
    }
    Ok(())
}

pub fn add_event(phone: &Phone, args: EventArgs) -> Result<(), CliError> {
    let id = phone.resolve(&args.id)?;
    let current = dispute(phone, &id)?;
    match (args.kind, args.level) {
        (EventKind::Reported, _) => {
            return Err(CliError::new(
                "a dispute is reported once, when it is recorded (`fengqiao field dispute new`); \
                 add what happened next: mediation, agreement, resolved, failed, escalated, \
                 reopened, followup or note",
            ));
        }
        (EventKind::Escalated, None) => {
            return Err(CliError::new(format!(
                "an escalation needs the level it goes to: add --level LEVEL, one of {}",
                allowed::<Level>()
            )));
        }
        (EventKind::Escalated, Some(_)) | (_, None) => {}
        (kind, Some(_)) => {
            return Err(CliError::new(format!(
                "only an escalation has a level; drop --level from this {kind} event"
            )));
        }
    }
    if args.satisfied.is_some() && args.kind != EventKind::Followup {
        return Err(CliError::new(format!(
            "--satisfied belongs to a follow-up (`… event {} followup --satisfied true`), not to a {} event",
            args.id, args.kind
        )));
    }
    let event = NewEvent {
        kind: args.kind,
        level: args.level,
        outcome: args.outcome.clone(),
        note: args.note.clone(),
        satisfied: args.satisfied,
        // Assignments and 督办 are made by officials on the dashboard.
        assignee: None,
        due: None,
    };
    let author = phone.author(args.at);
    apply(phone, &id, |doc| {
        record::add_event(doc, &author, &event).map(|_| ())
    })?;
    let after = dispute(phone, &id)?;
    println!(
        "added {} to {:?} on {}: status {}; {SYNC_HINT}",
        event_name(args.kind, args.level),
        clip(&current.title, 40),
        format_time(author.at),
        status_text(after.status(), after.escalation_level())
    );
    Ok(())
}

fn event_name(kind: EventKind, level: Option<Level>) -> String {
    match level {
        Some(level) => format!("{kind} ({level})"),
        None => kind.as_str().to_owned(),
    }
}

fn flags(
    summary: &Summary,
    dirty: &HashSet<DocumentId>,
    attention: &HashSet<DocumentId>,
    lang: Lang,
) -> String {
    if attention.contains(&summary.id) {
        lang.pick("需处理", "ATTENTION").to_owned()
    } else if dirty.contains(&summary.id) {
        lang.pick("未同步", "unsynced").to_owned()
    } else {
        String::new()
    }
}

fn marks(phone: &Phone) -> Result<(HashSet<DocumentId>, HashSet<DocumentId>), CliError> {
    let dirty = phone.check(phone.replica.dirty())?.into_iter().collect();
    let attention = phone
        .check(phone.replica.needing_attention())?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    Ok((dirty, attention))
}

pub fn list_disputes(phone: &Phone, args: ListDisputeArgs) -> Result<(), CliError> {
    let filter = RecordFilter {
        kind: Some(RecordKind::Dispute),
        unsynced_only: args.unsynced,
        text: args.text.clone(),
    };
    let summaries: Vec<Summary> = phone
        .check(phone.replica.list(&filter))?
        .into_iter()
        .filter(|s| args.status.is_none() || s.status == args.status)
        .collect();
    if summaries.is_empty() {
        let filtered = args.status.is_some() || args.text.is_some() || args.unsynced;
        if args.unsynced && args.status.is_none() && args.text.is_none() {
            println!("no unsynced disputes: every dispute on this phone is on the server");
        } else if filtered {
            println!(
                "no disputes on this phone match; `fengqiao field dispute list` shows them all"
            );
        } else {
            println!(
                "no disputes on this phone yet; record one with \
                 `fengqiao field dispute new --title …`, or receive them with `fengqiao field sync`"
            );
        }
        return Ok(());
    }
    let (dirty, attention) = marks(phone)?;
    let lang = phone.lang;
    let names = phone.names();
    let header = match lang {
        Lang::Zh => [
            "编号", "状态", "阶段", "风险", "类别", "村", "最近", "标题", "同步",
        ],
        Lang::En => [
            "id", "status", "stage", "risk", "category", "village", "last", "title", "sync",
        ],
    };
    let mut rows = vec![header.map(String::from).to_vec()];
    for s in &summaries {
        rows.push(vec![
            s.id.to_string(),
            s.status
                .map(|st| lang.status(st, s.escalation_level))
                .unwrap_or_default(),
            s.loop_stage()
                .map(|st| lang.word(st).to_owned())
                .unwrap_or_default(),
            s.risk.map(|r| lang.word(r).to_owned()).unwrap_or_default(),
            s.category
                .map(|c| lang.word(c).to_owned())
                .unwrap_or_default(),
            names.place(s.village.as_str()),
            format_date(s.last_activity),
            clip(&s.title, 36),
            flags(s, &dirty, &attention, lang),
        ]);
    }
    print!("{}", table(&rows));
    println!(
        "{}",
        lang.count(summaries.len(), "件纠纷", "dispute", "disputes")
    );
    Ok(())
}

pub fn show_dispute(phone: &Phone, text: &str) -> Result<(), CliError> {
    let id = phone.resolve(text)?;
    let d = dispute(phone, &id)?;
    let doc = phone.check(phone.replica.document(&id))?;
    let lang = phone.lang;
    let names = phone.names();
    let conflict = |key: &str| {
        doc.as_ref()
            .map(|doc| disagreement(doc, &ROOT, key))
            .unwrap_or_default()
    };
    let row = |label: Msg, value: &str| println!("{}", lang.row(label, value));
    let nothing = lang.text(text::NOTHING);

    println!("{}", d.title);
    row(text::SH_ID, &id.to_string());
    row(text::SH_VILLAGE, &names.place(d.header.village.as_str()));
    row(
        text::SH_STATUS,
        &lang.status(d.status(), d.escalation_level()),
    );
    row(text::SH_STAGE, &stage_line(&d, lang));
    if let Some(due) = d.case_status().supervision_due {
        let mut line = lang.say(text::SH_SUPERVISED_IS, &[("time", &format_time(due))]);
        // The note of the 督办 in effect: the latest with this deadline.
        if let Some(note) = d
            .timeline()
            .into_iter()
            .filter(|e| e.kind == EventKind::Supervised && e.due == Some(due))
            .filter_map(|e| e.note.clone())
            .next_back()
        {
            line.push_str(&match lang {
                Lang::Zh => format!("（{note}）"),
                Lang::En => format!(" ({note})"),
            });
        }
        row(text::SH_SUPERVISED, &line);
    }
    row(
        text::SH_CATEGORY,
        &format!(
            "{}{}",
            d.category.map_or(nothing, |c| lang.word(c)),
            disagreed::<fengqiao_shared::vocab::Category>(
                lang,
                conflict(fields::CATEGORY),
                text::DISAGREED_LATEST
            )
        ),
    );
    row(
        text::SH_RISK,
        &format!(
            "{}{}",
            d.risk.map_or(nothing, |r| lang.word(r)),
            disagreed::<fengqiao_shared::vocab::Risk>(
                lang,
                conflict(fields::RISK),
                text::DISAGREED_HIGHEST
            )
        ),
    );
    row(
        text::SH_REPORTED,
        &lang.say(
            text::SH_BY,
            &[
                ("time", &format_time(d.header.created_at)),
                ("who", &person(phone, &names, &d.header.created_by)),
            ],
        ),
    );
    if d.parties.is_empty() {
        row(text::SH_PARTIES, nothing);
    }
    for (index, party) in d.parties.iter().enumerate() {
        let mut line = format!("{}. {}  {}", index + 1, party.name, lang.word(party.role));
        if let Some(phone) = &party.phone {
            line.push_str(&format!("  {phone}"));
        }
        if let Some(note) = &party.note {
            line.push_str(&match lang {
                Lang::Zh => format!("（{note}）"),
                Lang::En => format!("  ({note})"),
            });
        }
        if index == 0 {
            row(text::SH_PARTIES, &line);
        } else {
            println!("              {line}");
        }
    }
    row(
        text::SH_ASSIGNEES,
        &if d.assignees.is_empty() {
            nothing.to_owned()
        } else {
            d.assignees
                .iter()
                .map(|p| person(phone, &names, p))
                .collect::<Vec<_>>()
                .join(lang.pick("、", ", "))
        },
    );
    if let Some(original) = &d.duplicate_of {
        row(
            text::SH_DUPLICATE,
            &lang.say(text::SH_DUPLICATE_OF, &[("id", &original.to_string())]),
        );
    }
    if !d.description.trim().is_empty() {
        println!("  {}", lang.text(text::SH_DESCRIPTION));
        for line in d.description.lines() {
            println!("    {line}");
        }
    }
    println!(
        "{}",
        lang.say(text::SH_TIMELINE, &[("n", &d.events.len().to_string())])
    );
    for event in d.timeline() {
        println!("    {}", event_line(phone, &names, event));
    }
    row(text::SH_SYNC, &sync_state(phone, &id)?);
    Ok(())
}

fn event_line(phone: &Phone, names: &Names, event: &Event) -> String {
    let lang = phone.lang;
    let what = match (event.level, lang) {
        (Some(level), Lang::Zh) => format!("{}（{}）", event.kind.label_zh(), level.label_zh()),
        (Some(level), Lang::En) => format!("{} ({level})", event.kind),
        (None, lang) => lang.word(event.kind).to_owned(),
    };
    let mut parts = vec![
        format_time(event.at),
        what,
        lang.say(text::EV_BY, &[("who", &person(phone, names, &event.by))]),
    ];
    if let Some(outcome) = &event.outcome {
        parts.push(lang.say(text::EV_OUTCOME, &[("text", outcome)]));
    }
    if let Some(note) = &event.note {
        parts.push(lang.say(text::EV_NOTE, &[("text", note)]));
    }
    if let Some(satisfied) = event.satisfied {
        parts.push(
            lang.text(if satisfied {
                text::EV_SATISFIED
            } else {
                text::EV_NOT_SATISFIED
            })
            .to_owned(),
        );
    }
    if let Some(handler) = &event.assignee {
        parts.push(lang.say(text::EV_HANDLER, &[("who", &person(phone, names, handler))]));
    }
    if let Some(due) = event.due {
        parts.push(lang.say(text::EV_DUE, &[("time", &format_time(due))]));
    }
    parts.join("  ")
}

/// `待受理（镇级）` / `pending (town)`, `调处中` / `handling`.
fn stage_line(d: &Dispute, lang: Lang) -> String {
    let stage = d.stage();
    match (stage, lang) {
        (Stage::Pending, Lang::Zh) => format!(
            "{}（{}）",
            stage.label_zh(),
            d.case_status().handling_level().label_zh()
        ),
        (Stage::Pending, Lang::En) => {
            format!("{} ({})", stage.as_str(), d.case_status().handling_level())
        }
        (stage, lang) => lang.word(stage).to_owned(),
    }
}

// ------------------------------------------------------------------ visits

pub fn new_visit(phone: &Phone, args: NewVisitArgs) -> Result<(), CliError> {
    let village = phone.village(args.village)?;
    let author = phone.author(args.at);
    let linked_dispute = match &args.dispute {
        Some(text) => {
            let id = phone.resolve(text)?;
            dispute(phone, &id)?;
            Some(id)
        }
        None => None,
    };
    let new = NewVisit {
        village: village.clone(),
        visited_at: author.at,
        household: args.household,
        group: args.group,
        topics: args.topics.into_iter().collect(),
        sentiment: args.sentiment,
        notes: args.notes,
        follow_up_needed: args.follow_up || args.follow_up_due.is_some(),
        follow_up_due: args.follow_up_due,
        linked_dispute,
    };
    let id = phone.check(
        phone
            .replica
            .create(|doc| record::create_visit(doc, &author, &new)),
    )?;
    println!("{id}");
    eprintln!(
        "recorded the visit to {:?} in village {village} ({}): {SYNC_HINT}",
        new.household.trim(),
        new.sentiment
    );
    Ok(())
}

pub fn edit_visit(phone: &Phone, args: EditVisitArgs) -> Result<(), CliError> {
    let id = phone.resolve(&args.id)?;
    let current = visit(phone, &id)?;
    let topics: BTreeSet<_> = args.topics.iter().copied().collect();
    let follow_up = args.follow_up || args.follow_up_due.is_some();
    if args.notes.is_none()
        && args.sentiment.is_none()
        && topics.is_empty()
        && !follow_up
        && !args.follow_up_done
    {
        return Err(CliError::new(
            "nothing to change: pass one or more of --notes, --sentiment, --topic, \
             --follow-up, --follow-up-due, --follow-up-done",
        ));
    }
    let author = phone.author(args.at);
    let saved = apply(phone, &id, |doc| {
        if let Some(notes) = &args.notes {
            record::set_notes(doc, &author, notes)?;
        }
        if let Some(sentiment) = args.sentiment {
            record::set_sentiment(doc, &author, sentiment)?;
        }
        if !topics.is_empty() {
            record::set_topics(doc, &author, &topics)?;
        }
        if follow_up {
            record::schedule_follow_up(doc, &author, args.follow_up_due)?;
        }
        if args.follow_up_done {
            record::mark_follow_up_done(doc, &author)?;
        }
        Ok(())
    })
    .map_err(|e| {
        if args.follow_up_done && !current.follow_up.needed {
            CliError::new(format!(
                "{e}; schedule one first with --follow-up or --follow-up-due DATE"
            ))
        } else {
            e
        }
    })?;
    if saved {
        println!("edited the visit to {:?}; {SYNC_HINT}", current.household);
    } else {
        println!(
            "nothing changed: the visit to {:?} already reads that way",
            current.household
        );
    }
    Ok(())
}

pub fn list_visits(phone: &Phone, args: ListVisitArgs) -> Result<(), CliError> {
    let filter = RecordFilter {
        kind: Some(RecordKind::Visit),
        unsynced_only: args.unsynced,
        text: args.text.clone(),
    };
    let summaries: Vec<Summary> = phone
        .check(phone.replica.list(&filter))?
        .into_iter()
        .filter(|s| !args.follow_up || (s.follow_up_needed && !s.follow_up_done))
        .collect();
    if summaries.is_empty() {
        if args.follow_up || args.text.is_some() || args.unsynced {
            println!("no visits on this phone match; `fengqiao field visit list` shows them all");
        } else {
            println!(
                "no visits on this phone yet; record one with \
                 `fengqiao field visit new --household …`"
            );
        }
        return Ok(());
    }
    let (dirty, attention) = marks(phone)?;
    let lang = phone.lang;
    let names = phone.names();
    let header = match lang {
        Lang::Zh => [
            "编号",
            "走访日期",
            "村",
            "农户",
            "民情",
            "话题",
            "回访",
            "同步",
        ],
        Lang::En => [
            "id",
            "visited",
            "village",
            "household",
            "sentiment",
            "topics",
            "follow-up",
            "sync",
        ],
    };
    let mut rows = vec![header.map(String::from).to_vec()];
    for s in &summaries {
        let follow_up = match (s.follow_up_needed, s.follow_up_done, s.follow_up_due) {
            (true, true, _) => lang.pick("已回访", "done").to_owned(),
            (true, false, Some(due)) => match lang {
                Lang::Zh => format!("{} 前", format_date(due)),
                Lang::En => format!("due {}", format_date(due)),
            },
            (true, false, None) => lang.pick("待回访", "owed").to_owned(),
            (false, _, _) => String::new(),
        };
        rows.push(vec![
            s.id.to_string(),
            format_date(s.visited_at.unwrap_or(s.created_at)),
            names.place(s.village.as_str()),
            clip(&s.title, 24),
            s.sentiment
                .map(|x| lang.word(x).to_owned())
                .unwrap_or_default(),
            s.topics
                .iter()
                .map(|t| lang.word(*t))
                .collect::<Vec<_>>()
                .join(lang.pick("、", ",")),
            follow_up,
            flags(s, &dirty, &attention, lang),
        ]);
    }
    print!("{}", table(&rows));
    println!(
        "{}",
        lang.count(summaries.len(), "次走访", "visit", "visits")
    );
    Ok(())
}

pub fn show_visit(phone: &Phone, text: &str) -> Result<(), CliError> {
    let id = phone.resolve(text)?;
    let v = visit(phone, &id)?;
    let doc = phone.check(phone.replica.document(&id))?;
    let lang = phone.lang;
    let names = phone.names();
    let conflict = doc
        .as_ref()
        .map(|doc| disagreement(doc, &ROOT, fields::SENTIMENT))
        .unwrap_or_default();
    let row = |label: Msg, value: &str| println!("{}", lang.row(label, value));
    let nothing = lang.text(text::NOTHING);
    println!(
        "{}",
        lang.say(text::VISIT_TO, &[("household", &v.household)])
    );
    row(text::SH_ID, &id.to_string());
    row(text::SH_VILLAGE, &names.place(v.header.village.as_str()));
    if let Some(group) = &v.group {
        row(text::SH_GROUP, group);
    }
    row(
        text::SH_VISITED,
        &lang.say(
            text::SH_BY,
            &[
                (
                    "time",
                    &format_time(v.visited_at.unwrap_or(v.header.created_at)),
                ),
                ("who", &person(phone, &names, &v.header.created_by)),
            ],
        ),
    );
    row(
        text::SH_SENTIMENT,
        &format!(
            "{}{}",
            v.sentiment.map_or(nothing, |s| lang.word(s)),
            disagreed::<fengqiao_shared::vocab::Sentiment>(
                lang,
                conflict,
                text::DISAGREED_SEVEREST
            )
        ),
    );
    row(
        text::SH_TOPICS,
        &if v.topics.is_empty() {
            nothing.to_owned()
        } else {
            v.topics
                .iter()
                .map(|t| lang.word(*t))
                .collect::<Vec<_>>()
                .join(lang.pick("、", ", "))
        },
    );
    let follow_up = match (v.follow_up.needed, v.follow_up.done, v.follow_up.due_at) {
        (true, true, _) => lang.text(text::FU_DONE).to_owned(),
        (true, false, Some(due)) => lang.say(text::FU_OWED_BY, &[("date", &format_date(due))]),
        (true, false, None) => lang.text(text::FU_OWED).to_owned(),
        (false, _, _) => lang.text(text::FU_NOT_NEEDED).to_owned(),
    };
    row(text::SH_FOLLOW_UP, &follow_up);
    if let Some(linked) = &v.linked_dispute {
        row(text::SH_DISPUTE, &linked.to_string());
    }
    if !v.notes.trim().is_empty() {
        println!("  {}", lang.text(text::SH_NOTES));
        for line in v.notes.lines() {
            println!("    {line}");
        }
    }
    row(text::SH_SYNC, &sync_state(phone, &id)?);
    Ok(())
}
