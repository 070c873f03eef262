//! The gradient-check suite, in f64 on every CPU backend: Burn's autodiff
//! against the hand-written backward and against finite differences, and
//! both against the numpy reference's first chunk. Each check prints its
//! worst difference, llm.c style.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use charrnn::Precision;
use charrnn::backward::{Weights, clip, loss_and_grads};
use charrnn::data::{Chunk, Text};
use charrnn::gradcheck::{self, Case, FD_ABS_TOL, FD_REL_TOL, MANUAL_REL_TOL};
use charrnn::models::{ModelKind, ModelSpec, NamedWeights};
use common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn fixture_weights() -> (Weights, charrnn::data::Vocab) {
    let (_, w, vocab) = charrnn::weights::load(&fixture_dir().join("init.safetensors"))
        .expect("fixture init loads");
    (Weights::from_named(&w), vocab)
}

/// Fresh weights of min-char-rnn's network (V, H), drawn as it draws them.
fn random_weights(vocab: usize, hidden: usize, seed: u64) -> Weights {
    let spec = original(vocab, hidden);
    Weights::from_named(&charrnn::models::layout::random(
        &spec,
        seed,
        Precision::F64,
    ))
}

fn original(vocab: usize, hidden: usize) -> ModelSpec {
    ModelSpec::new(ModelKind::Rnn, 1, vocab, hidden)
}

/// Runs `f` on min-char-rnn's network `w` with `chunk` from state h0.
fn on_original<T>(
    w: &Weights,
    chunk: &Chunk,
    h0: &TensorData,
    f: impl FnOnce(&ModelSpec, &NamedWeights, &Case) -> T,
) -> T {
    let (v, h) = w.sizes();
    let state = [h0.clone()];
    let case = Case {
        chunk,
        state: &state,
        masks: None,
        weight_masks: None,
    };
    f(&original(v, h), &w.to_named(), &case)
}

/// The general gradient check on min-char-rnn's network from state h0.
fn check(
    w: &Weights,
    chunk: &Chunk,
    h0: &TensorData,
    samples: usize,
    seed: u64,
    device: &Device,
) -> Vec<gradcheck::Row> {
    on_original(w, chunk, h0, |spec, named, case| {
        gradcheck::check(spec, named, case, samples, seed, device)
    })
}

/// Loss, gradients (the original's layout) and last state by autodiff.
fn autodiff(
    w: &Weights,
    chunk: &Chunk,
    h0: &TensorData,
    device: &Device,
) -> (f64, Weights, TensorData) {
    let (loss, grads, state) = on_original(w, chunk, h0, |spec, named, case| {
        gradcheck::autodiff(spec, named, case, device)
    });
    (loss, Weights::from_named(&grads), state[0].clone())
}

fn fixture_chunk() -> Chunk {
    let text = std::fs::read_to_string(fixture_dir().join("input.txt")).unwrap();
    let text = Text::encode(&text);
    let streams =
        charrnn::data::Streams::new(text.len(), 25, 1, std::path::Path::new("input.txt")).unwrap();
    streams.chunk(text.ids.view(), 0)
}

fn zeros(b: usize, h: usize) -> TensorData {
    Precision::F64.data(vec![0.0; b * h], [b, h])
}

/// Manual backward with an incoming state given as [B,H] rows.
fn manual(
    w: &Weights,
    chunk: &Chunk,
    h0: &TensorData,
    device: &Device,
) -> charrnn::backward::ManualPass {
    let plain = device.clone().without_autodiff();
    let cols = Tensor::<2>::from_data(h0.clone(), (&plain, h0.dtype())).transpose();
    loss_and_grads(w, chunk, cols, device)
}

fn assert_rows_pass(rows: &[gradcheck::Row], what: &str) {
    print!("{what}\n{}", gradcheck::format(rows));
    for r in rows {
        assert!(
            r.manual_rel <= MANUAL_REL_TOL,
            "{what}: {} autodiff vs manual rel {:e}",
            r.name,
            r.manual_rel
        );
        assert!(
            r.fd_rel <= FD_REL_TOL,
            "{what}: {} finite-difference rel {:e}",
            r.name,
            r.fd_rel
        );
        assert!(
            r.fd_abs <= FD_ABS_TOL,
            "{what}: {} finite-difference abs {:e}",
            r.name,
            r.fd_abs
        );
    }
}

