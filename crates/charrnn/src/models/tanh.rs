//! The tanh RNN cell, PyTorch's `nn.RNN` and min-char-rnn's network:
//!
//!   h_t = tanh(x_t·W_ihᵀ + b_ih + h_{t-1}·W_hhᵀ + b_hh)      [B, H]
//!
//! min-char-rnn's layer is the same math with one bias:
//! h_t = tanh(Wxh·x_t + Whh·h_{t-1} + bh).

use burn::tensor::Tensor;
use charrnn_kernels::tanh;

use super::layer::Layer;

/// One step. `xp` is this step's input projection with both biases,
/// x_t·W_ihᵀ + b_ih (+ b_hh) [B, H]; the state is [h], [B, H].
pub fn step(layer: &Layer, xp: Tensor<2>, state: &[Tensor<2>]) -> Vec<Tensor<2>> {
    vec![tanh(xp + layer.recur(state[0].clone()))]
}
