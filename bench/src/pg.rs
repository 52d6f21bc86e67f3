//! PostgreSQL for the benchmarks: a fresh schema per run (dropped with
//! everything in it afterwards), its size, and the CPU time the database
//! spends, read from `/proc`.
//!
//! # The database's CPU time
//!
//! PostgreSQL is a family of processes, all named `postgres`: the
//! postmaster, its background workers (checkpointer, WAL writer, …) and one
//! backend per connection, which come and go with the connections. The CPU
//! time of the database is read as
//!
//! ```text
//!   Σ (utime + stime)     over every live process named `postgres`
//! + Σ (cutime + cstime)   of each postmaster (a `postgres` process whose
//!                         parent is not one)
//! ```
//!
//! from `/proc/PID/stat`, in clock ticks. A backend that exits has its time
//! added to its parent's `cutime`/`cstime` when the postmaster reaps it, so
//! the sum taken before and after a workload counts the backends that lived
//! during it, including those that ended. It counts every client of every
//! cluster on the machine: on a shared machine, other users' queries during
//! the workload are included (the benchmarks measure the idle rate first
//! and report it).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A schema of its own on a PostgreSQL database, for one run; dropped
/// (`DROP SCHEMA … CASCADE`) when this is dropped.
pub struct Schema {
    url: String,
    name: String,
}

impl Schema {
    /// A schema name not used before, `fq_bench_<what>_<unique>`; checks
    /// that the database answers. The server creates the schema when it
    /// migrates.
    pub fn fresh(url: &str, what: &str) -> Result<Self, String> {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let what: String = what
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let name = format!(
            "fq_bench_{what}_{}_{}_{nanos:x}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let name: String = name.chars().take(63).collect();
        let schema = Self {
            url: url.to_owned(),
            name,
        };
        let version: String = query(url, |client| async move {
            let row = client.query_one("SHOW server_version", &[]).await?;
            Ok(row.get(0))
        })?;
        if version.is_empty() {
            return Err(format!("{} answered without a version", redact(url)));
        }
        Ok(schema)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Bytes the schema's tables, indexes and TOAST occupy
    /// (`pg_total_relation_size` summed over its tables).
    pub fn bytes(&self) -> Option<u64> {
        let name = self.name.clone();
        query(&self.url, |client| async move {
            let row = client
                .query_one(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint \
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')",
                    &[&name],
                )
                .await?;
            Ok(row.get::<_, i64>(0))
        })
        .ok()
        .and_then(|b| u64::try_from(b).ok())
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let statement = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        if let Err(e) = query(&self.url, |client| async move {
            client.batch_execute(&statement).await
        }) {
            eprintln!("could not drop the schema {}: {e}", self.name);
        }
    }
}

/// Counters of the database, from its statistics views.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Counters {
    /// Transactions committed in the database (`pg_stat_database`), read
    /// only ones included.
    pub commits: i64,
    /// WAL flushes to disk of the whole cluster (`pg_stat_wal.wal_sync`):
    /// a commit that must be durable waits for one, and commits that
    /// arrive together may share one.
    pub wal_syncs: i64,
    /// WAL records written by the cluster.
    pub wal_records: i64,
    /// Index scans on the schema's tables (`pg_stat_user_tables`): key
    /// lookups and range reads of the store, one per statement that
    /// reads through a table's primary key.
    pub index_scans: i64,
}

impl Counters {
    /// The counters now. A backend reports its statistics when it ends and
    /// otherwise at most once a second (idle ones after 10 s), so read
    /// them after the connections of interest are closed.
    pub fn read(schema: &Schema) -> Result<Self, String> {
        let name = schema.name.clone();
        query(&schema.url, |client| async move {
            let row = client
                .query_one(
                    "SELECT d.xact_commit, w.wal_sync, w.wal_records, \
                     (SELECT coalesce(sum(idx_scan), 0)::bigint FROM pg_stat_user_tables \
                      WHERE schemaname = $1) \
                     FROM pg_stat_database d, pg_stat_wal w \
                     WHERE d.datname = current_database()",
                    &[&name],
                )
                .await?;
            Ok(Self {
                commits: row.get(0),
                wal_syncs: row.get(1),
                wal_records: row.get(2),
                index_scans: row.get(3),
            })
        })
    }

