//! The demo's field work: who does what on which simulated day, on real
//! phone replicas syncing with the real server.

use std::time::Duration;

use automerge::AutoCommit;
use fengqiao_protocol::{DeviceId, DocumentId, Scope, VillageCode};
use fengqiao_shared::Millis;
use fengqiao_shared::access::Role;
use fengqiao_shared::record::{
    self, Author, NewDispute, NewEvent, NewVisit, Party, Record, add_event, create_dispute,
    create_visit, mark_follow_up_done, set_description, set_risk,
};
use fengqiao_shared::replica::http::{HttpTransport, sync_until_done};
use fengqiao_shared::replica::sync::SyncClient;
use fengqiao_shared::replica::{RecordFilter, Replica};
use fengqiao_shared::vocab::{
    Category, EventKind, Level, PartyRole, RecordKind, Risk, Sentiment, Stage, Status, Topic,
};

use super::officials::{self, Officer, Tally};
use super::places::{self, Town};
use super::{Scale, State, bar};
use crate::cli::CliError;
use crate::directory::EnrollRequest;
use crate::ws_client::{Holdings, RepoClient};

const DAY: Millis = 86_400_000;
const HOUR: Millis = 3_600_000;

/// SplitMix64: a tiny deterministic generator, enough for a simulation.
pub(super) struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub(super) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    pub(super) fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// One enrolled phone in the field.
struct Phone {
    person: String,
    name: String,
    token: String,
    village: VillageCode,
    replica: Replica,
    client: SyncClient,
    /// Signal every this many days, on days ≡ `offset`.
    sync_every: u64,
    offset: u64,
}

/// A conflict case as the demo explains it.
pub struct Conflict {
    pub title: String,
    pub id: DocumentId,
    pub lines: Vec<String>,
}

/// What the field work produced.
pub struct Outcome {
    pub town_name: String,
    pub town_code: String,
    /// The main village: the supervisor's and the field cadres'.
    pub village_code: String,
    /// Every town of the demo: code and name.
    pub towns: Vec<(String, String)>,
    pub town_token: String,
    pub district_token: String,
    pub supervisor_token: String,
    /// The set-up link of a cadre's field app in the demo's main village.
    pub field_link: String,
    pub field_cadre: String,
    pub field_token: String,
    /// A cadre of the main village for `fengqiao field`, and their token.
    pub cli_cadre: String,
    pub cli_token: String,
    pub phones: usize,
    pub records: usize,
    pub syncs: usize,
    pub ws_syncs: usize,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub conflicts: Vec<Conflict>,
    /// What the town and district officials did on their dashboards.
    pub actions: Tally,
}

const TITLES: [(Category, &str); 14] = [
    (Category::Land, "宅基地边界纠纷"),
    (Category::Land, "承包地流转纠纷"),
    (Category::Land, "山林权属争议"),
    (Category::Neighbor, "邻里排水纠纷"),
    (Category::Neighbor, "通行道路纠纷"),
    (Category::Neighbor, "噪音扰民纠纷"),
    (Category::Family, "赡养老人纠纷"),
    (Category::Family, "婚姻家庭矛盾"),
    (Category::Debt, "民间借贷纠纷"),
    (Category::Labor, "拖欠工资纠纷"),
    (Category::Contract, "房屋租赁合同纠纷"),
    (Category::Damage, "家禽损毁庄稼赔偿"),
    (Category::Environment, "养殖污染纠纷"),
    (Category::Other, "物业管理纠纷"),
];

const DESCRIPTIONS: [&str; 4] = [
    "双方因界址不清多次发生口角，申请人要求村委会出面协调，被申请人表示愿意配合调解。",
    "当事人反映问题已持续数月，情绪较为激动，需尽快安排调解员上门了解情况并做好记录。",
    "经初步了解，双方均有一定道理，拟邀请村民小组长和老党员共同参与调解，争取当面化解。",
    "申请人提供了相关书面材料，被申请人对部分事实有异议，建议先核实情况再组织双方面谈。",
];

fn sync_phone(phone: &mut Phone, url: &str, totals: &mut Totals) -> Result<(), CliError> {
    let mut transport = HttpTransport::new(url, phone.token.clone());
    let report = sync_until_done(
        &phone.replica,
        &mut phone.client,
        &mut transport,
        200,
        |_| {},
    )
    .map_err(|e| CliError::new(format!("{}'s phone could not sync: {e}", phone.name)))?;
    totals.syncs += 1;
    totals.bytes_up += report.bytes.up;
    totals.bytes_down += report.bytes.down;
    Ok(())
}

