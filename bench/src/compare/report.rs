//! Markdown tables of the medians, ratios Fengqiao / peer, and the goals
//! checked against them.

use std::fmt::Write;

use super::measure::{Measurement, Summary};
use super::run::WORKLOADS;
use super::system::System;

/// Every measurement of one record count.
pub struct Results {
    pub records: usize,
    pub repetitions: usize,
    /// (system, repetition, workloads)
    pub runs: Vec<(System, Vec<Measurement>)>,
    /// Sum of the records' saved sizes, per system (medians over runs).
    pub saved_bytes: Vec<(System, u64)>,
}

impl Results {
    pub fn summary(&self, system: System, workload: usize) -> Option<Summary> {
        let ms: Vec<&Measurement> = self
            .runs
            .iter()
            .filter(|(s, _)| *s == system)
            .filter_map(|(_, w)| w.get(workload))
            .collect();
        Summary::of(&ms)
    }

    fn status(&self, system: System, workload: usize) -> String {
        let ms: Vec<&Measurement> = self
            .runs
            .iter()
            .filter(|(s, _)| *s == system)
            .filter_map(|(_, w)| w.get(workload))
            .collect();
        let timed_out = ms
            .iter()
            .filter(|m| matches!(m.outcome, super::measure::Outcome::TimedOut(_)))
            .count();
        let failed: Vec<String> = ms
            .iter()
            .filter_map(|m| match &m.outcome {
                super::measure::Outcome::Failed(e) => Some(e.clone()),
                _ => None,
            })
            .collect();
        if timed_out > 0 {
            format!("timed out ({timed_out} of {})", ms.len())
        } else if let Some(e) = failed.first() {
            format!("failed: {e}")
        } else {
            "skipped".to_owned()
        }
    }

    /// Peak server memory over all workloads (median over runs of each
    /// run's maximum), KiB.
    pub fn peak_kib(&self, system: System) -> Option<f64> {
        let mut peaks: Vec<f64> = self
            .runs
            .iter()
            .filter(|(s, _)| *s == system)
            .filter(|(_, w)| w.iter().all(Measurement::done))
            .map(|(_, w)| w.iter().map(|m| m.server_peak_kib).max().unwrap_or(0) as f64)
            .collect();
        super::measure::median(&mut peaks)
    }

    fn saved(&self, system: System) -> Option<u64> {
        self.saved_bytes
            .iter()
            .find(|(s, _)| *s == system)
            .map(|(_, b)| *b)
    }

    fn systems(&self) -> Vec<System> {
        System::ALL
            .into_iter()
            .filter(|s| self.runs.iter().any(|(r, _)| r == s))
            .collect()
    }
}

fn kib(bytes: f64) -> String {
    if bytes < 10.0 * 1024.0 {
        format!("{:.2}", bytes / 1024.0)
    } else {
        format!("{:.0}", bytes / 1024.0)
    }
}

fn mib(bytes: f64) -> String {
    format!("{:.1}", bytes / (1024.0 * 1024.0))
}

fn secs(s: f64) -> String {
    if s < 0.1 {
        format!("{:.4}", s)
    } else {
        format!("{:.3}", s)
    }
}

fn ratio(a: f64, b: f64) -> String {
    if !(a.is_finite() && b.is_finite()) || b == 0.0 {
        return "–".to_owned();
    }
    let r = a / b;
    if r < 0.01 {
        format!("{r:.4}")
    } else {
        format!("{r:.2}")
    }
}

fn or_dash(v: f64, f: impl Fn(f64) -> String) -> String {
    if v.is_finite() {
        f(v)
    } else {
        "–".to_owned()
    }
}

