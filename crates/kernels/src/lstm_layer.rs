//! A whole LSTM layer over a chunk as one registered operation, with its own
//! backward, as cuDNN and PyTorch's CPU LSTM run it:
//!
//!   forward, per step t:  G_t = XP_t + h_{t−1}·W_hh     [B, 4H]
//!                         [i f g o] = σ σ tanh σ (G_t)
//!                         c_t = f ⊙ c_{t−1} + i ⊙ g;  h_t = o ⊙ tanh(c_t)
//!   backward, t = T−1…0:  dG_t from dh_t, dc_t (the chain rule of the lines
//!                         above), dh_{t−1} += dG_t·W_hhᵀ, dc_{t−1} = dc_t ⊙ f
//!                         then once: dW_hh = [h_0 … h_{T−1}]ᵀ·[dG_0; …; dG_{T−1}]
//!
//! Why: under autodiff every step's product h_{t−1}·W_hh gets its own
//! weight gradient h_{t−1}ᵀ·dG_t, a [H, 4H] product of inner size B written
//! and summed T times (memory-bound: at 2 × 512 it was a third of a step's
//! time). Here the recurrence keeps only dh_{t−1} per step and the weight's
//! gradient is one product of inner size T·B. The input projection XP
//! [T·B, 4H] comes in whole, so the layer above also multiplies once per
//! chunk. The arithmetic of each step is the unfused cell's, op for op
//! (tests/activations.rs holds the gradients to autodiff's of the unfused
//! cell); each step's cell, forward and backward, is [`crate::lstm_cell`]
//! (on flex one pass over the step's rows).
//!
//! The T products h_{t−1}·W_hh (and dG_t·W_hhᵀ) read W_hh packed once per
//! chunk ([`crate::step_product`]): a general product packs it again at
//! every call.
//!
//! Shapes: XP [T·B, 4H] (time-major), h0 and c0 [B, H], W_hh [H, 4H]; the
//! output is [(T+1)·B, H]: every step's h, then c_T.

// burn-ndarray is deprecated upstream (flex replaces it) but is still one of
// charrnn's backends.
#![allow(deprecated)]

use burn::backend::TensorMetadata;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::{Autodiff, Backend, Dispatch, backend_extension, tensor::FloatTensor};
use burn::tensor::{Slice, Tensor};

use crate::lstm_cell::LstmCell;
use crate::step_product::StepProduct;

/// Runs the layer through Burn's dispatch (flex or ndarray, autodiff or not):
/// returns every step's h [T·B, H] and the last cell state c_T [B, H].
pub fn apply(
    xp: Tensor<2>,
    h0: Tensor<2>,
    c0: Tensor<2>,
    w_hh: Tensor<2>,
) -> (Tensor<2>, Tensor<2>) {
    let [n, _] = xp.dims();
    let b = h0.dims()[0];
    let out = Tensor::<2>::from_dispatch(<Dispatch as LstmLayer>::lstm_layer(
        xp.into_dispatch(),
        h0.into_dispatch(),
        c0.into_dispatch(),
        w_hh.into_dispatch(),
    ));
    (out.clone().narrow(0, 0, n), out.narrow(0, n, b))
}

