//! Property tests for every invariant the crate documents, through the public API only.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv6Addr;

use dhcpv6_pool::{
    AddressPool, AddressPoolConfig, AddressRange, ClientKey, PoolError, Prefix, PrefixPool,
    PrefixPoolConfig, Proportion, RebalancePolicy, Side, SplitRule, Status, plan_rebalance,
};
use proptest::prelude::*;

const BASE: u128 = 0x2001_0db8_0000_0000_0000_0000_0000_0000;

fn rule_strategy() -> impl Strategy<Value = SplitRule> {
    prop_oneof![
        Just(SplitRule::LowestBit),
        (0u16..=10_000).prop_map(|bp| SplitRule::Hash {
            secondary_share: Proportion::from_basis_points(bp).unwrap()
        }),
    ]
}

fn range(lo: u128, hi: u128) -> AddressRange {
    AddressRange::new(Ipv6Addr::from_bits(lo), Ipv6Addr::from_bits(hi)).unwrap()
}

/// A small address pool configuration near `BASE` (every address fits in `BASE..BASE + 8192`).
fn address_config() -> impl Strategy<Value = AddressPoolConfig> {
    (
        proptest::collection::vec((0u128..6000, 0u128..2000), 1..4),
        proptest::collection::vec((0u128..6000, 0u128..600), 0..3),
        rule_strategy(),
        any::<u64>(),
    )
        .prop_map(|(ranges, excluded, rule, seed)| {
            let mut c =
                AddressPoolConfig::new(range(BASE + ranges[0].0, BASE + ranges[0].0 + ranges[0].1))
                    .with_rule(rule)
                    .with_seed(seed);
            for &(lo, len) in &ranges[1..] {
                c.ranges.push(range(BASE + lo, BASE + lo + len));
            }
            for (lo, len) in excluded {
                c = c.exclude(range(BASE + lo, BASE + lo + len));
            }
            c
        })
}

fn is_member(c: &AddressPoolConfig, x: u128) -> bool {
    let inside = |r: &AddressRange| r.first().to_bits() <= x && x <= r.last().to_bits();
    c.ranges.iter().any(inside) && !c.excluded.iter().any(inside)
}