#[test]
fn autodiff_matches_manual_and_finite_differences_on_the_fixture() {
    let (w, _) = fixture_weights();
    let chunk = fixture_chunk();
    for (name, device) in backends() {
        let rows = check(&w, &chunk, &zeros(1, 100), 10, 7, &device);
        assert_rows_pass(&rows, &format!("{name}: fixture init (weights ~0.01)"));
    }
}

#[test]
fn finite_differences_agree_at_weight_scale_0_1() {
    let chunk = fixture_chunk();
    let mut w = random_weights(45, 100, 3);
    scale(&mut w, 10.0); // weights ~0.1: larger activations, many tiny gradients too
    for (name, device) in backends() {
        let rows = check(&w, &chunk, &zeros(1, 100), 10, 11, &device);
        assert_rows_pass(&rows, &format!("{name}: weights ~0.1"));
    }
}

fn scale(w: &mut Weights, k: f64) {
    for (_, d) in w.named_mut() {
        let shape = [d.shape()[0], d.shape()[1]];
        *d = TensorData::new(values(d).into_iter().map(|x| x * k).collect(), shape);
    }
}

#[test]
fn both_match_the_numpy_first_chunk() {
    let (w, _) = fixture_weights();
    let chunk = fixture_chunk();
    let (inputs, _) = fixture_tensor("first_chunk.safetensors", "inputs");
    let chunk_inputs: Vec<f64> = chunk.inputs.iter().map(|&i| i as f64).collect();
    assert_eq!(chunk_inputs, inputs, "our vocabulary and chunk are numpy's");
    let (loss, _) = fixture_tensor("first_chunk.safetensors", "loss");
    let (hs, _) = fixture_tensor("first_chunk.safetensors", "hs");
    let (h_last, _) = fixture_tensor("first_chunk.safetensors", "h_last");
    for (name, device) in backends() {
        let (ad_loss, ad_grads, ad_h) = autodiff(&w, &chunk, &zeros(1, 100), &device);
        let m = manual(&w, &chunk, &zeros(1, 100), &device);
        let loss_err = (ad_loss - loss[0]).abs().max((m.loss - loss[0]).abs());
        let h_err = rel_diff(&values(&ad_h), &h_last);
        let hs_manual: Vec<f64> =
            m.hs.iter()
                .flat_map(|h| values(&h.clone().into_data()))
                .collect();
        let hs_err = rel_diff(&hs_manual, &hs);
        println!(
            "{name}: loss {ad_loss} vs numpy {} (|diff| {loss_err:e}); hs rel {hs_err:e}; h_last rel {h_err:e}",
            loss[0]
        );
        assert!(loss_err <= 1e-10 && hs_err <= 1e-12 && h_err <= 1e-12);
        let clipped_ad = clip(&ad_grads, 5.0);
        let clipped_m = clip(&m.grads, 5.0);
        for (((pname, a), (_, mg)), ((_, ca), (_, cm))) in ad_grads
            .named()
            .into_iter()
            .zip(m.grads.named())
            .zip(clipped_ad.named().into_iter().zip(clipped_m.named()))
        {
            let (want, _) = fixture_tensor("first_chunk.safetensors", &format!("d{pname}"));
            let (want_c, _) =
                fixture_tensor("first_chunk.safetensors", &format!("clipped_d{pname}"));
            let errs = [
                rel_diff(&values(a), &want),
                rel_diff(&values(mg), &want),
                rel_diff(&values(ca), &want_c),
                rel_diff(&values(cm), &want_c),
            ];
            println!(
                "{name}: d{pname} rel err autodiff {:e} manual {:e}; clipped {:e} {:e}",
                errs[0], errs[1], errs[2], errs[3]
            );
            assert!(
                errs.iter().all(|&e| e <= 1e-10),
                "{name}: d{pname} differs from numpy: {errs:?}"
            );
        }
    }
}

