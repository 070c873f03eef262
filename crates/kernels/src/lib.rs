//! charrnn's CPU kernels and fused recurrent layers, as Burn primitives.
//!
//! Burn 0.22.1's flex and ndarray run each elementwise op with scalar libm
//! calls and a fresh tensor, and its autodiff records an LSTM step as a dozen
//! nodes. This crate registers faster operations through Burn's backend
//! extension, each with a backward of its own, and falls back to Burn's ops
//! on any other backend (wgpu):
//!
//! - [`tanh`], [`sigmoid`], [`log_softmax`] and [`lstm_gates`]: vectorised
//!   loops ([`kernels`]) whose backward reads the saved output (1 − y²,
//!   y(1 − y), dy − e^y·Σdy); primitives like Burn's own, so the models'
//!   gradients still come from autodiff through them;
//! - [`lstm_layer`] and [`gru_layer`]: a whole layer over a chunk as one
//!   operation; the forward keeps each step's gates, the backward keeps only
//!   dh per step and computes the recurrent weight's gradient once;
//! - each step's cell in one pass over its rows on flex (`lstm_cell`,
//!   `gru_cell`), the same operations in the same order as the cell written
//!   as Burn ops, so the same bits;
//! - the per-step product against a weight packed once per chunk
//!   ([`packed`]: AVX-512 and AVX2 kernels chosen at run time, each the
//!   k-ordered fused-multiply-add sum; [`step_product`]: on Burn's tensors).
//!
//! The kernels run on flex and ndarray devices when this crate's features of
//! the same names are on ([`has_kernels`] says whether a tensor's device
//! has them). With the `wgpu` feature the recurrent layers (LSTM, GRU and
//! the tanh RNN's, [`tanh_layer`]) run on the cube backends as CubeCL
//! kernels, one launch per step each way ([`cube`](mod@cube)); the
//! activations there stay Burn's own ops.

#[cfg(feature = "wgpu")]
mod cube;
mod extension;
mod gru_cell;
mod gru_layer;
pub mod kernels;
mod lstm_cell;
mod lstm_layer;
pub mod packed;
pub mod step_product;
#[cfg(feature = "wgpu")]
mod tanh_layer;

use burn::backend::DispatchDevice;
use burn::tensor::{DType, Tensor};

pub use kernels::Activation;

/// tanh(x), elementwise.
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if has_kernels(&x) {
        extension::apply(Activation::Tanh, x)
    } else {
        x.tanh()
    }
}

/// σ(x) = 1/(1 + e^(−x)), elementwise.
pub fn sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if has_kernels(&x) {
        extension::apply(Activation::Sigmoid, x)
    } else if x.dtype() == DType::F64 {
        // Burn 0.22.1's default sigmoid computes in f32 whatever the dtype;
        // ½ + ½·tanh(x/2) is exact in f64 and stable.
        x.mul_scalar(0.5).tanh().mul_scalar(0.5).add_scalar(0.5)
    } else {
        burn::tensor::activation::sigmoid(x)
    }
}

/// log softmax over the last dimension.
pub fn log_softmax<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if has_kernels(&x) {
        extension::apply(Activation::LogSoftmax, x)
    } else {
        burn::tensor::activation::log_softmax(x, D - 1)
    }
}

/// An LSTM's gates: `gates` [B, 4H] holds the pre-activations [i f g o]
/// (PyTorch's order); returns [σ(i) σ(f) tanh(g) σ(o)], one op instead of
/// four narrows and four activations.
pub fn lstm_gates(gates: Tensor<2>) -> Tensor<2> {
    if has_kernels(&gates) {
        extension::apply(Activation::LstmGates, gates)
    } else {
        let h = gates.dims()[1] / 4;
        let block = |k: usize| gates.clone().narrow(1, k * h, h);
        Tensor::cat(
            vec![
                sigmoid(block(0)),
                sigmoid(block(1)),
                tanh(block(2)),
                sigmoid(block(3)),
            ],
            1,
        )
    }
}

/// A whole LSTM layer over a chunk (see [`lstm_layer`](mod@lstm_layer)):
/// the input projections `xp` [T·B, 4H] (time-major, both biases in), the
/// initial state `h0`, `c0` [B, H] and `w_hh` (W_hhᵀ) [H, 4H] give every
/// step's h [T·B, H] and the last cell state c_T [B, H]. One registered
/// operation with its own backward on flex, ndarray and the cube backends;
/// on any other backend [`lstm_layer_by_steps`].
pub fn lstm_layer(
    xp: Tensor<2>,
    h0: Tensor<2>,
    c0: Tensor<2>,
    w_hh: Tensor<2>,
) -> (Tensor<2>, Tensor<2>) {
    if has_kernels(&xp) || fuses_layers(&xp) {
        lstm_layer::apply(xp, h0, c0, w_hh)
    } else {
        lstm_layer_by_steps(xp, h0, c0, w_hh)
    }
}

/// [`lstm_layer`] composed of Burn's ops step by step (autodiff then
/// differentiates every step): the reference the fused layer is tested
/// against, and the layer on backends without these kernels.
pub fn lstm_layer_by_steps(
    xp: Tensor<2>,
    h0: Tensor<2>,
    c0: Tensor<2>,
    w_hh: Tensor<2>,
) -> (Tensor<2>, Tensor<2>) {
    let b = h0.dims()[0];
    let steps = xp.dims()[0] / b;
    let (mut h, mut c) = (h0, c0);
    let mut hs = Vec::with_capacity(steps);
    for t in 0..steps {
        let gates = lstm_gates(xp.clone().narrow(0, t * b, b) + h.matmul(w_hh.clone())); // [B,4H]
        let hh = gates.dims()[1] / 4;
        let [i, f, g, o] = [0, 1, 2, 3].map(|k| gates.clone().narrow(1, k * hh, hh));
        c = f * c + i * g; // [B,H]
        h = o * tanh(c.clone()); // [B,H]
        hs.push(h.clone());
    }
    (Tensor::cat(hs, 0), c)
}

