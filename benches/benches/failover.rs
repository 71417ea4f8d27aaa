//! Failover endpoint benchmarks.
//!
//! * `bndupd/handle`: one BNDUPD through a secondary in NORMAL — deframe and decode, conflict
//!   check against an existing binding, apply, storage write issued and acknowledged, BNDREPLY
//!   encoded and framed. Frames are pre-encoded (the partner's cost is not counted); 4096
//!   distinct leases are cycled.
//! * `decision/*`: the per-client-message questions (`may_serve`, `may_allocate`,
//!   `lease_bound`) on an endpoint holding 100,000 bindings.
//! * `updreqall/100k`: a secondary that lost its database asks UPDREQALL of a primary holding
//!   100,000 bindings; timed from the connection to UPDDONE, both endpoints back to back in
//!   memory with storage acknowledged at once (both sides' CPU). The same with 1,000,000
//!   bindings is timed once and printed (`UPDREQALL 1M`), it takes too long for criterion's
//!   sampling.
//!
//! * `summary`: after the criterion groups, a table of the same operations in thread CPU time
//!   (the fastest of 101 batches, so that time slices given to other processes on the shared
//!   machine do not count) and heap allocations per BNDUPD, plus UPDREQALL of 1,000,000
//!   bindings in thread CPU seconds (the target is < 10 s). `FAILOVER_BENCH_SKIP_1M=1` leaves
//!   out both 1M runs, `FAILOVER_BENCH_SKIP_SUMMARY=1` the whole table (for profiling one
//!   criterion benchmark).
//!
//! * `FAILOVER_BENCH_PROFILE=bndupd:N` / `updreqall:N`: only that loop, for profilers (see
//!   [`profile`]).
//!
//! `cargo bench -p dhcpv6-benches --bench failover` runs it; append `-- --quick` for a short run.
#![expect(
    clippy::disallowed_methods,
    reason = "a benchmark measures wall-clock time with Instant::now"
)]
#![expect(
    missing_docs,
    reason = "criterion_group! generates a public function that cannot carry a doc comment"
)]

use std::hint::black_box;
use std::net::Ipv6Addr;
use std::time::Instant as StdInstant;

