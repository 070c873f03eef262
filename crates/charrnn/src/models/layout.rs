//! Weights by name against a [`ModelSpec`]: which network a file's tensors
//! imply ([`infer`]), whether they are exactly that network's ([`check`],
//! [`conform`]), and fresh weights ([`random`]). Every name and shape comes
//! from the parameter table ([`super::params`]).
//!
//! A one-layer tanh RNN comes in both namings: fresh or from min-char-rnn's
//! file it is the original (one bias); from PyTorch's weights it stays
//! PyTorch's `nn.RNN`, whose two biases each take an update (so a run from
//! PyTorch's weights trains as PyTorch does, and saves in PyTorch's names).

use burn::tensor::TensorData;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal, Uniform};

use super::named::NamedWeights;
use super::params::{self, Slot};
use super::spec::{Init, Layout, ModelKind, ModelSpec};
use crate::Precision;
use crate::error::Problem;

type Checked<T> = std::result::Result<T, Problem>;

/// The spec a file's tensors imply, read off their names and shapes (the
/// caller then checks every tensor with [`check`]).
pub fn infer(w: &NamedWeights) -> Checked<ModelSpec> {
    let shape = |name: &str| w.get(name).map(|d| d.shape().to_vec());
    let original = params::table(&ModelSpec::new(ModelKind::Rnn, 1, 1, 1));
    if original.iter().any(|p| w.get(&p.name).is_some()) {
        return infer_original(w, &original);
    }
    let name = |slot| params::name(Layout::PyTorch, slot).expect("PyTorch names every slot");
    let (hh, out) = (name(Slot::RecurrentWeight(0)), name(Slot::OutputWeight));
    let (Some(hh_shape), Some(out_shape)) = (shape(&hh), shape(&out)) else {
        return Err(Problem::NotANetwork {
            original: original.into_iter().map(|p| p.name).collect(),
            pytorch: vec![hh, out],
            found: w.names().into_iter().map(String::from).collect(),
        });
    };
    let ([gh, h], [v, _]) = (hh_shape.as_slice(), out_shape.as_slice()) else {
        return Err(Problem::Not2d {
            a: hh,
            a_shape: hh_shape,
            b: out,
            b_shape: out_shape,
        });
    };
    let kind = (*h > 0 && gh % h == 0)
        .then(|| ModelKind::from_gates(gh / h))
        .flatten()
        .ok_or_else(|| Problem::GateRows {
            name: hh.clone(),
            shape: hh_shape.clone(),
        })?;
    let layers = (0..)
        .take_while(|&k| w.get(&name(Slot::RecurrentWeight(k))).is_some())
        .count();
    Ok(ModelSpec {
        kind,
        layers,
        vocab: *v,
        hidden: *h,
        layout: Layout::PyTorch,
    })
}

/// min-char-rnn's network, sized from whichever of its matrices are there
/// and 2-D; [`check`] then names any tensor that is missing or misshapen.
fn infer_original(w: &NamedWeights, original: &[params::Param]) -> Checked<ModelSpec> {
    let dims = |slot: Slot| {
        let p = original.iter().find(|p| p.slot == slot)?;
        w.get(&p.name)
            .map(|d| d.shape().to_vec())
            .filter(|s| s.len() == 2)
    };
    let (wxh, whh, why) = (
        dims(Slot::InputWeight(0)),
        dims(Slot::RecurrentWeight(0)),
        dims(Slot::OutputWeight),
    );
    let hidden = whh.as_ref().or(wxh.as_ref()).map(|s| s[0]);
    let hidden = hidden.or(why.as_ref().map(|s| s[1]));
    let vocab = wxh.as_ref().map(|s| s[1]).or(why.as_ref().map(|s| s[0]));
    match (vocab, hidden) {
        (Some(v), Some(h)) => Ok(ModelSpec::new(ModelKind::Rnn, 1, v, h)),
        _ => Err(Problem::Missing {
            missing: original
                .iter()
                .filter(|p| !p.slot.is_bias() && w.get(&p.name).is_none())
                .map(|p| p.name.clone())
                .collect(),
            network: "min-char-rnn".into(),
            expected: original.iter().map(|p| p.name.clone()).collect(),
        }),
    }
}

