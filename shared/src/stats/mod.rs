//! Township and district statistics over record summaries (DESIGN.md §6).
//!
//! Every function here is pure: it reads [`Summary`] values and a
//! [`StatsQuery`] and returns plain serde structs. The "as of" time comes in
//! the query and the clock is never read, so the phone, the server's JSON API,
//! the CLI and the exports all print the same numbers for the same records.
//! Every map is a `BTreeMap` and every list is sorted, so serialising a result
//! always gives the same bytes.
//!
//! # Which records count
//!
//! - Only records whose village lies in [`StatsQuery::scope`] (all, when
//!   `None`).
//! - **Linked duplicates count once.** A dispute whose `duplicateOf` is set
//!   has been folded into another case by a mediator; it is left out of every
//!   dispute count, rate, median, backlog list and duplicate candidate, and
//!   the case it points to stands for both. If links form a cycle (two
//!   cadres marked each other's case as the duplicate while offline), the
//!   member of the cycle with the smallest document id is kept, so the case
//!   is still counted exactly once. The number of linked duplicates left out
//!   is reported as [`DisputeStats::linked_duplicates`].
//! - **Period figures** (counts by village × status / category / risk,
//!   totals, rates, median, drill-downs) take disputes *created* within
//!   [`StatsQuery::period`], and visits *visited* within it (the creation
//!   time when a visit has no visit time).
//! - **Backlog figures** (overdue open cases, open high-risk cases, pending
//!   follow-ups) describe the state as of [`StatsQuery::now`] and ignore the
//!   period: an old case that is still open is exactly what a backlog must
//!   show. Statuses are the records' current ones.
//! - A dispute without a status counts as `open` (no event has moved it). A
//!   dispute without a category or risk, or a visit without a sentiment (a
//!   valid record always has them), is counted in the totals but in no cell of
//!   that breakdown.
//!
//! Calendar keys (ISO weeks, months) are computed in
//! [`StatsQuery::utc_offset_minutes`], by default China Standard Time.
//!
//! The functions here compute each answer directly over the summaries given.
//! [`partial`] computes the same answers from per-village parts that merge
//! exactly, which is how the server keeps a district's figures current
//! without going through every record after each commit; a property test
//! holds the two to the same results.

pub mod calendar;
pub mod compare;
mod disputes;
mod drill;
pub mod partial;
mod visits;
pub mod workload;

use std::collections::BTreeMap;

use fengqiao_protocol::{DocumentId, Scope, TownCode, VillageCode};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::summary::{Millis, Summary};
use crate::vocab::{Category, Level, Risk, Sentiment, Status, Topic};

pub use calendar::{
    CHINA_STANDARD_OFFSET_MINUTES, CalendarKeyError, IsoWeek, MAX_OFFSET_MINUTES, MILLIS_PER_DAY,
    YearMonth,
};
pub use disputes::{dispute_stats, open_high_risk, overdue_cases, possible_duplicates};
pub use drill::{by_category, by_month, by_town, by_village};
pub use visits::visit_stats;

/// The field's target for the grassroots resolution rate (基层化解率): at
/// least 90% of the disputes received resolved without escalation beyond
/// the township.
pub const GRASSROOTS_TARGET: f64 = 0.9;

/// [`GRASSROOTS_TARGET`] as an exact fraction, so that "met" is decided in
/// whole numbers: 9 of 10 is met, however the rate rounds.
const GRASSROOTS_TARGET_FRACTION: (u64, u64) = (9, 10);

/// An open case older than this many days is overdue, unless the query says
/// otherwise.
pub const DEFAULT_OVERDUE_DAYS: u32 = 30;

/// Two disputes of one village with a common party are possible duplicates
/// when they were created at most this many days apart.
pub const DUPLICATE_WINDOW_DAYS: u32 = 14;

/// A time window, `from` inclusive and `to` exclusive; an absent bound is
/// open. `Period::default()` is all time. A window whose `from` is not before
/// its `to` contains nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Period {
    pub from: Option<Millis>,
    pub to: Option<Millis>,
}

impl Period {
    /// All time.
    pub const ALL: Period = Period {
        from: None,
        to: None,
    };

    /// A window, refused when `from` is not before `to`.
    pub fn new(from: Option<Millis>, to: Option<Millis>) -> Result<Self, StatsError> {
        let period = Self { from, to };
        period.validate()?;
        Ok(period)
    }