const SPAN: u128 = 8192;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The split covers each pool exactly and disjointly: every member has exactly one owner,
    /// non-members have none, and the per-side counts add up to the pool.
    #[test]
    fn split_covers_address_pool_exactly(config in address_config()) {
        let Ok(pool) = AddressPool::new(&config) else {
            // Only an all-excluded pool is rejected.
            prop_assert!((0..SPAN).all(|i| !is_member(&config, BASE + i)));
            return Ok(());
        };
        let mut counts = [0u128; 2];
        for i in 0..SPAN {
            let x = BASE + i;
            match pool.owner_of(Ipv6Addr::from_bits(x)) {
                Ok(side) => {
                    prop_assert!(is_member(&config, x));
                    prop_assert_eq!(side, config.rule.owner(x));
                    counts[side.index()] += 1;
                }
                Err(e) => {
                    prop_assert!(!is_member(&config, x));
                    let expected_kind = matches!(e, PoolError::NotInPool { .. } | PoolError::Excluded { .. });
                    prop_assert!(expected_kind);
                }
            }
        }
        prop_assert_eq!(pool.owned_count(Side::Primary), counts[0]);
        prop_assert_eq!(pool.owned_count(Side::Secondary), counts[1]);
        prop_assert_eq!(pool.free_count(Side::Primary) + pool.free_count(Side::Secondary), counts[0] + counts[1]);
    }

    /// Same for prefix pools: every delegated prefix of the delegable prefixes (minus excluded)
    /// has exactly one owner, and the counts add up.
    #[test]
    fn split_covers_prefix_pool_exactly(
        share in 0u16..=10_000,
        extra in proptest::collection::vec((0u128..4096, 44u8..=56), 0..3),
        excluded in proptest::collection::vec((0u128..4096, 50u8..=64), 0..3),
    ) {
        let shift = 128 - 56;
        let p = |n: u128, len: u8| Prefix::new_truncating(Ipv6Addr::from_bits(BASE + (n << shift)), len).unwrap();
        let rule = SplitRule::Hash { secondary_share: Proportion::from_basis_points(share).unwrap() };
        let mut config = PrefixPoolConfig::new(p(0, 48), 56).with_rule(rule);
        for &(n, len) in &extra { config.delegable.push(p(n, len)); }
        for &(n, len) in &excluded { config.excluded.push(p(n, len)); }
        let pool = PrefixPool::new(&config);
        let base_n = BASE >> shift;
        let member = |n: u128| {
            let addr = Ipv6Addr::from_bits((base_n + n) << shift);
            config.delegable.iter().any(|d| d.contains(addr))
                && !config.excluded.iter().any(|e| e.contains(addr) || Prefix::new(addr, 56).is_ok_and(|q| q.contains(e.addr()) && e.len() >= 56))
        };
        let Ok(pool) = pool else {
            prop_assert!((0..4096).all(|n| !member(n)));
            return Ok(());
        };
        let mut counts = [0u128; 2];
        for n in 0..4096u128 {
            let q = Prefix::new(Ipv6Addr::from_bits((base_n + n) << shift), 56).unwrap();
            match pool.owner_of(q) {
                Ok(side) => {
                    prop_assert!(member(n), "{} owned but not a member", q);
                    prop_assert_eq!(side, rule.owner(base_n + n));
                    counts[side.index()] += 1;
                }
                Err(_) => prop_assert!(!member(n), "{} member without owner", q),
            }
        }
        prop_assert_eq!(pool.owned_count(Side::Primary), counts[0]);
        prop_assert_eq!(pool.owned_count(Side::Secondary), counts[1]);
    }

    /// Both partners compute the same owner for every resource, however they write down the same
    /// pool (ranges in another order, split into adjacent pieces), and the same fingerprint.
    #[test]
    fn partners_compute_the_same_owner(
        config in address_config(),
        cut in 0u128..2000,
        probes in proptest::collection::vec(any::<u128>(), 32),
    ) {
        let mut other = config.clone();
        other.ranges.reverse();
        let first = other.ranges[0];
        let (lo, hi) = (first.first().to_bits(), first.last().to_bits());
        let mid = lo + cut.min(hi - lo);
        if mid < hi {
            other.ranges[0] = range(lo, mid);
            other.ranges.push(range(mid + 1, hi));
        }
        other.excluded.reverse();
        match (AddressPool::new(&config), AddressPool::new(&other)) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(a.fingerprint(), b.fingerprint());
                for i in 0..SPAN {
                    let x = Ipv6Addr::from_bits(BASE + i);
                    prop_assert_eq!(a.owner_of(x), b.owner_of(x));
                }
            }
            (Err(_), Err(_)) => {}
            _ => prop_assert!(false, "one partner rejected the configuration"),
        }
        // The rule is a pure function of the resource: same answer anywhere in the space.
        for x in probes {
            prop_assert_eq!(config.rule.owner(x), config.rule.owner(x));
            prop_assert_eq!(SplitRule::LowestBit.owner(x), if x & 1 == 1 { Side::Primary } else { Side::Secondary });
        }
    }

    /// The hash split is within ±1 % of the configured proportion on every sub-range of at least
    /// 10,000 resources, anywhere in the number space.
    #[test]
    fn hash_split_is_within_one_percent(
        start in any::<u128>(),
        len in 10_000u128..40_000,
        bp in 0u16..=10_000,
    ) {
        let rule = SplitRule::Hash { secondary_share: Proportion::from_basis_points(bp).unwrap() };
        let start = start.min(u128::MAX - len);
        let secondary = (start..start + len).filter(|&x| rule.owner(x) == Side::Secondary).count() as f64;
        let share = secondary / len as f64;
        let expected = f64::from(bp) / 10_000.0;
        prop_assert!((share - expected).abs() <= 0.01, "share {} expected {} over {}+{}", share, expected, start, len);
    }

    /// An allocator never returns a taken, reserved, abandoned, excluded or partner-owned address,
    /// and returns `None` only when the side has no free address left.
    #[test]
    fn allocator_never_returns_unavailable_addresses(
        config in address_config(),
        ops in proptest::collection::vec((0u8..8, any::<bool>(), 0u128..SPAN, any::<u16>()), 1..400),
    ) {
        let Ok(mut pool) = AddressPool::new(&config) else { return Ok(()) };
        let mut model: BTreeMap<u128, Status> = BTreeMap::new();
        for (op, secondary, off, client) in ops {
            let side = if secondary { Side::Secondary } else { Side::Primary };
            let x = BASE + off;
            let addr = Ipv6Addr::from_bits(x);
            match op {
                0..=3 => {
                    let duid = client.to_be_bytes();
                    match pool.allocate(side, ClientKey::new(&duid, u32::from(op))) {
                        Some(a) => {
                            let a = a.to_bits();
                            prop_assert!(is_member(&config, a), "non-member");
                            prop_assert_eq!(config.rule.owner(a), side, "partner-owned");
                            prop_assert!(!model.contains_key(&a), "allocated a {:?} address", model.get(&a));
                            model.insert(a, Status::Taken);
                        }
                        None => {
                            let free = (0..SPAN).map(|i| BASE + i).any(|y| is_member(&config, y) && config.rule.owner(y) == side && !model.contains_key(&y));
                            prop_assert!(!free, "None while a free address exists");
                        }
                    }
                }
                4..=6 => {
                    let status = [Status::Taken, Status::Reserved, Status::Abandoned][usize::from(op - 4)];
                    match pool.set_status(addr, status) {
                        Ok(prev) => {
                            prop_assert_eq!(prev, model.get(&x).copied().unwrap_or(Status::Free));
                            model.insert(x, status);
                        }
                        Err(_) => prop_assert!(!is_member(&config, x)),
                    }
                }
                _ => match pool.free(addr) {
                    Ok(_) => { model.remove(&x); }
                    Err(_) => prop_assert!(!is_member(&config, x)),
                },
            }
        }
        for (&x, &status) in &model {
            prop_assert_eq!(pool.status(Ipv6Addr::from_bits(x)).unwrap(), status);
        }
        let used = model.len() as u128;
        prop_assert_eq!(pool.used_count(), used);
    }

    /// Rebalancing converges (after applying a plan there is nothing left to do) and never moves
    /// a bound prefix; ownership moves exactly as planned.
    #[test]
    fn rebalancing_converges_and_never_moves_bound_prefixes(
        share in 0u16..=10_000,
        trigger in 0u16..=3_000,
        settle_frac in 0u16..=100,
        min_trigger in 0u128..50,
        max_moves in 1u128..5000,
        rounds in proptest::collection::vec((any::<bool>(), 0u16..600), 1..6),
        seed in any::<u64>(),
    ) {
        let settle = (u32::from(trigger) * u32::from(settle_frac) / 100) as u16;
        let policy = RebalancePolicy::new(
            Proportion::from_basis_points(trigger).unwrap(),
            Proportion::from_basis_points(settle).unwrap(),
            min_trigger,
        ).unwrap().with_max_moves(max_moves);
        let delegable = Prefix::new(Ipv6Addr::from_bits(BASE), 44).unwrap(); // 4096 /56s
        let mut pool = PrefixPool::new(
            &PrefixPoolConfig::new(delegable, 56)
                .with_secondary_share(Proportion::from_basis_points(share).unwrap())
                .with_seed(seed),
        ).unwrap();
        let mut bound: BTreeSet<Prefix> = BTreeSet::new();
        let mut client = 0u32;
        for (secondary, count) in rounds {
            let side = if secondary { Side::Secondary } else { Side::Primary };
            for _ in 0..count {
                client += 1;
                if let Some(p) = pool.allocate(side, ClientKey::new(&client.to_be_bytes(), 0)) {
                    bound.insert(p);
                }
            }
            let owners: Vec<Side> = bound.iter().map(|&p| pool.owner_of(p).unwrap()).collect();
            let before = [pool.free_count(Side::Primary), pool.free_count(Side::Secondary)];
            let mut plans = 0u32;
            let mut before = before;
            while let Some(plan) = pool.plan_rebalance(&policy) {
                plans += 1;
                prop_assert!(plans <= 4096, "rebalancing does not converge");
                prop_assert!(plan.count <= before[plan.from.index()] && plan.count <= max_moves);
                for p in pool.select_transfers(plan.from, 3) {
                    prop_assert_eq!(pool.status(p).unwrap(), Status::Free);
                }
                let moved = pool.apply_rebalance(plan);
                prop_assert_eq!(moved.len() as u128, plan.count);
                for p in &moved {
                    prop_assert!(!bound.contains(p), "moved bound prefix {}", p);
                    prop_assert_eq!(pool.owner_of(*p).unwrap(), plan.to);
                    prop_assert_eq!(pool.status(*p).unwrap(), Status::Free);
                }
                let after = [pool.free_count(Side::Primary), pool.free_count(Side::Secondary)];
                prop_assert_eq!(after[plan.from.index()], before[plan.from.index()] - plan.count);
                prop_assert_eq!(after[plan.to.index()], before[plan.to.index()] + plan.count);
                if plan.count < max_moves {
                    prop_assert_eq!(pool.plan_rebalance(&policy), None, "did not settle");
                }
                before = after;
            }
            // Bound prefixes keep their owner, and a transfer of one is refused.
            for (&p, &owner) in bound.iter().zip(&owners) {
                prop_assert_eq!(pool.owner_of(p).unwrap(), owner);
                let refused = matches!(pool.transfer(p, owner.partner()), Err(PoolError::NotFree { .. }));
                prop_assert!(refused);
            }
        }
    }

    /// The pure rebalancing arithmetic: never moves more than the giver has, and what it plans
    /// leaves nothing to do.
    #[test]
    fn plan_rebalance_settles(
        fp in 0u128..1_000_000_000,
        fs in 0u128..1_000_000_000,
        share in 0u16..=10_000,
        trigger in 0u16..=10_000,
        settle_frac in 0u16..=100,
        min_trigger in 0u128..1000,
        max_moves in 1_000_000u128..2_000_000_000,
    ) {
        let share = Proportion::from_basis_points(share).unwrap();
        let settle = (u32::from(trigger) * u32::from(settle_frac) / 100) as u16;
        let policy = RebalancePolicy::new(
            Proportion::from_basis_points(trigger).unwrap(),
            Proportion::from_basis_points(settle).unwrap(),
            min_trigger,
        ).unwrap().with_max_moves(max_moves);
        // Apply plans until none is left: every plan is feasible and within the cap, and the
        // rounds end (each moves the full remainder or the full cap).
        let (mut p, mut s) = (fp, fs);
        let mut rounds = 0u32;
        while let Some(plan) = plan_rebalance(p, s, share, &policy) {
            rounds += 1;
            prop_assert!(rounds <= 2_001, "no convergence");
            prop_assert_ne!(plan.from, plan.to);
            prop_assert!(plan.count > 0 && plan.count <= max_moves);
            if plan.from == Side::Primary {
                prop_assert!(plan.count <= p);
                p -= plan.count; s += plan.count;
            } else {
                prop_assert!(plan.count <= s);
                s -= plan.count; p += plan.count;
            }
            if plan.count < max_moves {
                // An uncapped plan settles in one step.
                prop_assert_eq!(plan_rebalance(p, s, share, &policy), None);
            }
        }
        prop_assert_eq!(p + s, fp + fs);
    }

    /// Deterministic for a seed, and the same client gets the same address back while it is free.
    #[test]
    fn allocation_is_deterministic_and_sticky(seed in any::<u64>(), clients in proptest::collection::vec(any::<[u8; 10]>(), 1..50)) {
        let net = Prefix::new(Ipv6Addr::from_bits(BASE), 64).unwrap();
        let config = AddressPoolConfig::new(AddressRange::from_prefix(net)).with_seed(seed);
        let mut a = AddressPool::new(&config).unwrap();
        let mut b = AddressPool::new(&config).unwrap();
        for duid in &clients {
            let key = ClientKey::new(duid, 1);
            let got = a.allocate(Side::Primary, key).unwrap();
            prop_assert_eq!(Some(got), b.allocate(Side::Primary, key));
            a.free(got).unwrap();
            prop_assert_eq!(Some(got), a.allocate(Side::Primary, key));
            // The partner's pick for the same client is the other address of the same pair.
            let theirs = b.allocate(Side::Secondary, key).unwrap();
            prop_assert_eq!(theirs.to_bits() ^ 1, got.to_bits());
        }
    }
}

