//! CSV and XLSX exports read back: a UTF-8 CSV with a byte order mark and
//! Chinese headers, an XLSX workbook with the same cells, one row per record
//! of the scope and period, texts quoted and formulas defused; and a small
//! town whose rows, labels included, are written out by hand.

mod township;

use std::io::Cursor;

use calamine::{Reader, Xlsx, open_workbook_from_rs};
use fengqiao_protocol::VillageCode;
use fengqiao_shared::Summary;
use fengqiao_shared::record::{NewDispute, Party, create_dispute};
use fengqiao_shared::stats::calendar::{civil_from_days, local_day};
use fengqiao_shared::vocab::{Category, PartyRole, RecordKind, Risk, Status};
use fengqiao_tests::{DAY, Phone, T0, TestServer};
use township::{Auth, Officials, TOWN_1, VILLAGE_A, get_bytes, observer, populate, summaries_in};

const DISPUTE_HEADERS: &[&str] = &[
    "编号",
    "村",
    "村代码",
    "标题",
    "类别",
    "风险",
    "状态",
    "登记时间",
    "化解时间",
    "当事人",
    "承办人",
    "登记人",
    "最高上报层级",
    "最近活动",
    "事件数",
    "重复于",
];

const VISIT_HEADERS: &[&str] = &[
    "编号",
    "村",
    "村代码",
    "走访对象",
    "走访时间",
    "主题",
    "民情",
    "需回访",
    "回访完成",
    "回访期限",
    "关联纠纷",
    "走访人",
    "登记时间",
];

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

fn village_name(village: &VillageCode) -> String {
    let code = village.as_str();
    let town: u32 = code[6..9].parse().unwrap();
    let number: u32 = code[9..12].parse().unwrap();
    format!("第{town}镇{number}村")
}