    /// Refuses a window that can contain nothing.
    pub fn validate(&self) -> Result<(), StatsError> {
        match (self.from, self.to) {
            (Some(from), Some(to)) if from >= to => Err(StatsError::EmptyPeriod { from, to }),
            _ => Ok(()),
        }
    }

    /// Whether the instant `at` lies in the window.
    pub fn contains(&self, at: Millis) -> bool {
        self.from.is_none_or(|from| at >= from) && self.to.is_none_or(|to| at < to)
    }
}

/// What to compute statistics for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsQuery {
    /// The "as of" time for backlog figures (overdue, pending follow-ups),
    /// normally the current time, read by the caller.
    pub now: Millis,
    /// The window for period figures.
    #[serde(default)]
    pub period: Period,
    /// An open dispute created more than this many days before `now` is
    /// overdue.
    #[serde(default = "default_overdue_days")]
    pub overdue_days: u32,
    /// Only records of villages in this scope count; all records when `None`.
    #[serde(default)]
    pub scope: Option<Scope>,
    /// The UTC offset, in minutes, of week and month boundaries (clamped to
    /// ±[`MAX_OFFSET_MINUTES`]).
    #[serde(default = "default_offset")]
    pub utc_offset_minutes: i32,
    /// At most this many ids (or pairs) in each list of an answer — the
    /// backlog lists, pending follow-ups and possible duplicates — the
    /// oldest first; their counts are always complete. All when `None`.
    /// A dashboard shows counts and a page of each list, and a district's
    /// full lists run to hundreds of thousands of ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_limit: Option<u32>,
}

fn default_overdue_days() -> u32 {
    DEFAULT_OVERDUE_DAYS
}

fn default_offset() -> i32 {
    CHINA_STANDARD_OFFSET_MINUTES
}

impl StatsQuery {
    /// All records, all time, as of `now`, with the default overdue threshold
    /// and China Standard Time.
    pub fn new(now: Millis) -> Self {
        Self {
            now,
            period: Period::ALL,
            overdue_days: DEFAULT_OVERDUE_DAYS,
            scope: None,
            utc_offset_minutes: CHINA_STANDARD_OFFSET_MINUTES,
            list_limit: None,
        }
    }

    pub fn with_period(mut self, period: Period) -> Self {
        self.period = period;
        self
    }

    pub fn with_overdue_days(mut self, days: u32) -> Self {
        self.overdue_days = days;
        self
    }

    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }

    pub fn with_utc_offset_minutes(mut self, minutes: i32) -> Self {
        self.utc_offset_minutes = minutes;
        self
    }

    pub fn with_list_limit(mut self, limit: Option<u32>) -> Self {
        self.list_limit = limit;
        self
    }

    /// How many entries of a list an answer carries.
    pub(crate) fn list_len(&self, full: usize) -> usize {
        self.list_limit.map_or(full, |limit| {
            full.min(usize::try_from(limit).unwrap_or(usize::MAX))
        })
    }

    /// Refuses a query built from user input that cannot mean anything: an
    /// empty period or an offset beyond ±18 hours. (The statistics functions
    /// accept any query and never panic; this is for telling the user.)
    pub fn validate(&self) -> Result<(), StatsError> {
        self.period.validate()?;
        if !(-MAX_OFFSET_MINUTES..=MAX_OFFSET_MINUTES).contains(&self.utc_offset_minutes) {
            return Err(StatsError::BadOffset(self.utc_offset_minutes));
        }
        Ok(())
    }

    /// Whether a record of `village` is in the query's scope.
    pub fn in_scope(&self, village: &VillageCode) -> bool {
        self.scope
            .as_ref()
            .is_none_or(|scope| scope.contains(village))
    }

    /// Disputes created before this instant are overdue when still open.
    pub fn overdue_before(&self) -> Millis {
        self.now
            .saturating_sub(i64::from(self.overdue_days) * MILLIS_PER_DAY)
    }
}

/// Why a statistics query was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StatsError {
    #[error("the period is empty: it must start ({from}) before it ends ({to})")]
    EmptyPeriod { from: Millis, to: Millis },
    #[error("a UTC offset of {0} minutes is beyond the ±18 hours of any time zone")]
    BadOffset(i32),
}

