//! The original's loss for every model: Σ_t −log softmax(y_t)[target_t],
//! summed over a stream's chunk and averaged over the B streams.

use burn::tensor::{Int, Tensor};
use charrnn_kernels::log_softmax;

/// logits [T·B, V], targets [T·B, 1] → [1].
pub fn chunk_loss(logits: Tensor<2>, targets: Tensor<2, Int>, streams: usize) -> Tensor<1> {
    let nll = log_softmax(logits).gather(1, targets).neg(); // [T·B,1]
    let sum = nll.sum(); // [1]
    // mul_scalar, not div_scalar: Burn 0.22's div_scalar backward computes
    // 1/B in f32, which would cost f64 runs 8 digits.
    if streams == 1 {
        sum
    } else {
        sum.mul_scalar(1.0 / streams as f64)
    }
}
