//! The demo's town and district officials at work.
//!
//! Each simulated evening every official looks at the cases of their scope
//! as the server holds them and works the closed loop the way a 综治中心
//! does: most escalations are accepted within a day or two, a few wait
//! longer than the three days allowed, one or two are returned to the
//! village with the reason; accepted cases get a handler (承办人) by name;
//! a few late or high-risk cases are put under 督办 with a deadline (some
//! of which pass with the case still open); concluded cases are archived
//! once followed up. Every action goes through
//! [`crate::http::perform_action`], the path `POST /v1/records/{id}/actions`
//! takes, with the official's own enrolled device: validated, attributed
//! and merged like a phone's change, and sent to phones at their next sync.

use std::collections::HashMap;

use fengqiao_protocol::{DocumentId, Scope};
use fengqiao_shared::Millis;
use fengqiao_shared::vocab::{Level, RecordKind, Risk, Stage};

use super::State;
use crate::cli::CliError;
use crate::http::{Action, Official, perform_action};

const DAY: Millis = 86_400_000;
const HOUR: Millis = 3_600_000;
const MINUTE: Millis = 60_000;

/// A case may be put under 督办 by one official at most this many times
/// over the demo, so supervision stays the exception it is.
const MAX_SUPERVISED: usize = 4;
/// Returns over the whole demo: one or two.
const MAX_RETURNED: usize = 2;

/// One official's desk.
pub struct Officer {
    pub name: String,
    official: Official,
    scope: Scope,
    /// The level escalations reach this official at.
    level: Level,
    /// People of the office who take cases themselves, besides the
    /// villages' cadres.
    staff: Vec<String>,
    supervised: usize,
    /// How promptly this desk takes up each case it has seen: some
    /// escalations are overlooked past the time limit, some accepted cases
    /// wait for a handler to be found.
    pace: HashMap<DocumentId, Pace>,
    /// Whether an escalation of the closing days was left unread.
    overlooked: bool,
}

/// How a desk deals with one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pace {
    Prompt,
    Slow,
    /// Never taken up: it waits past the acceptance limit.
    Overlooked,
}

impl Officer {
    /// The official holding `token`, working at `level` over `scope`.
    pub fn new(
        state: &State,
        name: &str,
        token: &str,
        scope: &str,
        level: Level,
        staff: Vec<String>,
    ) -> Result<Self, CliError> {
        let identity = state
            .auth
            .authenticate(token)
            .ok_or_else(|| CliError::new(format!("{name}'s token is not accepted")))?;
        Ok(Self {
            name: name.to_owned(),
            official: Official {
                identity,
                session_ends: None,
                session: None,
            },
            scope: Scope::parse(scope).map_err(|e| CliError::new(e.to_string()))?,
            level,
            staff,
            supervised: 0,
            pace: HashMap::new(),
            overlooked: false,
        })
    }

    /// Whether a case handled at `level` is this official's to supervise
    /// and archive: the town's own and its villages' for a town, the
    /// district's and above for the district.
    fn owns(&self, level: Level) -> bool {
        match self.level {
            Level::District => level >= Level::District,
            _ => level <= self.level,
        }
    }
}

/// What the officials did, for the summary.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub accepted: usize,
    pub returned: usize,
    pub assigned: usize,
    pub supervised: usize,
    pub archived: usize,
}

const ACCEPT_NOTES: [&str; 3] = [
    "已受理，由镇综治中心组织调处",
    "材料齐全，予以受理",
    "已受理，请承办人三日内联系双方当事人",
];
const RETURN_NOTE: &str = "经核实属村级调解范围，退回村调委会继续调解，镇综治中心予以指导";
const SUPERVISE_NOTES: [&str; 3] = [
    "请于期限前化解并反馈结果",
    "矛盾有激化风险，请加强稳控，限期办结",
    "办理时间较长，请说明进展并限期化解",
];
const ARCHIVE_NOTES: [&str; 2] = ["回访满意，案结事了，予以归档", "材料齐全，归档"];

/// The main cadre of the village a case belongs to (as the demo enrolls them).
fn village_cadre(village: &str) -> String {
    format!("cadre-{}", &village[6..])
}

