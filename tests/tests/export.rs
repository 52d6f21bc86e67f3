//! CSV and XLSX exports read back: a UTF-8 CSV with a byte order mark and
//! Chinese headers, an XLSX workbook with the same cells — typed: times and
//! days are dates, counts are numbers, with an autofilter and a frozen
//! header — one row per record of the scope and period, texts quoted and
//! formulas defused, people by name; file names carry the place and the
//! period; and a small town whose rows, labels included, are written out by
//! hand. The monthly report's workbook holds the API's figures.

mod township;

use std::io::{Cursor, Read};

use calamine::{Data, Reader, Xlsx, open_workbook_from_rs};
use fengqiao_protocol::VillageCode;
use fengqiao_shared::record::{NewDispute, Party, Record, create_dispute};
use fengqiao_shared::stats::calendar::{civil_from_days, local_day};
use fengqiao_shared::vocab::{Category, PartyRole, RecordKind, Risk, Status};
use fengqiao_shared::{Millis, Summary};
use fengqiao_tests::{DAY, Phone, T0, TestServer};
use serde_json::Value;
use township::{
    Auth, Officials, TOWN_1, VILLAGE_A, get, get_bytes, observer, populate, summaries_in,
};

const DISPUTE_HEADERS: &[&str] = &[
    "编号",
    "镇街",
    "村",
    "村代码",
    "标题",
    "案情",
    "类别",
    "风险",
    "状态",
    "登记时间",
    "化解时间",
    "已办天数",
    "超期天数",
    "当事人",
    "承办人",
    "登记人",
    "最高上报层级",
    "处理结果",
    "最近活动",
    "事件数",
    "重复于",
];

const VISIT_HEADERS: &[&str] = &[
    "编号",
    "镇街",
    "村",
    "村代码",
    "村民小组",
    "走访对象",
    "走访时间",
    "主题",
    "民情",
    "走访记录",
    "需回访",
    "回访完成",
    "回访状态",
    "回访期限",
    "关联纠纷",
    "走访人",
    "登记时间",
];

/// Columns written as dates (to the minute) and as days.
const TIMES: &[&str] = &["登记时间", "化解时间", "最近活动", "走访时间"];
const DAYS: &[&str] = &["回访期限"];
/// Columns written as numbers.
const COUNTS: &[&str] = &["已办天数", "超期天数", "事件数"];

/// Reads RFC 4180 CSV: quoted fields may hold commas, quotes and line breaks.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && row.is_empty(),
        "the file ends with a line end"
    );
    rows
}

/// `2026-09-21 08:30` in China Standard Time, computed independently of the
/// server's formatting.
fn cst(at: i64) -> String {
    let (y, m, d) = civil_from_days(local_day(at, 480));
    let minutes = (at + 8 * 3_600_000).rem_euclid(DAY) / 60_000;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        minutes / 60,
        minutes % 60
    )
}

fn town_name(village: &VillageCode) -> String {
    format!("第{}镇", &village.as_str()[6..9])
}

fn village_name(village: &VillageCode) -> String {
    let code = village.as_str();
    let town: u32 = code[6..9].parse().unwrap();
    let number: u32 = code[9..12].parse().unwrap();
    format!("第{town}镇{number}村")
}

/// Who the export says a person is: the name the directory has for them.
struct People(Vec<(&'static str, &'static str)>);

impl People {
    fn name(&self, id: &str) -> String {
        self.0
            .iter()
            .find(|(known, _)| *known == id)
            .map_or("未登记人员", |(_, name)| name)
            .to_owned()
    }
}

/// Whole days from `from` to `to`.
fn whole_days(from: Millis, to: Millis) -> i64 {
    (to - from).div_euclid(DAY).max(0)
}

/// A dispute's row, from its summary and its document (read on a phone
/// that synced it), as of `as_of` with a 30-day limit.
fn dispute_row(s: &Summary, record: &Record, people: &People, as_of: Millis) -> Vec<String> {
    let Record::Dispute(dispute) = record else {
        panic!("{} is a dispute", s.id);
    };
    let status = s.status.unwrap_or(Status::Open);
    let open = status != Status::Resolved;
    let shown_status = match (status, s.escalation_level) {
        (Status::Escalated, Some(level)) => {
            format!("{}（{}）", status.label_zh(), level.label_zh())
        }
        _ => status.label_zh().to_owned(),
    };
    let days_open = whole_days(
        s.created_at,
        if open {
            as_of
        } else {
            s.resolved_at.unwrap_or(as_of)
        },
    );
    let outcome = dispute
        .timeline()
        .iter()
        .rev()
        .find_map(|e| e.outcome.clone().filter(|o| !o.trim().is_empty()))
        .unwrap_or_default();
    vec![
        s.id.to_string(),
        town_name(&s.village),
        village_name(&s.village),
        s.village.to_string(),
        s.title.clone(),
        dispute.description.clone(),
        s.category.map(|c| c.label_zh()).unwrap_or("").to_owned(),
        s.risk.map(|r| r.label_zh()).unwrap_or("").to_owned(),
        shown_status,
        cst(s.created_at),
        s.resolved_at.map(cst).unwrap_or_default(),
        days_open.to_string(),
        if open && days_open > 30 {
            (days_open - 30).to_string()
        } else {
            String::new()
        },
        dispute
            .parties
            .iter()
            .map(|p| format!("{}（{}）", p.name, p.role.label_zh()))
            .collect::<Vec<_>>()
            .join("、"),
        s.assignees
            .iter()
            .map(|a| people.name(a))
            .collect::<Vec<_>>()
            .join("、"),
        people.name(&s.created_by),
        s.max_escalation_level
            .map(|l| l.label_zh())
            .unwrap_or("")
            .to_owned(),
        outcome,
        cst(s.last_activity),
        s.event_count.to_string(),
        s.duplicate_of
            .as_ref()
            .map(|d| d.to_string())
            .unwrap_or_default(),
    ]
}

