//! The one network type: L recurrent layers (tanh RNN, LSTM or GRU) under one
//! output projection, fed one-hot chars. min-char-rnn is the setting
//! `rnn`, one layer, one bias per layer, its N(0,1)·0.01 init and its tensor
//! names ([`Layout::Original`]); everything else is PyTorch's
//! `nn.RNN`/`nn.LSTM`/`nn.GRU(V, H, L)` followed by `nn.Linear(H, V)`.
//!
//!   layer 0 reads the char (a row gather of W_ihᵀ + bias), layer k > 0 reads
//!   layer k−1's outputs; each layer's outputs [T·B, H] are multiplied by its
//!   dropout mask (training only); logits = h_top·outᵀ + out_b  [T·B, V];
//!   loss = (1/B) Σ_b Σ_t −log softmax(logits)[target]
//!
//! Layer by layer (as cuDNN does): only the recurrence runs step by step; the
//! output projection, log-softmax and loss run once over all T·B rows.
//! Every cell is a forward only: Burn's autodiff produces the gradients.

use burn::module::{Module, Param as ModuleParam, ParamId};
use burn::tensor::{DType, Device, Int, Tensor, TensorData};

use super::layer::{Layer, StepInput};
use super::named::NamedWeights;
use super::params::{self, Slot};
use super::spec::{Layout, ModelKind, ModelSpec};
use super::{gru, layout, loss, lstm, tanh};
use crate::Precision;
use crate::error::Problem;

#[derive(Module, Debug)]
pub struct Network {
    pub layers: Vec<Layer>,
    /// out.weightᵀ (the original's Whyᵀ) [H, V]
    pub out_w: ModuleParam<Tensor<2>>,
    /// out.bias (the original's byᵀ) [1, V]
    pub out_b: ModuleParam<Tensor<2>>,
    #[module(skip)]
    pub kind: ModelKind,
    #[module(skip)]
    pub layout: Layout,
}

/// A network's recurrent state: each layer's h (and c for the LSTM), each
/// [B,H], in layer order — what is carried from chunk to chunk.
#[derive(Clone, Debug)]
pub struct State(pub Vec<Tensor<2>>);

impl State {
    pub fn detach(self) -> Self {
        Self(self.0.into_iter().map(|t| t.detach()).collect())
    }

    /// The same values on a plain (non-autodiff) device.
    pub fn without_autodiff(self) -> Self {
        Self(self.0.into_iter().map(|t| t.without_autodiff()).collect())
    }

    /// Stream `b` alone ([1,H] parts).
    pub fn stream(&self, b: usize) -> Self {
        self.streams_in(b..b + 1)
    }

    /// Streams `r` alone ([r.len(), H] parts).
    pub fn streams_in(&self, r: std::ops::Range<usize>) -> Self {
        Self(
            self.0
                .iter()
                .map(|t| t.clone().narrow(0, r.start, r.len()))
                .collect(),
        )
    }

    /// The states of consecutive groups of streams, as one state.
    pub fn cat(groups: Vec<State>) -> Self {
        let parts = groups[0].0.len();
        let mut columns: Vec<Vec<Tensor<2>>> = vec![Vec::with_capacity(groups.len()); parts];
        for group in groups {
            for (k, t) in group.0.into_iter().enumerate() {
                columns[k].push(t);
            }
        }
        Self(columns.into_iter().map(|c| Tensor::cat(c, 0)).collect())
    }

    pub fn to_data(&self) -> Vec<TensorData> {
        self.0.iter().map(|t| t.to_data()).collect()
    }

    pub fn from_data(parts: &[TensorData], device: &Device) -> Self {
        Self(
            parts
                .iter()
                .map(|d| Tensor::from_data(d.clone(), (device, d.dtype())))
                .collect(),
        )
    }
}

impl Network {
    /// Fresh weights for `spec` (see [`layout::random`]).
    pub fn init(spec: &ModelSpec, seed: u64, precision: Precision, device: &Device) -> Self {
        Self::from_weights(spec, &layout::random(spec, seed, precision), device)
    }

    /// Weights of either naming checked against `spec` (names, shapes,
    /// vocabulary size), then built on `device` in their own precision. The
    /// problem, if any, is the caller's to place in a file.
    pub fn load(spec: &ModelSpec, w: &NamedWeights, device: &Device) -> Result<Self, Problem> {
        let (spec, w) = layout::conform(w, spec)?;
        Ok(Self::from_weights(&spec, &w, device))
    }

