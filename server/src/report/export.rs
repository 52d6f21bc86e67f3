//! CSV and XLSX exports of disputes and visits, with Chinese column
//! headers, for the township's own spreadsheets and reports upward.
//!
//! Both formats have the same columns ([`columns`]) and the same cells: one
//! row per record, the town and village by name (from the organisation),
//! people by name (from the directory), codes of the vocabulary printed as
//! their Chinese labels, times in China Standard Time. A dispute's row
//! carries its description (案情), the parties with their roles, the latest
//! outcome recorded, how many days it has been open and how many days it
//! is overdue; a visit's row its notes, 村民小组 and follow-up state. These
//! come from the records' documents ([`details`]), the rest from their
//! summaries.
//!
//! - [`write_csv`]: UTF-8 with a byte order mark (so that Excel reads the
//!   Chinese correctly), CRLF line ends, fields quoted when they hold a
//!   comma, a quote or a line break (RFC 4180). A text that would start with
//!   `=`, `+`, `-` or `@` gets a leading `'`, so that a spreadsheet shows it
//!   instead of evaluating it as a formula. Times are written
//!   `2026-09-21 08:30`, days `2026-09-21`.
//! - [`write_xlsx`]: one worksheet with typed cells — times and days are
//!   dates (formatted `yyyy-mm-dd hh:mm` and `yyyy-mm-dd`), counts are
//!   numbers, everything else a string (never a formula) — a bold frozen
//!   header row and an autofilter over the table.
//!
//! Headers and labels are Chinese; with [`Lang::En`] (`lang=en` on the
//! export's address) they are English: the headers, the vocabulary (status,
//! category, risk, roles, topics …), yes/no and follow-up states and the
//! sheet's name. What people typed (titles, names, notes) stays as typed.
//!
//! [`select`] picks the records of an export: one kind, within a period
//! (disputes by creation time, visits by visit time), ordered by village,
//! then time, then id. Linked duplicates are listed like any record, with
//! the case they duplicate in the `重复于` column, so the ledger stays
//! complete; the statistics count them once.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use automerge::Automerge;
use fengqiao_protocol::{DocumentId, VillageCode};
use fengqiao_shared::record::Record;
use fengqiao_shared::stats::{MILLIS_PER_DAY, Period};
use fengqiao_shared::vocab::{PartyRole, RecordKind, Status};
use fengqiao_shared::{Millis, Summary};
use rust_xlsxwriter::{Format, Workbook, Worksheet};

use super::ReportError;
use super::calendar::{format_day, format_minute};
use super::people::Names;
use crate::storage::Storage;

/// Village and town names by code, from the organisation; a place without
/// a name is shown by its code.
#[derive(Debug, Clone, Default)]
pub struct PlaceNames {
    pub villages: BTreeMap<VillageCode, String>,
    pub towns: BTreeMap<String, String>,
}

/// The language of an export's headers and labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Lang {
    /// 中文, the default.
    #[default]
    Zh,
    En,
}

impl Lang {
    /// `zh` or `en`, as a request names it.
    pub fn parse(text: &str) -> Option<Lang> {
        match text {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The text in this language.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// How a list of names is joined: `、` or `, `.
    fn joiner(self) -> &'static str {
        self.pick("、", ", ")
    }
}

/// A person the directory does not know, in English.
const UNKNOWN_PERSON_EN: &str = "unregistered person";

/// What an export reads besides the summaries: place and people names,
/// the details of each record, the time the export is made ("as of", for
/// days open and overdue), the overdue threshold and the language.
pub struct Context<'a> {
    pub places: &'a PlaceNames,
    pub people: &'a Names,
    pub details: &'a HashMap<DocumentId, Detail>,
    pub now: Millis,
    pub overdue_days: u32,
    pub lang: Lang,
}

/// What a record's document says that its summary does not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detail {
    /// A dispute's description (案情).
    pub description: String,
    /// The parties and their roles.
    pub parties: Vec<(String, PartyRole)>,
    /// The outcome of the latest event that records one.
    pub outcome: Option<String>,
    /// A visit's notes.
    pub notes: String,
    /// A visit's villagers' group (村民小组).
    pub group: Option<String>,
}