fn dispute_row(s: &Summary) -> Vec<String> {
    let status = s.status.unwrap_or(Status::Open);
    let status = match (status, s.escalation_level) {
        (Status::Escalated, Some(level)) => {
            format!("{}（{}）", status.label_zh(), level.label_zh())
        }
        _ => status.label_zh().to_owned(),
    };
    vec![
        s.id.to_string(),
        village_name(&s.village),
        s.village.to_string(),
        s.title.clone(),
        s.category.map(|c| c.label_zh()).unwrap_or("").to_owned(),
        s.risk.map(|r| r.label_zh()).unwrap_or("").to_owned(),
        status,
        cst(s.created_at),
        s.resolved_at.map(cst).unwrap_or_default(),
        s.party_names.join("、"),
        s.assignees.join("、"),
        s.created_by.clone(),
        s.max_escalation_level
            .map(|l| l.label_zh())
            .unwrap_or("")
            .to_owned(),
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

fn visit_row(s: &Summary) -> Vec<String> {
    vec![
        s.id.to_string(),
        village_name(&s.village),
        s.village.to_string(),
        s.title.clone(),
        s.visited_at.map(cst).unwrap_or_default(),
        s.topics
            .iter()
            .map(|t| t.label_zh())
            .collect::<Vec<_>>()
            .join("、"),
        s.sentiment.map(|m| m.label_zh()).unwrap_or("").to_owned(),
        yes_no(s.follow_up_needed),
        yes_no(s.follow_up_done),
        s.follow_up_due
            .map(|due| cst(due)[..10].to_owned())
            .unwrap_or_default(),
        s.linked_dispute
            .as_ref()
            .map(|d| d.to_string())
            .unwrap_or_default(),
        s.created_by.clone(),
        cst(s.created_at),
    ]
}

/// The rows an export of `kind` should hold, in its order: by village, then
/// time, then id.
fn expected_rows(
    summaries: &[Summary],
    kind: RecordKind,
    period: std::ops::Range<i64>,
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
        .map(|s| match kind {
            RecordKind::Dispute => dispute_row(s),
            RecordKind::Visit => visit_row(s),
        })
        .collect()
}

fn download(server: &TestServer, token: &str, path: &str, content_type: &str) -> Vec<u8> {
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
    assert!(
        disposition.ends_with(&format!(".{extension}\"")),
        "{disposition}"
    );
    bytes
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

fn read_xlsx(bytes: Vec<u8>, sheet: &str) -> Vec<Vec<String>> {
    let mut workbook: Xlsx<_> =
        open_workbook_from_rs(Cursor::new(bytes)).expect("an XLSX workbook");
    assert_eq!(workbook.sheet_names(), vec![sheet.to_owned()]);
    let range = workbook.worksheet_range(sheet).expect("the sheet");
    let width = range.width();
    range
        .rows()
        .map(|row| {
            (0..width)
                .map(|i| row.get(i).map(|c| c.to_string()).unwrap_or_default())
                .collect()
        })
        .collect()
}

const CSV: &str = "text/csv; charset=utf-8";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

#[test]
fn csv_and_xlsx_exports_read_back_to_the_records() {
    let server = TestServer::start();
    populate(&server, 25);
    let officials = Officials::enroll(&server);
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
            description: String::new(),
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
    let summaries = summaries_in(&observer(&server), TOWN_1);
    let token = &officials.town_1;

    // Disputes as CSV.
    let rows = read_csv(&download(&server, token, "/v1/export/disputes.csv", CSV));
    assert_eq!(rows[0], DISPUTE_HEADERS);
    let mut expected = expected_rows(&summaries, RecordKind::Dispute, i64::MIN..i64::MAX);
    // The formula is defused in CSV with a leading apostrophe.
    for row in &mut expected {
        if row[3].starts_with('=') {
            row[3] = format!("'{}", row[3]);
        }
    }
    assert!(expected.len() > 50);
    assert_eq!(rows[1..], expected[..]);
    for title in &tricky[..2] {
        assert!(
            rows.iter().any(|row| row[3] == *title),
            "{title} survives quoting"
        );
    }
    assert!(rows.iter().any(|row| row[3].starts_with("'=HYPERLINK")));

    // The same disputes as XLSX: the same cells, every one a plain string.
    let sheet = read_xlsx(
        download(&server, token, "/v1/export/disputes.xlsx", XLSX),
        "矛盾纠纷",
    );
    assert_eq!(sheet[0], DISPUTE_HEADERS);
    let plain = expected_rows(&summaries, RecordKind::Dispute, i64::MIN..i64::MAX);
    assert_eq!(sheet[1..], plain[..]);
    assert!(
        sheet.iter().any(|row| row[3].starts_with("=HYPERLINK")),
        "kept as text, not a formula"
    );

    // Visits, both formats.
    let rows = read_csv(&download(&server, token, "/v1/export/visits.csv", CSV));
    assert_eq!(rows[0], VISIT_HEADERS);
    let expected = expected_rows(&summaries, RecordKind::Visit, i64::MIN..i64::MAX);
    assert!(expected.len() > 20);
    assert_eq!(rows[1..], expected[..]);
    assert!(rows.iter().any(|row| row[7] == "是") && rows.iter().any(|row| row[7] == "否"));
    let sheet = read_xlsx(
        download(&server, token, "/v1/export/visits.xlsx", XLSX),
        "民情走访",
    );
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
    let path = "/v1/export/disputes.csv?scope=500110101001&from=2026-06-01&to=2026-08-31";
    let rows = read_csv(&download(&server, token, path, CSV));
    let expected = expected_rows(&village, RecordKind::Dispute, june_1..sept_1);
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
    let mut phone = Phone::new("cadre-hand");
    let dispute = |village: &str, title: &str, category: Category, risk: Risk, day: i64| {
        let dispute = NewDispute {
            village: VillageCode::new(&format!("500110101{village}")).unwrap(),
            title: title.to_owned(),
            description: String::new(),
            category,
            risk,
            parties: vec![
                Party::new("钟国平", PartyRole::Applicant),
                Party::new("楼秀英", PartyRole::Respondent),
            ],
            assignees: vec![],
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
    event(&wages, NewEvent::new(EventKind::Resolved), 11);
    event(&loan, NewEvent::escalated(Level::Town), 3);
    let visit = NewVisit {
        village: VillageCode::new("500110101001").unwrap(),
        visited_at: MARCH_1 + 5 * DAY,
        household: "钟国平家".to_owned(),
        group: None,
        topics: BTreeSet::from([Topic::Land]),
        sentiment: Sentiment::Concern,
        notes: String::new(),
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
    let parties = "钟国平、楼秀英";
    let mut disputes = vec![
        row(&[
            &land,
            "第101镇1村",
            "500110101001",
            "宅基地边界纠纷",
            "土地/宅基地/山林",
            "高",
            "待调解",
            "2025-03-01 09:00",
            "",
            parties,
            "",
            "cadre-hand",
            "",
            "2025-03-01 09:00",
            "1",
            "",
        ]),
        row(&[
            &wages,
            "第101镇2村",
            "500110101002",
            "拖欠工资, \"年底结清\"",
            "劳资纠纷",
            "低",
            "已化解",
            "2025-03-02 09:00",
            "2025-03-12 10:00",
            parties,
            "",
            "cadre-hand",
            "",
            "2025-03-12 10:00",
            "2",
            "",
        ]),
        row(&[
            &loan,
            "第101镇2村",
            "500110101002",
            "=SUM(A1:A2)",
            "借贷纠纷",
            "中",
            "已上报（镇级）",
            "2025-03-03 09:00",
            "",
            parties,
            "",
            "cadre-hand",
            "镇级",
            "2025-03-04 10:00",
            "2",
            "",
        ]),
    ];
    disputes.sort();
    let visits = [row(&[
        &home,
        "第101镇1村",
        "500110101001",
        "钟国平家",
        "2025-03-06 09:00",
        "土地",
        "关注",
        "是",
        "否",
        "",
        "",
        "cadre-hand",
        "2025-03-06 09:00",
    ])];
    let sorted = |mut rows: Vec<Vec<String>>| {
        rows.sort();
        rows
    };

    let csv = read_csv(&download(&server, &token, "/v1/export/disputes.csv", CSV));
    assert_eq!(csv[0], DISPUTE_HEADERS);
    let mut defused = disputes.clone();
    for row in &mut defused {
        if row[3].starts_with('=') {
            row[3] = format!("'{}", row[3]);
        }
    }
    assert_eq!(sorted(csv[1..].to_vec()), defused);
    let sheet = read_xlsx(
        download(&server, &token, "/v1/export/disputes.xlsx", XLSX),
        "矛盾纠纷",
    );
    assert_eq!(sorted(sheet[1..].to_vec()), disputes);

    let csv = read_csv(&download(&server, &token, "/v1/export/visits.csv", CSV));
    assert_eq!(csv[0], VISIT_HEADERS);
    assert_eq!(csv[1..], visits[..]);
    let sheet = read_xlsx(
        download(&server, &token, "/v1/export/visits.xlsx", XLSX),
        "民情走访",
    );
    assert_eq!(sheet[1..], visits[..]);
}
