//! The configs in `configs/` and the tinyshakespeare corpus, compiled into
//! the binary, so that an installed `charrnn --config tiny.toml` works from
//! any directory. A file always wins: a config is looked for as a path, then
//! in `./configs/`, and only then here; the corpus is used only when the
//! data path a run names does not exist and is named `tinyshakespeare.txt`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use charrnn::fsutil::write_atomic;

/// The configs of `configs/`, by file name.
pub const CONFIGS: [(&str, &str); 6] = [
    ("tiny.toml", include_str!("../../../configs/tiny.toml")),
    ("lstm.toml", include_str!("../../../configs/lstm.toml")),
    ("gru.toml", include_str!("../../../configs/gru.toml")),
    (
        "lstm-512.toml",
        include_str!("../../../configs/lstm-512.toml"),
    ),
    (
        "shakespeare-30min.toml",
        include_str!("../../../configs/shakespeare-30min.toml"),
    ),
    (
        "rust-30min.toml",
        include_str!("../../../configs/rust-30min.toml"),
    ),
];

/// The bundled corpus's file name, and the corpus.
pub const CORPUS_NAME: &str = "tinyshakespeare.txt";
const CORPUS: &[u8] = include_bytes!("../../../data/tinyshakespeare.txt");

/// The bundled config called `name` (`tiny.toml`, or `tiny`), if there is one.
pub fn config(name: &str) -> Option<(&'static str, &'static str)> {
    let file = Path::new(name).file_name()?.to_str()?;
    CONFIGS
        .iter()
        .find(|(n, _)| *n == file || n.strip_suffix(".toml") == Some(file))
        .copied()
}

/// The names of the bundled configs, for messages.
pub fn config_names() -> String {
    CONFIGS.map(|(n, _)| n).join(", ")
}

/// `data` itself when it exists; otherwise, when it names the bundled
/// corpus, a copy of the corpus in the user's cache directory (written once,
/// atomically, and said in one line), so that the run's config.toml, a
/// resume and `charrnn eval` all have a real file to read.
pub fn data(data: &Path) -> Result<PathBuf> {
    if data.exists() || data.file_name() != Some(CORPUS_NAME.as_ref()) {
        return Ok(data.to_path_buf());
    }
    let dir = cache_dir();
    let copy = dir.join(CORPUS_NAME);
    let current = std::fs::metadata(&copy).is_ok_and(|m| m.len() == CORPUS.len() as u64)
        && std::fs::read(&copy).is_ok_and(|bytes| bytes == CORPUS);
    if !current {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        write_atomic(&copy, CORPUS)?;
    }
    eprintln!(
        "{} not found: using the tinyshakespeare compiled into charrnn ({})",
        data.display(),
        copy.display()
    );
    Ok(copy)
}

/// `$XDG_CACHE_HOME/charrnn`, else `~/.cache/charrnn`, else the temporary
/// directory's `charrnn`: the bundled corpus's copy, and a text's ids that
/// do not fit in memory (mapped, and unlinked at once).
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("charrnn")
}
