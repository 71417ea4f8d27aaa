//! Deterministic simulation of an RFC 8156 DHCPv6 failover pair (`dhcpv6-sim`, not published).
//!
//! Two [`dhcpv6_failover::Endpoint`]s, each embedded in a simulated DHCP server with its own
//! store and wall clock, talk over a simulated TCP link; a population of simulated DHCPv6
//! clients talks to the servers over lossy datagram links. Everything runs on one virtual
//! timeline and every random decision comes from one seed, so `seed → run` is a pure function:
//! `SIM_SEED=n cargo test -p dhcpv6-sim` or `cargo run -p dhcpv6-sim -- --seed n --trace`
//! replays a run exactly.
//!
//! After every step the checker judges, from what the clients were actually told and from what
//! the endpoints put on the wire and in storage:
//! 1. safety: no address or prefix is valid for two different clients at overlapping times;
//! 2. every lifetime granted respects the MCLT bound of the state it was granted in;
//! 3. lease stability: a client that still holds a lease is never told it is not its own;
//! 4. liveness: once faults stop, both endpoints reach NORMAL within a bounded virtual time and
//!    their binding tables agree;
//! 5. durability: no BNDREPLY leaves before the writes of its update are acknowledged, and no
//!    STATE announces a state that is not durable;
//!
//! and a run that stops advancing virtual time fails as a livelock.
//!
//! ```
//! use dhcpv6_sim::{run_seed, scenario::SimConfig};
//! let stats = run_seed(SimConfig::quiet(1, 120_000)).expect("no violation");
//! assert!(stats.grants > 0);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod check;
pub mod client;
pub mod link;
pub mod observe;
pub mod rng;
pub mod scenario;
pub mod setup;
pub mod storage;
pub mod world;

use check::Violation;
use scenario::{Mutant, SimConfig};
use world::{RunStats, World};

/// Step budget of one run (a run that needs more is reported as a livelock).
pub const MAX_STEPS: u64 = 3_000_000;

/// Runs one configuration to its end.
pub fn run_seed(cfg: SimConfig) -> Result<RunStats, Violation> {
    let mut w = match World::new(cfg) {
        Ok(w) => w,
        Err(e) => {
            return Err(Violation {
                invariant: check::Invariant::Endpoint,
                at: 0,
                detail: e,
            });
        }
    };
    w.drive_bounded(MAX_STEPS)
}

/// The default-fault-mix configuration of `seed`, with an optional mutant.
pub fn default_config(seed: u64, mutant: Option<Mutant>) -> SimConfig {
    let mut c = SimConfig::random(seed);
    c.mutant = mutant;
    c
}

/// Replays `cfg` with tracing on and returns the trace and the result.
pub fn replay(mut cfg: SimConfig) -> (Vec<String>, Result<RunStats, Violation>) {
    cfg.trace = true;
    let mut w = match World::new(cfg) {
        Ok(w) => w,
        Err(e) => {
            let v = Violation {
                invariant: check::Invariant::Endpoint,
                at: 0,
                detail: e,
            };
            return (Vec::new(), Err(v));
        }
    };
    let r = w.drive_bounded(MAX_STEPS);
    (w.trace().to_vec(), r)
}

/// Runs seeds `first..first + count` with the default fault mix on `threads` threads; returns
/// the number of seeds run and the failure with the lowest seed. With `stop_at_first`, stops
/// handing out seeds after the first failure. Seeds in `skip` are not run.
pub fn sweep(
    first: u64,
    count: u64,
    mutant: Option<Mutant>,
    stop_at_first: bool,
    threads: usize,
    skip: &[u64],
) -> (u64, Option<(u64, Violation)>) {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let end = first.saturating_add(count);
    let next = AtomicU64::new(first);
    let run = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let failure: Mutex<Option<(u64, Violation)>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= end {
                        break;
                    }
                    if skip.contains(&seed) {
                        continue;
                    }
                    run.fetch_add(1, Ordering::Relaxed);
                    if let Err(v) = run_seed(default_config(seed, mutant)) {
                        let mut f = failure.lock().unwrap_or_else(|p| p.into_inner());
                        if f.as_ref().is_none_or(|(s, _)| seed < *s) {
                            *f = Some((seed, v));
                        }
                        if stop_at_first {
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    let f = failure.into_inner().unwrap_or_else(|p| p.into_inner());
    (run.load(Ordering::Relaxed), f)
}

/// Worker threads for test sweeps: the machine's parallelism, at most 4.
pub fn test_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}
