//! Files written by an earlier main (commit 59a1786, before min-char-rnn's
//! network became a setting of the general one) still work: each run
//! directory in tests/fixtures/legacy (min-char-rnn; a 2-layer tanh RNN under
//! SGD; a 2-layer LSTM with dropout under Adam; a GRU under RMSprop in f64)
//! samples the same text from its checkpoint and its weights file, and
//! resumes to the same metrics and byte-identical weights as that main gave.
//! `tests/fixtures/legacy/make.sh` says how they were made.

#[path = "common/bin.rs"]
mod bin;
mod common;

use std::path::{Path, PathBuf};

use bin::{assert_ok, run_in_root as run, stdout};

const CASES: [&str; 4] = ["rnn", "rnn2", "lstm", "gru"];

fn legacy(case: &str) -> PathBuf {
    bin::root().join("tests/fixtures/legacy").join(case)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

fn read(p: PathBuf) -> Vec<u8> {
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// What `train sample --checkpoint <path> --length 120 --seed 3 <extra>` prints.
fn sample(path: &Path, extra: &[&str]) -> String {
    let p = path.display().to_string();
    let mut args = vec![
        "sample",
        "--checkpoint",
        &p,
        "--length",
        "120",
        "--seed",
        "3",
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert_ok(&o, &p);
    stdout(&o)
}

#[test]
fn old_runs_sample_the_same_text() {
    for case in CASES {
        let dir = legacy(case);
        let text = |f: &str| String::from_utf8(read(dir.join(f))).unwrap();
        let from_run = sample(&dir.join("run"), &["--prime", "th"]);
        assert_eq!(
            from_run,
            text("sample_run.txt"),
            "{case}: from the run directory"
        );
        let weights = dir.join("run/weights.safetensors");
        let from_weights = sample(&weights, &["--temperature", "0.7"]);
        assert_eq!(
            from_weights,
            text("sample_weights.txt"),
            "{case}: from weights"
        );
        println!("{case}: both samples equal the old main's");
    }
}

#[test]
fn old_runs_resume_to_the_same_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    for case in CASES {
        let dir = tmp.path().join(case);
        copy_dir(&legacy(case).join("run"), &dir);
        let d = dir.display().to_string();
        assert_ok(&run(&["--resume", &d, "--iterations", "30"]), case);
        let want = legacy(case).join("resumed");
        let files = ["metrics.csv", "eval.csv", "weights.safetensors"];
        bin::assert_same_files(&dir, &want, &files, &format!("{case} against the old main"));
        // The rows are real: 30 iterations, the last 10 new.
        let rows = common::csv_rows(&dir.join("metrics.csv"));
        assert_eq!(rows.len(), 30, "{case}");
        println!(
            "{case}: resumed 20 -> 30, metrics, eval and weights byte-identical to the old main's"
        );
    }
}