/// One evening at every official's desk, from 18:00 of `day_start`. In
/// the `closing` days of the demo each desk leaves the first escalation it
/// receives unread, so every town shows one waiting past its limit.
pub fn work_day(
    state: &State,
    officers: &mut [Officer],
    rng: &mut super::script::Rng,
    day_start: Millis,
    closing: bool,
    tally: &mut Tally,
) -> Result<(), CliError> {
    let storage = state.engine.storage();
    for officer in officers.iter_mut() {
        let mut at = day_start + 18 * HOUR;
        let summaries = storage
            .summaries_in_scope(&officer.scope, None, 1_000_000)
            .map_err(|e| CliError::new(format!("{} cannot read the cases: {e}", officer.name)))?;
        for s in summaries {
            if s.kind != RecordKind::Dispute || s.duplicate_of.is_some() {
                continue;
            }
            let (Some(stage), Some(level)) = (s.loop_stage(), s.loop_level()) else {
                continue;
            };
            let since = s.stage_since.unwrap_or(s.created_at);
            // What happened after this evening is not known yet.
            if since >= at || s.created_at >= at {
                continue;
            }
            let age = at - s.created_at;
            let waited = at - since;
            let pace = match (stage, level == officer.level) {
                (Stage::Pending | Stage::Accepted, true) => {
                    let overlook = closing && stage == Stage::Pending && !officer.overlooked;
                    let pace = *officer.pace.entry(s.id.clone()).or_insert_with(|| {
                        if overlook {
                            Pace::Overlooked
                        } else if rng.chance(0.25) {
                            Pace::Slow
                        } else {
                            Pace::Prompt
                        }
                    });
                    officer.overlooked |= pace == Pace::Overlooked;
                    pace
                }
                _ => Pace::Prompt,
            };
            let action = match stage {
                Stage::Pending if level == officer.level && pace != Pace::Overlooked => {
                    if tally.returned < MAX_RETURNED && level == Level::Town && rng.chance(0.07) {
                        Some(Action::Return {
                            note: RETURN_NOTE.to_owned(),
                        })
                    } else if rng.chance(if pace == Pace::Slow { 0.05 } else { 0.5 }) {
                        Some(Action::Accept {
                            note: rng
                                .chance(0.6)
                                .then(|| (*rng.pick(&ACCEPT_NOTES)).to_owned()),
                        })
                    } else {
                        None
                    }
                }
                Stage::Accepted
                    if level == officer.level
                        && rng.chance(if pace == Pace::Slow { 0.1 } else { 0.8 }) =>
                {
                    let person = if officer.staff.is_empty() || rng.chance(0.5) {
                        village_cadre(s.village.as_str())
                    } else {
                        rng.pick(&officer.staff).clone()
                    };
                    Some(Action::Assign { person, note: None })
                }
                Stage::Accepted | Stage::Handling
                    if officer.owns(level)
                        && s.supervision_due.is_none()
                        && officer.supervised < MAX_SUPERVISED
                        && ((s.risk == Some(Risk::High) && age > 3 * DAY) || age > 14 * DAY)
                        && rng.chance(0.2) =>
                {
                    Some(Action::Supervise {
                        note: (*rng.pick(&SUPERVISE_NOTES)).to_owned(),
                        due: day_start + (3 + rng.below(8) as i64) * DAY + 18 * HOUR,
                    })
                }
                Stage::Resolved | Stage::Failed
                    if officer.owns(level) && waited > 5 * DAY && rng.chance(0.15) =>
                {
                    Some(Action::Archive {
                        note: Some((*rng.pick(&ARCHIVE_NOTES)).to_owned()),
                    })
                }
                _ => None,
            };
            let Some(action) = action else {
                continue;
            };
            act(state, officer, &s.id, &action, at)?;
            match action {
                Action::Accept { .. } => tally.accepted += 1,
                Action::Return { .. } => tally.returned += 1,
                Action::Assign { .. } => tally.assigned += 1,
                Action::Supervise { .. } => {
                    tally.supervised += 1;
                    officer.supervised += 1;
                }
                Action::Archive { .. } => tally.archived += 1,
                _ => {}
            }
            at += 7 * MINUTE;
        }
    }
    Ok(())
}

/// The official of `officer` accepts case `id` at `at`, and leaves the
/// choice of a handler for the next morning.
pub fn accept(
    state: &State,
    officer: &Officer,
    id: &DocumentId,
    at: Millis,
    tally: &mut Tally,
) -> Result<(), CliError> {
    act(
        state,
        officer,
        id,
        &Action::Accept {
            note: Some(ACCEPT_NOTES[0].to_owned()),
        },
        at,
    )?;
    tally.accepted += 1;
    Ok(())
}

fn act(
    state: &State,
    officer: &Officer,
    id: &DocumentId,
    action: &Action,
    at: Millis,
) -> Result<(), CliError> {
    perform_action(state, &officer.official, id, action, at)
        .map(|_| ())
        .map_err(|e| {
            CliError::new(format!(
                "{} could not act on case {id} ({action:?}): {} ({})",
                officer.name,
                e.body.message,
                e.body.code.as_str()
            ))
        })
}
