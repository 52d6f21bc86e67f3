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

/// The token `fengqiao admin enroll|rotate` printed.
fn printed_token(out: &str) -> String {
    out.split_whitespace()
        .find(|w| w.starts_with("fq_"))
        .unwrap_or_else(|| panic!("no token in:\n{out}"))
        .to_owned()
}

/// Runs `fengqiao field --dir DIR ARGS…`; its stdout, or a failure with
/// what it said.
fn field(dir: &std::path::Path, args: &[&str]) -> String {
    let output = fengqiao()
        .arg("field")
        .arg("--dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("fengqiao field runs");
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "fengqiao field {args:?}:\n{out}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

fn batch_status(server: &ServerProcess, token: &str) -> u16 {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    )
    .post(&format!("{}/v1/sync", server.url))
    .header("Authorization", &format!("Bearer {token}"))
    .send(&fengqiao_protocol::SyncRequest::new(None).encode()[..])
    .expect("the server answers")
    .status()
    .as_u16()
}

#[test]
fn an_admin_rotates_reassigns_and_reads_the_audit_trail_from_the_command_line() {
    let work = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&work.path().join("server"));
    common::import_org(&server.url);
    for (id, name, scope) in [
        ("zhang-san", "张三", "500110101001"),
        ("wang-wu", "王五", "500110101"),
    ] {
        let (ok, _, err) = admin(&server, &["person", id, name, "--scope", scope]);
        assert!(ok, "{err}");
    }
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
            "--label",
            "张三的手机",
        ],
    );
    assert!(ok, "{err}");
    let first = printed_token(&out);
    let device = out
        .split_whitespace()
        .nth(2)
        .expect("enrolled device <id>")
        .to_owned();
    let setup = out
        .lines()
        .skip_while(|l| !l.starts_with("set-up payload"))
        .nth(1)
        .expect("the set-up payload")
        .trim()
        .to_owned();
    assert!(setup.starts_with('{'), "{setup}");
    // The link the phone's camera reads from the QR code printed with it.
    let link = out
        .lines()
        .skip_while(|l| !l.starts_with("set-up link"))
        .nth(1)
        .expect("the set-up link")
        .trim()
        .to_owned();
    assert!(
        link.starts_with(&format!("{}/field#setup=", server.url)),
        "{link}"
    );
    assert!(out.contains('▀') || out.contains('▄'), "a QR code: {out}");

    // The phone records a dispute and syncs it with the first token; the
    // command-line phone takes the link as the app does.
    let phone = work.path().join("phone");
    field(&phone, &["init", "--setup", &link]);
    let id = field(
        &phone,
        &[
            "dispute",
            "new",
            "--village",
            "500110101001",
            "--title",
            "宅基地边界纠纷",
            "--category",
            "land",
            "--party",
            "张三:applicant",
            "--at",
            "2025-03-01 09:00",
        ],
    )
    .trim()
    .to_owned();
    field(&phone, &["sync"]);

    // Rotate: a new token is printed, the old one stops, the new one works.
    let (ok, out, err) = admin(&server, &["rotate", &device]);
    assert!(ok, "{err}");
    assert!(out.contains("the old one no longer works"), "{out}");
    let second = printed_token(&out);
    assert_ne!(first, second);
    assert!(out.contains(&second) && out.contains("\"device\""), "{out}");
    assert_eq!(batch_status(&server, &first), 401);
    assert_eq!(batch_status(&server, &second), 200);
    let (ok, _, err) = admin(&server, &["rotate", "not-a-device"]);
    assert!(!ok && err.contains("bad_request"), "{err}");

    // History: the record's audit trail names the person and the device.
    let (ok, out, err) = admin(&server, &["history", &id]);
    assert!(ok, "{err}");
    assert!(
        out.contains("zhang-san 张三") && out.contains("张三的手机"),
        "{out}"
    );
    assert!(out.contains("2025-03-01"), "{out}");
    let unknown = fengqiao_protocol::DocumentId::random().to_string();
    let (ok, _, err) = admin(&server, &["history", &unknown]);
    assert!(!ok && err.contains("not_found"), "{err}");

    // Reassign: to the next village the person does not work in, refused;
    // to the whole town as a town official once the person works there.
    let (ok, _, err) = admin(
        &server,
        &[
            "reassign",
            &device,
            "--role",
            "town",
            "--scope",
            "500110101",
        ],
    );
    assert!(!ok && err.contains("outside"), "{err}");
    let (ok, _, err) = admin(
        &server,
        &["person", "zhang-san", "张三", "--scope", "500110101"],
    );
    assert!(ok, "{err}");
    let (ok, out, err) = admin(
        &server,
        &[
            "reassign",
            &device,
            "--role",
            "town",
            "--scope",
            "500110101",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("is now town over 500110101"), "{out}");
    let (ok, out, _) = admin(&server, &["list"]);
    let row = out
        .lines()
        .find(|l| l.starts_with(&device))
        .unwrap_or_else(|| panic!("no row for {device}:\n{out}"));
    assert!(
        row.contains(" town ") && row.contains("500110101 "),
        "{row}"
    );
    assert!(ok);
    let (ok, _, err) = admin(
        &server,
        &["reassign", &device, "--role", "cadre", "--scope", "500110"],
    );
    assert!(!ok && err.contains("bad_request"), "{err}");

    // --write reaches a district device (and its token writes, see
    // tests/tests/admin_scope.rs); a supervisor cannot be given it.
    let (ok, _, err) = admin(&server, &["person", "li-qu", "李区", "--scope", "500110"]);
    assert!(ok, "{err}");
    let (ok, out, err) = admin(
        &server,
        &[
            "enroll", "--person", "li-qu", "--role", "district", "--scope", "500110", "--write",
        ],
    );
    assert!(ok, "{err}");
    let district = out
        .split_whitespace()
        .nth(2)
        .expect("enrolled device <id>")
        .to_owned();
    let (_, out, _) = admin(&server, &["list"]);
    let row = out
        .lines()
        .find(|l| l.starts_with(&district))
        .unwrap_or_else(|| {
            panic!(
                "no row for {district}:
{out}"
            )
        });
    assert!(
        row.contains(" district ") && row.contains(" true "),
        "{row}"
    );
    let (ok, _, err) = admin(
        &server,
        &[
            "enroll",
            "--person",
            "li-qu",
            "--role",
            "supervisor",
            "--scope",
            "500110101",
            "--write",
        ],
    );
    assert!(!ok && err.contains("write cannot be granted"), "{err}");
}
