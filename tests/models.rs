//! Gradient checks for every model beyond the original, in f64 on every CPU
//! backend: autodiff against Richardson finite differences for stacked tanh
//! RNNs, LSTMs and GRUs at random small shapes (T = 1 included, B > 1, a
//! random incoming h and c), and with dropout masks held fixed. Each check
//! prints its table, llm.c style.

mod common;

use burn::tensor::TensorData;
use charrnn::Precision;
use charrnn::data::Chunk;
use charrnn::dropout::Dropout;
use charrnn::gradcheck::{self, Case, FD_ABS_TOL, FD_REL_TOL};
use charrnn::models::{ModelKind, ModelSpec, NamedWeights, layout};
use common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random_state(spec: &ModelSpec, b: usize, rng: &mut ChaCha8Rng) -> Vec<TensorData> {
    spec.state_names()
        .iter()
        .map(|_| {
            let v = (0..b * spec.hidden)
                .map(|_| rng.random_range(-0.9..0.9))
                .collect();
            Precision::F64.data(v, [b, spec.hidden])
        })
        .collect()
}

fn assert_passes(rows: &[gradcheck::Row], what: &str) {
    print!("{what}\n{}", gradcheck::format(rows));
    for r in rows {
        assert!(
            r.fd_rel <= FD_REL_TOL && r.fd_abs <= FD_ABS_TOL,
            "{what}: {} finite differences rel {:e} abs {:e}",
            r.name,
            r.fd_rel,
            r.fd_abs
        );
    }
}

/// (layers, H, V, T, B) at random-looking small sizes.
const SHAPES: [(usize, usize, usize, usize, usize); 4] = [
    (1, 3, 2, 1, 1),
    (2, 5, 7, 1, 3),
    (2, 8, 6, 4, 2),
    (3, 4, 5, 3, 4),
];

fn check_kind(kind: ModelKind) {
    let mut rng = ChaCha8Rng::seed_from_u64(kind.gates() as u64);
    for (case_no, &(layers, hidden, vocab, t, b)) in SHAPES.iter().enumerate() {
        let spec = ModelSpec::new(kind, layers, vocab, hidden);
        // Fresh PyTorch-style weights, scaled up so the gates leave their linear range.
        let mut w = layout::random(&spec, case_no as u64, Precision::F64);
        for (_, d) in &mut w.tensors {
            let v: Vec<f64> = values(d).into_iter().map(|x| x * 2.0).collect();
            *d = TensorData::new(v, d.shape().clone());
        }
        let chunk = random_chunk(vocab, t, b, &mut rng);
        let state = random_state(&spec, b, &mut rng);
        let case = Case {
            chunk: &chunk,
            state: &state,
            masks: None,
            weight_masks: None,
        };
        for (backend, device) in backends() {
            let rows = gradcheck::check(&spec, &w, &case, 6, case_no as u64, &device);
            assert_eq!(rows.len(), charrnn::models::params::table(&spec).len());
            assert_passes(
                &rows,
                &format!("{backend}: {} T {t} B {b}, random state", spec.describe()),
            );
        }
    }
}

#[test]
fn lstm_gradients_match_finite_differences() {
    check_kind(ModelKind::Lstm);
}

#[test]
fn gru_gradients_match_finite_differences() {
    check_kind(ModelKind::Gru);
}

#[test]
fn stacked_rnn_gradients_match_finite_differences() {
    check_kind(ModelKind::Rnn);
}

/// The networks the mask checks cover: each kind stacked, and the one-layer
/// original.
const MASKED: [(ModelKind, usize); 4] = [
    (ModelKind::Lstm, 2),
    (ModelKind::Gru, 2),
    (ModelKind::Rnn, 2),
    (ModelKind::Rnn, 1),
];
const SMALL_T: usize = 3;
const SMALL_B: usize = 2;

/// A V 6, H 5 network of `kind` with weights drawn from `seed`, a random
/// chunk (T 3, B 2) and a random incoming state.
fn small_case(
    kind: ModelKind,
    layers: usize,
    seed: u64,
    rng: &mut ChaCha8Rng,
) -> (ModelSpec, NamedWeights, Chunk, Vec<TensorData>) {
    let spec = ModelSpec::new(kind, layers, 6, 5);
    let w = layout::random(&spec, seed, Precision::F64);
    let chunk = random_chunk(spec.vocab, SMALL_T, SMALL_B, rng);
    let state = random_state(&spec, SMALL_B, rng);
    (spec, w, chunk, state)
}

/// With dropout, per step and locked: the masked network's gradients against
/// finite differences taken with the same masks, for every kind (the
/// one-layer original too).
#[test]
fn dropout_gradients_match_finite_differences_with_the_same_mask() {
    let mut rng = ChaCha8Rng::seed_from_u64(77);
    for (kind, layers) in MASKED {
        let (spec, w, chunk, state) = small_case(kind, layers, 3, &mut rng);
        let (t, b) = (SMALL_T, SMALL_B);
        for ((backend, device), locked) in backends()
            .into_iter()
            .flat_map(|bd| [(bd.clone(), false), (bd, true)])
        {
            let masks: Vec<TensorData> = Dropout::new(0.4, 5)
                .locked(locked)
                .masks(layers, [t, b], spec.hidden, Precision::F64, &device)
                .unwrap()
                .into_iter()
                .map(|m| m.into_data())
                .collect();
            let case = Case {
                chunk: &chunk,
                state: &state,
                masks: Some(&masks),
                weight_masks: None,
            };
            let rows = gradcheck::check(&spec, &w, &case, 6, 1, &device);
            assert_passes(
                &rows,
                &format!(
                    "{backend}: {} dropout 0.4, locked {locked}",
                    spec.describe()
                ),
            );
            // The masks matter: the loss without them differs.
            let plain = Case {
                masks: None,
                ..case
            };
            let (with, _, _) = gradcheck::autodiff(&spec, &w, &case, &device);
            let (without, _, _) = gradcheck::autodiff(&spec, &w, &plain, &device);
            assert!((with - without).abs() > 1e-6, "{with} vs {without}");
        }
    }
}

