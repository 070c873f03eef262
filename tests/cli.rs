//! The `charrnn` binary as a user runs it: every refusal (one line, exit 1, no
//! panic, nothing written), exact resume, kill -9 and Ctrl-C, a crash in the
//! middle of writing a checkpoint, divergence, sampling and the gradient check.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "common/bin.rs"]
mod bin;
mod common;

use bin::{BIN, assert_refused, root, stderr};

fn tiny() -> String {
    root().join("configs/tiny.toml").display().to_string()
}

fn fixture(name: &str) -> String {
    bin::fixture(name).display().to_string()
}

fn train(args: &[&str]) -> Output {
    bin::run(args)
}

/// A quiet run into `dir` on the fixture text; `extra` flags win.
fn quick_command(dir: &Path, extra: &[&str]) -> Command {
    let (cfg, data, out) = (tiny(), fixture("input.txt"), dir.display().to_string());
    let defaults = [
        ("--config", cfg.as_str()),
        ("--data", data.as_str()),
        ("--out-dir", out.as_str()),
        ("--print-every", "0"),
        ("--sample-every", "0"),
    ];
    let mut args: Vec<&str> = extra.to_vec();
    for (flag, value) in defaults {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    cmd
}

fn quick(dir: &Path, extra: &[&str]) -> Output {
    quick_command(dir, extra).output().expect("binary runs")
}

/// Waits (up to a minute) for a running training to have written `path`.
fn wait_for(path: &Path) {
    let start = std::time::Instant::now();
    while !path.exists() && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Every file in `dir` with its bytes, to show a failed run changed nothing.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn bad_inputs_are_refused_and_leave_the_run_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let run = t.join("run");
    assert!(
        quick(&run, &["--iterations", "20", "--checkpoint-every", "10"])
            .status
            .success()
    );
    let before = snapshot(&run);
    let w = |name: &str, bytes: &[u8]| {
        let p = t.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    };
    let empty = w("empty.txt", b"");
    let short = w("short.txt", b"abc");
    let bad_utf8 = w("bad.txt", b"ab\xffcd");
    let unknown_key = w("unk.toml", b"hiden_size = 3\n");
    let not_toml = w("nt.toml", b"x = = 1\n");
    let neg_lr = w("neg.toml", b"learning_rate = -1.0\n");
    let junk = w("junk.safetensors", b"not safetensors at all");
    let other_text = w("other.txt", "abcd".repeat(20).as_bytes());
    let run_s = run.display().to_string();
    let cfg = tiny();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--data", "/no/such.txt"],
            vec!["/no/such.txt", "cannot read"],
        ),
        (vec!["--data", &empty], vec!["empty.txt", "empty"]),
        (
            vec!["--data", &short],
            vec!["short.txt", "3 characters", "27"],
        ),
        (
            vec!["--data", &bad_utf8],
            vec!["bad.txt", "UTF-8", "offset 2"],
        ),
        (
            vec!["--config", "no-such.toml"],
            vec!["no-such.toml", "not found"],
        ),
        (
            vec!["--config", &unknown_key],
            vec!["unknown key `hiden_size`", "did you mean `hidden_size`"],
        ),
        (
            vec!["--config", &not_toml],
            vec!["nt.toml", "not a valid config"],
        ),
        (vec!["--config", &neg_lr], vec!["learning_rate", "-1"]),
        (vec!["--hidden-size", "0"], vec!["hidden_size"]),
        (vec!["--seq-length", "0"], vec!["seq_length"]),
        (vec!["--learning-rate", "inf"], vec!["learning_rate", "inf"]),
        (vec!["--clip", "0"], vec!["clip"]),
        (vec!["--clip", "-2"], vec!["clip"]),
        (vec!["--batch-size", "0"], vec!["batch_size"]),
        (vec!["--threads", "0"], vec!["threads", "at least 1"]),
        (
            vec!["--threads", "100000"],
            vec!["threads", "100000", "at most 1024"],
        ),
        (vec!["--seq-length", "-3"], vec!["-3", "--seq-length"]),
        (vec!["--iterations", "many"], vec!["many", "--iterations"]),
        (vec!["--no-such-flag"], vec!["--no-such-flag"]),
        (vec!["--batch-size", "100000"], vec!["100000 stream(s)"]),
        (vec!["--precision", "f16"], vec!["--precision", "f16"]),
        (
            vec!["--backend", "nope"],
            vec!["unknown backend `nope`", "flex"],
        ),
        (vec!["--backend", "cuda"], vec!["cuda", "wgpu"]),
        (
            vec!["--init-weights", "/no/w.safetensors"],
            vec!["/no/w.safetensors"],
        ),
        (
            vec!["--init-weights", &junk],
            vec!["junk.safetensors", "not a safetensors file"],
        ),
        (
            vec!["--resume", "/no/run"],
            vec!["/no/run", "no checkpoint"],
        ),
        (
            vec!["--resume", &run_s, "--hidden-size", "50"],
            vec!["--hidden-size 50", "100"],
        ),
        (
            vec!["--resume", &run_s, "--precision", "f64"],
            vec!["--precision f64", "f32"],
        ),
        (
            vec!["--resume", &run_s, "--data", &other_text],
            vec!["vocabulary", "45 chars", "4 chars"],
        ),
    ];
    for (args, words) in &cases {
        let mut all = args.to_vec();
        if !args.contains(&"--resume") {
            all.extend(["--out-dir", run_s.as_str(), "--force"]);
            if !args.contains(&"--config") {
                all.extend(["--config", cfg.as_str()]);
            }
        }
        let o = train(&all);
        println!("{args:?} -> {}", stderr(&o).trim());
        assert_refused(&o, words);
        assert_eq!(snapshot(&run), before, "{args:?} changed the run directory");
    }
}

