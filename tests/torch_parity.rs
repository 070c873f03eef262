//! Exactness against PyTorch: the float64 golden runs in
//! tests/fixtures/torch/{lstm,gru,rnn} (2 layers, H 16, T 10, B 3, SGD lr 0.1,
//! clip 5, 25 iterations with a data wrap) on every CPU backend in f64:
//! the first chunk's loss and every gradient within 1e-10 relative, then every
//! loss of the 25 iterations and the final weights within 1e-9; and three
//! cases made here the same way that are not shared (see the fixtures' README).

mod common;

use std::path::PathBuf;

use charrnn::Precision;
use charrnn::config::TrainConfig;
use charrnn::data::{Streams, Text};
use charrnn::gradcheck::{self, Case};
use charrnn::models::{ModelSpec, NamedWeights, Network, layout};
use charrnn::optim::OptimizerKind;
use charrnn::train::Trainer;
use common::*;

struct Fixture {
    dir: PathBuf,
    spec: ModelSpec,
    init: NamedWeights,
    text: Text,
    seq_length: usize,
    batch_size: usize,
    learning_rate: f64,
    clip: f64,
    optimizer: OptimizerKind,
    rmsprop_alpha: f64,
}

fn fixture(model: &str) -> Fixture {
    let dir = torch_fixture_dir(model);
    let case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
    let num = |k: &str| case[k].as_f64().unwrap_or_else(|| panic!("case.json: {k}"));
    let text = Text::load(&dir.join("input.txt")).unwrap();
    let (init, vocab) = charrnn::weights::read(&dir.join("init.safetensors")).unwrap();
    assert_eq!(vocab, text.vocab, "the fixture's vocabulary is the text's");
    let spec = layout::infer(&init).unwrap();
    assert_eq!(
        (
            spec.kind.name(),
            spec.layers,
            spec.hidden,
            spec.vocab as f64
        ),
        (
            case["model"].as_str().unwrap(),
            num("layers") as usize,
            num("hidden_size") as usize,
            num("vocab_size")
        )
    );
    Fixture {
        dir,
        spec,
        init: layout::conform(&init, &spec).unwrap().1,
        text,
        seq_length: num("seq_length") as usize,
        batch_size: num("batch_size") as usize,
        learning_rate: num("learning_rate"),
        clip: num("clip"),
        optimizer: case["optimizer"].as_str().unwrap().parse().unwrap(),
        rmsprop_alpha: case["rmsprop_alpha"].as_f64().unwrap_or(0.99),
    }
}

fn num_iterations(f: &Fixture) -> usize {
    let case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.dir.join("case.json")).unwrap()).unwrap();
    case["iterations"].as_u64().unwrap() as usize
}

fn streams(f: &Fixture) -> Streams {
    Streams::new(f.text.len(), f.seq_length, f.batch_size, &f.dir).unwrap()
}

fn first_chunk_matches(model: &str) {
    let f = fixture(model);
    let chunk = streams(&f).chunk(f.text.ids.view(), 0);
    let first = f.dir.join("first_chunk.safetensors");
    let ids = |v: &[u32]| v.iter().map(|&i| i as f64).collect::<Vec<_>>();
    assert_eq!(ids(&chunk.inputs), read_tensor(&first, "inputs").0);
    assert_eq!(ids(&chunk.targets), read_tensor(&first, "targets").0);
    let (want_loss, _) = read_tensor(&first, "loss");
    let zero = Precision::F64.data(
        vec![0.0; f.batch_size * f.spec.hidden],
        [f.batch_size, f.spec.hidden],
    );
    let state = vec![zero; f.spec.state_names().len()];
    let case = Case {
        chunk: &chunk,
        state: &state,
        masks: None,
        weight_masks: None,
    };
    for (backend, device) in backends() {
        let (loss, grads, _) = gradcheck::autodiff(&f.spec, &f.init, &case, &device);
        let loss_rel = ((loss - want_loss[0]) / want_loss[0]).abs();
        println!(
            "{model} {backend}: loss {loss} vs PyTorch {} (rel {loss_rel:e})",
            want_loss[0]
        );
        assert!(
            loss_rel <= 1e-10,
            "{model} {backend}: loss rel {loss_rel:e}"
        );
        for (name, g) in grads.named() {
            let (want, shape) = read_tensor(&first, &format!("grad.{name}"));
            assert_eq!(g.shape().as_slice(), shape.as_slice(), "{name}");
            let err = rel_diff(&values(g), &want);
            println!("{model} {backend}: grad.{name} rel {err:e}");
            assert!(err <= 1e-10, "{model} {backend}: grad.{name} rel {err:e}");
        }
    }
}

