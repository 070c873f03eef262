//! A whole tanh RNN layer over a chunk as one registered operation, on the
//! cube backends only (one kernel per step each way, [`crate::cube::tanh`]):
//!
//!   forward, per step t:  h_t = tanh(XP_t + h_{t−1}·W_hh)      [B, H]
//!   backward, t = T−1…0:  dA_t = (dh_t + dA_{t+1}·W_hhᵀ) ⊙ (1 − h_t²)
//!                         then once: dW_hh = [h_0 … h_{T−1}]ᵀ·[dA_0; …]
//!
//! On the CPU the tanh RNN stays a step at a time through Burn's ops (its
//! hand-written backward, `backward.rs`, is the reference there, and at B 1
//! the CPU gains nothing from a fused layer); this op is for a GPU, where
//! every op is a launch.
//!
//! Shapes: XP [T·B, H] (x·W_ih + both biases, time-major), h0 [B, H],
//! W_hh [H, H]; the output is every step's h [T·B, H].

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::{Autodiff, Backend, Dispatch, backend_extension, tensor::FloatTensor};
use burn::tensor::Tensor;
use burn_cubecl::CubeBackend;

use crate::cube::tanh::{Saved, backward, forward};

/// Runs the layer through Burn's dispatch: every step's h [T·B, H].
pub fn apply(xp: Tensor<2>, h0: Tensor<2>, w_hh: Tensor<2>) -> Tensor<2> {
    Tensor::<2>::from_dispatch(<Dispatch as TanhLayer>::tanh_layer(
        xp.into_dispatch(),
        h0.into_dispatch(),
        w_hh.into_dispatch(),
    ))
}

#[backend_extension(Cube, Autodiff)]
pub trait TanhLayer: Backend {
    /// XP [T·B, H], h0 [B, H], W_hh [H, H] → [T·B, H].
    fn tanh_layer(
        xp: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

impl TanhLayer for CubeBackend {
    fn tanh_layer(
        xp: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        forward(xp, h0, w_hh).0
    }
}

#[derive(Debug)]
struct TanhLayerBackward;

#[derive(Clone, Debug)]
struct State {
    h0: FloatTensor<CubeBackend>,
    w_hh: FloatTensor<CubeBackend>,
    saved: Saved,
}

impl Backward<CubeBackend, 3> for TanhLayerBackward {
    type State = State;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<CubeBackend>(&ops.node);
        let State { h0, w_hh, saved } = ops.state;
        let inputs = backward(grad, h0, w_hh, saved);
        for (parent, g) in ops.parents.into_iter().zip(inputs) {
            if let Some(node) = parent {
                grads.register::<CubeBackend>(node.id, g);
            }
        }
    }
}

/// Autodiff: the cube forward, and a backward node that runs the cube
/// backward.
impl<C: CheckpointStrategy> TanhLayer for Autodiff<CubeBackend, C> {
    fn tanh_layer(
        xp: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (xp, n_xp) = xp.into_parts();
        let (h0, n_h0) = h0.into_parts();
        let (w_hh, n_w) = w_hh.into_parts();
        match TanhLayerBackward
            .prepare::<C>([n_xp, n_h0, n_w])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (out, saved) = forward(xp, h0.clone(), w_hh.clone());
                prep.finish(State { h0, w_hh, saved }, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(forward(xp, h0, w_hh).0),
        }
    }
}
