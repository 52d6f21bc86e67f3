//! What a report asks for, read from a URL query string.
//!
//! Every report endpoint takes the same core parameters:
//!
//! | parameter | meaning | default |
//! |---|---|---|
//! | `scope` | a district (6 digits), town (9) or village (12) code | the caller's own scope |
//! | `from` | start of the period: `YYYY-MM-DD` (00:00 China Standard Time) or milliseconds | open |
//! | `to` | end of the period: `YYYY-MM-DD` (that day included) or milliseconds (excluded) | open |
//! | `overdueDays` | an open dispute older than this many days is overdue | 30 |
//! | `asOf` | the "now" of backlog figures, `YYYY-MM-DD` or milliseconds | the current minute |
//! | `listLimit` | at most this many ids in each list of the summary (counts stay complete), or `all` | 100 |
//!
//! Parameters are strict: an unknown name, a name given twice or a value
//! that does not parse is refused with a message that names the parameter
//! and says what it expects, never silently ignored.

use std::collections::BTreeMap;

use fengqiao_protocol::Scope;
use fengqiao_shared::stats::{DEFAULT_OVERDUE_DAYS, Period};
use fengqiao_shared::{Millis, StatsQuery};

use super::ReportError;
use super::calendar::{DayEdge, parse_instant};

/// Parameters every statistics endpoint accepts.
pub const STATS_PARAMS: &[&str] = &["scope", "from", "to", "overdueDays", "asOf", "listLimit"];

/// Ids in each list of a summary when the request does not say: a page of
/// each backlog, while the counts stay complete. The full lists are paged
/// through `GET /v1/records`.
pub const DEFAULT_LIST_LIMIT: u32 = 100;

/// The largest `listLimit` accepted as a number (`all` has none).
pub const MAX_LIST_LIMIT: u32 = 1_000_000;

/// The largest overdue threshold accepted, in days (ten years).
pub const MAX_OVERDUE_DAYS: u32 = 3650;

/// The "now" of a report when the request names none: the current time,
/// rounded down to the minute, so that answers computed within the same
/// minute over unchanged records are the same answer.
pub fn current_minute(now: Millis) -> Millis {
    now - now.rem_euclid(60_000)
}

/// `text` as a whole number from 0 to `max`, or an error naming the
/// parameter and saying what it expects.
fn whole_number(name: &str, text: &str, max: u32, expected: &str) -> Result<u32, ReportError> {
    text.parse::<u32>()
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| {
            ReportError::bad(format!(
                "{name}={:?} is not {expected} from 0 to {max}",
                text.chars().take(20).collect::<String>()
            ))
        })
}

