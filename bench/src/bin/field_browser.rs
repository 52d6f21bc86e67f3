//! `field_browser`: the field app and its client library in headless
//! Chromium beside the official automerge-repo JavaScript client, on the
//! same server and the same records.
//!
//! ```text
//! cargo run --release -p fengqiao-bench --bin field_browser -- --records 1000,5000
//! ```
//!
//! For each N: a fresh `fengqiao serve` process (the release binary of this
//! workspace, built if needed) on 127.0.0.1 with the test organisation; a
//! cadre device enrolled for village 500110101001; N dispute records (the
//! comparison's records, `fengqiao_bench::compare::records`) uploaded by a
//! Rust phone. Then `node tests/js/bench/field_browser.mjs` measures, each in
//! its own browser profile:
//!
//! - **library**: `@fengqiao/client` with its IndexedDB store in a page on the
//!   server's origin: set up from the payload and sync until the server has
//!   nothing more (bootstrap: time, bytes, requests, IndexedDB size), then a
//!   page reload and a sync with nothing changed (idle reconnect);
//! - **app**: the field app at `/field`, opened by its set-up link, until it
//!   lists all N and says it is synced (bootstrap), then, with the network
//!   off, a reload until the list is drawn (the offline list of N);
//! - **automerge-repo**: `Repo` 2.5.6 with `BrowserWebSocketClientAdapter`
//!   and `IndexedDBStorageAdapter` on `/v1/ws?token=…` with the same device
//!   token: `find` every id until every document is ready and the server has
//!   confirmed its heads (bootstrap), then a page reload and the same again
//!   from IndexedDB (idle reconnect).
//!
//! A Rust phone (the replica in memory, `sync_until_done`) bootstraps the
//! same records first, as a floor. Bytes are what the browser counts (Chrome
//! DevTools Protocol): response sizes as received (headers included),
//! request bodies, WebSocket frame payloads. Nothing is asserted: the
//! table goes to stdout, with the goals of the field app checked.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use automerge::AutoCommit;
use base64::Engine as _;
use clap::Parser;
use fengqiao_protocol::DeviceId;
use fengqiao_shared::replica::Replica;
use fengqiao_shared::replica::http::{HttpTransport, sync_until_done};
use fengqiao_shared::replica::sync::SyncClient;
use fengqiao_tests::process::{DEV_TOKEN, ServerProcess};
use serde_json::{Value, json};

/// The comparison's records (DESIGN.md §3 disputes, content a function of
/// the index alone), so both benchmarks sync the same data.
#[path = "../compare/records.rs"]
#[allow(dead_code)]
mod records;

use records::{VILLAGE, write_record};

#[derive(Parser, Debug)]
#[command(about, long_about)]
struct Args {
    /// Record counts, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000")]
    records: Vec<usize>,
    /// What to measure: field (the library), app, repo (automerge-repo).
    #[arg(long, value_delimiter = ',', default_value = "field,app,repo")]
    parts: Vec<String>,
    /// Repetitions of each measurement (fresh browser profiles each time, the
    /// same server and records); the table shows medians.
    #[arg(long, default_value_t = 3)]
    repetitions: usize,
    /// The longest one measured step may take, in seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Also write every measurement as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Profile the client library's bootstrap (V8 sampling profiler) and
    /// keep the `.cpuprofile` files here; the hottest functions are printed
    /// to stderr.
    #[arg(long)]
    cpu_profile: Option<PathBuf>,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn ready() -> Result<(), String> {
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !node {
        return Err("`node` (Node.js 20 or later) is not on the PATH".into());
    }
    if !Path::new("/usr/bin/chromium").exists() {
        return Err("/usr/bin/chromium is missing (Debian's `chromium` package)".into());
    }
    let root = workspace();
    for (dir, package) in [
        ("tests/js", "playwright-core"),
        ("tests/js", "esbuild"),
        ("tests/js", "@automerge/automerge-repo-storage-indexeddb"),
        (".", "cbor-x"),
    ] {
        if !root.join(dir).join("node_modules").join(package).is_dir() {
            return Err(format!(
                "{dir}/node_modules/{package} is missing: run `npm ci` in {dir}"
            ));
        }
    }
    Ok(())
}

/// What one N measured: the median of each figure over the repetitions.
struct Run {
    records: usize,
    repetitions: usize,
    rust: Value,
    parts: Vec<Value>,
    /// The 1-minute load average before each repetition.
    loads: Vec<f64>,
    /// Every repetition as measured.
    raw: Vec<Value>,
}

/// The value whose every number is the median of the numbers at the same
/// place in `values` (the first value's shape; other leaves from it).
fn median_of(values: &[&Value]) -> Value {
    let Some(first) = values.first() else {
        return Value::Null;
    };
    match first {
        Value::Number(_) => {
            let mut numbers: Vec<f64> = values.iter().filter_map(|v| v.as_f64()).collect();
            numbers.sort_by(f64::total_cmp);
            match numbers.len() {
                0 => Value::Null,
                n if n % 2 == 1 => json!(numbers[n / 2]),
                n => json!((numbers[n / 2 - 1] + numbers[n / 2]) / 2.0),
            }
        }
        Value::Object(map) => Value::Object(
            map.keys()
                .map(|key| {
                    let at: Vec<&Value> = values.iter().filter_map(|v| v.get(key)).collect();
                    (key.clone(), median_of(&at))
                })
                .collect(),
        ),
        other => (*other).clone(),
    }
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|l| l.parse().ok()))
        .unwrap_or(f64::NAN)
}

