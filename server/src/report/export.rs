//! CSV and XLSX exports of disputes and visits, with Chinese column
//! headers, for the township's own spreadsheets and reports upward.
//!
//! Both formats have the same columns ([`columns`]) and the same cells: one
//! row per record, villages by name (from the organisation) and code, codes
//! of the vocabulary printed as their Chinese labels, times in China
//! Standard Time (`2026-09-21 08:30`). The HTTP exports and the
//! `fengqiao export` command call the same writers:
//!
//! - [`write_csv`]: UTF-8 with a byte order mark (so that Excel reads the
//!   Chinese correctly), CRLF line ends, fields quoted when they hold a
//!   comma, a quote or a line break (RFC 4180). A text that would start with
//!   `=`, `+`, `-` or `@` gets a leading `'`, so that a spreadsheet shows it
//!   instead of evaluating it as a formula.
//! - [`write_xlsx`]: one worksheet, every cell a string (never a formula),
//!   bold frozen header row.
//!
//! [`select`] picks the records of an export: one kind, within a period
//! (disputes by creation time, visits by visit time), ordered by village,
//! then time, then id. Linked duplicates are listed like any record, with
//! the case they duplicate in the `重复于` column, so the ledger stays
//! complete; the statistics count them once.

use std::collections::BTreeMap;
use std::io::Write;

use fengqiao_protocol::VillageCode;
use fengqiao_shared::stats::Period;
use fengqiao_shared::vocab::{RecordKind, Status};
use fengqiao_shared::{Millis, Summary};
use rust_xlsxwriter::{Format, Workbook};

use super::ReportError;
use super::calendar::{format_day, format_minute};

/// Village names by code, from the organisation; a village without a name
/// is shown by its code.
pub type VillageNames = BTreeMap<VillageCode, String>;

/// What one row is made from: the record and its village's name.
pub struct Row<'a> {
    pub summary: &'a Summary,
    pub village_name: Option<&'a str>,
}

/// A column: its Chinese header and how a row fills it.
pub struct Column {
    pub header: &'static str,
    pub cell: fn(&Row<'_>) -> String,
}

/// The file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        }
    }
}

/// The English file name stem and the Chinese sheet name of a kind.
pub fn file_names(kind: RecordKind) -> (&'static str, &'static str) {
    match kind {
        RecordKind::Dispute => ("disputes", "矛盾纠纷"),
        RecordKind::Visit => ("visits", "民情走访"),
    }
}

fn time(at: Option<Millis>) -> String {
    at.map(format_minute).unwrap_or_default()
}

fn yes_no(value: bool) -> String {
    if value { "是" } else { "否" }.to_owned()
}

fn village_name(row: &Row<'_>) -> String {
    row.village_name
        .map_or_else(|| row.summary.village.to_string(), str::to_owned)
}

fn status(summary: &Summary) -> String {
    let status = summary.status.unwrap_or(Status::Open);
    match (status, summary.escalation_level) {
        (Status::Escalated, Some(level)) => {
            format!("{}（{}）", status.label_zh(), level.label_zh())
        }
        _ => status.label_zh().to_owned(),
    }
}

const DISPUTE_COLUMNS: &[Column] = &[
    Column {
        header: "编号",
        cell: |r| r.summary.id.to_string(),
    },
    Column {
        header: "村",
        cell: village_name,
    },
    Column {
        header: "村代码",
        cell: |r| r.summary.village.to_string(),
    },
    Column {
        header: "标题",
        cell: |r| r.summary.title.clone(),
    },
    Column {
        header: "类别",
        cell: |r| {
            r.summary
                .category
                .map(|c| c.label_zh())
                .unwrap_or_default()
                .to_owned()
        },
    },
    Column {
        header: "风险",
        cell: |r| {
            r.summary
                .risk
                .map(|risk| risk.label_zh())
                .unwrap_or_default()
                .to_owned()
        },
    },
    Column {
        header: "状态",
        cell: |r| status(r.summary),
    },
    Column {
        header: "登记时间",
        cell: |r| format_minute(r.summary.created_at),
    },
    Column {
        header: "化解时间",
        cell: |r| time(r.summary.resolved_at),
    },
    Column {
        header: "当事人",
        cell: |r| r.summary.party_names.join("、"),
    },
    Column {
        header: "承办人",
        cell: |r| r.summary.assignees.join("、"),
    },
    Column {
        header: "登记人",
        cell: |r| r.summary.created_by.clone(),
    },
    Column {
        header: "最高上报层级",
        cell: |r| {
            r.summary
                .max_escalation_level
                .map(|l| l.label_zh())
                .unwrap_or_default()
                .to_owned()
        },
    },
    Column {
        header: "最近活动",
        cell: |r| format_minute(r.summary.last_activity),
    },
    Column {
        header: "事件数",
        cell: |r| r.summary.event_count.to_string(),
    },
    Column {
        header: "重复于",
        cell: |r| {
            r.summary
                .duplicate_of
                .as_ref()
                .map(|d| d.to_string())
                .unwrap_or_default()
        },
    },
];

