//! Calendar keys for statistics: ISO weeks (`2026-W47`) and months
//! (`2026-11`), computed from [`Millis`] in a fixed UTC offset.
//!
//! Week and month boundaries are local to the people reading the numbers —
//! a visit at 07:00 on a Monday in Beijing is 23:00 on Sunday in UTC — so
//! every key is computed in a fixed offset, by default China Standard Time
//! (UTC+8, no daylight saving). The arithmetic is the proleptic Gregorian
//! calendar on whole days, valid for every `i64` millisecond value,
//! including times before 1970; nothing here panics.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::summary::Millis;

/// Milliseconds in one day.
pub const MILLIS_PER_DAY: Millis = 86_400_000;

/// China Standard Time, UTC+8, in minutes: the default offset for week and
/// month boundaries.
pub const CHINA_STANDARD_OFFSET_MINUTES: i32 = 8 * 60;

/// The widest UTC offset accepted, in minutes (±18 hours). Wider offsets are
/// clamped to it.
pub const MAX_OFFSET_MINUTES: i32 = 18 * 60;

/// Why a week or month key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CalendarKeyError {
    #[error("{0:?} is not an ISO week such as \"2026-W47\"")]
    BadWeek(String),
    #[error("{0:?} is not a month such as \"2026-11\"")]
    BadMonth(String),
}

/// The local day number (days since 1970-01-01 in the given offset) of an
/// instant.
pub fn local_day(at: Millis, utc_offset_minutes: i32) -> i64 {
    let offset = i64::from(utc_offset_minutes.clamp(-MAX_OFFSET_MINUTES, MAX_OFFSET_MINUTES));
    at.saturating_add(offset * 60_000)
        .div_euclid(MILLIS_PER_DAY)
}

/// The civil date `(year, month 1–12, day 1–31)` of a day number since
/// 1970-01-01, in the proleptic Gregorian calendar.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's algorithm, with eras of 400 years starting 0000-03-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097); // 0..=146_096
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // 0..=11
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1; // 1..=31
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both values are in range by construction (1..=12, 1..=31).
    (year, month as u32, day as u32)
}

/// The day number since 1970-01-01 of a civil date (inverse of
/// [`civil_from_days`] for valid dates).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let month = i64::from(month);
    let day = i64::from(day);
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// An ISO 8601 week: weeks start on Monday, and week 1 is the week that
/// holds the year's first Thursday. Written `2026-W47`; ordered by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IsoWeek {
    /// The ISO week-numbering year (differs from the calendar year for a
    /// few days around New Year).
    pub year: i64,
    /// 1 to 53.
    pub week: u32,
}

impl IsoWeek {
    /// The week holding the instant `at`, in the given UTC offset.
    pub fn from_millis(at: Millis, utc_offset_minutes: i32) -> Self {
        Self::from_day(local_day(at, utc_offset_minutes))
    }

    /// The week holding a day number since 1970-01-01.
    pub fn from_day(day: i64) -> Self {
        // 1970-01-01 was a Thursday: weekday 1 (Monday) to 7 (Sunday).
        let weekday = (day + 3).rem_euclid(7) + 1;
        // A week belongs to the year of its Thursday.
        let thursday = day - weekday + 4;
        let (year, _, _) = civil_from_days(thursday);
        let week = (thursday - days_from_civil(year, 1, 1)) / 7 + 1;
        // 1..=53 by construction.
        Self {
            year,
            week: week as u32,
        }
    }
}

impl fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-W{:02}", self.year, self.week)
    }
}

impl FromStr for IsoWeek {
    type Err = CalendarKeyError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || CalendarKeyError::BadWeek(text.chars().take(32).collect());
        let (year, week) = text.rsplit_once("-W").ok_or_else(bad)?;
        let year: i64 = year.parse().map_err(|_| bad())?;
        if week.len() != 2 || !week.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let week: u32 = week.parse().map_err(|_| bad())?;
        if !(1..=53).contains(&week) {
            return Err(bad());
        }
        Ok(Self { year, week })
    }
}

impl Serialize for IsoWeek {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for IsoWeek {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A calendar month, written `2026-11`; ordered by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
}

impl YearMonth {
    /// The month holding the instant `at`, in the given UTC offset.
    pub fn from_millis(at: Millis, utc_offset_minutes: i32) -> Self {
        let (year, month, _) = civil_from_days(local_day(at, utc_offset_minutes));
        Self { year, month }
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for YearMonth {
    type Err = CalendarKeyError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || CalendarKeyError::BadMonth(text.chars().take(32).collect());
        // rsplit so that a negative year ("-001-03") still reads.
        let (year, month) = text.rsplit_once('-').ok_or_else(bad)?;
        let year: i64 = year.parse().map_err(|_| bad())?;
        if month.len() != 2 || !month.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let month: u32 = month.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Self { year, month })
    }
}

impl Serialize for YearMonth {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for YearMonth {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(year: i64, month: u32, day: u32) -> i64 {
        days_from_civil(year, month, day)
    }

