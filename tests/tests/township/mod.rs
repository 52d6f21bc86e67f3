//! A township's worth of records for the statistics, export and dashboard
//! tests: disputes and household visits in several villages of two towns,
//! reported by cadres on phones and synced through the server, and officials
//! enrolled at every level.
//!
//! The records are generated from a fixed seed, so every run sees the same
//! data; they cover every status (including escalations to town and
//! district), every category and risk, overdue and high-risk cases, parties
//! shared between cases of one village (possible duplicates), a few linked
//! duplicates, visits of every sentiment with pending and done follow-ups.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::time::Duration;

use fengqiao_protocol::{DocumentId, Scope, VillageCode};
use fengqiao_shared::access::Role;
use fengqiao_shared::record::{
    NewDispute, NewEvent, NewVisit, Party, add_event, create_dispute, create_visit,
    mark_follow_up_done, set_duplicate_of,
};
use fengqiao_shared::replica::RecordFilter;
use fengqiao_shared::vocab::{Category, EventKind, Level, PartyRole, Risk, Sentiment, Topic};
use fengqiao_shared::{Millis, Summary};
use fengqiao_tests::{DAY, Phone, T0, TestServer};
use serde_json::Value;

pub const DISTRICT: &str = "500110";
pub const TOWN_1: &str = "500110101";
pub const TOWN_2: &str = "500110102";
/// The village whose cadre is enrolled.
pub const VILLAGE_A: &str = "500110101001";

/// The villages records are generated in: four of town 1, three of town 2.
pub const VILLAGES: &[&str] = &[
    "500110101001",
    "500110101002",
    "500110101003",
    "500110101004",
    "500110102001",
    "500110102002",
    "500110102003",
];

/// Party names; a small pool, so cases of one village share parties.
const NAMES: &[&str] = &[
    "王建国",
    "李秀英",
    "张伟",
    "刘洋",
    "陈静",
    "杨军",
    "赵磊",
    "黄敏",
    "周强",
    "吴芳",
    "徐涛",
    "孙丽",
    "马超",
    "朱红",
    "胡斌",
    "郭燕",
];

const TITLES: &[&str] = &[
    "宅基地边界争议",
    "相邻通行纠纷",
    "婚姻家庭矛盾",
    "民间借贷纠纷",
    "务工工资拖欠",
    "土地承包合同纠纷",
    "牲畜损害庄稼赔偿",
    "养殖污水排放",
    "山林权属争议",
];

/// A deterministic pseudo-random sequence (a linear congruential generator).
pub struct Seeded(u64);

impl Seeded {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.next(items.len() as u64) as usize]
    }
}

/// Tokens of officials at every level.
pub struct Officials {
    /// A cadre of [`VILLAGE_A`].
    pub cadre_a: String,
    /// A town official of [`TOWN_1`].
    pub town_1: String,
    /// A town official of [`TOWN_2`].
    pub town_2: String,
    /// A district official (read-only) of [`DISTRICT`].
    pub district: String,
    /// A supervisor of [`TOWN_1`].
    pub supervisor_1: String,
}

impl Officials {
    pub fn enroll(server: &TestServer) -> Self {
        Self {
            cadre_a: server.enroll("cadre-a", Role::Cadre, VILLAGE_A).1,
            town_1: server.enroll("official-t1", Role::Town, TOWN_1).1,
            town_2: server.enroll("official-t2", Role::Town, TOWN_2).1,
            district: server.enroll("official-d", Role::District, DISTRICT).1,
            supervisor_1: server.enroll("supervisor-t1", Role::Supervisor, TOWN_1).1,
        }
    }
}

/// What was generated.
pub struct Township {
    pub disputes: Vec<DocumentId>,
    pub visits: Vec<DocumentId>,
    /// `(duplicate, original)` links made by cadres.
    pub linked: Vec<(DocumentId, DocumentId)>,
}

