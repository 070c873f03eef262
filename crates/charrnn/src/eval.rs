//! Evaluation: a model's loss on a text in nats per char (and bits), with no
//! autodiff and no dropout, the state carried from chunk to chunk as in
//! training. [`evaluate`] runs B streams over a text in memory (the
//! validation split); [`Evaluator`] takes a text piece by piece in one stream,
//! so a file of any size can be evaluated (`charrnn eval`).

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::data::IdsView;
use crate::models::{Network, State};

/// A loss over a text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Loss {
    /// Σ −ln p(char) over every predicted char.
    pub nats: f64,
    /// Chars predicted.
    pub chars: u64,
}

impl Loss {
    pub fn nats_per_char(&self) -> f64 {
        self.nats / self.chars.max(1) as f64
    }

    pub fn bits_per_char(&self) -> f64 {
        self.nats_per_char() / std::f64::consts::LN_2
    }
}

/// Σ −ln p over one time-major chunk of `streams` streams, and the state after it.
fn chunk_nats(
    model: &Network,
    inputs: Vec<i64>,
    targets: Vec<i64>,
    streams: usize,
    state: &State,
    device: &Device,
) -> (f64, State) {
    let n = inputs.len();
    let inputs: Tensor<1, Int> = Tensor::from_data(TensorData::new(inputs, [n]), device);
    let targets: Tensor<2, Int> = Tensor::from_data(TensorData::new(targets, [n, 1]), device);
    let (loss, state) = model.forward(inputs, targets, state, None);
    // The loss is the mean over streams of each stream's sum.
    (loss.into_scalar::<f64>() * streams as f64, state)
}

/// The loss of `model` (on a plain device) on `ids`, cut into `streams`
/// equal segments read side by side, `seq_length` chars at a time, from a
/// zero state. Each segment predicts its chars after the first; the few
/// chars past the last whole segment are not read.
pub fn evaluate(model: &Network, ids: IdsView, streams: usize, seq_length: usize) -> Loss {
    let segment = ids.len() / streams;
    let device = model.device();
    let mut state = model.zero_state(streams);
    let mut nats = 0.0;
    let mut p = 0;
    while p + 1 < segment {
        let steps = seq_length.min(segment - 1 - p);
        let mut inputs = Vec::with_capacity(steps * streams);
        let mut targets = Vec::with_capacity(steps * streams);
        for t in 0..steps {
            for b in 0..streams {
                let at = b * segment + p + t;
                inputs.push(ids.get(at) as i64);
                targets.push(ids.get(at + 1) as i64);
            }
        }
        let (chunk, next) = chunk_nats(model, inputs, targets, streams, &state, &device);
        nats += chunk;
        state = next;
        p += steps;
    }
    Loss {
        nats,
        chars: (streams * segment.saturating_sub(1)) as u64,
    }
}

/// One stream over a text that arrives in pieces: each piece's chars are
/// predicted from the state the previous pieces left.
pub struct Evaluator<'a> {
    model: &'a Network,
    /// The model's device, where each chunk's ids go.
    device: Device,
    seq_length: usize,
    state: State,
    /// The last char seen: the next piece's first input.
    last: Option<u32>,
    pending: Vec<u32>,
    pub loss: Loss,
}

impl<'a> Evaluator<'a> {
    pub fn new(model: &'a Network, seq_length: usize) -> Self {
        Self {
            model,
            device: model.device(),
            seq_length,
            state: model.zero_state(1),
            last: None,
            pending: Vec::new(),
            loss: Loss {
                nats: 0.0,
                chars: 0,
            },
        }
    }

    /// Takes the next chars; runs every whole chunk they complete.
    pub fn feed(&mut self, ids: &[u32]) {
        self.pending.extend_from_slice(ids);
        while self.pending.len() > self.seq_length {
            self.run(self.seq_length);
        }
    }

    /// Runs what is left and returns the loss over everything fed.
    pub fn finish(mut self) -> Loss {
        if self.pending.len() > 1 || (self.last.is_some() && !self.pending.is_empty()) {
            let n = self.pending.len();
            self.run(n);
        }
        self.loss
    }

