//! `fengqiao demo`: the whole job on one machine, with no set-up.
//!
//! It creates a demo data directory, starts the real server, imports a demo
//! district (诸暨市) and enrolls devices — village cadres, a second
//! mediator in one village, town officials, a village supervisor and a
//! district official. Then it simulates weeks of field work: phones with
//! real replicas record disputes and household visits offline over
//! simulated days and sync over HTTP when they "have signal", at different
//! times; a town office computer follows cases over the automerge-repo
//! WebSocket. Every evening the towns' and the district's officials work
//! the closed loop on what reached them — accept or return escalations,
//! assign handlers, 督办 late cases, archive concluded ones — through the
//! dashboard's own action path. Four cases are edited concurrently on two
//! phones to show how conflicts merge. Finally it prints the town's numbers (read from the
//! statistics API, as the dashboard shows them), explains each conflict,
//! and keeps serving the dashboard until Ctrl-C.

mod officials;
mod places;
mod script;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use fengqiao_shared::stats::Statistics;
use indicatif::{ProgressBar, ProgressStyle};

use super::CliError;
use crate::serve::{self, ServeConfig};

/// How much data the demo makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scale {
    /// 3 towns, 30 villages, about 6 weeks of work (under a minute).
    Small,
    /// 6 towns, 72 villages, about 3 months of work (a few minutes).
    District,
}

#[derive(Args)]
pub struct DemoArgs {
    /// Where the demo keeps its data. Replaced if it holds an earlier demo;
    /// refused if it holds anything else.
    #[arg(long, default_value = "./fengqiao-demo")]
    pub data: PathBuf,
    /// Address to serve on (another free port is used if it is taken).
    #[arg(long, default_value = "127.0.0.1:8470")]
    pub bind: SocketAddr,
    /// How much data to make.
    #[arg(long, value_enum, default_value_t = Scale::Small)]
    pub scale: Scale,
    /// Exit after printing the summary instead of serving the dashboard.
    #[arg(long)]
    pub no_serve: bool,
    /// Seed of the simulation; the same seed makes the same field work.
    #[arg(long, default_value_t = 20261126)]
    pub seed: u64,
}

const MARKER: &str = ".fengqiao-demo";

fn prepare_dir(data: &std::path::Path) -> Result<(), CliError> {
    if data.exists() {
        let is_demo = data.join(MARKER).exists();
        let empty = std::fs::read_dir(data)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !is_demo && !empty {
            return Err(CliError::new(format!(
                "{} exists and does not hold a demo; choose another directory with --data",
                data.display()
            )));
        }
        std::fs::remove_dir_all(data).map_err(|e| {
            CliError::new(format!(
                "cannot replace the old demo in {}: {e}",
                data.display()
            ))
        })?;
    }
    std::fs::create_dir_all(data)
        .and_then(|()| std::fs::write(data.join(MARKER), "fengqiao demo data; safe to delete\n"))
        .map_err(|e| CliError::new(format!("cannot create {}: {e}", data.display())))
}

pub(crate) fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template("{prefix:>12} [{bar:32}] {pos}/{len} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(what.to_owned());
    bar
}