fn yes_no(value: bool) -> String {
    if value { "是" } else { "否" }.to_owned()
}

fn visit_row(s: &Summary, record: &Record, people: &People, as_of: Millis) -> Vec<String> {
    let Record::Visit(visit) = record else {
        panic!("{} is a visit", s.id);
    };
    let state = if !s.follow_up_needed {
        "无需回访"
    } else if s.follow_up_done {
        "已回访"
    } else if s.follow_up_due.is_some_and(|due| due < as_of) {
        "逾期未回访"
    } else {
        "待回访"
    };
    vec![
        s.id.to_string(),
        town_name(&s.village),
        village_name(&s.village),
        s.village.to_string(),
        visit.group.clone().unwrap_or_default(),
        s.title.clone(),
        s.visited_at.map(cst).unwrap_or_default(),
        s.topics
            .iter()
            .map(|t| t.label_zh())
            .collect::<Vec<_>>()
            .join("、"),
        s.sentiment.map(|m| m.label_zh()).unwrap_or("").to_owned(),
        visit.notes.clone(),
        yes_no(s.follow_up_needed),
        yes_no(s.follow_up_done),
        state.to_owned(),
        s.follow_up_due
            .map(|due| cst(due)[..10].to_owned())
            .unwrap_or_default(),
        s.linked_dispute
            .as_ref()
            .map(|d| d.to_string())
            .unwrap_or_default(),
        people.name(&s.created_by),
        cst(s.created_at),
    ]
}

/// The rows an export of `kind` should hold, in its order: by village, then
/// time, then id.
fn expected_rows(
    phone: &Phone,
    summaries: &[Summary],
    kind: RecordKind,
    period: std::ops::Range<i64>,
    people: &People,
    as_of: Millis,
) -> Vec<Vec<String>> {
    let time = |s: &Summary| match s.kind {
        RecordKind::Dispute => s.created_at,
        RecordKind::Visit => s.visited_at.unwrap_or(s.created_at),
    };
    let mut chosen: Vec<&Summary> = summaries
        .iter()
        .filter(|s| s.kind == kind && period.contains(&time(s)))
        .collect();
    chosen.sort_by(|a, b| (&a.village, time(a), &a.id).cmp(&(&b.village, time(b), &b.id)));
    chosen
        .into_iter()
        .map(|s| {
            let record = phone.replica.record(&s.id).expect("the phone holds it");
            match kind {
                RecordKind::Dispute => dispute_row(s, &record, people, as_of),
                RecordKind::Visit => visit_row(s, &record, people, as_of),
            }
        })
        .collect()
}

/// A download's body and the file name its Content-Disposition gives in
/// `filename*` (decoded).
fn download(server: &TestServer, token: &str, path: &str, content_type: &str) -> Vec<u8> {
    download_named(server, token, path, content_type).0
}

fn download_named(
    server: &TestServer,
    token: &str,
    path: &str,
    content_type: &str,
) -> (Vec<u8>, String) {
    let (status, bytes, headers) = get_bytes(server, path, Auth::Bearer(token));
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&bytes));
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(header("content-type"), content_type, "{path}");
    let disposition = header("content-disposition");
    assert!(
        disposition.starts_with("attachment; filename=\""),
        "{disposition}"
    );
    let extension = path.split('?').next().unwrap().rsplit('.').next().unwrap();
    let (plain, extended) = disposition
        .split_once("; filename*=UTF-8''")
        .expect("an RFC 5987 file name");
    assert!(plain.ends_with(&format!(".{extension}\"")), "{disposition}");
    assert!(plain.is_ascii(), "{disposition}");
    let mut decoded = Vec::new();
    let mut bytes_in = extended.bytes();
    while let Some(b) = bytes_in.next() {
        if b == b'%' {
            let hex: String = [bytes_in.next().unwrap(), bytes_in.next().unwrap()]
                .iter()
                .map(|&c| c as char)
                .collect();
            decoded.push(u8::from_str_radix(&hex, 16).expect("hex"));
        } else {
            decoded.push(b);
        }
    }
    let name = String::from_utf8(decoded).expect("UTF-8");
    assert!(name.ends_with(&format!(".{extension}")), "{name}");
    (bytes, name)
}

