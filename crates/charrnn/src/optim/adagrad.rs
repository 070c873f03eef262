//! min-char-rnn's Adagrad with clamp-by-value, exactly the original's update, as a Burn
//! [`Optimizer`] so that [`ModuleOptimizer`] drives it and saves its state:
//!
//!   g   = clamp(grad, −clip, clip)
//!   mem = mem + g²
//!   p   = p − lr·g / sqrt(mem + eps)      eps = 1e-8, inside the square root
//!
//! Burn's own `AdaGrad` puts epsilon outside the root (g / (sqrt(mem) + eps)),
//! so the two agree only at eps = 0 — the tests use that as an oracle. The
//! clamp lives here rather than in Burn's `GradientClipping::Value`, whose
//! threshold is an f32: a clip like 0.1 would not be the f64 value in f64 runs.

use burn::optim::{LearningRate, ModuleOptimizer, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

/// The original's epsilon.
pub const EPSILON: f64 = 1e-8;

#[derive(Clone, Debug)]
pub struct ClampedAdagrad {
    pub clip: f64,
    pub epsilon: f64,
}

impl ClampedAdagrad {
    pub fn new(clip: f64) -> Self {
        Self {
            clip,
            epsilon: EPSILON,
        }
    }

    /// The optimizer wrapped for a whole module.
    pub fn init(self) -> ModuleOptimizer {
        ModuleOptimizer::from(self)
    }
}

/// Per-parameter Adagrad memory: the running sum of squared clipped gradients.
#[derive(Clone, Debug)]
pub struct AdagradState<const D: usize> {
    pub mem: Tensor<D>,
}

// Written by hand rather than derived: the derive rebuilds tensors in the
// device's default dtype, which would turn an f64 memory into f32 on load.
impl<const D: usize> RecordState for AdagradState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "mem", self.mem.to_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let data = src.take_tensor(prefix, "mem")?;
        let dtype = data.dtype();
        Some(Self {
            mem: Tensor::from_data(data, (device, dtype)),
        })
    }
}

impl Optimizer for ClampedAdagrad {
    type State<const D: usize> = AdagradState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let g = grad.clamp(-self.clip, self.clip);
        let g2 = g.clone().square();
        let mem = match state {
            Some(state) => state.mem + g2,
            None => g2, // mem starts at zero
        };
        let step = g.mul_scalar(lr) / mem.clone().add_scalar(self.epsilon).sqrt();
        (tensor - step, Some(AdagradState { mem }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdagradState {
            mem: state.mem.to_device(device),
        }
    }
}