/// The tables for one record count.
pub fn tables(results: &Results) -> String {
    let mut out = String::new();
    let n = results.records;
    let systems = results.systems();
    let with_db = systems.iter().any(|s| s.on_postgres());
    let mut loads: Vec<f64> = results
        .runs
        .iter()
        .flat_map(|(_, w)| w.iter().map(|m| m.load))
        .collect();
    let load = super::measure::median(&mut loads).unwrap_or(f64::NAN);
    let max_load = loads.iter().copied().fold(f64::NAN, f64::max);
    let _ = writeln!(
        out,
        "### N = {n} records ({} repetitions; 1-minute load average median {load:.2}, max {max_load:.2})\n",
        results.repetitions
    );
    for (w, name) in WORKLOADS.iter().enumerate() {
        let _ = writeln!(out, "#### {name}, N = {n}\n");
        let _ = writeln!(
            out,
            "| system | time (s) | up (KiB) | down (KiB) | messages up / down | round trips | server CPU (s) |{} server peak RSS (MiB) | data dir (MiB) |",
            if with_db { " database CPU (s) |" } else { "" }
        );
        let _ = writeln!(
            out,
            "|---|---:|---:|---:|---:|---:|---:|{}---:|---:|",
            if with_db { "---:|" } else { "" }
        );
        for &system in &systems {
            match results.summary(system, w) {
                Some(s) => {
                    let db = if with_db {
                        format!(" {} |", or_dash(s.db_cpu, |v| format!("{v:.2}")))
                    } else {
                        String::new()
                    };
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} | {:.0} / {:.0} | {:.0} | {} |{db} {} | {} |",
                        system.label(),
                        secs(s.wall),
                        kib(s.bytes_up),
                        kib(s.bytes_down),
                        s.messages_up,
                        s.messages_down,
                        s.round_trips,
                        or_dash(s.server_cpu, |v| format!("{v:.2}")),
                        if system.has_server() {
                            mib(s.server_peak_kib * 1024.0)
                        } else {
                            "–".to_owned()
                        },
                        if system.has_server() {
                            mib(s.data_bytes)
                        } else {
                            "–".to_owned()
                        },
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "| {} | {} | | | | | |{} | |",
                        system.label(),
                        results.status(system, w),
                        if with_db { " |" } else { "" }
                    );
                }
            }
        }
        let _ = writeln!(out);
    }

    // Ratios.
    let pairs = [
        (System::FengqiaoBatch, System::Reference),
        (System::FengqiaoBatch, System::Samod),
        (System::FengqiaoBatch, System::Floor),
        (System::FengqiaoWs, System::Reference),
        (System::FengqiaoWs, System::Samod),
        (System::FengqiaoBatchPg, System::FengqiaoBatch),
        (System::FengqiaoWsPg, System::FengqiaoWs),
    ];
    let _ = writeln!(
        out,
        "#### Ratios Fengqiao / peer, N = {n} (time, bytes up + down; below 1 is better)\n"
    );
    let mut header = "| workload |".to_owned();
    let mut rule = "|---|".to_owned();
    for (a, b) in pairs {
        if systems.contains(&a) && systems.contains(&b) {
            let _ = write!(header, " {} / {} time | bytes |", a.short(), b.short());
            rule.push_str("---:|---:|");
        }
    }
    let _ = writeln!(out, "{header}\n{rule}");
    for (w, name) in WORKLOADS.iter().enumerate() {
        let mut row = format!("| {name} |");
        for (a, b) in pairs {
            if !(systems.contains(&a) && systems.contains(&b)) {
                continue;
            }
            match (results.summary(a, w), results.summary(b, w)) {
                (Some(x), Some(y)) => {
                    let _ = write!(
                        row,
                        " {} | {} |",
                        ratio(x.wall, y.wall),
                        ratio(x.bytes(), y.bytes())
                    );
                }
                _ => row.push_str(" – | – |"),
            }
        }
        let _ = writeln!(out, "{row}");
    }
    let mut row = "| server peak RSS, all workloads |".to_owned();
    for (a, b) in pairs {
        if !(systems.contains(&a) && systems.contains(&b)) {
            continue;
        }
        match (results.peak_kib(a), results.peak_kib(b)) {
            (Some(x), Some(y)) if b.has_server() => {
                let _ = write!(row, " {} | |", ratio(x, y));
            }
            _ => row.push_str(" – | |"),
        }
    }
    let _ = writeln!(out, "{row}\n");
    out.push_str(&postgres_ratios(results, &systems));
    out.push_str(&database_counters(results, &systems));
    if let Some(saved) = results.saved(System::FengqiaoBatch) {
        let _ = writeln!(
            out,
            "Sum of the records' saved sizes (`save()`, compressed), batch phone: {} KiB.\n",
            kib(saved as f64)
        );
    }
    out
}

