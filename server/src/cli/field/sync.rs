//! Syncing the phone with its server, and what the phone holds: `sync`,
//! `status`, `discard`.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::rc::Rc;
use std::time::Duration;

use fengqiao_protocol::batch::{SyncRequest, SyncResponse};
use fengqiao_protocol::{DocumentId, ErrorBody};
use fengqiao_shared::Millis;
use fengqiao_shared::record::Record;
use fengqiao_shared::replica::RecordFilter;
use fengqiao_shared::replica::http::{
    HttpOptions, HttpTransport, SyncError, SyncReport, SyncTransport, TransportError, Waiting,
    WireBytes, sync_until_done,
};
use fengqiao_shared::replica::sync::{SyncClient, SyncOptions};
use fengqiao_shared::summary::Summary;
use fengqiao_shared::vocab::{EventKind, RecordKind};

use super::lang::Lang;
use super::phone::{Phone, SETTINGS, replica_error};
use super::words::{bytes, clip, count};
use crate::cli::{CliError, format_time};

/// A phone never syncs for ever: past this many rounds it stops and says so.
const MAX_ROUNDS: usize = 1_000;

const SAFE: &str =
    "your changes are safe on this phone; run `fengqiao field sync` again when there is signal";

/// The HTTP transport, noting how many records each request carries.
struct Counting {
    inner: HttpTransport,
    sent: Rc<Cell<usize>>,
}

impl SyncTransport for Counting {
    fn exchange(
        &mut self,
        request: &SyncRequest,
    ) -> Result<(SyncResponse, WireBytes), TransportError> {
        self.sent.set(request.docs.len());
        self.inner.exchange(request)
    }
}

fn sync_error(phone: &Phone, error: SyncError) -> CliError {
    let server = &phone.settings.server;
    let message = match error {
        SyncError::Transport(TransportError::Network(e)) => {
            format!("cannot reach the server at {server}: {e}\n{SAFE}")
        }
        SyncError::Transport(TransportError::Unanswered { tries, waited }) => format!(
            "服务器没有回应：{server} 接受了连接，但 {:.0} 秒内试了 {tries} 次都没有回答。\n\
             the server at {server} took the connection but did not answer \
             ({tries} tries over {:.1} s): it may be down or overloaded, or the signal too \
             weak\n{SAFE}",
            waited.as_secs_f64(),
            waited.as_secs_f64()
        ),
        SyncError::Transport(TransportError::Server { status: 401, body }) => format!(
            "the server at {server} no longer accepts this phone's token ({}): the device may \
             have been revoked, or its token rotated. Ask an administrator for a new token and \
             put it into {} (token = \"…\"); your changes are safe on this phone meanwhile",
            body.message,
            phone.dir.join(SETTINGS).display()
        ),
        SyncError::Transport(TransportError::Server { status: 403, body }) => format!(
            "the server at {server} refused this phone's sync ({}); ask an administrator to \
             check the device's role and scope; your changes are safe on this phone meanwhile",
            body.message
        ),
        SyncError::Transport(TransportError::Server { status, body }) => {
            let next = if body.code.is_retryable() || status >= 500 {
                "the server is busy or unwell; try again in a minute"
            } else {
                "if it persists, tell the server's administrator"
            };
            format!(
                "the server at {server} answered {status} {}: {}; {next}\n{SAFE}",
                body.code.as_str(),
                body.message
            )
        }
        SyncError::Transport(TransportError::BadResponse(e)) => format!(
            "the answer from {server} could not be read ({e}); is it a Fengqiao server? \
             (check `server` in {})\n{SAFE}",
            phone.dir.join(SETTINGS).display()
        ),
        SyncError::Replica(e) => return replica_error(&phone.dir, e),
        SyncError::TooManyRounds(rounds) => format!(
            "the sync was still going after {rounds} rounds, so it stopped; \
             run `fengqiao field sync` again to continue\n{SAFE}"
        ),
    };
    CliError::new(message)
}

/// Ids in first-seen order, without repeats.
fn unique<'a>(ids: impl Iterator<Item = &'a DocumentId>) -> Vec<DocumentId> {
    let mut seen = BTreeSet::new();
    ids.filter(|id| seen.insert((*id).clone()))
        .cloned()
        .collect()
}

fn named(phone: &Phone, id: &DocumentId) -> String {
    let title = phone.title(id);
    if title.is_empty() {
        id.to_string()
    } else {
        format!("{id}  {}", clip(&title, 40))
    }
}

