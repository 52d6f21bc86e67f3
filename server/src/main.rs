//! `fengqiao`: the Fengqiao command-line tool.
//!
//! The sync server itself is not built yet; today the binary only explains
//! itself and validates division codes, so that the command shape is settled
//! early.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fengqiao_protocol::Scope;

/// Fengqiao: offline-first sync for village case work (民情走访, 矛盾纠纷).
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a division code or scope and print what it covers.
    ///
    /// Example: `fengqiao scope 500110101` prints "town 500110101 (district 500110)".
    Scope {
        /// A district (6 digits), town (9) or village (12) code.
        code: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Scope { code } => match Scope::parse(&code) {
            Ok(scope) => {
                let district = &scope.prefix()[..6];
                println!("{} {} (district {district})", scope.level(), scope.prefix());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
    }
}