const VISIT_COLUMNS: &[Column] = &[
    Column {
        header: "编号",
        cell: |r| r.summary.id.to_string(),
    },
    Column {
        header: "村",
        cell: village_name,
    },
    Column {
        header: "村代码",
        cell: |r| r.summary.village.to_string(),
    },
    Column {
        header: "走访对象",
        cell: |r| r.summary.title.clone(),
    },
    Column {
        header: "走访时间",
        cell: |r| time(r.summary.visited_at),
    },
    Column {
        header: "主题",
        cell: |r| {
            r.summary
                .topics
                .iter()
                .map(|t| t.label_zh())
                .collect::<Vec<_>>()
                .join("、")
        },
    },
    Column {
        header: "民情",
        cell: |r| {
            r.summary
                .sentiment
                .map(|m| m.label_zh())
                .unwrap_or_default()
                .to_owned()
        },
    },
    Column {
        header: "需回访",
        cell: |r| yes_no(r.summary.follow_up_needed),
    },
    Column {
        header: "回访完成",
        cell: |r| yes_no(r.summary.follow_up_done),
    },
    Column {
        header: "回访期限",
        cell: |r| r.summary.follow_up_due.map(format_day).unwrap_or_default(),
    },
    Column {
        header: "关联纠纷",
        cell: |r| {
            r.summary
                .linked_dispute
                .as_ref()
                .map(|d| d.to_string())
                .unwrap_or_default()
        },
    },
    Column {
        header: "走访人",
        cell: |r| r.summary.created_by.clone(),
    },
    Column {
        header: "登记时间",
        cell: |r| format_minute(r.summary.created_at),
    },
];

/// The columns of an export of `kind`.
pub fn columns(kind: RecordKind) -> &'static [Column] {
    match kind {
        RecordKind::Dispute => DISPUTE_COLUMNS,
        RecordKind::Visit => VISIT_COLUMNS,
    }
}

/// The time that places a record in a period: creation for a dispute, the
/// visit (or, lacking one, creation) for a visit.
fn period_time(summary: &Summary) -> Millis {
    match summary.kind {
        RecordKind::Dispute => summary.created_at,
        RecordKind::Visit => summary.visited_at.unwrap_or(summary.created_at),
    }
}

/// The records of an export: those of `kind` within `period`, by village,
/// then time, then id.
pub fn select<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    kind: RecordKind,
    period: &Period,
) -> Vec<&'a Summary> {
    let mut chosen: Vec<&Summary> = summaries
        .into_iter()
        .filter(|s| s.kind == kind && period.contains(period_time(s)))
        .collect();
    chosen.sort_by(|a, b| {
        (&a.village, period_time(a), &a.id).cmp(&(&b.village, period_time(b), &b.id))
    });
    chosen
}

/// The cells of one record, in column order.
fn cells<'a>(
    columns: &'a [Column],
    summary: &'a Summary,
    names: &'a VillageNames,
) -> impl Iterator<Item = String> + 'a {
    let row = Row {
        summary,
        village_name: names.get(&summary.village).map(String::as_str),
    };
    columns.iter().map(move |column| (column.cell)(&row))
}

/// Neutralises a text a spreadsheet would read as a formula.
fn defuse(text: String) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text
    }
}