/// The doors on PostgreSQL against the same doors on the embedded store:
/// time, the server's CPU, and the server's plus the database's CPU.
fn postgres_ratios(results: &Results, systems: &[System]) -> String {
    let doors: Vec<(System, System)> = systems
        .iter()
        .filter_map(|&pg| Some((pg, pg.on_sled()?)))
        .filter(|(_, sled)| systems.contains(sled))
        .collect();
    if doors.is_empty() {
        return String::new();
    }
    let n = results.records;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "#### PostgreSQL / embedded store (sled), N = {n} (below 1 is better)\n"
    );
    let _ = writeln!(
        out,
        "CPU on PostgreSQL counts the server and the database processes together \
         (the database's share in parentheses); on sled, the server alone.\n"
    );
    let mut header = "| workload |".to_owned();
    let mut rule = "|---|".to_owned();
    for (pg, sled) in &doors {
        let _ = write!(
            header,
            " {} / {} time | server CPU | server + database CPU |",
            pg.short(),
            sled.short()
        );
        rule.push_str("---:|---:|---:|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    for (w, name) in WORKLOADS.iter().enumerate() {
        let mut row = format!("| {name} |");
        for &(pg, sled) in &doors {
            match (results.summary(pg, w), results.summary(sled, w)) {
                (Some(p), Some(q)) => {
                    let share = if p.total_cpu() > 0.0 && p.db_cpu.is_finite() {
                        format!(" ({:.0}% database)", 100.0 * p.db_cpu / p.total_cpu())
                    } else {
                        String::new()
                    };
                    let _ = write!(
                        row,
                        " {} | {} | {}{share} |",
                        ratio(p.wall, q.wall),
                        ratio(p.server_cpu, q.server_cpu),
                        ratio(p.total_cpu(), q.server_cpu),
                    );
                }
                _ => row.push_str(" – | – | – |"),
            }
        }
        let _ = writeln!(out, "{row}");
    }
    let _ = writeln!(out);
    out
}

