//! Weights in and out of the program as safetensors, f32 or f64, with the
//! vocabulary as a JSON list under the metadata key `vocab`. Names and shapes
//! are the parameter table's ([`crate::models::params`]): min-char-rnn's
//! `Wxh … by` for the original, PyTorch's `state_dict` names for every other
//! network, so numpy and PyTorch read either directly.

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::{DType, TensorData};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::data::Vocab;
use crate::error::{Error, Problem, Result};
use crate::fsutil::write_atomic;
use crate::models::{ModelSpec, NamedWeights, layout};

type Checked<T> = std::result::Result<T, Problem>;

/// Serialises weights and vocabulary to safetensors bytes. `vocab` is the
/// only metadata key: safetensors keeps metadata in a HashMap, so with more
/// keys the header's order (and the file's bytes) would change run to run.
pub fn to_bytes(weights: &NamedWeights, vocab: &Vocab) -> Vec<u8> {
    let metadata = HashMap::from([("vocab".to_string(), vocab.to_json())]);
    let views: Vec<_> = weights
        .named()
        .into_iter()
        .map(|(name, data)| (name, view(data)))
        .collect();
    safetensors::serialize(views, Some(metadata)).expect("weights always serialise")
}

/// Writes weights atomically (temporary name, rename).
pub fn save(path: &Path, weights: &NamedWeights, vocab: &Vocab) -> Result<()> {
    write_atomic(path, &to_bytes(weights, vocab))
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|error| Error::Io {
        path: path.to_path_buf(),
        error,
    })
}

/// Every tensor of a weights file of either naming, with its vocabulary,
/// unchecked; [`crate::models::Network::load`] then checks them against the
/// configured network.
pub fn read(path: &Path) -> Result<(NamedWeights, Vocab)> {
    named_from_bytes(&read_file(path)?).map_err(|p| p.in_weights(path))
}

/// A weights file of either naming checked in every respect: the network its
/// names and shapes imply, every tensor present with its shape and nothing
/// else, the vocabulary's size the tensors', every value finite. What this
/// accepts builds and runs.
pub fn load(path: &Path) -> Result<(ModelSpec, NamedWeights, Vocab)> {
    checked_from_bytes(&read_file(path)?).map_err(|p| p.in_weights(path))
}

/// [`load`] on bytes.
pub fn checked_from_bytes(bytes: &[u8]) -> Checked<(ModelSpec, NamedWeights, Vocab)> {
    let (w, vocab) = named_from_bytes(bytes)?;
    // The vocabulary decides V: a tensor sized for another V is named.
    let spec = ModelSpec {
        vocab: vocab.len(),
        ..layout::infer(&w)?
    };
    layout::check(&w, &spec)?;
    let (spec, w) = layout::conform(&w, &spec)?;
    check_finite(&w)?;
    Ok((spec, w, vocab))
}

/// Refuses NaN and infinite weights, naming the tensor.
pub fn check_finite(w: &NamedWeights) -> Checked<()> {
    for (name, d) in w.named() {
        if d.iter::<f64>().any(|x| !x.is_finite()) {
            return Err(Problem::NotFinite(name.to_string()));
        }
    }
    Ok(())
}

/// Every tensor of safetensors bytes (f32 or f64, all of one dtype), sorted
/// by name, and the vocabulary.
pub fn named_from_bytes(bytes: &[u8]) -> Checked<(NamedWeights, Vocab)> {
    let (tensors, vocab) = open(bytes)?;
    let mut names: Vec<String> = tensors.names().into_iter().map(String::from).collect();
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let t = tensors
            .tensor(&name)
            .map_err(|e| Problem::Corrupt(format!("{name}: {e}")))?;
        out.push((name.clone(), float_data(&name, &t)?));
    }
    if out.is_empty() {
        return Err(Problem::NoTensors);
    }
    let dtype = out[0].1.dtype();
    if let Some((name, d)) = out.iter().find(|(_, d)| d.dtype() != dtype) {
        return Err(Problem::MixedDtypes {
            name: name.clone(),
            found: d.dtype(),
            first: out[0].0.clone(),
            expected: dtype,
        });
    }
    Ok((NamedWeights::new(out), vocab))
}

/// The parsed file and its `vocab` metadata.
fn open(bytes: &[u8]) -> Checked<(SafeTensors<'_>, Vocab)> {
    let not = |e: safetensors::SafeTensorError| Problem::NotSafetensors(e.to_string());
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(not)?;
    let tensors = SafeTensors::deserialize(bytes).map_err(not)?;
    let vocab_json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("vocab"))
        .ok_or(Problem::NoVocab)?;
    Ok((tensors, Vocab::from_json(vocab_json)?))
}

/// A float tensor's data, refusing other dtypes.
pub(crate) fn float_data(name: &str, t: &TensorView<'_>) -> Checked<TensorData> {
    let dtype = match t.dtype() {
        Dtype::F32 => DType::F32,
        Dtype::F64 => DType::F64,
        other => {
            return Err(Problem::NotFloat {
                name: name.into(),
                found: format!("{other:?}"),
            });
        }
    };
    Ok(TensorData::from_bytes_vec(
        t.data().to_vec(),
        t.shape().to_vec(),
        dtype,
    ))
}

fn view(data: &TensorData) -> TensorView<'_> {
    let dtype = match data.dtype() {
        DType::F64 => Dtype::F64,
        _ => Dtype::F32,
    };
    TensorView::new(dtype, data.shape().to_vec(), data.as_bytes()).expect("shape matches bytes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Precision;
    use crate::models::params::transpose;
    use crate::models::{ModelKind, layout};

    fn bytes_of(named: Vec<(&str, TensorData)>, vocab: &Vocab) -> Vec<u8> {
        let views: Vec<_> = named.iter().map(|(n, d)| (*n, view(d))).collect();
        safetensors::serialize(
            views,
            Some(HashMap::from([("vocab".to_string(), vocab.to_json())])),
        )
        .unwrap()
    }

    #[test]
    fn round_trip_and_refusals() {
        let vocab = Vocab::from_chars("xyz".chars().collect());
        let spec = ModelSpec::new(ModelKind::Rnn, 1, 3, 5);
        let w = layout::random(&spec, 1, Precision::F64);
        let (back_spec, back, v) = checked_from_bytes(&to_bytes(&w, &vocab)).unwrap();
        assert_eq!((back_spec, back, v), (spec, w.clone(), vocab.clone()));
        let e = |named: Vec<(&str, TensorData)>, vocab: &Vocab| {
            checked_from_bytes(&bytes_of(named, vocab))
                .unwrap_err()
                .to_string()
        };

        let mut named: Vec<(&str, TensorData)> =
            w.named().into_iter().map(|(n, d)| (n, d.clone())).collect();
        named[1].0 = "W_hh";
        let msg = e(named, &vocab);
        assert!(msg.contains("no tensor named Whh"), "{msg}");

        let mut named: Vec<(&str, TensorData)> =
            w.named().into_iter().map(|(n, d)| (n, d.clone())).collect();
        named[2].1 = transpose(&named[2].1); // Why given as [H,V]
        let msg = e(named, &vocab);
        assert!(
            msg.contains("Why has shape [5, 3]; expected [3, 5]"),
            "{msg}"
        );

        let other = Vocab::from_chars("xyzw".chars().collect());
        let msg = checked_from_bytes(&to_bytes(&w, &other))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("Wxh has shape [5, 3]; expected [5, 4]"),
            "{msg}"
        );
        assert!(
            checked_from_bytes(b"nonsense")
                .unwrap_err()
                .to_string()
                .contains("not a safetensors file")
        );
    }
}
