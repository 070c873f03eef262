//! Ours or Burn's? Times one training iteration's forward + backward of a
//! stacked LSTM two ways, alternating, medians of 5 rounds:
//!
//! - charrnn's fused cell: one [I, 4H] input projection over all T·B rows,
//!   one [H, 4H] recurrent product per step (`models/lstm.rs`);
//! - Burn's `nn::Lstm` (a `GateController` per gate: two `Linear`s each, so
//!   eight products per step) under the same one-hot input, projection and loss.
//!
//! Run: `cargo run --release -p charrnn --example cells` (or without --release:
//! the dev profile is optimised). Sizes: char-rnn's 2 × 128 and 2 × 512, B 50, T 50.

use std::time::Instant;

use burn::module::Module;
use burn::nn::{Linear, LinearConfig, Lstm, LstmConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::{DType, Device, Int, Tensor, TensorData};
use charrnn::Precision;
use charrnn::models::{ModelKind, ModelSpec, Network};

const V: usize = 65;
const T: usize = 50;
const B: usize = 50;

#[derive(Module, Debug)]
struct BurnLstm {
    layers: Vec<Lstm>,
    out: Linear,
}

fn ids(device: &Device) -> (Tensor<1, Int>, Tensor<2, Int>, Tensor<3>) {
    let v: Vec<i64> = (0..T * B).map(|i| ((i * 7 + 3) % V) as i64).collect();
    let mut one_hot = vec![0.0f32; B * T * V];
    for t in 0..T {
        for b in 0..B {
            one_hot[(b * T + t) * V + v[t * B + b] as usize] = 1.0;
        }
    }
    (
        Tensor::from_data(TensorData::new(v.clone(), [T * B]), device),
        Tensor::from_data(TensorData::new(v, [T * B, 1]), device),
        Tensor::from_data(TensorData::new(one_hot, [B, T, V]), (device, DType::F32)),
    )
}

fn time(mut f: impl FnMut(), iters: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_secs_f64() * 1e3 / iters as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let device = Device::flex().autodiff();
    let (inputs, targets, one_hot) = ids(&device);
    for hidden in [128, 512] {
        let iters = if hidden == 128 { 10 } else { 3 };
        let spec = ModelSpec::new(ModelKind::Lstm, 2, V, hidden);
        let ours = Network::init(&spec, 1, Precision::F32, &device);
        let state = ours.zero_state(B);
        let theirs = BurnLstm {
            layers: vec![
                LstmConfig::new(V, hidden, true).init(&device),
                LstmConfig::new(hidden, hidden, true).init(&device),
            ],
            out: LinearConfig::new(hidden, V).init(&device),
        };
        let mut run_ours = || {
            let (loss, _) = ours.forward(inputs.clone(), targets.clone(), &state, None);
            let _ = loss.backward();
        };
        let mut run_theirs = || {
            let mut x = one_hot.clone();
            for l in &theirs.layers {
                x = l.forward(x, None).0;
            }
            // [B,T,H] → time-major rows, as ours.
            let h = x.swap_dims(0, 1).reshape([T * B, hidden]);
            let nll = log_softmax(theirs.out.forward(h), 1)
                .gather(1, targets.clone())
                .neg();
            let _ = nll.sum().mul_scalar(1.0 / B as f64).backward();
        };
        run_ours();
        run_theirs();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            a.push(time(&mut run_ours, iters));
            b.push(time(&mut run_theirs, iters));
        }
        let (a, b) = (median(a), median(b));
        println!(
            "LSTM 2 x {hidden}, B {B}, T {T}, flex f32, forward + backward: charrnn {a:.1} ms, Burn nn::Lstm {b:.1} ms ({:.2}x)",
            b / a
        );
    }
}