/// With weight drop (DropConnect on W_hh): the gradients against finite
/// differences with the same weight masks, for every kind, output dropout
/// on too for the 2-layer ones; and against the identity it rests on: the
/// loss equals the plain network's with W_hh replaced by W_hh ⊙ M, and
/// W_hh's gradient is M ⊙ that network's (every other gradient equal).
#[test]
fn weight_drop_gradients_match_finite_differences_and_the_masked_network() {
    let mut rng = ChaCha8Rng::seed_from_u64(78);
    for (kind, layers) in MASKED {
        let (spec, w, chunk, state) = small_case(kind, layers, 4, &mut rng);
        let (t, b) = (SMALL_T, SMALL_B);
        let mut dropout = Dropout::new(if layers > 1 { 0.3 } else { 0.0 }, 6);
        let masks = dropout.mask_data(layers, [t, b], spec.hidden, Precision::F64);
        let shape = spec.recurrent_shape();
        let weight_masks = dropout
            .weight_mask_data(0.4, layers, shape, Precision::F64)
            .unwrap();
        let case = Case {
            chunk: &chunk,
            state: &state,
            masks: masks.as_deref(),
            weight_masks: Some(&weight_masks),
        };
        // The masked network: W_hh ⊙ M in the weights' file layout (W_hh, not
        // its transpose), no weight masks.
        let mut masked = w.clone();
        let recurrent: Vec<usize> = (0..masked.tensors.len())
            .filter(|&i| {
                let n = &masked.tensors[i].0;
                n.contains("weight_hh") || n == "Whh"
            })
            .collect();
        assert_eq!(recurrent.len(), layers);
        let file_mask = |k: usize| -> Vec<f64> {
            // [H, G·H] (W_hhᵀ's layout) to the file's [G·H, H].
            let m = values(&weight_masks[k]);
            let (h, gh) = (shape[0], shape[1]);
            (0..gh * h).map(|i| m[(i % h) * gh + i / h]).collect()
        };
        for (k, &i) in recurrent.iter().enumerate() {
            let d = &mut masked.tensors[i].1;
            let v: Vec<f64> = values(d)
                .iter()
                .zip(file_mask(k))
                .map(|(x, m)| x * m)
                .collect();
            *d = TensorData::new(v, d.shape().clone());
        }
        let plain = Case {
            weight_masks: None,
            ..case
        };
        for (backend, device) in backends() {
            let what = format!("{backend}: {} weight drop 0.4", spec.describe());
            let rows = gradcheck::check(&spec, &w, &case, 6, 1, &device);
            assert_passes(&rows, &what);
            let (loss, grads, _) = gradcheck::autodiff(&spec, &w, &case, &device);
            let (loss_m, grads_m, _) = gradcheck::autodiff(&spec, &masked, &plain, &device);
            assert!(
                (loss - loss_m).abs() <= 1e-12 * loss.abs(),
                "{what}: {loss} vs {loss_m}"
            );
            for (i, ((name, g), (_, gm))) in
                grads.named().into_iter().zip(grads_m.named()).enumerate()
            {
                let want: Vec<f64> = match recurrent.iter().position(|&r| r == i) {
                    Some(k) => values(gm)
                        .iter()
                        .zip(file_mask(k))
                        .map(|(x, m)| x * m)
                        .collect(),
                    None => values(gm),
                };
                let diff = max_abs_diff(&values(g), &want);
                println!("{what}: {name} max |grad − masked network's| = {diff:.1e}");
                assert!(diff <= 1e-12, "{what}: {name} {diff}");
            }
            let (without, _, _) = gradcheck::autodiff(&spec, &w, &plain, &device);
            assert!(
                (loss - without).abs() > 1e-6,
                "the masks matter: {loss} vs {without}"
            );
        }
    }
}

/// char-rnn's init (U(±0.08), forget-gate biases 1) draws what it says, and
/// the gradient check holds from it.
#[test]
fn char_rnn_init_and_forget_bias() {
    let config = charrnn::config::TrainConfig {
        model: ModelKind::Lstm,
        layers: 2,
        init: charrnn::config::InitKind::Uniform,
        init_scale: 0.08,
        forget_bias: Some(1.0),
        ..Default::default()
    };
    let spec = ModelSpec::new(ModelKind::Lstm, 2, 7, 5);
    let w = config.fresh_weights(&spec, Precision::F64);
    for (name, d) in w.named() {
        let v = values(d);
        if name.starts_with("rnn.bias_") {
            let gate = &v[5..10]; // the forget gate's block (i, f, g, o)
            let want = if name.starts_with("rnn.bias_ih") {
                1.0
            } else {
                0.0
            };
            assert!(gate.iter().all(|&x| x == want), "{name}: {gate:?}");
            assert!(
                v[..5].iter().chain(&v[10..]).all(|x| x.abs() <= 0.08),
                "{name}"
            );
        } else {
            assert!(v.iter().all(|x| x.abs() <= 0.08), "{name}");
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let chunk = random_chunk(spec.vocab, 3, 2, &mut rng);
    let state = random_state(&spec, 2, &mut rng);
    let case = Case {
        chunk: &chunk,
        state: &state,
        masks: None,
        weight_masks: None,
    };
    for (name, device) in backends() {
        let rows = gradcheck::check(&spec, &w, &case, 6, 1, &device);
        assert_passes(&rows, &format!("{name}: uniform 0.08, forget bias 1"));
    }
}
