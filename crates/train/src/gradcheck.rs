//! `train gradcheck`: the gradient check on the config's first chunk, in f64,
//! one row per parameter; exit 0 when every row is within tolerance. The
//! original (model rnn, one layer, no dropout) is also checked against its
//! hand-written backward; every other network against finite differences,
//! with the dropout masks of the first chunk held fixed.

use anyhow::Result;
use charrnn::Precision;
use charrnn::data::{Streams, Text};
use charrnn::dropout::Dropout;
use charrnn::gradcheck::{Case, FD_ABS_TOL, FD_REL_TOL, MANUAL_REL_TOL, check, format};
use charrnn::memory::{self, Estimate};
use charrnn::models::layout;
use charrnn::optim::OptimizerKind;

use crate::backend;
use crate::cli::TrainArgs;
use crate::settings;

/// Finite-difference entries checked per parameter.
const SAMPLES: usize = 12;

pub fn run(args: &TrainArgs) -> Result<i32> {
    let c = settings::resolve(args)?;
    backend::use_threads(c.threads)?;
    let device = backend::device(&c.backend, Precision::F64)?;
    let text = Text::load(&c.data)?;
    let streams = Streams::new(text.len(), c.seq_length, c.batch_size, &c.data)?;
    let spec = c.spec(text.vocab.len());
    memory::check(
        &format!("the gradient check of {}", spec.describe()),
        &Estimate::training(
            &spec,
            OptimizerKind::Sgd,
            Precision::F64,
            c.seq_length,
            c.batch_size,
            text.len() as f64,
            0.0,
        ),
    )?;
    let (spec, weights) = match &c.init_weights {
        Some(path) => {
            let (w, _) = charrnn::weights::read(path)?;
            layout::conform(&w.cast(Precision::F64), &spec).map_err(|p| p.in_weights(path))?
        }
        None => (spec, layout::random(&spec, c.seed, Precision::F64)),
    };
    let chunk = streams.chunk(&text.ids, 0);
    let zero = || {
        Precision::F64.data(
            vec![0.0; c.batch_size * c.hidden_size],
            [c.batch_size, c.hidden_size],
        )
    };
    println!(
        "gradient check: backend {}, f64, {}, dropout {}, T {}, B {}, first chunk of {}",
        c.backend,
        spec.describe(),
        c.dropout,
        c.seq_length,
        c.batch_size,
        c.data.display()
    );
    let with_manual = spec.is_original() && c.dropout == 0.0;
    if with_manual {
        println!(
            "ad-manual: max |autodiff - hand-written backward| (rel: / max |gradient|, tolerance {MANUAL_REL_TOL:e})"
        );
    }
    println!(
        "fd: autodiff vs central finite differences on n entries (rel where |g| >= 1e-4, tolerance {FD_REL_TOL:e}; abs elsewhere, tolerance {FD_ABS_TOL:e})\n"
    );
    let masks = Dropout::new(c.dropout, c.seed)
        .masks(
            spec.layers,
            chunk.inputs.len(),
            spec.hidden,
            Precision::F64,
            &device,
        )
        .map(|m| m.into_iter().map(|t| t.into_data()).collect::<Vec<_>>());
    let state: Vec<_> = spec.state_names().iter().map(|_| zero()).collect();
    let case = Case {
        chunk: &chunk,
        state: &state,
        masks: masks.as_deref(),
    };
    let rows = check(&spec, &weights, &case, SAMPLES, c.seed, &device);
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