/// The parameters of one query string, each named at most once.
#[derive(Debug, Clone, Default)]
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Reads a raw query string (`a=1&b=2`, percent-encoded), accepting only
    /// the names in `accepted`.
    pub fn parse(raw: Option<&str>, accepted: &[&str]) -> Result<Self, ReportError> {
        let mut values = BTreeMap::new();
        for (name, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            if name.is_empty() && value.is_empty() {
                continue;
            }
            if !accepted.contains(&name.as_ref()) {
                let shown: String = name.chars().take(40).collect();
                return Err(ReportError::bad(format!(
                    "unknown parameter {shown:?}; this endpoint accepts {}",
                    accepted.join(", ")
                )));
            }
            if values
                .insert(name.to_string(), value.into_owned())
                .is_some()
            {
                return Err(ReportError::bad(format!(
                    "parameter {name:?} is given more than once"
                )));
            }
        }
        Ok(Self { values })
    }

    /// The value of `name`, if given and not blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// `scope`, if given.
    pub fn scope(&self) -> Result<Option<Scope>, ReportError> {
        self.get("scope")
            .map(|code| {
                Scope::parse(code).map_err(|e| {
                    ReportError::bad(format!(
                        "scope: {e}; give a district (6 digits), town (9) or village (12) code"
                    ))
                })
            })
            .transpose()
    }

    /// The statistics query of `from`, `to`, `overdueDays` and `asOf`
    /// (without a scope: the caller decides it), with `now` as the default
    /// "as of" time.
    pub fn stats_query(&self, now: Millis) -> Result<StatsQuery, ReportError> {
        let period = self.period()?;
        let as_of = match self.get("asOf") {
            Some(text) => parse_instant("asOf", text, DayEdge::Start)?,
            None => current_minute(now),
        };
        let overdue_days = match self.get("overdueDays") {
            None => DEFAULT_OVERDUE_DAYS,
            Some(text) => whole_number(
                "overdueDays",
                text,
                MAX_OVERDUE_DAYS,
                "a whole number of days",
            )?,
        };
        let list_limit = match self.get("listLimit") {
            None => Some(DEFAULT_LIST_LIMIT),
            Some("all") => None,
            Some(text) => Some(whole_number(
                "listLimit",
                text,
                MAX_LIST_LIMIT,
                "\"all\" or a whole number",
            )?),
        };
        let query = StatsQuery::new(as_of)
            .with_period(period)
            .with_overdue_days(overdue_days)
            .with_list_limit(list_limit);
        query
            .validate()
            .map_err(|e| ReportError::bad(format!("from/to: {e}")))?;
        Ok(query)
    }

    /// The period of `from` and `to`.
    pub fn period(&self) -> Result<Period, ReportError> {
        let from = self
            .get("from")
            .map(|text| parse_instant("from", text, DayEdge::Start))
            .transpose()?;
        let to = self
            .get("to")
            .map(|text| parse_instant("to", text, DayEdge::EndInclusive))
            .transpose()?;
        Period::new(from, to).map_err(|e| ReportError::bad(format!("from/to: {e}")))
    }

    /// A yes/no parameter: `true`/`false`, `1`/`0`, `yes`/`no`.
    pub fn flag(&self, name: &str) -> Result<Option<bool>, ReportError> {
        self.get(name)
            .map(|text| match text {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                other => Err(ReportError::bad(format!(
                    "{name}={:?} is not true or false",
                    other.chars().take(20).collect::<String>()
                ))),
            })
            .transpose()
    }

    /// A value of a closed vocabulary, read with `parse`; `expected` lists
    /// the accepted values for the message.
    pub fn word<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Option<T>,
        expected: &[&str],
    ) -> Result<Option<T>, ReportError> {
        self.get(name)
            .map(|text| {
                parse(text).ok_or_else(|| {
                    ReportError::bad(format!(
                        "{name}={:?} is not one of {}",
                        text.chars().take(40).collect::<String>(),
                        expected.join(", ")
                    ))
                })
            })
            .transpose()
    }

    /// A count from `1` to `max`.
    pub fn count(&self, name: &str, max: usize) -> Result<Option<usize>, ReportError> {
        self.get(name)
            .map(|text| {
                text.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| {
                        ReportError::bad(format!(
                            "{name}={:?} is not a number from 1 to {max}",
                            text.chars().take(20).collect::<String>()
                        ))
                    })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Params, ReportError> {
        Params::parse(Some(raw), STATS_PARAMS)
    }

    #[test]
    fn a_full_query_reads_back() {
        let params = parse(
            "scope=500110101&from=2026-01-01&to=1790000000000&overdueDays=45&asOf=1790000000000",
        )
        .unwrap();
        assert_eq!(params.scope().unwrap().unwrap().prefix(), "500110101");
        let query = params.stats_query(0).unwrap();
        assert_eq!(query.now, 1_790_000_000_000);
        assert_eq!(query.overdue_days, 45);
        assert_eq!(query.period.to, Some(1_790_000_000_000));
        assert!(query.period.from.is_some());
        assert_eq!(query.scope, None);
    }

    #[test]
    fn defaults_round_now_to_the_minute() {
        let query = parse("").unwrap().stats_query(120_001).unwrap();
        assert_eq!(query.now, 120_000);
        assert_eq!(query.period, Period::ALL);
        assert_eq!(query.overdue_days, DEFAULT_OVERDUE_DAYS);
    }

    #[test]
    fn bad_parameters_are_named() {
        let message = |raw: &str| match parse(raw).and_then(|p| {
            p.scope()?;
            p.stats_query(0)
        }) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{raw} was accepted"),
        };
        assert!(message("colour=red").contains("unknown parameter \"colour\""));
        assert!(message("scope=1&scope=2").contains("more than once"));
        assert!(message("scope=5001").starts_with("scope:"));
        assert!(message("from=2026-13-01").starts_with("from="));
        assert!(message("overdueDays=-1").starts_with("overdueDays="));
        assert!(message("overdueDays=99999").starts_with("overdueDays="));
        assert!(message("from=2026-02-01&to=2026-01-01").contains("empty"));
    }

    #[test]
    fn words_counts_and_flags() {
        let params = Params::parse(Some("a=yes&n=20&w=x"), &["a", "n", "w"]).unwrap();
        assert_eq!(params.flag("a").unwrap(), Some(true));
        assert_eq!(params.count("n", 100).unwrap(), Some(20));
        assert!(params.count("n", 10).is_err());
        assert!(params.word("w", |_| None::<u8>, &["y"]).is_err());
        assert_eq!(params.flag("missing").unwrap(), None);
    }
}
