//! The library's typed errors: each names the file, key or value at fault, so
//! the binary can print it as one line. [`Error`] says where (which file,
//! which key); [`Problem`] says what is wrong with a weights file's or a
//! checkpoint's contents, one variant per kind of failure.

use std::path::PathBuf;

/// Everything the library can refuse, with what the user needs to fix it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // The io error is part of the message, not a `source`, so that it is said once.
    #[error("cannot read {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot write {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} is empty")]
    EmptyText { path: PathBuf },
    #[error(
        "{path} is not valid UTF-8 text (first bad byte at offset {offset}); to train on its raw bytes, use --vocab bytes"
    )]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error(
        "{path} has {chars} characters; {needed} are needed for {streams} stream(s) of seq_length {seq_length} (seq_length + 2 per stream)"
    )]
    TextTooShort {
        path: PathBuf,
        chars: usize,
        needed: usize,
        streams: usize,
        seq_length: usize,
    },
    #[error(
        "invalid value for {key}: {fraction} leaves {train} chars for training and {val} for {} of {path}'s {chars}; each side needs {needed} (seq_length + 2 per stream for {streams} stream(s))",
        if *key == "val_fraction" { "validation" } else { "testing" }
    )]
    SplitTooSmall {
        key: &'static str,
        path: PathBuf,
        fraction: f64,
        chars: usize,
        train: usize,
        val: usize,
        needed: usize,
        streams: usize,
    },
    #[error("config {path}: {problem}")]
    Config {
        path: PathBuf,
        problem: ConfigProblem,
    },
    #[error("invalid value for {key}: {message}")]
    InvalidValue { key: String, message: String },
    /// A weights file (or the weights of a model given in memory, path empty).
    #[error("{}{problem}", at(path))]
    Weights {
        path: PathBuf,
        problem: Box<Problem>,
    },
    #[error("checkpoint{}{problem}", at_checkpoint(path))]
    Checkpoint {
        path: PathBuf,
        problem: Box<Problem>,
    },
    #[error("{path}: no such file or directory")]
    NotFound { path: PathBuf },
    #[error("checkpoint {path}: no checkpoint.safetensors there")]
    NoCheckpoint { path: PathBuf },
    #[error("{what}'s vocabulary ({theirs} chars) differs from {text}'s ({ours} chars)")]
    VocabMismatch {
        what: String,
        text: PathBuf,
        theirs: usize,
        ours: usize,
    },
    #[error(
        "{what} needs about {} (text {}, parameters with gradients and optimizer state {}, one chunk's activations {}) but {} is available",
        human(*need), human(*text), human(*parameters), human(*activations), human(*available as f64)
    )]
    TooBig {
        what: String,
        need: f64,
        text: f64,
        parameters: f64,
        activations: f64,
        available: u64,
    },
    #[error("training diverged at iteration {iter}: loss is {loss}")]
    NonFinite { iter: u64, loss: f64 },
    #[error("cannot draw the loss plot: {0}")]
    Plot(String),
}

fn at_checkpoint(path: &std::path::Path) -> String {
    if path.as_os_str().is_empty() {
        ": ".into()
    } else {
        format!(" {}: ", path.display())
    }
}

fn at(path: &std::path::Path) -> String {
    if path.as_os_str().is_empty() {
        String::new()
    } else {
        format!("{}: ", path.display())
    }
}

