//! Alerts: a dispute that becomes high-risk, or a visit that becomes
//! urgent, is told at once — to the open dashboards of the officials whose
//! scope holds it (the `alert` event of `/v1/events`), and optionally to a
//! county platform by an outbound webhook.
//!
//! Detection happens where a change is committed ([`detect`]), comparing the
//! record's summary before and after: a new record that is high-risk (or
//! urgent), or a record that was not and now is. Nothing else alerts, and a
//! record that stays high-risk does not alert again.
//!
//! The webhook is delivered by one background task from a bounded queue
//! ([`AlertQueue`]): committing never waits for it. A full queue drops its
//! oldest alert and counts it (`fengqiao_webhook_dropped_total`). Each
//! alert is POSTed as JSON with
//!
//! - `X-Fengqiao-Timestamp`: seconds since the Unix epoch;
//! - `X-Fengqiao-Signature`: `sha256=` and the hex HMAC-SHA256, keyed with
//!   the webhook secret, of `TIMESTAMP.BODY` (the timestamp, a dot, the
//!   body bytes), so a receiver can refuse replayed old deliveries;
//! - `Idempotency-Key`: the alert's `alertId`, the same on every try.
//!
//! A 2xx answer delivers it; anything else (or no answer within ten
//! seconds) is tried again after 1 s, 2 s, 4 s … (doubling, at most a
//! minute) up to [`WebhookConfig::max_tries`] tries, then dropped and
//! counted. The queue lives in memory only: alerts not yet delivered when
//! the server stops are lost (the dashboard lists still show the cases).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fengqiao_protocol::{DocumentId, VillageCode};
use fengqiao_shared::vocab::{RecordKind, Risk, Sentiment};
use fengqiao_shared::{Millis, Summary};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use tokio::sync::Notify;

use crate::metrics::{Metrics, add};

/// One alert: what happened to which record, where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Names this alert (not the record): the webhook's idempotency key.
    pub alert_id: String,
    pub kind: RecordKind,
    pub id: DocumentId,
    /// The dispute's title, or the visited household.
    pub title: String,
    pub village: VillageCode,
    /// The village's name in the organisation, when known.
    pub village_name: Option<String>,
    pub risk: Option<Risk>,
    pub sentiment: Option<Sentiment>,
    /// When the change that raised it was committed (ms since the epoch).
    pub at: Millis,
}

impl Alert {
    /// The alert a record's summary stands for, as another server on the
    /// store raised it under `alert_id`.
    pub fn of_summary(
        alert_id: String,
        summary: &Summary,
        village_name: Option<String>,
        at: Millis,
    ) -> Self {
        Self {
            alert_id,
            kind: summary.kind,
            id: summary.id.clone(),
            title: summary.title.clone(),
            village: summary.village.clone(),
            village_name,
            risk: summary.risk,
            sentiment: summary.sentiment,
            at,
        }
    }

    /// The JSON both the dashboard and the webhook receive.
    pub fn to_json(&self) -> serde_json::Value {
        let kind = match self.kind {
            RecordKind::Dispute => "highRiskDispute",
            RecordKind::Visit => "urgentVisit",
        };
        json!({
            "alertId": self.alert_id,
            "kind": kind,
            "recordType": self.kind.as_str(),
            "id": self.id,
            "title": self.title,
            "village": { "code": self.village, "name": self.village_name },
            "risk": self.risk.map(|r| r.as_str()),
            "sentiment": self.sentiment.map(|s| s.as_str()),
            "at": self.at,
        })
    }
}

/// Whether a record is in a state that alerts: a high-risk dispute, an
/// urgent visit.
pub fn alerting(summary: &Summary) -> bool {
    match summary.kind {
        RecordKind::Dispute => summary.risk == Some(Risk::High),
        RecordKind::Visit => summary.sentiment == Some(Sentiment::Urgent),
    }
}

/// Whether a committed change raises an alert: `previous` is the record's
/// summary before the change (`None` for a new record). Only entering the
/// alerting state does.
pub fn detect(previous: Option<&Summary>, now: &Summary) -> bool {
    alerting(now) && previous.is_none_or(|p| !alerting(p))
}

