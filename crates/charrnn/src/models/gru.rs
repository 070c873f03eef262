//! The GRU cell, PyTorch's `nn.GRU` (gate order r, z, n):
//!
//!   [xr xz xn] = x_t·W_ihᵀ + b_ih          [B, 3H]
//!   [hr hz hn] = h_{t-1}·W_hhᵀ + b_hh      [B, 3H]
//!   r = σ(xr + hr);  z = σ(xz + hz)
//!   n = tanh(xn + r ⊙ hn)       r multiplies the recurrent product *with* its bias
//!   h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}
//!
//! It runs a whole layer over a chunk at a time: the input projections of
//! all T steps are one product (one gather for layer 0), and the recurrence
//! is one operation with its own backward ([`charrnn_kernels::gru_layer`],
//! held to autodiff's gradients of the step-by-step cell in
//! tests/activations.rs), which computes W_hh's gradient once per chunk.

use burn::tensor::Tensor;

use charrnn_kernels::gru_layer;

use super::layer::Layer;

/// One layer over a chunk. `xp` holds every step's input projection
/// x_t·W_ihᵀ + b_ih [T·B, 3H] (time-major); `state` is [h], [B, H].
/// Returns every step's h [T·B, H] and the state after the last step.
pub fn layer(layer: &Layer, xp: Tensor<2>, state: &[Tensor<2>]) -> (Tensor<2>, Vec<Tensor<2>>) {
    let b = state[0].dims()[0];
    let steps = xp.dims()[0] / b;
    let b_hh = layer.b_hh.as_ref().expect("a GRU layer has b_hh").val();
    let hs = gru_layer(xp, state[0].clone(), layer.w_hh(), b_hh);
    let h = hs.clone().narrow(0, (steps - 1) * b, b);
    (hs, vec![h])
}
