//! The endpoint configuration the simulation uses: one relationship, a small address range
//! split by the RFC's lowest-bit rule, and a small delegable-prefix pool.

use std::net::Ipv6Addr;

use dhcpv6_failover as fo;
use fo::{AddressRange, Config, PoolSet, PrefixPool, Role};

use crate::link::Side;
use crate::scenario::SimConfig;

/// The `i`-th address of the simulated pool.
pub fn address(i: u32) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100)) + u128::from(i))
}

/// The pools for `cfg`: `cfg.addresses` addresses, and a power-of-two number of /56 prefixes
/// close to `cfg.prefixes` (at least 2).
pub fn pools(cfg: &SimConfig) -> PoolSet {
    let mut p = PoolSet::default();
    if cfg.addresses > 0 {
        p.addresses
            .push(AddressRange::new(address(0), address(cfg.addresses - 1)));
    }
    let bits = match cfg.prefixes {
        0..=2 => 1,
        3..=4 => 2,
        5..=8 => 3,
        _ => 4,
    };
    p.prefixes.push(PrefixPool::new(
        Ipv6Addr::new(0x2001, 0xdb8, 0x1, 0, 0, 0, 0, 0),
        56 - bits,
        56,
    ));
    p
}

/// The configuration of server `side` (0 = primary).
pub fn endpoint_config(cfg: &SimConfig, side: Side) -> Config {
    let role = if side == 0 {
        Role::Primary
    } else {
        Role::Secondary
    };
    let mut c = Config::new(role);
    c.mclt = fo::Duration::from_secs(cfg.mclt_secs);
    c.relationship_name = "sim".into();
    c.rng_seed = cfg.seed.wrapping_mul(2).wrapping_add(side as u64);
    c.keepalive = fo::Duration::from_secs(cfg.keepalive_secs);
    c.max_unacked_bndupd = cfg.max_unacked_bndupd;
    c.rescan_interval = fo::Duration::from_secs(30);
    c.pools = pools(cfg);
    c
}
