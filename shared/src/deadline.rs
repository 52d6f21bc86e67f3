//! Time limits of the closed loop (办理时限): by when a case must be
//! accepted, concluded and visited again, and how many days are left or
//! overdue.
//!
//! | limit | runs from | default |
//! |---|---|---|
//! | accept an escalation (受理) | the escalation | 3 days |
//! | conclude the mediation (办结) | the report | 30 days |
//! | follow-up visit (回访) | the agreement or resolution | 15 days |
//! | 督办 deadline | set by the supervising official | — |
//!
//! A case's deadline is the earliest of those that apply where it stands
//! ([`Stage`]): a case awaiting acceptance must be accepted and concluded;
//! one being handled must be concluded; one resolved must be visited
//! again; a 督办 deadline applies until the case is concluded. Resolved,
//! failed and archived cases have none. Everything is computed from the
//! [`Summary`], so the phone, the server and the dashboard agree.

use std::collections::BTreeMap;

use fengqiao_protocol::{DistrictCode, TownCode, VillageCode};
use serde::{Deserialize, Serialize};

use crate::stats::MILLIS_PER_DAY;
use crate::summary::{Millis, Summary};
use crate::vocab::{RecordKind, Stage};

/// The time limits of an organisation, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeLimits {
    /// Days from the report to the conclusion of the mediation.
    pub conclude_days: u32,
    /// Days from an escalation to its acceptance by the level above.
    pub accept_days: u32,
    /// Days from an agreement (or resolution) to the follow-up visit.
    pub followup_days: u32,
}

impl TimeLimits {
    /// 人民调解: settled within a month; accepted within three days;
    /// visited again within fifteen days of the agreement.
    pub const DEFAULT: TimeLimits = TimeLimits {
        conclude_days: 30,
        accept_days: 3,
        followup_days: 15,
    };

    /// The longest limit accepted, in days (a year).
    pub const MAX_DAYS: u32 = 366;

    /// Checks every limit lies in 1..=[`Self::MAX_DAYS`]; the message names
    /// the first that does not.
    pub fn check(&self) -> Result<(), String> {
        for (name, days) in [
            ("concludeDays", self.conclude_days),
            ("acceptDays", self.accept_days),
            ("followupDays", self.followup_days),
        ] {
            if !(1..=Self::MAX_DAYS).contains(&days) {
                return Err(format!(
                    "{name} is {days}; a time limit is 1 to {} days",
                    Self::MAX_DAYS
                ));
            }
        }
        Ok(())
    }
}

impl Default for TimeLimits {
    fn default() -> Self {
        TimeLimits::DEFAULT
    }
}

/// An organisation's own time limits: each one given replaces the
/// default; those left out keep it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclude_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followup_days: Option<u32>,
}

impl LimitOverrides {
    /// `base` with these overrides applied.
    pub fn over(&self, base: TimeLimits) -> TimeLimits {
        TimeLimits {
            conclude_days: self.conclude_days.unwrap_or(base.conclude_days),
            accept_days: self.accept_days.unwrap_or(base.accept_days),
            followup_days: self.followup_days.unwrap_or(base.followup_days),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == LimitOverrides::default()
    }
}

/// The time limits in force everywhere: the server's defaults, then a
/// district's own, then a town's own (the nearest wins, field by field).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitTable {
    pub default: TimeLimits,
    #[serde(default)]
    pub districts: BTreeMap<DistrictCode, LimitOverrides>,
    #[serde(default)]
    pub towns: BTreeMap<TownCode, LimitOverrides>,
}

impl LimitTable {
    /// Everywhere the same limits.
    pub fn uniform(default: TimeLimits) -> Self {
        LimitTable {
            default,
            ..LimitTable::default()
        }
    }

    /// The limits of a village's cases.
    pub fn for_village(&self, village: &VillageCode) -> TimeLimits {
        let mut limits = self.default;
        if let Some(district) = self.districts.get(&village.district()) {
            limits = district.over(limits);
        }
        if let Some(town) = self.towns.get(&village.town()) {
            limits = town.over(limits);
        }
        limits
    }

    /// The deadline binding a case at `now` under its village's limits.
    pub fn deadline(&self, summary: &Summary, now: Millis) -> Option<Deadline> {
        deadline(summary, &self.for_village(&summary.village), now)
    }
}