fn read_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    assert_eq!(
        &bytes[..3],
        b"\xEF\xBB\xBF",
        "the CSV starts with a UTF-8 byte order mark"
    );
    let text = std::str::from_utf8(&bytes[3..]).expect("UTF-8");
    parse_csv(text)
}

/// The cells of one worksheet, typed as calamine reads them.
fn read_sheet(bytes: &[u8], sheet: &str) -> Vec<Vec<Data>> {
    let mut workbook: Xlsx<_> =
        open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("an XLSX workbook");
    let range = workbook.worksheet_range(sheet).expect("the sheet");
    let width = range.width();
    range
        .rows()
        .map(|row| {
            (0..width)
                .map(|i| row.get(i).cloned().unwrap_or(Data::Empty))
                .collect()
        })
        .collect()
}

/// An Excel serial date as the instant it stands for (China Standard Time),
/// to the millisecond.
fn from_serial(serial: f64) -> Millis {
    let local = ((serial - 25_569.0) * DAY as f64).round() as i64;
    local - 8 * 3_600_000
}

/// Reads an exported worksheet back: checks every cell has the type of its
/// column — dates for times and days, numbers for counts, strings for the
/// rest — and returns the cells as the CSV writes them.
fn read_xlsx(bytes: Vec<u8>, sheet: &str) -> Vec<Vec<String>> {
    read_xlsx_typed(bytes, sheet, TIMES, DAYS, COUNTS)
}

/// [`read_xlsx`] with the columns of each type named.
fn read_xlsx_typed(
    bytes: Vec<u8>,
    sheet: &str,
    times: &[&str],
    days: &[&str],
    counts: &[&str],
) -> Vec<Vec<String>> {
    let workbook: Xlsx<_> =
        open_workbook_from_rs(Cursor::new(bytes.clone())).expect("an XLSX workbook");
    assert_eq!(workbook.sheet_names(), vec![sheet.to_owned()]);
    let rows = read_sheet(&bytes, sheet);
    let headers: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
    let mut out = vec![headers.clone()];
    for row in &rows[1..] {
        let mut cells = Vec::new();
        for (header, cell) in headers.iter().zip(row) {
            let header = header.as_str();
            let text = match cell {
                Data::Empty => String::new(),
                Data::DateTime(date) if times.contains(&header) => cst(from_serial(date.as_f64())),
                Data::DateTime(date) if days.contains(&header) => {
                    cst(from_serial(date.as_f64()))[..10].to_owned()
                }
                Data::Float(n) if counts.contains(&header) => {
                    assert_eq!(n.fract(), 0.0, "{header}: a whole number");
                    format!("{n:.0}")
                }
                Data::String(text)
                    if !times.contains(&header)
                        && !days.contains(&header)
                        && !counts.contains(&header) =>
                {
                    text.clone()
                }
                other => panic!("{header}: {other:?} is not of the column's type"),
            };
            cells.push(text);
        }
        out.push(cells);
    }
    out
}

/// The XML of one part of an XLSX file (a ZIP archive), found through the
/// archive's central directory: stored or deflated.
fn xlsx_part(bytes: &[u8], name: &str) -> String {
    let word = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let long = |at: usize| {
        u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
    };
    let end = (0..bytes.len() - 21)
        .rev()
        .find(|&at| bytes[at..at + 4] == *b"PK\x05\x06")
        .expect("an end of central directory");
    let (entries, mut at) = (word(end + 10), long(end + 16));
    for _ in 0..entries {
        assert_eq!(
            &bytes[at..at + 4],
            b"PK\x01\x02",
            "a central directory entry"
        );
        let (method, size) = (word(at + 10), long(at + 20));
        let (name_len, extra_len, comment_len) = (word(at + 28), word(at + 30), word(at + 32));
        let local = long(at + 42);
        if &bytes[at + 46..at + 46 + name_len] == name.as_bytes() {
            let data = local + 30 + word(local + 26) + word(local + 28);
            let raw = &bytes[data..data + size];
            return match method {
                0 => String::from_utf8(raw.to_vec()).expect("UTF-8"),
                8 => {
                    let mut text = String::new();
                    flate2::read::DeflateDecoder::new(raw)
                        .read_to_string(&mut text)
                        .expect("inflates");
                    text
                }
                other => panic!("compression method {other}"),
            };
        }
        at += 46 + name_len + extra_len + comment_len;
    }
    panic!("no {name} in the workbook")
}

/// The sheet has an autofilter over its table and a frozen header row.
fn assert_filtered_and_frozen(bytes: &[u8], part: &str) {
    let xml = xlsx_part(bytes, part);
    assert!(
        xml.contains("<autoFilter ref=\"A1:"),
        "{part}: no autofilter"
    );
    assert!(
        xml.contains("ySplit=\"1\"") && xml.contains("state=\"frozen\""),
        "{part}: the header row is not frozen"
    );
}

const CSV: &str = "text/csv; charset=utf-8";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// 2026-09-25 00:00 China Standard Time: the exports' "as of".
const AS_OF: Millis = 1_790_265_600_000;

