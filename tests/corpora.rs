//! Real corpora as a user meets them, through the `charrnn` binary: rare
//! chars folded into one unknown symbol (`--vocab-min-count`) and what reads
//! a folded model (sample, eval, the server, resume), the hint for a text of very many
//! distinct chars, and evaluations bounded by `--val-max-chars`.

#[path = "common/bin.rs"]
mod bin;
mod common;
#[path = "common/http.rs"]
mod http;
#[path = "common/served.rs"]
mod served;

use std::path::Path;
use std::process::Output;

use bin::{assert_ok, assert_refused, stderr, stdout};

const UNKNOWN: char = '\u{FFFD}';

fn run(args: &[&str]) -> Output {
    bin::run(args)
}

/// A quiet small LSTM run on `data` into `dir`; `extra` flags last.
fn train(data: &Path, dir: &Path, extra: &[&str]) -> Output {
    let (d, o) = (data.display().to_string(), dir.display().to_string());
    let mut args = vec![
        "--data",
        &d,
        "--out-dir",
        &o,
        "--model",
        "lstm",
        "--hidden-size",
        "8",
        "--batch-size",
        "2",
        "--seq-length",
        "8",
        "--optimizer",
        "adam",
        "--learning-rate",
        "0.01",
        "--print-every",
        "0",
        "--sample-every",
        "0",
        "--threads",
        "1",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// The vocabulary a run's weights file records.
fn vocab_of(weights: &Path) -> String {
    let bytes = std::fs::read(weights).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    meta.metadata().as_ref().unwrap()["vocab"].clone()
}

/// 1,970 chars of "ab cd" text with `ž` 3 times and `ŋ`, `ø` once each in
/// the training part, and `q` only in the last 10% (held out).
fn rare_text(dir: &Path) -> std::path::PathBuf {
    let mut text = "abba cd dcab\n".repeat(136); // 1,768 chars
    text.insert_str(100, "žžž");
    text.insert(900, 'ŋ');
    text.insert(1500, 'ø');
    text.push_str(&"q".repeat(1970 - text.chars().count())); // 197 = 10% of 1,970
    let path = dir.join("rare.txt");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn rare_chars_fold_into_one_symbol_that_sampling_eval_and_resume_read() {
    let tmp = tempfile::tempdir().unwrap();
    let data = rare_text(tmp.path());
    let dir = tmp.path().join("run");
    let o = train(
        &data,
        &dir,
        &[
            "--vocab-min-count",
            "3",
            "--val-fraction",
            "0.1",
            "--iterations",
            "20",
            "--eval-every",
            "10",
        ],
    );
    assert_ok(&o, "training with --vocab-min-count 3");
    // ŋ, ø (once each) and q (held out only) fold; ž (3 times) stays.
    let err = stderr(&o);
    assert!(
        err.contains("vocab_min_count 3: 3 distinct chars folded into \u{FFFD} (199 occurrences, 10.102% of the text); vocabulary 8"),
        "{err}"
    );
    let want =
        format!(r#"{{"chars":["\n"," ","a","b","c","d","ž","{UNKNOWN}"],"unknown":"{UNKNOWN}"}}"#);
    assert_eq!(vocab_of(&dir.join("weights.safetensors")), want);

    // Sampling primes with chars the model never saw; eval reads them as U+FFFD.
    let d = dir.display().to_string();
    let o = run(&[
        "sample",
        "--checkpoint",
        &d,
        "--prime",
        "zebra ŋ",
        "--length",
        "30",
    ]);
    assert_ok(&o, "sampling a folded model with unseen chars in the prime");
    assert!(stdout(&o).starts_with("zebra ŋ"), "{}", stdout(&o));
    let other = tmp.path().join("other.txt");
    std::fs::write(&other, "abba xyz dcab\n").unwrap();
    let o = run(&[
        "eval",
        "--checkpoint",
        &d,
        "--data",
        &other.display().to_string(),
    ]);
    assert_ok(&o, "eval of a folded model");
    assert!(
        stdout(&o).contains("(3 chars outside the vocabulary read as \u{FFFD}"),
        "{}",
        stdout(&o)
    );

    // The server scores and primes with unseen chars too.
    let server = served::Served::start(&dir, &[]);
    let (code, scored) = server.post(
        "/api/score",
        &serde_json::json!({"model": "run", "text": "abba xyz"}).to_string(),
    );
    assert_eq!(code, 200, "{scored}");
    let chars = scored["chars"].as_array().unwrap();
    assert_eq!(chars.len(), 8);
    assert_eq!(chars[5]["char"], UNKNOWN.to_string(), "{scored}");
    let (code, sampled) = server.post(
        "/api/sample",
        &serde_json::json!({"model": "run", "prime": "xyz", "length": 5}).to_string(),
    );
    assert_eq!(code, 200, "{sampled}");
    drop(server);

    // Resume reads the text the same way, and refuses another min count.
    let o = run(&[
        "--resume",
        &d,
        "--iterations",
        "30",
        "--print-every",
        "0",
        "--sample-every",
        "0",
    ]);
    assert_ok(&o, "resuming a folded run");
    let o = run(&[
        "--resume",
        &d,
        "--iterations",
        "40",
        "--vocab-min-count",
        "2",
    ]);
    assert_refused(&o, &["--vocab-min-count 2", "the checkpoint has 3"]);
    // A model without folding still refuses chars it does not know.
    let plain = tmp.path().join("plain");
    assert_ok(&train(&data, &plain, &["--iterations", "5"]), "a plain run");
    let p = plain.display().to_string();
    let o = run(&["sample", "--checkpoint", &p, "--prime", "zebra"]);
    assert_refused(&o, &["not in the model's vocabulary", "'z'"]);
    // Bytes have nothing to fold.
    let o = train(
        &data,
        &tmp.path().join("b"),
        &["--vocab", "bytes", "--vocab-min-count", "2"],
    );
    assert_refused(&o, &["vocab_min_count", "chars only"]);
}

#[test]
fn a_text_of_very_many_distinct_chars_names_the_key_that_folds_them() {
    let tmp = tempfile::tempdir().unwrap();
    // 1,200 distinct CJK chars once each, in a sea of ASCII.
    let mut text = "the cat sat on the mat. ".repeat(400);
    text.extend((0x4E00u32..0x4E00 + 1200).filter_map(char::from_u32));
    let data = tmp.path().join("many.txt");
    std::fs::write(&data, &text).unwrap();
    let o = train(&data, &tmp.path().join("r"), &["--iterations", "2"]);
    assert_ok(&o, "training on 1,200+ distinct chars");
    let err = stderr(&o);
    let line = err
        .lines()
        .find(|l| l.contains("distinct chars"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains("1211 distinct chars, 1200 of them occurring fewer than 100 times"),
        "{line}"
    );
    assert!(line.contains("--vocab-min-count"), "{line}");
    // Folded, the hint gives way to what was folded.
    let o = train(
        &data,
        &tmp.path().join("f"),
        &["--iterations", "2", "--vocab-min-count", "5"],
    );
    assert_ok(&o, "training with the hint's key");
    assert!(
        stderr(&o).contains("1200 distinct chars folded"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn evaluations_read_at_most_val_max_chars_and_say_how_many() {
    let tmp = tempfile::tempdir().unwrap();
    let data = bin::root().join("tests/fixtures/min-char-rnn/input.txt"); // 500 chars
    let dir = tmp.path().join("run");
    let o = train(
        &data,
        &dir,
        &[
            "--val-fraction",
            "0.5",
            "--val-max-chars",
            "100",
            "--iterations",
            "20",
            "--eval-every",
            "10",
        ],
    );
    assert_ok(&o, "training with --val-max-chars 100");
    let out = stdout(&o);
    assert!(
        out.contains(
            "each evaluation reads the validation split's first 100 of 250 chars (val_max_chars)"
        ),
        "{out}"
    );
    // Two segments of 50 chars: each predicts its 49 after the first.
    assert!(out.contains("(") && out.contains("on 98 chars"), "{out}");
    let rows = common::csv_rows(&dir.join("eval.csv"));
    let header = std::fs::read_to_string(dir.join("eval.csv")).unwrap();
    assert!(
        header.starts_with("iter,train_loss,val_loss,val_chars\n"),
        "{header}"
    );
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r[3] == 98.0), "{rows:?}");
    // 0 reads the whole split: 2 × (125 − 1).
    let o = train(
        &data,
        &tmp.path().join("all"),
        &[
            "--val-fraction",
            "0.5",
            "--val-max-chars",
            "0",
            "--iterations",
            "10",
            "--eval-every",
            "10",
        ],
    );
    assert_ok(&o, "training with --val-max-chars 0");
    assert!(stdout(&o).contains("on 248 chars"), "{}", stdout(&o));
    let o = train(
        &data,
        &tmp.path().join("x"),
        &["--val-fraction", "0.5", "--val-max-chars", "5"],
    );
    assert_refused(&o, &["val_max_chars", "needs at least 20 chars"]);
}
