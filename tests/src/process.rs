//! The `fengqiao` binary as a child process, for tests that must kill the
//! server for real (SIGKILL: no destructor, no flush, no graceful stop).
//!
//! [`ServerProcess::start`] runs `fengqiao serve` on a data directory with
//! an ephemeral port on 127.0.0.1 and waits for the line that announces the
//! address. The binary is the one built from this workspace: it is located
//! in the running test's profile directory and built there before the first
//! start when any source is newer, so the process under test always
//! matches the sources; a failed build fails the test rather than testing
//! an older binary. `FENGQIAO_BIN` overrides the path.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fengqiao_protocol::DeviceId;

/// The development token every process started here accepts.
pub const DEV_TOKEN: &str = "process-dev-token-0123456789";

/// The admin token every process started here accepts.
pub const ADMIN_TOKEN: &str = "process-admin-token-0123456789";

/// How long a start may take before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The organisation of the test servers as CSV for `POST /v1/admin/org`:
/// district 500110, towns 500110101–105, villages 001–020 of each.
pub fn test_org_csv() -> String {
    let mut csv = String::from("500110,綦江区\n");
    for town in 101..=105 {
        csv.push_str(&format!("500110{town},第{town}镇\n"));
        for village in 1..=20 {
            csv.push_str(&format!("500110{town}{village:03},第{town}镇{village}村\n"));
        }
    }
    csv
}

/// The `fengqiao` binary of this workspace, built if needed.
pub fn binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(locate_and_build).clone()
}

fn locate_and_build() -> PathBuf {
    if let Some(path) = std::env::var_os("FENGQIAO_BIN") {
        return PathBuf::from(path);
    }
    // A test binary lives in `<target>/[<triple>/]<profile>/deps/`, a
    // program (such as a benchmark) in `<profile>/` itself.
    let exe = std::env::current_exe().expect("the running binary has a path");
    let mut profile_dir = exe
        .parent()
        .expect("the running binary is in a directory")
        .to_path_buf();
    if profile_dir.file_name().is_some_and(|n| n == "deps") {
        profile_dir.pop();
    }
    let binary = profile_dir.join(format!("fengqiao{}", std::env::consts::EXE_SUFFIX));
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_owned(),
        Some(name) => name.to_owned(),
    };
    let mut target_dir = profile_dir
        .parent()
        .expect("the profile directory has a parent")
        .to_path_buf();
    let mut triple = None;
    if !target_dir.join("CACHEDIR.TAG").exists()
        && let Some(parent) = target_dir.parent()
        && parent.join("CACHEDIR.TAG").exists()
    {
        triple = target_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        target_dir = parent.to_path_buf();
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if is_fresh(&binary, &workspace) {
        return binary;
    }
    let manifest = workspace.join("Cargo.toml");
    let mut build = Command::new(env!("CARGO"));
    build
        .args([
            "build",
            "--quiet",
            "-p",
            "fengqiao-server",
            "--bin",
            "fengqiao",
        ])
        .args(["--profile", &profile])
        .arg("--manifest-path")
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target_dir);
    if let Some(triple) = &triple {
        build.args(["--target", triple]);
    }
    // A failed build fails the test: testing a binary older than the
    // sources would pass or fail for code that is not there.
    match build.output() {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "building the fengqiao binary failed; not testing the stale {}:\n{}",
            binary.display(),
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(e) => panic!("cannot run cargo to build the fengqiao binary: {e}"),
    }
    assert!(
        binary.exists(),
        "no fengqiao binary at {}",
        binary.display()
    );
    binary
}

/// Whether `binary` is newer than every source it is built from (the
/// server, shared and protocol crates and the workspace manifests), as
/// `make` would judge; saves a `cargo build` that may wait on a lock.
fn is_fresh(binary: &Path, workspace: &Path) -> bool {
    fn newest(path: &Path) -> Option<std::time::SystemTime> {
        let meta = std::fs::metadata(path).ok()?;
        if meta.is_file() {
            return meta.modified().ok();
        }
        std::fs::read_dir(path)
            .ok()?
            .filter_map(|entry| newest(&entry.ok()?.path()))
            .max()
    }
    let Some(built) = newest(binary) else {
        return false;
    };
    [
        "server/src",
        "shared/src",
        "protocol/src",
        "server/Cargo.toml",
        "Cargo.toml",
        "Cargo.lock",
    ]
    .iter()
    .filter_map(|source| newest(&workspace.join(source)))
    .all(|modified| modified < built)
}

