//! A `fengqiao serve` process for tests that need a real process (to kill
//! it, or to drive the command line against it).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The development token the processes accept.
pub const TOKEN: &str = "process-test-token";
/// The admin token the processes use.
pub const ADMIN: &str = "process-admin-token";

pub struct ServerProcess {
    pub child: Child,
    pub url: String,
}

impl ServerProcess {
    pub fn start(data: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fengqiao"))
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--insecure-dev-token",
                TOKEN,
            ])
            .arg("--data")
            .arg(data)
            .env("FENGQIAO_LOG", "warn")
            .env("FENGQIAO_ADMIN_TOKEN", ADMIN)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the fengqiao binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut reader = BufReader::new(stdout);
        while !line.contains("http://") {
            line.clear();
            assert!(
                Instant::now() < deadline,
                "server did not announce its address"
            );
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.kill();
                panic!("server exited before serving");
            }
        }
        // Keep reading what the server prints, so it never writes to a
        // closed pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).unwrap_or(0) > 0 {
                sink.clear();
            }
        });
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("an address")
            .to_owned();
        Self { child, url }
    }

    pub fn kill_9(mut self) {
        // Child::kill sends SIGKILL on Unix: no shutdown code runs.
        self.child.kill().expect("kill");
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Imports the one district, town and village most tests use.
pub fn import_org(url: &str) {
    let response = ureq::post(&format!("{url}/v1/admin/org"))
        .header("Authorization", &format!("Bearer {ADMIN}"))
        .send_json(serde_json::json!({
            "format": "csv",
            "text": "500110,綦江区\n500110101,古南街道\n500110101001,石门村\n",
        }))
        .expect("organisation imported");
    assert_eq!(response.status().as_u16(), 200);
}

/// The `fengqiao` binary.
pub fn fengqiao() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fengqiao"))
}

/// A test that cannot run here (see `fengqiao_tests::skip`, which the
/// end-to-end tests use): fails under `FENGQIAO_REQUIRE_ALL=1`, otherwise
/// says so on the process's standard error, which the harness does not
/// capture.
pub fn skip(what: &str, why: &str) {
    if std::env::var("FENGQIAO_REQUIRE_ALL").is_ok_and(|v| v == "1") {
        panic!("FENGQIAO_REQUIRE_ALL=1 but {what} cannot run: {why}");
    }
    let bar = "!".repeat(72);
    let notice = format!(
        "\n{bar}\n!!! SKIPPED: {what} did NOT run: {why}\n\
         !!! Set FENGQIAO_REQUIRE_ALL=1 to make this an error.\n{bar}\n"
    );
    use std::io::Write;
    let _ = std::io::stderr().lock().write_all(notice.as_bytes());
}
