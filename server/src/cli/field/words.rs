//! What a cadre types on the command line, read into record values: the
//! schema's words (category, risk, event kind …), dates and times, parties;
//! and the tables the listings print.
//!
//! Every vocabulary accepts its English word or its Chinese label, and a
//! word that is not in it is answered with the whole list, so the next try
//! is right.

use fengqiao_shared::Millis;
use fengqiao_shared::record::Party;
use fengqiao_shared::stats::calendar::{civil_from_days, days_from_civil};
use fengqiao_shared::vocab::{
    Category, EventKind, Level, PartyRole, Risk, Sentiment, Stage, Status, Topic,
};

/// China Standard Time, in which dates are typed and shown.
const CST_OFFSET_MILLIS: i64 = 8 * 3_600_000;
const DAY_MILLIS: i64 = 86_400_000;

/// A closed vocabulary of the record schema.
pub trait Word: Copy + Send + Sync + 'static {
    /// What a value is called in messages ("category", "risk" …).
    const WHAT: &'static str;
    fn all() -> &'static [Self];
    fn wire(self) -> &'static str;
    fn zh(self) -> &'static str;
}

macro_rules! word {
    ($ty:ty, $what:literal) => {
        impl Word for $ty {
            const WHAT: &'static str = $what;
            fn all() -> &'static [Self] {
                <$ty>::ALL
            }
            fn wire(self) -> &'static str {
                self.as_str()
            }
            fn zh(self) -> &'static str {
                self.label_zh()
            }
        }
    };
}

word!(Category, "category");
word!(Risk, "risk");
word!(Sentiment, "sentiment");
word!(PartyRole, "party role");
word!(EventKind, "event kind");
word!(Level, "level");
word!(Topic, "topic");
word!(Status, "status");
word!(Stage, "stage");

