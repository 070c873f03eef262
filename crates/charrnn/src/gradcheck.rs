//! The gradient check: Burn's autodiff against the hand-written backward
//! (every entry of every parameter) and against central finite differences
//! (sampled entries), in the spirit of llm.c's test that prints the max
//! difference per tensor. Used by the test suite and by `train gradcheck`.
//!
//! Finite differences use Richardson extrapolation of two central differences
//! (steps h and h/2), whose O(h⁴) error lets an f64 check reach 1e-6 relative
//! on gradients as small as 1e-4 (a plain central difference cannot: rounding
//! of a loss near 100 already costs ~1e-10 absolute at any usable step).

use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use crate::backward::loss_and_grads;
use crate::data::Chunk;
use crate::model::{Rnn, Weights};

/// Tolerances of the f64 check (the issue's): autodiff vs manual, relative to
/// the largest gradient; finite differences, relative where |g| >= TINY and
/// absolute below it.
pub const MANUAL_REL_TOL: f64 = 1e-10;
pub const FD_REL_TOL: f64 = 1e-6;
pub const FD_ABS_TOL: f64 = 1e-9;
pub const TINY: f64 = 1e-4;
/// Finite-difference step (the coarse one; the fine one is half of it).
pub const FD_STEP: f64 = 1e-3;

/// Loss, gradients (original layout) and last hidden state [B,H] by autodiff.
pub fn autodiff(
    w: &Weights,
    chunk: &Chunk,
    h0: &TensorData,
    device: &Device,
) -> (f64, Weights, TensorData) {
    let device = device.clone().autodiff();
    let model = Rnn::from_weights(w, &device);
    let (inputs, targets) = chunk.to_device(&device);
    let h0 = Tensor::<2>::from_data(h0.clone(), (&device, h0.dtype()));
    let out = model.forward(inputs, targets, h0);
    let loss = out.loss.clone().into_scalar::<f64>();
    let grads = GradientsParams::from_grads(out.loss.backward(), &model);
    let g = |p: &burn::module::Param<Tensor<2>>| {
        grads
            .get::<2>(p.id)
            .expect("every parameter has a gradient")
    };
    let (v, h) = model.sizes();
    let grads = Weights {
        wxh: g(&model.wxh).transpose().into_data(),
        whh: g(&model.whh).transpose().into_data(),
        why: g(&model.why).transpose().into_data(),
        bh: g(&model.bh).reshape([h, 1]).into_data(),
        by: g(&model.by).reshape([v, 1]).into_data(),
    };
    (loss, grads, out.h_last.into_data())
}

/// The loss alone, on a plain device.
pub fn loss(w: &Weights, chunk: &Chunk, h0: &TensorData, device: &Device) -> f64 {
    let device = device.clone().without_autodiff();
    let model = Rnn::from_weights(w, &device);
    let (inputs, targets) = chunk.to_device(&device);
    let h0 = Tensor::<2>::from_data(h0.clone(), (&device, h0.dtype()));
    model.forward(inputs, targets, h0).loss.into_scalar::<f64>()
}

/// d loss / d w[param][index] by Richardson-extrapolated central differences.
pub fn finite_difference(
    w: &Weights,
    param: usize,
    index: usize,
    chunk: &Chunk,
    h0: &TensorData,
    device: &Device,
) -> f64 {
    let at = |delta: f64| {
        let mut p = w.clone();
        let (_, d) = &mut p.named_mut()[param];
        let mut values: Vec<f64> = d.iter::<f64>().collect();
        values[index] += delta;
        let shape = [d.shape()[0], d.shape()[1]];
        **d = TensorData::new(values, shape).convert_dtype(d.dtype());
        loss(&p, chunk, h0, device)
    };
    let central = |h: f64| (at(h) - at(-h)) / (2.0 * h);
    let (coarse, fine) = (central(FD_STEP), central(FD_STEP / 2.0));
    (4.0 * fine - coarse) / 3.0
}

/// One parameter's line of the report.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: &'static str,
    pub shape: [usize; 2],
    /// max |autodiff − manual| over every entry.
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

/// Runs the whole check on one chunk: `samples` finite-difference entries per
/// parameter (the largest gradient, then random entries, half of them among
/// the non-tiny ones). Needs f64 weights to mean anything at these tolerances.
pub fn check(
    w: &Weights,
    chunk: &Chunk,
    h0: &TensorData,
    samples: usize,
    seed: u64,
    device: &Device,
) -> Vec<Row> {
    let (_, ad, _) = autodiff(w, chunk, h0, device);
    let h0_cols =
        Tensor::<2>::from_data(h0.clone(), (&device.clone().without_autodiff(), h0.dtype()))
            .transpose();
    let manual = loss_and_grads(w, chunk, h0_cols, device).grads;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = Vec::new();
    for (param, ((name, a), (_, m))) in ad.named().into_iter().zip(manual.named()).enumerate() {
        let (manual_abs, scale) = max_diff(a, m);
        let g = values(a);
        let mut picks = vec![
            (0..g.len())
                .max_by(|&i, &j| g[i].abs().total_cmp(&g[j].abs()))
                .unwrap_or(0),
        ];
        let big: Vec<usize> = (0..g.len()).filter(|&i| g[i].abs() >= TINY).collect();
        let all: Vec<usize> = (0..g.len()).collect();
        picks.extend(big.choose_multiple(&mut rng, samples / 2).copied());
        let rest = samples.saturating_sub(picks.len());
        picks.extend(all.choose_multiple(&mut rng, rest).copied());
        let (mut fd_rel, mut fd_abs) = (0.0f64, 0.0f64);
        for &i in &picks {
            let fd = finite_difference(w, param, i, chunk, h0, device);
            let err = (fd - g[i]).abs();
            if g[i].abs() >= TINY {
                fd_rel = fd_rel.max(err / g[i].abs());
            } else {
                fd_abs = fd_abs.max(err);
            }
        }
        rows.push(Row {
            name,
            shape: [a.shape()[0], a.shape()[1]],
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

/// The report as text, one row per parameter.
pub fn format(rows: &[Row]) -> String {
    let mut s = format!(
        "{:<5} {:>10} | {:>12} {:>12} | {:>4} {:>12} {:>12} | ok\n",
        "param", "shape", "ad-manual", "rel", "fd n", "fd rel", "fd abs"
    );
    for r in rows {
        s += &format!(
            "{:<5} {:>10} | {:>12.3e} {:>12.3e} | {:>4} {:>12.3e} {:>12.3e} | {}\n",
            r.name,
            format!("[{},{}]", r.shape[0], r.shape[1]),
            r.manual_abs,
            r.manual_rel,
            r.fd_checked,
            r.fd_rel,
            r.fd_abs,
            if r.passes() { "OK" } else { "FAIL" }
        );
    }
    s
}
