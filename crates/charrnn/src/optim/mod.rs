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

pub use adagrad::{AdagradState, ClampedAdagrad, EPSILON};
pub use clamped::Clamped;

use burn::optim::{AdamConfig, ModuleOptimizer, RmsPropConfig, SgdConfig};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    #[default]
    Adagrad,
    Sgd,
    Rmsprop,
    Adam,
}

impl OptimizerKind {
    pub const ALL: [OptimizerKind; 4] = [
        OptimizerKind::Adagrad,
        OptimizerKind::Sgd,
        OptimizerKind::Rmsprop,
        OptimizerKind::Adam,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Adagrad => "adagrad",
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Rmsprop => "rmsprop",
            OptimizerKind::Adam => "adam",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}

impl std::fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

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