/// Where and how alerts are posted.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub url: String,
    pub secret: Vec<u8>,
    /// Alerts waiting at most; beyond it the oldest is dropped.
    pub queue: usize,
    /// Tries per alert, the first included.
    pub max_tries: u32,
    /// Wait before the second try; doubled before each further one.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// How long one try may take.
    pub timeout: Duration,
}

/// Why a webhook setting is refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(
        "webhook_url_invalid: the webhook URL must start with http:// or https:// and name a host: {0:?}"
    )]
    Url(String),
    #[error("webhook_secret_invalid: the webhook secret must not be empty")]
    EmptySecret,
    #[error("webhook_secret_io: cannot read or create the webhook secret {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

impl WebhookConfig {
    /// A webhook to `url` signed with `secret`, with the default queue and
    /// retry policy (1000 alerts, 8 tries, 1 s doubling to at most 60 s).
    pub fn new(url: &str, secret: Vec<u8>) -> Result<Self, WebhookError> {
        check_url(url)?;
        if secret.is_empty() {
            return Err(WebhookError::EmptySecret);
        }
        Ok(Self {
            url: url.to_owned(),
            secret,
            queue: 1000,
            max_tries: 8,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
        })
    }

    /// How long to wait after the `failed`-th failed try.
    fn backoff(&self, failed: u32) -> Duration {
        let factor = 1u32 << failed.saturating_sub(1).min(20);
        self.first_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Refuses a URL that is not http:// or https:// with a host.
pub fn check_url(url: &str) -> Result<(), WebhookError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && !rest.starts_with('/')
                && !rest.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(WebhookError::Url(url.to_owned())),
    }
}

/// The secret given, or the one kept in `DATA/webhook.secret` (created with
/// 32 random bytes, hex, mode 0600, when absent).
pub fn secret_in(data: &std::path::Path, given: Option<&str>) -> Result<Vec<u8>, WebhookError> {
    if let Some(given) = given {
        if given.is_empty() {
            return Err(WebhookError::EmptySecret);
        }
        return Ok(given.as_bytes().to_vec());
    }
    let path = data.join("webhook.secret");
    let io = |source| WebhookError::Io {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().as_bytes().to_vec()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| io(std::io::Error::other(e)))?;
    let text = to_hex(&key);
    crate::storage::private::create_dir(data).map_err(io)?;
    write_private(&path, text.as_bytes()).map_err(io)?;
    Ok(text.into_bytes())
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `sha256=` and the hex HMAC-SHA256 of `TIMESTAMP.BODY` under `secret`.
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", to_hex(&mac.finalize().into_bytes()))
}

/// The alerts waiting for the webhook: bounded, the oldest dropped first.
pub struct AlertQueue {
    waiting: Mutex<VecDeque<Alert>>,
    capacity: usize,
    ready: Notify,
    metrics: Arc<Metrics>,
}

impl AlertQueue {
    pub fn new(capacity: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            waiting: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            ready: Notify::new(),
            metrics,
        }
    }

    /// Queues an alert without waiting; a full queue drops its oldest.
    pub fn push(&self, alert: Alert) {
        {
            let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
            if waiting.len() >= self.capacity {
                waiting.pop_front();
                add(&self.metrics.webhook_dropped, 1);
            }
            waiting.push_back(alert);
        }
        add(&self.metrics.webhook_queued, 1);
        self.ready.notify_one();
    }

    fn pop(&self) -> Option<Alert> {
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
    }

    async fn next(&self) -> Alert {
        loop {
            if let Some(alert) = self.pop() {
                return alert;
            }
            self.ready.notified().await;
        }
    }
}

