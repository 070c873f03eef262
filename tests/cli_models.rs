//! The `charrnn` binary with LSTM, GRU and stacked RNN models, as a user runs
//! it: PyTorch's golden runs reproduced from the command line
//! (`--init-weights` + `--optimizer sgd`, f64) on every CPU backend, exact
//! resume of an LSTM with dropout and Adam, sampling from every kind of
//! file, and one-line refusals of bad model settings.

#[path = "common/bin.rs"]
mod bin;
mod common;

use std::path::Path;
use std::process::Output;

use bin::{assert_refused, stderr};
use common::{csv_column, max_abs_diff, read_tensor, torch_fixture_dir};

fn train(args: &[&str]) -> Output {
    bin::run(args)
}

fn fx(model: &str, file: &str) -> String {
    torch_fixture_dir(model).join(file).display().to_string()
}

/// A quiet run of `model` on the fixture text into `dir`; `extra` flags last.
fn run_model(model: &str, dir: &Path, extra: &[&str]) -> Output {
    bin::quiet(&fx(model, "input.txt"), dir, extra)
}

fn losses(dir: &Path) -> Vec<f64> {
    csv_column(&dir.join("metrics.csv"), 1)
}

/// What a user runs to reproduce a PyTorch run: `--init-weights` from
/// PyTorch, `--optimizer sgd`, f64, the case's sizes; then metrics.csv and
/// weights.safetensors against PyTorch's, for every case and CPU backend.
#[test]
fn pytorch_golden_runs_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        "lstm",
        "gru",
        "rnn",
        "lstm-1layer-unicode",
        "gru-3layer-b1",
        "rnn-1layer-unicode",
        "gru-adam-unicode",
        "lstm-rmsprop",
        "lstm-adam",
    ];
    for case in cases {
        let dir = torch_fixture_dir(case);
        let want = csv_column(&dir.join("losses.csv"), 1);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
        let key = |k: &str| json[k].to_string().trim_matches('"').to_string();
        let flags: Vec<String> = [
            ("--model", "model"),
            ("--layers", "layers"),
            ("--hidden-size", "hidden_size"),
            ("--seq-length", "seq_length"),
            ("--batch-size", "batch_size"),
            ("--learning-rate", "learning_rate"),
            ("--iterations", "iterations"),
            ("--optimizer", "optimizer"),
        ]
        .iter()
        .flat_map(|(flag, k)| [flag.to_string(), key(k)])
        .chain(
            json.get("rmsprop_alpha")
                .map(|a| ["--rmsprop-alpha".to_string(), a.to_string()])
                .into_iter()
                .flatten(),
        )
        .collect();
        for backend in ["flex", "ndarray"] {
            let out = tmp.path().join(format!("{case}-{backend}"));
            let init = fx(case, "init.safetensors");
            let mut args: Vec<&str> = flags.iter().map(String::as_str).collect();
            args.extend([
                "--init-weights",
                &init,
                "--precision",
                "f64",
                "--backend",
                backend,
            ]);
            let o = run_model(case, &out, &args);
            assert!(o.status.success(), "{case} {backend}: {}", stderr(&o));
            let got = losses(&out);
            assert_eq!(got.len(), want.len());
            let loss_err = max_abs_diff(&got, &want);
            let weights = out.join("weights.safetensors");
            let after = dir.join("after.safetensors");
            assert_eq!(
                tensor_names(&weights),
                tensor_names(&after),
                "PyTorch's names"
            );
            let mut w_err = 0.0f64;
            for name in tensor_names(&after) {
                let (a, shape_a) = read_tensor(&weights, &name);
                let (b, shape_b) = read_tensor(&after, &name);
                assert_eq!(shape_a, shape_b, "{name}");
                w_err = w_err.max(max_abs_diff(&a, &b));
            }
            println!(
                "{case} {backend}: {} iterations, max |loss diff| {loss_err:e}, max |weight diff| {w_err:e}",
                got.len()
            );
            assert!(loss_err <= 1e-9 && w_err <= 1e-9);
        }
    }
}

fn tensor_names(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
    names.sort();
    names
}

