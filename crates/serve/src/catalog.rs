//! The models a server serves: found under the paths it was given (run
//! directories, checkpoint or weights files, directories of runs), each
//! under an id (its run directory's name; a lone file's stem), and loaded
//! on first use, for inference, and again when its file changes (a run still
//! training rewrites its checkpoint). The paths are scanned again on each
//! listing, so a run started after the server appears (as soon as it writes
//! its `status.json`, before its first checkpoint); a request's id is only
//! ever looked up here, never made into a path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use burn::tensor::Device;
use charrnn::checkpoint::FILE_NAME;
use charrnn::data::Vocab;
use charrnn::models::Network;
use charrnn::saved::Saved;

use crate::batcher::Batcher;

/// What a run writes while it trains (see the train binary's status.rs).
pub const STATUS: &str = "status.json";

/// A model found on disk.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub id: String,
    /// What [`Saved::open`] reads.
    pub path: PathBuf,
    /// Its run directory, if it has one (for metrics).
    pub run_dir: Option<PathBuf>,
}

/// A model in memory, with what is known of its run.
pub struct Loaded {
    pub network: Arc<Network>,
    /// Draws every request's samples together (see [`Batcher`]).
    pub batcher: Batcher,
    pub vocab: Vocab,
    pub iterations: Option<u64>,
    pub best_validation: Option<f64>,
}

/// A model as loaded (or why it could not be) from its file as it was then.
struct Cached {
    stamp: Option<SystemTime>,
    model: Result<Arc<Loaded>, String>,
}

pub struct Catalog {
    roots: Vec<PathBuf>,
    device: Device,
    /// Loaded models (or why one could not load), by path.
    loaded: Mutex<BTreeMap<PathBuf, Cached>>,
}

impl Catalog {
    /// Serves what is under `roots` on `device` (a plain device).
    pub fn new(roots: Vec<PathBuf>, device: Device) -> Self {
        Self {
            roots,
            device,
            loaded: Mutex::new(BTreeMap::new()),
        }
    }

    /// Every model under the roots now, by id (a later duplicate gets
    /// `-2`, `-3`, ...).
    pub fn entries(&self) -> Vec<Entry> {
        let mut found = Vec::new();
        for root in &self.roots {
            scan(root, &mut found);
        }
        let mut ids = BTreeMap::<String, usize>::new();
        for e in &mut found {
            let n = ids.entry(e.id.clone()).or_insert(0);
            *n += 1;
            if *n > 1 {
                e.id = format!("{}-{n}", e.id);
            }
        }
        found
    }

    pub fn find(&self, id: &str) -> Option<Entry> {
        self.entries().into_iter().find(|e| e.id == id)
    }

    /// The model of `entry`, loaded on first use and again whenever its file
    /// has changed since (blocking: call it off the async threads).
    pub fn load(&self, entry: &Entry) -> Result<Arc<Loaded>, String> {
        let stamp = modified(&entry.path);
        if let Some(done) = self.loaded.lock().expect("catalog lock").get(&entry.path)
            && done.stamp == stamp
        {
            return done.model.clone();
        }
        let model = Saved::open(&entry.path)
            .and_then(|saved| {
                let network = Arc::new(saved.network(&self.device)?);
                Ok(Arc::new(Loaded {
                    batcher: Batcher::start(network.clone()),
                    network,
                    vocab: saved.vocab,
                    iterations: saved.iterations,
                    best_validation: saved.best_validation,
                }))
            })
            .map_err(|e| e.to_string());
        let cached = Cached {
            stamp,
            model: model.clone(),
        };
        self.loaded
            .lock()
            .expect("catalog lock")
            .insert(entry.path.clone(), cached);
        model
    }
}

/// When the file a model loads from (a run directory's checkpoint) last
/// changed; checkpoints are renamed into place, so a new one is a new time.
fn modified(path: &Path) -> Option<SystemTime> {
    let file = match path.is_dir() {
        true => path.join(FILE_NAME),
        false => path.to_path_buf(),
    };
    std::fs::metadata(file).and_then(|m| m.modified()).ok()
}

/// A run directory: one a run has written its checkpoint or its status to.
fn is_run(dir: &Path) -> bool {
    dir.join(FILE_NAME).is_file() || dir.join(STATUS).is_file()
}

/// The models at `path`: a run directory, a file, or a directory of runs.
fn scan(path: &Path, found: &mut Vec<Entry>) {
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.display().to_string())
    };
    if path.is_file() {
        let in_run = path.file_name().is_some_and(|n| n == FILE_NAME);
        let run_dir = path.parent().filter(|_| in_run).map(Path::to_path_buf);
        let id = match &run_dir {
            Some(dir) => name(dir),
            None => path
                .file_stem()
                .map_or_else(|| name(path), |s| s.to_string_lossy().into()),
        };
        found.push(Entry {
            id,
            path: path.to_path_buf(),
            run_dir,
        });
    } else if is_run(path) {
        found.push(Entry {
            id: name(path),
            path: path.to_path_buf(),
            run_dir: Some(path.to_path_buf()),
        });
    } else if let Ok(dir) = std::fs::read_dir(path) {
        let mut runs: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_run(p))
            .collect();
        runs.sort();
        for run in runs {
            scan(&run, found);
        }
    }
}
