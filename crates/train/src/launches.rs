//! Kernel launches on the cube backends (wgpu), counted with CubeCL's launch
//! observer: every kernel issued while a [`Count`] is alive, whichever
//! thread issued it. A GPU step's cost at small sizes is its launches (each
//! a few microseconds of host and driver time) and its reads back to the
//! host, not its arithmetic; `charrnn bench --backend wgpu` prints both.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cubecl_runtime::logging::{LaunchObservation, LaunchObserver};

#[derive(Default)]
struct Counter(AtomicU64);

impl LaunchObserver for Counter {
    fn launched(&self, _kernel: &'static str) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts launches until dropped.
pub struct Count {
    counter: Arc<Counter>,
    _observing: LaunchObservation,
}

impl Count {
    pub fn start() -> Self {
        let counter = Arc::new(Counter::default());
        let _observing = LaunchObservation::new(counter.clone());
        Self {
            counter,
            _observing,
        }
    }

    /// Kernels issued so far.
    pub fn launches(&self) -> u64 {
        self.counter.0.load(Ordering::Relaxed)
    }
}
