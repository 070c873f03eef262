//! Checkpoints: everything a run needs to continue bit for bit, in one
//! safetensors file written atomically (`<dir>/checkpoint.safetensors`):
//!
//! tensors   the weights (their file layout: `Wxh … by` for the original,
//!           PyTorch's names otherwise; the run's precision), the carried
//!           state (`h` for the original; `h_l{k}`, `c_l{k}` per layer),
//!           `optimizer` (u8: Burn's burnpack bytes of the ModuleOptimizer,
//!           i.e. Adagrad's memories, Adam's moments, RMSprop's averages),
//!           with `ema`: the averaged weights, `average/<name>` each
//! metadata  vocab, iter, p, smooth_loss, rng (the sampler's ChaCha state),
//!           dropout_rng (the masks' generator), config (the resolved TOML),
//!           precision, backend, format
//!
//! One file means one rename: a crash at any instant leaves the previous
//! checkpoint whole; a leftover `.tmp` sibling is never read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Bytes, DType, TensorData};
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::Precision;
use crate::config::TrainConfig;
use crate::data::Vocab;
use crate::dropout::Dropout;
use crate::error::{Error, Problem, Result};
use crate::eval::EvalProgress;
use crate::fsutil::write_atomic;
use crate::models::{Layout, NamedWeights, layout, params};

pub const FILE_NAME: &str = "checkpoint.safetensors";
const FORMAT: &str = "charrnn-checkpoint-2";
/// Format 1 (min-char-rnn only, no dropout) still loads.
const FORMAT_1: &str = "charrnn-checkpoint-1";

pub struct Checkpoint {
    pub weights: NamedWeights,
    pub vocab: Vocab,
    pub config: TrainConfig,
    pub backend: String,
    pub iter: u64,
    pub p: usize,
    pub smooth_loss: f64,
    /// The carried state, [B,H] parts in the network's order.
    pub state: Vec<TensorData>,
    pub rng: ChaCha8Rng,
    pub dropout_rng: ChaCha8Rng,
    /// Training loss since the last evaluation and the best validation loss.
    pub eval: EvalProgress,
    /// The optimizer state as burnpack bytes.
    pub optimizer: Vec<u8>,
    /// The averaged weights (with `ema`), named as `weights` are.
    pub average: Option<NamedWeights>,
}

/// The averaged weights' tensor names: `average/<name>`.
const AVERAGE: &str = "average/";

/// `path` itself if it is a file, else `<path>/checkpoint.safetensors`.
pub fn file_in(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(FILE_NAME)
    } else {
        path.to_path_buf()
    }
}

fn float(d: &TensorData) -> Dtype {
    if d.dtype() == DType::F64 {
        Dtype::F64
    } else {
        Dtype::F32
    }
}

impl Checkpoint {
    /// The network the weights are (checked on load).
    pub fn spec(&self) -> crate::models::ModelSpec {
        layout::infer(&self.weights).expect("a checkpoint's weights are a network")
    }

    pub fn precision(&self) -> Precision {
        self.weights.precision()
    }

