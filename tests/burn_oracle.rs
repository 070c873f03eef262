//! Burn's own `nn::Lstm` and `nn::Gru` (one `GateController`, i.e. two
//! `Linear` layers, per gate) as the oracle for charrnn's fused cells: the
//! same weights give the same outputs, final states and gradients, on every
//! CPU backend in f32 (Burn's modules make some tensors in the device's
//! default dtype, so f32 is where both are at home).

mod common;

use burn::module::Param;
use burn::nn::{GateController, GruConfig, LstmConfig, LstmState};
use burn::tensor::{DType, Device, Int, Tensor, TensorData};
use charrnn::Precision;
use charrnn::models::{ModelKind, ModelSpec, Network, State, layout};
use common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const V: usize = 7;
const H: usize = 5;
const T: usize = 4;
const B: usize = 3;

struct Setup {
    ours: Network,
    ids: Vec<u32>,
    /// Random [T·B, H] weights of the test loss Σ outputs ⊙ r.
    r: Vec<f32>,
    h0: Vec<f32>,
    c0: Vec<f32>,
}

fn setup(kind: ModelKind, device: &Device) -> Setup {
    let spec = ModelSpec::new(kind, 1, V, H);
    // Layer 1 of a 2-layer spec would read H inputs; one layer reads the one-hot char.
    let w = layout::random(&ModelSpec { layers: 1, ..spec }, 4, Precision::F32);
    let ours = Network::from_weights(&spec, &w, device);
    let mut rng = ChaCha8Rng::seed_from_u64(kind.gates() as u64);
    let mut uniform = |n: usize| {
        (0..n)
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect::<Vec<_>>()
    };
    let (r, h0, c0) = (uniform(T * B * H), uniform(B * H), uniform(B * H));
    let ids = (0..T * B).map(|i| ((i * 5 + 3) % V) as u32).collect();
    Setup {
        ours,
        ids,
        r,
        h0,
        c0,
    }
}

fn f32s(values: &[f32], shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), shape),
        (device, DType::F32),
    )
}

/// Gate `k`'s block of our fused [in, G·H] weights and [1, G·H] biases, as a Burn gate.
fn gate(ours: &Network, k: usize) -> GateController {
    let l = &ours.layers[0];
    // Copies through the host, so Burn's parameters are leaves of their own.
    let device = l.w_ih.val().device();
    let copy = |t: Tensor<2>| Tensor::<2>::from_data(t.into_data(), (&device, DType::F32));
    let cols = |p: &Param<Tensor<2>>| Param::from_tensor(copy(p.val().narrow(1, k * H, H)));
    let bias =
        |p: &Param<Tensor<2>>| Param::from_tensor(copy(p.val().narrow(1, k * H, H)).reshape([H]));
    let mut g = GateController::new(V, H, true, burn::nn::Initializer::Zeros, &device);
    g.input_transform.weight = cols(&l.w_ih);
    g.input_transform.bias = Some(bias(&l.b_ih));
    g.hidden_transform.weight = cols(&l.w_hh);
    g.hidden_transform.bias = Some(bias(l.b_hh.as_ref().expect("PyTorch's two biases")));
    g
}

/// One-hot [B, T, V] of time-major ids.
fn one_hot(ids: &[u32], device: &Device) -> Tensor<3> {
    let mut v = vec![0.0f32; B * T * V];
    for t in 0..T {
        for b in 0..B {
            v[(b * T + t) * V + ids[t * B + b] as usize] = 1.0;
        }
    }
    Tensor::from_data(TensorData::new(v, [B, T, V]), (device, DType::F32))
}

/// Our outputs as [B, T, H], like Burn's batch-first output.
fn batch_first(h_all: Tensor<2>) -> Tensor<3> {
    h_all.reshape([T, B, H]).swap_dims(0, 1)
}

fn ids_tensor(ids: &[u32], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(v, [T * B]), device)
}

fn compare(what: &str, a: Tensor<3>, b: Tensor<3>) {
    let err = rel_diff(&values(&a.into_data()), &values(&b.into_data()));
    println!("{what}: max rel diff {err:e}");
    assert!(err <= 1e-5, "{what}: {err:e}");
}

fn grad_of(p: &Param<Tensor<2>>, grads: &burn::tensor::Gradients) -> Vec<f64> {
    values(&p.val().grad(grads).expect("a gradient").into_data())
}