/// A list of records, with its length.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseList {
    /// How many records the list has, whatever the query's
    /// [`list_limit`](StatsQuery::list_limit).
    pub count: u64,
    /// Oldest first (by creation time, then id) unless the field says
    /// otherwise; the first [`list_limit`](StatsQuery::list_limit) of them
    /// when the query sets one, all `count` otherwise.
    pub ids: Vec<DocumentId>,
}

impl CaseList {
    /// The list of `count` records whose first ones, in order, are `ids`
    /// (as many as the query allows).
    fn first<'a>(
        count: usize,
        ids: impl IntoIterator<Item = &'a DocumentId>,
        query: &StatsQuery,
    ) -> Self {
        Self {
            count: count as u64,
            ids: ids
                .into_iter()
                .take(query.list_len(count))
                .cloned()
                .collect(),
        }
    }
}

/// Dispute figures of one group of disputes (a whole scope, a village, a
/// town, a category or a month), for the disputes received (reported)
/// within the period.
///
/// Every dispute received stands in exactly one of four places against
/// the grassroots target ([`Standing`]):
///
/// `received = grassroots_resolved + still_open + failed_in_township +
/// escalated_beyond_township`
///
/// so the gap between 基层化解率 and 100 % is always explained by the last
/// three counts. The status counts (`open`, `mediating`, `failed`,
/// `escalated`) are kept beside them for the tables that show statuses.
/// Every figure is defined in words, in Chinese and English, by
/// [`definitions`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DisputeFigures {
    /// Disputes received: reported within the period, linked duplicates
    /// left out (a case reported twice counts once). The same number as
    /// `received`, under the name older clients read.
    pub total: u64,
    /// Disputes received (受理): reported within the period, linked
    /// duplicates counted once.
    #[serde(default)]
    pub received: u64,
    /// Not resolved (未化解): every status but `resolved`. Always
    /// `total - resolved`.
    pub open: u64,
    /// Resolved at any level (已化解).
    pub resolved: u64,
    /// Status counts: currently mediating, failed, escalated (at any level).
    pub mediating: u64,
    pub failed: u64,
    pub escalated: u64,
    /// Resolved in the village, never escalated beyond it (村级化解).
    #[serde(default)]
    pub village_resolved: u64,
    /// Resolved after an escalation to the town, never beyond it.
    #[serde(default)]
    pub town_resolved: u64,
    /// Resolved without escalation beyond the township: in the village or
    /// at the town (基层化解) — `village_resolved + town_resolved`.
    pub grassroots_resolved: u64,
    /// Resolved after an escalation beyond the township (district, court);
    /// part of `escalated_beyond_township`.
    #[serde(default)]
    pub resolved_beyond_township: u64,
    /// Not resolved, not failed, never escalated beyond the township: still
    /// being worked in the village or the town (仍在办理).
    #[serde(default)]
    pub still_open: u64,
    /// Mediation failed, never escalated beyond the township (调解失败).
    #[serde(default)]
    pub failed_in_township: u64,
    /// Escalated beyond the township — to the district or a court — at any
    /// time, whatever the status now (上报镇外).
    #[serde(default)]
    pub escalated_beyond_township: u64,
    /// 化解率: `resolved / received`; `None` when nothing was received.
    pub resolution_rate: Option<f64>,
    /// 基层化解率: `grassroots_resolved / received`, the share of the
    /// disputes received that were resolved without escalation beyond the
    /// township. `None` when nothing was received. The target
    /// ([`GRASSROOTS_TARGET`]) is compared with this.
    pub grassroots_rate: Option<f64>,
    /// 村级化解率: `village_resolved / received`. `None` when nothing was
    /// received.
    #[serde(default)]
    pub village_rate: Option<f64>,
    /// Whether `grassroots_rate` reaches [`GRASSROOTS_TARGET`] (decided
    /// exactly, `grassroots_resolved * 10 >= received * 9`); `false` when
    /// nothing was received, as there is no achievement to show.
    pub grassroots_target_met: bool,
    /// Median of `resolvedAt - createdAt` in days over resolved disputes
    /// that carry a resolution time; the mean of the two middle values for an
    /// even count. A resolution time before creation (a wrong phone clock)
    /// counts as 0 days. `None` when there is no such dispute.
    pub median_days_to_resolve: Option<f64>,
}

