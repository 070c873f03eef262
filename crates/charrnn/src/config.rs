//! The run configuration: a TOML file whose every key has a default (the
//! original's settings), unknown keys refused with the closest valid key
//! suggested, and values validated before anything is written.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Precision;
use crate::data::VocabMode;
use crate::error::{ConfigProblem, Error, Result};
use crate::models::{Init, ModelKind, ModelSpec, NamedWeights, layout};
use crate::optim::{OptimizerKind, OptimizerSettings};
use crate::schedule::ScheduleKind;

/// Everything a training run is told. Defaults are min-char-rnn's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Training text (UTF-8). Relative paths in a config file are relative to that file.
    pub data: PathBuf,
    pub hidden_size: usize,
    pub seq_length: usize,
    pub learning_rate: f64,
    /// Gradients are clamped elementwise to [−clip, clip].
    pub clip: f64,
    /// Iterations in total; 0 runs until interrupted, like the original.
    pub iterations: u64,
    /// A time budget in minutes of wall time (0 = none): the run measures
    /// its speed on trial iterations and fixes `iterations` to what fits
    /// (see [`crate::budget`]). Given with `iterations`, the count already
    /// fixed (a run's own config.toml, a checkpoint) is kept.
    pub minutes: f64,
    /// Seeds the weights (when not loaded) and the sampler.
    pub seed: u64,
    pub precision: Precision,
    /// Backend name; the binary knows which are compiled in.
    pub backend: String,
    /// Parallel streams; 1 is the original.
    pub batch_size: usize,
    /// CPU threads (flex and ndarray): the streams are split into this many
    /// shards trained side by side (see [`crate::shards`]), and large matrix
    /// products are split too. Default: every core (see docs/speed.md).
    pub threads: usize,
    /// Every this many iterations print `iter n, loss: x` (0 = never).
    pub print_every: u64,
    /// Every this many iterations print a sample (0 = never).
    pub sample_every: u64,
    pub sample_length: usize,
    /// Every this many iterations write a checkpoint (0 = only at the end).
    pub checkpoint_every: u64,
    /// Start from these weights (safetensors, either layout) instead of random ones.
    pub init_weights: Option<PathBuf>,
    /// rnn (the original when one layer), lstm or gru.
    pub model: ModelKind,
    /// Stacked recurrent layers.
    pub layers: usize,
    /// Probability of dropping each unit of each layer's output while training.
    pub dropout: f64,
    /// Lock each stream's dropout masks across a chunk's steps (variational
    /// dropout, AWD-LSTM's `LockedDropout`) instead of drawing new ones at
    /// every step; needs dropout > 0.
    pub locked_dropout: bool,
    /// Weight drop (DropConnect on each layer's recurrent weights W_hh, as in
    /// AWD-LSTM): each weight dropped with this probability for a whole
    /// iteration, the same mask for every stream and step; 0 = off.
    pub weight_drop: f64,
    /// adagrad (the original's), sgd, rmsprop or adam.
    pub optimizer: OptimizerKind,
    /// Adam's β₁ and β₂.
    pub adam_beta1: f64,
    pub adam_beta2: f64,
    /// RMSprop's smoothing constant and momentum.
    pub rmsprop_alpha: f64,
    pub rmsprop_momentum: f64,
    /// Adam's and RMSprop's ε (Adagrad keeps the original's 1e-8 inside the root).
    pub epsilon: f64,
    /// The last this fraction of the text is held out for validation (0 = none).
    pub val_fraction: f64,
    /// Evaluate on the validation split every this many iterations (0 = only at the end).
    pub eval_every: u64,
    /// Train this many epochs (passes over the training split; fractions
    /// allowed) instead of `iterations` (0 = use `iterations`).
    pub epochs: f64,
    /// constant, step or cosine (see [`crate::schedule`]).
    pub lr_schedule: ScheduleKind,
    /// step: the factor, and where it applies (in epochs).
    pub lr_decay: f64,
    pub lr_decay_every: f64,
    pub lr_decay_after: f64,
    /// cosine: iterations of linear warm-up, and the final rate as a fraction of `learning_rate`.
    pub warmup: u64,
    pub final_lr_fraction: f64,
    /// Stop after this many evaluations without a new best validation loss (0 = never).
    pub patience: u64,
    /// The last this fraction of the text, after the validation split, is
    /// held out as a test set, scored once at the end (0 = none).
    pub test_fraction: f64,
    /// Fresh weights: `default` (the original's N(0,1)·0.01 for min-char-rnn,
    /// PyTorch's U(±1/√H) otherwise), `pytorch`, or `uniform` (U(±init_scale)).
    pub init: InitKind,
    /// `uniform`'s bound (char-rnn's 0.08).
    pub init_scale: f64,
    /// LSTM: the forget gates' bias at init (char-rnn's 1; none = the init's).
    pub forget_bias: Option<f64>,
    /// Adam only: decoupled weight decay (AdamW), p ← p·(1 − lr·weight_decay) each step.
    pub weight_decay: f64,
    /// Weight averaging: the evaluated and saved model is an exponential
    /// moving average of the weights with this decay (0 = off; see
    /// [`crate::average`]).
    pub ema: f64,
    /// chars (a UTF-8 text's) or bytes (any file's).
    pub vocab: VocabMode,
    /// Chars seen fewer than this many times in the training part are
    /// folded into one unknown symbol, U+FFFD (0: none; char mode only).
    pub vocab_min_count: u64,
    /// An evaluation reads at most this many chars of the validation split:
    /// always its first ones, in B segments (0: the whole split).
    pub val_max_chars: u64,
}

