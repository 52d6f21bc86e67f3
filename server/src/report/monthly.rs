//! The monthly report (月报) of a town or a district: the headline figures
//! with their definitions and their change against the month before (环比)
//! and the same month a year earlier (同比), a table per village (for a town
//! or a village) or per town (for a district), and the overdue and
//! high-risk cases with how long they have been open. The dashboard prints
//! it on A4; [`write_xlsx`] writes it as a workbook.
//!
//! Every figure is the statistics API's for the same scope and month: the
//! report merges the same per-village partials ([`super::figures`]).

use std::collections::BTreeMap;
use std::io::Write;

use fengqiao_protocol::{DocumentId, Scope};
use fengqiao_shared::stats::calendar::YearMonth;
use fengqiao_shared::stats::compare::Comparison;
use fengqiao_shared::stats::{self, DisputeFigures, MILLIS_PER_DAY, Period, partial};
use fengqiao_shared::vocab::{Level, Risk, Status};
use fengqiao_shared::{Millis, StatsQuery, Summary};
use rust_xlsxwriter::{Format, FormatAlign, Workbook};

use super::ReportError;
use super::Rows;
use super::calendar::{format_day, format_minute};
use super::export::{Cell, CellFormats, PlaceNames, write_cell, write_table, xlsx_failed};
use super::figures::comparison;
use super::people::Names;

/// At most this many cases in each list of a report (their counts are
/// complete).
pub const LIST_LIMIT: u32 = 200;

/// One row of the report's table: a village or a town.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlaceRow {
    pub code: String,
    pub name: String,
    pub disputes: DisputeFigures,
    pub overdue: u64,
    pub open_high_risk: u64,
    pub visits: u64,
    pub pending_follow_ups: u64,
}

/// A case in a list of the report.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportCase {
    pub id: DocumentId,
    pub title: String,
    pub town_name: String,
    pub village_name: String,
    pub created_at: Millis,
    pub status: Status,
    pub escalation_level: Option<Level>,
    pub risk: Option<Risk>,
    /// Whole days since it was reported, as of the report's time.
    pub days_open: i64,
    /// Whole days beyond the time limit (0 when within it).
    pub days_overdue: i64,
    /// The assignees by name.
    pub assignees: Vec<String>,
}

/// A list of cases: how many there are, and the first of them.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportList {
    pub count: u64,
    pub items: Vec<ReportCase>,
}

/// The monthly report.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MonthlyReport {
    pub scope: Scope,
    pub place_name: String,
    pub month: YearMonth,
    pub period: Period,
    pub as_of: Millis,
    pub overdue_days: u32,
    /// The dispute figures of the month: `/v1/stats/summary`'s `totals`
    /// for the same scope and period.
    pub totals: DisputeFigures,
    pub comparison: Comparison,
    pub visits: u64,
    pub pending_follow_ups: u64,
    /// `"village"` or `"town"`: what the rows are.
    pub row_kind: &'static str,
    pub rows: Vec<PlaceRow>,
    /// Open cases past the time limit, longest overdue first.
    pub overdue: ReportList,
    /// Open cases of high risk, oldest first.
    pub high_risk: ReportList,
    pub definitions: BTreeMap<String, stats::Definition>,
}

/// The period of a calendar month, local time.
pub fn month_period(month: YearMonth, offset_minutes: i32) -> Period {
    let days = stats::calendar::days_from_civil(month.year, month.month, 1);
    stats::compare::month_of(
        days * MILLIS_PER_DAY - i64::from(offset_minutes) * 60_000,
        offset_minutes,
    )
}

fn days(from: Millis, to: Millis) -> i64 {
    (i128::from(to) - i128::from(from))
        .div_euclid(i128::from(MILLIS_PER_DAY))
        .clamp(0, i128::from(i64::MAX)) as i64
}

