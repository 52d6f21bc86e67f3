//! `fengqiao admin …` against a running `fengqiao serve`.

mod common;

use common::{ADMIN, ServerProcess, fengqiao};

fn admin(server: &ServerProcess, args: &[&str]) -> (bool, String, String) {
    let output = fengqiao()
        .args(["admin", "--server", &server.url, "--admin-token", ADMIN])
        .args(args)
        .output()
        .expect("fengqiao admin runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn an_admin_sets_up_a_district_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path());
    let org = dir.path().join("org.toml");
    std::fs::write(
        &org,
        "[[district]]\ncode = \"500110\"\nname = \"綦江区\"\n\
         [[town]]\ncode = \"500110101\"\nname = \"古南街道\"\n\
         [[village]]\ncode = \"500110101001\"\nname = \"石门村\"\n",
    )
    .unwrap();
    let (ok, out, err) = admin(&server, &["org", "import", org.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("3 added"), "{out}");
    let (ok, out, _) = admin(&server, &["org", "list"]);
    assert!(
        ok && out.contains("石门村") && out.contains("500110101001"),
        "{out}"
    );

    let (ok, _, err) = admin(&server, &["person", "zhang-san", "张三"]);
    assert!(ok, "{err}");
    let (ok, out, err) = admin(
        &server,
        &[
            "enroll",
            "--person",
            "zhang-san",
            "--role",
            "cadre",
            "--scope",
            "500110101001",
        ],
    );
    assert!(ok, "{err}");
    let token = out
        .split_whitespace()
        .find(|w| w.starts_with("fq_"))
        .expect("the token is printed")
        .to_owned();
    assert!(
        out.contains("\"server\""),
        "the set-up payload is printed: {out}"
    );
    assert!(out.contains('█') || out.contains('▀'), "with a QR code");
    let device = out
        .split_whitespace()
        .nth(2)
        .expect("enrolled device <id>")
        .to_owned();

    let (ok, out, _) = admin(&server, &["list"]);
    assert!(
        ok && out.contains(&device) && out.contains("active"),
        "{out}"
    );
    assert!(!out.contains(&token), "tokens are never listed");

    // The token syncs; after revocation it does not.
    let sync = |token: &str| {
        ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build(),
        )
        .post(&format!("{}/v1/sync", server.url))
        .header("Authorization", &format!("Bearer {token}"))
        .send(&fengqiao_protocol::SyncRequest::new(None).encode()[..])
        .unwrap()
        .status()
        .as_u16()
    };
    assert_eq!(sync(&token), 200);
    let (ok, out, err) = admin(&server, &["revoke", &device]);
    assert!(ok, "{err}");
    assert!(out.contains("revoked"));
    assert_eq!(sync(&token), 401);
    let (ok, out, err) = admin(&server, &["list"]);
    assert!(ok && out.contains("revoked"), "{out}{err}");

    // Errors say what to do next.
    let (ok, _, err) = admin(
        &server,
        &[
            "enroll",
            "--person",
            "nobody",
            "--role",
            "cadre",
            "--scope",
            "500110101001",
        ],
    );
    assert!(!ok);
    assert!(
        err.contains("not_found") && err.contains("register the person first"),
        "{err}"
    );
    let output = fengqiao()
        .args([
            "admin",
            "--server",
            &server.url,
            "--admin-token",
            "wrong",
            "list",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("check the token"));
    let (ok, out, _) = admin(&server, &["quarantine"]);
    assert!(ok && out.contains("nothing quarantined"), "{out}");
}
