//! One recurrent layer's parameters in PyTorch's meaning (`weight_ih_l{k}`,
//! `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`), stored transposed for
//! the row-vector convention ([B,H] states), and the work every cell shares:
//! the input projection of a step and the recurrent product. The second
//! bias is optional: min-char-rnn's layer has one (`bh`).
//!
//! G = gate blocks (1 tanh RNN, 3 GRU, 4 LSTM), I = the layer's input width
//! (V for layer 0, whose input is the one-hot char, H above).

use burn::module::{Module, Param};
use burn::tensor::{Int, Tensor};

#[derive(Module, Debug)]
pub struct Layer {
    /// weight_ihᵀ [I, G·H]
    pub w_ih: Param<Tensor<2>>,
    /// weight_hhᵀ [H, G·H]
    pub w_hh: Param<Tensor<2>>,
    /// bias_ih [1, G·H]
    pub b_ih: Param<Tensor<2>>,
    /// bias_hh [1, G·H]; None in min-char-rnn's layer.
    pub b_hh: Option<Param<Tensor<2>>>,
    /// Weight drop (DropConnect on W_hh, AWD-LSTM's): a constant mask [H, G·H]
    /// of 0 and 1/(1 − p) multiplying W_hhᵀ for one training iteration, the
    /// same for every stream and step; None otherwise.
    #[module(skip)]
    pub w_hh_mask: Option<Tensor<2>>,
}

/// What a layer reads at one step.
pub enum StepInput {
    /// [B] char ids: x·W_ihᵀ of a one-hot x is a row of W_ihᵀ, so a gather.
    Ids(Tensor<1, Int>),
    /// [B, H] outputs of the layer below.
    Rows(Tensor<2>),
}

impl Layer {
    /// The bias that joins the input projection: b_ih + b_hh where the cell
    /// adds both to one sum (tanh RNN, LSTM), b_ih alone for the GRU (whose
    /// reset gate multiplies the recurrent product with its bias).
    pub fn input_bias(&self, both: bool) -> Tensor<2> {
        match &self.b_hh {
            Some(b_hh) if both => self.b_ih.val() + b_hh.val(),
            _ => self.b_ih.val(),
        }
    }

    /// x_t·W_ihᵀ + bias for one step: [B, G·H]. For char ids, `table` is
    /// W_ihᵀ + bias [V, G·H] (made once per chunk), so a step is one gather.
    /// Per step rather than once for all T·B rows: slicing a [T·B, G·H]
    /// projection per step costs T² in its backward (a zeroed full-size
    /// gradient buffer at every step).
    pub fn project(&self, input: StepInput, table_or_bias: &Tensor<2>) -> Tensor<2> {
        match input {
            StepInput::Ids(ids) => table_or_bias.clone().select(0, ids),
            StepInput::Rows(x) => x.matmul(self.w_ih.val()) + table_or_bias.clone(),
        }
    }

    /// W_hhᵀ as this iteration reads it: times its weight-drop mask, if any.
    pub fn w_hh(&self) -> Tensor<2> {
        match &self.w_hh_mask {
            Some(mask) => self.w_hh.val() * mask.clone(),
            None => self.w_hh.val(),
        }
    }

    /// h·W_hhᵀ: [B, G·H].
    pub fn recur(&self, h: Tensor<2>) -> Tensor<2> {
        h.matmul(self.w_hh())
    }
}
