//! Will it fit? Estimates, from the configuration alone, the memory a run
//! needs (text, parameters, gradients, optimizer state, one chunk's
//! activations and logits) and compares it with what the machine has
//! available, so that an impossible size is refused in one line before
//! anything is allocated, instead of swapping or being killed.
//!
//! The estimate is deliberately generous (autodiff keeps several tensors per
//! op alive until backward); it is a guard against sizes that cannot fit, not
//! a prediction of peak memory.

use crate::Precision;
use crate::error::{Error, Result};
use crate::models::{ModelSpec, params};
use crate::optim::OptimizerKind;

/// Bytes per float.
fn float_bytes(p: Precision) -> f64 {
    match p {
        Precision::F32 => 4.0,
        Precision::F64 => 8.0,
    }
}

/// What a training run holds, in bytes (f64, so absurd sizes don't overflow).
#[derive(Clone, Copy, Debug)]
pub struct Estimate {
    pub text: f64,
    pub parameters: f64,
    pub activations: f64,
}

impl Estimate {
    pub fn total(&self) -> f64 {
        self.text + self.parameters + self.activations
    }

    /// A training run of `spec` on a text whose ids take `text_bytes`.
    pub fn training(
        spec: &ModelSpec,
        optimizer: OptimizerKind,
        precision: Precision,
        seq_length: usize,
        batch_size: usize,
        text_bytes: f64,
    ) -> Self {
        let f = float_bytes(precision);
        // weights, gradients, a copy during the update, optimizer state.
        let state = match optimizer {
            OptimizerKind::Sgd => 0.0,
            OptimizerKind::Adagrad | OptimizerKind::Rmsprop => 2.0,
            OptimizerKind::Adam => 3.0,
        };
        let parameters = params::count(spec) * f * (3.0 + state);
        // Per layer and step, the tensors autodiff keeps (gates, activations,
        // states) and their gradients: ~8·G·B·H floats; plus the [T·B, V]
        // logits, their log-softmax and gradient, and one-hot-sized gathers.
        let (t, b, h, v) = (
            seq_length as f64,
            batch_size as f64,
            spec.hidden as f64,
            spec.vocab as f64,
        );
        let g = spec.kind.gates() as f64;
        let per_layer = 8.0 * (g + 1.0) * t * b * h;
        let activations = (spec.layers as f64 * per_layer + 4.0 * t * b * v) * f;
        Self {
            text: text_bytes,
            parameters,
            activations,
        }
    }

    /// Sampling or evaluating with `spec` on B streams.
    pub fn inference(spec: &ModelSpec, precision: Precision, batch_size: usize) -> Self {
        let f = float_bytes(precision);
        let (b, h, v) = (batch_size as f64, spec.hidden as f64, spec.vocab as f64);
        let g = spec.kind.gates() as f64;
        Self {
            text: 0.0,
            parameters: params::count(spec) * f * 3.0, // file bytes, host copy, device copy
            activations: (spec.layers as f64 * 4.0 * (g + 1.0) * b * h + 4.0 * b * v) * f,
        }
    }
}

/// Memory available to this process now: the system's available memory, or
/// the memory cgroup's limit where that is lower (containers: the system's
/// view, and this process's own cgroup). None if unknown.
pub fn available() -> Option<u64> {
    use sysinfo::{MemoryRefreshKind, ProcessRefreshKind, ProcessesToUpdate, RefreshKind, System};
    let mut sys = System::new_with_specifics(
        RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram()),
    );
    // A cgroup's usage counts the page cache its processes filled (a text
    // just read), which the kernel reclaims on demand, as the system's
    // available memory does: what is left beside the resident memory counts.
    let left = |cg: sysinfo::CGroupLimits| cg.total_memory.saturating_sub(cg.rss);
    let mut avail = sys.available_memory();
    if let Some(cg) = sys.cgroup_limits() {
        avail = avail.min(left(cg));
    }
    if let Ok(me) = sysinfo::get_current_pid() {
        sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[me]),
            false,
            ProcessRefreshKind::nothing(),
        );
        if let Some(cg) = sys.process(me).and_then(|p| p.cgroup_limits()) {
            avail = avail.min(left(cg));
        }
    }
    (avail > 0).then_some(avail)
}

/// Refuses `what` when its estimate exceeds the available memory.
pub fn check(what: &str, estimate: &Estimate) -> Result<()> {
    let Some(avail) = available() else {
        return Ok(());
    };
    let need = estimate.total();
    if need > avail as f64 {
        return Err(Error::TooBig {
            what: what.into(),
            need,
            text: estimate.text,
            parameters: estimate.parameters,
            activations: estimate.activations,
            available: avail,
        });
    }
    Ok(())
}

pub use crate::error::human;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ModelKind;

    #[test]
    fn absurd_sizes_are_refused_and_sane_ones_pass() {
        let spec = |h| ModelSpec::new(ModelKind::Rnn, 1, 65, h);
        let e =
            |h| Estimate::training(&spec(h), OptimizerKind::Adagrad, Precision::F32, 25, 1, 1e6);
        assert!(check("run", &e(100)).is_ok());
        let err = check("run", &e(100_000_000)).unwrap_err().to_string();
        assert!(
            err.contains("needs about") && err.contains("available"),
            "{err}"
        );
        assert!(check("run", &e(4_000_000_000)).is_err());
        assert_eq!(human(1.5e9), "1.5 GB");
    }
}
