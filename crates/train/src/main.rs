//! charrnn's command line. It picks the backend (the library never does),
//! reads flags and config, and reports every failure as one line with a
//! non-zero exit.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod backend;
mod bench;
mod cli;
mod gradcheck;
mod run;
mod sample;
mod settings;

use clap::Parser;

use cli::{Cli, Command};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print as clap prints them; a usage error is one line.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            let msg = e.to_string();
            eprintln!(
                "{} (see --help)",
                msg.lines().next().unwrap_or("invalid arguments").trim_end()
            );
            std::process::exit(2);
        }
    };
    let result = match cli.command {
        None => run::train(&cli.train),
        Some(Command::Train(args)) => run::train(&args),
        Some(Command::Gradcheck(args)) => gradcheck::run(&args),
        Some(Command::Sample(args)) => sample::run(&args),
        Some(Command::Bench(args)) => bench::run(&args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