/// Every value of a vocabulary, as `word (中文)`, comma-separated.
pub fn allowed<T: Word>() -> String {
    T::all()
        .iter()
        .map(|w| format!("{} ({})", w.wire(), w.zh()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a vocabulary word, in English (any case) or as its Chinese label.
pub fn parse_word<T: Word>(text: &str) -> Result<T, String> {
    let wanted = text.trim();
    T::all()
        .iter()
        .copied()
        .find(|w| w.wire().eq_ignore_ascii_case(wanted) || w.zh() == wanted)
        .ok_or_else(|| {
            format!(
                "{wanted:?} is not a {}; use one of: {}",
                T::WHAT,
                allowed::<T>()
            )
        })
}

/// Reads a time in China Standard Time: `YYYY-MM-DD` (the start of that
/// day), `YYYY-MM-DD HH:MM` or `YYYY-MM-DDTHH:MM[:SS]`.
pub fn parse_time(text: &str) -> Result<Millis, String> {
    let text = text.trim();
    let hint = "write a date as YYYY-MM-DD, optionally with a time as YYYY-MM-DD HH:MM (China Standard Time)";
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((date, time)) => (date, Some(time.trim())),
        None => (text, None),
    };
    let day = parse_date(date).ok_or_else(|| format!("{text:?} is not a date; {hint}"))?;
    let seconds = match time {
        None | Some("") => 0,
        Some(time) => {
            parse_clock(time).ok_or_else(|| format!("{text:?} has no valid time; {hint}"))?
        }
    };
    Ok(day * DAY_MILLIS + seconds * 1000 - CST_OFFSET_MILLIS)
}

/// The day number of `YYYY-MM-DD`, if it is a real date.
fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.split('-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=9999).contains(&year) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    (civil_from_days(days) == (year, month, day)).then_some(days)
}

/// Seconds into the day of `HH:MM` or `HH:MM:SS`.
fn parse_clock(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let numbers: Vec<i64> = parts
        .iter()
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let (h, m, s) = (numbers[0], numbers[1], numbers.get(2).copied().unwrap_or(0));
    ((0..24).contains(&h) && (0..60).contains(&m) && (0..60).contains(&s))
        .then_some(h * 3600 + m * 60 + s)
}

/// `YYYY-MM-DD` in China Standard Time.
pub fn format_date(millis: Millis) -> String {
    let (y, m, d) = civil_from_days((millis + CST_OFFSET_MILLIS).div_euclid(DAY_MILLIS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Reads a party: `NAME`, `NAME:ROLE` or `NAME:ROLE:PHONE` (a full-width
/// `：` works too). The role defaults to applicant.
pub fn parse_party(text: &str) -> Result<Party, String> {
    let normalized = text.replace('：', ":");
    let mut parts = normalized.splitn(3, ':').map(str::trim);
    let name = parts.next().unwrap_or_default();
    if name.is_empty() {
        return Err(format!(
            "{text:?} has no name; write a party as NAME:ROLE, e.g. 张三:applicant"
        ));
    }
    let role = match parts.next() {
        None | Some("") => PartyRole::Applicant,
        Some(role) => parse_word::<PartyRole>(role)?,
    };
    let mut party = Party::new(name, role);
    if let Some(phone) = parts.next().filter(|p| !p.is_empty()) {
        party = party.with_phone(phone);
    }
    Ok(party)
}

/// Columns a character takes in a terminal: two for CJK and other wide
/// characters, one otherwise.
fn columns(c: char) -> usize {
    let wide = matches!(u32::from(c),
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x20000..=0x3FFFD);
    if wide { 2 } else { 1 }
}

/// The width of a text in terminal columns.
pub fn width(text: &str) -> usize {
    text.chars().map(columns).sum()
}

/// A text cut to at most `max` columns, with `…` when cut.
pub fn clip(text: &str, max: usize) -> String {
    let text = text.replace(['\n', '\r', '\t'], " ");
    if width(&text) <= max {
        return text;
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        if used + columns(c) + 1 > max {
            break;
        }
        used += columns(c);
        out.push(c);
    }
    out.push('…');
    out
}

/// Rows laid out in aligned columns (the first row is the header).
pub fn table(rows: &[Vec<String>]) -> String {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| width(c)))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (cell, w) in row.iter().zip(&widths) {
            line.push_str(cell);
            line.push_str(&" ".repeat(w.saturating_sub(width(cell)) + 2));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A byte count for people: `812 B`, `3.4 KB`, `1.2 MB`.
pub fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KB", n as f64 / 1024.0),
        _ => format!("{:.1} MB", n as f64 / 1_048_576.0),
    }
}

/// `1 record`, `2 records`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_read_in_english_or_chinese_and_errors_list_every_choice() {
        assert_eq!(parse_word::<Category>("land"), Ok(Category::Land));
        assert_eq!(parse_word::<Category>("Land"), Ok(Category::Land));
        assert_eq!(parse_word::<Risk>("高"), Ok(Risk::High));
        let error = parse_word::<Category>("lnd").unwrap_err();
        for c in Category::ALL {
            assert!(error.contains(c.as_str()), "{error}");
        }
    }

    #[test]
    fn times_are_china_standard_time() {
        // 2025-03-01 00:00 CST is 2025-02-28 16:00 UTC.
        assert_eq!(parse_time("2025-03-01"), Ok(1_740_758_400_000));
        assert_eq!(
            parse_time("2025-03-01 08:30"),
            Ok(1_740_758_400_000 + 8 * 3_600_000 + 30 * 60_000)
        );
        assert_eq!(
            parse_time("2025-03-01T08:30"),
            parse_time("2025-03-01 08:30")
        );
        assert_eq!(format_date(1_740_758_400_000), "2025-03-01");
        for bad in [
            "2025-02-30",
            "2025-13-01",
            "yesterday",
            "2025-03-01 25:00",
            "",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parties_take_a_role_and_a_phone() {
        let party = parse_party("张三：respondent:13800000000").unwrap();
        assert_eq!(party.name, "张三");
        assert_eq!(party.role, PartyRole::Respondent);
        assert_eq!(party.phone.as_deref(), Some("13800000000"));
        assert_eq!(parse_party("李四").unwrap().role, PartyRole::Applicant);
        assert!(parse_party(":applicant").is_err());
        assert!(
            parse_party("王五:judge")
                .unwrap_err()
                .contains("respondent")
        );
    }

    #[test]
    fn tables_align_chinese_text() {
        let text = table(&[
            vec!["id".into(), "title".into(), "risk".into()],
            vec!["a".into(), "宅基地纠纷".into(), "high".into()],
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(width(&lines[0][..lines[0].find("risk").unwrap()]), 16);
        assert_eq!(width(&lines[1][..lines[1].find("high").unwrap()]), 16);
        assert_eq!(clip("宅基地纠纷调解", 7), "宅基地…");
    }
}