#[test]
fn csv_and_xlsx_exports_read_back_to_the_records() {
    let server = TestServer::start();
    populate(&server, 25);
    let officials = Officials::enroll(&server);
    // The cadre of village A is known by name; the others are not.
    server
        .directory()
        .add_person(&format!("cadre-{VILLAGE_A}"), "何晓东", None)
        .expect("a person");
    let people = People(vec![("cadre-500110101001", "何晓东")]);
    // Texts that need quoting, and one a spreadsheet would take for a formula.
    let mut phone = Phone::new("cadre-quotes");
    let tricky = [
        "他说\"还钱\",否则起诉",
        "两行标题\n第二行",
        "=HYPERLINK(\"http://example.invalid\")",
    ];
    for (n, title) in tricky.iter().enumerate() {
        let dispute = NewDispute {
            village: VillageCode::new(VILLAGE_A).unwrap(),
            title: (*title).to_owned(),
            description: "欠款, \"三万元\"".to_owned(),
            category: Category::Debt,
            risk: Risk::Medium,
            parties: vec![Party::new("钱, 多多", PartyRole::Applicant)],
            assignees: vec![],
        };
        let author = phone.author(T0 - n as i64 * DAY);
        phone
            .replica
            .create(|doc| create_dispute(doc, &author, &dispute))
            .unwrap();
    }
    phone.sync(&server.url());
    let observer = observer(&server);
    let summaries = summaries_in(&observer, TOWN_1);
    let token = &officials.town_1;
    let everything = i64::MIN..i64::MAX;

    // Disputes as CSV.
    let (bytes, name) = download_named(
        &server,
        token,
        &format!("/v1/export/disputes.csv?asOf={AS_OF}"),
        CSV,
    );
    assert_eq!(name, "矛盾纠纷_第101镇_截至2026-09-25.csv");
    let rows = read_csv(&bytes);
    assert_eq!(rows[0], DISPUTE_HEADERS);
    let plain = expected_rows(
        &observer,
        &summaries,
        RecordKind::Dispute,
        everything.clone(),
        &people,
        AS_OF,
    );
    let mut expected = plain.clone();
    // The formula is defused in CSV with a leading apostrophe.
    for row in &mut expected {
        if row[4].starts_with('=') {
            row[4] = format!("'{}", row[4]);
        }
    }
    assert!(expected.len() > 50);
    assert_eq!(rows[1..], expected[..]);
    for title in &tricky[..2] {
        assert!(
            rows.iter().any(|row| row[4] == *title),
            "{title} survives quoting"
        );
    }
    assert!(rows.iter().any(|row| row[4].starts_with("'=HYPERLINK")));
    // Details from the documents, people by name, never by id.
    assert!(
        rows.iter()
            .any(|row| row[5] == "欠款, \"三万元\"" && row[13] == "钱, 多多（申请人）")
    );
    assert!(rows.iter().any(|row| row[14] == "何晓东"));
    assert!(rows.iter().any(|row| row[15] == "未登记人员"));
    assert!(!rows.iter().flatten().any(|cell| cell.starts_with("cadre-")));
    assert!(
        rows.iter().any(|row| !row[12].is_empty()),
        "some cases are overdue"
    );

    // The same disputes as XLSX: the same cells, typed, filtered and frozen.
    let (bytes, name) = download_named(
        &server,
        token,
        &format!("/v1/export/disputes.xlsx?asOf={AS_OF}&from=2026-01-01&to=2026-12-31"),
        XLSX,
    );
    assert_eq!(name, "矛盾纠纷_第101镇_2026-01-01至2026-12-31.xlsx");
    assert_filtered_and_frozen(&bytes, "xl/worksheets/sheet1.xml");
    let typed = read_sheet(&bytes, "矛盾纠纷");
    assert!(
        matches!(typed[1][9], Data::DateTime(_)),
        "{:?}",
        typed[1][9]
    );
    assert!(matches!(typed[1][11], Data::Float(_)), "{:?}", typed[1][11]);
    let sheet = read_xlsx(bytes, "矛盾纠纷");
    assert_eq!(sheet[0], DISPUTE_HEADERS);
    assert_eq!(sheet[1..], plain[..]);
    assert!(
        sheet.iter().any(|row| row[4].starts_with("=HYPERLINK")),
        "kept as text, not a formula"
    );

    // Visits, both formats.
    let rows = read_csv(&download(
        &server,
        token,
        &format!("/v1/export/visits.csv?asOf={AS_OF}"),
        CSV,
    ));
    assert_eq!(rows[0], VISIT_HEADERS);
    let expected = expected_rows(
        &observer,
        &summaries,
        RecordKind::Visit,
        everything,
        &people,
        AS_OF,
    );
    assert!(expected.len() > 20);
    assert_eq!(rows[1..], expected[..]);
    assert!(rows.iter().any(|row| row[10] == "是") && rows.iter().any(|row| row[10] == "否"));
    for state in ["无需回访", "已回访"] {
        assert!(rows.iter().any(|row| row[12] == state), "{state}");
    }
    let bytes = download(
        &server,
        token,
        &format!("/v1/export/visits.xlsx?asOf={AS_OF}"),
        XLSX,
    );
    assert_filtered_and_frozen(&bytes, "xl/worksheets/sheet1.xml");
    let sheet = read_xlsx(bytes, "民情走访");
    assert_eq!(sheet[0], VISIT_HEADERS);
    assert_eq!(sheet[1..], expected[..]);

    // A period and a narrower scope: 2026-06-01 to 2026-08-31 in UTC+8,
    // village A only.
    let (june_1, sept_1) = (1_780_243_200_000, 1_788_192_000_000);
    let village: Vec<Summary> = summaries
        .iter()
        .filter(|s| s.village.as_str() == VILLAGE_A)
        .cloned()
        .collect();
    let path = format!(
        "/v1/export/disputes.csv?scope=500110101001&from=2026-06-01&to=2026-08-31&asOf={AS_OF}"
    );
    let (bytes, name) = download_named(&server, token, &path, CSV);
    assert_eq!(name, "矛盾纠纷_第101镇1村_2026-06-01至2026-08-31.csv");
    let rows = read_csv(&bytes);
    let expected = expected_rows(
        &observer,
        &village,
        RecordKind::Dispute,
        june_1..sept_1,
        &people,
        AS_OF,
    );
    assert!(!expected.is_empty());
    assert_eq!(rows[1..], expected[..]);
    // An empty selection is a header alone.
    let rows = read_csv(&download(
        &server,
        token,
        "/v1/export/visits.csv?from=2030-01-01",
        CSV,
    ));
    assert_eq!(
        rows,
        vec![
            VISIT_HEADERS
                .iter()
                .map(|h| h.to_string())
                .collect::<Vec<_>>()
        ]
    );

    // A cadre exports their own village, and nothing wider.
    let rows = read_csv(&download(
        &server,
        &officials.cadre_a,
        "/v1/export/disputes.csv",
        CSV,
    ));
    assert_eq!(
        rows.len() - 1,
        village
            .iter()
            .filter(|s| s.kind == RecordKind::Dispute)
            .count()
    );
    let (status, _, _) = get_bytes(
        &server,
        "/v1/export/disputes.csv?scope=500110101",
        Auth::Bearer(&officials.cadre_a),
    );
    assert_eq!(status, 403);
}