impl Detail {
    /// The details of a record read from its document.
    pub fn of(record: &Record) -> Detail {
        match record {
            Record::Dispute(dispute) => Detail {
                description: dispute.description.clone(),
                parties: dispute
                    .parties
                    .iter()
                    .map(|p| (p.name.clone(), p.role))
                    .collect(),
                outcome: dispute
                    .timeline()
                    .iter()
                    .rev()
                    .find_map(|e| e.outcome.clone().filter(|o| !o.trim().is_empty())),
                ..Detail::default()
            },
            Record::Visit(visit) => Detail {
                notes: visit.notes.clone(),
                group: visit.group.clone(),
                ..Detail::default()
            },
        }
    }
}

/// The details of `summaries`, read from their stored documents on every
/// core. A document that cannot be read leaves its record without details
/// (the row still has everything its summary gives) and is logged.
pub fn details(
    storage: &dyn Storage,
    summaries: &[&Summary],
) -> Result<HashMap<DocumentId, Detail>, ReportError> {
    let read = |part: &[&Summary]| -> Result<Vec<(DocumentId, Detail)>, ReportError> {
        let mut out = Vec::with_capacity(part.len());
        for summary in part {
            let Some(stored) = storage.load_document(&summary.id)? else {
                continue;
            };
            let record = Automerge::load(&stored.concatenated())
                .map_err(|e| e.to_string())
                .and_then(|doc| Record::read(&doc).map_err(|e| e.to_string()));
            match record {
                Ok(record) => out.push((summary.id.clone(), Detail::of(&record))),
                Err(error) => {
                    tracing::warn!(id = %summary.id, %error, "exported without its details")
                }
            }
        }
        Ok(out)
    };
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(summaries.len() / 64)
        .max(1);
    if workers == 1 {
        return Ok(read(summaries)?.into_iter().collect());
    }
    std::thread::scope(|threads| {
        let running: Vec<_> = summaries
            .chunks(summaries.len().div_ceil(workers))
            .map(|part| threads.spawn(move || read(part)))
            .collect();
        let mut all = HashMap::with_capacity(summaries.len());
        for thread in running {
            match thread.join() {
                Ok(part) => all.extend(part?),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok(all)
    })
}

/// One cell, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    /// A whole number (counts, days).
    Count(i64),
    /// An instant, shown to the minute in China Standard Time.
    Time(Millis),
    /// A day, in China Standard Time.
    Day(Millis),
    Empty,
}

impl Cell {
    fn text(text: impl Into<String>) -> Cell {
        let text = text.into();
        if text.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(text)
        }
    }

    /// The cell as CSV (and people) read it.
    pub fn as_text(&self) -> String {
        match self {
            Cell::Text(text) => text.clone(),
            Cell::Count(n) => n.to_string(),
            Cell::Time(at) => format_minute(*at),
            Cell::Day(at) => format_day(*at),
            Cell::Empty => String::new(),
        }
    }
}

/// What one row is made from: the record and what the export knows.
pub struct Row<'a> {
    pub summary: &'a Summary,
    pub context: &'a Context<'a>,
}

