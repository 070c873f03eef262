//! The one table of a network's parameters: each tensor's name and shape as
//! it leaves the program, and the slot of the module it fills. Init, load,
//! save, the memory estimate, the gradient check and the checkpoint all read
//! it; nothing else spells a parameter name.
//!
//! Two namings, one network ([`Layout`]):
//!
//! | slot                   | PyTorch (`nn.RNN/LSTM/GRU` + `nn.Linear`) | min-char-rnn |
//! |------------------------|-------------------------------------------|--------------|
//! | input weight, layer k  | `rnn.weight_ih_l{k}` [G·H, I]             | `Wxh` [H, V] |
//! | recurrent weight       | `rnn.weight_hh_l{k}` [G·H, H]             | `Whh` [H, H] |
//! | input bias             | `rnn.bias_ih_l{k}` [G·H]                  | `bh` [H, 1]  |
//! | recurrent bias         | `rnn.bias_hh_l{k}` [G·H]                  | (none)       |
//! | output weight          | `out.weight` [V, H]                       | `Why` [V, H] |
//! | output bias            | `out.bias` [V]                            | `by` [V, 1]  |
//!
//! (I = V for layer 0, H above; G = gate blocks.) The module stores every
//! weight transposed (row-vector convention, [B, H] states) and every bias as
//! a row [1, n]; [`to_module`] and [`to_file`] are the rename-and-reshape at
//! the file boundary. A parameter's position in the table is its Burn
//! `ParamId`, so optimizer state saved by one run loads into another.

use burn::tensor::TensorData;

use super::spec::{Layout, ModelSpec};

/// Where a tensor goes in the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Layer k's W_ih.
    InputWeight(usize),
    /// Layer k's W_hh.
    RecurrentWeight(usize),
    /// Layer k's b_ih (the original's bh).
    InputBias(usize),
    /// Layer k's b_hh (PyTorch's second bias; the original has none).
    RecurrentBias(usize),
    OutputWeight,
    OutputBias,
}

impl Slot {
    pub fn is_bias(self) -> bool {
        matches!(
            self,
            Slot::InputBias(_) | Slot::RecurrentBias(_) | Slot::OutputBias
        )
    }
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// The name in weights files and checkpoints.
    pub name: String,
    /// The shape in weights files and checkpoints.
    pub shape: Vec<usize>,
    pub slot: Slot,
}

fn row(name: impl Into<String>, shape: &[usize], slot: Slot) -> Param {
    Param {
        name: name.into(),
        shape: shape.to_vec(),
        slot,
    }
}

/// Every parameter of `spec`, in canonical order (the file's, and the
/// `ParamId`s').
pub fn table(spec: &ModelSpec) -> Vec<Param> {
    let (v, h) = (spec.vocab, spec.hidden);
    if spec.layout == Layout::Original {
        // min-char-rnn's order: Wxh, Whh, Why, bh, by.
        return vec![
            row("Wxh", &[h, v], Slot::InputWeight(0)),
            row("Whh", &[h, h], Slot::RecurrentWeight(0)),
            row("Why", &[v, h], Slot::OutputWeight),
            row("bh", &[h, 1], Slot::InputBias(0)),
            row("by", &[v, 1], Slot::OutputBias),
        ];
    }
    let mut out: Vec<Param> = (0..spec.layers).flat_map(|k| layer(spec, k)).collect();
    out.push(row("out.weight", &[v, h], Slot::OutputWeight));
    out.push(row("out.bias", &[v], Slot::OutputBias));
    out
}

/// Layer k's rows in PyTorch's naming.
fn layer(spec: &ModelSpec, k: usize) -> [Param; 4] {
    let (gh, h) = (spec.kind.gates() * spec.hidden, spec.hidden);
    let input = if k == 0 { spec.vocab } else { h };
    [
        row(
            format!("rnn.weight_ih_l{k}"),
            &[gh, input],
            Slot::InputWeight(k),
        ),
        row(
            format!("rnn.weight_hh_l{k}"),
            &[gh, h],
            Slot::RecurrentWeight(k),
        ),
        row(format!("rnn.bias_ih_l{k}"), &[gh], Slot::InputBias(k)),
        row(format!("rnn.bias_hh_l{k}"), &[gh], Slot::RecurrentBias(k)),
    ]
}

