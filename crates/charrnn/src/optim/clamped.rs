//! Any optimizer (Burn's SGD, charrnn's Adam and RMSprop) with every
//! gradient clamped elementwise to [−clip, clip] first, in the gradient's own precision (Burn's
//! `GradientClipping::Value` takes an f32 threshold, which is not the f64
//! value in f64 runs).

use burn::optim::{LearningRate, ModuleOptimizer, Optimizer};
use burn::tensor::{Device, Tensor};

#[derive(Clone)]
pub struct Clamped<O> {
    pub inner: O,
    pub clip: f64,
}

impl<O: Optimizer> Clamped<O> {
    pub fn new(inner: O, clip: f64) -> Self {
        Self { inner, clip }
    }

    /// The optimizer wrapped for a whole module.
    pub fn init(self) -> ModuleOptimizer {
        ModuleOptimizer::from(self)
    }
}

impl<O: Optimizer> Optimizer for Clamped<O> {
    type State<const D: usize> = O::State<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let grad = grad.clamp(-self.clip, self.clip);
        self.inner.step(lr, tensor, grad, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        O::to_device(state, device)
    }
}
