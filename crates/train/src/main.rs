//! charrnn's command line. It picks the backend (the library never does),
//! reads flags and config, and reports every failure as one line with a
//! non-zero exit.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// mimalloc's C API (linked in by the `mimalloc` crate; its Rust binding of
// this function needs a crate that is not vendored here).
unsafe extern "C" {
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// Training frees and allocates the same buffer sizes every iteration; by
/// default mimalloc hands freed pages back to the OS after 10 ms and the
/// kernel zeroes them again on the next touch. Keeping them measured 15–25%
/// faster per iteration for the 2 × 128 LSTM (configs/lstm.toml).
fn keep_freed_memory() {
    const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15; // mimalloc.h, v2 and v3
    // SAFETY: sets a plain option value; -1 means never purge.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

mod backend;
mod bench;
mod bundled;
mod cli;
mod evaluate;
mod gradcheck;
#[cfg(feature = "wgpu")]
mod launches;
mod reading;
mod run;
mod sample;
mod serve;
mod settings;
mod status;

use clap::Parser;

use cli::{Cli, Command};

fn main() {
    keep_freed_memory();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print as clap prints them; a usage error is one line.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            // clap's first paragraph says what is wrong (a missing argument is
            // named on the line after the first); the usage that follows is dropped.
            let msg = e.to_string();
            let first: Vec<&str> = msg
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            eprintln!("{} (see --help)", first.join(" "));
            std::process::exit(2);
        }
    };
    let result = match cli.command {
        None => run::train(&cli.train),
        Some(Command::Train(args)) => run::train(&args),
        Some(Command::Gradcheck(args)) => gradcheck::run(&cli::TrainArgs {
            model: args,
            ..Default::default()
        }),
        Some(Command::Sample(args)) => sample::run(&args),
        Some(Command::Bench(args)) => bench::run(&args),
        Some(Command::Eval(args)) => evaluate::run(&args),
        Some(Command::Serve(args)) => serve::run(&args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
