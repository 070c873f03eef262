//! `charrnn eval`: a checkpoint's (or weights file's) loss on a text, in nats
//! and bits per char. The text is streamed in pieces, so a file larger than
//! memory can be evaluated: a first pass names any chars outside the model's
//! vocabulary (and refuses them), a second runs the model over it in one
//! stream with its state carried.

use std::path::Path;

use crate::cli::EvalArgs;
use crate::sample::open_model;
use anyhow::{Result, bail};
use charrnn::data::Vocab;
use charrnn::eval::Evaluator;
use charrnn::text_file::{Piece, for_each_piece};

pub fn run(a: &EvalArgs) -> Result<i32> {
    if a.seq_length == 0 {
        bail!("invalid value for --seq-length: 0 (must be at least 1)");
    }
    let data = crate::bundled::data(&a.data)?;
    let (model, vocab) = open_model(&a.checkpoint, a.backend)?;
    let spec = model.spec();
    // First pass: chars the model cannot read are refused by name (unless
    // it folds them into its unknown symbol, which counts them).
    let mut unknown = std::collections::BTreeSet::new();
    let mut folded = 0u64;
    stream(&data, &vocab, |_, bad, f| {
        unknown.extend(bad.iter().copied());
        folded += f;
    })?;
    if !unknown.is_empty() {
        let shown: Vec<String> = unknown.iter().take(20).map(|c| format!("{c:?}")).collect();
        bail!(
            "{} has {} {}(s) outside the model's vocabulary: {}{}",
            data.display(),
            unknown.len(),
            vocab.unit(),
            shown.join(", "),
            if unknown.len() > 20 { ", ..." } else { "" }
        );
    }
    let mut e = Evaluator::new(&model, a.seq_length);
    stream(&data, &vocab, |ids, _, _| e.feed(ids))?;
    let loss = e.finish();
    if loss.chars == 0 {
        bail!(
            "{} has fewer than 2 chars: nothing to predict",
            data.display()
        );
    }
    let unit = vocab.unit();
    println!(
        "{}: {} on {} {unit}s of {}: {:.4} nats/{unit}, {:.4} bits/{unit}{}",
        a.checkpoint.display(),
        spec.describe(),
        loss.chars,
        data.display(),
        loss.nats_per_char(),
        loss.bits_per_char(),
        match folded {
            0 => String::new(),
            n =>
                format!(" ({n} {unit}s outside the vocabulary read as \u{FFFD}, and scored as it)"),
        }
    );
    Ok(0)
}

/// Reads `path` in pieces (UTF-8 decoded across their boundaries); `f` gets
/// each piece's ids, the symbols the model cannot read, and how many chars
/// read as its unknown symbol.
fn stream(path: &Path, vocab: &Vocab, mut f: impl FnMut(&[u32], &[char], u64)) -> Result<()> {
    let mode = vocab.mode();
    let (mut ids, mut bad) = (Vec::new(), Vec::new());
    let one = |c: char, ids: &mut Vec<u32>, bad: &mut Vec<char>, folded: &mut u64| match (
        vocab.id(c),
        vocab.lookup(c),
    ) {
        (Some(i), _) => ids.push(i),
        (None, Some(i)) => {
            ids.push(i);
            *folded += 1;
        }
        (None, None) => bad.push(c),
    };
    for_each_piece(path, mode, &mut |_| {}, |piece| {
        ids.clear();
        bad.clear();
        let mut folded = 0;
        match piece {
            Piece::Text(s) => s
                .chars()
                .for_each(|c| one(c, &mut ids, &mut bad, &mut folded)),
            Piece::Bytes(b) => b
                .iter()
                .for_each(|&b| one(char::from(b), &mut ids, &mut bad, &mut folded)),
        }
        f(&ids, &bad, folded);
        true
    })?;
    Ok(())
}
