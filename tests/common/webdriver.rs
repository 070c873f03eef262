//! A small WebDriver client for the page's tests: Debian's chromedriver
//! driving headless chromium, spoken over HTTP with ureq (W3C WebDriver, plus
//! chromedriver's `se/log` for the browser console). A crate such as
//! fantoccini or headless_chrome would do this too, but their dependencies
//! turn on features of crates that Burn shares, and the test build would
//! then compile Burn a second time (see .ci/run).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

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
    /// `height` CSS pixels. Panics, saying what to install, when
    /// chromedriver is missing (`CHROMEDRIVER` names another binary).
    pub fn start(width: u32, height: u32) -> Self {
        let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {binary} ({e}): the page's tests need chromium and its driver \
                     (Debian: apt-get install chromium chromium-driver; .ci/run installs them)"
                )
            });
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while ureq::get(&format!("{base}/status")).call().is_err() {
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
        let created = call("POST", &format!("{base}/session"), Some(caps));
        let id = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"));
        Self {
            driver,
            session: format!("{base}/session/{id}"),
        }
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
        let _ = ureq::delete(&self.session).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One WebDriver command: its `value`, or a panic with the driver's error.
fn call(method: &str, url: &str, body: Option<Value>) -> Value {
    let request = ureq::request(method, url).timeout(Duration::from_secs(60));
    let answer = match body {
        Some(b) => request.send_json(b),
        None => request.call(),
    };
    let v: Value = match answer {
        Ok(r) => r.into_json().expect("WebDriver answers JSON"),
        Err(ureq::Error::Status(code, r)) => {
            let body = r.into_string().unwrap_or_default();
            panic!("WebDriver {method} {url}: HTTP {code}: {body}")
        }
        Err(e) => panic!("WebDriver {method} {url}: {e}"),
    };
    v["value"].clone()
}
