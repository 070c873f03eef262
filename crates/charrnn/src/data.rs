//! The training text: its vocabulary, its encoding as one small integer per
//! char, and the chunks of T inputs and targets that the streams walk through.
//!
//! The walk is the original's: a data pointer p that starts at 0, chunk inputs
//! text[p..p+T], targets text[p+1..p+T+1], p += T after each step, and a reset
//! (h = 0, p = 0) when p+T+1 >= len. With B streams the text is cut into B
//! equal contiguous segments and the same rule applies within each segment
//! (all streams reset together); B = 1 is exactly the original.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::error::{Error, Problem, Result};

/// The text's distinct chars, sorted by code point; a char's id is its index.
/// In byte mode the symbols are the file's distinct bytes, each held as the
/// char of the same number (U+0000 to U+00FF), so every other part of the
/// program treats bytes as it treats chars.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocab {
    chars: Vec<char>,
    ids: HashMap<char, u32>,
    bytes: bool,
    /// The id of [`UNKNOWN`] when rare chars were folded into it: any char
    /// not in the vocabulary then reads as it.
    unknown: Option<u32>,
}

/// The symbol rare chars are folded into (`vocab_min_count`): U+FFFD, shown
/// as `�` in samples.
pub const UNKNOWN: char = '\u{FFFD}';

/// What the model's symbols are (the config's `vocab`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum VocabMode {
    /// Unicode chars of a UTF-8 text.
    #[default]
    Chars,
    /// Raw bytes of any file.
    Bytes,
}

crate::named_enum!(VocabMode, "vocab", { Chars => "chars", Bytes => "bytes" });

