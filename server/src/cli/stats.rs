//! `fengqiao stats` and `fengqiao export`: the numbers and the tables a
//! town or district official is held to, from a running server, with the
//! official's token — exactly what the dashboard and the API show.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use fengqiao_protocol::Scope;
use fengqiao_shared::stats::Statistics;

use super::{CliError, HttpClient};

#[derive(Args)]
pub struct Access {
    /// The server's URL.
    #[arg(long, env = "FENGQIAO_SERVER", default_value = "http://127.0.0.1:8470")]
    pub server: String,
    /// An official's device token.
    #[arg(long, env = "FENGQIAO_TOKEN", hide_env_values = true)]
    pub token: String,
    /// A district, town or village code (default: the token's own scope).
    #[arg(long)]
    pub scope: Option<String>,
    /// First day of the period, YYYY-MM-DD (China Standard Time).
    #[arg(long)]
    pub from: Option<String>,
    /// Last day of the period, YYYY-MM-DD (China Standard Time); that day
    /// is included.
    #[arg(long)]
    pub to: Option<String>,
    /// The day backlog figures (overdue, open high-risk, days open) are
    /// counted at, YYYY-MM-DD (default: now).
    #[arg(long)]
    pub as_of: Option<String>,
}

impl Access {
    fn query(&self) -> String {
        let params: Vec<String> = [
            ("scope", &self.scope),
            ("from", &self.from),
            ("to", &self.to),
            ("asOf", &self.as_of),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect();
        if params.is_empty() {
            String::new()
        } else {
            format!("?{}", params.join("&"))
        }
    }
}

#[derive(Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub access: Access,
    /// Print the full statistics as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or("—".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

/// What a summary of `scope` is called: a district's, a town's, a
/// village's, or everything's.
pub fn summary_kind(scope: Option<&Scope>) -> &'static str {
    match scope {
        Some(Scope::District(_)) => "district summary 区县汇总",
        Some(Scope::Town(_)) => "township summary 乡镇汇总",
        Some(Scope::Village(_)) => "village summary 村汇总",
        None => "summary of every place 全部汇总",
    }
}

/// The headline numbers, one per line, English and Chinese labels.
pub fn print_summary(title: &str, stats: &Statistics) {
    let t = &stats.disputes.totals;
    println!(
        "\n{title} — {}",
        summary_kind(stats.disputes.scope.as_ref())
    );
    println!("  disputes received 受理纠纷    {}", t.received);
    println!("  resolved 已化解              {}", t.resolved);
    println!(
        "  resolution rate 化解率       {}",
        percent(t.resolution_rate)
    );
    println!(
        "  grassroots rate 基层化解率   {} (target ≥ 90%: {})",
        percent(t.grassroots_rate),
        if t.grassroots_target_met {
            "met 达标"
        } else {
            "not met 未达标"
        }
    );
    println!("  village rate 村级化解率      {}", percent(t.village_rate));
    println!(
        "    resolved in the village 村级化解   {}",
        t.village_resolved
    );
    println!("    resolved at the town 镇级化解      {}", t.town_resolved);
    println!("  the gap to 100% 未基层化解:");
    println!("    still open 仍在办理                {}", t.still_open);
    println!(
        "    failed in the township 调解失败    {}",
        t.failed_in_township
    );
    println!(
        "    escalated beyond the township 上报镇外 {}",
        t.escalated_beyond_township
    );
    println!("  by status 按状态:");
    println!("    open 未化解                {}", t.open);
    println!("    mediating 调解中           {}", t.mediating);
    println!("    escalated 已上报           {}", t.escalated);
    println!("    failed 调解失败            {}", t.failed);
    println!(
        "  median days to resolve 中位化解天数 {}",
        t.median_days_to_resolve
            .map_or("—".to_owned(), |d| format!("{d:.1}"))
    );
    println!(
        "  overdue 超期未结 (>{} days)   {}",
        stats.disputes.overdue_days, stats.disputes.overdue.count
    );
    println!(
        "  open high-risk 高风险未结     {}",
        stats.disputes.open_high_risk.count
    );
    println!(
        "  possible duplicates 疑似重复  {}",
        stats.disputes.possible_duplicate_count
    );
    println!("  visits 民情走访              {}", stats.visits.total);
    println!(
        "  pending follow-ups 待回访     {}",
        stats.visits.follow_ups.pending.count
    );
}

pub fn run_stats(args: StatsArgs) -> Result<(), CliError> {
    let client = HttpClient::new(&args.access.server, &args.access.token);
    let value = client.get(&format!("/v1/stats/summary{}", args.access.query()))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&value).map_err(|e| CliError::new(e.to_string()))?
        );
        return Ok(());
    }
    let stats: Statistics = serde_json::from_value(value)
        .map_err(|e| CliError::new(format!("the statistics answer was not understood: {e}")))?;
    let title = stats
        .disputes
        .scope
        .as_ref()
        .map_or("all places".to_owned(), |s| s.to_string());
    print_summary(&title, &stats);
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum What {
    Disputes,
    Visits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    /// UTF-8 with a BOM, so Excel opens it right.
    Csv,
    Xlsx,
}

#[derive(Args)]
pub struct ExportArgs {
    /// What to export.
    #[arg(value_enum)]
    pub what: What,
    #[arg(long, value_enum, default_value_t = FileFormat::Xlsx)]
    pub format: FileFormat,
    /// Where to write the file (default: here, under the name the server
    /// gives, with the place and the period, e.g.
    /// 矛盾纠纷_枫桥镇_2026-10-01至2026-10-31.xlsx).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The language of the headers and labels: zh (中文, the default) or en.
    #[arg(long, value_parser = ["zh", "en"], default_value = "zh")]
    pub lang: String,
    #[command(flatten)]
    pub access: Access,
}

pub fn run_export(args: ExportArgs) -> Result<(), CliError> {
    let kind = match args.what {
        What::Disputes => "disputes",
        What::Visits => "visits",
    };
    let ext = match args.format {
        FileFormat::Csv => "csv",
        FileFormat::Xlsx => "xlsx",
    };
    let client = HttpClient::new(&args.access.server, &args.access.token);
    let query = args.access.query();
    let lang = match (args.lang.as_str(), query.is_empty()) {
        ("zh", _) => String::new(),
        (lang, true) => format!("?lang={lang}"),
        (lang, false) => format!("&lang={lang}"),
    };
    let (bytes, named) = client.download_named(&format!("/v1/export/{kind}.{ext}{query}{lang}"))?;
    let out = args
        .out
        .or_else(|| named.map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(format!("{kind}.{ext}")));
    super::write_atomically(&out, &bytes)?;
    println!("wrote {} ({} bytes)", out.display(), bytes.len());
    Ok(())
}