/// 80 iterations straight and 40 + --resume to 80 are byte-identical for a
/// stacked LSTM with dropout 0.3 and Adam, in f32 and f64 (and with RMSprop's
/// and SGD's state too), trained in two shards (`--threads 2`).
#[test]
fn lstm_with_dropout_and_adam_resumes_exactly() {
    for (precision, optimizer) in [
        ("f32", "adam"),
        ("f64", "adam"),
        ("f64", "rmsprop"),
        ("f32", "sgd"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        let flags = |iters: &'static str| {
            vec![
                "--model",
                "lstm",
                "--layers",
                "2",
                "--hidden-size",
                "24",
                "--dropout",
                "0.3",
                "--optimizer",
                optimizer,
                "--learning-rate",
                "0.002",
                "--batch-size",
                "4",
                "--threads",
                "2",
                "--seq-length",
                "12",
                "--precision",
                precision,
                "--iterations",
                iters,
            ]
        };
        let o = run_model("lstm", &a, &flags("80"));
        assert!(o.status.success(), "{}", stderr(&o));
        let o = run_model("lstm", &b, &flags("40"));
        assert!(o.status.success(), "{}", stderr(&o));
        let o = bin::resume_to(&b, "80");
        assert!(o.status.success(), "{}", stderr(&o));
        let what = format!("{precision} {optimizer}");
        bin::assert_same_files(&a, &b, &["metrics.csv", "weights.safetensors"], &what);
        // Dropout is really on: the same run without it learns differently.
        let c = tmp.path().join("c");
        let mut no_dropout = flags("80");
        no_dropout[7] = "0";
        assert!(run_model("lstm", &c, &no_dropout).status.success());
        assert_ne!(losses(&a), losses(&c), "dropout changed nothing");
        println!(
            "{precision} {optimizer}: LSTM + dropout, straight and resumed runs are byte-identical"
        );
    }
}

/// A GRU with weight drop (the masks drawn after dropout's, from the same
/// generator the checkpoint keeps) and weight averaging, on two shards:
/// straight and resumed runs are byte-identical, and the weight drop is on;
/// the same for locked dropout masks, which change the run.
#[test]
fn gru_with_weight_drop_and_averaging_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = |name: &str| tmp.path().join(name);
    let (a, b, c) = (dir("a"), dir("b"), dir("c"));
    let flags = |iters: &'static str, weight_drop: &'static str| {
        vec![
            "--model",
            "gru",
            "--layers",
            "2",
            "--hidden-size",
            "24",
            "--dropout",
            "0.2",
            "--weight-drop",
            weight_drop,
            "--ema",
            "0.9",
            "--optimizer",
            "adam",
            "--learning-rate",
            "0.003",
            "--batch-size",
            "4",
            "--threads",
            "2",
            "--seq-length",
            "12",
            "--iterations",
            iters,
        ]
    };
    assert!(run_model("gru", &a, &flags("60", "0.3")).status.success());
    assert!(run_model("gru", &b, &flags("30", "0.3")).status.success());
    let o = bin::resume_to(&b, "60");
    assert!(o.status.success(), "{}", stderr(&o));
    bin::assert_same_files(
        &a,
        &b,
        &["metrics.csv", "weights.safetensors"],
        "weight drop",
    );
    assert!(run_model("gru", &c, &flags("60", "0")).status.success());
    assert_ne!(losses(&a), losses(&c), "weight drop changed nothing");

    let locked = |iters| [flags(iters, "0.3"), vec!["--locked-dropout"]].concat();
    let (d, e) = (dir("d"), dir("e"));
    assert!(run_model("gru", &d, &locked("60")).status.success());
    assert!(run_model("gru", &e, &locked("30")).status.success());
    let o = bin::resume_to(&e, "60");
    assert!(o.status.success(), "{}", stderr(&o));
    bin::assert_same_files(
        &d,
        &e,
        &["metrics.csv", "weights.safetensors"],
        "locked dropout",
    );
    assert_ne!(losses(&a), losses(&d), "locking the masks changed nothing");
}

