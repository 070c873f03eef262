//! Float precision of a run. Every tensor the library makes is created with
//! this dtype explicitly, never from the device's default, so f32 and f64 runs
//! can share one process (the test suite does) and one device.

use burn::tensor::{DType, TensorData};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    #[default]
    F32,
    F64,
}

impl Precision {
    pub fn dtype(self) -> DType {
        match self {
            Precision::F32 => DType::F32,
            Precision::F64 => DType::F64,
        }
    }

    /// Host values as tensor data of this precision.
    pub fn data(self, values: Vec<f64>, shape: [usize; 2]) -> TensorData {
        match self {
            Precision::F32 => {
                TensorData::new(values.into_iter().map(|v| v as f32).collect(), shape)
            }
            Precision::F64 => TensorData::new(values, shape),
        }
    }
}

crate::named_enum!(Precision, "precision", { F32 => "f32", F64 => "f64" });
