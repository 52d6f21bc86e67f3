//! Who can read the server's files: the store, backups and exports hold
//! parties' names and phone numbers, so only the server's user may read
//! them (directories `0700`, files `0600`), whatever the umask; a restore
//! says which admin token the restored server has (docs/RELIABILITY.md,
//! "Hostile devices", 20).

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use fengqiao_tests::process::binary;
use fengqiao_tests::{Phone, T0, TOKEN, TestServer};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Every file and directory under `dir` that others could read or enter.
fn open_to_others(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    if mode(dir) & 0o077 != 0 {
        found.push(format!("{} {:o}", dir.display(), mode(dir)));
    }
    for entry in std::fs::read_dir(dir).expect("readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(open_to_others(&path));
        } else if mode(&path) & 0o077 != 0 {
            found.push(format!("{} {:o}", path.display(), mode(&path)));
        }
    }
    found
}

/// Runs `fengqiao` with `args` under umask 000, the widest there is.
fn fengqiao_with_open_umask(args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(binary())
        .args(args)
        .env("FENGQIAO_LOG", "warn")
        .output()
        .expect("fengqiao runs")
}

fn succeeded(what: &str, output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn the_store_backups_exports_and_restores_are_readable_by_the_owner_only() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = dir.path().join("data");
    let server = TestServer::start_in(&data);
    let mut phone = Phone::new("cadre-a");
    phone.report("500110101001", "宅基地纠纷", T0);
    phone.sync(&server.url());

    let store_files = open_to_others(&data);
    assert!(store_files.is_empty(), "open to others: {store_files:?}");
    assert_eq!(mode(&data.join("admin.token")), 0o600);

    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("out");
    let backup = out.join("backup.fqb");
    let data_arg = data.to_string_lossy().into_owned();
    let url = server.url();
    succeeded(
        "backup",
        &fengqiao_with_open_umask(&[
            "backup",
            "--out",
            &backup.to_string_lossy(),
            "--server",
            &url,
            "--data",
            &data_arg,
        ]),
    );
    assert_eq!(mode(&backup), 0o600, "the backup");

    let export = out.join("disputes.csv");
    succeeded(
        "export",
        &fengqiao_with_open_umask(&[
            "export",
            "disputes",
            "--format",
            "csv",
            "--out",
            &export.to_string_lossy(),
            "--server",
            &url,
            "--token",
            TOKEN,
            "--scope",
            "500110101",
        ]),
    );
    assert_eq!(mode(&export), 0o600, "the export");

    let restored = dir.path().join("restored");
    let said = succeeded(
        "restore",
        &fengqiao_with_open_umask(&[
            "restore",
            &backup.to_string_lossy(),
            "--data",
            &restored.to_string_lossy(),
        ]),
    );
    let token = restored.join("admin.token");
    assert!(
        said.contains(&format!("a NEW admin token was made: {}", token.display())),
        "the restore must say where its admin token is: {said}"
    );
    assert_eq!(mode(&token), 0o600);
    let restored_files = open_to_others(&restored);
    assert!(
        restored_files.is_empty(),
        "open to others: {restored_files:?}"
    );
}