proptest! {
    /// Under the hash rule, both partners' first picks for a client lie in the same block of 256
    /// addresses (the start positions are proportional in both index spaces).
    #[test]
    fn partners_pick_within_one_block(seed in any::<u64>(), duid in any::<[u8; 12]>(), iaid in any::<u32>()) {
        let net = Prefix::new(Ipv6Addr::from_bits(BASE), 64).unwrap();
        let config = AddressPoolConfig::new(AddressRange::from_prefix(net)).with_rule(SplitRule::HASH_HALF).with_seed(seed);
        let mut primary = AddressPool::new(&config).unwrap();
        let mut secondary = AddressPool::new(&config).unwrap();
        let key = ClientKey::new(&duid, iaid);
        let a = primary.allocate(Side::Primary, key).unwrap();
        let b = secondary.allocate(Side::Secondary, key).unwrap();
        prop_assert_eq!(a.to_bits() >> 8, b.to_bits() >> 8);
        prop_assert!(primary.contains(a) && primary.contains(b));
    }
}

/// Golden vectors: pin the hash rule, the fingerprint and the allocator's choice so that a change
/// of platform or version cannot silently move ownership or preference.
#[test]
fn golden_vectors() {
    let rule = SplitRule::HASH_HALF;
    let owners: String = (0..32u128)
        .map(|i| {
            if rule.owner(BASE + i) == Side::Primary {
                'P'
            } else {
                'S'
            }
        })
        .collect();
    assert_eq!(owners, GOLDEN_OWNERS);

    let net = Prefix::new(Ipv6Addr::from_bits(BASE), 64).unwrap();
    let config = AddressPoolConfig::new(AddressRange::from_prefix(net)).with_seed(42);
    let mut pool = AddressPool::new(&config).unwrap();
    assert_eq!(pool.fingerprint(), GOLDEN_FINGERPRINT_ADDR);
    let duid = [
        0x00, 0x01, 0x00, 0x01, 0x12, 0x34, 0x56, 0x78, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
    ];
    let got = pool
        .allocate(Side::Primary, ClientKey::new(&duid, 1))
        .unwrap();
    assert_eq!(got, GOLDEN_ADDR.parse::<Ipv6Addr>().unwrap());

    let pd = PrefixPoolConfig::new(
        Prefix::new("2001:db8:ab00::".parse().unwrap(), 40).unwrap(),
        56,
    )
    .with_secondary_share(Proportion::from_percent(30).unwrap());
    let pool = PrefixPool::new(&pd).unwrap();
    assert_eq!(pool.fingerprint(), GOLDEN_FINGERPRINT_PD);
    assert_eq!(pool.owned_count(Side::Secondary), GOLDEN_PD_SECONDARY);
}

