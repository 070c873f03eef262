//! Drawing text from the model, as the original's `sample`: feed a seed char,
//! draw the next from softmax(y / temperature), feed it back. Temperature 1 is
//! the original; 0 takes the most likely char. The draw happens on the host in
//! f64 from the logits, with a seeded ChaCha RNG that checkpoints can save.

use burn::tensor::{Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::Vocab;
use crate::models::{Network, State};

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
    let e: Vec<f64> = logits
        .iter()
        .map(|l| ((l - max) / temperature).exp())
        .collect();
    let sum: f64 = e.iter().sum();
    e.into_iter().map(|x| x / sum).collect()
}

/// Runs `ids` through the model from `state` (one stream); returns the state after them.
pub fn advance(model: &Network, mut state: State, ids: &[u32]) -> State {
    for &id in ids {
        state = model.step(one_id(id, &state), &state).0;
    }
    state
}

fn one_id(id: u32, like: &State) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(vec![id as i64], [1]), &like.0[0].device())
}

/// Draws up to `n` chars: the first input is `seed`, from `state` (one
/// stream). `emit` sees each id as it is drawn (for streaming output) and
/// returns whether to go on (a stop string, a client gone).
pub fn sample(
    model: &Network,
    mut state: State,
    seed: u32,
    n: usize,
    temperature: f64,
    rng: &mut ChaCha8Rng,
    mut emit: impl FnMut(u32) -> bool,
) -> Vec<u32> {
    let mut x = seed;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let (next, logits) = model.step(one_id(x, &state), &state);
        state = next;
        let logits: Vec<f64> = logits.into_data().iter::<f64>().collect();
        x = pick(&logits, temperature, rng) as u32;
        out.push(x);
        if !emit(x) {
            break;
        }
    }
    out
}

/// What `charrnn sample` draws (and the server, for the same request): the
/// prime's ids fed from a zero state, all but the last; the last (a newline,
/// or id 0, without a prime) is the first input; up to `n` chars at
/// `temperature` from a generator seeded with `seed`.
pub fn from_prime(
    model: &Network,
    vocab: &Vocab,
    prime: &[u32],
    n: usize,
    temperature: f64,
    seed: u64,
    emit: impl FnMut(u32) -> bool,
) -> Vec<u32> {
    let inputs = start_inputs(vocab, prime);
    let (first, feed) = inputs.split_last().expect("at least one input");
    let state = advance(model, model.zero_state(1), feed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    sample(model, state, *first, n, temperature, &mut rng, emit)
}

/// What a sample reads before its first draw: the prime's ids, or without
/// a prime a newline (the first symbol if the vocabulary has none). The
/// draw starts from the logits after the last of them.
pub fn start_inputs(vocab: &Vocab, prime: &[u32]) -> Vec<u32> {
    if prime.is_empty() {
        vec![vocab.id('\n').unwrap_or(0)]
    } else {
        prime.to_vec()
    }
}

/// What the model predicts after each char of `ids` (one stream from a
/// zero state): log-probabilities [len][V] of the next char, in f64 from the
/// logits (row i scores char i + 1), and, when `layer` is given, that
/// layer's hidden state h after each char ([len][H]).
pub fn next_log_probs(
    model: &Network,
    ids: &[u32],
    layer: Option<usize>,
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let mut state = model.zero_state(1);
    let parts = model.kind.state_parts().len();
    let (mut rows, mut hidden) = (Vec::with_capacity(ids.len()), Vec::new());
    for &id in ids {
        let (next, logits) = model.step(one_id(id, &state), &state);
        state = next;
        let logits: Vec<f64> = logits.into_data().iter::<f64>().collect();
        let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let log_sum = max + logits.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
        rows.push(logits.iter().map(|l| l - log_sum).collect());
        if let Some(k) = layer {
            hidden.push(state.0[k * parts].to_data().iter::<f64>().collect());
        }
    }
    (rows, hidden)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperature_zero_is_argmax() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for logits in [
            vec![0.1f64, 3.0, -2.0],
            vec![5.0, 4.9, 5.1, 0.0],
            vec![-1.0],
        ] {
            let best = (0..logits.len())
                .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
                .unwrap();
            assert_eq!(pick(&logits, 0.0, &mut rng), best);
        }
    }

    /// Temperature 1 draws follow softmax(logits): a chi-square test with a
    /// fixed seed (the statistic is compared with the 99.9% quantile).
    #[test]
    fn temperature_one_follows_the_softmax() {
        let logits = [1.0, 0.0, -1.0, 2.0, 0.5];
        let probs = softmax(&logits, 1.0);
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let n = 200_000;
        let mut counts = [0usize; 5];
        for _ in 0..n {
            counts[pick(&logits, 1.0, &mut rng)] += 1;
        }
        let chi2: f64 = counts
            .iter()
            .zip(&probs)
            .map(|(&c, &p)| (c as f64 - n as f64 * p).powi(2) / (n as f64 * p))
            .sum();
        println!(
            "counts {counts:?}, expected {:?}, chi2 {chi2:.2}",
            probs.iter().map(|p| p * n as f64).collect::<Vec<_>>()
        );
        assert!(chi2 < 18.47, "chi-square {chi2} with 4 degrees of freedom"); // 99.9% quantile
        // A lower temperature sharpens: the top char gets more mass.
        assert!(softmax(&logits, 0.5)[3] > probs[3]);
    }

    #[test]
    fn softmax_sums_to_one_and_matches_the_formula() {
        let p = softmax(&[1.0, 2.0, 3.0], 1.0);
        let e: Vec<f64> = [1.0f64, 2.0, 3.0].iter().map(|x| x.exp()).collect();
        let s: f64 = e.iter().sum();
        for (a, b) in p.iter().zip(e.iter().map(|x| x / s)) {
            assert!((a - b).abs() < 1e-15);
        }
    }
}
