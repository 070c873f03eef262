//! The wgpu backend for real (in CI: Mesa's lavapipe, a software Vulkan
//! driver): 50 iterations from the numpy fixture's weights at lr 0.01 agree
//! with ndarray to f32 accuracy. Built only with `--features wgpu`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fixture_dir, read_tensor, rel_diff};

const BIN: &str = env!("CARGO_BIN_EXE_train");

fn fixture(name: &str) -> String {
    fixture_dir().join(name).display().to_string()
}

/// Losses and final weights (in the original's order) of a 50-iteration run.
fn run(backend: &str, out: &Path) -> (Vec<f64>, Vec<(&'static str, Vec<f64>)>) {
    let o = Command::new(BIN)
        .args([
            "--data",
            &fixture("input.txt"),
            "--init-weights",
            &fixture("init.safetensors"),
        ])
        .args([
            "--learning-rate",
            "0.01",
            "--iterations",
            "50",
            "--backend",
            backend,
            "--precision",
            "f32",
        ])
        .args([
            "--sample-every",
            "0",
            "--print-every",
            "0",
            "--out-dir",
            &out.display().to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{backend}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let losses = std::fs::read_to_string(out.join("metrics.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    let file = out.join("weights.safetensors");
    let weights = ["Wxh", "Whh", "Why", "bh", "by"]
        .map(|n| (n, read_tensor(&file, n).0))
        .to_vec();
    (losses, weights)
}

#[test]
fn wgpu_trains_like_ndarray() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = |n: &str| -> PathBuf { tmp.path().join(n) };
    let (gpu_loss, gpu_w) = run("wgpu", &dir("wgpu"));
    let (cpu_loss, cpu_w) = run("ndarray", &dir("ndarray"));
    assert_eq!(gpu_loss.len(), 50);
    let loss_rel = gpu_loss
        .iter()
        .zip(&cpu_loss)
        .map(|(a, b)| ((a - b) / b).abs())
        .fold(0.0, f64::max);
    println!("wgpu vs ndarray: max relative loss difference over 50 iterations {loss_rel:e}");
    assert!(loss_rel <= 1e-4, "{loss_rel:e}");
    for ((name, g), (_, c)) in gpu_w.iter().zip(&cpu_w) {
        let rel = rel_diff(g, c);
        println!("{name}: max |wgpu - ndarray| / max |w| = {rel:e}");
        // f32 Adagrad divides by sqrt(mem), which magnifies rounding differences early on.
        assert!(rel <= 2e-3, "{name}: {rel:e}");
    }
}