impl Row<'_> {
    fn detail(&self) -> Option<&Detail> {
        self.context.details.get(&self.summary.id)
    }

    fn lang(&self) -> Lang {
        self.context.lang
    }

    /// A label in the export's language.
    fn label(&self, zh: &str, en: &str) -> Cell {
        Cell::text(self.lang().pick(zh, en))
    }

    fn person(&self, id: &str) -> Cell {
        Cell::text(self.person_name(id))
    }

    fn person_name(&self, id: &str) -> &str {
        match (self.context.people.name(id), self.lang()) {
            (Some(name), _) => name,
            (None, Lang::Zh) => self.context.people.shown(id),
            (None, Lang::En) => UNKNOWN_PERSON_EN,
        }
    }

    fn people(&self, ids: &[String]) -> Cell {
        Cell::text(
            ids.iter()
                .map(|id| self.person_name(id))
                .collect::<Vec<_>>()
                .join(self.lang().joiner()),
        )
    }

    /// Whole days from the report to `to`.
    fn days_to(&self, to: Millis) -> i64 {
        (i128::from(to) - i128::from(self.summary.created_at))
            .div_euclid(i128::from(MILLIS_PER_DAY))
            .clamp(0, i128::from(i64::MAX)) as i64
    }

    fn is_open(&self) -> bool {
        self.summary.status.unwrap_or(Status::Open).is_open()
    }

    /// Days the case has been open: until its resolution, or until now.
    fn days_open(&self) -> Cell {
        let until = match self.summary.resolved_at {
            Some(at) if !self.is_open() => at,
            _ => self.context.now,
        };
        Cell::Count(self.days_to(until))
    }

    /// Days beyond the time limit, for a case still open past it.
    fn days_overdue(&self) -> Cell {
        let limit = i64::from(self.context.overdue_days);
        let open = self.days_to(self.context.now);
        if self.is_open() && open > limit {
            Cell::Count(open - limit)
        } else {
            Cell::Empty
        }
    }
}