/// How long `sync` waits and how often it tries, from the command line.
pub fn patience(timeout: f64, tries: u32) -> Result<HttpOptions, CliError> {
    if !(timeout.is_finite() && timeout > 0.0 && timeout <= 3600.0) {
        return Err(CliError::new(format!(
            "--timeout {timeout}: give the seconds to wait, more than 0 and at most 3600"
        )));
    }
    if tries == 0 || tries > 100 {
        return Err(CliError::new(format!(
            "--tries {tries}: give how many times to try, from 1 to 100"
        )));
    }
    Ok(HttpOptions {
        tries,
        ..HttpOptions::with_timeout(Duration::from_secs_f64(timeout))
    })
}

/// A line on stderr while the transport waits, so the phone is never
/// silent.
fn tell_waiting(waiting: &Waiting) {
    match waiting {
        Waiting::Still {
            tried,
            tries,
            elapsed,
        } => eprintln!(
            "  等待服务器回应… waiting for the server: {:.0} s (try {tried} of {tries})",
            elapsed.as_secs_f64()
        ),
        Waiting::Retrying {
            tried,
            tries,
            error,
            pause,
        } => eprintln!(
            "  第 {tried} 次没有成功，{:.0} 秒后重试 / try {tried} of {tries} failed ({error}); \
             trying again in {:.1} s",
            pause.as_secs_f64(),
            pause.as_secs_f64()
        ),
    }
}

/// A dispute this phone edited, as it stood before a sync.
struct Before {
    summary: Summary,
    /// Its events, as (when, by whom, what).
    events: BTreeSet<(Millis, String, EventKind)>,
}

fn events_of(phone: &Phone, id: &DocumentId) -> Option<Vec<(Millis, String, EventKind)>> {
    match phone.replica.record(id).ok()? {
        Record::Dispute(d) => Some(
            d.timeline()
                .into_iter()
                .map(|e| (e.at, e.by.clone(), e.kind))
                .collect(),
        ),
        Record::Visit(_) => None,
    }
}

/// The disputes this phone edited: those with changes still to send, and
/// those its cadre reported or is assigned to.
fn edited_here(phone: &Phone) -> Result<BTreeMap<DocumentId, Before>, CliError> {
    let cadre = &phone.settings.cadre;
    let dirty: HashSet<DocumentId> = phone.check(phone.replica.dirty())?.into_iter().collect();
    let filter = RecordFilter {
        kind: Some(RecordKind::Dispute),
        ..RecordFilter::default()
    };
    let mut out = BTreeMap::new();
    for summary in phone.check(phone.replica.list(&filter))? {
        if !(dirty.contains(&summary.id)
            || &summary.created_by == cadre
            || summary.assignees.contains(cadre))
        {
            continue;
        }
        if let Some(events) = events_of(phone, &summary.id) {
            out.insert(
                summary.id.clone(),
                Before {
                    summary,
                    events: events.into_iter().collect(),
                },
            );
        }
    }
    Ok(out)
}

