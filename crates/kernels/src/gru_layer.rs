//! A whole GRU layer over a chunk as one registered operation with its own
//! backward (see [`crate::lstm_layer`](mod@crate::lstm_layer) for why):
//!
//!   forward, per step t:  HP_t = h_{t−1}·W_hh + b_hh            [B, 3H]
//!                         [r z] = σ(XP_t[r z] + HP_t[r z])
//!                         n = tanh(XP_t[n] + r ⊙ HP_t[n])
//!                         h_t = n + z ⊙ (h_{t−1} − n)
//!   backward, t = T−1…0:  dHP_t, dXP_t from dh_t (the chain rule of the
//!                         lines above), dh_{t−1} = dh_t ⊙ z + dHP_t·W_hhᵀ
//!                         then once: dW_hh = [h_0 … h_{T−1}]ᵀ·[dHP_0; …],
//!                         db_hh = Σ_rows [dHP_0; …]
//!
//! The arithmetic of each step is the unfused cell's (models/gru.rs), op for
//! op; tests/activations.rs holds the gradients to autodiff's of it. Each
//! step's cell, forward and backward, is [`crate::gru_cell`] (on flex one
//! pass over the step's rows).
//! W_hh is packed once per chunk for its T products, as the LSTM's.
//!
//! Shapes: XP [T·B, 3H] (x·W_ih + b_ih, time-major), h0 [B, H], W_hh
//! [H, 3H], b_hh [1, 3H]; the output is every step's h [T·B, H].

// burn-ndarray is deprecated upstream (flex replaces it) but is still one of
// charrnn's backends.
#![allow(deprecated)]

use burn::backend::TensorMetadata;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::{Autodiff, Backend, Dispatch, backend_extension, tensor::FloatTensor};
use burn::tensor::Tensor;

use crate::gru_cell::GruCell;
use crate::lstm_layer::{recurrent_weight_grad, rows};
use crate::step_product::StepProduct;

/// Runs the layer through Burn's dispatch: every step's h [T·B, H].
pub fn apply(xp: Tensor<2>, h0: Tensor<2>, w_hh: Tensor<2>, b_hh: Tensor<2>) -> Tensor<2> {
    Tensor::<2>::from_dispatch(<Dispatch as GruLayer>::gru_layer(
        xp.into_dispatch(),
        h0.into_dispatch(),
        w_hh.into_dispatch(),
        b_hh.into_dispatch(),
    ))
}