    /// Predicts the first `n` pending chars (from the last one seen).
    fn run(&mut self, n: usize) {
        let mut seq: Vec<u32> = self.last.into_iter().collect();
        seq.extend(self.pending.drain(..n));
        if seq.len() < 2 {
            self.last = seq.last().copied();
            return;
        }
        let inputs = seq[..seq.len() - 1].iter().map(|&i| i as i64).collect();
        let targets = seq[1..].iter().map(|&i| i as i64).collect();
        let (nats, state) = chunk_nats(self.model, inputs, targets, 1, &self.state, &self.device);
        self.loss.nats += nats;
        self.loss.chars += (seq.len() - 1) as u64;
        self.state = state;
        self.last = seq.last().copied();
    }
}

/// What the training loop keeps between evaluations, checkpointed so that a
/// resumed run evaluates exactly as a straight one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvalProgress {
    /// Σ of the training loss per char since the last evaluation.
    pub train_sum: f64,
    /// Iterations in that sum.
    pub train_count: u64,
    /// The lowest validation loss so far (nats per char), if any.
    pub best: Option<f64>,
    /// The iteration (iterations done) of the best.
    pub best_iter: Option<u64>,
    /// Evaluations since the best (for early stopping).
    pub since_best: u64,
}

impl EvalProgress {
    /// Adds one iteration's training loss per char.
    pub fn record(&mut self, loss_per_char: f64) {
        self.train_sum += loss_per_char;
        self.train_count += 1;
    }

    /// Closes an evaluation period with validation loss `val` after `iter`
    /// iterations: the mean training loss since the last one, and whether
    /// `val` is the best yet.
    pub fn close(&mut self, val: f64, iter: u64) -> (f64, bool) {
        let train = self.train_sum / self.train_count.max(1) as f64;
        let is_best = self.best.is_none_or(|b| val < b);
        if is_best {
            self.best = Some(val);
            self.best_iter = Some(iter);
            self.since_best = 0;
        } else {
            self.since_best += 1;
        }
        self.train_sum = 0.0;
        self.train_count = 0;
        (train, is_best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Precision;
    use crate::models::{ModelKind, ModelSpec};

    /// The streamed evaluator in pieces of any size equals one pass over the
    /// whole text, and both equal the sum of per-char −ln p from `step`.
    #[test]
    fn pieces_chunks_and_steps_agree() {
        let device = Device::default();
        let spec = ModelSpec::new(ModelKind::Lstm, 2, 7, 6);
        let model = Network::init(&spec, 3, Precision::F64, &device);
        let ids: Vec<u32> = (0..53).map(|i| (i * 5 % 7) as u32).collect();
        let whole = evaluate(&model, IdsView::U32(&ids), 1, 8);
        let mut e = Evaluator::new(&model, 8);
        for piece in ids.chunks(5) {
            e.feed(piece);
        }
        let streamed = e.finish();
        // Step by step, with the sampler's softmax.
        let mut state = model.zero_state(1);
        let mut nats = 0.0;
        for w in ids.windows(2) {
            let id = Tensor::from_data(TensorData::new(vec![w[0] as i64], [1]), &device);
            let (next, logits) = model.step(id, &state);
            let l: Vec<f64> = logits.into_data().iter::<f64>().collect();
            nats -= crate::sample::softmax(&l, 1.0)[w[1] as usize].ln();
            state = next;
        }
        assert_eq!((whole.chars, streamed.chars), (52, 52));
        assert!(
            (whole.nats - nats).abs() < 1e-10,
            "{} vs {nats}",
            whole.nats
        );
        assert!(
            (streamed.nats - nats).abs() < 1e-10,
            "{} vs {nats}",
            streamed.nats
        );
        // Two streams: each half predicts its own chars after its first.
        let two = evaluate(&model, IdsView::U32(&ids), 2, 8);
        assert_eq!(two.chars, 2 * 25);
    }
}
