//! `fengqiao stats` and `fengqiao export`: the numbers and the tables a
//! town or district official is held to, from a running server, with the
//! official's token — exactly what the dashboard and the API show.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
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
    /// Day after the period, YYYY-MM-DD.
    #[arg(long)]
    pub to: Option<String>,
}

impl Access {
    fn query(&self) -> String {
        let params: Vec<String> = [
            ("scope", &self.scope),
            ("from", &self.from),
            ("to", &self.to),
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

/// The headline numbers, one per line, English and Chinese labels.
pub fn print_summary(title: &str, stats: &Statistics) {
    let t = &stats.disputes.totals;
    println!("\n{title} — township summary 乡镇汇总");
    println!("  disputes 矛盾纠纷            {}", t.total);
    println!("  open 未化解                  {}", t.open);
    println!("    mediating 调解中           {}", t.mediating);
    println!("    escalated 已上报           {}", t.escalated);
    println!("    failed 调解失败            {}", t.failed);
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
    /// Where to write the file (default: disputes.xlsx etc. here).
    #[arg(long)]
    pub out: Option<PathBuf>,
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
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from(format!("{kind}.{ext}")));
    let client = HttpClient::new(&args.access.server, &args.access.token);
    let bytes = client.download(&format!("/v1/export/{kind}.{ext}{}", args.access.query()))?;
    super::write_atomically(&out, &bytes)?;
    println!("wrote {} ({} bytes)", out.display(), bytes.len());
    Ok(())
}
