//! The two layouts weights leave the program in, what each must hold for a
//! given [`ModelSpec`], which spec a file implies, and fresh weights:
//!
//! - the original (model `rnn`, one layer): `Wxh [H,V]`, `Whh [H,H]`,
//!   `Why [V,H]`, `bh [H,1]`, `by [V,1]`;
//! - PyTorch (`nn.RNN`/`nn.LSTM`/`nn.GRU` + `nn.Linear(H, V)`), for every
//!   other network: `rnn.weight_ih_l{k} [G·H, I]`, `rnn.weight_hh_l{k} [G·H, H]`,
//!   `rnn.bias_ih_l{k} [G·H]`, `rnn.bias_hh_l{k} [G·H]`, `out.weight [V, H]`,
//!   `out.bias [V]` (I = V for layer 0, H above).
//!
//! A one-layer tanh RNN comes in both: fresh or from min-char-rnn's layout it
//! is the original; from PyTorch's weights it stays PyTorch's `nn.RNN`, whose
//! two biases each take an update (so a run from PyTorch's weights trains as
//! PyTorch does, and saves in PyTorch's names).

use burn::tensor::TensorData;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Uniform};

use super::named::NamedWeights;
use super::rnn::{PARAM_NAMES, RnnConfig, Weights};
use super::spec::{Layout, ModelKind, ModelSpec};
use crate::Precision;

/// Names and shapes the weights of `spec` have, in canonical order.
pub fn expected(spec: &ModelSpec) -> Vec<(String, Vec<usize>)> {
    let (v, h) = (spec.vocab, spec.hidden);
    if spec.is_original() {
        let shapes = Weights::expected_shapes(v, h);
        return PARAM_NAMES
            .iter()
            .zip(shapes)
            .map(|(n, s)| (n.to_string(), s.to_vec()))
            .collect();
    }
    let gh = spec.kind.gates() * h;
    let mut out = Vec::new();
    for k in 0..spec.layers {
        let input = if k == 0 { v } else { h };
        out.push((format!("rnn.weight_ih_l{k}"), vec![gh, input]));
        out.push((format!("rnn.weight_hh_l{k}"), vec![gh, h]));
        out.push((format!("rnn.bias_ih_l{k}"), vec![gh]));
        out.push((format!("rnn.bias_hh_l{k}"), vec![gh]));
    }
    out.push(("out.weight".into(), vec![v, h]));
    out.push(("out.bias".into(), vec![v]));
    out
}

/// The spec a file's tensors imply, read off their names and shapes (the
/// caller then checks every tensor with [`check`]).
pub fn infer(w: &NamedWeights) -> Result<ModelSpec, String> {
    let shape = |name: &str| w.get(name).map(|d| d.shape().to_vec());
    if let (Some(whh), Some(why)) = (shape("Whh"), shape("Why")) {
        return match (whh.as_slice(), why.as_slice()) {
            ([h, _], [v, _]) => Ok(ModelSpec::new(ModelKind::Rnn, 1, *v, *h)),
            _ => Err(format!(
                "Whh has shape {whh:?} and Why {why:?}; expected 2-D tensors"
            )),
        };
    }
    let (Some(whh), Some(out)) = (shape("rnn.weight_hh_l0"), shape("out.weight")) else {
        return Err(format!(
            "neither min-char-rnn's tensors ({}) nor PyTorch's (rnn.weight_hh_l0, out.weight, ...); found {}",
            PARAM_NAMES.join(", "),
            list(&w.names())
        ));
    };
    let ([gh, h], [v, _]) = (whh.as_slice(), out.as_slice()) else {
        return Err(format!(
            "rnn.weight_hh_l0 has shape {whh:?} and out.weight {out:?}; expected 2-D tensors"
        ));
    };
    let kind = (*h > 0 && gh % h == 0)
        .then(|| ModelKind::from_gates(gh / h))
        .flatten()
        .ok_or_else(|| {
            format!("rnn.weight_hh_l0 has shape {whh:?}: its rows are not 1, 3 or 4 times its columns (tanh RNN, GRU, LSTM)")
        })?;
    let layers = (0..)
        .take_while(|k| w.get(&format!("rnn.weight_hh_l{k}")).is_some())
        .count();
    Ok(ModelSpec {
        kind,
        layers,
        vocab: *v,
        hidden: *h,
        layout: Layout::PyTorch,
    })
}