/// A column: its Chinese and English headers, how a row fills it and its
/// width.
pub struct Column {
    pub header: &'static str,
    pub header_en: &'static str,
    pub cell: fn(&Row<'_>) -> Cell,
    pub width: f64,
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

/// The worksheet's name of a kind in `lang`.
pub fn sheet_name(kind: RecordKind, lang: Lang) -> &'static str {
    match kind {
        RecordKind::Dispute => lang.pick("矛盾纠纷", "Disputes"),
        RecordKind::Visit => lang.pick("民情走访", "Household visits"),
    }
}

fn yes_no(row: &Row<'_>, value: bool) -> Cell {
    if value {
        row.label("是", "yes")
    } else {
        row.label("否", "no")
    }
}

fn village_name(row: &Row<'_>) -> Cell {
    Cell::text(
        row.context
            .places
            .villages
            .get(&row.summary.village)
            .cloned()
            .unwrap_or_else(|| row.summary.village.to_string()),
    )
}

fn town_name(row: &Row<'_>) -> Cell {
    let town = row.summary.village.town().to_string();
    Cell::text(row.context.places.towns.get(&town).cloned().unwrap_or(town))
}

fn status(summary: &Summary, lang: Lang) -> String {
    let status = summary.status.unwrap_or(Status::Open);
    match (status, summary.escalation_level, lang) {
        (Status::Escalated, Some(level), Lang::Zh) => {
            format!("{}（{}）", status.label_zh(), level.label_zh())
        }
        (Status::Escalated, Some(level), Lang::En) => {
            format!("{} ({})", status.label_en(), level.label_en())
        }
        (_, _, lang) => lang.pick(status.label_zh(), status.label_en()).to_owned(),
    }
}

fn parties(row: &Row<'_>) -> Cell {
    let lang = row.lang();
    match row.detail() {
        Some(detail) if !detail.parties.is_empty() => Cell::text(
            detail
                .parties
                .iter()
                .map(|(name, role)| match lang {
                    Lang::Zh => format!("{name}（{}）", role.label_zh()),
                    Lang::En => format!("{name} ({})", role.label_en()),
                })
                .collect::<Vec<_>>()
                .join(lang.joiner()),
        ),
        _ => Cell::text(row.summary.party_names.join(lang.joiner())),
    }
}

/// A visit's follow-up, in words.
fn follow_up_state(row: &Row<'_>) -> Cell {
    let s = row.summary;
    if !s.follow_up_needed {
        row.label("无需回访", "not needed")
    } else if s.follow_up_done {
        row.label("已回访", "done")
    } else if s.follow_up_due.is_some_and(|due| due < row.context.now) {
        row.label("逾期未回访", "overdue")
    } else {
        row.label("待回访", "owed")
    }
}

fn id_cell(id: Option<&DocumentId>) -> Cell {
    id.map_or(Cell::Empty, |id| Cell::Text(id.to_string()))
}

const DISPUTE_COLUMNS: &[Column] = &[
    Column {
        header: "编号",
        header_en: "ID",
        cell: |r| Cell::text(r.summary.id.to_string()),
        width: 26.0,
    },
    Column {
        header: "镇街",
        header_en: "Town",
        cell: town_name,
        width: 12.0,
    },
    Column {
        header: "村",
        header_en: "Village",
        cell: village_name,
        width: 12.0,
    },
    Column {
        header: "村代码",
        header_en: "Village code",
        cell: |r| Cell::text(r.summary.village.to_string()),
        width: 14.0,
    },
    Column {
        header: "标题",
        header_en: "Title",
        cell: |r| Cell::text(r.summary.title.clone()),
        width: 24.0,
    },
    Column {
        header: "案情",
        header_en: "Description",
        cell: |r| {
            Cell::text(
                r.detail()
                    .map(|d| d.description.clone())
                    .unwrap_or_default(),
            )
        },
        width: 40.0,
    },
    Column {
        header: "类别",
        header_en: "Category",
        cell: |r| {
            r.summary
                .category
                .map_or(Cell::Empty, |c| r.label(c.label_zh(), c.label_en()))
        },
        width: 12.0,
    },
    Column {
        header: "风险",
        header_en: "Risk",
        cell: |r| {
            r.summary.risk.map_or(Cell::Empty, |risk| {
                r.label(risk.label_zh(), risk.label_en())
            })
        },
        width: 8.0,
    },
    Column {
        header: "状态",
        header_en: "Status",
        cell: |r| Cell::text(status(r.summary, r.lang())),
        width: 14.0,
    },
    Column {
        header: "登记时间",
        header_en: "Reported",
        cell: |r| Cell::Time(r.summary.created_at),
        width: 17.0,
    },
    Column {
        header: "化解时间",
        header_en: "Resolved",
        cell: |r| r.summary.resolved_at.map_or(Cell::Empty, Cell::Time),
        width: 17.0,
    },
    Column {
        header: "已办天数",
        header_en: "Days open",
        cell: |r| r.days_open(),
        width: 9.0,
    },
    Column {
        header: "超期天数",
        header_en: "Days overdue",
        cell: |r| r.days_overdue(),
        width: 9.0,
    },
    Column {
        header: "当事人",
        header_en: "Parties",
        cell: parties,
        width: 28.0,
    },
    Column {
        header: "承办人",
        header_en: "Handlers",
        cell: |r| r.people(&r.summary.assignees),
        width: 14.0,
    },
    Column {
        header: "登记人",
        header_en: "Reported by",
        cell: |r| r.person(&r.summary.created_by),
        width: 12.0,
    },
    Column {
        header: "最高上报层级",
        header_en: "Highest escalation",
        cell: |r| {
            r.summary
                .max_escalation_level
                .map_or(Cell::Empty, |l| r.label(l.label_zh(), l.label_en()))
        },
        width: 12.0,
    },
    Column {
        header: "处理结果",
        header_en: "Outcome",
        cell: |r| {
            Cell::text(
                r.detail()
                    .and_then(|d| d.outcome.clone())
                    .unwrap_or_default(),
            )
        },
        width: 28.0,
    },
    Column {
        header: "最近活动",
        header_en: "Last activity",
        cell: |r| Cell::Time(r.summary.last_activity),
        width: 17.0,
    },
    Column {
        header: "事件数",
        header_en: "Events",
        cell: |r| Cell::Count(i64::from(r.summary.event_count)),
        width: 8.0,
    },
    Column {
        header: "重复于",
        header_en: "Duplicate of",
        cell: |r| id_cell(r.summary.duplicate_of.as_ref()),
        width: 26.0,
    },
];

const VISIT_COLUMNS: &[Column] = &[
    Column {
        header: "编号",
        header_en: "ID",
        cell: |r| Cell::text(r.summary.id.to_string()),
        width: 26.0,
    },
    Column {
        header: "镇街",
        header_en: "Town",
        cell: town_name,
        width: 12.0,
    },
    Column {
        header: "村",
        header_en: "Village",
        cell: village_name,
        width: 12.0,
    },
    Column {
        header: "村代码",
        header_en: "Village code",
        cell: |r| Cell::text(r.summary.village.to_string()),
        width: 14.0,
    },
    Column {
        header: "村民小组",
        header_en: "Villagers' group",
        cell: |r| Cell::text(r.detail().and_then(|d| d.group.clone()).unwrap_or_default()),
        width: 10.0,
    },
    Column {
        header: "走访对象",
        header_en: "Household",
        cell: |r| Cell::text(r.summary.title.clone()),
        width: 20.0,
    },
    Column {
        header: "走访时间",
        header_en: "Visited",
        cell: |r| r.summary.visited_at.map_or(Cell::Empty, Cell::Time),
        width: 17.0,
    },
    Column {
        header: "主题",
        header_en: "Topics",
        cell: |r| {
            Cell::text(
                r.summary
                    .topics
                    .iter()
                    .map(|t| r.lang().pick(t.label_zh(), t.label_en()))
                    .collect::<Vec<_>>()
                    .join(r.lang().joiner()),
            )
        },
        width: 16.0,
    },
    Column {
        header: "民情",
        header_en: "Sentiment",
        cell: |r| {
            r.summary
                .sentiment
                .map_or(Cell::Empty, |m| r.label(m.label_zh(), m.label_en()))
        },
        width: 8.0,
    },
    Column {
        header: "走访记录",
        header_en: "Notes",
        cell: |r| Cell::text(r.detail().map(|d| d.notes.clone()).unwrap_or_default()),
        width: 40.0,
    },
    Column {
        header: "需回访",
        header_en: "Follow-up needed",
        cell: |r| yes_no(r, r.summary.follow_up_needed),
        width: 8.0,
    },
    Column {
        header: "回访完成",
        header_en: "Follow-up done",
        cell: |r| yes_no(r, r.summary.follow_up_done),
        width: 8.0,
    },
    Column {
        header: "回访状态",
        header_en: "Follow-up",
        cell: follow_up_state,
        width: 11.0,
    },
    Column {
        header: "回访期限",
        header_en: "Follow-up due",
        cell: |r| r.summary.follow_up_due.map_or(Cell::Empty, Cell::Day),
        width: 12.0,
    },
    Column {
        header: "关联纠纷",
        header_en: "Linked dispute",
        cell: |r| id_cell(r.summary.linked_dispute.as_ref()),
        width: 26.0,
    },
    Column {
        header: "走访人",
        header_en: "Visited by",
        cell: |r| r.person(&r.summary.created_by),
        width: 12.0,
    },
    Column {
        header: "登记时间",
        header_en: "Reported",
        cell: |r| Cell::Time(r.summary.created_at),
        width: 17.0,
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
pub fn cells<'a>(
    columns: &'a [Column],
    summary: &'a Summary,
    context: &'a Context<'a>,
) -> impl Iterator<Item = Cell> + 'a {
    let row = Row { summary, context };
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
/// CSV (see the module documentation for the format).
pub fn write_csv<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    kind: RecordKind,
    context: &Context<'_>,
    out: &mut impl Write,
) -> Result<(), ReportError> {
    let columns = columns(kind);
    out.write_all("\u{feff}".as_bytes())?;
    write_line(
        out,
        columns
            .iter()
            .map(|c| context.lang.pick(c.header, c.header_en).to_owned()),
    )?;
    for summary in summaries.into_iter().filter(|s| s.kind == kind) {
        write_line(out, cells(columns, summary, context).map(|c| c.as_text()))?;
    }
    out.flush()?;
    Ok(())
}

/// The most rows one worksheet holds, header included.
pub const XLSX_MAX_ROWS: usize = 1_048_576;

/// Excel's serial date of an instant, in China Standard Time: days since
/// 1899-12-30, the time of day as the fraction.
pub fn excel_serial(at: Millis) -> f64 {
    let local = i128::from(at) + 8 * 3_600_000;
    local as f64 / MILLIS_PER_DAY as f64 + 25_569.0
}

/// The formats of typed cells, made once per workbook.
pub struct CellFormats {
    pub header: Format,
    pub time: Format,
    pub day: Format,
    pub count: Format,
    pub text: Format,
}

impl Default for CellFormats {
    fn default() -> Self {
        Self {
            header: Format::new().set_bold().set_background_color(0xE8EEF5),
            time: Format::new().set_num_format("yyyy-mm-dd hh:mm"),
            day: Format::new().set_num_format("yyyy-mm-dd"),
            count: Format::new().set_num_format("0"),
            text: Format::new(),
        }
    }
}

pub(crate) fn xlsx_failed(e: rust_xlsxwriter::XlsxError) -> ReportError {
    ReportError::Write(e.to_string())
}

/// Writes one typed cell.
pub fn write_cell(
    sheet: &mut Worksheet,
    row: u32,
    col: u16,
    cell: &Cell,
    formats: &CellFormats,
) -> Result<(), ReportError> {
    match cell {
        Cell::Text(text) => sheet
            .write_string_with_format(row, col, text, &formats.text)
            .map(|_| ()),
        Cell::Count(n) => sheet
            .write_number_with_format(row, col, *n as f64, &formats.count)
            .map(|_| ()),
        Cell::Time(at) => sheet
            .write_number_with_format(row, col, excel_serial(*at), &formats.time)
            .map(|_| ()),
        Cell::Day(at) => {
            let serial = excel_serial(*at).floor();
            sheet
                .write_number_with_format(row, col, serial, &formats.day)
                .map(|_| ())
        }
        Cell::Empty => Ok(()),
    }
    .map_err(xlsx_failed)
}

/// Writes a header row and table rows on `sheet`: bold frozen header,
/// autofilter over the table, column widths.
pub fn write_table(
    sheet: &mut Worksheet,
    headers: &[(&str, f64)],
    rows: impl IntoIterator<Item = Vec<Cell>>,
    formats: &CellFormats,
) -> Result<(), ReportError> {
    for (col, (header, width)) in headers.iter().enumerate() {
        sheet
            .write_string_with_format(0, col as u16, *header, &formats.header)
            .map_err(xlsx_failed)?;
        sheet
            .set_column_width(col as u16, *width)
            .map_err(xlsx_failed)?;
    }
    let mut last = 0usize;
    for cells in rows {
        last += 1;
        if last >= XLSX_MAX_ROWS {
            return Err(ReportError::Write(format!(
                "more than {} records do not fit in one worksheet; export a narrower scope or \
                 period, or use CSV",
                XLSX_MAX_ROWS - 1
            )));
        }
        for (col, cell) in cells.iter().enumerate() {
            write_cell(sheet, last as u32, col as u16, cell, formats)?;
        }
    }
    sheet.set_freeze_panes(1, 0).map_err(xlsx_failed)?;
    if !headers.is_empty() {
        sheet
            .autofilter(0, 0, last as u32, (headers.len() - 1) as u16)
            .map_err(xlsx_failed)?;
    }
    Ok(())
}

/// Writes the records of `kind` among `summaries`, in the order given, as an
/// XLSX workbook of one worksheet (see the module documentation).
pub fn write_xlsx<'a>(
    summaries: impl IntoIterator<Item = &'a Summary>,
    kind: RecordKind,
    context: &Context<'_>,
    out: &mut impl Write,
) -> Result<(), ReportError> {
    let columns = columns(kind);
    let mut workbook = Workbook::new();
    let formats = CellFormats::default();
    let sheet = workbook.add_worksheet();
    sheet
        .set_name(sheet_name(kind, context.lang))
        .map_err(xlsx_failed)?;
    let headers: Vec<(&str, f64)> = columns
        .iter()
        .map(|c| (context.lang.pick(c.header, c.header_en), c.width))
        .collect();
    write_table(
        sheet,
        &headers,
        summaries
            .into_iter()
            .filter(|s| s.kind == kind)
            .map(|summary| cells(columns, summary, context).collect()),
        &formats,
    )?;
    let bytes = workbook.save_to_buffer().map_err(xlsx_failed)?;
    out.write_all(&bytes)?;
    out.flush()?;
    Ok(())
}