pub async fn run(args: DemoArgs) -> Result<(), CliError> {
    prepare_dir(&args.data)?;
    let mut config = ServeConfig::new(&args.data, args.bind);
    config.compaction_interval = std::time::Duration::from_secs(10);
    let running = match serve::start_enrolled(config).await {
        Ok(running) => running,
        Err(serve::StartError::Bind { .. }) => {
            println!("{} is taken; serving the demo on another port", args.bind);
            let config = ServeConfig::new(
                &args.data,
                "127.0.0.1:0"
                    .parse()
                    .map_err(|_| CliError::new("bad address"))?,
            );
            serve::start_enrolled(config)
                .await
                .map_err(|e| CliError::new(e.to_string()))?
        }
        Err(e) => return Err(CliError::new(e.to_string())),
    };
    let url = format!("http://{}", running.addr);
    println!(
        "Fengqiao demo — server on {url}, data in {}\n",
        args.data.display()
    );

    let state = running.state.clone();
    let scale = args.scale;
    let seed = args.seed;
    let handle = tokio::runtime::Handle::current();
    let url_for_work = url.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        script::run(&state, &url_for_work, scale, seed, &handle)
    })
    .await
    .map_err(|e| CliError::new(format!("the simulation stopped: {e}")))??;

    let stats = statistics(&url, &outcome.town_token, &outcome.town_code).await?;
    print_summary(&outcome, &stats);
    print_towns(&url, &outcome).await?;
    print_loop(&url, &outcome).await?;
    print_conflicts(&outcome);
    let tokens = write_tokens(&args.data, &url, &outcome)?;

    if args.no_serve {
        // The server stops below; the data stays, and so do the tokens.
        println!(
            "\nDashboard: start the server on the demo's data with\n  fengqiao serve --data {} --bind {}\nthen open {url}/",
            args.data.display(),
            url.trim_start_matches("http://")
        );
    } else {
        println!("\nDashboard: {url}/");
    }
    println!(
        "  log in as the {} official with: {}",
        outcome.town_name, outcome.town_token
    );
    println!(
        "  district official ({}): {}",
        places::DISTRICT.1,
        outcome.district_token
    );
    println!("  village supervisor: {}", outcome.supervisor_token);
    println!(
        "\nField app 走访调解 App — open on a phone (same network) or in a phone-sized \
         browser window, as {}:\n  {}",
        outcome.field_cadre, outcome.field_link
    );
    println!("  admin token: {}", args.data.join("admin.token").display());
    println!(
        "\nTry the field command line 命令行试用 as {} (a phone of its own in ./fengqiao-demo-phone):",
        outcome.cli_cadre
    );
    println!(
        "  fengqiao field --dir ./fengqiao-demo-phone init --server {url} --token {}",
        outcome.cli_token
    );
    println!("  fengqiao field --dir ./fengqiao-demo-phone sync");
    println!("  fengqiao field --dir ./fengqiao-demo-phone dispute list");
    println!(
        "\nEvery token above is saved in {} (readable by you alone) 以上令牌已保存",
        tokens.display()
    );
    if args.no_serve {
        running
            .shutdown()
            .await
            .map_err(|e| CliError::new(format!("error while stopping: {e}")))?;
        return Ok(());
    }
    println!("\nServing until Ctrl-C.");
    super::serve::wait_for_stop_signal().await;
    running
        .shutdown()
        .await
        .map_err(|e| CliError::new(format!("error while stopping: {e}")))
}

/// A scope's statistics from the statistics API, as an official (and the
/// dashboard) sees them.
async fn statistics(url: &str, token: &str, scope: &str) -> Result<Statistics, CliError> {
    let path = format!("/v1/stats/summary?scope={scope}");
    let (url, token) = (url.to_owned(), token.to_owned());
    tokio::task::spawn_blocking(move || super::HttpClient::new(&url, &token).get(&path))
        .await
        .map_err(|e| CliError::new(e.to_string()))?
        .and_then(|value| {
            serde_json::from_value(value).map_err(|e| {
                CliError::new(format!("the statistics answer was not understood: {e}"))
            })
        })
}

