//! Month-over-month (环比) and year-over-year (同比) change of the headline
//! figures, and the periods they compare.
//!
//! A period of whole calendar months (from the first of a month to the
//! first of a later one, local time) is compared with the same number of
//! months just before it (环比) and with the same months a year earlier
//! (同比). Any other period is compared with the period of the same length
//! just before it, and with the same dates a year earlier (29 February
//! becomes 28 February). A period open at either end is taken as the
//! calendar month holding the "as of" time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::calendar::{civil_from_days, days_from_civil, local_day};
use super::{DisputeFigures, MILLIS_PER_DAY, Period};
use crate::summary::Millis;

/// The periods a comparison reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComparedPeriods {
    pub current: Period,
    /// The period just before (环比).
    pub previous: Period,
    /// The same period a year earlier (同比).
    pub year_before: Period,
}

/// The headline figures a comparison reports, by field name; rates change
/// by percentage points, counts by a share of the earlier count.
pub const COMPARED: &[(&str, bool)] = &[
    ("received", false),
    ("resolved", false),
    ("resolutionRate", true),
    ("grassrootsRate", true),
    ("villageRate", true),
    ("stillOpen", false),
    ("failedInTownship", false),
    ("escalatedBeyondTownship", false),
];

/// The change of one figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// Whether the figure is a rate (changes are differences of rates,
    /// shown as percentage points) or a count (changes are relative).
    pub rate: bool,
    pub current: Option<f64>,
    pub previous: Option<f64>,
    pub year_before: Option<f64>,
    /// 环比: for a count `(current − previous) / previous`, for a rate
    /// `current − previous`; `None` when it cannot be computed (nothing to
    /// compare with).
    pub month_on_month: Option<f64>,
    /// 同比, computed the same way against the year before.
    pub year_on_year: Option<f64>,
}

/// A comparison of the headline figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    pub periods: ComparedPeriods,
    pub current: DisputeFigures,
    pub previous: DisputeFigures,
    pub year_before: DisputeFigures,
    /// The change of each figure of [`COMPARED`], by name.
    pub changes: BTreeMap<String, Change>,
}

fn value(figures: &DisputeFigures, name: &str) -> Option<f64> {
    match name {
        "received" => Some(figures.received as f64),
        "resolved" => Some(figures.resolved as f64),
        "resolutionRate" => figures.resolution_rate,
        "grassrootsRate" => figures.grassroots_rate,
        "villageRate" => figures.village_rate,
        "stillOpen" => Some(figures.still_open as f64),
        "failedInTownship" => Some(figures.failed_in_township as f64),
        "escalatedBeyondTownship" => Some(figures.escalated_beyond_township as f64),
        _ => None,
    }
}

fn change(current: Option<f64>, earlier: Option<f64>, rate: bool) -> Option<f64> {
    let (current, earlier) = (current?, earlier?);
    if rate {
        Some(current - earlier)
    } else if earlier > 0.0 {
        Some((current - earlier) / earlier)
    } else {
        None
    }
}

impl Comparison {
    /// The comparison of figures computed for the three periods.
    pub fn new(
        periods: ComparedPeriods,
        current: DisputeFigures,
        previous: DisputeFigures,
        year_before: DisputeFigures,
    ) -> Self {
        let changes = COMPARED
            .iter()
            .map(|&(name, rate)| {
                let (now, before, last_year) = (
                    value(&current, name),
                    value(&previous, name),
                    value(&year_before, name),
                );
                (
                    name.to_owned(),
                    Change {
                        rate,
                        current: now,
                        previous: before,
                        year_before: last_year,
                        month_on_month: change(now, before, rate),
                        year_on_year: change(now, last_year, rate),
                    },
                )
            })
            .collect();
        Self {
            periods,
            current,
            previous,
            year_before,
            changes,
        }
    }
}

/// Local midnight of a civil date, as an instant.
fn midnight(year: i64, month: u32, day: u32, offset_minutes: i32) -> Millis {
    days_from_civil(year, month, day)
        .saturating_mul(MILLIS_PER_DAY)
        .saturating_sub(i64::from(offset_minutes) * 60_000)
}

/// The first of the month `months` after (or before) the given one.
fn add_months(year: i64, month: u32, months: i64) -> (i64, u32) {
    let index = year * 12 + i64::from(month) - 1 + months;
    (index.div_euclid(12), (index.rem_euclid(12) + 1) as u32)
}

/// The local civil date and whether the instant is local midnight.
fn civil(at: Millis, offset_minutes: i32) -> ((i64, u32, u32), bool) {
    let day = local_day(at, offset_minutes);
    (
        civil_from_days(day),
        midnight_of_day(day, offset_minutes) == at,
    )
}

fn midnight_of_day(day: i64, offset_minutes: i32) -> Millis {
    day.saturating_mul(MILLIS_PER_DAY)
        .saturating_sub(i64::from(offset_minutes) * 60_000)
}

/// The same instant a year earlier, local time (29 February becomes 28
/// February).
fn year_earlier(at: Millis, offset_minutes: i32) -> Millis {
    let day = local_day(at, offset_minutes);
    let within = at.saturating_sub(midnight_of_day(day, offset_minutes));
    let (year, month, mut date) = civil_from_days(day);
    let earlier = loop {
        let candidate = days_from_civil(year - 1, month, date);
        if civil_from_days(candidate) == (year - 1, month, date) || date <= 28 {
            break candidate;
        }
        date -= 1;
    };
    midnight_of_day(earlier, offset_minutes).saturating_add(within)
}

