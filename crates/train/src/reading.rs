//! Reading a run's text as a person sees it: a progress bar for a large file
//! (over [`BAR_FROM`] bytes, on a terminal), then what reading found in one
//! line each: the time it took (and whether the ids did not fit in memory
//! and are mapped from a file in the cache directory), the chars folded by
//! `vocab_min_count`, or a hint to fold when the text has very many
//! distinct chars.

use std::io::IsTerminal;
use std::time::Instant;

use anyhow::Result;
use charrnn::config::TrainConfig;
use charrnn::data::Text;
use charrnn::text_file::{self, RARE, ReadOptions, Spill};
use indicatif::{ProgressBar, ProgressStyle};

/// Files larger than this show a progress bar and their reading time.
pub const BAR_FROM: u64 = 50 << 20;

/// More distinct chars than this, none folded, gets a hint.
const MANY_DISTINCT: usize = 1000;

/// Reads `config.data` as the config says; reports on stderr. A missing
/// `tinyshakespeare.txt` becomes the bundled copy's path first (so the run
/// records a file that exists).
pub fn text(config: &mut TrainConfig) -> Result<Text> {
    config.data = crate::bundled::data(&config.data)?;
    let size = std::fs::metadata(&config.data).map_or(0, |m| m.len());
    let big = size > BAR_FROM;
    let bar = (big && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(size);
        bar.set_style(
            ProgressStyle::with_template(
                "reading {msg} {bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .expect("a valid template"),
        );
        bar.set_message(config.data.display().to_string());
        bar
    });
    let started = Instant::now();
    let options = ReadOptions {
        spill: Spill::WhenTooBig(crate::bundled::cache_dir()),
        ..config.read_options()
    };
    let (text, report) = text_file::read(&config.data, &options, &mut |done, total| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let unit = text.vocab.unit();
    if big || text.ids.is_mapped() {
        eprintln!(
            "read {} in {:.1} s: {} {unit}s, {} distinct, {} per {unit} {}",
            config.data.display(),
            started.elapsed().as_secs_f64(),
            report.chars,
            report.distinct,
            match text.ids.id_width() {
                1 => "1 byte".to_string(),
                n => format!("{n} bytes"),
            },
            match text.ids.is_mapped() {
                true => "in a memory-mapped file (they do not fit in the memory available)",
                false => "in memory",
            }
        );
    }
    if report.folded > 0 {
        eprintln!(
            "vocab_min_count {}: {} distinct chars folded into \u{FFFD} ({} occurrences, {:.3}% of the text); vocabulary {}",
            config.vocab_min_count,
            report.folded,
            report.folded_occurrences,
            100.0 * report.folded_occurrences as f64 / report.chars.max(1) as f64,
            text.vocab.len()
        );
    } else if config.vocab_min_count == 0 && report.distinct > MANY_DISTINCT {
        eprintln!(
            "{} has {} distinct chars, {} of them occurring fewer than {RARE} times: vocab_min_count = N (--vocab-min-count N) folds chars seen fewer than N times into one symbol",
            config.data.display(),
            report.distinct,
            report.rare
        );
    }
    Ok(text)
}
