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

/// Apps embedding the client library run on other origins (a Capacitor
/// shell, a township portal): browsers must be let through to the device
/// routes with a bearer token, and to nothing else.
#[test]
fn device_routes_answer_apps_on_other_origins() {
    let server = TestServer::start();
    let (_, token) = server.enroll("cadre-a", Role::Cadre, "500110101001");
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let preflight = |path: &str| {
        let request = ureq::http::Request::builder()
            .method("OPTIONS")
            .uri(format!("{}{path}", server.url()))
            .header("Origin", "capacitor://localhost")
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization,content-type,content-encoding",
            )
            .body(())
            .unwrap();
        let response = agent.run(request).expect("the server answers");
        let allowed = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_ascii_lowercase()
        };
        (
            response.status().as_u16(),
            allowed("access-control-allow-origin"),
            allowed("access-control-allow-headers"),
        )
    };
    for path in ["/v1/sync", "/v1/me", "/v1/people"] {
        let (status, origin, headers) = preflight(path);
        assert!(status < 300, "{path}: {status}");
        assert_eq!(origin, "*", "{path}");
        assert!(headers.contains("authorization"), "{path}: {headers}");
        assert!(headers.contains("content-encoding"), "{path}: {headers}");
    }
    let (_, origin, _) = preflight("/v1/admin/devices");
    assert_eq!(origin, "", "admin routes stay same-origin");
    let (_, origin, _) = preflight("/dashboard/login");
    assert_eq!(origin, "", "the dashboard stays same-origin");

    let response = agent
        .get(&format!("{}/v1/me", server.url()))
        .header("Origin", "capacitor://localhost")
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("answers");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("*")
    );
    assert!(
        response
            .headers()
            .get("access-control-allow-credentials")
            .is_none(),
        "no cookies across origins"
    );
}