/// Where a dispute received stands against the grassroots target; see
/// [`DisputeFigures`]. Decided from its status and the highest level it
/// was ever escalated to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Standing {
    /// Resolved, never escalated beyond the village.
    VillageResolved,
    /// Resolved, escalated to the town at most.
    TownResolved,
    /// Not resolved, not failed, never escalated beyond the town.
    StillOpen,
    /// Failed, never escalated beyond the town.
    FailedInTownship,
    /// Escalated to the district or a court at some time, resolved there
    /// or not.
    EscalatedBeyondTownship,
}

impl Standing {
    /// Where `summary`, a dispute, stands. A dispute without a status is
    /// open.
    pub fn of(summary: &Summary) -> Standing {
        let status = summary.status.unwrap_or(Status::Open);
        if summary.max_escalation_level > Some(Level::Town) {
            Standing::EscalatedBeyondTownship
        } else if status == Status::Resolved {
            if summary.max_escalation_level > Some(Level::Village) {
                Standing::TownResolved
            } else {
                Standing::VillageResolved
            }
        } else if status == Status::Failed {
            Standing::FailedInTownship
        } else {
            Standing::StillOpen
        }
    }

    /// Resolved without escalation beyond the township.
    pub fn is_grassroots_resolved(self) -> bool {
        matches!(self, Standing::VillageResolved | Standing::TownResolved)
    }
}

/// What a figure means, in both languages: its label and how it is
/// computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Definition {
    pub label_zh: String,
    pub label_en: String,
    pub zh: String,
    pub en: String,
}

