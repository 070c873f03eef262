//! The arithmetic of the fast activations on plain slices, in place.
//!
//! f32 is the training precision and the hot path: tanh and σ are built from
//! a Cephes-style `exp` (range reduction by ln 2, a degree-6 polynomial, the
//! power of two written into the exponent bits) and Cephes' small-argument
//! tanh polynomial, with branches written as selects so that LLVM vectorises
//! every loop (8 lanes where the CPU has AVX2, chosen at run time; 4 with the
//! x86-64 baseline). There are no fused multiply-adds, so both paths round
//! identically and a run gives the same bits on any x86-64 CPU.
//! Accuracy against libm (what Burn's own ops call): see the tests.
//!
//! f64 is the exactness precision (parity with PyTorch and numpy to 1e-15):
//! it calls libm, element by element, like Burn does.
//!
//! The backward kernels take the forward's *output* y, so nothing is
//! recomputed: d tanh = 1 − y², dσ = y(1 − y); for log-softmax over a row,
//! dx = dy − e^y · Σ dy.

use std::ops::{Add, Mul, Sub};

/// Which activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Tanh,
    Sigmoid,
    /// x − log Σ e^x over each row (the last dimension).
    LogSoftmax,
    /// An LSTM's gate pre-activations [i f g o] (4 equal column blocks of
    /// each row, PyTorch's order): σ on i, f, o and tanh on g, in one pass.
    LstmGates,
}

/// Runs `f(block, activation)` on each of an LSTM row's four gate blocks.
fn lstm_blocks<T>(row: &mut [T], mut f: impl FnMut(&mut [T], Activation)) {
    let h = row.len() / 4;
    for (k, block) in row.chunks_exact_mut(h).enumerate() {
        f(
            block,
            if k == 2 {
                Activation::Tanh
            } else {
                Activation::Sigmoid
            },
        );
    }
}

/// The LSTM gates' backward: `backward(activation, grad, y, 1)` on each
/// gate block of every row of `grad` with the same block of `y`.
fn lstm_grad_blocks<T>(
    grad: &mut [T],
    y: &[T],
    width: usize,
    backward: fn(Activation, &mut [T], &[T], usize),
) {
    let h = width / 4;
    for (g, y) in grad.chunks_exact_mut(width).zip(y.chunks_exact(width)) {
        let mut y = y.chunks_exact(h);
        lstm_blocks(g, |g, act| backward(act, g, y.next().expect("4 blocks"), 1));
    }
}

