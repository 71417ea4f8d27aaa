//! The seed sweep: `cargo test -p dhcpv6-sim` runs `SIM_SEEDS` (default 1000) seeds of the
//! default fault mix, starting at `SIM_SEED_START` (default 0). `SIM_SEED=n` replays one seed
//! and prints its trace on failure.

use dhcpv6_sim::{default_config, replay, sweep};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn seed_sweep() {
    if let Some(seed) = env_u64("SIM_SEED") {
        let (trace, r) = replay(default_config(seed, None));
        if let Err(v) = r {
            let from = trace.len().saturating_sub(80);
            panic!("seed {seed}: {v}\n{}", trace[from..].join("\n"));
        }
        return;
    }
    let count = env_u64("SIM_SEEDS").unwrap_or(1_000);
    let start = env_u64("SIM_SEED_START").unwrap_or(0);
    let (run, failure) = sweep(start, count, None, true, dhcpv6_sim::test_threads());
    if let Some((seed, v)) = failure {
        let (trace, _) = replay(default_config(seed, None));
        let from = trace.len().saturating_sub(80);
        panic!(
            "seed {seed}: {v}\nreplay: SIM_SEED={seed} cargo test -p dhcpv6-sim --test sweep\n{}",
            trace[from..].join("\n")
        );
    }
    println!("{run} seeds, 0 violations");
}
