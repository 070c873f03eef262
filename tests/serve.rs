//! `charrnn serve` as a client sees it: the binary on 127.0.0.1 port 0, a
//! real HTTP client (ureq, through common/http.rs). Sampling equals `charrnn sample` (whole and
//! streamed), scoring equals `charrnn eval`, metrics follow a run as it
//! writes rows, every bad request gets a 4xx with one line of JSON and the
//! next good request is still served, and Ctrl-C ends the server.

#[path = "common/bin.rs"]
mod bin;
#[path = "common/http.rs"]
mod http;
#[path = "common/served.rs"]
mod served;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use served::{Served, trained};

#[test]
fn samples_and_scores_equal_the_command_line_and_bad_requests_get_4xx() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("runs/tiny");
    trained(&run);
    let s = Served::start(&tmp.path().join("runs"), &["--body-timeout", "1"]);

    // The model list.
    let models = s.get("/api/models");
    let m = &models["models"][0];
    assert_eq!(
        (m["id"].as_str(), m["kind"].as_str()),
        (Some("tiny"), Some("lstm"))
    );
    assert_eq!(
        (m["layers"].as_u64(), m["hidden_size"].as_u64()),
        (Some(2), Some(16))
    );
    assert_eq!(m["iterations"].as_u64(), Some(60));
    assert!(m["best_validation"].as_f64().unwrap() > 0.0);

    // Sampling: what `charrnn sample` prints, whole and streamed.
    let cli = |seed: &str| {
        let o = bin::sample(&run, &["--prime", "th", "--length", "300", "--seed", seed]);
        bin::assert_ok(&o, "train sample");
        bin::stdout(&o).strip_suffix('\n').unwrap().to_string()
    };
    // Four samples at once: drawn together, each row its own stream.
    let request = json!({"model": "tiny", "prime": "th", "length": 300, "seed": 5, "n": 4});
    let (code, whole) = s.post("/api/sample", &request.to_string());
    assert_eq!(code, 200, "{whole}");
    assert_eq!(whole["samples"][0].as_str().unwrap(), cli("5"));
    for (i, seed) in ["6", "7", "8"].iter().enumerate() {
        assert_eq!(
            whole["samples"][i + 1].as_str().unwrap(),
            cli(seed),
            "sample {}",
            i + 1
        );
    }
    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let r = http::post(&format!("{}/api/sample", s.url), &streamed.to_string());
    assert_eq!(r.content_type, "text/event-stream");
    let events = s.events(r, "done");
    let chars: String = events
        .iter()
        .filter(|(n, d)| n == "char" && d["sample"] == 0)
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    assert_eq!(format!("th{chars}"), cli("5"), "streamed char by char");
    assert_eq!(events.iter().filter(|(n, _)| n == "end").count(), 4);
    // A stop string ends a sample after it.
    let stop = &cli("5")[2..][..12];
    let last = stop.chars().last().unwrap().to_string();
    let (_, stopped) = s.post(
        "/api/sample",
        &json!({"model": "tiny", "prime": "th", "length": 300, "seed": 5, "stop": [last]})
            .to_string(),
    );
    let text = stopped["samples"][0].as_str().unwrap();
    assert!(
        text.ends_with(&last) && text.len() < cli("5").len(),
        "{text:?}"
    );
    assert!(cli("5").starts_with(text));

    // Scoring: `charrnn eval`'s number on the same text, and per-char rows.
    let input =
        std::fs::read_to_string(bin::root().join("tests/fixtures/min-char-rnn/input.txt")).unwrap();
    let text: String = input.chars().skip(100).take(60).collect();
    let text = text.as_str();
    let file = tmp.path().join("t.txt");
    std::fs::write(&file, text).unwrap();
    let o = bin::run(&[
        "eval",
        "--checkpoint",
        &run.display().to_string(),
        "--data",
        &file.display().to_string(),
    ]);
    bin::assert_ok(&o, "train eval");
    let eval_nats = bin::eval_nats(&bin::stdout(&o));
    let (code, score) = s.post(
        "/api/score",
        &json!({"model": "tiny", "text": text, "hidden_layer": 1}).to_string(),
    );
    assert_eq!(code, 200, "{score}");
    let nats = score["nats_per_char"].as_f64().unwrap();
    println!("score {nats:.6} nats/char, train eval {eval_nats:.4}");
    assert!((nats - eval_nats).abs() <= 5e-5, "{nats} vs {eval_nats}");
    let chars = score["chars"].as_array().unwrap();
    assert_eq!(chars.len(), text.chars().count());
    let sum: f64 = chars[1..]
        .iter()
        .map(|c| -c["logprob"].as_f64().unwrap())
        .sum();
    assert!((sum / (chars.len() - 1) as f64 - nats).abs() < 1e-12);
    for (i, c) in chars.iter().enumerate() {
        let top: Vec<f64> = c["top"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["p"].as_f64().unwrap())
            .collect();
        assert_eq!(top.len(), 5);
        assert!(top.windows(2).all(|w| w[0] >= w[1]) && top.iter().sum::<f64>() <= 1.0 + 1e-12);
        assert_eq!(c["hidden"].as_array().unwrap().len(), 16, "char {i}");
        // The next char's log-probability is at most the likeliest's.
        if let Some(next) = chars.get(i + 1) {
            assert!(next["logprob"].as_f64().unwrap().exp() <= top[0] + 1e-12);
        }
    }

    // Bad requests: a 4xx and one line of JSON each, and a good one after.
    let good = json!({"model": "tiny", "length": 5}).to_string();
    let big = format!(
        "{{\"model\": \"tiny\", \"prime\": \"{}\"}}",
        "t".repeat(2 << 20)
    );
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("/api/sample", "{not json".into(), 400, "bad JSON"),
        (
            "/api/sample",
            json!({"model": "nope"}).to_string(),
            404,
            "unknown model",
        ),
        (
            "/api/sample",
            json!({"model": "../../etc/passwd"}).to_string(),
            404,
            "unknown model",
        ),
        (
            "/api/sample",
            json!({"model": "tiny", "prime": "th€"}).to_string(),
            400,
            "'€'",
        ),
        (
            "/api/score",
            json!({"model": "tiny", "text": "ab\u{1F600}c"}).to_string(),
            400,
            "'\u{1F600}'",
        ),
        (
            "/api/sample",
            json!({"model": "tiny", "length": 1_000_000}).to_string(),
            400,
            "length",
        ),
        (
            "/api/sample",
            json!({"model": "tiny", "n": 1000}).to_string(),
            400,
            "n must be",
        ),
        (
            "/api/sample",
            json!({"model": "tiny", "temperature": -1}).to_string(),
            400,
            "temperature",
        ),
        (
            "/api/sample",
            json!({"model": "tiny", "temperature": "NaN"}).to_string(),
            400,
            "bad JSON",
        ),
        (
            "/api/sample",
            json!({"model": "tiny", "colour": 1}).to_string(),
            400,
            "unknown field",
        ),
        (
            "/api/score",
            json!({"model": "tiny", "text": "ab", "hidden_layer": 2}).to_string(),
            400,
            "out of range",
        ),
        ("/api/sample", big, 413, "over"),
        ("/api/nothing", "{}".into(), 404, "no such endpoint"),
    ];
    for (path, body, status, words) in cases {
        let (code, answer) = s.post(path, &body);
        let msg = answer["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{answer}"));
        println!("{status} {path}: {msg}");
        assert_eq!(code, status, "{path} {msg}");
        assert!(msg.contains(words) && !msg.contains('\n'), "{msg}");
        assert_eq!(s.post("/api/sample", &good).0, 200, "served after {msg}");
    }
    // A client that stalls mid-body gets 408 after --body-timeout.
    let addr = s.url.strip_prefix("http://").unwrap();
    let mut stalled = std::net::TcpStream::connect(addr).unwrap();
    write!(stalled, "POST /api/sample HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"model\"").unwrap();
    let start = Instant::now();
    let mut answer = String::new();
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stalled.read_to_string(&mut answer);
    println!(
        "stalled client after {:?}: {}",
        start.elapsed(),
        answer.lines().next().unwrap_or("")
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("{\"error\":"));
    assert_eq!(s.post("/api/sample", &good).0, 200);

    // A client that goes away mid-stream stops its sampling: a minute of
    // drawing asked for, three chars read, the connection closed; then the
    // server's CPU time stays still.
    let long = json!({"model": "tiny", "length": 20_000, "n": 64, "stream": true});
    let r = http::post(&format!("{}/api/sample", s.url), &long.to_string());
    let mut lines = r.lines();
    let mut read = 0;
    while read < 3 {
        read += usize::from(lines.next().unwrap().starts_with("data: "));
    }
    drop(lines);
    std::thread::sleep(Duration::from_millis(150));
    let before = cpu_seconds(s.child.id());
    std::thread::sleep(Duration::from_secs(1));
    let busy = cpu_seconds(s.child.id()) - before;
    println!("server CPU in the second after the client left: {busy:.3} s");
    assert!(
        busy < 0.1,
        "still sampling for a client that left: {busy} s of CPU"
    );
}

