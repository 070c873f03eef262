//! The tests' HTTP client (ureq): any method, an optional JSON body, and a
//! 4xx or 5xx answered as its status and body like any other answer.
//! Included with `#[path = "common/http.rs"] mod http;` beside served.rs and
//! webdriver.rs, which use it.

#![allow(dead_code)] // each test file uses its part

use std::io::{BufRead, BufReader};
use std::time::Duration;

use serde_json::Value;

/// An answer: its status, its content type, and its body still to be read.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    body: ureq::Body,
}

impl Answer {
    pub fn text(mut self) -> String {
        self.body
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .unwrap()
    }

    /// The body as JSON; a body that is not JSON fails the test, naming it.
    pub fn json(self) -> Value {
        let status = self.status;
        let text = self.text();
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("HTTP {status}: {text:?} is not JSON ({e})"))
    }

    /// The body's lines as they arrive (server-sent events).
    pub fn lines(self) -> impl Iterator<Item = String> {
        BufReader::new(self.body.into_reader())
            .lines()
            .map(|l| l.unwrap())
    }
}

/// `method url` with `body` (sent as JSON) when given; Err only when no
/// answer came (no server, a timeout).
pub fn request(
    method: &str,
    url: &str,
    body: Option<&str>,
    timeout: Option<Duration>,
) -> Result<Answer, ureq::Error> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(timeout)
        .build()
        .into();
    let request = ureq::http::Request::builder().method(method).uri(url);
    let response = match body {
        Some(b) => agent.run(
            request
                .header("content-type", "application/json")
                .body(b.to_string())
                .unwrap(),
        )?,
        None => agent.run(request.body(()).unwrap())?,
    };
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Ok(Answer {
        status: response.status().as_u16(),
        content_type,
        body: response.into_body(),
    })
}

/// GET `url`, which must answer.
pub fn get(url: &str) -> Answer {
    request("GET", url, None, None).unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// POST `body` to `url`, which must answer.
pub fn post(url: &str, body: &str) -> Answer {
    request("POST", url, Some(body), None).unwrap_or_else(|e| panic!("POST {url}: {e}"))
}
