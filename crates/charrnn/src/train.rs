//! A training run, assembled from a configuration and a text (fresh, from
//! given weights, or resumed from a checkpoint), and its loop, exactly the
//! original's: a data pointer walking the text T chars at a time, the wrap
//! rule, the hidden state carried (detached) from chunk to chunk, one
//! optimizer step per chunk (Adagrad by default), and the smooth loss. It
//! runs any [`Network`] without asking which; dropout masks come from a host
//! generator that is part of the progress; the validation split and its
//! bookkeeping live here too. The binary drives it one step at a time and
//! owns all printing and files.

use std::ops::Range;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::average::Average;
use crate::budget::Speed;
use crate::checkpoint::Checkpoint;
use crate::config::TrainConfig;
use crate::data::{Chunk, Streams, Text, Vocab};
use crate::dropout::Dropout;
use crate::error::{Error, Problem, Result};
use crate::eval::{EvalProgress, Loss, evaluate};
use crate::memory::{self, Estimate};
use crate::models::{NamedWeights, Network, State};
use crate::sample::sample;
use crate::schedule::Schedule;
use crate::shards::{self, Pass};

/// Where a run stands between two steps: all of it goes into a checkpoint.
pub struct Progress {
    /// Iterations done (the original's n).
    pub iter: u64,
    /// Data pointer, relative to each stream's segment start.
    pub p: usize,
    pub smooth_loss: f64,
    /// Every layer's state ([B,H] parts), carried from chunk to chunk.
    pub state: State,
    /// The sampler's RNG.
    pub rng: ChaCha8Rng,
    /// The dropout masks' generator.
    pub dropout: Dropout,
}

/// What one step reports.
pub struct Step {
    /// The iteration this step was (0-based).
    pub iter: u64,
    pub loss: f64,
    pub smooth_loss: f64,
    /// Ids sampled before the step, when asked for.
    pub sample: Option<Vec<u32>>,
}

/// One evaluation on the validation split.
pub struct Validation {
    /// Mean training loss per char since the previous evaluation.
    pub train: f64,
    pub loss: Loss,
    /// The lowest validation loss so far.
    pub is_best: bool,
}

pub struct Trainer {
    model: Option<Network>,
    optim: ModuleOptimizer,
    pub progress: Progress,
    streams: Streams,
    config: TrainConfig,
    text: Text,
    /// The validation split's char range (after the training part).
    val: Option<Range<usize>>,
    /// The test set's char range (the last `test_fraction` of the text).
    test: Option<Range<usize>>,
    schedule: Schedule,
    pub eval: EvalProgress,
    device: Device,
    /// With `ema`: the averaged weights, the model evaluated and saved.
    average: Option<Average>,
}

impl Trainer {
    /// A fresh run of `config` on `text`: the network from `init_weights`
    /// when given, else drawn from `seed`; checked against memory first.
    pub fn start(config: &TrainConfig, text: &Text, device: &Device) -> Result<Self> {
        check_memory(config, text)?;
        let spec = config.spec(text.vocab.len());
        let model = match &config.init_weights {
            Some(path) => {
                let (w, vocab) = crate::weights::read(path)?;
                same_vocab(&path.display().to_string(), &vocab, config, text)?;
                Network::load(&spec, &w.cast(config.precision), device)
                    .map_err(|p| p.in_weights(path))?
            }
            None => {
                let w = config.fresh_weights(&spec, config.precision);
                Network::from_weights(&spec, &w, device)
            }
        };
        Self::new(model, config, text, device)
    }

    /// A fresh run of `model` (on an autodiff device): iteration 0, smooth
    /// loss −ln(1/V)·T, sampler and dropout seeded with `seed`.
    pub fn new(model: Network, config: &TrainConfig, text: &Text, device: &Device) -> Result<Self> {
        let (streams, val, test) = split(config, text)?;
        let vocab = model.spec().vocab;
        let progress = Progress {
            iter: 0,
            p: 0,
            smooth_loss: -(1.0 / vocab as f64).ln() * config.seq_length as f64,
            state: model.zero_state(config.batch_size),
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            dropout: Dropout::new(config.dropout, config.seed).locked(config.locked_dropout),
        };
        let average = (config.ema > 0.0).then(|| Average::new(config.ema, &model));
        Ok(Self {
            average,
            model: Some(model),
            optim: config.optimizer_settings().init(),
            progress,
            streams,
            config: config.clone(),
            text: text.clone(),
            val,
            test,
            schedule: Schedule::new(config, &streams),
            eval: EvalProgress::default(),
            device: device.clone(),
        })
    }