/// Writes one CSV field, quoted when it has to be.
fn write_field(out: &mut impl Write, text: &str) -> std::io::Result<()> {
    if text.contains([',', '"', '\r', '\n']) || text.starts_with(' ') || text.ends_with(' ') {
        write!(out, "\"{}\"", text.replace('"', "\"\""))
    } else {
        out.write_all(text.as_bytes())
    }
}

fn write_line(out: &mut impl Write, fields: impl Iterator<Item = String>) -> std::io::Result<()> {
    for (index, field) in fields.enumerate() {
        if index > 0 {
            out.write_all(b",")?;
        }
        write_field(out, &defuse(field))?;
    }
    out.write_all(b"\r\n")
}

/// Writes the records of `kind` among `summaries`, in the order given, as
/// CSV, naming villages by `names` (see the module documentation for the format).
pub fn write_csv<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    kind: RecordKind,
    names: &VillageNames,
    out: &mut impl Write,
) -> Result<(), ReportError> {
    let columns = columns(kind);
    out.write_all("\u{feff}".as_bytes())?;
    write_line(out, columns.iter().map(|c| c.header.to_owned()))?;
    for summary in summaries.into_iter().filter(|s| s.kind == kind) {
        write_line(out, cells(columns, summary, names))?;
    }
    out.flush()?;
    Ok(())
}

/// The most rows one worksheet holds, header included.
const XLSX_MAX_ROWS: usize = 1_048_576;

/// Writes the records of `kind` among `summaries`, in the order given, as an
/// XLSX workbook of one worksheet, naming villages by `names`.
pub fn write_xlsx<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    kind: RecordKind,
    names: &VillageNames,
    out: &mut impl Write,
) -> Result<(), ReportError> {
    let failed = |e: rust_xlsxwriter::XlsxError| ReportError::Write(e.to_string());
    let columns = columns(kind);
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(file_names(kind).1).map_err(failed)?;
    let bold = Format::new().set_bold();
    for (col, column) in columns.iter().enumerate() {
        sheet
            .write_string_with_format(0, col as u16, column.header, &bold)
            .map_err(failed)?;
    }
    let mut row = 0usize;
    for summary in summaries.into_iter().filter(|s| s.kind == kind) {
        row += 1;
        if row >= XLSX_MAX_ROWS {
            return Err(ReportError::Write(format!(
                "more than {} records do not fit in one worksheet; export a narrower scope or \
                 period, or use CSV",
                XLSX_MAX_ROWS - 1
            )));
        }
        for (col, text) in cells(columns, summary, names).enumerate() {
            if !text.is_empty() {
                sheet
                    .write_string(row as u32, col as u16, text)
                    .map_err(failed)?;
            }
        }
    }
    sheet.set_freeze_panes(1, 0).map_err(failed)?;
    for (col, column) in columns.iter().enumerate() {
        let width = match column.header {
            "编号" => 26.0,
            "标题" | "走访对象" | "当事人" => 24.0,
            "登记时间" | "化解时间" | "走访时间" | "最近活动" | "重复于" | "关联纠纷" => {
                18.0
            }
            _ => 12.0,
        };
        sheet.set_column_width(col as u16, width).map_err(failed)?;
    }
    let bytes = workbook.save_to_buffer().map_err(failed)?;
    out.write_all(&bytes)?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_defused() {
        let mut out = Vec::new();
        write_line(
            &mut out,
            [
                "plain".to_owned(),
                "a,b".to_owned(),
                "say \"hi\"".to_owned(),
                "two\nlines".to_owned(),
                "=1+1".to_owned(),
                "-3".to_owned(),
                String::new(),
            ]
            .into_iter(),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",'=1+1,'-3,\r\n"
        );
    }

    #[test]
    fn every_kind_has_its_columns() {
        assert_eq!(columns(RecordKind::Dispute)[0].header, "编号");
        assert!(
            columns(RecordKind::Dispute)
                .iter()
                .any(|c| c.header == "化解时间")
        );
        assert!(
            columns(RecordKind::Visit)
                .iter()
                .any(|c| c.header == "民情")
        );
    }
}
