//! Codec benchmarks: for every message in `benches/data/dhcpv6-inputs.txt`, borrowed decode,
//! owned decode and encode with `dhcpv6-wire`, side by side with `dhcproto` 0.15 in the same run.
//!
//! Criterion measures each case; afterwards a summary table prints ours, theirs and the ratio
//! (fastest of 301 short timed batches per case, the cases of one input interleaved), the heap
//! allocations of our borrowed decode (counted with a wrapping global allocator) and whether each
//! codec re-emits every input byte-exact.
//!
//! `cargo bench -p dhcpv6-benches --bench wire` runs it; append `-- --quick` for a short run.

use std::alloc::System;
use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use dhcproto::{Decodable, Encodable};
use dhcpv6_wire::{Emit, Message, MessageView, OptionCode};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const INPUTS: &str = include_str!("../data/dhcpv6-inputs.txt");

struct Input {
    name: &'static str,
    bytes: Vec<u8>,
}

fn inputs() -> Vec<Input> {
    INPUTS
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, hex) = l.split_once(' ').expect("`name hex` per line");
            Input {
                name,
                bytes: hex::decode(hex.trim()).expect("hex"),
            }
        })
        .collect()
}

/// Borrowed decode: check the header and framing, then walk every option of every relay
/// layer down to the innermost message, without allocating.
fn borrowed_decode(bytes: &[u8]) -> u32 {
    let Ok(mut view) = MessageView::new_checked(bytes) else {
        return u32::MAX;
    };
    let mut acc = 0u32;
    loop {
        let mut inner = None;
        for o in view.options() {
            let Ok(o) = o else { return u32::MAX };
            acc = acc
                .wrapping_add(u32::from(o.code.0))
                .wrapping_add(o.data.len() as u32);
            if o.code == OptionCode::RELAY_MSG {
                inner = Some(o);
            }
        }
        match inner.and_then(|_| view.relay_message()) {
            Some(Ok(v)) => view = v,
            Some(Err(_)) => return u32::MAX,
            None => return acc,
        }
    }
}

enum Theirs {
    Client(dhcproto::v6::Message),
    Relay(dhcproto::v6::RelayMessage),
}

fn theirs_decode(bytes: &[u8]) -> Option<Theirs> {
    match bytes.first() {
        Some(12 | 13) => dhcproto::v6::RelayMessage::from_bytes(bytes)
            .ok()
            .map(Theirs::Relay),
        _ => dhcproto::v6::Message::from_bytes(bytes)
            .ok()
            .map(Theirs::Client),
    }
}

fn theirs_encode(m: &Theirs) -> Option<Vec<u8>> {
    match m {
        Theirs::Client(m) => m.to_vec().ok(),
        Theirs::Relay(m) => m.to_vec().ok(),
    }
}

fn criterion_benches(c: &mut Criterion, all: &[Input]) {
    for input in all {
        let b = &input.bytes[..];
        let ours = Message::parse(b).expect("our codec parses every input");
        let mut g = c.benchmark_group(input.name);
        g.bench_function("ours/borrowed_decode", |x| {
            x.iter(|| borrowed_decode(black_box(b)))
        });
        g.bench_function("ours/owned_decode", |x| {
            x.iter(|| Message::parse(black_box(b)))
        });
        g.bench_function("ours/encode", |x| x.iter(|| black_box(&ours).to_vec()));
        if let Some(theirs) = theirs_decode(b) {
            g.bench_function("dhcproto/decode", |x| {
                x.iter(|| theirs_decode(black_box(b)))
            });
            g.bench_function("dhcproto/encode", |x| {
                x.iter(|| theirs_encode(black_box(&theirs)))
            });
        }
        g.finish();
    }
}

/// CPU time of this thread, so that time slices given to other processes on a shared machine
/// do not count.
fn thread_cpu() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