// Cross-checked with an independent Python implementation of the documented algorithms.
const GOLDEN_OWNERS: &str = "SPSSPSPSSPSPPSPSSPSPPSPSSPSPPSPS";
const GOLDEN_FINGERPRINT_ADDR: u64 = 0x735b_9476_fd27_5fb0;
const GOLDEN_ADDR: &str = "2001:db8::e112:1cde:7110:b81d";
const GOLDEN_FINGERPRINT_PD: u64 = 0xc845_d41a_821d_d956;
// 256 whole blocks of 256 /56s, round(0.30 * 256) = 77 secondary per block.
const GOLDEN_PD_SECONDARY: u128 = 256 * 77;

#[test]
fn fingerprint_detects_mismatch() {
    let net = Prefix::new(Ipv6Addr::from_bits(BASE), 64).unwrap();
    let base = AddressPoolConfig::new(AddressRange::from_prefix(net));
    let fp = |c: &AddressPoolConfig| AddressPool::new(c).unwrap().fingerprint();
    let a = fp(&base);
    assert_ne!(a, fp(&base.clone().with_rule(SplitRule::HASH_HALF)));
    assert_ne!(
        fp(&base.clone().with_rule(SplitRule::HASH_HALF)),
        fp(&base.clone().with_rule(SplitRule::Hash {
            secondary_share: Proportion::from_percent(40).unwrap()
        }))
    );
    assert_ne!(a, fp(&base.clone().exclude(range(BASE, BASE))));
    // Seeds and reservations are local: they do not change ownership.
    assert_eq!(
        a,
        fp(&base.with_seed(9).reserve(Ipv6Addr::from_bits(BASE + 5)))
    );
    let pd = |len: u8| {
        PrefixPool::new(&PrefixPoolConfig::new(
            Prefix::new(Ipv6Addr::from_bits(BASE), 40).unwrap(),
            len,
        ))
        .unwrap()
        .fingerprint()
    };
    assert_ne!(pd(56), pd(60));
}

