//! The recipe's levers from the command line: learning-rate schedules (a
//! resumed run crosses a decay boundary exactly as a straight one), epochs,
//! early stopping, and the test split scored once at the end.

#[path = "common/bin.rs"]
mod bin;
mod common;

use std::path::Path;
use std::process::Output;

use bin::{assert_ok, assert_refused, stdout};

fn data() -> String {
    bin::fixture("input.txt").display().to_string()
}

/// A quiet H 16, T 10 run of the fixture text into `dir`; `extra` last.
fn run(dir: &Path, extra: &[&str]) -> Output {
    run_on(&data(), dir, extra)
}

/// The same on another file.
fn run_on(data: &str, dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "--hidden-size",
        "16",
        "--seq-length",
        "10",
        "--checkpoint-every",
        "0",
    ];
    args.extend_from_slice(extra);
    bin::quiet(data, dir, &args)
}

/// 500 chars, T 10, B 1: 49 iterations an epoch; a decay every quarter epoch
/// from epoch 0.25 on, so iterations 12, 24, 36 and 48 cross boundaries.
const STEP: [&str; 8] = [
    "--lr-schedule",
    "step",
    "--lr-decay",
    "0.5",
    "--lr-decay-every",
    "0.25",
    "--lr-decay-after",
    "0.25",
];

/// `charrnn eval` of `checkpoint` on the fixture text's last `chars` chars, in
/// nats per char.
fn eval_tail(checkpoint: &Path, chars: usize, tmp: &Path) -> f64 {
    let text: Vec<char> = std::fs::read_to_string(data()).unwrap().chars().collect();
    let tail: String = text[text.len() - chars..].iter().collect();
    let file = tmp.join("tail.txt");
    std::fs::write(&file, tail).unwrap();
    let (c, f) = (checkpoint.display().to_string(), file.display().to_string());
    let o = bin::run(&[
        "eval",
        "--checkpoint",
        &c,
        "--data",
        &f,
        "--seq-length",
        "10",
    ]);
    assert_ok(&o, "eval");
    bin::eval_nats(&stdout(&o))
}

#[test]
fn a_resumed_run_crosses_decay_boundaries_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    for precision in ["f32", "f64"] {
        let (a, b, flat) = (
            tmp.path().join(format!("a{precision}")),
            tmp.path().join(format!("b{precision}")),
            tmp.path().join(format!("c{precision}")),
        );
        let with = |iters: &'static str| {
            let mut v = STEP.to_vec();
            v.extend(["--precision", precision, "--iterations", iters]);
            v
        };
        assert_ok(&run(&a, &with("40")), "straight");
        assert_ok(&run(&b, &with("18")), "first half");
        assert_ok(&bin::resume_to(&b, "40"), "resumed");
        let files = ["metrics.csv", "weights.safetensors"];
        bin::assert_same_files(&a, &b, &files, &format!("{precision} step schedule"));
        // The schedule is really applied: the same run at a constant rate differs.
        assert_ok(
            &run(&flat, &["--precision", precision, "--iterations", "40"]),
            "constant",
        );
        let (x, y) = (
            common::csv_column(&a.join("metrics.csv"), 1),
            common::csv_column(&flat.join("metrics.csv"), 1),
        );
        assert_eq!(
            x[..13],
            y[..13],
            "{precision}: the same until the first decay (iteration 12)"
        );
        assert_ne!(
            x[13..],
            y[13..],
            "{precision}: the decayed run differs after it"
        );
        println!(
            "{precision}: 18 + resume to 40 across 3 decay boundaries is byte-identical to 40 straight"
        );
    }
}

#[test]
fn epochs_set_the_length_and_show_in_the_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let o = run(&dir, &["--epochs", "1.5", "--iterations", "7"]);
    assert_ok(&o, "epochs");
    // 1.5 epochs of 49 iterations: 74 (rounded up), whatever --iterations says.
    assert_eq!(common::csv_rows(&dir.join("metrics.csv")).len(), 74);
    assert!(
        stdout(&o).contains("done: 74 iterations (1.51 epochs)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn early_stopping_keeps_the_best_weights_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let flags = [
        "--val-fraction",
        "0.25",
        "--eval-every",
        "5",
        "--patience",
        "2",
        "--iterations",
        "2000",
        "--learning-rate",
        "0.3",
    ];
    let o = run(&dir, &flags);
    assert_ok(&o, "early stopping");
    let out = stdout(&o);
    let line = out
        .lines()
        .find(|l| l.starts_with("early stop at iteration"))
        .unwrap_or_else(|| panic!("{out}"));
    println!("{line}");
    let evals = common::csv_rows(&dir.join("eval.csv"));
    let (best_at, best) =
        evals
            .iter()
            .map(|r| (r[0] as u64, r[2]))
            .fold(
                (0, f64::INFINITY),
                |acc, (i, v)| if v < acc.1 { (i, v) } else { acc },
            );
    // The run ended after exactly `patience` evaluations without a better loss.
    let last = evals.last().unwrap()[0] as u64;
    assert_eq!(last, best_at + 2 * 5, "{line}");
    assert!(line.contains(&format!("at iteration {best_at}")), "{line}");
    assert!(line.contains(&format!("{best:.4} nats/char")), "{line}");
    assert_eq!(
        common::csv_rows(&dir.join("metrics.csv")).len() as u64,
        last
    );
    // best.safetensors holds that iteration's weights: its validation loss is the best row's.
    let n = std::fs::read_to_string(data()).unwrap().chars().count();
    let nats = eval_tail(&dir.join("best.safetensors"), n / 4, tmp.path());
    assert!((nats - best).abs() < 1e-4 * best, "{nats} vs {best}");
}