impl Vocab {
    pub fn from_chars(mut chars: Vec<char>) -> Self {
        chars.sort_unstable();
        chars.dedup();
        let ids = chars
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i as u32))
            .collect();
        Self {
            chars,
            ids,
            bytes: false,
            unknown: None,
        }
    }

    /// A char vocabulary of `kept` and [`UNKNOWN`], which every other char
    /// reads as.
    pub fn folding(mut kept: Vec<char>) -> Self {
        kept.push(UNKNOWN);
        let mut vocab = Self::from_chars(kept);
        vocab.unknown = vocab.id(UNKNOWN);
        vocab
    }

    /// The id every char outside the vocabulary reads as, if rare chars were
    /// folded.
    pub fn unknown(&self) -> Option<u32> {
        self.unknown
    }

    /// A byte-mode vocabulary of these byte values.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self {
            bytes: true,
            ..Self::from_chars(bytes.iter().map(|&b| char::from(b)).collect())
        }
    }

    /// Whether the symbols are bytes (else chars).
    pub fn is_bytes(&self) -> bool {
        self.bytes
    }

    pub fn mode(&self) -> VocabMode {
        if self.bytes {
            VocabMode::Bytes
        } else {
            VocabMode::Chars
        }
    }

    /// "char" or "byte", for messages and units.
    pub fn unit(&self) -> &'static str {
        if self.bytes { "byte" } else { "char" }
    }

    /// The bytes that ids stand for: UTF-8 of the chars, or the bytes themselves.
    pub fn decode(&self, ids: &[u32]) -> Vec<u8> {
        if self.bytes {
            ids.iter().map(|&i| self.char(i) as u32 as u8).collect()
        } else {
            ids.iter()
                .map(|&i| self.char(i))
                .collect::<String>()
                .into_bytes()
        }
    }

    /// Ids of `bytes` in byte mode, or of the UTF-8 text they hold; else the
    /// symbols that are not in the vocabulary (or a message for non-UTF-8).
    pub fn encode_bytes(&self, bytes: &[u8]) -> std::result::Result<Vec<u32>, Vec<char>> {
        if self.bytes {
            let text: String = bytes.iter().map(|&b| char::from(b)).collect();
            return self.encode(&text);
        }
        let text = String::from_utf8_lossy(bytes);
        self.encode(&text)
    }

    pub fn len(&self) -> usize {
        self.chars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// `c`'s own id, if it has one.
    pub fn id(&self, c: char) -> Option<u32> {
        self.ids.get(&c).copied()
    }

    /// The id `c` reads as: its own, else [`UNKNOWN`]'s when rare chars were
    /// folded, else none.
    pub fn lookup(&self, c: char) -> Option<u32> {
        self.id(c).or(self.unknown)
    }

    pub fn char(&self, id: u32) -> char {
        self.chars[id as usize]
    }

    /// Encodes `s` (a char outside the vocabulary reads as [`UNKNOWN`] when
    /// rare chars were folded), or names the chars that are not in it.
    pub fn encode(&self, s: &str) -> std::result::Result<Vec<u32>, Vec<char>> {
        let mut unknown: Vec<char> = s.chars().filter(|c| self.lookup(*c).is_none()).collect();
        if unknown.is_empty() {
            return Ok(s.chars().filter_map(|c| self.lookup(c)).collect());
        }
        unknown.sort_unstable();
        unknown.dedup();
        Err(unknown)
    }

    /// The vocabulary as a JSON list of one-char strings (the weights' `vocab`
    /// metadata); in byte mode `{"bytes": [byte values]}`; with rare chars
    /// folded `{"chars": [the list], "unknown": "\u{FFFD}"}`.
    pub fn to_json(&self) -> String {
        if self.bytes {
            let values: Vec<u32> = self.chars.iter().map(|&c| c as u32).collect();
            return serde_json::json!({ "bytes": values }).to_string();
        }
        let list: Vec<String> = self.chars.iter().map(|c| c.to_string()).collect();
        if self.unknown.is_some() {
            return serde_json::json!({ "chars": list, "unknown": UNKNOWN.to_string() })
                .to_string();
        }
        serde_json::to_string(&list).expect("a list of strings always serialises")
    }

    /// Reads the `vocab` metadata written by [`Vocab::to_json`] (or by numpy).
    pub fn from_json(json: &str) -> std::result::Result<Self, Problem> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Bytes {
            bytes: Vec<u8>,
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Folded {
            chars: Vec<String>,
            unknown: String,
        }
        let bad = |e: serde_json::Error| Problem::VocabNotAList(e.to_string());
        let trimmed = json.trim_start();
        if trimmed.starts_with('{') && trimmed.contains("\"bytes\"") {
            let b: Bytes = serde_json::from_str(json).map_err(bad)?;
            let vocab = Self::from_bytes(&b.bytes);
            if vocab.len() != b.bytes.len() || !b.bytes.is_sorted() {
                return Err(Problem::VocabUnsorted);
            }
            return Ok(vocab);
        }
        let (list, folded) = if trimmed.starts_with('{') {
            let f: Folded = serde_json::from_str(json).map_err(bad)?;
            if f.unknown != UNKNOWN.to_string() || !f.chars.contains(&f.unknown) {
                return Err(Problem::VocabUnknown(f.unknown));
            }
            (f.chars, true)
        } else {
            (
                serde_json::from_str::<Vec<String>>(json).map_err(bad)?,
                false,
            )
        };
        let mut chars = Vec::with_capacity(list.len());
        for s in &list {
            let mut it = s.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => chars.push(c),
                _ => return Err(Problem::VocabEntry(s.clone())),
            }
        }
        let mut vocab = Self::from_chars(chars.clone());
        if vocab.chars != chars {
            return Err(Problem::VocabUnsorted);
        }
        if folded {
            vocab.unknown = vocab.id(UNKNOWN);
        }
        Ok(vocab)
    }
}

/// A text's symbol ids, each held in the narrowest integer its vocabulary
/// fits: one byte per char up to 256 symbols, two up to 65,536; in memory,
/// or in a memory-mapped file when they do not fit (see
/// [`crate::text_file::Spill`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Ids {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    Mapped(Arc<MappedIds>),
}

/// Ids in a memory-mapped file, in native byte order, `width` bytes each:
/// the OS pages them in as the streams read them and out under memory
/// pressure. The file is unlinked once mapped, so nothing is left behind.
#[derive(Debug)]
pub struct MappedIds {
    pub map: memmap2::Mmap,
    pub width: usize,
}

impl PartialEq for MappedIds {
    fn eq(&self, other: &Self) -> bool {
        self.width == other.width && self.map[..] == other.map[..]
    }
}