#[test]
fn init_weights_of_another_vocabulary_and_shape_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    // The fixture's weights (45 chars) against tinyshakespeare (65 chars).
    let o = train(&[
        "--config",
        &tiny(),
        "--init-weights",
        &fixture("init.safetensors"),
        "--out-dir",
        &tmp.path().join("r").display().to_string(),
    ]);
    assert_refused(&o, &["vocabulary", "45", "65"]);
    let o = quick(
        &tmp.path().join("r"),
        &[
            "--init-weights",
            &fixture("init.safetensors"),
            "--hidden-size",
            "64",
        ],
    );
    assert_refused(&o, &["hidden size 100", "64"]);
    assert!(!tmp.path().join("r").exists(), "nothing written");
}

#[test]
fn a_second_fresh_run_does_not_overwrite_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    assert!(quick(&run, &["--iterations", "10"]).status.success());
    let before = snapshot(&run);
    let o = quick(&run, &["--iterations", "10"]);
    assert_refused(&o, &["already holds a run", "--resume", "--force"]);
    assert_eq!(snapshot(&run), before);
    assert!(
        quick(&run, &["--iterations", "10", "--force"])
            .status
            .success()
    );
}

/// 200 straight vs 100 + resume to 200: byte-identical metrics and weights,
/// in f32 and f64, on each CPU backend.
#[test]
fn resume_is_exact() {
    for backend in ["flex", "ndarray"] {
        for precision in ["f32", "f64"] {
            let tmp = tempfile::tempdir().unwrap();
            let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
            let common = [
                "--backend",
                backend,
                "--precision",
                precision,
                "--sample-every",
                "50",
            ];
            let run = |dir: &Path, iters: &str| {
                let mut args = vec!["--iterations", iters];
                args.extend_from_slice(&common);
                quick(dir, &args)
            };
            assert!(run(&a, "200").status.success());
            assert!(run(&b, "100").status.success());
            let o = bin::resume_to(&b, "200");
            assert!(o.status.success(), "{}", stderr(&o));
            let what = format!("{backend} {precision}");
            bin::assert_same_files(&a, &b, &["metrics.csv", "weights.safetensors"], &what);
            println!("{backend} {precision}: straight and resumed runs are byte-identical");
        }
    }
}

