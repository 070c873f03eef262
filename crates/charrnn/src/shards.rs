//! Data-parallel training steps: the B streams of a chunk split into one
//! shard per thread, each shard's forward and backward run by its own
//! replica of the network, and the shards' gradients summed (in shard order)
//! before the one optimizer step. This is the shape of Burn's multi-device
//! training, run on the cores of one CPU.
//!
//! Why replicas: a recurrent step's products are small ([B, H]·[H, G·H] at
//! every one of the T steps), too small to split one product over threads
//! with profit, while whole shards need no synchronisation until their
//! gradients are summed. Each replica is [`Module::fork`] of the network: the
//! same values and parameter ids, its own autodiff leaves, so its graph is
//! its own and the shards' backward passes run side by side.
//!
//! Exactness: the loss is the same sum over streams (each shard's loss is
//! its streams' sum divided by the whole batch's B), so a sharded step
//! differs from the unsharded one only in the order of floating-point
//! additions (~1e-16 relative in f64). The split and the summation order
//! depend only on B and the thread count, so a run is reproducible, and
//! resumes byte for byte, under the same `threads`.

use std::ops::Range;

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::{Int, Tensor, TensorData};
use rayon::prelude::*;

use crate::data::Chunk;
use crate::models::{Network, State};

/// The streams each of `threads` shards trains: contiguous, sizes differing
/// by at most one, never empty (fewer shards than threads when B is small).
pub fn ranges(streams: usize, threads: usize) -> Vec<Range<usize>> {
    let shards = threads.clamp(1, streams.max(1));
    let (base, extra) = (streams / shards, streams % shards);
    let mut start = 0;
    (0..shards)
        .map(|s| {
            let len = base + usize::from(s < extra);
            start += len;
            start - len..start
        })
        .collect()
}

/// What a forward and backward over the whole chunk gives.
pub struct Pass {
    /// The chunk's loss (Σ over T, mean over B) as the host sees it.
    pub loss: f64,
    pub grads: GradientsParams,
    /// Every layer's state after the chunk, all B streams (not detached).
    pub state: State,
}

/// The loss, gradients and next state of `model` on `chunk` from `state`,
/// with dropout `masks` ([T·B, H] per layer), over `threads` shards.
/// With one shard this is exactly the unsharded forward and backward.
pub fn pass(
    model: &Network,
    chunk: &Chunk,
    state: &State,
    masks: Option<&[Tensor<2>]>,
    threads: usize,
) -> Pass {
    let device = model.device();
    let batch = chunk.streams;
    let ranges = ranges(batch, threads);
    if ranges.len() == 1 {
        let (loss, grads, state) = shard_pass(model, chunk, state, masks, batch);
        return Pass { loss, grads, state };
    }
    // Each shard's inputs, state and masks, made before the threads start.
    let work: Vec<(Network, Chunk, State, Option<Vec<Tensor<2>>>)> = ranges
        .iter()
        .map(|r| {
            let rows = rows_of(r, batch, chunk.steps, &device);
            (
                model.clone().fork(&device),
                chunk.streams_in(r.clone()),
                state.streams_in(r.clone()),
                masks.map(|ms| {
                    ms.iter()
                        .map(|m| m.clone().select(0, rows.clone()))
                        .collect()
                }),
            )
        })
        .collect();
    let parts: Vec<(f64, GradientsParams, State)> = work
        .into_par_iter()
        .map(|(replica, chunk, state, masks)| {
            shard_pass(&replica, &chunk, &state, masks.as_deref(), batch)
        })
        .collect();
    let mut sum = GradientsAccumulator::<Network>::new();
    let mut loss = 0.0;
    let mut states = Vec::with_capacity(parts.len());
    for (l, grads, state) in parts {
        loss += l;
        sum.accumulate(model, grads);
        states.push(state);
    }
    Pass {
        loss,
        grads: sum.grads(),
        state: State::cat(states),
    }
}

/// One shard's forward and backward: its loss (its streams' sum over the
/// whole batch's `batch`), the gradients of `model`'s parameters, and its
/// streams' next state.
fn shard_pass(
    model: &Network,
    chunk: &Chunk,
    state: &State,
    masks: Option<&[Tensor<2>]>,
    batch: usize,
) -> (f64, GradientsParams, State) {
    let (inputs, targets) = chunk.to_device(&model.device());
    let (loss_t, state) = model.forward_part(inputs, targets, state, masks, batch);
    let loss = crate::host_reads::scalar(loss_t.clone());
    let grads = GradientsParams::from_grads(loss_t.backward(), model);
    (loss, grads, state)
}

/// The rows of a time-major [T·B, ·] tensor that belong to streams `r`:
/// t·B + b for every step t and stream b in `r`, in time-major order.
fn rows_of(
    r: &Range<usize>,
    batch: usize,
    steps: usize,
    device: &burn::tensor::Device,
) -> Tensor<1, Int> {
    let rows: Vec<i64> = (0..steps)
        .flat_map(|t| r.clone().map(move |b| (t * batch + b) as i64))
        .collect();
    let n = rows.len();
    Tensor::from_data(TensorData::new(rows, [n]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_streams_in_order() {
        assert_eq!(ranges(50, 2), vec![0..25, 25..50]);
        assert_eq!(ranges(5, 3), vec![0..2, 2..4, 4..5]);
        assert_eq!(ranges(1, 2), vec![0..1]);
        assert_eq!(ranges(3, 1), vec![0..3]);
        assert_eq!(ranges(2, 8), vec![0..1, 1..2]);
    }
}
