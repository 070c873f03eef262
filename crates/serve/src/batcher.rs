//! One thread per model that steps every request's streams together: each
//! step feeds each active stream its next input as one row of a [C, H]
//! state, so C concurrent samples cost one forward instead of C (measured
//! 4.3× at C = 64 for a 2 × 128 LSTM; benches/batched_steps.rs). A stream
//! feeds its prime first, then draws from its own generator exactly as
//! `charrnn::sample::from_prime` does (a batched row's logits are the same
//! bits as the stream's alone; tests/serve.rs compares with `charrnn sample`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use burn::tensor::{Int, Tensor, TensorData};
use charrnn::models::{Network, State};
use charrnn::sample::pick;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// One sample to draw.
pub struct Job {
    /// What the stream reads before its first draw
    /// ([`charrnn::sample::start_inputs`]).
    pub inputs: Vec<u32>,
    pub length: usize,
    pub temperature: f64,
    pub seed: u64,
    /// Gets each drawn id; returns whether to go on.
    pub emit: Box<dyn FnMut(u32) -> bool + Send>,
    /// Called once the sample has ended.
    pub done: Box<dyn FnOnce() + Send>,
}

/// A stream being drawn.
struct Active {
    inputs: VecDeque<u32>,
    remaining: usize,
    temperature: f64,
    rng: ChaCha8Rng,
    state: State,
    job: Job,
}

#[derive(Clone)]
pub struct Batcher {
    jobs: Sender<Job>,
}

impl Batcher {
    /// Starts the model's thread; it ends when the last handle is dropped.
    pub fn start(network: Arc<Network>) -> Self {
        let (jobs, rx) = channel();
        std::thread::spawn(move || run(&network, rx));
        Self { jobs }
    }

    pub fn submit(&self, job: Job) {
        // The thread lives as long as any handle: a send cannot fail.
        let _ = self.jobs.send(job);
    }
}

fn run(network: &Network, jobs: Receiver<Job>) {
    let mut active: Vec<Active> = Vec::new();
    let start = |job: Job| Active {
        inputs: job.inputs.iter().copied().collect(),
        remaining: job.length,
        temperature: job.temperature,
        rng: ChaCha8Rng::seed_from_u64(job.seed),
        state: network.zero_state(1),
        job,
    };
    loop {
        if active.is_empty() {
            match jobs.recv() {
                Ok(job) => active.push(start(job)),
                Err(_) => return,
            }
        }
        active.extend(jobs.try_iter().map(start));
        let ids: Vec<i64> = active
            .iter_mut()
            .map(|a| a.inputs.pop_front().expect("an input queued") as i64)
            .collect();
        let n = ids.len();
        let device = network.device();
        let input: Tensor<1, Int> = Tensor::from_data(TensorData::new(ids, [n]), &device);
        // One stream alone steps its own state (no copies in and out).
        let states = match active.as_slice() {
            [one] => one.state.clone(),
            many => State::cat(many.iter().map(|a| a.state.clone()).collect()),
        };
        let (next, logits) = network.step(input, &states);
        let logits: Vec<f64> = logits.into_data().iter::<f64>().collect();
        let v = logits.len() / n;
        let mut finished = Vec::new();
        for (i, a) in active.iter_mut().enumerate() {
            a.state = if n == 1 {
                next.clone()
            } else {
                next.streams_in(i..i + 1)
            };
            if !a.inputs.is_empty() {
                continue; // still feeding the prime
            }
            let x = pick(&logits[i * v..(i + 1) * v], a.temperature, &mut a.rng) as u32;
            a.remaining -= 1;
            if (a.job.emit)(x) && a.remaining > 0 {
                a.inputs.push_back(x);
            } else {
                finished.push(i);
            }
        }
        for i in finished.into_iter().rev() {
            let a = active.swap_remove(i);
            (a.job.done)();
        }
    }
}
