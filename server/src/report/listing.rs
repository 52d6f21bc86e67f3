//! Record lists: the summaries of a scope that match a filter, a page at a
//! time.
//!
//! | parameter | meaning |
//! |---|---|
//! | `kind` | `dispute` or `visit` |
//! | `status` | a dispute status (`open`, `mediating`, `resolved`, `failed`, `escalated`) or `unresolved` (every status but resolved) |
//! | `category`, `risk` | a dispute category or risk |
//! | `sentiment` | a visit sentiment |
//! | `overdue=true` | overdue open disputes only, as the statistics count them |
//! | `stage` | a closed-loop stage (`pending`, `accepted`, `handling`, `followup`, `resolved`, `failed`, `archived`) |
//! | `level` | the level handling the case (`village`, `town`, `district`, `court`); with `stage=pending`, the cases escalated to that level and awaiting acceptance |
//! | `late=true` | disputes past their deadline (the time limits of their place, or a 督办 deadline) |
//! | `village` | one village of the scope |
//! | `q` | text found in the title (a visit's household) or a party's name, ignoring case |
//! | `from`, `to` | disputes created, visits visited, within the period |
//! | `sort` | `village` (by village, then id; the default), `recent` (latest activity first) or `deadline` (the most overdue first, then the fewest days left; cases without a deadline last) or `reported` (the latest reported first) |
//! | `limit` | at most this many (default 50, at most 500) |
//! | `after` | the `next` cursor of the previous page |
//! | `page`, `per_page` | numbered pages instead of a cursor: page `page` (from 1) of `per_page` records (default 50, at most 200); the answer then carries `total`, `page`, `perPage` and `pages` (not with `after` or `limit`) |
//!
//! A cursor names the last record of a page in the page's order, so paging
//! goes on correctly while records are added or change. Every dispute of a
//! page carries its `deadline` (`{kind, due, daysLeft}`; see
//! [`fengqiao_shared::deadline`]).

use std::cmp::Ordering;
use std::collections::HashSet;

use fengqiao_protocol::{DocumentId, VillageCode};
use fengqiao_shared::deadline::{Deadline, LimitTable};
use fengqiao_shared::stats::{self, Period};
use fengqiao_shared::vocab::{Category, Level, RecordKind, Risk, Sentiment, Stage, Status};
use fengqiao_shared::{Millis, StatsQuery, Summary};
use serde::Serialize;

use super::params::Params;
use super::{ReportError, Rows};

/// Parameters the record list accepts.
pub const LIST_PARAMS: &[&str] = &[
    "scope",
    "from",
    "to",
    "overdueDays",
    "asOf",
    "kind",
    "status",
    "category",
    "risk",
    "sentiment",
    "overdue",
    "stage",
    "level",
    "late",
    "village",
    "q",
    "sort",
    "limit",
    "after",
    "page",
    "per_page",
];

/// Records per page unless the request says otherwise.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest page.
pub const MAX_LIMIT: usize = 500;
/// The largest numbered page.
pub const MAX_PER_PAGE: usize = 200;
/// The highest page number accepted.
pub const MAX_PAGE: usize = 100_000;
/// The longest text search accepted, in characters.
const MAX_TEXT: usize = 100;

/// The wire names of every value of a vocabulary, for messages.
macro_rules! names {
    ($vocabulary:ty) => {
        &<$vocabulary>::ALL
            .iter()
            .map(|value| value.as_str())
            .collect::<Vec<&str>>()
    };
}

/// Which dispute statuses a list keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Is(Status),
    /// Every status but resolved.
    Unresolved,
}

/// The order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// By village, then document id: stable, the order of the index.
    Village,
    /// Latest activity first, then by document id.
    Recent,
    /// The earliest deadline first (the most overdue), then by id; cases
    /// without a deadline last.
    Deadline,
    /// The latest reported (created) first, then by id.
    Reported,
}

