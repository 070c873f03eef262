//! `charrnn eval`: a checkpoint's (or weights file's) loss on a text, in nats
//! and bits per char. The text is streamed in pieces, so a file larger than
//! memory can be evaluated: a first pass names any chars outside the model's
//! vocabulary (and refuses them), a second runs the model over it in one
//! stream with its state carried.

use std::io::Read;
use std::path::Path;

use crate::cli::EvalArgs;
use crate::sample::open_model;
use anyhow::{Context, Result, bail};
use charrnn::data::Vocab;
use charrnn::eval::Evaluator;

/// Bytes read at a time.
const PIECE: usize = 1 << 20;

pub fn run(a: &EvalArgs) -> Result<i32> {
    if a.seq_length == 0 {
        bail!("invalid value for --seq-length: 0 (must be at least 1)");
    }
    let data = crate::bundled::data(&a.data)?;
    let a = &EvalArgs {
        data,
        checkpoint: a.checkpoint.clone(),
        ..*a
    };
    let (model, vocab) = open_model(&a.checkpoint, a.backend)?;
    let spec = model.spec();
    let mut unknown = std::collections::BTreeSet::new();
    stream(&a.data, &vocab, |ids, bad| {
        unknown.extend(bad.iter().copied());
        let _ = ids;
    })?;
    if !unknown.is_empty() {
        let shown: Vec<String> = unknown.iter().take(20).map(|c| format!("{c:?}")).collect();
        bail!(
            "{} has {} {}(s) outside the model's vocabulary: {}{}",
            a.data.display(),
            unknown.len(),
            vocab.unit(),
            shown.join(", "),
            if unknown.len() > 20 { ", ..." } else { "" }
        );
    }
    let mut e = Evaluator::new(&model, a.seq_length);
    stream(&a.data, &vocab, |ids, _| e.feed(ids))?;
    let loss = e.finish();
    if loss.chars == 0 {
        bail!(
            "{} has fewer than 2 chars: nothing to predict",
            a.data.display()
        );
    }
    let unit = vocab.unit();
    println!(
        "{}: {} on {} {unit}s of {}: {:.4} nats/{unit}, {:.4} bits/{unit}",
        a.checkpoint.display(),
        spec.describe(),
        loss.chars,
        a.data.display(),
        loss.nats_per_char(),
        loss.bits_per_char()
    );
    Ok(0)
}

/// Reads `path` in pieces, decoding UTF-8 across piece boundaries; `f` gets
/// each piece's ids (chars in the vocabulary) and the chars that are not.
fn stream(path: &Path, vocab: &Vocab, mut f: impl FnMut(&[u32], &[char])) -> Result<()> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut buf = vec![0u8; PIECE];
    let mut carry: Vec<u8> = Vec::new();
    let mut offset = 0usize;
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        if vocab.is_bytes() {
            // Byte mode: every byte is a symbol; nothing to decode.
            let (mut ids, mut bad) = (Vec::with_capacity(n), Vec::new());
            for &b in &buf[..n] {
                match vocab.id(char::from(b)) {
                    Some(i) => ids.push(i),
                    None => bad.push(char::from(b)),
                }
            }
            f(&ids, &bad);
            continue;
        }
        carry.extend_from_slice(&buf[..n]);
        let valid = match std::str::from_utf8(&carry) {
            Ok(s) => s.len(),
            // An incomplete char at the end waits for the next piece.
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(e) => bail!(
                "{} is not valid UTF-8 text (first bad byte at offset {})",
                path.display(),
                offset + e.valid_up_to()
            ),
        };
        let text = std::str::from_utf8(&carry[..valid]).expect("checked");
        let (mut ids, mut bad) = (Vec::with_capacity(valid), Vec::new());
        for c in text.chars() {
            match vocab.id(c) {
                Some(i) => ids.push(i),
                None => bad.push(c),
            }
        }
        f(&ids, &bad);
        offset += valid;
        carry.drain(..valid);
    }
    if !carry.is_empty() {
        bail!(
            "{} is not valid UTF-8 text (it ends inside a char at offset {offset})",
            path.display()
        );
    }
    Ok(())
}
