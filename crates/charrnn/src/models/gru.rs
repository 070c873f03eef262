//! The GRU cell, PyTorch's `nn.GRU` (gate order r, z, n):
//!
//!   [xr xz xn] = x_t·W_ihᵀ + b_ih          [B, 3H]
//!   [hr hz hn] = h_{t-1}·W_hhᵀ + b_hh      [B, 3H]
//!   r = σ(xr + hr);  z = σ(xz + hz)
//!   n = tanh(xn + r ⊙ hn)       r multiplies the recurrent product *with* its bias
//!   h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}
//!
//! Only the forward is written: autodiff differentiates it.

use burn::tensor::Tensor;

use charrnn_activations::{sigmoid, tanh};

use super::layer::Layer;

/// One step. `xp` is this step's input projection x_t·W_ihᵀ + b_ih [B, 3H];
/// the state is [h], [B, H].
pub fn step(layer: &Layer, xp: Tensor<2>, state: &[Tensor<2>]) -> Vec<Tensor<2>> {
    let h = state[0].clone();
    let hsize = h.dims()[1];
    let hp = layer.recur_biased(h.clone()); // [B,3H]
    // r and z in one sigmoid over the first 2H columns.
    let rz = sigmoid(xp.clone().narrow(1, 0, 2 * hsize) + hp.clone().narrow(1, 0, 2 * hsize));
    let r = rz.clone().narrow(1, 0, hsize);
    let z = rz.narrow(1, hsize, hsize);
    let n = tanh(xp.narrow(1, 2 * hsize, hsize) + r * hp.narrow(1, 2 * hsize, hsize));
    // (1 − z)·n + z·h, written as n + z·(h − n): one op fewer.
    let h = n.clone() + z * (h - n);
    vec![h]
}
