//! Reads from the device back to the host during training, counted.
//!
//! On a GPU each read waits until every kernel queued before it has run:
//! the device idles while the host catches up, and per-step reads would make
//! an RNN launch-bound however fast its kernels are. A training step reads
//! back only through [`scalar`] (its loss), so [`count`] says how many round
//! trips an iteration makes (`charrnn bench --backend wgpu` prints it per
//! iteration); evaluation, sampling and checkpoints read directly, between
//! iterations.

use std::sync::atomic::{AtomicU64, Ordering};

use burn::tensor::Tensor;

static READS: AtomicU64 = AtomicU64::new(0);

/// The value of a one-element tensor on the host (one round trip).
pub fn scalar(t: Tensor<1>) -> f64 {
    READS.fetch_add(1, Ordering::Relaxed);
    t.into_scalar::<f64>()
}

/// Reads made through [`scalar`] since the process started.
pub fn count() -> u64 {
    READS.load(Ordering::Relaxed)
}