/// How a run draws fresh weights (the config's `init`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum InitKind {
    #[default]
    Default,
    Pytorch,
    Uniform,
}

crate::named_enum!(InitKind, "init", {
    Default => "default",
    Pytorch => "pytorch",
    Uniform => "uniform",
});

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            data: PathBuf::from("data/tinyshakespeare.txt"),
            hidden_size: 100,
            seq_length: 25,
            learning_rate: 0.1,
            clip: 5.0,
            iterations: 0,
            minutes: 0.0,
            seed: 1,
            precision: Precision::F32,
            backend: "flex".into(),
            batch_size: 1,
            threads: all_cores(),
            print_every: 100,
            sample_every: 100,
            sample_length: 200,
            checkpoint_every: 1000,
            init_weights: None,
            model: ModelKind::Rnn,
            layers: 1,
            dropout: 0.0,
            locked_dropout: false,
            weight_drop: 0.0,
            optimizer: OptimizerKind::Adagrad,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            rmsprop_alpha: 0.99,
            rmsprop_momentum: 0.0,
            epsilon: 1e-8,
            val_fraction: 0.0,
            eval_every: 1000,
            epochs: 0.0,
            lr_schedule: ScheduleKind::Constant,
            lr_decay: 0.97,
            lr_decay_every: 1.0,
            lr_decay_after: 10.0,
            warmup: 0,
            final_lr_fraction: 0.1,
            patience: 0,
            test_fraction: 0.0,
            init: InitKind::Default,
            init_scale: 0.08,
            forget_bias: None,
            weight_decay: 0.0,
            ema: 0.0,
            vocab: VocabMode::Chars,
            vocab_min_count: 0,
            val_max_chars: 1_000_000,
        }
    }
}

/// The keys a config file may hold.
pub const KEYS: [&str; 47] = [
    "data",
    "hidden_size",
    "seq_length",
    "learning_rate",
    "clip",
    "iterations",
    "minutes",
    "seed",
    "precision",
    "backend",
    "batch_size",
    "threads",
    "print_every",
    "sample_every",
    "sample_length",
    "checkpoint_every",
    "init_weights",
    "model",
    "layers",
    "dropout",
    "locked_dropout",
    "weight_drop",
    "optimizer",
    "adam_beta1",
    "adam_beta2",
    "rmsprop_alpha",
    "rmsprop_momentum",
    "epsilon",
    "val_fraction",
    "eval_every",
    "epochs",
    "lr_schedule",
    "lr_decay",
    "lr_decay_every",
    "lr_decay_after",
    "warmup",
    "final_lr_fraction",
    "patience",
    "test_fraction",
    "init",
    "init_scale",
    "forget_bias",
    "weight_decay",
    "ema",
    "vocab",
    "vocab_min_count",
    "val_max_chars",
];