/// `charrnn sample` from a run directory, a checkpoint file and a weights file,
/// for each model; the same seed gives the same text from each.
#[test]
fn sampling_works_for_every_model() {
    let tmp = tempfile::tempdir().unwrap();
    for model in ["lstm", "gru", "rnn"] {
        let run = tmp.path().join(model);
        let o = run_model(
            model,
            &run,
            &[
                "--model",
                model,
                "--layers",
                "2",
                "--hidden-size",
                "16",
                "--iterations",
                "30",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let mut texts = Vec::new();
        for source in [
            run.clone(),
            run.join("checkpoint.safetensors"),
            run.join("weights.safetensors"),
        ] {
            let o = bin::sample(
                &source,
                &[
                    "--prime",
                    "First",
                    "--length",
                    "80",
                    "--seed",
                    "3",
                    "--temperature",
                    "0.8",
                ],
            );
            assert!(
                o.status.success(),
                "{model} {}: {}",
                source.display(),
                stderr(&o)
            );
            let text = String::from_utf8(o.stdout).unwrap();
            let sampled = text.strip_suffix('\n').unwrap_or(&text);
            assert_eq!(sampled.chars().count(), 85, "{text:?}");
            texts.push(text);
        }
        assert!(texts.iter().all(|t| *t == texts[0]), "{model}: {texts:?}");
    }
}

#[test]
fn bad_model_settings_are_refused_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let gru = fx("gru", "init.safetensors");
    let lstm = fx("lstm", "init.safetensors");
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["--layers", "0"], vec!["layers", "at least 1"]),
        (vec!["--dropout", "1"], vec!["dropout", "[0, 1)"]),
        (vec!["--dropout", "-0.1"], vec!["dropout", "-0.1"]),
        (vec!["--dropout", "NaN"], vec!["dropout", "NaN"]),
        (
            vec!["--model", "transformer"],
            vec!["--model", "transformer", "lstm"],
        ),
        (
            vec!["--optimizer", "lbfgs"],
            vec!["--optimizer", "lbfgs", "adam"],
        ),
        (
            vec![
                "--init-weights",
                &gru,
                "--model",
                "lstm",
                "--layers",
                "2",
                "--hidden-size",
                "16",
            ],
            vec!["model gru (configured lstm)"],
        ),
        (
            vec![
                "--init-weights",
                &lstm,
                "--model",
                "lstm",
                "--layers",
                "3",
                "--hidden-size",
                "16",
            ],
            vec!["2 layers (configured 3)"],
        ),
        (
            vec![
                "--init-weights",
                &lstm,
                "--model",
                "lstm",
                "--layers",
                "2",
                "--hidden-size",
                "32",
            ],
            vec!["hidden size 16 (configured 32)"],
        ),
        (
            vec!["--init-weights", &lstm],
            vec!["model lstm (configured rnn)", "2 layers (configured 1)"],
        ),
    ];
    for (args, words) in &cases {
        let o = run_model("lstm", &dir, args);
        println!("{args:?} -> {}", stderr(&o).trim());
        assert_refused(&o, words);
        assert!(!dir.exists(), "{args:?} wrote the run directory");
    }
    let toml = tmp.path().join("bad.toml");
    std::fs::write(&toml, "model = \"lstn\"\n").unwrap();
    let o = run_model("lstm", &dir, &["--config", &toml.display().to_string()]);
    assert_refused(&o, &["bad.toml", "lstn", "lstm"]);
}

/// `charrnn gradcheck` on an LSTM and a GRU with dropout prints a row per tensor, all OK.
#[test]
fn gradcheck_command_covers_every_model() {
    for (model, dropout) in [("lstm", "0"), ("gru", "0.25"), ("rnn", "0.5")] {
        let data = fx(model, "input.txt");
        let o = train(&[
            "gradcheck",
            "--data",
            &data,
            "--model",
            model,
            "--layers",
            "2",
            "--hidden-size",
            "8",
            "--seq-length",
            "5",
            "--batch-size",
            "2",
            "--dropout",
            dropout,
        ]);
        let out = String::from_utf8_lossy(&o.stdout);
        println!("{out}");
        assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
        for name in [
            "rnn.weight_ih_l0",
            "rnn.bias_hh_l1",
            "out.weight",
            "out.bias",
        ] {
            assert!(
                out.lines()
                    .any(|l| l.starts_with(name) && l.ends_with("OK")),
                "{model}: row for {name}"
            );
        }
    }
}

/// A quiet LSTM run on the shared fixture's text with a validation split.
fn run_with_validation(dir: &Path, extra: &[&str]) -> Output {
    let fraction = if extra.contains(&"--val-fraction") {
        None
    } else {
        Some("0.2")
    };
    let mut args = vec![
        "--model",
        "lstm",
        "--layers",
        "2",
        "--hidden-size",
        "12",
        "--batch-size",
        "1",
        "--seq-length",
        "8",
        "--optimizer",
        "adam",
        "--learning-rate",
        "0.01",
        "--eval-every",
        "10",
    ];
    if let Some(f) = fraction {
        args.extend(["--val-fraction", f]);
    }
    args.extend_from_slice(extra);
    run_model("lstm", dir, &args)
}

fn eval_rows(dir: &Path) -> Vec<(u64, f64, f64)> {
    common::csv_rows(&dir.join("eval.csv"))
        .into_iter()
        .map(|r| (r[0] as u64, r[1], r[2]))
        .collect()
}

