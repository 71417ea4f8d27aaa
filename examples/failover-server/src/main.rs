//! `dhcpv6-failover-server`: command-line entry point.
#![forbid(unsafe_code)]
// The server owns the clock: it reads the OS clocks and passes `now` into the sans-IO crates.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dhcpv6_failover_server::config;

/// Reference DHCPv6 server with RFC 8156 failover.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server with a configuration file.
    Run {
        /// The TOML configuration file.
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Check a configuration file and exit (0 when valid).
    CheckConfig {
        /// The TOML configuration file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { file } => match config::load(&file) {
            Ok(c) => {
                println!("{}: valid ({} subnet(s))", file.display(), c.subnets.len());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                ExitCode::from(2)
            }
        },
        Command::Run { config: _ } => ExitCode::FAILURE,
    }
}