#[test]
fn lstm_matches_burns_nn_lstm() {
    for (backend, device) in backends() {
        let device = device.autodiff();
        let s = setup(ModelKind::Lstm, &device);
        // Burn's gates are i, f, g (cell), o in PyTorch's order too.
        let mut burn_lstm = LstmConfig::new(V, H, true).init(&device);
        burn_lstm.input_gate = gate(&s.ours, 0);
        burn_lstm.forget_gate = Some(gate(&s.ours, 1));
        burn_lstm.cell_gate = gate(&s.ours, 2);
        burn_lstm.output_gate = gate(&s.ours, 3);
        let (h0, c0) = (f32s(&s.h0, [B, H], &device), f32s(&s.c0, [B, H], &device));
        let (theirs, state) = burn_lstm.forward(
            one_hot(&s.ids, &device),
            Some(LstmState::new(c0.clone(), h0.clone())),
        );
        let (ours, our_state) =
            s.ours
                .hidden(ids_tensor(&s.ids, &device), &State(vec![h0, c0]), None);
        compare(
            &format!("{backend} lstm outputs"),
            batch_first(ours.clone()),
            theirs.clone(),
        );
        compare(
            &format!("{backend} lstm h"),
            our_state.0[0].clone().unsqueeze(),
            state.hidden.unsqueeze(),
        );
        compare(
            &format!("{backend} lstm c"),
            our_state.0[1].clone().unsqueeze(),
            state.cell.unsqueeze(),
        );
        // Gradients of Σ outputs ⊙ r through both.
        let r = f32s(&s.r, [T * B, H], &device);
        let g_ours = (ours * r.clone()).sum().backward();
        let g_theirs = (theirs * batch_first(r)).sum().backward();
        let l = &s.ours.layers[0];
        let (ours_ih, ours_hh) = (grad_of(&l.w_ih, &g_ours), grad_of(&l.w_hh, &g_ours));
        for (k, g) in [
            &burn_lstm.input_gate,
            burn_lstm.forget_gate.as_ref().unwrap(),
            &burn_lstm.cell_gate,
            &burn_lstm.output_gate,
        ]
        .into_iter()
        .enumerate()
        {
            let block = |all: &[f64], rows: usize| -> Vec<f64> {
                (0..rows)
                    .flat_map(|i| all[i * 4 * H + k * H..i * 4 * H + (k + 1) * H].to_vec())
                    .collect()
            };
            let e_ih = rel_diff(
                &block(&ours_ih, V),
                &grad_of(&g.input_transform.weight, &g_theirs),
            );
            let e_hh = rel_diff(
                &block(&ours_hh, H),
                &grad_of(&g.hidden_transform.weight, &g_theirs),
            );
            println!("{backend} lstm gate {k}: d weight_ih rel {e_ih:e}, d weight_hh rel {e_hh:e}");
            assert!(e_ih <= 1e-5 && e_hh <= 1e-5);
        }
    }
}

#[test]
fn gru_matches_burns_nn_gru() {
    for (backend, device) in backends() {
        let device = device.autodiff();
        let s = setup(ModelKind::Gru, &device);
        // Burn's `reset_after` (its default) is PyTorch's GRU: r multiplies W_hn·h + b_hn.
        let mut burn_gru = GruConfig::new(V, H, true).init(&device);
        assert!(burn_gru.reset_after);
        burn_gru.reset_gate = gate(&s.ours, 0);
        burn_gru.update_gate = gate(&s.ours, 1);
        burn_gru.new_gate = gate(&s.ours, 2);
        let h0 = f32s(&s.h0, [B, H], &device);
        let theirs = burn_gru.forward(one_hot(&s.ids, &device), Some(h0.clone()));
        let (ours, _) = s
            .ours
            .hidden(ids_tensor(&s.ids, &device), &State(vec![h0]), None);
        compare(
            &format!("{backend} gru outputs"),
            batch_first(ours.clone()),
            theirs.clone(),
        );
        let r = f32s(&s.r, [T * B, H], &device);
        let g_ours = (ours * r.clone()).sum().backward();
        let g_theirs = (theirs * batch_first(r)).sum().backward();
        let l = &s.ours.layers[0];
        let ours_ih = grad_of(&l.w_ih, &g_ours);
        for (k, g) in [
            &burn_gru.reset_gate,
            &burn_gru.update_gate,
            &burn_gru.new_gate,
        ]
        .into_iter()
        .enumerate()
        {
            let block: Vec<f64> = (0..V)
                .flat_map(|i| ours_ih[i * 3 * H + k * H..i * 3 * H + (k + 1) * H].to_vec())
                .collect();
            let e = rel_diff(&block, &grad_of(&g.input_transform.weight, &g_theirs));
            println!("{backend} gru gate {k}: d weight_ih rel {e:e}");
            assert!(e <= 1e-5);
        }
    }
}