/// Which records a list keeps.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    pub kind: Option<RecordKind>,
    pub status: Option<StatusFilter>,
    pub category: Option<Category>,
    pub risk: Option<Risk>,
    pub sentiment: Option<Sentiment>,
    pub overdue: bool,
    pub stage: Option<Stage>,
    /// The level handling the case.
    pub level: Option<Level>,
    /// Past their deadline only.
    pub late: bool,
    /// Lower-cased.
    pub text: Option<String>,
    pub period: Period,
}

/// Where a page starts: after this record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    Village {
        village: VillageCode,
        id: DocumentId,
    },
    Recent {
        last_activity: Millis,
        id: DocumentId,
    },
    /// `due` is `Millis::MAX` for a case without a deadline.
    Deadline {
        due: Millis,
        id: DocumentId,
    },
    Reported {
        created_at: Millis,
        id: DocumentId,
    },
}

impl Cursor {
    fn of(summary: &Summary, order: Order, due: Millis) -> Self {
        match order {
            Order::Deadline => Cursor::Deadline {
                due,
                id: summary.id.clone(),
            },
            Order::Village => Cursor::Village {
                village: summary.village.clone(),
                id: summary.id.clone(),
            },
            Order::Recent => Cursor::Recent {
                last_activity: summary.last_activity,
                id: summary.id.clone(),
            },
            Order::Reported => Cursor::Reported {
                created_at: summary.created_at,
                id: summary.id.clone(),
            },
        }
    }

    /// The text form given back as `after`.
    pub fn encode(&self) -> String {
        match self {
            Cursor::Village { village, id } => format!("v.{village}.{id}"),
            Cursor::Recent { last_activity, id } => format!("r.{last_activity}.{id}"),
            Cursor::Deadline { due, id } => format!("d.{due}.{id}"),
            Cursor::Reported { created_at, id } => format!("c.{created_at}.{id}"),
        }
    }

    pub fn decode(text: &str, order: Order) -> Result<Self, ReportError> {
        let bad = || {
            ReportError::bad(
                "after: not a cursor of this list; pass the `next` value of the previous page \
                 with the same sort",
            )
        };
        let mut parts = text.splitn(3, '.');
        let (tag, first, id) = (
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
            parts.next().ok_or_else(bad)?,
        );
        let id = DocumentId::parse(id).map_err(|_| bad())?;
        match (tag, order) {
            ("v", Order::Village) => Ok(Cursor::Village {
                village: VillageCode::new(first).map_err(|_| bad())?,
                id,
            }),
            ("r", Order::Recent) => Ok(Cursor::Recent {
                last_activity: first.parse().map_err(|_| bad())?,
                id,
            }),
            ("d", Order::Deadline) => Ok(Cursor::Deadline {
                due: first.parse().map_err(|_| bad())?,
                id,
            }),
            ("c", Order::Reported) => Ok(Cursor::Reported {
                created_at: first.parse().map_err(|_| bad())?,
                id,
            }),
            _ => Err(bad()),
        }
    }
}

/// A list request: the filter, the order and the page.
#[derive(Debug, Clone)]
pub struct ListRequest {
    pub filter: RecordFilter,
    pub order: Order,
    pub limit: usize,
    pub after: Option<Cursor>,
    /// Numbered paging: the page (from 1); `limit` is then the page size.
    pub page: Option<usize>,
}