/// The arithmetic both float types share.
pub trait Real: Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> {
    const ZERO: Self;
    const ONE: Self;
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

/// e^x for x in [−87, 88.3] (callers clamp): |relative error| ≤ 2 ulp.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // Adding 1.5·2^23 rounds to an integer and leaves it in the low mantissa bits.
    const SHIFT: f32 = 12_582_912.0;
    let t = x * LOG2E + SHIFT;
    let n = t - SHIFT;
    // x − n·ln2 in two parts (Cody–Waite): the first is exact.
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = (((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 5e-1)
        * r
        * r
        + r
        + 1.0;
    // 2^n: n + 127 in the exponent field.
    let n_bits = t.to_bits() as i32 - 0x4B40_0000;
    p * f32::from_bits(((n_bits + 127) << 23) as u32)
}

/// tanh(x), f32. |x| < 0.625: x + x³·P(x²) (no cancellation near 0); else
/// 1 − 2/(e^{2|x|} + 1) with the sign put back. NaN stays NaN.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    // tanh(10) rounds to 1 in f32; the clamp keeps exp in range.
    let a = if a > 10.0 { 10.0 } else { a };
    let z = a * a;
    let small =
        ((((-5.704_988_7e-3 * z + 2.063_909e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1) * z
            - 3.333_328e-1)
            * z
            * a
            + a;
    let large = 1.0 - 2.0 / (exp_f32(2.0 * a) + 1.0);
    let y = if a < 0.625 { small } else { large };
    y.copysign(x)
}

/// σ(x) = 1/(1 + e^{−x}), f32. Below x = −88 it returns σ(−88) ≈ 6e-39
/// instead of a subnormal (an absolute error under 1e-38). NaN stays NaN.
#[inline(always)]
pub fn sigmoid_f32(x: f32) -> f32 {
    let z = -x;
    let z = if z > 88.0 { 88.0 } else { z };
    let z = if z < -87.0 { -87.0 } else { z };
    1.0 / (1.0 + exp_f32(z))
}

/// Runs `$body` (a loop over slices) compiled twice, for AVX2 and for the
/// x86-64 baseline, and picks one at run time. The body must be plain
/// arithmetic that LLVM can vectorise; both versions compute the same bits.
macro_rules! multiversion {
    ($name:ident ( $($arg:ident : $ty:ty),* ) $body:block) => {
        pub fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body

            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) {
                    body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU was just found to support AVX2.
                    unsafe { avx2($($arg),*) };
                    return;
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use multiversion;

multiversion!(tanh_in_place_f32(xs: &mut [f32]) {
    for x in xs.iter_mut() {
        *x = tanh_f32(*x);
    }
});

multiversion!(sigmoid_in_place_f32(xs: &mut [f32]) {
    for x in xs.iter_mut() {
        *x = sigmoid_f32(*x);
    }
});

multiversion!(tanh_grad_in_place_f32(grad: &mut [f32], y: &[f32]) {
    for (g, &y) in grad.iter_mut().zip(y) {
        *g *= 1.0 - y * y;
    }
});

multiversion!(sigmoid_grad_in_place_f32(grad: &mut [f32], y: &[f32]) {
    for (g, &y) in grad.iter_mut().zip(y) {
        *g *= y * (1.0 - y);
    }
});

/// e^x for x ≤ 0 (log-probabilities): below −87 it returns e^−87 ≈ 2e-38.
#[inline(always)]
fn exp_nonpositive_f32(x: f32) -> f32 {
    exp_f32(if x < -87.0 { -87.0 } else { x })
}

/// Σ f(x) over a row in 8 independent lanes (so that it vectorises; the
/// order is fixed, so the result is too).
#[inline(always)]
fn lane_sum(row: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = row.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane += f(x);
        }
    }
    let mut sum = lanes.iter().sum::<f32>();
    for &x in tail {
        sum += f(x);
    }
    sum
}

multiversion!(log_softmax_rows_f32(xs: &mut [f32], width: usize) {
    for row in xs.chunks_exact_mut(width) {
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m });
        let log_sum = max + lane_sum(row, |x| exp_nonpositive_f32(x - max)).ln();
        for x in row.iter_mut() {
            *x -= log_sum;
        }
    }
});

multiversion!(log_softmax_grad_rows_f32(grad: &mut [f32], y: &[f32], width: usize) {
    for (g, y) in grad.chunks_exact_mut(width).zip(y.chunks_exact(width)) {
        let total = lane_sum(g, |x| x);
        for (g, &y) in g.iter_mut().zip(y) {
            *g -= exp_nonpositive_f32(y) * total;
        }
    }
});

/// The activation in place, f32. `width` is the last dimension's size
/// (log-softmax's row length).
pub fn forward_f32(act: Activation, xs: &mut [f32], width: usize) {
    match act {
        Activation::Tanh => tanh_in_place_f32(xs),
        Activation::Sigmoid => sigmoid_in_place_f32(xs),
        Activation::LogSoftmax => log_softmax_rows_f32(xs, width),
        Activation::LstmGates => {
            for row in xs.chunks_exact_mut(width) {
                lstm_blocks(row, |block, act| forward_f32(act, block, 1));
            }
        }
    }
}

/// The activation in place, f64 (libm).
pub fn forward_f64(act: Activation, xs: &mut [f64], width: usize) {
    match act {
        Activation::Tanh => xs.iter_mut().for_each(|x| *x = x.tanh()),
        Activation::Sigmoid => xs.iter_mut().for_each(|x| *x = 1.0 / (1.0 + (-*x).exp())),
        Activation::LogSoftmax => {
            for row in xs.chunks_exact_mut(width) {
                let max = row.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x));
                let log_sum = max + row.iter().map(|x| (x - max).exp()).sum::<f64>().ln();
                row.iter_mut().for_each(|x| *x -= log_sum);
            }
        }
        Activation::LstmGates => {
            for row in xs.chunks_exact_mut(width) {
                lstm_blocks(row, |block, act| forward_f64(act, block, 1));
            }
        }
    }
}

/// grad ← the input's gradient, from the forward's output y; f32.
pub fn backward_f32(act: Activation, grad: &mut [f32], y: &[f32], width: usize) {
    assert_eq!(grad.len(), y.len(), "gradient and output sizes differ");
    match act {
        Activation::Tanh => tanh_grad_in_place_f32(grad, y),
        Activation::Sigmoid => sigmoid_grad_in_place_f32(grad, y),
        Activation::LogSoftmax => log_softmax_grad_rows_f32(grad, y, width),
        Activation::LstmGates => lstm_grad_blocks(grad, y, width, backward_f32),
    }
}

