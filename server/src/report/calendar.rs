//! Dates as people in the field read and write them.
//!
//! Reports take and print dates in China Standard Time (UTC+8), the offset
//! the statistics use for their week and month boundaries
//! ([`CHINA_STANDARD_OFFSET_MINUTES`]). Records keep milliseconds since the
//! epoch; this is only the conversion at the edges.

use fengqiao_shared::Millis;
use fengqiao_shared::stats::calendar::{civil_from_days, days_from_civil, local_day};
use fengqiao_shared::stats::{CHINA_STANDARD_OFFSET_MINUTES, MILLIS_PER_DAY};

use super::ReportError;

const OFFSET_MILLIS: i64 = CHINA_STANDARD_OFFSET_MINUTES as i64 * 60_000;

/// Which instant of a day a date stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayEdge {
    /// 00:00 of the day: a period starting on that day.
    Start,
    /// 00:00 of the next day: a period ending with that day, inclusive.
    EndInclusive,
}

/// Reads `2026-09-21` (a day in UTC+8) or a number of milliseconds since the
/// epoch. `name` is the parameter's name, for the message.
pub fn parse_instant(name: &str, text: &str, edge: DayEdge) -> Result<Millis, ReportError> {
    let text = text.trim();
    if let Ok(millis) = text.parse::<Millis>() {
        return Ok(millis);
    }
    let day = parse_day(text).ok_or_else(|| bad_instant(name, text))?;
    let day = match edge {
        DayEdge::Start => day,
        DayEdge::EndInclusive => day + 1,
    };
    Ok(day * MILLIS_PER_DAY - OFFSET_MILLIS)
}

fn bad_instant(name: &str, text: &str) -> ReportError {
    let shown: String = text.chars().take(40).collect();
    ReportError::bad(format!(
        "{name}={shown:?} is not a date: write a day as YYYY-MM-DD (China Standard Time) \
         or milliseconds since 1970"
    ))
}

/// The day number (since 1970-01-01) of a `YYYY-MM-DD` date that exists.
fn parse_day(text: &str) -> Option<i64> {
    let mut parts = text.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(all_digits(year) && all_digits(month) && all_digits(day)) {
        return None;
    }
    let (year, month, day): (i64, u32, u32) =
        (year.parse().ok()?, month.parse().ok()?, day.parse().ok()?);
    let days = days_from_civil(year, month, day);
    // Refuses 2026-02-30 and friends: the date must read back the same.
    (civil_from_days(days) == (year, month, day)).then_some(days)
}

/// `2026-09-21`, the day of an instant in UTC+8.
pub fn format_day(at: Millis) -> String {
    let (year, month, day) = civil_from_days(local_day(at, CHINA_STANDARD_OFFSET_MINUTES));
    format!("{year:04}-{month:02}-{day:02}")
}

/// `2026-09-21 08:30`, an instant to the minute in UTC+8.
pub fn format_minute(at: Millis) -> String {
    let minutes = at.saturating_add(OFFSET_MILLIS).rem_euclid(MILLIS_PER_DAY) / 60_000;
    format!("{} {:02}:{:02}", format_day(at), minutes / 60, minutes % 60)
}

/// `20260921`, for file names.
pub fn compact_day(at: Millis) -> String {
    format_day(at).replace('-', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-09-21T00:00:00+08:00.
    const SEPT_21: Millis = 1_789_920_000_000;

    #[test]
    fn days_are_read_in_china_standard_time() {
        let start = parse_instant("from", "2026-09-21", DayEdge::Start).unwrap();
        assert_eq!(format_minute(start), "2026-09-21 00:00");
        assert_eq!(start, SEPT_21);
        let end = parse_instant("to", "2026-09-21", DayEdge::EndInclusive).unwrap();
        assert_eq!(end - start, MILLIS_PER_DAY);
        assert_eq!(format_minute(end - 60_000), "2026-09-21 23:59");
    }

    #[test]
    fn milliseconds_pass_through() {
        assert_eq!(
            parse_instant("from", "1790000000000", DayEdge::Start).unwrap(),
            1_790_000_000_000
        );
        assert_eq!(parse_instant("from", "-5", DayEdge::Start).unwrap(), -5);
        assert_eq!(parse_instant("to", "0", DayEdge::EndInclusive).unwrap(), 0);
    }

    #[test]
    fn nonsense_is_refused_with_the_parameter_named() {
        for text in [
            "",
            "2026-02-30",
            "2026-9-21",
            "21/09/2026",
            "yesterday",
            "99999999999999999999",
            "2026-09-21T00:00",
            "--5",
        ] {
            let error = parse_instant("from", text, DayEdge::Start).unwrap_err();
            assert!(error.to_string().starts_with("from="), "{error}");
        }
    }

    #[test]
    fn instants_print_in_local_time() {
        assert_eq!(format_day(SEPT_21 - 1), "2026-09-20");
        assert_eq!(format_minute(SEPT_21 + 90 * 60_000), "2026-09-21 01:30");
        assert_eq!(compact_day(SEPT_21), "20260921");
        // Extreme values print without panicking.
        let _ = format_minute(i64::MIN);
        let _ = format_minute(i64::MAX);
    }
}