/// Large pools are arithmetic: a /64 and a /32 carved into /64s allocate without materialising
/// anything, give distinct resources, and split 50/50 exactly (lowest bit) or within 1 % (hash).
#[test]
fn large_pools() {
    let net = Prefix::new(Ipv6Addr::from_bits(BASE), 64).unwrap();
    let mut pool =
        AddressPool::new(&AddressPoolConfig::new(AddressRange::from_prefix(net))).unwrap();
    assert_eq!(pool.owned_count(Side::Primary), 1 << 63);
    assert_eq!(pool.owned_count(Side::Secondary), 1 << 63);
    let mut seen = BTreeSet::new();
    for i in 0u32..20_000 {
        let side = if i % 2 == 0 {
            Side::Primary
        } else {
            Side::Secondary
        };
        let a = pool
            .allocate(side, ClientKey::new(&i.to_le_bytes(), 0))
            .unwrap();
        assert_eq!(pool.owner_of(a).unwrap(), side);
        assert!(net.contains(a));
        assert!(seen.insert(a));
    }
    assert_eq!(pool.free_count(Side::Primary), (1 << 63) - 10_000);

    let big = Prefix::new(Ipv6Addr::from_bits(BASE), 32).unwrap();
    let mut pd = PrefixPool::new(&PrefixPoolConfig::new(big, 64)).unwrap();
    let total = 1u128 << 32;
    let sec = pd.owned_count(Side::Secondary);
    assert_eq!(pd.owned_count(Side::Primary) + sec, total);
    assert!((sec as f64 / total as f64 - 0.5).abs() < 0.01);
    let p = pd
        .allocate(Side::Secondary, ClientKey::new(b"router", 7))
        .unwrap();
    assert_eq!(p.len(), 64);
    assert!(big.contains(p.addr()));

    // The whole IPv6 space under the RFC rule.
    let all = AddressRange::new(Ipv6Addr::UNSPECIFIED, Ipv6Addr::from_bits(u128::MAX)).unwrap();
    let mut pool = AddressPool::new(&AddressPoolConfig::new(all)).unwrap();
    let a = pool
        .allocate(Side::Primary, ClientKey::new(b"x", 0))
        .unwrap();
    assert_eq!(a.to_bits() & 1, 1);
}

