//! Fuzzing entry point (compiled under `cfg(fuzzing)` and in unit tests; not a public API).
//!
//! [`pools_split`] decodes a pool configuration and an operation sequence from bytes, runs it on
//! an address pool or a prefix pool next to a simple model, and checks after every step that the
//! pool agrees with the model: allocations return only free members owned by the side asked for,
//! statuses and owners match, and for small pools the free counts match a brute-force count.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::net::Ipv6Addr;

use crate::{
    AddressPool, AddressPoolConfig, AddressRange, ClientKey, Prefix, PrefixPool, PrefixPoolConfig,
    Proportion, RebalancePolicy, Side, SplitRule, Status,
};

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from(self.u8()) << 8 | u16::from(self.u8())
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Base of every fuzzed pool: 2001:db8::/32 region, with an optional high offset so that very
/// large numbers are exercised too.
const BASE: u128 = 0x2001_0db8_0000_0000_0000_0000_0000_0000;

/// Runs one fuzz case. Panics only if an invariant is violated.
pub fn pools_split(data: &[u8]) {
    let mut b = Bytes(data);
    let mode = b.u8();
    let rule = match mode & 3 {
        0 => SplitRule::LowestBit,
        _ => SplitRule::Hash {
            secondary_share: Proportion::from_basis_points(b.u16() % 10_001)
                .unwrap_or(Proportion::HALF),
        },
    };
    let seed = u64::from(b.u16());
    if mode & 4 == 0 {
        run_addresses(&mut b, rule, seed, mode & 8 != 0);
    } else {
        run_prefixes(&mut b, rule, seed);
    }
}

fn range_from(b: &mut Bytes<'_>, base: u128) -> (u128, u128) {
    let lo = base + u128::from(b.u16() % 2048);
    let hi = lo + u128::from(b.u16() % 1024);
    (lo, hi)
}

fn run_addresses(b: &mut Bytes<'_>, rule: SplitRule, seed: u64, huge: bool) {
    let mut config = AddressPoolConfig::default().with_rule(rule).with_seed(seed);
    let n_ranges = 1 + b.u8() % 3;
    for _ in 0..n_ranges {
        let (lo, hi) = range_from(b, BASE);
        config.ranges.push(AddressRange::from_bounds(lo, hi));
    }
    if huge {
        // A whole /64 next to the small ranges: exercises the arithmetic at full size.
        config.ranges.push(AddressRange::from_bounds(
            BASE + (1 << 64),
            BASE + (2 << 64) - 1,
        ));
    }
    for _ in 0..b.u8() % 3 {
        let (lo, hi) = range_from(b, BASE);
        config
            .excluded
            .push(AddressRange::from_bounds(lo, lo + (hi - lo) / 4));
    }
    for _ in 0..b.u8() % 3 {
        let (lo, _) = range_from(b, BASE);
        config.reserved.push(Ipv6Addr::from_bits(lo));
    }
    let Ok(mut pool) = AddressPool::new(&config) else {
        return;
    };
    let members: Vec<(u128, u128)> = pool.ranges().map(|r| r.bounds()).collect();
    let is_member = |x: u128| members.iter().any(|&(lo, hi)| lo <= x && x <= hi);
    let mut model: BTreeMap<u128, Status> = BTreeMap::new();
    for r in &config.reserved {
        model.insert(r.to_bits(), Status::Reserved);
    }
    let small = !huge && members.iter().map(|&(lo, hi)| hi - lo + 1).sum::<u128>() <= 8192;
    let mut step = 0u32;
    while !b.is_empty() && step < 512 {
        step += 1;
        let op = b.u8();
        let side = if op & 1 == 0 {
            Side::Primary
        } else {
            Side::Secondary
        };
        let arg = b.u16();
        let x = members[usize::from(arg) % members.len()].0 + u128::from(b.u8());
        match op >> 1 & 7 {
            0..=2 => {
                let duid = arg.to_be_bytes();
                match pool.allocate(side, ClientKey::new(&duid, u32::from(op))) {
                    Some(addr) => {
                        let a = addr.to_bits();
                        assert!(is_member(a), "allocated non-member {addr}");
                        assert_eq!(rule.owner(a), side, "allocated partner-owned {addr}");
                        let prev = model.insert(a, Status::Taken).unwrap_or(Status::Free);
                        assert_eq!(prev, Status::Free, "allocated {addr} in state {prev:?}");
                    }
                    None => {
                        assert_eq!(pool.free_count(side), 0, "no allocation with free left");
                    }
                }
            }
            3 => apply(&mut model, &mut pool, x, is_member(x), Status::Taken),
            4 => apply(&mut model, &mut pool, x, is_member(x), Status::Abandoned),
            5 => apply(&mut model, &mut pool, x, is_member(x), Status::Reserved),
            _ => {
                let addr = Ipv6Addr::from_bits(x);
                match pool.free(addr) {
                    Ok(_) => {
                        let to = if config.reserved.contains(&addr) {
                            Status::Reserved
                        } else {
                            Status::Free
                        };
                        set_model(&mut model, x, to);
                    }
                    Err(_) => assert!(!is_member(x)),
                }
            }
        }
        let addr = Ipv6Addr::from_bits(x);
        match pool.owner_of(addr) {
            Ok(owner) => assert_eq!(owner, rule.owner(x)),
            Err(_) => assert!(!is_member(x)),
        }
        pool.check_invariants();
    }
    for (&x, &status) in &model {
        assert_eq!(pool.status(Ipv6Addr::from_bits(x)).ok(), Some(status));
    }
    if small {
        for side in Side::BOTH {
            let free = members
                .iter()
                .flat_map(|&(lo, hi)| lo..=hi)
                .filter(|&x| rule.owner(x) == side && !model.contains_key(&x))
                .count() as u128;
            assert_eq!(pool.free_count(side), free, "{side} free count");
        }
    }
}

