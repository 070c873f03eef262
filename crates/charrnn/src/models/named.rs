//! A network's parameters on the host, by name, in the layout that leaves the
//! program: min-char-rnn's `Wxh … by` for the original, PyTorch's
//! `state_dict` names and shapes for everything else. This is what weights
//! files, checkpoints and the gradient check exchange.

use burn::tensor::{DType, TensorData};

use crate::Precision;

#[derive(Clone, Debug, PartialEq)]
pub struct NamedWeights {
    /// (name, tensor) in the layout's canonical order.
    pub tensors: Vec<(String, TensorData)>,
}

impl NamedWeights {
    pub fn new(tensors: Vec<(String, TensorData)>) -> Self {
        Self { tensors }
    }

    /// (name, tensor) pairs in order.
    pub fn named(&self) -> Vec<(&str, &TensorData)> {
        self.tensors.iter().map(|(n, d)| (n.as_str(), d)).collect()
    }

    pub fn get(&self, name: &str) -> Option<&TensorData> {
        self.tensors.iter().find(|(n, _)| n == name).map(|(_, d)| d)
    }

    pub fn names(&self) -> Vec<&str> {
        self.tensors.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The precision of the first tensor (all share one, checked on load).
    pub fn precision(&self) -> Precision {
        match self.tensors.first().map(|(_, d)| d.dtype()) {
            Some(DType::F64) => Precision::F64,
            _ => Precision::F32,
        }
    }

    pub fn cast(&self, precision: Precision) -> Self {
        Self::new(
            self.tensors
                .iter()
                .map(|(n, d)| (n.clone(), d.clone().convert_dtype(precision.dtype())))
                .collect(),
        )
    }

    /// Bytes of all tensors.
    pub fn size_bytes(&self) -> usize {
        self.tensors.iter().map(|(_, d)| d.as_bytes().len()).sum()
    }
}
