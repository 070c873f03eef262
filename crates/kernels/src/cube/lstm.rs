//! The LSTM layer's step as one kernel forward and one backward (see
//! [`super`] for the scheme; the arithmetic is [`crate::lstm_cell`]'s):
//!
//!   forward, thread (b, j):   G[g] = XP_t[b, gH + j] + Σ_k h_{t−1}[b, k]·W[k, gH + j]
//!                             i f o = σ(G[0, 1, 3]);  g = tanh(G[2])
//!                             c_t = f·c_{t−1} + i·g;  h_t = o·tanh(c_t)
//!   backward, thread (b, k):  dh = dh_t(from above) + Σ_j dG_{t+1}[b, j]·W[k, j]
//!                             dc = dc_t + dh·o·(1 − tanh²c_t)
//!                             dG = [dc·g·i(1−i)  dc·c_{t−1}·f(1−f)  dc·i·(1−g²)  dh·tanh(c_t)·o(1−o)]
//!                             dc_{t−1} = dc·f
//!
//! Shapes: XP [T·B, 4H], h0 and c0 [B, H], W [H, 4H]; the output is
//! [(T+1)·B, H]: every step's h, then c_T.

use burn::backend::cubecl::dtype_to_storage_type;
use burn_cubecl::CubeBackend;
use burn_cubecl::cubecl::{self, prelude::*};
use burn_cubecl::tensor::CubeTensor;

use crate::lstm_layer::recurrent_weight_grad;

use super::{contiguous, empty, grid, recurrent_grad, sigmoid, sizes};

/// Step t's forward: writes rows t of `gates` (σ(i) σ(f) tanh(g) σ(o)),
/// `c_all` and `out`, and c_T into `out`'s last B rows at the last step.
/// h_{t−1}, c_{t−1} are h0, c0 at the first step and rows t − 1 of `out`,
/// `c_all` after it (written by the previous launch).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn forward_step<F: Float>(
    xp: &Tensor<F>,
    h0: &Tensor<F>,
    c0: &Tensor<F>,
    w: &Tensor<F>,
    gates: &mut Tensor<F>,
    c_all: &mut Tensor<F>,
    out: &mut Tensor<F>,
    t: u32,
    steps: u32,
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
    let width = 4 * hidden;
    let mut pi = F::new(0.0_f32);
    let mut pf = F::new(0.0_f32);
    let mut pg = F::new(0.0_f32);
    let mut po = F::new(0.0_f32);
    for k in 0..hidden {
        let hk = if first {
            h0[b * hidden + k]
        } else {
            out[(row - batch) * hidden + k]
        };
        let wk = k * width + j;
        pi += hk * w[wk];
        pf += hk * w[wk + hidden];
        pg += hk * w[wk + 2 * hidden];
        po += hk * w[wk + 3 * hidden];
    }
    let x = row * width + j;
    let i = sigmoid::<F>(xp[x] + pi);
    let f = sigmoid::<F>(xp[x + hidden] + pf);
    let g = F::tanh(xp[x + 2 * hidden] + pg);
    let o = sigmoid::<F>(xp[x + 3 * hidden] + po);
    let c_prev = if first {
        c0[pos]
    } else {
        c_all[(row - batch) * hidden + j]
    };
    let c = f * c_prev + i * g;
    gates[x] = i;
    gates[x + hidden] = f;
    gates[x + 2 * hidden] = g;
    gates[x + 3 * hidden] = o;
    c_all[row * hidden + j] = c;
    out[row * hidden + j] = o * F::tanh(c);
    if t + 1 == steps {
        out[(row + batch) * hidden + j] = c;
    }
}