impl ListRequest {
    /// Reads the list parameters (the scope, `village` and the statistics
    /// parameters are read by the caller).
    pub fn from_params(params: &Params) -> Result<Self, ReportError> {
        let status = params.word(
            "status",
            |text| match text {
                "unresolved" => Some(StatusFilter::Unresolved),
                other => Status::ALL
                    .iter()
                    .find(|status| status.as_str() == other)
                    .map(|status| StatusFilter::Is(*status)),
            },
            &[
                "open",
                "mediating",
                "resolved",
                "failed",
                "escalated",
                "unresolved",
            ],
        )?;
        let text = params.get("q").map(|text| text.to_lowercase());
        if text.as_ref().is_some_and(|t| t.chars().count() > MAX_TEXT) {
            return Err(ReportError::bad(format!(
                "q: a search text is at most {MAX_TEXT} characters"
            )));
        }
        let order = params
            .word(
                "sort",
                |text| match text {
                    "village" => Some(Order::Village),
                    "recent" => Some(Order::Recent),
                    "deadline" => Some(Order::Deadline),
                    "reported" => Some(Order::Reported),
                    _ => None,
                },
                &["village", "recent", "deadline", "reported"],
            )?
            .unwrap_or(Order::Village);
        let after = params
            .get("after")
            .map(|text| Cursor::decode(text, order))
            .transpose()?;
        let page = params.count("page", MAX_PAGE)?;
        let per_page = params.count("per_page", MAX_PER_PAGE)?;
        let numbered = page.is_some() || per_page.is_some();
        if numbered && (after.is_some() || params.get("limit").is_some()) {
            return Err(ReportError::bad(
                "page and per_page number the pages; they do not go with after or limit",
            ));
        }
        let limit = match per_page {
            Some(n) => n,
            None if numbered => DEFAULT_LIMIT,
            None => params.count("limit", MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT),
        };
        let page = numbered.then(|| page.unwrap_or(1));
        Ok(Self {
            filter: RecordFilter {
                kind: params.word("kind", RecordKind::parse, names!(RecordKind))?,
                status,
                category: params.word("category", Category::parse, names!(Category))?,
                risk: params.word("risk", Risk::parse, names!(Risk))?,
                sentiment: params.word("sentiment", Sentiment::parse, names!(Sentiment))?,
                overdue: params.flag("overdue")?.unwrap_or(false),
                stage: params.word("stage", Stage::parse, names!(Stage))?,
                level: params.word("level", Level::parse, names!(Level))?,
                late: params.flag("late")?.unwrap_or(false),
                text,
                period: params.period()?,
            },
            order,
            limit,
            after,
            page,
        })
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub items: Vec<Item>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
    /// With numbered pages: how many records match in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
    /// With numbered pages: this page's number (from 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<usize>,
    /// With numbered pages: the page size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_page: Option<usize>,
    /// With numbered pages: how many pages there are (at least 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<usize>,
}

/// One record of a page: its summary and, for a dispute, its deadline.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    #[serde(flatten)]
    pub summary: Summary,
    pub deadline: Option<Deadline>,
}

impl RecordFilter {
    fn keeps(
        &self,
        summary: &Summary,
        overdue: Option<&HashSet<&DocumentId>>,
        deadline: Option<&Deadline>,
    ) -> bool {
        if self.kind.is_some_and(|kind| kind != summary.kind) {
            return false;
        }
        if (self.stage.is_some() && summary.loop_stage() != self.stage)
            || (self.level.is_some() && summary.loop_level() != self.level)
            || (self.late && !deadline.is_some_and(Deadline::is_overdue))
        {
            return false;
        }
        if let Some(status) = self.status {
            if summary.kind != RecordKind::Dispute {
                return false;
            }
            let current = summary.status.unwrap_or(Status::Open);
            let keep = match status {
                StatusFilter::Is(wanted) => current == wanted,
                StatusFilter::Unresolved => current.is_open(),
            };
            if !keep {
                return false;
            }
        }
        if self.category.is_some_and(|c| summary.category != Some(c))
            || self.risk.is_some_and(|r| summary.risk != Some(r))
            || self.sentiment.is_some_and(|s| summary.sentiment != Some(s))
        {
            return false;
        }
        if overdue.is_some_and(|ids| !ids.contains(&summary.id)) {
            return false;
        }
        let when = match summary.kind {
            RecordKind::Dispute => summary.created_at,
            RecordKind::Visit => summary.visited_at.unwrap_or(summary.created_at),
        };
        if !self.period.contains(when) {
            return false;
        }
        match &self.text {
            None => true,
            Some(text) => {
                summary.title.to_lowercase().contains(text)
                    || summary
                        .party_names
                        .iter()
                        .any(|name| name.to_lowercase().contains(text))
            }
        }
    }
}