#[derive(Default)]
struct Totals {
    records: usize,
    syncs: usize,
    ws_syncs: usize,
    bytes_up: u64,
    bytes_down: u64,
}

fn enroll(
    state: &State,
    person: &str,
    name: &str,
    role: Role,
    scope: &str,
) -> Result<(DeviceId, String), CliError> {
    enroll_with(state, person, name, role, scope, false)
}

/// [`enroll`], with the write grant a district official needs to act on
/// cases.
fn enroll_with(
    state: &State,
    person: &str,
    name: &str,
    role: Role,
    scope: &str,
    write: bool,
) -> Result<(DeviceId, String), CliError> {
    let directory = state.engine.directory();
    let err = |e: crate::directory::DirectoryError| CliError::new(format!("enrolling {name}: {e}"));
    directory.add_person(person, name, None).map_err(err)?;
    let scope = Scope::parse(scope).map_err(|e| CliError::new(e.to_string()))?;
    let (device, token) = directory
        .enroll(EnrollRequest {
            person: person.to_owned(),
            label: format!("{name}的手机"),
            role,
            scope,
            write,
        })
        .map_err(err)?;
    Ok((device.id, token.0))
}

fn new_phone(
    state: &State,
    n: usize,
    village: &VillageCode,
    rng: &mut Rng,
) -> Result<Phone, CliError> {
    let name = places::person_name(n);
    let person = format!("cadre-{}", &village.as_str()[6..]);
    let person = if n >= 1000 {
        format!("{person}-b")
    } else {
        person
    };
    let (device, token) = enroll(state, &person, &name, Role::Cadre, village.as_str())?;
    let sync_every = 1 + rng.below(4);
    Ok(Phone {
        person,
        name,
        token,
        village: village.clone(),
        replica: Replica::in_memory(device).map_err(|e| CliError::new(e.to_string()))?,
        client: SyncClient::default(),
        sync_every,
        offset: rng.below(sync_every),
    })
}

fn parties(rng: &mut Rng) -> Vec<Party> {
    let a = places::person_name(rng.below(300) as usize + 7);
    let mut b = places::person_name(rng.below(300) as usize + 11);
    if a == b {
        b.push('某');
    }
    vec![
        Party::new(a, PartyRole::Applicant),
        Party::new(b, PartyRole::Respondent),
    ]
}

fn new_dispute(phone: &Phone, rng: &mut Rng, at: Millis) -> Result<DocumentId, CliError> {
    let (category, title) = *rng.pick(&TITLES);
    let risk = match rng.below(10) {
        0 => Risk::High,
        1..=3 => Risk::Medium,
        _ => Risk::Low,
    };
    let dispute = NewDispute {
        village: phone.village.clone(),
        title: title.to_owned(),
        description: (*rng.pick(&DESCRIPTIONS)).to_owned(),
        category,
        risk,
        parties: parties(rng),
        assignees: vec![phone.person.clone()],
    };
    let author = Author::new(phone.person.clone(), at);
    phone
        .replica
        .create(|doc| create_dispute(doc, &author, &dispute))
        .map_err(|e| CliError::new(e.to_string()))
}

fn new_visit(phone: &Phone, rng: &mut Rng, at: Millis) -> Result<DocumentId, CliError> {
    let topics = [
        Topic::Livelihood,
        Topic::Infrastructure,
        Topic::Health,
        Topic::Policy,
        Topic::Employment,
        Topic::Safety,
    ];
    let follow_up = rng.chance(0.3);
    let visit = NewVisit {
        village: phone.village.clone(),
        visited_at: at,
        household: format!("{}户", places::person_name(rng.below(500) as usize)),
        group: Some(format!("{}组", 1 + rng.below(8))),
        topics: [*rng.pick(&topics), *rng.pick(&topics)]
            .into_iter()
            .collect(),
        sentiment: *rng.pick(&[
            Sentiment::Positive,
            Sentiment::Neutral,
            Sentiment::Neutral,
            Sentiment::Concern,
            Sentiment::Urgent,
        ]),
        notes: "走访了解家庭生产生活情况，宣传相关政策，记录群众诉求。".to_owned(),
        follow_up_needed: follow_up,
        follow_up_due: follow_up.then_some(at + 7 * DAY),
        linked_dispute: None,
    };
    let author = Author::new(phone.person.clone(), at);
    phone
        .replica
        .create(|doc| create_visit(doc, &author, &visit))
        .map_err(|e| CliError::new(e.to_string()))
}

