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
    /// Ask or command a running server over its control socket.
    Ctl {
        /// The control socket (default: `[control] socket` of --config).
        #[arg(long)]
        socket: Option<PathBuf>,
        /// The server's configuration file (to find its control socket).
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// The relationship (needed when the server has several).
        #[arg(long)]
        relationship: Option<String>,
        /// Answer in JSON.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        what: CtlCommand,
    },
    /// A failover pair on loopback, relayed clients, a primary crash and a verdict (no
    /// configuration, no root, under a minute). Exit code 0 only if the verdict holds.
    Demo {
        /// Number of clients (each with an IA_NA and an IA_PD).
        #[arg(long, default_value_t = 50)]
        clients: usize,
    },
}

#[derive(Subcommand)]
enum CtlCommand {
    /// States, partner state, MCLT, pending and unacked updates, conflicts, last contact, skew.
    Status,
    /// Put the relationship in PARTNER-DOWN (RFC 8156 §8.3): only when the partner is down.
    PartnerDown {
        /// When the partner went down: seconds since 1970, or YYYY-MM-DDTHH:MM:SSZ (default now).
        #[arg(long)]
        since: Option<String>,
    },
    /// The active leases.
    Leases,
}

/// Parses `--since`: Unix seconds or `YYYY-MM-DDTHH:MM:SSZ`.
fn parse_since(text: &str) -> Result<u64, String> {
    if let Ok(n) = text.parse::<u64>() {
        return Ok(n);
    }
    let bad = || format!("`{text}`: expected Unix seconds or YYYY-MM-DDTHH:MM:SSZ");
    let t = text.strip_suffix('Z').ok_or_else(bad)?;
    let (date, time) = t.split_once('T').ok_or_else(bad)?;
    let d: Vec<i64> = date
        .split('-')
        .map(|x| x.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let h: Vec<i64> = time
        .split(':')
        .map(|x| x.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let ([y, m, dd], [hh, mm, ss]) = (d.as_slice(), h.as_slice()) else {
        return Err(bad());
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if *m <= 2 { y - 1 } else { *y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).map_err(|_| bad())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo { clients } => {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .try_init();
            let Some(rt) = started(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build(),
            ) else {
                return ExitCode::FAILURE;
            };
            let r = rt.block_on(dhcpv6_failover_server::demo::run(clients.max(1)));
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
            match r {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("demo: {e}");
                    println!("verdict: FAIL ({e})");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Ctl {
            socket,
            config,
            relationship,
            json,
            what,
        } => {
            let socket = match (socket, config) {
                (Some(s), _) => s,
                (None, Some(c)) => match config::load(&c) {
                    Ok(cfg) => match cfg.control_socket {
                        Some(s) => s,
                        None => {
                            eprintln!("{}: no [control] socket configured", c.display());
                            return ExitCode::from(2);
                        }
                    },
                    Err(e) => {
                        eprintln!("{}: {e}", c.display());
                        return ExitCode::from(2);
                    }
                },
                (None, None) => {
                    eprintln!("ctl needs --socket PATH or --config FILE");
                    return ExitCode::from(2);
                }
            };
            let (cmd, since) = match what {
                CtlCommand::Status => ("status", None),
                CtlCommand::Leases => ("leases", None),
                CtlCommand::PartnerDown { since } => {
                    match since.as_deref().map(parse_since).transpose() {
                        Ok(s) => ("partner-down", s),
                        Err(e) => {
                            eprintln!("--since {e}");
                            return ExitCode::from(2);
                        }
                    }
                }
            };
            let req = dhcpv6_failover_server::control::Request {
                cmd: cmd.into(),
                relationship,
                since,
                json,
            };
            let Some(rt) = current_thread() else {
                return ExitCode::FAILURE;
            };
            match rt.block_on(dhcpv6_failover_server::control::request(&socket, &req)) {
                Ok(out) => {
                    print!("{out}");
                    if out.starts_with("error") || out.contains("\"ok\":false") {
                        ExitCode::FAILURE
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(e) => {
                    eprintln!("{}: {e}", socket.display());
                    ExitCode::FAILURE
                }
            }
        }
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
            // The event loop (clients, store reports, the failover endpoints) runs on this
            // thread in `block_on` of a current-thread runtime, which also polls the client
            // socket, the store's reports and the control socket: nothing else stands between
            // a datagram and its turn. A failover partner's links (TLS, TCP reads and writes,
            // reconnects) run on a runtime of their own with one worker thread, so that moving
            // the partner's bytes never waits for a turn of the client path, nor delays it
            // (measured: on one thread, BNDREPLYs waited out every client turn and the
            // secondary fell thousands of leases behind). Both runtimes on one multi-thread
            // runtime would not do: its `block_on` thread does not poll the reactor, so every
            // client datagram would first wake the link worker (see `service::run_with_links`).
            let Some(rt) = current_thread() else {
                return ExitCode::FAILURE;
            };
            let link_rt = if cfg.failover.is_empty() {
                None
            } else {
                let Some(l) = started(
                    tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(1)
                        .thread_name("partner-link")
                        .enable_all()
                        .build(),
                ) else {
                    return ExitCode::FAILURE;
                };
                Some(l)
            };
            let links = link_rt
                .as_ref()
                .map_or_else(|| rt.handle().clone(), |l| l.handle().clone());
            let result = rt.block_on(service::run_with_links(cfg, links));
            if let Some(l) = link_rt {
                l.shutdown_timeout(std::time::Duration::from_secs(2));
            }
            match result {
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

/// Structured logs on stderr; `RUST_LOG` filters (default `info`). Colours only on a terminal:
/// a log file or journal gets plain text.
fn init_tracing() {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// A current-thread runtime with I/O and timers (see [`started`]).
fn current_thread() -> Option<tokio::runtime::Runtime> {
    started(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    )
}

/// The runtime, or `None` after saying on standard error why it could not start.
fn started(rt: std::io::Result<tokio::runtime::Runtime>) -> Option<tokio::runtime::Runtime> {
    rt.map_err(|e| eprintln!("cannot start the runtime: {e}"))
        .ok()
}
