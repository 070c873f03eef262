//! A `charrnn serve` process on 127.0.0.1 port 0, and a client for it
//! (common/http.rs): JSON requests and server-sent events.

#![allow(dead_code)] // each test file uses its part

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::bin;
use crate::http;

/// A `charrnn serve` process and its address.
pub struct Served {
    pub child: Child,
    pub url: String,
}

impl Served {
    pub fn start(path: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(bin::BIN)
            .arg("serve")
            .arg(path)
            .args(["--addr", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("charrnn serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line: {line:?}"))
            .to_string();
        Self { child, url }
    }

    /// GETs `path`, which must answer 200 with JSON.
    pub fn get(&self, path: &str) -> Value {
        let (code, answer) = self.request("GET", path);
        assert_eq!(code, 200, "GET {path}: {answer}");
        answer
    }

    /// POSTs `body`; the status and the JSON answer, whatever the status.
    pub fn post(&self, path: &str, body: &str) -> (u16, Value) {
        let a = http::post(&format!("{}{path}", self.url), body);
        (a.status, a.json())
    }

    /// `method path`; the status and the answer parsed as JSON, whatever the
    /// status (an answer that is not JSON fails the test, naming it).
    pub fn request(&self, method: &str, path: &str) -> (u16, Value) {
        let url = format!("{}{path}", self.url);
        let a = http::request(method, &url, None, None)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        (a.status, a.json())
    }

    /// The events of a streamed answer: (event name, JSON data).
    pub fn events(&self, answer: http::Answer, until: &str) -> Vec<(String, Value)> {
        let mut events = Vec::new();
        let mut name = String::new();
        for line in answer.lines() {
            if let Some(n) = line.strip_prefix("event: ") {
                name = n.to_string();
            } else if let Some(d) = line.strip_prefix("data: ") {
                events.push((name.clone(), serde_json::from_str(d).unwrap()));
                if name == until {
                    break;
                }
            }
        }
        events
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// A small LSTM run with validation (metrics.csv and eval.csv).
pub fn trained(dir: &Path) {
    lstm_run(dir, "16", "60");
}

/// A 2-layer LSTM of `hidden` units trained `iterations` on the fixture
/// text (B 2, T 10, Adam 0.01, a fifth held out, evaluated every 20).
pub fn lstm_run(dir: &Path, hidden: &str, iterations: &str) {
    let data = bin::root().join("tests/fixtures/min-char-rnn/input.txt");
    let o = bin::quiet(
        &data.display().to_string(),
        dir,
        &[
            "--model",
            "lstm",
            "--layers",
            "2",
            "--hidden-size",
            hidden,
            "--batch-size",
            "2",
            "--seq-length",
            "10",
            "--iterations",
            iterations,
            "--val-fraction",
            "0.2",
            "--eval-every",
            "20",
            "--optimizer",
            "adam",
            "--learning-rate",
            "0.01",
        ],
    );
    bin::assert_ok(&o, "training the served model");
}
