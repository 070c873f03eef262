//! The optimizers a run can pick, each behind Burn's [`ModuleOptimizer`] so
//! that one training loop drives them all and one burnpack blob checkpoints
//! any of their states:
//!
//! - `adagrad`: min-char-rnn's own update ([`ClampedAdagrad`], the default);
//! - `sgd`: plain `p −= lr·g` (Burn's `Sgd` without momentum);
//! - `rmsprop`, `adam`: Burn's own, with their hyper-parameters from the
//!   config.
//!
//! Every gradient is clamped elementwise to [−clip, clip] first, in the run's
//! precision ([`Clamped`] for Burn's optimizers; Adagrad clamps itself, as
//! the original does).

mod adagrad;
mod clamped;
pub mod state;

pub use adagrad::{AdagradState, ClampedAdagrad, EPSILON};
pub use clamped::Clamped;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, RmsPropConfig, SgdConfig};
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
}

impl OptimizerSettings {
    /// The optimizer, with empty state.
    pub fn init(&self) -> ModuleOptimizer {
        // Burn keeps these hyper-parameters as f32.
        let f = |x: f64| x as f32;
        match self.kind {
            OptimizerKind::Adagrad => ClampedAdagrad::new(self.clip).init(),
            OptimizerKind::Sgd => Clamped::new(SgdConfig::new().build(), self.clip).init(),
            OptimizerKind::Rmsprop => Clamped::new(
                RmsPropConfig::new()
                    .with_alpha(f(self.alpha))
                    .with_momentum(f(self.momentum))
                    .with_epsilon(f(self.epsilon))
                    .build(),
                self.clip,
            )
            .init(),
            OptimizerKind::Adam => Clamped::new(
                AdamConfig::new()
                    .with_beta_1(f(self.beta1))
                    .with_beta_2(f(self.beta2))
                    .with_epsilon(f(self.epsilon))
                    .build(),
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