    /// The dropout generator as the checkpoint left it.
    pub fn dropout(&self) -> Dropout {
        Dropout {
            p: self.config.dropout,
            locked: self.config.locked_dropout,
            rng: self.dropout_rng.clone(),
        }
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        let mut meta: HashMap<String, String> = HashMap::new();
        meta.insert("format".into(), FORMAT.into());
        meta.insert("vocab".into(), self.vocab.to_json());
        meta.insert("iter".into(), self.iter.to_string());
        meta.insert("p".into(), self.p.to_string());
        // Display of an f64 is the shortest string that reads back to the same bits.
        meta.insert("smooth_loss".into(), self.smooth_loss.to_string());
        let json = |r: &ChaCha8Rng| serde_json::to_string(r).expect("rng serialises");
        meta.insert("rng".into(), json(&self.rng));
        meta.insert("dropout_rng".into(), json(&self.dropout_rng));
        meta.insert(
            "eval".into(),
            serde_json::to_string(&self.eval).expect("eval progress serialises"),
        );
        meta.insert("config".into(), self.config.to_toml());
        meta.insert("precision".into(), self.precision().name().into());
        meta.insert("backend".into(), self.backend.clone());
        let state_names = self.spec().state_names();
        let average_names: Vec<(String, &TensorData)> = self
            .average
            .iter()
            .flat_map(|w| w.named())
            .map(|(name, d)| (format!("{AVERAGE}{name}"), d))
            .collect();
        let mut views: Vec<(&str, TensorView<'_>)> = Vec::new();
        let tensors = self
            .weights
            .named()
            .into_iter()
            .chain(state_names.iter().map(String::as_str).zip(&self.state))
            .chain(average_names.iter().map(|(n, d)| (n.as_str(), *d)));
        for (name, d) in tensors {
            let v =
                TensorView::new(float(d), d.shape().to_vec(), d.as_bytes()).expect("shape matches");
            views.push((name, v));
        }
        let opt = TensorView::new(Dtype::U8, vec![self.optimizer.len()], &self.optimizer)
            .expect("u8 view");
        views.push(("optimizer", opt));
        let bytes = safetensors::serialize(views, Some(meta)).expect("checkpoint serialises");
        write_atomic(&dir.join(FILE_NAME), &bytes)
    }

    /// Loads `<dir>/checkpoint.safetensors` (or a checkpoint file given directly).
    pub fn load(path: &Path) -> Result<Self> {
        let file = file_in(path);
        let bytes = std::fs::read(&file).map_err(|error| {
            if error.kind() == std::io::ErrorKind::NotFound {
                Error::NoCheckpoint {
                    path: path.to_path_buf(),
                }
            } else {
                Error::Io {
                    path: file.clone(),
                    error,
                }
            }
        })?;
        Self::from_bytes(&bytes).map_err(|p| p.in_checkpoint(file))
    }

    /// Parses checkpoint bytes; the error says what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> std::result::Result<Self, Problem> {
        let corrupt = |e: safetensors::SafeTensorError| Problem::Corrupt(e.to_string());
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(corrupt)?;
        let tensors = SafeTensors::deserialize(bytes).map_err(corrupt)?;
        let meta = header.metadata().clone().unwrap_or_default();
        let get = |k: &str| {
            meta.get(k)
                .cloned()
                .ok_or_else(|| Problem::MissingKey(k.into()))
        };
        let format = get("format")?;
        if format != FORMAT && format != FORMAT_1 {
            return Err(Problem::UnknownFormat(format));
        }
        let bad = |k: &str, detail: String| Problem::BadKey {
            key: k.into(),
            detail,
        };
        let num = |k: &str| -> std::result::Result<u64, Problem> {
            get(k)?.parse().map_err(|_| bad(k, "not a number".into()))
        };
        let rng = |k: &str| -> std::result::Result<ChaCha8Rng, Problem> {
            serde_json::from_str(&get(k)?).map_err(|e| bad(k, e.to_string()))
        };
        let vocab = Vocab::from_json(&get("vocab")?)?;
        let config = TrainConfig::parse(&get("config")?).map_err(Problem::Config)?;
        config
            .validate()
            .map_err(|e| Problem::BadConfig(e.to_string()))?;
        let mut spec = config.spec(vocab.len());
        let first = params::table(&spec).remove(0).name;
        if spec.is_original() && tensors.tensor(&first).is_err() {
            // A one-layer tanh RNN that started from PyTorch's weights.
            spec.layout = Layout::PyTorch;
        }
        // A config that declares more parameters than the file holds bytes is
        // refused before its tensor names are even listed.
        let declared = params::count(&spec) * 4.0;
        if declared > bytes.len() as f64 {
            return Err(Problem::Oversized {
                network: spec.describe(),
                bytes: declared,
            });
        }
        let read = |name: &str| -> std::result::Result<TensorData, Problem> {
            let t = tensors.tensor(name).map_err(|_| Problem::Missing {
                missing: vec![name.into()],
                network: spec.describe(),
                expected: params::table(&spec).into_iter().map(|p| p.name).collect(),
            })?;
            crate::weights::float_data(name, &t)
        };
        // The network's tensors named `<prefix><name>`, checked: the weights
        // (no prefix) and, with `ema`, their average.
        let read_weights = |prefix: &str| -> std::result::Result<NamedWeights, Problem> {
            let mut named = Vec::new();
            for p in params::table(&spec) {
                let d = read(&format!("{prefix}{}", p.name))?;
                named.push((p.name, d));
            }
            let named = NamedWeights::new(named);
            layout::check(&named, &spec)?;
            crate::weights::check_finite(&named)?;
            Ok(named)
        };
        let weights = read_weights("")?;
        let average = match config.ema > 0.0 {
            true => Some(read_weights(AVERAGE)?),
            false => None,
        };
        let dtype = weights.tensors[0].1.dtype();
        let mut state = Vec::new();
        for name in spec.state_names() {
            let d = read(&name)?;
            if d.shape().as_slice() != [config.batch_size, spec.hidden] || d.dtype() != dtype {
                return Err(Problem::BadState {
                    name,
                    shape: d.shape().to_vec(),
                    dtype: d.dtype(),
                    batch: config.batch_size,
                    hidden: spec.hidden,
                });
            }
            state.push(d);
        }
        let optimizer = tensors
            .tensor("optimizer")
            .map_err(|_| Problem::NoOptimizer)?;
        let dropout_rng = if format == FORMAT_1 {
            Dropout::new(0.0, config.seed).rng
        } else {
            rng("dropout_rng")?
        };
        Ok(Self {
            weights,
            vocab,
            backend: get("backend")?,
            iter: num("iter")?,
            p: num("p")? as usize,
            smooth_loss: get("smooth_loss")?
                .parse()
                .map_err(|_| bad("smooth_loss", "not a number".into()))?,
            state,
            rng: rng("rng")?,
            dropout_rng,
            eval: match meta.get("eval") {
                Some(json) => serde_json::from_str(json).map_err(|e| bad("eval", e.to_string()))?,
                None => EvalProgress::default(),
            },
            optimizer: optimizer.data().to_vec(),
            average,
            config,
        })
    }

