//! The gradient check: Burn's autodiff against the hand-written backward
//! (every entry of every parameter; min-char-rnn only) and against central
//! finite differences (sampled entries; every model, dropout masks fixed), in
//! the spirit of llm.c's test that prints the max difference per tensor. Used
//! by the test suite and by `charrnn gradcheck`.
//!
//! Finite differences use Richardson extrapolation of two central differences
//! (steps h and h/2), whose O(h⁴) error lets an f64 check reach 1e-6 relative
//! on gradients as small as 1e-4 (a plain central difference cannot: rounding
//! of a loss near 100 already costs ~1e-10 absolute at any usable step).

use burn::module::{Module, ModuleMapper, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use crate::Precision;
use crate::backward::{Weights, loss_and_grads};
use crate::config::TrainConfig;
use crate::data::{Chunk, Streams, Text};
use crate::dropout::Dropout;
use crate::error::Result;
use crate::memory::{self, Estimate};
use crate::models::{ModelSpec, NamedWeights, Network, State, layout};
use crate::optim::OptimizerKind;

/// Tolerances of the f64 check (the issue's): autodiff vs manual, relative to
/// the largest gradient; finite differences, relative where |g| >= TINY and
/// absolute below it.
pub const MANUAL_REL_TOL: f64 = 1e-10;
pub const FD_REL_TOL: f64 = 1e-6;
pub const FD_ABS_TOL: f64 = 1e-9;
pub const TINY: f64 = 1e-4;
/// Finite-difference step (the coarse one; the fine one is half of it).
pub const FD_STEP: f64 = 1e-3;

/// One parameter's line of the report.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: String,
    pub shape: Vec<usize>,
    /// Whether a hand-written backward exists to compare with (the original only).
    pub manual_checked: bool,
    /// max |autodiff − manual| over every entry (0 when not checked).
    pub manual_abs: f64,
    /// manual_abs / max |manual|.
    pub manual_rel: f64,
    /// Entries checked by finite differences.
    pub fd_checked: usize,
    /// Worst relative error among checked entries with |g| >= TINY (0 if none).
    pub fd_rel: f64,
    /// Worst absolute error among checked entries with |g| < TINY (0 if none).
    pub fd_abs: f64,
}

impl Row {
    pub fn passes(&self) -> bool {
        self.manual_rel <= MANUAL_REL_TOL && self.fd_rel <= FD_REL_TOL && self.fd_abs <= FD_ABS_TOL
    }
}

fn values(d: &TensorData) -> Vec<f64> {
    d.iter::<f64>().collect()
}

/// Max |a − b| and max |b| over two same-shaped tensors.
pub fn max_diff(a: &TensorData, b: &TensorData) -> (f64, f64) {
    let (a, b) = (values(a), values(b));
    assert_eq!(a.len(), b.len(), "compared tensors differ in size");
    let diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    let scale = b.iter().map(|y| y.abs()).fold(0.0, f64::max);
    (diff, scale)
}

/// Entries to check by finite differences: the largest gradient, then random
/// entries, half of them among the non-tiny ones.
fn pick_entries(g: &[f64], samples: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut picks = vec![
        (0..g.len())
            .max_by(|&i, &j| g[i].abs().total_cmp(&g[j].abs()))
            .unwrap_or(0),
    ];
    let big: Vec<usize> = (0..g.len()).filter(|&i| g[i].abs() >= TINY).collect();
    let all: Vec<usize> = (0..g.len()).collect();
    picks.extend(big.choose_multiple(rng, samples / 2).copied());
    let rest = samples.saturating_sub(picks.len());
    picks.extend(all.choose_multiple(rng, rest).copied());
    picks
}

/// Worst relative error (|g| >= TINY) and worst absolute error (below) of
/// finite differences `fd(i)` against gradient `g` at `picks`.
fn fd_errors(g: &[f64], picks: &[usize], mut fd: impl FnMut(usize) -> f64) -> (f64, f64) {
    let (mut fd_rel, mut fd_abs) = (0.0f64, 0.0f64);
    for &i in picks {
        let err = (fd(i) - g[i]).abs();
        if g[i].abs() >= TINY {
            fd_rel = fd_rel.max(err / g[i].abs());
        } else {
            fd_abs = fd_abs.max(err);
        }
    }
    (fd_rel, fd_abs)
}