/// Builds the report of `scope` for `month` over `rows`; `query` carries
/// the "as of" time and the overdue threshold.
pub fn monthly(
    rows: &Rows<'_>,
    scope: &Scope,
    month: YearMonth,
    query: &StatsQuery,
    places: &PlaceNames,
    place_name: String,
    people: &Names,
) -> MonthlyReport {
    let period = month_period(month, query.utc_offset_minutes);
    let query = query
        .clone()
        .with_period(period)
        .with_scope(scope.clone())
        .with_list_limit(Some(LIST_LIMIT));
    let partials = rows.partials(&query);
    let partials: Vec<&partial::VillagePartial> = partials.iter().map(|p| &**p).collect();
    let statistics = partial::statistics_of(partials.iter().copied(), &query);
    let village_name = |code: &fengqiao_protocol::VillageCode| {
        places
            .villages
            .get(code)
            .cloned()
            .unwrap_or_else(|| code.to_string())
    };
    let town_name = |code: &str| {
        places
            .towns
            .get(code)
            .cloned()
            .unwrap_or_else(|| code.to_owned())
    };
    let (row_kind, table) = match scope {
        Scope::District(_) => (
            "town",
            partial::by_town_of(partials.iter().copied(), &query)
                .into_iter()
                .map(|row| PlaceRow {
                    name: town_name(row.town.as_str()),
                    code: row.town.to_string(),
                    disputes: row.disputes,
                    overdue: row.overdue,
                    open_high_risk: row.open_high_risk,
                    visits: row.visits,
                    pending_follow_ups: row.pending_follow_ups,
                })
                .collect(),
        ),
        _ => (
            "village",
            partial::by_village_of(partials.iter().copied(), &query)
                .into_iter()
                .map(|row| PlaceRow {
                    name: village_name(&row.village),
                    code: row.village.to_string(),
                    disputes: row.disputes,
                    overdue: row.overdue,
                    open_high_risk: row.open_high_risk,
                    visits: row.visits,
                    pending_follow_ups: row.pending_follow_ups,
                })
                .collect(),
        ),
    };
    let limit = query.overdue_days;
    let case = |summary: &Summary| ReportCase {
        id: summary.id.clone(),
        title: summary.title.clone(),
        town_name: town_name(summary.village.town().as_str()),
        village_name: village_name(&summary.village),
        created_at: summary.created_at,
        status: summary.status.unwrap_or(Status::Open),
        escalation_level: summary.escalation_level,
        risk: summary.risk,
        days_open: days(summary.created_at, query.now),
        days_overdue: (days(summary.created_at, query.now) - i64::from(limit)).max(0),
        assignees: summary
            .assignees
            .iter()
            .map(|id| people.shown(id).to_owned())
            .collect(),
    };
    let open: std::collections::HashMap<&DocumentId, &Summary> = rows
        .iter()
        .filter(|s| {
            s.kind == fengqiao_shared::vocab::RecordKind::Dispute
                && s.status.unwrap_or(Status::Open).is_open()
        })
        .map(|s| (&s.id, s))
        .collect();
    let list = |ids: &[DocumentId], count: u64| -> ReportList {
        let items = ids
            .iter()
            .filter_map(|id| open.get(id).copied())
            .map(case)
            .take(LIST_LIMIT as usize)
            .collect();
        ReportList { count, items }
    };
    let disputes = &statistics.disputes;
    // The overdue list is oldest first, which is longest overdue first.
    let overdue = list(&disputes.overdue.ids, disputes.overdue.count);
    let high_risk = list(&disputes.open_high_risk.ids, disputes.open_high_risk.count);
    MonthlyReport {
        scope: scope.clone(),
        place_name,
        month,
        period,
        as_of: query.now,
        overdue_days: query.overdue_days,
        totals: disputes.totals.clone(),
        comparison: comparison(rows, &query),
        visits: statistics.visits.total,
        pending_follow_ups: statistics.visits.follow_ups.pending.count,
        row_kind,
        rows: table,
        overdue,
        high_risk,
        definitions: stats::definitions(),
    }
}

fn rate(value: Option<f64>) -> Cell {
    value.map_or(Cell::Empty, |v| Cell::Text(format!("{:.1}%", v * 100.0)))
}