/// The name of the tensor in `slot` under `layout`, if that layout has one.
pub fn name(layout: Layout, slot: Slot) -> Option<String> {
    let layer = match slot {
        Slot::InputWeight(k)
        | Slot::RecurrentWeight(k)
        | Slot::InputBias(k)
        | Slot::RecurrentBias(k) => k,
        Slot::OutputWeight | Slot::OutputBias => 0,
    };
    let spec = ModelSpec {
        layers: layer + 1,
        layout,
        ..ModelSpec::new(super::ModelKind::Rnn, layer + 1, 1, 1)
    };
    table(&spec)
        .into_iter()
        .find(|p| p.slot == slot)
        .map(|p| p.name)
}

/// Number of parameters of `spec`, as f64 so that absurd sizes neither
/// overflow nor build a table of absurd length: layers above the second
/// repeat the second's rows.
pub fn count(spec: &ModelSpec) -> f64 {
    let numel = |p: &Param| p.shape.iter().map(|&d| d as f64).product::<f64>();
    let small = ModelSpec {
        layers: spec.layers.min(2),
        ..*spec
    };
    let rows = table(&small);
    let total: f64 = rows.iter().map(numel).sum();
    let second: f64 = rows
        .iter()
        .filter(|p| p.slot_layer() == Some(1))
        .map(numel)
        .sum();
    total + spec.layers.saturating_sub(2) as f64 * second
}

impl Param {
    /// The layer this row belongs to (None for the output projection).
    pub fn slot_layer(&self) -> Option<usize> {
        match self.slot {
            Slot::InputWeight(k)
            | Slot::RecurrentWeight(k)
            | Slot::InputBias(k)
            | Slot::RecurrentBias(k) => Some(k),
            Slot::OutputWeight | Slot::OutputBias => None,
        }
    }

    /// The module's shape: weights transposed, biases as rows.
    pub fn module_shape(&self) -> [usize; 2] {
        let n: usize = self.shape.iter().product();
        if self.slot.is_bias() {
            [1, n]
        } else {
            [self.shape[1], self.shape[0]]
        }
    }
}

/// A file tensor (already checked to have `p.shape`) in the module's shape,
/// as contiguous host data: a strided view would compute the same math in
/// another summation order on some backends and break bit-exact resume.
pub fn to_module(p: &Param, d: &TensorData) -> TensorData {
    if p.slot.is_bias() {
        reshape(d, &p.module_shape())
    } else {
        transpose(d)
    }
}

/// A module tensor back in the file's shape.
pub fn to_file(p: &Param, d: &TensorData) -> TensorData {
    if p.slot.is_bias() {
        reshape(d, &p.shape)
    } else {
        transpose(d)
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

fn reshape(d: &TensorData, shape: &[usize]) -> TensorData {
    TensorData::from_bytes_vec(d.as_bytes().to_vec(), shape.to_vec(), d.dtype())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ModelKind;

    #[test]
    fn count_is_the_tables_sum() {
        for (kind, layers) in [
            (ModelKind::Rnn, 1),
            (ModelKind::Rnn, 3),
            (ModelKind::Lstm, 2),
            (ModelKind::Gru, 4),
        ] {
            let spec = ModelSpec::new(kind, layers, 11, 7);
            let counted: usize = table(&spec)
                .iter()
                .map(|p| p.shape.iter().product::<usize>())
                .sum();
            assert_eq!(count(&spec), counted as f64, "{kind} {layers}");
        }
        // The original: H·V + H·H + V·H + H + V.
        let spec = ModelSpec::new(ModelKind::Rnn, 1, 11, 7);
        assert_eq!(count(&spec), (7 * 11 + 49 + 11 * 7 + 7 + 11) as f64);
    }

    #[test]
    fn module_and_file_shapes_round_trip() {
        let spec = ModelSpec::new(ModelKind::Lstm, 2, 5, 3);
        for p in table(&spec) {
            let n: usize = p.shape.iter().product();
            let d = TensorData::new(
                (0..n).map(|i| i as f64).collect::<Vec<_>>(),
                p.shape.clone(),
            );
            let m = to_module(&p, &d);
            assert_eq!(m.shape().as_slice(), p.module_shape(), "{}", p.name);
            assert_eq!(to_file(&p, &m), d, "{}", p.name);
        }
    }
}