/// The figures every answer defines, by their field name: label and
/// definition in Chinese and English. The API carries them in its
/// answers (`definitions`), the dashboard shows them under "how is this
/// computed", and `docs/township-view.md` prints the same words.
pub const DEFINITIONS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "received",
        "受理纠纷",
        "Disputes received",
        "统计期内登记受理的矛盾纠纷件数；被标记为重复的案件只计一次（计入其原案）。",
        "Disputes reported within the period; a case linked as a duplicate of another counts once (as the case it duplicates).",
    ),
    (
        "resolved",
        "已化解",
        "Resolved",
        "统计期内受理、目前状态为已化解的纠纷，不论在哪一级化解。",
        "Disputes received in the period whose status is now resolved, at whatever level.",
    ),
    (
        "resolutionRate",
        "化解率",
        "Resolution rate",
        "化解率 = 已化解（任何层级）÷ 受理纠纷。",
        "Resolution rate = resolved (at any level) ÷ disputes received.",
    ),
    (
        "grassrootsRate",
        "基层化解率",
        "Grassroots resolution rate",
        "基层化解率 = 未上报到镇（街道）以外、在村级或镇级化解的纠纷 ÷ 受理纠纷。目标 ≥ 90% 与此比较；仍在办理、调解失败、上报镇外的纠纷都计入分母，不计入分子。",
        "Grassroots resolution rate = disputes resolved in the village or at the town, never escalated beyond the township ÷ disputes received. The target (≥ 90%) is compared with this; disputes still open, failed or escalated beyond the township count in the denominator and not in the numerator.",
    ),
    (
        "villageRate",
        "村级化解率",
        "Village resolution rate",
        "村级化解率 = 在村级化解、从未上报到镇的纠纷 ÷ 受理纠纷。",
        "Village resolution rate = disputes resolved in the village, never escalated to the town ÷ disputes received.",
    ),
    (
        "grassrootsResolved",
        "基层化解",
        "Resolved at the grassroots",
        "在村级或镇级化解、从未上报到区（县）或法院的纠纷件数 = 村级化解 + 镇级化解。",
        "Disputes resolved in the village or at the town, never escalated to the district or a court = village-resolved + town-resolved.",
    ),
    (
        "villageResolved",
        "村级化解",
        "Resolved in the village",
        "在村级化解、从未上报到镇的纠纷件数。",
        "Disputes resolved in the village, never escalated to the town.",
    ),
    (
        "townResolved",
        "镇级化解",
        "Resolved at the town",
        "上报到镇（街道）后化解、从未上报到镇以外的纠纷件数。",
        "Disputes resolved after an escalation to the town, never escalated beyond it.",
    ),
    (
        "stillOpen",
        "仍在办理",
        "Still open",
        "尚未化解、未调解失败、也未上报到镇以外的纠纷件数：仍在村里或镇里办理。",
        "Disputes not resolved, not failed and never escalated beyond the township: still being worked in the village or at the town.",
    ),
    (
        "failedInTownship",
        "调解失败",
        "Mediation failed",
        "调解失败、且未上报到镇以外的纠纷件数。",
        "Disputes whose mediation failed and that were never escalated beyond the township.",
    ),
    (
        "escalatedBeyondTownship",
        "上报镇外",
        "Escalated beyond the township",
        "曾上报到区（县）或法院的纠纷件数，不论现在是否化解（其中已化解的见“镇外化解”）；被上级退回的上报不计。受理纠纷 = 基层化解 + 仍在办理 + 调解失败 + 上报镇外。",
        "Disputes escalated to the district or a court at any time, resolved there or not (those resolved are counted as resolved beyond the township); an escalation the level above returned does not count. Received = resolved at the grassroots + still open + failed + escalated beyond the township.",
    ),
    (
        "resolvedBeyondTownship",
        "镇外化解",
        "Resolved beyond the township",
        "上报到区（县）或法院后化解的纠纷件数；计入化解率，不计入基层化解率。",
        "Disputes resolved after an escalation to the district or a court; they count towards the resolution rate, not the grassroots rate.",
    ),
    (
        "open",
        "未化解",
        "Not resolved",
        "统计期内受理、目前尚未化解的纠纷件数 = 受理纠纷 − 已化解（含调解中、已上报、调解失败）。",
        "Disputes received in the period that are not resolved now = received − resolved (mediating, escalated and failed included).",
    ),
    (
        "medianDaysToResolve",
        "化解用时中位数",
        "Median days to resolve",
        "已化解纠纷从登记到化解所用天数的中位数。",
        "The median number of days from report to resolution over the resolved disputes.",
    ),
    (
        "overdue",
        "超期未结",
        "Overdue",
        "截至统计时点，登记已超过办结时限（默认 30 天）仍未化解的纠纷件数，不论登记于哪个统计期。“超过办理时限的案件”列表另含受理、回访和督办期限已过的案件，逐件注明超期天数。",
        "Disputes not resolved more than the time limit (30 days by default) after they were reported, as of the report's time, whatever the period. The list of cases past a time limit also holds those past their acceptance, follow-up or supervision deadline, each with its days overdue.",
    ),
    (
        "openHighRisk",
        "高风险未结",
        "Open high-risk",
        "风险等级为高、尚未化解的纠纷件数（截至统计时点）。",
        "Disputes of high risk that are not resolved, as of the report's time.",
    ),
    (
        "visits",
        "民情走访",
        "Household visits",
        "统计期内的入户走访次数（按走访时间）。",
        "Household visits made within the period (by visit time).",
    ),
    (
        "pendingFollowUps",
        "待回访",
        "Follow-ups due",
        "走访中承诺回访、尚未完成的件数（截至统计时点）。",
        "Follow-ups promised during visits and not yet done, as of the report's time.",
    ),
];

/// [`DEFINITIONS`] as the map the API answers carry.
pub fn definitions() -> BTreeMap<String, Definition> {
    DEFINITIONS
        .iter()
        .map(|&(name, label_zh, label_en, zh, en)| {
            (
                name.to_owned(),
                Definition {
                    label_zh: label_zh.to_owned(),
                    label_en: label_en.to_owned(),
                    zh: zh.to_owned(),
                    en: en.to_owned(),
                },
            )
        })
        .collect()
}

