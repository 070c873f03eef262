//! charrnn: Karpathy's min-char-rnn rebuilt on Burn.
//!
//! The library holds everything that is not a command line: the text and its
//! vocabulary ([`data`]), the RNN as a Burn module ([`model`]), the original's
//! hand-written backward pass ([`backward`]) and the checks that hold autodiff
//! to it ([`gradcheck`]), Adagrad with clamp-by-value ([`optim`]), the training
//! loop ([`train`]), sampling ([`sample`]), weights in the original's layout
//! ([`weights`]), checkpoints ([`checkpoint`]) and the run configuration
//! ([`config`]). It never names a backend: every entry point takes a
//! [`burn::tensor::Device`] and a [`Precision`].
//!
//! Dimension legend, used in every shape comment:
//!   V = vocabulary size, H = hidden size, T = steps per chunk (seq_length),
//!   B = parallel streams (batch size; 1 is the original).

pub mod backward;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod error;
pub mod fsutil;
pub mod gradcheck;
pub mod model;
pub mod optim;
pub mod precision;
pub mod sample;
pub mod train;
pub mod weights;

pub use error::{Error, Result};
pub use precision::Precision;