/// A chunk, the incoming state and the dropout masks (fixed), on the host:
/// everything a network's loss depends on besides its weights.
pub struct Case<'a> {
    pub chunk: &'a Chunk,
    /// [B,H] parts in the network's state order.
    pub state: &'a [TensorData],
    /// One [T·B,H] mask per layer, or None.
    pub masks: Option<&'a [TensorData]>,
    /// One weight-drop mask [H, G·H] per layer, or None.
    pub weight_masks: Option<&'a [TensorData]>,
}

impl Case<'_> {
    fn loss_on(&self, model: &Network, device: &Device) -> (Tensor<1>, State) {
        let (inputs, targets) = self.chunk.to_device(device);
        let state = State::from_data(self.state, device);
        let on_device = |m: &[TensorData]| -> Vec<Tensor<2>> {
            m.iter()
                .map(|d| Tensor::from_data(d.clone(), (device, d.dtype())))
                .collect()
        };
        let masks = self.masks.map(on_device);
        let weight_masks = self.weight_masks.map(on_device);
        let model = model.clone().with_weight_masks(weight_masks.as_deref());
        model.forward(inputs, targets, &state, masks.as_deref())
    }
}

/// Replaces every parameter by its gradient, so the module's own
/// `to_weights` lays the gradients out as the weights are.
struct GradsAsParams<'a>(&'a GradientsParams);

impl ModuleMapper for GradsAsParams<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let id = param.id;
        let g = self.0.get::<D>(id).expect("every parameter has a gradient");
        Param::initialized(id, g)
    }
}

/// Any network's loss, gradients (in the weights' file layout and names)
/// and final state, by autodiff.
pub fn autodiff(
    spec: &ModelSpec,
    w: &NamedWeights,
    case: &Case,
    device: &Device,
) -> (f64, NamedWeights, Vec<TensorData>) {
    let device = device.clone().autodiff();
    let model = Network::from_weights(spec, w, &device);
    let (loss, state) = case.loss_on(&model, &device);
    let value = loss.clone().into_scalar::<f64>();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let as_grads = model.valid().map(&mut GradsAsParams(&grads));
    (value, as_grads.to_weights(), state.to_data())
}

/// Any network's loss alone, on a plain device.
pub fn loss(spec: &ModelSpec, w: &NamedWeights, case: &Case, device: &Device) -> f64 {
    let device = device.clone().without_autodiff();
    let model = Network::from_weights(spec, w, &device);
    case.loss_on(&model, &device).0.into_scalar::<f64>()
}

/// d loss / d w[param][index] by Richardson-extrapolated central
/// differences (`param` is the tensor's position in the table).
pub fn finite_difference(
    spec: &ModelSpec,
    w: &NamedWeights,
    param: usize,
    index: usize,
    case: &Case,
    device: &Device,
) -> f64 {
    let at = |delta: f64| {
        let mut p = w.clone();
        let d = &mut p.tensors[param].1;
        let mut v: Vec<f64> = d.iter::<f64>().collect();
        v[index] += delta;
        *d = TensorData::new(v, d.shape().clone()).convert_dtype(d.dtype());
        loss(spec, &p, case, device)
    };
    let central = |h: f64| (at(h) - at(-h)) / (2.0 * h);
    let (coarse, fine) = (central(FD_STEP), central(FD_STEP / 2.0));
    (4.0 * fine - coarse) / 3.0
}

/// The hand-written backward's gradients for this case, when it has one:
/// min-char-rnn's network without dropout.
fn manual(
    spec: &ModelSpec,
    w: &NamedWeights,
    case: &Case,
    device: &Device,
) -> Option<NamedWeights> {
    if !spec.is_original() || case.masks.is_some() || case.weight_masks.is_some() {
        return None;
    }
    let h0 = &case.state[0];
    let plain = device.clone().without_autodiff();
    let h0_cols = Tensor::<2>::from_data(h0.clone(), (&plain, h0.dtype())).transpose();
    let pass = loss_and_grads(&Weights::from_named(w), case.chunk, h0_cols, device);
    Some(pass.grads.to_named())
}

