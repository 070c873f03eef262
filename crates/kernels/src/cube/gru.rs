//! The GRU layer's step as one kernel forward and one backward (see
//! [`super`] for the scheme; the arithmetic is [`crate::gru_cell`]'s):
//!
//!   forward, thread (b, j):   HP[g] = Σ_k h_{t−1}[b, k]·W[k, gH + j] + b_hh[gH + j]
//!                             r = σ(XP_t[b, j] + HP[0]);  z = σ(XP_t[b, H + j] + HP[1])
//!                             n = tanh(XP_t[b, 2H + j] + r·HP[2]);  h_t = n + z·(h_{t−1} − n)
//!   backward, thread (b, k):  dh = dh_t(from above) + (dh_{t+1}·z_{t+1} + Σ_j dHP_{t+1}[b, j]·W[k, j])
//!                             dz = dh·(h_{t−1} − n);  da_n = (dh − dh·z)·(1 − n²)
//!                             dXP = [da_n·HP_n·r(1−r)  dz·z(1−z)  da_n]
//!                             dHP = [dXP_r  dXP_z  da_n·r]
//!
//! Shapes: XP [T·B, 3H] (x·W_ih + b_ih), h0 [B, H], W [H, 3H], b_hh [1, 3H];
//! the output is every step's h [T·B, H].

use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::ops::FloatTensorOps;
use burn_cubecl::CubeBackend;
use burn_cubecl::cubecl::{self, prelude::*};
use burn_cubecl::tensor::CubeTensor;

use crate::lstm_layer::recurrent_weight_grad;

use super::{contiguous, empty, grid, recurrent_grad, sigmoid, sizes};

/// Step t's forward: writes rows t of `rz` (σ(r) σ(z)), `n`, `hp_n`
/// (HP's n block, bias in) and `out`. h_{t−1} is h0 at the first step and
/// row t − 1 of `out` after it.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn forward_step<F: Float>(
    xp: &Tensor<F>,
    h0: &Tensor<F>,
    w: &Tensor<F>,
    b_hh: &Tensor<F>,
    rz: &mut Tensor<F>,
    n_all: &mut Tensor<F>,
    hp_n_all: &mut Tensor<F>,
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
    let width = 3 * hidden;
    let mut pr = F::new(0.0_f32);
    let mut pz = F::new(0.0_f32);
    let mut pn = F::new(0.0_f32);
    for k in 0..hidden {
        let hk = if first {
            h0[b * hidden + k]
        } else {
            out[(row - batch) * hidden + k]
        };
        let wk = k * width + j;
        pr += hk * w[wk];
        pz += hk * w[wk + hidden];
        pn += hk * w[wk + 2 * hidden];
    }
    let x = row * width + j;
    let r = sigmoid::<F>(xp[x] + (pr + b_hh[j]));
    let z = sigmoid::<F>(xp[x + hidden] + (pz + b_hh[hidden + j]));
    let hp_n = pn + b_hh[2 * hidden + j];
    let n = F::tanh(xp[x + 2 * hidden] + r * hp_n);
    let h_prev = if first {
        h0[pos]
    } else {
        out[(row - batch) * hidden + j]
    };
    rz[row * 2 * hidden + j] = r;
    rz[row * 2 * hidden + hidden + j] = z;
    n_all[row * hidden + j] = n;
    hp_n_all[row * hidden + j] = hp_n;
    out[row * hidden + j] = n + z * (h_prev - n);
}

