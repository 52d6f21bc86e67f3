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

/// Whether a `node` executable runs here (every JavaScript test needs one).
pub fn node_available() -> bool {
    Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether node, Chromium and playwright-core are here; if not, says why
/// loudly (or fails under `FENGQIAO_REQUIRE_ALL=1`).
pub fn ready(what: &str) -> bool {
    let missing = if !node_available() {
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

/// One headless Chromium page a test drives step by step from Rust, through
/// `playwright-core` (`tests/js/driver/page.mjs`, a node process in its own
/// process group, killed with its browser when the page is dropped).
pub struct Page {
    child: std::process::Child,
    /// Commands out, answers in, one at a time.
    io: Mutex<(std::process::ChildStdin, mpsc::Receiver<String>)>,
}

impl Page {
    /// How long one command may take before the test fails.
    const STEP: Duration = Duration::from_secs(60);

    /// A page `width` × `height` CSS pixels, in `locale` (e.g. `zh-CN`).
    pub fn start(width: u32, height: u32, locale: &str) -> Self {
        let mut child = Command::new("node")
            .arg("driver/page.mjs")
            .args([width.to_string(), height.to_string(), locale.to_owned()])
            .current_dir(js_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .expect("node starts");
        let input = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, answers) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let page = Self {
            child,
            io: Mutex::new((input, answers)),
        };
        // The first line says the browser is up.
        page.answer("starting Chromium");
        page
    }

    fn answer(&self, what: &str) -> Value {
        let io = self.io.lock().unwrap_or_else(|e| e.into_inner());
        Self::read(&io.1, what)
    }

    fn read(answers: &mpsc::Receiver<String>, what: &str) -> Value {
        let line = match answers.recv_timeout(Self::STEP) {
            Ok(line) => line,
            Err(_) => panic!("the browser did not answer {what} within {:?}", Self::STEP),
        };
        let answer: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the browser's answer to {what} is not JSON ({e}): {line}"));
        match answer.get("ok") {
            Some(value) => value.clone(),
            None => panic!("{what}: {}", answer["error"]),
        }
    }

    fn command(&self, command: Value) -> Value {
        use std::io::Write as _;
        let what = command.to_string();
        let mut io = self.io.lock().unwrap_or_else(|e| e.into_inner());
        writeln!(io.0, "{command}").expect("the browser takes a command");
        io.0.flush().expect("the browser takes a command");
        Self::read(&io.1, &what)
    }

    /// Opens `url` and waits for it to load.
    pub fn go(&self, url: &str) {
        self.command(serde_json::json!({"op": "go", "url": url}));
    }

    /// Types `text` into the first element matching `css`.
    pub fn type_into(&self, css: &str, text: &str) {
        self.command(serde_json::json!({"op": "type", "css": css, "text": text}));
    }

    /// Clicks the first element matching `css` (once it can be clicked).
    pub fn click(&self, css: &str) {
        self.command(serde_json::json!({"op": "click", "css": css}));
    }

    /// Runs `script` (a function body; a promise it returns is awaited) in
    /// the page and returns its value.
    pub fn run(&self, script: &str) -> Value {
        self.command(serde_json::json!({"op": "run", "script": script}))
    }

    /// Polls `script` until it returns something other than null or
    /// false, for at most `limit`; fails the test with the page's text if
    /// it never does.
    pub fn wait_for(&self, what: &str, script: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let value = self.run(script);
            if !value.is_null() && value != Value::Bool(false) {
                return value;
            }
            if Instant::now() > deadline {
                let page = self.run("return document.body ? document.body.innerText : ''");
                panic!(
                    "timed out waiting for {what}; the page shows:\n{}",
                    page.as_str().unwrap_or("")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The browser's Back button.
    pub fn back(&self) {
        self.command(serde_json::json!({"op": "back"}));
    }

    /// A PNG of the page as it is shown.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let encoded = self.command(serde_json::json!({"op": "screenshot"}));
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("base64"))
            .expect("a PNG")
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        use std::io::Write as _;
        if let Ok(mut io) = self.io.lock() {
            let _ = writeln!(io.0, "{}", serde_json::json!({"op": "close"}));
            let _ = io.0.flush();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The whole group: node and the browser it started.
        let _ = Command::new("kill")
            .args(["-KILL", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}
