//! Hostile files: valid `weights.safetensors` (both layouts),
//! `checkpoint.safetensors` and `config.toml` files mutated thousands of times
//! — truncated at every kind of boundary, bytes flipped, headers edited to
//! declare huge or negative-looking shapes, other dtypes, offsets past the end
//! or overlapping, non-UTF-8 or enormous metadata, vocabularies with repeats,
//! multi-char entries or the wrong size. Every load must end in an `Err` of
//! one line or in a model that is valid in every respect (it builds and
//! runs), never a panic, a hang, or an allocation beyond what the file's own
//! size justifies (a counting allocator measures each load).
//!
//! `cargo test` runs CASES mutations of each file; more with
//! `CHARRNN_HOSTILE_CASES=100000 cargo test --test hostile -- --nocapture`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::tensor::{Device, Int, Tensor, TensorData};
use charrnn::Precision;
use charrnn::checkpoint::Checkpoint;
use charrnn::config::TrainConfig;
use charrnn::data::Vocab;
use charrnn::models::{ModelKind, ModelSpec, Network, State, layout};
use charrnn::train::Trainer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

const CASES: usize = 1500;

/// Counts live heap bytes and their peak, so a test can bound what a load took.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f`, returning its result and the most heap it held above the start.
fn measured<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = LIVE.load(Ordering::Relaxed);
    PEAK.store(start, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(start))
}

fn cases() -> usize {
    std::env::var("CHARRNN_HOSTILE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(CASES)
}

fn vocab() -> Vocab {
    Vocab::from_chars("abcdefgh \n.".chars().collect())
}

fn weights_file(spec: &ModelSpec) -> Vec<u8> {
    let w = layout::random(spec, 3, Precision::F32);
    charrnn::weights::to_bytes(&w, &vocab())
}

/// A real checkpoint: two steps of a 2-layer LSTM with dropout under Adam.
fn checkpoint_file() -> Vec<u8> {
    let text = charrnn::data::Text::encode(&"abc defg.\nhah bad cab.\n".repeat(20));
    let config = TrainConfig {
        model: ModelKind::Lstm,
        layers: 2,
        hidden_size: 6,
        batch_size: 2,
        seq_length: 5,
        dropout: 0.2,
        optimizer: charrnn::optim::OptimizerKind::Adam,
        ..Default::default()
    };
    let device = Device::flex().autodiff();
    let spec = config.spec(text.vocab.len());
    let net = Network::init(&spec, 1, Precision::F32, &device);
    let config = TrainConfig {
        learning_rate: 0.01,
        data: "t".into(),
        ..config
    };
    let mut t = Trainer::new(net, &config, &text, &device).unwrap();
    t.step(None).unwrap();
    t.step(None).unwrap();
    let ck = t.checkpoint().unwrap();
    let dir = tempfile::tempdir().unwrap();
    ck.save(dir.path()).unwrap();
    std::fs::read(dir.path().join(charrnn::checkpoint::FILE_NAME)).unwrap()
}

/// The header's JSON and the data after it, if the file parses that far.
fn split(bytes: &[u8]) -> Option<(BTreeMap<String, Value>, Vec<u8>)> {
    let n = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?) as usize;
    let header = serde_json::from_slice(bytes.get(8..8 + n)?).ok()?;
    Some((header, bytes[8 + n..].to_vec()))
}

fn join(header: &BTreeMap<String, Value>, data: &[u8]) -> Vec<u8> {
    let h = serde_json::to_vec(header).unwrap();
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(data);
    out
}