    /// What happened between `earlier` and these.
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            commits: self.commits - earlier.commits,
            wal_syncs: self.wal_syncs - earlier.wal_syncs,
            wal_records: self.wal_records - earlier.wal_records,
            index_scans: self.index_scans - earlier.index_scans,
        }
    }
}

/// The connection string without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Connects to `url`, runs `work` and disconnects, on a thread and runtime
/// of its own (so it may be called from anywhere, async tasks included).
fn query<T, F, Fut>(url: &str, work: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce(tokio_postgres::Client) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, tokio_postgres::Error>> + Send,
{
    let url = url.to_owned();
    let shown = redact(&url);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("no runtime: {e}"))?;
        runtime.block_on(async move {
            let (client, connection) = tokio::time::timeout(
                Duration::from_secs(10),
                tokio_postgres::connect(&url, tokio_postgres::NoTls),
            )
            .await
            .map_err(|_| format!("{shown}: no answer within 10 s"))?
            .map_err(|e| format!("{shown}: {e}"))?;
            let driver = tokio::spawn(connection);
            let result = work(client).await.map_err(|e| format!("{shown}: {e}"));
            let _ = driver.await;
            result
        })
    })
    .join()
    .map_err(|_| "the database thread panicked".to_owned())?
}

// ------------------------------------------------------------------ CPU

/// CPU seconds (user + system) the process `pid` has used; `None` once it
/// is gone.
pub fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = Stat::read(pid)?;
    Some((stat.utime + stat.stime) as f64 / clock_ticks())
}

/// CPU seconds used so far by every `postgres` process on the machine,
/// exited backends included (see the module documentation); `None` when
/// there is none.
pub fn postgres_cpu_seconds() -> Option<f64> {
    let mut stats = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(stat) = Stat::read(pid).filter(|s| s.comm == "postgres") {
            stats.push(stat);
        }
    }
    if stats.is_empty() {
        return None;
    }
    let pids: std::collections::HashSet<u32> = stats.iter().map(|s| s.pid).collect();
    let ticks: u64 = stats
        .iter()
        .map(|s| {
            let own = s.utime + s.stime;
            if pids.contains(&s.ppid) {
                own
            } else {
                own + s.cutime + s.cstime
            }
        })
        .sum();
    Some(ticks as f64 / clock_ticks())
}

/// The database's CPU seconds per second of wall time while nothing of
/// ours runs, over `window`: the noise floor of
/// [`postgres_cpu_seconds`] deltas.
pub fn postgres_idle_rate(window: Duration) -> Option<f64> {
    let before = postgres_cpu_seconds()?;
    let started = Instant::now();
    std::thread::sleep(window);
    let after = postgres_cpu_seconds()?;
    Some((after - before) / started.elapsed().as_secs_f64())
}

/// The fields of `/proc/PID/stat` used here.
struct Stat {
    pid: u32,
    comm: String,
    ppid: u32,
    utime: u64,
    stime: u64,
    cutime: u64,
    cstime: u64,
}

impl Stat {
    fn read(pid: u32) -> Option<Self> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid …`: the command may hold spaces and
        // parentheses, so split at the last `)`.
        let open = text.find('(')?;
        let close = text.rfind(')')?;
        let comm = text.get(open + 1..close)?.to_owned();
        let fields: Vec<&str> = text.get(close + 2..)?.split_whitespace().collect();
        // Fields after the command: state(0) ppid(1) … utime(11) stime(12)
        // cutime(13) cstime(14).
        let number = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
        Some(Self {
            pid,
            comm,
            ppid: u32::try_from(number(1)?).ok()?,
            utime: number(11)?,
            stime: number(12)?,
            cutime: number(13)?,
            cstime: number(14)?,
        })
    }
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgres://bench:secret@127.0.0.1:5432/db"),
            "postgres://bench:***@127.0.0.1:5432/db"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/db"),
            "postgres://postgres@127.0.0.1/db"
        );
    }

    #[test]
    fn this_process_has_a_cpu_time() {
        let spent = process_cpu_seconds(std::process::id());
        assert!(spent.is_some_and(|s| s >= 0.0));
        let mine = Stat::read(std::process::id()).expect("own stat");
        assert_eq!(mine.pid, std::process::id());
        assert!(!mine.comm.is_empty());
    }
}