/// A file name for a download: the Chinese name with the place and the
/// period, and a plain ASCII one for old clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName {
    pub chinese: String,
    pub ascii: String,
}

impl FileName {
    /// `{what}_{place}_{period}.{ext}` and `{what_en}-{code}-{period}.{ext}`;
    /// the period is `2026-10-01至2026-10-31` (its last day included),
    /// `截至2026-12-06` when it has no start, and so on.
    pub fn new(
        what: (&str, &str),
        place: (&str, &str),
        period: &Period,
        now: Millis,
        extension: &str,
    ) -> Self {
        let last_day = |to: Millis| format_day(to.saturating_sub(1));
        let (zh, en) = match (period.from, period.to) {
            (Some(from), Some(to)) => (
                format!("{}至{}", format_day(from), last_day(to)),
                format!("{}-{}", compact(&format_day(from)), compact(&last_day(to))),
            ),
            (Some(from), None) => (
                format!("{}起至{}", format_day(from), format_day(now)),
                format!(
                    "{}-{}",
                    compact(&format_day(from)),
                    compact(&format_day(now))
                ),
            ),
            (None, Some(to)) => (
                format!("截至{}", last_day(to)),
                format!("to-{}", compact(&last_day(to))),
            ),
            (None, None) => (
                format!("截至{}", format_day(now)),
                format!("to-{}", compact(&format_day(now))),
            ),
        };
        let clean = |text: &str| -> String {
            text.chars()
                .map(|c| {
                    if c.is_control() || "/\\:*?\"<>|".contains(c) {
                        '_'
                    } else {
                        c
                    }
                })
                .collect()
        };
        Self {
            chinese: clean(&format!("{}_{}_{zh}.{extension}", what.0, place.0)),
            ascii: format!("{}-{}-{en}.{extension}", what.1, place.1)
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                .collect(),
        }
    }