/// A cadre moves the cases of the village forward, as seen on the phone.
fn work_cases(phone: &Phone, rng: &mut Rng, now: Millis) -> Result<(), CliError> {
    let summaries = phone
        .replica
        .list(&RecordFilter::default())
        .map_err(|e| CliError::new(e.to_string()))?;
    for summary in summaries {
        let age = now - summary.created_at;
        let author = Author::new(phone.person.clone(), now);
        let event = match (summary.kind, summary.status) {
            (RecordKind::Dispute, Some(Status::Open)) if age > 2 * DAY && rng.chance(0.5) => {
                Some(NewEvent::new(EventKind::Mediation).with_note("组织双方到村委会面对面调解"))
            }
            (RecordKind::Dispute, Some(Status::Mediating)) if age > 4 * DAY && rng.chance(0.4) => {
                Some(match rng.below(20) {
                    0..=11 => NewEvent::new(EventKind::Resolved)
                        .with_outcome("双方达成一致，签订调解协议"),
                    12..=13 => NewEvent::new(EventKind::Agreement).with_outcome("达成口头协议"),
                    14..=15 => NewEvent::new(EventKind::Failed).with_note("双方分歧较大，调解未果"),
                    16..=18 => {
                        NewEvent::escalated(Level::Town).with_note("涉及多户，提请镇综治中心协调")
                    }
                    _ => NewEvent::escalated(Level::District)
                        .with_note("涉及跨镇土地权属，报市矛调中心处理"),
                })
            }
            // The town takes up what the village sent it once its official
            // accepted the case and named a handler: most are settled there,
            // some go on to the district, a few fail.
            (RecordKind::Dispute, Some(Status::Escalated))
                if summary.escalation_level == Some(Level::Town)
                    && summary.loop_stage() == Some(Stage::Handling)
                    && age > 8 * DAY
                    && rng.chance(0.25) =>
            {
                Some(match rng.below(10) {
                    0..=5 => NewEvent::new(EventKind::Resolved)
                        .with_outcome("经镇综治中心调解，双方签订协议"),
                    6..=7 => {
                        NewEvent::escalated(Level::District).with_note("镇级调解未果，报市矛调中心")
                    }
                    _ => NewEvent::new(EventKind::Failed).with_note("镇级调解未果，引导诉讼"),
                })
            }
            (RecordKind::Dispute, Some(Status::Escalated))
                if summary.escalation_level == Some(Level::District)
                    && summary.loop_stage() == Some(Stage::Handling)
                    && age > 15 * DAY
                    && rng.chance(0.1) =>
            {
                Some(NewEvent::new(EventKind::Resolved).with_outcome("经市矛调中心调处，案结事了"))
            }
            (RecordKind::Dispute, Some(Status::Resolved)) if age > 10 * DAY && rng.chance(0.1) => {
                Some(NewEvent::followup(rng.chance(0.9)).with_note("回访当事人，协议履行良好"))
            }
            (RecordKind::Visit, _) if summary.follow_up_needed && !summary.follow_up_done => {
                if summary.follow_up_due.is_some_and(|due| due <= now) && rng.chance(0.6) {
                    phone
                        .replica
                        .edit(&summary.id, |doc| mark_follow_up_done(doc, &author))
                        .map_err(|e| CliError::new(e.to_string()))?;
                }
                None
            }
            _ => None,
        };
        if let Some(event) = event {
            phone
                .replica
                .edit(&summary.id, |doc| add_event(doc, &author, &event))
                .map_err(|e| CliError::new(e.to_string()))?;
        }
    }
    Ok(())
}

fn dispute_of(replica: &Replica, id: &DocumentId) -> Result<record::Dispute, CliError> {
    match replica
        .record(id)
        .map_err(|e| CliError::new(e.to_string()))?
    {
        Record::Dispute(d) => Ok(d),
        Record::Visit(_) => Err(CliError::new("expected a dispute")),
    }
}

