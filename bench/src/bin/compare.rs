//! `compare`: Fengqiao side by side with the automerge-repo sync server and
//! samod, on the same dispute records and the same machine.
//!
//! Run it through `bench/compare.sh`, which builds the release binaries and
//! installs the reference server's npm packages first. Every server runs as
//! a child process on 127.0.0.1; nothing leaves the machine.
//!
//! For each record count, each repetition runs W1–W4 on every system, in an
//! order rotated per repetition so that slow phases of a shared machine do
//! not always fall on the same system. The report gives medians, ratios
//! Fengqiao / peer and the goals checked against them.

#[path = "../compare/mod.rs"]
mod compare;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;

use compare::measure::Measurement;
use compare::process::Launch;
use compare::report::{self, Results};
use compare::run::{self, RunResult, Settings, WORKLOADS};
use compare::system::System;

/// Measure Fengqiao against the automerge-repo sync server and samod.
#[derive(Parser)]
#[command(about, long_about)]
struct Args {
    /// Record counts to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    records: Vec<usize>,
    /// Repetitions of each configuration; medians are reported.
    #[arg(long, default_value_t = 3)]
    repetitions: usize,
    /// Systems to run, comma-separated: floor, reference, samod,
    /// fengqiao-ws, fengqiao-batch, fengqiao-ws-pg, fengqiao-batch-pg.
    /// Default: floor,reference,samod,fengqiao-ws,fengqiao-batch, and the
    /// two PostgreSQL ones when a database is given.
    #[arg(long, value_delimiter = ',')]
    systems: Option<Vec<String>>,
    /// A PostgreSQL database for fengqiao-ws-pg and fengqiao-batch-pg
    /// (each run gets a fresh schema on it, dropped afterwards). Without
    /// one, those systems are skipped.
    #[arg(long, env = "FENGQIAO_BENCH_POSTGRES", hide_env_values = true)]
    postgres: Option<String>,
    /// Longest one workload may take before it is reported as timed out.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
    /// Documents a WebSocket client keeps in progress at once.
    #[arg(long, default_value_t = 256)]
    window: usize,
    /// The `fengqiao` server binary (default: beside this binary).
    #[arg(long)]
    fengqiao: Option<PathBuf>,
    /// The `samod_server` binary (default: beside this binary).
    #[arg(long)]
    samod_server: Option<PathBuf>,
    /// Node.js.
    #[arg(long, default_value = "node")]
    node: PathBuf,
    /// The reference server script.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/js/reference-server.mjs"))]
    reference_script: PathBuf,
    /// Where servers and clients keep their data (a fresh temporary
    /// directory inside it per run).
    #[arg(long)]
    scratch: Option<PathBuf>,
    /// On PostgreSQL, also count the database's transactions, WAL flushes
    /// and key lookups per workload; waits 11 s before and after each
    /// workload (outside its clock) for the statistics to settle.
    #[arg(long)]
    db_counters: bool,
    /// Also write the report to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write every measurement as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The systems run when `--systems` is not given (and no database is).
const DEFAULT_SYSTEMS: [&str; 5] = [
    "floor",
    "reference",
    "samod",
    "fengqiao-ws",
    "fengqiao-batch",
];

fn sibling(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

fn main() {
    let args = Args::parse();
    let names: Vec<String> = match &args.systems {
        Some(names) => names.iter().map(|n| n.trim().to_owned()).collect(),
        None => {
            let mut names: Vec<String> = DEFAULT_SYSTEMS.iter().map(|s| s.to_string()).collect();
            if args.postgres.is_some() {
                names.extend(["fengqiao-ws-pg".to_owned(), "fengqiao-batch-pg".to_owned()]);
            }
            names
        }
    };
    let requested: Vec<System> = names
        .iter()
        .map(|name| {
            System::parse(name).unwrap_or_else(|| {
                let known: Vec<&str> = System::ALL.iter().map(|s| s.name()).collect();
                eprintln!("unknown system {name:?}; use {}", known.join(", "));
                std::process::exit(2);
            })
        })
        .collect();
    // The PostgreSQL systems need a database; without one they are left
    // out, and the report says so.
    let mut notes = Vec::new();
    let skipped: Vec<&str> = requested
        .iter()
        .filter(|s| s.on_postgres() && args.postgres.is_none())
        .map(|s| s.name())
        .collect();
    if !skipped.is_empty() {
        let note = format!(
            "Skipped {}: no PostgreSQL database given (`--postgres URL` or \
             `FENGQIAO_BENCH_POSTGRES`).",
            skipped.join(", ")
        );
        eprintln!("{note}");
        notes.push(note);
    }
    let systems: Vec<System> = requested
        .into_iter()
        .filter(|s| !s.on_postgres() || args.postgres.is_some())
        .collect();
    let fengqiao_binary = args.fengqiao.clone().unwrap_or_else(|| sibling("fengqiao"));
    let fengqiao = Launch::Fengqiao {
        binary: fengqiao_binary.clone(),
        postgres: None,
    };
    let fengqiao_pg = Launch::Fengqiao {
        binary: fengqiao_binary,
        postgres: args.postgres.clone(),
    };
    if let Some(url) = &args.postgres
        && systems.iter().any(|s| s.on_postgres())
    {
        // The noise floor of the database's CPU figures: what it spends
        // while none of ours runs.
        let idle = fengqiao_bench::pg::postgres_idle_rate(Duration::from_secs(2));
        let note = format!(
            "PostgreSQL: `{}`, a fresh schema per run, dropped after it. Database CPU = \
             utime + stime of every live `postgres` process plus cutime + cstime of the \
             postmaster (backends that exited), from `/proc/PID/stat`, after the workload \
             minus before; it counts every client of the cluster, so other users' queries \
             on a shared machine land in it too. Measured idle before the runs: {} CPU-s \
             per second.",
            fengqiao_bench::pg::redact(url),
            idle.map_or("n/a (no postgres process found)".to_owned(), |r| format!(
                "{r:.3}"
            )),
        );
        eprintln!("{note}");
        notes.push(note);
    }
    let samod = Launch::Samod {
        binary: args
            .samod_server
            .clone()
            .unwrap_or_else(|| sibling("samod_server")),
    };
    let reference = Launch::Reference {
        node: args.node.clone(),
        script: args.reference_script.clone(),
    };
    let scratch_root = args.scratch.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&scratch_root).expect("the scratch directory can be created");

    let started = Instant::now();
    let mut all = Vec::new();
    let mut json = Vec::new();
    for &records in &args.records {
        let settings = Settings {
            records,
            timeout: Duration::from_secs(args.timeout_secs),
            window: args.window.max(1),
            db_counters: args.db_counters,
        };
        let mut results = Results {
            records,
            repetitions: args.repetitions,
            runs: Vec::new(),
            saved_bytes: Vec::new(),
        };
        for repetition in 0..args.repetitions {
            let mut order = systems.clone();
            order.rotate_left(repetition % systems.len().max(1));
            for system in order {
                let scratch = tempfile::Builder::new()
                    .prefix(&format!("fq-compare-{}-", system.name()))
                    .tempdir_in(&scratch_root)
                    .expect("a scratch directory");
                eprintln!(
                    "[{:>6.0}s] N={records} repetition {}/{} {} …",
                    started.elapsed().as_secs_f64(),
                    repetition + 1,
                    args.repetitions,
                    system.name()
                );
                let RunResult {
                    workloads,
                    saved_bytes,
                } = match system {
                    System::Floor => run::run_floor(&settings),
                    System::Reference => run::run_websocket(&reference, &settings, scratch.path()),
                    System::Samod => run::run_websocket(&samod, &settings, scratch.path()),
                    System::FengqiaoWs => run::run_websocket(&fengqiao, &settings, scratch.path()),
                    System::FengqiaoBatch => run::run_batch(&fengqiao, &settings, scratch.path()),
                    System::FengqiaoWsPg => {
                        run::run_websocket(&fengqiao_pg, &settings, scratch.path())
                    }
                    System::FengqiaoBatchPg => {
                        run::run_batch(&fengqiao_pg, &settings, scratch.path())
                    }
                };
                for (name, m) in WORKLOADS.iter().zip(&workloads) {
                    eprintln!("           {name}: {}", describe(m));
                }
                if !results.saved_bytes.iter().any(|(s, _)| *s == system) && saved_bytes > 0 {
                    results.saved_bytes.push((system, saved_bytes));
                }
                json.push(serde_json::json!({
                    "records": records,
                    "repetition": repetition,
                    "system": system.name(),
                    "saved_bytes": saved_bytes,
                    "workloads": workloads,
                }));
                results.runs.push((system, workloads));
            }
        }
        all.push(results);
    }

    let mut text = String::new();
    text.push_str(&format!(
        "Command: `bench/compare.sh --records {} --repetitions {} --systems {} --timeout-secs {} --window {}{}`; machine: {} cores; {:.0} s in all.\n\n",
        args.records
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(","),
        args.repetitions,
        names.join(","),
        args.timeout_secs,
        args.window,
        args.postgres
            .as_deref()
            .map_or(String::new(), |url| format!(
                " --postgres {}",
                fengqiao_bench::pg::redact(url)
            )),
        std::thread::available_parallelism().map_or(0, usize::from),
        started.elapsed().as_secs_f64(),
    ));
    for note in &notes {
        text.push_str(note);
        text.push_str("\n\n");
    }
    for results in &all {
        text.push_str(&report::tables(results));
    }
    text.push_str(&report::goals(&all));
    println!("{text}");
    if let Some(path) = &args.out {
        std::fs::write(path, &text).expect("the report can be written");
    }
    if let Some(path) = &args.json {
        let body = serde_json::to_string_pretty(&json).expect("measurements serialize");
        std::fs::write(path, body).expect("the JSON can be written");
    }
}

fn describe(m: &Measurement) -> String {
    match &m.outcome {
        compare::measure::Outcome::Done => format!(
            "{:.3} s, {} B up, {} B down, {} round trips, server {:.2} s CPU{}, {} MiB peak",
            m.traffic.wall.as_secs_f64(),
            m.traffic.bytes_up,
            m.traffic.bytes_down,
            m.traffic.round_trips,
            m.server_cpu,
            if m.db_cpu.is_finite() {
                format!(", database {:.2} s CPU", m.db_cpu)
            } else {
                String::new()
            },
            m.server_peak_kib / 1024
        ),
        other => format!("{other:?}"),
    }
}
