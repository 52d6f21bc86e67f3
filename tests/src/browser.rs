//! Browser scripts: `node tests/js/<dir>/<name>.mjs` driving a real headless
//! Chromium with `playwright-core`, against a server on 127.0.0.1.
//!
//! A script gets, in its environment, `SERVER` (the server's URL),
//! `ARTIFACTS` (`target/test-artifacts/<dir>/`: screenshots, and on failure
//! a screenshot of every open page and the browser console) and `FIELD`, a
//! JSON context of the test's choosing. It prints one JSON object per line
//! (`{"event": …}`), the last `{"event": "passed"}`, and exits non-zero on
//! the first thing that is wrong. Scripts run one at a time (two cores
//! shared with the rest of the suite) and each is killed, with its browser,
//! after [`SCRIPT_LIMIT`].

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Where Debian's Chromium is.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The longest a script may run, browser start included.
pub const SCRIPT_LIMIT: Duration = Duration::from_secs(240);

/// One browser at a time, across the tests of one binary.
static BROWSER: Mutex<()> = Mutex::new(());

/// `tests/js`, where the scripts and their `node_modules` live.
pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// `target/test-artifacts/<dir>/`, created.
pub fn artifacts(dir: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("test-artifacts").join(dir);
    std::fs::create_dir_all(&dir).expect("artifact directory");
    dir
}

/// Whether node, Chromium and playwright-core are here; if not, says why
/// loudly (or fails under `FENGQIAO_REQUIRE_ALL=1`).
pub fn ready(what: &str) -> bool {
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let missing = if !node {
        Some("the `node` executable (Node.js 20 or later)")
    } else if !Path::new(CHROMIUM).exists() {
        Some("/usr/bin/chromium (Debian's `chromium` package)")
    } else if !js_dir().join("node_modules/playwright-core").is_dir() {
        Some("tests/js/node_modules/playwright-core (run `npm ci` in tests/js)")
    } else {
        None
    };
    match missing {
        None => true,
        Some(missing) => {
            crate::skip(what, &format!("it needs {missing}"));
            false
        }
    }
}

/// Runs `node <dir>/<name>.mjs` in `tests/js`, in its own process group (so
/// that its Chromium goes with it if it must be killed); returns its
/// reports. Fails the test with the script's output when it fails, times
/// out or never says `passed`.
pub fn run(dir: &str, name: &str, server: &str, context: &Value) -> Vec<Value> {
    let _browser = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let artifacts = artifacts(dir);
    // What an earlier run of this script left (failure screenshots).
    if let Ok(entries) = std::fs::read_dir(&artifacts) {
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.starts_with(&format!("{name}-")) || file == format!("{name}.log") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let log_path = artifacts.join(format!("{name}.log"));
    let log = std::fs::File::create(&log_path).expect("the script's log file");
    let mut child = Command::new("node")
        .arg(format!("{dir}/{name}.mjs"))
        .current_dir(js_dir())
        .env("SERVER", server)
        .env("ARTIFACTS", &artifacts)
        .env("FIELD", context.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .process_group(0)
        .spawn()
        .expect("node starts");
    let pid = child.id();
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut reports = Vec::new();
    let mut said = String::new();
    let mut take = |line: String, reports: &mut Vec<Value>| {
        said.push_str(&line);
        said.push('\n');
        if let Ok(report) = serde_json::from_str::<Value>(&line) {
            reports.push(report);
        }
    };
    let status = loop {
        while let Ok(line) = lines.try_recv() {
            take(line, &mut reports);
        }
        if let Some(status) = child.try_wait().expect("the script's status") {
            break Some(status);
        }
        if started.elapsed() > SCRIPT_LIMIT {
            // The whole group: node and the browser it started.
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{pid}")])
                .status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // What was still in the pipe.
    std::thread::sleep(Duration::from_millis(100));
    while let Ok(line) = lines.try_recv() {
        take(line, &mut reports);
    }
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let passed = reports.iter().any(|r| r["event"] == "passed");
    match status {
        Some(status) if status.success() && passed => reports,
        Some(status) => panic!(
            "script {dir}/{name} failed ({status}); artifacts in {}\n--- stdout\n{said}--- stderr\n{log}",
            artifacts.display()
        ),
        None => panic!(
            "script {dir}/{name} did not finish within {SCRIPT_LIMIT:?}; artifacts in {}\n--- stdout\n{said}--- stderr\n{log}",
            artifacts.display()
        ),
    }
}

/// The report of `event` among `reports`.
pub fn report<'a>(reports: &'a [Value], event: &str) -> &'a Value {
    reports
        .iter()
        .find(|r| r["event"] == event)
        .unwrap_or_else(|| panic!("no {event} report in {reports:?}"))
}