/// The database's counters per workload, when they were taken (the mean
/// over repetitions).
fn database_counters(results: &Results, systems: &[System]) -> String {
    let n = results.records;
    let mut rows = Vec::new();
    for &system in systems {
        for (w, name) in WORKLOADS.iter().enumerate() {
            let counted: Vec<_> = results
                .runs
                .iter()
                .filter(|(s, _)| *s == system)
                .filter_map(|(_, m)| m.get(w)?.db_counters)
                .collect();
            if counted.is_empty() {
                continue;
            }
            let k = counted.len() as f64;
            let mean = |f: &dyn Fn(&fengqiao_bench::pg::Counters) -> i64| {
                counted.iter().map(|c| f(c) as f64).sum::<f64>() / k
            };
            let (commits, flushes, lookups) = (
                mean(&|c| c.commits),
                mean(&|c| c.wal_syncs),
                mean(&|c| c.index_scans),
            );
            rows.push(format!(
                "| {} | {name} | {commits:.0} | {:.2} | {flushes:.0} | {:.2} | {lookups:.0} | {:.2} |",
                system.label(),
                commits / n as f64,
                flushes / n as f64,
                lookups / n as f64,
            ));
        }
    }
    if rows.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "#### Database work per workload, N = {n} (`--db-counters`)\n\n\
         Transactions committed (`pg_stat_database.xact_commit`; a statement outside a \
         transaction counts as one), WAL flushes (`pg_stat_wal.wal_sync`, the whole \
         cluster) and index scans on the store's tables (`pg_stat_user_tables.idx_scan`: \
         one per key lookup or range read), per workload and per record.\n\n\
         | system | workload | transactions | per record | WAL flushes | per record | index scans | per record |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n"
    );
    for row in rows {
        out.push_str(&row);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// One goal's verdict.
struct Goal {
    text: String,
    met: Option<bool>,
    evidence: String,
}

fn goal(text: impl Into<String>, met: Option<bool>, evidence: impl Into<String>) -> Goal {
    Goal {
        text: text.into(),
        met,
        evidence: evidence.into(),
    }
}

/// The goal that our time `ours` is at least `factor` times shorter than
/// the peer's `theirs`, with both times as evidence.
fn faster(text: String, ours: f64, theirs: f64, factor: f64) -> Goal {
    goal(
        text,
        Some(theirs >= factor * ours),
        format!("{ours:.3} s vs {theirs:.3} s = {:.1}×", theirs / ours),
    )
}

/// The goals, checked against the medians of every record count.
pub fn goals(all: &[Results]) -> String {
    let mut goals = Vec::new();
    for results in all {
        let n = results.records;
        let get = |s: System, w: usize| results.summary(s, w);
        let batch = System::FengqiaoBatch;
        let ws = System::FengqiaoWs;
        let reference = System::Reference;
        let samod = System::Samod;

        if let (Some(b), Some(r)) = (get(batch, 2), get(reference, 2)) {
            let share = b.bytes() / r.bytes();
            goals.push(goal(
                format!("N={n}: batch W3 in one round trip and ≤ 1% of the reference's bytes"),
                Some(b.round_trips <= 1.0 && share <= 0.01),
                format!(
                    "{:.0} round trip(s); {:.0} B vs {:.0} B = {:.3}%",
                    b.round_trips,
                    b.bytes(),
                    r.bytes(),
                    share * 100.0
                ),
            ));
        }
        if let (Some(b), Some(r)) = (get(batch, 3), get(reference, 3)) {
            goals.push(goal(
                format!("N={n}: batch W4 bytes ≤ 50% of the reference's"),
                Some(b.bytes() <= 0.5 * r.bytes()),
                format!("{:.1}%", 100.0 * b.bytes() / r.bytes()),
            ));
            goals.push(faster(
                format!("N={n}: batch W4 ≥ 5× faster than the reference"),
                b.wall,
                r.wall,
                5.0,
            ));
        }
        for door in [batch, ws] {
            let Some(f) = get(door, 1) else { continue };
            if let Some(r) = get(reference, 1) {
                goals.push(faster(
                    format!("N={n}: {} W2 ≥ 5× faster than the reference", door.label()),
                    f.wall,
                    r.wall,
                    5.0,
                ));
            }
            if let Some(s) = get(samod, 1) {
                goals.push(faster(
                    format!("N={n}: {} W2 ≥ 2× faster than samod", door.label()),
                    f.wall,
                    s.wall,
                    2.0,
                ));
            }
            if let Some(fl) = get(System::Floor, 1) {
                goals.push(goal(
                    format!(
                        "N={n}: {} W2 within 3× of the in-process floor",
                        door.label()
                    ),
                    Some(f.wall <= 3.0 * fl.wall),
                    format!(
                        "{:.3} s vs {:.3} s = {:.2}×",
                        f.wall,
                        fl.wall,
                        f.wall / fl.wall
                    ),
                ));
            }
            if let Some(saved) = results.saved(door) {
                goals.push(goal(
                    format!("N={n}: {} W2 bytes ≤ saved sizes + 10%", door.label()),
                    Some(f.bytes() <= 1.1 * saved as f64),
                    format!(
                        "{:.0} KiB vs {:.0} KiB saved = {:.1}%",
                        f.bytes() / 1024.0,
                        saved as f64 / 1024.0,
                        100.0 * f.bytes() / saved as f64
                    ),
                ));
            }
        }
        if n >= 10_000 {
            for door in [batch, ws] {
                if let (Some(f), Some(r)) = (results.peak_kib(door), results.peak_kib(reference)) {
                    goals.push(goal(
                        format!(
                            "N={n}: {} server peak RSS ≤ 25% of the reference's",
                            door.label()
                        ),
                        Some(f <= 0.25 * r),
                        format!(
                            "{:.0} MiB vs {:.0} MiB = {:.0}%",
                            f / 1024.0,
                            r / 1024.0,
                            100.0 * f / r
                        ),
                    ));
                }
            }
        }
        for pg in [System::FengqiaoBatchPg, System::FengqiaoWsPg] {
            let Some(sled) = pg.on_sled() else { continue };
            for w in [1, 2] {
                let text = format!(
                    "N={n}: {} {} within 2× of the same door on sled",
                    pg.label(),
                    WORKLOADS[w]
                );
                match (get(pg, w), get(sled, w)) {
                    (Some(p), Some(q)) => goals.push(goal(
                        text,
                        Some(p.wall <= 2.0 * q.wall),
                        format!(
                            "{:.3} s vs {:.3} s = {:.2}×",
                            p.wall,
                            q.wall,
                            p.wall / q.wall
                        ),
                    )),
                    (None, Some(_)) if results.runs.iter().any(|(s, _)| *s == pg) => {
                        goals.push(goal(text, Some(false), results.status(pg, w)))
                    }
                    _ => {}
                }
            }
        }
        for (w, name) in WORKLOADS.iter().enumerate() {
            match (get(ws, w), get(samod, w)) {
                (Some(f), Some(s)) => goals.push(goal(
                    format!("N={n}: WebSocket door no slower than samod, {name}"),
                    Some(f.wall <= s.wall),
                    format!(
                        "{:.3} s vs {:.3} s = {:.2}×",
                        f.wall,
                        s.wall,
                        f.wall / s.wall
                    ),
                )),
                (None, Some(_)) if results.runs.iter().any(|(s, _)| *s == ws) => goals.push(goal(
                    format!("N={n}: WebSocket door no slower than samod, {name}"),
                    Some(false),
                    results.status(ws, w),
                )),
                _ => {}
            }
        }
    }
    let mut out = String::from(
        "### Goals\n\n| goal | verdict | measured (Fengqiao vs peer) |\n|---|---|---|\n",
    );
    for g in goals {
        let verdict = match g.met {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "–",
        };
        let _ = writeln!(out, "| {} | {verdict} | {} |", g.text, g.evidence);
    }
    out
}