    /// Builds from weights already checked against `spec` (see
    /// [`layout::conform`]), filling each slot of the parameter table.
    pub fn from_weights(spec: &ModelSpec, w: &NamedWeights, device: &Device) -> Self {
        let table = params::table(spec);
        let dtype = w.tensors[0].1.dtype();
        let mut slots: Vec<Option<ModuleParam<Tensor<2>>>> = Vec::with_capacity(table.len());
        for (id, p) in table.iter().enumerate() {
            let d = params::to_module(p, w.get(&p.name).expect("conformed weights"));
            let t = Tensor::<2>::from_data(d, (device, dtype));
            let t = if device.is_autodiff() {
                t.require_grad()
            } else {
                t
            };
            slots.push(Some(ModuleParam::initialized(ParamId::from(id as u64), t)));
        }
        let mut take = |slot: Slot| {
            let at = table.iter().position(|p| p.slot == slot)?;
            slots[at].take()
        };
        let layers = (0..spec.layers)
            .map(|k| Layer {
                w_ih: take(Slot::InputWeight(k)).expect("every layer has W_ih"),
                w_hh: take(Slot::RecurrentWeight(k)).expect("every layer has W_hh"),
                b_ih: take(Slot::InputBias(k)).expect("every layer has b_ih"),
                b_hh: take(Slot::RecurrentBias(k)),
                w_hh_mask: None,
            })
            .collect();
        Self {
            layers,
            out_w: take(Slot::OutputWeight).expect("an output weight"),
            out_b: take(Slot::OutputBias).expect("an output bias"),
            kind: spec.kind,
            layout: spec.layout,
        }
    }

    /// The network with each layer's weight-drop mask ([H, G·H], one per
    /// layer) set for a training iteration, or cleared with None.
    pub fn with_weight_masks(mut self, masks: Option<&[Tensor<2>]>) -> Self {
        for (k, layer) in self.layers.iter_mut().enumerate() {
            layer.w_hh_mask = masks.map(|m| m[k].clone());
        }
        self
    }

    /// The parameter in `slot`, if the network has one there.
    fn slot(&self, slot: Slot) -> Option<&ModuleParam<Tensor<2>>> {
        match slot {
            Slot::InputWeight(k) => self.layers.get(k).map(|l| &l.w_ih),
            Slot::RecurrentWeight(k) => self.layers.get(k).map(|l| &l.w_hh),
            Slot::InputBias(k) => self.layers.get(k).map(|l| &l.b_ih),
            Slot::RecurrentBias(k) => self.layers.get(k).and_then(|l| l.b_hh.as_ref()),
            Slot::OutputWeight => Some(&self.out_w),
            Slot::OutputBias => Some(&self.out_b),
        }
    }

    /// The weights by name, in the layout that leaves the program.
    pub fn to_weights(&self) -> NamedWeights {
        NamedWeights::new(
            params::table(&self.spec())
                .into_iter()
                .map(|p| {
                    let d = self.slot(p.slot).expect("the table's slots").val();
                    let d = params::to_file(&p, &d.detach().into_data());
                    (p.name, d)
                })
                .collect(),
        )
    }

    pub fn spec(&self) -> ModelSpec {
        let [h, v] = self.out_w.val().dims();
        ModelSpec {
            kind: self.kind,
            layers: self.layers.len(),
            vocab: v,
            hidden: h,
            layout: self.layout,
        }
    }

    /// The top layer's outputs [T·B, H] (after its dropout mask) and the
    /// state after the last step. `inputs` [T·B] time-major; `state` holds
    /// each layer's parts in order (h, or h and c), each [B, H]; `masks`, one
    /// [T·B, H] per layer, multiply each layer's outputs.
    pub fn hidden(
        &self,
        inputs: Tensor<1, Int>,
        state: &State,
        masks: Option<&[Tensor<2>]>,
    ) -> (Tensor<2>, State) {
        match self.kind {
            ModelKind::Lstm | ModelKind::Gru => self.hidden_by_layers(inputs, state, masks),
            // On a GPU each op is a launch: there the tanh RNN's layers run a
            // chunk as one operation too (one kernel per step each way).
            ModelKind::Rnn if charrnn_kernels::fuses_layers(&state.0[0]) => {
                self.hidden_by_layers(inputs, state, masks)
            }
            ModelKind::Rnn => self.hidden_by_steps(inputs, state, masks),
        }
    }

    /// [`Network::hidden`] a whole layer at a time (LSTM, GRU; the tanh RNN
    /// on the cube backends): each layer's input projection is one product
    /// (a gather for layer 0), then the layer's recurrence is one operation
    /// with its own backward (see [`lstm`], [`gru`], [`tanh`]), whose weight
    /// gradient is one product per chunk instead of one per step.
    fn hidden_by_layers(
        &self,
        inputs: Tensor<1, Int>,
        state: &State,
        masks: Option<&[Tensor<2>]>,
    ) -> (Tensor<2>, State) {
        let parts = self.kind.state_parts().len();
        // The GRU's reset gate scales the recurrent product with its bias.
        let both_biases = self.kind != ModelKind::Gru;
        let mut below: Option<Tensor<2>> = None; // [T·B, H]
        let mut out_state = Vec::with_capacity(state.0.len());
        for (k, layer) in self.layers.iter().enumerate() {
            let bias = layer.input_bias(both_biases); // [1, G·H]
            let xp = match below.take() {
                None => (layer.w_ih.val() + bias).select(0, inputs.clone()),
                Some(x) => x.matmul(layer.w_ih.val()) + bias,
            }; // [T·B, G·H]
            let s = &state.0[k * parts..(k + 1) * parts];
            let (hs, s) = match self.kind {
                ModelKind::Gru => gru::layer(layer, xp, s),
                ModelKind::Lstm => lstm::layer(layer, xp, s),
                ModelKind::Rnn => tanh::layer(layer, xp, s),
            }; // [T·B, H]
            out_state.extend(s);
            below = Some(match masks {
                Some(masks) => hs * masks[k].clone(),
                None => hs,
            });
        }
        (below.expect("at least one layer"), State(out_state))
    }

