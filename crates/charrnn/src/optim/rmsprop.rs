//! RMSprop exactly as PyTorch's `torch.optim.RMSprop` (single-tensor path,
//! not centered), with f64 hyper-parameters (Burn's own keeps α, ε and the
//! momentum as f32). g is the gradient after [`super::Clamped`]'s clamp:
//!
//!   v   = α·v + (1 − α)·g²
//!   d   = √v + ε                                ε outside the root
//!   momentum μ > 0:  b = μ·b + g / d;  p = p − lr·b
//!   otherwise:       p = p − lr·g / d
//!
//! Its state (`square_avg`, `momentum_buffer`: PyTorch's names) also loads
//! from checkpoints written with Burn's RMSprop (`square_avg.square_avg`,
//! `momentum.buf`; its `centered.avg` copy of v is not needed).

use burn::optim::{LearningRate, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

use super::state::take;

#[derive(Clone, Debug)]
pub struct RmsProp {
    pub alpha: f64,
    pub momentum: f64,
    pub epsilon: f64,
}

/// Per-parameter RMSprop state.
#[derive(Clone, Debug)]
pub struct RmsPropState<const D: usize> {
    /// The running average of g², v.
    pub square_avg: Tensor<D>,
    /// The momentum buffer b (momentum > 0 only).
    pub momentum_buffer: Option<Tensor<D>>,
}

impl<const D: usize> RecordState for RmsPropState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "square_avg", self.square_avg.to_data());
        if let Some(b) = &self.momentum_buffer {
            out.push_tensor(prefix, "momentum_buffer", b.to_data());
        }
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let square_avg = take(
            src,
            prefix,
            &["square_avg", "square_avg.square_avg"],
            device,
        )?;
        let momentum_buffer = take(src, prefix, &["momentum_buffer", "momentum.buf"], device);
        // Burn's RMSprop also kept v as `centered.avg`; drop it with the rest.
        let _ = src.take_tensor(prefix, "centered.avg");
        Some(Self {
            square_avg,
            momentum_buffer,
        })
    }
}

impl Optimizer for RmsProp {
    type State<const D: usize> = RmsPropState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        g: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (v, buf) = match state {
            Some(s) => (s.square_avg, s.momentum_buffer),
            None => (g.zeros_like(), None),
        };
        let v = v.mul_scalar(self.alpha) + g.clone().mul_scalar(1.0 - self.alpha) * g.clone();
        let d = v.clone().sqrt().add_scalar(self.epsilon);
        let (update, buf) = if self.momentum > 0.0 {
            let buf = match buf {
                Some(b) => b.mul_scalar(self.momentum) + g / d,
                None => g / d, // the buffer starts at zero
            };
            (buf.clone().mul_scalar(lr), Some(buf))
        } else {
            (g.mul_scalar(lr) / d, None)
        };
        let state = RmsPropState {
            square_avg: v,
            momentum_buffer: buf,
        };
        (tensor - update, Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        RmsPropState {
            square_avg: state.square_avg.to_device(device),
            momentum_buffer: state.momentum_buffer.map(|b| b.to_device(device)),
        }
    }
}
