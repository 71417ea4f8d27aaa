//! The seed-sweep runner.
//!
//! ```text
//! cargo run --release -p dhcpv6-sim -- --seeds N        run seeds 0..N
//! cargo run --release -p dhcpv6-sim -- --minutes M      run seeds until M minutes have passed
//! cargo run --release -p dhcpv6-sim -- --seed S [--trace]   replay one seed (with its trace)
//!     --start S        first seed of a sweep (default 0)
//!     --threads T      worker threads (default: available parallelism)
//!     --keep-going     do not stop at the first violation; list every failing seed
//!     --no-write-failures  the default mix without storage write failures
//!     --mutant ignore-mclt | answer-when-unresponsive
//! ```
//! A sweep prints seeds per second as it goes and ends with `N seeds, 0 violations`, or with the
//! failing seed and invariant, a trace excerpt, and a non-zero exit status.

use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use dhcpv6_sim::check::Violation;
use dhcpv6_sim::scenario::{Mutant, SimConfig};
use dhcpv6_sim::{default_config, replay, run_seed};

struct Args {
    seeds: Option<u64>,
    minutes: Option<f64>,
    seed: Option<u64>,
    start: u64,
    trace: bool,
    keep_going: bool,
    no_write_failures: bool,
    threads: usize,
    mutant: Option<Mutant>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        seeds: None,
        minutes: None,
        seed: std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()),
        start: 0,
        trace: false,
        keep_going: false,
        no_write_failures: false,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        mutant: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--seeds" => {
                a.seeds = Some(
                    val("--seeds")?
                        .parse()
                        .map_err(|e| format!("--seeds: {e}"))?,
                )
            }
            "--minutes" => {
                a.minutes = Some(
                    val("--minutes")?
                        .parse()
                        .map_err(|e| format!("--minutes: {e}"))?,
                )
            }
            "--seed" => a.seed = Some(val("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?),
            "--start" => {
                a.start = val("--start")?
                    .parse()
                    .map_err(|e| format!("--start: {e}"))?
            }
            "--threads" => {
                a.threads = val("--threads")?
                    .parse()
                    .map_err(|e| format!("--threads: {e}"))?
            }
            "--trace" => a.trace = true,
            "--keep-going" => a.keep_going = true,
            "--no-write-failures" => a.no_write_failures = true,
            "--mutant" => {
                let m = val("--mutant")?;
                a.mutant = Some(Mutant::parse(&m).ok_or_else(|| format!("unknown mutant {m:?}"))?);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.seed.is_none() && a.seeds.is_none() && a.minutes.is_none() {
        a.seeds = Some(1_000);
    }
    a.threads = a.threads.max(1);
    Ok(a)
}

fn config_for(args: &Args, seed: u64) -> SimConfig {
    let c = default_config(seed, args.mutant);
    if args.no_write_failures {
        c.without_write_failures()
    } else {
        c
    }
}

fn report_failure(seed: u64, v: &Violation, args: &Args) {
    println!("seed {seed}: {v}");
    let (trace, _) = replay(config_for(args, seed));
    let from = trace.len().saturating_sub(40);
    println!(
        "--- trace excerpt (last {} lines; replay with --seed {seed} --trace) ---",
        trace.len() - from
    );
    for line in &trace[from..] {
        println!("{line}");
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "the runner measures its own wall time to report seeds per second"
)]
fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!(
                "usage: dhcpv6-sim [--seeds N | --minutes M | --seed S [--trace]] [--start S] [--threads T] [--mutant ignore-mclt|answer-when-unresponsive]"
            );
            return ExitCode::from(2);
        }
    };
    if let Some(seed) = args.seed {
        let cfg = config_for(&args, seed);
        let (trace, result) = replay(cfg);
        if args.trace {
            for line in &trace {
                println!("{line}");
            }
        }
        return match result {
            Ok(s) => {
                println!(
                    "seed {seed}: ok ({} virtual s, {} steps, {} grants, settled {} s after faults)",
                    s.end / 1000,
                    s.steps,
                    s.grants,
                    s.settle_time / 1000
                );
                println!("1 seeds, 0 violations");
                ExitCode::SUCCESS
            }
            Err(v) => {
                println!("seed {seed}: {v}");
                if !args.trace {
                    let from = trace.len().saturating_sub(40);
                    for line in &trace[from..] {
                        println!("{line}");
                    }
                }
                ExitCode::FAILURE
            }
        };
    }
    let start = std::time::Instant::now();
    let deadline = args
        .minutes
        .map(|m| start + Duration::from_secs_f64(m * 60.0));
    let end_seed = args.seeds.map(|n| args.start.saturating_add(n));
    let next = AtomicU64::new(args.start);
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let failures = AtomicU64::new(0);
    // Coverage: per endpoint state (1..=10) and message type (24..=35), how many seeds saw it.
    let state_seeds: Vec<AtomicU64> = (0..16).map(|_| AtomicU64::new(0)).collect();
    let msg_seeds: Vec<AtomicU64> = (0..16).map(|_| AtomicU64::new(0)).collect();
    let max_settle = AtomicU64::new(0);
    let total_steps = AtomicU64::new(0);
    let total_virtual_ms = AtomicU64::new(0);
    let failure: Mutex<Option<(u64, Violation)>> = Mutex::new(None);
    let active = AtomicUsize::new(args.threads);
    std::thread::scope(|s| {
        for _ in 0..args.threads {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                        break;
                    }
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if end_seed.is_some_and(|e| seed >= e) {
                        break;
                    }
                    let r = run_seed(config_for(&args, seed));
                    done.fetch_add(1, Ordering::Relaxed);
                    if let Ok(st) = &r {
                        for (i, c) in state_seeds.iter().enumerate() {
                            if st.states_visited & (1 << i) != 0 {
                                c.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        for (i, c) in msg_seeds.iter().enumerate() {
                            if st.messages_sent & (1 << i) != 0 {
                                c.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        max_settle.fetch_max(st.settle_time, Ordering::Relaxed);
                        total_steps.fetch_add(st.steps, Ordering::Relaxed);
                        total_virtual_ms.fetch_add(st.end, Ordering::Relaxed);
                    }
                    if let Err(v) = r {
                        failures.fetch_add(1, Ordering::Relaxed);
                        if args.keep_going {
                            println!("seed {seed}: {v}");
                        }
                        let mut f = failure.lock().unwrap_or_else(|p| p.into_inner());
                        if f.as_ref().is_none_or(|(s, _)| seed < *s) {
                            *f = Some((seed, v));
                        }
                        if !args.keep_going {
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                }
                active.fetch_sub(1, Ordering::Relaxed);
            });
        }
        // Progress every 10 s.
        let mut last = 0;
        while active.load(Ordering::Relaxed) > 0 {
            std::thread::sleep(Duration::from_millis(100));
            let el = start.elapsed().as_secs();
            if el / 10 > last {
                last = el / 10;
                let n = done.load(Ordering::Relaxed);
                println!(
                    "{n} seeds in {el} s ({:.0} seeds/s)",
                    n as f64 / start.elapsed().as_secs_f64()
                );
            }
        }
    });
    let n = done.load(Ordering::Relaxed);
    let el = start.elapsed().as_secs_f64();
    println!(
        "{n} seeds in {el:.1} s ({:.0} seeds/s)",
        n as f64 / el.max(1e-9)
    );
    let states = [
        "STARTUP",
        "NORMAL",
        "COMMUNICATIONS-INTERRUPTED",
        "PARTNER-DOWN",
        "POTENTIAL-CONFLICT",
        "RECOVER",
        "RECOVER-WAIT",
        "RECOVER-DONE",
        "RESOLUTION-INTERRUPTED",
        "CONFLICT-DONE",
    ];
    let cov: Vec<String> = states
        .iter()
        .enumerate()
        .map(|(i, name)| format!("{name} {}", state_seeds[i + 1].load(Ordering::Relaxed)))
        .collect();
    println!("seeds reaching each state: {}", cov.join(", "));
    let msgs = [
        "BNDUPD",
        "BNDREPLY",
        "POOLREQ",
        "POOLRESP",
        "UPDREQ",
        "UPDREQALL",
        "UPDDONE",
        "CONNECT",
        "CONNECTREPLY",
        "DISCONNECT",
        "STATE",
        "CONTACT",
    ];
    let cov: Vec<String> = msgs
        .iter()
        .enumerate()
        .map(|(i, name)| format!("{name} {}", msg_seeds[i].load(Ordering::Relaxed)))
        .collect();
    println!("seeds sending each message: {}", cov.join(", "));
    println!(
        "longest settle after faults stopped: {} virtual s",
        max_settle.load(Ordering::Relaxed) / 1000
    );
    println!(
        "passing seeds: {} steps, {:.1} virtual hours",
        total_steps.load(Ordering::Relaxed),
        total_virtual_ms.load(Ordering::Relaxed) as f64 / 3_600_000.0
    );
    let f = failure.into_inner().unwrap_or_else(|p| p.into_inner());
    match f {
        None => {
            println!("{n} seeds, 0 violations");
            ExitCode::SUCCESS
        }
        Some((seed, v)) => {
            report_failure(seed, &v, &args);
            let k = failures.load(Ordering::Relaxed);
            let plural = if k == 1 { "violation" } else { "violations" };
            println!(
                "{n} seeds, {k} {plural} (first: seed {seed}, invariant {})",
                v.invariant
            );
            ExitCode::FAILURE
        }
    }
}
