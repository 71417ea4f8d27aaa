//! The pools a relationship governs and how they are split between the partners.
//!
//! Addresses use independent allocation (a fixed ownership rule), delegable prefixes use
//! proportional allocation (ownership by binding status, moved with POOLREQ/POOLRESP and
//! BNDUPD). This module is the façade the endpoint uses; the arithmetic lives in
//! `dhcpv6-pool`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::Ipv6Addr;

use crate::binding::{ClientKey, Resource, ResourceKind};
use crate::config::{ConfigError, Role};

/// A range of IPv6 addresses, inclusive at both ends, governed by the relationship.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AddressRange {
    /// First address.
    pub first: Ipv6Addr,
    /// Last address.
    pub last: Ipv6Addr,
}

impl AddressRange {
    /// The range `first..=last`.
    pub const fn new(first: Ipv6Addr, last: Ipv6Addr) -> Self {
        Self { first, last }
    }

    /// Whether `a` is inside.
    pub fn contains(&self, a: Ipv6Addr) -> bool {
        // As 128-bit integers (the same order): comparing `Ipv6Addr`s goes through their
        // 16-bit segments, and every partner update and allocation question asks this.
        let v = a.to_bits();
        self.first.to_bits() <= v && v <= self.last.to_bits()
    }

    fn size(&self) -> u128 {
        u128::from(self.last)
            .saturating_sub(u128::from(self.first))
            .saturating_add(1)
    }
}

/// A delegable-prefix pool: `prefix/prefix_len` carved into prefixes of `delegated_len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PrefixPool {
    /// The covering prefix.
    pub prefix: Ipv6Addr,
    /// Its length.
    pub prefix_len: u8,
    /// Length of every delegated prefix (fixed-length mode).
    pub delegated_len: u8,
}

impl PrefixPool {
    /// The pool `prefix/prefix_len` delegating `/delegated_len`s.
    pub const fn new(prefix: Ipv6Addr, prefix_len: u8, delegated_len: u8) -> Self {
        Self {
            prefix,
            prefix_len,
            delegated_len,
        }
    }

    fn mask(len: u8) -> u128 {
        match len {
            0 => 0,
            l if l >= 128 => u128::MAX,
            l => u128::MAX << (128 - u32::from(l)),
        }
    }

    /// Whether `prefix/len` is one of the delegated prefixes of this pool.
    pub fn contains(&self, prefix: Ipv6Addr, len: u8) -> bool {
        len == self.delegated_len
            && (u128::from(prefix) & Self::mask(self.prefix_len))
                == (u128::from(self.prefix) & Self::mask(self.prefix_len))
            && (u128::from(prefix) & !Self::mask(len)) == 0
    }

    /// How many delegated prefixes the pool holds (saturating at `u64::MAX`).
    pub fn count(&self) -> u64 {
        let bits = u32::from(self.delegated_len.saturating_sub(self.prefix_len));
        if bits >= 64 { u64::MAX } else { 1u64 << bits }
    }

    /// The `i`-th delegated prefix.
    pub fn nth(&self, i: u64) -> Option<Resource> {
        if i >= self.count() {
            return None;
        }
        let shift = 128 - u32::from(self.delegated_len);
        let base = u128::from(self.prefix) & Self::mask(self.prefix_len);
        let p = base | (u128::from(i).checked_shl(shift).unwrap_or(0));
        Some(Resource::Prefix {
            prefix: Ipv6Addr::from(p),
            len: self.delegated_len,
        })
    }
}

/// The rule that splits addresses between the partners (independent allocation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum AddressSplit {
    /// RFC 8156: the primary owns addresses whose lowest bit is 1, the secondary those whose
    /// lowest bit is 0.
    #[default]
    LowestBit,
}

/// Everything a relationship governs and how it is shared.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PoolSet {
    /// Address ranges (independent allocation).
    pub addresses: Vec<AddressRange>,
    /// Delegable-prefix pools (proportional allocation).
    pub prefixes: Vec<PrefixPool>,
    /// How addresses are split.
    pub address_split: AddressSplit,
    /// Share of the available delegable prefixes the secondary should hold, in percent.
    pub secondary_prefix_percent: u8,
    /// Rebalance only when a side's share of available prefixes is off by more than this
    /// many percentage points (hysteresis).
    pub rebalance_threshold_percent: u8,
}

