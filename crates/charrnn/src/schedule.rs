//! The learning rate at each iteration, and what an epoch is.
//!
//! An epoch is one pass of the streams over the training split: the
//! iterations from one wrap of the data pointer to the next, ⌊(S − 2)/T⌋ for
//! segments of S chars (the original's wrap rule resets when p + T + 1 ≥ S).
//! The rate is a function of the iteration alone, so a resumed run follows
//! the schedule exactly as a straight one (the checkpoint holds the
//! iteration).
//!
//! - `constant`: lr;
//! - `step` (char-rnn's, torch-rnn's): lr · decayᵏ where k counts the epoch
//!   boundaries passed among `after`, `after` + `every`, `after` + 2·`every`, …
//!   (the start of training, epoch 0, is no boundary): char-rnn's
//!   (0.97, 1, 10) decays at epochs 10, 11, 12, …; torch-rnn's (0.5, 5, 0) at
//!   5, 10, 15, …;
//! - `cosine`: linear warm-up over `warmup` iterations, (n + 1)/warmup · lr,
//!   then lr · (f + (1 − f)·½(1 + cos(π·progress))) down to f·lr at the last
//!   iteration (f = `final_lr_fraction`).

use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::data::Streams;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    #[default]
    Constant,
    Step,
    Cosine,
}

crate::named_enum!(ScheduleKind, "lr_schedule", {
    Constant => "constant",
    Step => "step",
    Cosine => "cosine",
});

/// Iterations in one epoch for these streams.
pub fn iterations_per_epoch(streams: &Streams) -> u64 {
    ((streams.segment.saturating_sub(2)) / streams.seq_length).max(1) as u64
}

#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    kind: ScheduleKind,
    lr: f64,
    decay: f64,
    decay_every: f64,
    decay_after: f64,
    warmup: u64,
    final_fraction: f64,
    /// Iterations the run lasts (0: until stopped).
    total: u64,
    per_epoch: u64,
}

impl Schedule {
    pub fn new(c: &TrainConfig, streams: &Streams) -> Self {
        let per_epoch = iterations_per_epoch(streams);
        Self {
            kind: c.lr_schedule,
            lr: c.learning_rate,
            decay: c.lr_decay,
            decay_every: c.lr_decay_every,
            decay_after: c.lr_decay_after,
            warmup: c.warmup,
            final_fraction: c.final_lr_fraction,
            total: c.total_iterations(per_epoch),
            per_epoch,
        }
    }

    /// Iterations the run lasts (0: until stopped).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Epochs done after `iter` iterations.
    pub fn epoch(&self, iter: u64) -> f64 {
        iter as f64 / self.per_epoch as f64
    }

    /// The learning rate of iteration `n` (0-based).
    pub fn lr(&self, n: u64) -> f64 {
        match self.kind {
            ScheduleKind::Constant => self.lr,
            ScheduleKind::Step => {
                let epoch = self.epoch(n);
                if epoch < self.decay_after {
                    return self.lr;
                }
                let mut k = 1.0 + ((epoch - self.decay_after) / self.decay_every).floor();
                if self.decay_after == 0.0 {
                    k -= 1.0; // epoch 0 is the start, not a boundary
                }
                self.lr * self.decay.powf(k)
            }
            ScheduleKind::Cosine => {
                if n < self.warmup {
                    return self.lr * (n + 1) as f64 / self.warmup as f64;
                }
                let span = self.total.saturating_sub(self.warmup).max(1) as f64;
                let progress = ((n - self.warmup) as f64 / span).min(1.0);
                let f = self.final_fraction;
                self.lr * (f + (1.0 - f) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(extra: &str, text_len: usize) -> Schedule {
        let c =
            TrainConfig::parse(&format!("seq_length = 10\nlearning_rate = 0.5\n{extra}")).unwrap();
        let streams = Streams::new(text_len, 10, 1, std::path::Path::new("t")).unwrap();
        Schedule::new(&c, &streams)
    }

    #[test]
    fn an_epoch_is_one_wrap_of_the_pointer() {
        // S = 102, T = 10: p = 0, 10, …, 90 → 10 iterations, then 90 + 11 ≥ 102 wraps.
        let streams = Streams::new(102, 10, 1, std::path::Path::new("t")).unwrap();
        assert_eq!(iterations_per_epoch(&streams), 10);
        let mut p = 0;
        let mut wraps = vec![];
        for iter in 0..35u64 {
            if streams.must_reset(iter, p) {
                wraps.push(iter);
                p = 0;
            }
            p += 10;
        }
        assert_eq!(wraps, vec![0, 10, 20, 30]);
    }

    #[test]
    fn step_is_char_rnns() {
        // 10 iterations an epoch; ×0.97 from epoch 2 on, every epoch.
        let s = schedule(
            "lr_schedule = \"step\"\nlr_decay = 0.97\nlr_decay_every = 1\nlr_decay_after = 2",
            102,
        );
        for (n, k) in [(0, 0), (19, 0), (20, 1), (29, 1), (30, 2), (55, 4)] {
            assert_eq!(s.lr(n), 0.5 * 0.97f64.powf(k as f64), "iteration {n}");
        }
        // torch-rnn's: ×0.5 every 5 epochs from the start (after 0).
        let s = schedule(
            "lr_schedule = \"step\"\nlr_decay = 0.5\nlr_decay_every = 5\nlr_decay_after = 0",
            102,
        );
        assert_eq!(
            (s.lr(0), s.lr(49), s.lr(50), s.lr(100)),
            (0.5, 0.5, 0.25, 0.125)
        );
    }

    #[test]
    fn cosine_warms_up_then_falls_to_the_final_fraction() {
        let s = schedule(
            "lr_schedule = \"cosine\"\nwarmup = 4\nfinal_lr_fraction = 0.1\niterations = 104",
            102,
        );
        assert_eq!(s.lr(0), 0.5 * 1.0 / 4.0);
        assert_eq!(s.lr(3), 0.5);
        assert_eq!(s.lr(4), 0.5);
        assert!((s.lr(54) - 0.5 * 0.55).abs() < 1e-15, "{}", s.lr(54)); // halfway
        assert!((s.lr(104) - 0.05).abs() < 1e-15);
        // Over epochs: 3 epochs of 10 iterations.
        let s = schedule("lr_schedule = \"cosine\"\nepochs = 3", 102);
        assert_eq!(s.total(), 30);
        assert!((s.lr(30) - 0.05).abs() < 1e-15);
    }
}