/// A borrowed run of [`Ids`].
#[derive(Clone, Copy, Debug)]
pub enum IdsView<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
}

impl Ids {
    /// Bytes per id for a vocabulary of `symbols`.
    pub fn width(symbols: usize) -> usize {
        match symbols {
            0..=256 => 1,
            257..=65_536 => 2,
            _ => 4,
        }
    }

    /// Empty ids for a vocabulary of `symbols`, with room for `n`.
    pub fn with_capacity(symbols: usize, n: usize) -> Self {
        match Self::width(symbols) {
            1 => Self::U8(Vec::with_capacity(n)),
            2 => Self::U16(Vec::with_capacity(n)),
            _ => Self::U32(Vec::with_capacity(n)),
        }
    }

    /// Ids of a vocabulary of `symbols`.
    pub fn from_u32(symbols: usize, ids: impl IntoIterator<Item = u32>) -> Self {
        let mut out = Self::with_capacity(symbols, 0);
        ids.into_iter().for_each(|id| out.push(id));
        out
    }

    /// Appends `id`, which must fit the width (in-memory ids only: mapped
    /// ones are written whole before they are mapped).
    pub fn push(&mut self, id: u32) {
        match self {
            Self::U8(v) => v.push(id as u8),
            Self::U16(v) => v.push(id as u16),
            Self::U32(v) => v.push(id),
            Self::Mapped(_) => panic!("mapped ids are read-only"),
        }
    }

    pub fn len(&self) -> usize {
        self.view().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the ids take in memory (none when mapped: the OS holds what
    /// it can of the file).
    pub fn bytes(&self) -> usize {
        match self {
            Self::U8(v) => v.len(),
            Self::U16(v) => 2 * v.len(),
            Self::U32(v) => 4 * v.len(),
            Self::Mapped(_) => 0,
        }
    }

    /// Bytes per id.
    pub fn id_width(&self) -> usize {
        match self {
            Self::U8(_) => 1,
            Self::U16(_) => 2,
            Self::U32(_) => 4,
            Self::Mapped(m) => m.width,
        }
    }

    pub fn is_mapped(&self) -> bool {
        matches!(self, Self::Mapped(_))
    }

    pub fn view(&self) -> IdsView<'_> {
        match self {
            Self::U8(v) => IdsView::U8(v),
            Self::U16(v) => IdsView::U16(v),
            Self::U32(v) => IdsView::U32(v),
            Self::Mapped(m) => match m.width {
                1 => IdsView::U8(&m.map[..]),
                2 => IdsView::U16(bytemuck::cast_slice(&m.map[..])),
                _ => IdsView::U32(bytemuck::cast_slice(&m.map[..])),
            },
        }
    }
}

impl<'a> IdsView<'a> {
    pub fn len(&self) -> usize {
        match self {
            Self::U8(v) => v.len(),
            Self::U16(v) => v.len(),
            Self::U32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn get(&self, i: usize) -> u32 {
        match self {
            Self::U8(v) => v[i] as u32,
            Self::U16(v) => v[i] as u32,
            Self::U32(v) => v[i],
        }
    }

    pub fn slice(&self, r: std::ops::Range<usize>) -> IdsView<'a> {
        match *self {
            Self::U8(v) => Self::U8(&v[r]),
            Self::U16(v) => Self::U16(&v[r]),
            Self::U32(v) => Self::U32(&v[r]),
        }
    }

    pub fn to_vec(&self) -> Vec<u32> {
        (0..self.len()).map(|i| self.get(i)).collect()
    }
}

/// A text encoded against its own vocabulary (shared, never copied; see
/// [`crate::text_file`] for reading one from a file of any size).
#[derive(Clone, Debug)]
pub struct Text {
    pub vocab: Vocab,
    pub ids: Arc<Ids>,
}

impl Text {
    /// Reads a UTF-8 file (see [`Text::load_as`]).
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_as(path, VocabMode::Chars)
    }

