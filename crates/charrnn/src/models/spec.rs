//! What a network is: its cell kind, depth and sizes. The configuration says
//! it, a weights file implies it, and the two are compared by this type.

use serde::{Deserialize, Serialize};

/// The recurrent cell. `Rnn` is the tanh RNN: with one layer and no dropout
/// it is min-char-rnn itself; stacked or with dropout it is PyTorch's `nn.RNN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    #[default]
    Rnn,
    Lstm,
    Gru,
}

crate::named_enum!(ModelKind, "model", { Rnn => "rnn", Lstm => "lstm", Gru => "gru" });

impl ModelKind {
    /// G: gate blocks stacked in PyTorch's weight matrices (rows G·H).
    pub fn gates(self) -> usize {
        match self {
            ModelKind::Rnn => 1,
            ModelKind::Lstm => 4,
            ModelKind::Gru => 3,
        }
    }

    /// The kind whose weight matrices have G gate blocks.
    pub fn from_gates(g: usize) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.gates() == g)
    }

    /// Tensors of state each layer carries: h, and c for the LSTM.
    pub fn state_parts(self) -> &'static [&'static str] {
        match self {
            ModelKind::Lstm => &["h", "c"],
            _ => &["h"],
        }
    }
}

/// How a network's tensors are named and shaped in files, and which biases
/// it has (see [`super::params`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Layout {
    /// min-char-rnn's five tensors `Wxh … by` (model rnn, one layer, one bias).
    Original,
    /// PyTorch's `nn.RNN`/`nn.LSTM`/`nn.GRU` + `nn.Linear` (two biases per layer).
    #[default]
    PyTorch,
}

/// How fresh weights are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// min-char-rnn's: weights N(0,1)·std, biases zero.
    Normal { std: f64 },
    /// PyTorch's default: every tensor U(−bound, bound).
    Uniform { bound: f64 },
}

/// The sizes and kind of a network (dropout is a training setting, not part
/// of the weights, so it is not here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelSpec {
    pub kind: ModelKind,
    pub layers: usize,
    /// V
    pub vocab: usize,
    /// H
    pub hidden: usize,
    pub layout: Layout,
}

impl ModelSpec {
    /// A fresh network: the original's layout for a one-layer tanh RNN
    /// (min-char-rnn itself), PyTorch's for everything else. A one-layer tanh
    /// RNN loaded from PyTorch's weights keeps PyTorch's layout instead (its
    /// two biases each train), see [`crate::models::layout::conform`].
    pub fn new(kind: ModelKind, layers: usize, vocab: usize, hidden: usize) -> Self {
        let layout = if kind == ModelKind::Rnn && layers == 1 {
            Layout::Original
        } else {
            Layout::PyTorch
        };
        Self {
            kind,
            layers,
            vocab,
            hidden,
            layout,
        }
    }

    /// min-char-rnn's own network: its one bias, init and tensor names.
    pub fn is_original(&self) -> bool {
        self.layout == Layout::Original
    }

    /// The init of a fresh network: the original's N(0,1)·0.01, PyTorch's
    /// U(±1/√H) for everything else.
    pub fn init(&self) -> Init {
        match self.layout {
            Layout::Original => Init::Normal { std: 0.01 },
            Layout::PyTorch => Init::Uniform {
                bound: 1.0 / (self.hidden as f64).sqrt(),
            },
        }
    }

    /// The same network: kind, depth and sizes (layouts may differ).
    pub fn same_network(&self, other: &ModelSpec) -> bool {
        (self.kind, self.layers, self.vocab, self.hidden)
            == (other.kind, other.layers, other.vocab, other.hidden)
    }

    /// "lstm 2 × 128 (V 65)".
    pub fn describe(&self) -> String {
        format!(
            "{} {} × {} (V {})",
            self.kind, self.layers, self.hidden, self.vocab
        )
    }

    /// W_hhᵀ's shape as a layer holds it, [H, G·H] (every layer's is the same).
    pub fn recurrent_shape(&self) -> [usize; 2] {
        [self.hidden, self.kind.gates() * self.hidden]
    }

    /// The state's tensor names in a checkpoint: `h` for the original,
    /// `h_l{k}` (and `c_l{k}`) per layer otherwise.
    pub fn state_names(&self) -> Vec<String> {
        if self.is_original() {
            return vec!["h".into()];
        }
        (0..self.layers)
            .flat_map(|k| {
                self.kind
                    .state_parts()
                    .iter()
                    .map(move |p| format!("{p}_l{k}"))
            })
            .collect()
    }
}
