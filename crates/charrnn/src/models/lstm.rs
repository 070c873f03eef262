//! The LSTM cell, PyTorch's `nn.LSTM` (gate order i, f, g, o):
//!
//!   [i f g o] = x_t·W_ihᵀ + b_ih + h_{t-1}·W_hhᵀ + b_hh     [B, 4H]
//!   i, f, o = σ(·);  g = tanh(·)
//!   c_t = f ⊙ c_{t-1} + i ⊙ g
//!   h_t = o ⊙ tanh(c_t)
//!
//! Only the forward is written: autodiff differentiates it.

use burn::tensor::Tensor;

use charrnn_activations::{lstm_gates, tanh};

use super::layer::Layer;

/// One step. `xp` is this step's input projection with both biases,
/// x_t·W_ihᵀ + b_ih + b_hh [B, 4H]; the state is [h, c], each [B, H].
pub fn step(layer: &Layer, xp: Tensor<2>, state: &[Tensor<2>]) -> Vec<Tensor<2>> {
    let (h, c) = (state[0].clone(), state[1].clone());
    let gates = lstm_gates(xp + layer.recur(h)); // [B,4H]: σ(i) σ(f) tanh(g) σ(o)
    let [i, f, g, o] = split4(gates);
    let c = f * c + i * g; // [B,H]
    let h = o * tanh(c.clone()); // [B,H]
    vec![h, c]
}

fn split4(gates: Tensor<2>) -> [Tensor<2>; 4] {
    let h = gates.dims()[1] / 4;
    [0, 1, 2, 3].map(|k| gates.clone().narrow(1, k * h, h))
}