/// Dispute statistics of a scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DisputeStats {
    pub as_of: Millis,
    pub period: Period,
    pub scope: Option<Scope>,
    pub overdue_days: u32,
    /// The query's [`list_limit`](StatsQuery::list_limit): lists below
    /// carry at most this many entries.
    pub list_limit: Option<u32>,
    /// Figures over all counted disputes created within the period.
    pub totals: DisputeFigures,
    /// Village × status, every status present (0 when none). Villages
    /// appear when they have a counted dispute created within the period.
    pub by_village_status: BTreeMap<VillageCode, BTreeMap<Status, u64>>,
    /// Village × category, every category present.
    pub by_village_category: BTreeMap<VillageCode, BTreeMap<Category, u64>>,
    /// Village × risk, every risk present.
    pub by_village_risk: BTreeMap<VillageCode, BTreeMap<Risk, u64>>,
    /// Linked duplicates created within the period and left out of every
    /// figure above.
    pub linked_duplicates: u64,
    /// Backlog: not resolved and created more than `overdue_days` days before
    /// `as_of`, oldest first.
    pub overdue: CaseList,
    /// Backlog: risk `high` and not resolved, oldest first.
    pub open_high_risk: CaseList,
    /// Possible duplicates among counted disputes; see
    /// [`possible_duplicates`]. The first
    /// [`list_limit`](StatsQuery::list_limit) of them when the query sets
    /// one.
    pub possible_duplicates: Vec<DuplicatePair>,
    /// How many possible duplicates there are in all.
    pub possible_duplicate_count: u64,
}

/// Two disputes that may be the same case reported twice: same village,
/// same category, a party name in common (compared trimmed and
/// case-insensitively), created at most [`DUPLICATE_WINDOW_DAYS`] days
/// apart, and never marked "not a duplicate" of each other. The fields
/// say why the pair is suggested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DuplicatePair {
    pub village: VillageCode,
    /// The category both share.
    #[serde(default)]
    pub category: Option<Category>,
    /// The earlier of the two (by creation time, then id).
    pub first: DocumentId,
    pub second: DocumentId,
    /// `second.createdAt - first.createdAt`, in days.
    pub days_apart: f64,
    /// The party names both share, trimmed and lower-cased, sorted.
    pub shared_names: Vec<String>,
}

/// Visits in one ISO week, for trends.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WeekVisits {
    pub visits: u64,
    /// Visits that recorded each topic (a visit counts once per topic),
    /// every topic present.
    pub topics: BTreeMap<Topic, u64>,
    /// Visits per sentiment, every sentiment present.
    pub sentiments: BTreeMap<Sentiment, u64>,
}

/// Follow-ups promised during visits and not yet done.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FollowUps {
    /// Visits whose follow-up is needed and not done, earliest due first
    /// (visits without a due date last), then by id.
    pub pending: CaseList,
    /// Of those, the ones due strictly before `as_of`, in the same order.
    pub overdue: CaseList,
}

/// Household visit statistics of a scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VisitStats {
    pub as_of: Millis,
    pub period: Period,
    pub scope: Option<Scope>,
    /// Visits within the period.
    pub total: u64,
    /// Visits per village (villages with at least one visit).
    pub by_village: BTreeMap<VillageCode, u64>,
    /// Visits per cadre (`createdBy`) per ISO week of the visit.
    pub by_cadre_week: BTreeMap<String, BTreeMap<IsoWeek, u64>>,
    /// Visits, topics and sentiments per ISO week (weeks with visits).
    pub by_week: BTreeMap<IsoWeek, WeekVisits>,
    /// Visits that recorded each topic, every topic present.
    pub topics: BTreeMap<Topic, u64>,
    /// Visits per sentiment, every sentiment present.
    pub sentiments: BTreeMap<Sentiment, u64>,
    /// Backlog of follow-ups, as of `as_of`, ignoring the period.
    pub follow_ups: FollowUps,
}

/// Everything a township or district dashboard shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statistics {
    pub disputes: DisputeStats,
    pub visits: VisitStats,
    /// What each figure means, by field name ([`definitions`]).
    #[serde(default)]
    pub definitions: BTreeMap<String, Definition>,
}

/// Dispute and visit statistics together, as the dashboard shows them.
pub fn statistics<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    query: &StatsQuery,
) -> Statistics {
    let summaries: Vec<&Summary> = summaries.into_iter().collect();
    Statistics {
        disputes: dispute_stats(summaries.iter().copied(), query),
        visits: visit_stats(summaries.iter().copied(), query),
        definitions: definitions(),
    }
}

/// Per-village drill-down row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VillageFigures {
    pub village: VillageCode,
    /// Period figures of the village's disputes.
    pub disputes: DisputeFigures,
    /// Backlog: overdue open disputes of the village.
    pub overdue: u64,
    /// Backlog: open high-risk disputes of the village.
    pub open_high_risk: u64,
    /// Visits within the period.
    pub visits: u64,
    /// Backlog: pending follow-ups of the village's visits.
    pub pending_follow_ups: u64,
}

