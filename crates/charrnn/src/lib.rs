//! charrnn: Karpathy's min-char-rnn rebuilt on Burn, and past it.
//!
//! The library holds everything that is not a command line: the text and its
//! vocabulary ([`data`]), read from a file of any size ([`text_file`]), one network type for every model ([`models`]:
//! min-char-rnn's RNN is a setting of it, beside stacked tanh RNN, LSTM and
//! GRU, all named by one parameter table), the original's
//! hand-written backward pass ([`backward`]) and the checks that hold autodiff
//! to it and to finite differences ([`gradcheck`]), the optimizers ([`optim`]:
//! the original's Adagrad with clamp-by-value, SGD (Burn's), and RMSprop and
//! Adam written here to PyTorch's formulas in f64),
//! dropout masks from a host generator ([`dropout`]), data-parallel steps over
//! the cores ([`shards`]), the device-to-host reads a step makes, counted
//! ([`host_reads`]), the training loop
//! and the assembly of a run from a config or a checkpoint ([`train`]),
//! evaluation in nats per char ([`eval`]), sampling ([`sample`]), learning-rate schedules and epochs ([`schedule`]), opening a
//! trained model from any file a run writes ([`saved`]), weights files ([`weights`]),
//! checkpoints ([`checkpoint`]), a run's loss plot ([`plot`]), the run configuration ([`config`]) and the
//! memory a configuration needs ([`memory`]). It
//! never names a backend: every entry point takes a
//! [`burn::tensor::Device`] and a [`Precision`].
//!
//! Dimension legend, used in every shape comment:
//!   V = vocabulary size, H = hidden size, T = steps per chunk (seq_length),
//!   B = parallel streams (batch size; 1 is the original), L = layers,
//!   G = gate blocks per cell (1 tanh RNN, 3 GRU, 4 LSTM).

pub mod average;
pub mod backward;
pub mod budget;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod dropout;
pub mod error;
pub mod eval;
pub mod fsutil;
pub mod gradcheck;
pub mod host_reads;
pub mod memory;
pub mod models;
pub mod names;
pub mod optim;
pub mod plot;
pub mod precision;
pub mod sample;
pub mod saved;
pub mod schedule;
pub mod shards;
pub mod text_file;
pub mod train;
pub mod weights;

pub use error::{ConfigProblem, Error, Problem, Result};
pub use precision::Precision;
