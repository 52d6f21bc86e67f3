//! The optional configuration file.
//!
//! Settings come from, in order of precedence: command-line flags, then
//! `FENGQIAO_*` environment variables, then the configuration file, then
//! built-in defaults. The file is TOML with flat keys, e.g.
//!
//! ```toml
//! data = "/var/lib/fengqiao"
//! store = "postgres://fengqiao@db.example.gov.cn/fengqiao"   # optional
//! bind = "0.0.0.0:8470"
//! metrics_bind = "127.0.0.1:9470"
//! public_url = "https://fengqiao.example.gov.cn"
//! cache_mb = 512
//! reports_mb = 4096
//! ```
//!
//! It is read from `--config FILE`, or `FENGQIAO_CONFIG`, or `./fengqiao.toml`
//! if that exists. Each key stands for the environment variable of the same
//! name (`data` → `FENGQIAO_DATA`), which is only set from the file when the
//! environment does not set it already — so the precedence above holds for
//! every command without each one knowing about the file.

use std::path::{Path, PathBuf};

use super::CliError;

/// The keys a configuration file may hold.
pub const KEYS: [&str; 23] = [
    "data",
    "store",
    "store_schema",
    "store_cache_mb",
    "bind",
    "metrics_bind",
    "public_url",
    "cache_mb",
    "reports_mb",
    "max_connections",
    "idle_timeout_secs",
    "ws_messages_per_second",
    "admin_token",
    "insecure_dev_token",
    "server",
    "token",
    "log",
    "field_dir",
    "conclude_days",
    "accept_days",
    "followup_days",
    "webhook",
    "webhook_secret",
];

/// Where the configuration file is, if there is one: `--config FILE` or
/// `--config=FILE` among `args`, else `FENGQIAO_CONFIG`, else
/// `./fengqiao.toml` when it exists.
pub fn locate(args: &[String]) -> Option<PathBuf> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    if let Ok(path) = std::env::var("FENGQIAO_CONFIG")
        && !path.is_empty()
    {
        return Some(PathBuf::from(path));
    }
    let default = PathBuf::from("fengqiao.toml");
    default.exists().then_some(default)
}

/// The environment variables a configuration file asks for, in file order,
/// leaving out those the environment already sets.
pub fn settings(
    path: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::new(format!(
            "cannot read the configuration file {}: {e}",
            path.display()
        ))
    })?;
    let table: toml::Table = text.parse().map_err(|e| {
        CliError::new(format!(
            "the configuration file {} is not valid TOML: {e}",
            path.display()
        ))
    })?;
    let mut out = Vec::new();
    for (key, value) in table {
        if !KEYS.contains(&key.as_str()) {
            return Err(CliError::new(format!(
                "unknown setting {key:?} in {}; known settings: {}",
                path.display(),
                KEYS.join(", ")
            )));
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(CliError::new(format!(
                    "setting {key:?} in {} must be a string or a number, not {}",
                    path.display(),
                    other.type_str()
                )));
            }
        };
        let var = format!("FENGQIAO_{}", key.to_ascii_uppercase());
        if env(&var).is_none() {
            out.push((var, value));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_fills_in_what_the_environment_does_not_set() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fengqiao.toml");
        std::fs::write(
            &path,
            "data = \"/srv/fq\"\nbind = \"0.0.0.0:9000\"\ncache_mb = 64\n",
        )
        .unwrap();
        let env = |var: &str| (var == "FENGQIAO_BIND").then(|| "127.0.0.1:1".to_owned());
        let got = settings(&path, env).unwrap();
        assert_eq!(
            got,
            vec![
                ("FENGQIAO_CACHE_MB".to_owned(), "64".to_owned()),
                ("FENGQIAO_DATA".to_owned(), "/srv/fq".to_owned()),
            ]
        );
    }

    #[test]
    fn the_metrics_address_can_be_set_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fengqiao.toml");
        std::fs::write(&path, "metrics_bind = \"127.0.0.1:9470\"\n").unwrap();
        assert_eq!(
            settings(&path, |_| None).unwrap(),
            vec![(
                "FENGQIAO_METRICS_BIND".to_owned(),
                "127.0.0.1:9470".to_owned()
            )]
        );
    }

    #[test]
    fn unknown_keys_and_bad_files_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "databse = \"x\"\n").unwrap();
        let err = settings(&path, |_| None).unwrap_err();
        assert!(err.message.contains("unknown setting \"databse\""), "{err}");
        std::fs::write(&path, "data = [1]\n").unwrap();
        assert!(settings(&path, |_| None).is_err());
        std::fs::write(&path, "data = \n").unwrap();
        assert!(
            settings(&path, |_| None)
                .unwrap_err()
                .message
                .contains("not valid TOML")
        );
        assert!(settings(&dir.path().join("missing.toml"), |_| None).is_err());
    }

    #[test]
    fn the_file_is_found_by_flag_then_environment() {
        let args: Vec<String> = ["fengqiao", "serve", "--config", "x.toml"]
            .map(String::from)
            .into();
        assert_eq!(locate(&args), Some(PathBuf::from("x.toml")));
        let args: Vec<String> = ["fengqiao", "--config=y.toml"].map(String::from).into();
        assert_eq!(locate(&args), Some(PathBuf::from("y.toml")));
    }
}
