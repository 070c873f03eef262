//! `train gradcheck`: the gradient check on the config's first chunk, in f64,
//! one row per parameter; exit 0 when every row is within tolerance.

use anyhow::Result;
use charrnn::Precision;
use charrnn::data::{Streams, Text};
use charrnn::gradcheck::{FD_ABS_TOL, FD_REL_TOL, MANUAL_REL_TOL, check, format};
use charrnn::model::{RnnConfig, Weights};

use crate::backend;
use crate::cli::TrainArgs;
use crate::settings;

/// Finite-difference entries checked per parameter.
const SAMPLES: usize = 12;

pub fn run(args: &TrainArgs) -> Result<i32> {
    let c = settings::resolve(args)?;
    let device = backend::device(&c.backend, Precision::F64)?;
    let text = Text::load(&c.data)?;
    let streams = Streams::new(text.len(), c.seq_length, c.batch_size, &c.data)?;
    let config = RnnConfig::new(text.vocab.len()).with_hidden_size(c.hidden_size);
    let weights = match &c.init_weights {
        Some(path) => charrnn::weights::load(path)?.0.cast(Precision::F64),
        None => Weights::random(&config, c.seed, Precision::F64),
    };
    let chunk = streams.chunk(&text.ids, 0);
    let h0 = Precision::F64.data(
        vec![0.0; c.batch_size * c.hidden_size],
        [c.batch_size, c.hidden_size],
    );
    println!(
        "gradient check: backend {}, f64, H {}, V {}, T {}, B {}, first chunk of {}",
        c.backend,
        c.hidden_size,
        text.vocab.len(),
        c.seq_length,
        c.batch_size,
        c.data.display()
    );
    println!(
        "ad-manual: max |autodiff - hand-written backward| (rel: / max |gradient|, tolerance {MANUAL_REL_TOL:e})\n\
         fd: autodiff vs central finite differences on n entries (rel where |g| >= 1e-4, tolerance {FD_REL_TOL:e}; abs elsewhere, tolerance {FD_ABS_TOL:e})\n"
    );
    let rows = check(&weights, &chunk, &h0, SAMPLES, c.seed, &device);
    print!("{}", format(&rows));
    let ok = rows.iter().all(|r| r.passes());
    println!(
        "{}",
        if ok {
            "all gradients within tolerance"
        } else {
            "GRADIENT CHECK FAILED"
        }
    );
    Ok(if ok { 0 } else { 1 })
}