#[backend_extension(
    Cube: cfg(feature = "wgpu"),
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Autodiff
)]
pub trait LstmLayer: Backend {
    /// XP [T·B, 4H], h0 [B, H], c0 [B, H], W_hh [H, 4H] → [(T+1)·B, H].
    fn lstm_layer(
        xp: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// The layer's forward and backward on one backend: [`forward`] and
/// [`backward`] below (a step's cell and product at a time) on flex and
/// ndarray, one kernel per step on the cube backends ([`crate::cube::lstm`]).
/// Autodiff records the layer as one node over either.
pub trait LstmPasses: Backend {
    /// What the forward keeps for the backward.
    type Saved: Clone + Send + std::fmt::Debug + 'static;

    /// XP [T·B, 4H], h0 [B, H], c0 [B, H], W_hh [H, 4H] → [(T+1)·B, H].
    fn lstm_forward(
        xp: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, Self::Saved);

    /// [dXP, dh0, dc0, dW_hh] from the output's gradient [(T+1)·B, H].
    fn lstm_backward(
        grad: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        saved: Self::Saved,
    ) -> [FloatTensor<Self>; 4];
}

/// A backend with its passes runs the layer's forward on its own tensors.
macro_rules! layer_by_passes {
    ($backend:ty) => {
        impl LstmLayer for $backend {
            fn lstm_layer(
                xp: FloatTensor<Self>,
                h0: FloatTensor<Self>,
                c0: FloatTensor<Self>,
                w_hh: FloatTensor<Self>,
            ) -> FloatTensor<Self> {
                <Self as LstmPasses>::lstm_forward(xp, h0, c0, w_hh).0
            }
        }
    };
}

/// flex and ndarray run [`forward`] and [`backward`].
#[cfg(any(feature = "flex", feature = "ndarray"))]
macro_rules! cpu_backend {
    ($backend:ty) => {
        impl LstmPasses for $backend {
            type Saved = Saved<Self>;

            fn lstm_forward(
                xp: FloatTensor<Self>,
                h0: FloatTensor<Self>,
                c0: FloatTensor<Self>,
                w_hh: FloatTensor<Self>,
            ) -> (FloatTensor<Self>, Saved<Self>) {
                let saved = forward::<Self>(xp, h0, c0, w_hh);
                (saved.out.clone(), saved)
            }

            fn lstm_backward(
                grad: FloatTensor<Self>,
                h0: FloatTensor<Self>,
                c0: FloatTensor<Self>,
                w_hh: FloatTensor<Self>,
                saved: Saved<Self>,
            ) -> [FloatTensor<Self>; 4] {
                backward::<Self>(grad, h0, c0, w_hh, saved)
            }
        }
        layer_by_passes!($backend);
    };
}

#[cfg(feature = "flex")]
cpu_backend!(burn::backend::Flex);
#[cfg(feature = "ndarray")]
cpu_backend!(burn::backend::NdArray);

#[cfg(feature = "wgpu")]
impl LstmPasses for burn_cubecl::CubeBackend {
    type Saved = crate::cube::lstm::Saved;

    fn lstm_forward(
        xp: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, Self::Saved) {
        crate::cube::lstm::forward(xp, h0, c0, w_hh)
    }

    fn lstm_backward(
        grad: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        saved: Self::Saved,
    ) -> [FloatTensor<Self>; 4] {
        crate::cube::lstm::backward(grad, h0, c0, w_hh, saved)
    }
}

#[cfg(feature = "wgpu")]
layer_by_passes!(burn_cubecl::CubeBackend);

/// What the forward keeps for the backward: the output, and each step's
/// tensors as they were made (the backward reads them a step at a time, so
/// they are not copied into one).
#[derive(Clone, Debug)]
pub struct Saved<B: Backend> {
    /// [(T+1)·B, H]: h_1…h_T, then c_T (the op's output).
    out: FloatTensor<B>,
    /// T × [B, 4H]: σ(i) σ(f) tanh(g) σ(o).
    gates: Vec<FloatTensor<B>>,
    /// T × [B, H]: c_t.
    c: Vec<FloatTensor<B>>,
    /// T × [B, H]: tanh(c_t).
    tanh_c: Vec<FloatTensor<B>>,
}

/// Rows `r` of a [rows, cols] tensor.
pub(crate) fn rows<B: Backend>(t: &FloatTensor<B>, r: std::ops::Range<usize>) -> FloatTensor<B> {
    let cols = t.shape()[1];
    B::float_slice(t.clone(), &[Slice::from(r), Slice::from(0..cols)])
}

/// dW_hh = [h_0 … h_{T−1}]ᵀ·dG [H, G·H]: a layer's recurrent weight gradient
/// for the whole chunk, one product of inner size T·B. The products' inputs
/// are h0 [B, H] and the first T − 1 steps' rows of the layer's output `out`
/// (every step's h first); `d_pre` [T·B, G·H] is the gradient of the
/// recurrent products' sums.
pub(crate) fn recurrent_weight_grad<B: Backend>(
    h0: FloatTensor<B>,
    out: &FloatTensor<B>,
    d_pre: FloatTensor<B>,
) -> FloatTensor<B> {
    let b = h0.shape()[0];
    let steps = d_pre.shape()[0] / b;
    let h_prev = if steps == 1 {
        h0
    } else {
        B::float_cat(vec![h0, rows::<B>(out, 0..(steps - 1) * b)], 0)
    };
    B::float_matmul(B::float_transpose(h_prev), d_pre)
}

/// Gate block k (i, f, g, o) of [B, 4H] gates.
pub(crate) fn block<B: Backend>(gates: &FloatTensor<B>, k: usize) -> FloatTensor<B> {
    let shape = gates.shape();
    let h = shape[1] / 4;
    B::float_slice(
        gates.clone(),
        &[Slice::from(0..shape[0]), Slice::from(k * h..(k + 1) * h)],
    )
}

fn forward<B: Backend + LstmCell + StepProduct>(
    xp: FloatTensor<B>,
    h0: FloatTensor<B>,
    c0: FloatTensor<B>,
    w_hh: FloatTensor<B>,
) -> Saved<B> {
    let b = h0.shape()[0];
    let steps = xp.shape()[0] / b;
    let w_hh = B::prepare(w_hh); // packed once for the T steps
    let (mut h, mut c) = (h0, c0);
    let (mut hs, mut gs, mut cs, mut tcs) = (vec![], vec![], vec![], vec![]);
    for t in 0..steps {
        let product = B::step_product(h, &w_hh); // [B,4H]
        let step = B::cell_forward(rows::<B>(&xp, t * b..(t + 1) * b), product, c);
        (h, c) = (step.h, step.c);
        hs.push(h.clone());
        gs.push(step.gates);
        cs.push(c.clone());
        tcs.push(step.tanh_c);
    }
    hs.push(c);
    Saved {
        out: B::float_cat(hs, 0),
        gates: gs,
        c: cs,
        tanh_c: tcs,
    }
}

/// The inputs' gradients [dXP, dh0, dc0, dW_hh] from the output's gradient
/// `grad` [(T+1)·B, H].
fn backward<B: Backend + LstmCell + StepProduct>(
    grad: FloatTensor<B>,
    h0: FloatTensor<B>,
    c0: FloatTensor<B>,
    w_hh: FloatTensor<B>,
    s: Saved<B>,
) -> [FloatTensor<B>; 4] {
    let b = h0.shape()[0];
    let steps = s.gates.len();
    let w_t = B::prepare(B::float_transpose(w_hh)); // packed once for the T steps
    let mut dh_next: Option<FloatTensor<B>> = None;
    let mut dc = rows::<B>(&grad, steps * b..(steps + 1) * b); // c_T's own gradient
    let mut d_gates = Vec::with_capacity(steps);
    for t in (0..steps).rev() {
        let c_prev = if t == 0 {
            c0.clone()
        } else {
            s.c[t - 1].clone()
        };
        let (d_pre, dc_prev) = B::cell_backward(
            s.gates[t].clone(),
            s.tanh_c[t].clone(),
            c_prev,
            rows::<B>(&grad, t * b..(t + 1) * b),
            dh_next.take(),
            dc,
        );
        dc = dc_prev;
        dh_next = Some(B::step_product(d_pre.clone(), &w_t));
        d_gates.push(d_pre);
    }
    d_gates.reverse();
    let d_xp = B::float_cat(d_gates, 0); // [T·B,4H]
    let d_w = recurrent_weight_grad::<B>(h0, &s.out, d_xp.clone()); // [H,4H]
    let dh0 = dh_next.expect("at least one step");
    [d_xp, dh0, dc, d_w]
}

/// The backward node: its state is the inputs it needs and the forward's.
#[derive(Debug)]
struct LstmLayerBackward;

#[derive(Clone, Debug)]
struct State<B: LstmPasses> {
    h0: FloatTensor<B>,
    c0: FloatTensor<B>,
    w_hh: FloatTensor<B>,
    saved: B::Saved,
}

impl<B: LstmPasses> Backward<B, 4> for LstmLayerBackward {
    type State = State<B>;

    fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let State {
            h0,
            c0,
            w_hh,
            saved,
        } = ops.state;
        let inputs = B::lstm_backward(grad, h0, c0, w_hh, saved);
        for (parent, g) in ops.parents.into_iter().zip(inputs) {
            if let Some(node) = parent {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

/// Autodiff: the inner backend's forward, and a backward node that runs
/// its backward.
impl<B: LstmPasses, C: CheckpointStrategy> LstmLayer for Autodiff<B, C> {
    fn lstm_layer(
        xp: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (xp, n_xp) = xp.into_parts();
        let (h0, n_h0) = h0.into_parts();
        let (c0, n_c0) = c0.into_parts();
        let (w_hh, n_w) = w_hh.into_parts();
        match LstmLayerBackward
            .prepare::<C>([n_xp, n_h0, n_c0, n_w])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (out, saved) = B::lstm_forward(xp, h0.clone(), c0.clone(), w_hh.clone());
                let state = State {
                    h0,
                    c0,
                    w_hh,
                    saved,
                };
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::lstm_forward(xp, h0, c0, w_hh).0),
        }
    }
}