    /// Continues a checkpoint (the mirror of [`Trainer::checkpoint`]) with
    /// `config` (the checkpoint's, with any flags a resume may change) on
    /// `text`, which must have the checkpoint's vocabulary.
    pub fn resume(
        ck: &Checkpoint,
        config: &TrainConfig,
        text: &Text,
        device: &Device,
    ) -> Result<Self> {
        check_memory(config, text)?;
        same_vocab("the checkpoint", &ck.vocab, config, text)?;
        let spec = config.spec(text.vocab.len());
        // The checkpoint's own path is the caller's: these name no file.
        let at = std::path::PathBuf::new;
        let model = Network::load(&spec, &ck.weights, device).map_err(|p| p.in_checkpoint(at()))?;
        let mut trainer = Self::new(model, config, text, device)?;
        trainer.optim = config
            .optimizer_settings()
            .restore(ck.optimizer_bytes(), trainer.model())
            .map_err(|p| p.in_checkpoint(at()))?;
        trainer.progress = Progress {
            iter: ck.iter,
            p: ck.p,
            smooth_loss: ck.smooth_loss,
            state: State::from_data(&ck.state, device),
            rng: ck.rng.clone(),
            dropout: ck.dropout(),
        };
        trainer.eval = ck.eval.clone();
        if let (Some(average), Some(w)) = (&mut trainer.average, &ck.average) {
            let plain = device.clone().without_autodiff();
            average.network = Network::load(&spec, w, &plain).map_err(|p| p.in_checkpoint(at()))?;
        }
        Ok(trainer)
    }

