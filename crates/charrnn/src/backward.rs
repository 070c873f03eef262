//! The original's backward pass, written out by hand (no autodiff), as the
//! reference that Burn's autodiff is checked against and as a readable account
//! of backprop through time.
//!
//! It follows min-char-rnn line for line, in the original's orientation
//! (column vectors, so B streams are B columns) and with its one-hot products;
//! none of the model's layout tricks are reused, so the two share no code.
//! Every tensor is made in the weights' precision on a plain (non-autodiff)
//! device.
//!
//! Dimension legend: V vocab, H hidden, T steps, B streams.
//!
//! forward, per step t:               backward, t = T-1 .. 0:
//!   xs[t] = one_hot(inputs[t])  [V,B]  dy     = ps[t] − one_hot(targets[t])   [V,B]
//!   hs[t] = tanh(Wxh·xs[t]             dWhy  += dy·hs[t]ᵀ                      [V,H]
//!              + Whh·hs[t-1] + bh) [H,B] dby   += Σ_b dy                         [V,1]
//!   ys[t] = Why·hs[t] + by     [V,B]  dh     = Whyᵀ·dy + dhnext               [H,B]
//!   ps[t] = softmax(ys[t])     [V,B]  dhraw  = (1 − hs[t]²) ⊙ dh              [H,B]
//!   loss += −Σ_b log ps[t][targets]    dbh   += Σ_b dhraw                      [H,1]
//!                                      dWxh  += dhraw·xs[t]ᵀ                   [H,V]
//!                                      dWhh  += dhraw·hs[t-1]ᵀ                 [H,H]
//!                                      dhnext = Whhᵀ·dhraw                     [H,B]
//! With B streams the loss is the mean over streams, so every gradient is
//! divided by B at the end.

use burn::tensor::{DType, Device, Tensor, TensorData};

use crate::data::Chunk;
use crate::models::params::{self, Slot};
use crate::models::{Layout, ModelKind, ModelSpec, NamedWeights};

/// The original's five parameters in its names, shapes and orientation, on
/// the host: Wxh [H,V], Whh [H,H], Why [V,H], bh [H,1], by [V,1] (and, for
/// the gradients, dWxh … dby in the same shapes).
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    pub wxh: TensorData,
    pub whh: TensorData,
    pub why: TensorData,
    pub bh: TensorData,
    pub by: TensorData,
}

impl Weights {
    /// From min-char-rnn's named tensors (a network of the original layout).
    pub fn from_named(w: &NamedWeights) -> Self {
        let get = |slot| {
            let name = params::name(Layout::Original, slot).expect("the original's slot");
            w.get(&name).expect("the original's five tensors").clone()
        };
        Self {
            wxh: get(Slot::InputWeight(0)),
            whh: get(Slot::RecurrentWeight(0)),
            why: get(Slot::OutputWeight),
            bh: get(Slot::InputBias(0)),
            by: get(Slot::OutputBias),
        }
    }

    /// By name, in the original's order.
    pub fn to_named(&self) -> NamedWeights {
        NamedWeights::new(
            self.named()
                .into_iter()
                .map(|(n, d)| (n, d.clone()))
                .collect(),
        )
    }

    /// (name, data) pairs in the original's order (the parameter table's).
    pub fn named(&self) -> Vec<(String, &TensorData)> {
        let fields = [&self.wxh, &self.whh, &self.why, &self.bh, &self.by];
        names().into_iter().zip(fields).collect()
    }

    pub fn named_mut(&mut self) -> Vec<(String, &mut TensorData)> {
        let fields = [
            &mut self.wxh,
            &mut self.whh,
            &mut self.why,
            &mut self.bh,
            &mut self.by,
        ];
        names().into_iter().zip(fields).collect()
    }

    /// (V, H) read off Why's shape.
    pub fn sizes(&self) -> (usize, usize) {
        let s = self.why.shape();
        (s[0], s[1])
    }
}

/// The original's names, Wxh … by, in its order.
fn names() -> Vec<String> {
    let spec = ModelSpec::new(ModelKind::Rnn, 1, 1, 1);
    params::table(&spec).into_iter().map(|p| p.name).collect()
}

/// The loss, every hidden state and the (unclipped) gradients of one chunk.
pub struct ManualPass {
    pub loss: f64,
    /// T hidden states [H,B].
    pub hs: Vec<Tensor<2>>,
    /// The gradients in the original's layout (dWxh [H,V], …).
    pub grads: Weights,
}

