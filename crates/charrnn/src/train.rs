//! The training loop, exactly the original's: a data pointer walking the text
//! T chars at a time, the wrap rule, the hidden state carried (detached) from
//! chunk to chunk, one optimizer step per chunk (Adagrad by default), and the
//! smooth loss. It runs any [`Network`] without asking which; dropout masks
//! come from a host generator that is part of the progress. The binary drives
//! it one step at a time and owns all printing and files.

use std::sync::Arc;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::checkpoint::Checkpoint;
use crate::config::TrainConfig;
use crate::data::Vocab;
use crate::data::{Chunk, Streams};
use crate::dropout::Dropout;
use crate::error::{Error, Result};
use crate::eval::EvalProgress;
use crate::models::{Network, State};
use crate::optim::{OptimizerKind, OptimizerSettings};
use crate::sample::sample;

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

pub struct Trainer {
    model: Option<Network>,
    pub optim: ModuleOptimizer,
    pub progress: Progress,
    pub streams: Streams,
    pub learning_rate: f64,
    ids: Arc<Vec<u32>>,
    device: Device,
}

impl Trainer {
    /// A fresh run of the original: Adagrad, no dropout, iteration 0, smooth
    /// loss −ln(1/V)·T, sampler seeded with `seed`.
    pub fn new(
        model: impl Into<Network>,
        ids: Arc<Vec<u32>>,
        streams: Streams,
        learning_rate: f64,
        clip: f64,
        seed: u64,
        device: &Device,
    ) -> Self {
        let adagrad = OptimizerSettings {
            kind: OptimizerKind::Adagrad,
            clip,
            ..TrainConfig::default().optimizer_settings()
        };
        Self::with_options(
            model.into(),
            &adagrad,
            0.0,
            ids,
            streams,
            learning_rate,
            seed,
            device,
        )
    }

    /// A fresh run of any network with any optimizer and dropout.
    #[allow(clippy::too_many_arguments)]
    pub fn with_options(
        model: Network,
        optimizer: &OptimizerSettings,
        dropout: f64,
        ids: Arc<Vec<u32>>,
        streams: Streams,
        learning_rate: f64,
        seed: u64,
        device: &Device,
    ) -> Self {
        let vocab = model.spec().vocab;
        let progress = Progress {
            iter: 0,
            p: 0,
            smooth_loss: -(1.0 / vocab as f64).ln() * streams.seq_length as f64,
            state: model.zero_state(streams.batch_size),
            rng: ChaCha8Rng::seed_from_u64(seed),
            dropout: Dropout::new(dropout, seed),
        };
        Self {
            model: Some(model),
            optim: optimizer.init(),
            progress,
            streams,
            learning_rate,
            ids,
            device: device.clone(),
        }
    }

    pub fn model(&self) -> &Network {
        self.model
            .as_ref()
            .expect("the model is only taken inside step")
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
        self.streams.chunk(&self.ids, pr.p)
    }

    /// One iteration. With `sample_length`, first samples that many chars from
    /// stream 0's hidden state before the step, seeded with the chunk's first
    /// input char (as the original does every 100 iterations). A non-finite
    /// loss stops before the update, so the model stays the last good one.
    pub fn step(&mut self, sample_length: Option<usize>) -> Result<Step> {
        let chunk = self.next_chunk();
        let model = self.model.take().expect("model present");
        let sampled = sample_length.map(|n| {
            let plain = model.valid();
            let state0 = self.progress.state.stream(0).detach().without_autodiff();
            sample(
                &plain,
                state0,
                chunk.inputs[0],
                n,
                1.0,
                &mut self.progress.rng,
                |_| {},
            )
        });
        let (inputs, targets) = chunk.to_device(&self.device);
        let spec = model.spec();
        let masks = self.progress.dropout.masks(
            spec.layers,
            chunk.inputs.len(),
            spec.hidden,
            model.precision(),
            &self.device,
        );
        let (loss_t, state) =
            model.forward(inputs, targets, &self.progress.state, masks.as_deref());
        let loss: f64 = loss_t.clone().into_scalar::<f64>();
        if !loss.is_finite() {
            self.model = Some(model);
            return Err(Error::NonFinite {
                iter: self.progress.iter,
                loss,
            });
        }
        let grads = GradientsParams::from_grads(loss_t.backward(), &model);
        self.model = Some(self.optim.step(self.learning_rate, model, grads));
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
        Ok(step)
    }

    /// Continues from a checkpoint: its optimizer state and progress (the
    /// trainer was built with the checkpoint's weights).
    pub fn restore(&mut self, optim: ModuleOptimizer, progress: Progress) {
        self.optim = optim;
        self.progress = progress;
    }

    /// Everything a checkpoint of this run holds: the trainer's own progress,
    /// weights and optimizer state, with the vocabulary, configuration and
    /// evaluation progress that the caller keeps.
    pub fn checkpoint(
        &self,
        vocab: &Vocab,
        config: &TrainConfig,
        eval: &EvalProgress,
    ) -> Result<Checkpoint> {
        let optimizer = self
            .optim
            .into_bytes()
            .map_err(|e| Error::Unknown(format!("cannot serialise the optimizer state: {e:?}")))?
            .to_vec();
        let pr = &self.progress;
        Ok(Checkpoint {
            weights: self.model().to_weights(),
            vocab: vocab.clone(),
            config: config.clone(),
            backend: config.backend.clone(),
            iter: pr.iter,
            p: pr.p,
            smooth_loss: pr.smooth_loss,
            state: self.state_data(),
            rng: pr.rng.clone(),
            dropout_rng: pr.dropout.rng.clone(),
            eval: eval.clone(),
            optimizer,
        })
    }

    /// The carried state as host data ([B,H] parts, in the network's order).
    pub fn state_data(&self) -> Vec<TensorData> {
        self.progress.state.to_data()
    }
}