/// `--resume run --iterations n`, which must succeed.
fn resume(run: &Path, iterations: &str) -> Output {
    let o = train(&[
        "--resume",
        &run.display().to_string(),
        "--iterations",
        iterations,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

fn metric_iters(dir: &Path) -> Vec<u64> {
    common::csv_column(&dir.join("metrics.csv"), 0)
        .into_iter()
        .map(|i| i as u64)
        .collect()
}

#[test]
fn kill_9_then_resume_keeps_each_iteration_once() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut child = quick_command(&run, &["--iterations", "0", "--checkpoint-every", "100"])
        .spawn()
        .unwrap();
    let ck = run.join("checkpoint.safetensors");
    wait_for(&ck);
    std::thread::sleep(std::time::Duration::from_millis(150)); // rows past the checkpoint
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    resume(&run, "1000");
    assert_eq!(metric_iters(&run), (0..1000).collect::<Vec<_>>());
    assert_matches_straight_run(&run, "1000", "metrics.csv");
}

/// `file` in `run` equals the same file of an uninterrupted run of `iterations`.
fn assert_matches_straight_run(run: &Path, iterations: &str, file: &str) {
    let straight = run.with_file_name("straight");
    assert!(
        quick(&straight, &["--iterations", iterations])
            .status
            .success()
    );
    let (a, b) = (
        std::fs::read(run.join(file)).unwrap(),
        std::fs::read(straight.join(file)).unwrap(),
    );
    assert!(
        a == b,
        "{file} of the resumed run differs from the straight run's"
    );
}

#[test]
fn ctrl_c_saves_and_exits_130() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let child = quick_command(&run, &["--iterations", "0", "--checkpoint-every", "0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&run.join("metrics.csv"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    bin::interrupt(child.id());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let iters = metric_iters(&run);
    assert!(!iters.is_empty());
    resume(&run, (iters.len() + 5).to_string().as_str());
    assert_eq!(
        metric_iters(&run),
        (0..iters.len() as u64 + 5).collect::<Vec<_>>()
    );
}

#[test]
fn a_crash_while_writing_a_checkpoint_keeps_the_previous_one() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let o = quick_command(&run, &["--iterations", "100", "--checkpoint-every", "20"])
        .env("CHARRNN_FAULT", "checkpoint.safetensors:3") // abort between write and rename of the 3rd
        .output()
        .unwrap();
    assert!(!o.status.success(), "the fault hook aborted the run");
    assert!(
        run.join("checkpoint.safetensors.tmp").exists(),
        "the torn write is left behind"
    );
    // The previous checkpoint (iteration 40) still loads, and the leftover is ignored.
    let o = resume(&run, "100");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("resumed")
            && String::from_utf8_lossy(&o.stdout).contains("iteration 40")
    );
    assert_matches_straight_run(&run, "100", "weights.safetensors");
}

#[test]
fn divergence_stops_with_the_iteration_and_keeps_the_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let o = quick(
        &run,
        &[
            "--iterations",
            "50",
            "--learning-rate",
            "1e37",
            "--checkpoint-every",
            "1",
        ],
    );
    assert_refused(&o, &["diverged at iteration 1", "last good checkpoint"]);
    let o = bin::sample(&run, &["--length", "5"]);
    assert!(
        o.status.success(),
        "the kept checkpoint loads: {}",
        stderr(&o)
    );
}

#[test]
fn sampling_repeats_with_a_seed_and_refuses_bad_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    assert!(quick(&run, &["--iterations", "50"]).status.success());
    let dir = run.display().to_string();
    let s = |extra: &[&str]| {
        let mut args = vec!["sample", "--checkpoint", dir.as_str()];
        args.extend_from_slice(extra);
        train(&args)
    };
    let a = s(&["--seed", "7", "--length", "300", "--prime", "First"]);
    let b = s(&["--seed", "7", "--length", "300", "--prime", "First"]);
    let c = s(&["--seed", "8", "--length", "300", "--prime", "First"]);
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout, "same seed, same text");
    assert_ne!(a.stdout, c.stdout, "another seed, another text");
    let text = String::from_utf8(a.stdout).unwrap();
    // The program ends the sample with one newline; the sample itself may end in newlines too.
    let sampled = text.strip_suffix('\n').unwrap_or(&text);
    assert!(text.starts_with("First") && sampled.chars().count() == 305);
    // A weights file works as well as a run directory, and temperature 0 is deterministic.
    let w = run.join("weights.safetensors").display().to_string();
    let greedy = |seed: &str| {
        train(&[
            "sample",
            "--checkpoint",
            &w,
            "--temperature",
            "0",
            "--seed",
            seed,
        ])
    };
    let (g1, g2) = (greedy("1"), greedy("2"));
    assert!(g1.status.success() && g1.stdout == g2.stdout);
    assert_refused(&s(&["--length", "0"]), &["--length", "0"]);
    assert_refused(&s(&["--length", "-3"]), &["--length", "-3"]);
    assert_refused(&s(&["--prime", "Hi€✓"]), &["'€'", "'✓'"]);
    assert_refused(&s(&["--temperature", "-1"]), &["--temperature"]);
    assert_refused(&train(&["sample", "--checkpoint", "/no/run"]), &["/no/run"]);
    assert_refused(&train(&["sample"]), &["required", "--checkpoint"]);
    let junk = tmp.path().join("junk.safetensors");
    std::fs::write(&junk, b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":").unwrap();
    assert_refused(
        &train(&["sample", "--checkpoint", &junk.display().to_string()]),
        &["junk.safetensors"],
    );
    // A truncated checkpoint is refused by both resume and sample.
    let ck = run.join("checkpoint.safetensors");
    let bytes = std::fs::read(&ck).unwrap();
    std::fs::write(&ck, &bytes[..bytes.len() / 2]).unwrap();
    assert_refused(
        &train(&["--resume", &dir]),
        &["checkpoint", "truncated or corrupt"],
    );
    assert_refused(&s(&[]), &["truncated or corrupt"]);
}

