//! charrnn's command line. It picks the backend (the library never does),
//! reads flags and config, and reports every failure as one line with a
//! non-zero exit.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod backend;
mod bench;
mod cli;
mod evaluate;
mod gradcheck;
mod plot;
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
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
