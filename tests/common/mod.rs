//! Shared by the test files: the backend matrix and fixture readers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use burn::tensor::{Device, TensorData};
use charrnn::data::Chunk;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::SafeTensors;

/// Every CPU backend the suite runs on (a matrix: each test loops over it).
#[allow(deprecated)] // ndarray is deprecated upstream but still a supported backend here
pub fn backends() -> Vec<(&'static str, Device)> {
    vec![("flex", Device::flex()), ("ndarray", Device::ndarray())]
}

pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/min-char-rnn")
}

/// A fixture tensor as f64 values with its shape.
pub fn fixture_tensor(file: &str, name: &str) -> (Vec<f64>, Vec<usize>) {
    read_tensor(&fixture_dir().join(file), name)
}

/// A tensor of a safetensors file (f32, f64 or i64) as f64 values with its shape.
pub fn read_tensor(path: &Path, name: &str) -> (Vec<f64>, Vec<usize>) {
    let bytes = std::fs::read(path).expect("safetensors file present");
    let st = SafeTensors::deserialize(&bytes).expect("a safetensors file");
    let t = st.tensor(name).expect("tensor present");
    let dtype = match t.dtype() {
        safetensors::Dtype::I64 => burn::tensor::DType::I64,
        safetensors::Dtype::F64 => burn::tensor::DType::F64,
        safetensors::Dtype::F32 => burn::tensor::DType::F32,
        other => panic!("{name} is {other:?}"),
    };
    let data = TensorData::from_bytes_vec(t.data().to_vec(), t.shape().to_vec(), dtype);
    (data.iter::<f64>().collect(), t.shape().to_vec())
}

pub fn values(d: &TensorData) -> Vec<f64> {
    d.iter::<f64>().collect()
}

/// max |a − b| / max |b| (or max |a − b| when b is all zero).
pub fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "sizes differ");
    let diff = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    let scale = b.iter().map(|y| y.abs()).fold(0.0, f64::max);
    if scale > 0.0 { diff / scale } else { diff }
}

pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "sizes differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// tests/fixtures/torch/<model>: PyTorch's float64 golden runs.
pub fn torch_fixture_dir(model: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/torch")
        .join(model)
}

/// A CSV file's rows after its header, each as numbers (metrics.csv,
/// eval.csv, losses.csv).
pub fn csv_rows(path: &Path) -> Vec<Vec<f64>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|f| f.parse().expect("a number")).collect())
        .collect()
}

/// A CSV file's rows after its header, as text fields.
pub fn csv_rows_raw(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

/// One CSV column as numbers.
pub fn csv_column(path: &Path, column: usize) -> Vec<f64> {
    csv_rows(path).into_iter().map(|r| r[column]).collect()
}

/// A chunk of random ids: inputs, then targets, [T·B] each, time-major.
pub fn random_chunk(v: usize, t: usize, b: usize, rng: &mut ChaCha8Rng) -> Chunk {
    let mut ids = || {
        (0..t * b)
            .map(|_| rng.random_range(0..v as u32))
            .collect::<Vec<_>>()
    };
    Chunk {
        inputs: ids(),
        targets: ids(),
        steps: t,
        streams: b,
    }
}