use criterion::{Criterion, Throughput};
use dhcpv6_failover::{
    AddressRange, Binding, BindingStatus, ClientKey, ClientRequestKind, Config, Duration, Endpoint,
    Instant, PersistedState, Resource, Role, State, UnixTime,
};
use dhcpv6_wire::{
    DhcpOption, Duid, FailoverMessage, IaAddr, IaNa, MessageType, Options, ProtocolVersion,
    ServerState, encode_frame,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

const T0: u64 = 1_800_000_000;
const BASE: u128 = 0x2001_0db8_0000_0001_0000_0000_0000_0000;

fn now_at(ms: u64) -> dhcpv6_failover::Now {
    dhcpv6_failover::Now::new(
        Instant::from_millis(ms),
        UnixTime::from_secs(T0 + ms / 1000),
    )
}

fn config(role: Role) -> Config {
    let mut c = Config::new(role);
    c.mclt = Duration::from_secs(3600);
    c.max_unacked_bndupd = 1000;
    c.pools.addresses.push(AddressRange::new(
        Ipv6Addr::from(BASE),
        Ipv6Addr::from(BASE | 0xffff_ffff_ffff_ffff),
    ));
    c
}

fn frame(m: &FailoverMessage) -> Vec<u8> {
    let mut v = Vec::new();
    encode_frame(m, &mut v).expect("encodable");
    v
}

fn client(i: u64) -> ClientKey {
    let mut duid = vec![0, 2, 0, 0, 0x7f, 0x00];
    duid.extend_from_slice(&i.to_be_bytes());
    ClientKey { duid, iaid: 1 }
}

fn addr(i: u64) -> Ipv6Addr {
    Ipv6Addr::from(BASE | u128::from(i * 2 + 1))
}

/// A secondary in NORMAL with a scripted primary (no partner endpoint needed).
fn normal_secondary() -> Endpoint {
    let t = now_at(0);
    let mut ep = Endpoint::new(config(Role::Secondary), t).expect("config");
    ep.handle_connection_up(t);
    let abs = t.wall.to_abs_time();
    let mut c = FailoverMessage::new(MessageType::CONNECT, 1, abs);
    c.options.push(DhcpOption::ProtocolVersion(ProtocolVersion {
        major: 1,
        minor: 0,
    }));
    c.options.push(DhcpOption::Mclt(3600));
    c.options.push(DhcpOption::KeepaliveTime(3600));
    c.options.push(DhcpOption::MaxUnackedBndupd(1000));
    c.options.push(DhcpOption::ConnectFlags(1));
    ep.handle_bytes(t, &frame(&c));
    let mut s = FailoverMessage::new(MessageType::STATE, 2, abs);
    s.options
        .push(DhcpOption::ServerState(ServerState(State::Normal.to_u8())));
    s.options.push(DhcpOption::ServerFlags(0));
    s.options.push(DhcpOption::StartTimeOfState(abs));
    ep.handle_bytes(t, &frame(&s));
    // Fresh secondary: RECOVER, UPDREQALL; answer UPDDONE, skip the wait; in RECOVER-DONE it
    // asks UPDREQ (what the partner still owes it), answered by UPDDONE too; then NORMAL.
    for _ in 0..8 {
        let mut xid = None;
        pump_single(&mut ep, t, &mut |m| {
            if m.msg_type == MessageType::UPDREQALL || m.msg_type == MessageType::UPDREQ {
                xid = Some(m.transaction_id);
            }
        });
        if ep.state() == State::Normal {
            break;
        }
        if let Some(x) = xid {
            let done = FailoverMessage::new(MessageType::UPDDONE, x, abs);
            ep.handle_bytes(t, &frame(&done));
        }
        ep.handle_timeout(t);
    }
    assert_eq!(ep.state(), State::Normal, "secondary reached NORMAL");
    ep
}

fn pump_single(ep: &mut Endpoint, t: dhcpv6_failover::Now, f: &mut dyn FnMut(&FailoverMessage)) {
    let mut dec = dhcpv6_wire::FrameDecoder::new(65_535);
    loop {
        let mut moved = false;
        while let Some(w) = ep.poll_storage() {
            ep.handle_storage_done(t, w.id, Ok(())).expect("ack");
            moved = true;
        }
        while let Some(x) = ep.poll_transmit() {
            let mut b = &x.bytes[..];
            while let Ok(Some(fr)) = dec.decode(&mut b) {
                if let Ok(m) = FailoverMessage::parse(&fr) {
                    f(&m);
                }
            }
            moved = true;
        }
        while ep.poll_event().is_some() {
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

fn bndupd_frame(i: u64, abs: u32) -> Vec<u8> {
    let c = client(i);
    let mut o = Options::new();
    o.push(DhcpOption::BindingStatus(dhcpv6_wire::BindingStatus(1)));
    o.push(DhcpOption::StartTimeOfState(abs));
    o.push(DhcpOption::StateExpirationTime(abs + 3600));
    o.push(DhcpOption::CltTime(0));
    o.push(DhcpOption::PartnerLifetime(abs + 7200));
    let a = IaAddr {
        address: addr(i),
        preferred_lifetime: 1800,
        valid_lifetime: 3600,
        options: o,
    };
    let mut cd = Options::new();
    cd.push(DhcpOption::ClientId(Duid::new(&c.duid).expect("duid")));
    cd.push(DhcpOption::LqBaseTime(abs));
    cd.push(DhcpOption::IaNa(IaNa {
        iaid: 1,
        t1: 1800,
        t2: 2880,
        options: Options::from(vec![DhcpOption::IaAddr(a)]),
    }));
    let mut m = FailoverMessage::new(MessageType::BNDUPD, (i as u32) & 0xff_ffff, abs);
    m.options.push(DhcpOption::ClientData(cd));
    frame(&m)
}

fn bench_bndupd(c: &mut Criterion) {
    // The setup's first pass creates the bindings; the timed passes update existing ones.
    let (mut ep, t, frames) = bndupd_setup();
    let mut g = c.benchmark_group("bndupd");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("handle", |b| {
        b.iter(|| {
            handle_one(&mut ep, t, &frames[i % frames.len()]);
            i += 1;
        });
    });
    g.finish();
}

/// A secondary in NORMAL holding 4096 bindings, a time, and BNDUPD frames updating them.
fn bndupd_setup() -> (Endpoint, dhcpv6_failover::Now, Vec<Vec<u8>>) {
    let mut ep = normal_secondary();
    let t = now_at(1000);
    let abs = t.wall.to_abs_time();
    let frames: Vec<Vec<u8>> = (0..4096).map(|i| bndupd_frame(i, abs)).collect();
    for f in &frames {
        ep.handle_bytes(t, f);
        pump_single(&mut ep, t, &mut |_| {});
    }
    (ep, t, frames)
}

/// Everything the embedding server does for one BNDUPD from the partner: hand in the bytes,
/// perform (here: acknowledge at once) the storage write, take the BNDREPLY, drain events.
fn handle_one(ep: &mut Endpoint, t: dhcpv6_failover::Now, frame: &[u8]) {
    ep.handle_bytes(t, frame);
    while let Some(w) = ep.poll_storage() {
        black_box(&w.record);
        ep.handle_storage_done(t, w.id, Ok(())).expect("ack");
    }
    let reply = ep.poll_transmit().expect("BNDREPLY");
    while ep.poll_event().is_some() {}
    black_box(reply.bytes.len());
}

/// An endpoint (primary, NORMAL is not needed for the questions' cost) holding `n` ACTIVE
/// bindings.
fn populated(role: Role, n: u64, state_normal: bool) -> Endpoint {
    let t = now_at(0);
    let bindings: Vec<Binding> = (0..n)
        .map(|i| {
            let r = Resource::Address(addr(i));
            let mut b = Binding::new(r, BindingStatus::Active, t.wall);
            b.client = Some(client(i));
            b.client_last_transaction_time = Some(t.wall);
            b.state_expiration_time = Some(t.wall + Duration::from_secs(86_400));
            b.acked_partner_lifetime = Some(t.wall + Duration::from_secs(86_400));
            b.expiration_time = Some(t.wall + Duration::from_secs(86_400));
            b.valid_lifetime = Duration::from_secs(86_400);
            b.preferred_lifetime = Duration::from_secs(43_200);
            b.t1 = Duration::from_secs(43_200);
            b.t2 = Duration::from_secs(69_120);
            b
        })
        .collect();
    let mut cfg = config(role);
    cfg.unpaired_first_start = state_normal;
    let mut ep = Endpoint::restore(
        cfg,
        PersistedState {
            endpoint: None,
            bindings,
        },
        t,
    )
    .expect("restore");
    if state_normal {
        // Startup timer → PARTNER-DOWN (unpaired first start): a responsive state.
        ep.handle_timeout(now_at(60_000));
        pump_single(&mut ep, now_at(60_000), &mut |_| {});
    }
    ep
}

fn bench_decisions(c: &mut Criterion) {
    let ep = populated(Role::Primary, 100_000, true);
    let t = now_at(61_000);
    let bound = Resource::Address(addr(500));
    let free = Resource::Address(Ipv6Addr::from(BASE | 0xffff_0001));
    let client500 = client(500);
    let mut g = c.benchmark_group("decision");
    g.bench_function("may_serve", |b| {
        b.iter(|| black_box(ep.may_serve(black_box(ClientRequestKind::Renew), black_box(true))));
    });
    g.bench_function("may_allocate_free", |b| {
        b.iter(|| black_box(ep.may_allocate(t, black_box(&free))))
    });
    g.bench_function("may_allocate_bound", |b| {
        b.iter(|| black_box(ep.may_allocate(t, black_box(&bound))))
    });
    g.bench_function("may_allocate_to_own", |b| {
        b.iter(|| black_box(ep.may_allocate_to(t, black_box(&bound), black_box(&client500))))
    });
    g.bench_function("lease_bound", |b| {
        b.iter(|| {
            black_box(ep.lease_bound(t, black_box(&bound), black_box(Duration::from_secs(86_400))))
        });
    });
    g.finish();
}

/// Primary with `n` bindings, fresh secondary: connection to UPDDONE. Returns elapsed seconds.
fn updreqall(n: u64) -> f64 {
    updreqall_cpu(n).0
}

/// As [`updreqall`]: (wall seconds, thread CPU seconds).
fn updreqall_cpu(n: u64) -> (f64, f64) {
    let mut p = populated(Role::Primary, n, false);
    let mut s = Endpoint::new(config(Role::Secondary), now_at(0)).expect("config");
    let t = now_at(1000);
    let start = StdInstant::now();
    let cpu = thread_cpu();
    s.handle_connection_up(t);
    p.handle_connection_up(t);
    fn step(a: &mut Endpoint, b: &mut Endpoint, t: dhcpv6_failover::Now) -> bool {
        let mut moved = false;
        while let Some(w) = a.poll_storage() {
            a.handle_storage_done(t, w.id, Ok(())).expect("ack");
            moved = true;
        }
        while let Some(x) = a.poll_transmit() {
            b.handle_bytes(t, &x.bytes);
            moved = true;
        }
        while a.poll_event().is_some() {
            moved = true;
        }
        moved
    }
    while step(&mut p, &mut s, t) | step(&mut s, &mut p, t) {}
    let secs = start.elapsed().as_secs_f64();
    let cpu = (thread_cpu() - cpu).as_secs_f64();
    assert_eq!(s.bindings().count() as u64, n, "every binding transferred");
    assert!(matches!(
        s.state(),
        State::RecoverWait | State::RecoverDone | State::Normal | State::CommunicationsInterrupted
    ));
    (secs, cpu)
}

fn bench_updreqall(c: &mut Criterion) {
    let mut g = c.benchmark_group("updreqall");
    g.sample_size(10);
    g.throughput(Throughput::Elements(100_000));
    g.bench_function("100k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += Duration::from_secs_f64(updreqall(100_000));
            }
            total
        });
    });
    g.finish();
}

