//! A time budget (`minutes`): how many iterations fit in M minutes of wall
//! time on this machine, evaluations and checkpoints included.
//!
//! The count is fixed once, before the first real iteration, from trial
//! iterations the trainer runs and then undoes ([`crate::train::Trainer::measure`]),
//! and written into the run's `iterations`: from then on a `minutes` run is
//! exactly the `iterations = N` run, so a length-dependent schedule (cosine)
//! knows its length from the start and `--resume` continues it bit for bit
//! from the checkpoint's config. A faster machine gets more iterations, a
//! slower one fewer; the count is not revised if the machine's speed changes
//! during the run.

/// What the trial iterations measured, in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Speed {
    /// One training iteration (the mean over `trials`).
    pub iteration: f64,
    /// Timed iterations behind `iteration` (after untimed warm-up ones).
    pub trials: u64,
    /// One evaluation on the validation split (0 without one).
    pub evaluation: f64,
    /// One printed sample of `sample_length` chars (0 when not sampling).
    pub sample: f64,
}

/// How often the run does each periodic thing (0: never, as in the config).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cadence {
    pub eval_every: u64,
    pub checkpoint_every: u64,
    pub sample_every: u64,
}

impl Cadence {
    /// Nothing periodic: the iterations alone.
    pub const NEVER: Cadence = Cadence {
        eval_every: 0,
        checkpoint_every: 0,
        sample_every: 0,
    };
}

/// The iterations that fit in `minutes` when `spent_s` seconds of it are
/// gone (reading the text, the trials), `save_s` is the cost of one
/// checkpoint with its weights and plot, and the run ends with one more
/// evaluation and checkpoint. An evaluation may write best.safetensors, so
/// each is charged a checkpoint too. None when not even one fits.
pub fn fit(minutes: f64, spent_s: f64, speed: &Speed, save_s: f64, every: &Cadence) -> Option<u64> {
    let per = |cost: f64, k: u64| if k > 0 { cost / k as f64 } else { 0.0 };
    let evaluation = speed.evaluation + if speed.evaluation > 0.0 { save_s } else { 0.0 };
    let per_iteration = speed.iteration
        + per(evaluation, every.eval_every)
        + per(save_s, every.checkpoint_every)
        + per(speed.sample, every.sample_every);
    let left = minutes * 60.0 - spent_s - evaluation - save_s;
    let n = (left / per_iteration).floor();
    (n >= 1.0).then_some(n as u64)
}

/// `30 minutes ≈ 5,540 iterations at 296 ms/iter`.
pub fn describe(minutes: f64, iterations: u64, speed: &Speed) -> String {
    format!(
        "{} minutes ≈ {} iterations at {} ms/iter",
        trim_to(minutes, 3),
        thousands(iterations),
        trim_to(speed.iteration * 1e3, 3)
    )
}

/// `x` with at most `digits` decimals, trailing zeros dropped (30 for 30.0).
fn trim_to(x: f64, digits: usize) -> String {
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// 5540 → "5,540".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY: Cadence = Cadence {
        eval_every: 250,
        checkpoint_every: 500,
        sample_every: 100,
    };

    fn speed(iteration: f64, evaluation: f64, sample: f64) -> Speed {
        Speed {
            iteration,
            trials: 10,
            evaluation,
            sample,
        }
    }

    #[test]
    fn the_count_is_what_the_minutes_hold() {
        // 1,800 s − 30 spent − (2 + 0.5) for the last evaluation (and the
        // best weights it may write) − 0.5 for the last checkpoint, at
        // 0.3 + 2.5/250 + 0.5/500 + 0.2/100 s an iteration.
        let s = speed(0.3, 2.0, 0.2);
        let per: f64 = 0.3 + 2.5 / 250.0 + 0.5 / 500.0 + 0.2 / 100.0;
        let want = ((1800.0 - 30.0 - 2.5 - 0.5) / per).floor() as u64;
        assert_eq!(fit(30.0, 30.0, &s, 0.5, &EVERY), Some(want));
        // Nothing periodic: the budget over the iteration alone.
        assert_eq!(
            fit(1.0, 0.0, &speed(0.01, 0.0, 0.0), 0.0, &Cadence::NEVER),
            Some(6000)
        );
        // Spent before the first iteration: none fits.
        assert_eq!(fit(0.01, 0.6, &s, 0.0, &EVERY), None);
    }

    #[test]
    fn the_line_reads_as_the_issue_writes_it() {
        assert_eq!(
            describe(30.0, 5540, &speed(0.296, 0.0, 0.0)),
            "30 minutes ≈ 5,540 iterations at 296 ms/iter"
        );
        assert_eq!(
            describe(7.5, 999, &speed(0.00042, 0.0, 0.0)),
            "7.5 minutes ≈ 999 iterations at 0.42 ms/iter"
        );
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(0), "0");
    }
}
