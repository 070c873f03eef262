//! Would batching concurrent sampling requests pay? Times one sampling step
//! (`Network::step`, inference device) for C streams two ways: C separate
//! one-stream steps (what `charrnn serve` does, a thread per request) and one
//! step of a [C, H] state; and checks whether a batched row gives the same
//! logits, bit for bit, as the stream stepped alone (a server that batched
//! must still give `charrnn sample`'s exact text).
//!
//! Run: `cargo run -p charrnn --example batched_steps` (flex, f32, a fresh
//! 2 × 128 LSTM; weights do not change the time).

use std::time::Instant;

use burn::tensor::{Device, Int, Tensor, TensorData};
use charrnn::Precision;
use charrnn::models::{ModelKind, ModelSpec, Network, State};

fn ids(v: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

fn main() {
    let device = Device::flex();
    let spec = ModelSpec {
        kind: ModelKind::Lstm,
        layers: 2,
        vocab: 65,
        hidden: 128,
        layout: charrnn::models::Layout::PyTorch,
    };
    let net = Network::init(&spec, 1, Precision::F32, &device);
    for clients in [1usize, 8, 64] {
        let steps = 200;
        // C one-stream steps.
        let mut states: Vec<State> = (0..clients).map(|_| net.zero_state(1)).collect();
        let start = Instant::now();
        for t in 0..steps {
            for (c, s) in states.iter_mut().enumerate() {
                let (next, logits) = net.step(ids(vec![((t + c) % 65) as i64], &device), s);
                let _ = logits.into_data();
                *s = next;
            }
        }
        let separate = start.elapsed().as_secs_f64() / steps as f64;
        // One [C, H] step.
        let mut state = net.zero_state(clients);
        let start = Instant::now();
        let mut last = None;
        for t in 0..steps {
            let input = (0..clients).map(|c| ((t + c) % 65) as i64).collect();
            let (next, logits) = net.step(ids(input, &device), &state);
            last = Some(logits.into_data());
            state = next;
        }
        let batched = start.elapsed().as_secs_f64() / steps as f64;
        // Row 0 of the batch against stream 0 alone, same inputs.
        let mut alone = net.zero_state(1);
        let mut mine = None;
        for t in 0..steps {
            let (next, logits) = net.step(ids(vec![(t % 65) as i64], &device), &alone);
            mine = Some(logits.into_data());
            alone = next;
        }
        let row: Vec<f32> = last.unwrap().iter::<f32>().take(65).collect();
        let own: Vec<f32> = mine.unwrap().iter::<f32>().collect();
        let same = row == own;
        let max_diff = row
            .iter()
            .zip(&own)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        println!(
            "C {clients:2}: {:.1} µs per step of C separate streams, {:.1} µs batched ({:.1}×); \
             row 0 after {steps} steps bit-identical to the stream alone: {same} (max |diff| {max_diff:e})",
            1e6 * separate,
            1e6 * batched,
            separate / batched
        );
    }
}