/// CPU seconds (user + system) process `pid` has used (Linux /proc).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after ")".
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ
}

#[test]
fn metrics_follow_a_run_as_it_writes_rows_and_ctrl_c_stops_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("tiny");
    trained(&run);
    let mut s = Served::start(&run, &[]);
    let m = s.get("/api/runs/tiny/metrics");
    let csv_rows = |f: &str| {
        std::fs::read_to_string(run.join(f))
            .unwrap()
            .lines()
            .count()
            - 1
    };
    assert_eq!(
        m["metrics"].as_array().unwrap().len(),
        csv_rows("metrics.csv")
    );
    assert_eq!(m["eval"].as_array().unwrap().len(), 3);
    assert_eq!(m["eval"][2]["iter"].as_f64(), Some(60.0));
    // Every error is one line of JSON, axum's own rejections included.
    let errors = [
        ("GET", "/api/runs/..%2F..%2Fetc/metrics", 404, "unknown run"),
        (
            "GET",
            "/api/runs/tiny/loss.svg?height=-1",
            400,
            "query string",
        ),
        (
            "GET",
            "/api/runs/tiny/metrics?stream=maybe",
            400,
            "query string",
        ),
        ("GET", "/api/sample", 405, "method not allowed"),
        ("DELETE", "/api/runs", 405, "method not allowed"),
    ];
    for (method, path, status, words) in errors {
        let (code, answer) = s.request(method, path);
        let msg = answer["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{answer}"));
        println!("{code} {method} {path}: {msg}");
        assert_eq!(code, status, "{method} {path}: {msg}");
        assert!(msg.contains(words) && !msg.contains('\n'), "{msg}");
    }

    // The run as the page lists it: its config and the status the run wrote.
    let runs = s.get("/api/runs");
    let listed = &runs["runs"][0];
    assert_eq!(listed["id"], "tiny");
    assert_eq!(listed["config"]["model"], "lstm");
    assert_eq!(listed["config"]["hidden_size"], 16);
    assert_eq!(
        (
            listed["status"]["state"].as_str(),
            listed["status"]["iter"].as_u64()
        ),
        (Some("finished"), Some(60))
    );
    // Its loss plot at the size asked for: a dot per evaluation.
    let svg = http::get(&format!(
        "{}/api/runs/tiny/loss.svg?width=400&height=300",
        s.url
    ))
    .text();
    assert!(
        svg.starts_with(r#"<svg width="400" height="300""#),
        "{}",
        &svg[..80]
    );
    assert_eq!(svg.matches("<circle").count(), csv_rows("eval.csv"));

    // As an event stream: every row, then each row another process appends.
    let r = http::get(&format!("{}/api/runs/tiny/metrics?stream=true", s.url));
    let mut lines = r.lines();
    let mut next_rows = || loop {
        let line = lines.next().unwrap();
        if let Some(d) = line.strip_prefix("data: ") {
            return serde_json::from_str::<Value>(d).unwrap();
        }
    };
    let first = next_rows();
    assert_eq!(first["metrics"].as_array().unwrap().len(), 60);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(run.join("metrics.csv"))
        .unwrap();
    writeln!(f, "60,1.25,2.5").unwrap();
    write!(f, "61,1.5").unwrap(); // a row still being written is not sent
    drop(f);
    let new = next_rows();
    assert_eq!(
        new["metrics"],
        json!([{"iter": 60.0, "loss": 1.25, "smooth_loss": 2.5}])
    );

    // Bad command lines: one line each, non-zero.
    let missing = tmp.path().join("nothere").display().to_string();
    bin::assert_refused(
        &bin::run(&["serve", &missing]),
        &["nothere", "does not exist"],
    );
    let taken = s.url.strip_prefix("http://").unwrap();
    let r = run.display().to_string();
    bin::assert_refused(
        &bin::run(&["serve", &r, "--addr", taken]),
        &["cannot serve on", taken],
    );
    bin::assert_refused(
        &bin::run(&["serve", &r, "--body-timeout", "0"]),
        &["--body-timeout"],
    );

    // Ctrl-C: the server exits, cleanly, at once.
    bin::interrupt(s.child.id());
    let start = Instant::now();
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "still running after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}