impl TrainConfig {
    /// Reads a config file; relative paths inside it are made relative to its folder.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|error| Error::Io {
            path: path.to_path_buf(),
            error,
        })?;
        Self::parse_at(&text, path)
    }

    /// Parses a config's text as the file at `path` would be read: errors
    /// name `path`, relative paths inside are made relative to its folder.
    pub fn parse_at(text: &str, path: &Path) -> Result<Self> {
        let mut config = Self::parse(text).map_err(|problem| Error::Config {
            path: path.to_path_buf(),
            problem,
        })?;
        let dir = path.parent().unwrap_or(Path::new(""));
        config.data = dir.join(&config.data);
        config.init_weights = config.init_weights.map(|p| dir.join(p));
        Ok(config)
    }

    /// Parses TOML text; an unknown key gets the closest valid key suggested.
    pub fn parse(text: &str) -> std::result::Result<Self, ConfigProblem> {
        toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            if let Some(key) = msg
                .strip_prefix("unknown field `")
                .and_then(|rest| rest.split('`').next())
            {
                let best = KEYS
                    .iter()
                    .min_by_key(|k| strsim::levenshtein(key, k))
                    .expect("KEYS is not empty");
                return ConfigProblem::UnknownKey {
                    key: key.into(),
                    suggestion: best.to_string(),
                };
            }
            // Name the line at fault (it holds the key), not just the type error.
            let line = e
                .span()
                .map(|span| text[..span.start].matches('\n').count());
            ConfigProblem::Invalid {
                line: line.map(|l| l + 1),
                content: line
                    .and_then(|l| text.lines().nth(l))
                    .unwrap_or("")
                    .trim()
                    .to_string(),
                detail: msg.trim().to_string(),
            }
        })
    }

    /// The resolved configuration as TOML (written to `<out-dir>/config.toml`).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a config always serialises")
    }

    /// The network this config trains on a text of `vocab` chars.
    pub fn spec(&self, vocab: usize) -> ModelSpec {
        ModelSpec::new(self.model, self.layers, vocab, self.hidden_size)
    }

    /// Chars held out for validation out of `text_len` (before the test set).
    pub fn val_chars(&self, text_len: usize) -> usize {
        crate::text_file::held_out_chars(self.val_fraction, text_len)
    }

    /// Chars held out for the test set out of `text_len` (the last ones).
    pub fn test_chars(&self, text_len: usize) -> usize {
        crate::text_file::held_out_chars(self.test_fraction, text_len)
    }

    /// How the run's text is read: its mode, rare chars folded, and where
    /// the training part ends.
    pub fn read_options(&self) -> crate::text_file::ReadOptions {
        crate::text_file::ReadOptions {
            mode: self.vocab,
            min_count: self.vocab_min_count,
            held_out: [self.val_fraction, self.test_fraction],
            spill: Default::default(),
        }
    }

    /// How fresh weights of `spec` are drawn.
    pub fn init_of(&self, spec: &ModelSpec) -> Init {
        match self.init {
            InitKind::Default => spec.init(),
            InitKind::Pytorch => Init::Uniform {
                bound: 1.0 / (spec.hidden as f64).sqrt(),
            },
            InitKind::Uniform => Init::Uniform {
                bound: self.init_scale,
            },
        }
    }

    /// Fresh weights of `spec` drawn from `seed` by `init` (and the forget
    /// bias, for an LSTM).
    pub fn fresh_weights(&self, spec: &ModelSpec, precision: Precision) -> NamedWeights {
        let mut w = layout::random_with(spec, self.init_of(spec), self.seed, precision);
        if let Some(b) = self.forget_bias {
            layout::set_forget_bias(spec, &mut w, b);
        }
        w
    }

    /// Iterations the run lasts with `per_epoch` iterations an epoch:
    /// `epochs` when given (rounded up), else `iterations` (0: until stopped,
    /// or, with `minutes`, not fixed yet).
    pub fn total_iterations(&self, per_epoch: u64) -> u64 {
        if self.epochs > 0.0 {
            (self.epochs * per_epoch as f64).ceil() as u64
        } else {
            self.iterations
        }
    }

    pub fn optimizer_settings(&self) -> OptimizerSettings {
        OptimizerSettings {
            weight_decay: self.weight_decay,
            kind: self.optimizer,
            clip: self.clip,
            beta1: self.adam_beta1,
            beta2: self.adam_beta2,
            alpha: self.rmsprop_alpha,
            momentum: self.rmsprop_momentum,
            epsilon: self.epsilon,
        }
    }

    /// Refuses values the trainer cannot run with, naming the key.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, message: String| {
            Err(Error::InvalidValue {
                key: key.into(),
                message,
            })
        };
        for (key, value) in [
            ("hidden_size", self.hidden_size),
            ("seq_length", self.seq_length),
            ("batch_size", self.batch_size),
            ("layers", self.layers),
            ("threads", self.threads),
        ] {
            if value == 0 {
                return bad(key, "must be at least 1".into());
            }
        }
        if self.threads > 1024 {
            return bad(
                "threads",
                format!("{} (must be at most 1024)", self.threads),
            );
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(
                "learning_rate",
                format!("{} (must be a finite number > 0)", self.learning_rate),
            );
        }
        if !(self.clip.is_finite() && self.clip > 0.0) {
            return bad(
                "clip",
                format!("{} (must be a finite number > 0)", self.clip),
            );
        }
        if !(self.dropout >= 0.0 && self.dropout < 1.0) {
            return bad("dropout", format!("{} (must be in [0, 1))", self.dropout));
        }
        if self.locked_dropout && self.dropout == 0.0 {
            return bad(
                "locked_dropout",
                "true locks dropout masks, and dropout is 0: set dropout > 0".into(),
            );
        }
        if !(self.weight_drop >= 0.0 && self.weight_drop < 1.0) {
            return bad(
                "weight_drop",
                format!("{} (must be in [0, 1))", self.weight_drop),
            );
        }
        for (key, value) in [
            ("adam_beta1", self.adam_beta1),
            ("adam_beta2", self.adam_beta2),
            ("rmsprop_alpha", self.rmsprop_alpha),
        ] {
            if !(0.0..1.0).contains(&value) {
                return bad(key, format!("{value} (must be in [0, 1))"));
            }
        }
        if !(self.rmsprop_momentum >= 0.0 && self.rmsprop_momentum < 1.0) {
            return bad(
                "rmsprop_momentum",
                format!("{} (must be in [0, 1))", self.rmsprop_momentum),
            );
        }
        if self.vocab_min_count > 0 && self.vocab == VocabMode::Bytes {
            return bad(
                "vocab_min_count",
                format!(
                    "{} applies to chars only (vocab = \"bytes\" has at most 256 symbols and none to fold)",
                    self.vocab_min_count
                ),
            );
        }
        if !(self.val_fraction >= 0.0 && self.val_fraction < 1.0) {
            return bad(
                "val_fraction",
                format!("{} (must be in [0, 1))", self.val_fraction),
            );
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return bad(
                "epsilon",
                format!("{} (must be a finite number > 0)", self.epsilon),
            );
        }
        let finite_at_least = |key: &str, v: f64, min: f64| {
            if v.is_finite() && v >= min {
                Ok(())
            } else {
                bad(key, format!("{v} (must be a finite number >= {min})"))
            }
        };
        finite_at_least("epochs", self.epochs, 0.0)?;
        finite_at_least("minutes", self.minutes, 0.0)?;
        if self.minutes > 0.0 && self.epochs > 0.0 {
            return bad(
                "minutes",
                format!(
                    "{} and epochs {} both set the run's length: keep one",
                    self.minutes, self.epochs
                ),
            );
        }
        finite_at_least("lr_decay_after", self.lr_decay_after, 0.0)?;
        if !(self.lr_decay > 0.0 && self.lr_decay <= 1.0) {
            return bad("lr_decay", format!("{} (must be in (0, 1])", self.lr_decay));
        }
        if !(self.lr_decay_every.is_finite() && self.lr_decay_every > 0.0) {
            return bad(
                "lr_decay_every",
                format!("{} (must be a finite number > 0)", self.lr_decay_every),
            );
        }
        if !(0.0..=1.0).contains(&self.final_lr_fraction) {
            return bad(
                "final_lr_fraction",
                format!("{} (must be in [0, 1])", self.final_lr_fraction),
            );
        }
        if self.lr_schedule == ScheduleKind::Cosine
            && self.iterations == 0
            && self.epochs == 0.0
            && self.minutes == 0.0
        {
            return bad(
                "lr_schedule",
                "cosine needs a length: set iterations, epochs or minutes".into(),
            );
        }
        if self.patience > 0 && self.val_fraction == 0.0 {
            return bad(
                "patience",
                format!(
                    "{} needs a validation split to watch: set val_fraction",
                    self.patience
                ),
            );
        }
        if !(self.test_fraction >= 0.0 && self.val_fraction + self.test_fraction < 1.0) {
            return bad(
                "test_fraction",
                format!(
                    "{} (must be >= 0, and with val_fraction {} below 1)",
                    self.test_fraction, self.val_fraction
                ),
            );
        }
        finite_at_least("weight_decay", self.weight_decay, 0.0)?;
        if !(0.0..1.0).contains(&self.ema) {
            return bad("ema", format!("{} (must be in [0, 1); 0 is off)", self.ema));
        }
        if self.weight_decay > 0.0 && self.optimizer != OptimizerKind::Adam {
            return bad(
                "weight_decay",
                format!(
                    "{} is AdamW's decoupled decay: use optimizer adam (configured {})",
                    self.weight_decay, self.optimizer
                ),
            );
        }
        if !(self.init_scale.is_finite() && self.init_scale > 0.0) {
            return bad(
                "init_scale",
                format!("{} (must be a finite number > 0)", self.init_scale),
            );
        }
        if let Some(b) = self.forget_bias
            && !b.is_finite()
        {
            return bad("forget_bias", format!("{b} (must be a finite number)"));
        }
        if self.sample_every > 0 && self.sample_length == 0 {
            return bad("sample_length", "must be at least 1 when sampling".into());
        }
        Ok(())
    }
}

