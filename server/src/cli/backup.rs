//! `fengqiao backup` and `fengqiao restore`: a consistent copy of a
//! server's data, taken while it serves, and loading it into a new data
//! directory.

use std::path::PathBuf;

use clap::Args;

use super::{CliError, HttpClient};
use crate::serve::{self, StoreLocation};

#[derive(Args)]
pub struct BackupArgs {
    /// The file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// The running server's URL.
    #[arg(long, env = "FENGQIAO_SERVER", default_value = "http://127.0.0.1:8470")]
    pub server: String,
    /// The admin token (default: read from DATA/admin.token).
    #[arg(long, env = "FENGQIAO_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// The server's data directory, to read its admin token from.
    #[arg(long, env = "FENGQIAO_DATA", default_value = "./fengqiao-data")]
    pub data: PathBuf,
}

#[derive(Args)]
pub struct RestoreArgs {
    /// A file written by `fengqiao backup`.
    pub file: PathBuf,
    /// The data directory to restore into; it must not hold a store yet.
    #[arg(long, env = "FENGQIAO_DATA", default_value = "./fengqiao-data")]
    pub data: PathBuf,
    /// Restore into this PostgreSQL database instead (postgres://…); its
    /// store must be empty. The admin token still goes to DATA.
    #[arg(long, env = "FENGQIAO_STORE", hide_env_values = true)]
    pub store: Option<String>,
    /// With a PostgreSQL store: the schema to restore into.
    #[arg(long, env = "FENGQIAO_STORE_SCHEMA")]
    pub store_schema: Option<String>,
}

#[derive(Args)]
pub struct MigrateArgs {
    /// The PostgreSQL database (postgres://user:password@host/db).
    #[arg(long, env = "FENGQIAO_STORE", hide_env_values = true)]
    pub store: String,
    /// The schema that holds the store's tables (default: the
    /// connection's, usually public); created if missing.
    #[arg(long, env = "FENGQIAO_STORE_SCHEMA")]
    pub store_schema: Option<String>,
}

/// `fengqiao migrate`: brings a PostgreSQL store's tables to this
/// version's schema (`fengqiao serve` does the same as it starts).
pub fn run_migrate(args: MigrateArgs) -> Result<(), CliError> {
    super::serve::check_store(Some(&args.store))?;
    let StoreLocation::Postgres(config) =
        super::serve::store_location(Some(&args.store), args.store_schema.as_deref())
    else {
        return Err(CliError::new(
            "--store must name a PostgreSQL database (postgres://…); \
             the embedded store needs no migration",
        ));
    };
    let where_ = crate::storage::postgres::redact(&config.url);
    let report = crate::storage::PgBackend::migrate(&config)
        .map_err(|e| CliError::new(format!("cannot migrate the store at {where_}: {e}")))?;
    if report.applied.is_empty() {
        println!(
            "the store at {where_} is at schema version {}, this version's; nothing to do",
            report.to
        );
    } else {
        for (version, name) in &report.applied {
            println!("applied migration {version}: {name}");
        }
        println!(
            "the store at {where_} went from schema version {} to {}",
            report.from, report.to
        );
    }
    Ok(())
}

pub fn run_backup(args: BackupArgs) -> Result<(), CliError> {
    let token = super::admin::admin_token(args.admin_token.as_deref(), &args.data)?;
    let client = HttpClient::new(&args.server, &token);
    let bytes = client.download("/v1/admin/backup")?;
    super::write_atomically(&args.out, &bytes)?;
    println!(
        "backup written to {} ({} bytes); restore it with: fengqiao restore {} --data NEW_DIR",
        args.out.display(),
        bytes.len(),
        args.out.display()
    );
    Ok(())
}

pub fn run_restore(args: RestoreArgs) -> Result<(), CliError> {
    super::serve::check_store(args.store.as_deref())?;
    match super::serve::store_location(args.store.as_deref(), args.store_schema.as_deref()) {
        StoreLocation::Embedded => {
            let report = serve::restore(&args.file, &args.data).map_err(|e| {
                CliError::new(format!(
                    "cannot restore {} into {}: {e}; the directory must be new or empty, and no server may be using it",
                    args.file.display(),
                    args.data.display()
                ))
            })?;
            println!(
                "restored {} entries into {}; start it with: fengqiao serve --data {}",
                report.records,
                args.data.display(),
                args.data.display()
            );
        }
        StoreLocation::Postgres(config) => {
            let where_ = crate::storage::postgres::redact(&config.url);
            let report = serve::restore_to_postgres(&args.file, &config).map_err(|e| {
                CliError::new(format!(
                    "cannot restore {} into {where_}: {e}",
                    args.file.display()
                ))
            })?;
            println!(
                "restored {} entries into {where_}; start it with: fengqiao serve --store … --data {}",
                report.records,
                args.data.display()
            );
            crate::storage::private::create_dir(&args.data)
                .map_err(|e| CliError::new(format!("cannot make {}: {e}", args.data.display())))?;
        }
    }
    println!(
        "phones will upload again whatever they hold that the backup lacks, at their next sync"
    );
    // A backup holds the store, not the admin token.
    let (_, created) = serve::admin_token_in(&args.data).map_err(|e| {
        CliError::new(format!(
            "restored, but cannot write the admin token in {}: {e}",
            args.data.display()
        ))
    })?;
    let token = args.data.join("admin.token");
    if created {
        println!(
            "a NEW admin token was made: {} (the backed-up server's token does not work here; \
             give this one to its administrators)",
            token.display()
        );
    } else {
        println!("the admin token in {} is kept", token.display());
    }
    Ok(())
}