    pub fn model(&self) -> &Network {
        self.model
            .as_ref()
            .expect("the model is only taken inside step")
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    pub fn text(&self) -> &Text {
        &self.text
    }

    pub fn vocab(&self) -> &Vocab {
        &self.text.vocab
    }

    /// Whether the run holds out a validation split.
    pub fn validates(&self) -> bool {
        self.val.is_some()
    }

    /// Iterations the run lasts (`epochs` or `iterations`; 0: until stopped).
    pub fn total_iterations(&self) -> u64 {
        self.schedule.total()
    }

    /// Epochs done.
    pub fn epoch(&self) -> f64 {
        self.schedule.epoch(self.progress.iter)
    }

    /// The learning rate of the next step.
    pub fn learning_rate(&self) -> f64 {
        self.schedule.lr(self.progress.iter)
    }

    /// Whether the run's length is still to be fixed from `minutes` (a
    /// fresh run whose `iterations` are not set).
    pub fn needs_budget(&self) -> bool {
        self.config.minutes > 0.0 && self.config.iterations == 0 && self.progress.iter == 0
    }

    /// Times this run on this machine: untimed warm-up iterations (at least
    /// one and `WARMUP_SECONDS`: the first allocations, the thread pool, the
    /// memory the allocator has yet to map), then iterations until at least
    /// `MIN_TRIALS` and `TRIAL_SECONDS` (at most `MAX_TRIALS` each; neither
    /// longer than 0.5% of the budget), one
    /// evaluation and one sample; then puts the run back exactly as it was
    /// (through its own checkpoint, the path `--resume` takes), so the trials
    /// leave no trace in the weights, the optimizer, the data pointer or any
    /// generator.
    ///
    /// Why seconds and not a few iterations: on a two-core VM a 2 × 512 GRU's
    /// iterations vary by ±15% one to the next and the first dozen run ~10%
    /// slower than the rest; six iterations right after the first promised
    /// 468 ms where the run then took 385, ending its 30 minutes 4 early.
    pub fn measure(&mut self) -> Result<Speed> {
        const MIN_TRIALS: u64 = 3;
        const MAX_TRIALS: u64 = 1000;
        const WARMUP_SECONDS: f64 = 4.0;
        const TRIAL_SECONDS: f64 = 8.0;
        let snapshot = self.checkpoint()?;
        let until = |seconds: f64, min: u64, trainer: &mut Self| -> Result<(u64, f64)> {
            let started = std::time::Instant::now();
            let mut n = 0;
            while n < min || (started.elapsed().as_secs_f64() < seconds && n < MAX_TRIALS) {
                trainer.step(None)?;
                n += 1;
            }
            Ok((n, started.elapsed().as_secs_f64()))
        };
        // Each at most 0.5% of the budget (so 9 s of 30 minutes).
        let share = |seconds: f64| seconds.min(self.config.minutes * 60.0 * 0.005);
        let (warmup, trial) = (share(WARMUP_SECONDS), share(TRIAL_SECONDS));
        until(warmup, 1, self)?;
        let (trials, seconds) = until(trial, MIN_TRIALS, self)?;
        let iteration = seconds / trials as f64;
        let timed = |f: &mut dyn FnMut()| {
            let t = std::time::Instant::now();
            f();
            t.elapsed().as_secs_f64()
        };
        let sample = match self.config.sample_every {
            0 => 0.0,
            _ => timed(&mut || {
                let chunk = self.streams.chunk(self.text.ids.view(), 0);
                self.sample_before(chunk.inputs[0], self.config.sample_length);
            }),
        };
        let evaluation = match self.validates() {
            true => timed(&mut || {
                self.validation_loss();
            }),
            false => 0.0,
        };
        *self = Self::resume(&snapshot, &self.config, &self.text, &self.device)?;
        Ok(Speed {
            iteration,
            trials,
            evaluation,
            sample,
        })
    }

    /// Fixes the run's length to `iterations` (from its time budget).
    pub fn fix_iterations(&mut self, iterations: u64) {
        self.config.iterations = iterations;
        self.schedule = Schedule::new(&self.config, &self.streams);
    }

    /// Whether early stopping ends the run: `patience` evaluations in a row
    /// without a new best validation loss.
    pub fn out_of_patience(&self) -> bool {
        self.config.patience > 0 && self.eval.since_best >= self.config.patience
    }

    /// The loss of `weights` (the run's best, or its last) on the test set,
    /// None without one.
    pub fn test_loss(&self, weights: &NamedWeights) -> Result<Option<Loss>> {
        let Some(range) = self.test.clone() else {
            return Ok(None);
        };
        let device = self.device.clone().without_autodiff();
        let model = Network::load(&self.model().spec(), weights, &device)?;
        let c = &self.config;
        Ok(Some(evaluate(
            &model,
            self.text.ids.view().slice(range),
            c.batch_size,
            c.seq_length,
        )))
    }

    /// The chars an evaluation reads: the validation split's first
    /// `val_max_chars` (all of it when 0 or shorter). None without one.
    pub fn validation_range(&self) -> Option<Range<usize>> {
        let range = self.val.clone()?;
        let max = self.config.val_max_chars as usize;
        Some(match max {
            0 => range,
            _ => range.start..range.end.min(range.start.saturating_add(max)),
        })
    }

    /// The validation split's length in chars (None without one).
    pub fn validation_split_chars(&self) -> Option<usize> {
        self.val.as_ref().map(|r| r.len())
    }

    /// The chunk the next step trains on, after applying the wrap rule.
    fn next_chunk(&mut self) -> Chunk {
        let pr = &mut self.progress;
        if self.streams.must_reset(pr.iter, pr.p) {
            pr.state = self
                .model
                .as_ref()
                .expect("model present")
                .zero_state(self.streams.batch_size);
            pr.p = 0;
        }
        self.streams.chunk(self.text.ids.view(), pr.p)
    }

    /// One iteration. With `sample_length`, first samples that many chars from
    /// stream 0's hidden state before the step, seeded with the chunk's first
    /// input char (as the original does every 100 iterations). A non-finite
    /// loss stops before the update, so the model stays the last good one.
    pub fn step(&mut self, sample_length: Option<usize>) -> Result<Step> {
        let chunk = self.next_chunk();
        let sampled = sample_length.map(|n| self.sample_before(chunk.inputs[0], n));
        let model = self.model.take().expect("model present");
        let spec = model.spec();
        let masks = self.progress.dropout.masks(
            spec.layers,
            [chunk.steps, chunk.streams],
            spec.hidden,
            model.precision(),
            &self.device,
        );
        let weight_masks = self.progress.dropout.weight_masks(
            self.config.weight_drop,
            spec.layers,
            spec.recurrent_shape(),
            model.precision(),
            &self.device,
        );
        let model = model.with_weight_masks(weight_masks.as_deref());
        let Pass { loss, grads, state } = shards::pass(
            &model,
            &chunk,
            &self.progress.state,
            masks.as_deref(),
            self.config.threads,
        );
        let model = model.with_weight_masks(None);
        if !loss.is_finite() {
            self.model = Some(model);
            return Err(Error::NonFinite {
                iter: self.progress.iter,
                loss,
            });
        }
        let lr = self.schedule.lr(self.progress.iter);
        self.model = Some(self.optim.step(lr, model, grads));
        if let Some(average) = &mut self.average {
            average.update(
                self.model.as_ref().expect("just stepped"),
                self.progress.iter,
            );
        }
        let pr = &mut self.progress;
        pr.state = state.detach();
        pr.smooth_loss = pr.smooth_loss * 0.999 + loss * 0.001;
        let step = Step {
            iter: pr.iter,
            loss,
            smooth_loss: pr.smooth_loss,
            sample: sampled,
        };
        pr.p += self.streams.seq_length;
        pr.iter += 1;
        if self.val.is_some() {
            self.eval.record(loss / self.config.seq_length as f64);
        }
        Ok(step)
    }

    /// `n` chars sampled from stream 0's hidden state, seeded with `first`
    /// (the original's sample every 100 iterations), drawn with the run's
    /// sampler.
    fn sample_before(&mut self, first: u32, n: usize) -> Vec<u32> {
        let plain = self.model().valid();
        let state0 = self.progress.state.stream(0).detach().without_autodiff();
        sample(
            &plain,
            state0,
            first,
            n,
            1.0,
            &mut self.progress.rng,
            |_| true,
        )
    }

    /// The model's loss on the validation split as an evaluation reads it
    /// (None without one).
    fn validation_loss(&self) -> Option<Loss> {
        let range = self.validation_range()?;
        let c = &self.config;
        Some(evaluate(
            &self.evaluated(),
            self.text.ids.view().slice(range),
            c.batch_size,
            c.seq_length,
        ))
    }

    /// The model the run evaluates and hands out (plain device): the
    /// averaged weights with `ema`, else the trained ones.
    fn evaluated(&self) -> Network {
        match &self.average {
            Some(a) => a.network.clone(),
            None => self.model().valid(),
        }
    }

    /// The weights of [`Trainer::evaluated`]'s model, by name: what
    /// best.safetensors and weights.safetensors hold.
    pub fn evaluated_weights(&self) -> NamedWeights {
        self.evaluated().to_weights()
    }

    /// Evaluates the model on the validation split (None without one) and
    /// closes the evaluation period: the training loss since the last one,
    /// and whether this is the best validation loss so far.
    pub fn validate(&mut self) -> Option<Validation> {
        let loss = self.validation_loss()?;
        let (train, is_best) = self.eval.close(loss.nats_per_char(), self.progress.iter);
        Some(Validation {
            train,
            loss,
            is_best,
        })
    }

    /// Everything a checkpoint of this run holds.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        let optimizer = self
            .optim
            .into_bytes()
            .map_err(|e| Problem::BadOptimizer(format!("{e:?}")).in_checkpoint(""))?
            .to_vec();
        let pr = &self.progress;
        Ok(Checkpoint {
            weights: self.model().to_weights(),
            vocab: self.text.vocab.clone(),
            config: self.config.clone(),
            backend: self.config.backend.clone(),
            iter: pr.iter,
            p: pr.p,
            smooth_loss: pr.smooth_loss,
            state: pr.state.to_data(),
            rng: pr.rng.clone(),
            dropout_rng: pr.dropout.rng.clone(),
            eval: self.eval.clone(),
            optimizer,
            average: self.average.as_ref().map(|a| a.network.to_weights()),
        })
    }
}

