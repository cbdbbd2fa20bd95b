//! The `warbler` binary.

use std::process::ExitCode;

use clap::Parser;
use warbler::cli::Cli;

fn main() -> ExitCode {
    Cli::parse().run()
}
