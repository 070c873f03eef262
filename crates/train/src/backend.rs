//! The one place that names backends: a name from the command line or config
//! becomes a Burn device. Which names exist is decided by cargo features.

use anyhow::{Result, bail};
use burn::tensor::Device;
use charrnn::Precision;

/// Backends compiled into this binary, the default first.
pub const COMPILED: &[&str] = &[
    #[cfg(feature = "flex")]
    "flex",
    #[cfg(feature = "ndarray")]
    "ndarray",
    #[cfg(feature = "wgpu")]
    "wgpu",
];

const KNOWN: &[(&str, &str)] = &[("flex", "flex"), ("ndarray", "ndarray"), ("wgpu", "wgpu")];

/// The device for backend `name`, checked against the precision it must run.
pub fn device(name: &str, precision: Precision) -> Result<Device> {
    let device = match name {
        #[cfg(feature = "flex")]
        "flex" => Device::flex(),
        #[cfg(feature = "ndarray")]
        #[allow(deprecated)]
        // ndarray is deprecated upstream but still a real, tested backend
        "ndarray" => Device::ndarray(),
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        "cuda" => bail!(
            "backend `cuda` is not available: Burn 0.22.1's cuda feature downloads LLVM while building, which cannot work offline; use `--backend wgpu` (built with `--features wgpu`) for NVIDIA GPUs"
        ),
        other => match KNOWN.iter().find(|(n, _)| *n == other) {
            Some((_, feature)) => bail!(
                "backend `{other}` is not compiled in; rebuild with `--features {feature}` (compiled in: {})",
                COMPILED.join(", ")
            ),
            None => bail!(
                "unknown backend `{other}` (compiled in: {})",
                COMPILED.join(", ")
            ),
        },
    };
    // wgpu reports f64 support on lavapipe, yet its f64 training went NaN at
    // the first update there: only f32 is offered until that is understood.
    if name == "wgpu" && precision == Precision::F64 {
        bail!(
            "backend `wgpu` runs f32 only; use --precision f32 (f64 training is checked on flex and ndarray)"
        );
    }
    if !device.supports_dtype(precision.dtype()) {
        bail!("backend `{name}` does not support {precision}; use --precision f32");
    }
    if precision == Precision::F64 {
        make_f64_the_default(&device);
    }
    Ok(device)
}

/// Sizes the thread pool that flex and ndarray split large matrix products
/// over (rayon's global pool; it can be built once per process).
pub fn use_threads(threads: usize) -> Result<()> {
    #[cfg(feature = "threads")]
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| anyhow::anyhow!("cannot start {threads} threads: {e}"))?;
    #[cfg(not(feature = "threads"))]
    if threads > 1 {
        bail!(
            "this build runs one thread; rebuild with `--features threads` for --threads {threads}"
        );
    }
    Ok(())
}

/// Every tensor charrnn makes names its dtype, but Burn's optimizers rebuild
/// their saved state (Adam's moments, RMSprop's averages) in the default
/// device's default float dtype, which would turn an f64 run's state into
/// f32 on --resume. One process runs one precision, so an f64 run makes f64
/// the default, on its device and on the default device (where Burn loads
/// optimizer state before moving it). A device already in use keeps its
/// setting, which is why this happens before any tensor exists.
fn make_f64_the_default(device: &Device) {
    for mut d in [device.clone(), Device::default()] {
        let _ = d.configure(burn::tensor::FloatDType::F64);
    }
}