/// Step t's backward: writes rows t of `d_xp` and `d_hp`, and dh_t·z_t
/// (the part of dh_{t−1} that does not pass through W_hh) into `carry`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn backward_step<F: Float>(
    grad: &Tensor<F>,
    h0: &Tensor<F>,
    out: &Tensor<F>,
    rz: &Tensor<F>,
    n_all: &Tensor<F>,
    hp_n_all: &Tensor<F>,
    w: &Tensor<F>,
    d_xp: &mut Tensor<F>,
    d_hp: &mut Tensor<F>,
    carry: &mut Tensor<F>,
    t: u32,
    #[comptime] first: bool,
    #[comptime] last: bool,
    #[define(F)] _dtype: ElemType,
) {
    let batch = h0.shape(0);
    let hidden = h0.shape(1);
    let pos = ABSOLUTE_POS;
    if pos >= batch * hidden {
        terminate!();
    }
    let b = pos / hidden;
    let k = pos % hidden;
    let row = t as usize * batch + b;
    let width = 3 * hidden;
    let mut dh = grad[row * hidden + k];
    if !last {
        let mut acc = F::new(0.0_f32);
        for j in 0..width {
            acc += d_hp[(row + batch) * width + j] * w[k * width + j];
        }
        dh += carry[pos] + acc;
    }
    let h_prev = if first {
        h0[pos]
    } else {
        out[(row - batch) * hidden + k]
    };
    let r = rz[row * 2 * hidden + k];
    let z = rz[row * 2 * hidden + hidden + k];
    let n = n_all[row * hidden + k];
    let hp_n = hp_n_all[row * hidden + k];
    let one = F::new(1.0_f32);
    let dz = dh * (h_prev - n);
    let dh_direct = dh * z;
    let da_n = (dh - dh_direct) * (one - n * n);
    let da_r = da_n * hp_n * (r * (one - r));
    let da_z = dz * (z * (one - z));
    let x = row * width + k;
    d_xp[x] = da_r;
    d_xp[x + hidden] = da_z;
    d_xp[x + 2 * hidden] = da_n;
    d_hp[x] = da_r;
    d_hp[x + hidden] = da_z;
    d_hp[x + 2 * hidden] = da_n * r;
    carry[pos] = dh_direct;
}

/// What the forward keeps for the backward.
#[derive(Clone, Debug)]
pub struct Saved {
    /// [T·B, H]: every step's h (the op's output).
    out: CubeTensor,
    /// [T·B, 2H]: σ(r) σ(z).
    rz: CubeTensor,
    /// [T·B, H]: n.
    n: CubeTensor,
    /// [T·B, H]: HP's n block with its bias.
    hp_n: CubeTensor,
}

/// The layer over a chunk: T launches of [`forward_step`].
pub(crate) fn forward(
    xp: CubeTensor,
    h0: CubeTensor,
    w_hh: CubeTensor,
    b_hh: CubeTensor,
) -> (CubeTensor, Saved) {
    let [xp, h0, w, b_hh] = [xp, h0, w_hh, b_hh].map(contiguous);
    let (steps, b, h) = sizes(&xp, &h0);
    let rz = empty(&xp, [steps * b, 2 * h]);
    let n = empty(&xp, [steps * b, h]);
    let hp_n = empty(&xp, [steps * b, h]);
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
            b_hh.clone().into_tensor_arg(),
            rz.clone().into_tensor_arg(),
            n.clone().into_tensor_arg(),
            hp_n.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            t as u32,
            t == 0,
            dtype_to_storage_type(xp.dtype),
        );
    }
    let saved = Saved {
        out: out.clone(),
        rz,
        n,
        hp_n,
    };
    (out, saved)
}

/// The inputs' gradients [dXP, dh0, dW_hh, db_hh] from the output's
/// gradient [T·B, H]: T launches of [`backward_step`], then dh_0, dW_hh and
/// db_hh.
pub(crate) fn backward(
    grad: CubeTensor,
    h0: CubeTensor,
    w_hh: CubeTensor,
    s: Saved,
) -> [CubeTensor; 4] {
    let [grad, h0, w] = [grad, h0, w_hh].map(contiguous);
    let (steps, b, h) = sizes(&s.out, &h0);
    let d_xp = empty(&grad, [steps * b, 3 * h]);
    let d_hp = empty(&grad, [steps * b, 3 * h]);
    let carry = empty(&grad, [b, h]);
    let (count, dim) = grid(&grad, b * h);
    for t in (0..steps).rev() {
        backward_step::launch(
            &grad.client,
            count.clone(),
            dim,
            grad.clone().into_tensor_arg(),
            h0.clone().into_tensor_arg(),
            s.out.clone().into_tensor_arg(),
            s.rz.clone().into_tensor_arg(),
            s.n.clone().into_tensor_arg(),
            s.hp_n.clone().into_tensor_arg(),
            w.clone().into_tensor_arg(),
            d_xp.clone().into_tensor_arg(),
            d_hp.clone().into_tensor_arg(),
            carry.clone().into_tensor_arg(),
            t as u32,
            t == 0,
            t + 1 == steps,
            dtype_to_storage_type(grad.dtype),
        );
    }
    let dh0 = recurrent_grad(&d_hp, &w, Some(&carry), b, h);
    let d_b = CubeBackend::float_sum_dim(d_hp.clone(), 0); // [1,3H]
    let d_w = recurrent_weight_grad::<CubeBackend>(h0, &s.out, d_hp);
    [d_xp, dh0, d_w, d_b]
}
