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

use super::lang::Lang;
use super::phone::Phone;
use super::words::{Word, allowed, both, clip, count, format_date, table};
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

/// `已上报（镇级）`, `调解中`.
fn status_zh(status: Status, level: Option<Level>) -> String {
    match (status, level) {
        (Status::Escalated, Some(level)) => {
            format!("{}（{}）", status.label_zh(), level.label_zh())
        }
        (status, _) => status.label_zh().to_owned(),
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

/// The sync state of a record, in words; `None` when it is all on the server.
fn sync_state(phone: &Phone, id: &DocumentId) -> Result<Option<String>, CliError> {
    let state = phone.check(phone.replica.state(id))?;
    if let Some(error) = state.attention {
        return Ok(Some(format!(
            "NEEDS ATTENTION: the server refused this phone's changes ({}: {}); \
             re-enter them as a new record, then `fengqiao field discard {id} --yes`",
            error.code.as_str(),
            error.message
        )));
    }
    let dirty = phone.check(phone.replica.dirty())?;
    Ok(dirty
        .contains(id)
        .then(|| "unsynced changes on this phone; `fengqiao field sync` sends them".to_owned()))
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
    let conflict = |key: &str| {
        doc.as_ref()
            .map(|doc| disagreement(doc, &ROOT, key))
            .unwrap_or_default()
    };
    let disagreed = |values: Vec<String>, rule: &str| {
        if values.is_empty() {
            String::new()
        } else {
            format!("  (phones disagreed: {}; {rule})", values.join(", "))
        }
    };

    println!("{}", d.title);
    println!("  id          {id}");
    println!("  village     {}", d.header.village);
    println!(
        "  status      {}  {}",
        status_text(d.status(), d.escalation_level()),
        status_zh(d.status(), d.escalation_level())
    );
    println!("  stage       {}", stage_line(&d));
    if let Some(due) = d.case_status().supervision_due {
        println!("  督办 due    {}", format_time(due));
    }
    println!(
        "  category    {}{}",
        d.category.map(both).unwrap_or_else(|| "(none)".into()),
        disagreed(conflict(fields::CATEGORY), "the latest counts")
    );
    println!(
        "  risk        {}{}",
        d.risk.map(both).unwrap_or_else(|| "(none)".into()),
        disagreed(conflict(fields::RISK), "the highest counts")
    );
    println!(
        "  reported    {} by {}",
        format_time(d.header.created_at),
        d.header.created_by
    );
    if d.parties.is_empty() {
        println!("  parties     (none)");
    }
    for (index, party) in d.parties.iter().enumerate() {
        let label = if index == 0 { "parties" } else { "" };
        let mut line = format!("{}. {}  {}", index + 1, party.name, both(party.role));
        if let Some(phone) = &party.phone {
            line.push_str(&format!("  {phone}"));
        }
        if let Some(note) = &party.note {
            line.push_str(&format!("  ({note})"));
        }
        println!("  {label:<10}  {line}");
    }
    println!(
        "  assignees   {}",
        if d.assignees.is_empty() {
            "(none)".to_owned()
        } else {
            d.assignees.iter().cloned().collect::<Vec<_>>().join(", ")
        }
    );
    if let Some(original) = &d.duplicate_of {
        println!("  duplicate   of {original}");
    }
    if !d.description.trim().is_empty() {
        println!("  description");
        for line in d.description.lines() {
            println!("    {line}");
        }
    }
    println!("  timeline ({})", d.events.len());
    for event in d.timeline() {
        println!("    {}", event_line(event));
    }
    match sync_state(phone, &id)? {
        Some(state) => println!("  sync        {state}"),
        None => println!("  sync        on the server"),
    }
    Ok(())
}

fn event_line(event: &Event) -> String {
    let what = event_name(event.kind, event.level);
    let zh = match event.level {
        Some(level) => format!("{}（{}）", event.kind.label_zh(), level.label_zh()),
        None => event.kind.label_zh().to_owned(),
    };
    let mut line = format!(
        "{}  {}  {}  by {}",
        format_time(event.at),
        what,
        zh,
        event.by
    );
    if let Some(outcome) = &event.outcome {
        line.push_str(&format!("  outcome: {outcome}"));
    }
    if let Some(note) = &event.note {
        line.push_str(&format!("  note: {note}"));
    }
    if let Some(satisfied) = event.satisfied {
        line.push_str(if satisfied {
            "  parties satisfied"
        } else {
            "  parties NOT satisfied"
        });
    }
    if let Some(person) = &event.assignee {
        line.push_str(&format!("  handler: {person}"));
    }
    if let Some(due) = event.due {
        line.push_str(&format!("  due: {}", format_time(due)));
    }
    line
}

/// `pending (town)  待受理（镇级）`, `handling  调处中`.
fn stage_line(d: &Dispute) -> String {
    let case = d.case_status();
    let stage = d.stage();
    match stage {
        Stage::Pending => {
            let level = case.handling_level();
            format!(
                "{} ({level})  {}（{}）",
                stage.as_str(),
                stage.label_zh(),
                level.label_zh()
            )
        }
        _ => format!("{}  {}", stage.as_str(), stage.label_zh()),
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
    let conflict = doc
        .as_ref()
        .map(|doc| disagreement(doc, &ROOT, fields::SENTIMENT))
        .unwrap_or_default();
    println!("visit to {}", v.household);
    println!("  id          {id}");
    println!("  village     {}", v.header.village);
    if let Some(group) = &v.group {
        println!("  group       {group}");
    }
    println!(
        "  visited     {} by {}",
        format_time(v.visited_at.unwrap_or(v.header.created_at)),
        v.header.created_by
    );
    let mut sentiment = v.sentiment.map(both).unwrap_or_else(|| "(none)".into());
    if !conflict.is_empty() {
        sentiment.push_str(&format!(
            "  (phones disagreed: {}; the most severe counts)",
            conflict.join(", ")
        ));
    }
    println!("  sentiment   {sentiment}");
    println!(
        "  topics      {}",
        if v.topics.is_empty() {
            "(none)".to_owned()
        } else {
            v.topics
                .iter()
                .map(|t| format!("{} {}", t.wire(), t.zh()))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    let follow_up = match (v.follow_up.needed, v.follow_up.done, v.follow_up.due_at) {
        (true, true, _) => "done".to_owned(),
        (true, false, Some(due)) => format!("owed, due {}", format_date(due)),
        (true, false, None) => "owed".to_owned(),
        (false, _, _) => "not needed".to_owned(),
    };
    println!("  follow-up   {follow_up}");
    if let Some(linked) = &v.linked_dispute {
        println!("  dispute     {linked}");
    }
    if !v.notes.trim().is_empty() {
        println!("  notes");
        for line in v.notes.lines() {
            println!("    {line}");
        }
    }
    match sync_state(phone, &id)? {
        Some(state) => println!("  sync        {state}"),
        None => println!("  sync        on the server"),
    }
    Ok(())
}
