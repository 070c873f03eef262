//! Adam exactly as PyTorch's `torch.optim.Adam` (single-tensor path, no
//! AMSGrad), with every hyper-parameter an f64 so that an f64 run is the f64
//! algorithm (Burn's own Adam keeps β₁, β₂ and ε as f32). g is the gradient
//! after [`super::Clamped`]'s clamp:
//!
//!   t  = t + 1
//!   m  = m + (1 − β₁)·(g − m)                  (PyTorch's lerp)
//!   v  = β₂·v + (1 − β₂)·g²
//!   p  = p − (lr / (1 − β₁ᵗ))·m / (√v / √(1 − β₂ᵗ) + ε)   ε outside the root
//!
//! With `weight_decay` λ > 0 it is `torch.optim.AdamW`: first p ← p·(1 − lr·λ).
//!
//! Its state (`exp_avg`, `exp_avg_sq`, `step`: PyTorch's names) also loads
//! from checkpoints written with Burn's Adam (`momentum.moment_1`,
//! `momentum.moment_2`, `momentum.time`), which hold the same quantities.

use burn::optim::{LearningRate, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};
use burn_pack::Scalar;

use super::state::take;

#[derive(Clone, Debug)]
pub struct Adam {
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
    /// Decoupled weight decay λ (0: Adam).
    pub weight_decay: f64,
}

/// Per-parameter Adam state.
#[derive(Clone, Debug)]
pub struct AdamState<const D: usize> {
    /// Steps taken (t).
    pub step: u64,
    /// First moment m.
    pub exp_avg: Tensor<D>,
    /// Second moment v.
    pub exp_avg_sq: Tensor<D>,
}

// Written by hand: the derive rebuilds tensors in the device's default dtype
// (an f64 state would come back f32), and Burn's names must still load.
impl<const D: usize> RecordState for AdamState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "exp_avg", self.exp_avg.to_data());
        out.push_tensor(prefix, "exp_avg_sq", self.exp_avg_sq.to_data());
        out.push_scalar(prefix, "step", Scalar::UInt(self.step));
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let step = ["step", "momentum.time"]
            .iter()
            .find_map(|n| src.take_scalar(prefix, n))
            .and_then(|s| u64::try_from(s).ok())?;
        Some(Self {
            exp_avg: take(src, prefix, &["exp_avg", "momentum.moment_1"], device)?,
            exp_avg_sq: take(src, prefix, &["exp_avg_sq", "momentum.moment_2"], device)?,
            step,
        })
    }
}

impl Optimizer for Adam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        g: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (step, m, v) = match state {
            Some(s) => (s.step, s.exp_avg, s.exp_avg_sq),
            None => (0, g.zeros_like(), g.zeros_like()),
        };
        let step = step + 1;
        let m = m.clone() + (g.clone() - m).mul_scalar(1.0 - self.beta1);
        let v = v.mul_scalar(self.beta2) + g.clone().mul_scalar(1.0 - self.beta2) * g;
        let t = step as f64; // powf: the C library's pow, as Python's ** calls
        let step_size = lr / (1.0 - self.beta1.powf(t));
        let bias_correction2_sqrt = (1.0 - self.beta2.powf(t)).sqrt();
        let denom = v
            .clone()
            .sqrt()
            .div_scalar(bias_correction2_sqrt)
            .add_scalar(self.epsilon);
        let update = m.clone().mul_scalar(step_size) / denom;
        let tensor = if self.weight_decay > 0.0 {
            tensor.mul_scalar(1.0 - lr * self.weight_decay)
        } else {
            tensor
        };
        let state = AdamState {
            step,
            exp_avg: m,
            exp_avg_sq: v,
        };
        (tensor - update, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdamState {
            step: state.step,
            exp_avg: state.exp_avg.to_device(device),
            exp_avg_sq: state.exp_avg_sq.to_device(device),
        }
    }
}
