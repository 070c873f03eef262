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

/// What `charrnn sample --checkpoint <path> --length 120 --seed 3 <extra>` prints.
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

/// Resumed from 20 to 30 iterations: under Adagrad and SGD the metrics,
/// evaluations and weights are byte-identical to the old main's where the
/// matrix products run the kernels the fixtures were made with (AVX2; on an
/// AVX-512 machine, gemm's AVX-512 kernels sum in another order and the
/// losses agree to f32 rounding); under Adam
/// and RMSprop, which now compute PyTorch's update with f64 hyper-parameters
/// where Burn's kept f32 ones, they agree to that difference (the state
/// itself is read exactly: see the next test).
#[test]
fn old_runs_resume_to_the_same_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    for case in CASES {
        let dir = tmp.path().join(case);
        copy_dir(&legacy(case).join("run"), &dir);
        let d = dir.display().to_string();
        assert_ok(&run(&["--resume", &d, "--iterations", "30"]), case);
        let want = legacy(case).join("resumed");
        if matches!(case, "rnn" | "rnn2") && same_kernels_as_the_fixtures() {
            let files = ["metrics.csv", "eval.csv", "weights.safetensors"];
            let what = format!("{case} against the old main");
            bin::assert_same_files(&dir, &want, &files, &what);
        } else {
            let (got, old) = (
                common::csv_column(&dir.join("metrics.csv"), 1),
                common::csv_column(&want.join("metrics.csv"), 1),
            );
            let rel = common::rel_diff(&got[20..], &old[20..]);
            // Adam and RMSprop: Burn's f32 hyper-parameters then, f64 now;
            // Adagrad and SGD on AVX-512: f32 products summed in another order.
            let tol = if matches!(case, "rnn" | "rnn2") {
                1e-5
            } else {
                1e-4
            };
            println!("{case}: resumed losses within {rel:e} of the old main's (at most {tol:e})");
            assert!(rel < tol, "{case}: {rel:e}");
            assert_eq!(
                got[..20],
                old[..20],
                "{case}: the rows before the checkpoint are kept"
            );
        }
        // The rows are real: 30 iterations, the last 10 new.
        let rows = common::csv_rows(&dir.join("metrics.csv"));
        assert_eq!(rows.len(), 30, "{case}");
    }
}

/// A checkpoint written with Burn's Adam (LSTM) and RMSprop (GRU, f64) is
/// read into charrnn's own optimizers: every state tensor and the step count
/// arrive under PyTorch's names with the same values.
#[test]
fn burns_optimizer_state_is_read_into_ours() {
    use charrnn::checkpoint::Checkpoint;
    use charrnn::models::Network;
    use charrnn::optim::state::SavedState;
    let renamed = [
        ("momentum.moment_1", "exp_avg"),
        ("momentum.moment_2", "exp_avg_sq"),
        ("square_avg.square_avg", "square_avg"),
    ];
    for case in ["lstm", "gru"] {
        let ck = Checkpoint::load(&legacy(case).join("run")).unwrap();
        let device = burn::tensor::Device::flex().autodiff();
        let spec = ck.config.spec(ck.vocab.len());
        let model = Network::load(&spec, &ck.weights, &device).unwrap();
        let settings = ck.config.optimizer_settings();
        let optim = settings.restore(ck.optimizer_bytes(), &model).unwrap();
        let old = SavedState::read(&ck.optimizer_bytes()).unwrap();
        let new = SavedState::read(&optim.into_bytes().unwrap()).unwrap();
        let mut compared = 0;
        for t in &old.tensors {
            let Some((_, name)) = renamed.iter().find(|(o, _)| *o == t.field) else {
                continue; // Burn's RMSprop kept a second copy of v (`centered.avg`)
            };
            let ours = new
                .tensors
                .iter()
                .find(|n| n.param == t.param && n.field == *name)
                .unwrap_or_else(|| panic!("{case}: no {}.{name}", t.param));
            assert_eq!(ours.data, t.data, "{case}: {}.{name}", t.param);
            compared += 1;
        }
        let params = charrnn::models::params::table(&spec).len();
        assert_eq!(
            compared,
            params * if case == "lstm" { 2 } else { 1 },
            "{case}"
        );
        if case == "lstm" {
            for id in 0..params {
                let step = |s: &SavedState, k: &str| s.scalars.get(&format!("{id}.{k}")).copied();
                assert_eq!(
                    step(&old, "momentum.time"),
                    step(&new, "step"),
                    "{case}: {id}"
                );
                assert!(step(&new, "step").is_some());
            }
        }
        println!("{case}: {compared} state tensors read into charrnn's optimizer unchanged");
    }
}

/// Whether gemm runs the AVX2 kernels that made the fixtures (it picks its
/// AVX-512 ones at run time where the CPU has them).
fn same_kernels_as_the_fixtures() -> bool {
    #[cfg(target_arch = "x86_64")]
    return !std::arch::is_x86_feature_detected!("avx512f");
    #[allow(unreachable_code)]
    true
}
