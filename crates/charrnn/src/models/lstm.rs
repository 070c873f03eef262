//! The LSTM cell, PyTorch's `nn.LSTM` (gate order i, f, g, o):
//!
//!   [i f g o] = x_t·W_ihᵀ + b_ih + h_{t-1}·W_hhᵀ + b_hh     [B, 4H]
//!   i, f, o = σ(·);  g = tanh(·)
//!   c_t = f ⊙ c_{t-1} + i ⊙ g
//!   h_t = o ⊙ tanh(c_t)
//!
//! It runs a whole layer over a chunk at a time: the input projections of
//! all T steps are one product (one gather for layer 0), and the recurrence
//! is one operation with its own backward ([`charrnn_kernels::lstm_layer`],
//! held to autodiff's gradients of the step-by-step cell in
//! tests/activations.rs), which computes W_hh's gradient once per chunk.

use burn::tensor::Tensor;

use charrnn_kernels::lstm_layer;

use super::layer::Layer;

/// One layer over a chunk. `xp` holds every step's input projection with
/// both biases, x_t·W_ihᵀ + b_ih + b_hh [T·B, 4H] (time-major); `state` is
/// [h, c], each [B, H]. Returns every step's h [T·B, H] and the state after
/// the last step.
pub fn layer(layer: &Layer, xp: Tensor<2>, state: &[Tensor<2>]) -> (Tensor<2>, Vec<Tensor<2>>) {
    let b = state[0].dims()[0];
    let steps = xp.dims()[0] / b;
    let (hs, c) = lstm_layer(xp, state[0].clone(), state[1].clone(), layer.w_hh());
    let h = hs.clone().narrow(0, (steps - 1) * b, b);
    (hs, vec![h, c])
}
