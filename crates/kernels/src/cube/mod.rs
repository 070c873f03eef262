//! The recurrent layers as CubeCL kernels, for the cube backends (wgpu here;
//! CUDA, ROCm, Metal and the CubeCL CPU runtime run the same kernels).
//!
//! On a GPU an RNN step is small and the time goes to launching kernels: the
//! layers written as Burn ops launch ~100 kernels per step and layer (a matmul,
//! each activation, each product and sum a kernel of its own). Here each
//! step of a layer is **one** kernel in the forward and one in the backward:
//! a thread per (stream b, unit j) computes its unit's gate pre-activations
//! as dot products of h_{t−1}[b, ·] with W_hh's columns j, H + j, … (the
//! recurrent product fused into the cell), then the cell, and writes its
//! outputs into buffers allocated once per chunk at row t. The backward step
//! likewise: a thread per (b, k) forms dh_t[b, k] from the output's gradient
//! and Σ_j dG_{t+1}[b, j]·W_hh[k, j] (the recurrent product of the step after,
//! read from the previous launch's rows), then the cell's chain rule.
//! Per chunk, the weight's gradient is one product [h_0 … h_{T−1}]ᵀ·dG
//! ([`crate::lstm_layer::recurrent_weight_grad`], as on the CPU) and dh_0
//! one more launch ([`recurrent_grad`]). Nothing is read back to the
//! host.
//!
//! The dot products are plain loops over the state (no shared-memory tiles):
//! at charrnn's sizes a step reads W_hh from cache, and the count of launches
//! is what these kernels are for (docs/internals.md has the counts).
//!
//! Buffers are row-major and contiguous ([`contiguous`] makes inputs so); a
//! row t·B + b of a [T·B, ·] buffer is stream b at step t.
//!
//! Dimension legend: T steps in the chunk, B streams, H hidden units, G gate
//! blocks (1 tanh RNN, 3 GRU, 4 LSTM).

pub(crate) mod gru;
pub(crate) mod lstm;
pub(crate) mod tanh;

use burn::backend::TensorMetadata;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::tensor::Shape;
use burn_cubecl::cubecl::{self, prelude::*};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;

/// The tensor with its elements in row-major order (a copy only when they
/// are not: a transposed view, a matmul's tiled output).
pub(crate) fn contiguous(t: CubeTensor) -> CubeTensor {
    into_contiguous(t)
}

/// A fresh contiguous buffer of `like`'s dtype on its device.
pub(crate) fn empty(like: &CubeTensor, shape: [usize; 2]) -> CubeTensor {
    empty_device_contiguous_dtype(
        like.client.clone(),
        like.device.clone(),
        Shape::new(shape),
        like.dtype,
    )
}

/// The launch grid for one thread per element of `n`.
pub(crate) fn grid(like: &CubeTensor, n: usize) -> (CubeCount, CubeDim) {
    let dim = CubeDim::new(&like.client, n);
    (
        cubecl::calculate_cube_count_elemwise(&like.client, n, dim),
        dim,
    )
}

/// [B, H] of a state tensor, and the number of steps of a [T·B, ·] buffer.
pub(crate) fn sizes(xp: &CubeTensor, h0: &CubeTensor) -> (usize, usize, usize) {
    let [b, h] = h0.shape().dims::<2>();
    (xp.shape()[0] / b, b, h)
}

/// σ(x) = 1/(1 + e^(−x)).
#[cube]
pub(crate) fn sigmoid<F: Float>(x: F) -> F {
    F::new(1.0_f32) / (F::new(1.0_f32) + F::exp(-x))
}

/// dh_0[b, k] = (carry[b, k] +) Σ_j dG_0[b, j]·W[k, j]: the gradient that
/// leaves the chunk through its initial state. `d_pre` is the [T·B, G·H]
/// buffer of the pre-activations' gradients (its first B rows are step 0's).
#[cube(launch)]
fn recurrent_grad_kernel<F: Float>(
    d_pre: &Tensor<F>,
    w: &Tensor<F>,
    carry: &Tensor<F>,
    out: &mut Tensor<F>,
    #[comptime] with_carry: bool,
    #[define(F)] _dtype: ElemType,
) {
    let batch = out.shape(0);
    let hidden = out.shape(1);
    let width = w.shape(1);
    let pos = ABSOLUTE_POS;
    if pos >= batch * hidden {
        terminate!();
    }
    let b = pos / hidden;
    let k = pos % hidden;
    let mut acc = F::new(0.0_f32);
    for j in 0..width {
        acc += d_pre[b * width + j] * w[k * width + j];
    }
    if with_carry {
        out[pos] = carry[pos] + acc;
    } else {
        out[pos] = acc;
    }
}

/// [`recurrent_grad_kernel`]: dh_0 [B, H] from step 0's rows of `d_pre`, W
/// [H, G·H] and, for the GRU, the direct part dh ⊙ z carried from step 0.
pub(crate) fn recurrent_grad(
    d_pre: &CubeTensor,
    w: &CubeTensor,
    carry: Option<&CubeTensor>,
    batch: usize,
    hidden: usize,
) -> CubeTensor {
    let out = empty(d_pre, [batch, hidden]);
    let (count, dim) = grid(d_pre, batch * hidden);
    recurrent_grad_kernel::launch(
        &d_pre.client,
        count,
        dim,
        d_pre.clone().into_tensor_arg(),
        w.clone().into_tensor_arg(),
        carry.unwrap_or(d_pre).clone().into_tensor_arg(),
        out.clone().into_tensor_arg(),
        carry.is_some(),
        dtype_to_storage_type(d_pre.dtype),
    );
    out
}
