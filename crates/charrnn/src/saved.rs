//! Opening a trained model: the one place that reads a run directory, a
//! checkpoint file or a weights file (either naming) for sampling,
//! evaluation and anything that serves models. It checks the file's size and
//! the declared network against memory before building anything.

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use crate::checkpoint::{self, Checkpoint};
use crate::data::Vocab;
use crate::error::{Error, Result};
use crate::memory::{self, Estimate};
use crate::models::{ModelSpec, NamedWeights, Network};

/// A trained model on the host, with what is known of its run.
pub struct Saved {
    pub path: PathBuf,
    pub spec: ModelSpec,
    pub weights: NamedWeights,
    pub vocab: Vocab,
    /// The backend its run trained on (None for a lone weights file).
    pub backend: Option<String>,
    /// Iterations trained (None for a lone weights file).
    pub iterations: Option<u64>,
    /// The best validation loss of its run, in nats per char, if it validated.
    pub best_validation: Option<f64>,
}

impl Saved {
    /// Reads a run directory (its checkpoint), a checkpoint file, or any
    /// other file as a weights file.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(Error::NotFound {
                path: path.to_path_buf(),
            });
        }
        // The file is read whole: its size bounds what loading it can take.
        let file = checkpoint::file_in(path);
        let bytes = std::fs::metadata(&file).map_or(0, |m| m.len()) as f64;
        memory::check(
            &format!("reading {}", file.display()),
            &Estimate {
                text: 0.0,
                parameters: 3.0 * bytes,
                activations: 0.0,
            },
        )?;
        let is_weights =
            path.is_file() && path.file_name().is_some_and(|n| n != checkpoint::FILE_NAME);
        if is_weights {
            let (spec, weights, vocab) = crate::weights::load(path)?;
            return Ok(Self {
                path: path.to_path_buf(),
                spec,
                weights,
                vocab,
                backend: None,
                iterations: None,
                best_validation: None,
            });
        }
        let ck = Checkpoint::load(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            spec: ck.spec(),
            weights: ck.weights,
            vocab: ck.vocab,
            backend: Some(ck.backend),
            iterations: Some(ck.iter),
            best_validation: ck.eval.best,
        })
    }

    /// The network on `device` (a plain device: inference only), checked
    /// against memory first.
    pub fn network(&self, device: &Device) -> Result<Network> {
        memory::check(
            &format!("loading {}", self.spec.describe()),
            &Estimate::inference(&self.spec, self.weights.precision(), 1),
        )?;
        Network::load(&self.spec, &self.weights, device).map_err(|p| p.in_weights(&self.path))
    }
}
