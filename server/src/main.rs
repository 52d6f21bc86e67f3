//! `fengqiao`: the Fengqiao command-line tool.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fengqiao_server::cli::{self, CliError};

/// Fengqiao: offline-first sync for village case work (民情走访, 矛盾纠纷).
///
/// Phones record household visits and disputes offline; when they reach a
/// signal their edits merge here, and towns and districts see the picture.
///
/// Settings come from flags, then FENGQIAO_* environment variables, then an
/// optional TOML file (--config FILE, FENGQIAO_CONFIG, or ./fengqiao.toml),
/// then defaults.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// A TOML file of settings (keys: data, bind, public_url, cache_mb,
    /// reports_mb, store, store_schema, store_cache_mb, max_connections, idle_timeout_secs, ws_messages_per_second, admin_token, insecure_dev_token, server, token, log, field_dir).
    #[arg(long, global = true, env = "FENGQIAO_CONFIG")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the sync server.
    ///
    /// Serves batch sync for Fengqiao phones (POST /v1/sync), the
    /// automerge-repo WebSocket protocol for JavaScript and samod clients
    /// (GET /v1/ws), the admin API, /healthz and /metrics.
    ///
    /// Example, for development on one machine:
    ///
    ///   fengqiao serve --data ./fengqiao-data --bind 127.0.0.1:8470 --insecure-dev-token devtoken
    Serve(cli::serve::ServeArgs),
    /// Administer a running server: organisation, people, devices, audit.
    ///
    /// Example: fengqiao admin --server http://127.0.0.1:8470 org import qijiang.csv
    Admin(cli::admin::AdminArgs),
    /// A phone on the command line: record disputes and visits offline in a
    /// local replica, then sync them.
    ///
    /// Example: fengqiao field dispute new --village 500110101001 --title 宅基地边界纠纷
    Field(cli::field::FieldArgs),
    /// Run the whole job on this machine, with no set-up: a demo district,
    /// phones doing weeks of field work offline, conflicts merging, the
    /// township's numbers — then the dashboard until Ctrl-C.
    ///
    /// Example: fengqiao demo            (or: fengqiao demo --no-serve --scale district)
    Demo(cli::demo::DemoArgs),
    /// A town's or district's numbers, with an official's token.
    ///
    /// Example: fengqiao stats --token fq_… --scope 330681107 --from 2026-10-01
    Stats(cli::stats::StatsArgs),
    /// Export disputes or visits as XLSX or CSV (Chinese column headers).
    ///
    /// Example: fengqiao export disputes --format csv --token fq_… --out disputes.csv
    Export(cli::stats::ExportArgs),
    /// Take a consistent copy of a running server's data.
    ///
    /// Example: fengqiao backup --out fengqiao-2026-11-26.backup --data /var/lib/fengqiao
    Backup(cli::backup::BackupArgs),
    /// Load a backup into a new data directory (the server must be stopped).
    ///
    /// Example: fengqiao restore fengqiao-2026-11-26.backup --data /var/lib/fengqiao-restored
    Restore(cli::backup::RestoreArgs),
    /// Create or update a PostgreSQL store's tables (serve also does it
    /// as it starts).
    ///
    /// Example: fengqiao migrate --store postgres://fengqiao@db.example/fengqiao
    Migrate(cli::backup::MigrateArgs),
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FENGQIAO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(format!("cannot start the async runtime: {e}")))
}

fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Serve(args) => runtime()?.block_on(cli::serve::run(args)),
        Command::Admin(args) => cli::admin::run(args),
        Command::Field(args) => cli::field::run(args),
        Command::Demo(args) => runtime()?.block_on(cli::demo::run(args)),
        Command::Stats(args) => cli::stats::run_stats(args),
        Command::Export(args) => cli::stats::run_export(args),
        Command::Backup(args) => cli::backup::run_backup(args),
        Command::Restore(args) => cli::backup::run_restore(args),
        Command::Migrate(args) => cli::backup::run_migrate(args),
    }
}

/// Applies the configuration file (if any) to the environment, before
/// anything reads it, so that flags and the environment take precedence.
fn load_config() -> Result<(), CliError> {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = cli::config::locate(&args) else {
        return Ok(());
    };
    for (var, value) in cli::config::settings(&path, |v| std::env::var(v).ok())? {
        // SAFETY: called first thing in main, before any other thread exists.
        unsafe { std::env::set_var(var, value) };
    }
    Ok(())
}

fn main() -> ExitCode {
    if let Err(e) = load_config() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let Cli { config: _, command } = Cli::parse();
    init_logging();
    match run(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