/// Reservations from the configuration are never allocated and come back as reserved when freed;
/// abandoned addresses are skipped until freed.
#[test]
fn reserved_and_abandoned() {
    // Two addresses: 0 (secondary) and 1 (primary) under the lowest-bit rule.
    let r = range(BASE, BASE + 3);
    let config = AddressPoolConfig::new(r).reserve(Ipv6Addr::from_bits(BASE + 1));
    let mut pool = AddressPool::new(&config).unwrap();
    assert_eq!(
        pool.status(Ipv6Addr::from_bits(BASE + 1)).unwrap(),
        Status::Reserved
    );
    let key = ClientKey::new(b"c", 0);
    assert_eq!(
        pool.allocate(Side::Primary, key),
        Some(Ipv6Addr::from_bits(BASE + 3))
    );
    assert_eq!(pool.allocate(Side::Primary, key), None);
    pool.mark_taken(Ipv6Addr::from_bits(BASE + 1)).unwrap();
    assert_eq!(
        pool.free(Ipv6Addr::from_bits(BASE + 1)).unwrap(),
        Status::Taken
    );
    assert_eq!(
        pool.status(Ipv6Addr::from_bits(BASE + 1)).unwrap(),
        Status::Reserved
    );
    pool.free(Ipv6Addr::from_bits(BASE + 3)).unwrap();
    pool.mark_abandoned(Ipv6Addr::from_bits(BASE + 3)).unwrap();
    assert_eq!(pool.allocate(Side::Primary, key), None);
    pool.free(Ipv6Addr::from_bits(BASE + 3)).unwrap();
    assert_eq!(
        pool.allocate(Side::Primary, key),
        Some(Ipv6Addr::from_bits(BASE + 3))
    );
    assert!(matches!(
        pool.status(Ipv6Addr::from_bits(BASE + 4)),
        Err(PoolError::NotInPool { .. })
    ));
}

