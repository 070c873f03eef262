//! Shared by the test files that run the `charrnn` binary as a user does:
//! running it, reading its stderr, and the one-line refusal every bad input
//! must get. Included with `#[path = "common/bin.rs"] mod bin;` (only the
//! binary's crate has `CARGO_BIN_EXE_charrnn`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_charrnn");

/// The workspace root (config files name their data relative to it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file of the min-char-rnn fixture (`input.txt`: its 500-char text).
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/min-char-rnn").join(name)
}

/// Runs `charrnn` with `args`.
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("binary runs")
}

/// Runs `charrnn` with `args` from the workspace root (for runs whose config
/// names its data relative to it).
pub fn run_in_root(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(root())
        .output()
        .expect("binary runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Exit 1 (2 for a malformed command line), one `error:` line holding every
/// key word, no panic.
pub fn assert_refused(o: &Output, words: &[&str]) {
    let err = stderr(o);
    assert!(
        matches!(o.status.code(), Some(1 | 2)),
        "exit code {:?}; stderr: {err}",
        o.status.code()
    );
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "panic: {err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    for w in words {
        assert!(err.contains(w), "message lacks {w:?}: {err}");
    }
}

/// Asserts a successful exit, showing stderr otherwise.
pub fn assert_ok(o: &Output, what: &str) {
    assert!(o.status.success(), "{what}: {}", stderr(o));
}

/// A quiet training run (no `iter` lines, no samples) on `data` into `dir`;
/// `extra` flags last.
pub fn quiet(data: &str, dir: &Path, extra: &[&str]) -> Output {
    let out = dir.display().to_string();
    let mut args = vec![
        "--data",
        data,
        "--out-dir",
        &out,
        "--print-every",
        "0",
        "--sample-every",
        "0",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// Continues the run in `dir` to `iterations` in total, quietly.
pub fn resume_to(dir: &Path, iterations: &str) -> Output {
    let d = dir.display().to_string();
    run(&[
        "--resume",
        &d,
        "--iterations",
        iterations,
        "--print-every",
        "0",
    ])
}

/// Each of `files` is byte-identical in run directories `a` and `b`.
pub fn assert_same_files(a: &Path, b: &Path, files: &[&str], what: &str) {
    for f in files {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        if x != y {
            panic!(
                "{what}: {f} differs after resume{}",
                first_difference(&x, &y)
            );
        }
    }
}

/// The first line where two text files differ, for a failure message.
fn first_difference(x: &[u8], y: &[u8]) -> String {
    let (Ok(x), Ok(y)) = (std::str::from_utf8(x), std::str::from_utf8(y)) else {
        return String::new();
    };
    let mut lines = x.lines().zip(y.lines()).enumerate();
    match lines.find(|(_, (a, b))| a != b) {
        Some((n, (a, b))) => format!(" (line {}: {a:?} vs {b:?})", n + 1),
        None => format!(" ({} lines vs {})", x.lines().count(), y.lines().count()),
    }
}

/// `charrnn sample --checkpoint <path> <extra>`.
pub fn sample(path: &Path, extra: &[&str]) -> Output {
    let p = path.display().to_string();
    let mut args = vec!["sample", "--checkpoint", &p];
    args.extend_from_slice(extra);
    run(&args)
}

/// Sends SIGINT (Ctrl-C) to process `pid`.
pub fn interrupt(pid: u32) {
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -INT {pid}");
}

/// The nats per char `charrnn eval` prints last (`...: 1.2345 nats/char ...`).
pub fn eval_nats(stdout: &str) -> f64 {
    let value = stdout.split(": ").last().and_then(|v| v.split(' ').next());
    value
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no loss in eval's output: {stdout}"))
}
