//! Command-line arguments. Flags override the config file's keys; each
//! subcommand takes only the flags it uses, and every flag says its default.

use std::path::PathBuf;

use charrnn::Precision;
use charrnn::config::InitKind;
use charrnn::data::VocabMode;
use charrnn::models::ModelKind;
use charrnn::optim::OptimizerKind;
use charrnn::schedule::ScheduleKind;

use crate::backend::Backend;
use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "charrnn",
    version = VERSION.as_str(),
    about = "min-char-rnn on Burn and past it: train a character-level RNN, LSTM or GRU, sample from it, serve it, check its gradients",
    args_conflicts_with_subcommands = true,
    after_help = backends_help()
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub train: TrainArgs,
}

/// `charrnn --version`: the version and the backends compiled in.
static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{} (backends: {})",
        env!("CARGO_PKG_VERSION"),
        crate::backend::compiled().join(", ")
    )
});

fn backends_help() -> String {
    format!(
        "Backends compiled in: {}",
        crate::backend::compiled().join(", ")
    )
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train (the default when no subcommand is given).
    Train(Box<TrainArgs>),
    /// Check autodiff's gradients against finite differences (and the hand-written backward for the original), in f64.
    Gradcheck(ModelArgs),
    /// Sample text from a run directory, a checkpoint or a weights.safetensors file.
    Sample(SampleArgs),
    /// Time training iterations without writing files.
    Bench(BenchArgs),
    /// A checkpoint's loss on a text, in nats and bits per char (streamed: any size).
    Eval(EvalArgs),
    /// Serve models over HTTP: sampling (streamed), scoring, runs' metrics.
    Serve(ServeArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Run directories, checkpoint or weights files, or directories of runs [default: runs]
    pub paths: Vec<PathBuf>,
    /// Address to listen on; port 0 takes a free port. Anything but a loopback address lets other machines sample your models and read your runs' metrics
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Backend to run the models on [default: flex]
    #[arg(long)]
    pub backend: Option<Backend>,
    /// Seconds a client may take to send its request body (then 408)
    #[arg(long, default_value_t = 10.0)]
    pub body_timeout: f64,
}

/// What the network is and what it reads: shared by every subcommand that builds one.
#[derive(Args, Debug, Default, Clone)]
pub struct ModelArgs {
    /// Config file: a path, a file name in ./configs/, or a config compiled in (tiny.toml, lstm.toml, gru.toml, lstm-512.toml, shakespeare-30min.toml, rust-30min.toml) [default: none, the original's settings]
    #[arg(long)]
    pub config: Option<String>,
    /// Training text, UTF-8 (a missing tinyshakespeare.txt is the copy compiled in) [default: data/tinyshakespeare.txt]
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Seeds the initial weights, the sampler and the dropout masks [default: 1]
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Network: rnn (min-char-rnn when one layer), lstm or gru [default: rnn]
    #[arg(long)]
    pub model: Option<ModelKind>,
    /// Stacked recurrent layers [default: 1]
    #[arg(long, allow_negative_numbers = true)]
    pub layers: Option<usize>,
    /// Hidden units per layer [default: 100]
    #[arg(long, allow_negative_numbers = true)]
    pub hidden_size: Option<usize>,
    /// Probability of dropping each layer's outputs while training, in [0, 1) [default: 0]
    #[arg(long, allow_negative_numbers = true)]
    pub dropout: Option<f64>,
    /// One dropout mask per stream for a whole chunk instead of one per step (variational dropout, AWD-LSTM's locked dropout); needs --dropout > 0 [default: false]
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub locked_dropout: Option<bool>,
    /// Probability of dropping each recurrent weight (W_hh) for a whole iteration (DropConnect, AWD-LSTM's weight drop), in [0, 1) [default: 0]
    #[arg(long, allow_negative_numbers = true)]
    pub weight_drop: Option<f64>,
    /// Characters per chunk (steps of backprop through time) [default: 25]
    #[arg(long, allow_negative_numbers = true)]
    pub seq_length: Option<usize>,
    /// Parallel streams [default: 1, the original]
    #[arg(long, allow_negative_numbers = true)]
    pub batch_size: Option<usize>,
    /// Backend (see the list below) [default: flex]
    #[arg(long)]
    pub backend: Option<Backend>,
    /// CPU threads on flex and ndarray: the streams split into this many shards trained side by side [default: all cores]
    #[arg(long, allow_negative_numbers = true)]
    pub threads: Option<usize>,
    /// Start from these weights (safetensors: min-char-rnn's or PyTorch's layout) [default: random]
    #[arg(long)]
    pub init_weights: Option<PathBuf>,
    /// Fresh weights: default (the original's N(0,1)·0.01 for min-char-rnn, PyTorch's U(±1/√H) otherwise), pytorch, or uniform (U(±--init-scale)) [default: default]
    #[arg(long)]
    pub init: Option<InitKind>,
    /// What the model reads: chars (a UTF-8 text's) or bytes (any file's) [default: chars]
    #[arg(long)]
    pub vocab: Option<VocabMode>,
    /// Fold chars seen fewer than this many times in the training part into one unknown symbol (U+FFFD); 0 folds none [default: 0]
    #[arg(long, allow_negative_numbers = true)]
    pub vocab_min_count: Option<u64>,
    /// uniform init's bound (char-rnn: 0.08) [default: 0.08]
    #[arg(long, allow_negative_numbers = true)]
    pub init_scale: Option<f64>,
    /// LSTM: the forget gates' bias at init (char-rnn: 1) [default: none, the init's]
    #[arg(long, allow_negative_numbers = true)]
    pub forget_bias: Option<f64>,
}

/// How the network learns.
#[derive(Args, Debug, Default, Clone)]
pub struct OptimArgs {
    /// Optimizer: adagrad (the original's), sgd, rmsprop or adam [default: adagrad]
    #[arg(long)]
    pub optimizer: Option<OptimizerKind>,
    /// Learning rate [default: 0.1]
    #[arg(long, allow_negative_numbers = true)]
    pub learning_rate: Option<f64>,
    /// Clamp every gradient elementwise to [-clip, clip] [default: 5]
    #[arg(long, allow_negative_numbers = true)]
    pub clip: Option<f64>,
    /// f32 or f64 [default: f32]
    #[arg(long)]
    pub precision: Option<Precision>,
    /// Adam's β₁ [default: 0.9]
    #[arg(long, allow_negative_numbers = true)]
    pub adam_beta1: Option<f64>,
    /// Adam's β₂ [default: 0.999]
    #[arg(long, allow_negative_numbers = true)]
    pub adam_beta2: Option<f64>,
    /// RMSprop's smoothing constant α [default: 0.99]
    #[arg(long, allow_negative_numbers = true)]
    pub rmsprop_alpha: Option<f64>,
    /// RMSprop's momentum [default: 0]
    #[arg(long, allow_negative_numbers = true)]
    pub rmsprop_momentum: Option<f64>,
    /// Adam's and RMSprop's ε, outside the square root as PyTorch's [default: 1e-8]
    #[arg(long, allow_negative_numbers = true)]
    pub epsilon: Option<f64>,
    /// Adam only: decoupled weight decay (AdamW) [default: 0]
    #[arg(long, allow_negative_numbers = true)]
    pub weight_decay: Option<f64>,
    /// Evaluate and save an exponential moving average of the weights with this decay (e.g. 0.999); 0 off [default: 0]
    #[arg(long, allow_negative_numbers = true)]
    pub ema: Option<f64>,
}

#[derive(Args, Debug, Default, Clone)]
pub struct TrainArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub optim: OptimArgs,
    /// Iterations in total; 0 trains until Ctrl-C [default: 0]
    #[arg(long, allow_negative_numbers = true, conflicts_with = "minutes")]
    pub iterations: Option<u64>,
    /// Train for this many minutes of wall time, evaluations and checkpoints included: trial iterations measure this machine and fix --iterations to what fits [default: 0, use --iterations]
    #[arg(long, allow_negative_numbers = true, conflicts_with = "epochs")]
    pub minutes: Option<f64>,
    /// Where config.toml, metrics.csv, checkpoints and weights go [default: runs/<config name>]
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Print a sample every this many iterations; 0 never [default: 100]
    #[arg(long, allow_negative_numbers = true)]
    pub sample_every: Option<u64>,
    /// Characters per printed sample [default: 200]
    #[arg(long, allow_negative_numbers = true)]
    pub sample_length: Option<usize>,
    /// Print `iter n, loss: x` every this many iterations; 0 never [default: 100]
    #[arg(long, allow_negative_numbers = true)]
    pub print_every: Option<u64>,
    /// Write a checkpoint every this many iterations; 0 only at the end [default: 1000]
    #[arg(long, allow_negative_numbers = true)]
    pub checkpoint_every: Option<u64>,
    /// Hold out the last this fraction of the text for validation, in [0, 1) [default: 0]
    #[arg(long, allow_negative_numbers = true)]
    pub val_fraction: Option<f64>,
    /// Evaluate on the validation split every this many iterations; 0 only at the end [default: 1000]
    #[arg(long, allow_negative_numbers = true)]
    pub eval_every: Option<u64>,
    /// An evaluation reads at most this many chars of the validation split (its first ones); 0 reads it all [default: 1000000]
    #[arg(long, allow_negative_numbers = true)]
    pub val_max_chars: Option<u64>,
    /// Stop after this many evaluations without a better validation loss; 0 never [default: 0]
    #[arg(long, allow_negative_numbers = true)]
    pub patience: Option<u64>,
    /// Hold out the last this fraction of the text (after the validation split) as a test set, scored once at the end [default: 0]
    #[arg(long, allow_negative_numbers = true)]
    pub test_fraction: Option<f64>,
    /// Train this many epochs (passes over the training split; fractions allowed) instead of --iterations [default: 0, use --iterations]
    #[arg(long, allow_negative_numbers = true)]
    pub epochs: Option<f64>,
    /// Learning-rate schedule: constant, step or cosine [default: constant]
    #[arg(long)]
    pub lr_schedule: Option<ScheduleKind>,
    /// step: multiply the rate by this at each decay [default: 0.97]
    #[arg(long, allow_negative_numbers = true)]
    pub lr_decay: Option<f64>,
    /// step: decay every this many epochs [default: 1]
    #[arg(long, allow_negative_numbers = true)]
    pub lr_decay_every: Option<f64>,
    /// step: the first decay at this epoch [default: 10]
    #[arg(long, allow_negative_numbers = true)]
    pub lr_decay_after: Option<f64>,
    /// cosine: iterations of linear warm-up [default: 0]
    #[arg(long, allow_negative_numbers = true)]
    pub warmup: Option<u64>,
    /// cosine: the final rate as a fraction of --learning-rate [default: 0.1]
    #[arg(long, allow_negative_numbers = true)]
    pub final_lr_fraction: Option<f64>,
    /// Continue the run stored in this directory
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Start a fresh run even if the output directory already holds one
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug, Default, Clone)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub optim: OptimArgs,
    /// Iterations to run, the first 20 untimed [default: 2000]
    #[arg(long, allow_negative_numbers = true)]
    pub iterations: Option<u64>,
    /// Instead of training, time an N×N by N×N f32 matrix product on the backend
    /// (the machine's matrix-product peak, for benches/side_by_side.py) [default: off]
    #[arg(long)]
    pub matmul: Option<usize>,
}

#[derive(Args, Debug)]
pub struct SampleArgs {
    /// A run directory (its checkpoint), a checkpoint file, or a weights.safetensors file of either layout
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Characters to draw
    #[arg(long, default_value_t = 200, allow_negative_numbers = true)]
    pub length: i64,
    /// 1 = the original's sampler; 0 = always the most likely char
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub temperature: f64,
    /// Text to run through the model first (printed, then continued) [default: none]
    #[arg(long)]
    pub prime: Option<String>,
    /// Seeds the draws
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Backend to sample on [default: the run's, else flex]
    #[arg(long)]
    pub backend: Option<Backend>,
    /// Write the sample (prime included) to this file instead of standard output [default: standard output]
    #[arg(long)]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A run directory (its checkpoint), a checkpoint file, or a weights.safetensors file of either layout
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The text to evaluate on, UTF-8 (read in pieces, so it may be larger than memory)
    #[arg(long)]
    pub data: PathBuf,
    /// Characters per forward pass (the state is carried across)
    #[arg(long, default_value_t = 100)]
    pub seq_length: usize,
    /// Backend to evaluate on [default: the run's, else flex]
    #[arg(long)]
    pub backend: Option<Backend>,
}
