//! Weights in and out of the program as safetensors, f32 or f64, with the
//! vocabulary as a JSON list under the metadata key `vocab`. The original
//! keeps its layout (Wxh [H,V], Whh [H,H], Why [V,H], bh [H,1], by [V,1], as
//! the numpy reference's fixtures); every other network uses PyTorch's
//! `state_dict` names (see [`crate::models::layout`]), so numpy and PyTorch
//! read either directly.

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::{DType, TensorData};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::data::Vocab;
use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::models::rnn::{PARAM_NAMES, Weights};
use crate::models::{ModelSpec, NamedWeights, layout};

/// Serialises weights and vocabulary to safetensors bytes. `vocab` is the
/// only metadata key: safetensors keeps metadata in a HashMap, so with more
/// keys the header's order (and the file's bytes) would change run to run.
pub fn to_bytes(weights: &Weights, vocab: &Vocab) -> Vec<u8> {
    let metadata = HashMap::from([("vocab".to_string(), vocab.to_json())]);
    let views = weights.named().map(|(name, data)| (name, view(data)));
    safetensors::serialize(views, Some(metadata)).expect("weights always serialise")
}

/// Serialises any network's weights (see [`to_bytes`] on the metadata).
pub fn named_to_bytes(weights: &NamedWeights, vocab: &Vocab) -> Vec<u8> {
    let metadata = HashMap::from([("vocab".to_string(), vocab.to_json())]);
    let views: Vec<_> = weights
        .named()
        .into_iter()
        .map(|(name, data)| (name, view(data)))
        .collect();
    safetensors::serialize(views, Some(metadata)).expect("weights always serialise")
}

/// Writes any network's weights atomically.
pub fn save_named(path: &Path, weights: &NamedWeights, vocab: &Vocab) -> Result<()> {
    write_atomic(path, &named_to_bytes(weights, vocab))
}

/// Reads every tensor of a weights file of either layout, with its
/// vocabulary; [`crate::models::Network::load`] then checks them against the
/// configured network.
pub fn load_named(path: &Path) -> Result<(NamedWeights, Vocab)> {
    let bytes = std::fs::read(path).map_err(|error| Error::Io {
        path: path.to_path_buf(),
        error,
    })?;
    named_from_bytes(&bytes).map_err(|message| Error::Weights {
        path: path.to_path_buf(),
        message,
    })
}

/// A weights file of either layout checked in every respect: the network its
/// names and shapes imply, every tensor present with its shape and nothing
/// else, the vocabulary's size the tensors', every value finite. What this
/// accepts builds and runs.
pub fn load_checked(path: &Path) -> Result<(ModelSpec, NamedWeights, Vocab)> {
    let bytes = std::fs::read(path).map_err(|error| Error::Io {
        path: path.to_path_buf(),
        error,
    })?;
    checked_from_bytes(&bytes).map_err(|message| Error::Weights {
        path: path.to_path_buf(),
        message,
    })
}

/// [`load_checked`] on bytes.
pub fn checked_from_bytes(
    bytes: &[u8],
) -> std::result::Result<(ModelSpec, NamedWeights, Vocab), String> {
    let (w, vocab) = named_from_bytes(bytes)?;
    let spec = layout::infer(&w)?;
    if spec.vocab != vocab.len() {
        return Err(format!(
            "its vocabulary has {} chars but its tensors are for {}",
            vocab.len(),
            spec.vocab
        ));
    }
    let (spec, w) = layout::conform(&w, &spec)?;
    check_finite(&w)?;
    Ok((spec, w, vocab))
}

/// Refuses NaN and infinite weights, naming the tensor.
pub fn check_finite(w: &NamedWeights) -> std::result::Result<(), String> {
    for (name, d) in w.named() {
        if d.iter::<f64>().any(|x| !x.is_finite()) {
            return Err(format!("{name} holds NaN or infinite values"));
        }
    }
    Ok(())
}

/// Every tensor of safetensors bytes (f32 or f64, all of one dtype), in the
/// file's order, and the vocabulary.
pub fn named_from_bytes(bytes: &[u8]) -> std::result::Result<(NamedWeights, Vocab), String> {
    let (tensors, vocab) = open(bytes)?;
    let mut names: Vec<String> = tensors.names().into_iter().map(String::from).collect();
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let t = tensors.tensor(&name).map_err(|e| format!("{name}: {e}"))?;
        out.push((name.clone(), float_data(&name, &t)?));
    }
    if out.is_empty() {
        return Err("the file holds no tensors".into());
    }
    let dtype = out[0].1.dtype();
    if let Some((name, d)) = out.iter().find(|(_, d)| d.dtype() != dtype) {
        return Err(format!(
            "{name} is {:?} but {} is {dtype:?}",
            d.dtype(),
            out[0].0
        ));
    }
    Ok((NamedWeights::new(out), vocab))
}

