//! `fengqiao`: the Fengqiao command-line tool.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fengqiao_server::cli::{self, CliError};

/// Fengqiao: offline-first sync for village case work (民情走访, 矛盾纠纷).
///
/// Phones record household visits and disputes offline; when they reach a
/// signal their edits merge here, and towns and districts see the picture.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
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
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
