//! `train sample`: text from a checkpoint or a weights file, streamed as it
//! is drawn.

use std::io::Write;
use std::path::Path;

use anyhow::{Result, bail};
use charrnn::checkpoint::Checkpoint;
use charrnn::data::Vocab;
use charrnn::memory::{self, Estimate};
use charrnn::models::{ModelSpec, NamedWeights, Network};
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
    let (model, vocab) = open_model(&a.checkpoint, a.backend.as_deref(), "sampling from")?;
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

/// The network of a run directory, checkpoint or weights file, checked
/// against memory and built on `backend` (default: the run's), for `what`
/// ("sampling from", "evaluating").
pub fn open_model(path: &Path, backend: Option<&str>, what: &str) -> Result<(Network, Vocab)> {
    let (weights, spec, vocab, saved_backend) = load(path)?;
    memory::check(
        &format!("{what} {}", spec.describe()),
        &Estimate::inference(&spec, weights.precision(), 1),
    )?;
    let name = backend.map_or(saved_backend, str::to_string);
    let device = backend::device(&name, weights.precision())?;
    let model = Network::load(&spec, &weights, &device)
        .map_err(|m| anyhow::anyhow!("{}: {m}", path.display()))?;
    Ok((model, vocab))
}

/// Weights, the network they are, vocabulary and backend from a run
/// directory, a checkpoint file or a weights file of either layout.
fn load(path: &Path) -> Result<(NamedWeights, ModelSpec, Vocab, String)> {
    if !path.exists() {
        bail!("--checkpoint {}: no such file or directory", path.display());
    }
    // The file is read whole: its size bounds what loading it can take.
    let file = charrnn::checkpoint::file_in(path);
    let bytes = std::fs::metadata(&file).map_or(0, |m| m.len()) as f64;
    memory::check(
        &format!("reading {}", file.display()),
        &Estimate {
            text: 0.0,
            parameters: 3.0 * bytes,
            activations: 0.0,
        },
    )?;
    let is_weights = path.is_file()
        && path
            .file_name()
            .is_some_and(|n| n != charrnn::checkpoint::FILE_NAME);
    if is_weights {
        let (spec, w, v) = charrnn::weights::load_checked(path)?;
        return Ok((w, spec, v, backend::COMPILED[0].to_string()));
    }
    let ck = Checkpoint::load(path)?;
    let backend = if backend::COMPILED.contains(&ck.backend.as_str()) {
        ck.backend
    } else {
        backend::COMPILED[0].to_string()
    };
    let spec = ck.config.spec(ck.vocab.len());
    Ok((ck.weights, spec, ck.vocab, backend))
}