    /// The optimizer state as Burn wants it.
    pub fn optimizer_bytes(&self) -> Bytes {
        Bytes::from_bytes_vec(self.optimizer.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{ModelKind, ModelSpec};
    use rand::{Rng, SeedableRng};

    fn sample_checkpoint(precision: Precision) -> Checkpoint {
        let vocab = Vocab::from_chars("abcdé\n".chars().collect());
        let spec = ModelSpec::new(ModelKind::Rnn, 1, vocab.len(), 4);
        let weights = layout::random(&spec, 9, precision);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let _: u64 = rng.random(); // a state that is not the seed's start
        Checkpoint {
            weights,
            vocab,
            config: TrainConfig {
                batch_size: 2,
                hidden_size: 4,
                ema: 0.9,
                ..Default::default()
            },
            backend: "flex".into(),
            iter: 1234,
            p: 75,
            smooth_loss: 0.1 + 0.2, // not a short decimal: must round-trip exactly
            state: vec![precision.data(vec![0.5, -0.25, 1e-30, 0.3, 0.1, 0.2, 0.7, -0.9], [2, 4])],
            dropout_rng: Dropout::new(0.2, 3).rng,
            eval: EvalProgress {
                train_sum: 0.1 + 0.2,
                train_count: 7,
                best: Some(1.0 / 3.0),
                best_iter: Some(1000),
                since_best: 2,
            },
            rng,
            optimizer: vec![1, 2, 3, 250],
            average: Some(layout::random(&spec, 10, precision)),
        }
    }

    /// The evaluation period's running sums are f64s in JSON: each must come
    /// back with the same bits, or a run resumed between two evaluations
    /// writes a different mean training loss in eval.csv (serde_json parses
    /// floats approximately unless its `float_roundtrip` is on).
    #[test]
    fn eval_progress_round_trips_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let (mut sum, mut differ) = (0.0, 0);
        for _ in 0..20_000 {
            sum += rng.random_range(0.5..4.5);
            let eval = EvalProgress {
                train_sum: sum,
                best: Some(1.0 / sum),
                ..Default::default()
            };
            let json = serde_json::to_string(&eval).unwrap();
            let back: EvalProgress = serde_json::from_str(&json).unwrap();
            let bits = |e: &EvalProgress| (e.train_sum.to_bits(), e.best.map(f64::to_bits));
            differ += usize::from(bits(&back) != bits(&eval));
        }
        assert_eq!(differ, 0, "{differ} of 20,000 sums changed through JSON");
    }

    #[test]
    fn round_trips_every_field() {
        for precision in [Precision::F32, Precision::F64] {
            let dir = tempfile::tempdir().unwrap();
            let ck = sample_checkpoint(precision);
            ck.save(dir.path()).unwrap();
            let back = Checkpoint::load(dir.path()).unwrap();
            assert_eq!(back.weights, ck.weights);
            assert_eq!(back.vocab, ck.vocab);
            assert_eq!(back.config, ck.config);
            assert_eq!(
                (back.iter, back.p, back.smooth_loss.to_bits()),
                (ck.iter, ck.p, ck.smooth_loss.to_bits())
            );
            assert_eq!(back.state, ck.state);
            assert_eq!(back.rng, ck.rng);
            assert_eq!(back.dropout_rng, ck.dropout_rng);
            assert_eq!(back.eval, ck.eval);
            assert_eq!(back.optimizer, ck.optimizer);
            assert_eq!(back.average, ck.average);
            assert_ne!(back.average.as_ref(), Some(&back.weights));
            assert_eq!(
                (back.backend.as_str(), back.precision()),
                ("flex", precision)
            );
        }
    }

    #[test]
    fn a_leftover_temporary_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let ck = sample_checkpoint(Precision::F32);
        ck.save(dir.path()).unwrap();
        std::fs::write(
            crate::fsutil::temp_path(&dir.path().join(FILE_NAME)),
            b"torn half-write",
        )
        .unwrap();
        assert_eq!(Checkpoint::load(dir.path()).unwrap().iter, 1234);
    }

    #[test]
    fn truncation_and_corruption_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        sample_checkpoint(Precision::F64).save(dir.path()).unwrap();
        let file = dir.path().join(FILE_NAME);
        let bytes = std::fs::read(&file).unwrap();
        for bad in [&bytes[..bytes.len() - 1], &bytes[..100], &b"garbage"[..]] {
            std::fs::write(&file, bad).unwrap();
            let e = Checkpoint::load(dir.path())
                .err()
                .expect("refused")
                .to_string();
            assert!(e.contains("truncated or corrupt"), "{e}");
        }
    }
}
