//! Reading a training text from a file of any size: streamed in pieces, so
//! the file's bytes, its decoded text and its ids are never held at once
//! (only the ids stay, at the width the vocabulary needs: see [`Ids`]).
//!
//! A first pass checks UTF-8 (char mode) and counts every symbol; with
//! `min_count` a second pass counts the training part alone and the chars
//! seen there fewer than `min_count` times are folded into one unknown
//! symbol ([`crate::data::UNKNOWN`]); the last pass encodes, into memory or,
//! when the ids do not fit, into a file that is then memory-mapped. Each
//! pass reports progress in bytes read.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::data::{Ids, MappedIds, Text, Vocab, VocabMode};
use crate::error::{Error, Result};

/// Bytes read at a time.
pub const PIECE: usize = 4 << 20;

/// A distinct char that occurs fewer times than this counts as rare in
/// [`Report::rare`].
pub const RARE: u64 = 100;

/// How to read a text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadOptions {
    pub mode: VocabMode,
    /// Chars seen fewer than this many times in the training part become
    /// [`crate::data::UNKNOWN`] (0: none folded; char mode only).
    pub min_count: u64,
    /// The held-out fractions at the end of the text (validation, then
    /// test): the training part is what comes before them.
    pub held_out: [f64; 2],
    /// Where ids go that do not fit in memory.
    pub spill: Spill,
}

/// Ids that do not fit in the memory available: refused, or written to a
/// file in a folder and memory-mapped ([`Ids::Mapped`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Spill {
    /// Refused in one line, before anything is allocated.
    #[default]
    Never,
    /// Mapped from a file in this folder when they do not fit.
    WhenTooBig(PathBuf),
    /// Always mapped from a file in this folder.
    Always(PathBuf),
}

/// What reading found, for the run to report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Symbols in the file.
    pub chars: usize,
    /// Distinct symbols in the file.
    pub distinct: usize,
    /// Distinct symbols that occur fewer than [`RARE`] times in the file.
    pub rare: usize,
    /// Distinct chars folded into [`crate::data::UNKNOWN`], and how often
    /// they occur.
    pub folded: usize,
    pub folded_occurrences: u64,
}

/// Chars held out for a fraction of a text of `len` chars (the last ones);
/// the config's split uses the same rule.
pub fn held_out_chars(fraction: f64, len: usize) -> usize {
    (fraction * len as f64).floor() as usize
}

