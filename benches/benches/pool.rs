//! Pool allocation benchmarks: allocations per second from a /64 address range, a /112 address
//! range (65,536 addresses) and a /40 carved into /56s (65,536 prefixes), empty and with the
//! allocating side's share 50 % and 90 % full, plus heap bytes per lease.
//!
//! Method: each timed batch allocates `BATCH` leases for distinct clients (8-byte DUIDs from a
//! counter) from the primary's share, then frees them untimed, so the fill level stays within
//! `BATCH` leases of the nominal one. The /64 "empty" case never frees: it allocates into a pool
//! that is rebuilt every `EMPTY_RUN` leases. Memory is measured, not estimated: a counting
//! global allocator (`stats_alloc`) reports the net heap bytes the pool gained while taking `N`
//! leases, divided by `N`.
//!
//! `cargo bench -p dhcpv6-benches --bench pool` runs it; append `-- --quick` for a short run.
#![expect(
    clippy::disallowed_methods,
    reason = "a benchmark measures wall-clock time with Instant::now"
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
const EMPTY_RUN: u64 = 100_000;

fn net(s: &str) -> Ipv6Addr {
    s.parse().expect("literal address")
}

fn addr_pool(len: u8) -> AddressPool {
    let range = AddressRange::from_prefix(Prefix::new(net("2001:db8:1:2::"), len).expect("prefix"));
    AddressPool::new(&AddressPoolConfig::new(range).with_rule(SplitRule::LowestBit).with_seed(1))
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
        pool.allocate(Side::Primary, ClientKey::new(&duid, 0)).expect("room while filling");
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
            got.push(black_box(pool.allocate(Side::Primary, ClientKey::new(&duid, 0))));
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

    for pct in [0u128, 50, 90] {
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

fn report_memory(_c: &mut Criterion) {
    println!("memory (net heap bytes per lease, counting global allocator):");
    println!("  addr_64, 100000 leases: {:.1}", bytes_per_lease(addr_pool(64), 100_000));
    println!("  addr_112, 29491 leases (90% of primary): {:.1}", bytes_per_lease(addr_pool(112), 29_491));
    let pd = pd_pool();
    let n = (pd.free_count(Side::Primary) * 9 / 10) as u64;
    println!("  pd_40_56, {n} leases (90% of primary): {:.1}", bytes_per_lease(pd, n));
}

criterion::criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = report_memory, bench_alloc
}
criterion::criterion_main!(benches);