/// Which limit a deadline comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeadlineKind {
    /// Accept the escalation (受理时限).
    Accept,
    /// Conclude the mediation (办结时限).
    Conclude,
    /// Visit the parties again (回访时限).
    Followup,
    /// The deadline of a 督办.
    Supervision,
}

impl DeadlineKind {
    pub const ALL: &'static [DeadlineKind] = &[
        DeadlineKind::Accept,
        DeadlineKind::Conclude,
        DeadlineKind::Followup,
        DeadlineKind::Supervision,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineKind::Accept => "accept",
            DeadlineKind::Conclude => "conclude",
            DeadlineKind::Followup => "followup",
            DeadlineKind::Supervision => "supervision",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            DeadlineKind::Accept => "受理时限",
            DeadlineKind::Conclude => "办结时限",
            DeadlineKind::Followup => "回访时限",
            DeadlineKind::Supervision => "督办时限",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            DeadlineKind::Accept => "Acceptance deadline",
            DeadlineKind::Conclude => "Conclusion deadline",
            DeadlineKind::Followup => "Follow-up deadline",
            DeadlineKind::Supervision => "Supervision deadline",
        }
    }
}

/// A case's binding deadline and where it stands against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deadline {
    pub kind: DeadlineKind,
    /// When it falls due, in ms since the epoch.
    pub due: Millis,
    /// Whole days left before it falls due (0 on its last day); negative
    /// when overdue: `-3` is three days overdue.
    pub days_left: i64,
}

impl Deadline {
    /// Days overdue (0 when not overdue).
    pub fn days_overdue(&self) -> i64 {
        (-self.days_left).max(0)
    }

    pub fn is_overdue(&self) -> bool {
        self.days_left < 0
    }
}

