//! `dhcpv6-failover-server`: command-line entry point.
#![forbid(unsafe_code)]
// The server owns the clock: it reads the OS clocks and passes `now` into the sans-IO crates.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dhcpv6_failover_server::{config, service, tls};

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
    /// Generate a key pair and a self-signed certificate for the partner link; prints the
    /// fingerprint to pin in the partner's configuration.
    GenCert {
        /// Directory for NAME.crt and NAME.key.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Name of the files and of the certificate's subject.
        #[arg(long, default_value = "dhcpv6-failover-server")]
        name: String,
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
        Command::GenCert { dir, name } => match tls::write_generated(&dir, &name) {
            Ok(fp) => {
                println!("wrote {0}/{1}.crt and {0}/{1}.key", dir.display(), name);
                println!("{fp}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("gen-cert: {e}");
                ExitCode::FAILURE
            }
        },
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
        Command::Run { config } => {
            init_tracing();
            let cfg = match config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{}: {e}", config.display());
                    return ExitCode::from(2);
                }
            };
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(service::run(cfg)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "server stopped");
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Structured logs on stderr; `RUST_LOG` filters (default `info`).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
