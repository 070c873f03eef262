//! A run's loss plot: the training loss per char (each iteration's loss ÷ T,
//! averaged over a trailing window of 1% of the run, at least 10 iterations)
//! and the validation loss per char (a dot per evaluation) against
//! iteration, drawn from the run directory's own metrics.csv and eval.csv
//! with plotters' SVG backend (no fonts or C libraries needed). The same
//! drawing is the run's `loss.svg` and the chart on `charrnn serve`'s page.

use std::path::Path;

use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;

/// At most this many points of the training curve (an SVG stays small).
const MAX_POINTS: usize = 2000;

/// The size of `loss.svg`, in pixels.
pub const SIZE: (u32, u32) = (900, 540);

/// (x, y) pairs from columns `x` and `y` of a CSV with a header.
fn read_columns(path: &Path, x: usize, y: usize) -> Vec<(f64, f64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some((f.get(x)?.parse().ok()?, f.get(y)?.parse().ok()?))
        })
        .filter(|(_, v): &(f64, f64)| v.is_finite())
        .collect()
}

/// Redraws `<dir>/loss.svg` (atomically).
pub fn write(dir: &Path, seq_length: usize) -> Result<()> {
    write_atomic(
        &dir.join("loss.svg"),
        loss_svg(dir, seq_length, SIZE)?.as_bytes(),
    )
}

/// The loss plot of the run in `dir` as SVG text of `size` pixels (the
/// fonts keep their size); `seq_length` turns chunk losses into per-char ones.
pub fn loss_svg(dir: &Path, seq_length: usize, size: (u32, u32)) -> Result<String> {
    let t = seq_length as f64;
    let raw = read_columns(&dir.join("metrics.csv"), 0, 1);
    let window = (raw.len() / 100).max(10);
    let mut sum = 0.0;
    let train: Vec<(f64, f64)> = (0..raw.len())
        .map(|i| {
            sum += raw[i].1;
            if i >= window {
                sum -= raw[i - window].1;
            }
            let n = (i + 1).min(window) as f64;
            (raw[i].0 + 1.0, sum / n / t)
        })
        .collect();
    let step = train.len().div_ceil(MAX_POINTS).max(1);
    let train: Vec<(f64, f64)> = train.into_iter().step_by(step).collect();
    let val = read_columns(&dir.join("eval.csv"), 0, 2);
    let (mut x_max, mut y_min, mut y_max) = (1.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in train.iter().chain(&val) {
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    if !y_min.is_finite() {
        (y_min, y_max) = (0.0, 1.0);
    }
    let pad = ((y_max - y_min) * 0.05).max(1e-3);
    let mut svg = String::new();
    draw(
        &mut svg,
        size,
        train,
        &val,
        x_max,
        (y_min - pad)..(y_max + pad),
    )
    .map_err(|e| Error::Plot(e.to_string()))?;
    Ok(svg)
}

type DrawResult = std::result::Result<(), DrawingAreaErrorKind<std::io::Error>>;

fn draw(
    svg: &mut String,
    size: (u32, u32),
    train: Vec<(f64, f64)>,
    val: &[(f64, f64)],
    x_max: f64,
    y_range: std::ops::Range<f64>,
) -> DrawResult {
    {
        let root = SVGBackend::with_string(svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("charrnn: loss per char", ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..x_max, y_range)?;
        chart
            .configure_mesh()
            .x_desc("iteration")
            .y_desc("loss (nats per char)")
            .draw()?;
        chart
            .draw_series(LineSeries::new(train, &BLUE))?
            .label("training (smoothed)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
        chart
            .draw_series(LineSeries::new(val.to_vec(), RED.stroke_width(2)))?
            .label("validation")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
        chart.draw_series(val.iter().map(|&p| Circle::new(p, 3, RED.filled())))?;
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(())
}