/// Nanoseconds of thread CPU time per call for each of `fs`: the fastest of `ROUNDS` batches
/// of about `batch` each. The machine is shared (two cores, parallel builds), so thread CPU
/// time and the minimum are the stable estimates of the uncontended cost; criterion's
/// wall-clock means include the noise. The batches of the cases being compared are
/// interleaved round by round, so that ours and dhcproto's see the same load.
fn time_ns(batch: Duration, fs: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    const ROUNDS: usize = 301;
    let iters: Vec<u64> = fs
        .iter_mut()
        .map(|f| {
            let mut iters = 1u64;
            loop {
                // Calibrated on thread CPU time too, so that a time slice lost to another
                // process cannot end the calibration early and leave batches too short.
                let t = thread_cpu();
                for _ in 0..iters {
                    f();
                }
                if thread_cpu() - t >= batch || iters >= 1 << 30 {
                    break iters;
                }
                iters *= 2;
            }
        })
        .collect();
    let mut best = vec![f64::INFINITY; fs.len()];
    for _ in 0..ROUNDS {
        for ((f, &n), best) in fs.iter_mut().zip(&iters).zip(best.iter_mut()) {
            let t = thread_cpu();
            for _ in 0..n {
                f();
            }
            *best = best.min((thread_cpu() - t).as_nanos() as f64 / n as f64);
        }
    }
    best
}

fn summary(all: &[Input], batch: Duration) {
    println!();
    println!(
        "| input | bytes | ours borrowed decode | allocs | ours owned decode | dhcproto decode | ratio | ours encode | dhcproto encode | ratio | ours byte-exact | dhcproto byte-exact |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|");
    for input in all {
        let b = &input.bytes[..];
        let ours = Message::parse(b).expect("our codec parses every input");
        let ours_exact =
            ours.to_vec() == b && Message::parse(&ours.to_vec()).ok() == Some(ours.clone());
        let region = Region::new(GLOBAL);
        for _ in 0..1000 {
            black_box(borrowed_decode(black_box(b)));
        }
        let allocs = region.change().allocations as f64 / 1000.0;
        let theirs = theirs_decode(b);
        let mut borrowed = || {
            black_box(borrowed_decode(black_box(b)));
        };
        let mut owned = || {
            black_box(Message::parse(black_box(b)).ok());
        };
        let mut encode = || {
            black_box(black_box(&ours).to_vec());
        };
        let mut their_decode = || {
            black_box(theirs_decode(black_box(b)));
        };
        let mut their_encode = || {
            if let Some(t) = &theirs {
                black_box(theirs_encode(black_box(t)));
            }
        };
        let times = time_ns(
            batch,
            &mut [
                &mut borrowed,
                &mut owned,
                &mut encode,
                &mut their_decode,
                &mut their_encode,
            ],
        );
        let &[borrowed, owned, encode, their_dec, their_enc] = &times[..] else {
            unreachable!("five cases timed")
        };
        let (their_dec, their_enc, their_exact) = match &theirs {
            Some(t) => {
                let exact = theirs_encode(t).as_deref() == Some(b);
                (
                    Some(their_dec),
                    Some(their_enc),
                    if exact { "yes" } else { "**no**" },
                )
            }
            None => (None, None, "**fails to decode**"),
        };
        let fmt = |v: Option<f64>| v.map_or_else(|| "–".to_string(), |v| format!("{v:.0} ns"));
        let ratio = |theirs: Option<f64>, ours: f64| {
            theirs.map_or_else(|| "–".to_string(), |t| format!("{:.1}×", t / ours))
        };
        println!(
            "| {} | {} | {:.0} ns | {} | {:.0} ns | {} | {} | {:.0} ns | {} | {} | {} | {} |",
            input.name,
            b.len(),
            borrowed,
            allocs,
            owned,
            fmt(their_dec),
            ratio(their_dec, owned),
            encode,
            fmt(their_enc),
            ratio(their_enc, encode),
            if ours_exact { "yes" } else { "**no**" },
            their_exact,
        );
        assert!(
            ours_exact,
            "{}: dhcpv6-wire must round-trip byte-exact",
            input.name
        );
        assert_eq!(
            allocs, 0.0,
            "{}: borrowed decode must not allocate",
            input.name
        );
    }
    println!();
}

fn main() {
    let all = inputs();
    let args: Vec<String> = std::env::args().collect();
    let smoke = args.iter().any(|a| a == "--test" || a == "--list");
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .configure_from_args();
    criterion_benches(&mut c, &all);
    c.final_summary();
    if !args.iter().any(|a| a == "--list") {
        summary(
            &all,
            if smoke {
                Duration::from_micros(20)
            } else {
                Duration::from_micros(200)
            },
        );
    }
}