fn run(n: usize, args: &Args) -> Result<Run, String> {
    let scratch = tempfile::tempdir().map_err(|e| format!("a scratch directory: {e}"))?;
    let server = ServerProcess::start(&scratch.path().join("data"));
    server.import_test_org();
    let url = server.url();
    let (device, token) = server.enroll("bench-cadre", "cadre", VILLAGE);
    let setup = json!({"server": url, "token": token, "device": device.to_string()});
    let link = format!(
        "{url}/field#setup={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(setup.to_string())
    );

    // N records from a Rust phone with the development token.
    eprintln!("N = {n}: seeding");
    let writer = Replica::in_memory(DeviceId::random()).map_err(|e| e.to_string())?;
    let mut ids = String::new();
    for i in 0..n {
        let id = writer
            .create(|doc: &mut AutoCommit| {
                write_record(doc, i);
                Ok::<_, String>(())
            })
            .map_err(|e| e.to_string())?;
        ids.push_str(&id.to_string());
        ids.push('\n');
    }
    let mut transport = HttpTransport::new(&url, DEV_TOKEN);
    sync_until_done(
        &writer,
        &mut SyncClient::default(),
        &mut transport,
        100_000,
        |_| {},
    )
    .map_err(|e| format!("seeding: {e}"))?;
    let ids_file = scratch.path().join("ids.txt");
    std::fs::write(&ids_file, ids).map_err(|e| e.to_string())?;

    let mut floors = Vec::new();
    let mut runs: Vec<Vec<Value>> = Vec::new();
    let mut loads = Vec::new();
    for repetition in 0..args.repetitions.max(1) {
        // The floor: a Rust phone of the same device bootstraps.
        let reader = Replica::in_memory(device).map_err(|e| e.to_string())?;
        let mut transport = HttpTransport::new(&url, &token);
        let started = Instant::now();
        let report = sync_until_done(
            &reader,
            &mut SyncClient::default(),
            &mut transport,
            100_000,
            |_| {},
        )
        .map_err(|e| format!("the Rust phone: {e}"))?;
        floors.push(json!({
            "ms": started.elapsed().as_secs_f64() * 1000.0,
            "rounds": report.rounds,
            "down": report.bytes.down,
            "up": report.bytes.up,
            "records": reader.ids().map(|ids| ids.len()).unwrap_or(0),
        }));

        let load = load_average();
        loads.push(load);
        eprintln!(
            "N = {n}: the browser, repetition {} of {} (load {load})",
            repetition + 1,
            args.repetitions
        );
        let bench = json!({
            "server": url,
            "setup": setup,
            "link": link,
            "wsUrl": format!("ws://{}/v1/ws?token={token}", server.addr),
            "idsFile": ids_file,
            "records": n,
            "limitMs": args.timeout * 1000,
            "profiles": scratch.path().join(format!("profiles-{repetition}")),
            "parts": args.parts,
            "cpuProfile": args.cpu_profile.as_ref().map(|dir| std::path::absolute(dir).unwrap_or_else(|_| dir.clone())),
        });
        runs.push(browser_side(&bench)?);
    }
    let rust = median_of(&floors.iter().collect::<Vec<_>>());
    let parts = args
        .parts
        .iter()
        .map(|name| {
            let measured: Vec<&Value> = runs
                .iter()
                .filter_map(|run| run.iter().find(|p| p["event"] == name.as_str()))
                .collect();
            median_of(&measured)
        })
        .filter(|v| !v.is_null())
        .collect();
    let raw = runs.into_iter().map(Value::from).collect();
    drop(server);
    Ok(Run {
        records: n,
        repetitions: args.repetitions.max(1),
        rust,
        parts,
        loads,
        raw,
    })
}