fn dispute_events(rng: &mut Seeded) -> Vec<(i64, NewEvent)> {
    let step = |rng: &mut Seeded| (1 + rng.next(10) as i64) * DAY;
    let mut at = 0;
    let mut events = Vec::new();
    let mut push = |rng: &mut Seeded, event: NewEvent, events: &mut Vec<(i64, NewEvent)>| {
        at += step(rng);
        events.push((at, event));
    };
    match rng.next(8) {
        0 | 1 => {}
        2 => push(rng, NewEvent::new(EventKind::Mediation), &mut events),
        3 | 4 => {
            push(rng, NewEvent::new(EventKind::Mediation), &mut events);
            push(
                rng,
                NewEvent::new(EventKind::Resolved).with_outcome("双方达成和解"),
                &mut events,
            );
        }
        5 => {
            push(rng, NewEvent::escalated(Level::Town), &mut events);
            push(rng, NewEvent::new(EventKind::Agreement), &mut events);
        }
        6 => {
            push(rng, NewEvent::new(EventKind::Mediation), &mut events);
            push(rng, NewEvent::new(EventKind::Failed), &mut events);
        }
        _ => push(rng, NewEvent::escalated(Level::District), &mut events),
    }
    if rng.next(4) == 0 {
        let satisfied = rng.next(2) == 0;
        push(rng, NewEvent::followup(satisfied), &mut events);
    }
    events
}

/// Reports `per_village` records in each of [`VILLAGES`] on phones, and
/// syncs them to the server.
pub fn populate(server: &TestServer, per_village: usize) -> Township {
    let mut rng = Seeded::new(20_260_921);
    let mut township = Township {
        disputes: Vec::new(),
        visits: Vec::new(),
        linked: Vec::new(),
    };
    for (v, village) in VILLAGES.iter().enumerate() {
        let mut phone = Phone::new(&format!("cadre-{village}"));
        let code = VillageCode::new(village).expect("village code");
        let mut village_disputes: Vec<(DocumentId, Millis)> = Vec::new();
        for n in 0..per_village {
            let created = T0 - rng.next(200) as i64 * DAY - rng.next(DAY as u64) as i64;
            let author = phone.author(created);
            if rng.next(3) < 2 {
                let first = *rng.pick(NAMES);
                let second = *rng.pick(NAMES);
                let mut parties = vec![Party::new(first, PartyRole::Applicant)];
                if second != first {
                    parties.push(Party::new(second, PartyRole::Respondent));
                }
                let dispute = NewDispute {
                    village: code.clone(),
                    title: format!("{}（{v}-{n}）", rng.pick(TITLES)),
                    description: "村民反映情况，调解员已登记。".to_owned(),
                    category: *rng.pick(Category::ALL),
                    risk: *rng.pick(Risk::ALL),
                    parties,
                    assignees: vec![phone.cadre.clone()],
                };
                let events = dispute_events(&mut rng);
                let id = phone
                    .replica
                    .create(|doc| {
                        create_dispute(doc, &author, &dispute)?;
                        for (offset, event) in &events {
                            add_event(doc, &phone.author(created + offset), event)?;
                        }
                        Ok::<_, fengqiao_shared::record::EditError>(())
                    })
                    .expect("dispute created");
                // Now and then a cadre finds a case reported twice.
                if rng.next(12) == 0
                    && let Some((original, _)) = village_disputes.last()
                {
                    let original = original.clone();
                    let author = phone.author(created + DAY);
                    phone
                        .replica
                        .edit(&id, |doc| set_duplicate_of(doc, &author, Some(&original)))
                        .expect("duplicate linked");
                    township.linked.push((id.clone(), original));
                }
                village_disputes.push((id.clone(), created));
                township.disputes.push(id);
            } else {
                let visited = created;
                let needed = rng.next(3) == 0;
                let topics: BTreeSet<Topic> = (0..1 + rng.next(3))
                    .map(|_| *rng.pick(Topic::ALL))
                    .collect();
                let visit = NewVisit {
                    village: code.clone(),
                    visited_at: visited,
                    household: format!("第{}组 {}家", 1 + rng.next(6), rng.pick(NAMES)),
                    group: None,
                    topics,
                    sentiment: *rng.pick(Sentiment::ALL),
                    notes: "走访了解家庭生产生活情况。".to_owned(),
                    follow_up_needed: needed,
                    follow_up_due: needed.then(|| visited + 7 * DAY),
                    linked_dispute: None,
                };
                let done = needed && rng.next(2) == 0;
                let id = phone
                    .replica
                    .create(|doc| {
                        create_visit(doc, &author, &visit)?;
                        if done {
                            mark_follow_up_done(doc, &phone.author(visited + 3 * DAY))?;
                        }
                        Ok::<_, fengqiao_shared::record::EditError>(())
                    })
                    .expect("visit created");
                township.visits.push(id);
            }
        }
        let report = phone.sync(&server.url());
        assert_eq!(
            report.acknowledged(),
            per_village,
            "every record of {village} is stored"
        );
    }
    township
}

