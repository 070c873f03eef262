//! Checkpoints: everything a run needs to continue bit for bit, in one
//! safetensors file written atomically (`<dir>/checkpoint.safetensors`):
//!
//! tensors   Wxh Whh Why bh by (original layout, the run's precision),
//!           h [B,H] (the carried hidden state), optimizer (u8: Burn's
//!           burnpack bytes of the ModuleOptimizer, i.e. the Adagrad memories)
//! metadata  vocab, iter, p, smooth_loss, rng (the sampler's ChaCha state),
//!           config (the resolved TOML), precision, backend, format
//!
//! One file means one rename: a crash at any instant leaves the previous
//! checkpoint whole; a leftover `.tmp` sibling is never read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Bytes, DType, TensorData};
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::config::TrainConfig;
use crate::data::Vocab;
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::model::Weights;
use crate::Precision;

pub const FILE_NAME: &str = "checkpoint.safetensors";
const FORMAT: &str = "charrnn-checkpoint-1";

pub struct Checkpoint {
    pub weights: Weights,
    pub vocab: Vocab,
    pub config: TrainConfig,
    pub backend: String,
    pub iter: u64,
    pub p: usize,
    pub smooth_loss: f64,
    /// [B,H]
    pub h: TensorData,
    pub rng: ChaCha8Rng,
    /// The optimizer state as burnpack bytes.
    pub optimizer: Vec<u8>,
}

/// `path` itself if it is a file, else `<path>/checkpoint.safetensors`.
pub fn file_in(path: &Path) -> PathBuf {
    if path.is_dir() { path.join(FILE_NAME) } else { path.to_path_buf() }
}

impl Checkpoint {
    pub fn precision(&self) -> Precision {
        self.weights.precision()
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        let mut meta: HashMap<String, String> = HashMap::new();
        meta.insert("format".into(), FORMAT.into());
        meta.insert("vocab".into(), self.vocab.to_json());
        meta.insert("iter".into(), self.iter.to_string());
        meta.insert("p".into(), self.p.to_string());
        // Display of an f64 is the shortest string that reads back to the same bits.
        meta.insert("smooth_loss".into(), self.smooth_loss.to_string());
        meta.insert("rng".into(), serde_json::to_string(&self.rng).expect("rng serialises"));
        meta.insert("config".into(), self.config.to_toml());
        meta.insert("precision".into(), self.precision().name().into());
        meta.insert("backend".into(), self.backend.clone());
        let float = |d: &TensorData| if d.dtype() == DType::F64 { Dtype::F64 } else { Dtype::F32 };
        let mut views: Vec<(&str, TensorView<'_>)> = Vec::new();
        for (name, d) in self.weights.named().into_iter().chain([("h", &self.h)]) {
            let v = TensorView::new(float(d), d.shape().to_vec(), d.as_bytes()).expect("shape matches");
            views.push((name, v));
        }
        let opt = TensorView::new(Dtype::U8, vec![self.optimizer.len()], &self.optimizer).expect("u8 view");
        views.push(("optimizer", opt));
        let bytes = safetensors::serialize(views, Some(meta)).expect("checkpoint serialises");
        write_atomic(&dir.join(FILE_NAME), &bytes)
    }

    /// Loads `<dir>/checkpoint.safetensors` (or a checkpoint file given directly).
    pub fn load(path: &Path) -> Result<Self> {
        let file = file_in(path);
        let bytes = std::fs::read(&file).map_err(|e| Error::Checkpoint {
            path: path.to_path_buf(),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                format!("no {FILE_NAME} there")
            } else {
                e.to_string()
            },
        })?;
        Self::from_bytes(&bytes).map_err(|message| Error::Checkpoint { path: file, message })
    }

    fn from_bytes(bytes: &[u8]) -> std::result::Result<Self, String> {
        let corrupt = |e: safetensors::SafeTensorError| format!("truncated or corrupt ({e})");
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(corrupt)?;
        let tensors = SafeTensors::deserialize(bytes).map_err(corrupt)?;
        let meta = header.metadata().clone().unwrap_or_default();
        let get = |k: &str| meta.get(k).cloned().ok_or_else(|| format!("missing `{k}` (not a charrnn checkpoint?)"));
        if get("format")? != FORMAT {
            return Err(format!("unknown format {:?}", get("format")?));
        }
        let num = |k: &str| -> std::result::Result<u64, String> {
            get(k)?.parse().map_err(|_| format!("`{k}` is not a number"))
        };
        let (weights, vocab) = crate::weights::from_bytes(bytes)?;
        let config = TrainConfig::parse(&get("config")?)?;
        let h = tensors.tensor("h").map_err(|_| "no hidden state `h`".to_string())?;
        let h = TensorData::from_bytes_vec(h.data().to_vec(), h.shape().to_vec(), weights.wxh.dtype());
        let optimizer = tensors.tensor("optimizer").map_err(|_| "no optimizer state".to_string())?;
        Ok(Self {
            weights,
            vocab,
            config,
            backend: get("backend")?,
            iter: num("iter")?,
            p: num("p")? as usize,
            smooth_loss: get("smooth_loss")?.parse().map_err(|_| "bad smooth_loss".to_string())?,
            h,
            rng: serde_json::from_str(&get("rng")?).map_err(|e| format!("bad rng state: {e}"))?,
            optimizer: optimizer.data().to_vec(),
        })
    }

    /// The optimizer state as Burn wants it.
    pub fn optimizer_bytes(&self) -> Bytes {
        Bytes::from_bytes_vec(self.optimizer.clone())
    }
}
