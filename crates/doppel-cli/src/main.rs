//! `doppel`: the command line of the Doppel digital twin.
//!
//! `run` parses arguments, dispatches to a command, and maps failures to exit codes that
//! scripts can rely on (see [`exit`]).

mod args;
mod bundled;
mod chart;
mod commands;
mod exit;
mod output;
mod time;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let out = output::Output::new(cli.json, cli.color, cli.quiet);
    match commands::run(&cli, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let code = exit::code_of(&error);
            out.error(&error);
            ExitCode::from(code)
        }
    }
}
