//! The models: one [`Network`] type for every kind, so training, sampling,
//! checkpoints, evaluation and benchmarks never ask which model they run.
//!
//! - [`network`]: L layers of one cell kind under one output projection; a
//!   forward over a chunk from a [`State`], a step for sampling;
//! - [`tanh`]: min-char-rnn's cell, forward only, a step at a time (Burn's
//!   autodiff produces the gradients; [`crate::gradcheck`] holds it to finite
//!   differences and to the hand-written backward);
//! - [`lstm`], [`gru`]: the gated cells, a whole layer per chunk, each one
//!   operation with its own backward (crates/kernels), held to
//!   autodiff's gradients of the step-by-step cell;
//! - [`layer`]: a layer's parameters and the work every cell shares;
//! - [`loss`]: the original's loss;
//! - [`spec`]: what a network is (kind, depth, sizes, naming, init);
//! - [`params`]: the one table of parameter names and shapes, and the
//!   rename-and-reshape at the file boundary;
//! - [`layout`]: weights by name checked against a spec, and fresh weights;
//! - [`named`]: weights on the host by name.
//!
//! min-char-rnn is the setting `rnn`, one layer, [`Layout::Original`]: one
//! bias, N(0,1)·0.01 init, its tensor names `Wxh … by`.

pub mod gru;
pub mod layer;
pub mod layout;
pub mod loss;
pub mod lstm;
pub mod named;
pub mod network;
pub mod params;
pub mod spec;
pub mod tanh;

pub use named::NamedWeights;
pub use network::{Network, State};
pub use spec::{Init, Layout, ModelKind, ModelSpec};