#[backend_extension(
    Cube: cfg(feature = "wgpu"),
    Flex: cfg(feature = "flex"),
    NdArray: cfg(feature = "ndarray"),
    Autodiff
)]
pub trait GruLayer: Backend {
    /// XP [T·B, 3H], h0 [B, H], W_hh [H, 3H], b_hh [1, 3H] → [T·B, H].
    fn gru_layer(
        xp: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        b_hh: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// The layer's forward and backward on one backend: [`forward`] and
/// [`backward`] below on flex and ndarray, one kernel per step on the cube
/// backends ([`crate::cube::gru`]); see [`crate::lstm_layer::LstmPasses`].
pub trait GruPasses: Backend {
    /// What the forward keeps for the backward.
    type Saved: Clone + Send + std::fmt::Debug + 'static;

    /// XP [T·B, 3H], h0 [B, H], W_hh [H, 3H], b_hh [1, 3H] → [T·B, H].
    fn gru_forward(
        xp: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        b_hh: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, Self::Saved);

    /// [dXP, dh0, dW_hh, db_hh] from the output's gradient [T·B, H].
    fn gru_backward(
        grad: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        saved: Self::Saved,
    ) -> [FloatTensor<Self>; 4];
}

/// A backend with its passes runs the layer's forward on its own tensors.
macro_rules! layer_by_passes {
    ($backend:ty) => {
        impl GruLayer for $backend {
            fn gru_layer(
                xp: FloatTensor<Self>,
                h0: FloatTensor<Self>,
                w_hh: FloatTensor<Self>,
                b_hh: FloatTensor<Self>,
            ) -> FloatTensor<Self> {
                <Self as GruPasses>::gru_forward(xp, h0, w_hh, b_hh).0
            }
        }
    };
}

/// flex and ndarray run [`forward`] and [`backward`].
#[cfg(any(feature = "flex", feature = "ndarray"))]
macro_rules! cpu_backend {
    ($backend:ty) => {
        impl GruPasses for $backend {
            type Saved = Saved<Self>;

            fn gru_forward(
                xp: FloatTensor<Self>,
                h0: FloatTensor<Self>,
                w_hh: FloatTensor<Self>,
                b_hh: FloatTensor<Self>,
            ) -> (FloatTensor<Self>, Saved<Self>) {
                let saved = forward::<Self>(xp, h0, w_hh, b_hh);
                (saved.out.clone(), saved)
            }

            fn gru_backward(
                grad: FloatTensor<Self>,
                h0: FloatTensor<Self>,
                w_hh: FloatTensor<Self>,
                saved: Saved<Self>,
            ) -> [FloatTensor<Self>; 4] {
                backward::<Self>(grad, h0, w_hh, saved)
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
impl GruPasses for burn_cubecl::CubeBackend {
    type Saved = crate::cube::gru::Saved;

    fn gru_forward(
        xp: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        b_hh: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, Self::Saved) {
        crate::cube::gru::forward(xp, h0, w_hh, b_hh)
    }

    fn gru_backward(
        grad: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        saved: Self::Saved,
    ) -> [FloatTensor<Self>; 4] {
        crate::cube::gru::backward(grad, h0, w_hh, saved)
    }
}

#[cfg(feature = "wgpu")]
layer_by_passes!(burn_cubecl::CubeBackend);

/// What the forward keeps for the backward: the output, and each step's
/// tensors as they were made (the backward reads them a step at a time, so
/// they are not copied into one).
#[derive(Clone, Debug)]
pub struct Saved<B: Backend> {
    /// [T·B, H]: h_1…h_T (the op's output).
    out: FloatTensor<B>,
    /// T × [B, 2H]: σ(r) σ(z).
    rz: Vec<FloatTensor<B>>,
    /// T × [B, H]: n.
    n: Vec<FloatTensor<B>>,
    /// T × [B, H]: HP_t[n], the recurrent product's n block with its bias.
    hp_n: Vec<FloatTensor<B>>,
}

fn forward<B: Backend + GruCell + StepProduct>(
    xp: FloatTensor<B>,
    h0: FloatTensor<B>,
    w_hh: FloatTensor<B>,
    b_hh: FloatTensor<B>,
) -> Saved<B> {
    let b = h0.shape()[0];
    let steps = xp.shape()[0] / b;
    let w_hh = B::prepare(w_hh); // packed once for the T steps
    let mut h = h0;
    let (mut outs, mut rzs, mut ns, mut hpns) = (vec![], vec![], vec![], vec![]);
    for t in 0..steps {
        let product = B::step_product(h.clone(), &w_hh); // [B,3H]
        let step = B::cell_forward(rows::<B>(&xp, t * b..(t + 1) * b), product, b_hh.clone(), h);
        h = step.h;
        outs.push(h.clone());
        rzs.push(step.rz);
        ns.push(step.n);
        hpns.push(step.hp_n);
    }
    Saved {
        out: B::float_cat(outs, 0),
        rz: rzs,
        n: ns,
        hp_n: hpns,
    }
}

/// The inputs' gradients [dXP, dh0, dW_hh, db_hh] from the output's
/// gradient `grad` [T·B, H].
fn backward<B: Backend + GruCell + StepProduct>(
    grad: FloatTensor<B>,
    h0: FloatTensor<B>,
    w_hh: FloatTensor<B>,
    s: Saved<B>,
) -> [FloatTensor<B>; 4] {
    let b = h0.shape()[0];
    let steps = s.out.shape()[0] / b;
    let w_t = B::prepare(B::float_transpose(w_hh)); // packed once for the T steps
    let mut dh_next: Option<FloatTensor<B>> = None;
    let (mut d_xp, mut d_hp) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
    for t in (0..steps).rev() {
        let h_prev = if t == 0 {
            h0.clone()
        } else {
            rows::<B>(&s.out, (t - 1) * b..t * b)
        };
        let saved = [s.rz[t].clone(), s.n[t].clone(), s.hp_n[t].clone(), h_prev];
        let step = B::cell_backward(saved, rows::<B>(&grad, t * b..(t + 1) * b), dh_next.take());
        let product = B::step_product(step.d_hp.clone(), &w_t);
        dh_next = Some(B::float_add(step.dh_direct, product));
        d_xp.push(step.d_xp);
        d_hp.push(step.d_hp);
    }
    d_xp.reverse();
    d_hp.reverse();
    let d_hp = B::float_cat(d_hp, 0); // [T·B,3H]
    let d_w = recurrent_weight_grad::<B>(h0, &s.out, d_hp.clone()); // [H,3H]
    let d_b = B::float_sum_dim(d_hp, 0); // [1,3H]
    let dh0 = dh_next.expect("at least one step");
    [B::float_cat(d_xp, 0), dh0, d_w, d_b]
}

#[derive(Debug)]
struct GruLayerBackward;

#[derive(Clone, Debug)]
struct State<B: GruPasses> {
    h0: FloatTensor<B>,
    w_hh: FloatTensor<B>,
    saved: B::Saved,
}

impl<B: GruPasses> Backward<B, 4> for GruLayerBackward {
    type State = State<B>;

    fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let State { h0, w_hh, saved } = ops.state;
        let inputs = B::gru_backward(grad, h0, w_hh, saved);
        for (parent, g) in ops.parents.into_iter().zip(inputs) {
            if let Some(node) = parent {
                grads.register::<B>(node.id, g);
            }
        }
    }
}

impl<B: GruPasses, C: CheckpointStrategy> GruLayer for Autodiff<B, C> {
    fn gru_layer(
        xp: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        b_hh: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (xp, n_xp) = xp.into_parts();
        let (h0, n_h0) = h0.into_parts();
        let (w_hh, n_w) = w_hh.into_parts();
        let (b_hh, n_b) = b_hh.into_parts();
        match GruLayerBackward
            .prepare::<C>([n_xp, n_h0, n_w, n_b])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (out, saved) = B::gru_forward(xp, h0.clone(), w_hh.clone(), b_hh);
                prep.finish(State { h0, w_hh, saved }, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::gru_forward(xp, h0, w_hh, b_hh).0),
        }
    }
}
