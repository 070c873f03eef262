//! `charrnn [train]`: asks the library for a run (fresh or resumed), drives its trainer
//! step by step, and owns everything a person sees or keeps: the original's
//! `iter n, loss: x` lines and samples, the progress bar, metrics.csv,
//! checkpoints, weights.safetensors, and Ctrl-C handling.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use charrnn::budget;
use charrnn::checkpoint::{self, Checkpoint};
use charrnn::config::TrainConfig;
use charrnn::fsutil::write_atomic;
use charrnn::train::{Step, Trainer};
use indicatif::{ProgressBar, ProgressStyle};

use crate::backend;
use crate::cli::TrainArgs;
use crate::settings;
use crate::status::Status;

/// Exit status after an interrupted run that saved its checkpoint.
pub const INTERRUPTED: i32 = 130;

/// A run ready to go: everything validated, nothing written yet.
pub struct Setup {
    pub trainer: Trainer,
    pub resumed_from: Option<u64>,
    /// When this process began setting the run up (a time budget counts from it).
    pub began: Instant,
}

/// The configuration (defaults, config file, flags; or a checkpoint's with
/// the flags a resume may change) and the checkpoint when resuming.
fn resolve(args: &TrainArgs) -> Result<(TrainConfig, Option<Checkpoint>)> {
    let Some(dir) = &args.resume else {
        return Ok((settings::resolve(args)?, None));
    };
    let ck = Checkpoint::load(dir)?;
    settings::refuse_conflicts(&ck.config, args)?;
    let mut config = ck.config.clone();
    settings::apply_flags(&mut config, args)?;
    config.validate()?;
    Ok((config, Some(ck)))
}

