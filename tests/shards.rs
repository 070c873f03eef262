//! Data-parallel steps (`threads` > 1: the B streams split into shards, each
//! its own forward and backward, gradients summed) give the losses and
//! weights of the unsharded step within rounding, for every kind of network,
//! with dropout and uneven shards, on every CPU backend; and a sharded run
//! is reproducible bit for bit. Prints the largest differences.

mod common;

use charrnn::Precision;
use charrnn::config::TrainConfig;
use charrnn::data::Text;
use charrnn::models::{ModelKind, Network};
use charrnn::optim::OptimizerKind;
use charrnn::train::Trainer;
use common::backends;

const STEPS: usize = 6;

/// Losses of STEPS steps and the weights after them, as f64.
fn run(kind: ModelKind, threads: usize, device: &burn::tensor::Device) -> (Vec<f64>, Vec<f64>) {
    let text = Text::encode(&"The quick brown fox, the lazy dog.\nA cab: \"hah\".\n".repeat(30));
    let config = TrainConfig {
        model: kind,
        layers: 2,
        hidden_size: 7,
        batch_size: 5, // shards of 3 and 2 streams
        seq_length: 6,
        dropout: 0.3,
        optimizer: OptimizerKind::Adam,
        learning_rate: 0.01,
        precision: Precision::F64,
        threads,
        data: "t".into(),
        ..Default::default()
    };
    let spec = config.spec(text.vocab.len());
    let net = Network::init(&spec, 3, Precision::F64, device);
    let mut t = Trainer::new(net, &config, &text, device).unwrap();
    let losses = (0..STEPS).map(|_| t.step(None).unwrap().loss).collect();
    let weights = t
        .model()
        .to_weights()
        .tensors
        .iter()
        .flat_map(|(_, d)| d.iter::<f64>().collect::<Vec<_>>())
        .collect();
    (losses, weights)
}

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(1e-3))
        .fold(0.0, f64::max)
}

#[test]
fn two_and_three_threads_train_like_one_in_f64() {
    for (backend, device) in backends() {
        let device = device.autodiff();
        for kind in [ModelKind::Rnn, ModelKind::Lstm, ModelKind::Gru] {
            let (losses, weights) = run(kind, 1, &device);
            for threads in [2, 3] {
                let (l, w) = run(kind, threads, &device);
                let (dl, dw) = (max_rel(&l, &losses), max_rel(&w, &weights));
                println!(
                    "{backend:8} {kind:5} threads {threads}: losses {dl:.1e}, weights {dw:.1e} (relative, vs 1 thread)"
                );
                assert!(
                    dl <= 1e-12,
                    "{backend} {kind} threads {threads}: losses {dl:e}"
                );
                assert!(
                    dw <= 1e-12,
                    "{backend} {kind} threads {threads}: weights {dw:e}"
                );
                // The same thread count gives the same bits.
                assert_eq!(run(kind, threads, &device), (l, w), "{backend} {kind}");
            }
        }
    }
}
