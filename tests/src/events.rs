//! A dashboard's live event stream (`GET /v1/events`), read as a test
//! reads it.

use std::io::{BufRead, BufReader, Lines, Read};
use std::time::Duration;

use serde_json::Value;

/// An open `/v1/events` stream.
pub struct Events {
    lines: Lines<BufReader<Box<dyn Read + Send + Sync + 'static>>>,
}

impl Events {
    /// Opens the stream of the official whose token is `token`; waits for
    /// its `ready`.
    pub fn open(server_url: &str, token: &str) -> Self {
        Self::open_with(server_url, ("Authorization", &format!("Bearer {token}")))
    }

    /// Opens the stream with one header that says who asks (`Authorization`
    /// or a session `Cookie`); waits for its `ready`.
    pub fn open_with(server_url: &str, auth: (&str, &str)) -> Self {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(30)))
                .build(),
        );
        let response = agent
            .get(format!("{server_url}/v1/events"))
            .header(auth.0, auth.1)
            .call()
            .expect("the event stream opens");
        assert_eq!(response.status().as_u16(), 200);
        let reader: Box<dyn Read + Send + Sync> = Box::new(response.into_body().into_reader());
        let mut events = Self {
            lines: BufReader::new(reader).lines(),
        };
        assert_eq!(events.next_event().0, "ready");
        events
    }

    /// The next event's name and data.
    pub fn next_event(&mut self) -> (String, Value) {
        self.try_next_event().expect("the stream ended")
    }

    /// The next event's name and data; `None` when the stream ended.
    pub fn try_next_event(&mut self) -> Option<(String, Value)> {
        let (mut name, mut data) = (String::new(), String::new());
        for line in self.lines.by_ref() {
            let line = line.expect("a line of the stream, before the client's timeout");
            if let Some(value) = line.strip_prefix("event: ") {
                name = value.to_owned();
            } else if let Some(value) = line.strip_prefix("data: ") {
                data = value.to_owned();
            } else if line.is_empty() && !name.is_empty() {
                return Some((name, serde_json::from_str(&data).expect("JSON data")));
            }
        }
        None
    }
}
