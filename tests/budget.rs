//! A time budget (`minutes` / `--minutes`) from the command line: the count
//! it fixes is said in one line and kept in config.toml and the checkpoint;
//! the run is then exactly the `--iterations N` run (the trial iterations
//! leave no trace), and an interrupted budget run resumes to the same N bit
//! for bit.

#[path = "common/bin.rs"]
mod bin;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use bin::{assert_ok, assert_refused, stdout};

/// The timed tests run one at a time: a budget run stops at its deadline,
/// so another test's runs starting beside it on a two-core machine would
/// slow it below what its trials measured.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn data() -> String {
    bin::fixture("input.txt").display().to_string()
}

/// The flags of a quiet, cosine-scheduled H 16, T 10 run with a validation
/// split, into `dir`; `extra` last.
fn args(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "--data",
        &data(),
        "--out-dir",
        &dir.display().to_string(),
        "--hidden-size",
        "16",
        "--seq-length",
        "10",
        "--lr-schedule",
        "cosine",
        "--warmup",
        "20",
        "--val-fraction",
        "0.2",
        "--eval-every",
        "500",
        "--checkpoint-every",
        "2000",
        "--print-every",
        "0",
        "--sample-every",
        "700",
    ]
    .map(String::from)
    .to_vec();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn run(dir: &Path, extra: &[&str]) -> Output {
    Command::new(bin::BIN)
        .args(args(dir, extra))
        .output()
        .unwrap()
}

/// N from `M minutes ≈ N iterations at X ms/iter (...)`, checking the line.
fn fixed_count(out: &str, minutes: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{minutes} minutes ≈ ")))
        .unwrap_or_else(|| panic!("no budget line in:\n{out}"));
    assert!(line.contains(" ms/iter (timed on "), "{line}");
    let n = line.split(" ≈ ").nth(1).unwrap().split(' ').next().unwrap();
    n.replace(',', "").parse().unwrap()
}