/// Delivers queued alerts until `shutdown` turns true.
pub async fn deliver(
    queue: Arc<AlertQueue>,
    config: WebhookConfig,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(config.timeout))
        .build()
        .into();
    let config = Arc::new(config);
    loop {
        let alert = tokio::select! {
            alert = queue.next() => alert,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        let body = alert.to_json().to_string();
        let mut tries = 0;
        loop {
            tries += 1;
            let outcome = {
                let agent = agent.clone();
                let config = config.clone();
                let body = body.clone();
                let key = alert.alert_id.clone();
                tokio::task::spawn_blocking(move || post(&agent, &config, &key, body)).await
            };
            let failure = match outcome {
                Ok(Ok(())) => {
                    add(&queue.metrics.webhook_delivered, 1);
                    break;
                }
                Ok(Err(why)) => why,
                Err(e) => e.to_string(),
            };
            add(&queue.metrics.webhook_failed_tries, 1);
            if tries >= config.max_tries {
                add(&queue.metrics.webhook_given_up, 1);
                tracing::warn!(alert = %alert.alert_id, tries, error = %failure,
                    "webhook: gave up on an alert");
                break;
            }
            let wait = config.backoff(tries);
            tracing::info!(alert = %alert.alert_id, tries, error = %failure,
                retry_in_ms = wait.as_millis() as u64, "webhook: delivery failed, will retry");
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }
}

fn post(
    agent: &ureq::Agent,
    config: &WebhookConfig,
    key: &str,
    body: String,
) -> Result<(), String> {
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let response = agent
        .post(&config.url)
        .header("Content-Type", "application/json")
        .header("X-Fengqiao-Timestamp", timestamp.to_string())
        .header(
            "X-Fengqiao-Signature",
            signature(&config.secret, timestamp, body.as_bytes()),
        )
        .header("Idempotency-Key", key)
        .send(body)
        .map_err(|e| e.to_string())?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", status.as_u16()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(kind: RecordKind) -> Summary {
        Summary::new(
            DocumentId::random(),
            kind,
            VillageCode::new("500110101001").unwrap(),
            1,
            "p",
        )
    }

    #[test]
    fn only_becoming_high_risk_or_urgent_alerts() {
        let mut low = summary(RecordKind::Dispute);
        low.risk = Some(Risk::Low);
        let high = Summary {
            risk: Some(Risk::High),
            ..low.clone()
        };
        assert!(detect(None, &high));
        assert!(detect(Some(&low), &high));
        assert!(!detect(Some(&high), &high));
        assert!(!detect(None, &low));
        let mut concern = summary(RecordKind::Visit);
        concern.sentiment = Some(Sentiment::Concern);
        let urgent = Summary {
            sentiment: Some(Sentiment::Urgent),
            ..concern.clone()
        };
        assert!(!detect(None, &concern));
        assert!(detect(None, &urgent));
        assert!(detect(Some(&concern), &urgent));
        assert!(!detect(Some(&urgent), &urgent));
    }

    #[test]
    fn urls_and_backoff() {
        assert!(WebhookConfig::new("ftp://x", b"k".to_vec()).is_err());
        assert!(WebhookConfig::new("http://", b"k".to_vec()).is_err());
        assert!(WebhookConfig::new("https://x.example/in", Vec::new()).is_err());
        let c = WebhookConfig::new("http://127.0.0.1:9/in", b"k".to_vec()).unwrap();
        assert_eq!(c.backoff(1), Duration::from_secs(1));
        assert_eq!(c.backoff(2), Duration::from_secs(2));
        assert_eq!(c.backoff(3), Duration::from_secs(4));
        assert_eq!(c.backoff(30), Duration::from_secs(60));
    }

    #[test]
    fn signature_is_hmac_of_timestamp_and_body() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let sig = signature(b"Jefe", 0, b"");
        assert_ne!(sig, signature(b"Jefe", 1, b""));
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            to_hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
    }

    #[test]
    fn a_missing_secret_is_created_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let made = secret_in(&data, None).unwrap();
        assert_eq!(made.len(), 64);
        assert_eq!(secret_in(&data, None).unwrap(), made);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(data.join("webhook.secret"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(secret_in(&data, Some("given")).unwrap(), b"given".to_vec());
        assert!(secret_in(&data, Some("")).is_err());
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_counts_it() {
        let metrics = Arc::new(Metrics::default());
        let queue = AlertQueue::new(2, metrics.clone());
        for n in 0..3 {
            let mut a = Alert {
                alert_id: n.to_string(),
                kind: RecordKind::Dispute,
                id: summary(RecordKind::Dispute).id,
                title: String::new(),
                village: VillageCode::new("500110101001").unwrap(),
                village_name: None,
                risk: Some(Risk::High),
                sentiment: None,
                at: 0,
            };
            a.title = format!("t{n}");
            queue.push(a);
        }
        assert_eq!(queue.pop().map(|a| a.alert_id), Some("1".into()));
        assert_eq!(queue.pop().map(|a| a.alert_id), Some("2".into()));
        assert_eq!(queue.pop(), None);
        assert_eq!(
            metrics
                .webhook_dropped
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
    }
}
