//! Command-line arguments. Training flags override the config file's keys.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "train",
    version,
    about = "min-char-rnn on Burn: train a character-level RNN, sample from it, check its gradients",
    args_conflicts_with_subcommands = true,
    after_help = backends_help()
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub train: TrainArgs,
}

fn backends_help() -> String {
    format!(
        "Backends compiled in: {}",
        crate::backend::COMPILED.join(", ")
    )
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train (the default when no subcommand is given).
    Train(TrainArgs),
    /// Check autodiff's gradients against the hand-written backward and finite differences (f64).
    Gradcheck(TrainArgs),
    /// Sample text from a checkpoint or a weights.safetensors file.
    Sample(SampleArgs),
    /// Time training iterations without writing files.
    Bench(TrainArgs),
}

#[derive(Args, Debug, Default, Clone)]
pub struct TrainArgs {
    /// Config file: a path, or a file name in configs/.
    #[arg(long)]
    pub config: Option<String>,
    /// Training text (UTF-8).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Iterations in total (0 = until Ctrl-C).
    #[arg(long, allow_negative_numbers = true)]
    pub iterations: Option<u64>,
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    #[arg(long, allow_negative_numbers = true)]
    pub hidden_size: Option<usize>,
    #[arg(long, allow_negative_numbers = true)]
    pub seq_length: Option<usize>,
    #[arg(long, allow_negative_numbers = true)]
    pub learning_rate: Option<f64>,
    /// Clamp gradients elementwise to [-clip, clip].
    #[arg(long, allow_negative_numbers = true)]
    pub clip: Option<f64>,
    /// f32 or f64.
    #[arg(long)]
    pub precision: Option<String>,
    /// Backend (see the list below).
    #[arg(long)]
    pub backend: Option<String>,
    /// Parallel streams.
    #[arg(long, allow_negative_numbers = true)]
    pub batch_size: Option<usize>,
    /// Start from these weights (safetensors, the original's layout).
    #[arg(long)]
    pub init_weights: Option<PathBuf>,
    /// Where config.toml, metrics.csv, checkpoints and weights go (default runs/<config name>).
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    #[arg(long, allow_negative_numbers = true)]
    pub sample_every: Option<u64>,
    #[arg(long, allow_negative_numbers = true)]
    pub sample_length: Option<usize>,
    #[arg(long, allow_negative_numbers = true)]
    pub print_every: Option<u64>,
    #[arg(long, allow_negative_numbers = true)]
    pub checkpoint_every: Option<u64>,
    /// Continue the run stored in this directory.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Start a fresh run even if the output directory already holds one.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct SampleArgs {
    /// A run directory (its checkpoint), a checkpoint file, or a weights.safetensors file.
    #[arg(long)]
    pub checkpoint: PathBuf,
    #[arg(long, default_value_t = 200, allow_negative_numbers = true)]
    pub length: i64,
    /// 1 = the original's sampler; 0 = always the most likely char.
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub temperature: f64,
    /// Text to run through the model first (printed, then continued).
    #[arg(long)]
    pub prime: Option<String>,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Backend to sample on.
    #[arg(long)]
    pub backend: Option<String>,
}