/// Per-town drill-down row: the figures of the town's villages together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TownFigures {
    pub town: TownCode,
    /// Period figures of the town's disputes.
    pub disputes: DisputeFigures,
    /// Backlog: overdue open disputes of the town.
    pub overdue: u64,
    /// Backlog: open high-risk disputes of the town.
    pub open_high_risk: u64,
    /// Visits within the period.
    pub visits: u64,
    /// Backlog: pending follow-ups of the town's visits.
    pub pending_follow_ups: u64,
}

/// Per-category drill-down row (disputes created within the period).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CategoryFigures {
    pub category: Category,
    pub disputes: DisputeFigures,
}

/// Per-month drill-down row: disputes created in that month (local time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonthFigures {
    pub month: YearMonth,
    pub disputes: DisputeFigures,
}

/// A map with a zero for every value of a vocabulary.
fn zeros<K: Ord + Copy>(all: &[K]) -> BTreeMap<K, u64> {
    all.iter().map(|&key| (key, 0)).collect()
}

fn bump<K: Ord>(map: &mut BTreeMap<K, u64>, key: K) {
    *map.entry(key).or_insert(0) += 1;
}

/// The entry of `key`, cloning the key only when it is new: the maps keyed
/// by village or cadre see the same few keys over and over.
fn entry_of<'m, K: Ord + Clone, V: Default>(map: &'m mut BTreeMap<K, V>, key: &K) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.clone(), V::default());
    }
    map.get_mut(key).expect("inserted just above")
}

/// `part / whole`, or `None` for an empty whole.
fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Median of the values; the mean of the two middle ones for an even count.
/// Linear time: selects the middle instead of sorting.
fn median(mut values: Vec<f64>) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let (below, &mut upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = below.iter().copied().max_by(f64::total_cmp)?;
    Some((lower + upper) / 2.0)
}

/// The length of `from..to` in days (negative when `to` is earlier).
fn days_between(from: Millis, to: Millis) -> f64 {
    (i128::from(to) - i128::from(from)) as f64 / MILLIS_PER_DAY as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grassroots_fraction_matches_the_target() {
        let (num, den) = GRASSROOTS_TARGET_FRACTION;
        assert_eq!(num as f64 / den as f64, GRASSROOTS_TARGET);
    }

    #[test]
    fn medians_of_odd_even_and_empty_lists() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![4.0]), Some(4.0));
        assert_eq!(median(vec![9.0, 1.0, 4.0]), Some(4.0));
        assert_eq!(median(vec![9.0, 1.0, 4.0, 2.0]), Some(3.0));
    }

    #[test]
    fn ratios_never_divide_by_zero() {
        assert_eq!(ratio(0, 0), None);
        assert_eq!(ratio(5, 8), Some(0.625));
    }

    #[test]
    fn periods_are_half_open_and_validated() {
        let p = Period::new(Some(10), Some(20)).unwrap();
        assert!(p.contains(10) && p.contains(19) && !p.contains(20) && !p.contains(9));
        assert!(Period::ALL.contains(i64::MIN) && Period::ALL.contains(i64::MAX));
        assert_eq!(
            Period::new(Some(20), Some(20)),
            Err(StatsError::EmptyPeriod { from: 20, to: 20 })
        );
        let inverted = Period {
            from: Some(20),
            to: Some(10),
        };
        assert!(!inverted.contains(15));
    }

    #[test]
    fn queries_validate_and_thresholds_saturate() {
        assert!(StatsQuery::new(0).validate().is_ok());
        assert_eq!(
            StatsQuery::new(0)
                .with_utc_offset_minutes(24 * 60)
                .validate(),
            Err(StatsError::BadOffset(1440))
        );
        let q = StatsQuery::new(i64::MIN).with_overdue_days(u32::MAX);
        assert_eq!(q.overdue_before(), i64::MIN);
        assert_eq!(
            StatsQuery::new(40 * MILLIS_PER_DAY).overdue_before(),
            10 * MILLIS_PER_DAY
        );
        assert!(days_between(i64::MIN, i64::MAX) > 0.0);
    }
}