/// The parsed file and its `vocab` metadata.
fn open(bytes: &[u8]) -> std::result::Result<(SafeTensors<'_>, Vocab), String> {
    let (_, meta) =
        SafeTensors::read_metadata(bytes).map_err(|e| format!("not a safetensors file ({e})"))?;
    let tensors =
        SafeTensors::deserialize(bytes).map_err(|e| format!("not a safetensors file ({e})"))?;
    let vocab_json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("vocab"))
        .ok_or("no `vocab` in the safetensors metadata")?;
    Ok((tensors, Vocab::from_json(vocab_json)?))
}

/// A float tensor's data, refusing other dtypes.
pub(crate) fn float_data(
    name: &str,
    t: &TensorView<'_>,
) -> std::result::Result<TensorData, String> {
    let dtype = match t.dtype() {
        Dtype::F32 => DType::F32,
        Dtype::F64 => DType::F64,
        other => return Err(format!("{name} is {other:?}; expected F32 or F64")),
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

/// Writes `weights.safetensors`-style file atomically (temporary name, rename).
pub fn save(path: &Path, weights: &Weights, vocab: &Vocab) -> Result<()> {
    write_atomic(path, &to_bytes(weights, vocab))
}

/// Reads weights and vocabulary, checking names, dtypes and shapes.
pub fn load(path: &Path) -> Result<(Weights, Vocab)> {
    let bytes = std::fs::read(path).map_err(|error| Error::Io {
        path: path.to_path_buf(),
        error,
    })?;
    from_bytes(&bytes).map_err(|message| Error::Weights {
        path: path.to_path_buf(),
        message,
    })
}

/// Parses weights from safetensors bytes; the error says what is wrong.
pub fn from_bytes(bytes: &[u8]) -> std::result::Result<(Weights, Vocab), String> {
    let (tensors, vocab) = open(bytes)?;
    let read = |name: &str| -> std::result::Result<TensorData, String> {
        let t = tensors.tensor(name).map_err(|_| {
            format!(
                "no tensor named {name} (expected {})",
                PARAM_NAMES.join(", ")
            )
        })?;
        float_data(name, &t)
    };
    let w = Weights {
        wxh: read("Wxh")?,
        whh: read("Whh")?,
        why: read("Why")?,
        bh: read("bh")?,
        by: read("by")?,
    };
    let hidden = w.whh.shape().first().copied().unwrap_or(0);
    let expected = Weights::expected_shapes(vocab.len(), hidden);
    let dtype = w.wxh.dtype();
    for ((name, data), shape) in w.named().into_iter().zip(expected) {
        if data.shape().as_slice() != shape {
            return Err(format!(
                "{name} has shape {:?}; expected {shape:?} for V = {} (vocab) and H = {hidden}",
                data.shape().as_slice(),
                vocab.len()
            ));
        }
        if data.dtype() != dtype {
            return Err(format!("{name} is {:?} but Wxh is {dtype:?}", data.dtype()));
        }
    }
    Ok((w, vocab))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Precision;
    use crate::models::rnn::RnnConfig;

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
        let w = Weights::random(&RnnConfig::new(3).with_hidden_size(5), 1, Precision::F64);
        let (back, v) = from_bytes(&to_bytes(&w, &vocab)).unwrap();
        assert_eq!((back, v), (w.clone(), vocab.clone()));

        let mut named: Vec<(&str, TensorData)> =
            w.named().iter().map(|(n, d)| (*n, (*d).clone())).collect();
        named[1].0 = "W_hh";
        let e = from_bytes(&bytes_of(named, &vocab)).unwrap_err();
        assert!(e.contains("no tensor named Whh"), "{e}");

        let mut named: Vec<(&str, TensorData)> =
            w.named().iter().map(|(n, d)| (*n, (*d).clone())).collect();
        named[2].1 = crate::models::rnn::transpose(&named[2].1); // Why given as [H,V]
        let e = from_bytes(&bytes_of(named, &vocab)).unwrap_err();
        assert!(e.contains("Why has shape [5, 3]; expected [3, 5]"), "{e}");

        let other = Vocab::from_chars("xyzw".chars().collect());
        let e = from_bytes(&to_bytes(&w, &other)).unwrap_err();
        assert!(e.contains("Wxh has shape [5, 3]; expected [5, 4]"), "{e}");
        assert!(
            from_bytes(b"nonsense")
                .unwrap_err()
                .contains("not a safetensors file")
        );
    }
}
