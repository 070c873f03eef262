//! `charrnn serve`: the models under the given paths behind HTTP (see the
//! charrnn-serve crate), on the backend chosen here.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use charrnn::Precision;
use charrnn_serve::{Catalog, Limits, Server};

use crate::backend;
use crate::cli::ServeArgs;

pub fn run(a: &ServeArgs) -> Result<i32> {
    let roots = if a.paths.is_empty() {
        // The runs `charrnn` trains here go to runs/: served even before the
        // first one starts (each appears as it writes its status).
        let runs = PathBuf::from("runs");
        std::fs::create_dir_all(&runs)
            .with_context(|| format!("cannot create {}", runs.display()))?;
        vec![runs]
    } else {
        a.paths.clone()
    };
    for p in &roots {
        if !p.exists() {
            bail!(
                "{} does not exist (give run directories, checkpoint or weights files, or directories of runs)",
                p.display()
            );
        }
    }
    if !a.addr.ip().is_loopback() {
        eprintln!(
            "warning: listening on {}: other machines can sample every served model and read its run's metrics",
            a.addr
        );
    }
    if !(a.body_timeout.is_finite() && a.body_timeout > 0.0 && a.body_timeout <= 3600.0) {
        bail!(
            "invalid value for --body-timeout: {} (seconds, more than 0 and at most 3600)",
            a.body_timeout
        );
    }
    let name = a.backend.unwrap_or_else(backend::default).name();
    // The precision only checks the backend; each model keeps its own.
    let device = backend::device(name, Precision::F32)?;
    let server = Server {
        catalog: Catalog::new(roots, device),
        limits: Limits {
            body_timeout: std::time::Duration::from_secs_f64(a.body_timeout),
            ..Limits::default()
        },
    };
    charrnn_serve::serve(server, a.addr, |addr| {
        println!("listening on http://{addr}");
        let _ = std::io::stdout().flush();
    })
    .with_context(|| format!("cannot serve on {}", a.addr))?;
    Ok(0)
}
