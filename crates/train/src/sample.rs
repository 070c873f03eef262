//! `train sample`: text from a checkpoint or a weights file, streamed as it
//! is drawn.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};
use charrnn::checkpoint::Checkpoint;
use charrnn::model::Rnn;
use charrnn::sample::{advance, sample};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::backend;
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
    let (weights, vocab, saved_backend) = load(&a.checkpoint)?;
    let name = a.backend.clone().unwrap_or(saved_backend);
    let device = backend::device(&name, weights.precision())?;
    let model = Rnn::from_weights(&weights, &device);
    let prime = a.prime.clone().unwrap_or_default();
    let ids = match vocab.encode(&prime) {
        Ok(ids) => ids,
        Err(unknown) => bail!(
            "--prime has chars not in the model's vocabulary: {}",
            unknown
                .iter()
                .map(|c| format!("{c:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    // Without a prime, start from a newline (or the first char) and a zero state.
    let (feed, seed) = match ids.split_last() {
        Some((last, rest)) => (rest.to_vec(), *last),
        None => (Vec::new(), vocab.id('\n').unwrap_or(0)),
    };
    let h = advance(&model, model.zero_state(1), &feed);
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let mut out = std::io::stdout().lock();
    write!(out, "{prime}")?;
    sample(
        &model,
        h,
        seed,
        a.length as usize,
        a.temperature,
        &mut rng,
        |id| {
            let _ = write!(out, "{}", vocab.char(id));
            let _ = out.flush();
        },
    );
    writeln!(out)?;
    Ok(0)
}

/// Weights, vocabulary and backend from a run directory, checkpoint file or
/// weights file.
fn load(path: &Path) -> Result<(charrnn::model::Weights, charrnn::data::Vocab, String)> {
    if !path.exists() {
        bail!("--checkpoint {}: no such file or directory", path.display());
    }
    let is_weights = path.is_file()
        && path
            .file_name()
            .is_some_and(|n| n != charrnn::checkpoint::FILE_NAME);
    if is_weights {
        let (w, v) = charrnn::weights::load(path)?;
        return Ok((w, v, backend::COMPILED[0].to_string()));
    }
    let ck = Checkpoint::load(path)?;
    let backend = if backend::COMPILED.contains(&ck.backend.as_str()) {
        ck.backend
    } else {
        backend::COMPILED[0].to_string()
    };
    Ok((ck.weights, ck.vocab, backend))
}