/// Runs `node bench/field_browser.mjs` once; its reports.
fn browser_side(bench: &Value) -> Result<Vec<Value>, String> {
    let mut child = Command::new("node")
        .arg("bench/field_browser.mjs")
        .current_dir(workspace().join("tests/js"))
        .env("BENCH", bench.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("node: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut parts = Vec::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        match serde_json::from_str::<Value>(&line) {
            Ok(value) if value["event"] == "failed" => {
                let _ = child.wait();
                return Err(format!("the browser side failed: {}", value["reason"]));
            }
            Ok(value) => parts.push(value),
            Err(_) => eprintln!("{line}"),
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("the browser side exited with {status}"));
    }
    Ok(parts)
}

fn part<'a>(run: &'a Run, name: &str) -> Option<&'a Value> {
    run.parts.iter().find(|p| p["event"] == name)
}

fn num(value: &Value) -> Option<f64> {
    value.as_f64()
}

fn ms(value: Option<f64>) -> String {
    match value {
        Some(ms) if ms >= 10_000.0 => format!("{:.1} s", ms / 1000.0),
        Some(ms) => format!("{ms:.0} ms"),
        None => "—".into(),
    }
}

fn bytes(value: Option<f64>) -> String {
    match value {
        Some(b) if b >= 1_048_576.0 => format!("{:.1} MiB", b / 1_048_576.0),
        Some(b) if b >= 10_240.0 => format!("{:.0} KiB", b / 1024.0),
        Some(b) => format!("{b:.0} B"),
        None => "—".into(),
    }
}

fn count(value: Option<f64>) -> String {
    value.map_or("—".into(), |v| format!("{v:.0}"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.3}", a / b),
        _ => "—".into(),
    }
}

fn sum(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? + b?)
}

/// The markdown report of one N.
fn table(run: &Run) -> String {
    let mut out = String::new();
    let n = run.records;
    let field = part(run, "field");
    let app = part(run, "app");
    let repo = part(run, "repo");
    let get = |v: Option<&Value>, path: &[&str]| -> Option<f64> {
        let mut v = v?;
        for key in path {
            v = v.get(key)?;
        }
        num(v)
    };
    let mut loads = run.loads.clone();
    loads.sort_by(f64::total_cmp);
    out.push_str(&format!(
        "#### N = {n} records ({} repetitions, medians; 1-minute load average median {:.2}, max {:.2})\n\n",
        run.repetitions,
        loads.get(loads.len() / 2).copied().unwrap_or(f64::NAN),
        loads.last().copied().unwrap_or(f64::NAN),
    ));
    out.push_str("| client | bootstrap | bytes down | bytes up | requests / frames | records | IndexedDB (estimate) | IndexedDB (disk) |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    out.push_str(&format!(
        "| Rust phone (floor, in memory) | {} | {} | {} | {} requests | {} | — | — |\n",
        ms(get(Some(&run.rust), &["ms"])),
        bytes(get(Some(&run.rust), &["down"])),
        bytes(get(Some(&run.rust), &["up"])),
        count(get(Some(&run.rust), &["rounds"])),
        count(get(Some(&run.rust), &["records"])),
    ));
    out.push_str(&format!(
        "| field library (`@fengqiao/client`, batch door) | {} | {} | {} | {} requests | {} | {} | {} |\n",
        ms(get(field, &["bootstrap", "ms"])),
        bytes(get(field, &["bootTraffic", "down"])),
        bytes(get(field, &["bootTraffic", "up"])),
        count(get(field, &["bootTraffic", "syncRequests"])),
        count(get(field, &["bootstrap", "records"])),
        bytes(get(field, &["storage", "indexedDB"])),
        bytes(get(field, &["disk"])),
    ));
    out.push_str(&format!(
        "| field app (`/field`, set-up link to list shown) | {} | {} ({} of /v1/sync) | {} | {} requests ({} to /v1/sync) | {} | {} | {} |\n",
        ms(get(app, &["bootMs"])),
        bytes(get(app, &["bootTraffic", "down"])),
        bytes(get(app, &["bootTraffic", "syncDown"])),
        bytes(get(app, &["bootTraffic", "up"])),
        count(get(app, &["bootTraffic", "requests"])),
        count(get(app, &["bootTraffic", "syncRequests"])),
        count(get(app, &["shown"])),
        bytes(get(app, &["storage", "indexedDB"])),
        bytes(get(app, &["disk"])),
    ));
    out.push_str(&format!(
        "| automerge-repo 2.5.6 (WebSocket door) | {} | {} | {} | {} ↓ / {} ↑ frames | {} | {} | {} |\n\n",
        ms(get(repo, &["bootstrap", "ms"])),
        bytes(get(repo, &["bootTraffic", "wsDown"])),
        bytes(get(repo, &["bootTraffic", "wsUp"])),
        count(get(repo, &["bootTraffic", "wsFramesDown"])),
        count(get(repo, &["bootTraffic", "wsFramesUp"])),
        count(get(repo, &["bootstrap", "records"])),
        bytes(get(repo, &["storage", "indexedDB"])),
        bytes(get(repo, &["disk"])),
    ));

    let field_idle = sum(
        get(field, &["idleTraffic", "syncDown"]),
        get(field, &["idleTraffic", "syncUp"]),
    );
    let repo_idle = sum(
        get(repo, &["idleTraffic", "wsDown"]),
        get(repo, &["idleTraffic", "wsUp"]),
    );
    out.push_str("| idle reconnect (page reload, nothing changed) | records ready | synced | bytes (up + down) | round trips |\n");
    out.push_str("|---|---:|---:|---:|---:|\n");
    out.push_str(&format!(
        "| field library | — | {} | {} | {} |\n",
        ms(get(field, &["reconnect", "ms"])),
        bytes(field_idle),
        count(get(field, &["idleTraffic", "syncRequests"])),
    ));
    out.push_str(&format!(
        "| automerge-repo | {} | {} | {} | {} ↓ / {} ↑ frames |\n\n",
        ms(get(repo, &["reconnect", "readyMs"])),
        ms(get(repo, &["reconnect", "ms"])),
        bytes(repo_idle),
        count(get(repo, &["idleTraffic", "wsFramesDown"])),
        count(get(repo, &["idleTraffic", "wsFramesUp"])),
    ));

    let boot_ratio = ratio(
        get(repo, &["bootstrap", "ms"]),
        get(field, &["bootstrap", "ms"]),
    );
    let app_boot_ratio = ratio(get(repo, &["bootstrap", "ms"]), get(app, &["bootMs"]));
    let idle_ratio = ratio(field_idle, repo_idle);
    let list = get(app, &["listMs"]);
    let rounds = get(field, &["idleTraffic", "syncRequests"]);
    out.push_str("| goal | measured | met |\n|---|---:|---|\n");
    let met = |ok: Option<bool>| match ok {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "not measured",
    };
    out.push_str(&format!(
        "| idle reconnect in 1 round trip | {} | {} |\n",
        count(rounds),
        met(rounds.map(|r| r <= 1.0))
    ));
    out.push_str(&format!(
        "| idle reconnect bytes ≤ 1 % of automerge-repo's | {idle_ratio} | {} |\n",
        met(field_idle.zip(repo_idle).map(|(f, r)| f <= r * 0.01))
    ));
    out.push_str(&format!(
        "| bootstrap ≥ 3× faster than automerge-repo (library) | {boot_ratio}× | {} |\n",
        met(get(repo, &["bootstrap", "ms"])
            .zip(get(field, &["bootstrap", "ms"]))
            .map(|(r, f)| r >= 3.0 * f))
    ));
    out.push_str(&format!(
        "| bootstrap ≥ 3× faster than automerge-repo (app, list shown) | {app_boot_ratio}× | {} |\n",
        met(get(repo, &["bootstrap", "ms"])
            .zip(get(app, &["bootMs"]))
            .map(|(r, f)| r >= 3.0 * f))
    ));
    out.push_str(&format!(
        "| the app opens its list offline in ≤ 1 s (first row {}) | {} | {} |\n\n",
        ms(get(app, &["firstRowMs"])),
        ms(list),
        met(list.map(|l| l <= 1000.0))
    ));
    out
}