    /// [`Network::hidden`] a step at a time through each layer's cell (the
    /// tanh RNN, min-char-rnn's, whose hand-written backward is the
    /// reference for autodiff's).
    fn hidden_by_steps(
        &self,
        inputs: Tensor<1, Int>,
        state: &State,
        masks: Option<&[Tensor<2>]>,
    ) -> (Tensor<2>, State) {
        let state = &state.0;
        let b = state[0].dims()[0];
        let steps = inputs.dims()[0] / b;
        // Layer by layer; each layer's outputs stay one tensor per step, so
        // the layer above reads them without slicing a [T·B, H] tensor.
        let mut below: Vec<Tensor<2>> = Vec::new();
        let mut out_state = Vec::with_capacity(state.len());
        for (k, layer) in self.layers.iter().enumerate() {
            let bias = layer.input_bias(true); // [1, H]
            // Layer 0 reads chars: its projection is a row of W_ihᵀ + bias,
            // made once per chunk, so a step is one gather (no one-hot product).
            let table = if k == 0 {
                layer.w_ih.val() + bias
            } else {
                bias
            };
            let mut s = vec![state[k].clone()];
            let step_inputs: Vec<StepInput> = if k == 0 {
                (0..steps)
                    .map(|t| StepInput::Ids(inputs.clone().narrow(0, t * b, b)))
                    .collect()
            } else {
                below.drain(..).map(StepInput::Rows).collect()
            };
            let mut outs = Vec::with_capacity(steps);
            for (t, input) in step_inputs.into_iter().enumerate() {
                s = tanh::step(layer, layer.project(input, &table), &s);
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
        (Tensor::cat(below, 0), State(out_state))
    }

    /// Logits [N, V] of top-layer outputs [N, H].
    pub fn logits(&self, h: Tensor<2>) -> Tensor<2> {
        h.matmul(self.out_w.val()) + self.out_b.val()
    }

    /// Loss over one chunk and the state after it. inputs [T·B] and targets
    /// [T·B,1] time-major; `masks` (dropout, training only): one [T·B,H] per
    /// layer, multiplying that layer's outputs.
    pub fn forward(
        &self,
        inputs: Tensor<1, Int>,
        targets: Tensor<2, Int>,
        state: &State,
        masks: Option<&[Tensor<2>]>,
    ) -> (Tensor<1>, State) {
        let b = state.0[0].dims()[0];
        self.forward_part(inputs, targets, state, masks, b)
    }

    /// [`Network::forward`] for some of a batch's streams: their summed loss
    /// divided by the whole batch's `batch` (see [`crate::shards`]).
    pub fn forward_part(
        &self,
        inputs: Tensor<1, Int>,
        targets: Tensor<2, Int>,
        state: &State,
        masks: Option<&[Tensor<2>]>,
        batch: usize,
    ) -> (Tensor<1>, State) {
        let (h_top, state) = self.hidden(inputs, state, masks);
        (loss::chunk_loss(self.logits(h_top), targets, batch), state)
    }

    /// One step for sampling and evaluation: the next state and logits [B,V]
    /// for inputs [B].
    pub fn step(&self, input: Tensor<1, Int>, state: &State) -> (State, Tensor<2>) {
        let (h_top, state) = self.hidden(input, state, None);
        (state, self.logits(h_top))
    }

    /// The zero state for B streams, in the model's precision and device.
    pub fn zero_state(&self, streams: usize) -> State {
        let w = self.out_w.val();
        let (dtype, device) = (w.dtype(), w.device());
        let spec = self.spec();
        let parts = spec.layers * spec.kind.state_parts().len();
        State(
            (0..parts)
                .map(|_| Tensor::zeros([streams, spec.hidden], (&device, dtype)))
                .collect(),
        )
    }

    /// The state's tensor names (see [`ModelSpec::state_names`]).
    pub fn state_names(&self) -> Vec<String> {
        self.spec().state_names()
    }

    /// The precision of the parameters.
    pub fn precision(&self) -> Precision {
        match self.out_w.val().dtype() {
            DType::F64 => Precision::F64,
            _ => Precision::F32,
        }
    }

    /// The device the parameters live on.
    pub fn device(&self) -> Device {
        self.out_w.val().device()
    }
}