/// CPU time of this thread, so that time slices given to other processes on a shared machine
/// do not count.
fn thread_cpu() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

/// Nanoseconds of thread CPU time per call: the fastest of 101 batches of about 20 ms each.
fn time_ns(mut f: impl FnMut()) -> f64 {
    let mut iters = 1u64;
    loop {
        let t = StdInstant::now();
        for _ in 0..iters {
            f();
        }
        if t.elapsed() >= Duration::from_millis(20) || iters >= 1 << 30 {
            break;
        }
        iters *= 2;
    }
    (0..101)
        .map(|_| {
            let t = thread_cpu();
            for _ in 0..iters {
                f();
            }
            (thread_cpu() - t).as_nanos() as f64 / iters as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn summary(_: &mut Criterion) {
    if std::env::var_os("FAILOVER_BENCH_SKIP_SUMMARY").is_some() {
        return;
    }
    println!();
    println!("| operation | thread CPU per op | rate per core | heap allocations per op |");
    println!("|---|---:|---:|---:|");
    let (mut ep, t, frames) = bndupd_setup();
    let mut i = 0usize;
    let region = Region::new(GLOBAL);
    for _ in 0..4096 {
        handle_one(&mut ep, t, &frames[i % frames.len()]);
        i += 1;
    }
    let allocs = region.change().allocations as f64 / 4096.0;
    let ns = time_ns(|| {
        handle_one(&mut ep, t, &frames[i % frames.len()]);
        i += 1;
    });
    println!(
        "| BNDUPD handled (decode, conflict check, apply, storage write + ack, BNDREPLY) | {ns:.0} ns | {:.0} k/s | {allocs:.1} |",
        1e6 / ns
    );
    for n in [100_000u64, 1_000_000] {
        if n > 100_000 && std::env::var_os("FAILOVER_BENCH_SKIP_1M").is_some() {
            continue;
        }
        let ep = populated(Role::Primary, n, true);
        let t = now_at(61_000);
        let bound = Resource::Address(addr(n / 2));
        let free = Resource::Address(Ipv6Addr::from(BASE | 0xffff_0001));
        let own = client(n / 2);
        let row = |name: &str, ns: f64| {
            println!("| {name} ({n} bindings) | {ns:.1} ns | | |");
        };
        row(
            "may_serve",
            time_ns(|| {
                black_box(ep.may_serve(black_box(ClientRequestKind::Renew), black_box(true)));
            }),
        );
        row(
            "may_allocate, free address",
            time_ns(|| {
                black_box(ep.may_allocate(t, black_box(&free)));
            }),
        );
        row(
            "may_allocate, bound address",
            time_ns(|| {
                black_box(ep.may_allocate(t, black_box(&bound)));
            }),
        );
        row(
            "may_allocate_to, the client's own lease",
            time_ns(|| {
                black_box(ep.may_allocate_to(t, black_box(&bound), black_box(&own)));
            }),
        );
        row(
            "lease_bound",
            time_ns(|| {
                black_box(ep.lease_bound(t, black_box(&bound), Duration::from_secs(86_400)));
            }),
        );
    }
    if std::env::var_os("FAILOVER_BENCH_SKIP_1M").is_none() {
        let (wall, cpu) = updreqall_cpu(1_000_000);
        println!(
            "| UPDREQALL of 1,000,000 bindings, connection to UPDDONE, both endpoints | {cpu:.2} s CPU ({wall:.2} s wall) | {:.0} k bindings/s | |",
            1e3 / cpu
        );
    }
}

criterion::criterion_group!(
    benches,
    bench_bndupd,
    bench_decisions,
    bench_updreqall,
    summary
);

/// `FAILOVER_BENCH_PROFILE=bndupd:N` or `updreqall:N`: run only that loop (N BNDUPDs after the
/// setup, or one UPDREQALL of N bindings) and exit, for instruction counts, e.g.
/// `valgrind --tool=callgrind --toggle-collect='*profile_bndupd_loop*'` or
/// `--toggle-collect='*updreqall_cpu*step*'`.
fn profile(spec: &str) {
    let (what, n) = spec.split_once(':').unwrap_or((spec, "20000"));
    let n: u64 = n
        .parse()
        .expect("FAILOVER_BENCH_PROFILE=bndupd:N or updreqall:N");
    match what {
        "bndupd" => {
            let (mut ep, t, frames) = bndupd_setup();
            profile_bndupd_loop(&mut ep, t, &frames, n);
        }
        "updreqall" => {
            let (wall, cpu) = updreqall_cpu(n);
            println!("UPDREQALL of {n} bindings: {cpu:.3} s CPU ({wall:.3} s wall)");
        }
        _ => panic!("FAILOVER_BENCH_PROFILE=bndupd:N or updreqall:N"),
    }
}

#[inline(never)]
fn profile_bndupd_loop(ep: &mut Endpoint, t: dhcpv6_failover::Now, frames: &[Vec<u8>], n: u64) {
    for i in 0..n as usize {
        handle_one(ep, t, &frames[i % frames.len()]);
    }
}

fn main() {
    if let Some(spec) = std::env::var_os("FAILOVER_BENCH_PROFILE") {
        profile(&spec.to_string_lossy());
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
