//! The `recon` binary: parse, run, exit with the outcome's code (0 pass or warning, 1 critical,
//! 3 rollback, 2 could not decide).
//! Its command line (`cli`) is glue over the library's public API, the same one a library user
//! gets.

mod cli;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    std::process::exit(cli::main(&cli));
}