/// A whole GRU layer over a chunk (see [`gru_layer`](mod@gru_layer)): the
/// input projections `xp` = x·W_ihᵀ + b_ih [T·B, 3H] (time-major), the
/// initial state `h0` [B, H], `w_hh` (W_hhᵀ) [H, 3H] and `b_hh` [1, 3H]
/// give every step's h [T·B, H]. One registered operation with its own
/// backward on flex, ndarray and the cube backends; on any other backend
/// [`gru_layer_by_steps`].
pub fn gru_layer(xp: Tensor<2>, h0: Tensor<2>, w_hh: Tensor<2>, b_hh: Tensor<2>) -> Tensor<2> {
    if has_kernels(&xp) || fuses_layers(&xp) {
        gru_layer::apply(xp, h0, w_hh, b_hh)
    } else {
        gru_layer_by_steps(xp, h0, w_hh, b_hh)
    }
}

/// [`gru_layer`] composed of Burn's ops step by step (PyTorch's `nn.GRU`
/// cell, gate order r, z, n): the reference the fused layer is tested
/// against, and the layer on backends without these kernels.
pub fn gru_layer_by_steps(
    xp: Tensor<2>,
    h0: Tensor<2>,
    w_hh: Tensor<2>,
    b_hh: Tensor<2>,
) -> Tensor<2> {
    let b = h0.dims()[0];
    let hs = h0.dims()[1];
    let steps = xp.dims()[0] / b;
    let mut h = h0;
    let mut outs = Vec::with_capacity(steps);
    for t in 0..steps {
        let x = xp.clone().narrow(0, t * b, b); // [B,3H]
        let hp = h.clone().matmul(w_hh.clone()) + b_hh.clone(); // [B,3H]
        // r and z in one sigmoid over the first 2H columns.
        let rz = sigmoid(x.clone().narrow(1, 0, 2 * hs) + hp.clone().narrow(1, 0, 2 * hs));
        let r = rz.clone().narrow(1, 0, hs);
        let z = rz.narrow(1, hs, hs);
        let n = tanh(x.narrow(1, 2 * hs, hs) + r * hp.narrow(1, 2 * hs, hs));
        // (1 − z)·n + z·h, written as n + z·(h − n): one op fewer.
        h = n.clone() + z * (h - n);
        outs.push(h.clone());
    }
    Tensor::cat(outs, 0)
}

/// A whole tanh RNN layer over a chunk: the input projections `xp` =
/// x·W_ihᵀ + b_ih + b_hh [T·B, H] (time-major), the initial state `h0`
/// [B, H] and `w_hh` (W_hhᵀ) [H, H] give every step's h [T·B, H]. One
/// registered operation with its own backward on the cube backends (see
/// [`fuses_layers`]); elsewhere [`tanh_layer_by_steps`].
pub fn tanh_layer(xp: Tensor<2>, h0: Tensor<2>, w_hh: Tensor<2>) -> Tensor<2> {
    #[cfg(feature = "wgpu")]
    if fuses_layers(&xp) {
        return tanh_layer::apply(xp, h0, w_hh);
    }
    tanh_layer_by_steps(xp, h0, w_hh)
}

/// [`tanh_layer`] composed of Burn's ops step by step: the reference the
/// fused layer is tested against.
pub fn tanh_layer_by_steps(xp: Tensor<2>, h0: Tensor<2>, w_hh: Tensor<2>) -> Tensor<2> {
    let b = h0.dims()[0];
    let steps = xp.dims()[0] / b;
    let mut h = h0;
    let mut outs = Vec::with_capacity(steps);
    for t in 0..steps {
        h = tanh(xp.clone().narrow(0, t * b, b) + h.matmul(w_hh.clone())); // [B,H]
        outs.push(h.clone());
    }
    Tensor::cat(outs, 0)
}

/// Whether the tensor lives on a backend these kernels were built for.
pub fn has_kernels<const D: usize>(x: &Tensor<D>) -> bool {
    on_cpu_backend(x.device().as_dispatch())
}

/// Whether the tensor lives on a cube backend (wgpu) with this crate's
/// CubeCL layers compiled in: there every recurrent layer, the tanh RNN's
/// too, runs a chunk as one operation.
pub fn fuses_layers<const D: usize>(x: &Tensor<D>) -> bool {
    on_cube_backend(x.device().as_dispatch())
}

fn on_cube_backend(device: &DispatchDevice) -> bool {
    match device {
        #[cfg(feature = "wgpu")]
        DispatchDevice::Cube(_) => true,
        DispatchDevice::Autodiff(inner) => on_cube_backend(inner),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

fn on_cpu_backend(device: &DispatchDevice) -> bool {
    match device {
        #[cfg(feature = "flex")]
        DispatchDevice::Flex(_) => true,
        #[cfg(feature = "ndarray")]
        DispatchDevice::NdArray(_) => true,
        DispatchDevice::Autodiff(inner) => on_cpu_backend(inner),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}