/// A freshly built pool is balanced against its effective (1/256-rounded) share even with a
/// zero trigger, and plans on huge pools are capped so a caller never moves billions at once.
#[test]
fn fresh_pools_do_not_rebalance_and_plans_are_capped() {
    let zero = Proportion::from_basis_points(0).unwrap();
    let strict = RebalancePolicy::new(zero, zero, 0).unwrap();
    let big = Prefix::new_truncating(Ipv6Addr::from_bits(BASE), 24).unwrap(); // 2^32 /56s
    for pct in [0u8, 1, 30, 50, 77, 100] {
        let pool = PrefixPool::new(
            &PrefixPoolConfig::new(big, 56)
                .with_secondary_share(Proportion::from_percent(pct).unwrap()),
        )
        .unwrap();
        assert_eq!(pool.plan_rebalance(&strict), None, "{pct}%");
    }
    let plan = plan_rebalance(1 << 40, 0, Proportion::HALF, &RebalancePolicy::DEFAULT).unwrap();
    assert_eq!(plan.count, RebalancePolicy::DEFAULT_MAX_MOVES);
    assert_eq!(RebalancePolicy::DEFAULT.with_max_moves(0).max_moves(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Both partners' prefix pools agree on every owner after the same transfers, whatever order
    /// the delegable prefixes were listed in.
    #[test]
    fn partners_agree_on_prefix_owners_after_transfers(
        share in 0u16..=10_000,
        transfers in proptest::collection::vec((0u128..1024, any::<bool>()), 0..200),
    ) {
        let shift = 128 - 56;
        let p = |n: u128, len: u8| Prefix::new_truncating(Ipv6Addr::from_bits(BASE + (n << shift)), len).unwrap();
        let share = Proportion::from_basis_points(share).unwrap();
        let mut a_cfg = PrefixPoolConfig::new(p(0, 48), 56).with_secondary_share(share);
        a_cfg.delegable.push(p(512, 47));
        let mut b_cfg = PrefixPoolConfig::new(p(512, 47), 56).with_secondary_share(share);
        b_cfg.delegable.push(p(0, 48));
        let mut a = PrefixPool::new(&a_cfg).unwrap();
        let mut b = PrefixPool::new(&b_cfg).unwrap();
        prop_assert_eq!(a.fingerprint(), b.fingerprint());
        for (n, secondary) in transfers {
            let to = if secondary { Side::Secondary } else { Side::Primary };
            let q = p(n, 56);
            prop_assert_eq!(a.transfer(q, to), b.transfer(q, to));
        }
        for n in 0..1024u128 {
            let q = p(n, 56);
            prop_assert_eq!(a.owner_of(q), b.owner_of(q));
        }
        prop_assert_eq!(a.owned_count(Side::Secondary), b.owned_count(Side::Secondary));
    }
}
