//! The library's typed errors: each names the file, key or value at fault, so
//! the binary can print it as one line.

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
    #[error("{path} is not valid UTF-8 text (first bad byte at offset {offset})")]
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
    #[error("config {path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("invalid value for {key}: {message}")]
    InvalidValue { key: String, message: String },
    #[error("{path}: {message}")]
    Weights { path: PathBuf, message: String },
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error("{0}")]
    Unknown(String),
    #[error("{0}")]
    TooBig(String),
    #[error("training diverged at iteration {iter}: loss is {loss}")]
    NonFinite { iter: u64, loss: f64 },
}

pub type Result<T> = std::result::Result<T, Error>;
