//! Writing files so that a crash at any instant leaves either the old file or
//! the new one, never a torn one: write a temporary sibling, sync, rename.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, Result};

/// The temporary sibling `write_atomic` uses; leftovers from a crash are
/// ignored by readers (they never look at this name) and overwritten later.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    let err = |error| Error::Write {
        path: path.to_path_buf(),
        error,
    };
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    drop(f);
    fault_point(path);
    std::fs::rename(&tmp, path).map_err(err)
}

/// Fault injection for tests: with CHARRNN_FAULT=<file name>:<k> in the
/// environment, the k-th atomic write of that file aborts the process between
/// writing the temporary file and renaming it (as a crash or kill -9 would).
fn fault_point(path: &Path) {
    static WRITES: AtomicUsize = AtomicUsize::new(0);
    let Ok(spec) = std::env::var("CHARRNN_FAULT") else {
        return;
    };
    let Some((name, k)) = spec.rsplit_once(':') else {
        return;
    };
    if path.file_name().is_some_and(|n| n == name) {
        let n = WRITES.fetch_add(1, Ordering::SeqCst) + 1;
        if k.parse() == Ok(n) {
            std::process::abort();
        }
    }
}
