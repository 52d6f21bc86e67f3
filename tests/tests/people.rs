//! `GET /v1/people`: the names phones show for the people they work beside.

use fengqiao_shared::access::Role;
use fengqiao_tests::TestServer;
use serde_json::Value;

fn get(server: &TestServer, path: &str, token: Option<&str>) -> (u16, Value) {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let mut request = agent.get(&format!("{}{path}", server.url()));
    if let Some(token) = token {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let mut response = request.call().expect("the server answers");
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_json().unwrap_or(Value::Null),
    )
}

fn ids(answer: &Value) -> Vec<String> {
    answer["people"]
        .as_array()
        .expect("a list of people")
        .iter()
        .map(|p| p["id"].as_str().expect("an id").to_owned())
        .collect()
}

#[test]
fn a_device_learns_the_names_of_people_of_its_own_places_only() {
    let server = TestServer::start();
    let (_, cadre) = server.enroll("cadre-a", Role::Cadre, "500110101001");
    server.enroll("cadre-b", Role::Cadre, "500110101001");
    server.enroll("cadre-next-village", Role::Cadre, "500110101002");
    server.enroll("cadre-other-town", Role::Cadre, "500110102001");
    let (_, town) = server.enroll("town-official", Role::Town, "500110101");
    server.enroll("district-official", Role::District, "500110");

    let (status, answer) = get(&server, "/v1/people", Some(&cadre));
    assert_eq!(status, 200);
    assert_eq!(
        ids(&answer),
        ["cadre-a", "cadre-b", "district-official", "town-official"],
        "the village's cadres and the officials above it; nobody of other villages"
    );
    let first = &answer["people"][0];
    assert_eq!(first["name"], "cadre-a");
    assert_eq!(
        first.as_object().map(|o| o.len()),
        Some(2),
        "ids and names only: {first}"
    );

    let (_, answer) = get(&server, "/v1/people", Some(&town));
    assert_eq!(
        ids(&answer),
        [
            "cadre-a",
            "cadre-b",
            "cadre-next-village",
            "district-official",
            "town-official"
        ],
        "a town official sees the town's villages, not another town's"
    );

    let (status, answer) = get(&server, "/v1/people", None);
    assert_eq!(status, 401);
    assert_eq!(answer["code"], "unauthorized");
}

#[test]
fn a_revoked_device_no_longer_places_its_holder() {
    let server = TestServer::start();
    let (_, cadre) = server.enroll("cadre-a", Role::Cadre, "500110101001");
    let (moved, _) = server.enroll("cadre-moved", Role::Cadre, "500110101001");
    server.directory().revoke(&moved).expect("revoked");
    let (_, answer) = get(&server, "/v1/people", Some(&cadre));
    assert_eq!(ids(&answer), ["cadre-a"]);
}
