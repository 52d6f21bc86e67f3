//! `fengqiao serve`: run the sync server until Ctrl-C or SIGTERM, then
//! finish in-flight requests.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::CliError;
use crate::limit::RateLimit;
use crate::serve::{self, ServeConfig, StoreLocation};
use crate::storage::PgConfig;

#[derive(Args)]
pub struct ServeArgs {
    /// Directory holding the server's data; created if missing.
    #[arg(long, env = "FENGQIAO_DATA", default_value = "./fengqiao-data")]
    pub data: PathBuf,
    /// Where the records are kept. Default: DATA/store, on the embedded
    /// database. A PostgreSQL address (postgres://user:password@host/db)
    /// keeps them there instead; several servers may then share it.
    #[arg(long, env = "FENGQIAO_STORE", hide_env_values = true)]
    pub store: Option<String>,
    /// With a PostgreSQL store: the schema that holds its tables (default:
    /// the connection's, usually public).
    #[arg(long, env = "FENGQIAO_STORE_SCHEMA")]
    pub store_schema: Option<String>,
    /// With a PostgreSQL store: memory for the store reads this server
    /// keeps (metadata, server values, recent records; a quarter of it for
    /// the change feed's newest entries), in MiB; 0 reads everything from
    /// the database.
    #[arg(long, env = "FENGQIAO_STORE_CACHE_MB", default_value_t = 64)]
    pub store_cache_mb: u64,
    /// Address and port to listen on.
    #[arg(long, env = "FENGQIAO_BIND", default_value = "127.0.0.1:8470")]
    pub bind: SocketAddr,
    /// A second address serving `/metrics` without a token (and
    /// `/healthz`), for monitoring, e.g. 127.0.0.1:9470. Keep it off the
    /// phones' network: the metrics count every scope's activity. On the
    /// main address `/metrics` answers only the admin token.
    #[arg(long, env = "FENGQIAO_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
    /// UNSAFE: also accept this one token with unrestricted read and write
    /// access to every record. For development only; never use it on a
    /// server that holds real people's data.
    #[arg(long, env = "FENGQIAO_INSECURE_DEV_TOKEN", hide_env_values = true)]
    pub insecure_dev_token: Option<String>,
    /// The admin token (default: DATA/admin.token, created at first start).
    #[arg(long, env = "FENGQIAO_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// The URL phones use to reach this server, put in set-up payloads
    /// (default: the address the admin's request came to).
    #[arg(long, env = "FENGQIAO_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Memory budget for loaded documents, in MiB.
    #[arg(long, env = "FENGQIAO_CACHE_MB", default_value_t = 256)]
    pub cache_mb: u64,
    /// Memory budget for the record summaries the township and district
    /// reports keep (about a kilobyte per record), in MiB; beyond it the scopes
    /// used least recently are dropped and read again when asked for.
    #[arg(long, env = "FENGQIAO_REPORTS_MB", default_value_t = 2048)]
    pub reports_mb: u64,
    /// Open connections at most; at the cap the oldest connection that has
    /// not yet sent a whole request's headers is closed to make room, and
    /// when there is none further clients wait to be accepted until one
    /// closes.
    #[arg(long, env = "FENGQIAO_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Open connections from one IP address at most; further ones are
    /// closed at once. Phones behind one carrier NAT share an address, so
    /// keep it well above the phones that sync at the same moment.
    #[arg(long, env = "FENGQIAO_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_address: u32,
    /// Largest request body in KiB, as sent and once decompressed; a device
    /// has at most this much arriving at a time.
    #[arg(long, env = "FENGQIAO_MAX_BODY_KB", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(64..))]
    pub max_body_kb: u32,
    /// Seconds a connection may stay silent (nothing read or written)
    /// before it is closed.
    #[arg(long, env = "FENGQIAO_IDLE_TIMEOUT_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_secs: u64,
    /// WebSocket messages a device may send per second, after a burst of
    /// fifty seconds' worth; a faster device is read more slowly (nothing
    /// is refused).
    #[arg(long, env = "FENGQIAO_WS_MESSAGES_PER_SECOND", default_value_t = 1_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub ws_messages_per_second: u32,
    /// Days from a dispute's report within which it must be concluded
    /// (办结时限), where the organisation sets no limit of its own.
    #[arg(long, env = "FENGQIAO_CONCLUDE_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=366))]
    pub conclude_days: u32,
    /// Days within which the level above accepts an escalated case (受理时限).
    #[arg(long, env = "FENGQIAO_ACCEPT_DAYS", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=366))]
    pub accept_days: u32,
    /// Days from an agreement within which the parties are visited again
    /// (回访时限).
    #[arg(long, env = "FENGQIAO_FOLLOWUP_DAYS", default_value_t = 15,
          value_parser = clap::value_parser!(u32).range(1..=366))]
    pub followup_days: u32,
    /// Post each alert (a dispute that becomes high-risk, a visit that
    /// becomes urgent) as signed JSON to this http:// or https:// URL, e.g.
    /// a county platform's intake; retried with backoff, never delaying a
    /// sync. See docs/township-view.md.
    #[arg(long, env = "FENGQIAO_WEBHOOK")]
    pub webhook: Option<String>,
    /// The key that signs webhook posts (HMAC-SHA256); default:
    /// DATA/webhook.secret, created at first start (mode 0600).
    #[arg(long, env = "FENGQIAO_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
}