/// A phone with the development token that has synced every record: the
/// summaries it computes are the reference the server's answers are checked
/// against.
pub fn observer(server: &TestServer) -> Phone {
    let mut phone = Phone::new("observer");
    phone.sync(&server.url());
    phone
}

/// Every summary the observer holds, in `scope`.
pub fn summaries_in(phone: &Phone, scope: &str) -> Vec<Summary> {
    let scope = Scope::parse(scope).expect("scope");
    phone
        .replica
        .list(&RecordFilter::default())
        .expect("summaries")
        .into_iter()
        .filter(|s| scope.contains(&s.village))
        .collect()
}

/// An HTTP client that reports statuses instead of failing on them.
pub fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build(),
    )
}

/// How a request authenticates.
#[derive(Clone, Copy)]
pub enum Auth<'a> {
    None,
    Bearer(&'a str),
    Cookie(&'a str),
}

/// A GET: the status and the body's bytes.
pub fn get_bytes(
    server: &TestServer,
    path: &str,
    auth: Auth<'_>,
) -> (u16, Vec<u8>, ureq::http::HeaderMap) {
    let mut request = agent().get(format!("{}{path}", server.url()));
    match auth {
        Auth::None => {}
        Auth::Bearer(token) => request = request.header("Authorization", format!("Bearer {token}")),
        Auth::Cookie(cookie) => request = request.header("Cookie", cookie),
    }
    let mut response = request.call().expect("request completes");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(256 * 1024 * 1024)
        .read_to_vec()
        .expect("body");
    (status, bytes, headers)
}

/// A GET of JSON: the status and the parsed body.
pub fn get(server: &TestServer, path: &str, auth: Auth<'_>) -> (u16, Value) {
    let (status, bytes, _) = get_bytes(server, path, auth);
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{path} answered {status} with a body that is not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, body)
}

/// A POST of JSON: the status and the parsed body (`Null` when empty).
/// With the cookie it says it comes from the dashboard's own page, as a
/// browser does.
pub fn post(server: &TestServer, path: &str, auth: Auth<'_>, body: &str) -> (u16, Value) {
    let mut request = agent()
        .post(format!("{}{path}", server.url()))
        .header("Content-Type", "application/json");
    match auth {
        Auth::None => {}
        Auth::Bearer(token) => request = request.header("Authorization", format!("Bearer {token}")),
        Auth::Cookie(cookie) => {
            request = request
                .header("Cookie", cookie)
                .header("Sec-Fetch-Site", "same-origin")
        }
    }
    let mut response = request.send(body).expect("request completes");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
    };
    (status, body)
}

/// Signs in to the dashboard with `token`; returns the `Cookie` header
/// value of the session and the `Set-Cookie` header it came from.
pub fn sign_in(server: &TestServer, token: &str) -> (String, String) {
    let mut response = agent()
        .post(format!("{}/dashboard/login", server.url()))
        .header("Content-Type", "application/json")
        .send(serde_json::json!({ "token": token }).to_string())
        .expect("login completes");
    assert_eq!(response.status().as_u16(), 200, "login accepted");
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie")
        .to_owned();
    let _ = response.body_mut().read_to_string();
    let pair = set_cookie
        .split(';')
        .next()
        .expect("name=value")
        .trim()
        .to_owned();
    (pair, set_cookie)
}

/// A value as JSON text and back: how any client sees it (floats included).
pub fn as_seen<T: serde::Serialize>(value: &T) -> Value {
    serde_json::from_str(&serde_json::to_string(value).expect("serialises")).expect("parses")
}
