//! The `fengqiao` command line: one binary for the whole job.
//!
//! Each subcommand lives in its own module; this one holds what they share:
//! the error type that says what to do next, and a small JSON HTTP client
//! for commands that talk to a running server.

pub mod admin;
pub mod backup;
pub mod config;
pub mod demo;
pub mod field;
pub mod serve;
pub mod stats;

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// A failure of a command, worded for the person at the terminal.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
}

impl CliError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// JSON over HTTP to a running server, with a bearer token.
pub struct HttpClient {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl HttpClient {
    pub fn new(base: &str, token: &str) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build();
        Self {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            agent: ureq::Agent::new_with_config(config),
        }
    }

    fn unreachable(&self, error: ureq::Error) -> CliError {
        CliError::new(format!(
            "cannot reach the server at {}: {error}; is `fengqiao serve` running there? (--server URL)",
            self.base
        ))
    }

    fn finish(
        &self,
        path: &str,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value, CliError> {
        let response = result.map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        let text = response
            .into_body()
            .read_to_string()
            .map_err(|e| CliError::new(format!("the server's answer could not be read: {e}")))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let message = value["message"].as_str().unwrap_or("no details");
        let hint = match status {
            401 => " (check the token)",
            403 => " (this token may not do that)",
            _ => "",
        };
        Err(CliError::new(format!(
            "{path}: the server answered {status} {}: {message}{hint}",
            value["code"].as_str().unwrap_or("error")
        )))
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    pub fn get(&self, path: &str) -> Result<Value, CliError> {
        let result = self
            .agent
            .get(&format!("{}{path}", self.base))
            .header("Authorization", &self.auth())
            .call();
        self.finish(path, result)
    }

    pub fn post(&self, path: &str, body: Value) -> Result<Value, CliError> {
        let result = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("Authorization", &self.auth())
            .send_json(body);
        self.finish(path, result)
    }

    /// A binary download (exports, backups).
    pub fn download(&self, path: &str) -> Result<Vec<u8>, CliError> {
        self.download_named(path).map(|(bytes, _)| bytes)
    }

    /// A binary download and the file name the server gives it
    /// (`Content-Disposition`, its UTF-8 `filename*` when there is one),
    /// reduced to a plain file name.
    pub fn download_named(&self, path: &str) -> Result<(Vec<u8>, Option<String>), CliError> {
        let result = self
            .agent
            .get(&format!("{}{path}", self.base))
            .header("Authorization", &self.auth())
            .call();
        let response = result.map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        let named = response
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .and_then(attachment_name);
        let mut body = response.into_body();
        let bytes = body
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .map_err(|e| CliError::new(format!("the download was cut off: {e}; try again")))?;
        if (200..300).contains(&status) {
            return Ok((bytes, named));
        }
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Err(CliError::new(format!(
            "{path}: the server answered {status} {}: {}",
            value["code"].as_str().unwrap_or("error"),
            value["message"].as_str().unwrap_or("no details")
        )))
    }

    pub fn put(&self, path: &str, body: Value) -> Result<Value, CliError> {
        let result = self
            .agent
            .put(&format!("{}{path}", self.base))
            .header("Authorization", &self.auth())
            .send_json(body);
        self.finish(path, result)
    }
}

/// `YYYY-MM-DD HH:MM` in China Standard Time, for tables.
pub fn format_time(millis: i64) -> String {
    let local = millis + 8 * 3_600_000;
    let days = local.div_euclid(86_400_000);
    let (y, m, d) = fengqiao_shared::stats::calendar::civil_from_days(days);
    let minutes = local.rem_euclid(86_400_000) / 60_000;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        minutes / 60,
        minutes % 60
    )
}

/// Writes a file whole or not at all: to a temporary name, then renamed.
/// Only its owner may read it (`0600`): backups and exports hold parties'
/// names and phone numbers.
/// The file name of a `Content-Disposition` header: its RFC 5987
/// `filename*=UTF-8''…` when present, else its `filename="…"`; only a
/// plain name (no directory, nothing hidden) is returned.
pub fn attachment_name(header: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for part in header.split(';').map(str::trim) {
        if let Some(value) = part.strip_prefix("filename*=") {
            let encoded = value
                .strip_prefix("UTF-8''")
                .or_else(|| value.strip_prefix("utf-8''"))?;
            // A malformed escape makes the whole header suspect.
            let malformed = encoded.split('%').skip(1).any(|escape| {
                escape.len() < 2 || !escape.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit)
            });
            if malformed {
                return None;
            }
            extended = percent_encoding::percent_decode_str(encoded)
                .decode_utf8()
                .ok()
                .map(|name| name.into_owned());
        } else if let Some(value) = part.strip_prefix("filename=") {
            plain = Some(value.trim_matches('"').to_owned());
        }
    }
    extended.or(plain).filter(|name| {
        !name.is_empty()
            && !name.starts_with('.')
            && !name.contains(['/', '\\', '\0'])
            && name.chars().all(|c| !c.is_control())
    })
}

pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), CliError> {
    use std::io::Write;
    let partial = path.with_extension("partial");
    crate::storage::private::create_file(&partial)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|e| CliError::new(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::attachment_name;

    #[test]
    fn attachment_names_prefer_the_utf8_name_and_stay_in_the_directory() {
        assert_eq!(
            attachment_name(
                "attachment; filename=\"disputes-1.xlsx\"; filename*=UTF-8''%E6%9C%88%E6%8A%A5.xlsx"
            )
            .as_deref(),
            Some("月报.xlsx")
        );
        assert_eq!(
            attachment_name("attachment; filename=\"disputes-1.xlsx\"").as_deref(),
            Some("disputes-1.xlsx")
        );
        assert_eq!(attachment_name("attachment; filename=\"../x\""), None);
        assert_eq!(
            attachment_name("attachment; filename*=UTF-8''%2E%2E%2Fx"),
            None
        );
        assert_eq!(attachment_name("attachment; filename*=UTF-8''%ZZ"), None);
        assert_eq!(attachment_name("inline"), None);
    }
}
