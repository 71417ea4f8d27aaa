//! Pool allocation benchmarks: allocations per second from a /64 address range, a /112 address
//! range (65,536 addresses) and a /40 carved into /56s (65,536 prefixes), empty and with the
//! allocating side's share 50 %, 90 % and 95 % full, plus heap bytes per lease.
//!
//! Method: each timed batch allocates `BATCH` leases for distinct clients (8-byte DUIDs from a
//! counter) from the primary's share, then frees them untimed, so the fill level stays within
//! `BATCH` leases of the nominal one. The /64 "empty" case never frees: it allocates into a pool
//! that is rebuilt every `EMPTY_RUN` leases; the /64 "1M" case allocates and frees batches in a
//! /64 that already holds a million leases (the realistic large-server case). Memory is measured, not estimated: a counting
//! global allocator (`stats_alloc`) reports the net heap bytes the pool gained while taking `N`
//! leases, divided by `N`.
//!
//! `cargo bench -p dhcpv6-benches --bench pool` runs it; append `-- --quick` for a short run.
#![expect(
    clippy::disallowed_methods,
    reason = "a benchmark measures wall-clock time with Instant::now"
)]
#![expect(
    missing_docs,
    reason = "criterion_group! generates a public function that cannot carry a doc comment"
)]

use std::alloc::System;
use std::hint::black_box;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use dhcpv6_pool::{
    AddressPool, AddressPoolConfig, AddressRange, Allocator, ClientKey, Prefix, PrefixPool,
    PrefixPoolConfig, Side, SplitRule,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const BATCH: u64 = 256;
const EMPTY_RUN: u64 = 10_000;
const MILLION: u64 = 1_000_000;

fn net(s: &str) -> Ipv6Addr {
    s.parse().expect("literal address")
}

fn addr_pool(len: u8) -> AddressPool {
    let range = AddressRange::from_prefix(Prefix::new(net("2001:db8:1:2::"), len).expect("prefix"));
    AddressPool::new(
        &AddressPoolConfig::new(range)
            .with_rule(SplitRule::LowestBit)
            .with_seed(1),
    )
    .expect("pool")
}

fn pd_pool() -> PrefixPool {
    let delegable = Prefix::new(net("2001:db8:ab00::"), 40).expect("prefix");
    PrefixPool::new(&PrefixPoolConfig::new(delegable, 56).with_seed(1)).expect("pool")
}

fn key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// Fills `fraction_pct` % of the primary's share with allocations for clients `u64::MAX - i`.
fn fill<P: Allocator>(pool: &mut P, fraction_pct: u128) {
    let target = pool.free_count(Side::Primary) * fraction_pct / 100;
    for i in 0..target as u64 {
        let duid = key(u64::MAX - i);
        pool.allocate(Side::Primary, ClientKey::new(&duid, 0))
            .expect("room while filling");
    }
}

/// Times `iters` allocations in batches of `BATCH`, freeing each batch untimed.
fn alloc_free_batches<P: Allocator>(pool: &mut P, iters: u64, counter: &mut u64) -> Duration {
    let mut total = Duration::ZERO;
    let mut got = Vec::with_capacity(BATCH as usize);
    let mut left = iters;
    while left > 0 {
        let n = left.min(BATCH);
        let start = Instant::now();
        for _ in 0..n {
            *counter += 1;
            let duid = key(*counter);
            got.push(black_box(
                pool.allocate(Side::Primary, ClientKey::new(&duid, 0)),
            ));
        }
        total += start.elapsed();
        for r in got.drain(..).flatten() {
            pool.free(r).expect("allocated resource frees");
        }
        left -= n;
    }
    total
}

fn bench_alloc(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool_alloc");
    group.throughput(Throughput::Elements(1));

    let empty64 = addr_pool(64);
    group.bench_function("addr_64/empty", |b| {
        let mut counter = 0u64;
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(EMPTY_RUN);
                let mut pool = empty64.clone();
                let start = Instant::now();
                for _ in 0..n {
                    counter += 1;
                    let duid = key(counter);
                    black_box(pool.allocate(Side::Primary, ClientKey::new(&duid, 0)));
                }
                total += start.elapsed();
                left -= n;
            }
            total
        });
    });

    let mut big = addr_pool(64);
    fill_n(&mut big, MILLION);
    group.bench_function("addr_64/1M_leases", |b| {
        let mut counter = 0u64;
        b.iter_custom(|iters| alloc_free_batches(&mut big, iters, &mut counter));
    });
    drop(big);

    for pct in [0u128, 50, 90, 95] {
        let mut pool = addr_pool(112);
        fill(&mut pool, pct);
        let name = format!("addr_112/{pct}pct");
        group.bench_function(name.as_str(), |b| {
            let mut counter = 0u64;
            b.iter_custom(|iters| alloc_free_batches(&mut pool, iters, &mut counter));
        });

        let mut pool = pd_pool();
        fill(&mut pool, pct);
        let name = format!("pd_40_56/{pct}pct");
        group.bench_function(name.as_str(), |b| {
            let mut counter = 0u64;
            b.iter_custom(|iters| alloc_free_batches(&mut pool, iters, &mut counter));
        });
    }
    group.finish();
}