fn change(value: Option<f64>, is_rate: bool) -> Cell {
    match value {
        None => Cell::Text("—".to_owned()),
        Some(v) if is_rate => Cell::Text(format!("{:+.1}个百分点", v * 100.0)),
        Some(v) => Cell::Text(format!("{:+.1}%", v * 100.0)),
    }
}

fn status_text(case: &ReportCase) -> String {
    match (case.status, case.escalation_level) {
        (Status::Escalated, Some(level)) => {
            format!("{}（{}）", case.status.label_zh(), level.label_zh())
        }
        (status, _) => status.label_zh().to_owned(),
    }
}

/// The headline figures of the report, in the order it prints them: the
/// field name and whether it is a rate.
pub const HEADLINE: &[(&str, bool)] = &[
    ("received", false),
    ("resolved", false),
    ("resolutionRate", true),
    ("grassrootsRate", true),
    ("villageRate", true),
    ("grassrootsResolved", false),
    ("stillOpen", false),
    ("failedInTownship", false),
    ("escalatedBeyondTownship", false),
];

fn figure(totals: &DisputeFigures, name: &str) -> Cell {
    let count = |n: u64| Cell::Count(n as i64);
    match name {
        "received" => count(totals.received),
        "resolved" => count(totals.resolved),
        "resolutionRate" => rate(totals.resolution_rate),
        "grassrootsRate" => rate(totals.grassroots_rate),
        "villageRate" => rate(totals.village_rate),
        "grassrootsResolved" => count(totals.grassroots_resolved),
        "stillOpen" => count(totals.still_open),
        "failedInTownship" => count(totals.failed_in_township),
        "escalatedBeyondTownship" => count(totals.escalated_beyond_township),
        _ => Cell::Empty,
    }
}