impl Default for PoolSet {
    fn default() -> Self {
        Self {
            addresses: Vec::new(),
            prefixes: Vec::new(),
            address_split: AddressSplit::LowestBit,
            secondary_prefix_percent: 50,
            rebalance_threshold_percent: 10,
        }
    }
}

impl PoolSet {
    /// Checks the pools.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for r in &self.addresses {
            if r.first > r.last {
                return Err(ConfigError::BadPool {
                    reason: format!("address range {}-{} is empty", r.first, r.last),
                });
            }
        }
        for p in &self.prefixes {
            if p.prefix_len > 128 || p.delegated_len > 128 || p.delegated_len < p.prefix_len {
                return Err(ConfigError::BadPool {
                    reason: format!(
                        "prefix pool {}/{} delegating /{} is inconsistent",
                        p.prefix, p.prefix_len, p.delegated_len
                    ),
                });
            }
        }
        if self.secondary_prefix_percent > 100 || self.rebalance_threshold_percent > 100 {
            return Err(ConfigError::OutOfRange {
                field: "pools.secondary_prefix_percent",
            });
        }
        if let Some(what) = self.overlap(self) {
            return Err(ConfigError::BadPool {
                reason: format!("{what} overlaps another pool of the same relationship"),
            });
        }
        Ok(())
    }

    /// The first pool of `self` that overlaps a pool of `other` (both the same set: distinct
    /// pools only), described for a message.
    pub fn overlap(&self, other: &Self) -> Option<String> {
        let same = core::ptr::eq(self, other);
        for (i, a) in self.addresses.iter().enumerate() {
            for (j, b) in other.addresses.iter().enumerate() {
                if same && i == j {
                    continue;
                }
                if a.first <= b.last && b.first <= a.last {
                    return Some(format!("address range {}-{}", a.first, a.last));
                }
            }
        }
        for (i, a) in self.prefixes.iter().enumerate() {
            for (j, b) in other.prefixes.iter().enumerate() {
                if same && i == j {
                    continue;
                }
                let l = a.prefix_len.min(b.prefix_len);
                let m = PrefixPool::mask(l);
                if u128::from(a.prefix) & m == u128::from(b.prefix) & m {
                    return Some(format!("prefix pool {}/{}", a.prefix, a.prefix_len));
                }
            }
        }
        None
    }

    /// Whether the resource belongs to a pool of this relationship.
    pub fn contains(&self, r: &Resource) -> bool {
        match *r {
            Resource::Address(a) => self.addresses.iter().any(|x| x.contains(a)),
            Resource::Prefix { prefix, len } => {
                self.prefixes.iter().any(|p| p.contains(prefix, len))
            }
        }
    }

    /// The owner of an address under the split rule.
    //= https://www.rfc-editor.org/rfc/rfc8156#section-4.2.1
    //# primary allocates only addresses whose lowest bit is 1; secondary only those
    //# with the lowest bit 0
    pub fn address_owner(&self, a: Ipv6Addr) -> Role {
        let rule = match self.address_split {
            AddressSplit::LowestBit => dhcpv6_pool::SplitRule::LowestBit,
        };
        role_of(rule.owner(u128::from(a)))
    }

    /// The side that owns an available delegable prefix before any rebalancing: a stable
    /// hash of the prefix, in the configured proportion, so both partners agree with no
    /// message.
    ///
    /// This is `dhcpv6-pool`'s hash rule over the resource number `prefix >> (128 - len)`, so
    /// a server allocating with `dhcpv6_pool::PrefixPool` (same share) agrees with it.
    pub fn initial_prefix_owner(&self, prefix: Ipv6Addr, len: u8) -> Role {
        let share = dhcpv6_pool::Proportion::from_percent(self.secondary_prefix_percent.min(100))
            .unwrap_or(dhcpv6_pool::Proportion::HALF);
        let rule = dhcpv6_pool::SplitRule::Hash {
            secondary_share: share,
        };
        let number = u128::from(prefix)
            .checked_shr(128 - u32::from(len.min(128)))
            .unwrap_or(0);
        role_of(rule.owner(number))
    }

    /// How many available prefixes to move and to whom, given both sides' free counts:
    /// `dhcpv6-pool`'s rebalancing arithmetic with this set's share and a trigger band of
    /// `rebalance_threshold_percent` (settling at a fifth of it).
    pub fn plan_rebalance(&self, free_primary: u128, free_secondary: u128) -> Option<(Role, u128)> {
        let share =
            dhcpv6_pool::Proportion::from_percent(self.secondary_prefix_percent.min(100)).ok()?;
        let trigger =
            dhcpv6_pool::Proportion::from_percent(self.rebalance_threshold_percent.min(100))
                .ok()?;
        let settle =
            dhcpv6_pool::Proportion::from_percent(self.rebalance_threshold_percent.min(100) / 5)
                .ok()?;
        let policy = dhcpv6_pool::RebalancePolicy::new(trigger, settle, 2).ok()?;
        dhcpv6_pool::plan_rebalance(free_primary, free_secondary, share, &policy)
            .map(|p| (role_of(p.to), p.count))
    }

    /// Candidate resources of `kind` for `client`, owned by `side` under the static rules,
    /// in a deterministic order that starts at a per-client position (so the same client
    /// tends to get the same resource on either server). At most `limit` candidates.
    ///
    /// The candidates are produced as they are asked for, so an allocation that takes the
    /// first one (the usual case) computes one, not `limit`.
    pub fn candidates<'a>(
        &'a self,
        kind: ResourceKind,
        side: Role,
        client: &ClientKey,
        limit: usize,
    ) -> impl Iterator<Item = Resource> + 'a {
        let h = client_hash(client);
        let (addresses, prefixes) = match kind {
            ResourceKind::Address => (&self.addresses[..], &[][..]),
            ResourceKind::Prefix => (&[][..], &self.prefixes[..]),
        };
        let address_steps = (limit as u128).saturating_mul(4);
        let addresses = addresses.iter().flat_map(move |r| {
            let size = r.size();
            let start = if size == 0 { 0 } else { u128::from(h) % size };
            let first = u128::from(r.first);
            (0..size.min(address_steps)).filter_map(move |i| {
                let a = Ipv6Addr::from(first.saturating_add((start + i) % size));
                (self.address_owner(a) == side).then_some(Resource::Address(a))
            })
        });
        let prefix_steps = (limit as u64).saturating_mul(4);
        let prefixes = prefixes.iter().flat_map(move |p| {
            let n = p.count();
            let start = if n == 0 { 0 } else { h % n };
            (0..n.min(prefix_steps)).filter_map(move |i| p.nth((start + i) % n))
        });
        addresses.chain(prefixes).take(limit)
    }

    /// Every delegable prefix of every pool, up to `limit` (for rebalancing scans).
    pub fn all_prefixes(&self, limit: usize) -> Vec<Resource> {
        let mut out = Vec::new();
        for p in &self.prefixes {
            let mut i = 0u64;
            while i < p.count() && out.len() < limit {
                if let Some(r) = p.nth(i) {
                    out.push(r);
                }
                i += 1;
            }
        }
        out
    }

    /// A stable fingerprint of each part of the configuration, for the CONNECT check:
    /// (part name, 8-byte fingerprint).
    pub fn fingerprint_parts(&self) -> [(&'static str, u64); 3] {
        let mut a = Fnv::new();
        for r in &self.addresses {
            a.u128(u128::from(r.first));
            a.u128(u128::from(r.last));
        }
        let mut p = Fnv::new();
        for x in &self.prefixes {
            p.u128(u128::from(x.prefix));
            p.byte(x.prefix_len);
            p.byte(x.delegated_len);
        }
        let mut s = Fnv::new();
        s.byte(match self.address_split {
            AddressSplit::LowestBit => 1,
        });
        s.byte(self.secondary_prefix_percent);
        s.byte(self.rebalance_threshold_percent);
        [
            ("address ranges", a.0),
            ("prefix pools", p.0),
            ("split rule and proportion", s.0),
        ]
    }
}