/// The machine's cores: the default `threads` (measured fastest where B > 1,
/// no slower at B = 1; see docs/speed.md).
pub fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_original() {
        let c = TrainConfig::parse("").unwrap();
        assert_eq!(
            (c.hidden_size, c.seq_length, c.learning_rate, c.clip),
            (100, 25, 0.1, 5.0)
        );
        c.validate().unwrap();
    }

    #[test]
    fn unknown_key_suggests_the_closest() {
        let e = TrainConfig::parse("hiden_size = 3")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`hiden_size`") && e.contains("`hidden_size`"),
            "{e}"
        );
    }

    #[test]
    fn every_key_is_listed() {
        let toml = TrainConfig {
            init_weights: Some("w".into()),
            forget_bias: Some(1.0),
            ..Default::default()
        }
        .to_toml();
        let mut keys: Vec<&str> = toml.lines().filter_map(|l| l.split(" =").next()).collect();
        keys.sort();
        let mut want = KEYS.to_vec();
        want.sort();
        assert_eq!(keys, want);
    }

    #[test]
    fn bad_values_name_the_key() {
        let c = TrainConfig::parse("learning_rate = -1.0").unwrap();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("learning_rate")
        );
        let c = TrainConfig::parse("clip = 0.0").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("clip"));
        let c = TrainConfig::parse("locked_dropout = true").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("locked_dropout") && e.contains("dropout is 0"),
            "{e}"
        );
        let c = TrainConfig::parse("locked_dropout = true\ndropout = 0.1").unwrap();
        assert!(c.validate().is_ok());
        let e = TrainConfig::parse("seed = 1\nseq_length = -3")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2 (`seq_length = -3`)"), "{e}");
    }
}
