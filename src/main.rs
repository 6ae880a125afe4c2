//! The `recon` binary: parse, run, exit with the outcome's code (0 pass, 1 gate failed, 2 error).

use clap::Parser;

fn main() {
    let cli = recon::cli::Cli::parse();
    std::process::exit(recon::cli::main(&cli));
}