/// Every expected tensor present with its shape, nothing else, one dtype.
pub fn check(w: &NamedWeights, spec: &ModelSpec) -> Checked<()> {
    let want = params::table(spec);
    let network = spec.describe();
    let missing: Vec<String> = want
        .iter()
        .filter(|p| w.get(&p.name).is_none())
        .map(|p| p.name.clone())
        .collect();
    if !missing.is_empty() {
        return Err(Problem::Missing {
            missing,
            network,
            expected: want.into_iter().map(|p| p.name).collect(),
        });
    }
    let extra: Vec<String> = w
        .names()
        .into_iter()
        .filter(|n| !want.iter().any(|p| p.name == *n))
        .map(String::from)
        .collect();
    if !extra.is_empty() {
        return Err(Problem::Unexpected { extra, network });
    }
    let (first, dtype) = (&w.tensors[0].0, w.tensors[0].1.dtype());
    for p in &want {
        let d = w.get(&p.name).expect("checked above");
        if d.shape().as_slice() != p.shape.as_slice() {
            return Err(Problem::WrongShape {
                name: p.name.clone(),
                shape: d.shape().to_vec(),
                expected: p.shape.clone(),
                network,
            });
        }
        if d.dtype() != dtype {
            return Err(Problem::MixedDtypes {
                name: p.name.clone(),
                found: d.dtype(),
                first: first.clone(),
                expected: dtype,
            });
        }
    }
    Ok(())
}

/// The network `w` holds, if it is the configured one (kind, depth, sizes;
/// either naming for a one-layer tanh RNN), and its tensors checked and in
/// canonical order.
pub fn conform(w: &NamedWeights, spec: &ModelSpec) -> Checked<(ModelSpec, NamedWeights)> {
    let found = infer(w)?;
    if !found.same_network(spec) {
        return Err(Problem::OtherNetwork {
            differences: differences(&found, spec),
        });
    }
    check(w, &found)?;
    let ordered = params::table(&found)
        .into_iter()
        .map(|p| {
            let d = w.get(&p.name).expect("checked").clone();
            (p.name, d)
        })
        .collect();
    Ok((found, NamedWeights::new(ordered)))
}

/// Every way the file's network differs from the configured one.
fn differences(found: &ModelSpec, spec: &ModelSpec) -> Vec<String> {
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
    diffs
}

/// Fresh weights drawn on the host from `seed`, tensor by tensor in the
/// table's order, by the spec's [`Init`]: min-char-rnn's N(0,1)·0.01 weights
/// and zero biases (so Wxh, Whh, Why are drawn in the original's order), or
/// PyTorch's default U(−1/√H, 1/√H) for every weight and bias.
pub fn random(spec: &ModelSpec, seed: u64, precision: Precision) -> NamedWeights {
    random_with(spec, spec.init(), seed, precision)
}

/// Fresh weights drawn by `init` (see [`random`]).
pub fn random_with(spec: &ModelSpec, init: Init, seed: u64, precision: Precision) -> NamedWeights {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let uniform = |bound: f64| Uniform::new_inclusive(-bound, bound).expect("a valid range");
    NamedWeights::new(
        params::table(spec)
            .into_iter()
            .map(|p| {
                let n: usize = p.shape.iter().product();
                let values: Vec<f64> = match init {
                    Init::Normal { .. } if p.slot.is_bias() => vec![0.0; n],
                    Init::Normal { std } => (0..n)
                        .map(|_| {
                            let x: f64 = StandardNormal.sample(&mut rng);
                            x * std
                        })
                        .collect(),
                    Init::Uniform { bound } => {
                        let u = uniform(bound);
                        (0..n).map(|_| u.sample(&mut rng)).collect()
                    }
                };
                let data = TensorData::new(values, p.shape).convert_dtype(precision.dtype());
                (p.name, data)
            })
            .collect(),
    )
}

/// char-rnn's LSTM forget-gate bias: every layer's forget-gate rows (the
/// second of the gate blocks i, f, g, o) of `bias_ih` set to `value` and of
/// `bias_hh` to 0, so the gate starts at σ(value). Other kinds are unchanged.
pub fn set_forget_bias(spec: &ModelSpec, w: &mut NamedWeights, value: f64) {
    if spec.kind != ModelKind::Lstm {
        return;
    }
    let h = spec.hidden;
    for p in params::table(spec) {
        let v = match p.slot {
            Slot::InputBias(_) => value,
            Slot::RecurrentBias(_) => 0.0,
            _ => continue,
        };
        let d = w
            .tensors
            .iter_mut()
            .find(|(n, _)| *n == p.name)
            .map(|(_, d)| d)
            .expect("the table's tensors");
        let mut values: Vec<f64> = d.iter::<f64>().collect();
        values[h..2 * h].iter_mut().for_each(|x| *x = v);
        *d = TensorData::new(values, d.shape().clone()).convert_dtype(d.dtype());
    }
}