/// `iterations = N` and `minutes = M` of a run's config.toml.
fn config_length(dir: &Path) -> (u64, f64) {
    let toml = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    let value = |key: &str| {
        toml.lines()
            .find_map(|l| l.strip_prefix(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no {key} in config.toml"))
            .to_string()
    };
    (
        value("iterations").parse().unwrap(),
        value("minutes").parse().unwrap(),
    )
}

const SAME: [&str; 4] = [
    "metrics.csv",
    "eval.csv",
    "weights.safetensors",
    "best.safetensors",
];

#[test]
fn a_budget_run_is_the_iterations_run_it_fixed() {
    let _alone = alone();
    let tmp = tempfile::tempdir().unwrap();
    let (timed, straight) = (tmp.path().join("timed"), tmp.path().join("straight"));
    let t = std::time::Instant::now();
    let o = run(&timed, &["--minutes", "0.05"]);
    let wall = t.elapsed().as_secs_f64();
    assert_ok(&o, "a 3-second budget");
    let n = fixed_count(&stdout(&o), "0.05");
    assert!(n > 100, "{n} iterations in 3 s of a 16-unit RNN");
    assert_eq!(config_length(&timed), (n, 0.05));
    assert!(
        stdout(&o).contains(&format!("done: {n} iterations")),
        "{}",
        stdout(&o)
    );
    // The budget holds: 3 s, give or take a loaded test machine.
    assert!(wall < 3.0 * 2.5, "a 3-second budget took {wall:.1} s");
    println!("0.05 minutes: {n} iterations in {wall:.2} s");
    assert_ok(
        &run(&straight, &["--iterations", &n.to_string()]),
        "the same count",
    );
    bin::assert_same_files(&timed, &straight, &SAME, "budget vs iterations");
}

#[test]
fn an_interrupted_budget_run_resumes_to_the_same_count_exactly() {
    let _alone = alone();
    let tmp = tempfile::tempdir().unwrap();
    let (run_dir, straight) = (tmp.path().join("run"), tmp.path().join("straight"));
    let child = Command::new(bin::BIN)
        .args(args(&run_dir, &["--minutes", "0.05"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The checkpoint written at iteration 0, then rows past the trials.
    let ck = run_dir.join("checkpoint.safetensors");
    let rows = || {
        std::fs::read_to_string(run_dir.join("metrics.csv")).map_or(0, |t| t.matches('\n').count())
    };
    while !(ck.exists() && rows() > 50) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    bin::interrupt(child.id());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", bin::stderr(&o));
    let n = fixed_count(&stdout(&o), "0.05");
    assert_eq!(config_length(&run_dir).0, n);

    // Another budget cannot be given to a run whose length is fixed.
    let dir = run_dir.display().to_string();
    let o = bin::run(&["--resume", &dir, "--minutes", "1"]);
    assert_refused(
        &o,
        &["--minutes 1", &format!("{n} iterations from 0.05 minutes")],
    );

    let o = bin::run(&["--resume", &dir, "--print-every", "0"]);
    assert_ok(&o, "resuming the budget run");
    assert!(
        !stdout(&o).contains("minutes ≈"),
        "a resumed run measures nothing:\n{}",
        stdout(&o)
    );
    assert_ok(
        &run(&straight, &["--iterations", &n.to_string()]),
        "the straight run",
    );
    bin::assert_same_files(&run_dir, &straight, &SAME, "interrupted budget run");
}

/// A machine that turns slower than its trials promised (here: the process
/// stopped for 4 s of its 6 s budget) still ends within the budget, at the
/// deadline, with a last evaluation and its best weights; `--resume`
/// continues the fixed schedule to the end, exactly the straight run's.
#[test]
fn a_budget_run_that_falls_behind_ends_on_time() {
    let _alone = alone();
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().unwrap();
    let (run_dir, straight) = (tmp.path().join("run"), tmp.path().join("straight"));
    let t = std::time::Instant::now();
    let mut child = Command::new(bin::BIN)
        .args(args(&run_dir, &["--minutes", "0.1"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = String::new();
    while !out.contains(" minutes ≈ ") {
        out += &(lines.next().expect("the budget line").unwrap() + "\n");
    }
    let signal = |s: &str| {
        let pid = child.id().to_string();
        assert!(
            Command::new("kill")
                .args([s, &pid])
                .status()
                .unwrap()
                .success()
        );
    };
    signal("-STOP");
    std::thread::sleep(std::time::Duration::from_secs(4));
    signal("-CONT");
    out += &lines.map(|l| l.unwrap() + "\n").collect::<String>();
    assert!(child.wait().unwrap().success(), "{out}");
    let wall = t.elapsed().as_secs_f64();
    let n = fixed_count(&out, "0.1");
    let line = out
        .lines()
        .find(|l| l.starts_with("out of time at iteration "))
        .unwrap_or_else(|| panic!("no out-of-time line in:\n{out}"));
    let done: u64 = line.split(' ').nth(5).unwrap().parse().unwrap();
    assert!(done < n && line.contains(&format!(" of {n}:")), "{line}");
    assert!(wall < 6.0 + 2.0, "a 6-second budget took {wall:.1} s");
    let status = std::fs::read_to_string(run_dir.join("status.json")).unwrap();
    assert!(status.contains("\"state\":\"out of time\""), "{status}");
    let evals = std::fs::read_to_string(run_dir.join("eval.csv")).unwrap();
    assert!(
        evals
            .lines()
            .last()
            .unwrap()
            .starts_with(&format!("{done},")),
        "{evals}"
    );
    assert!(run_dir.join("best.safetensors").exists());

    let dir = run_dir.display().to_string();
    assert_ok(
        &bin::run(&["--resume", &dir, "--print-every", "0"]),
        "resuming to the end",
    );
    assert_ok(
        &run(&straight, &["--iterations", &n.to_string()]),
        "the straight run",
    );
    bin::assert_same_files(
        &run_dir,
        &straight,
        &["metrics.csv", "weights.safetensors"],
        "a budget run ended on time, then resumed",
    );
}

#[test]
fn budgets_that_cannot_be_kept_are_refused_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    assert_refused(
        &run(&dir, &["--minutes", "0.00001"]),
        &["minutes 0.00001", "not one iteration fits"],
    );
    assert_refused(&run(&dir, &["--minutes", "-1"]), &["minutes", "-1"]);
    assert_refused(
        &run(&dir, &["--minutes", "1", "--iterations", "5"]),
        &["--minutes", "--iterations"],
    );
    let config = tmp.path().join("both.toml");
    std::fs::write(&config, "minutes = 2.0\nepochs = 1.0\n").unwrap();
    let c = config.display().to_string();
    assert_refused(
        &bin::run(&["--config", &c, "--data", &data()]),
        &["minutes", "epochs", "keep one"],
    );
    // A flag's length wins over the file's budget.
    std::fs::write(&config, "minutes = 30.0\n").unwrap();
    let dir = tmp.path().join("flag");
    let o = run(&dir, &["--config", &c, "--iterations", "30"]);
    assert_ok(&o, "--iterations over a file's minutes");
    assert!(!stdout(&o).contains("minutes ≈"), "{}", stdout(&o));
    assert_eq!(config_length(&dir), (30, 0.0));
}