/// Refuses a `--store` that is not a PostgreSQL address (the embedded
/// store is chosen by leaving it out).
pub fn check_store(store: Option<&str>) -> Result<(), CliError> {
    match store.map(str::trim).filter(|s| !s.is_empty()) {
        Some(store)
            if !(crate::storage::postgres::is_postgres_url(store)
                || store.contains("host=")
                || store.contains("dbname=")) =>
        {
            Err(CliError::new(format!(
                "--store {} is not a PostgreSQL address: write postgres://user:password@host/db, \
                 or leave --store out to keep the records in DATA/store",
                crate::storage::postgres::redact(store)
            )))
        }
        _ => Ok(()),
    }
}

/// Where `--store` says the records are kept.
pub fn store_location(store: Option<&str>, schema: Option<&str>) -> StoreLocation {
    match store.filter(|s| !s.trim().is_empty()) {
        None => StoreLocation::Embedded,
        Some(store) => {
            let mut config = PgConfig::new(store.trim());
            config.schema = schema.filter(|s| !s.is_empty()).map(str::to_owned);
            StoreLocation::Postgres(config)
        }
    }
}

impl ServeArgs {
    pub fn config(&self) -> ServeConfig {
        let mut config = ServeConfig::new(&self.data, self.bind);
        config.store = store_location(self.store.as_deref(), self.store_schema.as_deref());
        if let StoreLocation::Postgres(pg) = &mut config.store {
            pg.cache_bytes = usize::try_from(self.store_cache_mb.saturating_mul(1024 * 1024))
                .unwrap_or(usize::MAX);
        }
        config.metrics_bind = self.metrics_bind;
        config.dev_token = self.insecure_dev_token.clone().filter(|t| !t.is_empty());
        config.admin_token = self.admin_token.clone().filter(|t| !t.is_empty());
        config.public_url = self.public_url.clone();
        config.engine.cache_bytes = self.cache_mb.saturating_mul(1024 * 1024);
        config.reports.budget_bytes = self.reports_mb.saturating_mul(1024 * 1024);
        config.http.max_connections = self.max_connections.max(1);
        config.http.max_connections_per_address = self.max_connections_per_address as usize;
        config.http.max_body_bytes = self.max_body_kb as usize * 1024;
        config.http.idle_timeout = std::time::Duration::from_secs(self.idle_timeout_secs);
        let rate = f64::from(self.ws_messages_per_second);
        config.ws_rate = RateLimit {
            per_second: rate,
            burst: rate * 50.0,
        };
        config.time_limits = fengqiao_shared::deadline::TimeLimits {
            conclude_days: self.conclude_days,
            accept_days: self.accept_days,
            followup_days: self.followup_days,
        };
        config
    }
}

pub async fn run(args: ServeArgs) -> Result<(), CliError> {
    check_store(args.store.as_deref())?;
    let mut config = args.config();
    if let Some(url) = args.webhook.as_deref().filter(|u| !u.is_empty()) {
        crate::alerts::check_url(url).map_err(|e| CliError::new(e.to_string()))?;
        let secret = crate::alerts::secret_in(&args.data, args.webhook_secret.as_deref())
            .map_err(|e| CliError::new(e.to_string()))?;
        config.webhook = Some(
            crate::alerts::WebhookConfig::new(url, secret)
                .map_err(|e| CliError::new(e.to_string()))?,
        );
    }
    if config.dev_token.is_some() {
        tracing::warn!(
            "--insecure-dev-token is set: anyone with that token can read and change every \
             record. Never use it with real data."
        );
    }
    let data = config.data.clone();
    let running = serve::start_enrolled(config)
        .await
        .map_err(|e| CliError::new(e.to_string()))?;
    // A closed stdout (the launcher went away) must not stop the server.
    use std::io::Write;
    let mut out = std::io::stdout();
    let _ = writeln!(out, "fengqiao serving on http://{}", running.addr);
    if let Some(metrics) = running.metrics_addr {
        let _ = writeln!(out, "metrics on http://{metrics}/metrics");
    }
    let _ = writeln!(
        out,
        "admin token: {} (or FENGQIAO_ADMIN_TOKEN)",
        data.join("admin.token").display()
    );
    let _ = out.flush();
    wait_for_stop_signal().await;
    tracing::info!("stopping: finishing in-flight requests");
    running
        .shutdown()
        .await
        .map_err(|e| CliError::new(format!("error while stopping: {e}")))
}

/// Ctrl-C, or SIGTERM on Unix.
pub async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn memory_budgets_reach_the_server_config() {
        let args = Wrapper::parse_from([
            "fengqiao",
            "--cache-mb",
            "32",
            "--reports-mb",
            "64",
            "--max-connections",
            "500",
            "--idle-timeout-secs",
            "30",
        ]);
        let config = args.serve.config();
        assert_eq!(config.engine.cache_bytes, 32 << 20);
        assert_eq!(config.reports.budget_bytes, 64 << 20);
        assert_eq!(config.http.max_connections, 500);
        assert_eq!(config.http.idle_timeout, std::time::Duration::from_secs(30));
        let defaults = Wrapper::parse_from(["fengqiao"]).serve.config();
        assert_eq!(defaults.reports.budget_bytes, 2048 << 20);
        assert_eq!(defaults.http.max_connections, 10_000);
        assert_eq!(defaults.http.max_connections_per_address, 256);
        assert_eq!(defaults.http.max_body_bytes, 4 << 20);
        assert!(Wrapper::try_parse_from(["fengqiao", "--idle-timeout-secs", "0"]).is_err());
        assert_eq!(defaults.metrics_bind, None);
        let metrics = Wrapper::parse_from(["fengqiao", "--metrics-bind", "127.0.0.1:9470"]);
        assert_eq!(
            metrics.serve.config().metrics_bind,
            Some("127.0.0.1:9470".parse().unwrap())
        );
    }
}