/// What other phones changed in the disputes this phone edited: one line
/// per change of status, stage or risk, naming who changed it ("状态现为
/// 已上报（镇级），李梅修改").
fn changed_elsewhere(
    phone: &Phone,
    before: &BTreeMap<DocumentId, Before>,
    touched: &BTreeSet<DocumentId>,
) -> Vec<(DocumentId, Vec<String>)> {
    let lang = phone.lang;
    let names = phone.names();
    let cadre = &phone.settings.cadre;
    let mut out = Vec::new();
    for (id, was) in before {
        if !touched.contains(id) {
            continue;
        }
        let Some(now) = phone.replica.state(id).ok().and_then(|s| s.summary) else {
            continue;
        };
        // Who changed it: the latest event another person added.
        let by = events_of(phone, id)
            .unwrap_or_default()
            .into_iter()
            .filter(|e| !was.events.contains(e) && &e.1 != cadre)
            .max_by_key(|e| e.0)
            .map(|e| e.1);
        let who = |lines: &mut Vec<String>, what: String| {
            lines.push(match (&by, lang) {
                (Some(person), Lang::Zh) => {
                    format!("{what}，{}修改", names.person(person, lang))
                }
                (Some(person), Lang::En) => {
                    format!("{what}, changed by {}", names.person(person, lang))
                }
                (None, Lang::Zh) => format!("{what}（另一台手机修改）"),
                (None, Lang::En) => format!("{what} (changed on another phone)"),
            });
        };
        let mut lines = Vec::new();
        let old = &was.summary;
        if by.is_some()
            && (now.status, now.escalation_level) != (old.status, old.escalation_level)
            && let Some(status) = now.status
        {
            let text = lang.status(status, now.escalation_level);
            who(
                &mut lines,
                match lang {
                    Lang::Zh => format!("状态现为 {text}"),
                    Lang::En => format!("status is now {text}"),
                },
            );
        }
        if by.is_some()
            && now.loop_stage() != old.loop_stage()
            && let Some(stage) = now.loop_stage()
        {
            let text = lang.word(stage);
            who(
                &mut lines,
                match lang {
                    Lang::Zh => format!("阶段现为 {text}"),
                    Lang::En => format!("stage is now {text}"),
                },
            );
        }
        if now.risk != old.risk
            && let Some(risk) = now.risk
        {
            let text = lang.word(risk);
            let what = match lang {
                Lang::Zh => format!("风险现为 {text}"),
                Lang::En => format!("risk is now {text}"),
            };
            // A risk is no event: who set it is not known.
            lines.push(match lang {
                Lang::Zh => format!("{what}（另一台手机修改）"),
                Lang::En => format!("{what} (changed on another phone)"),
            });
        }
        if !lines.is_empty() {
            out.push((id.clone(), lines));
        }
    }
    out
}

pub fn sync(phone: &mut Phone, patience: HttpOptions) -> Result<(), CliError> {
    let before = edited_here(phone)?;
    let pending = phone.check(phone.replica.dirty())?.len();
    eprintln!(
        "syncing with {} ({} to send)",
        phone.settings.server,
        count(pending, "record", "records")
    );
    let sent = Rc::new(Cell::new(0));
    let mut transport = Counting {
        inner: HttpTransport::with_options(
            &phone.settings.server,
            phone.settings.token.clone(),
            patience,
        )
        .on_waiting(tell_waiting),
        sent: sent.clone(),
    };
    let mut client = SyncClient::new(SyncOptions::default());
    let mut last = WireBytes::default();
    let report = sync_until_done(
        &phone.replica,
        &mut client,
        &mut transport,
        MAX_ROUNDS,
        |report: &SyncReport| {
            let received = report.steps.last().map_or(0, |s| s.received.len());
            let progress = match report.progress() {
                Some((done, total)) => format!(" · {} / {}", thousands(done), thousands(total)),
                None => String::new(),
            };
            eprintln!(
                "  round {}: sent {}, received {}; {} up, {} down{progress}",
                report.rounds,
                count(sent.get(), "record", "records"),
                count(received, "record", "records"),
                bytes(report.bytes.up - last.up),
                bytes(report.bytes.down - last.down),
            );
            last = report.bytes;
        },
    )
    .map_err(|e| sync_error(phone, e))?;

    let merged = unique(report.steps.iter().flat_map(|s| s.merged.iter()));
    // Names first, so that whoever changed a record is named.
    phone.refresh_names();
    let touched: BTreeSet<DocumentId> = report
        .steps
        .iter()
        .flat_map(|s| s.merged.iter().chain(s.received.iter()))
        .cloned()
        .collect();
    let changes = changed_elsewhere(phone, &before, &touched);
    let purged = unique(report.steps.iter().flat_map(|s| s.purged.iter()));
    let mut rejected: Vec<(DocumentId, ErrorBody)> = Vec::new();
    for (id, error) in report.steps.iter().flat_map(|s| s.rejected.iter()) {
        if !rejected.iter().any(|(seen, _)| seen == id) {
            rejected.push((id.clone(), error.clone()));
        }
    }

    println!(
        "synced with {} in {}: {} up, {} down",
        phone.settings.server,
        count(report.rounds, "round", "rounds"),
        bytes(report.bytes.up),
        bytes(report.bytes.down)
    );
    println!(
        "  acknowledged  {}  (the server holds this phone's changes)",
        report.acknowledged()
    );
    println!(
        "  received      {}  (records with changes from other phones)",
        report.received()
    );
    println!(
        "  merged        {}  (edited here and elsewhere; both kept)",
        merged.len()
    );
    for id in &merged {
        println!("                  {}", named(phone, id));
    }
    if !changes.is_empty() {
        println!(
            "  {}  {}",
            phone.lang.pick(
                "他人修改了本机办理的案件",
                "changed elsewhere (cases this phone works on)"
            ),
            changes.len()
        );
        for (id, lines) in &changes {
            println!("                  {}", named(phone, id));
            for line in lines {
                println!("                    {line}");
            }
        }
    }
    println!("  rejected      {}", rejected.len());
    for (id, error) in &rejected {
        println!(
            "                  {}: {} ({})",
            named(phone, id),
            error.message,
            error.code.as_str()
        );
    }
    println!(
        "  purged        {}  (no longer this device's to hold)",
        purged.len()
    );
    for id in &purged {
        println!("                  {id}");
    }
    if !rejected.is_empty() {
        println!(
            "\nthe server refused {}; they stay on this phone and are not sent again. \
             Re-enter their data as new records, then `fengqiao field discard ID --yes`; \
             `fengqiao field status` lists them.",
            count(rejected.len(), "record", "records")
        );
    }
    let left = phone.check(phone.replica.dirty())?.len();
    if left > 0 && rejected.is_empty() {
        println!(
            "\n{} still to send; run `fengqiao field sync` again",
            count(left, "record", "records")
        );
    }
    Ok(())
}

