//! Stacked recurrent layers (tanh RNN, LSTM or GRU) under one output
//! projection: PyTorch's `nn.RNN`/`nn.LSTM`/`nn.GRU(V, H, L)` followed by
//! `nn.Linear(H, V)`, fed one-hot chars.
//!
//!   layer 0 reads the char (a row gather of W_ihᵀ), layer k > 0 reads layer
//!   k−1's outputs; each layer's outputs [T·B, H] are multiplied by its
//!   dropout mask (training only); logits = h_top·outᵀ + out_b  [T·B, V]
//!
//! Layer by layer (as cuDNN does): each layer projects all T·B inputs in one
//! product, then runs only its recurrence step by step.

use burn::module::{Module, Param, ParamId};
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::layer::{Layer, StepInput};
use super::named::NamedWeights;
use super::rnn::transpose;
use super::spec::{Layout, ModelKind, ModelSpec};
use super::{gru, loss, lstm, tanh};

#[derive(Module, Debug)]
pub struct Stacked {
    pub layers: Vec<Layer>,
    /// out.weightᵀ [H, V]
    pub out_w: Param<Tensor<2>>,
    /// out.bias [1, V]
    pub out_b: Param<Tensor<2>>,
    #[module(skip)]
    pub kind: ModelKind,
}

impl Stacked {
    /// Builds the module from PyTorch-layout weights (already checked against
    /// `spec`). Parameter ids are the tensors' positions in canonical order,
    /// so optimizer state saved by one run loads into another.
    pub fn from_weights(spec: &ModelSpec, w: &NamedWeights, device: &Device) -> Self {
        let dtype = w.tensors[0].1.dtype();
        let mut next_id = 0u64;
        let mut param = |d: TensorData| {
            let t = Tensor::<2>::from_data(d, (device, dtype));
            let t = if device.is_autodiff() {
                t.require_grad()
            } else {
                t
            };
            next_id += 1;
            Param::initialized(ParamId::from(next_id - 1), t)
        };
        let get = |n: String| w.get(&n).expect("checked weights").clone();
        let row = |d: TensorData| {
            let n = d.shape()[0];
            TensorData::from_bytes_vec(d.as_bytes().to_vec(), [1, n], d.dtype())
        };
        let mut layers = Vec::with_capacity(spec.layers);
        for k in 0..spec.layers {
            // Transposed on the host so every parameter is contiguous (bit-exact resume).
            layers.push(Layer {
                w_ih: param(transpose(&get(format!("rnn.weight_ih_l{k}")))),
                w_hh: param(transpose(&get(format!("rnn.weight_hh_l{k}")))),
                b_ih: param(row(get(format!("rnn.bias_ih_l{k}")))),
                b_hh: param(row(get(format!("rnn.bias_hh_l{k}")))),
            });
        }
        Self {
            layers,
            out_w: param(transpose(&get("out.weight".into()))),
            out_b: param(row(get("out.bias".into()))),
            kind: spec.kind,
        }
    }

    /// The parameters in PyTorch's names, shapes and order.
    pub fn to_weights(&self) -> NamedWeights {
        let data = |p: &Param<Tensor<2>>| p.val().detach().into_data();
        let flat = |p: &Param<Tensor<2>>| {
            let d = data(p);
            let n = d.shape()[1];
            TensorData::from_bytes_vec(d.as_bytes().to_vec(), [n], d.dtype())
        };
        let mut out = Vec::new();
        for (k, l) in self.layers.iter().enumerate() {
            out.push((format!("rnn.weight_ih_l{k}"), transpose(&data(&l.w_ih))));
            out.push((format!("rnn.weight_hh_l{k}"), transpose(&data(&l.w_hh))));
            out.push((format!("rnn.bias_ih_l{k}"), flat(&l.b_ih)));
            out.push((format!("rnn.bias_hh_l{k}"), flat(&l.b_hh)));
        }
        out.push(("out.weight".into(), transpose(&data(&self.out_w))));
        out.push(("out.bias".into(), flat(&self.out_b)));
        NamedWeights::new(out)
    }