/// The monthly report as a workbook: its figures are the API's for the same
/// scope and month, typed, and its lists say how long each case is overdue.
#[test]
fn the_monthly_report_workbook_holds_the_api_figures() {
    let server = TestServer::start();
    populate(&server, 25);
    let officials = Officials::enroll(&server);
    let token = &officials.town_1;
    let as_of = AS_OF;
    let ask = |path: &str| {
        let (status, answer) = get(&server, path, Auth::Bearer(token));
        assert_eq!(status, 200, "{path}: {answer}");
        answer
    };
    let summary = ask(&format!(
        "/v1/stats/summary?from=2026-08-01&to=2026-08-31&asOf={as_of}"
    ));
    let report = ask(&format!("/v1/report/monthly?month=2026-08&asOf={as_of}"));
    let totals = &summary["disputes"]["totals"];
    assert!(totals["received"].as_u64().unwrap() > 0);
    assert_eq!(
        &report["totals"], totals,
        "the report's figures are the API's"
    );
    let villages = ask(&format!(
        "/v1/stats/by-village?from=2026-08-01&to=2026-08-31&asOf={as_of}"
    ));
    let rows: Vec<&Value> = report["rows"].as_array().unwrap().iter().collect();
    let api_rows = villages["rows"].as_array().unwrap();
    assert_eq!(rows.len(), api_rows.len());
    for (row, api) in rows.iter().zip(api_rows) {
        assert_eq!(row["code"], api["village"]);
        assert_eq!(row["disputes"], api["disputes"]);
        assert_eq!(row["overdue"], api["overdue"]);
    }
    assert_eq!(
        report["overdue"]["count"],
        summary["disputes"]["overdue"]["count"]
    );
    let compare = ask(&format!(
        "/v1/stats/compare?from=2026-08-01&to=2026-08-31&asOf={as_of}"
    ));
    assert_eq!(report["comparison"]["changes"], compare["changes"]);
    assert_eq!(
        report["comparison"]["previous"],
        ask(&format!(
            "/v1/stats/summary?from=2026-07-01&to=2026-07-31&asOf={as_of}"
        ))["disputes"]["totals"]
    );

    let (bytes, name) = download_named(
        &server,
        token,
        &format!("/v1/report/monthly.xlsx?month=2026-08&asOf={as_of}"),
        XLSX,
    );
    assert_eq!(name, "月报_第101镇_2026-08-01至2026-08-31.xlsx");
    let sheet = read_sheet(&bytes, "汇总");
    let figure = |label: &str| -> Data {
        sheet
            .iter()
            .find(|row| row[0] == Data::String(label.to_owned()))
            .map(|row| row[1].clone())
            .unwrap_or_else(|| panic!("no row {label}"))
    };
    let count = |field: &str| Data::Float(totals[field].as_f64().unwrap());
    assert_eq!(figure("受理纠纷"), count("received"));
    assert_eq!(figure("已化解"), count("resolved"));
    assert_eq!(figure("仍在办理"), count("stillOpen"));
    assert_eq!(figure("调解失败"), count("failedInTownship"));
    assert_eq!(figure("上报镇外"), count("escalatedBeyondTownship"));
    assert_eq!(
        figure("基层化解率"),
        Data::String(format!(
            "{:.1}%",
            totals["grassrootsRate"].as_f64().unwrap() * 100.0
        ))
    );
    assert_eq!(
        figure("超期未结"),
        Data::Float(report["overdue"]["count"].as_f64().unwrap())
    );
    let places = read_sheet(&bytes, "分村情况");
    assert_eq!(places.len() - 1, rows.len());
    for (row, api) in places[1..].iter().zip(api_rows) {
        assert_eq!(
            row[1],
            Data::String(api["village"].as_str().unwrap().to_owned())
        );
        assert_eq!(
            row[2],
            Data::Float(api["disputes"]["received"].as_f64().unwrap())
        );
    }
    let overdue = read_sheet(&bytes, "超期未结");
    assert_eq!(overdue[0][8], Data::String("超期天数".to_owned()));
    assert_eq!(
        overdue.len() - 1,
        report["overdue"]["items"].as_array().unwrap().len()
    );
    for (row, item) in overdue[1..]
        .iter()
        .zip(report["overdue"]["items"].as_array().unwrap())
    {
        assert_eq!(
            row[0],
            Data::String(item["id"].as_str().unwrap().to_owned())
        );
        assert!(matches!(row[6], Data::DateTime(_)), "{:?}", row[6]);
        assert_eq!(row[8], Data::Float(item["daysOverdue"].as_f64().unwrap()));
        assert!(item["daysOverdue"].as_i64().unwrap() > 0);
    }
    assert_filtered_and_frozen(&bytes, "xl/worksheets/sheet2.xml");
}