    fn week(year: i64, week: u32) -> IsoWeek {
        IsoWeek { year, week }
    }

    #[test]
    fn civil_dates_round_trip_across_eras() {
        assert_eq!(day(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(day(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(day(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(civil_from_days(day(1900, 3, 1) - 1), (1900, 2, 28));
        for d in (-800_000..800_000).step_by(997) {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn iso_weeks_at_year_boundaries() {
        // 2026-11-16 is a Monday; 2026 starts on a Thursday.
        assert_eq!(IsoWeek::from_day(day(2026, 11, 16)), week(2026, 47));
        assert_eq!(IsoWeek::from_day(day(2026, 11, 22)), week(2026, 47));
        assert_eq!(IsoWeek::from_day(day(2026, 11, 23)), week(2026, 48));
        assert_eq!(IsoWeek::from_day(day(2025, 12, 29)), week(2026, 1));
        // A year starting on Thursday has 53 weeks; 2027-01-01 is a Friday.
        assert_eq!(IsoWeek::from_day(day(2026, 12, 31)), week(2026, 53));
        assert_eq!(IsoWeek::from_day(day(2027, 1, 3)), week(2026, 53));
        assert_eq!(IsoWeek::from_day(day(2027, 1, 4)), week(2027, 1));
        // 2021-01-03 is a Sunday in the last week of 2020.
        assert_eq!(IsoWeek::from_day(day(2021, 1, 3)), week(2020, 53));
        assert_eq!(IsoWeek::from_day(day(2024, 12, 30)), week(2025, 1));
        // Before 1970: 1969-12-29 (Monday) starts week 1 of 1970.
        assert_eq!(IsoWeek::from_day(day(1969, 12, 29)), week(1970, 1));
        assert_eq!(IsoWeek::from_day(day(1969, 12, 28)), week(1969, 52));
    }

    #[test]
    fn offsets_move_instants_across_local_midnight() {
        // 2026-11-22 23:00 UTC is Monday 2026-11-23 07:00 in Beijing.
        let at = day(2026, 11, 22) * MILLIS_PER_DAY + 23 * 3_600_000;
        assert_eq!(IsoWeek::from_millis(at, 0), week(2026, 47));
        assert_eq!(
            IsoWeek::from_millis(at, CHINA_STANDARD_OFFSET_MINUTES),
            week(2026, 48)
        );
        let month_end = day(2026, 11, 30) * MILLIS_PER_DAY + 20 * 3_600_000;
        assert_eq!(YearMonth::from_millis(month_end, 0).to_string(), "2026-11");
        assert_eq!(
            YearMonth::from_millis(month_end, CHINA_STANDARD_OFFSET_MINUTES).to_string(),
            "2026-12"
        );
        // Absurd offsets are clamped, never overflow.
        assert_eq!(local_day(0, i32::MAX), 0);
        assert_eq!(local_day(0, i32::MIN), -1);
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        for at in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX] {
            for offset in [i32::MIN, -720, 0, 480, i32::MAX] {
                let w = IsoWeek::from_millis(at, offset);
                assert!((1..=53).contains(&w.week));
                let m = YearMonth::from_millis(at, offset);
                assert!((1..=12).contains(&m.month));
                assert_eq!(w.to_string().parse::<IsoWeek>(), Ok(w));
                assert_eq!(m.to_string().parse::<YearMonth>(), Ok(m));
            }
        }
    }

    #[test]
    fn keys_print_parse_and_order() {
        assert_eq!(week(2026, 7).to_string(), "2026-W07");
        assert_eq!("2026-W47".parse::<IsoWeek>(), Ok(week(2026, 47)));
        assert!("2026-W54".parse::<IsoWeek>().is_err());
        assert!("2026-W7".parse::<IsoWeek>().is_err());
        assert!("2026-47".parse::<IsoWeek>().is_err());
        assert!("2026-W+7".parse::<IsoWeek>().is_err());
        assert_eq!(
            "2026-03".parse::<YearMonth>(),
            Ok(YearMonth {
                year: 2026,
                month: 3
            })
        );
        assert!("2026-13".parse::<YearMonth>().is_err());
        assert!("2026-3".parse::<YearMonth>().is_err());
        assert!("March".parse::<YearMonth>().is_err());
        assert!(week(999, 53) < week(1000, 1));
        assert!(week(-1, 10) < week(0, 1));
    }
}
