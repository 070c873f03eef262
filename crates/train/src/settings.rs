//! Resolving a run's configuration: defaults, then the config file, then the
//! command-line flags; everything validated before anything is written.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use charrnn::config::TrainConfig;

use crate::bundled;
use crate::cli::TrainArgs;

/// `--config NAME`: a path as given, else a file in ./configs/, else a config
/// compiled into the binary (read as if it sat in ./configs/).
pub fn load_config(name: &str) -> Result<TrainConfig> {
    for path in [PathBuf::from(name), Path::new("configs").join(name)] {
        if path.is_file() {
            return Ok(TrainConfig::load(&path)?);
        }
    }
    let (file, text) = bundled::config(name).with_context(|| {
        format!(
            "config {name} not found (looked for it as a path, in configs/, and among the configs compiled in: {})",
            bundled::config_names()
        )
    })?;
    Ok(TrainConfig::parse_at(
        text,
        &Path::new("configs").join(file),
    )?)
}

/// The config file's name without extension ("tiny" for configs/tiny.toml).
pub fn config_name(args: &TrainArgs) -> String {
    args.model
        .config
        .as_deref()
        .map(|c| {
            Path::new(c)
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .unwrap_or_else(|| "default".into())
}

/// Defaults, then `--config`, then flags.
pub fn resolve(args: &TrainArgs) -> Result<TrainConfig> {
    let mut c = match &args.model.config {
        Some(name) => load_config(name)?,
        None => TrainConfig::default(),
    };
    apply_flags(&mut c, args)?;
    c.validate()?;
    Ok(c)
}

/// Flags override the config's keys.
pub fn apply_flags(c: &mut TrainConfig, a: &TrainArgs) -> Result<()> {
    macro_rules! set {
        ($args:expr => $($field:ident),*) => { $( if let Some(v) = $args.$field.clone() { c.$field = v; } )* };
    }
    let (m, o) = (&a.model, &a.optim);
    set!(m => data, seed, hidden_size, seq_length, batch_size, threads, layers, dropout, model);
    set!(m => weight_drop, locked_dropout);
    if let Some(b) = m.backend {
        c.backend = b.name().into();
    }
    set!(o => learning_rate, clip, precision, optimizer, epsilon);
    set!(o => adam_beta1, adam_beta2, rmsprop_alpha, rmsprop_momentum, weight_decay, ema);
    set!(m => init, init_scale, vocab, vocab_min_count);
    if m.forget_bias.is_some() {
        c.forget_bias = m.forget_bias;
    }
    // One length wins: a flag's over the config's (a budget already fixed
    // to iterations, as a run's own config holds it, is kept for the same
    // minutes).
    if a.iterations.is_some() || a.epochs.is_some() {
        c.minutes = 0.0;
    }
    if let Some(m) = a.minutes
        && m != c.minutes
    {
        (c.minutes, c.iterations, c.epochs) = (m, 0, 0.0);
    }
    set!(a => iterations, sample_every, sample_length, print_every, checkpoint_every);
    set!(a => val_fraction, eval_every, patience, test_fraction, epochs, lr_schedule);
    set!(a => val_max_chars);
    set!(a => lr_decay, lr_decay_every, lr_decay_after, warmup, final_lr_fraction);
    if let Some(w) = &m.init_weights {
        c.init_weights = Some(w.clone());
    }
    Ok(())
}

/// Flags that a resumed run cannot change, checked against the checkpoint's config.
pub fn refuse_conflicts(saved: &TrainConfig, a: &TrainArgs) -> Result<()> {
    let mut conflicts = Vec::new();
    let mut check = |flag: &str, given: Option<String>, saved: String| {
        if let Some(g) = given
            && g != saved
        {
            conflicts.push(format!("--{flag} {g} (the checkpoint has {saved})"));
        }
    };
    macro_rules! same {
        ($args:ident: $($field:ident => $flag:literal),*) => {
            $( check($flag, $args.$field.as_ref().map(|v| v.to_string()), saved.$field.to_string()); )*
        };
    }
    let (m, o) = (&a.model, &a.optim);
    same!(m: hidden_size => "hidden-size", seq_length => "seq-length", batch_size => "batch-size");
    same!(o: precision => "precision", learning_rate => "learning-rate", clip => "clip");
    same!(m: seed => "seed", backend => "backend", model => "model", layers => "layers");
    same!(m: dropout => "dropout", vocab => "vocab", vocab_min_count => "vocab-min-count");
    same!(m: weight_drop => "weight-drop", locked_dropout => "locked-dropout");
    same!(o: optimizer => "optimizer", epsilon => "epsilon");
    same!(o: adam_beta1 => "adam-beta1", adam_beta2 => "adam-beta2");
    same!(o: rmsprop_alpha => "rmsprop-alpha", rmsprop_momentum => "rmsprop-momentum");
    same!(o: weight_decay => "weight-decay", ema => "ema");
    same!(a: val_fraction => "val-fraction", test_fraction => "test-fraction");
    if let Some(m) = a.minutes
        && m != saved.minutes
    {
        conflicts.push(format!(
            "--minutes {m} (the checkpoint's length is fixed: {} iterations{}; lengthen it with --iterations)",
            saved.iterations,
            match saved.minutes {
                0.0 => String::new(),
                m => format!(" from {m} minutes"),
            }
        ));
    }
    if m.init_weights.is_some() {
        conflicts.push("--init-weights (a resumed run continues from its checkpoint)".into());
    }
    if !conflicts.is_empty() {
        bail!(
            "cannot resume with a conflicting flag: {}",
            conflicts.join("; ")
        );
    }
    Ok(())
}
