//! min-char-rnn's vanilla tanh RNN as a Burn module: parameters, initialisation, and the
//! forward pass over one chunk that autodiff differentiates.
//!
//! The math is the original's, for B streams at once (B = 1 is the original):
//!   h_t = tanh(Wxh·x_t + Whh·h_{t-1} + bh)      x_t one-hot
//!   y_t = Why·h_t + by
//!   loss = (1/B) Σ_b Σ_t −log softmax(y_t)[target_t]
//!
//! Layout: the module stores each weight transposed relative to the original
//! (row-vector convention, [B,H] hidden states), which is what makes the hot
//! path cheap: x_t·Wxh becomes a row lookup, so all T·B inputs are gathered in
//! one op; only the recurrence runs step by step; the output projection,
//! log-softmax and loss run once over all T·B rows. Everything that leaves the
//! program uses the original's names and shapes ([`Weights`]).

use burn::config::Config;
use burn::module::{Module, Param, ParamId};
use burn::tensor::{Device, Int, Tensor, TensorData};
use charrnn_activations::tanh;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::loss::chunk_loss;
use crate::Precision;

/// Sizes of the network; `init` builds it.
#[derive(Config, Debug)]
pub struct RnnConfig {
    /// V: distinct chars in the text.
    pub vocab_size: usize,
    /// H: hidden units.
    #[config(default = 100)]
    pub hidden_size: usize,
}

impl RnnConfig {
    /// Fresh weights like the original's: N(0,1)·0.01 weights, zero biases,
    /// drawn from `seed` on the host so every backend starts identically.
    pub fn init(&self, seed: u64, precision: Precision, device: &Device) -> Rnn {
        Rnn::from_weights(&Weights::random(self, seed, precision), device)
    }
}

/// The five parameters in the original's names, shapes and orientation, on
/// the host: Wxh [H,V], Whh [H,H], Why [V,H], bh [H,1], by [V,1].
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    pub wxh: TensorData,
    pub whh: TensorData,
    pub why: TensorData,
    pub bh: TensorData,
    pub by: TensorData,
}

/// The original's parameter names, in its order.
pub const PARAM_NAMES: [&str; 5] = ["Wxh", "Whh", "Why", "bh", "by"];

impl Weights {
    pub fn random(config: &RnnConfig, seed: u64, precision: Precision) -> Self {
        let (v, h) = (config.vocab_size, config.hidden_size);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut randn = |shape: [usize; 2]| {
            let values = (0..shape[0] * shape[1])
                .map(|_| StandardNormal.sample(&mut rng))
                .map(|x: f64| x * 0.01)
                .collect();
            precision.data(values, shape)
        };
        // Drawn in the original's order: Wxh, Whh, Why.
        let (wxh, whh, why) = (randn([h, v]), randn([h, h]), randn([v, h]));
        Self {
            wxh,
            whh,
            why,
            bh: precision.data(vec![0.0; h], [h, 1]),
            by: precision.data(vec![0.0; v], [v, 1]),
        }
    }

