//! `charrnn sample`: text from a checkpoint or a weights file, streamed as it
//! is drawn.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use charrnn::data::Vocab;
use charrnn::models::Network;
use charrnn::sample::from_prime;
use charrnn::saved::Saved;

use crate::backend::{self, Backend};
use crate::cli::SampleArgs;

pub fn run(a: &SampleArgs) -> Result<i32> {
    if a.length <= 0 {
        bail!(
            "invalid value for --length: {} (must be at least 1)",
            a.length
        );
    }
    if !(a.temperature.is_finite() && a.temperature >= 0.0) {
        bail!(
            "invalid value for --temperature: {} (must be >= 0)",
            a.temperature
        );
    }
    let (model, vocab) = open_model(&a.checkpoint, a.backend)?;
    let prime = a.prime.clone().unwrap_or_default();
    let ids = match vocab.encode_bytes(prime.as_bytes()) {
        Ok(ids) => ids,
        Err(unknown) => bail!(
            "--prime has {}s not in the model's vocabulary: {}",
            vocab.unit(),
            unknown
                .iter()
                .map(|c| format!("{c:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut sink = Sink::new(a.output.as_deref(), &vocab)?;
    sink.write(prime.as_bytes())?;
    from_prime(
        &model,
        &vocab,
        &ids,
        a.length as usize,
        a.temperature,
        a.seed,
        |id| {
            sink.symbol(id);
            true
        },
    );
    sink.finish()
}

/// Where a sample goes: a file (written whole, atomically, at the end),
/// standard output char by char, or, for a byte model whose sample is not
/// UTF-8 and standard output is a terminal, nowhere but a hint.
struct Sink<'a> {
    vocab: &'a Vocab,
    file: Option<PathBuf>,
    /// Bytes held back: for a file, or a byte model writing to a terminal.
    held: Vec<u8>,
    stream: bool,
    out: std::io::StdoutLock<'static>,
}

impl<'a> Sink<'a> {
    fn new(file: Option<&Path>, vocab: &'a Vocab) -> Result<Self> {
        let out = std::io::stdout().lock();
        let stream = file.is_none() && !(vocab.is_bytes() && out.is_terminal());
        Ok(Self {
            vocab,
            file: file.map(Path::to_path_buf),
            held: Vec::new(),
            stream,
            out,
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        if self.stream {
            self.out.write_all(bytes)?;
            self.out.flush()?;
        } else {
            self.held.extend_from_slice(bytes);
        }
        Ok(())
    }

    fn symbol(&mut self, id: u32) {
        let bytes = self.vocab.decode(&[id]);
        let _ = self.write(&bytes);
    }

    fn finish(mut self) -> Result<i32> {
        if let Some(path) = &self.file {
            charrnn::fsutil::write_atomic(path, &self.held)?;
            return Ok(0);
        }
        if !self.stream {
            // A byte model's sample for a terminal: show it only if it is text.
            match std::str::from_utf8(&self.held) {
                Ok(text) => writeln!(self.out, "{text}")?,
                Err(_) => eprintln!(
                    "the sample is {} bytes that are not UTF-8 text; write them to a file with --output FILE",
                    self.held.len()
                ),
            }
            return Ok(0);
        }
        if !self.vocab.is_bytes() {
            writeln!(self.out)?;
        }
        Ok(0)
    }
}

/// The network of a run directory, checkpoint or weights file (see
/// [`Saved`]) on `backend`: the one given, else the run's if this binary has
/// it, else the default.
pub fn open_model(path: &Path, backend: Option<Backend>) -> Result<(Network, Vocab)> {
    let saved = Saved::open(path)?;
    let run_backend = saved.backend.as_deref().and_then(|b| b.parse().ok());
    let name = backend
        .or(run_backend.filter(|b: &Backend| backend::compiled().contains(&b.name())))
        .unwrap_or_else(backend::default)
        .name();
    let device = backend::device(name, saved.weights.precision())?;
    Ok((saved.network(&device)?, saved.vocab))
}
