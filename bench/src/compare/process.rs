//! Servers as child processes, and what the kernel says about them.
//!
//! Every server runs as its own process on 127.0.0.1 with a fresh data
//! directory, so its CPU time, memory and disk use can be read from
//! `/proc` without counting the client's:
//!
//! - CPU time: `utime + stime` from `/proc/PID/stat`, in clock ticks
//!   (all threads of the process, including Node's worker threads);
//! - peak resident memory: `VmHWM` from `/proc/PID/status`, reset before
//!   each workload by writing `5` to `/proc/PID/clear_refs`, so each
//!   workload reports its own peak;
//! - data directory size: the blocks its files occupy, as `du` counts
//!   them; for a server on PostgreSQL, the size of its schema's tables
//!   (`pg_total_relation_size`), the data directory holding only its
//!   admin token.
//!
//! A Fengqiao server on PostgreSQL gets a fresh schema of its own
//! (`--store URL --store-schema fq_bench_…`), dropped when the server
//! process is.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a server may take to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The token the benchmark's Fengqiao server accepts (development mode:
/// unrestricted, on 127.0.0.1 only).
pub const FENGQIAO_TOKEN: &str = "bench-dev-token-0123456789";
const FENGQIAO_ADMIN: &str = "bench-admin-token-0123456789";

/// How to launch one kind of server.
#[derive(Debug, Clone)]
pub enum Launch {
    /// `node reference-server.mjs --data DIR`.
    Reference { node: PathBuf, script: PathBuf },
    /// `samod_server --data DIR`.
    Samod { binary: PathBuf },
    /// `fengqiao serve --data DIR`, with `--store URL --store-schema NAME`
    /// (a fresh schema per start) when `postgres` is set.
    Fengqiao {
        binary: PathBuf,
        postgres: Option<String>,
    },
}

/// A running server.
pub struct ServerProcess {
    child: Child,
    pid: u32,
    /// The URL it printed: `ws://…/` or `http://…`.
    pub url: String,
    pub data: PathBuf,
    /// The server's schema on PostgreSQL; dropped after the process.
    schema: Option<fengqiao_bench::pg::Schema>,
}

impl ServerProcess {
    /// Starts a server on a fresh data directory `data` and waits until
    /// it announces its address.
    pub fn start(launch: &Launch, data: &Path) -> Result<Self, String> {
        let mut schema = None;
        let mut command = match launch {
            Launch::Reference { node, script } => {
                let mut c = Command::new(node);
                c.arg(script).arg("--data").arg(data);
                if let Some(dir) = script.parent() {
                    c.current_dir(dir);
                }
                c
            }
            Launch::Samod { binary } => {
                let mut c = Command::new(binary);
                c.arg("--data").arg(data).args(["--bind", "127.0.0.1:0"]);
                c
            }
            Launch::Fengqiao { binary, postgres } => {
                let mut c = Command::new(binary);
                c.arg("serve")
                    .arg("--data")
                    .arg(data)
                    .args(["--bind", "127.0.0.1:0"])
                    .args(["--insecure-dev-token", FENGQIAO_TOKEN])
                    .env("FENGQIAO_ADMIN_TOKEN", FENGQIAO_ADMIN)
                    .env("FENGQIAO_LOG", "error");
                if let Some(url) = postgres {
                    let fresh = fengqiao_bench::pg::Schema::fresh(url, "compare")
                        .map_err(|e| format!("PostgreSQL: {e}"))?;
                    c.arg("--store")
                        .arg(fresh.url())
                        .arg("--store-schema")
                        .arg(fresh.name());
                    schema = Some(fresh);
                }
                c
            }
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {launch:?}: {e}"))?;
        let pid = child.id();
        let stdout = child.stdout.take().expect("stdout is piped");
        let (found, address) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent
                    && let Some(url) = line
                        .split_whitespace()
                        .find(|w| w.starts_with("ws://") || w.starts_with("http://"))
                {
                    let _ = found.send(url.to_owned());
                    sent = true;
                }
            }
        });
        let url = match address.recv_timeout(START_TIMEOUT) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{launch:?} did not announce an address"));
            }
        };
        let server = Self {
            child,
            pid,
            url,
            data: data.to_owned(),
            schema,
        };
        if let Launch::Fengqiao { .. } = launch {
            server.import_org()?;
        }
        Ok(server)
    }

    fn import_org(&self) -> Result<(), String> {
        let body = serde_json::json!({ "format": "csv", "text": super::records::ORG_CSV });
        let response = ureq::post(&format!("{}/v1/admin/org", self.url))
            .header("Authorization", &format!("Bearer {FENGQIAO_ADMIN}"))
            .send_json(body)
            .map_err(|e| format!("organisation import failed: {e}"))?;
        if response.status().as_u16() != 200 {
            return Err(format!(
                "organisation import answered {}",
                response.status()
            ));
        }
        Ok(())
    }

    /// The WebSocket URL for automerge-repo clients.
    pub fn ws_url(&self) -> String {
        if let Some(rest) = self.url.strip_prefix("http://") {
            format!(
                "ws://{}/v1/ws?token={FENGQIAO_TOKEN}",
                rest.trim_end_matches('/')
            )
        } else {
            self.url.clone()
        }
    }

    /// CPU time used so far (user + system), in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) else {
            return f64::NAN;
        };
        // Fields after the parenthesised command name; utime and stime are
        // fields 14 and 15 of the whole line.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            return f64::NAN;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: u64 = fields
            .get(11..13)
            .map(|f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum())
            .unwrap_or(0);
        ticks as f64 / clock_ticks()
    }

    /// Starts a new peak-memory window.
    pub fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5");
    }

    /// The peak resident set since the last [`reset_peak`](Self::reset_peak), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        status_field(self.pid, "VmHWM:").unwrap_or(0)
    }

    /// Bytes the records occupy: the data directory on disk, or the
    /// schema's tables on PostgreSQL.
    pub fn data_bytes(&self) -> u64 {
        match &self.schema {
            Some(schema) => schema.bytes().unwrap_or(0),
            None => disk_usage(&self.data),
        }
    }

    /// The database's counters now (PostgreSQL only).
    pub fn db_counters(&self) -> Option<fengqiao_bench::pg::Counters> {
        fengqiao_bench::pg::Counters::read(self.schema.as_ref()?).ok()
    }

    /// Whether the records are on PostgreSQL.
    pub fn on_postgres(&self) -> bool {
        self.schema.is_some()
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops the server: SIGTERM, then SIGKILL after a grace period.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn status_field(pid: u32, name: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(name))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Bytes the files under `path` occupy on disk (512-byte blocks, as `du`).
pub fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            }
            total += meta.blocks() * 512;
        }
    }
    total
}

/// The 1-minute load average.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}
