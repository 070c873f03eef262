//! A small WebDriver client for the page's tests: Debian's chromedriver
//! driving headless chromium, spoken over HTTP with common/http.rs (W3C WebDriver, plus
//! chromedriver's `se/log` for the browser console). A crate such as
//! fantoccini or headless_chrome would do this too, but their dependencies
//! turn on features of crates that Burn shares, and the test build would
//! then compile Burn a second time (see .ci/same-features).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::http;

/// W3C WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// WebDriver's codes for special keys.
pub const TAB: &str = "\u{E004}";
pub const ENTER: &str = "\u{E007}";
pub const ARROW_RIGHT: &str = "\u{E014}";

/// A headless chromium session; the driver and the browser end on drop.
pub struct Browser {
    driver: Child,
    session: String,
}

impl Browser {
    /// Starts chromedriver and a headless chromium window of `width` ×
    /// `height` CSS pixels, or says in one line why the page cannot be
    /// tested here and returns None: chromedriver (or the binary
    /// `CHROMEDRIVER` names) does not start, or it finds no chromium. With
    /// `CHARRNN_REQUIRE_BROWSER=1` (as `.ci/run` sets after installing them)
    /// that is a failure instead.
    pub fn start_or_skip(width: u32, height: u32) -> Option<Self> {
        match Self::start(width, height) {
            Ok(browser) => Some(browser),
            Err(why) => {
                let line = format!(
                    "the page was not tested: {why}; to test it install chromium and its \
                     driver (Debian: apt-get install chromium chromium-driver)"
                );
                if std::env::var_os("CHARRNN_REQUIRE_BROWSER").is_some_and(|v| v == "1") {
                    panic!("{line} (CHARRNN_REQUIRE_BROWSER=1 requires them)");
                }
                println!("{line}");
                None
            }
        }
    }

    /// Starts chromedriver and a headless chromium window; Err says what is
    /// missing. Any other failure of a started driver panics.
    pub fn start(width: u32, height: u32) -> Result<Self, String> {
        let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut driver = Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {binary} ({e})"))?;
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while http::request("GET", &format!("{base}/status"), None, None).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{binary} did not answer within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--hide-scrollbars".into(),
            "--force-device-scale-factor=1".into(),
            format!("--window-size={width},{height}"),
        ];
        if let Ok(extra) = std::env::var("CHROMIUM_FLAGS") {
            args.extend(extra.split_whitespace().map(String::from));
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "args": args },
            "goog:loggingPrefs": { "browser": "ALL" },
        }}});
        let created = match try_call("POST", &format!("{base}/session"), Some(caps)) {
            Ok(created) => created,
            // chromedriver started but found no browser to drive.
            Err(e) if e.contains("binary") => {
                let _ = driver.kill();
                let _ = driver.wait();
                return Err(format!("{binary} finds no chromium ({e})"));
            }
            Err(e) => panic!("{e}"),
        };
        let id = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"));
        Ok(Self {
            driver,
            session: format!("{base}/session/{id}"),
        })
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        call(method, &format!("{}{path}", self.session), body)
    }

    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body: `return ...`) in the page.
    pub fn eval(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Polls `condition` (a JavaScript expression) until it is truthy, and
    /// returns its value; panics with `what` after `seconds`.
    pub fn wait(&self, condition: &str, seconds: u64, what: &str) -> Value {
        let started = Instant::now();
        loop {
            let v = self.eval(&format!("return ({condition});"));
            if !(v.is_null() || v == json!(false) || v == json!(0) || v == json!("")) {
                return v;
            }
            assert!(
                started.elapsed() < Duration::from_secs(seconds),
                "waited {seconds} s for {what} ({condition})"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn element(&self, css: &str) -> String {
        let found = self.cmd(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.cmd("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// Types `text` into the element (after focusing it, as a user would).
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Presses `keys` on whatever has the focus.
    pub fn keys(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|k| {
                let k = k.to_string();
                [
                    json!({ "type": "keyDown", "value": k }),
                    json!({ "type": "keyUp", "value": k }),
                ]
            })
            .collect();
        self.cmd(
            "POST",
            "/actions",
            Some(json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] })),
        );
    }

    /// Moves the mouse to the middle of the element.
    pub fn hover(&self, css: &str) {
        let id = self.element(css);
        let pointer = json!({
            "type": "pointer", "id": "mouse", "parameters": { "pointerType": "mouse" },
            "actions": [{ "type": "pointerMove", "duration": 0, "x": 0, "y": 0, "origin": { ELEMENT: id } }],
        });
        self.cmd("POST", "/actions", Some(json!({ "actions": [pointer] })));
    }

    pub fn resize(&self, width: u32, height: u32) {
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        );
    }

    /// A PNG of the window, written to `path`.
    pub fn screenshot(&self, path: &Path) {
        let data = self.cmd("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().expect("base64 text"))
            .expect("a PNG");
        std::fs::write(path, png).unwrap();
    }

    /// The browser console's messages since the last call: (level, text).
    pub fn console(&self) -> Vec<(String, String)> {
        let log = self.cmd("POST", "/se/log", Some(json!({ "type": "browser" })));
        log.as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["level"].as_str().unwrap_or("").to_string(),
                    e["message"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http::request("DELETE", &self.session, None, None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One WebDriver command: its `value`, or a panic with the driver's error.
fn call(method: &str, url: &str, body: Option<Value>) -> Value {
    try_call(method, url, body).unwrap_or_else(|e| panic!("{e}"))
}

/// One WebDriver command: its `value`, or the driver's error in one line.
fn try_call(method: &str, url: &str, body: Option<Value>) -> Result<Value, String> {
    let body = body.map(|b| b.to_string());
    let answer = http::request(method, url, body.as_deref(), Some(Duration::from_secs(60)))
        .map_err(|e| format!("WebDriver {method} {url}: {e}"))?;
    let status = answer.status;
    if status >= 400 {
        let text = answer.text();
        return Err(format!("WebDriver {method} {url}: HTTP {status}: {text}"));
    }
    Ok(answer.json()["value"].clone())
}
