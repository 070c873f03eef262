//! The run configuration: a TOML file whose every key has a default (the
//! original's settings), unknown keys refused with the closest valid key
//! suggested, and values validated before anything is written.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Precision;
use crate::error::{ConfigProblem, Error, Result};
use crate::models::{ModelKind, ModelSpec};
use crate::optim::{OptimizerKind, OptimizerSettings};

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
    /// Seeds the weights (when not loaded) and the sampler.
    pub seed: u64,
    pub precision: Precision,
    /// Backend name; the binary knows which are compiled in.
    pub backend: String,
    /// Parallel streams; 1 is the original.
    pub batch_size: usize,
    /// CPU threads for the large matrix products (flex and ndarray): 2 paid
    /// at hidden size 512, not at 100–128 (see README, Speed).
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
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            data: PathBuf::from("data/tinyshakespeare.txt"),
            hidden_size: 100,
            seq_length: 25,
            learning_rate: 0.1,
            clip: 5.0,
            iterations: 0,
            seed: 1,
            precision: Precision::F32,
            backend: "flex".into(),
            batch_size: 1,
            threads: 1,
            print_every: 100,
            sample_every: 100,
            sample_length: 200,
            checkpoint_every: 1000,
            init_weights: None,
            model: ModelKind::Rnn,
            layers: 1,
            dropout: 0.0,
            optimizer: OptimizerKind::Adagrad,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            rmsprop_alpha: 0.99,
            rmsprop_momentum: 0.0,
            epsilon: 1e-8,
            val_fraction: 0.0,
            eval_every: 1000,
        }
    }
}

/// The keys a config file may hold.
pub const KEYS: [&str; 27] = [
    "data",
    "hidden_size",
    "seq_length",
    "learning_rate",
    "clip",
    "iterations",
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
    "optimizer",
    "adam_beta1",
    "adam_beta2",
    "rmsprop_alpha",
    "rmsprop_momentum",
    "epsilon",
    "val_fraction",
    "eval_every",
];

impl TrainConfig {
    /// Reads a config file; relative paths inside it are made relative to its folder.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|error| Error::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let mut config = Self::parse(&text).map_err(|problem| Error::Config {
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

    /// Chars held out for validation out of `text_len` (the last ones).
    pub fn val_chars(&self, text_len: usize) -> usize {
        (self.val_fraction * text_len as f64).floor() as usize
    }

    pub fn optimizer_settings(&self) -> OptimizerSettings {
        OptimizerSettings {
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
        if self.sample_every > 0 && self.sample_length == 0 {
            return bad("sample_length", "must be at least 1 when sampling".into());
        }
        Ok(())
    }
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
        let e = TrainConfig::parse("seed = 1\nseq_length = -3")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2 (`seq_length = -3`)"), "{e}");
    }
}
