//! Weight averaging (`ema`) from the command line: the averaged weights a
//! run saves follow w̄ ← d·w̄ + (1 − d)·w with d = min(ema, (1 + t)/(10 + t)),
//! computed here from the trained weights of runs without averaging (which
//! it must not change), and a resumed averaging run equals a straight one.

#[path = "common/bin.rs"]
mod bin;
mod common;

use std::path::Path;

use bin::{assert_ok, assert_refused};

const NAMES: [&str; 5] = ["Wxh", "Whh", "Why", "bh", "by"];

/// An f64 run of the original from the fixture's initial weights into
/// `dir`; `extra` last.
fn run(dir: &Path, extra: &[&str]) -> std::process::Output {
    let data = bin::fixture("input.txt").display().to_string();
    let init = bin::fixture("init.safetensors").display().to_string();
    let mut args = vec![
        "--init-weights",
        &init,
        "--precision",
        "f64",
        "--checkpoint-every",
        "0",
    ];
    args.extend_from_slice(extra);
    bin::quiet(&data, dir, &args)
}

fn weights(file: &Path) -> Vec<Vec<f64>> {
    NAMES
        .iter()
        .map(|n| common::read_tensor(file, n).0)
        .collect()
}

/// `charrnn eval` of `weights` on the fixture text's last `fraction`, in
/// nats per char.
fn eval_tail(weights: &Path, fraction: f64, tmp: &Path) -> f64 {
    let data = bin::fixture("input.txt");
    let text: Vec<char> = std::fs::read_to_string(data).unwrap().chars().collect();
    let n = text.len() - (text.len() as f64 * (1.0 - fraction)) as usize;
    let file = tmp.join("tail.txt");
    std::fs::write(&file, text[text.len() - n..].iter().collect::<String>()).unwrap();
    let (w, f) = (weights.display().to_string(), file.display().to_string());
    let o = bin::run(&["eval", "--checkpoint", &w, "--data", &f]);
    assert_ok(&o, "eval");
    bin::eval_nats(&bin::stdout(&o))
}

#[test]
fn the_average_follows_its_formula_and_leaves_training_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let ema: f64 = 0.2; // d: 0.1, 2/11, then 0.2: the cap, then the decay
    let steps = 4;
    let init = bin::fixture("init.safetensors");
    let mut want = weights(&init);
    for t in 0..steps {
        let dir = tmp.path().join(format!("plain{t}"));
        assert_ok(&run(&dir, &["--iterations", &(t + 1).to_string()]), "plain");
        let w = weights(&dir.join("weights.safetensors"));
        let d = ema.min((1 + t) as f64 / (10 + t) as f64);
        for (avg, w) in want.iter_mut().zip(&w) {
            for (a, x) in avg.iter_mut().zip(w) {
                *a = d * *a + (1.0 - d) * x;
            }
        }
    }
    let dir = tmp.path().join("averaged");
    let o = run(
        &dir,
        &[
            "--iterations",
            &steps.to_string(),
            "--ema",
            &ema.to_string(),
        ],
    );
    assert_ok(&o, "averaged");
    let got = weights(&dir.join("weights.safetensors"));
    for (name, (g, w)) in NAMES.iter().zip(got.iter().zip(&want)) {
        let diff = common::max_abs_diff(g, w);
        println!("{name}: max |averaged − formula| = {diff:.2e}");
        assert!(diff < 1e-14, "{name}: {diff}");
    }
    // Training is the plain run's: the checkpoint's trained weights and the
    // losses are the same.
    let plain = tmp.path().join(format!("plain{}", steps - 1));
    bin::assert_same_files(&dir, &plain, &["metrics.csv"], "ema vs plain");
    let ck = |d: &Path| weights(&d.join("checkpoint.safetensors"));
    assert_eq!(ck(&dir), ck(&plain));
    assert_ne!(got, ck(&dir), "the saved weights are the average");
}

#[test]
fn an_averaging_run_resumes_exactly_and_refuses_another_decay() {
    let tmp = tempfile::tempdir().unwrap();
    let (straight, resumed) = (tmp.path().join("straight"), tmp.path().join("resumed"));
    let common = [
        "--ema",
        "0.9",
        "--val-fraction",
        "0.2",
        "--eval-every",
        "10",
    ];
    let with = |n: &'static str| [&["--iterations", n][..], &common[..]].concat();
    assert_ok(&run(&straight, &with("40")), "straight");
    assert_ok(&run(&resumed, &with("20")), "first half");
    let o = bin::resume_to(&resumed, "40");
    assert_ok(&o, "resumed");
    bin::assert_same_files(
        &straight,
        &resumed,
        &[
            "metrics.csv",
            "eval.csv",
            "weights.safetensors",
            "best.safetensors",
        ],
        "ema",
    );
    // The checkpoint's average (its metadata's order may differ).
    let average = |d: &Path| -> Vec<Vec<f64>> {
        let ck = d.join("checkpoint.safetensors");
        NAMES
            .iter()
            .map(|n| common::read_tensor(&ck, &format!("average/{n}")).0)
            .collect()
    };
    assert_eq!(average(&straight), average(&resumed));
    // best.safetensors holds the averaged weights the run evaluated:
    // `charrnn eval` of them on the validation part gives its best loss.
    let best = common::csv_column(&straight.join("eval.csv"), 2)
        .into_iter()
        .fold(f64::INFINITY, f64::min);
    let nats = eval_tail(&straight.join("best.safetensors"), 0.2, tmp.path());
    println!("best validation {best}, charrnn eval of best.safetensors {nats}");
    assert!(
        (nats - best).abs() <= 5e-5,
        "{nats} vs {best} (eval prints 4 decimals)"
    );
    let r = resumed.display().to_string();
    assert_refused(
        &bin::run(&["--resume", &r, "--ema", "0.5"]),
        &["--ema 0.5", "0.9"],
    );
    assert_refused(&run(&straight, &["--ema", "1"]), &["ema", "[0, 1)"]);
}
