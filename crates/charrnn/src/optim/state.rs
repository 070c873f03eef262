//! A checkpoint's optimizer state as Burn writes it (burnpack bytes: per
//! parameter, tensors named `{param_id}.{field}` and scalars such as
//! `{param_id}.__rank`), read on the host and checked against the network
//! before Burn loads it: Burn 0.22.1 `expect`s well-formed records and would
//! panic on a hostile file, or fail mid-training on a state of the wrong
//! shape. What passes this check, Burn loads and steps without panicking.

use std::collections::BTreeMap;

use burn::optim::StateSource;
use burn::tensor::{Bytes, DType, Device, Tensor, TensorData};
use burn_pack::{Reader, Scalar};

use crate::error::Problem;
use crate::models::{ModelSpec, params};

/// A tensor of a parameter's state by the first of `names` present (an
/// optimizer's own name, then the name Burn's optimizer gave it), rebuilt in
/// its saved dtype (an f64 state stays f64).
pub(super) fn take<const D: usize>(
    src: &mut StateSource,
    prefix: &str,
    names: &[&str],
    device: &Device,
) -> Option<Tensor<D>> {
    let data = names.iter().find_map(|n| src.take_tensor(prefix, n))?;
    let dtype = data.dtype();
    Some(Tensor::from_data(data, (device, dtype)))
}

/// One state tensor of one parameter.
pub struct StateTensor {
    /// The parameter's id: its position in the parameter table.
    pub param: u64,
    /// The field after `{param}.`, e.g. `moment_1` (Adam) or `sum` (Adagrad).
    pub field: String,
    pub data: TensorData,
}

/// Every tensor and scalar of a saved optimizer state.
pub struct SavedState {
    pub tensors: Vec<StateTensor>,
    pub scalars: BTreeMap<String, Scalar>,
}

fn corrupt(what: impl Into<String>) -> Problem {
    Problem::BadOptimizer(what.into())
}

impl SavedState {
    /// Parses burnpack bytes; every tensor must name the parameter it belongs to.
    pub fn read(bytes: &Bytes) -> Result<Self, Problem> {
        let reader =
            Reader::from_bytes(bytes.clone()).map_err(|e| corrupt(format!("unreadable: {e}")))?;
        let scalars = reader.scalars().clone();
        let mut tensors = Vec::new();
        for t in reader
            .into_tensors()
            .map_err(|e| corrupt(format!("unreadable: {e}")))?
        {
            let (name, dtype, shape, param, bytes) =
                t.into_parts().map_err(|e| corrupt(e.to_string()))?;
            let param = param.ok_or_else(|| corrupt(format!("{name} names no parameter")))?;
            let field = name
                .strip_prefix(&format!("{param}."))
                .ok_or_else(|| corrupt(format!("{name} is not a tensor of parameter {param}")))?
                .to_string();
            let numel = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
            if numel.and_then(|n| n.checked_mul(dtype.size())) != Some(bytes.len()) {
                return Err(corrupt(format!(
                    "{name} holds {} bytes for shape {shape:?}",
                    bytes.len()
                )));
            }
            let data = TensorData::from_bytes(bytes, shape, dtype);
            tensors.push(StateTensor { param, field, data });
        }
        Ok(Self { tensors, scalars })
    }

    /// Every tensor belongs to a parameter of `spec` and has its shape (as
    /// the module holds it) and the run's dtype; every rank is 2.
    pub fn check(&self, spec: &ModelSpec, dtype: DType) -> Result<(), Problem> {
        let table = params::table(spec);
        let shape_of = |id: u64| table.get(id as usize).map(|p| p.module_shape());
        for t in &self.tensors {
            let name = format!("{}.{}", t.param, t.field);
            let want = shape_of(t.param).ok_or_else(|| {
                corrupt(format!(
                    "{name} is for parameter {}, but the network has {}",
                    t.param,
                    table.len()
                ))
            })?;
            if t.data.shape().as_slice() != want {
                return Err(corrupt(format!(
                    "{name} has shape {:?}; {} is {want:?}",
                    t.data.shape().as_slice(),
                    table[t.param as usize].name
                )));
            }
            if t.data.dtype() != dtype {
                return Err(corrupt(format!(
                    "{name} is {:?}; the run is {dtype:?}",
                    t.data.dtype()
                )));
            }
        }
        for (key, value) in &self.scalars {
            let Some(id) = key.strip_suffix(".__rank") else {
                continue;
            };
            let ok = id.parse::<u64>().ok().and_then(shape_of).is_some()
                && matches!(value, Scalar::UInt(2) | Scalar::Int(2));
            if !ok {
                return Err(corrupt(format!(
                    "{key} = {value:?} (every parameter is a matrix)"
                )));
            }
        }
        Ok(())
    }
}
