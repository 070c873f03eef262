//! Weight averaging (`ema`): an exponential moving average of the weights,
//! kept beside the trained ones and used wherever the run's model is
//! evaluated or handed out (validation, best.safetensors, weights.safetensors,
//! the test set). Training itself never reads it.
//!
//! After the step of iteration t (0-based), with d = min(ema, (1 + t)/(10 + t)):
//!
//!   w̄ ← d·w̄ + (1 − d)·w        w̄ starts as the initial weights
//!
//! The cap (TensorFlow's `num_updates` rule) lets the average leave the
//! random initial weights within the first iterations instead of carrying
//! them for ~1/(1 − ema) steps. The average is in the run's precision and
//! lives in the checkpoint, so a resumed run continues it bit for bit.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

use crate::models::Network;

/// The decay of iteration `t`: `ema`, capped by (1 + t)/(10 + t).
pub fn decay(ema: f64, t: u64) -> f64 {
    ema.min((1 + t) as f64 / (10 + t) as f64)
}

/// The averaged network (on a plain device) and its decay.
#[derive(Clone, Debug)]
pub struct Average {
    pub ema: f64,
    pub network: Network,
}

impl Average {
    /// An average starting at `model`'s weights.
    pub fn new(ema: f64, model: &Network) -> Self {
        Self {
            ema,
            network: model.valid(),
        }
    }

    /// Folds `model`'s weights after the step of iteration `t` into the average.
    pub fn update(&mut self, model: &Network, t: u64) {
        let mut weights = Flat(Vec::new());
        model.valid().visit(&mut weights);
        let mut blend = Blend {
            weights: weights.0.into_iter(),
            d: decay(self.ema, t),
        };
        self.network = self.network.clone().map(&mut blend);
    }
}

/// Every parameter's values, flattened, in the module's visiting order.
struct Flat(Vec<Tensor<1>>);

impl ModuleVisitor for Flat {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().flatten(0, D - 1));
    }
}

/// w̄ ← d·w̄ + (1 − d)·w, parameter by parameter in the same order.
struct Blend<I> {
    weights: I,
    d: f64,
}

impl<I: Iterator<Item = Tensor<1>>> ModuleMapper for Blend<I> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let w = self.weights.next().expect("the same network");
        let avg = param.val();
        let w: Tensor<D> = w.reshape(avg.shape());
        let blended = avg.mul_scalar(self.d) + w.mul_scalar(1.0 - self.d);
        Param::initialized(param.id, blended)
    }
}