/// The streams over the training part and the held-out ranges: the text is
/// [training | validation | test]; each held-out side must hold a chunk for
/// every stream.
type Split = (Streams, Option<Range<usize>>, Option<Range<usize>>);

fn split(config: &TrainConfig, text: &Text) -> Result<Split> {
    let (val_chars, test_chars) = (config.val_chars(text.len()), config.test_chars(text.len()));
    let train_chars = text.len() - val_chars - test_chars;
    let needed = config.batch_size * (config.seq_length + 2);
    let short =
        |fraction: f64, side: usize| fraction > 0.0 && (side < needed || train_chars < needed);
    let max = config.val_max_chars as usize;
    if val_chars > 0 && max > 0 && max < needed {
        return Err(Error::InvalidValue {
            key: "val_max_chars".into(),
            message: format!(
                "{max} (an evaluation needs at least {needed} chars: seq_length + 2 for each of {} stream(s); 0 reads the whole split)",
                config.batch_size
            ),
        });
    }
    for (key, fraction, side) in [
        ("val_fraction", config.val_fraction, val_chars),
        ("test_fraction", config.test_fraction, test_chars),
    ] {
        if short(fraction, side) {
            return Err(Error::SplitTooSmall {
                key,
                path: config.data.clone(),
                fraction,
                chars: text.len(),
                train: train_chars,
                val: side,
                needed,
                streams: config.batch_size,
            });
        }
    }
    // The streams walk the training part only; the ids stay shared, uncopied.
    let streams = Streams::new(
        train_chars,
        config.seq_length,
        config.batch_size,
        &config.data,
    )?;
    let val_end = train_chars + val_chars;
    Ok((
        streams,
        (val_chars > 0).then_some(train_chars..val_end),
        (test_chars > 0).then(|| val_end..text.len()),
    ))
}

/// Refuses a run whose network, optimizer state and chunk cannot fit. A
/// text too short for the streams is refused first: that is a fact of the
/// config and the text, and must not turn into a memory refusal (or pass)
/// depending on how much memory this machine has free at the moment.
fn check_memory(config: &TrainConfig, text: &Text) -> Result<()> {
    split(config, text)?;
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
            text.ids.bytes() as f64,
        ),
    )
}

fn same_vocab(what: &str, vocab: &Vocab, config: &TrainConfig, text: &Text) -> Result<()> {
    if *vocab != text.vocab {
        return Err(Error::VocabMismatch {
            what: what.into(),
            text: config.data.clone(),
            theirs: vocab.len(),
            ours: text.vocab.len(),
        });
    }
    Ok(())
}