/// Every expected tensor present with its shape, nothing else, one dtype.
pub fn check(w: &NamedWeights, spec: &ModelSpec) -> Result<(), String> {
    let want = expected(spec);
    let missing: Vec<&str> = want
        .iter()
        .filter(|(n, _)| w.get(n).is_none())
        .map(|(n, _)| n.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "no tensor named {} (a {} network has {})",
            list(&missing),
            spec.describe(),
            list(&want.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>())
        ));
    }
    let extra: Vec<&str> = w
        .names()
        .into_iter()
        .filter(|n| !want.iter().any(|(m, _)| m == n))
        .collect();
    if !extra.is_empty() {
        return Err(format!(
            "unexpected tensor {} for a {} network",
            list(&extra),
            spec.describe()
        ));
    }
    let dtype = w.tensors[0].1.dtype();
    for (name, shape) in &want {
        let d = w.get(name).expect("checked above");
        if d.shape().as_slice() != shape.as_slice() {
            return Err(format!(
                "{name} has shape {:?}; expected {shape:?} for a {} network",
                d.shape().as_slice(),
                spec.describe()
            ));
        }
        if d.dtype() != dtype {
            return Err(format!(
                "{name} is {:?} but {} is {dtype:?}",
                d.dtype(),
                w.tensors[0].0
            ));
        }
    }
    Ok(())
}

fn list(names: &[&str]) -> String {
    const SHOWN: usize = 8;
    let mut s = names
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s += &format!(" and {} more", names.len() - SHOWN);
    }
    s
}

/// The network `w` holds, if it is the configured one (kind, depth, sizes;
/// either layout for a one-layer tanh RNN), and its tensors checked and in
/// canonical order.
pub fn conform(w: &NamedWeights, spec: &ModelSpec) -> Result<(ModelSpec, NamedWeights), String> {
    let found = infer(w)?;
    if !found.same_network(spec) {
        return Err(mismatch(&found, spec));
    }
    check(w, &found)?;
    let ordered = expected(&found)
        .into_iter()
        .map(|(n, _)| {
            let d = w.get(&n).expect("checked").clone();
            (n, d)
        })
        .collect();
    Ok((found, NamedWeights::new(ordered)))
}

/// Names every way the file's network differs from the configured one.
fn mismatch(found: &ModelSpec, spec: &ModelSpec) -> String {
    let mut diffs = Vec::new();
    if found.kind != spec.kind {
        diffs.push(format!("model {} (configured {})", found.kind, spec.kind));
    }
    if found.layers != spec.layers {
        diffs.push(format!(
            "{} layers (configured {})",
            found.layers, spec.layers
        ));
    }
    if found.hidden != spec.hidden {
        diffs.push(format!(
            "hidden size {} (configured {})",
            found.hidden, spec.hidden
        ));
    }
    if found.vocab != spec.vocab {
        diffs.push(format!(
            "vocabulary of {} chars (the text has {})",
            found.vocab, spec.vocab
        ));
    }
    format!("the weights are for another network: {}", diffs.join(", "))
}

/// Fresh weights drawn on the host from `seed`: the original's N(0,1)·0.01
/// and zero biases for min-char-rnn, PyTorch's default U(−1/√H, 1/√H) for
/// every weight and bias of every other network, in canonical order.
pub fn random(spec: &ModelSpec, seed: u64, precision: Precision) -> NamedWeights {
    if spec.is_original() {
        let config = RnnConfig::new(spec.vocab).with_hidden_size(spec.hidden);
        return original_to_named(&Weights::random(&config, seed, precision));
    }
    let bound = 1.0 / (spec.hidden as f64).sqrt();
    let uniform = Uniform::new_inclusive(-bound, bound).expect("a valid range");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    NamedWeights::new(
        expected(spec)
            .into_iter()
            .map(|(name, shape)| {
                let n: usize = shape.iter().product();
                let values: Vec<f64> = (0..n).map(|_| uniform.sample(&mut rng)).collect();
                let data = TensorData::new(values, shape).convert_dtype(precision.dtype());
                (name, data)
            })
            .collect(),
    )
}

/// The original's five tensors by name.
pub fn original_to_named(w: &Weights) -> NamedWeights {
    NamedWeights::new(
        w.named()
            .into_iter()
            .map(|(n, d)| (n.to_string(), d.clone()))
            .collect(),
    )
}

/// The original's five tensors from names (already checked by [`conform`]).
pub fn named_to_original(w: &NamedWeights) -> Weights {
    let get = |n: &str| w.get(n).expect("conformed weights hold all five").clone();
    Weights {
        wxh: get("Wxh"),
        whh: get("Whh"),
        why: get("Why"),
        bh: get("bh"),
        by: get("by"),
    }
}
