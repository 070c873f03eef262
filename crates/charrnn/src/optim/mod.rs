//! The optimizers a run can pick, each behind Burn's [`ModuleOptimizer`] so
//! that one training loop drives them all and one burnpack blob checkpoints
//! any of their states:
//!
//! - `adagrad`: min-char-rnn's own update ([`ClampedAdagrad`], the default);
//! - `sgd`: plain `p −= lr·g` (Burn's `Sgd` without momentum);
//! - `rmsprop`, `adam`: PyTorch's formulas ([`RmsProp`], [`Adam`]), with
//!   their hyper-parameters from the config as f64.
//!
//! Every gradient is clamped elementwise to [−clip, clip] first, in the run's
//! precision (Adagrad clamps itself, as the original does; [`Clamped`] wraps
//! the others).

mod adagrad;
mod adam;
mod clamped;
mod rmsprop;
pub mod state;

pub use adagrad::{AdagradState, ClampedAdagrad, EPSILON};
pub use adam::{Adam, AdamState};
pub use clamped::Clamped;
pub use rmsprop::{RmsProp, RmsPropState};

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::Problem;
use crate::models::Network;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    #[default]
    Adagrad,
    Sgd,
    Rmsprop,
    Adam,
}

crate::named_enum!(OptimizerKind, "optimizer", {
    Adagrad => "adagrad",
    Sgd => "sgd",
    Rmsprop => "rmsprop",
    Adam => "adam",
});

/// An optimizer and its hyper-parameters (the config's keys).
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerSettings {
    pub kind: OptimizerKind,
    pub clip: f64,
    /// Adam's β₁, β₂.
    pub beta1: f64,
    pub beta2: f64,
    /// RMSprop's smoothing constant α and momentum.
    pub alpha: f64,
    pub momentum: f64,
    /// Adam's and RMSprop's ε (Adagrad keeps the original's 1e-8).
    pub epsilon: f64,
    /// Adam's decoupled weight decay (AdamW).
    pub weight_decay: f64,
}

impl OptimizerSettings {
    /// The optimizer, with empty state.
    pub fn init(&self) -> ModuleOptimizer {
        match self.kind {
            OptimizerKind::Adagrad => ClampedAdagrad::new(self.clip).init(),
            OptimizerKind::Sgd => Clamped::new(SgdConfig::new().build(), self.clip).init(),
            OptimizerKind::Rmsprop => Clamped::new(
                RmsProp {
                    alpha: self.alpha,
                    momentum: self.momentum,
                    epsilon: self.epsilon,
                },
                self.clip,
            )
            .init(),
            OptimizerKind::Adam => Clamped::new(
                Adam {
                    beta1: self.beta1,
                    beta2: self.beta2,
                    epsilon: self.epsilon,
                    weight_decay: self.weight_decay,
                },
                self.clip,
            )
            .init(),
        }
    }
}

impl OptimizerSettings {
    /// The optimizer with state restored from burnpack `bytes` (a
    /// checkpoint's), checked against `model` (on an autodiff device) before
    /// Burn reads it: every tensor must belong to one of the network's
    /// parameters, with its shape and the run's dtype ([`state::SavedState`]).
    /// Then one trial step on a copy, with zero gradients, must leave every
    /// weight finite.
    pub fn restore(&self, bytes: Bytes, model: &Network) -> Result<ModuleOptimizer, Problem> {
        let saved = state::SavedState::read(&bytes)?;
        saved.check(&model.spec(), model.precision().dtype())?;
        let optim = self
            .init()
            .from_bytes(bytes)
            .map_err(|e| Problem::BadOptimizer(format!("{e:?}")))?;
        let loss = zero_loss(model);
        let grads = GradientsParams::from_grads(loss.backward(), model);
        let trial = optim.clone().step(1e-3, model.clone(), grads).to_weights();
        crate::weights::check_finite(&trial)
            .map_err(|e| Problem::BadOptimizer(format!("a trial step makes {e}")))?;
        Ok(optim)
    }
}

/// 0 · Σ every parameter: a loss whose gradients are all zero.
fn zero_loss(model: &Network) -> burn::tensor::Tensor<1> {
    struct Sum(Option<burn::tensor::Tensor<1>>);
    impl burn::module::ModuleVisitor for Sum {
        fn visit_float<const D: usize>(
            &mut self,
            param: &burn::module::Param<burn::tensor::Tensor<D>>,
        ) {
            let s = param.val().sum().mul_scalar(0.0);
            self.0 = Some(match self.0.take() {
                Some(acc) => acc + s,
                None => s,
            });
        }
    }
    let mut sum = Sum(None);
    model.visit(&mut sum);
    sum.0.expect("a network has parameters")
}
