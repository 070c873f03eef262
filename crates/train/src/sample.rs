//! `train sample`: text from a checkpoint or a weights file, streamed as it
//! is drawn.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};
use charrnn::data::Vocab;
use charrnn::models::Network;
use charrnn::sample::{advance, sample};
use charrnn::saved::Saved;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

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
    let state = advance(&model, model.zero_state(1), &feed);
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let mut out = std::io::stdout().lock();
    write!(out, "{prime}")?;
    sample(
        &model,
        state,
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