/// `charrnn eval` → nats per char.
fn eval_nats(checkpoint: &Path, data: &Path, extra: &[&str]) -> f64 {
    let (c, d) = (checkpoint.display().to_string(), data.display().to_string());
    let mut args = vec!["eval", "--checkpoint", &c, "--data", &d];
    args.extend_from_slice(extra);
    let o = train(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    bin::eval_nats(&String::from_utf8(o.stdout).unwrap())
}

#[test]
fn validation_writes_eval_csv_best_weights_and_a_plot() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let o = run_with_validation(&run, &["--iterations", "35"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("validation loss") && out.contains("bits/char"),
        "{out}"
    );
    let rows = eval_rows(&run);
    // Every 10 iterations and at the end.
    assert_eq!(
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        [10, 20, 30, 35]
    );
    assert!(
        rows.iter()
            .all(|r| r.1.is_finite() && r.2 > 0.0 && r.2 < 4.0)
    );
    // best.safetensors holds the weights of the lowest validation loss:
    // `charrnn eval` on the held-out text (the last 20%) gives that loss.
    let text = std::fs::read_to_string(fx("lstm", "input.txt")).unwrap();
    let chars: Vec<char> = text.chars().collect();
    let held_out: String = chars[chars.len() - (chars.len() as f64 * 0.2) as usize..]
        .iter()
        .collect();
    let val = tmp.path().join("val.txt");
    std::fs::write(&val, held_out).unwrap();
    let best = rows.iter().map(|r| r.2).fold(f64::INFINITY, f64::min);
    let got = eval_nats(&run.join("best.safetensors"), &val, &["--seq-length", "8"]);
    println!("best validation loss {best}, train eval on best.safetensors {got}");
    assert!((got - best).abs() < 1e-4, "{got} vs {best}");
    // The last evaluation is the final checkpoint's.
    let last = eval_nats(&run, &val, &["--seq-length", "50"]);
    assert!((last - rows[3].2).abs() < 1e-4, "{last} vs {}", rows[3].2);
    // flex and ndarray agree on the same checkpoint to f32 accuracy.
    let on_ndarray = eval_nats(&run, &val, &["--backend", "ndarray"]);
    assert!(
        (on_ndarray - last).abs() < 1e-5 * last,
        "{on_ndarray} vs {last}"
    );
    // The plot: an SVG with both curves and labelled axes.
    let svg = std::fs::read_to_string(run.join("loss.svg")).unwrap();
    for want in [
        "<svg",
        "iteration",
        "nats per char",
        "validation",
        "training",
    ] {
        assert!(svg.contains(want), "loss.svg lacks {want}");
    }
    assert!(svg.matches("<polyline").count() >= 2, "two curves");
    // A char outside the vocabulary is refused, named.
    let bad = tmp.path().join("bad.txt");
    std::fs::write(&bad, "First Citizen: ☃ wörld").unwrap();
    let o = train(&[
        "eval",
        "--checkpoint",
        &run.display().to_string(),
        "--data",
        &bad.display().to_string(),
    ]);
    assert_refused(&o, &["outside the model's vocabulary", "'☃'", "'ö'"]);
}

/// The validation loss and best weights of 20 + --resume to 40 equal a
/// straight run's, byte for byte; both backends give the same first
/// validation loss to f32 accuracy.
#[test]
fn validation_is_unchanged_by_resume_and_agrees_across_backends() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for (dir, iterations) in [(&a, "40"), (&b, "20")] {
        let o = run_with_validation(dir, &["--iterations", iterations, "--dropout", "0.2"]);
        bin::assert_ok(&o, iterations);
    }
    let o = bin::resume_to(&b, "40");
    assert!(o.status.success(), "{}", stderr(&o));
    let files = [
        "eval.csv",
        "best.safetensors",
        "metrics.csv",
        "weights.safetensors",
    ];
    bin::assert_same_files(&a, &b, &files, "validation run");
    let (c, d) = (tmp.path().join("c"), tmp.path().join("d"));
    for (dir, backend) in [(&c, "ndarray"), (&d, "flex")] {
        let o = run_with_validation(dir, &["--iterations", "10", "--backend", backend]);
        bin::assert_ok(&o, backend);
    }
    let (nd, flex) = (eval_rows(&c)[0].2, eval_rows(&d)[0].2);
    println!("validation loss after 10 iterations: flex {flex}, ndarray {nd}");
    assert!((flex - nd).abs() < 1e-4 * flex, "{flex} vs {nd}");
}

#[test]
fn bad_validation_fractions_are_refused_in_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    for (value, words) in [
        ("1", vec!["val_fraction", "[0, 1)"]),
        ("-0.1", vec!["val_fraction", "-0.1"]),
        ("0.999", vec!["val_fraction", "for training", "needs"]),
        ("0.001", vec!["val_fraction", "for validation", "needs"]),
    ] {
        let o = run_with_validation(&dir, &["--val-fraction", value]);
        println!("{value} -> {}", stderr(&o).trim());
        assert_refused(&o, &words);
        assert!(!dir.exists());
    }
}
