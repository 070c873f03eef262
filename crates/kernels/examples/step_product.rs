//! Packed or not? Times the recurrent layers' per-step product A [B, K] ·
//! W [K, N] two ways, alternating, medians of 7 rounds of T = 50 products:
//!
//! - flex's matmul (the `gemm` crate, which packs W at every call);
//! - [`charrnn_kernels::packed`]: W packed once, then 50 products, with
//!   each kernel this CPU runs (AVX-512, AVX2).
//!
//! Run: `cargo run -p charrnn-kernels --example step_product` (one thread:
//! `RAYON_NUM_THREADS=1`). Shapes: 2 × 512's forward (K 512, N 2048) and
//! backward (K 2048, N 512) products at B 50 and at B 25 (a shard of two).

use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use charrnn_kernels::packed::{self, Kernel, Packed};

const T: usize = 50;

fn values(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let kernels: Vec<Kernel> = Kernel::all()
        .into_iter()
        .filter(|k| k.runs_here())
        .collect();
    let device = Device::flex();
    println!("µs per step (packed: W packed once per 50 steps, included); GFLOP/s in brackets");
    println!("| B | K | N | flex matmul | packed {kernels:?} |");
    println!("| --- | --- | --- | --- | --- |");
    for (m, k, n) in [
        (50, 512, 2048),
        (50, 2048, 512),
        (25, 512, 2048),
        (25, 2048, 512),
        (50, 512, 1536),
    ] {
        let (a, w) = (values(m * k), values(k * n));
        let at = Tensor::<2>::from_data(TensorData::new(a.clone(), [m, k]), &device);
        let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [k, n]), &device);
        let (mut ours, mut theirs) = (vec![vec![]; kernels.len()], vec![]);
        for _ in 0..7 {
            let start = Instant::now();
            for _ in 0..T {
                let c = at.clone().matmul(wt.clone());
                std::hint::black_box(c.into_data());
            }
            theirs.push(start.elapsed().as_secs_f64() / T as f64);
            for (&kernel, ours) in kernels.iter().zip(&mut ours) {
                let start = Instant::now();
                let p = Packed::new(&w, k, n, n, 1);
                let mut c = vec![0.0; m * n];
                for _ in 0..T {
                    packed::matmul_into(kernel, &a, m, &p, &mut c);
                    std::hint::black_box(&mut c);
                }
                ours.push(start.elapsed().as_secs_f64() / T as f64);
            }
        }
        let flop = 2.0 * (m * k * n) as f64;
        let cell = |s: f64| format!("{:.1} ({:.1})", s * 1e6, flop / s / 1e9);
        let ours: Vec<String> = ours.into_iter().map(|o| cell(median(o))).collect();
        println!(
            "| {m} | {k} | {n} | {} | {} |",
            cell(median(theirs)),
            ours.join(" / ")
        );
    }
}
