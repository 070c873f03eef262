//! The models, behind one interface ([`Network`]) so that training, sampling,
//! checkpoints, evaluation and benchmarks never ask which model they run:
//! a forward over a chunk from a [`State`], a step for sampling, a state that
//! checkpoints, and weights in and out ([`NamedWeights`]).
//!
//! - [`rnn`]: min-char-rnn's network, in its own file and layout (model `rnn`,
//!   one layer);
//! - [`stacked`]: stacked [`tanh`], [`lstm`] or [`gru`] [`layer`]s under one
//!   output projection, in PyTorch's layout ([`layout`]);
//! - [`loss`]: the original's loss, shared by both.
//!
//! Every cell is a forward only: Burn's autodiff produces the gradients, and
//! the gradient check ([`crate::gradcheck`]) holds them to finite differences.

pub mod gru;
pub mod layer;
pub mod layout;
pub mod loss;
pub mod lstm;
pub mod named;
pub mod rnn;
pub mod spec;
pub mod stacked;
pub mod tanh;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::Precision;
pub use named::NamedWeights;
use rnn::Rnn;
pub use spec::{Layout, ModelKind, ModelSpec};
use stacked::Stacked;

/// Any model charrnn trains.
// The original's variant is larger on the stack; a process holds one network.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Network {
    /// min-char-rnn (model `rnn`, one layer).
    Original(Rnn),
    /// Everything else.
    Stacked(Stacked),
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
        Self(self.0.iter().map(|t| t.clone().narrow(0, b, 1)).collect())
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

impl From<Rnn> for Network {
    fn from(rnn: Rnn) -> Self {
        Network::Original(rnn)
    }
}

impl Network {
    /// Fresh weights for `spec` (see [`layout::random`]).
    pub fn init(spec: &ModelSpec, seed: u64, precision: Precision, device: &Device) -> Self {
        Self::from_weights(spec, &layout::random(spec, seed, precision), device)
    }

    /// Weights of either layout checked against `spec` (names, shapes,
    /// vocabulary size), then built on `device` in their own precision.
    pub fn load(spec: &ModelSpec, w: &NamedWeights, device: &Device) -> Result<Self, String> {
        let (spec, w) = layout::conform(w, spec)?;
        Ok(Self::from_weights(&spec, &w, device))
    }

    /// Builds from weights already in `spec`'s layout and canonical order.
    pub fn from_weights(spec: &ModelSpec, w: &NamedWeights, device: &Device) -> Self {
        if spec.is_original() {
            Network::Original(Rnn::from_weights(&layout::named_to_original(w), device))
        } else {
            Network::Stacked(Stacked::from_weights(spec, w, device))
        }
    }

    /// The weights in the layout that leaves the program.
    pub fn to_weights(&self) -> NamedWeights {
        match self {
            Network::Original(m) => layout::original_to_named(&m.to_weights()),
            Network::Stacked(m) => m.to_weights(),
        }
    }

    pub fn spec(&self) -> ModelSpec {
        match self {
            Network::Original(m) => {
                let (vocab, hidden) = m.sizes();
                ModelSpec::new(ModelKind::Rnn, 1, vocab, hidden)
            }
            Network::Stacked(m) => m.spec(),
        }
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
        match self {
            Network::Original(m) => {
                let mask = masks.map(|m| m[0].clone());
                let out = m.forward_masked(inputs, targets, state.0[0].clone(), mask);
                (out.loss, State(vec![out.h_last]))
            }
            Network::Stacked(m) => {
                let (loss, s) = m.forward(inputs, targets, &state.0, masks);
                (loss, State(s))
            }
        }
    }

    /// One step for sampling and evaluation: the next state and logits [B,V]
    /// for inputs [B].
    pub fn step(&self, input: Tensor<1, Int>, state: &State) -> (State, Tensor<2>) {
        match self {
            Network::Original(m) => {
                let (h, logits) = m.step(input, state.0[0].clone());
                (State(vec![h]), logits)
            }
            Network::Stacked(m) => {
                let (s, logits) = m.step(input, &state.0);
                (State(s), logits)
            }
        }
    }

    /// The zero state for B streams, in the model's precision and device.
    pub fn zero_state(&self, streams: usize) -> State {
        let (dtype, device) = self.dtype_device();
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
        match self.dtype_device().0 {
            burn::tensor::DType::F64 => Precision::F64,
            _ => Precision::F32,
        }
    }

    /// The device the parameters live on.
    pub fn device(&self) -> Device {
        self.dtype_device().1
    }

    fn dtype_device(&self) -> (burn::tensor::DType, Device) {
        let w = match self {
            Network::Original(m) => m.whh.val(),
            Network::Stacked(m) => m.out_w.val(),
        };
        (w.dtype(), w.device())
    }
}