/// grad ← the input's gradient, from the forward's output y; f64.
pub fn backward_f64(act: Activation, grad: &mut [f64], y: &[f64], width: usize) {
    assert_eq!(grad.len(), y.len(), "gradient and output sizes differ");
    match act {
        Activation::Tanh => grad.iter_mut().zip(y).for_each(|(g, y)| *g *= 1.0 - y * y),
        Activation::Sigmoid => grad
            .iter_mut()
            .zip(y)
            .for_each(|(g, y)| *g *= y * (1.0 - y)),
        Activation::LogSoftmax => {
            for (g, y) in grad.chunks_exact_mut(width).zip(y.chunks_exact(width)) {
                let total: f64 = g.iter().sum();
                g.iter_mut().zip(y).for_each(|(g, y)| *g -= y.exp() * total);
            }
        }
        Activation::LstmGates => lstm_grad_blocks(grad, y, width, backward_f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between two finite f32s of the same sign.
    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    /// Every 97th f32 bit pattern in [−20, 20] (≈ 22 million values), against f64 libm.
    fn worst(f: fn(f32) -> f32, exact: fn(f64) -> f64, lo: f32, hi: f32) -> (u32, f32) {
        let mut worst = (0, 0.0);
        for bits in (0..u32::MAX).step_by(97) {
            let x = f32::from_bits(bits);
            if !(lo..=hi).contains(&x) {
                continue;
            }
            let reference = exact(x as f64) as f32;
            let d = ulps(f(x), reference);
            if d > worst.0 {
                worst = (d, x);
            }
        }
        worst
    }

    #[test]
    fn tanh_f32_is_within_2_ulp_of_the_correctly_rounded_value() {
        let (d, x) = worst(tanh_f32, f64::tanh, -20.0, 20.0);
        println!("tanh_f32: worst {d} ulp at x = {x:e}");
        assert!(d <= 2, "{d} ulp at {x:e}");
    }

    #[test]
    fn sigmoid_f32_is_within_2_ulp_of_the_correctly_rounded_value() {
        let (d, x) = worst(sigmoid_f32, |x| 1.0 / (1.0 + (-x).exp()), -87.0, 88.0);
        println!("sigmoid_f32: worst {d} ulp at x = {x:e}");
        assert!(d <= 2, "{d} ulp at {x:e}");
    }

    #[test]
    fn edge_values() {
        for (x, t) in [(0.0f32, 0.0f32), (-0.0, -0.0), (30.0, 1.0), (-30.0, -1.0)] {
            assert_eq!(tanh_f32(x).to_bits(), t.to_bits(), "tanh({x})");
        }
        assert_eq!(tanh_f32(f32::INFINITY), 1.0);
        assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
        assert!(tanh_f32(f32::NAN).is_nan());
        assert_eq!(sigmoid_f32(0.0), 0.5);
        assert_eq!(sigmoid_f32(f32::INFINITY), 1.0);
        assert!(sigmoid_f32(f32::NEG_INFINITY) < 1e-38);
        assert!(sigmoid_f32(f32::NAN).is_nan());
    }

    #[test]
    fn vectorised_loops_match_the_scalar_functions_bit_for_bit() {
        let xs: Vec<f32> = (0..1003).map(|i| (i as f32 - 500.0) * 0.037).collect();
        let mut t = xs.clone();
        tanh_in_place_f32(&mut t);
        let mut s = xs.clone();
        sigmoid_in_place_f32(&mut s);
        for (i, &x) in xs.iter().enumerate() {
            assert_eq!(t[i].to_bits(), tanh_f32(x).to_bits());
            assert_eq!(s[i].to_bits(), sigmoid_f32(x).to_bits());
        }
        let mut g = vec![2.0f32; xs.len()];
        backward_f32(Activation::Tanh, &mut g, &t, 1);
        for i in 0..xs.len() {
            assert_eq!(g[i], 2.0 * (1.0 - t[i] * t[i]));
        }
    }

    #[test]
    fn log_softmax_rows_match_f64_within_f32_accuracy() {
        // 7 rows of 65 (a vector body and a tail), logits up to ±30.
        let width = 65;
        let xs: Vec<f32> = (0..7 * width)
            .map(|i| ((i * 7919) % 601) as f32 * 0.1 - 30.0)
            .collect();
        let mut ours = xs.clone();
        forward_f32(Activation::LogSoftmax, &mut ours, width);
        let mut exact: Vec<f64> = xs.iter().map(|&x| x as f64).collect();
        forward_f64(Activation::LogSoftmax, &mut exact, width);
        for (i, (o, e)) in ours.iter().zip(&exact).enumerate() {
            // x − log Σ e^x rounds at the scale of the row's largest input:
            // 4 ulp of that (f32 inputs up to 30 here).
            let row = &xs[i / width * width..][..width];
            let scale = row.iter().fold(1.0f32, |m, x| m.max(x.abs())) as f64;
            let err = (*o as f64 - e).abs();
            assert!(err <= 4.0 * f32::EPSILON as f64 * scale, "{o} vs {e}");
        }
        // Backward: dy − e^y Σ dy, against f64.
        let dy: Vec<f32> = (0..xs.len())
            .map(|i| ((i * 31) % 17) as f32 * 0.25 - 2.0)
            .collect();
        let mut g = dy.clone();
        backward_f32(Activation::LogSoftmax, &mut g, &ours, width);
        let mut g64: Vec<f64> = dy.iter().map(|&x| x as f64).collect();
        backward_f64(Activation::LogSoftmax, &mut g64, &exact, width);
        for (o, e) in g.iter().zip(&g64) {
            assert!(
                (*o as f64 - e).abs() <= 1e-5 * e.abs().max(1.0),
                "{o} vs {e}"
            );
        }
    }
}