/// Net heap bytes per lease while `pool` takes `n` leases.
fn bytes_per_lease<P: Allocator>(mut pool: P, n: u64) -> f64 {
    let region = Region::new(GLOBAL);
    for i in 0..n {
        let duid = key(i);
        black_box(pool.allocate(Side::Primary, ClientKey::new(&duid, 0)));
    }
    let stats = region.change();
    let net = stats.bytes_allocated as f64 - stats.bytes_deallocated as f64;
    drop(pool);
    net / n as f64
}

/// Process CPU time (user + system) in seconds, from `/proc/self/stat` (Linux, 100 ticks/s).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Runs `work` (which performs `ops` operations) and prints wall-clock and CPU-time rates. On a
/// loaded machine the CPU-time rate is the meaningful one: it excludes time the bench waited
/// for a core.
fn rate_row(name: &str, ops: u64, work: impl FnOnce()) {
    let (wall0, cpu0) = (Instant::now(), cpu_seconds());
    work();
    let wall = wall0.elapsed().as_secs_f64();
    match (cpu0, cpu_seconds()) {
        (Some(c0), Some(c1)) if c1 > c0 => println!(
            "  {name:<34} {:>8.2} M/s wall  {:>8.2} M/s cpu",
            ops as f64 / wall / 1e6,
            ops as f64 / (c1 - c0) / 1e6
        ),
        _ => println!("  {name:<34} {:>8.2} M/s wall", ops as f64 / wall / 1e6),
    }
}

/// Fixed-work CPU-time table (see `rate_row`). Empty /64: allocations only (pools of
/// `EMPTY_RUN` leases rebuilt, rebuild and drop included). Fill levels: allocate-and-free
/// pairs, counted as one operation, so the allocation rate is at least the printed one.
fn report_cpu_rates(_c: &mut Criterion) {
    const OPS: u64 = 2_000_000;
    println!("rates over {OPS} operations (wall clock and process CPU time):");
    let empty64 = addr_pool(64);
    rate_row("addr_64/empty (alloc)", OPS, || {
        let mut counter = 0u64;
        for _ in 0..OPS / EMPTY_RUN {
            let mut pool = empty64.clone();
            for _ in 0..EMPTY_RUN {
                counter += 1;
                let duid = key(counter);
                black_box(pool.allocate(Side::Primary, ClientKey::new(&duid, 0)));
            }
        }
    });
    let pairs = |pool: &mut dyn FnMut(u64)| {
        for i in 0..OPS {
            pool(i);
        }
    };
    let mut big = addr_pool(64);
    fill_n(&mut big, MILLION);
    rate_row("addr_64/1M_leases (alloc+free)", OPS, || {
        pairs(&mut |i| alloc_then_free(&mut big, i));
    });
    drop(big);
    for pct in [0u128, 50, 90, 95] {
        let mut pool = addr_pool(112);
        fill(&mut pool, pct);
        rate_row(&format!("addr_112/{pct}pct (alloc+free)"), OPS, || {
            pairs(&mut |i| alloc_then_free(&mut pool, i));
        });
        let mut pool = pd_pool();
        fill(&mut pool, pct);
        rate_row(&format!("pd_40_56/{pct}pct (alloc+free)"), OPS, || {
            pairs(&mut |i| alloc_then_free(&mut pool, i));
        });
    }
}

fn fill_n<P: Allocator>(pool: &mut P, n: u64) {
    for i in 0..n {
        let duid = key(u64::MAX - i);
        pool.allocate(Side::Primary, ClientKey::new(&duid, 0))
            .expect("room while filling");
    }
}

fn alloc_then_free<P: Allocator>(pool: &mut P, i: u64) {
    let duid = key(i);
    if let Some(r) = black_box(pool.allocate(Side::Primary, ClientKey::new(&duid, 0))) {
        pool.free(r).expect("allocated resource frees");
    }
}

fn report_memory(_c: &mut Criterion) {
    println!("memory (net heap bytes per lease, counting global allocator):");
    println!(
        "  addr_64, 100000 leases: {:.1}",
        bytes_per_lease(addr_pool(64), 100_000)
    );
    println!(
        "  addr_112, 29491 leases (90% of primary): {:.1}",
        bytes_per_lease(addr_pool(112), 29_491)
    );
    let pd = pd_pool();
    let n = (pd.free_count(Side::Primary) * 9 / 10) as u64;
    println!(
        "  pd_40_56, {n} leases (90% of primary): {:.1}",
        bytes_per_lease(pd, n)
    );
}

criterion::criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = report_memory, report_cpu_rates, bench_alloc
}
criterion::criterion_main!(benches);
