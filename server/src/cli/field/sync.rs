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
use super::text::{self, Msg};
use super::words::{bytes, clip, count, format_date};
use crate::cli::{CliError, format_time};

/// A phone never syncs for ever: past this many rounds it stops and says so.
const MAX_ROUNDS: usize = 1_000;

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
    let lang = phone.lang;
    let server = phone.settings.server.as_str();
    let settings = phone.dir.join(SETTINGS).display().to_string();
    let safe = lang.text(text::SAFE);
    let meanwhile = lang.text(text::SAFE_MEANWHILE);
    let message = match error {
        SyncError::Transport(TransportError::Network(e)) => lang.say(
            text::E_NETWORK,
            &[
                ("server", server),
                ("error", &e.to_string()),
                ("safe", safe),
            ],
        ),
        SyncError::Transport(TransportError::Unanswered { tries, waited }) => lang.say(
            text::E_UNANSWERED,
            &[
                ("server", server),
                ("seconds", &format!("{:.1}", waited.as_secs_f64())),
                ("tries", &tries.to_string()),
                ("safe", safe),
            ],
        ),
        SyncError::Transport(TransportError::Server { status: 401, body }) => lang.say(
            text::E_TOKEN,
            &[
                ("server", server),
                ("message", &body.message),
                ("settings", &settings),
                ("safe", meanwhile),
            ],
        ),
        SyncError::Transport(TransportError::Server { status: 403, body }) => lang.say(
            text::E_FORBIDDEN,
            &[
                ("server", server),
                ("message", &body.message),
                ("safe", meanwhile),
            ],
        ),
        SyncError::Transport(TransportError::Server { status, body }) => {
            let next = if body.code.is_retryable() || status >= 500 {
                text::E_BUSY
            } else {
                text::E_PERSISTS
            };
            lang.say(
                text::E_STATUS,
                &[
                    ("server", server),
                    ("status", &status.to_string()),
                    ("code", body.code.as_str()),
                    ("message", &body.message),
                    ("next", lang.text(next)),
                    ("safe", safe),
                ],
            )
        }
        SyncError::Transport(TransportError::BadResponse(e)) => lang.say(
            text::E_UNREADABLE,
            &[
                ("server", server),
                ("error", &e.to_string()),
                ("settings", &settings),
                ("safe", safe),
            ],
        ),
        SyncError::Replica(e) => return replica_error(&phone.dir, e),
        SyncError::TooManyRounds(rounds) => lang.say(
            text::E_TOO_MANY_ROUNDS,
            &[("rounds", &rounds.to_string()), ("safe", safe)],
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
fn tell_waiting(lang: Lang, waiting: &Waiting) {
    let line = match waiting {
        Waiting::Still {
            tried,
            tries,
            elapsed,
        } => lang.say(
            text::WAITING,
            &[
                ("seconds", &format!("{:.0}", elapsed.as_secs_f64())),
                ("tried", &tried.to_string()),
                ("tries", &tries.to_string()),
            ],
        ),
        Waiting::Retrying {
            tried,
            tries,
            error,
            pause,
        } => lang.say(
            text::RETRYING,
            &[
                ("tried", &tried.to_string()),
                ("tries", &tries.to_string()),
                ("error", &error.to_string()),
                ("seconds", &format!("{:.1}", pause.as_secs_f64())),
            ],
        ),
    };
    eprintln!("{line}");
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

/// The events that change a dispute's status.
const STATUS_KINDS: &[EventKind] = &[
    EventKind::Mediation,
    EventKind::Agreement,
    EventKind::Resolved,
    EventKind::Failed,
    EventKind::Escalated,
    EventKind::Reopened,
    EventKind::Returned,
];

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
        // Who changed it: the latest event another person added that
        // makes such a change (the escalation for the status, the
        // assignment for the handlers …).
        let added: Vec<(Millis, String, EventKind)> = events_of(phone, id)
            .unwrap_or_default()
            .into_iter()
            .filter(|e| !was.events.contains(e) && &e.1 != cadre)
            .collect();
        let by = |kinds: &[EventKind]| {
            added
                .iter()
                .filter(|e| kinds.is_empty() || kinds.contains(&e.2))
                .max_by_key(|e| e.0)
                .map(|e| e.1.clone())
        };
        let who = |lines: &mut Vec<String>, by: Option<String>, what: String| {
            lines.push(match &by {
                Some(person) => lang.say(
                    text::CHANGED_BY,
                    &[("what", &what), ("who", &names.person(person, lang))],
                ),
                None => lang.say(text::CHANGED_ON_ANOTHER, &[("what", &what)]),
            });
        };
        let say = |msg: Msg, key: &str, value: &str| lang.say(msg, &[(key, value)]);
        let mut lines = Vec::new();
        let old = &was.summary;
        let status_by = by(STATUS_KINDS).or_else(|| by(&[]));
        if status_by.is_some()
            && (now.status, now.escalation_level) != (old.status, old.escalation_level)
            && let Some(status) = now.status
        {
            let status = lang.status(status, now.escalation_level);
            who(
                &mut lines,
                status_by,
                say(text::STATUS_NOW, "status", &status),
            );
        }
        let stage_by = by(&[]);
        if stage_by.is_some()
            && now.loop_stage() != old.loop_stage()
            && let Some(stage) = now.loop_stage()
        {
            who(
                &mut lines,
                stage_by,
                say(text::STAGE_NOW, "stage", lang.word(stage)),
            );
        }
        let assigned_by = by(&[EventKind::Assigned]);
        if assigned_by.is_some() && now.assignees != old.assignees && !now.assignees.is_empty() {
            let people: Vec<String> = now
                .assignees
                .iter()
                .map(|p| names.person(p, lang))
                .collect();
            let people = people.join(lang.pick("、", ", "));
            who(
                &mut lines,
                assigned_by,
                say(text::HANDLERS_NOW, "people", &people),
            );
        }
        let supervised_by = by(&[EventKind::Supervised]);
        if supervised_by.is_some()
            && now.supervision_due != old.supervision_due
            && let Some(due) = now.supervision_due
        {
            who(
                &mut lines,
                supervised_by,
                say(text::SUPERVISED_NOW, "date", &format_date(due)),
            );
        }
        if now.risk != old.risk
            && let Some(risk) = now.risk
        {
            let what = say(text::RISK_NOW, "risk", lang.word(risk));
            // A risk is no event: who set it is not known.
            lines.push(lang.say(text::CHANGED_ON_ANOTHER, &[("what", &what)]));
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
    let lang = phone.lang;
    eprintln!(
        "{}",
        lang.say(
            text::SYNCING,
            &[
                ("server", &phone.settings.server),
                ("records", &lang.records(pending))
            ]
        )
    );
    let sent = Rc::new(Cell::new(0));
    let mut transport = Counting {
        inner: HttpTransport::with_options(
            &phone.settings.server,
            phone.settings.token.clone(),
            patience,
        )
        .on_waiting(move |waiting| tell_waiting(lang, waiting)),
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
                "{}",
                lang.say(
                    text::ROUND,
                    &[
                        ("round", &report.rounds.to_string()),
                        ("sent", &lang.records(sent.get())),
                        ("received", &lang.records(received)),
                        ("up", &bytes(report.bytes.up - last.up)),
                        ("down", &bytes(report.bytes.down - last.down)),
                        ("progress", &progress),
                    ]
                )
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

    let n = |msg: Msg, n: usize| lang.say(msg, &[("n", &n.to_string())]);
    println!(
        "{}",
        lang.say(
            text::SYNCED,
            &[
                ("server", &phone.settings.server),
                ("rounds", &lang.rounds(report.rounds)),
                ("up", &bytes(report.bytes.up)),
                ("down", &bytes(report.bytes.down)),
            ]
        )
    );
    println!("{}", n(text::ACKNOWLEDGED, report.acknowledged()));
    println!("{}", n(text::RECEIVED, report.received()));
    println!("{}", n(text::MERGED, merged.len()));
    for id in &merged {
        println!("                  {}", named(phone, id));
    }
    if !changes.is_empty() {
        println!("{}", n(text::CHANGED, changes.len()));
        for (id, lines) in &changes {
            println!("                  {}", named(phone, id));
            for line in lines {
                println!("                    {line}");
            }
        }
    }
    println!("{}", n(text::REJECTED, rejected.len()));
    for (id, error) in &rejected {
        println!("                  {}", refusal(phone, id, error));
    }
    println!("{}", n(text::PURGED, purged.len()));
    for id in &purged {
        println!("                  {id}");
    }
    if !rejected.is_empty() {
        println!(
            "{}",
            lang.say(
                text::REFUSED_HINT,
                &[("records", &lang.records(rejected.len()))]
            )
        );
    }
    let left = phone.check(phone.replica.dirty())?.len();
    if left > 0 && rejected.is_empty() {
        println!(
            "{}",
            lang.say(text::STILL_TO_SEND, &[("records", &lang.records(left))])
        );
    }
    Ok(())
}

/// A record the server refused, with the reason it gave.
fn refusal(phone: &Phone, id: &DocumentId, error: &ErrorBody) -> String {
    phone.lang.say(
        text::REFUSAL,
        &[
            ("record", &named(phone, id)),
            ("message", &error.message),
            ("code", error.code.as_str()),
        ],
    )
}

pub fn status(phone: &Phone) -> Result<(), CliError> {
    let settings = &phone.settings;
    let lang = phone.lang;
    let names = phone.names();
    println!(
        "{}",
        lang.row(text::ST_PHONE, &phone.dir.display().to_string())
    );
    println!(
        "{}",
        lang.row(text::ST_DEVICE, &settings.device.to_string())
    );
    let cadre = match (&settings.person_name, lang) {
        (Some(name), Lang::Zh) => format!("{name}（{}）", settings.cadre),
        (Some(name), Lang::En) => format!("{} ({name})", settings.cadre),
        (None, _) => settings.cadre.clone(),
    };
    println!("{}", lang.row(text::ST_CADRE, &cadre));
    if let (Some(role), Some(scope)) = (&settings.role, &settings.scope) {
        let role = match (role.parse::<fengqiao_shared::access::Role>(), lang) {
            (Ok(role), Lang::Zh) => role.label_zh().to_owned(),
            _ => role.clone(),
        };
        let scope = match lang {
            Lang::Zh => names.place(scope),
            Lang::En => scope.clone(),
        };
        println!(
            "{}",
            lang.row(
                text::ST_ACCESS,
                &lang.say(text::ST_ACCESS_IS, &[("role", &role), ("scope", &scope)])
            )
        );
    }
    if settings.development {
        println!(
            "{}",
            lang.row(text::ST_ACCESS, lang.text(text::ST_DEVELOPMENT))
        );
    }
    println!("{}", lang.row(text::ST_SERVER, &settings.server));
    match phone.check(phone.replica.last_sync())? {
        Some(at) => println!("{}", lang.row(text::ST_LAST_SYNC, &format_time(at))),
        None => println!(
            "{}",
            lang.row(text::ST_LAST_SYNC, lang.text(text::ST_NEVER))
        ),
    }
    let all = phone.check(phone.replica.list(&RecordFilter::default()))?;
    let disputes = all.iter().filter(|s| s.kind == RecordKind::Dispute).count();
    let visits = all.len() - disputes;
    let (disputes, visits) = match lang {
        Lang::Zh => (disputes.to_string(), visits.to_string()),
        Lang::En => (
            count(disputes, "dispute", "disputes"),
            count(visits, "visit", "visits"),
        ),
    };
    println!(
        "{}",
        lang.row(
            text::ST_RECORDS,
            &lang.say(
                text::ST_HELD,
                &[
                    ("n", &all.len().to_string()),
                    ("disputes", &disputes),
                    ("visits", &visits)
                ]
            )
        )
    );

    let attention = phone.check(phone.replica.needing_attention())?;
    let dirty: Vec<DocumentId> = phone
        .check(phone.replica.dirty())?
        .into_iter()
        .filter(|id| !attention.iter().any(|(a, _)| a == id))
        .collect();
    if dirty.is_empty() {
        println!(
            "{}",
            lang.row(text::ST_UNSYNCED, lang.text(text::ST_NOTHING_UNSYNCED))
        );
    } else {
        println!(
            "{}",
            lang.row(
                text::ST_UNSYNCED,
                &lang.say(
                    text::ST_UNSYNCED_SOME,
                    &[("records", &lang.records(dirty.len()))]
                )
            )
        );
        for id in &dirty {
            let title = phone.title(id);
            if title.is_empty() {
                println!("              {id}  {}", lang.text(text::ST_DISCARDED));
            } else {
                println!("              {}", named(phone, id));
            }
        }
    }
    if attention.is_empty() {
        println!("{}", lang.row(text::ST_ATTENTION, lang.text(text::NONE)));
    } else {
        println!(
            "{}",
            lang.row(
                text::ST_ATTENTION,
                &lang.say(
                    text::ST_ATTENTION_SOME,
                    &[("records", &lang.records(attention.len()))]
                )
            )
        );
        for (id, error) in &attention {
            println!("              {}", refusal(phone, id, error));
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