#[test]
fn the_test_split_is_scored_once_with_the_best_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let o = run(
        &dir,
        &[
            "--val-fraction",
            "0.2",
            "--test-fraction",
            "0.2",
            "--eval-every",
            "10",
            "--iterations",
            "40",
        ],
    );
    assert_ok(&o, "test split");
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().filter(|l| l.contains("test loss")).collect();
    assert_eq!(lines.len(), 1, "{out}");
    let row = &common::csv_rows_raw(&dir.join("test.csv"))[0];
    assert_eq!(row[0], "best");
    let reported: f64 = row[2].parse().unwrap();
    // The test part is the last 20% of the chars; `charrnn eval` on it with the
    // best weights gives the same loss.
    let n = std::fs::read_to_string(data()).unwrap().chars().count();
    let nats = eval_tail(
        &dir.join("best.safetensors"),
        (n as f64 * 0.2) as usize,
        tmp.path(),
    );
    println!("{}; train eval on the test part: {nats}", lines[0]);
    assert!(
        (nats - reported).abs() < 1e-5 * nats,
        "{nats} vs {reported}"
    );
}

#[test]
fn bad_recipe_values_are_refused_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    for (args, words) in [
        (
            vec!["--lr-schedule", "linear"],
            vec!["lr_schedule", "linear", "cosine"],
        ),
        (vec!["--lr-decay", "0"], vec!["lr_decay", "(0, 1]"]),
        (vec!["--patience", "3"], vec!["patience", "val_fraction"]),
        (vec!["--lr-decay-every", "0"], vec!["lr_decay_every"]),
        (vec!["--epochs", "-1"], vec!["epochs"]),
        (
            vec!["--lr-schedule", "cosine"],
            vec!["cosine needs a length"],
        ),
        (
            vec!["--val-fraction", "0.5", "--test-fraction", "0.5"],
            vec!["test_fraction"],
        ),
        (
            vec!["--test-fraction", "0.001", "--iterations", "3"],
            vec!["test_fraction", "for testing", "needs"],
        ),
    ] {
        let o = run(&dir, &args);
        println!("{args:?} -> {}", bin::stderr(&o).trim());
        assert_refused(&o, &words);
        assert!(!dir.exists());
    }
}

#[test]
fn byte_mode_trains_on_any_file_and_samples_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    // Not UTF-8: every byte value, then a stretch of a simple byte pattern.
    let mut bytes: Vec<u8> = (0..=255u8).collect();
    bytes.extend((0..3000u32).map(|i| ((i * 7 + i / 13) % 251) as u8));
    let file = tmp.path().join("data.bin");
    std::fs::write(&file, &bytes).unwrap();
    let f = file.display().to_string();
    let dir = tmp.path().join("r");
    let d = dir.display().to_string();
    // Char mode names the first bad byte and suggests byte mode.
    let o = run_on(&f, &dir, &["--iterations", "20"]);
    assert_refused(&o, &["not valid UTF-8", "offset 128", "--vocab bytes"]);
    let o = run_on(&f, &dir, &["--iterations", "20", "--vocab", "bytes"]);
    assert_ok(&o, "byte mode");
    // The checkpoint and the weights file record the mode.
    for path in [dir.clone(), dir.join("weights.safetensors")] {
        let saved = charrnn::saved::Saved::open(&path).unwrap();
        assert!(saved.vocab.is_bytes(), "{}", path.display());
        assert_eq!(saved.vocab.len(), 256);
    }
    // A sample to a file holds raw bytes; standard output (a pipe) gets the same.
    let out = tmp.path().join("sample.bin");
    let o = bin::sample(
        &dir,
        &[
            "--length",
            "300",
            "--seed",
            "5",
            "--output",
            &out.display().to_string(),
        ],
    );
    assert_ok(&o, "sample --output");
    let written = std::fs::read(&out).unwrap();
    assert_eq!(written.len(), 300);
    assert!(
        std::str::from_utf8(&written).is_err(),
        "an untrained byte model writes non-UTF-8"
    );
    let piped = bin::sample(&dir, &["--length", "300", "--seed", "5"]);
    assert_eq!(piped.stdout, written);
    // eval speaks in bytes.
    let o = bin::run(&["eval", "--checkpoint", &d, "--data", &f]);
    assert_ok(&o, "eval");
    let line = stdout(&o);
    assert!(
        line.contains("bits/byte") && line.contains(&format!("{} bytes", bytes.len() - 1)),
        "{line}"
    );
    println!("{}", line.trim());
}
