//! The one place that names backends: a name from the command line or config
//! becomes a [`Backend`], and a backend a Burn device. Which backends exist
//! in this binary is decided by cargo features.

use anyhow::{Result, bail};
use burn::tensor::Device;
use charrnn::Precision;

/// A backend charrnn knows, compiled in or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Flex,
    Ndarray,
    Wgpu,
}

impl Backend {
    const ALL: [Backend; 3] = [Backend::Flex, Backend::Ndarray, Backend::Wgpu];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
            Backend::Wgpu => "wgpu",
        }
    }

    fn compiled(self) -> bool {
        match self {
            Backend::Flex => cfg!(feature = "flex"),
            Backend::Ndarray => cfg!(feature = "ndarray"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s == "cuda" {
            return Err("backend `cuda` is not available: Burn 0.22.1's cuda feature downloads LLVM while building, which cannot work offline; use `--backend wgpu` (built with `--features wgpu`) for NVIDIA GPUs".into());
        }
        Self::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown backend `{s}` (compiled in: {})",
                    compiled().join(", ")
                )
            })
    }
}

/// Backends compiled into this binary, the default first.
pub fn compiled() -> Vec<&'static str> {
    Backend::ALL
        .into_iter()
        .filter(|b| b.compiled())
        .map(Backend::name)
        .collect()
}

/// This binary's default backend.
pub fn default() -> Backend {
    Backend::ALL
        .into_iter()
        .find(|b| b.compiled())
        .expect("a backend is compiled in")
}

/// The device for backend `name` (a config's or checkpoint's string),
/// checked against the precision it must run.
pub fn device(name: &str, precision: Precision) -> Result<Device> {
    let backend: Backend = name.parse().map_err(anyhow::Error::msg)?;
    if !backend.compiled() {
        bail!(
            "backend `{backend}` is not compiled in; rebuild with `--features {backend}` (compiled in: {})",
            compiled().join(", ")
        );
    }
    let device = match backend {
        #[cfg(feature = "flex")]
        Backend::Flex => Device::flex(),
        #[cfg(feature = "ndarray")]
        #[allow(deprecated)]
        // ndarray is deprecated upstream but still a real, tested backend
        Backend::Ndarray => Device::ndarray(),
        #[cfg(feature = "wgpu")]
        Backend::Wgpu => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        #[allow(unreachable_patterns)]
        _ => unreachable!("checked compiled above"),
    };
    // wgpu reports f64 support on lavapipe, yet its f64 training went NaN at
    // the first update there: only f32 is offered until that is understood.
    if backend == Backend::Wgpu && precision == Precision::F64 {
        bail!(
            "backend `wgpu` runs f32 only; use --precision f32 (f64 training is checked on flex and ndarray)"
        );
    }
    if !device.supports_dtype(precision.dtype()) {
        bail!("backend `{backend}` does not support {precision}; use --precision f32");
    }
    if precision == Precision::F64 {
        make_f64_the_default(&device);
    }
    Ok(device)
}
/// Sizes the thread pool that flex and ndarray split large matrix products
/// over (rayon's global pool; it can be built once per process).
pub fn use_threads(threads: usize) -> Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads > cores {
        eprintln!(
            "warning: {threads} threads on a machine with {cores} core(s) run slower than {cores}; see --threads"
        );
    }
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

/// Runs `f` on one of the pool's threads, so that the pool's N threads are
/// all the threads that compute (run from the main thread, N pool threads
/// plus the main one would share N cores).
pub fn on_pool<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    #[cfg(feature = "threads")]
    {
        let mut out = None;
        rayon::scope(|s| s.spawn(|_| out = Some(f())));
        out.expect("the pool ran f")
    }
    #[cfg(not(feature = "threads"))]
    f()
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
