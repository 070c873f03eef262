//! The tanh RNN layer's step (min-char-rnn's, PyTorch's `nn.RNN`) as one
//! kernel forward and one backward (see [`super`] for the scheme):
//!
//!   forward, thread (b, j):   h_t = tanh(XP_t[b, j] + Σ_k h_{t−1}[b, k]·W[k, j])
//!   backward, thread (b, k):  dh = dh_t(from above) + Σ_j dA_{t+1}[b, j]·W[k, j]
//!                             dA_t = dh·(1 − h_t²)
//!
//! Shapes: XP [T·B, H] (x·W_ih + both biases), h0 [B, H], W [H, H]; the
//! output is every step's h [T·B, H].

use burn::backend::cubecl::dtype_to_storage_type;
use burn_cubecl::CubeBackend;
use burn_cubecl::cubecl::{self, prelude::*};
use burn_cubecl::tensor::CubeTensor;

use crate::lstm_layer::recurrent_weight_grad;

use super::{contiguous, empty, grid, recurrent_grad, sizes};

/// Step t's forward: writes row t of `out`; h_{t−1} is h0 at the first step
/// and row t − 1 of `out` after it.
#[cube(launch)]
fn forward_step<F: Float>(
    xp: &Tensor<F>,
    h0: &Tensor<F>,
    w: &Tensor<F>,
    out: &mut Tensor<F>,
    t: u32,
    #[comptime] first: bool,
    #[define(F)] _dtype: ElemType,
) {
    let batch = h0.shape(0);
    let hidden = h0.shape(1);
    let pos = ABSOLUTE_POS;
    if pos >= batch * hidden {
        terminate!();
    }
    let b = pos / hidden;
    let j = pos % hidden;
    let row = t as usize * batch + b;
    let mut acc = F::new(0.0_f32);
    for k in 0..hidden {
        let hk = if first {
            h0[b * hidden + k]
        } else {
            out[(row - batch) * hidden + k]
        };
        acc += hk * w[k * hidden + j];
    }
    out[row * hidden + j] = F::tanh(xp[row * hidden + j] + acc);
}

/// Step t's backward: writes row t of `d_pre`, the pre-activation's gradient.
#[cube(launch)]
fn backward_step<F: Float>(
    grad: &Tensor<F>,
    out: &Tensor<F>,
    w: &Tensor<F>,
    d_pre: &mut Tensor<F>,
    t: u32,
    batch: u32,
    #[comptime] last: bool,
    #[define(F)] _dtype: ElemType,
) {
    let batch = batch as usize;
    let hidden = w.shape(0);
    let pos = ABSOLUTE_POS;
    if pos >= batch * hidden {
        terminate!();
    }
    let b = pos / hidden;
    let k = pos % hidden;
    let row = t as usize * batch + b;
    let mut dh = grad[row * hidden + k];
    if !last {
        let mut acc = F::new(0.0_f32);
        for j in 0..hidden {
            acc += d_pre[(row + batch) * hidden + j] * w[k * hidden + j];
        }
        dh += acc;
    }
    let h = out[row * hidden + k];
    d_pre[row * hidden + k] = dh * (F::new(1.0_f32) - h * h);
}

/// What the forward keeps for the backward: its output.
#[derive(Clone, Debug)]
pub struct Saved {
    /// [T·B, H]: every step's h.
    out: CubeTensor,
}

/// The layer over a chunk: T launches of [`forward_step`].
pub(crate) fn forward(xp: CubeTensor, h0: CubeTensor, w_hh: CubeTensor) -> (CubeTensor, Saved) {
    let [xp, h0, w] = [xp, h0, w_hh].map(contiguous);
    let (steps, b, h) = sizes(&xp, &h0);
    let out = empty(&xp, [steps * b, h]);
    let (count, dim) = grid(&xp, b * h);
    for t in 0..steps {
        forward_step::launch(
            &xp.client,
            count.clone(),
            dim,
            xp.clone().into_tensor_arg(),
            h0.clone().into_tensor_arg(),
            w.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            t as u32,
            t == 0,
            dtype_to_storage_type(xp.dtype),
        );
    }
    (out.clone(), Saved { out })
}

/// The inputs' gradients [dXP, dh0, dW_hh] from the output's gradient
/// [T·B, H]: T launches of [`backward_step`], then dh_0 and dW_hh.
pub(crate) fn backward(
    grad: CubeTensor,
    h0: CubeTensor,
    w_hh: CubeTensor,
    s: Saved,
) -> [CubeTensor; 3] {
    let [grad, h0, w] = [grad, h0, w_hh].map(contiguous);
    let (steps, b, h) = sizes(&s.out, &h0);
    let d_pre = empty(&grad, [steps * b, h]);
    let (count, dim) = grid(&grad, b * h);
    for t in (0..steps).rev() {
        backward_step::launch(
            &grad.client,
            count.clone(),
            dim,
            grad.clone().into_tensor_arg(),
            s.out.clone().into_tensor_arg(),
            w.clone().into_tensor_arg(),
            d_pre.clone().into_tensor_arg(),
            t as u32,
            b as u32,
            t + 1 == steps,
            dtype_to_storage_type(grad.dtype),
        );
    }
    let dh0 = recurrent_grad(&d_pre, &w, None, b, h);
    let d_w = recurrent_weight_grad::<CubeBackend>(h0, &s.out, d_pre.clone());
    [d_pre, dh0, d_w]
}
