//! `train`: sets up a run (fresh or resumed), drives the library's trainer
//! step by step, and owns everything a person sees or keeps: the original's
//! `iter n, loss: x` lines and samples, the progress bar, metrics.csv,
//! checkpoints, weights.safetensors, and Ctrl-C handling.

use std::io::{IsTerminal, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::module::Module;
use charrnn::checkpoint::{self, Checkpoint};
use charrnn::config::TrainConfig;
use charrnn::data::{Streams, Text};
use charrnn::eval::EvalProgress;
use charrnn::fsutil::write_atomic;
use charrnn::memory::{self, Estimate};
use charrnn::models::{Network, State};
use charrnn::train::{Progress, Trainer};
use indicatif::{ProgressBar, ProgressStyle};

use crate::backend;
use crate::cli::TrainArgs;
use crate::settings;

/// Exit status after an interrupted run that saved its checkpoint.
pub const INTERRUPTED: i32 = 130;

/// A run ready to go: everything validated, nothing written yet.
pub struct Setup {
    pub config: TrainConfig,
    pub text: Text,
    /// The validation split's char range (the last `val_fraction` of the text).
    pub val: Option<Range<usize>>,
    pub eval: EvalProgress,
    pub trainer: Trainer,
    pub resumed_from: Option<u64>,
}

/// Builds the trainer from flags (and a checkpoint when resuming).
pub fn setup(args: &TrainArgs) -> Result<Setup> {
    let (config, saved) = match &args.resume {
        Some(dir) => {
            let ck = Checkpoint::load(dir)?;
            settings::refuse_conflicts(&ck.config, args)?;
            let mut config = ck.config.clone();
            settings::apply_flags(&mut config, args)?;
            config.validate()?;
            (config, Some(ck))
        }
        None => (settings::resolve(args)?, None),
    };
    let text_bytes = std::fs::metadata(&config.data).map_or(0, |m| m.len()) as f64;
    memory::check(
        &format!("reading {}", config.data.display()),
        &Estimate {
            text: 5.0 * text_bytes,
            parameters: 0.0,
            activations: 0.0,
        },
    )?;
    let text = Text::load(&config.data)?;
    let val_chars = config.val_chars(text.len());
    let train_chars = text.len() - val_chars;
    let needed = config.batch_size * (config.seq_length + 2);
    if config.val_fraction > 0.0 && (val_chars < needed || train_chars < needed) {
        bail!(
            "invalid value for val_fraction: {} leaves {train_chars} chars for training and {val_chars} for validation of {}'s {}; each side needs {needed} (seq_length + 2 per stream for {} stream(s))",
            config.val_fraction,
            config.data.display(),
            text.len(),
            config.batch_size
        );
    }
    // The streams walk the training part only; the ids stay shared, uncopied.
    let streams = Streams::new(
        train_chars,
        config.seq_length,
        config.batch_size,
        &config.data,
    )?;
    let val = (val_chars > 0).then(|| train_chars..text.len());
    let spec = config.spec(text.vocab.len());
    memory::check(
        &format!(
            "{} at B {} T {}",
            spec.describe(),
            config.batch_size,
            config.seq_length
        ),
        &Estimate::training(
            &spec,
            config.optimizer,
            config.precision,
            config.seq_length,
            config.batch_size,
            text.len() as f64,
            text_bytes,
        ),
    )?;
    backend::use_threads(config.threads)?;
    let device = &backend::device(&config.backend, config.precision)?.autodiff();
    let model = match (&saved, &config.init_weights) {
        (Some(ck), _) => {
            if ck.vocab != text.vocab {
                bail!(
                    "cannot resume: the checkpoint's vocabulary ({} chars) differs from {}'s ({} chars)",
                    ck.vocab.len(),
                    config.data.display(),
                    text.vocab.len()
                );
            }
            Network::load(&spec, &ck.weights, device)
                .map_err(|m| anyhow::anyhow!("checkpoint: {m}"))?
        }
        (None, Some(path)) => {
            let (w, vocab) = charrnn::weights::load_named(path)?;
            if vocab != text.vocab {
                bail!(
                    "{}: its vocabulary ({} chars) is not {}'s ({} chars)",
                    path.display(),
                    vocab.len(),
                    config.data.display(),
                    text.vocab.len()
                );
            }
            Network::load(&spec, &w.cast(config.precision), device)
                .map_err(|m| anyhow::anyhow!("{}: {m}", path.display()))?
        }
        (None, None) => Network::init(&spec, config.seed, config.precision, device),
    };
    let ids = text.ids.clone(); // an Arc: the text is not copied
    let optimizer = config.optimizer_settings();
    let mut trainer = Trainer::with_options(
        model,
        &optimizer,
        config.dropout,
        ids,
        streams,
        config.learning_rate,
        config.seed,
        device,
    );
    let resumed_from = saved.as_ref().map(|ck| ck.iter);
    let eval = saved.as_ref().map(|ck| ck.eval.clone()).unwrap_or_default();
    if let Some(ck) = saved {
        let optim = optimizer
            .restore(ck.optimizer_bytes(), trainer.model())
            .map_err(|e| anyhow::anyhow!("checkpoint: {e}"))?;
        trainer.restore(
            optim,
            Progress {
                iter: ck.iter,
                p: ck.p,
                smooth_loss: ck.smooth_loss,
                state: State::from_data(&ck.state, device),
                rng: ck.rng.clone(),
                dropout: ck.dropout(),
            },
        );
    }
    Ok(Setup {
        config,
        text,
        trainer,
        resumed_from,
        val,
        eval,
    })
}

/// The run's output directory: --resume's, --out-dir, or runs/<config name>.
fn out_dir(args: &TrainArgs) -> PathBuf {
    if let Some(dir) = &args.resume {
        return if dir.is_file() {
            dir.parent().unwrap_or(Path::new(".")).to_path_buf()
        } else {
            dir.clone()
        };
    }
    args.out_dir
        .clone()
        .unwrap_or_else(|| Path::new("runs").join(settings::config_name(args)))
}

pub fn train(args: &TrainArgs) -> Result<i32> {
    let mut s = setup(args)?;
    let dir = out_dir(args);
    let existing = dir.join(checkpoint::FILE_NAME);
    if args.resume.is_none() && existing.exists() && !args.force {
        bail!(
            "{} already holds a run; continue it with --resume {}, start over with --force, or pick another --out-dir",
            dir.display(),
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_atomic(&dir.join("config.toml"), s.config.to_toml().as_bytes())?;
    let mut metrics = Metrics::open(&dir.join("metrics.csv"), HEADER, s.resumed_from)?;
    let mut evals = match s.val {
        Some(_) => Some(Metrics::open(
            &dir.join("eval.csv"),
            EVAL_HEADER,
            s.resumed_from.map(|n| n + 1),
        )?),
        None => None,
    };

    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot install the Ctrl-C handler")?;

    let c = s.config.clone();
    let chars_per_iter = (c.seq_length * c.batch_size) as f64;
    println!(
        "data has {} characters, {} unique. {}{}, backend {}, {}, H {}, T {}, B {}, {} lr {}",
        s.text.len(),
        s.text.vocab.len(),
        s.trainer.model().spec().describe(),
        if c.dropout > 0.0 {
            format!(", dropout {}", c.dropout)
        } else {
            String::new()
        },
        c.backend,
        c.precision,
        c.hidden_size,
        c.seq_length,
        c.batch_size,
        c.optimizer,
        c.learning_rate
    );
    if let Some(n) = s.resumed_from {
        println!("resumed {} at iteration {n}", dir.display());
    }
    let bar = progress_bar(c.iterations, s.trainer.progress.iter);
    let say = |line: &str| match &bar {
        Some(b) => b.println(line),
        None => println!("{line}"),
    };
    let started = Instant::now();
    let first_iter = s.trainer.progress.iter;
    let every = |n: u64, k: u64| k > 0 && n.is_multiple_of(k);
    loop {
        let n = s.trainer.progress.iter;
        if c.iterations > 0 && n >= c.iterations {
            break;
        }
        let sample_len = every(n, c.sample_every).then_some(c.sample_length);
        let step = match s.trainer.step(sample_len) {
            Ok(step) => step,
            Err(e) => {
                metrics.flush()?;
                if let Some(b) = &bar {
                    b.abandon();
                }
                bail!(
                    "{e}; stopped, the last good checkpoint in {} is kept",
                    dir.display()
                );
            }
        };
        if let Some(ids) = &step.sample {
            let txt: String = ids.iter().map(|&i| s.text.vocab.char(i)).collect();
            say(&format!("----\n {txt} \n----"));
        }
        if every(step.iter, c.print_every) {
            say(&format!(
                "iter {}, loss: {:.6}",
                step.iter, step.smooth_loss
            ));
        }
        metrics.row(step.iter, step.loss, step.smooth_loss)?;
        let done = step.iter + 1;
        if let Some(evals) = &mut evals {
            s.eval.train_sum += step.loss / c.seq_length as f64;
            s.eval.train_count += 1;
            let last = c.iterations > 0 && done == c.iterations;
            if every(done, c.eval_every) || last {
                validate(&mut s, &dir, done, evals, &mut metrics, &say)?;
            }
        }
        if let Some(b) = &bar {
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            let rate = (done - first_iter) as f64 / secs;
            b.set_position(done);
            b.set_message(format!(
                "{rate:.0} it/s, {:.0} chars/s, smooth loss {:.3}",
                rate * chars_per_iter,
                step.smooth_loss
            ));
        }
        let stop = interrupted.load(Ordering::SeqCst);
        if every(done, c.checkpoint_every) || stop {
            save(&s, &dir, &mut metrics)?;
            if let Some(e) = &mut evals {
                e.flush()?;
            }
        }
        if stop {
            if let Some(b) = &bar {
                b.abandon();
            }
            eprintln!(
                "interrupted at iteration {done}; checkpoint saved in {}",
                dir.display()
            );
            return Ok(INTERRUPTED);
        }
    }
    save(&s, &dir, &mut metrics)?;
    if let Some(b) = &bar {
        b.finish();
    }
    let secs = started.elapsed().as_secs_f64();
    let iters = s.trainer.progress.iter - first_iter;
    println!(
        "done: {} iterations, smooth loss {:.6}, {:.3} ms/iter; weights in {}",
        s.trainer.progress.iter,
        s.trainer.progress.smooth_loss,
        1e3 * secs / iters.max(1) as f64,
        dir.join("weights.safetensors").display()
    );
    Ok(0)
}

/// Evaluates on the validation split after iteration `done`: one printed
/// line, a row of eval.csv, best.safetensors when the loss is the lowest so
/// far, and a fresh loss.svg.
fn validate(
    s: &mut Setup,
    dir: &Path,
    done: u64,
    evals: &mut Metrics,
    metrics: &mut Metrics,
    say: &dyn Fn(&str),
) -> Result<()> {
    let range = s.val.clone().expect("a validation split");
    let c = &s.config;
    let plain = s.trainer.model().valid();
    let loss = charrnn::eval::evaluate(&plain, &s.text.ids[range], c.batch_size, c.seq_length);
    let val = loss.nats_per_char();
    let train = s.eval.train_sum / s.eval.train_count.max(1) as f64;
    let best = s.eval.best.is_none_or(|b| val < b);
    say(&format!(
        "iter {done}: train loss {train:.4} nats/char, validation loss {val:.4} nats/char ({:.4} bits/char){}",
        loss.bits_per_char(),
        if best { ", best so far" } else { "" }
    ));
    evals.row(done, train, val)?;
    evals.flush()?;
    s.eval.train_sum = 0.0;
    s.eval.train_count = 0;
    if best {
        s.eval.best = Some(val);
        let w = s.trainer.model().to_weights();
        charrnn::weights::save_named(&dir.join("best.safetensors"), &w, &s.text.vocab)?;
    }
    metrics.flush()?;
    crate::plot::write(dir, c.seq_length)
}

/// Metrics first (so every row before the checkpoint is on disk), then the
/// checkpoint, then the weights, then the plot.
fn save(s: &Setup, dir: &Path, metrics: &mut Metrics) -> Result<()> {
    metrics.flush()?;
    let ck = s.trainer.checkpoint(&s.text.vocab, &s.config, &s.eval)?;
    ck.save(dir)?;
    charrnn::weights::save_named(&dir.join("weights.safetensors"), &ck.weights, &s.text.vocab)?;
    crate::plot::write(dir, s.config.seq_length)
}

fn progress_bar(total: u64, at: u64) -> Option<ProgressBar> {
    // Only when a person watches both streams: with stdout redirected, the
    // original's lines must go there as plain lines.
    if !(std::io::stderr().is_terminal() && std::io::stdout().is_terminal()) {
        return None;
    }
    let bar = if total > 0 {
        ProgressBar::new(total)
    } else {
        ProgressBar::no_length()
    };
    let style = if total > 0 {
        "{pos}/{len} [{elapsed_precise} < {eta_precise}] {wide_bar} {msg}"
    } else {
        "{pos} [{elapsed_precise}] {msg}"
    };
    bar.set_style(ProgressStyle::with_template(style).expect("valid template"));
    bar.set_position(at);
    Some(bar)
}

/// metrics.csv (`iter,loss,smooth_loss`, one row per iteration) and eval.csv
/// (`iter,train_loss,val_loss`, nats per char, one row per evaluation, iter =
/// iterations done), floats in shortest round-trip form. On resume, rows from
/// after the checkpoint (written before a crash) are dropped.
struct Metrics {
    out: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
}

const HEADER: &str = "iter,loss,smooth_loss\n";
const EVAL_HEADER: &str = "iter,train_loss,val_loss\n";

impl Metrics {
    /// Keeps the rows whose iter is below `keep_below` (all rows are
    /// dropped for a fresh run).
    fn open(path: &Path, header: &str, keep_below: Option<u64>) -> Result<Self> {
        let mut kept = String::from(header);
        let resumed_from = keep_below;
        if let Some(iter) = resumed_from {
            let old = std::fs::read_to_string(path).unwrap_or_default();
            for line in old.lines().skip(1) {
                match line.split(',').next().and_then(|n| n.parse::<u64>().ok()) {
                    Some(n) if n < iter => {
                        kept.push_str(line);
                        kept.push('\n');
                    }
                    _ => {}
                }
            }
        }
        write_atomic(path, kept.as_bytes())?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(Self {
            out: std::io::BufWriter::new(file),
            path: path.to_path_buf(),
        })
    }

    fn row(&mut self, iter: u64, loss: f64, smooth: f64) -> Result<()> {
        writeln!(self.out, "{iter},{loss},{smooth}")
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    fn flush(&mut self) -> Result<()> {
        self.out
            .flush()
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.out
            .get_ref()
            .sync_data()
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}