    pub fn spec(&self) -> ModelSpec {
        let [h, v] = self.out_w.val().dims();
        ModelSpec {
            kind: self.kind,
            layers: self.layers.len(),
            vocab: v,
            hidden: h,
            layout: Layout::PyTorch,
        }
    }

    fn cell_step(&self, layer: &Layer, xp: Tensor<2>, state: &[Tensor<2>]) -> Vec<Tensor<2>> {
        match self.kind {
            ModelKind::Rnn => tanh::step(layer, xp, state),
            ModelKind::Lstm => lstm::step(layer, xp, state),
            ModelKind::Gru => gru::step(layer, xp, state),
        }
    }

    /// The top layer's outputs [T·B, H] (after its dropout mask) and the
    /// state after the last step. `inputs` [T·B] time-major; `state` holds
    /// each layer's parts in order (h, or h and c), each [B, H]; `masks`, one
    /// [T·B, H] per layer, multiply each layer's outputs.
    pub fn hidden(
        &self,
        inputs: Tensor<1, Int>,
        state: &[Tensor<2>],
        masks: Option<&[Tensor<2>]>,
    ) -> (Tensor<2>, Vec<Tensor<2>>) {
        let parts = self.kind.state_parts().len();
        let both_biases = self.kind != ModelKind::Gru;
        let b = state[0].dims()[0];
        let steps = inputs.dims()[0] / b;
        // Layer by layer; each layer's outputs stay one tensor per step, so
        // the layer above reads them without slicing a [T·B, H] tensor.
        let mut below: Vec<Tensor<2>> = Vec::new();
        let mut out_state = Vec::with_capacity(state.len());
        for (k, layer) in self.layers.iter().enumerate() {
            let bias = layer.input_bias(both_biases); // [1, G·H]
            // Layer 0 reads chars: its projection is a row of W_ihᵀ + bias.
            let table = if k == 0 {
                layer.w_ih.val() + bias
            } else {
                bias
            };
            let mut s = state[k * parts..(k + 1) * parts].to_vec();
            let step_inputs: Vec<StepInput> = if k == 0 {
                (0..steps)
                    .map(|t| StepInput::Ids(inputs.clone().narrow(0, t * b, b)))
                    .collect()
            } else {
                below.drain(..).map(StepInput::Rows).collect()
            };
            let mut outs = Vec::with_capacity(steps);
            for (t, input) in step_inputs.into_iter().enumerate() {
                s = self.cell_step(layer, layer.project(input, &table), &s);
                let mut h = s[0].clone(); // [B, H]
                if let Some(masks) = masks {
                    // The masks are constants: slicing them costs no backward.
                    h = h * masks[k].clone().narrow(0, t * b, b);
                }
                outs.push(h);
            }
            out_state.extend(s);
            below = outs;
        }
        (Tensor::cat(below, 0), out_state)
    }

    /// Logits [N, V] of top-layer outputs [N, H].
    pub fn logits(&self, h: Tensor<2>) -> Tensor<2> {
        h.matmul(self.out_w.val()) + self.out_b.val()
    }

    /// Loss over one chunk (the mean over streams of each stream's summed
    /// −log p) and the state after it.
    pub fn forward(
        &self,
        inputs: Tensor<1, Int>,
        targets: Tensor<2, Int>,
        state: &[Tensor<2>],
        masks: Option<&[Tensor<2>]>,
    ) -> (Tensor<1>, Vec<Tensor<2>>) {
        let b = state[0].dims()[0];
        let (h_top, state) = self.hidden(inputs, state, masks);
        (loss::chunk_loss(self.logits(h_top), targets, b), state)
    }

    /// One step for sampling: the next state and logits [B, V] for inputs [B].
    pub fn step(&self, input: Tensor<1, Int>, state: &[Tensor<2>]) -> (Vec<Tensor<2>>, Tensor<2>) {
        let (h_top, state) = self.hidden(input, state, None);
        (state, self.logits(h_top))
    }
}