/// What is wrong inside a weights file or a checkpoint.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("not a safetensors file ({0})")]
    NotSafetensors(String),
    #[error("truncated or corrupt ({0})")]
    Corrupt(String),
    #[error("the file holds no tensors")]
    NoTensors,
    #[error("missing `{0}` (not a charrnn checkpoint?)")]
    MissingKey(String),
    #[error("no `vocab` in the safetensors metadata")]
    NoVocab,
    #[error("bad `{key}`: {detail}")]
    BadKey { key: String, detail: String },
    #[error("unknown format {0:?}")]
    UnknownFormat(String),
    #[error("its config is invalid: {0}")]
    BadConfig(String),
    #[error("{name} is {found}; expected F32 or F64")]
    NotFloat { name: String, found: String },
    #[error("{name} is {found:?} but {first} is {expected:?}")]
    MixedDtypes {
        name: String,
        found: burn::tensor::DType,
        first: String,
        expected: burn::tensor::DType,
    },
    #[error(
        "neither min-char-rnn's tensors ({}) nor PyTorch's ({}, ...); found {}",
        list(original),
        list(pytorch),
        list(found)
    )]
    NotANetwork {
        original: Vec<String>,
        pytorch: Vec<String>,
        found: Vec<String>,
    },
    #[error("{a} has shape {a_shape:?} and {b} {b_shape:?}; expected 2-D tensors")]
    Not2d {
        a: String,
        a_shape: Vec<usize>,
        b: String,
        b_shape: Vec<usize>,
    },
    #[error(
        "{name} has shape {shape:?}: its rows are not 1, 3 or 4 times its columns (tanh RNN, GRU, LSTM)"
    )]
    GateRows { name: String, shape: Vec<usize> },
    #[error(
        "no tensor named {} (a {network} network has {})",
        list(missing),
        list(expected)
    )]
    Missing {
        missing: Vec<String>,
        network: String,
        expected: Vec<String>,
    },
    #[error("unexpected tensor {} for a {network} network", list(extra))]
    Unexpected { extra: Vec<String>, network: String },
    #[error("{name} has shape {shape:?}; expected {expected:?} for a {network} network")]
    WrongShape {
        name: String,
        shape: Vec<usize>,
        expected: Vec<usize>,
        network: String,
    },
    #[error("the weights are for another network: {}", differences.join(", "))]
    OtherNetwork { differences: Vec<String> },
    #[error("{0} holds NaN or infinite values")]
    NotFinite(String),
    #[error(
        "its config declares a {network} network ({bytes:.0} bytes at least), larger than the file"
    )]
    Oversized { network: String, bytes: f64 },
    #[error(
        "state {name} has shape {shape:?} ({dtype:?}); expected [{batch}, {hidden}] in the weights' precision"
    )]
    BadState {
        name: String,
        shape: Vec<usize>,
        dtype: burn::tensor::DType,
        batch: usize,
        hidden: usize,
    },
    #[error("no optimizer state")]
    NoOptimizer,
    #[error("optimizer state is corrupt ({0})")]
    BadOptimizer(String),
    #[error("vocab is not a JSON list of strings (or chars with their unknown symbol): {0}")]
    VocabNotAList(String),
    #[error("vocab entry {0:?} is not one character")]
    VocabEntry(String),
    #[error("vocab is not sorted by code point without repeats")]
    VocabUnsorted,
    #[error("vocab's unknown symbol is {0:?}: it must be \"\u{FFFD}\", and in the vocab's list")]
    VocabUnknown(String),
    #[error("bad `config`: {0}")]
    Config(ConfigProblem),
}

/// A name that is none of a setting's valid names (model, optimizer, precision).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("unknown {what} `{given}` (expected {})", or_list(valid))]
pub struct UnknownName {
    pub what: &'static str,
    pub given: String,
    pub valid: Vec<&'static str>,
}

/// "a, b or c".
fn or_list(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

/// What is wrong with a config file's text.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigProblem {
    #[error("unknown key `{key}` (did you mean `{suggestion}`?)")]
    UnknownKey { key: String, suggestion: String },
    /// A TOML or type error, at a line when known.
    #[error("not a valid config{}: {detail}", at_line(*line, content))]
    Invalid {
        line: Option<usize>,
        content: String,
        detail: String,
    },
}

fn at_line(line: Option<usize>, content: &str) -> String {
    line.map(|n| format!(" at line {n} (`{content}`)"))
        .unwrap_or_default()
}

/// Names, the first eight of them.
fn list(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut s = names
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s += &format!(" and {} more", names.len() - SHOWN);
    }
    s
}

/// "1.5 GB", "3.2 EB".
pub fn human(bytes: f64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut x = bytes;
    let mut i = 0;
    while x >= 1000.0 && i + 1 < units.len() {
        x /= 1000.0;
        i += 1;
    }
    if x.is_finite() {
        format!("{x:.1} {}", units[i])
    } else {
        "more than can be counted".into()
    }
}

impl Problem {
    /// This problem in the weights file at `path`.
    pub fn in_weights(self, path: impl Into<PathBuf>) -> Error {
        Error::Weights {
            path: path.into(),
            problem: Box::new(self),
        }
    }

    /// This problem in the checkpoint at `path`.
    pub fn in_checkpoint(self, path: impl Into<PathBuf>) -> Error {
        Error::Checkpoint {
            path: path.into(),
            problem: Box::new(self),
        }
    }
}

impl From<Problem> for Error {
    /// A problem of weights given in memory (no file to name).
    fn from(problem: Problem) -> Self {
        problem.in_weights(PathBuf::new())
    }
}

pub type Result<T> = std::result::Result<T, Error>;
