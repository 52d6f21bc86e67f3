//! A test that cannot run here says so where a plain `cargo test` run shows
//! it, and fails outright under `FENGQIAO_REQUIRE_ALL=1`.
//!
//! The test harness captures what tests print and shows it only for
//! failing tests, so a skip notice printed with `eprintln!` inside a test
//! that passes is never seen. These tests run this very test binary again
//! on one test that skips, the way `cargo test` runs it, and read what
//! reached its standard error.

use std::process::{Command, Output};

/// Set in the child run only: makes `skipping_on_purpose` skip.
const CHILD: &str = "FENGQIAO_SKIP_CHILD";

/// Skips when run as the child; does nothing in an ordinary run.
#[test]
fn skipping_on_purpose() {
    if std::env::var_os(CHILD).is_some() {
        fengqiao_tests::skip("the skip demonstration", "it was asked to skip");
    }
}

fn run_child(require_all: bool) -> Output {
    let exe = std::env::current_exe().expect("the test binary");
    let mut command = Command::new(exe);
    command
        .args(["--exact", "skipping_on_purpose", "--test-threads=1"])
        .env(CHILD, "1")
        .env_remove("FENGQIAO_REQUIRE_ALL");
    if require_all {
        command.env("FENGQIAO_REQUIRE_ALL", "1");
    }
    command.output().expect("the test binary runs")
}

#[test]
fn a_skip_notice_reaches_stderr_in_a_plain_test_run() {
    let output = run_child(false);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the skipping test passes: {stdout}"
    );
    assert!(
        stderr.contains("SKIPPED: the skip demonstration did NOT run: it was asked to skip"),
        "the notice is not on stderr of a plain run:\n{stderr}"
    );
}

#[test]
fn a_skip_fails_when_every_test_is_required() {
    let output = run_child(true);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stdout.contains("FENGQIAO_REQUIRE_ALL=1 but the skip demonstration cannot run"),
        "{stdout}"
    );
}
