//! The wgpu backend for real (in CI: Mesa's lavapipe, a software Vulkan
//! driver): 50 iterations from the numpy fixture's weights at lr 0.01 agree
//! with ndarray to f32 accuracy, the PyTorch LSTM and GRU runs in f32, the
//! kernels and host reads an iteration costs, and the CubeCL layers against
//! Burn's ops and flex. Built only with `--features wgpu`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::tensor::{DType, Device, DeviceKind, Tensor, TensorData};
use charrnn_kernels::{
    fuses_layers, gru_layer, gru_layer_by_steps, lstm_layer, lstm_layer_by_steps, tanh_layer,
    tanh_layer_by_steps,
};
use common::{fixture_dir, read_tensor, rel_diff};

const BIN: &str = env!("CARGO_BIN_EXE_charrnn");

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

/// The PyTorch LSTM and GRU golden runs on wgpu in f32: every loss within
/// f32 accuracy of PyTorch's float64 numbers, and the final weights too.
#[test]
fn wgpu_lstm_and_gru_match_pytorch_in_f32() {
    let tmp = tempfile::tempdir().unwrap();
    for model in ["lstm", "gru"] {
        let dir = common::torch_fixture_dir(model);
        let file = |n: &str| dir.join(n).display().to_string();
        let out = tmp.path().join(model);
        let o = Command::new(BIN)
            .args([
                "--data",
                &file("input.txt"),
                "--init-weights",
                &file("init.safetensors"),
            ])
            .args(["--model", model, "--layers", "2", "--hidden-size", "16"])
            .args([
                "--batch-size",
                "3",
                "--seq-length",
                "10",
                "--optimizer",
                "sgd",
            ])
            .args([
                "--learning-rate",
                "0.1",
                "--iterations",
                "25",
                "--precision",
                "f32",
            ])
            .args([
                "--backend",
                "wgpu",
                "--sample-every",
                "0",
                "--print-every",
                "0",
            ])
            .args(["--out-dir", &out.display().to_string()])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{model}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let read = |p: &Path| -> Vec<f64> {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .skip(1)
                .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
                .collect()
        };
        let (got, want) = (
            read(&out.join("metrics.csv")),
            read(&dir.join("losses.csv")),
        );
        assert_eq!(got.len(), want.len());
        let loss_rel = got
            .iter()
            .zip(&want)
            .map(|(a, b)| ((a - b) / b).abs())
            .fold(0.0, f64::max);
        let after = dir.join("after.safetensors");
        let mut w_rel = 0.0f64;
        for name in [
            "rnn.weight_ih_l0",
            "rnn.weight_hh_l1",
            "rnn.bias_hh_l0",
            "out.weight",
            "out.bias",
        ] {
            let (a, _) = read_tensor(&out.join("weights.safetensors"), name);
            let (b, _) = read_tensor(&after, name);
            w_rel = w_rel.max(rel_diff(&a, &b));
        }
        println!(
            "wgpu {model} f32 vs PyTorch f64: max rel loss diff {loss_rel:e}, max rel weight diff {w_rel:e}"
        );
        assert!(
            loss_rel <= 1e-4 && w_rel <= 1e-4,
            "{model}: {loss_rel:e} {w_rel:e}"
        );
    }
}