/// Step t's backward: writes rows t of `d_gates` and dc_{t−1} into `dc`.
/// At the last step dh has no recurrent part and dc_t is c_T's own gradient
/// (`grad`'s last B rows); before it, dc_t is what step t + 1 left in `dc`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn backward_step<F: Float>(
    grad: &Tensor<F>,
    gates: &Tensor<F>,
    c_all: &Tensor<F>,
    c0: &Tensor<F>,
    w: &Tensor<F>,
    d_gates: &mut Tensor<F>,
    dc: &mut Tensor<F>,
    t: u32,
    #[comptime] first: bool,
    #[comptime] last: bool,
    #[define(F)] _dtype: ElemType,
) {
    let batch = c0.shape(0);
    let hidden = c0.shape(1);
    let pos = ABSOLUTE_POS;
    if pos >= batch * hidden {
        terminate!();
    }
    let b = pos / hidden;
    let k = pos % hidden;
    let row = t as usize * batch + b;
    let width = 4 * hidden;
    let mut dh = grad[row * hidden + k];
    if !last {
        let mut acc = F::new(0.0_f32);
        for j in 0..width {
            acc += d_gates[(row + batch) * width + j] * w[k * width + j];
        }
        dh += acc;
    }
    let dc_t = if last {
        grad[(row + batch) * hidden + k]
    } else {
        dc[pos]
    };
    let x = row * width + k;
    let i = gates[x];
    let f = gates[x + hidden];
    let g = gates[x + 2 * hidden];
    let o = gates[x + 3 * hidden];
    let tanh_c = F::tanh(c_all[row * hidden + k]);
    let c_prev = if first {
        c0[pos]
    } else {
        c_all[(row - batch) * hidden + k]
    };
    let one = F::new(1.0_f32);
    let d_o = dh * tanh_c;
    let dct = dc_t + dh * o * (one - tanh_c * tanh_c);
    d_gates[x] = dct * g * (i * (one - i));
    d_gates[x + hidden] = dct * c_prev * (f * (one - f));
    d_gates[x + 2 * hidden] = dct * i * (one - g * g);
    d_gates[x + 3 * hidden] = d_o * (o * (one - o));
    dc[pos] = dct * f;
}

/// What the forward keeps for the backward.
#[derive(Clone, Debug)]
pub struct Saved {
    /// [(T+1)·B, H]: every step's h, then c_T (the op's output).
    out: CubeTensor,
    /// [T·B, 4H]: σ(i) σ(f) tanh(g) σ(o).
    gates: CubeTensor,
    /// [T·B, H]: c_t.
    c: CubeTensor,
}

/// The layer over a chunk: T launches of [`forward_step`].
pub(crate) fn forward(
    xp: CubeTensor,
    h0: CubeTensor,
    c0: CubeTensor,
    w_hh: CubeTensor,
) -> (CubeTensor, Saved) {
    let [xp, h0, c0, w] = [xp, h0, c0, w_hh].map(contiguous);
    let (steps, b, h) = sizes(&xp, &h0);
    let gates = empty(&xp, [steps * b, 4 * h]);
    let c = empty(&xp, [steps * b, h]);
    let out = empty(&xp, [(steps + 1) * b, h]);
    let (count, dim) = grid(&xp, b * h);
    for t in 0..steps {
        forward_step::launch(
            &xp.client,
            count.clone(),
            dim,
            xp.clone().into_tensor_arg(),
            h0.clone().into_tensor_arg(),
            c0.clone().into_tensor_arg(),
            w.clone().into_tensor_arg(),
            gates.clone().into_tensor_arg(),
            c.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            t as u32,
            steps as u32,
            t == 0,
            dtype_to_storage_type(xp.dtype),
        );
    }
    let saved = Saved {
        out: out.clone(),
        gates,
        c,
    };
    (out, saved)
}

/// The inputs' gradients [dXP, dh0, dc0, dW_hh] from the output's gradient
/// [(T+1)·B, H]: T launches of [`backward_step`], then dh_0 and dW_hh.
pub(crate) fn backward(
    grad: CubeTensor,
    h0: CubeTensor,
    c0: CubeTensor,
    w_hh: CubeTensor,
    s: Saved,
) -> [CubeTensor; 4] {
    let [grad, h0, c0, w] = [grad, h0, c0, w_hh].map(contiguous);
    let (steps, b, h) = sizes(&s.gates, &h0);
    let d_gates = empty(&grad, [steps * b, 4 * h]);
    let dc = empty(&grad, [b, h]);
    let (count, dim) = grid(&grad, b * h);
    for t in (0..steps).rev() {
        backward_step::launch(
            &grad.client,
            count.clone(),
            dim,
            grad.clone().into_tensor_arg(),
            s.gates.clone().into_tensor_arg(),
            s.c.clone().into_tensor_arg(),
            c0.clone().into_tensor_arg(),
            w.clone().into_tensor_arg(),
            d_gates.clone().into_tensor_arg(),
            dc.clone().into_tensor_arg(),
            t as u32,
            t == 0,
            t + 1 == steps,
            dtype_to_storage_type(grad.dtype),
        );
    }
    let dh0 = recurrent_grad(&d_gates, &w, None, b, h);
    let d_w = recurrent_weight_grad::<CubeBackend>(h0, &s.out, d_gates.clone());
    [d_gates, dh0, dc, d_w]
}
