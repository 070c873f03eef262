//! `status.json`: where a run stands, for whoever watches it from outside
//! (`charrnn serve`'s page): state, iteration, epoch, speed, learning rate,
//! smooth loss and the latest sample. Rewritten atomically at most about
//! once a second while training, at each sample and at the end, so a reader
//! never sees half a file. Nothing reads it back: resuming never depends on it.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use charrnn::fsutil::write_atomic;
use charrnn::train::Trainer;
use serde_json::{Value, json};

/// How often, at most, the file is rewritten while training.
const EVERY: Duration = Duration::from_secs(1);

pub struct Status {
    path: PathBuf,
    started: Instant,
    first_iter: u64,
    written: Option<Instant>,
    sample: Value,
}

impl Status {
    pub fn new(dir: &std::path::Path, first_iter: u64) -> Self {
        Self {
            path: dir.join("status.json"),
            started: Instant::now(),
            first_iter,
            written: None,
            sample: Value::Null,
        }
    }

    /// Keeps the sample drawn at iteration `iter` (written with the next update).
    pub fn sample(&mut self, iter: u64, text: &str) {
        self.sample = json!({ "iter": iter, "text": text });
        self.written = None;
    }

    /// Whether a second has passed since the last write (or a sample is new).
    pub fn due(&self) -> bool {
        self.written.is_none_or(|t| t.elapsed() >= EVERY)
    }

    /// Rewrites the file now, in `state` ("training", "finished",
    /// "interrupted", "stopped early", "failed").
    pub fn write(&mut self, trainer: &Trainer, state: &str) -> Result<()> {
        let c = trainer.config();
        let elapsed = self.started.elapsed().as_secs_f64();
        let done = trainer.progress.iter - self.first_iter;
        let chars_per_s = (elapsed > 0.0 && done > 0)
            .then(|| done as f64 * (c.seq_length * c.batch_size) as f64 / elapsed);
        let total = trainer.total_iterations();
        let status = json!({
            "state": state,
            "iter": trainer.progress.iter,
            "total_iterations": (total > 0).then_some(total),
            "epoch": trainer.epoch(),
            "chars_per_s": chars_per_s,
            "learning_rate": trainer.learning_rate(),
            "smooth_loss": trainer.progress.smooth_loss,
            "seconds": elapsed,
            "updated": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()),
            "sample": self.sample,
        });
        write_atomic(&self.path, status.to_string().as_bytes())?;
        self.written = Some(Instant::now());
        Ok(())
    }
}