/// The calendar month holding `at`, local time.
pub fn month_of(at: Millis, offset_minutes: i32) -> Period {
    let (from, to) = month_bounds(at, offset_minutes);
    Period {
        from: Some(from),
        to: Some(to),
    }
}

fn month_bounds(at: Millis, offset_minutes: i32) -> (Millis, Millis) {
    let ((year, month, _), _) = civil(at, offset_minutes);
    let (next_year, next_month) = add_months(year, month, 1);
    (
        midnight(year, month, 1, offset_minutes),
        midnight(next_year, next_month, 1, offset_minutes),
    )
}

/// The periods to compare `period` with; see the module documentation.
pub fn compared_periods(period: Period, now: Millis, offset_minutes: i32) -> ComparedPeriods {
    let (from, to) = match (period.from, period.to) {
        (Some(from), Some(to)) if from < to => (from, to),
        _ => month_bounds(now, offset_minutes),
    };
    let current = Period {
        from: Some(from),
        to: Some(to),
    };
    let (start, start_midnight) = civil(from, offset_minutes);
    let (end, end_midnight) = civil(to, offset_minutes);
    let whole_months = start_midnight && end_midnight && start.2 == 1 && end.2 == 1;
    let previous = if whole_months {
        let months = (end.0 * 12 + i64::from(end.1)) - (start.0 * 12 + i64::from(start.1));
        let (year, month) = add_months(start.0, start.1, -months);
        Period {
            from: Some(midnight(year, month, 1, offset_minutes)),
            to: Some(from),
        }
    } else {
        Period {
            from: Some(from.saturating_sub(to.saturating_sub(from))),
            to: Some(from),
        }
    };
    let year_before = Period {
        from: Some(year_earlier(from, offset_minutes)),
        to: Some(year_earlier(to, offset_minutes)),
    };
    ComparedPeriods {
        current,
        previous,
        year_before,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::CHINA_STANDARD_OFFSET_MINUTES as CST;

    fn at(year: i64, month: u32, day: u32) -> Millis {
        midnight(year, month, day, CST)
    }

    #[test]
    fn a_month_is_compared_with_the_month_before_and_the_same_month_a_year_earlier() {
        let october = Period {
            from: Some(at(2026, 10, 1)),
            to: Some(at(2026, 11, 1)),
        };
        let periods = compared_periods(october, 0, CST);
        assert_eq!(periods.current, october);
        assert_eq!(
            periods.previous,
            Period {
                from: Some(at(2026, 9, 1)),
                to: Some(at(2026, 10, 1))
            }
        );
        assert_eq!(
            periods.year_before,
            Period {
                from: Some(at(2025, 10, 1)),
                to: Some(at(2025, 11, 1))
            }
        );
        // January steps back into December of the year before.
        let january = month_of(at(2026, 1, 15) + 3_600_000, CST);
        assert_eq!(
            compared_periods(january, 0, CST).previous,
            Period {
                from: Some(at(2025, 12, 1)),
                to: Some(at(2026, 1, 1))
            }
        );
        // A quarter against the quarter before.
        let quarter = Period {
            from: Some(at(2026, 4, 1)),
            to: Some(at(2026, 7, 1)),
        };
        assert_eq!(
            compared_periods(quarter, 0, CST).previous.from,
            Some(at(2026, 1, 1))
        );
    }

    #[test]
    fn other_periods_step_back_by_their_length_and_open_ones_are_the_current_month() {
        let ten_days = Period {
            from: Some(at(2026, 3, 5)),
            to: Some(at(2026, 3, 15)),
        };
        let periods = compared_periods(ten_days, 0, CST);
        assert_eq!(periods.previous.from, Some(at(2026, 2, 23)));
        assert_eq!(periods.previous.to, Some(at(2026, 3, 5)));
        let leap = Period {
            from: Some(at(2028, 2, 29)),
            to: Some(at(2028, 3, 2)),
        };
        assert_eq!(
            compared_periods(leap, 0, CST).year_before.from,
            Some(at(2027, 2, 28))
        );
        let now = at(2026, 12, 6) + 5 * 3_600_000;
        assert_eq!(
            compared_periods(Period::ALL, now, CST).current,
            month_of(now, CST)
        );
        assert_eq!(month_of(now, CST).from, Some(at(2026, 12, 1)));
        assert_eq!(month_of(now, CST).to, Some(at(2027, 1, 1)));
    }

    #[test]
    fn counts_change_by_share_and_rates_by_points() {
        let figures = |received: u64, grassroots: u64| DisputeFigures {
            received,
            total: received,
            grassroots_resolved: grassroots,
            grassroots_rate: (received > 0).then(|| grassroots as f64 / received as f64),
            ..DisputeFigures::default()
        };
        let periods = compared_periods(Period::ALL, 0, CST);
        let c = Comparison::new(periods, figures(12, 9), figures(10, 9), figures(0, 0));
        let received = c.changes["received"];
        assert!(!received.rate);
        assert!((received.month_on_month.unwrap() - 0.2).abs() < 1e-12);
        assert_eq!(received.year_on_year, None);
        let rate = c.changes["grassrootsRate"];
        assert!(rate.rate);
        assert!((rate.month_on_month.unwrap() - (0.75 - 0.9)).abs() < 1e-12);
        assert_eq!(rate.year_on_year, None);
    }
}