/// A running `fengqiao serve` process.
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
    /// Kept open: the server's stdout must not turn into a broken pipe.
    _stdout: BufReader<ChildStdout>,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts a server on `data` (created if missing), accepting
    /// [`DEV_TOKEN`] and [`ADMIN_TOKEN`]. Its log goes to `DATA.log`.
    pub fn start(data: &Path) -> Self {
        Self::start_with(data, &[])
    }

    /// Starts a server with extra `fengqiao serve` arguments.
    pub fn start_with(data: &Path, extra: &[&str]) -> Self {
        let started = Instant::now();
        loop {
            match Self::try_start(data, extra) {
                Ok(server) => return server,
                // The store's previous user (a killed server, or a test that
                // opened it to check it) may still be letting go of its
                // lock: sled releases it from background threads.
                Err(log)
                    if log.contains("could not acquire lock")
                        && started.elapsed() < START_TIMEOUT =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(log) => panic!("the server exited before serving; its log:\n{log}"),
            }
        }
    }

    /// Starts a server, or returns the end of its log if it exits before
    /// announcing its address.
    pub fn try_start(data: &Path, extra: &[&str]) -> Result<Self, String> {
        let log = data.with_extension("log");
        let earlier = std::fs::metadata(&log).map_or(0, |m| m.len());
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("server log file");
        let mut child = Command::new(binary())
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(["--insecure-dev-token", DEV_TOKEN])
            .arg("--data")
            .arg(data)
            .args(extra)
            .env("FENGQIAO_LOG", "warn")
            .env("FENGQIAO_ADMIN_TOKEN", ADMIN_TOKEN)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("the fengqiao binary starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let started = Instant::now();
        let mut line = String::new();
        let addr = loop {
            line.clear();
            let read = stdout.read_line(&mut line).unwrap_or(0);
            if read == 0 {
                let _ = child.kill();
                let _ = child.wait();
                let text = std::fs::read(&log).unwrap_or_default();
                let this_start = text.get(earlier as usize..).unwrap_or_default();
                return Err(String::from_utf8_lossy(this_start).into_owned());
            }
            if let Some(addr) = line
                .split_whitespace()
                .find_map(|word| word.strip_prefix("http://"))
            {
                break addr.parse().expect("the server announces an address");
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "the server did not announce its address"
            );
        };
        Ok(Self {
            child,
            addr,
            _stdout: stdout,
            log,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Imports the [`test_org_csv`] organisation.
    pub fn import_test_org(&self) {
        let response = ureq::post(&format!("{}/v1/admin/org", self.url()))
            .header("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
            .header("Content-Type", "application/json")
            .send(org_import_json(&test_org_csv()).as_bytes())
            .expect("organisation imported");
        assert_eq!(response.status().as_u16(), 200);
    }

    /// The peak resident memory of the process so far, in KiB (Linux).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        peak_rss_kib(self.pid())
    }

    /// Kills the process with SIGKILL and waits until it is gone.
    pub fn kill(mut self) {
        self.kill_now();
    }

    fn kill_now(&mut self) {
        // `Child::kill` is SIGKILL on Unix: no shutdown code runs.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill_now();
    }
}

/// The body of `POST /v1/admin/org` for a CSV organisation.
pub fn org_import_json(csv: &str) -> String {
    let escaped = csv
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("{{\"format\":\"csv\",\"text\":\"{escaped}\"}}")
}

/// The peak resident memory (`VmHWM`) of process `pid`, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

impl ServerProcess {
    /// Registers `person` (if new) and enrolls a device for them with
    /// `role` (`cadre`, `town`, …) over `scope`, through the admin API;
    /// returns the device id and its token.
    pub fn enroll(&self, person: &str, role: &str, scope: &str) -> (DeviceId, String) {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build(),
        );
        let post = |path: &str, body: serde_json::Value| {
            let mut response = agent
                .post(&format!("{}{path}", self.url()))
                .header("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
                .send_json(body)
                .expect("the admin API answers");
            let status = response.status().as_u16();
            let text = response
                .body_mut()
                .read_to_string()
                .expect("the admin API's answer arrives");
            (status, text)
        };
        let (status, text) = post(
            "/v1/admin/people",
            serde_json::json!({"id": person, "name": person}),
        );
        assert!(
            status == 200 || text.contains("exists"),
            "registering {person}: {status} {text}"
        );
        let (status, text) = post(
            "/v1/admin/devices",
            serde_json::json!({"person": person, "role": role, "scope": scope}),
        );
        assert_eq!(status, 200, "enrolling a {role} device for {scope}: {text}");
        let enrolled: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let token = enrolled["token"].as_str().expect("a token").to_owned();
        let device = enrolled["setup"]["device"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .expect("a device id");
        (device, token)
    }
}

impl ServerProcess {
    /// Sends SIGTERM (a graceful stop, as systemd or `docker stop` asks
    /// for) and waits for the process to exit, at most `limit`; returns its
    /// exit status.
    pub fn terminate(self, limit: Duration) -> std::process::ExitStatus {
        self.signal_terminate();
        self.wait_exit(limit)
    }

    /// Sends SIGTERM without waiting.
    pub fn signal_terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM sent to {}", self.pid());
    }

    /// Waits for the process to exit, at most `limit`; returns its exit
    /// status.
    pub fn wait_exit(mut self, limit: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("the child's status") {
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "the server did not exit within {limit:?}; its log:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