/// Writes the report as an XLSX workbook: 汇总 (headline figures, their
/// change and definitions), 分村情况 or 分镇情况, 超期未结, 高风险未结.
pub fn write_xlsx(report: &MonthlyReport, out: &mut impl Write) -> Result<(), ReportError> {
    let mut workbook = Workbook::new();
    let formats = CellFormats::default();
    let title = Format::new().set_bold().set_font_size(14);
    let wrap = Format::new().set_text_wrap().set_align(FormatAlign::Top);

    let sheet = workbook.add_worksheet();
    sheet.set_name("汇总").map_err(xlsx_failed)?;
    sheet
        .write_string_with_format(
            0,
            0,
            format!(
                "{} {}年{}月 矛盾纠纷化解与民情走访月报",
                report.place_name, report.month.year, report.month.month
            ),
            &title,
        )
        .map_err(xlsx_failed)?;
    let last_day = report.period.to.map_or(report.as_of, |to| to - 1);
    sheet
        .write_string(
            1,
            0,
            format!(
                "统计期：{} 至 {}（按登记时间）；积压情况截至 {}；办结时限 {} 天",
                report.period.from.map(format_day).unwrap_or_default(),
                format_day(last_day),
                format_minute(report.as_of),
                report.overdue_days
            ),
        )
        .map_err(xlsx_failed)?;
    let headers = [
        "指标",
        "本月",
        "上月",
        "环比",
        "去年同月",
        "同比",
        "计算方法",
    ];
    let widths = [16.0, 10.0, 10.0, 14.0, 10.0, 14.0, 70.0];
    for (col, (header, width)) in headers.iter().zip(widths).enumerate() {
        sheet
            .write_string_with_format(3, col as u16, *header, &formats.header)
            .map_err(xlsx_failed)?;
        sheet
            .set_column_width(col as u16, width)
            .map_err(xlsx_failed)?;
    }
    let comparison = &report.comparison;
    for (i, &(name, is_rate)) in HEADLINE.iter().enumerate() {
        let row = 4 + i as u32;
        let definition = report.definitions.get(name);
        let label = definition.map_or(name, |d| d.label_zh.as_str());
        let change_of = comparison.changes.get(name);
        let cells = [
            Cell::Text(label.to_owned()),
            figure(&report.totals, name),
            figure(&comparison.previous, name),
            change(change_of.and_then(|c| c.month_on_month), is_rate),
            figure(&comparison.year_before, name),
            change(change_of.and_then(|c| c.year_on_year), is_rate),
        ];
        for (col, cell) in cells.iter().enumerate() {
            write_cell(sheet, row, col as u16, cell, &formats)?;
        }
        sheet
            .write_string_with_format(row, 6, definition.map_or("", |d| d.zh.as_str()), &wrap)
            .map_err(xlsx_failed)?;
    }
    let backlog = [
        ("超期未结", report.overdue.count, "overdue"),
        ("高风险未结", report.high_risk.count, "openHighRisk"),
        ("民情走访", report.visits, "visits"),
        ("待回访", report.pending_follow_ups, "pendingFollowUps"),
    ];
    for (row, (label, count, name)) in (5 + HEADLINE.len() as u32..).zip(backlog) {
        write_cell(sheet, row, 0, &Cell::Text(label.to_owned()), &formats)?;
        write_cell(sheet, row, 1, &Cell::Count(count as i64), &formats)?;
        sheet
            .write_string_with_format(
                row,
                6,
                report.definitions.get(name).map_or("", |d| d.zh.as_str()),
                &wrap,
            )
            .map_err(xlsx_failed)?;
    }

    let place = if report.row_kind == "town" {
        "镇街"
    } else {
        "村"
    };
    let sheet = workbook.add_worksheet();
    sheet
        .set_name(if report.row_kind == "town" {
            "分镇情况"
        } else {
            "分村情况"
        })
        .map_err(xlsx_failed)?;
    let headers: Vec<(&str, f64)> = vec![
        (place, 14.0),
        ("代码", 14.0),
        ("受理纠纷", 9.0),
        ("已化解", 8.0),
        ("化解率", 8.0),
        ("基层化解率", 10.0),
        ("村级化解率", 10.0),
        ("仍在办理", 9.0),
        ("调解失败", 9.0),
        ("上报镇外", 9.0),
        ("超期未结", 9.0),
        ("高风险未结", 10.0),
        ("民情走访", 9.0),
        ("待回访", 8.0),
    ];
    let count = |n: u64| Cell::Count(n as i64);
    write_table(
        sheet,
        &headers,
        report.rows.iter().map(|r| {
            let d = &r.disputes;
            vec![
                Cell::Text(r.name.clone()),
                Cell::Text(r.code.clone()),
                count(d.received),
                count(d.resolved),
                rate(d.resolution_rate),
                rate(d.grassroots_rate),
                rate(d.village_rate),
                count(d.still_open),
                count(d.failed_in_township),
                count(d.escalated_beyond_township),
                count(r.overdue),
                count(r.open_high_risk),
                count(r.visits),
                count(r.pending_follow_ups),
            ]
        }),
        &formats,
    )?;

    for (name, list) in [
        ("超期未结", &report.overdue),
        ("高风险未结", &report.high_risk),
    ] {
        let sheet = workbook.add_worksheet();
        sheet.set_name(name).map_err(xlsx_failed)?;
        let headers: Vec<(&str, f64)> = vec![
            ("编号", 26.0),
            ("镇街", 12.0),
            ("村", 12.0),
            ("标题", 24.0),
            ("状态", 14.0),
            ("风险", 8.0),
            ("登记时间", 17.0),
            ("已办天数", 9.0),
            ("超期天数", 9.0),
            ("承办人", 16.0),
        ];
        write_table(
            sheet,
            &headers,
            list.items.iter().map(|c| {
                vec![
                    Cell::Text(c.id.to_string()),
                    Cell::Text(c.town_name.clone()),
                    Cell::Text(c.village_name.clone()),
                    Cell::Text(c.title.clone()),
                    Cell::Text(status_text(c)),
                    Cell::Text(c.risk.map(|r| r.label_zh()).unwrap_or_default().to_owned()),
                    Cell::Time(c.created_at),
                    Cell::Count(c.days_open),
                    Cell::Count(c.days_overdue),
                    Cell::Text(c.assignees.join("、")),
                ]
            }),
            &formats,
        )?;
    }
    let bytes = workbook.save_to_buffer().map_err(xlsx_failed)?;
    out.write_all(&bytes)?;
    out.flush()?;
    Ok(())
}