/// FNV-1a, 64-bit: a fixed, platform-independent hash for fingerprints.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
    fn byte(&mut self, b: u8) {
        self.0 ^= u64::from(b);
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01B3);
    }
    fn u128(&mut self, v: u128) {
        for b in v.to_be_bytes() {
            self.byte(b);
        }
    }
}

fn role_of(s: dhcpv6_pool::Side) -> Role {
    match s {
        dhcpv6_pool::Side::Primary => Role::Primary,
        dhcpv6_pool::Side::Secondary => Role::Secondary,
    }
}

fn mix(v: u128) -> u64 {
    let mut x = (v as u64) ^ ((v >> 64) as u64).rotate_left(29);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

fn client_hash(c: &ClientKey) -> u64 {
    let mut f = Fnv::new();
    for b in &c.duid {
        f.byte(*b);
    }
    for b in c.iaid.to_be_bytes() {
        f.byte(b);
    }
    mix(u128::from(f.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap_or(Ipv6Addr::UNSPECIFIED)
    }

    fn set() -> PoolSet {
        PoolSet {
            addresses: vec![AddressRange::new(a("2001:db8::100"), a("2001:db8::1ff"))],
            prefixes: vec![PrefixPool::new(a("2001:db8:100::"), 40, 48)],
            ..PoolSet::default()
        }
    }

    //= https://www.rfc-editor.org/rfc/rfc8156#section-4.2.1
    //# primary allocates only addresses whose lowest bit is 1; secondary only those
    //# with the lowest bit 0
    #[test]
    fn lowest_bit_rule() {
        let s = set();
        assert_eq!(s.address_owner(a("2001:db8::101")), Role::Primary);
        assert_eq!(s.address_owner(a("2001:db8::100")), Role::Secondary);
        let c = ClientKey {
            duid: vec![1, 2, 3],
            iaid: 7,
        };
        for r in s.candidates(ResourceKind::Address, Role::Primary, &c, 20) {
            let Resource::Address(x) = r else {
                panic!("address expected")
            };
            assert_eq!(u128::from(x) & 1, 1);
            assert!(s.contains(&r));
        }
        assert_eq!(
            s.candidates(ResourceKind::Address, Role::Secondary, &c, 20)
                .count(),
            20
        );
    }

    #[test]
    fn prefix_pool_arithmetic() {
        let s = set();
        let p = s.prefixes[0];
        assert_eq!(p.count(), 256);
        let r = p.nth(5);
        assert_eq!(
            r,
            Some(Resource::Prefix {
                prefix: a("2001:db8:105::"),
                len: 48
            })
        );
        assert!(s.contains(&Resource::Prefix {
            prefix: a("2001:db8:105::"),
            len: 48
        }));
        assert!(!s.contains(&Resource::Prefix {
            prefix: a("2001:db8:105::"),
            len: 56
        }));
        assert!(!s.contains(&Resource::Prefix {
            prefix: a("2001:db9:105::"),
            len: 48
        }));
        assert_eq!(p.nth(256), None);
        let owners: Vec<Role> = s
            .all_prefixes(1000)
            .iter()
            .map(|r| match r {
                Resource::Prefix { prefix, len } => s.initial_prefix_owner(*prefix, *len),
                Resource::Address(_) => Role::Primary,
            })
            .collect();
        let sec = owners.iter().filter(|o| **o == Role::Secondary).count();
        assert!((96..=160).contains(&sec), "secondary got {sec} of 256");
    }

    #[test]
    fn validation_and_overlap() {
        let s = set();
        assert_eq!(s.validate(), Ok(()));
        let mut bad = set();
        bad.addresses
            .push(AddressRange::new(a("2001:db8::1f0"), a("2001:db8::2ff")));
        assert!(bad.validate().is_err());
        let other = PoolSet {
            addresses: vec![AddressRange::new(a("2001:db8::180"), a("2001:db8::180"))],
            ..PoolSet::default()
        };
        assert!(s.overlap(&other).is_some());
        let disjoint = PoolSet {
            addresses: vec![AddressRange::new(a("2001:db8::1:0"), a("2001:db8::1:ff"))],
            ..PoolSet::default()
        };
        assert_eq!(s.overlap(&disjoint), None);
        assert_ne!(
            s.fingerprint_parts()[0].1,
            disjoint.fingerprint_parts()[0].1
        );
        assert_eq!(s.fingerprint_parts(), set().fingerprint_parts());
    }
}
