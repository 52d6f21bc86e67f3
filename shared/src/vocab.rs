//! The closed vocabularies of the record schema (DESIGN.md §3), with their
//! wire strings and Chinese labels.
//!
//! Each enum reads and writes the exact lower-case string that JavaScript
//! clients store in the document. `parse` is the one place a string from a
//! document becomes a value; an unknown string is a validation error, never a
//! panic.

use serde::{Deserialize, Serialize};

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $wire:literal / $zh:literal / $en:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            /// Every value, in schema order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The string stored in documents and sent on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }

            /// The Chinese label shown to users.
            pub fn label_zh(self) -> &'static str {
                match self {
                    $($name::$variant => $zh),+
                }
            }

            /// The English label shown to users who chose English.
            pub fn label_en(self) -> &'static str {
                match self {
                    $($name::$variant => $en),+
                }
            }

            /// The value for a stored string, or `None` if it is not in the vocabulary.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($wire => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary!(
    /// What a record is: the `type` field of every document.
    RecordKind {
        Dispute = "dispute" / "矛盾纠纷" / "Dispute",
        Visit = "visit" / "民情走访" / "Household visit",
    }
);

vocabulary!(
    /// Dispute category.
    Category {
        Land = "land" / "土地/宅基地/山林" / "Land, homestead, forest",
        Neighbor = "neighbor" / "邻里纠纷" / "Neighbours",
        Family = "family" / "婚姻家庭" / "Marriage and family",
        Debt = "debt" / "借贷纠纷" / "Debt",
        Labor = "labor" / "劳资纠纷" / "Labour and wages",
        Contract = "contract" / "合同纠纷" / "Contract",
        Damage = "damage" / "损害赔偿" / "Damages",
        Environment = "environment" / "生态环境" / "Environment",
        Other = "other" / "其他" / "Other",
    }
);

vocabulary!(
    /// Dispute risk. Ordered: a concurrent disagreement resolves to the highest.
    Risk {
        Low = "low" / "低" / "Low",
        Medium = "medium" / "中" / "Medium",
        High = "high" / "高" / "High",
    }
);

vocabulary!(
    /// Visit sentiment. Ordered by severity: a concurrent disagreement
    /// resolves to the most severe.
    Sentiment {
        Positive = "positive" / "满意" / "Satisfied",
        Neutral = "neutral" / "一般" / "Neutral",
        Concern = "concern" / "关注" / "Concerned",
        Urgent = "urgent" / "紧急" / "Urgent",
    }
);

vocabulary!(
    /// The role of a party to a dispute.
    PartyRole {
        Applicant = "applicant" / "申请人" / "Applicant",
        Respondent = "respondent" / "被申请人" / "Respondent",
        Other = "other" / "其他" / "Other",
    }
);

vocabulary!(
    /// The kind of a dispute timeline event.
    EventKind {
        Reported = "reported" / "登记" / "Reported",
        Mediation = "mediation" / "调解" / "Mediation",
        Agreement = "agreement" / "达成协议" / "Agreement reached",
        Resolved = "resolved" / "化解" / "Resolved",
        Failed = "failed" / "调解失败" / "Mediation failed",
        Escalated = "escalated" / "上报" / "Escalated",
        Reopened = "reopened" / "重新受理" / "Reopened",
        Followup = "followup" / "回访" / "Follow-up visit",
        Note = "note" / "备注" / "Note",
        Accepted = "accepted" / "受理" / "Accepted",
        Returned = "returned" / "退回" / "Returned",
        Assigned = "assigned" / "分派" / "Assigned",
        Supervised = "supervised" / "督办" / "Supervised",
        Archived = "archived" / "归档" / "Archived",
    }
);

vocabulary!(
    /// A level of the mediation hierarchy. Ordered from the grassroots up.
    Level {
        Village = "village" / "村级" / "Village",
        Town = "town" / "镇级" / "Town",
        District = "district" / "区级" / "District",
        Court = "court" / "法院" / "Court",
    }
);

vocabulary!(
    /// A visit topic.
    Topic {
        Livelihood = "livelihood" / "民生" / "Livelihood",
        Infrastructure = "infrastructure" / "基础设施" / "Infrastructure",
        Land = "land" / "土地" / "Land",
        Health = "health" / "医疗卫生" / "Health care",
        Education = "education" / "教育" / "Education",
        Employment = "employment" / "就业" / "Employment",
        Policy = "policy" / "政策咨询" / "Policy questions",
        Complaint = "complaint" / "投诉" / "Complaint",
        Safety = "safety" / "安全" / "Safety",
        Other = "other" / "其他" / "Other",
    }
);

vocabulary!(
    /// Where a dispute stands in the closed loop an official works
    /// (受理 → 分派 → 调处 → 反馈 → 回访 → 归档). Derived from the timeline
    /// like [`Status`], never stored; [`Status`] keeps its meaning for the
    /// statistics.
    Stage {
        Pending = "pending" / "待受理" / "Awaiting acceptance",
        Accepted = "accepted" / "已受理/待分派" / "Accepted, to be assigned",
        Handling = "handling" / "调处中" / "In mediation",
        Followup = "followup" / "待回访" / "Follow-up visit due",
        Resolved = "resolved" / "已化解" / "Resolved",
        Failed = "failed" / "调解失败" / "Mediation failed",
        Archived = "archived" / "已归档" / "Archived",
    }
);

impl Stage {
    /// Whether the case's mediation is concluded (resolved, failed,
    /// awaiting its follow-up, or archived): the 30-day limit no longer
    /// runs.
    pub fn is_concluded(self) -> bool {
        matches!(
            self,
            Stage::Followup | Stage::Resolved | Stage::Failed | Stage::Archived
        )
    }
}

/// The derived status of a dispute (never stored; folded from events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    Open,
    Mediating,
    Resolved,
    Failed,
    /// Escalated to a level; the level is carried beside the status
    /// ([`crate::summary::Summary::escalation_level`]).
    Escalated,
}

impl Status {
    pub const ALL: &'static [Status] = &[
        Status::Open,
        Status::Mediating,
        Status::Resolved,
        Status::Failed,
        Status::Escalated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Mediating => "mediating",
            Status::Resolved => "resolved",
            Status::Failed => "failed",
            Status::Escalated => "escalated",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Status::Open => "待调解",
            Status::Mediating => "调解中",
            Status::Resolved => "已化解",
            Status::Failed => "调解失败",
            Status::Escalated => "已上报",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Status::Open => "Open",
            Status::Mediating => "Mediating",
            Status::Resolved => "Resolved",
            Status::Failed => "Mediation failed",
            Status::Escalated => "Escalated",
        }
    }

    /// Whether the case still needs work (counts towards "open" and "overdue").
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_strings_round_trip_and_unknowns_are_refused() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(*c));
        }
        for t in Topic::ALL {
            assert_eq!(Topic::parse(t.as_str()), Some(*t));
        }
        assert_eq!(Risk::parse("severe"), None);
        assert_eq!(EventKind::parse("Resolved"), None);
        assert!(Risk::High > Risk::Medium && Risk::Medium > Risk::Low);
        assert!(Sentiment::Urgent > Sentiment::Concern);
        assert!(Level::Court > Level::District && Level::Town > Level::Village);
    }
}