fn status_text(d: &record::Dispute) -> String {
    match (d.status(), d.escalation_level()) {
        (Status::Escalated, Some(level)) => {
            format!("escalated ({level}) 已上报{}", level.label_zh())
        }
        (status, _) => format!("{} {}", status.as_str(), status.label_zh()),
    }
}

fn risk_text(d: &record::Dispute) -> String {
    d.risk
        .map_or("—".into(), |r| format!("{r} {}", r.label_zh()))
}

/// The officials who work the closed loop: every town's 综治中心 (the
/// focus town's is the one whose token the demo prints) with a mediator of
/// its own, and the district's 矛调中心 with one.
fn officers(
    state: &State,
    towns: &[Town],
    town_token: &str,
    district_token: &str,
) -> Result<Vec<Officer>, CliError> {
    let mut out = Vec::new();
    for (i, town) in towns.iter().enumerate() {
        let code = town.code.as_str();
        let office = format!("{}综治中心", town.name);
        let token = if i == 0 {
            town_token.to_owned()
        } else {
            enroll(state, &format!("town-{code}"), &office, Role::Town, code)?.1
        };
        let mediator = format!("mediator-{code}");
        enroll(
            state,
            &mediator,
            &places::person_name(2000 + 37 * i),
            Role::Town,
            code,
        )?;
        out.push(Officer::new(
            state,
            &office,
            &token,
            code,
            Level::Town,
            vec![mediator],
        )?);
    }
    let mediator = "mediator-district";
    enroll_with(
        state,
        mediator,
        &places::person_name(3001),
        Role::District,
        places::DISTRICT.0,
        true,
    )?;
    out.push(Officer::new(
        state,
        "诸暨市矛调中心",
        district_token,
        places::DISTRICT.0,
        Level::District,
        vec![mediator.to_owned()],
    )?);
    Ok(out)
}

/// Morning of a simulated day, in China Standard Time.
fn at(day_start: Millis, hour: i64) -> Millis {
    day_start + hour * HOUR
}