/// Three disputes and a visit of town 500110101, and the rows they must
/// export to, written out by hand (labels included), in both formats.
#[test]
fn a_hand_written_town_exports_to_hand_written_rows() {
    use std::collections::BTreeSet;

    use fengqiao_shared::record::{NewEvent, NewVisit, add_event, create_visit};
    use fengqiao_shared::vocab::{EventKind, Level, Sentiment, Topic};

    /// 2025-03-01 09:00 China Standard Time.
    const MARCH_1: i64 = 1_740_790_800_000;
    let server = TestServer::start();
    server
        .directory()
        .add_person("cadre-hand", "何晓东", None)
        .expect("a person");
    let mut phone = Phone::new("cadre-hand");
    let dispute = |village: &str, title: &str, category: Category, risk: Risk, day: i64| {
        let dispute = NewDispute {
            village: VillageCode::new(&format!("500110101{village}")).unwrap(),
            title: title.to_owned(),
            description: format!("{title}，双方各执一词。"),
            category,
            risk,
            parties: vec![
                Party::new("钟国平", PartyRole::Applicant),
                Party::new("楼秀英", PartyRole::Respondent),
            ],
            assignees: vec!["cadre-hand".to_owned(), "cadre-gone".to_owned()],
        };
        let author = phone.author(MARCH_1 + day * DAY);
        phone
            .replica
            .create(|doc| create_dispute(doc, &author, &dispute))
            .unwrap()
    };
    let land = dispute("001", "宅基地边界纠纷", Category::Land, Risk::High, 0);
    let wages = dispute(
        "002",
        "拖欠工资, \"年底结清\"",
        Category::Labor,
        Risk::Low,
        1,
    );
    let loan = dispute("002", "=SUM(A1:A2)", Category::Debt, Risk::Medium, 2);
    let event = |id, event: NewEvent, day: i64| {
        let author = phone.author(MARCH_1 + day * DAY + 3_600_000);
        phone
            .replica
            .edit(id, |doc| add_event(doc, &author, &event))
            .unwrap();
    };
    event(
        &wages,
        NewEvent::new(EventKind::Resolved).with_outcome("年底前一次付清"),
        11,
    );
    event(&loan, NewEvent::escalated(Level::Town), 3);
    let visit = NewVisit {
        village: VillageCode::new("500110101001").unwrap(),
        visited_at: MARCH_1 + 5 * DAY,
        household: "钟国平家".to_owned(),
        group: Some("3组".to_owned()),
        topics: BTreeSet::from([Topic::Land]),
        sentiment: Sentiment::Concern,
        notes: "老人看病难，希望协调".to_owned(),
        follow_up_needed: true,
        follow_up_due: None,
        linked_dispute: None,
    };
    let author = phone.author(MARCH_1 + 5 * DAY);
    let home = phone
        .replica
        .create(|doc| create_visit(doc, &author, &visit))
        .unwrap();
    phone.sync(&server.url());
    let token = server
        .enroll("official-hand", fengqiao_shared::access::Role::Town, TOWN_1)
        .1;

    let row = |cells: &[&str]| cells.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    let (land, wages, loan, home) = (
        land.to_string(),
        wages.to_string(),
        loan.to_string(),
        home.to_string(),
    );
    let parties = "钟国平（申请人）、楼秀英（被申请人）";
    // As of 2025-04-10 00:00: the land case is 39 days old (9 beyond the
    // 30-day limit), the loan case 37 (7 beyond); the wage case was
    // resolved after 10 days.
    let mut disputes = vec![
        row(&[
            &land,
            "第101镇",
            "第101镇1村",
            "500110101001",
            "宅基地边界纠纷",
            "宅基地边界纠纷，双方各执一词。",
            "土地/宅基地/山林",
            "高",
            "待调解",
            "2025-03-01 09:00",
            "",
            "39",
            "9",
            parties,
            "未登记人员、何晓东",
            "何晓东",
            "",
            "",
            "2025-03-01 09:00",
            "1",
            "",
        ]),
        row(&[
            &wages,
            "第101镇",
            "第101镇2村",
            "500110101002",
            "拖欠工资, \"年底结清\"",
            "拖欠工资, \"年底结清\"，双方各执一词。",
            "劳资纠纷",
            "低",
            "已化解",
            "2025-03-02 09:00",
            "2025-03-12 10:00",
            "10",
            "",
            parties,
            "未登记人员、何晓东",
            "何晓东",
            "",
            "年底前一次付清",
            "2025-03-12 10:00",
            "2",
            "",
        ]),
        row(&[
            &loan,
            "第101镇",
            "第101镇2村",
            "500110101002",
            "=SUM(A1:A2)",
            "=SUM(A1:A2)，双方各执一词。",
            "借贷纠纷",
            "中",
            "已上报（镇级）",
            "2025-03-03 09:00",
            "",
            "37",
            "7",
            parties,
            "未登记人员、何晓东",
            "何晓东",
            "镇级",
            "",
            "2025-03-04 10:00",
            "2",
            "",
        ]),
    ];
    disputes.sort();
    let visits = [row(&[
        &home,
        "第101镇",
        "第101镇1村",
        "500110101001",
        "3组",
        "钟国平家",
        "2025-03-06 09:00",
        "土地",
        "关注",
        "老人看病难，希望协调",
        "是",
        "否",
        "待回访",
        "",
        "",
        "何晓东",
        "2025-03-06 09:00",
    ])];
    let sorted = |mut rows: Vec<Vec<String>>| {
        rows.sort();
        rows
    };

    let query = "?asOf=2025-04-10";
    let csv = read_csv(&download(
        &server,
        &token,
        &format!("/v1/export/disputes.csv{query}"),
        CSV,
    ));
    assert_eq!(csv[0], DISPUTE_HEADERS);
    let mut defused = disputes.clone();
    for row in &mut defused {
        for cell in [4, 5] {
            if row[cell].starts_with('=') {
                row[cell] = format!("'{}", row[cell]);
            }
        }
    }
    assert_eq!(sorted(csv[1..].to_vec()), defused);
    let sheet = read_xlsx(
        download(
            &server,
            &token,
            &format!("/v1/export/disputes.xlsx{query}"),
            XLSX,
        ),
        "矛盾纠纷",
    );
    assert_eq!(sorted(sheet[1..].to_vec()), disputes);

    let csv = read_csv(&download(
        &server,
        &token,
        &format!("/v1/export/visits.csv{query}"),
        CSV,
    ));
    assert_eq!(csv[0], VISIT_HEADERS);
    assert_eq!(csv[1..], visits[..]);
    let sheet = read_xlsx(
        download(
            &server,
            &token,
            &format!("/v1/export/visits.xlsx{query}"),
            XLSX,
        ),
        "民情走访",
    );
    assert_eq!(sheet[1..], visits[..]);
}

