//! Writing files so that a crash at any instant leaves either the old file or
//! the new one, never a torn one: write a temporary sibling, sync, rename.

use std::io::Write;
use std::path::{Path, PathBuf};

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
    let err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::create(&tmp).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    drop(f);
    fault_point("before-rename");
    std::fs::rename(&tmp, path).map_err(err)
}

/// Fault injection for tests: with CHARRNN_FAULT=<point> in the environment
/// the process aborts there (as a kill -9 would), leaving the temporary file.
pub fn fault_point(point: &str) {
    if std::env::var("CHARRNN_FAULT").is_ok_and(|v| v == point) {
        std::process::abort();
    }
}
