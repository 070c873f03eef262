//! `charrnn gradcheck`: the gradient check on the config's first chunk, in f64,
//! one row per parameter; exit 0 when every row is within tolerance. The
//! original (model rnn, one layer, no dropout) is also checked against its
//! hand-written backward; every other network against finite differences,
//! with the dropout and weight-drop masks of the first iteration held fixed.

use anyhow::Result;
use charrnn::Precision;
use charrnn::gradcheck::{FD_ABS_TOL, FD_REL_TOL, FirstChunk, MANUAL_REL_TOL, format};

use crate::backend;
use crate::cli::TrainArgs;
use crate::settings;

/// Finite-difference entries checked per parameter.
const SAMPLES: usize = 12;

pub fn run(args: &TrainArgs) -> Result<i32> {
    let mut c = settings::resolve(args)?;
    backend::use_threads(c.threads)?;
    let device = backend::device(&c.backend, Precision::F64)?;
    let text = crate::reading::text(&mut c)?;
    let setup = FirstChunk::new(&c, &text)?;
    println!(
        "gradient check: backend {}, f64, {}, dropout {}{}, weight drop {}, T {}, B {}, first chunk of {}",
        c.backend,
        setup.spec.describe(),
        c.dropout,
        if c.locked_dropout { " (locked)" } else { "" },
        c.weight_drop,
        c.seq_length,
        c.batch_size,
        c.data.display()
    );
    if setup.has_manual() {
        println!(
            "ad-manual: max |autodiff - hand-written backward| (rel: / max |gradient|, tolerance {MANUAL_REL_TOL:e})"
        );
    }
    println!(
        "fd: autodiff vs central finite differences on n entries (rel where |g| >= 1e-4, tolerance {FD_REL_TOL:e}; abs elsewhere, tolerance {FD_ABS_TOL:e})\n"
    );
    let rows = setup.check(SAMPLES, c.seed, &device);
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