    /// Reads a file as UTF-8 chars or as raw bytes, every char its own
    /// symbol (see [`crate::text_file::read`] for folding and progress).
    pub fn load_as(path: &Path, mode: VocabMode) -> Result<Self> {
        let options = crate::text_file::ReadOptions {
            mode,
            ..Default::default()
        };
        Ok(crate::text_file::read(path, &options, &mut |_, _| {})?.0)
    }

    /// A text of raw bytes (byte mode).
    pub fn encode_bytes(bytes: &[u8]) -> Self {
        let mut seen = [false; 256];
        bytes.iter().for_each(|&b| seen[b as usize] = true);
        let present: Vec<u8> = (0..=255u8).filter(|&b| seen[b as usize]).collect();
        let vocab = Vocab::from_bytes(&present);
        let ids = Ids::from_u32(
            vocab.len(),
            bytes.iter().map(|&b| vocab.ids[&char::from(b)]),
        );
        Self {
            vocab,
            ids: Arc::new(ids),
        }
    }

    pub fn encode(text: &str) -> Self {
        // Collect distinct chars first (cheap for long texts), then encode.
        let mut seen = std::collections::HashSet::new();
        for c in text.chars() {
            seen.insert(c);
        }
        let vocab = Vocab::from_chars(seen.into_iter().collect());
        let ids = Ids::from_u32(vocab.len(), text.chars().map(|c| vocab.ids[&c]));
        Self {
            vocab,
            ids: Arc::new(ids),
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// One chunk of B streams × T steps, on the host, time-major: element t*B + b
/// is stream b's char at step t.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    pub inputs: Vec<u32>,
    pub targets: Vec<u32>,
    pub steps: usize,
    pub streams: usize,
}

impl Chunk {
    /// Inputs as a tensor [T*B] and targets as [T*B, 1], ready for the model.
    pub fn to_device(&self, device: &Device) -> (Tensor<1, Int>, Tensor<2, Int>) {
        let n = self.steps * self.streams;
        let ints = |v: &[u32]| v.iter().map(|&i| i as i64).collect::<Vec<_>>();
        let inputs = Tensor::from_data(TensorData::new(ints(&self.inputs), [n]), device);
        let targets = Tensor::from_data(TensorData::new(ints(&self.targets), [n, 1]), device);
        (inputs, targets)
    }

    /// Stream b's inputs and targets alone, as a one-stream chunk.
    pub fn stream(&self, b: usize) -> Chunk {
        self.streams_in(b..b + 1)
    }

    /// Streams `r`'s inputs and targets, as a chunk of `r.len()` streams
    /// (still time-major).
    pub fn streams_in(&self, r: std::ops::Range<usize>) -> Chunk {
        let pick = |v: &[u32]| {
            v.chunks(self.streams)
                .flat_map(|step| step[r.clone()].iter().copied())
                .collect()
        };
        Chunk {
            inputs: pick(&self.inputs),
            targets: pick(&self.targets),
            steps: self.steps,
            streams: r.len(),
        }
    }
}

/// The streams' shared data pointer over B equal segments of the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Streams {
    pub seq_length: usize,
    pub batch_size: usize,
    /// Length of each stream's segment (text length / B, rounded down).
    pub segment: usize,
}

impl Streams {
    /// Checks that every segment holds at least one chunk (seq_length + 2 chars).
    pub fn new(text_len: usize, seq_length: usize, batch_size: usize, path: &Path) -> Result<Self> {
        let needed = batch_size * (seq_length + 2);
        if seq_length == 0 || batch_size == 0 || text_len < needed {
            return Err(Error::TextTooShort {
                path: path.to_path_buf(),
                chars: text_len,
                needed,
                streams: batch_size,
                seq_length,
            });
        }
        Ok(Self {
            seq_length,
            batch_size,
            segment: text_len / batch_size,
        })
    }

    /// The original's wrap rule: true when iteration `iter` must start over
    /// from the segment starts with a zero hidden state.
    pub fn must_reset(&self, iter: u64, p: usize) -> bool {
        iter == 0 || p + self.seq_length + 1 >= self.segment
    }