/// Builds the trainer from flags (and a checkpoint when resuming).
pub fn setup(args: &TrainArgs) -> Result<Setup> {
    let began = Instant::now();
    let (mut config, saved) = resolve(args)?;
    let text = crate::reading::text(&mut config)?;
    backend::use_threads(config.threads)?;
    let device = &backend::device(&config.backend, config.precision)?.autodiff();
    let trainer = match &saved {
        Some(ck) => Trainer::resume(ck, &config, &text, device)?,
        None => Trainer::start(&config, &text, device)?,
    };
    Ok(Setup {
        trainer,
        resumed_from: saved.map(|ck| ck.iter),
        began,
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

/// The run directory's files, open for appending.
struct Outputs {
    dir: PathBuf,
    metrics: Metrics,
    evals: Option<Metrics>,
}

impl Outputs {
    /// Creates (or, resuming, reopens) the run directory; a fresh run never
    /// overwrites another without --force.
    fn open(args: &TrainArgs, s: &Setup) -> Result<Self> {
        let dir = out_dir(args);
        if args.resume.is_none() && dir.join(checkpoint::FILE_NAME).exists() && !args.force {
            bail!(
                "{} already holds a run; continue it with --resume {}, start over with --force, or pick another --out-dir",
                dir.display(),
                dir.display()
            );
        }
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let config = s.trainer.config();
        write_atomic(&dir.join("config.toml"), config.to_toml().as_bytes())?;
        let metrics = Metrics::open(&dir.join("metrics.csv"), HEADER, s.resumed_from)?;
        let evals = match s.trainer.validates() {
            true => Some(Metrics::open(
                &dir.join("eval.csv"),
                EVAL_HEADER,
                s.resumed_from.map(|n| n + 1),
            )?),
            false => None,
        };
        Ok(Self {
            dir,
            metrics,
            evals,
        })
    }

    /// Metrics first (so every row before the checkpoint is on disk), then
    /// the checkpoint, then the weights, then the plot.
    fn save(&mut self, trainer: &Trainer) -> Result<()> {
        self.metrics.flush()?;
        if let Some(e) = &mut self.evals {
            e.flush()?;
        }
        let ck = trainer.checkpoint()?;
        ck.save(&self.dir)?;
        let weights = self.dir.join("weights.safetensors");
        // The averaged weights with `ema`, as best.safetensors holds them.
        let evaluated = ck.average.as_ref().unwrap_or(&ck.weights);
        charrnn::weights::save(&weights, evaluated, trainer.vocab())?;
        Ok(charrnn::plot::write(
            &self.dir,
            trainer.config().seq_length,
        )?)
    }

    /// Scores the test set once, with the best weights when the run
    /// validated (best.safetensors), else the last: one printed line and
    /// test.csv.
    fn test(&self, trainer: &Trainer) -> Result<()> {
        let best = self.dir.join("best.safetensors");
        let (which, weights) = if trainer.validates() && best.exists() {
            ("best", charrnn::weights::load(&best)?.1)
        } else {
            ("last", trainer.evaluated_weights())
        };
        let Some(loss) = trainer.test_loss(&weights)? else {
            return Ok(());
        };
        let u = trainer.vocab().unit();
        let iter = match which {
            "best" => trainer.eval.best_iter.unwrap_or(0),
            _ => trainer.progress.iter,
        };
        println!(
            "test loss {:.4} nats/{u} ({:.4} bits/{u}) on {} {u}s, {which} weights (iteration {iter})",
            loss.nats_per_char(),
            loss.bits_per_char(),
            loss.chars
        );
        let csv = format!(
            "weights,iter,nats_per_char,bits_per_char,chars\n{which},{iter},{},{},{}\n",
            loss.nats_per_char(),
            loss.bits_per_char(),
            loss.chars
        );
        write_atomic(&self.dir.join("test.csv"), csv.as_bytes())?;
        Ok(())
    }

    /// Evaluates on the validation split after iteration `done`: one printed
    /// line, a row of eval.csv, best.safetensors when the loss is the lowest
    /// so far, and a fresh loss.svg.
    fn validate(&mut self, trainer: &mut Trainer, done: u64, say: &dyn Fn(&str)) -> Result<()> {
        let Some(v) = trainer.validate() else {
            return Ok(());
        };
        let val = v.loss.nats_per_char();
        let u = trainer.vocab().unit();
        say(&format!(
            "iter {done}: train loss {:.4} nats/{u}, validation loss {val:.4} nats/{u} ({:.4} bits/{u}) on {} {u}s{}",
            v.train,
            v.loss.bits_per_char(),
            v.loss.chars,
            if v.is_best { ", best so far" } else { "" }
        ));
        let evals = self.evals.as_mut().expect("a run that validates");
        evals.eval_row(done, v.train, val, v.loss.chars)?;
        evals.flush()?;
        if v.is_best {
            let w = trainer.evaluated_weights();
            charrnn::weights::save(&self.dir.join("best.safetensors"), &w, trainer.vocab())?;
        }
        self.metrics.flush()?;
        Ok(charrnn::plot::write(
            &self.dir,
            trainer.config().seq_length,
        )?)
    }
}

fn header(s: &Setup, dir: &Path) {
    let c = s.trainer.config();
    let text = s.trainer.text();
    println!(
        "data has {} characters, {} unique. {}{}, backend {}, {}, H {}, T {}, B {}, {} lr {}",
        text.len(),
        text.vocab.len(),
        s.trainer.model().spec().describe(),
        if c.dropout > 0.0 {
            let locked = if c.locked_dropout { " (locked)" } else { "" };
            format!(", dropout {}{locked}", c.dropout)
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
    if let (Some(read), Some(split)) = (
        s.trainer.validation_range().map(|r| r.len()),
        s.trainer.validation_split_chars(),
    ) && read < split
    {
        println!(
            "each evaluation reads the validation split's first {read} of {split} {}s (val_max_chars)",
            text.vocab.unit()
        );
    }
}

/// Ctrl-C (and SIGTERM) set a flag that the loop reads between steps.
fn interrupt_flag() -> Result<Arc<AtomicBool>> {
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot install the Ctrl-C handler")?;
    Ok(interrupted)
}

fn every(n: u64, k: u64) -> bool {
    k > 0 && n.is_multiple_of(k)
}

pub fn train(args: &TrainArgs) -> Result<i32> {
    let mut s = setup(args)?;
    let mut out = Outputs::open(args, &s)?;
    let interrupted = interrupt_flag()?;
    header(&s, &out.dir);
    backend::on_pool(|| {
        let deadline = match s.trainer.needs_budget() {
            true => Some(fix_budget(&mut s.trainer, &mut out, s.began)?),
            false => None,
        };
        train_loop(&mut s, &mut out, &interrupted, deadline)
    })
}

/// A `minutes` run: times trial iterations, an evaluation, a sample and a
/// checkpoint (written at iteration 0, so an interrupted run can resume
/// from the start), then fixes the iterations that fit in what is
/// left of the budget, says so in one line and records the count in the
/// run's config.toml (and so in every checkpoint). Returns the deadline:
/// the budget's end less its last evaluation and checkpoint, past which the
/// loop stops even short of the count (a VM's speed can drift by 20%
/// within minutes, so the trials' promise is not a guarantee).
fn fix_budget(trainer: &mut Trainer, out: &mut Outputs, began: Instant) -> Result<Instant> {
    let speed = trainer.measure()?;
    let c = trainer.config();
    if budget::fit(
        c.minutes,
        s_since(began),
        &speed,
        0.0,
        &budget::Cadence::NEVER,
    )
    .is_none()
    {
        bail!(
            "minutes {}: not one iteration fits (reading the text and timing {} trial iterations took {:.1} s; one iteration takes {:.3} s)",
            c.minutes,
            speed.trials + 1,
            s_since(began),
            speed.iteration
        );
    }
    let t = Instant::now();
    out.save(trainer)?;
    let save_s = s_since(t);
    let c = trainer.config();
    let every = budget::Cadence {
        eval_every: if trainer.validates() { c.eval_every } else { 0 },
        checkpoint_every: c.checkpoint_every,
        sample_every: c.sample_every,
    };
    let spent = s_since(began);
    let Some(n) = budget::fit(c.minutes, spent, &speed, save_s, &every) else {
        bail!(
            "minutes {}: not one iteration fits beside the evaluations and checkpoints (one iteration takes {:.3} s, a checkpoint {save_s:.3} s, an evaluation {:.3} s)",
            c.minutes,
            speed.iteration,
            speed.evaluation
        );
    };
    let minutes = c.minutes;
    trainer.fix_iterations(n);
    println!(
        "{} (timed on {} trial iterations, then started over; {spent:.1} s of the budget spent before the first)",
        budget::describe(minutes, n, &speed),
        speed.trials + 1
    );
    write_atomic(
        &out.dir.join("config.toml"),
        trainer.config().to_toml().as_bytes(),
    )?;
    let last = speed.evaluation + if speed.evaluation > 0.0 { 2.0 } else { 1.0 } * save_s;
    Ok(began + Duration::from_secs_f64((minutes * 60.0 - last).max(0.0)))
}

fn s_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

/// Steps until the configured iterations or epochs (or early stopping, or
/// Ctrl-C, or a time budget's `deadline`), writing as it goes; then scores
/// the test set.
fn train_loop(
    s: &mut Setup,
    out: &mut Outputs,
    interrupted: &AtomicBool,
    deadline: Option<Instant>,
) -> Result<i32> {
    let c = s.trainer.config().clone();
    let total = s.trainer.total_iterations();
    let bar = progress_bar(total, s.trainer.progress.iter);
    let say = |line: &str| match &bar {
        Some(b) => b.println(line),
        None => println!("{line}"),
    };
    let started = Instant::now();
    let first_iter = s.trainer.progress.iter;
    let mut status = Status::new(&out.dir, first_iter);
    status.write(&s.trainer, "training")?;
    let mut end = "finished";
    while total == 0 || s.trainer.progress.iter < total {
        let n = s.trainer.progress.iter;
        let sample = every(n, c.sample_every).then_some(c.sample_length);
        let step = s.trainer.step(sample).or_else(|e| {
            out.metrics.flush()?;
            status.write(&s.trainer, "failed")?;
            bar.iter().for_each(ProgressBar::abandon);
            let dir = out.dir.display();
            bail!("{e}; stopped, the last good checkpoint in {dir} is kept")
        })?;
        if let Some(text) = report(&s.trainer, &step, &say) {
            status.sample(step.iter, &text);
        }
        out.metrics.row(step.iter, step.loss, step.smooth_loss)?;
        let done = step.iter + 1;
        let evaluated = every(done, c.eval_every) || done == total;
        if evaluated {
            out.validate(&mut s.trainer, done, &say)?;
            if s.trainer.out_of_patience() {
                say(&early_stop_line(&s.trainer, done, &out.dir));
                end = "stopped early";
                break;
            }
        }
        if done < total && deadline.is_some_and(|d| Instant::now() >= d) {
            if !evaluated && s.trainer.validates() {
                out.validate(&mut s.trainer, done, &say)?;
            }
            say(&out_of_time_line(&s.trainer, done, &out.dir));
            end = "out of time";
            break;
        }
        if status.due() {
            // Rows reach the file (not the disk) for a reader watching the run.
            out.metrics.push()?;
            status.write(&s.trainer, "training")?;
        }
        if let Some(b) = &bar {
            let rate = (done - first_iter) as f64 / started.elapsed().as_secs_f64().max(1e-9);
            show_rate(b, &s.trainer, rate, step.smooth_loss);
        }
        let stop = interrupted.load(Ordering::SeqCst);
        if every(done, c.checkpoint_every) || stop {
            out.save(&s.trainer)?;
        }
        if stop {
            status.write(&s.trainer, "interrupted")?;
            bar.iter().for_each(ProgressBar::abandon);
            let dir = out.dir.display();
            eprintln!("interrupted at iteration {done}; checkpoint saved in {dir}");
            return Ok(INTERRUPTED);
        }
    }
    out.save(&s.trainer)?;
    status.write(&s.trainer, end)?;
    bar.iter().for_each(ProgressBar::finish);
    let iters = (s.trainer.progress.iter - first_iter).max(1);
    let minutes = match (c.minutes, s.resumed_from) {
        (0.0, _) | (_, Some(_)) => String::new(),
        (m, None) => format!(
            " ({:.1} of the budget's {m} minutes)",
            s.began.elapsed().as_secs_f64() / 60.0
        ),
    };
    println!(
        "done: {} iterations ({:.2} epochs), smooth loss {:.6}, {:.3} ms/iter{minutes}; weights in {}",
        s.trainer.progress.iter,
        s.trainer.epoch(),
        s.trainer.progress.smooth_loss,
        1e3 * started.elapsed().as_secs_f64() / iters as f64,
        out.dir.join("weights.safetensors").display()
    );
    out.test(&s.trainer)?;
    Ok(0)
}

fn out_of_time_line(trainer: &Trainer, done: u64, dir: &Path) -> String {
    let c = trainer.config();
    format!(
        "out of time at iteration {done} of {}: the budget's {} minutes are spent (this machine ran slower than its trial iterations); the best weights are in {}, and --resume {} continues the schedule to its end",
        c.iterations,
        c.minutes,
        dir.join("best.safetensors").display(),
        dir.display()
    )
}

fn early_stop_line(trainer: &Trainer, done: u64, dir: &Path) -> String {
    let e = &trainer.eval;
    format!(
        "early stop at iteration {done}: no better validation loss in {} evaluations; the best, {:.4} nats/char at iteration {}, is in {}",
        trainer.config().patience,
        e.best.unwrap_or(f64::NAN),
        e.best_iter.unwrap_or(0),
        dir.join("best.safetensors").display()
    )
}

fn show_rate(bar: &ProgressBar, trainer: &Trainer, iters_per_s: f64, smooth: f64) {
    let c = trainer.config();
    bar.set_position(trainer.progress.iter);
    bar.set_message(format!(
        "{iters_per_s:.0} it/s, {:.0} chars/s, epoch {:.2}, lr {:.3e}, smooth loss {smooth:.3}",
        iters_per_s * (c.seq_length * c.batch_size) as f64,
        trainer.epoch(),
        trainer.learning_rate(),
    ));
}

/// The original's printed lines: a sample when one was drawn (returned), and
/// `iter n, loss: x` every print_every iterations.
fn report(trainer: &Trainer, step: &Step, say: &dyn Fn(&str)) -> Option<String> {
    let sample = step.sample.as_ref().map(|ids| {
        let bytes = trainer.vocab().decode(ids);
        String::from_utf8_lossy(&bytes).into_owned()
    });
    if let Some(txt) = &sample {
        say(&format!("----\n {txt} \n----"));
    }
    if every(step.iter, trainer.config().print_every) {
        say(&format!(
            "iter {}, loss: {:.6}",
            step.iter, step.smooth_loss
        ));
    }
    sample
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
/// (`iter,train_loss,val_loss,val_chars`, nats per char and the chars the
/// evaluation read, one row per evaluation, iter = iterations done), floats
/// in shortest round-trip form. On resume, rows from after the checkpoint
/// (written before a crash) are dropped, and a run whose eval.csv predates
/// `val_chars` keeps its three columns.
struct Metrics {
    out: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
    /// eval.csv: whether rows carry `val_chars`.
    chars: bool,
}

const HEADER: &str = "iter,loss,smooth_loss\n";
const EVAL_HEADER: &str = "iter,train_loss,val_loss,val_chars\n";
const EVAL_HEADER_BEFORE_VAL_CHARS: &str = "iter,train_loss,val_loss\n";

impl Metrics {
    /// Keeps the rows whose iter is below `keep_below` (all rows are
    /// dropped for a fresh run).
    fn open(path: &Path, header: &str, keep_below: Option<u64>) -> Result<Self> {
        let resumed_from = keep_below;
        let old = match resumed_from {
            Some(_) => std::fs::read_to_string(path).unwrap_or_default(),
            None => String::new(),
        };
        let header = match header == EVAL_HEADER && old.starts_with(EVAL_HEADER_BEFORE_VAL_CHARS) {
            true => EVAL_HEADER_BEFORE_VAL_CHARS,
            false => header,
        };
        let mut kept = String::from(header);
        if let Some(iter) = resumed_from {
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
            chars: header == EVAL_HEADER,
        })
    }

    fn row(&mut self, iter: u64, loss: f64, smooth: f64) -> Result<()> {
        writeln!(self.out, "{iter},{loss},{smooth}")
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// A row of eval.csv: the losses and the chars the evaluation read.
    fn eval_row(&mut self, iter: u64, train: f64, val: f64, chars: u64) -> Result<()> {
        match self.chars {
            true => writeln!(self.out, "{iter},{train},{val},{chars}"),
            false => writeln!(self.out, "{iter},{train},{val}"),
        }
        .with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Hands buffered rows to the file (readers see them; no disk sync).
    fn push(&mut self) -> Result<()> {
        self.out
            .flush()
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