/// One mutation of a safetensors file, and what it was.
fn mutate_safetensors(bytes: &[u8], rng: &mut ChaCha8Rng) -> (Vec<u8>, String) {
    let (header, data) = split(bytes).expect("a valid file");
    let header_end = bytes.len() - data.len();
    let tensors: Vec<String> = header
        .keys()
        .filter(|k| *k != "__metadata__")
        .cloned()
        .collect();
    let pick = |rng: &mut ChaCha8Rng| tensors[rng.random_range(0..tensors.len())].clone();
    match rng.random_range(0..12) {
        0 => {
            // Truncation at a boundary: in the length prefix, the header, its
            // end, a tensor's start or end, or anywhere.
            let mut cuts = vec![0, 4, 7, 8, 9, header_end - 1, header_end, bytes.len() - 1];
            for v in header.values() {
                if let Some(o) = v.get("data_offsets").and_then(Value::as_array) {
                    for x in o {
                        cuts.push(header_end + x.as_u64().unwrap() as usize);
                    }
                }
            }
            cuts.push(rng.random_range(0..bytes.len()));
            let at = cuts[rng.random_range(0..cuts.len())].min(bytes.len() - 1);
            (bytes[..at].to_vec(), format!("truncated at {at}"))
        }
        1 | 2 => {
            let mut b = bytes.to_vec();
            let n = rng.random_range(1..=8);
            for _ in 0..n {
                let i = rng.random_range(0..b.len());
                b[i] ^= 1 << rng.random_range(0..8);
            }
            (b, format!("{n} bits flipped"))
        }
        3 => {
            let mut b = bytes.to_vec();
            let i = rng.random_range(0..8.min(b.len()));
            b[i] = rng.random();
            (b, "header length byte changed".into())
        }
        4 => {
            let mut h = header.clone();
            let name = pick(rng);
            let shapes: [Value; 7] = [
                serde_json::json!([1u64 << 40, 1u64 << 40]),
                serde_json::json!([u64::MAX]),
                serde_json::json!([1u64 << 63, 2]),
                serde_json::json!([0]),
                serde_json::json!([3, 3, 3]),
                serde_json::json!([]),
                serde_json::json!([-1, 4]),
            ];
            let s = shapes[rng.random_range(0..shapes.len())].clone();
            h.get_mut(&name).unwrap()["shape"] = s.clone();
            (join(&h, &data), format!("{name} shape {s}"))
        }
        5 => {
            let mut h = header.clone();
            let name = pick(rng);
            let dtypes = [
                "F16", "BF16", "I64", "U8", "BOOL", "F64", "F32", "C64", "XYZ",
            ];
            let d = dtypes[rng.random_range(0..dtypes.len())];
            h.get_mut(&name).unwrap()["dtype"] = d.into();
            (join(&h, &data), format!("{name} dtype {d}"))
        }
        6 => {
            let mut h = header.clone();
            let name = pick(rng);
            let len = data.len() as u64;
            let offsets: [[u64; 2]; 5] = [
                [len, len + 64],
                [0, len + 1],
                [8, 4],
                [0, 8],
                [u64::MAX - 4, u64::MAX],
            ];
            let o = offsets[rng.random_range(0..offsets.len())];
            h.get_mut(&name).unwrap()["data_offsets"] = serde_json::json!(o);
            (join(&h, &data), format!("{name} offsets {o:?}"))
        }
        7 => {
            let mut h = header.clone();
            let name = pick(rng);
            h.remove(&name);
            if rng.random() {
                let v = serde_json::json!({"dtype": "F32", "shape": [1], "data_offsets": [0, 4]});
                h.insert(format!("{name}.extra"), v);
            }
            (join(&h, &data), format!("{name} removed or renamed"))
        }
        8..=10 => {
            let mut h = header.clone();
            let meta = h
                .entry("__metadata__".into())
                .or_insert_with(|| serde_json::json!({}));
            // A plain list, or (rare chars folded) {"chars": [...], "unknown": "\u{FFFD}"}.
            let parsed: Value = meta
                .get("vocab")
                .and_then(Value::as_str)
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default();
            let folded = parsed.is_object();
            let list = if folded { &parsed["chars"] } else { &parsed };
            let vocab: Vec<String> = serde_json::from_value(list.clone()).unwrap_or_default();
            let mut v = vocab.clone();
            if folded && rng.random_range(0..3) == 0 {
                let mut o = parsed.clone();
                let what = match rng.random_range(0..4) {
                    0 => {
                        o["unknown"] = "a".into();
                        "folded: another unknown symbol"
                    }
                    1 => {
                        o["chars"] = serde_json::json!(&v[..v.len() - 1]);
                        "folded: the unknown symbol missing from the list"
                    }
                    2 => {
                        o["extra"] = 1.into();
                        "folded: an unknown field"
                    }
                    _ => {
                        o["unknown"] = serde_json::json!(["\u{FFFD}"]);
                        "folded: unknown not a string"
                    }
                };
                meta["vocab"] = o.to_string().into();
                return (join(&h, &data), format!("vocabulary: {what}"));
            }
            let what = match rng.random_range(0..7) {
                0 => {
                    v.push(v[0].clone());
                    "a repeated char"
                }
                1 => {
                    v[1] = "ab".into();
                    "a two-char entry"
                }
                2 => {
                    v.pop();
                    "one char fewer"
                }
                3 => {
                    v.push("~".into());
                    "one char more"
                }
                4 => {
                    v.reverse();
                    "unsorted"
                }
                5 => {
                    meta["vocab"] = "x".repeat(1 << 20).into();
                    "1 MB of junk"
                }
                _ => {
                    meta["vocab"] = "[\"a\", ".into();
                    "not JSON"
                }
            };
            if !what.contains("junk") && what != "not JSON" {
                let mut o = parsed.clone();
                meta["vocab"] = match folded {
                    true => {
                        o["chars"] = serde_json::json!(v);
                        o.to_string()
                    }
                    false => serde_json::to_string(&v).unwrap(),
                }
                .into();
            }
            (join(&h, &data), format!("vocabulary: {what}"))
        }
        _ => {
            // Non-UTF-8 bytes inside the header's JSON.
            let mut b = bytes.to_vec();
            let i = rng.random_range(8..header_end);
            b[i] = 0xff;
            (b, format!("byte {i} of the header is 0xff"))
        }
    }
}