    /// The `Content-Disposition` of an attachment with this name (RFC 6266,
    /// with the Chinese name in RFC 5987 `filename*`).
    pub fn content_disposition(&self) -> String {
        let mut encoded = String::new();
        for byte in self.chinese.bytes() {
            if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
                encoded.push(byte as char);
            } else {
                encoded.push_str(&format!("%{byte:02X}"));
            }
        }
        format!(
            "attachment; filename=\"{}\"; filename*=UTF-8''{encoded}",
            self.ascii
        )
    }
}

fn compact(day: &str) -> String {
    day.replace('-', "")
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
        let headers = |kind| columns(kind).iter().map(|c| c.header).collect::<Vec<_>>();
        for wanted in [
            "案情",
            "处理结果",
            "当事人",
            "承办人",
            "镇街",
            "已办天数",
            "超期天数",
        ] {
            assert!(headers(RecordKind::Dispute).contains(&wanted), "{wanted}");
        }
        for wanted in ["走访记录", "村民小组", "回访状态"] {
            assert!(headers(RecordKind::Visit).contains(&wanted), "{wanted}");
        }
    }

    #[test]
    fn serial_dates_are_days_since_1899_in_china_standard_time() {
        // 2026-09-21 00:00 in UTC+8 is serial 46286.
        assert_eq!(excel_serial(1_789_920_000_000), 46_286.0);
        assert_eq!(excel_serial(1_789_920_000_000 + 6 * 3_600_000), 46_286.25);
    }

    #[test]
    fn file_names_carry_the_place_and_the_period() {
        let october = Period {
            from: Some(1_790_784_000_000),
            to: Some(1_793_462_400_000),
        };
        let name = FileName::new(
            ("矛盾纠纷", "disputes"),
            ("枫桥镇", "330681107"),
            &october,
            0,
            "xlsx",
        );
        assert_eq!(name.chinese, "矛盾纠纷_枫桥镇_2026-10-01至2026-10-31.xlsx");
        assert_eq!(name.ascii, "disputes-330681107-20261001-20261031.xlsx");
        let header = name.content_disposition();
        assert!(header.starts_with("attachment; filename=\"disputes-330681107-"));
        assert!(header.contains("filename*=UTF-8''%E7%9F%9B"), "{header}");
        // A name with a slash or quote is made safe.
        let odd = FileName::new(("月报", "report"), ("a/b\"c", "x"), &Period::ALL, 0, "xlsx");
        assert!(!odd.chinese.contains('/') && !odd.chinese.contains('"'));
    }
}
