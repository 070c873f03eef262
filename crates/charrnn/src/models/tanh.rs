//! The tanh RNN cell, PyTorch's `nn.RNN` and min-char-rnn's network:
//!
//!   h_t = tanh(x_t·W_ihᵀ + b_ih + h_{t-1}·W_hhᵀ + b_hh)      [B, H]
//!
//! min-char-rnn's layer is the same math with one bias:
//! h_t = tanh(Wxh·x_t + Whh·h_{t-1} + bh).

//!
//! On the CPU it runs a step at a time ([`step`]); on the cube backends a
//! whole layer over a chunk is one operation ([`layer`],
//! [`charrnn_kernels::tanh_layer`]), as the LSTM's and GRU's are everywhere.

use burn::tensor::Tensor;
use charrnn_kernels::{tanh, tanh_layer};

use super::layer::Layer;

/// One step. `xp` is this step's input projection with both biases,
/// x_t·W_ihᵀ + b_ih (+ b_hh) [B, H]; the state is [h], [B, H].
pub fn step(layer: &Layer, xp: Tensor<2>, state: &[Tensor<2>]) -> Vec<Tensor<2>> {
    vec![tanh(xp + layer.recur(state[0].clone()))]
}

/// One layer over a chunk. `xp` holds every step's input projection with
/// both biases [T·B, H] (time-major); `state` is [h], [B, H]. Returns every
/// step's h [T·B, H] and the state after the last step.
pub fn layer(layer: &Layer, xp: Tensor<2>, state: &[Tensor<2>]) -> (Tensor<2>, Vec<Tensor<2>>) {
    let b = state[0].dims()[0];
    let steps = xp.dims()[0] / b;
    let hs = tanh_layer(xp, state[0].clone(), layer.w_hh());
    let h = hs.clone().narrow(0, (steps - 1) * b, b);
    (hs, vec![h])
}