/// Runs the whole field work and returns what the summary prints.
pub fn run(
    state: &State,
    url: &str,
    scale: Scale,
    seed: u64,
    handle: &tokio::runtime::Handle,
) -> Result<Outcome, CliError> {
    let mut rng = Rng(seed);
    let district_scale = scale == Scale::District;
    let towns: Vec<Town> = places::towns(district_scale);
    let days: i64 = if district_scale { 90 } else { 42 };
    state
        .engine
        .directory()
        .import_org(places::org(&towns))
        .map_err(|e| CliError::new(format!("importing the demo district: {e}")))?;

    // Enrollment.
    let villages: Vec<VillageCode> = towns
        .iter()
        .flat_map(|t| t.villages.iter().map(|(code, _)| code.clone()))
        .collect();
    let enrolling = bar(villages.len() as u64 + 6, "enrolling");
    let mut phones = Vec::new();
    for (n, village) in villages.iter().enumerate() {
        phones.push(new_phone(state, n, village, &mut rng)?);
        enrolling.inc(1);
    }
    let focus_town = &towns[0];
    let focus_village = focus_town.villages[0].0.clone();
    let mut mediator = new_phone(state, 1000, &focus_village, &mut rng)?;
    mediator.sync_every = 1;
    enrolling.inc(1);
    let (_, town_token) = enroll(
        state,
        "town-fengqiao",
        "枫桥镇综治中心",
        Role::Town,
        focus_town.code.as_str(),
    )?;
    let (_, district_token) = enroll_with(
        state,
        "district-zhuji",
        "诸暨市矛调中心",
        Role::District,
        places::DISTRICT.0,
        true,
    )?;
    let (_, supervisor_token) = enroll(
        state,
        "supervisor-fengyuan",
        "枫源村监委会",
        Role::Supervisor,
        focus_village.as_str(),
    )?;
    // A cadre of the main village with no simulated phone: the one a
    // newcomer plays in the field app.
    let field_cadre = "枫源村网格员 陈晓燕";
    let (field_device, field_token) = enroll(
        state,
        "cadre-fieldapp",
        field_cadre,
        Role::Cadre,
        focus_village.as_str(),
    )?;
    let field_link = crate::http::SetupPayload {
        server: url.to_owned(),
        token: field_token.clone(),
        device: field_device,
    }
    .link();
    let cli_cadre = "枫源村调解员 周建华";
    let (_, cli_token) = enroll(
        state,
        "cadre-cli",
        cli_cadre,
        Role::Cadre,
        focus_village.as_str(),
    )?;
    enrolling.inc(5);
    let mut officers = officers(state, &towns, &town_token, &district_token)?;
    enrolling.finish_with_message(format!("{} devices", phones.len() + 6 + 2 * towns.len()));

    // Simulated days of field work.
    let today = crate::engine::now_millis().div_euclid(DAY) * DAY - 8 * HOUR;
    let start = today - days * DAY;
    let mut totals = Totals::default();
    let mut actions = Tally::default();
    let working = bar(days as u64, "field work");
    for day in 0..days {
        let day_start = start + day * DAY;
        for phone in phones.iter_mut() {
            if rng.chance(0.09) {
                let when = at(day_start, 9 + rng.below(8) as i64);
                new_dispute(phone, &mut rng, when)?;
                totals.records += 1;
            }
            if rng.chance(0.2) {
                let when = at(day_start, 9 + rng.below(8) as i64);
                new_visit(phone, &mut rng, when)?;
                totals.records += 1;
            }
            work_cases(phone, &mut rng, at(day_start, 17))?;
            if (day as u64) % phone.sync_every == phone.offset {
                sync_phone(phone, url, &mut totals)?;
            }
        }
        let closing = day >= days - 10;
        officials::work_day(
            state,
            &mut officers,
            &mut rng,
            day_start,
            closing,
            &mut actions,
        )?;
        working.set_message(format!(
            "{} records, {} syncs",
            totals.records, totals.syncs
        ));
        working.inc(1);
    }
    working.finish();

    let (conflicts, escalated) = conflicts(
        state,
        url,
        handle,
        &mut phones[0],
        &mut mediator,
        &town_token,
        today - 3 * DAY,
        &mut totals,
    )?;
    // The town official reads the case escalated in the merge scenario
    // yesterday evening and accepts it; its handler is named today.
    officials::accept(
        state,
        &officers[0],
        &escalated,
        at(today - DAY, 19),
        &mut actions,
    )?;

    let reconnecting = bar(phones.len() as u64, "reconnecting");
    for phone in phones.iter_mut() {
        sync_phone(phone, url, &mut totals)?;
        reconnecting.inc(1);
    }
    reconnecting.finish();

    Ok(Outcome {
        town_name: focus_town.name.to_owned(),
        town_code: focus_town.code.to_string(),
        village_code: focus_village.to_string(),
        towns: towns
            .iter()
            .map(|t| (t.code.to_string(), t.name.to_owned()))
            .collect(),
        town_token,
        district_token,
        supervisor_token,
        field_link,
        field_cadre: field_cadre.to_owned(),
        field_token,
        cli_cadre: cli_cadre.to_owned(),
        cli_token,
        phones: phones.len() + 1,
        records: totals.records + 4,
        syncs: totals.syncs,
        ws_syncs: totals.ws_syncs,
        bytes_up: totals.bytes_up,
        bytes_down: totals.bytes_down,
        conflicts,
        actions,
    })
}