fn training_matches(model: &str) {
    let f = fixture(model);
    let want = csv_column(&f.dir.join("losses.csv"), 1);
    assert_eq!(want.len(), num_iterations(&f));
    let config = TrainConfig {
        data: f.dir.join("input.txt"),
        optimizer: f.optimizer,
        rmsprop_alpha: f.rmsprop_alpha,
        clip: f.clip,
        learning_rate: f.learning_rate,
        seq_length: f.seq_length,
        batch_size: f.batch_size,
        seed: 0,
        ..Default::default()
    };
    for (backend, device) in backends() {
        let device = device.autodiff();
        let net = Network::from_weights(&f.spec, &f.init, &device);
        let mut trainer = Trainer::new(net, &config, &f.text, &device).unwrap();
        let mut worst_loss = 0.0f64;
        for &w in &want {
            let step = trainer.step(None).unwrap();
            worst_loss = worst_loss.max((step.loss - w).abs() / w.abs());
        }
        let after = trainer.model().to_weights();
        let file = f.dir.join("after.safetensors");
        let mut worst_w = 0.0f64;
        for (name, d) in after.named() {
            let (w, shape) = read_tensor(&file, name);
            assert_eq!(d.shape().as_slice(), shape.as_slice(), "{name}");
            worst_w = worst_w.max(max_abs_diff(&values(d), &w));
        }
        println!(
            "{model} {backend}: {} {} iterations, max rel loss diff {worst_loss:e}, max |weight diff| {worst_w:e}",
            want.len(),
            f.optimizer
        );
        assert!(worst_loss <= 1e-9 && worst_w <= 1e-9);
    }
}

#[test]
fn lstm_first_chunk_matches_pytorch() {
    first_chunk_matches("lstm");
}

#[test]
fn gru_first_chunk_matches_pytorch() {
    first_chunk_matches("gru");
}

#[test]
fn stacked_rnn_first_chunk_matches_pytorch() {
    first_chunk_matches("rnn");
}

#[test]
fn lstm_training_matches_pytorch() {
    training_matches("lstm");
}

#[test]
fn gru_training_matches_pytorch() {
    training_matches("gru");
}

#[test]
fn stacked_rnn_training_matches_pytorch() {
    training_matches("rnn");
}

/// Cases that are not the shared ones: another text (Unicode), depths 1 and
/// 3, B 1 and 2, other sizes and learning rates.
#[test]
fn other_pytorch_cases_match() {
    for case in ["lstm-1layer-unicode", "gru-3layer-b1", "rnn-1layer-unicode"] {
        first_chunk_matches(case);
        training_matches(case);
    }
}

/// PyTorch's own Adam and RMSprop (f64) on the clamped gradient: a GRU with
/// Adam on the Unicode text, a 2-layer LSTM with RMSprop at lstm.toml's
/// α 0.95, and a 2-layer LSTM with Adam.
#[test]
fn adam_and_rmsprop_match_pytorch() {
    for case in [
        "gru-adam-unicode",
        "lstm-rmsprop",
        "lstm-adam",
        "lstm-uniform-adam",
    ] {
        training_matches(case);
    }
}