/// Reads `path` as `options` say; `progress(done, total)` is called with
/// the bytes read so far over all passes and their total.
pub fn read(
    path: &Path,
    options: &ReadOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(Text, Report)> {
    let io = |error| Error::Io {
        path: path.to_path_buf(),
        error,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size == 0 {
        return Err(Error::EmptyText {
            path: path.to_path_buf(),
        });
    }
    let passes = if options.min_count > 0 { 3 } else { 2 };
    let mut done = 0u64;
    let mut tick = |n: usize| {
        done += n as u64;
        progress(done, passes * size);
    };
    // Pass 1: every symbol's count in the whole file.
    let mut counts = Counts::default();
    let mut chars = 0usize;
    for_each_piece(path, options.mode, &mut tick, |piece| {
        chars += counts.add(piece, usize::MAX);
        true
    })?;
    let all = counts.sorted();
    let rare = all.iter().filter(|(_, n)| *n < RARE).count();
    // The width the ids need is known now: what cannot fit in memory is
    // refused, or mapped from a file, before anything is allocated.
    let width = Ids::width(all.len() + 1);
    let fits = || {
        crate::memory::check(
            &format!("reading {}", path.display()),
            &crate::memory::Estimate {
                text: (chars * width) as f64 + PIECE as f64,
                parameters: 0.0,
                activations: 0.0,
            },
        )
    };
    let map_in = match &options.spill {
        Spill::Never => {
            fits()?;
            None
        }
        Spill::WhenTooBig(dir) => fits().is_err().then_some(dir),
        Spill::Always(dir) => Some(dir),
    };
    let mut report = Report {
        chars,
        distinct: all.len(),
        rare,
        ..Report::default()
    };
    let vocab = if options.min_count == 0 {
        match options.mode {
            VocabMode::Chars => Vocab::from_chars(all.iter().map(|(c, _)| *c).collect()),
            VocabMode::Bytes => {
                Vocab::from_bytes(&all.iter().map(|(c, _)| *c as u32 as u8).collect::<Vec<_>>())
            }
        }
    } else {
        // Pass 2: the training part's counts decide what stays.
        let [val, test] = options.held_out;
        let train = chars - held_out_chars(val, chars) - held_out_chars(test, chars);
        let mut train_counts = Counts::default();
        let mut left = train;
        for_each_piece(path, options.mode, &mut tick, |piece| {
            left -= train_counts.add(piece, left);
            left > 0
        })?;
        let kept: Vec<char> = train_counts
            .sorted()
            .into_iter()
            .filter(|(_, n)| *n >= options.min_count)
            .map(|(c, _)| c)
            .collect();
        let vocab = Vocab::folding(kept);
        for (c, n) in &all {
            if vocab.id(*c).is_none() {
                report.folded += 1;
                report.folded_occurrences += n;
            }
        }
        vocab
    };
    // Last pass: the ids.
    let table = Lookup::new(&vocab);
    let mut sink = match map_in {
        None => Sink::Memory(Ids::with_capacity(vocab.len(), chars)),
        Some(dir) => Sink::file(dir, Ids::width(vocab.len()))?,
    };
    let mut failed = None;
    for_each_piece(path, options.mode, &mut tick, |piece| {
        let pushed = match piece {
            Piece::Text(s) => s.chars().try_for_each(|c| sink.push(table.id(c))),
            Piece::Bytes(b) => b
                .iter()
                .try_for_each(|&b| sink.push(table.id(char::from(b)))),
        };
        failed = pushed.err();
        failed.is_none()
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    Ok((
        Text {
            vocab,
            ids: Arc::new(sink.finish()?),
        },
        report,
    ))
}

/// Where the last pass puts the ids: memory, or a file to be mapped.
enum Sink {
    Memory(Ids),
    File {
        out: std::io::BufWriter<std::fs::File>,
        path: PathBuf,
        width: usize,
    },
}

impl Sink {
    fn file(dir: &Path, width: usize) -> Result<Self> {
        static FILES: AtomicUsize = AtomicUsize::new(0);
        let n = FILES.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("ids-{}-{n}.tmp", std::process::id()));
        let err = |error| Error::Write {
            path: path.clone(),
            error,
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        // Read as well as write: the same handle is mapped afterwards.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(err)?;
        Ok(Self::File {
            out: std::io::BufWriter::with_capacity(1 << 20, file),
            path,
            width,
        })
    }

    fn push(&mut self, id: u32) -> Result<()> {
        match self {
            Self::Memory(ids) => {
                ids.push(id);
                Ok(())
            }
            Self::File { out, path, width } => match *width {
                1 => out.write_all(&[id as u8]),
                2 => out.write_all(&(id as u16).to_ne_bytes()),
                _ => out.write_all(&id.to_ne_bytes()),
            }
            .map_err(|error| Error::Write {
                path: path.clone(),
                error,
            }),
        }
    }

    /// The ids: in memory as they are, or the file mapped and unlinked.
    fn finish(self) -> Result<Ids> {
        let (out, path, width) = match self {
            Self::Memory(ids) => return Ok(ids),
            Self::File { out, path, width } => (out, path, width),
        };
        let err = |error| Error::Write {
            path: path.clone(),
            error,
        };
        let file = out.into_inner().map_err(|e| err(e.into_error()))?;
        file.sync_all().map_err(err)?;
        // SAFETY: the file is this process's own, written above and never
        // written again; it is unlinked right after mapping, so no other
        // process can open it and change the mapped bytes.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(err)?;
        std::fs::remove_file(&path).map_err(err)?;
        Ok(Ids::Mapped(Arc::new(MappedIds { map, width })))
    }
}

/// A piece of the file: UTF-8 text (char mode, never split inside a char)
/// or raw bytes (byte mode).
pub enum Piece<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
}

/// Calls `f` with each piece of `path` in order until it returns false;
/// `tick` gets the bytes each piece took. In char mode a file that is not
/// UTF-8 is refused naming the first bad byte's offset.
pub fn for_each_piece(
    path: &Path,
    mode: VocabMode,
    tick: &mut dyn FnMut(usize),
    mut f: impl FnMut(Piece) -> bool,
) -> Result<()> {
    let io = |error| Error::Io {
        path: path.to_path_buf(),
        error,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    // Room for a piece and the up to 3 bytes of a char cut at its end.
    let mut buf = vec![0u8; PIECE + 4];
    let (mut kept, mut offset) = (0usize, 0usize);
    loop {
        let n = file.read(&mut buf[kept..]).map_err(io)?;
        if n == 0 {
            if kept > 0 {
                return Err(Error::NotUtf8 {
                    path: path.to_path_buf(),
                    offset,
                });
            }
            return Ok(());
        }
        tick(n);
        let filled = kept + n;
        if mode == VocabMode::Bytes {
            if !f(Piece::Bytes(&buf[..filled])) {
                return Ok(());
            }
            continue;
        }
        let valid = match std::str::from_utf8(&buf[..filled]) {
            Ok(s) => s.len(),
            // A char cut at the end waits for the next piece.
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(e) => {
                return Err(Error::NotUtf8 {
                    path: path.to_path_buf(),
                    offset: offset + e.valid_up_to(),
                });
            }
        };
        let text = std::str::from_utf8(&buf[..valid]).expect("checked above");
        if !f(Piece::Text(text)) {
            return Ok(());
        }
        buf.copy_within(valid..filled, 0);
        kept = filled - valid;
        offset += valid;
    }
}

/// Symbol counts: an array for ASCII (and bytes), a map for the rest.
struct Counts {
    low: [u64; 256],
    other: HashMap<char, u64>,
}

impl Default for Counts {
    fn default() -> Self {
        Self {
            low: [0; 256],
            other: HashMap::new(),
        }
    }
}

impl Counts {
    /// Counts at most `limit` symbols of `piece`; returns how many it counted.
    fn add(&mut self, piece: Piece, limit: usize) -> usize {
        match piece {
            Piece::Bytes(b) => {
                let b = &b[..b.len().min(limit)];
                b.iter().for_each(|&x| self.low[x as usize] += 1);
                b.len()
            }
            Piece::Text(s) => {
                let mut n = 0;
                for c in s.chars().take(limit) {
                    match u8::try_from(c as u32) {
                        Ok(x) if x < 128 => self.low[x as usize] += 1,
                        _ => *self.other.entry(c).or_default() += 1,
                    }
                    n += 1;
                }
                n
            }
        }
    }

    /// Every symbol seen with its count, by code point.
    fn sorted(&self) -> Vec<(char, u64)> {
        let mut all: Vec<(char, u64)> = (0..=255u8)
            .filter(|&x| self.low[x as usize] > 0)
            .map(|x| (char::from(x), self.low[x as usize]))
            .chain(self.other.iter().map(|(&c, &n)| (c, n)))
            .collect();
        all.sort_unstable();
        all
    }
}

/// A vocabulary's ids by char, ASCII (and bytes) from an array.
struct Lookup<'a> {
    low: [u32; 256],
    vocab: &'a Vocab,
}

impl<'a> Lookup<'a> {
    fn new(vocab: &'a Vocab) -> Self {
        let mut low = [u32::MAX; 256];
        for (x, id) in low.iter_mut().enumerate() {
            *id = vocab.lookup(char::from(x as u8)).unwrap_or(u32::MAX);
        }
        Self { low, vocab }
    }

    /// `c`'s id; every char of the file is in the vocabulary (or folds).
    fn id(&self, c: char) -> u32 {
        let x = c as u32;
        if x < 256 && self.low[x as usize] != u32::MAX {
            return self.low[x as usize];
        }
        self.vocab
            .lookup(c)
            .expect("the vocabulary was made from this file")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::UNKNOWN;

    fn file(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, bytes).unwrap();
        f
    }

    fn plain(mode: VocabMode) -> ReadOptions {
        ReadOptions {
            mode,
            ..ReadOptions::default()
        }
    }

    /// Pieces cut inside multi-byte chars decode as the whole text does, and
    /// the ids equal the in-memory encoding's, at the narrowest width.
    #[test]
    fn streamed_reading_equals_the_in_memory_encoding() {
        // 4-byte, 3-byte and 2-byte chars straddling every piece boundary.
        let unit = "ab\u{1F600}c€dé\n";
        let text = unit.repeat(PIECE / unit.len() * 2 + 7);
        let f = file(text.as_bytes());
        let mut calls = 0;
        let (got, report) = read(f.path(), &plain(VocabMode::Chars), &mut |done, total| {
            calls += 1;
            assert!(done <= total);
        })
        .unwrap();
        let want = Text::encode(&text);
        assert_eq!(got.vocab, want.vocab);
        assert_eq!(got.ids.view().to_vec(), want.ids.view().to_vec());
        assert!(matches!(*got.ids, Ids::U8(_)));
        assert_eq!(report.chars, text.chars().count());
        assert_eq!(report.distinct, 8);
        assert!(calls >= 4);

        let bytes: Vec<u8> = (0..3 * PIECE + 11).map(|i| (i * 7 % 251) as u8).collect();
        let f = file(&bytes);
        let (got, _) = read(f.path(), &plain(VocabMode::Bytes), &mut |_, _| {}).unwrap();
        let want = Text::encode_bytes(&bytes);
        assert_eq!(got.vocab, want.vocab);
        assert_eq!(got.ids.view().to_vec(), want.ids.view().to_vec());
    }

    /// Ids mapped from a file equal the ids held in memory, at every width,
    /// and the file is gone once mapped.
    #[test]
    fn mapped_ids_equal_the_ids_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let wide: String = (0x100u32..0x100 + 400).filter_map(char::from_u32).collect();
        for text in ["abcab\ncab".repeat(1000), wide.repeat(30)] {
            let f = file(text.as_bytes());
            let spilled = ReadOptions {
                spill: Spill::Always(dir.path().to_path_buf()),
                ..plain(VocabMode::Chars)
            };
            let (mapped, _) = read(f.path(), &spilled, &mut |_, _| {}).unwrap();
            let (held, _) = read(f.path(), &plain(VocabMode::Chars), &mut |_, _| {}).unwrap();
            assert!(mapped.ids.is_mapped() && !held.ids.is_mapped());
            assert_eq!(mapped.ids.id_width(), held.ids.id_width());
            assert_eq!(mapped.ids.view().to_vec(), held.ids.view().to_vec());
            assert_eq!(mapped.ids.bytes(), 0);
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        }
    }

    #[test]
    fn bad_utf8_is_refused_at_its_offset_even_across_pieces() {
        let mut bytes = "a".repeat(PIECE - 1).into_bytes();
        bytes.extend_from_slice(&[0xE2, 0x82]); // € cut short...
        bytes.push(b'x'); // ...by a byte that cannot continue it
        let f = file(&bytes);
        let e = read(f.path(), &plain(VocabMode::Chars), &mut |_, _| {}).unwrap_err();
        assert!(
            matches!(e, Error::NotUtf8 { offset, .. } if offset == PIECE - 1),
            "{e}"
        );
        let f = file(&[b'a', 0xC3]); // ends inside a char
        let e = read(f.path(), &plain(VocabMode::Chars), &mut |_, _| {}).unwrap_err();
        assert!(matches!(e, Error::NotUtf8 { offset: 1, .. }), "{e}");
    }

    /// Chars rarer than min_count in the training part fold into U+FFFD;
    /// counts in the held-out part do not save a char.
    #[test]
    fn rare_chars_fold_by_their_count_in_the_training_part() {
        // 100 chars: training 80 ("ab" × 39, "xy"), held out 20 ("z" × 10, "x" × 10).
        let text = format!("{}xy{}{}", "ab".repeat(39), "z".repeat(10), "x".repeat(10));
        let f = file(text.as_bytes());
        let options = ReadOptions {
            mode: VocabMode::Chars,
            min_count: 2,
            held_out: [0.1, 0.1],
            ..ReadOptions::default()
        };
        let (got, report) = read(f.path(), &options, &mut |_, _| {}).unwrap();
        assert_eq!(got.vocab.chars(), &['a', 'b', UNKNOWN]);
        assert_eq!(got.vocab.unknown(), Some(2));
        assert_eq!((report.folded, report.folded_occurrences), (3, 22));
        let ids = got.ids.view().to_vec();
        assert_eq!(&ids[76..80], &[0, 1, 2, 2]);
        assert!(ids[80..].iter().all(|&i| i == 2));
        assert_eq!(report.rare, 5); // a, b, x, y, z: each fewer than 100 times
    }
}