/// Two phones of the same village edit the same four cases offline; a town
/// office computer follows one case over WebSocket. Returns how each
/// merged, and the case that ended escalated to the town.
#[allow(clippy::too_many_arguments)]
fn conflicts(
    state: &State,
    url: &str,
    handle: &tokio::runtime::Handle,
    a: &mut Phone,
    b: &mut Phone,
    town_token: &str,
    day_start: Millis,
    totals: &mut Totals,
) -> Result<(Vec<Conflict>, DocumentId), CliError> {
    let _ = state;
    let progress = bar(6, "conflicts");
    // Four different disputes, each between its own parties and of the
    // category its title says: none is a possible duplicate of another.
    let cases = [
        (
            "风险分歧 · 山林权属争议",
            Category::Land,
            "楼国平",
            "骆秀英",
        ),
        (
            "同时调解 · 邻里排水纠纷",
            Category::Neighbor,
            "何志强",
            "罗桂兰",
        ),
        (
            "化解与上报 · 承包地流转纠纷",
            Category::Land,
            "朱海峰",
            "林春燕",
        ),
        (
            "同改描述 · 宅基地边界纠纷",
            Category::Land,
            "郭立新",
            "胡小红",
        ),
    ];
    let mut ids = Vec::new();
    for (i, (title, category, applicant, respondent)) in cases.iter().enumerate() {
        let dispute = NewDispute {
            village: a.village.clone(),
            title: (*title).to_owned(),
            description: "双方因界址不清发生争执。".to_owned(),
            category: *category,
            risk: Risk::Low,
            parties: vec![
                Party::new(*applicant, PartyRole::Applicant),
                Party::new(*respondent, PartyRole::Respondent),
            ],
            assignees: vec![a.person.clone(), b.person.clone()],
        };
        let author = Author::new(a.person.clone(), at(day_start, 9) + i as i64);
        ids.push(
            a.replica
                .create(|doc| create_dispute(doc, &author, &dispute))
                .map_err(|e| CliError::new(e.to_string()))?,
        );
    }
    // The first case reported again, by the other cadre who had not heard
    // of it: a true possible duplicate (same village, category and parties,
    // an hour apart) for the dashboard to suggest.
    let (_, category, applicant, respondent) = cases[0];
    let again = NewDispute {
        village: b.village.clone(),
        title: "山林界址争议（楼国平、骆秀英）".to_owned(),
        description: "两户对山林界址各执一词，申请村里调解。".to_owned(),
        category,
        risk: Risk::Low,
        parties: vec![
            Party::new(respondent, PartyRole::Applicant),
            Party::new(applicant, PartyRole::Respondent),
        ],
        assignees: vec![b.person.clone()],
    };
    let author = Author::new(b.person.clone(), at(day_start, 10));
    b.replica
        .create(|doc| create_dispute(doc, &author, &again))
        .map_err(|e| CliError::new(e.to_string()))?;
    sync_phone(a, url, totals)?;
    sync_phone(b, url, totals)?;
    progress.inc(2);

    // Offline on both phones, the next day.
    let next = day_start + DAY;
    let ea = |h| Author::new(a.person.clone(), at(next, h));
    let eb = |h| Author::new(b.person.clone(), at(next, h));
    let edit = |phone: &Phone,
                id: &DocumentId,
                f: &mut dyn FnMut(&mut AutoCommit) -> Result<(), String>| {
        phone
            .replica
            .edit(id, |doc| f(doc))
            .map_err(|e| CliError::new(e.to_string()))
    };
    let s = |r: Result<Option<automerge::ChangeHash>, record::EditError>| {
        r.map(|_| ()).map_err(|e| e.to_string())
    };
    edit(a, &ids[0], &mut |doc| {
        s(set_risk(doc, &ea(10), Risk::Medium))
    })?;
    edit(b, &ids[0], &mut |doc| s(set_risk(doc, &eb(11), Risk::High)))?;
    edit(a, &ids[1], &mut |doc| {
        s(add_event(
            doc,
            &ea(10),
            &NewEvent::new(EventKind::Mediation).with_note("在村委会组织面对面调解"),
        ))
    })?;
    edit(b, &ids[1], &mut |doc| {
        s(add_event(
            doc,
            &eb(10),
            &NewEvent::new(EventKind::Mediation).with_note("上门走访被申请人了解情况"),
        ))
    })?;
    edit(a, &ids[2], &mut |doc| {
        s(add_event(
            doc,
            &ea(10),
            &NewEvent::new(EventKind::Resolved).with_outcome("双方同意按原界址执行"),
        ))
    })?;
    edit(b, &ids[2], &mut |doc| {
        s(add_event(
            doc,
            &eb(15),
            &NewEvent::escalated(Level::Town).with_note("一方反悔，提请镇里协调"),
        ))
    })?;
    edit(a, &ids[3], &mut |doc| {
        s(set_description(
            doc,
            &ea(10),
            "双方因界址不清发生争执。已现场勘查，界桩清晰。",
        ))
    })?;
    edit(b, &ids[3], &mut |doc| {
        s(set_description(
            doc,
            &eb(11),
            "【双方同意调解】双方因界址不清发生争执。",
        ))
    })?;
    let before: Vec<(record::Dispute, record::Dispute)> = ids
        .iter()
        .map(|id| Ok((dispute_of(&a.replica, id)?, dispute_of(&b.replica, id)?)))
        .collect::<Result<_, CliError>>()?;
    progress.inc(1);

    // The town office follows the description case over WebSocket and adds a note.
    let ws_url = format!(
        "{}/v1/ws?token={town_token}",
        url.replacen("http://", "ws://", 1)
    );
    let followed = ids[3].clone();
    let office_note = handle.block_on(async {
        let mut client = RepoClient::connect(&ws_url, "town-office-computer").await?;
        let mut holdings = Holdings::default();
        client
            .fetch(
                &mut holdings,
                std::slice::from_ref(&followed),
                Duration::from_secs(30),
            )
            .await?;
        if let Some(doc) = holdings.docs.get_mut(&followed) {
            doc.set_actor(automerge::ActorId::random());
            add_event(
                doc,
                &Author::new("town-fengqiao", at(next, 16)),
                &NewEvent::new(EventKind::Note).with_note("镇综治中心已关注此案"),
            )
            .map_err(|e| crate::ws_client::ClientError::Protocol(e.to_string()))?;
        }
        client
            .sync_all(&mut holdings, Duration::from_secs(30))
            .await?;
        client.close().await;
        Ok::<_, crate::ws_client::ClientError>(())
    });
    office_note
        .map_err(|e| CliError::new(format!("the town office computer could not sync: {e}")))?;
    totals.ws_syncs += 1;
    totals.syncs += 1;
    progress.inc(1);

    // Signal returns: A, then B, then A again.
    sync_phone(a, url, totals)?;
    sync_phone(b, url, totals)?;
    sync_phone(a, url, totals)?;
    progress.inc(2);
    progress.finish();

    let mut out = Vec::new();
    for (i, (id, (da, db))) in ids.iter().zip(before).enumerate() {
        let merged_a = dispute_of(&a.replica, id)?;
        let merged_b = dispute_of(&b.replica, id)?;
        let same = merged_a == merged_b;
        let mut lines = Vec::new();
        match i {
            0 => {
                lines.push(format!("{} set risk: {}", a.name, risk_text(&da)));
                lines.push(format!("{} set risk: {}", b.name, risk_text(&db)));
                lines.push(format!(
                    "merged: {} — the higher risk wins (safety first)",
                    risk_text(&merged_a)
                ));
            }
            1 => {
                lines.push(format!(
                    "{} and {} each recorded a mediation the same day",
                    a.name, b.name
                ));
                let mediations: Vec<String> = merged_a
                    .timeline()
                    .iter()
                    .filter(|e| e.kind == EventKind::Mediation)
                    .map(|e| {
                        let by = if e.by == a.person {
                            a.name.as_str()
                        } else if e.by == b.person {
                            b.name.as_str()
                        } else {
                            e.by.as_str()
                        };
                        format!(
                            "{} {} by {by}: {}",
                            e.kind,
                            e.kind.label_zh(),
                            e.note.clone().unwrap_or_default()
                        )
                    })
                    .collect();
                lines.push(format!(
                    "merged: both kept, in the same order on every phone ({})",
                    mediations.len()
                ));
                lines.extend(mediations.into_iter().map(|m| format!("  · {m}")));
            }
            2 => {
                lines.push(format!(
                    "{} recorded resolved at 10:00 → {}",
                    a.name,
                    status_text(&da)
                ));
                lines.push(format!(
                    "{} recorded escalated to town at 15:00 → {}",
                    b.name,
                    status_text(&db)
                ));
                lines.push(format!(
                    "merged: {} — status folds the timeline in time order; both events are kept",
                    status_text(&merged_a)
                ));
            }
            _ => {
                lines.push(format!("{} wrote: {}", a.name, da.description));
                lines.push(format!("{} wrote: {}", b.name, db.description));
                lines.push(format!("merged text: {}", merged_a.description));
                for event in merged_a
                    .timeline()
                    .iter()
                    .filter(|e| e.kind == EventKind::Note)
                {
                    lines.push(format!(
                        "the town office added over WebSocket: {}",
                        event.note.clone().unwrap_or_default()
                    ));
                }
            }
        }
        lines.push(format!(
            "both phones now hold {}",
            if same {
                "the same record"
            } else {
                "DIFFERENT records (a bug!)"
            }
        ));
        out.push(Conflict {
            title: cases[i].0.to_owned(),
            id: id.clone(),
            lines,
        });
    }
    // The case one phone resolved and the other escalated to the town.
    Ok((out, ids[2].clone()))
}