/// The five weights as tensors on `device`, in the original's layout.
struct Params {
    wxh: Tensor<2>,
    whh: Tensor<2>,
    why: Tensor<2>,
    bh: Tensor<2>,
    by: Tensor<2>,
}

/// One-hot columns [V,B] for one step's ids.
fn one_hot(ids: &[u32], vocab: usize, dtype: DType, device: &Device) -> Tensor<2> {
    let b = ids.len();
    let mut values = vec![0.0f64; vocab * b];
    for (col, &id) in ids.iter().enumerate() {
        values[id as usize * b + col] = 1.0;
    }
    Tensor::from_data(TensorData::new(values, [vocab, b]), (device, dtype))
}

/// Forward and backward over `chunk` from hidden state `hprev` [H,B].
pub fn loss_and_grads(w: &Weights, chunk: &Chunk, hprev: Tensor<2>, device: &Device) -> ManualPass {
    let device = &device.clone().without_autodiff();
    let dtype = w.wxh.dtype();
    let t_of = |d: &TensorData| Tensor::<2>::from_data(d.clone(), (device, dtype));
    let p = Params {
        wxh: t_of(&w.wxh),
        whh: t_of(&w.whh),
        why: t_of(&w.why),
        bh: t_of(&w.bh),
        by: t_of(&w.by),
    };
    let (vocab, _) = w.sizes();
    let (steps, streams) = (chunk.steps, chunk.streams);
    let at = |v: &[u32], t: usize| v[t * streams..(t + 1) * streams].to_vec();

    // forward
    let mut xs = Vec::with_capacity(steps); // [V,B] each
    let mut hs = Vec::with_capacity(steps); // [H,B] each
    let mut ps = Vec::with_capacity(steps); // [V,B] each
    let mut loss = 0.0;
    let mut h = hprev.to_device(device);
    let h0 = h.clone();
    for t in 0..steps {
        let x = one_hot(&at(&chunk.inputs, t), vocab, dtype, device);
        h = (p.wxh.clone().matmul(x.clone()) + p.whh.clone().matmul(h) + p.bh.clone()).tanh();
        let y = p.why.clone().matmul(h.clone()) + p.by.clone();
        let e = y.exp();
        let prob = e.clone() / e.sum_dim(0);
        let target = one_hot(&at(&chunk.targets, t), vocab, dtype, device);
        let picked = (prob.clone() * target).sum_dim(0); // [1,B]: p[target] per stream
        loss -= picked.log().sum().into_scalar::<f64>();
        xs.push(x);
        hs.push(h.clone());
        ps.push(prob);
    }

    // backward
    let mut dwxh = p.wxh.zeros_like();
    let mut dwhh = p.whh.zeros_like();
    let mut dwhy = p.why.zeros_like();
    let mut dbh = p.bh.zeros_like();
    let mut dby = p.by.zeros_like();
    let mut dhnext = h0.zeros_like();
    for t in (0..steps).rev() {
        let target = one_hot(&at(&chunk.targets, t), vocab, dtype, device);
        let dy = ps[t].clone() - target;
        dwhy = dwhy + dy.clone().matmul(hs[t].clone().transpose());
        dby = dby + dy.clone().sum_dim(1);
        let dh = p.why.clone().transpose().matmul(dy) + dhnext;
        let dhraw = (hs[t].clone().square().neg().add_scalar(1.0)) * dh;
        dbh = dbh + dhraw.clone().sum_dim(1);
        dwxh = dwxh + dhraw.clone().matmul(xs[t].clone().transpose());
        let hprev_t = if t == 0 {
            h0.clone()
        } else {
            hs[t - 1].clone()
        };
        dwhh = dwhh + dhraw.clone().matmul(hprev_t.transpose());
        dhnext = p.whh.clone().transpose().matmul(dhraw);
    }
    let scale = 1.0 / streams as f64;
    let out = |g: Tensor<2>| if streams == 1 { g } else { g.mul_scalar(scale) }.into_data();
    ManualPass {
        loss: loss * scale,
        hs,
        grads: Weights {
            wxh: out(dwxh),
            whh: out(dwhh),
            why: out(dwhy),
            bh: out(dbh),
            by: out(dby),
        },
    }
}

/// The original's clipping: every gradient element into [−clip, clip].
pub fn clip(grads: &Weights, clip: f64) -> Weights {
    let mut out = grads.clone();
    for (_, d) in out.named_mut() {
        let values: Vec<f64> = d.iter::<f64>().map(|g| g.clamp(-clip, clip)).collect();
        let shape = [d.shape()[0], d.shape()[1]];
        *d = TensorData::new(values, shape).convert_dtype(d.dtype());
    }
    out
}
