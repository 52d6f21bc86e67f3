//! The closed loop from end to end: a cadre's phone escalates a case to the
//! town; a town official, signed in to the dashboard, accepts it, assigns a
//! handler and sets a 督办 deadline through the action API; the cadre's
//! phone sees all of it after its next sync, with the official named as
//! the author; a supervisor and a cadre are refused; a cross-site request
//! is refused; the audit trail reads in Chinese with people by name; and
//! lists carry each case's deadline, ordered by it.

mod township;

use std::time::{SystemTime, UNIX_EPOCH};

use fengqiao_shared::access::Role;
use fengqiao_shared::record::{Author, NewEvent, add_event};
use fengqiao_shared::vocab::{EventKind, Level, Stage, Status};
use fengqiao_tests::{DAY, Phone, TestServer};
use serde_json::{Value, json};
use township::{Auth, VILLAGE_A, agent, get, post, sign_in};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn act(server: &TestServer, id: &str, auth: Auth<'_>, body: Value) -> (u16, Value) {
    post(
        server,
        &format!("/v1/records/{id}/actions"),
        auth,
        &body.to_string(),
    )
}

#[test]
fn a_town_official_accepts_assigns_and_supervises_and_the_phone_sees_it() {
    let server = TestServer::start();
    let directory = server.directory();
    directory
        .add_person("cadre-li", "李梅", None)
        .expect("person");
    directory
        .add_person("town-wang", "王建国", None)
        .expect("person");
    directory
        .add_person("jian-zhao", "赵监督", None)
        .expect("person");
    let (cadre_device, cadre_token) = server.enroll("cadre-li", Role::Cadre, VILLAGE_A);
    let (_, town_token) = server.enroll("town-wang", Role::Town, "500110101");
    let (_, supervisor_token) = server.enroll("jian-zhao", Role::Supervisor, "500110101");

    // The cadre reports a dispute and escalates it to the town, then syncs.
    let mut phone = Phone::enrolled("cadre-li", cadre_device, &cadre_token);
    let reported = now() - 2 * DAY;
    let id = phone.report(VILLAGE_A, "宅基地边界纠纷", reported);
    phone
        .replica
        .edit(&id, |doc| {
            add_event(
                doc,
                &Author::new("cadre-li", reported + 3_600_000),
                &NewEvent::escalated(Level::Town).with_note("需镇综治中心协调"),
            )
        })
        .expect("escalated");
    phone.sync(&server.url());
    let case = id.to_string();

    let (cookie, _) = sign_in(&server, &town_token);
    let town = Auth::Cookie(&cookie);
    let (status, listed) = get(
        &server,
        "/v1/records?stage=pending&level=town&sort=deadline",
        Auth::Cookie(&cookie),
    );
    assert_eq!(status, 200, "{listed}");
    let items = listed["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["deadline"]["kind"], "accept");
    assert_eq!(items[0]["deadline"]["daysLeft"], 1, "{listed}");

    // A supervisor and the cadre may not act; neither may another site.
    let (supervisor_cookie, _) = sign_in(&server, &supervisor_token);
    let (status, refused) = act(
        &server,
        &case,
        Auth::Cookie(&supervisor_cookie),
        json!({"action": "accept"}),
    );
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["code"], "forbidden");
    let (status, _) = act(
        &server,
        &case,
        Auth::Bearer(&cadre_token),
        json!({"action": "accept"}),
    );
    assert_eq!(status, 403);
    let cross_site = agent()
        .post(format!("{}/v1/records/{case}/actions", server.url()))
        .header("Content-Type", "application/json")
        .header("Cookie", &cookie)
        .header("Sec-Fetch-Site", "cross-site")
        .send(json!({"action": "accept"}).to_string())
        .expect("answer");
    assert_eq!(cross_site.status().as_u16(), 403);

    // Archiving an open case does not fit; a return needs its reason.
    let (status, body) = act(&server, &case, town, json!({"action": "archive"}));
    assert_eq!(status, 409, "{body}");
    let (status, _) = act(&server, &case, town, json!({"action": "return"}));
    assert_eq!(status, 400);

    // Accept, assign, supervise.
    let (status, body) = act(
        &server,
        &case,
        town,
        json!({"action": "accept", "note": "同意受理"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["stage"], "accepted");
    assert_eq!(body["deadline"]["kind"], "conclude");
    let (status, again) = act(&server, &case, town, json!({"action": "accept"}));
    assert_eq!(status, 409, "accepting twice: {again}");
    let (status, people) = get(
        &server,
        &format!("/v1/records/{case}/assignable"),
        Auth::Cookie(&cookie),
    );
    assert_eq!(status, 200);
    let names: Vec<&str> = people["people"]
        .as_array()
        .expect("people")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(names.contains(&"李梅"), "{people}");
    assert!(
        !names.contains(&"赵监督"),
        "a supervisor handles no case: {people}"
    );
    let (status, body) = act(
        &server,
        &case,
        town,
        json!({"action": "assign", "person": "nobody"}),
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = act(
        &server,
        &case,
        town,
        json!({"action": "assign", "person": "cadre-li", "note": "请李梅承办"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["stage"], "handling");
    let due = now() + 5 * DAY;
    let (status, body) = act(
        &server,
        &case,
        town,
        json!({"action": "supervise", "note": "请五日内办结", "due": due}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["deadline"]["kind"], "supervision");
    assert_eq!(body["deadline"]["daysLeft"], 4);

    // The phone sees every action after its next sync, authored by the
    // town official.
    phone.sync(&server.url());
    let record = phone.replica.record(&id).expect("record");
    let dispute = record.as_dispute().expect("a dispute");
    assert_eq!(dispute.stage(), Stage::Handling);
    assert_eq!(dispute.status(), Status::Escalated);
    assert!(dispute.assignees.contains("cadre-li"));
    assert_eq!(dispute.case_status().supervision_due, Some(due));
    let timeline: Vec<(EventKind, &str)> = dispute
        .timeline()
        .into_iter()
        .map(|e| (e.kind, e.by.as_str()))
        .collect();
    assert_eq!(
        timeline,
        [
            (EventKind::Reported, "cadre-li"),
            (EventKind::Escalated, "cadre-li"),
            (EventKind::Accepted, "town-wang"),
            (EventKind::Assigned, "town-wang"),
            (EventKind::Supervised, "town-wang"),
        ]
    );
    let summary = phone
        .replica
        .list(&Default::default())
        .expect("list")
        .into_iter()
        .find(|s| s.id == id)
        .expect("listed");
    assert_eq!(summary.supervision_due, Some(due));

    // The supervisor reads the case, with its audit trail in Chinese and
    // people by name; it may not act.
    let (status, file) = get(
        &server,
        &format!("/v1/records/{case}/case"),
        Auth::Cookie(&supervisor_cookie),
    );
    assert_eq!(status, 200, "{file}");
    assert_eq!(file["canAct"], false);
    assert_eq!(file["people"]["town-wang"]["name"], "王建国");
    assert_eq!(file["people"]["town-wang"]["role"], "town");
    assert_eq!(file["people"]["cadre-li"]["name"], "李梅");
    let trail: Vec<&str> = file["history"]
        .as_array()
        .expect("the supervisor reads the audit trail")
        .iter()
        .filter_map(|e| e["textZh"].as_str())
        .collect();
    assert!(trail.contains(&"记录事件：受理"), "{trail:?}");
    assert!(trail.contains(&"分派承办人：李梅"), "{trail:?}");
    assert!(trail.contains(&"记录事件：督办"), "{trail:?}");
    let times: Vec<i64> = file["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|e| e["at"].as_i64())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let events = file["timeline"]["events"].as_array().expect("events");
    assert_eq!(events[3]["assignee"], "cadre-li");
    assert_eq!(events[4]["due"], due);
    let (_, town_file) = get(
        &server,
        &format!("/v1/records/{case}/case"),
        Auth::Cookie(&cookie),
    );
    assert_eq!(town_file["canAct"], true);
}

#[test]
fn a_town_sets_its_own_time_limits_and_late_cases_sort_by_how_late() {
    let server = TestServer::start();
    let admin = server.admin_token();
    let org = "[[district]]\ncode = \"500110\"\nname = \"綦江区\"\n\
               [[town]]\ncode = \"500110101\"\nname = \"第101镇\"\nconclude_days = 10\n";
    let (status, body) = post(
        &server,
        "/v1/admin/org",
        Auth::Bearer(&admin),
        &json!({"format": "toml", "text": org}).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    let (_, town_token) = server.enroll("town-wang", Role::Town, "500110101");
    let mut phone = Phone::new("cadre-li");
    let older = phone.report(VILLAGE_A, "较早的纠纷", now() - 14 * DAY);
    let newer = phone.report(VILLAGE_A, "较晚的纠纷", now() - 12 * DAY);
    let fresh = phone.report(VILLAGE_A, "新纠纷", now() - DAY);
    phone.sync(&server.url());
    let (status, listed) = get(
        &server,
        "/v1/records?late=true&sort=deadline",
        Auth::Bearer(&town_token),
    );
    assert_eq!(status, 200, "{listed}");
    let items = listed["items"].as_array().expect("items");
    let ids: Vec<&str> = items.iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(ids, [older.as_str(), newer.as_str()], "{listed}");
    assert_eq!(items[0]["deadline"]["daysLeft"], -5, "{listed}");
    assert_eq!(items[1]["deadline"]["daysLeft"], -3);
    let (_, all) = get(
        &server,
        "/v1/records?sort=deadline",
        Auth::Bearer(&town_token),
    );
    let last = all["items"].as_array().expect("items").last().cloned();
    assert_eq!(
        last.as_ref().map(|i| i["id"].clone()),
        Some(json!(fresh.as_str()))
    );
    assert_eq!(
        last.map(|i| i["deadline"]["daysLeft"].clone()),
        Some(json!(8))
    );
}