    /// (name, data) pairs in the original's order.
    pub fn named(&self) -> [(&'static str, &TensorData); 5] {
        [
            ("Wxh", &self.wxh),
            ("Whh", &self.whh),
            ("Why", &self.why),
            ("bh", &self.bh),
            ("by", &self.by),
        ]
    }

    pub fn named_mut(&mut self) -> [(&'static str, &mut TensorData); 5] {
        [
            ("Wxh", &mut self.wxh),
            ("Whh", &mut self.whh),
            ("Why", &mut self.why),
            ("bh", &mut self.bh),
            ("by", &mut self.by),
        ]
    }

    /// (V, H) read off Why's shape.
    pub fn sizes(&self) -> (usize, usize) {
        let s = self.why.shape();
        (s[0], s[1])
    }

    /// The shapes a (V, H) network must have, in the original's order.
    pub fn expected_shapes(vocab: usize, hidden: usize) -> [[usize; 2]; 5] {
        [
            [hidden, vocab],
            [hidden, hidden],
            [vocab, hidden],
            [hidden, 1],
            [vocab, 1],
        ]
    }

    pub fn precision(&self) -> Precision {
        if self.wxh.dtype() == burn::tensor::DType::F64 {
            Precision::F64
        } else {
            Precision::F32
        }
    }

    /// The same weights in another precision.
    pub fn cast(&self, precision: Precision) -> Self {
        let c = |d: &TensorData| d.clone().convert_dtype(precision.dtype());
        Self {
            wxh: c(&self.wxh),
            whh: c(&self.whh),
            why: c(&self.why),
            bh: c(&self.bh),
            by: c(&self.by),
        }
    }
}

/// A 2-D host tensor transposed, in its own dtype.
pub fn transpose(d: &TensorData) -> TensorData {
    let (rows, cols) = (d.shape()[0], d.shape()[1]);
    let v: Vec<f64> = d.iter::<f64>().collect();
    let t = (0..rows * cols)
        .map(|i| v[(i % rows) * cols + i / rows])
        .collect();
    TensorData::new(t, [cols, rows]).convert_dtype(d.dtype())
}

fn reshape(d: &TensorData, shape: [usize; 2]) -> TensorData {
    TensorData::from_bytes_vec(d.as_bytes().to_vec(), shape, d.dtype())
}

/// The RNN. Fields are the original's parameters, stored transposed.
#[derive(Module, Debug)]
pub struct Rnn {
    /// Wxhᵀ [V,H]: row v is Wxh's column for char v.
    pub wxh: Param<Tensor<2>>,
    /// Whhᵀ [H,H].
    pub whh: Param<Tensor<2>>,
    /// Whyᵀ [H,V].
    pub why: Param<Tensor<2>>,
    /// bhᵀ [1,H].
    pub bh: Param<Tensor<2>>,
    /// byᵀ [1,V].
    pub by: Param<Tensor<2>>,
}

/// What a forward over one chunk gives back.
pub struct ChunkOutput {
    /// [1]: the mean over streams of each stream's summed −log p(target).
    pub loss: Tensor<1>,
    /// [B,H]: the hidden state after the last step.
    pub h_last: Tensor<2>,
}

impl Rnn {
    /// Builds the module from original-layout weights on `device`, in the
    /// weights' precision. Parameter ids are fixed (0..5 in the original's
    /// order) so optimizer state saved with one model loads into another.
    pub fn from_weights(w: &Weights, device: &Device) -> Self {
        let dtype = w.wxh.dtype();
        // Transposed on the host so every parameter is a contiguous tensor: a
        // strided view computes the same math in another summation order on
        // some backends, which would break bit-exact resume.
        let param = |id: u64, d: TensorData| {
            let t = Tensor::<2>::from_data(d, (device, dtype));
            let t = if device.is_autodiff() {
                t.require_grad()
            } else {
                t
            };
            Param::initialized(ParamId::from(id), t)
        };
        let (v, h) = w.sizes();
        Self {
            wxh: param(0, transpose(&w.wxh)),
            whh: param(1, transpose(&w.whh)),
            why: param(2, transpose(&w.why)),
            bh: param(3, reshape(&w.bh, [1, h])),
            by: param(4, reshape(&w.by, [1, v])),
        }
    }

    /// The parameters in the original's layout.
    pub fn to_weights(&self) -> Weights {
        let (v, h) = self.sizes();
        let data = |p: &Param<Tensor<2>>| p.val().detach().into_data();
        Weights {
            wxh: transpose(&data(&self.wxh)),
            whh: transpose(&data(&self.whh)),
            why: transpose(&data(&self.why)),
            bh: reshape(&data(&self.bh), [h, 1]),
            by: reshape(&data(&self.by), [v, 1]),
        }
    }

    /// (V, H).
    pub fn sizes(&self) -> (usize, usize) {
        let [v, h] = self.wxh.val().dims();
        (v, h)
    }

    /// Forward over one chunk of T steps for B streams.
    ///
    /// inputs [T*B] and targets [T*B,1] are time-major (row t*B + b is stream
    /// b at step t); h0 is [B,H].
    pub fn forward(
        &self,
        inputs: Tensor<1, Int>,
        targets: Tensor<2, Int>,
        h0: Tensor<2>,
    ) -> ChunkOutput {
        self.forward_masked(inputs, targets, h0, None)
    }

    /// The forward with a dropout mask [T*B,H] on the hidden states before
    /// the output projection (training with dropout; None is the original).
    pub fn forward_masked(
        &self,
        inputs: Tensor<1, Int>,
        targets: Tensor<2, Int>,
        h0: Tensor<2>,
        mask: Option<Tensor<2>>,
    ) -> ChunkOutput {
        let [b, _] = h0.dims();
        let steps = inputs.dims()[0] / b;
        // Wxh·x_t + bh is row x_t of Wxhᵀ + bh: one add per chunk, then a row
        // gather per step, no one-hot product. (Gathering all T·B rows at once
        // and narrowing per step is the same math, but narrow's backward fills
        // a zeroed [T*B,H] buffer at every step: T² work per chunk.)
        let xb = self.wxh.val() + self.bh.val(); // [V,H]
        let whh = self.whh.val(); // [H,H]
        let mut h = h0; // [B,H]
        let mut hs = Vec::with_capacity(steps);
        for t in 0..steps {
            let x_t = inputs.clone().narrow(0, t * b, b); // [B] char ids
            // h_t = tanh(x_t·Wxhᵀ + bh + h_{t-1}·Whhᵀ): the only per-step work.
            h = tanh(xb.clone().select(0, x_t) + h.matmul(whh.clone())); // [B,H]
            hs.push(h.clone());
        }
        let mut h_all = Tensor::cat(hs, 0); // [T*B,H]
        if let Some(mask) = mask {
            h_all = h_all * mask;
        }
        let logits = h_all.matmul(self.why.val()) + self.by.val(); // [T*B,V]
        let loss = chunk_loss(logits, targets, b); // [1]
        ChunkOutput { loss, h_last: h }
    }

    /// One step for sampling: the next hidden state [B,H] and logits [B,V]
    /// for inputs [B].
    pub fn step(&self, input: Tensor<1, Int>, h: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let x = self.wxh.val().select(0, input) + self.bh.val(); // [B,H]
        let h = tanh(x + h.matmul(self.whh.val())); // [B,H]
        let logits = h.clone().matmul(self.why.val()) + self.by.val(); // [B,V]
        (h, logits)
    }

    /// A zero hidden state [B,H] in the model's precision.
    pub fn zero_state(&self, streams: usize) -> Tensor<2> {
        let w = self.whh.val();
        let (_, hsize) = self.sizes();
        Tensor::zeros([streams, hsize], (&w.device(), w.dtype()))
    }
}