/// A weights file's load, end to end: what it accepts must build and run.
fn load_weights(bytes: &[u8], device: &Device) -> Result<(), String> {
    let (spec, w, vocab) =
        charrnn::weights::checked_from_bytes(bytes).map_err(|e| e.to_string())?;
    assert_eq!(spec.vocab, vocab.len());
    let net = Network::from_weights(&spec, &w, device);
    let state = net.zero_state(1);
    let id: Tensor<1, Int> = Tensor::from_data(TensorData::new(vec![0i64], [1]), device);
    let (next, logits) = net.step(id, &state);
    assert_eq!(logits.dims(), [1, spec.vocab]);
    assert_eq!(next.0.len(), spec.state_names().len());
    Ok(())
}

/// A checkpoint's load as `--resume` does it: weights, state, optimizer.
fn load_checkpoint(bytes: &[u8], device: &Device) -> Result<(), String> {
    let ck = Checkpoint::from_bytes(bytes).map_err(|e| e.to_string())?;
    let spec = ck.config.spec(ck.vocab.len());
    let device = device.clone().autodiff();
    let net = Network::load(&spec, &ck.weights, &device).map_err(|e| e.to_string())?;
    let state = State::from_data(&ck.state, &device);
    assert_eq!(state.0.len(), net.state_names().len());
    ck.config
        .optimizer_settings()
        .restore(ck.optimizer_bytes(), &net)
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn load_config(bytes: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    let c = TrainConfig::parse(text).map_err(|e| e.to_string())?;
    c.validate().map_err(|e| e.to_string())
}

/// Mutates `valid` `n` times with `mutate`, loads each, and checks the outcome.
fn hammer(
    what: &str,
    valid: &[u8],
    n: usize,
    mut mutate: impl FnMut(&[u8], &mut ChaCha8Rng) -> (Vec<u8>, String),
    load: impl Fn(&[u8]) -> Result<(), String>,
) {
    load(valid).unwrap_or_else(|e| panic!("{what}: the valid file loads: {e}"));
    let mut rng = ChaCha8Rng::seed_from_u64(what.len() as u64);
    let (mut ok, mut refused, mut worst_ratio, mut worst_peak) = (0, 0, 0.0f64, 0usize);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for case in 0..n {
        let (bytes, how) = mutate(valid, &mut rng);
        let (result, peak) = measured(|| catch_unwind(AssertUnwindSafe(|| load(&bytes))));
        let result = result.unwrap_or_else(|_| panic!("{what} case {case} ({how}): panicked"));
        // What a load holds: the file, copies of its tensors on the host and
        // on the device, and a fixed allowance for Burn's own structures.
        let allowed = 16 * bytes.len() + (8 << 20);
        assert!(
            peak <= allowed,
            "{what} case {case} ({how}): allocated {peak} bytes for a {}-byte file",
            bytes.len()
        );
        worst_ratio = worst_ratio.max(peak as f64 / bytes.len().max(1) as f64);
        worst_peak = worst_peak.max(peak);
        match result {
            Ok(()) => ok += 1,
            Err(e) => {
                assert!(
                    !e.contains('\n'),
                    "{what} case {case} ({how}): two lines: {e}"
                );
                assert!(!e.is_empty());
                refused += 1;
                let key: String = e
                    .split(|c: char| c.is_ascii_digit())
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(40)
                    .collect();
                *reasons.entry(key).or_default() += 1;
            }
        }
    }
    println!(
        "{what} ({} bytes): {n} mutations, {refused} refused in one line, {ok} loaded as valid models; peak heap of a load at most {worst_peak} bytes, {worst_ratio:.1}x its file's size",
        valid.len()
    );
    for (r, count) in &reasons {
        println!("  {count:>6}  {r}");
    }
}

#[test]
fn hostile_files_are_refused_in_one_line_or_load_as_valid_models() {
    let device = Device::flex();
    // Warm the device up outside the measurements.
    let lstm = weights_file(&ModelSpec::new(ModelKind::Lstm, 2, vocab().len(), 5));
    load_weights(&lstm, &device).unwrap();
    let n = cases();
    hammer(
        "weights (LSTM, PyTorch layout)",
        &lstm,
        n,
        mutate_safetensors,
        |b| load_weights(b, &device),
    );
    let original = weights_file(&ModelSpec::new(ModelKind::Rnn, 1, vocab().len(), 7));
    hammer(
        "weights (min-char-rnn layout)",
        &original,
        n,
        mutate_safetensors,
        |b| load_weights(b, &device),
    );
    let folded = {
        let spec = ModelSpec::new(ModelKind::Gru, 1, vocab().len() + 1, 4);
        let w = layout::random(&spec, 5, Precision::F32);
        let folded = Vocab::folding(vocab().chars().to_vec());
        charrnn::weights::to_bytes(&w, &folded)
    };
    load_weights(&folded, &device).unwrap();
    hammer(
        "weights (GRU, rare chars folded)",
        &folded,
        n,
        mutate_safetensors,
        |b| load_weights(b, &device),
    );
    let ck = checkpoint_file();
    hammer("checkpoint", &ck, n, mutate_safetensors, |b| {
        load_checkpoint(b, &device)
    });
    let config = TrainConfig {
        model: ModelKind::Gru,
        layers: 2,
        dropout: 0.25,
        ..Default::default()
    }
    .to_toml()
    .into_bytes();
    hammer(
        "config.toml",
        &config,
        n,
        |valid, rng| {
            let mut b = valid.to_vec();
            match rng.random_range(0..4) {
                0 => {
                    let at = rng.random_range(0..b.len());
                    b.truncate(at);
                    (b, format!("truncated at {at}"))
                }
                1 => {
                    let i = rng.random_range(0..b.len());
                    b[i] = rng.random();
                    (b, format!("byte {i} changed"))
                }
                2 => {
                    let keys = [
                        "hidden_size",
                        "layers",
                        "seq_length",
                        "batch_size",
                        "dropout",
                        "learning_rate",
                    ];
                    let k = keys[rng.random_range(0..keys.len())];
                    let values = [
                        "-1",
                        "1e400",
                        "18446744073709551616",
                        "0",
                        "nan",
                        "\"x\"",
                        "99999999999",
                    ];
                    let v = values[rng.random_range(0..values.len())];
                    let text = String::from_utf8(b).unwrap();
                    let text: String = text
                        .lines()
                        .map(|l| {
                            if l.starts_with(&format!("{k} =")) {
                                format!("{k} = {v}")
                            } else {
                                l.to_string()
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("\n");
                    (text.into_bytes(), format!("{k} = {v}"))
                }
                _ => {
                    b.extend_from_slice(b"\nmodel = \"lstm\"\n");
                    (b, "a key twice".into())
                }
            }
        },
        load_config,
    );
}