/// Random sizes, including T = 1, a non-zero incoming hidden state and B > 1.
#[test]
fn random_shapes_property() {
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let cases = [
        (1, 2, 1, 1),
        (7, 5, 1, 3),
        (16, 11, 4, 1),
        (33, 20, 9, 2),
        (64, 30, 13, 5),
        (5, 3, 2, 8),
    ];
    for (case, &(h, v, t, b)) in cases.iter().enumerate() {
        let w = random_weights(v, h, case as u64);
        let chunk = random_chunk(v, t, b, &mut rng);
        let h0 = Precision::F64.data(
            (0..b * h).map(|_| rng.random_range(-0.9..0.9)).collect(),
            [b, h],
        );
        for (name, device) in backends() {
            let rows = check(&w, &chunk, &h0, 6, case as u64, &device);
            assert_rows_pass(
                &rows,
                &format!("{name}: H {h} V {v} T {t} B {b}, random h0"),
            );
        }
    }
}

/// B streams at once give each stream's own loss, and the mean of the
/// single-stream gradients.
#[test]
fn streams_equal_separate_single_stream_runs() {
    let text = Text::encode(&std::fs::read_to_string(fixture_dir().join("input.txt")).unwrap());
    let (b, t, h) = (4, 10, 32);
    let streams = charrnn::data::Streams::new(text.len(), t, b, std::path::Path::new("x")).unwrap();
    let chunk = streams.chunk(text.ids.view(), 20);
    let w = random_weights(text.vocab.len(), h, 5);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let h0_rows: Vec<f64> = (0..b * h).map(|_| rng.random_range(-0.5..0.5)).collect();
    for (name, device) in backends() {
        let (loss, grads, _) = autodiff(
            &w,
            &chunk,
            &Precision::F64.data(h0_rows.clone(), [b, h]),
            &device,
        );
        let mut sum_loss = 0.0;
        let mut sum_grads: Vec<Vec<f64>> = vec![];
        for s in 0..b {
            let h0 = Precision::F64.data(h0_rows[s * h..(s + 1) * h].to_vec(), [1, h]);
            let (l, g, _) = autodiff(&w, &chunk.stream(s), &h0, &device);
            // The per-stream losses from the batched forward's nll rows.
            sum_loss += l;
            for (i, (_, d)) in g.named().into_iter().enumerate() {
                let v = values(d);
                if sum_grads.len() <= i {
                    sum_grads.push(vec![0.0; v.len()]);
                }
                sum_grads[i].iter_mut().zip(v).for_each(|(a, x)| *a += x);
            }
        }
        let loss_err = (loss - sum_loss / b as f64).abs();
        println!(
            "{name}: batched loss {loss} vs mean of streams {} (|diff| {loss_err:e})",
            sum_loss / b as f64
        );
        assert!(loss_err <= 1e-12 * loss.abs());
        for (i, (pname, d)) in grads.named().into_iter().enumerate() {
            let mean: Vec<f64> = sum_grads[i].iter().map(|x| x / b as f64).collect();
            let err = rel_diff(&values(d), &mean);
            println!("{name}: d{pname} batched vs mean of streams rel {err:e}");
            assert!(err <= 1e-12, "{name}: d{pname} {err:e}");
        }
    }
}

/// f32 autodiff agrees with the f64 reference to f32 accuracy.
#[test]
fn f32_autodiff_matches_f64_reference() {
    let (w, _) = fixture_weights();
    let chunk = fixture_chunk();
    for (name, device) in backends() {
        let (l64, g64, _) = autodiff(&w, &chunk, &zeros(1, 100), &device);
        let w32 = Weights::from_named(&w.to_named().cast(Precision::F32));
        let h32 = Precision::F32.data(vec![0.0; 100], [1, 100]);
        let (l32, g32, _) = autodiff(&w32, &chunk, &h32, &device);
        assert_eq!(
            g32.wxh.dtype(),
            burn::tensor::DType::F32,
            "the f32 run really ran in f32"
        );
        let loss_rel = ((l32 - l64) / l64).abs();
        println!("{name}: f32 loss {l32} vs f64 {l64} (rel {loss_rel:e})");
        assert!(loss_rel <= 1e-6);
        for ((pname, a), (_, b)) in g32.named().into_iter().zip(g64.named()) {
            let err = rel_diff(&values(a), &values(b));
            println!("{name}: d{pname} f32 vs f64 rel {err:e}");
            assert!(err <= 1e-4, "{name}: d{pname} {err:e}");
        }
    }
}