/// The whole check on one case, one row per tensor: autodiff against the
/// hand-written backward (every entry; the original only) and against
/// Richardson finite differences (`samples` entries per tensor, see
/// [`pick_entries`]). Needs f64 weights to mean anything at these tolerances.
pub fn check(
    spec: &ModelSpec,
    w: &NamedWeights,
    case: &Case,
    samples: usize,
    seed: u64,
    device: &Device,
) -> Vec<Row> {
    let (_, grads, _) = autodiff(spec, w, case, device);
    let manual = manual(spec, w, case, device);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = Vec::new();
    for (param, (name, a)) in grads.named().into_iter().enumerate() {
        let (manual_abs, scale) = match &manual {
            Some(m) => max_diff(a, &m.tensors[param].1),
            None => (0.0, 0.0),
        };
        let g = values(a);
        let picks = pick_entries(&g, samples, &mut rng);
        let (fd_rel, fd_abs) = fd_errors(&g, &picks, |i| {
            finite_difference(spec, w, param, i, case, device)
        });
        rows.push(Row {
            name: name.to_string(),
            shape: a.shape().to_vec(),
            manual_checked: manual.is_some(),
            manual_abs,
            manual_rel: if scale > 0.0 {
                manual_abs / scale
            } else {
                manual_abs
            },
            fd_checked: picks.len(),
            fd_rel,
            fd_abs,
        });
    }
    rows
}

/// A config's gradient check, as `charrnn gradcheck` runs it: its network in
/// f64 (from `init_weights`, or drawn from `seed`), its first chunk, a zero
/// state and the first chunk's dropout masks.
pub struct FirstChunk {
    pub spec: ModelSpec,
    pub weights: NamedWeights,
    pub chunk: Chunk,
    pub state: Vec<TensorData>,
    pub masks: Option<Vec<TensorData>>,
    pub weight_masks: Option<Vec<TensorData>>,
}

impl FirstChunk {
    pub fn new(c: &TrainConfig, text: &Text) -> Result<Self> {
        let streams = Streams::new(text.len(), c.seq_length, c.batch_size, &c.data)?;
        let spec = c.spec(text.vocab.len());
        memory::check(
            &format!("the gradient check of {}", spec.describe()),
            &Estimate::training(
                &spec,
                OptimizerKind::Sgd,
                Precision::F64,
                c.seq_length,
                c.batch_size,
                text.ids.bytes() as f64,
            ),
        )?;
        let (spec, weights) = match &c.init_weights {
            Some(path) => {
                let (w, _) = crate::weights::read(path)?;
                layout::conform(&w.cast(Precision::F64), &spec).map_err(|p| p.in_weights(path))?
            }
            None => (spec, c.fresh_weights(&spec, Precision::F64)),
        };
        let chunk = streams.chunk(text.ids.view(), 0);
        let zero = Precision::F64.data(
            vec![0.0; c.batch_size * c.hidden_size],
            [c.batch_size, c.hidden_size],
        );
        // The first iteration's masks, drawn as training draws them.
        let mut dropout = Dropout::new(c.dropout, c.seed).locked(c.locked_dropout);
        let masks = dropout.mask_data(
            spec.layers,
            [chunk.steps, chunk.streams],
            spec.hidden,
            Precision::F64,
        );
        let weight_masks = dropout.weight_mask_data(
            c.weight_drop,
            spec.layers,
            spec.recurrent_shape(),
            Precision::F64,
        );
        Ok(Self {
            weight_masks,
            state: vec![zero; spec.state_names().len()],
            spec,
            weights,
            chunk,
            masks,
        })
    }

    /// Whether the hand-written backward takes part (the original, no dropout).
    pub fn has_manual(&self) -> bool {
        self.spec.is_original() && self.masks.is_none() && self.weight_masks.is_none()
    }

    pub fn check(&self, samples: usize, seed: u64, device: &Device) -> Vec<Row> {
        let case = Case {
            chunk: &self.chunk,
            state: &self.state,
            masks: self.masks.as_deref(),
            weight_masks: self.weight_masks.as_deref(),
        };
        check(&self.spec, &self.weights, &case, samples, seed, device)
    }
}

/// The report as text, one row per parameter.
pub fn format(rows: &[Row]) -> String {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(5).max(5);
    let mut s = format!(
        "{:<width$} {:>10} | {:>12} {:>12} | {:>4} {:>12} {:>12} | ok\n",
        "param", "shape", "ad-manual", "rel", "fd n", "fd rel", "fd abs"
    );
    for r in rows {
        let manual = |x: f64| {
            if r.manual_checked {
                format!("{x:>12.3e}")
            } else {
                format!("{:>12}", "-")
            }
        };
        s += &format!(
            "{:<width$} {:>10} | {} {} | {:>4} {:>12.3e} {:>12.3e} | {}\n",
            r.name,
            format!("{:?}", r.shape).replace(' ', ""),
            manual(r.manual_abs),
            manual(r.manual_rel),
            r.fd_checked,
            r.fd_rel,
            r.fd_abs,
            if r.passes() { "OK" } else { "FAIL" }
        );
    }
    s
}