pub fn status(phone: &Phone) -> Result<(), CliError> {
    let settings = &phone.settings;
    println!("phone       {}", phone.dir.display());
    println!("device      {}", settings.device);
    match &settings.person_name {
        Some(name) => println!("cadre       {} ({name})", settings.cadre),
        None => println!("cadre       {}", settings.cadre),
    }
    if let (Some(role), Some(scope)) = (&settings.role, &settings.scope) {
        println!("access      {role} over {scope}");
    }
    if settings.development {
        println!("access      development token (every record; never use it in the field)");
    }
    println!("server      {}", settings.server);
    match phone.check(phone.replica.last_sync())? {
        Some(at) => println!("last sync   {}", format_time(at)),
        None => println!("last sync   never; `fengqiao field sync` fetches this device's records"),
    }
    let all = phone.check(phone.replica.list(&RecordFilter::default()))?;
    let disputes = all.iter().filter(|s| s.kind == RecordKind::Dispute).count();
    println!(
        "records     {} held: {}, {}",
        all.len(),
        count(disputes, "dispute", "disputes"),
        count(all.len() - disputes, "visit", "visits")
    );

    let attention = phone.check(phone.replica.needing_attention())?;
    let dirty: Vec<DocumentId> = phone
        .check(phone.replica.dirty())?
        .into_iter()
        .filter(|id| !attention.iter().any(|(a, _)| a == id))
        .collect();
    if dirty.is_empty() {
        println!("unsynced    none (nothing to sync)");
    } else {
        println!(
            "unsynced    {}; `fengqiao field sync` sends them",
            count(dirty.len(), "record", "records")
        );
        for id in &dirty {
            let title = phone.title(id);
            if title.is_empty() {
                println!(
                    "              {id}  (discarded here; the server's copy comes with the next sync)"
                );
            } else {
                println!("              {}", named(phone, id));
            }
        }
    }
    if attention.is_empty() {
        println!("attention   none");
    } else {
        println!(
            "attention   {} the server refused; re-enter the data as a new record, \
             then `fengqiao field discard ID --yes`",
            count(attention.len(), "record", "records")
        );
        for (id, error) in &attention {
            println!(
                "              {}: {} ({})",
                named(phone, id),
                error.message,
                error.code.as_str()
            );
        }
    }
    Ok(())
}

pub fn discard(phone: &Phone, text: &str, yes: bool) -> Result<(), CliError> {
    let id = phone.resolve(text)?;
    let title = phone.title(&id);
    let dirty = phone.check(phone.replica.dirty())?.contains(&id);
    let state = phone.check(phone.replica.state(&id))?;
    if !dirty && state.attention.is_none() {
        println!("nothing to discard: {title:?} has no changes the server lacks");
        return Ok(());
    }
    if !yes {
        return Err(CliError::new(format!(
            "this throws away this phone's unsynced changes to {title:?} ({id}); \
             if that is what you want, run it again with --yes"
        )));
    }
    if phone.check(phone.replica.discard_local_changes(&id))? {
        println!(
            "discarded this phone's copy of {title:?}; `fengqiao field sync` fetches the server's copy"
        );
    } else {
        println!(
            "discarded {title:?}: the server never had it, so nothing is left to send or fetch"
        );
    }
    Ok(())
}

/// `1204` as `1,204`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
