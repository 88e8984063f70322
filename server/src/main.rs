//! The `openbolt` command: arguments and logging only; the work is in the library.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "openbolt",
    version,
    about = "Prompt to running app, in the editor you already use"
)]
struct Arguments {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse an assistant reply from stdin and print the parser's events as JSON Lines.
    Parse(openbolt::cli::parse::ParseArguments),
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    let result = match arguments.command {
        Command::Parse(parse) => openbolt::cli::parse::run(&parse),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("openbolt: {error:#}");
            }
            ExitCode::FAILURE
        }
    }
}
