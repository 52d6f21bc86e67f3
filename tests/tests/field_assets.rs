//! The field app is served by the binary itself, with a policy that lets
//! nothing but its own files run.

use fengqiao_tests::TestServer;
use serde_json::Value;

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn get(server: &TestServer, path: &str) -> Answer {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let mut response = agent
        .get(&format!("{}{path}", server.url()))
        .call()
        .expect("the server answers");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .expect("a body");
    Answer {
        status,
        headers,
        body,
    }
}

#[test]
fn the_app_and_every_file_it_lists_are_served_with_a_strict_policy() {
    let server = TestServer::start();
    for path in ["/field", "/field/"] {
        let page = get(&server, path);
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        let csp = page.header("content-security-policy").expect("a policy");
        assert!(
            csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("connect-src 'self'"), "{csp}");
        let html = String::from_utf8_lossy(&page.body);
        assert!(html.contains("<script type=\"module\" src="), "{html}");
        // Every script is a file: an inline one would not run under the policy.
        for tag in html.split("<script").skip(1) {
            let open = tag.split('>').next().unwrap_or_default();
            assert!(open.contains("src="), "an inline script: <script{open}>");
        }
        assert!(!html.contains("style=\""), "inline styles break the policy");
    }

    let listed: Value = serde_json::from_slice(&get(&server, "/field/assets.json").body)
        .expect("assets.json is JSON");
    let version = listed["version"].as_str().expect("a version");
    assert!(version.len() >= 8, "{version}");
    let files = listed["files"].as_array().expect("a file list");
    assert!(files.len() >= 6, "{files:?}");
    for file in files {
        let name = file.as_str().expect("a file name");
        let answer = get(&server, &format!("/field/{name}"));
        assert_eq!(answer.status, 200, "{name}");
        assert!(!answer.body.is_empty(), "{name}");
    }

    let worker = get(&server, "/field/sw.js");
    assert_eq!(worker.header("service-worker-allowed"), Some("/field"));
    assert_eq!(worker.header("cache-control"), Some("no-cache"));
    assert!(
        String::from_utf8_lossy(&worker.body).contains(version),
        "the service worker names the version it caches"
    );
    let wasm = get(&server, "/field/automerge.wasm");
    assert_eq!(wasm.header("content-type"), Some("application/wasm"));
    assert_eq!(&wasm.body[..4], b"\0asm");
    assert_eq!(
        get(&server, "/field/manifest.webmanifest").header("content-type"),
        Some("application/manifest+json")
    );

    for missing in [
        "/field/nope.js",
        "/field/..%2Fdashboard",
        "/field/app.js.map",
    ] {
        let answer = get(&server, missing);
        assert_eq!(answer.status, 404, "{missing}");
    }
}
