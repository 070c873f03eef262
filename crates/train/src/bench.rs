//! `charrnn bench`: times training iterations (no files, no sampling, no
//! printing in the loop) and reports ms/iter, chars/s and peak memory, plus
//! one machine-readable line.

use std::time::Instant;

use anyhow::Result;
use burn::tensor::{DType, Tensor, TensorData};

use crate::backend;
use crate::cli::{BenchArgs, TrainArgs};
use crate::run::setup;

/// Iterations run before timing starts (allocator and caches settle).
const WARMUP: u64 = 20;

pub fn run(args: &BenchArgs) -> Result<i32> {
    if let Some(n) = args.matmul {
        return matmul(args, n);
    }
    let args = TrainArgs {
        model: args.model.clone(),
        optim: args.optim.clone(),
        iterations: Some(args.iterations.unwrap_or(2000)),
        ..Default::default()
    };
    let mut s = setup(&args)?;
    let c = s.trainer.config().clone();
    let total = c.iterations.max(1);
    for _ in 0..WARMUP.min(total) {
        s.trainer.step(None)?;
    }
    let timed = total.saturating_sub(WARMUP).max(1);
    #[cfg(feature = "wgpu")]
    let counting = (c.backend == "wgpu").then(|| {
        (
            crate::launches::Count::start(),
            charrnn::host_reads::count(),
        )
    });
    let start = Instant::now();
    backend::on_pool(|| -> Result<()> {
        for _ in 0..timed {
            s.trainer.step(None)?;
        }
        Ok(())
    })?;
    let secs = start.elapsed().as_secs_f64();
    #[cfg(feature = "wgpu")]
    if let Some((launches, reads)) = counting {
        let per_iter = launches.launches() as f64 / timed as f64;
        let per_step = per_iter / c.seq_length as f64;
        let reads = (charrnn::host_reads::count() - reads) as f64 / timed as f64;
        println!(
            "kernels launched per iteration: {per_iter:.1}, host reads per iteration: {reads:.1} ({per_step:.1} launches per recurrent step, {:.1} per step and layer, T {} L {})",
            per_step / c.layers as f64,
            c.seq_length,
            c.layers
        );
    }
    let ms = 1e3 * secs / timed as f64;
    let chars = (c.seq_length * c.batch_size) as f64 * timed as f64 / secs;
    let peak_mb = peak_rss_mb();
    println!(
        "{} backend {} {} B {} H {} T {}, {} thread(s): {ms:.4} ms/iter, {chars:.0} chars/s, peak memory {peak_mb:.1} MB ({timed} timed iterations)",
        s.trainer.model().spec().describe(),
        c.backend,
        c.precision,
        c.batch_size,
        c.hidden_size,
        c.seq_length,
        c.threads
    );
    println!(
        "BENCH model={} layers={} dropout={} optimizer={} backend={} precision={} batch={} threads={} hidden={} seq={} iters={timed} ms_per_iter={ms:.6} chars_per_s={chars:.1} peak_rss_mb={peak_mb:.1}",
        c.model,
        c.layers,
        c.dropout,
        c.optimizer,
        c.backend,
        c.precision,
        c.batch_size,
        c.threads,
        c.hidden_size,
        c.seq_length
    );
    Ok(0)
}

/// Peak resident memory of this process (Linux's VmHWM), in MB; 0 elsewhere.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// GFLOP/s of an n×n by n×n f32 product on the configured backend and
/// threads: the best of 10 timed products after 2 untimed.
fn matmul(args: &BenchArgs, n: usize) -> Result<i32> {
    let c = crate::settings::resolve(&TrainArgs {
        model: args.model.clone(),
        ..Default::default()
    })?;
    backend::use_threads(c.threads)?;
    let device = backend::device(&c.backend, charrnn::Precision::F32)?;
    let random = |seed: u64| {
        let values: Vec<f32> = (0..n * n)
            .map(|i| ((i as u64 * 2654435761 + seed) % 1000) as f32 / 1000.0)
            .collect();
        Tensor::<2>::from_data(TensorData::new(values, [n, n]), (&device, DType::F32))
    };
    let (a, b) = (random(1), random(2));
    let mut best = f64::INFINITY;
    for k in 0..12 {
        let start = Instant::now();
        let p = a.clone().matmul(b.clone());
        let _ = p.into_data(); // waits for the product on any backend
        if k >= 2 {
            best = best.min(start.elapsed().as_secs_f64());
        }
    }
    let gflops = 2.0 * (n as f64).powi(3) / best / 1e9;
    println!(
        "MATMUL backend={} threads={} n={n} gflops={gflops:.1}",
        c.backend, c.threads
    );
    Ok(0)
}
