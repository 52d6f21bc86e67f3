//! The flat projection of a record (DESIGN.md §3 "Projection").
//!
//! Every record folds to one [`Summary`]; the phone uses it for list views
//! and the server for its projection index and for statistics. The same
//! function produces it everywhere, so the numbers agree everywhere.
//!
//! Times are milliseconds since the Unix epoch (UTC).

use fengqiao_protocol::{DocumentId, VillageCode};
use serde::{Deserialize, Serialize};

use crate::vocab::{Category, Level, RecordKind, Risk, Sentiment, Stage, Status, Topic};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// One record, flattened. Fields that do not apply to the record's kind
/// are `None` or empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub id: DocumentId,
    pub kind: RecordKind,
    pub village: VillageCode,
    pub created_at: Millis,
    /// The cadre (person) id in `createdBy`.
    pub created_by: String,
    /// The latest time found in the record (creation, events, visit time).
    pub last_activity: Millis,
    /// Dispute title, or the visited household for a visit.
    pub title: String,

    // --- disputes ---
    pub status: Option<Status>,
    pub category: Option<Category>,
    pub risk: Option<Risk>,
    /// Level of the latest escalation in effect, when status is escalated.
    pub escalation_level: Option<Level>,
    /// Highest level the case was escalated to and not returned from (for
    /// the grassroots resolution rate: resolved without escalation beyond
    /// the township; see `stats::Standing`).
    pub max_escalation_level: Option<Level>,
    /// Time of the event that resolved it, when status is resolved.
    pub resolved_at: Option<Millis>,
    pub party_names: Vec<String>,
    pub assignees: Vec<String>,
    pub event_count: u32,
    pub duplicate_of: Option<DocumentId>,
    /// The closed-loop stage (受理 → 分派 → 调处 → 回访 → 归档), folded
    /// from the timeline beside `status`.
    #[serde(default)]
    pub stage: Option<Stage>,
    /// When the case entered its stage.
    #[serde(default)]
    pub stage_since: Option<Millis>,
    /// The level handling the case: the village until an escalation, the
    /// level escalated to (and not returned from) after one.
    #[serde(default)]
    pub handling_level: Option<Level>,
    /// The 督办 deadline in effect, until the case is concluded.
    #[serde(default)]
    pub supervision_due: Option<Millis>,
    /// Cases an official judged not to be duplicates of this one.
    #[serde(default)]
    pub not_duplicates: Vec<DocumentId>,

    // --- visits ---
    pub visited_at: Option<Millis>,
    pub sentiment: Option<Sentiment>,
    pub topics: Vec<Topic>,
    pub follow_up_needed: bool,
    pub follow_up_done: bool,
    pub follow_up_due: Option<Millis>,
    pub linked_dispute: Option<DocumentId>,
}

impl Summary {
    /// The closed-loop stage of a dispute. A summary stored before stages
    /// existed has none; it is derived from the status then (such records
    /// have no acceptance events, so an escalated case awaits acceptance).
    pub fn loop_stage(&self) -> Option<Stage> {
        if self.kind != RecordKind::Dispute {
            return None;
        }
        self.stage.or_else(|| {
            self.status.map(|status| match status {
                Status::Open | Status::Mediating => Stage::Handling,
                Status::Escalated => Stage::Pending,
                Status::Resolved => Stage::Resolved,
                Status::Failed => Stage::Failed,
            })
        })
    }

    /// The level handling a dispute, derived like [`Self::loop_stage`] for
    /// summaries stored before it was recorded.
    pub fn loop_level(&self) -> Option<Level> {
        if self.kind != RecordKind::Dispute {
            return None;
        }
        self.handling_level
            .or_else(|| Some(self.escalation_level.unwrap_or(Level::Village)))
    }

    /// A record of `kind` created in `village` at `created_at` by
    /// `created_by`, with nothing else known yet: no title, status or
    /// events. Tools and tests fill in the rest with struct update syntax.
    pub fn new(
        id: DocumentId,
        kind: RecordKind,
        village: VillageCode,
        created_at: Millis,
        created_by: impl Into<String>,
    ) -> Self {
        Self {
            id,
            kind,
            village,
            created_at,
            created_by: created_by.into(),
            last_activity: created_at,
            title: String::new(),
            status: None,
            category: None,
            risk: None,
            escalation_level: None,
            max_escalation_level: None,
            resolved_at: None,
            party_names: Vec::new(),
            assignees: Vec::new(),
            event_count: 0,
            duplicate_of: None,
            stage: None,
            stage_since: None,
            handling_level: None,
            supervision_due: None,
            not_duplicates: Vec::new(),
            visited_at: None,
            sentiment: None,
            topics: Vec::new(),
            follow_up_needed: false,
            follow_up_done: false,
            follow_up_due: None,
            linked_dispute: None,
        }
    }
}