/// Newest activity first, then by id: the order of [`Order::Recent`].
fn recent_first(a: &Summary, b: &Summary) -> Ordering {
    b.last_activity
        .cmp(&a.last_activity)
        .then_with(|| a.id.cmp(&b.id))
}

/// Latest reported first, then by id: the order of [`Order::Reported`].
fn reported_first(a: &Summary, b: &Summary) -> Ordering {
    b.created_at
        .cmp(&a.created_at)
        .then_with(|| a.id.cmp(&b.id))
}

/// One page of the records in `rows` that `request` keeps. `query` decides
/// which disputes are overdue (its list limit does not apply: the page is
/// chosen among every overdue case). Deadlines are those `limits` set, as
/// they stand at `now`.
pub fn list(
    rows: &Rows<'_>,
    request: &ListRequest,
    query: &StatsQuery,
    limits: &LimitTable,
    now: Millis,
) -> Page {
    let every = query.clone().with_list_limit(None);
    let overdue_ids = request
        .filter
        .overdue
        .then(|| stats::overdue_cases(rows.iter(), &every).ids);
    let overdue: Option<HashSet<&DocumentId>> =
        overdue_ids.as_ref().map(|ids| ids.iter().collect());
    let deadline_of = |summary: &Summary| limits.deadline(summary, now);
    let keeps = |summary: &&Summary| {
        request
            .filter
            .keeps(summary, overdue.as_ref(), deadline_of(summary).as_ref())
    };
    let due_of = |summary: &Summary| deadline_of(summary).map_or(Millis::MAX, |d| d.due);
    let limit = request.limit;
    if let Some(page) = request.page {
        let mut matching: Vec<(Millis, &Summary)> = rows
            .iter()
            .filter(keeps)
            .map(|summary| (due_of(summary), summary))
            .collect();
        match request.order {
            Order::Village => {}
            Order::Recent => matching.sort_by(|a, b| recent_first(a.1, b.1)),
            Order::Reported => matching.sort_by(|a, b| reported_first(a.1, b.1)),
            Order::Deadline => {
                matching.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)))
            }
        }
        let total = matching.len();
        let pages = total.div_ceil(limit).max(1);
        let start = (page - 1).saturating_mul(limit).min(total);
        let end = start.saturating_add(limit).min(total);
        return Page {
            items: matching[start..end]
                .iter()
                .map(|(_, summary)| Item {
                    deadline: deadline_of(summary),
                    summary: (*summary).clone(),
                })
                .collect(),
            next: None,
            total: Some(total),
            page: Some(page),
            per_page: Some(limit),
            pages: Some(pages),
        };
    }
    let mut items: Vec<&Summary> = match (&request.order, &request.after) {
        (Order::Village, Some(Cursor::Village { village, id })) => rows
            .after(village, id)
            .filter(keeps)
            .take(limit + 1)
            .collect(),
        (Order::Village, _) => rows.iter().filter(keeps).take(limit + 1).collect(),
        (Order::Recent, after) => {
            let mut matching: Vec<&Summary> = rows
                .iter()
                .filter(keeps)
                .filter(|summary| match after {
                    Some(Cursor::Recent { last_activity, id }) => {
                        (summary.last_activity, &summary.id) != (*last_activity, id)
                            && (summary.last_activity < *last_activity
                                || (summary.last_activity == *last_activity && summary.id > *id))
                    }
                    _ => true,
                })
                .collect();
            if matching.len() > limit + 1 {
                matching.select_nth_unstable_by(limit, |a, b| recent_first(a, b));
                matching.truncate(limit + 1);
            }
            matching.sort_by(|a, b| recent_first(a, b));
            matching
        }
        (Order::Reported, after) => {
            let mut matching: Vec<&Summary> = rows
                .iter()
                .filter(keeps)
                .filter(|summary| match after {
                    Some(Cursor::Reported { created_at, id }) => {
                        summary.created_at < *created_at
                            || (summary.created_at == *created_at && summary.id > *id)
                    }
                    _ => true,
                })
                .collect();
            if matching.len() > limit + 1 {
                matching.select_nth_unstable_by(limit, |a, b| reported_first(a, b));
                matching.truncate(limit + 1);
            }
            matching.sort_by(|a, b| reported_first(a, b));
            matching
        }
        (Order::Deadline, after) => {
            let mut matching: Vec<(Millis, &Summary)> = rows
                .iter()
                .filter(keeps)
                .map(|summary| (due_of(summary), summary))
                .filter(|(due, summary)| match after {
                    Some(Cursor::Deadline { due: last, id }) => (*due, &summary.id) > (*last, id),
                    _ => true,
                })
                .collect();
            let order = |a: &(Millis, &Summary), b: &(Millis, &Summary)| {
                a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id))
            };
            if matching.len() > limit + 1 {
                matching.select_nth_unstable_by(limit, order);
                matching.truncate(limit + 1);
            }
            matching.sort_by(order);
            matching.into_iter().map(|(_, summary)| summary).collect()
        }
    };
    let more = items.len() > limit;
    items.truncate(limit);
    let next = more
        .then(|| {
            items
                .last()
                .map(|last| Cursor::of(last, request.order, due_of(last)).encode())
        })
        .flatten();
    Page {
        items: items
            .into_iter()
            .map(|summary| Item {
                deadline: deadline_of(summary),
                summary: summary.clone(),
            })
            .collect(),
        next,
        total: None,
        page: None,
        per_page: None,
        pages: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_the_other_order() {
        let id = DocumentId::random();
        let village = Cursor::Village {
            village: VillageCode::new("500110101001").unwrap(),
            id: id.clone(),
        };
        assert_eq!(
            Cursor::decode(&village.encode(), Order::Village).unwrap(),
            village
        );
        assert!(Cursor::decode(&village.encode(), Order::Recent).is_err());
        let recent = Cursor::Recent {
            last_activity: -7,
            id,
        };
        assert_eq!(
            Cursor::decode(&recent.encode(), Order::Recent).unwrap(),
            recent
        );
        let reported = Cursor::Reported {
            created_at: 1_790_000_000_000,
            id: DocumentId::random(),
        };
        assert_eq!(
            Cursor::decode(&reported.encode(), Order::Reported).unwrap(),
            reported
        );
        assert!(Cursor::decode(&reported.encode(), Order::Recent).is_err());
        for junk in ["", "v", "v.1.2", "x.500110101001.abc", "r.notanumber.abc"] {
            assert!(Cursor::decode(junk, Order::Village).is_err());
            assert!(Cursor::decode(junk, Order::Recent).is_err());
        }
    }

    #[test]
    fn list_parameters_are_checked() {
        let read =
            |raw: &str| ListRequest::from_params(&Params::parse(Some(raw), LIST_PARAMS).unwrap());
        let request =
            read("kind=dispute&status=unresolved&risk=high&q=Wang&sort=recent&limit=5").unwrap();
        assert_eq!(request.filter.kind, Some(RecordKind::Dispute));
        assert_eq!(request.filter.status, Some(StatusFilter::Unresolved));
        assert_eq!(request.filter.text.as_deref(), Some("wang"));
        assert_eq!((request.order, request.limit), (Order::Recent, 5));
        for bad in [
            "kind=case",
            "status=closed",
            "risk=extreme",
            "limit=0",
            "limit=501",
            "overdue=maybe",
            "sort=title",
            "page=0",
            "per_page=201",
            "page=2&limit=5",
            "page=2&after=r.5.x",
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
        let numbered = read("page=3&sort=reported").unwrap();
        assert_eq!(
            (numbered.page, numbered.limit, numbered.order),
            (Some(3), DEFAULT_LIMIT, Order::Reported)
        );
        let sized = read("per_page=200").unwrap();
        assert_eq!((sized.page, sized.limit), (Some(1), 200));
        assert_eq!(read("limit=7").unwrap().page, None);
    }
}