fn print_summary(outcome: &script::Outcome, stats: &Statistics) {
    super::stats::print_summary(
        &format!("{} ({})", outcome.town_name, outcome.town_code),
        stats,
    );
    println!(
        "\n  field work: {} phones, {} records made offline, {} syncs ({} over WebSocket), {} KiB up, {} KiB down",
        outcome.phones,
        outcome.records,
        outcome.syncs,
        outcome.ws_syncs,
        outcome.bytes_up / 1024,
        outcome.bytes_down / 1024
    );
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or("—".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

/// One line of the towns' table: the place, then its figures.
pub fn town_line(name: &str, code: &str, stats: &Statistics) -> String {
    let t = &stats.disputes.totals;
    format!(
        "  {name} ({code}) | {} | {} | {} | {} | {} | {} | {} | {} | {}",
        t.received,
        t.resolved,
        percent(t.resolution_rate),
        percent(t.grassroots_rate),
        percent(t.village_rate),
        t.still_open,
        t.failed_in_township,
        t.escalated_beyond_township,
        stats.disputes.overdue.count
    )
}

/// Every town's headline figures and the district's, as the district
/// official reads them.
async fn print_towns(url: &str, outcome: &script::Outcome) -> Result<(), CliError> {
    println!("\nEvery town 各镇街 — as the district official sees them (/v1/stats/summary)");
    println!(
        "  镇街 town | 受理 received | 已化解 resolved | 化解率 rate | 基层化解率 grassroots | \
         村级化解率 village | 仍在办理 still open | 调解失败 failed | 上报镇外 beyond | 超期 overdue"
    );
    for (code, name) in &outcome.towns {
        let stats = statistics(url, &outcome.district_token, code).await?;
        println!("{}", town_line(name, code, &stats));
    }
    let district = statistics(url, &outcome.district_token, places::DISTRICT.0).await?;
    println!(
        "{}",
        town_line(places::DISTRICT.1, places::DISTRICT.0, &district)
    );
    Ok(())
}

/// The closed-loop stages a place's official works, in the order of the
/// loop: `(stage, label)`; `pending` means escalated to the place's own
/// level and not yet accepted.
pub const LOOP_STAGES: [(&str, &str); 6] = [
    ("pending", "待受理 pending"),
    ("accepted", "已受理/待分派 accepted"),
    ("handling", "调处中 handling"),
    ("followup", "待回访 follow-up"),
    ("resolved", "已化解 resolved"),
    ("archived", "已归档 archived"),
];

/// How many disputes of `scope` stand at `stage`, from the record list
/// (`/v1/records`) the dashboard's lists read; `pending` counts those
/// escalated to the scope's own level.
pub async fn loop_count(url: &str, token: &str, scope: &str, stage: &str) -> Result<u64, CliError> {
    let level = if scope.len() == 9 { "town" } else { "district" };
    let mut path =
        format!("/v1/records?scope={scope}&kind=dispute&stage={stage}&page=1&per_page=1");
    if stage == "pending" {
        path.push_str(&format!("&level={level}"));
    }
    let (url, token) = (url.to_owned(), token.to_owned());
    let page = tokio::task::spawn_blocking(move || super::HttpClient::new(&url, &token).get(&path))
        .await
        .map_err(|e| CliError::new(e.to_string()))??;
    page["total"]
        .as_u64()
        .ok_or_else(|| CliError::new("the record list gave no total"))
}

/// One line of the closed-loop table.
pub fn loop_line(name: &str, code: &str, counts: &[u64]) -> String {
    let cells: Vec<String> = counts.iter().map(u64::to_string).collect();
    format!("  {name} ({code}) | {}", cells.join(" | "))
}

/// Where every town's cases stand in the closed loop, and what the
/// officials did.
async fn print_loop(url: &str, outcome: &script::Outcome) -> Result<(), CliError> {
    let a = &outcome.actions;
    println!(
        "
The closed loop 闭环 — officials accepted {} escalations (受理), returned {} (退回), \
         assigned {} handlers (分派), supervised {} cases (督办), archived {} (归档)",
        a.accepted, a.returned, a.assigned, a.supervised, a.archived
    );
    let header: Vec<&str> = LOOP_STAGES.iter().map(|(_, label)| *label).collect();
    println!("  镇街 town | {}", header.join(" | "));
    let places = outcome
        .towns
        .iter()
        .map(|(code, name)| (code.as_str(), name.as_str()))
        .chain([places::DISTRICT]);
    for (code, name) in places {
        let mut counts = Vec::new();
        for (stage, _) in LOOP_STAGES {
            counts.push(loop_count(url, &outcome.district_token, code, stage).await?);
        }
        println!("{}", loop_line(name, code, &counts));
    }
    Ok(())
}

/// Saves the tokens the demo prints in `tokens.txt` of its data
/// directory, readable by the owner alone.
fn write_tokens(
    data: &std::path::Path,
    url: &str,
    outcome: &script::Outcome,
) -> Result<PathBuf, CliError> {
    use std::io::Write;
    let path = data.join("tokens.txt");
    let text = format!(
        "# Fengqiao demo tokens 演示令牌 — server {url}\n\
         # role\tname\tscope\ttoken\n\
         town\t{}综治中心\t{}\t{}\n\
         district\t诸暨市矛调中心\t{}\t{}\n\
         supervisor\t枫源村监委会\t{}\t{}\n\
         cadre (field app)\t{}\t{}\t{}\n\
         cadre (fengqiao field)\t{}\t{}\t{}\n\
         # field app link: {}\n\
         # admin token: {}\n",
        outcome.town_name,
        outcome.town_code,
        outcome.town_token,
        places::DISTRICT.0,
        outcome.district_token,
        outcome.village_code,
        outcome.supervisor_token,
        outcome.field_cadre,
        outcome.village_code,
        outcome.field_token,
        outcome.cli_cadre,
        outcome.village_code,
        outcome.cli_token,
        outcome.field_link,
        data.join("admin.token").display(),
    );
    crate::storage::private::create_file(&path)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .map_err(|e| CliError::new(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

fn print_conflicts(outcome: &script::Outcome) {
    println!("\nHow concurrent edits merged 并发编辑如何合并");
    for case in &outcome.conflicts {
        println!("\n  {} — {}", case.title, case.id);
        for line in &case.lines {
            println!("    {line}");
        }
    }
}

/// Shared by the script: a reference-counted handle to the server state.
pub(crate) type State = Arc<crate::http::AppState>;