/// The headers of the English dispute and visit exports, in column order.
const DISPUTE_HEADERS_EN: &[&str] = &[
    "ID",
    "Town",
    "Village",
    "Village code",
    "Title",
    "Description",
    "Category",
    "Risk",
    "Status",
    "Reported",
    "Resolved",
    "Days open",
    "Days overdue",
    "Parties",
    "Handlers",
    "Reported by",
    "Highest escalation",
    "Outcome",
    "Last activity",
    "Events",
    "Duplicate of",
];

const VISIT_HEADERS_EN: &[&str] = &[
    "ID",
    "Town",
    "Village",
    "Village code",
    "Villagers' group",
    "Household",
    "Visited",
    "Topics",
    "Sentiment",
    "Notes",
    "Follow-up needed",
    "Follow-up done",
    "Follow-up",
    "Follow-up due",
    "Linked dispute",
    "Visited by",
    "Reported",
];

/// With `lang=en` the exports have English headers, sheet names and
/// labels (vocabulary, yes/no, follow-up states, unknown people); what was
/// typed stays as typed; the XLSX cells keep their types. Chinese stays
/// the default, and a language the server does not speak is refused.
#[test]
fn lang_en_exports_have_english_headers_and_labels() {
    use std::collections::BTreeSet;

    use fengqiao_shared::record::{NewEvent, NewVisit, add_event, create_visit};
    use fengqiao_shared::vocab::{Level, Sentiment, Topic};

    /// 2025-03-01 09:00 China Standard Time.
    const MARCH_1: i64 = 1_740_790_800_000;
    let server = TestServer::start();
    server
        .directory()
        .add_person("cadre-en", "何晓东", None)
        .expect("a person");
    let mut phone = Phone::new("cadre-en");
    let dispute = NewDispute {
        village: VillageCode::new("500110101002").unwrap(),
        title: "借款纠纷".to_owned(),
        description: "双方各执一词。".to_owned(),
        category: Category::Land,
        risk: Risk::High,
        parties: vec![
            Party::new("钟国平", PartyRole::Applicant),
            Party::new("楼秀英", PartyRole::Respondent),
        ],
        assignees: vec!["cadre-en".to_owned(), "cadre-gone".to_owned()],
    };
    let author = phone.author(MARCH_1);
    let id = phone
        .replica
        .create(|doc| create_dispute(doc, &author, &dispute))
        .unwrap();
    let author = phone.author(MARCH_1 + 2 * DAY);
    phone
        .replica
        .edit(&id, |doc| {
            add_event(doc, &author, &NewEvent::escalated(Level::Town))
        })
        .unwrap();
    let visit = NewVisit {
        village: VillageCode::new("500110101001").unwrap(),
        visited_at: MARCH_1 + 5 * DAY,
        household: "钟国平家".to_owned(),
        group: Some("3组".to_owned()),
        topics: BTreeSet::from([Topic::Land]),
        sentiment: Sentiment::Concern,
        notes: "老人看病难".to_owned(),
        follow_up_needed: true,
        follow_up_due: Some(MARCH_1 + 20 * DAY),
        linked_dispute: None,
    };
    let author = phone.author(MARCH_1 + 5 * DAY);
    let home = phone
        .replica
        .create(|doc| create_visit(doc, &author, &visit))
        .unwrap();
    phone.sync(&server.url());
    let token = server
        .enroll("official-en", fengqiao_shared::access::Role::Town, TOWN_1)
        .1;
    let query = "?asOf=2025-04-10&lang=en";
    let row = |cells: &[&str]| cells.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    let status = format!(
        "{} ({})",
        Status::Escalated.label_en(),
        Level::Town.label_en()
    );
    let parties = format!(
        "钟国平 ({}), 楼秀英 ({})",
        PartyRole::Applicant.label_en(),
        PartyRole::Respondent.label_en()
    );
    // As of 2025-04-10 00:00 the case is 39 days old, 9 beyond the limit.
    let disputes = vec![
        DISPUTE_HEADERS_EN.iter().map(|h| h.to_string()).collect(),
        row(&[
            &id.to_string(),
            "第101镇",
            "第101镇2村",
            "500110101002",
            "借款纠纷",
            "双方各执一词。",
            Category::Land.label_en(),
            Risk::High.label_en(),
            &status,
            "2025-03-01 09:00",
            "",
            "39",
            "9",
            &parties,
            "何晓东, unregistered person",
            "何晓东",
            Level::Town.label_en(),
            "",
            "2025-03-03 09:00",
            "2",
            "",
        ]),
    ];
    let visits = vec![
        VISIT_HEADERS_EN.iter().map(|h| h.to_string()).collect(),
        row(&[
            &home.to_string(),
            "第101镇",
            "第101镇1村",
            "500110101001",
            "3组",
            "钟国平家",
            "2025-03-06 09:00",
            Topic::Land.label_en(),
            Sentiment::Concern.label_en(),
            "老人看病难",
            "yes",
            "no",
            "overdue",
            "2025-03-21",
            "",
            "何晓东",
            "2025-03-06 09:00",
        ]),
    ];

    let csv = read_csv(&download(
        &server,
        &token,
        &format!("/v1/export/disputes.csv{query}"),
        CSV,
    ));
    assert_eq!(csv, disputes);
    let bytes = download(
        &server,
        &token,
        &format!("/v1/export/disputes.xlsx{query}"),
        XLSX,
    );
    assert_eq!(
        read_xlsx_typed(
            bytes,
            "Disputes",
            &["Reported", "Resolved", "Last activity"],
            &[],
            &["Days open", "Days overdue", "Events"]
        ),
        disputes
    );
    let csv = read_csv(&download(
        &server,
        &token,
        &format!("/v1/export/visits.csv{query}"),
        CSV,
    ));
    assert_eq!(csv, visits);
    let bytes = download(
        &server,
        &token,
        &format!("/v1/export/visits.xlsx{query}"),
        XLSX,
    );
    assert_eq!(
        read_xlsx_typed(
            bytes,
            "Household visits",
            &["Visited", "Reported"],
            &["Follow-up due"],
            &[]
        ),
        visits
    );

    // Chinese without `lang`, or with `lang=zh`.
    for query in ["?asOf=2025-04-10", "?asOf=2025-04-10&lang=zh"] {
        let csv = read_csv(&download(
            &server,
            &token,
            &format!("/v1/export/disputes.csv{query}"),
            CSV,
        ));
        assert_eq!(csv[0], DISPUTE_HEADERS);
        assert_eq!(csv[1][8], "已上报（镇级）");
    }
    let (status, body, _) = get_bytes(
        &server,
        "/v1/export/disputes.csv?lang=fr",
        Auth::Bearer(&token),
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
}