fn set_model(model: &mut BTreeMap<u128, Status>, x: u128, status: Status) {
    if status == Status::Free {
        model.remove(&x);
    } else {
        model.insert(x, status);
    }
}

fn apply(
    model: &mut BTreeMap<u128, Status>,
    pool: &mut AddressPool,
    x: u128,
    member: bool,
    status: Status,
) {
    let addr = Ipv6Addr::from_bits(x);
    match pool.set_status(addr, status) {
        Ok(prev) => {
            assert!(member);
            assert_eq!(prev, model.get(&x).copied().unwrap_or(Status::Free));
            set_model(model, x, status);
        }
        Err(_) => assert!(!member),
    }
}

fn run_prefixes(b: &mut Bytes<'_>, rule: SplitRule, seed: u64) {
    // A /44 region carved into /56s (4096 prefixes at most), plus fuzzed smaller delegable
    // prefixes inside it.
    let d = 56u8;
    let shift = 128 - u32::from(d);
    let mut config = PrefixPoolConfig::new(
        Prefix::new_truncating(Ipv6Addr::from_bits(BASE), 48).unwrap_or_else(|_| unreachable!()),
        d,
    )
    .with_rule(rule)
    .with_seed(seed);
    for _ in 0..b.u8() % 3 {
        let n = u128::from(b.u16() % 4096);
        let len = 48 + b.u8() % 9;
        if let Ok(p) = Prefix::new_truncating(Ipv6Addr::from_bits(BASE + (n << shift)), len) {
            config.delegable.push(p);
        }
    }
    for _ in 0..b.u8() % 3 {
        let n = u128::from(b.u16() % 4096);
        let len = 50 + b.u8() % 16;
        if let Ok(p) = Prefix::new_truncating(Ipv6Addr::from_bits(BASE + (n << shift)), len) {
            config.excluded.push(p);
        }
    }
    let Ok(mut pool) = PrefixPool::new(&config) else {
        return;
    };
    let base_n = BASE >> shift;
    let prefix = |n: u128| {
        Prefix::new(Ipv6Addr::from_bits(n << shift), d).unwrap_or_else(|_| unreachable!())
    };
    // Membership and owners, by brute force over the 4096 candidate numbers.
    let member: Vec<bool> = (0..4096u128)
        .map(|i| pool.status(prefix(base_n + i)).is_ok())
        .collect();
    let mut owner: Vec<Side> = (0..4096u128).map(|i| rule.owner(base_n + i)).collect();
    let mut model: BTreeMap<u128, Status> = BTreeMap::new();
    let policy = RebalancePolicy::DEFAULT;
    let mut step = 0u32;
    while !b.is_empty() && step < 512 {
        step += 1;
        let op = b.u8();
        let side = if op & 1 == 0 {
            Side::Primary
        } else {
            Side::Secondary
        };
        let arg = b.u16();
        let i = u128::from(arg % 4096);
        let p = prefix(base_n + i);
        let is_member = member[i as usize];
        match op >> 1 & 7 {
            0..=2 => {
                let duid = arg.to_be_bytes();
                match pool.allocate(side, ClientKey::new(&duid, 0)) {
                    Some(got) => {
                        let n = (got.addr().to_bits() >> shift) - base_n;
                        assert!(member[n as usize], "allocated non-member {got}");
                        assert_eq!(owner[n as usize], side, "allocated partner-owned {got}");
                        let prev = model.insert(n, Status::Taken).unwrap_or(Status::Free);
                        assert_eq!(prev, Status::Free, "allocated {got} in state {prev:?}");
                    }
                    None => assert_eq!(pool.free_count(side), 0),
                }
            }
            3 | 4 => {
                let status = if op >> 1 & 7 == 3 {
                    Status::Taken
                } else {
                    Status::Abandoned
                };
                match pool.set_status(p, status) {
                    Ok(prev) => {
                        assert!(is_member);
                        assert_eq!(prev, model.get(&i).copied().unwrap_or(Status::Free));
                        set_model(&mut model, i, status);
                    }
                    Err(_) => assert!(!is_member),
                }
            }
            5 => match pool.free(p) {
                Ok(_) => set_model(&mut model, i, Status::Free),
                Err(_) => assert!(!is_member),
            },
            6 => match pool.transfer(p, side) {
                Ok(_) => {
                    assert!(is_member && !model.contains_key(&i));
                    owner[i as usize] = side;
                }
                Err(_) => assert!(!is_member || model.contains_key(&i), "refused free {p}"),
            },
            _ => {
                if let Some(plan) = pool.plan_rebalance(&policy) {
                    let moved = pool.apply_rebalance(plan);
                    assert_eq!(moved.len() as u128, plan.count, "rebalance moved too few");
                    for m in moved {
                        let n = (m.addr().to_bits() >> shift) - base_n;
                        assert!(!model.contains_key(&n), "moved bound prefix {m}");
                        assert_eq!(owner[n as usize], plan.from);
                        owner[n as usize] = plan.to;
                    }
                    assert_eq!(
                        pool.plan_rebalance(&policy),
                        None,
                        "rebalance did not settle"
                    );
                }
            }
        }
        pool.check_invariants();
    }
    for side in Side::BOTH {
        let free = (0..4096usize)
            .filter(|&i| member[i] && owner[i] == side && !model.contains_key(&(i as u128)))
            .count() as u128;
        assert_eq!(pool.free_count(side), free, "{side} free count");
    }
    for i in 0..4096usize {
        if member[i] {
            let p = prefix(base_n + i as u128);
            assert_eq!(pool.owner_of(p).ok(), Some(owner[i]));
            let expected = model.get(&(i as u128)).copied().unwrap_or(Status::Free);
            assert_eq!(pool.status(p).ok(), Some(expected));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pools_split;
    use alloc::vec::Vec;

    #[test]
    fn fuzz_driver_smoke() {
        // Deterministic pseudo-random inputs through the fuzz driver.
        let mut state = 0x1234_5678_9abc_def0u64;
        for len in 0..400usize {
            let data: Vec<u8> = (0..len * 4)
                .map(|_| {
                    state = crate::hash::mix64(state.wrapping_add(crate::hash::GOLDEN));
                    state as u8
                })
                .collect();
            pools_split(&data);
        }
    }
}