/// `charrnn bench --backend wgpu`'s counts: (launches, host reads) per
/// iteration for `model` at `seq` steps.
fn launch_counts(model: &str, layers: &str, seq: usize) -> (f64, f64) {
    let o = Command::new(BIN)
        .args([
            "bench",
            "--backend",
            "wgpu",
            "--data",
            &fixture("input.txt"),
        ])
        .args(["--model", model, "--layers", layers, "--hidden-size", "16"])
        .args(["--batch-size", "2", "--seq-length", &seq.to_string()])
        .args(["--iterations", "30", "--threads", "1"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line = out
        .lines()
        .find(|l| l.starts_with("kernels launched per iteration: "))
        .unwrap_or_else(|| panic!("no launch count in bench's output:\n{out}"));
    let number = |after: &str| -> f64 {
        let rest = &line[line.find(after).unwrap() + after.len()..];
        rest.split([',', ' ']).next().unwrap().parse().unwrap()
    };
    (
        number("kernels launched per iteration: "),
        number("host reads per iteration: "),
    )
}

/// The counts bench prints: every iteration reads the loss back once and
/// nothing else; the launches are the chunk's fixed kernels plus the same
/// number for every recurrent step (affine in T: T 4, 8 and 12 lie on one
/// line, to within the odd launch the runtime adds now and then), and that
/// number is two per layer: the CubeCL layers' one kernel forward and one
/// backward per step (the cells in Burn's ops launched 18 to 107).
#[test]
fn bench_counts_launches_per_step_and_one_host_read() {
    for (model, layers) in [("rnn", "1"), ("lstm", "2"), ("gru", "2")] {
        let counts = [4, 8, 12].map(|t| launch_counts(model, layers, t));
        let per_step = (counts[2].0 - counts[0].0) / 8.0;
        println!(
            "wgpu {model} L {layers}: (launches, reads) per iteration at T 4, 8, 12: {counts:?}; {per_step:.1} launches per step"
        );
        for (_, reads) in counts {
            assert_eq!(reads, 1.0, "{model}: host reads per iteration");
        }
        let bend = counts[2].0 - 2.0 * counts[1].0 + counts[0].0;
        assert!(bend.abs() <= 1.0, "{model}: not affine in T: {counts:?}");
        let per_step_and_layer = per_step / layers.parse::<f64>().unwrap();
        assert!(
            (per_step_and_layer - 2.0).abs() <= 0.1,
            "{model}: {per_step_and_layer} launches per step and layer"
        );
    }
}

// The CubeCL layers (crates/kernels/src/cube) against the same layers
// composed of Burn's ops on the same wgpu device, and against flex's fused
// CPU layers: outputs and every input's gradient through autodiff.

fn wgpu() -> Device {
    Device::wgpu(DeviceKind::DefaultDevice)
}

/// [rows, cols] of 0.8·sin(seed + 0.37·i): fixed values that differ everywhere.
fn wave(rows: usize, cols: usize, seed: f64, device: &Device) -> Tensor<2> {
    let v: Vec<f64> = (0..rows * cols)
        .map(|i| (seed + 0.37 * i as f64).sin() * 0.8)
        .collect();
    Tensor::from_data(TensorData::new(v, [rows, cols]), (device, DType::F32))
}

fn values(t: Tensor<2>) -> Vec<f64> {
    t.into_data().convert::<f64>().try_to_vec::<f64>().unwrap()
}

type Named<T> = (&'static str, T);

#[derive(Clone, Copy, Debug)]
enum Cell {
    Tanh,
    Lstm,
    Gru,
}

/// A layer's outputs and the gradients of Σ R ⊙ outputs with respect to each
/// input, at T steps of B streams of H units, fused or composed of Burn's ops
/// step by step.
fn layer_and_gradients(
    cell: Cell,
    fused: bool,
    [t, b, h]: [usize; 3],
    device: &Device,
) -> Vec<(&'static str, Vec<f64>)> {
    let device = device.clone().autodiff();
    let wave = |rows, cols, seed| wave(rows, cols, seed, &device);
    let gates = match cell {
        Cell::Tanh => 1,
        Cell::Gru => 3,
        Cell::Lstm => 4,
    };
    let xp = wave(t * b, gates * h, 1.0).require_grad();
    let h0 = wave(b, h, 2.0).require_grad();
    let c0 = wave(b, h, 3.0).require_grad();
    // Scaled so the states neither saturate nor vanish over T steps.
    let w = wave(h, gates * h, 4.0)
        .mul_scalar(1.5 / (h as f64).sqrt())
        .require_grad();
    let bias = wave(1, gates * h, 7.0).require_grad();
    let (outs, inputs): (Vec<Named<Tensor<2>>>, Vec<Named<&Tensor<2>>>) = match cell {
        Cell::Tanh => {
            let f = if fused {
                tanh_layer
            } else {
                tanh_layer_by_steps
            };
            let hs = f(xp.clone(), h0.clone(), w.clone());
            (
                vec![("hs", hs)],
                vec![("dXP", &xp), ("dh0", &h0), ("dW_hh", &w)],
            )
        }
        Cell::Lstm => {
            let f = if fused {
                lstm_layer
            } else {
                lstm_layer_by_steps
            };
            let (hs, c) = f(xp.clone(), h0.clone(), c0.clone(), w.clone());
            let inputs = vec![("dXP", &xp), ("dh0", &h0), ("dc0", &c0), ("dW_hh", &w)];
            (vec![("hs", hs), ("c_T", c)], inputs)
        }
        Cell::Gru => {
            let f = if fused { gru_layer } else { gru_layer_by_steps };
            let hs = f(xp.clone(), h0.clone(), w.clone(), bias.clone());
            let inputs = vec![("dXP", &xp), ("dh0", &h0), ("dW_hh", &w), ("db_hh", &bias)];
            (vec![("hs", hs)], inputs)
        }
    };
    let loss = outs
        .iter()
        .enumerate()
        .map(|(k, (_, o))| {
            let [rows, cols] = o.dims();
            (o.clone() * wave(rows, cols, 5.0 + k as f64)).sum()
        })
        .reduce(|a, b| a + b)
        .unwrap();
    let grads = loss.backward();
    let mut all: Vec<(&str, Vec<f64>)> = outs
        .into_iter()
        .map(|(n, o)| (n, values(o.detach())))
        .collect();
    for (name, x) in inputs {
        all.push((name, values(x.grad(&grads).expect("a gradient"))));
    }
    all
}

/// The sizes: a small chunk, and one whose B·H threads span several cubes.
const SIZES: [[usize; 3]; 2] = [[7, 3, 5], [5, 4, 150]];

#[test]
fn cube_layers_equal_burns_ops_and_flex_to_f32_accuracy() {
    let gpu = wgpu();
    assert!(fuses_layers(&wave(1, 1, 0.0, &gpu.clone().autodiff())));
    assert!(!fuses_layers(&wave(1, 1, 0.0, &Device::flex())));
    for cell in [Cell::Tanh, Cell::Lstm, Cell::Gru] {
        for size in SIZES {
            let fused = layer_and_gradients(cell, true, size, &gpu);
            let by_ops = layer_and_gradients(cell, false, size, &gpu);
            // flex runs its own fused CPU layers (the tanh RNN: Burn's ops).
            let flex = layer_and_gradients(cell, true, size, &Device::flex());
            for ((name, ours), ((_, ops), (_, cpu))) in fused.iter().zip(by_ops.iter().zip(&flex)) {
                let (vs_ops, vs_flex) = (rel_diff(ours, ops), rel_diff(ours, cpu));
                println!(
                    "{cell:?} T,B,H {size:?} {name:6}: cube kernels vs Burn's ops on wgpu {vs_ops:.2e}, vs flex {vs_flex:.2e} of max"
                );
                assert!(
                    vs_ops <= 1e-5,
                    "{cell:?} {size:?} {name} vs Burn's ops: {vs_ops:e}"
                );
                assert!(
                    vs_flex <= 1e-5,
                    "{cell:?} {size:?} {name} vs flex: {vs_flex:e}"
                );
            }
        }
    }
}
