//! The records every system syncs: dispute records as DESIGN.md §3 shapes
//! them, the same content for every system.
//!
//! Record `i` is a dispute in village 500110101001 with a title, a
//! description of about 120 characters, two parties, and a timeline of the
//! `reported` event (written when the record is created) and two
//! `mediation` events added in two later commits: three Automerge changes
//! in all. Content is a function of `i` alone, so every system, run and
//! repetition sees the same records; only document ids and actors are
//! fresh each time, as they would be on real phones.

use automerge::AutoCommit;
use fengqiao_protocol::VillageCode;
use fengqiao_shared::record::{Author, NewDispute, NewEvent, Party, add_event, create_dispute};
use fengqiao_shared::vocab::{Category, EventKind, PartyRole, Risk};

/// The village every record belongs to.
pub const VILLAGE: &str = "500110101001";

/// The organisation CSV a Fengqiao server needs before it accepts records
/// of [`VILLAGE`].
pub const ORG_CSV: &str = "500110,綦江区\n500110101,古南街道\n500110101001,石门村\n";

/// How many records are changed elsewhere in the partial reconnect.
pub const CHANGED_ELSEWHERE: usize = 100;

/// 2026-01-05T00:00:00Z: when the first record was reported.
const T0: i64 = 1_767_571_200_000;
const HOUR: i64 = 3_600_000;

const SURNAMES: [&str; 12] = [
    "张", "李", "王", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙",
];
const GIVEN: [&str; 10] = [
    "德明", "秀英", "建国", "桂芳", "志强", "玉兰", "国华", "春梅", "永福", "丽华",
];
const CAUSES: [&str; 8] = [
    "宅基地边界",
    "耕地灌溉用水",
    "林地界址",
    "房屋漏水损及邻居",
    "赡养老人费用分摊",
    "借款到期未还",
    "务工工资拖欠",
    "牲畜损坏庄稼",
];
const DETAILS: [&str; 6] = [
    "双方各执一词，情绪较为激动，曾在村口发生口角，邻里多次劝解无果",
    "一方称有老契约为凭，另一方称多年使用已成惯例，双方均不愿让步",
    "争执已持续两月有余，影响到两家老人的日常往来和孩子上学接送",
    "村民小组长已到场初步了解情况，双方同意由村调解委员会主持调解",
    "涉及金额不大但牵涉面子问题，双方亲属均有参与，存在矛盾升级风险",
    "一方外出务工刚返乡，对情况了解有限，要求先查看相关凭证再谈",
];
const CATEGORIES: [Category; 6] = [
    Category::Land,
    Category::Neighbor,
    Category::Family,
    Category::Debt,
    Category::Labor,
    Category::Damage,
];
const CADRES: [&str; 3] = ["cadre-shimen-01", "cadre-shimen-02", "cadre-shimen-03"];

fn person(i: usize, salt: usize) -> String {
    let k = i.wrapping_mul(7).wrapping_add(salt * 13);
    format!(
        "{}{}",
        SURNAMES[k % SURNAMES.len()],
        GIVEN[(k / 3) % GIVEN.len()]
    )
}

/// What the cadre entered for record `i`.
pub fn dispute(i: usize) -> NewDispute {
    let applicant = person(i, 0);
    let respondent = person(i, 1);
    let cause = CAUSES[i % CAUSES.len()];
    let group = 1 + i % 9;
    let description = format!(
        "{group}组村民{applicant}与{respondent}因{cause}发生纠纷（登记第{i}号）。{}。\
         经网格员走访核实，现申请村调解委员会组织双方现场调解，约定七日内给出初步处理意见并形成书面记录。",
        DETAILS[i % DETAILS.len()],
    );
    NewDispute {
        village: VillageCode::new(VILLAGE).expect("a valid village code"),
        title: format!("{applicant}与{respondent}{cause}纠纷"),
        description,
        category: CATEGORIES[i % CATEGORIES.len()],
        risk: if i.is_multiple_of(11) {
            Risk::Medium
        } else {
            Risk::Low
        },
        parties: vec![
            Party::new(applicant, PartyRole::Applicant),
            Party::new(respondent, PartyRole::Respondent),
        ],
        assignees: vec![],
    }
}

fn author(i: usize, step: i64) -> Author {
    Author::new(
        CADRES[i % CADRES.len()],
        T0 + (i as i64) * HOUR / 7 + step * 24 * HOUR,
    )
}

fn mediation(note: &str) -> NewEvent {
    NewEvent {
        note: Some(note.to_owned()),
        ..NewEvent::new(EventKind::Mediation)
    }
}

/// Writes record `i` into an empty document: the creation commit and two
/// mediation commits.
pub fn write_record(doc: &mut AutoCommit, i: usize) {
    create_dispute(doc, &author(i, 0), &dispute(i)).expect("a valid dispute");
    add_event(
        doc,
        &author(i, 1),
        &mediation("首次调解：双方陈述意见，约定补充材料。"),
    )
    .expect("a valid event");
    add_event(
        doc,
        &author(i, 3),
        &mediation("二次调解：现场勘查后提出初步方案。"),
    )
    .expect("a valid event");
}

/// The edit made elsewhere to record `i` while a client is offline: a
/// third mediation session on the timeline.
pub fn edit_elsewhere(doc: &mut AutoCommit, i: usize) {
    add_event(
        doc,
        &author(i, 6),
        &mediation("三次调解：双方基本同意方案，待签订协议。"),
    )
    .expect("a valid event");
}

#[cfg(test)]
mod tests {
    use super::*;
    use fengqiao_shared::record::{Limits, Record, validate};

    #[test]
    fn records_are_valid_disputes_of_the_expected_shape() {
        for i in [0, 1, 9_999] {
            let mut doc = AutoCommit::new();
            write_record(&mut doc, i);
            let chars = dispute(i).description.chars().count();
            assert!(
                (100..=140).contains(&chars),
                "description of {chars} characters"
            );
            let size = doc.save().len();
            validate(&doc, None, size, &Limits::default()).expect("valid");
            let record = Record::read(&doc).expect("a record");
            let dispute = record.as_dispute().expect("a dispute");
            assert_eq!(dispute.parties.len(), 2);
            assert_eq!(dispute.events.len(), 3);
            assert_eq!(doc.get_changes(&[]).len(), 3);
            edit_elsewhere(&mut doc, i);
            assert_eq!(doc.get_changes(&[]).len(), 4);
        }
    }
}