/// Whole days from `now` to `due`, rounded down: 0 while less than a day
/// is left, −1 during the first day after it.
pub fn days_left(due: Millis, now: Millis) -> i64 {
    (i128::from(due) - i128::from(now))
        .div_euclid(i128::from(MILLIS_PER_DAY))
        .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn after_days(from: Millis, days: u32) -> Millis {
    from.saturating_add(i64::from(days).saturating_mul(MILLIS_PER_DAY))
}

/// The deadline binding a dispute at `now` under `limits`, or `None` when
/// none applies (a visit; a case resolved, failed or archived).
pub fn deadline(summary: &Summary, limits: &TimeLimits, now: Millis) -> Option<Deadline> {
    if summary.kind != RecordKind::Dispute {
        return None;
    }
    let stage = summary.loop_stage()?;
    let since = summary.stage_since.unwrap_or(summary.last_activity);
    let conclude = (
        DeadlineKind::Conclude,
        after_days(summary.created_at, limits.conclude_days),
    );
    let mut candidates = Vec::with_capacity(3);
    match stage {
        Stage::Pending => {
            candidates.push((DeadlineKind::Accept, after_days(since, limits.accept_days)));
            candidates.push(conclude);
        }
        Stage::Accepted | Stage::Handling => candidates.push(conclude),
        Stage::Followup => {
            candidates.push((
                DeadlineKind::Followup,
                after_days(since, limits.followup_days),
            ));
        }
        Stage::Resolved | Stage::Failed | Stage::Archived => return None,
    }
    if let Some(due) = summary.supervision_due
        && !stage.is_concluded()
    {
        candidates.push((DeadlineKind::Supervision, due));
    }
    candidates
        .into_iter()
        .min_by_key(|(kind, due)| (*due, *kind))
        .map(|(kind, due)| Deadline {
            kind,
            due,
            days_left: days_left(due, now),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fengqiao_protocol::{DocumentId, VillageCode};

    const DAY: Millis = MILLIS_PER_DAY;
    const T0: Millis = 1_780_000_000_000;

    fn dispute(stage: Stage, since: Millis) -> Summary {
        Summary {
            stage: Some(stage),
            stage_since: Some(since),
            ..Summary::new(
                DocumentId::random(),
                RecordKind::Dispute,
                VillageCode::new("500110101001").expect("a village code"),
                T0,
                "p1",
            )
        }
    }

    #[test]
    fn a_case_in_mediation_must_be_concluded_within_thirty_days() {
        let case = dispute(Stage::Handling, T0);
        let d = deadline(&case, &TimeLimits::DEFAULT, T0 + 10 * DAY).expect("a deadline");
        assert_eq!(d.kind, DeadlineKind::Conclude);
        assert_eq!(d.due, T0 + 30 * DAY);
        assert_eq!(d.days_left, 20);
        let late = deadline(&case, &TimeLimits::DEFAULT, T0 + 33 * DAY + 1).expect("a deadline");
        assert_eq!(late.days_left, -4);
        assert_eq!(late.days_overdue(), 4);
    }

    #[test]
    fn an_escalation_waits_three_days_and_a_follow_up_fifteen() {
        let pending = dispute(Stage::Pending, T0 + 5 * DAY);
        let d = deadline(&pending, &TimeLimits::DEFAULT, T0 + 5 * DAY).expect("a deadline");
        assert_eq!((d.kind, d.days_left), (DeadlineKind::Accept, 3));
        let followup = dispute(Stage::Followup, T0 + 40 * DAY);
        let d = deadline(&followup, &TimeLimits::DEFAULT, T0 + 56 * DAY).expect("a deadline");
        assert_eq!((d.kind, d.days_left), (DeadlineKind::Followup, -1));
        let limits = TimeLimits {
            accept_days: 1,
            ..TimeLimits::DEFAULT
        };
        let d = deadline(&pending, &limits, T0 + 5 * DAY).expect("a deadline");
        assert_eq!(d.due, T0 + 6 * DAY);
    }

    #[test]
    fn an_earlier_supervision_deadline_binds_until_the_case_concludes() {
        let mut case = dispute(Stage::Handling, T0);
        case.supervision_due = Some(T0 + 7 * DAY);
        let d = deadline(&case, &TimeLimits::DEFAULT, T0).expect("a deadline");
        assert_eq!((d.kind, d.days_left), (DeadlineKind::Supervision, 7));
        for stage in [Stage::Resolved, Stage::Failed, Stage::Archived] {
            assert_eq!(
                deadline(&dispute(stage, T0), &TimeLimits::DEFAULT, T0),
                None
            );
        }
    }

    #[test]
    fn a_town_overrides_its_district_which_overrides_the_default() {
        let village = VillageCode::new("500110101001").expect("village");
        let mut table = LimitTable::uniform(TimeLimits::DEFAULT);
        assert_eq!(table.for_village(&village), TimeLimits::DEFAULT);
        table.districts.insert(
            village.district(),
            LimitOverrides {
                conclude_days: Some(20),
                accept_days: Some(2),
                followup_days: None,
            },
        );
        table.towns.insert(
            village.town(),
            LimitOverrides {
                accept_days: Some(1),
                ..LimitOverrides::default()
            },
        );
        let limits = table.for_village(&village);
        assert_eq!(
            (
                limits.conclude_days,
                limits.accept_days,
                limits.followup_days
            ),
            (20, 1, 15)
        );
        let elsewhere = VillageCode::new("500120101001").expect("village");
        assert_eq!(table.for_village(&elsewhere), TimeLimits::DEFAULT);
    }

    #[test]
    fn a_summary_stored_before_stages_is_read_from_its_status() {
        let mut old = dispute(Stage::Pending, T0);
        old.stage = None;
        old.stage_since = None;
        old.status = Some(crate::vocab::Status::Escalated);
        old.last_activity = T0 + DAY;
        let d = deadline(&old, &TimeLimits::DEFAULT, T0 + DAY).expect("a deadline");
        assert_eq!((d.kind, d.due), (DeadlineKind::Accept, T0 + 4 * DAY));
        old.status = Some(crate::vocab::Status::Resolved);
        assert_eq!(deadline(&old, &TimeLimits::DEFAULT, T0), None);
    }

    #[test]
    fn limits_out_of_range_are_refused() {
        assert!(TimeLimits::DEFAULT.check().is_ok());
        let zero = TimeLimits {
            accept_days: 0,
            ..TimeLimits::DEFAULT
        };
        assert!(zero.check().unwrap_err().starts_with("acceptDays"));
    }
}