fn main() {
    let args = Args::parse();
    if let Err(why) = ready() {
        eprintln!("field_browser cannot run: {why}");
        std::process::exit(2);
    }
    let started = Instant::now();
    let mut runs = Vec::new();
    let mut failed = false;
    for &n in &args.records {
        match run(n, &args) {
            Ok(run) => {
                print!("{}", table(&run));
                if let Some(hot) = part(&run, "field").map(|f| &f["hot"])
                    && !hot.is_null()
                {
                    eprintln!("N = {n}: the library's bootstrap, hottest functions (self time):");
                    for entry in hot["top"].as_array().into_iter().flatten() {
                        eprintln!(
                            "  {:>7} ms  {}",
                            entry["ms"],
                            entry["name"].as_str().unwrap_or("")
                        );
                    }
                    eprintln!("  profile: {}", hot["file"].as_str().unwrap_or(""));
                }
                runs.push(run);
            }
            Err(why) => {
                eprintln!("N = {n}: {why}");
                failed = true;
            }
        }
    }
    if let Some(path) = &args.json {
        let all: Vec<Value> = runs
            .iter()
            .map(
                |r| json!({"records": r.records, "median": {"rust": r.rust, "parts": r.parts}, "loads": r.loads, "runs": r.raw}),
            )
            .collect();
        if let Err(e) = std::fs::write(path, serde_json::to_string_pretty(&all).unwrap_or_default())
        {
            eprintln!("cannot write {}: {e}", path.display());
        }
    }
    eprintln!(
        "field_browser: done in {:.0} s",
        Duration::as_secs_f64(&started.elapsed())
    );
    if failed {
        std::process::exit(1);
    }
}