#[test]
fn gradcheck_command_passes_and_prints_every_parameter() {
    let o = train(&[
        "gradcheck",
        "--config",
        &tiny(),
        "--data",
        &fixture("input.txt"),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    println!("{out}");
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    for p in ["Wxh", "Whh", "Why", "bh ", "by "] {
        assert!(
            out.lines().any(|l| l.starts_with(p) && l.ends_with("OK")),
            "row for {p}"
        );
    }
}

/// A backend that exists but is not compiled in names the feature to enable.
#[cfg(not(feature = "wgpu"))]
#[test]
fn a_backend_not_compiled_in_names_its_feature() {
    let tmp = tempfile::tempdir().unwrap();
    let o = quick(&tmp.path().join("r"), &["--backend", "wgpu"]);
    assert_refused(&o, &["`wgpu` is not compiled in", "--features wgpu"]);
}

#[test]
fn help_lists_the_compiled_backends() {
    let o = train(&["--help"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("Backends compiled in: flex, ndarray"));
}

/// Sizes that cannot fit are refused from the configuration, in one line
/// giving the estimate and what is available, within a second.
#[test]
fn sizes_that_cannot_fit_are_refused_before_allocating() {
    let tmp = tempfile::tempdir().unwrap();
    for (flag, value) in [
        ("--hidden-size", "100000000"),
        ("--hidden-size", "4000000000"),
        ("--layers", "1000000000"),
    ] {
        let start = std::time::Instant::now();
        let o = quick(&tmp.path().join("r"), &["--model", "lstm", flag, value]);
        let secs = start.elapsed().as_secs_f64();
        println!("{flag} {value}: {secs:.2} s: {}", stderr(&o).trim());
        assert_refused(&o, &["needs about", "is available"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(secs < 1.0, "took {secs} s");
        assert!(!tmp.path().join("r").exists());
    }
    let o = train(&["bench", "--config", &tiny(), "--hidden-size", "100000000"]);
    assert_refused(&o, &["needs about"]);
}

/// Every flag has a one-line description with its default, and each
/// subcommand takes only the flags it uses.
#[test]
fn help_describes_every_flag_and_subcommands_take_only_theirs() {
    let help = |args: &[&str]| String::from_utf8(train(args).stdout).unwrap();
    for args in [
        vec!["--help"],
        vec!["bench", "--help"],
        vec!["gradcheck", "--help"],
        vec!["sample", "--help"],
    ] {
        let text = help(&args);
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let flag = line.trim_start();
            if !(flag.starts_with("--") || flag.starts_with("-h")) {
                continue;
            }
            // clap puts the description beside the flag or on the next line.
            let beside = flag.split_once("  ").map(|(_, d)| d.trim().to_string());
            let below = lines.get(i + 1).map(|l| l.trim().to_string());
            let described = beside
                .filter(|d| !d.is_empty())
                .or(below.filter(|d| !d.is_empty() && !d.starts_with('-')));
            let d = described.unwrap_or_else(|| panic!("{args:?}: no description: {line}"));
            let no_default = [
                "--help",
                "--version",
                "--force",
                "--resume",
                "--checkpoint <",
            ];
            if !no_default
                .iter()
                .any(|f| flag.starts_with(f) || flag.starts_with("-h"))
            {
                assert!(d.contains("default"), "{args:?}: no default: {line} {d}");
            }
        }
    }
    let bench = help(&["bench", "--help"]);
    for unused in [
        "--out-dir",
        "--resume",
        "--force",
        "--checkpoint-every",
        "--sample-every",
    ] {
        assert!(!bench.contains(unused), "bench offers {unused}");
    }
    let gradcheck = help(&["gradcheck", "--help"]);
    for unused in [
        "--learning-rate",
        "--optimizer",
        "--iterations",
        "--out-dir",
    ] {
        assert!(!gradcheck.contains(unused), "gradcheck offers {unused}");
    }
    let o = train(&["bench", "--out-dir", "x"]);
    assert_refused(&o, &["--out-dir"]);
}

/// `charrnn --version`: the version and the backends compiled in, one line.
#[test]
fn version_names_the_backends() {
    let o = train(&["--version"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    let want = format!(
        "charrnn {} (backends: flex, ndarray{})\n",
        env!("CARGO_PKG_VERSION"),
        if cfg!(feature = "wgpu") { ", wgpu" } else { "" }
    );
    assert_eq!(out, want);
}

/// From a directory with no configs/ and no data/ (as after `cargo install`):
/// every file of configs/ is found among the configs compiled in, the corpus
/// falls back to the copy compiled in (written once to the cache directory,
/// byte for byte the repository's), the run records that copy, and resumes.
#[test]
fn bundled_configs_and_corpus_work_from_any_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let (cwd, cache) = (tmp.path().join("elsewhere"), tmp.path().join("cache"));
    std::fs::create_dir_all(&cwd).unwrap();
    std::fs::create_dir_all(tmp.path().join("empty")).unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .current_dir(&cwd)
            .env("XDG_CACHE_HOME", &cache)
            .output()
            .expect("binary runs")
    };
    let small = [
        "--hidden-size",
        "8",
        "--layers",
        "1",
        "--batch-size",
        "2",
        "--threads",
        "1",
    ];
    let mut names: Vec<String> = std::fs::read_dir(root().join("configs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 5, "{names:?}");
    let shakespeare = root()
        .join("data/tinyshakespeare.txt")
        .display()
        .to_string();
    for name in &names {
        let mut args = vec!["bench", "--config", name.as_str(), "--iterations", "21"];
        args.extend(small);
        // A config of another corpus (rust-30min.toml) gets a text to read.
        let on_disk = std::fs::read_to_string(root().join("configs").join(name)).unwrap();
        let bundled_corpus = on_disk.contains("tinyshakespeare.txt");
        if !bundled_corpus {
            args.extend(["--data", shakespeare.as_str()]);
        }
        let o = run(&args);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert_eq!(
            stderr(&o).contains("using the tinyshakespeare compiled into charrnn"),
            bundled_corpus,
            "{name}: {}",
            stderr(&o)
        );
    }
    let copy = cache.join("charrnn/tinyshakespeare.txt");
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        std::fs::read(root().join("data/tinyshakespeare.txt")).unwrap()
    );

    let o = run(&[
        "--config",
        "tiny.toml",
        "--iterations",
        "30",
        "--sample-every",
        "0",
        "--print-every",
        "0",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let config = std::fs::read_to_string(cwd.join("runs/tiny/config.toml")).unwrap();
    assert!(
        config.contains(&format!("data = \"{}\"", copy.display())),
        "{config}"
    );
    let o = run(&["--resume", "runs/tiny", "--iterations", "40"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = std::fs::read_to_string(cwd.join("runs/tiny/metrics.csv")).unwrap();
    assert_eq!(rows.lines().count(), 41, "a header and 40 iterations");

    // `charrnn serve` with nothing to serve yet: runs/ is served as runs appear.
    let mut server = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .current_dir(tmp.path().join("empty"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        line.starts_with("listening on http://127.0.0.1:"),
        "{line:?}"
    );
    assert!(tmp.path().join("empty/runs").is_dir());

    // A config file in ./configs/ wins over the one compiled in.
    std::fs::create_dir_all(cwd.join("configs")).unwrap();
    std::fs::write(cwd.join("configs/tiny.toml"), "hidden_size = 0\n").unwrap();
    let o = run(&["--config", "tiny.toml"]);
    assert_refused(&o, &["hidden_size"]);
    let o = run(&["--config", "nope.toml"]);
    assert_refused(&o, &["config nope.toml not found", "tiny.toml, lstm.toml"]);
}
