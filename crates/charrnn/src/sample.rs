//! Drawing text from the model, as the original's `sample`: feed a seed char,
//! draw the next from softmax(y / temperature), feed it back. Temperature 1 is
//! the original; 0 takes the most likely char. The draw happens on the host in
//! f64 from the logits, with a seeded ChaCha RNG that checkpoints can save.

use burn::tensor::{Int, Tensor, TensorData};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::model::Rnn;

/// Picks an index from `logits` at `temperature` (0 = argmax).
pub fn pick(logits: &[f64], temperature: f64, rng: &mut ChaCha8Rng) -> usize {
    let argmax = || {
        let mut best = 0;
        for (i, &l) in logits.iter().enumerate() {
            if l > logits[best] {
                best = i;
            }
        }
        best
    };
    if temperature == 0.0 {
        return argmax();
    }
    let probs = softmax(logits, temperature);
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (i, p) in probs.iter().enumerate() {
        acc += p;
        if u < acc {
            return i;
        }
    }
    // u fell past the rounded total: take the last char with any mass.
    probs.iter().rposition(|&p| p > 0.0).unwrap_or_else(argmax)
}

/// softmax(logits / temperature), max-shifted for range.
pub fn softmax(logits: &[f64], temperature: f64) -> Vec<f64> {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = logits.iter().map(|l| ((l - max) / temperature).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.into_iter().map(|x| x / sum).collect()
}

/// Runs `ids` through the model from hidden state `h` [1,H]; returns the state after them.
pub fn advance(model: &Rnn, mut h: Tensor<2>, ids: &[u32]) -> Tensor<2> {
    for &id in ids {
        h = model.step(one_id(id, &h), h).0;
    }
    h
}

fn one_id(id: u32, like: &Tensor<2>) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(vec![id as i64], [1]), &like.device())
}

/// Draws `n` chars: the first input is `seed`, from hidden state `h` [1,H].
/// `emit` sees each id as it is drawn (for streaming output).
pub fn sample(
    model: &Rnn,
    mut h: Tensor<2>,
    seed: u32,
    n: usize,
    temperature: f64,
    rng: &mut ChaCha8Rng,
    mut emit: impl FnMut(u32),
) -> Vec<u32> {
    let mut x = seed;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let (next_h, logits) = model.step(one_id(x, &h), h);
        h = next_h;
        let logits: Vec<f64> = logits.into_data().iter::<f64>().collect();
        x = pick(&logits, temperature, rng) as u32;
        emit(x);
        out.push(x);
    }
    out
}