    /// The chunk at data pointer `p` (relative to each segment's start).
    pub fn chunk(&self, ids: IdsView, p: usize) -> Chunk {
        let (t_len, b_len) = (self.seq_length, self.batch_size);
        let mut inputs = Vec::with_capacity(t_len * b_len);
        let mut targets = Vec::with_capacity(t_len * b_len);
        for t in 0..t_len {
            for b in 0..b_len {
                let at = b * self.segment + p + t;
                inputs.push(ids.get(at));
                targets.push(ids.get(at + 1));
            }
        }
        Chunk {
            inputs,
            targets,
            steps: t_len,
            streams: b_len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocab_is_sorted_by_code_point_and_round_trips_json() {
        let text = Text::encode("hello, wörld é");
        let chars: String = text.vocab.chars().iter().collect();
        assert_eq!(chars, " ,dehlorwéö");
        assert_eq!(Vocab::from_json(&text.vocab.to_json()).unwrap(), text.vocab);
        assert_eq!(text.vocab.encode("hex"), Err(vec!['x']));
        assert!(matches!(*text.ids, Ids::U8(_)));
    }

    #[test]
    fn a_folded_vocabulary_reads_unseen_chars_as_unknown_and_round_trips() {
        let v = Vocab::folding(vec!['b', 'a']);
        assert_eq!(v.chars(), &['a', 'b', UNKNOWN]);
        assert_eq!(v.encode("abz\u{1F600}"), Ok(vec![0, 1, 2, 2]));
        assert_eq!(v.id('z'), None);
        let json = v.to_json();
        let u = UNKNOWN;
        assert_eq!(
            json,
            format!(r#"{{"chars":["a","b","{u}"],"unknown":"{u}"}}"#)
        );
        assert_eq!(Vocab::from_json(&json).unwrap(), v);
        // A plain list holding U+FFFD is an ordinary char, as before.
        let plain = Vocab::from_json(&format!(r#"["a","{u}"]"#)).unwrap();
        assert_eq!((plain.unknown(), plain.encode("z")), (None, Err(vec!['z'])));
        for bad in [
            format!(r#"{{"chars":["a","b"],"unknown":"{u}"}}"#),
            r#"{"chars":["a","?"],"unknown":"?"}"#.to_string(),
            format!(r#"{{"chars":["a","{u}"],"unknown":"{u}","more":1}}"#),
        ] {
            assert!(Vocab::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_take_the_width_their_vocabulary_needs() {
        assert_eq!(
            (Ids::width(256), Ids::width(257), Ids::width(65_537)),
            (1, 2, 4)
        );
        let wide: String = (0..300u32).filter_map(char::from_u32).collect();
        let text = Text::encode(&wide);
        assert!(matches!(*text.ids, Ids::U16(_)));
        assert_eq!(text.ids.bytes(), 2 * text.len());
        assert_eq!(text.ids.view().slice(5..8).to_vec(), vec![5, 6, 7]);
    }

    #[test]
    fn one_stream_walks_like_the_original() {
        let text = Text::encode("abcdefghij"); // 10 chars, T = 3
        let s = Streams::new(text.len(), 3, 1, Path::new("t")).unwrap();
        let c = s.chunk(text.ids.view(), 3);
        assert_eq!(c.inputs, vec![3, 4, 5]);
        assert_eq!(c.targets, vec![4, 5, 6]);
        // p + T + 1 >= len: 6 + 4 = 10 resets, 3 + 4 = 7 does not.
        assert!(s.must_reset(5, 6) && !s.must_reset(5, 3) && s.must_reset(0, 3));
    }

    #[test]
    fn streams_cut_equal_segments() {
        let text = Text::encode("abcdefghijklmnopqrstu"); // 21 chars, B = 2: segments of 10
        let s = Streams::new(text.len(), 2, 2, Path::new("t")).unwrap();
        let c = s.chunk(text.ids.view(), 1);
        // time-major: (t0,b0) (t0,b1) (t1,b0) (t1,b1)
        assert_eq!(c.inputs, vec![1, 11, 2, 12]);
        assert_eq!(c.stream(1).targets, vec![12, 13]);
        assert_eq!(c.streams_in(0..2).inputs, c.inputs);
        assert!(Streams::new(7, 2, 2, Path::new("t")).is_err());
    }
}
